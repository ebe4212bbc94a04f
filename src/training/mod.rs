//! A step-wise training loop for any [`Task`], on any device.
//!
//! burn-train does not target wasm, and in the browser every tensor read is
//! async and the page must stay responsive. So the loop is an object, a
//! [`Trainer`], whose [`Trainer::step`] does one batch (or one end-of-epoch
//! validation) and returns; the caller awaits between steps. Natively the
//! same future is driven by [`crate::platform::block_on`].

pub mod classify;

use crate::platform::now_ms;
use crate::rng::Rng;
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{
    AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, RmsPropConfig, SgdConfig,
};
use burn::prelude::*;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What is trained, on which data, with which loss.
pub trait Task {
    type Model: Module;

    fn train_len(&self) -> usize;
    fn valid_len(&self) -> usize;
    /// The mean loss of a training batch; `rng` drives augmentation and noise.
    fn train_loss(
        &self,
        model: &Self::Model,
        indices: &[usize],
        rng: &mut Rng,
        device: &Device,
    ) -> Tensor<1>;
    /// The mean loss of a validation batch, deterministic.
    fn valid_loss(&self, model: &Self::Model, indices: &[usize], device: &Device) -> Tensor<1>;
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Schedule {
    Constant,
    /// Cosine decay from the learning rate to 5 % of it over the run.
    Cosine,
}

/// The optimizer of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Adam (ε = 10⁻⁷, as Keras); weight decay is an L2 penalty.
    #[default]
    Adam,
    /// Adam with decoupled weight decay.
    AdamW,
    /// SGD with momentum 0.9; weight decay is an L2 penalty.
    Sgd,
    /// RMSProp (ρ = 0.99, no momentum); weight decay is an L2 penalty.
    RmsProp,
}

impl OptimizerKind {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "adam" => Ok(Self::Adam),
            "adamw" => Ok(Self::AdamW),
            "sgd" => Ok(Self::Sgd),
            "rmsprop" => Ok(Self::RmsProp),
            _ => Err(format!(
                "unknown optimizer '{s}': expected adam, adamw, sgd or rmsprop"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Adam => "adam",
            Self::AdamW => "adamw",
            Self::Sgd => "sgd",
            Self::RmsProp => "rmsprop",
        }
    }

    fn build(self, weight_decay: f64) -> ModuleOptimizer {
        let l2 = (weight_decay > 0.0).then_some(WeightDecayConfig {
            penalty: weight_decay as f32,
        });
        match self {
            Self::Adam => AdamConfig::new()
                .with_epsilon(1e-7)
                .with_weight_decay(l2)
                .init(),
            Self::AdamW => AdamWConfig::new()
                .with_epsilon(1e-7)
                .with_weight_decay(weight_decay as f32)
                .init(),
            Self::Sgd => SgdConfig::new()
                .with_momentum(Some(
                    MomentumConfig::new().with_momentum(0.9).with_dampening(0.0),
                ))
                .with_weight_decay(l2)
                .init(),
            Self::RmsProp => RmsPropConfig::new()
                .with_momentum(0.0)
                .with_epsilon(1e-7)
                .with_weight_decay(l2)
                .init(),
        }
    }
}

/// The reconstruction loss, computed from the model's logits against a
/// target in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Binary cross-entropy.
    Bce,
    /// Mean squared error of the sigmoid output.
    Mse,
    /// Mean absolute error of the sigmoid output.
    Mae,
}

impl Loss {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "bce" => Ok(Self::Bce),
            "mse" => Ok(Self::Mse),
            "mae" => Ok(Self::Mae),
            _ => Err(format!("unknown loss '{s}': expected bce, mse or mae")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Bce => "bce",
            Self::Mse => "mse",
            Self::Mae => "mae",
        }
    }

    /// The mean loss of `logits` against `target`.
    pub fn of_logits<const D: usize>(self, logits: Tensor<D>, target: Tensor<D>) -> Tensor<1> {
        match self {
            Self::Bce => crate::models::bce_with_logits(logits, target),
            Self::Mse => (burn::tensor::activation::sigmoid(logits) - target)
                .powf_scalar(2.0)
                .mean(),
            Self::Mae => (burn::tensor::activation::sigmoid(logits) - target)
                .abs()
                .mean(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub schedule: Schedule,
    pub seed: u64,
    #[serde(default)]
    pub optimizer: OptimizerKind,
    /// The optimizer's weight decay (0: none).
    #[serde(default)]
    pub weight_decay: f64,
    /// The loss; `None`: the lab's own (cross-entropy for digits, the mean
    /// absolute error for series).
    #[serde(default)]
    pub loss: Option<Loss>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            batch_size: 128,
            learning_rate: 1e-3,
            schedule: Schedule::Cosine,
            seed: 1,
            optimizer: OptimizerKind::Adam,
            weight_decay: 0.0,
            loss: None,
        }
    }
}

