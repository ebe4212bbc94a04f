//! Module visitors: reading a model's float parameters, putting values
//! back, loading decoded values into a fresh model without initialising
//! it, casting for f16 storage, and copying a model between devices the
//! async way.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::DType;

/// Collects a module's float parameters (their values, flattened, and
/// shapes) without reading them.
pub(super) struct Grab {
    pub(super) tensors: Vec<(Tensor<1>, burn::tensor::Shape)>,
}

impl burn::module::ModuleVisitor for Grab {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let t = param.val();
        let shape = t.shape();
        let n = shape.num_elements();
        self.tensors.push((t.reshape([n]), shape));
    }
}

/// Puts read values back, in visiting order, as tensors on `device`.
pub(super) struct Put<'a> {
    pub(super) values: std::vec::IntoIter<TensorData>,
    pub(super) device: &'a Device,
}

impl burn::module::ModuleMapper for Put<'_> {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        let (id, old, mapper) = param.consume();
        match self.values.next() {
            Some(data) => burn::module::Param::from_mapped_value(
                id,
                Tensor::from_data(data, self.device),
                mapper,
            ),
            None => burn::module::Param::from_mapped_value(id, old, mapper),
        }
    }
}

/// The shapes of a freshly built module's float parameters, in visiting
/// order, without initialising them (burn's parameters are lazy: the random
/// init would be thrown away when the stored values are put in).
pub(super) struct Shapes(pub(super) Vec<Vec<usize>>);

impl burn::module::ModuleVisitor for Shapes {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        self.0.push(param.lazy_shape().to_vec());
    }
}

/// Loads decoded values into a freshly built module, in visiting order, as
/// burn's record loading does: the lazy parameters are never initialised.
pub(super) struct Load<'a> {
    pub(super) values: std::vec::IntoIter<TensorData>,
    pub(super) device: &'a Device,
}

impl burn::module::ModuleMapper for Load<'_> {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        match self.values.next() {
            Some(data) => {
                let id = param.id;
                param.transform_for_load(Tensor::from_data(data, self.device), id)
            }
            None => param,
        }
    }
}

/// A copy of `model` on `device`, reading every parameter the async way, so
/// that it works from WebGPU in the browser (where a synchronous read
/// panics). A failed read (a lost GPU device, say) is an error, not a
/// panic.
pub async fn to_device_async<M: Module>(model: M, device: &Device) -> Result<M, String> {
    let mut grab = Grab {
        tensors: Vec::new(),
    };
    model.visit(&mut grab);
    let mut values = Vec::with_capacity(grab.tensors.len());
    for (t, shape) in grab.tensors {
        let data = t
            .into_data_async()
            .await
            .map_err(|e| format!("reading the model's weights failed: {e}"))?;
        let (bytes, _, dtype) = data.into_parts();
        values.push(TensorData::from_bytes(bytes, shape, dtype));
    }
    Ok(model.map(&mut Put {
        values: values.into_iter(),
        device,
    }))
}

/// Casts every float parameter to another dtype (f16 storage; loading
/// casts them back to the model's f32).
pub(super) struct CastFloats(pub(super) DType);

impl burn::module::ModuleMapper for CastFloats {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        let (id, t, mapper) = param.consume();
        burn::module::Param::from_mapped_value(id, t.cast(self.0), mapper)
    }
}
