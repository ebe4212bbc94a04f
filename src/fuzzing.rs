//! The fuzz targets' bodies, shared by the cargo-fuzz crate (`fuzz/`) and
//! by the corpus replay in `tests/fuzz_smoke.rs`, which CI runs on stable.
//!
//! Each takes untrusted bytes, as a file a student drops on the page, and
//! must return (with an error or a value), never panic, hang or run out of
//! memory. Errors are the expected outcome for most inputs; they are
//! rendered to text so that their `Display` code is exercised too.

use crate::data::idx::{maybe_gunzip, parse_idx};
use crate::data::series::{self, Column, Separator};
use crate::data::Mnist;

/// The IDX reader: gzip or raw, any rank the first byte asks for, and the
/// image + label pair that the MNIST loader builds from two files.
pub fn idx(data: &[u8]) {
    let rank = data.first().map_or(1, |b| (*b as usize % 4) + 1);
    let body = data.get(1..).unwrap_or_default();
    match maybe_gunzip(body) {
        Ok(raw) => {
            let _ = parse_idx(&raw, rank).map_err(|e| e.to_string());
            // Split the bytes in two and read them as images and labels.
            let cut = raw.len() / 2;
            let _ = Mnist::from_idx(&raw[..cut], &raw[cut..]).map_err(|e| e.to_string());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

fn separator(b: u8) -> Option<Separator> {
    match b % 4 {
        0 => None,
        1 => Some(Separator::Comma),
        2 => Some(Separator::Tab),
        _ => Some(Separator::Semicolon),
    }
}

/// The CSV parser, wide (UCR) shape: one series per row, with or without a
/// label column.
pub fn csv_wide(data: &[u8]) {
    let (sep, labelled) = match data.first() {
        Some(b) => (separator(*b), b & 4 != 0),
        None => (None, false),
    };
    let body = data.get(1..).unwrap_or_default();
    let Ok(raw) = series::maybe_gunzip(body) else {
        return;
    };
    let text = match series::text_of(&raw) {
        Ok(t) => t,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    match series::parse_table(text, sep) {
        Ok(table) => {
            let label = labelled.then_some(Column::Index(0));
            let _ = series::guess_shape(&table);
            let _ = series::ucr(&table, label.as_ref(), Some("1")).map_err(|e| e.to_string());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// The CSV parser, long shape: a value column (the page's default choice),
/// an optional label column, cut into windows.
pub fn csv_long(data: &[u8]) {
    let (sep, window, labelled) = match data.first() {
        Some(b) => (separator(*b), 2 + (*b as usize >> 3), b & 4 != 0),
        None => (None, 2, false),
    };
    let body = data.get(1..).unwrap_or_default();
    let text = match series::text_of(body) {
        Ok(t) => t,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let table = match series::parse_table(text, sep) {
        Ok(t) => t,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let value = table.default_value_column();
    let label = labelled.then(|| Column::Index(table.columns().saturating_sub(1)));
    match series::long(&table, &value, None, label.as_ref()) {
        Ok(s) => {
            let _ = s.windows(window, 1 + window / 2).map_err(|e| e.to_string());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// Weight files: the header, then the burn record, for every model kind
/// the page can load, on the CPU backend.
pub fn record(data: &[u8]) {
    use crate::models::{record, Classifier, Denoiser, LatentAe, SeriesAe};
    let device = crate::platform::CpuBackend::Flex.device();
    let _ = record::peek(data).map_err(|e| e.to_string());
    let _ = record::from_bytes::<Denoiser>(data, &device).map_err(|e| e.to_string());
    let _ = record::from_bytes::<Classifier>(data, &device).map_err(|e| e.to_string());
    let _ = record::from_bytes::<LatentAe>(data, &device).map_err(|e| e.to_string());
    let _ = record::from_bytes::<SeriesAe>(data, &device).map_err(|e| e.to_string());
    let _ = record::from_bytes::<crate::models::Net>(data, &device).map_err(|e| e.to_string());
    use crate::models::spec::{legacy, Purpose};
    for p in [Purpose::Denoise, Purpose::Augment, Purpose::Anomaly] {
        let _ = legacy::load(data, &device, p).map_err(|e| e.to_string());
    }
    let _ = legacy::kind(data).map_err(|e| e.to_string());
}

/// Workspace files, as a student opens one: unpacked and checked, then
/// turned into the files `aelab workspace extract` writes.
pub fn workspace(data: &[u8]) {
    if let Ok((m, blobs)) = crate::workspace::unpack(data) {
        let files = crate::workspace::files(&m, &blobs);
        assert!(files
            .iter()
            .all(|(n, _)| !n.contains("..") && !n.starts_with('/')));
    }
}

/// Model specs, as a student's JSON file or a URL's fragment: parsed,
/// checked, summarised and written as code; a small valid one is built
/// and run forward on one example.
pub fn spec(data: &[u8]) {
    use crate::models::spec::{code, Input, Limits};
    use crate::models::{ModelSpec, Net};
    use burn::prelude::*;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let spec = match ModelSpec::from_json(text) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let Ok(summary) = spec.summary() else {
        panic!("a spec that parsed has a summary");
    };
    let _ = summary.table();
    let _ = summary
        .within(&Limits::default(), 16)
        .map_err(|e| e.to_string());
    code::rust(&spec).expect("a valid spec has Rust code");
    code::keras(&spec).expect("a valid spec has Keras code");
    // Small enough to run quickly: build and run it.
    if summary.total_params <= 50_000 && summary.total_mflops <= 2.0 {
        let device = crate::platform::CpuBackend::Flex.device();
        let net = Net::build(&spec, &device).expect("a valid spec builds");
        match spec.input {
            Input::Image {
                height,
                width,
                channels,
            } => {
                let y = net.forward(Tensor::zeros([1, channels, height, width], &device));
                assert_eq!(y.dims(), [1, channels, height, width]);
            }
            Input::Series { length } => {
                let y = net.forward_series(Tensor::zeros([1, length], &device));
                assert_eq!(y.dims(), [1, length]);
            }
        }
    }
}

/// The data the [`anomaly_run`] target reads runs against: name "fuzz",
/// series of 4 points, 2 to train and 3 to test.
fn fuzz_run_data() -> crate::labs::anomaly::RunData {
    let set = |n: usize| crate::data::series::SeriesSet {
        len: 4,
        values: vec![0.0; 4 * n],
        anomalous: Some(vec![false; n]),
    };
    crate::labs::anomaly::RunData {
        name: "fuzz".into(),
        source: Vec::new(),
        train: set(2),
        valid: None,
        test: set(3),
        long: None,
        test_offset: 0,
    }
}

/// The anomaly lab's run file, read back against [`fuzz_run_data`]; when
/// it parses, it is written again and must read back the same.
pub fn anomaly_run(data: &[u8]) {
    use crate::labs::anomaly::Run;
    let d = fuzz_run_data();
    match Run::from_bytes(data, &d) {
        Ok(run) => {
            // Compared as bytes: a NaN error is allowed and is not equal to itself.
            let bytes = run.to_bytes(&d);
            let again = Run::from_bytes(&bytes, &d).expect("a written run reads back");
            assert!(
                again.to_bytes(&d) == bytes,
                "a written run reads back the same"
            );
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// A valid run file for the seed corpus of [`anomaly_run`].
pub fn anomaly_run_seed(valid: usize, recon: usize) -> Vec<u8> {
    crate::labs::anomaly::Run {
        model: "dense".into(),
        valid_errors: (0..valid).map(|i| i as f32 * 0.1).collect(),
        threshold_folds: None,
        test_errors: vec![0.5, 0.25, 2.0],
        recon: (0..recon).map(|i| i as f32).collect(),
    }
    .to_bytes(&fuzz_run_data())
}
