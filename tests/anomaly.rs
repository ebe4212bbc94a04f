//! The anomaly lab on real heartbeats and on generated machine signals:
//! training lowers the loss, reconstruction errors separate anomalies,
//! thresholds and metrics behave.

use aelab::data::machine::{generate, MachineConfig};
use aelab::data::series::{self, Column};
use aelab::data::{assets_dir, load_ecg5000, Split};
use aelab::labs::anomaly::{self, AnomalySettings, Threshold};
use aelab::models::SeriesModelKind;
use aelab::platform::{block_on, CpuBackend};
use aelab::training::Event;

fn run(t: &mut aelab::training::Trainer<anomaly::SeriesTask>) -> Vec<f32> {
    let mut valid = Vec::new();
    loop {
        match block_on(t.step()).unwrap() {
            Event::EpochEnd(s) => valid.push(s.valid_loss.unwrap()),
            Event::Finished => break,
            Event::Step(_) => {}
        }
        if t.is_finished() {
            break;
        }
    }
    valid
}

#[test]
fn ecg5000_dense_autoencoder_separates_abnormal_beats() {
    let device = CpuBackend::Flex.device();
    let dir = assets_dir().join("ecg5000");
    let train = load_ecg5000(&dir, Split::Train).unwrap();
    let test = load_ecg5000(&dir, Split::Test).unwrap();
    assert_eq!((train.count(), train.len), (500, 140));
    assert_eq!(test.count(), 4500);
    let normal = train.select(false);
    assert_eq!(normal.count(), 292);
    let mut s = AnomalySettings::new(SeriesModelKind::Dense, 1);
    s.train.epochs = 60;
    let (mut t, scaler) = anomaly::trainer(&normal, &s, &device).unwrap();
    let valid = run(&mut t);
    assert!(
        valid[59] < valid[0] * 0.7,
        "validation loss falls: {valid:?}"
    );
    let vset = t.task().valid.clone();
    let model = t.into_model();
    let unit = anomaly::Scaler { min: 0.0, max: 1.0 };
    let (verr, _) = block_on(anomaly::errors(&model, &unit, &vset, &device)).unwrap();
    let (err, recon) = block_on(anomaly::errors(&model, &scaler, &test, &device)).unwrap();
    assert_eq!(err.len(), 4500);
    assert_eq!(recon.len(), 4500 * 140);
    let labels = test.anomalous.clone().unwrap();
    let th = Threshold::Percentile(95.0).resolve(&verr);
    let d = anomaly::detection("dense", &err, &labels, anomaly::Cut::above(th), "pct:95");
    assert!(d.auroc > 0.95, "{d:?}");
    assert!(d.f1 > 0.8, "{d:?}");
    let c = d.confusion;
    assert_eq!(c[0][0] + c[0][1] + c[1][0] + c[1][1], 4500);
    assert_eq!(c[1][0] + c[1][1], labels.iter().filter(|&&a| a).count());
}

/// The conv1d model, with its dense bottleneck, separates ECG5000's
/// abnormal beats as well as the dense one (AUROC > 0.97 from 100 epochs,
/// a few seconds; the full 200-epoch runs over seeds 1–5 are in
/// docs/results.md). Without the bottleneck it reached 0.939.
#[test]
fn ecg5000_conv1d_autoencoder_separates_abnormal_beats() {
    let device = CpuBackend::Flex.device();
    let dir = assets_dir().join("ecg5000");
    let normal = load_ecg5000(&dir, Split::Train).unwrap().select(false);
    let test = load_ecg5000(&dir, Split::Test).unwrap();
    let mut s = AnomalySettings::new(SeriesModelKind::Conv1d, 1);
    assert_eq!(
        (s.latent, s.depth),
        (8, 2),
        "the defaults this test measures"
    );
    s.train.epochs = 100;
    let (mut t, scaler) = anomaly::trainer(&normal, &s, &device).unwrap();
    run(&mut t);
    let model = t.into_model();
    let (err, _) = block_on(anomaly::errors(&model, &scaler, &test, &device)).unwrap();
    let labels = test.anomalous.clone().unwrap();
    let auroc = aelab::metrics::detection::auroc(&err, &labels).unwrap();
    assert!(auroc > 0.97, "AUROC {auroc}");
}

