//! A seeded generator of machine-like signals with labelled anomalies: a
//! daily cycle (two harmonics) plus noise, and anomalies of known kinds at
//! random, separated places, labelled per point. It stands in for the NAB
//! data, which no reachable registry has, in the demo and in the tests.

use crate::data::series::LongSeries;
use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AnomalyKind {
    JumpUp,
    JumpDown,
    FlatLine,
    SpikeBurst,
    Drift,
    FrequencyChange,
}

impl AnomalyKind {
    pub const ALL: [AnomalyKind; 6] = [
        AnomalyKind::JumpUp,
        AnomalyKind::JumpDown,
        AnomalyKind::FlatLine,
        AnomalyKind::SpikeBurst,
        AnomalyKind::Drift,
        AnomalyKind::FrequencyChange,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::JumpUp => "jump up",
            AnomalyKind::JumpDown => "jump down",
            AnomalyKind::FlatLine => "flat line",
            AnomalyKind::SpikeBurst => "spike burst",
            AnomalyKind::Drift => "drift",
            AnomalyKind::FrequencyChange => "frequency change",
        }
    }

    /// The range of lengths, in points.
    fn lengths(self) -> (usize, usize) {
        match self {
            AnomalyKind::JumpUp | AnomalyKind::JumpDown => (24, 60),
            AnomalyKind::FlatLine => (36, 80),
            AnomalyKind::SpikeBurst => (12, 30),
            AnomalyKind::Drift => (60, 120),
            AnomalyKind::FrequencyChange => (72, 144),
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MachineConfig {
    pub points: usize,
    /// Points per day (288: one every 5 minutes).
    pub period: usize,
    /// Standard deviation of the Gaussian noise.
    pub noise: f32,
    /// How many anomalies, cycling through the kinds.
    pub anomalies: usize,
    pub seed: u64,
}

impl MachineConfig {
    /// Normal running only: what a model trains on.
    pub fn normal(points: usize, seed: u64) -> Self {
        Self {
            points,
            period: 288,
            noise: 0.3,
            anomalies: 0,
            seed,
        }
    }

    /// With `anomalies` anomalies of every kind in turn.
    pub fn with_anomalies(points: usize, anomalies: usize, seed: u64) -> Self {
        Self {
            anomalies,
            ..Self::normal(points, seed)
        }
    }
}

/// One labelled anomaly: its kind and the points `start..start + len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub kind: AnomalyKind,
    pub start: usize,
    pub len: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MachineSeries {
    pub series: LongSeries,
    pub events: Vec<Event>,
}

/// Generates a signal. Anomalies are placed at random, at least one day
/// from the start and half a day from each other; if they do not fit, fewer
/// are placed.
pub fn generate(cfg: &MachineConfig) -> MachineSeries {
    let mut rng = Rng::derive(cfg.seed, 0x3AC1);
    let n = cfg.points;
    let p = cfg.period.max(8) as f32;
    let tau = std::f32::consts::TAU;
    let phase = rng.uniform() * tau;
    let cycle = |t: f32| 10.0 + 3.0 * (tau * t / p + phase).sin() + (2.0 * tau * t / p + 0.5).sin();
    let mut values: Vec<f32> = (0..n)
        .map(|t| cycle(t as f32) + cfg.noise * rng.normal())
        .collect();
    let mut labels = vec![false; n];
    let mut events = Vec::new();
    let gap = cfg.period / 2;
    let mut taken: Vec<(usize, usize)> = Vec::new();
    for k in 0..cfg.anomalies {
        let kind = AnomalyKind::ALL[k % AnomalyKind::ALL.len()];
        let (lo, hi) = kind.lengths();
        let len = lo + rng.below(hi - lo + 1);
        let first = cfg.period;
        if n < first + len + 1 {
            break;
        }
        // Up to 50 tries at a free place.
        let mut placed = None;
        for _ in 0..50 {
            let s = first + rng.below(n - first - len);
            let free = taken
                .iter()
                .all(|&(a, b)| s + len + gap <= a || s >= b + gap);
            if free {
                placed = Some(s);
                break;
            }
        }
        let Some(s) = placed else { continue };
        taken.push((s, s + len));
        let seg = &mut values[s..s + len];
        match kind {
            AnomalyKind::JumpUp => seg.iter_mut().for_each(|v| *v += 4.0),
            AnomalyKind::JumpDown => seg.iter_mut().for_each(|v| *v -= 4.0),
            AnomalyKind::FlatLine => {
                let stuck = seg[0];
                seg.iter_mut().for_each(|v| *v = stuck);
            }
            AnomalyKind::SpikeBurst => {
                for _ in 0..(4 + rng.below(4)) {
                    let i = rng.below(len);
                    seg[i] += if rng.uniform() < 0.5 { 6.0 } else { -6.0 };
                }
            }
            AnomalyKind::Drift => {
                for (i, v) in seg.iter_mut().enumerate() {
                    *v += 5.0 * i as f32 / len as f32;
                }
            }
            AnomalyKind::FrequencyChange => {
                for (i, v) in seg.iter_mut().enumerate() {
                    let t = (s + i) as f32;
                    *v = *v - cycle(t) + 10.0 + 3.0 * (4.0 * tau * t / p + phase).sin();
                }
            }
        }
        labels[s..s + len].iter_mut().for_each(|l| *l = true);
        events.push(Event {
            kind,
            start: s,
            len,
        });
    }
    events.sort_by_key(|e| e.start);
    MachineSeries {
        series: LongSeries {
            values,
            labels: Some(labels),
            timestamps: None,
        },
        events,
    }
}

/// The lab's standard machine-signal run for a seed: 20 000 normal points
/// to train on, 5 000 other normal points to set the threshold, and 20 000
/// points with 12 anomalies (two of each kind) to test on.
pub struct Benchmark {
    pub train: LongSeries,
    pub valid: LongSeries,
    pub test: MachineSeries,
}

pub fn benchmark(seed: u64) -> Benchmark {
    Benchmark {
        train: generate(&MachineConfig::normal(20_000, seed)).series,
        valid: generate(&MachineConfig::normal(5_000, seed + 500)).series,
        test: generate(&MachineConfig::with_anomalies(20_000, 12, seed + 1000)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_events_of_every_kind() {
        let m = generate(&MachineConfig::with_anomalies(20_000, 12, 4));
        assert_eq!(m.series.values.len(), 20_000);
        assert_eq!(m.events.len(), 12);
        for k in AnomalyKind::ALL {
            assert_eq!(m.events.iter().filter(|e| e.kind == k).count(), 2);
        }
        let labels = m.series.labels.as_ref().unwrap();
        let labelled: usize = m.events.iter().map(|e| e.len).sum();
        assert_eq!(labels.iter().filter(|&&l| l).count(), labelled);
        for w in m.events.windows(2) {
            assert!(w[0].start + w[0].len + 144 <= w[1].start, "{w:?}");
        }
        // A flat line is flat; a jump up is higher than the normal cycle.
        let f = m
            .events
            .iter()
            .find(|e| e.kind == AnomalyKind::FlatLine)
            .unwrap();
        let seg = &m.series.values[f.start..f.start + f.len];
        assert!(seg.iter().all(|&v| v == seg[0]));
        // Seeded: the same config gives the same series.
        assert_eq!(m, generate(&MachineConfig::with_anomalies(20_000, 12, 4)));
        let normal = generate(&MachineConfig::normal(5000, 4));
        assert!(normal.events.is_empty());
        assert!(normal.series.labels.unwrap().iter().all(|&l| !l));
        // Normal values stay in the cycle's range.
        assert!(normal
            .series
            .values
            .iter()
            .all(|&v| (4.0..16.0).contains(&v)));
    }
}
