//! The run tables: one row for each training run, in every lab. A row
//! holds the model's spec, the settings in words, when the run started and
//! how long it took, the lab's metrics, the aelab version, the SHA-256 of
//! the weights file and the `aelab` command that trains the same model
//! again. The page keeps the rows; this room makes them from what a run
//! leaves behind (its weights file, whose metadata holds the settings, and
//! the lab's measurements), so the rules are the same everywhere.

use super::{anomaly, augment, denoise};
use crate::models::spec::{presets, Input, Purpose};
use crate::models::{record, ModelSpec};
use crate::training::{OptimizerKind, Schedule, TrainConfig};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// The version of aelab that makes the rows.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One measured value of a run, named as the table's column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Metric {
    pub name: String,
    pub value: f64,
}

fn metric(name: impl Into<String>, value: f64) -> Metric {
    Metric {
        name: name.into(),
        value,
    }
}

/// A row of a lab's run table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct RunRecord {
    /// `denoise`, `augment` or `anomaly`.
    pub lab: String,
    /// When the run started, as the caller's clock gave it (ISO 8601).
    pub started: String,
    /// How long it trained, in seconds.
    pub seconds: f64,
    /// The model's name and parameter count.
    pub model: String,
    pub params: usize,
    /// The settings, in words.
    pub settings: String,
    pub metrics: Vec<Metric>,
    /// The aelab version that trained it.
    pub version: String,
    /// The SHA-256 of the weights file, in hex (what `sha256sum` prints).
    pub weights_sha256: String,
    /// The command that trains it again.
    pub command: String,
    /// The spec as JSON.
    pub spec: String,
    /// The file `command` reads the spec from, for a designed model (a
    /// preset is named by its id): save `spec` under this name.
    pub spec_file: Option<String>,
}