#[test]
fn machine_signal_events_are_found() {
    let device = CpuBackend::Flex.device();
    let (w, st) = (48, 8);
    let train = generate(&MachineConfig::normal(12_000, 3))
        .series
        .windows(w, st)
        .unwrap();
    let valid = generate(&MachineConfig::normal(4_000, 4))
        .series
        .windows(w, st)
        .unwrap();
    let test = generate(&MachineConfig::with_anomalies(20_000, 12, 5));
    let tw = test.series.windows(w, st).unwrap();
    let mut s = AnomalySettings::new(SeriesModelKind::Dense, 2);
    s.train.epochs = 40;
    let (mut t, scaler) = anomaly::trainer_split(&train, &valid, &s, &device).unwrap();
    run(&mut t);
    let vset = t.task().valid.clone();
    let model = t.into_model();
    let unit = anomaly::Scaler { min: 0.0, max: 1.0 };
    let (verr, _) = block_on(anomaly::errors(&model, &unit, &vset, &device)).unwrap();
    let (err, _) = block_on(anomaly::errors(&model, &scaler, &tw, &device)).unwrap();
    let th = Threshold::Max.resolve(&verr);
    let flagged: Vec<bool> = err.iter().map(|&e| e > th).collect();
    let e = anomaly::event_score(&test.series, w, st, &flagged);
    assert_eq!(e.events, 12);
    assert!(e.event_recall >= 0.75, "{e:?}");
    assert!(e.false_alarms_per_1000 <= 1.0, "{e:?}");
    // A model for 48-point windows refuses 140-point series.
    let wrong = series::SeriesSet {
        len: 140,
        values: vec![0.0; 140],
        anomalous: None,
    };
    assert!(block_on(anomaly::errors(&model, &scaler, &wrong, &device))
        .unwrap_err()
        .contains("140 points"));
}

#[test]
fn a_stuck_signal_is_flagged_by_the_floor() {
    // A stuck sensor has none of the normal noise, so a flat line can be
    // reconstructed better than any normal window: the floor flags it, and
    // no clean window goes below the floor. It catches a value stuck near
    // the middle of the signal's range; near its peaks the model
    // reconstructs a flat line as part of a peak, and the error lies inside
    // the normal band (docs/results.md).
    let device = CpuBackend::Flex.device();
    let d = anomaly::RunData::machine(3, 48, 8).unwrap();
    let s = AnomalySettings::new(SeriesModelKind::Dense, 3);
    let (mut t, scaler) =
        anomaly::trainer_split(&d.train, d.valid.as_ref().unwrap(), &s, &device).unwrap();
    run(&mut t);
    let vset = t.task().valid.clone();
    let model = t.into_model();
    let unit = anomaly::Scaler { min: 0.0, max: 1.0 };
    let (verr, _) = block_on(anomaly::errors(&model, &unit, &vset, &device)).unwrap();
    let cut = d.cut(anomaly::DEFAULT_THRESHOLD.resolve(&verr), &verr, true);
    let floor = cut.floor.expect("windows of a long series get a floor");
    let (w, st) = (48, 8);
    // 12 stretches of 96 points stuck at the value they start at.
    let mut signal = generate(&MachineConfig::normal(8_000, 6)).series;
    let stuck_at: Vec<(usize, usize)> = (0..12).map(|i| (400 + i * 600, 496 + i * 600)).collect();
    for &(a, b) in &stuck_at {
        let v = signal.values[a];
        signal.values[a..b].iter_mut().for_each(|x| *x = v);
    }
    let windows = signal.windows(w, st).unwrap();
    let (err, _) = block_on(anomaly::errors(&model, &scaler, &windows, &device)).unwrap();
    let touches = |k: usize| stuck_at.iter().any(|&(a, b)| k * st < b && k * st + w > a);
    for (k, &e) in err.iter().enumerate().filter(|(k, _)| !touches(*k)) {
        assert!(
            e >= floor,
            "a clean window at {} is under the floor {floor}: error {e}",
            k * st
        );
    }
    let caught = stuck_at
        .iter()
        .filter(|&&(a, b)| {
            let inside: Vec<f32> = (0..err.len())
                .filter(|&k| k * st >= a && k * st + w <= b)
                .map(|k| err[k])
                .collect();
            assert_eq!(inside.len(), 7);
            // The threshold alone never flags a stuck window.
            assert!(inside.iter().all(|&e| e <= cut.threshold), "{inside:?}");
            inside.iter().all(|&e| cut.flags(e))
        })
        .count();
    assert!(caught >= 3, "{caught} of 12 stuck stretches wholly flagged");
}

#[test]
fn csv_upload_round_trip() {
    // A UCR-style upload with a named label column and "N" as normal.
    let text = "kind,a,b,c,d,e,f,g,h\nN,1,2,3,4,5,6,7,8\nA,8,7,6,5,4,3,2,1\nN,1,2,3,4,5,6,7,9\n";
    let t = series::parse_table(text, None).unwrap();
    assert_eq!(series::guess_shape(&t), series::Shape::Ucr);
    let s = series::ucr(&t, Some(&Column::parse("kind")), Some("N")).unwrap();
    assert_eq!((s.count(), s.len), (3, 8));
    assert_eq!(s.anomalous, Some(vec![false, true, false]));
}
