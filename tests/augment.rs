//! The augmentation lab on real digits: a few-shot autoencoder learns,
//! its samples are judged and measured, and the classifier can be fooled.

use aelab::data::{assets_dir, load_mnist, Split, PIXELS};
use aelab::labs::augment::{self, AugmentSettings, Augmenter, Interpolation, Reference};
use aelab::models::record;
use aelab::models::Classifier;
use aelab::platform::{block_on, CpuBackend};
use aelab::training::Event;

fn classifier(device: &burn::tensor::Device) -> Classifier {
    let bytes = std::fs::read(assets_dir().join("models/classifier.aelab")).unwrap();
    record::from_bytes::<Classifier>(&bytes, device).unwrap().0
}

/// Ten examples of a 2, four short epochs: the validation loss (on unseen
/// 2s) falls, samples are digits in [0, 1], the judge's figures are in
/// range, and most samples are still recognised as 2s.
#[test]
fn ten_examples_train_generate_judge_and_fool() {
    let device = CpuBackend::Flex.device();
    let dir = assets_dir().join("mnist");
    let train = load_mnist(&dir, Split::Train).unwrap();
    let test = load_mnist(&dir, Split::Test).unwrap();
    let mut settings = AugmentSettings::new(2, 10, 5);
    settings.train.epochs = 4;
    let (mut trainer, chosen) = augment::trainer(&train, &test, &settings, &device).unwrap();
    assert_eq!(chosen.len(), 10);
    assert!(chosen.iter().all(|&i| train.labels[i] == 2));
    let mut valid = Vec::new();
    loop {
        match block_on(trainer.step()).unwrap() {
            Event::EpochEnd(s) => valid.push(s.valid_loss.unwrap()),
            Event::Finished => break,
            Event::Step(_) => {}
        }
        if trainer.is_finished() {
            break;
        }
    }
    assert_eq!(valid.len(), 4);
    assert!(
        valid[3] < valid[0] * 0.9,
        "the validation loss falls: {valid:?}"
    );
    let aug = block_on(Augmenter::new(
        trainer.into_model(),
        2,
        train.batch_f32(&chosen),
        &device,
    ))
    .unwrap();
    assert_eq!(aug.codes.len(), 10 * 16);

    let cls = classifier(&device);
    let reference = block_on(Reference::new(&test, 2, &cls, &device)).unwrap();
    assert_eq!(reference.images.len(), augment::REFERENCE_SIZE * PIXELS);
    let codes = augment::sample_codes(&aug, 60, 9);
    let images = block_on(aug.decode(&codes, &device)).unwrap();
    assert_eq!(images.len(), 60 * PIXELS);
    assert!(images.iter().all(|p| (0.0..=1.0).contains(p)));
    let j = block_on(augment::judge(
        &images,
        &aug.examples,
        &reference,
        &cls,
        &device,
    ))
    .unwrap();
    assert_eq!((j.digit, j.examples, j.samples), (2, 10, 60));
    assert_eq!(j.verdicts.len(), 60);
    let d = j.diversity;
    for (name, v) in [
        ("recognised", j.recognised_rate),
        ("confidence", j.mean_confidence),
        ("precision", d.precision),
        ("recall", d.recall),
        ("coverage", d.coverage),
        ("duplicates", d.duplicate_rate),
    ] {
        assert!((0.0..=1.0).contains(&v), "{name} = {v}");
    }
    assert!(d.fid.is_finite() && d.fid > 0.0);
    assert!(
        d.pairwise_l2_ratio > 0.1 && d.pairwise_l2_ratio < 1.5,
        "{d:?}"
    );
    assert!(
        j.recognised_rate > 0.6,
        "most samples are 2s: {}",
        j.recognised_rate
    );
    // Samples of a fit to 10 codes are less varied than real 2s.
    assert!(d.coverage < 0.9, "{d:?}");

    // Interpolation between two training codes ends at their decodings.
    let strip = augment::interpolate(aug.code(0), aug.code(1), 5, Interpolation::Spherical);
    for (a, b) in strip[..16].iter().zip(aug.code(0)) {
        assert!((a - b).abs() < 1e-5);
    }
    for (a, b) in strip[4 * 16..].iter().zip(aug.code(1)) {
        assert!((a - b).abs() < 1e-5);
    }

    // Fooling: the walk starts at a recognised 2 and ends at another digit.
    let start = (0..10)
        .find(|&i| {
            let img = block_on(aug.decode(aug.code(i), &device)).unwrap();
            block_on(aelab::infer::classify(&cls, &img, &device)).unwrap()[0].digit == 2
        })
        .expect("some training code decodes to a recognised 2");
    let r = block_on(augment::fool(
        &aug,
        &cls,
        aug.code(start),
        0.05,
        400,
        &device,
    ))
    .unwrap();
    assert!(r.fooled, "the classifier is fooled within 400 steps");
    assert_eq!(r.path[0].digit, 2);
    assert_ne!(r.became, 2);
    assert_ne!(r.path.last().unwrap().digit, 2);
    assert!(
        r.distance > 0.0 && r.distance <= r.path_length + 1e-6,
        "{r:?}"
    );
    // Points before the end are still recognised.
    assert!(
        r.path[..r.path.len() - 1]
            .iter()
            .take_while(|p| p.digit == 2)
            .count()
            >= 1
    );
}

#[test]
fn bad_settings_are_refused_with_a_message() {
    let device = CpuBackend::Flex.device();
    let test = load_mnist(&assets_dir().join("mnist"), Split::Test).unwrap();
    let s = AugmentSettings::new(2, 5000, 1);
    let e = augment::trainer(&test, &test, &s, &device).err().unwrap();
    assert!(e.contains("only"), "{e}");
    let mut s = AugmentSettings::new(2, 10, 1);
    s.latent = 0;
    assert!(augment::trainer(&test, &test, &s, &device)
        .err()
        .unwrap()
        .contains("latent"));
    let s = AugmentSettings::new(11, 10, 1);
    assert!(augment::trainer(&test, &test, &s, &device).is_err());
}

/// The page's and the CLI's presets differ only where they should, and
/// choices change only what was chosen.
#[test]
fn presets_and_choices() {
    let (quick, report) = (
        AugmentSettings::quick(3, 10, 4),
        AugmentSettings::report(3, 10, 4),
    );
    assert_eq!((quick.width, quick.train.epochs), (16, 50));
    assert_eq!((report.width, report.train.epochs), (32, 40));
    assert_eq!(
        AugmentSettings {
            width: report.width,
            train: report.train.clone(),
            ..quick.clone()
        },
        report
    );
    assert_eq!(
        augment::AugmentChoices::default()
            .apply(quick.clone())
            .unwrap(),
        quick
    );
    let c: augment::AugmentChoices =
        serde_json::from_str(r#"{"latent": 2, "epochs": 7, "code_noise": 0.1}"#).unwrap();
    let s = c.apply(quick.clone()).unwrap();
    assert_eq!((s.latent, s.train.epochs, s.code_noise), (2, 7, 0.1));
    assert_eq!(
        (s.width, s.code_penalty, s.train.batch_size),
        (16, quick.code_penalty, quick.train.batch_size)
    );
}
