//! A finished anomaly run (its errors and reconstructions, not the model)
//! and its file: what the page stores so that a reload brings back every
//! plot and number without training again. Built on the weights files'
//! container (`models::record::container`) with its own magic.

use super::data::RunData;
use crate::models::record::{container, open_container};

/// The magic of a run file.
pub const RUN_MAGIC: &[u8; 8] = b"AELABRUN";
/// The largest run file read (a run on a 50 MB upload stays well below).
pub const MAX_RUN_BYTES: usize = 256 * 1024 * 1024;

/// A finished run: the normal errors that set the threshold, the test
/// errors and the test series' reconstructions (flattened, as scaled back
/// to the data's units).
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub model: String,
    /// The validation errors, or with `threshold_folds` the cross-validated
    /// errors of all normal training series.
    pub valid_errors: Vec<f32>,
    /// The folds of a cross-validated threshold; `None` for the split.
    pub threshold_folds: Option<usize>,
    pub test_errors: Vec<f32>,
    pub recon: Vec<f32>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct RunHeader {
    model: String,
    data: String,
    length: usize,
    valid: usize,
    test: usize,
    recon: usize,
    /// Absent in runs saved before cross-validated thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    folds: Option<usize>,
}

impl Run {
    /// The run file: the container with a JSON header naming the model and
    /// the data, then the validation errors, test errors and
    /// reconstructions as little-endian f32.
    pub fn to_bytes(&self, data: &RunData) -> Vec<u8> {
        let header = serde_json::to_vec(&RunHeader {
            model: self.model.clone(),
            data: data.name.clone(),
            length: data.test.len,
            valid: self.valid_errors.len(),
            test: self.test_errors.len(),
            recon: self.recon.len(),
            folds: self.threshold_folds,
        })
        .unwrap_or_default();
        let mut body = Vec::with_capacity(
            4 * (self.valid_errors.len() + self.test_errors.len() + self.recon.len()),
        );
        for v in self
            .valid_errors
            .iter()
            .chain(&self.test_errors)
            .chain(&self.recon)
        {
            body.extend_from_slice(&v.to_le_bytes());
        }
        container(RUN_MAGIC, &header, &body)
    }

    /// Reads a run file made on `data`; a damaged file or one made on other
    /// data is an error that says which.
    pub fn from_bytes(bytes: &[u8], data: &RunData) -> Result<Run, String> {
        let bad = || "the saved anomaly run is damaged".to_string();
        let (header, body) = open_container(RUN_MAGIC, bytes, MAX_RUN_BYTES).map_err(|_| bad())?;
        let h: RunHeader = serde_json::from_slice(header).map_err(|_| bad())?;
        if h.data != data.name || h.length != data.test.len || h.test != data.test.count() {
            return Err(format!(
                "the saved run was made on other data ({}, series of {})",
                h.data, h.length
            ));
        }
        let total = h
            .valid
            .checked_add(h.test)
            .and_then(|x| x.checked_add(h.recon));
        if body.len() % 4 != 0 || total != Some(body.len() / 4) {
            return Err(bad());
        }
        let floats: Vec<f32> = body
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let (valid, rest) = floats.split_at(h.valid);
        let (test, recon) = rest.split_at(h.test);
        Ok(Run {
            model: h.model,
            valid_errors: valid.to_vec(),
            threshold_folds: h.folds,
            test_errors: test.to_vec(),
            recon: recon.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::series::SeriesSet;

    fn data(name: &str, len: usize, count: usize) -> RunData {
        let set = SeriesSet {
            len,
            values: vec![0.0; len * count],
            anomalous: Some(vec![false; count]),
        };
        RunData {
            name: name.into(),
            source: Vec::new(),
            train: set.clone(),
            valid: None,
            test: set,
            long: None,
            test_offset: 0,
        }
    }

    fn run() -> Run {
        Run {
            model: "conv1d".into(),
            valid_errors: vec![0.1, 0.2],
            threshold_folds: None,
            test_errors: vec![0.5, 1.5, f32::MAX],
            recon: (0..12).map(|i| i as f32 - 3.0).collect(),
        }
    }

    #[test]
    fn a_run_file_reads_back_the_same_run() {
        let d = data("ECG5000", 4, 3);
        let bytes = run().to_bytes(&d);
        assert_eq!(&bytes[..8], RUN_MAGIC);
        assert_eq!(Run::from_bytes(&bytes, &d), Ok(run()));
        let cv = Run {
            threshold_folds: Some(5),
            ..run()
        };
        assert_eq!(Run::from_bytes(&cv.to_bytes(&d), &d), Ok(cv));
    }

    #[test]
    fn damaged_files_and_other_data_are_refused_with_a_message() {
        let d = data("ECG5000", 4, 3);
        let bytes = run().to_bytes(&d);
        let damaged = "the saved anomaly run is damaged";
        for bad in [
            &b""[..],
            b"AELABRUN",
            &bytes[..bytes.len() - 1],
            &bytes[..bytes.len() - 4],
            b"AELABW01\x02\x00\x00\x00{}",
        ] {
            assert_eq!(Run::from_bytes(bad, &d).unwrap_err(), damaged);
        }
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 4]);
        assert_eq!(Run::from_bytes(&longer, &d).unwrap_err(), damaged);
        for other in [
            data("machine", 4, 3),
            data("ECG5000", 5, 3),
            data("ECG5000", 4, 2),
        ] {
            let e = Run::from_bytes(&bytes, &other).unwrap_err();
            assert!(
                e.contains("made on other data (ECG5000, series of 4)"),
                "{e}"
            );
        }
    }
}
