//! The `aelab` binary end to end, on small subsets: train tiny models, then
//! check the JSON that `denoise eval --json` prints, the figure, and the
//! errors for bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

fn aelab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aelab"))
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("aelab-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("aelab runs");
    assert!(
        out.status.success(),
        "aelab failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail with exit status 1 (a reported error, not
/// a panic or a usage error); returns its stderr.
fn run_err(cmd: &mut Command) -> String {
    let out = cmd.output().expect("aelab runs");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    err
}

/// Runs a command that must be refused (any failing status, a usage error
/// included) with a message containing `want`, and no panic; returns stderr.
fn refused(cmd: &mut Command, want: &str) -> String {
    let what = format!("{cmd:?}");
    let out = cmd.output().expect("aelab runs");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{what} should fail");
    assert!(err.contains(want), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    err
}

fn train_tiny(dir: &Path) -> (PathBuf, PathBuf) {
    let cls = dir.join("cls.aelab");
    let den = dir.join("den.aelab");
    run_ok(
        aelab()
            .args([
                "classifier",
                "train",
                "--limit",
                "300",
                "--epochs",
                "1",
                "--batch-size",
                "50",
                "--out",
            ])
            .arg(&cls),
    );
    run_ok(
        aelab()
            .args([
                "denoise",
                "train",
                "--limit",
                "300",
                "--epochs",
                "1",
                "--batch-size",
                "50",
                "--out",
            ])
            .arg(&den),
    );
    (cls, den)
}

#[test]
fn denoise_eval_json_has_the_report_shape() {
    let dir = tmpdir("eval");
    let (cls, den) = train_tiny(&dir);
    let out = run_ok(
        aelab()
            .args(["denoise", "eval", "--json", "--limit", "40", "--weights"])
            .arg(&den)
            .arg("--classifier")
            .arg(&cls),
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("stdout is one JSON object");
    let acc = v["classifier_accuracy_clean"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    let levels = v["levels"].as_array().unwrap();
    let noises: Vec<f64> = levels
        .iter()
        .map(|l| l["noise"].as_f64().unwrap())
        .collect();
    assert_eq!(noises.len(), 3);
    for (n, want) in noises.iter().zip([0.5, 0.7, 0.9]) {
        assert!((n - want).abs() < 1e-6);
    }
    for l in levels {
        for k in [
            "psnr_noisy",
            "psnr_denoised",
            "ssim_noisy",
            "ssim_denoised",
            "accuracy_noisy",
            "accuracy_denoised",
        ] {
            assert!(l[k].as_f64().is_some(), "missing {k} in {l}");
        }
        for k in ["accuracy_noisy", "accuracy_denoised"] {
            assert!((0.0..=1.0).contains(&l[k].as_f64().unwrap()));
        }
        // PSNR in dB of images in [0, 1]: noise of this size is far below 30 dB.
        let p = l["psnr_noisy"].as_f64().unwrap();
        assert!((3.0..20.0).contains(&p), "{p}");
    }
    // Heavier noise is worse.
    assert!(levels[0]["psnr_noisy"].as_f64() > levels[2]["psnr_noisy"].as_f64());

    // Same seed, same numbers.
    let again = run_ok(
        aelab()
            .args(["denoise", "eval", "--json", "--limit", "40", "--weights"])
            .arg(&den)
            .arg("--classifier")
            .arg(&cls),
    );
    assert_eq!(out, again);

    let png = dir.join("fig.png");
    run_ok(
        aelab()
            .args(["denoise", "figure", "--out"])
            .arg(&png)
            .arg("--weights")
            .arg(&den)
            .arg("--classifier")
            .arg(&cls),
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");

    let out = run_ok(
        aelab()
            .args(["classifier", "eval", "--json", "--limit", "50", "--weights"])
            .arg(&cls),
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["images"], 50);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn affine_augmented_classifier_trains_and_learns() {
    let dir = tmpdir("affine");
    let cls = dir.join("affine.aelab");
    run_ok(
        aelab()
            .args([
                "classifier",
                "train",
                "--augment",
                "affine",
                "--limit",
                "600",
                "--epochs",
                "2",
                "--batch-size",
                "32",
                "--out",
            ])
            .arg(&cls),
    );
    let out = run_ok(
        aelab()
            .args([
                "classifier",
                "eval",
                "--json",
                "--limit",
                "200",
                "--weights",
            ])
            .arg(&cls),
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    // Chance is 10 %; 570 distorted digits for two epochs already do far better.
    let acc = v["accuracy"].as_f64().unwrap();
    assert!(acc > 0.5, "accuracy {acc}");
    // An unknown augmentation is refused by the argument parser.
    refused(
        aelab()
            .args(["classifier", "train", "--augment", "elastic", "--out"])
            .arg(dir.join("x.aelab")),
        "elastic",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_weights_give_a_clear_error_not_a_panic() {
    let dir = tmpdir("bad");
    let junk = dir.join("junk.aelab");
    std::fs::write(&junk, b"this is not a model").unwrap();
    let err = run_err(aelab().args(["denoise", "eval", "--weights"]).arg(&junk));
    assert!(err.contains("not an aelab weights file"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let missing = dir.join("nope.aelab");
    let err = run_err(aelab().args(["denoise", "eval", "--weights"]).arg(&missing));
    assert!(err.contains("cannot read"));

    // A corrupt MNIST directory.
    let assets = dir.join("assets");
    std::fs::create_dir_all(assets.join("mnist")).unwrap();
    std::fs::write(
        assets.join("mnist/t10k-images-idx3-ubyte.gz"),
        b"\x00\x00\x08\x03\x00",
    )
    .unwrap();
    std::fs::write(assets.join("mnist/t10k-labels-idx1-ubyte.gz"), b"").unwrap();
    let err = run_err(
        aelab()
            .args(["classifier", "eval", "--assets"])
            .arg(&assets),
    );
    assert!(err.contains("t10k-images-idx3-ubyte.gz"), "{err}");
    assert!(err.contains("the header alone needs 16"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // Options out of range are refused with a message.
    let out = aelab()
        .args(["denoise", "eval", "--limit", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = run_err(
        aelab()
            .args(["denoise", "train", "--width", "0", "--limit", "10", "--out"])
            .arg(dir.join("w0.aelab")),
    );
    assert!(err.contains("width is 0"));

    // `weights convert`: a junk file and an unknown storage are errors; a
    // real file converts to each storage and still evaluates.
    let err = run_err(
        aelab()
            .args(["weights", "convert"])
            .arg(&junk)
            .arg("--out")
            .arg(dir.join("j8.aelab")),
    );
    assert!(err.contains("not an aelab weights file"));
    let shipped = aelab::data::assets_dir().join("models/denoiser-canonical.aelab");
    let err = run_err(
        aelab()
            .args(["weights", "convert", "--to", "f8"])
            .arg(&shipped)
            .arg("--out")
            .arg(dir.join("x.aelab")),
    );
    assert!(err.contains("use f32, f16, q8 or q4"));
    let mut sizes = Vec::new();
    for to in ["f32", "f16", "q8", "q4"] {
        // Into a folder that does not exist yet: it is created.
        let path = dir.join(to).join(format!("canonical-{to}.aelab"));
        run_ok(
            aelab()
                .args(["weights", "convert", "--to", to])
                .arg(&shipped)
                .arg("--out")
                .arg(&path),
        );
        sizes.push(std::fs::metadata(&path).unwrap().len());
        let json = run_ok(
            aelab()
                .args(["denoise", "eval", "--json", "--limit", "20", "--weights"])
                .arg(&path),
        );
        assert!(json.contains("\"psnr_denoised\""), "{json}");
    }
    // The canonical model has no dense layer large enough for 4 bits.
    assert!(
        sizes[0] > sizes[1] && sizes[1] > sizes[2] && sizes[2] == sizes[3],
        "{sizes:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `aelab augment --json` prints the report's shape; the figure is a PNG;
/// bad settings are errors with a message, not panics.
#[test]
fn augment_json_figure_and_errors() {
    let dir = tmpdir("augment");
    let model = dir.join("aug.aelab");
    let out = run_ok(
        aelab()
            .args([
                "augment",
                "--digit",
                "2",
                "--examples",
                "10",
                "--samples",
                "30",
                "--latent",
                "8",
                "--seed",
                "1",
                "--epochs",
                "1",
                "--json",
                "--out",
            ])
            .arg(&model),
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(v["digit"], 2);
    assert_eq!(v["examples"], 10);
    assert_eq!(v["samples"], 30);
    for k in ["recognised_rate", "mean_confidence"] {
        let x = v[k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&x), "{k} = {x}");
    }
    for k in [
        "pairwise_l2_ratio",
        "fid",
        "precision",
        "recall",
        "density",
        "coverage",
        "duplicate_rate",
    ] {
        assert!(v["diversity"][k].as_f64().is_some(), "diversity.{k} in {v}");
    }
    let bytes = std::fs::read(&model).unwrap();
    // The file holds a net with the preset's spec, which the Augment lab loads.
    let (net, spec, _) = aelab::models::spec::legacy::load(
        &bytes,
        &aelab::platform::CpuBackend::Flex.device(),
        aelab::models::spec::Purpose::Augment,
    )
    .unwrap();
    assert_eq!(net.latent(), spec.summary().unwrap().latent.unwrap());

    let png = dir.join("augment.png");
    run_ok(
        aelab()
            .args([
                "augment",
                "figure",
                "--samples",
                "10",
                "--epochs",
                "1",
                "--latent",
                "4",
                "--out",
            ])
            .arg(&png),
    );
    let img = std::fs::read(&png).unwrap();
    assert_eq!(&img[1..4], b"PNG");

    for (args, want) in [
        (vec!["augment", "--digit", "12"], "digit"),
        (vec!["augment", "--examples", "0"], "at least 1"),
        (vec!["augment", "--examples", "9000"], "only"),
        (vec!["augment", "--latent", "0", "--epochs", "1"], "latent"),
        (vec!["augment", "table", "--digits", "2,x"], "--digits"),
    ] {
        refused(aelab().args(&args), want);
    }
}

/// `aelab anomaly --json` prints the detection report; bad CSV files and
/// options give messages that name the problem.
#[test]
fn anomaly_json_and_bad_csv() {
    let out = run_ok(aelab().args([
        "anomaly",
        "--dataset",
        "ecg5000",
        "--model",
        "dense",
        "--epochs",
        "20",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(v["model"], "dense");
    for k in [
        "auroc",
        "auprc",
        "threshold",
        "accuracy",
        "precision",
        "recall",
        "f1",
    ] {
        assert!(v[k].as_f64().is_some(), "{k} in {v}");
    }
    let c = &v["confusion"];
    let total: u64 = (0..2)
        .flat_map(|i| (0..2).map(move |j| (i, j)))
        .map(|(i, j)| c[i][j].as_u64().unwrap())
        .sum();
    assert_eq!(total, 4500);

    let dir = tmpdir("anomaly");
    let good = dir.join("train.csv");
    let mut rows = String::from("timestamp,value,label\n");
    for i in 0..400 {
        let v = (i as f32 * 0.2).sin();
        rows += &format!("t{i},{v},{}\n", (i > 300 && i < 320) as u8);
    }
    std::fs::write(&good, &rows).unwrap();
    let out = run_ok(
        aelab()
            .args([
                "anomaly",
                "--format",
                "long",
                "--label-column",
                "label",
                "--window",
                "20",
                "--stride",
                "5",
                "--model",
                "dense",
                "--epochs",
                "3",
                "--json",
                "--train",
            ])
            .arg(&good)
            .arg("--test")
            .arg(&good),
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["events"]["events"].as_u64() == Some(1), "{v}");

    let ragged = dir.join("ragged.csv");
    std::fs::write(&ragged, "a,b,c,d,e,f,g,h\n1,2,3,4,5,6,7,8\n1,2,3\n").unwrap();
    let nan = dir.join("nan.csv");
    std::fs::write(&nan, "1,2,3,4,5,6,7,8\n1,2,NaN,4,5,6,7,8\n").unwrap();
    let empty = dir.join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    for (file, want) in [
        (&ragged, "line 3 has 3 fields"),
        (&nan, "line 2, column 3: the value is NaN"),
        (&empty, "empty"),
    ] {
        refused(
            aelab()
                .args(["anomaly", "--train"])
                .arg(file)
                .arg("--test")
                .arg(file),
            want,
        );
    }
    for (args, want) in [
        (vec!["anomaly"], "--dataset"),
        (vec!["anomaly", "--dataset", "nab"], "unknown dataset"),
        (
            vec!["anomaly", "--dataset", "ecg5000", "--threshold", "pct:200"],
            "percentile",
        ),
        (
            vec!["anomaly", "--dataset", "ecg5000", "--model", "lstm"],
            "unknown model",
        ),
    ] {
        refused(aelab().args(&args), want);
    }
}

#[test]
fn skip_denoiser_shape_flags() {
    let dir = tmpdir("shape-flags");
    let out = dir.join("skip.aelab");
    run_ok(
        aelab()
            .args([
                "denoise",
                "train",
                "--kind",
                "skip",
                "--bottleneck",
                "8",
                "--depth",
                "1",
            ])
            .args([
                "--limit",
                "100",
                "--epochs",
                "1",
                "--batch-size",
                "50",
                "--out",
            ])
            .arg(&out),
    );
    let bytes = std::fs::read(&out).unwrap();
    let (_, spec, _) = aelab::models::record::from_bytes::<aelab::models::Net>(
        &bytes,
        &aelab::platform::CpuBackend::Flex.device(),
    )
    .unwrap();
    // The file holds the preset's spec for these settings.
    let want = aelab::models::spec::presets::denoiser(
        &aelab::models::DenoiserConfig::skip()
            .with_bottleneck(8)
            .with_depth(1),
    );
    assert_eq!(spec, want);
    // With --init the file's model is fine-tuned as it is: shape flags are refused.
    let err = run_err(
        aelab()
            .args([
                "denoise", "train", "--depth", "2", "--limit", "100", "--init",
            ])
            .arg(&out)
            .arg("--out")
            .arg(dir.join("x.aelab")),
    );
    assert!(err.contains("--depth"));
    // Out of range: the model's own limits, stated.
    let err = run_err(
        aelab()
            .args([
                "denoise",
                "train",
                "--kind",
                "skip",
                "--bottleneck",
                "0",
                "--limit",
                "100",
                "--out",
            ])
            .arg(dir.join("y.aelab")),
    );
    assert!(err.contains("bottleneck is 0, outside 1..=512"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A long series without labels: `--train FILE` alone splits it, trains
/// on the first half and flags the rest. The flagged stretches (JSON and
/// `--flags-out` CSV, in the file's points and timestamps) cover an
/// anomaly planted in the second half, and nothing else.
#[test]
fn anomaly_flags_an_unlabelled_series_and_writes_the_stretches() {
    let dir = tmpdir("unlabelled");
    let file = dir.join("series.csv");
    let mut rows = String::from("timestamp,value\n");
    for i in 0..3000 {
        let x = i as f32 * std::f32::consts::TAU;
        let mut v = (x / 50.0).sin() + 0.3 * (x / 13.0).sin();
        if (2200..2240).contains(&i) {
            v = if (i / 4) % 2 == 0 { 2.5 } else { -2.5 };
        }
        rows += &format!("{},{v:.4}\n", 1_700_000_000 + 60 * i);
    }
    std::fs::write(&file, rows).unwrap();
    let flags = dir.join("flags.csv");
    let out = run_ok(
        aelab()
            .args([
                "anomaly", "--window", "40", "--stride", "10", "--epochs", "20",
            ])
            .args(["--model", "dense", "--json", "--train"])
            .arg(&file)
            .arg("--flags-out")
            .arg(&flags),
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert!(
        v.get("auroc").is_none(),
        "nothing is scored without labels: {v}"
    );
    let stretches = v["flagged"].as_array().expect("the flagged stretches");
    assert_eq!(stretches.len(), 1, "only the planted anomaly: {v}");
    let (a, b) = (
        stretches[0]["start"].as_u64().unwrap(),
        stretches[0]["end"].as_u64().unwrap(),
    );
    assert!(a <= 2200 && b >= 2240 && b - a <= 200, "{a}..{b}");
    assert_eq!(
        stretches[0]["start_time"].as_str(),
        Some(format!("{}", 1_700_000_000 + 60 * a).as_str()),
        "reported in the file's timestamps"
    );
    let csv = std::fs::read_to_string(&flags).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("start,end,peak_error,start_time,end_time")
    );
    assert!(lines.next().unwrap().starts_with(&format!("{a},{b},")));
    // --split is for one file; a split that leaves no test part is refused.
    refused(
        aelab()
            .args(["anomaly", "--split", "0.5", "--train"])
            .arg(&file)
            .arg("--test")
            .arg(&file),
        "--split divides one file",
    );
    refused(
        aelab()
            .args(["anomaly", "--split", "3000", "--train"])
            .arg(&file),
        "leaves nothing to test",
    );
    refused(
        aelab()
            .args(["anomaly", "compare", "--train"])
            .arg(&file)
            .arg("--test")
            .arg(&file),
        "labelled test data",
    );
}

/// The generated machine signal written without its labels: trained on its
/// clean part and tested unlabelled, the flagged stretches find most of
/// its planted anomalies with few false alarms.
#[test]
fn anomalies_planted_in_the_machine_signal_are_flagged_without_labels() {
    let dir = tmpdir("machine-unlabelled");
    let b = aelab::data::machine::benchmark(1);
    let write = |name: &str, values: &[f32]| {
        let p = dir.join(name);
        let mut s = String::from("value\n");
        for v in values {
            s += &format!("{v}\n");
        }
        std::fs::write(&p, s).unwrap();
        p
    };
    let mut train = b.train.values.clone();
    train.extend(&b.valid.values);
    let (tr, te) = (
        write("train.csv", &train),
        write("test.csv", &b.test.series.values),
    );
    let out = run_ok(
        aelab()
            .args([
                "anomaly", "--model", "conv1d", "--epochs", "20", "--json", "--train",
            ])
            .arg(&tr)
            .arg("--test")
            .arg(&te),
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let flagged: Vec<(usize, usize)> = v["flagged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["start"].as_u64().unwrap() as usize,
                s["end"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    let events = &b.test.events;
    let touches = |(a, b): (usize, usize), s: usize, l: usize| a < s + l && s < b;
    let found = events
        .iter()
        .filter(|e| flagged.iter().any(|&f| touches(f, e.start, e.len)))
        .count();
    let false_alarms = flagged
        .iter()
        .filter(|&&f| !events.iter().any(|e| touches(f, e.start, e.len)))
        .count();
    let points = b.test.series.values.len();
    eprintln!(
        "found {found} of {} events; {false_alarms} false alarms in {points} points",
        events.len()
    );
    assert!(
        found * 10 >= events.len() * 7,
        "found {found} of {}",
        events.len()
    );
    assert!(
        false_alarms * 1000 <= 2 * points,
        "{false_alarms} false alarms"
    );
}

/// A small UCR-shaped file, its class in column 0: `normal` rows of class 1
/// (sines) and `anomalous` rows of class 2 (square waves).
fn small_ucr(dir: &Path, normal: usize, anomalous: usize) -> PathBuf {
    let file = dir.join("small-ucr.csv");
    let mut rows = String::new();
    for r in 0..normal + anomalous {
        let class = if r < normal { 1 } else { 2 };
        let phase = r as f32 * 0.37;
        let values: Vec<String> = (0..32)
            .map(|i| {
                let x = i as f32 * 0.4 + phase;
                let v = if class == 1 {
                    x.sin()
                } else if x.sin() > 0.0 {
                    1.5
                } else {
                    -1.5
                };
                format!("{v:.4}")
            })
            .collect();
        rows += &format!("{class},{}\n", values.join(","));
    }
    std::fs::write(&file, rows).unwrap();
    file
}

#[test]
fn a_small_file_gets_a_cross_validated_threshold_and_says_so() {
    let dir = tmpdir("small-ucr");
    // 23 rows, 12 normal: 6 normal rows train, and a 0.2 split would hold
    // one of them out to set the threshold.
    let file = small_ucr(&dir, 12, 11);
    let run = |extra: &[&str]| {
        let out = aelab()
            .args(["anomaly", "--epochs", "30", "--latent", "4", "--json"])
            .args(extra)
            .arg("--train")
            .arg(&file)
            .output()
            .expect("aelab runs");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{err}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        (v, err)
    };
    let (v, err) = run(&[]);
    assert_eq!(v["threshold_folds"], 5, "{v}");
    let note = v["threshold_note"].as_str().expect("a note");
    assert!(
        note.contains("cross-validated") && note.contains("all 6 normal training series"),
        "{note}"
    );
    assert!(note.contains("fewer than 20"), "still few: {note}");
    assert!(err.contains("fold 5 of 5"), "{err}");
    assert!(v["auroc"].as_f64().unwrap() > 0.5, "{v}");
    // Asked for the split: the warning about one held-out series.
    let (v, err) = run(&["--threshold-from", "split"]);
    assert!(v.get("threshold_folds").is_none(), "{v}");
    assert!(
        v["threshold_note"]
            .as_str()
            .unwrap()
            .contains("rests on only 1 normal series"),
        "{v}"
    );
    assert!(!err.contains("fold"), "{err}");
    // A long series cannot be cross-validated, and an unknown source is named.
    refused(
        aelab().args([
            "anomaly",
            "--dataset",
            "machine",
            "--epochs",
            "1",
            "--threshold-from",
            "cv",
        ]),
        "needs one series per row",
    );
    refused(
        aelab()
            .args(["anomaly", "--threshold-from", "folds", "--train"])
            .arg(&file),
        "expected auto, split or cv",
    );
}

/// `--model` trains a designed model in each lab, and `aelab model` prints
/// its summary and code; a bad spec is a message and exit code 1.
#[test]
fn designed_models_from_the_command_line() {
    let dir = tmpdir("designed");
    let spec = dir.join("small.json");
    std::fs::write(
        &spec,
        r#"{"aelab_spec": 1, "name": "Small denoiser", "input": {"kind": "image", "height": 28, "width": 28, "channels": 1},
            "layers": [{"type": "conv2d", "filters": 8, "activation": "relu"}, {"type": "max_pool"},
                       {"type": "upsample"}, {"type": "conv2d", "filters": 1}]}"#,
    )
    .unwrap();
    let summary = run_ok(aelab().args(["model", "summary"]).arg(&spec));
    assert!(summary.contains("Small denoiser"), "{summary}");
    assert!(summary.contains("14×14×8"), "{summary}");
    assert!(summary.contains("Total: 153 parameters"), "{summary}");
    let rust = run_ok(aelab().args(["model", "code", "--lang", "rust"]).arg(&spec));
    assert!(rust.contains("pub struct SmallDenoiser"), "{rust}");
    let keras = run_ok(
        aelab()
            .args(["model", "code", "--lang", "keras"])
            .arg(&spec),
    );
    assert!(
        keras.contains("layers.Conv2D(8, 3, padding=\"same\", activation=\"relu\")"),
        "{keras}"
    );
    let presets = run_ok(aelab().args(["model", "presets"]));
    assert!(
        presets.contains("denoiser-skip") && presets.contains("series-conv1d"),
        "{presets}"
    );

    let out = dir.join("small.aelab");
    run_ok(
        aelab()
            .args(["denoise", "train", "--model"])
            .arg(&spec)
            .args([
                "--limit",
                "100",
                "--epochs",
                "1",
                "--batch-size",
                "50",
                "--optimizer",
                "sgd",
                "--loss",
                "mse",
                "--out",
            ])
            .arg(&out),
    );
    let bytes = std::fs::read(&out).unwrap();
    let (_, saved, meta) = aelab::models::record::from_bytes::<aelab::models::Net>(
        &bytes,
        &aelab::platform::CpuBackend::Flex.device(),
    )
    .unwrap();
    assert_eq!(saved.name, "Small denoiser");
    assert_eq!(meta["train"]["optimizer"], "sgd");
    assert_eq!(meta["train"]["loss"], "mse");
    // The trained file evaluates like any denoiser.
    let eval = run_ok(
        aelab()
            .args(["denoise", "eval", "--limit", "20", "--weights"])
            .arg(&out),
    );
    assert!(eval.contains("| 0.5 |"), "{eval}");
    // The same spec cannot serve the Augment lab: it has no latent layer.
    let err = run_err(
        aelab()
            .args(["augment", "--examples", "10", "--epochs", "1", "--model"])
            .arg(&spec),
    );
    assert!(
        err.contains("a latent layer is required for sampling"),
        "{err}"
    );
    // The anomaly lab takes a series spec, by file.
    let series = dir.join("series.json");
    std::fs::write(
        &series,
        aelab::models::spec::presets::preset("series-dense")
            .unwrap()
            .to_json(),
    )
    .unwrap();
    let table = run_ok(
        aelab()
            .args([
                "anomaly",
                "compare",
                "--dataset",
                "ecg5000",
                "--epochs",
                "2",
                "--model",
            ])
            .arg(&series),
    );
    assert!(table.contains("Dense series autoencoder"), "{table}");
    // A bad spec: the message names the layer, and nothing panics.
    std::fs::write(&spec, r#"{"aelab_spec": 1, "input": {"kind": "image", "height": 28, "width": 28, "channels": 1}, "layers": [{"type": "conv2d", "filters": 8}, {"type": "max_pool"}]}"#).unwrap();
    let err = run_err(aelab().args(["model", "summary"]).arg(&spec));
    assert!(
        err.contains("layer 2 (MaxPool) gives 14×14×8 but the decoder must end at 28×28×1"),
        "{err}"
    );
    let err = run_err(aelab().args(["model", "summary", "no-such-preset"]));
    assert!(err.contains("no preset \"no-such-preset\""), "{err}");
}

/// A run kept in a workspace comes out of `aelab workspace extract` with
/// its spec and its command, and that command, run there, trains the same
/// model again: the same losses, epoch by epoch.
#[test]
fn a_workspace_run_trains_again_from_its_extracted_command() {
    use aelab::labs::runs;
    use aelab::models::spec::Purpose;
    let dir = tmpdir("workspace");
    // A designed model, trained as the page would have trained it.
    let mut spec = aelab::models::spec::presets::preset("denoiser-canonical").unwrap();
    spec.name = "Narrow denoiser".into();
    if let aelab::models::spec::Op::Conv2d(c) = &mut spec.layers[0].op {
        c.filters = 4;
    }
    let spec_path = dir.join("narrow.json");
    std::fs::write(&spec_path, serde_json::to_string(&spec).unwrap()).unwrap();
    let first = dir.join("first.aelab");
    run_ok(
        aelab()
            .args([
                "denoise",
                "train",
                "--limit",
                "96",
                "--epochs",
                "2",
                "--batch-size",
                "32",
                "--seed",
                "5",
            ])
            .arg("--model")
            .arg(&spec_path)
            .arg("--out")
            .arg(&first),
    );
    let weights = std::fs::read(&first).unwrap();
    let report = serde_json::json!({"images": 1, "noise_seed": 1, "classifier_accuracy_clean": 1.0, "levels": []});
    let row = runs::record(
        Purpose::Denoise,
        &weights,
        &report,
        "2026-12-05T10:00:00Z",
        1.0,
    )
    .unwrap();
    assert_eq!(row.spec_file.as_deref(), Some("narrow-denoiser.json"));
    // The page's storage, as a workspace file.
    let mut row_json = serde_json::to_value(&row).unwrap();
    row_json["id"] = serde_json::json!("7-x1");
    let entries = serde_json::json!({
        "runs-denoise": [row_json],
        "run-model-denoise-7-x1": {"weights": {"$bytes": 0}, "extra": null},
    });
    let file = aelab::workspace::pack(&entries.to_string(), &[&weights], "now").unwrap();
    let ws = dir.join("work.aelab-workspace");
    std::fs::write(&ws, file).unwrap();
    let listed = run_ok(aelab().args(["workspace", "list"]).arg(&ws));
    assert!(
        listed.contains("runs-denoise: 1 run(s)") && listed.contains(&row.command),
        "{listed}"
    );
    let out = dir.join("extracted");
    run_ok(
        aelab()
            .args(["workspace", "extract"])
            .arg(&ws)
            .arg("--out")
            .arg(&out),
    );
    let runs_dir = out.join("runs");
    assert_eq!(
        std::fs::read(runs_dir.join("denoise-run-1.aelab")).unwrap(),
        weights
    );
    let script = std::fs::read_to_string(runs_dir.join("denoise-commands.sh")).unwrap();
    assert!(script.contains(&row.command));
    // The command, run where it was extracted (the binary as `aelab`).
    let words: Vec<&str> = row.command.split(' ').collect();
    assert_eq!(words[0], "aelab");
    run_ok(aelab().args(&words[1..]).current_dir(&runs_dir));
    let again = std::fs::read(runs_dir.join("aelab-denoiser.aelab")).unwrap();
    let losses = |b: &[u8]| -> Vec<(f64, f64)> {
        let h = aelab::models::record::peek_header(b).unwrap();
        h["meta"]["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["train_loss"].as_f64().unwrap(),
                    e["valid_loss"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let (a, b) = (losses(&weights), losses(&again));
    assert_eq!(a.len(), 2);
    for ((ta, va), (tb, vb)) in a.iter().zip(&b) {
        assert!(
            (ta - tb).abs() <= 1e-6 * ta.abs() && (va - vb).abs() <= 1e-6 * va.abs(),
            "{a:?} vs {b:?}"
        );
    }
    // A file that is not a workspace gets the reason.
    let err = run_err(aelab().args(["workspace", "list"]).arg(&spec_path));
    assert!(err.contains("this is not an aelab workspace file"), "{err}");
}