impl TrainConfig {
    /// Checks the settings; the message names the one that is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.batch_size == 0 {
            return Err("the batch size must be at least 1".into());
        }
        if self.epochs == 0 {
            return Err("the number of epochs must be at least 1".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(format!(
                "the learning rate must be a positive number, not {}",
                self.learning_rate
            ));
        }
        if !(self.weight_decay.is_finite() && (0.0..=1.0).contains(&self.weight_decay)) {
            return Err(format!(
                "the weight decay must be between 0 and 1, not {}",
                self.weight_decay
            ));
        }
        Ok(())
    }
}

/// Where a run stands after a step: what a progress bar and a loss curve need.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Progress {
    /// 0-based epoch.
    pub epoch: usize,
    pub epochs: usize,
    /// 1-based step within the epoch.
    pub step: usize,
    pub steps_per_epoch: usize,
    pub global_step: usize,
    pub total_steps: usize,
    /// Mean loss of this step's batch.
    pub loss: f32,
    /// Training throughput since the start of the run.
    pub images_per_sec: f64,
    pub elapsed_ms: f64,
    /// Estimated time left, from the throughput so far.
    pub eta_ms: f64,
}

impl Progress {
    pub fn fraction(&self) -> f64 {
        self.global_step as f64 / self.total_steps.max(1) as f64
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct EpochStats {
    pub epoch: usize,
    pub train_loss: f32,
    pub valid_loss: Option<f32>,
    pub images_per_sec: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Step(Progress),
    EpochEnd(EpochStats),
    Finished,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TrainError {
    /// The loss became NaN or infinite; the model's weights are put back
    /// to the last ones that gave a finite loss.
    Diverged {
        epoch: usize,
        step: usize,
        loss: f32,
    },
    Cancelled,
    /// A tensor read failed (for example a lost WebGPU device).
    Backend(String),
    /// Nothing to train on.
    Empty,
    /// A setting is out of range.
    BadConfig(String),
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::Diverged { epoch, step, loss } => write!(
                f,
                "training diverged: the loss became {loss} at epoch {}, step {step}; try a lower learning rate (the last weights that gave a finite loss are kept)",
                epoch + 1
            ),
            TrainError::Cancelled => write!(f, "training was cancelled"),
            TrainError::Backend(e) => write!(f, "the compute backend failed: {e}"),
            TrainError::Empty => write!(f, "there are no training examples"),
            TrainError::BadConfig(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TrainError {}

/// A shared flag that stops a run at the next step.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Reads a one-element tensor, the async way (required on WebGPU).
pub async fn read_scalar(t: Tensor<1>) -> Result<f32, TrainError> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| TrainError::Backend(e.to_string()))?;
    let v: Vec<f32> = data
        .try_into_vec_as::<f32>()
        .map_err(|e| TrainError::Backend(e.to_string()))?;
    v.first()
        .copied()
        .ok_or_else(|| TrainError::Backend("empty loss tensor".into()))
}

pub struct Trainer<T: Task> {
    task: T,
    model: Option<T::Model>,
    /// The weights of the last step whose loss was finite, before its
    /// update: what a divergence rolls back to. (Batch-norm running
    /// statistics are shared state in burn and are not rolled back.)
    last_good: Option<T::Model>,
    optim: ModuleOptimizer,
    config: TrainConfig,
    device: Device,
    order: Vec<usize>,
    pos: usize,
    epoch: usize,
    step_in_epoch: usize,
    global_step: usize,
    rng: Rng,
    cancel: CancelToken,
    epoch_loss_sum: f64,
    epoch_batches: usize,
    started_ms: f64,
    images_done: usize,
    history: Vec<EpochStats>,
    finished: bool,
}

impl<T: Task> Trainer<T> {
    /// Prepares a run. The model is moved onto the autodiff version of
    /// `device`; pass a freshly initialised model to train from scratch, or
    /// a trained one to fine-tune.
    pub fn new(
        task: T,
        model: T::Model,
        config: TrainConfig,
        device: &Device,
    ) -> Result<Self, TrainError> {
        if task.train_len() == 0 {
            return Err(TrainError::Empty);
        }
        config.validate().map_err(TrainError::BadConfig)?;
        let device = device.clone().autodiff();
        let model = model.fork(&device).train();
        let mut rng = Rng::derive(config.seed, 0x7EA1);
        let mut order: Vec<usize> = (0..task.train_len()).collect();
        rng.shuffle(&mut order);
        Ok(Self {
            task,
            model: Some(model),
            last_good: None,
            optim: config.optimizer.build(config.weight_decay),
            config,
            device,
            order,
            pos: 0,
            epoch: 0,
            step_in_epoch: 0,
            global_step: 0,
            rng,
            cancel: CancelToken::default(),
            epoch_loss_sum: 0.0,
            epoch_batches: 0,
            started_ms: now_ms(),
            images_done: 0,
            history: Vec::new(),
            finished: false,
        })
    }

    pub fn cancel_token(&self) -> CancelToken {
        self.cancel.clone()
    }

    pub fn steps_per_epoch(&self) -> usize {
        self.task.train_len().div_ceil(self.config.batch_size)
    }

    pub fn total_steps(&self) -> usize {
        self.steps_per_epoch() * self.config.epochs
    }

    pub fn history(&self) -> &[EpochStats] {
        &self.history
    }

    pub fn task(&self) -> &T {
        &self.task
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// An inference copy of the current model (no autodiff, dropout off).
    pub fn model(&self) -> T::Model {
        self.model.as_ref().expect("model present").valid()
    }

    /// The trained model, for inference.
    pub fn into_model(self) -> T::Model {
        self.model.expect("model present").valid()
    }

    fn learning_rate(&self) -> f64 {
        let lr = self.config.learning_rate;
        match self.config.schedule {
            Schedule::Constant => lr,
            Schedule::Cosine => {
                let t = self.global_step as f64 / self.total_steps().max(1) as f64;
                let floor = 0.05 * lr;
                floor + (lr - floor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }

    async fn validate(&mut self) -> Result<Option<f32>, TrainError> {
        let n = self.task.valid_len();
        if n == 0 {
            return Ok(None);
        }
        let model = self.model();
        let device = self.device.clone().without_autodiff();
        let bs = self.config.batch_size.max(256);
        let (mut sum, mut count) = (0.0f64, 0usize);
        let mut start = 0;
        while start < n {
            let idx: Vec<usize> = (start..(start + bs).min(n)).collect();
            let l = read_scalar(self.task.valid_loss(&model, &idx, &device)).await?;
            sum += l as f64 * idx.len() as f64;
            count += idx.len();
            start += bs;
        }
        Ok(Some((sum / count as f64) as f32))
    }

    /// Does one unit of work: a training batch, or the validation that
    /// closes an epoch. Returns what happened.
    pub async fn step(&mut self) -> Result<Event, TrainError> {
        if self.finished {
            return Ok(Event::Finished);
        }
        if self.cancel.is_cancelled() {
            return Err(TrainError::Cancelled);
        }
        if self.pos >= self.order.len() {
            let valid_loss = self.validate().await?;
            let stats = EpochStats {
                epoch: self.epoch,
                train_loss: (self.epoch_loss_sum / self.epoch_batches.max(1) as f64) as f32,
                valid_loss,
                images_per_sec: self.images_per_sec(),
            };
            self.history.push(stats.clone());
            self.epoch += 1;
            self.pos = 0;
            self.step_in_epoch = 0;
            self.epoch_loss_sum = 0.0;
            self.epoch_batches = 0;
            if self.epoch >= self.config.epochs {
                self.finished = true;
            } else {
                self.rng.shuffle(&mut self.order);
            }
            return Ok(Event::EpochEnd(stats));
        }
        let end = (self.pos + self.config.batch_size).min(self.order.len());
        let idx: Vec<usize> = self.order[self.pos..end].to_vec();
        let model = self.model.take().expect("model present");
        let loss = self
            .task
            .train_loss(&model, &idx, &mut self.rng, &self.device);
        let value = match read_scalar(loss.clone()).await {
            Ok(v) => v,
            Err(e) => {
                self.model = Some(model);
                return Err(e);
            }
        };
        if !value.is_finite() {
            // The update that led here may have written inf/NaN weights.
            self.model = Some(self.last_good.take().unwrap_or(model));
            return Err(TrainError::Diverged {
                epoch: self.epoch,
                step: self.step_in_epoch + 1,
                loss: value,
            });
        }
        self.last_good = Some(model.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = self.learning_rate();
        self.model = Some(self.optim.step(lr, model, grads));
        self.pos = end;
        self.step_in_epoch += 1;
        self.global_step += 1;
        self.images_done += idx.len();
        self.epoch_loss_sum += value as f64;
        self.epoch_batches += 1;
        let elapsed = now_ms() - self.started_ms;
        let ips = self.images_per_sec();
        let left_images = ((self.config.epochs - self.epoch) * self.order.len() - self.pos) as f64;
        Ok(Event::Step(Progress {
            epoch: self.epoch,
            epochs: self.config.epochs,
            step: self.step_in_epoch,
            steps_per_epoch: self.steps_per_epoch(),
            global_step: self.global_step,
            total_steps: self.total_steps(),
            loss: value,
            images_per_sec: ips,
            elapsed_ms: elapsed,
            eta_ms: if ips > 0.0 {
                left_images / ips * 1000.0
            } else {
                f64::NAN
            },
        }))
    }

    fn images_per_sec(&self) -> f64 {
        let s = (now_ms() - self.started_ms) / 1000.0;
        if s > 0.0 {
            self.images_done as f64 / s
        } else {
            0.0
        }
    }

    /// Runs to the end, calling `on_event` after every step: the progress
    /// callback (epoch, step, loss, images/s).
    pub async fn run(&mut self, mut on_event: impl FnMut(&Event)) -> Result<(), TrainError> {
        loop {
            let ev = self.step().await?;
            on_event(&ev);
            if ev == Event::Finished {
                return Ok(());
            }
        }
    }
}