/// The SHA-256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(64);
    for b in Sha256::digest(bytes) {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The row of a run of `lab`, from its weights file (a net whose metadata
/// holds the run's settings, as the labs write them) and `measured`, the
/// lab's measurements of the trained model: the Denoise evaluation
/// ([`denoise::EvalReport`]), the Augment judgement
/// ([`augment::Judged`]), or the Anomaly run's metrics (an object with
/// `detection` and `source`, the command-line arguments that load its
/// data).
pub fn record(
    lab: Purpose,
    weights: &[u8],
    measured: &serde_json::Value,
    started: &str,
    seconds: f64,
) -> Result<RunRecord, String> {
    let header = record::peek_header(weights).map_err(|e| e.to_string())?;
    if header["model"] != "net" {
        return Err("this weights file is not a model trained by this version of aelab".into());
    }
    let spec: ModelSpec = serde_json::from_value(header["config"].clone())
        .map_err(|e| format!("the weights file's spec is damaged: {e}"))?;
    let meta = &header["meta"];
    let damaged = |what: &str| format!("the weights file does not hold the run's {what}");
    let settings = &meta["settings"];
    let (command, words, metrics, spec_file) = match lab {
        Purpose::Denoise => {
            let s: denoise::DenoiseSettings =
                serde_json::from_value(settings.clone()).map_err(|_| damaged("settings"))?;
            let fine_tuned = !meta["fine_tuned_from"].is_null();
            let r: denoise::EvalReport =
                serde_json::from_value(measured.clone()).map_err(|_| damaged("evaluation"))?;
            let (cmd, file) = denoise_command(&s, fine_tuned);
            (
                cmd,
                denoise_words(&s, fine_tuned),
                denoise_metrics(&r),
                file,
            )
        }
        Purpose::Augment => {
            let s: augment::AugmentSettings =
                serde_json::from_value(settings.clone()).map_err(|_| damaged("settings"))?;
            let j: augment::Judged =
                serde_json::from_value(measured.clone()).map_err(|_| damaged("judgement"))?;
            let (cmd, file) = augment_command(&s);
            (cmd, augment_words(&s), augment_metrics(&j), file)
        }
        Purpose::Anomaly => {
            let s: anomaly::AnomalySettings =
                serde_json::from_value(settings.clone()).map_err(|_| damaged("settings"))?;
            let source: Vec<String> = serde_json::from_value(measured["source"].clone())
                .map_err(|_| damaged("data source"))?;
            let metrics = anomaly_metrics(measured);
            let (cmd, file) = anomaly_command(&s, &source);
            (cmd, anomaly_words(&s), metrics, file)
        }
    };
    Ok(RunRecord {
        lab: lab_id(lab).into(),
        started: started.into(),
        seconds,
        model: if spec.name.is_empty() {
            "designed model".into()
        } else {
            spec.name.clone()
        },
        params: spec.summary().map(|s| s.total_params).unwrap_or(0),
        settings: words,
        metrics,
        version: VERSION.into(),
        weights_sha256: sha256_hex(weights),
        command: shell_line(&command),
        spec: serde_json::to_string_pretty(&spec).map_err(|e| e.to_string())?,
        spec_file,
    })
}

fn lab_id(lab: Purpose) -> &'static str {
    match lab {
        Purpose::Denoise => "denoise",
        Purpose::Augment => "augment",
        Purpose::Anomaly => "anomaly",
    }
}

/// How a command names a model: a preset by its id, a designed one by the
/// file its spec is saved in (a name made from the model's name).
pub fn model_arg(spec: &ModelSpec) -> (String, Option<String>) {
    // A series model's length follows the data, so it is not compared.
    let same = |p: &ModelSpec| match (&p.input, &spec.input) {
        (Input::Series { length }, Input::Series { .. }) => *p == spec.clone().with_length(*length),
        _ => p == spec,
    };
    if let Some(p) = presets::PRESETS.iter().find(|p| same(&p.spec())) {
        return (p.id.into(), None);
    }
    let slug: String = spec
        .name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let file = format!("{}.json", if slug.is_empty() { "model" } else { &slug });
    (file.clone(), Some(file))
}

/// `--model` for a designed spec (returning the file it is read from, if
/// not a preset), else the preset's own flags.
fn model_args(
    c: &mut Vec<String>,
    spec: Option<&ModelSpec>,
    preset: impl FnOnce(&mut Vec<String>),
) -> Option<String> {
    match spec {
        Some(spec) => {
            let (arg, file) = model_arg(spec);
            push(c, "--model", arg);
            file
        }
        None => {
            preset(c);
            None
        }
    }
}

/// The training flags of `t` that every lab's command takes (each lab's
/// defaults differ, so the main ones are always written).
fn train_args(t: &TrainConfig, out: &mut Vec<String>) {
    push(out, "--epochs", t.epochs);
    push(out, "--batch-size", t.batch_size);
    push(out, "--lr", t.learning_rate);
    if t.schedule == Schedule::Constant {
        out.push("--constant-lr".into());
    }
    push(out, "--seed", t.seed);
    if t.optimizer != OptimizerKind::Adam {
        push(out, "--optimizer", t.optimizer.name());
    }
    if t.weight_decay != 0.0 {
        push(out, "--weight-decay", t.weight_decay);
    }
    if let Some(l) = t.loss {
        push(out, "--loss", l.name());
    }
}

fn push(out: &mut Vec<String>, flag: &str, value: impl std::fmt::Display) {
    out.push(flag.into());
    out.push(value.to_string());
}

fn words(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// `aelab denoise train …` for `s`; a fine-tuned run starts from the model
/// before it (`--init`).
pub fn denoise_command(
    s: &denoise::DenoiseSettings,
    fine_tuned: bool,
) -> (Vec<String>, Option<String>) {
    let mut c = words(&["aelab", "denoise", "train"]);
    let spec = (!fine_tuned).then(|| s.model_spec());
    let file = model_args(&mut c, spec.as_ref(), |c| {
        push(c, "--init", "the-model-before.aelab")
    });
    train_args(&s.train, &mut c);
    if let Some(n) = s.images {
        push(&mut c, "--limit", n);
    }
    if s.valid_fraction != denoise::DenoiseSettings::default().valid_fraction {
        push(&mut c, "--valid-fraction", s.valid_fraction);
    }
    match s.noise {
        denoise::NoiseSpec::Fixed(f) => push(&mut c, "--noise", f),
        denoise::NoiseSpec::Range(lo, hi) => {
            push(&mut c, "--noise-min", lo);
            push(&mut c, "--noise-max", hi);
        }
    }
    push(&mut c, "--out", "aelab-denoiser.aelab");
    (c, file)
}

/// `aelab augment …` for `s` (it trains, generates and judges).
pub fn augment_command(s: &augment::AugmentSettings) -> (Vec<String>, Option<String>) {
    let mut c = words(&["aelab", "augment"]);
    push(&mut c, "--digit", s.digit);
    push(&mut c, "--examples", s.examples);
    let file = model_args(&mut c, s.spec.as_ref(), |c| {
        push(c, "--latent", s.latent);
        push(c, "--width", s.width);
    });
    train_args(&s.train, &mut c);
    push(&mut c, "--code-noise", s.code_noise);
    push(&mut c, "--code-penalty", s.code_penalty);
    push(&mut c, "--out", "aelab-augmenter.aelab");
    (c, file)
}

/// `aelab anomaly <source> …` for `s`, where `source` are the arguments
/// that load the run's data.
pub fn anomaly_command(
    s: &anomaly::AnomalySettings,
    source: &[String],
) -> (Vec<String>, Option<String>) {
    let mut c = words(&["aelab", "anomaly"]);
    c.extend(source.iter().cloned());
    let file = model_args(&mut c, s.spec.as_ref(), |c| {
        push(c, "--model", s.model.name());
        push(c, "--latent", s.latent);
        push(c, "--depth", s.depth);
    });
    train_args(&s.train, &mut c);
    push(&mut c, "--valid-fraction", s.valid_fraction);
    push(
        &mut c,
        "--threshold-from",
        match s.threshold_from {
            anomaly::ThresholdFrom::Auto => "auto",
            anomaly::ThresholdFrom::Split => "split",
            anomaly::ThresholdFrom::Cv => "cv",
        },
    );
    (c, file)
}

/// A command as one line a shell runs: words with anything but letters,
/// digits and `-_./:=,+` are single-quoted.
pub fn shell_line(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn train_words(t: &TrainConfig) -> String {
    let mut w = format!(
        "{} epoch{}, batch {}, {} at {}{}",
        t.epochs,
        if t.epochs == 1 { "" } else { "s" },
        t.batch_size,
        t.optimizer.name(),
        t.learning_rate,
        match t.schedule {
            Schedule::Cosine => " (cosine)",
            Schedule::Constant => "",
        }
    );
    if t.weight_decay != 0.0 {
        let _ = write!(w, ", weight decay {}", t.weight_decay);
    }
    if let Some(l) = t.loss {
        let _ = write!(w, ", {} loss", l.name());
    }
    let _ = write!(w, ", seed {}", t.seed);
    w
}

fn denoise_words(s: &denoise::DenoiseSettings, fine_tuned: bool) -> String {
    format!(
        "{}{}, {}, {}",
        if fine_tuned { "fine-tuned, " } else { "" },
        s.images
            .map_or("all images".to_string(), |n| format!("{n} images")),
        s.noise.describe(),
        train_words(&s.train)
    )
}

fn augment_words(s: &augment::AugmentSettings) -> String {
    format!(
        "digit {}, {} examples, code noise {}, code penalty {}, {}",
        s.digit,
        s.examples,
        s.code_noise,
        s.code_penalty,
        train_words(&s.train)
    )
}

fn anomaly_words(s: &anomaly::AnomalySettings) -> String {
    format!(
        "{}{}% held out, threshold from {}, {}",
        match &s.spec {
            Some(_) => String::new(),
            None => format!("{} latent {} depth {}, ", s.model.name(), s.latent, s.depth),
        },
        (s.valid_fraction * 100.0).round(),
        match s.threshold_from {
            anomaly::ThresholdFrom::Auto => "auto",
            anomaly::ThresholdFrom::Split => "the split",
            anomaly::ThresholdFrom::Cv => "cross-validation",
        },
        train_words(&s.train)
    )
}

/// PSNR and the classifier's accuracy on the denoised digits at each
/// noise level of the evaluation.
pub fn denoise_metrics(r: &denoise::EvalReport) -> Vec<Metric> {
    let mut m = Vec::new();
    for l in &r.levels {
        m.push(metric(format!("PSNR f={} (dB)", l.noise), l.psnr_denoised));
    }
    for l in &r.levels {
        m.push(metric(
            format!("accuracy f={}", l.noise),
            l.accuracy_denoised,
        ));
    }
    m
}

/// The classifier's verdict on the generated digits and their diversity.
pub fn augment_metrics(j: &augment::Judged) -> Vec<Metric> {
    vec![
        metric("recognised", j.recognised_rate),
        metric("confidence", j.mean_confidence),
        metric("FID", j.diversity.fid),
        metric("precision", j.diversity.precision),
        metric("recall", j.diversity.recall),
        metric("duplicates", j.diversity.duplicate_rate),
    ]
}

/// The detection metrics of a labelled test set at the run's threshold
/// (none without labels).
fn anomaly_metrics(measured: &serde_json::Value) -> Vec<Metric> {
    let d = &measured["detection"];
    ["auroc", "auprc", "precision", "recall", "f1"]
        .iter()
        .filter_map(|k| {
            d[*k].as_f64().map(|v| {
                let name = match *k {
                    "auroc" => "AUROC",
                    "auprc" => "AUPRC",
                    "f1" => "F1",
                    other => other,
                };
                metric(name, v)
            })
        })
        .collect()
}

/// The run table as CSV: one column per metric any row has.
pub fn csv(rows: &[RunRecord]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for r in rows {
        for m in &r.metrics {
            if !names.contains(&m.name.as_str()) {
                names.push(&m.name);
            }
        }
    }
    let mut head = words(&[
        "lab",
        "started",
        "seconds",
        "model",
        "parameters",
        "settings",
    ]);
    head.extend(names.iter().map(|n| n.to_string()));
    head.extend(words(&[
        "aelab version",
        "weights sha256",
        "command",
        "spec",
    ]));
    let mut out = csv_line(&head);
    for r in rows {
        let mut line = vec![
            r.lab.clone(),
            r.started.clone(),
            format!("{:.1}", r.seconds),
            r.model.clone(),
            r.params.to_string(),
            r.settings.clone(),
        ];
        for n in &names {
            line.push(
                r.metrics
                    .iter()
                    .find(|m| m.name == *n)
                    .map_or(String::new(), |m| format!("{:.4}", m.value)),
            );
        }
        line.extend([
            r.version.clone(),
            r.weights_sha256.clone(),
            r.command.clone(),
            r.spec.clone(),
        ]);
        out.push_str(&csv_line(&line));
    }
    out
}

fn csv_line(cells: &[String]) -> String {
    let mut s = cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_the_standard_one() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn commands_quote_what_a_shell_would_split() {
        let line = shell_line(&words(&["aelab", "--train", "my beats.csv", "it's"]));
        assert_eq!(line, r"aelab --train 'my beats.csv' 'it'\''s'");
    }

    #[test]
    fn a_preset_is_named_by_its_id_and_a_design_by_its_file() {
        let skip = presets::preset("denoiser-skip").unwrap();
        assert_eq!(model_arg(&skip), ("denoiser-skip".into(), None));
        let mut mine = skip.clone();
        mine.name = "My  skip model (v2)".into();
        if let crate::models::spec::Op::Conv2d(c) = &mut mine.layers[0].op {
            c.filters = 8;
        }
        assert_eq!(
            model_arg(&mine),
            (
                "my-skip-model-v2.json".into(),
                Some("my-skip-model-v2.json".into())
            )
        );
    }

    /// A row from a weights file as the page's runs write it: the spec,
    /// the settings, the metrics, the hash and the command.
    #[test]
    fn a_row_comes_from_the_weights_file_and_the_measurements() {
        let dev = crate::platform::test_device();
        let spec = presets::preset("denoiser-canonical").unwrap();
        let net = crate::models::Net::build(&spec, &dev).unwrap();
        let settings = denoise::DenoiseSettings::quick();
        let meta = serde_json::json!({"settings": settings, "fine_tuned_from": null});
        let bytes = record::to_bytes(&net, &spec, meta).unwrap();
        let report = denoise::EvalReport {
            images: 10,
            noise_seed: 1,
            classifier_accuracy_clean: 1.0,
            levels: vec![denoise::LevelReport {
                noise: 0.5,
                psnr_noisy: 10.0,
                psnr_denoised: 20.5,
                ssim_noisy: 0.2,
                ssim_denoised: 0.8,
                accuracy_noisy: 0.5,
                accuracy_denoised: 0.9,
                accuracy_median3: 0.7,
            }],
        };
        let measured = serde_json::to_value(&report).unwrap();
        let r = record(
            Purpose::Denoise,
            &bytes,
            &measured,
            "2026-12-05T10:00:00Z",
            3.5,
        )
        .unwrap();
        assert_eq!(
            (r.lab.as_str(), r.model.as_str(), r.params),
            ("denoise", "Canonical denoiser", 28_353)
        );
        assert_eq!(r.weights_sha256, sha256_hex(&bytes));
        assert_eq!(r.version, VERSION);
        assert_eq!(
            r.metrics,
            vec![
                metric("PSNR f=0.5 (dB)", 20.5),
                metric("accuracy f=0.5", 0.9)
            ]
        );
        assert_eq!(
            r.command,
            "aelab denoise train --model denoiser-canonical --epochs 1 --batch-size 16 --lr 0.001 --seed 1 --limit 2000 --noise-min 0.3 --noise-max 1 --out aelab-denoiser.aelab"
        );
        assert_eq!(
            r.settings,
            "2000 images, f ~ U[0.3, 1], 1 epoch, batch 16, adam at 0.001 (cosine), seed 1"
        );
        assert_eq!(ModelSpec::from_json(&r.spec).unwrap(), spec);
        // What cannot make a row says why.
        let wrong = record(Purpose::Augment, &bytes, &measured, "", 0.0).unwrap_err();
        assert_eq!(wrong, "the weights file does not hold the run's settings");
        let bare = record::to_bytes(&net, &spec, serde_json::Value::Null).unwrap();
        let e = record(Purpose::Denoise, &bare, &measured, "", 0.0).unwrap_err();
        assert_eq!(e, "the weights file does not hold the run's settings");
        let e = record(Purpose::Denoise, &bytes, &serde_json::json!({}), "", 0.0).unwrap_err();
        assert_eq!(e, "the weights file does not hold the run's evaluation");
        assert!(record(Purpose::Denoise, b"not a model", &measured, "", 0.0).is_err());
    }

    #[test]
    fn the_csv_has_a_column_per_metric_and_quotes_cells() {
        let row = |lab: &str, metrics: Vec<Metric>| RunRecord {
            lab: lab.into(),
            started: "2026-12-05T10:00:00Z".into(),
            seconds: 12.34,
            model: "m".into(),
            params: 10,
            settings: "1 epoch, batch 16".into(),
            metrics,
            version: VERSION.into(),
            weights_sha256: "ab".into(),
            command: "aelab x".into(),
            spec: "{\"a\": 1}".into(),
            spec_file: None,
        };
        let text = csv(&[
            row("denoise", vec![metric("PSNR", 20.0)]),
            row("denoise", vec![metric("PSNR", 21.0), metric("acc", 0.5)]),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0]
            .starts_with("lab,started,seconds,model,parameters,settings,PSNR,acc,aelab version"));
        assert!(lines[1].contains(",\"1 epoch, batch 16\",20.0000,,"));
        assert!(lines[2].contains(",21.0000,0.5000,"));
        assert!(lines[2].ends_with(",\"{\"\"a\"\": 1}\""));
    }
}
