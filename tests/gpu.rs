//! `--backend wgpu`: the CLI on burn's wgpu runtime, natively. CI runs it
//! on Mesa's software Vulkan driver (lavapipe, Debian's
//! `mesa-vulkan-drivers`, which `scripts/test.sh` installs): a correctness
//! run, with tiny tensors, not a speed figure. Each lab's model trains and
//! its loss falls; a model trained on the GPU evaluates the same on the
//! CPU; a machine without a Vulkan driver gets a message, not a panic.
#![cfg(feature = "wgpu")]

use std::path::PathBuf;
use std::process::{Command, Output};

fn aelab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_aelab"))
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("aelab-gpu-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `aelab --backend wgpu …`, which must succeed; returns stdout and
/// stderr.
fn on_wgpu(args: &[&str]) -> (String, String) {
    let out = aelab()
        .args(["--backend", "wgpu"])
        .args(args)
        .output()
        .unwrap();
    checked(args, out)
}

fn checked(args: &[&str], out: Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("no Vulkan/Metal/DX12 adapter"),
        "aelab {args:?}: this machine has no Vulkan driver; install Mesa's \
         (Debian: apt-get install mesa-vulkan-drivers; scripts/test.sh does)\n{stderr}"
    );
    assert!(
        out.status.success(),
        "aelab {args:?} failed:\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

/// The train losses of each epoch, from the progress lines on stderr
/// ("epoch 2: train loss 0.23456, validation loss …").
fn epoch_losses(stderr: &str) -> Vec<f64> {
    stderr
        .lines()
        .filter_map(|l| l.split_once(": train loss "))
        .map(|(_, rest)| rest.split(',').next().unwrap().trim().parse().unwrap())
        .collect()
}

fn assert_falls(what: &str, stderr: &str, epochs: usize) {
    let losses = epoch_losses(stderr);
    assert_eq!(losses.len(), epochs, "{what}: {stderr}");
    assert!(losses.iter().all(|l| l.is_finite()), "{what}: {losses:?}");
    assert!(
        losses[epochs - 1] < losses[0],
        "{what}: the loss did not fall on wgpu: {losses:?}"
    );
    assert!(
        stderr.contains("aelab: on wgpu on "),
        "{what}: says which device it runs on: {stderr}"
    );
}

#[test]
fn a_denoiser_trained_on_wgpu_learns_and_evaluates_the_same_on_the_cpu() {
    let dir = tmpdir("denoise");
    let out = dir.join("den.aelab");
    let (_, err) = on_wgpu(&[
        "denoise",
        "train",
        "--limit",
        "192",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--lr",
        "0.003",
        "--valid-fraction",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_falls("denoise", &err, 3);

    // The weights file moves freely: the same file, evaluated on wgpu and
    // on Flex, gives the same report.
    let eval = |backend: &str| -> serde_json::Value {
        let args = [
            "--backend",
            backend,
            "denoise",
            "eval",
            "--limit",
            "40",
            "--json",
            "--weights",
            out.to_str().unwrap(),
        ];
        let (stdout, _) = checked(&args, aelab().args(args).output().unwrap());
        serde_json::from_str(stdout.trim()).expect("one JSON object")
    };
    let (gpu, cpu) = (eval("wgpu"), eval("flex"));
    let levels = gpu["levels"].as_array().expect("levels");
    assert_eq!(levels.len(), 3);
    for (g, c) in levels.iter().zip(cpu["levels"].as_array().unwrap()) {
        for k in ["psnr_denoised", "ssim_denoised"] {
            let (g, c) = (g[k].as_f64().unwrap(), c[k].as_f64().unwrap());
            // PSNR in dB and SSIM: wgpu sums in another order than Flex.
            assert!((g - c).abs() < 1e-3, "{k}: wgpu {g} vs flex {c}");
        }
        // The classifier runs on each backend too: at most one of the 40
        // verdicts may flip on a digit at the boundary.
        let (ga, ca) = (
            g["accuracy_denoised"].as_f64().unwrap(),
            c["accuracy_denoised"].as_f64().unwrap(),
        );
        assert!(
            (ga - ca).abs() <= 1.0 / 40.0 + 1e-9,
            "accuracy: wgpu {ga} vs flex {ca}"
        );
    }
}

#[test]
fn the_augment_and_anomaly_labs_train_on_wgpu() {
    let (_, err) = on_wgpu(&[
        "augment",
        "--digit",
        "3",
        "--examples",
        "10",
        "--samples",
        "10",
        "--latent",
        "4",
        "--width",
        "8",
        "--epochs",
        "4",
        "--seed",
        "1",
        "--json",
    ]);
    assert_falls("augment", &err, 4);

    let (stdout, err) = on_wgpu(&[
        "anomaly",
        "--dataset",
        "machine",
        "--model",
        "conv1d",
        "--epochs",
        "3",
        "--json",
    ]);
    assert_falls("anomaly", &err, 3);
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    let auroc = v["auroc"].as_f64().expect("auroc");
    assert!((0.0..=1.0).contains(&auroc), "{v}");
}

#[test]
fn the_bench_reports_wgpu_beside_flex() {
    let (stdout, _) = on_wgpu(&["bench", "--quick", "--models", "canonical", "--batch", "8"]);
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("| canonical |"))
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(rows[0].starts_with("| flex | engine |"), "{stdout}");
    assert!(rows[1].starts_with("| wgpu | burn |"), "{stdout}");
    let ips: f64 = rows[1].split('|').nth(5).unwrap().trim().parse().unwrap();
    assert!(ips > 0.0, "{stdout}");
}

#[test]
fn a_machine_without_a_vulkan_driver_gets_a_message_not_a_panic() {
    // The loader finds no driver at all. wgpu is pinned to Vulkan, so it
    // cannot quietly fall back to Mesa's OpenGL and make this test pass.
    let out = aelab()
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .args(["--backend", "wgpu", "denoise", "eval", "--limit", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: no Vulkan/Metal/DX12 adapter found; use --backend flex"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // A command that computes nothing does not need the GPU.
    let out = aelab()
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .args(["--backend", "wgpu", "model", "presets"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
