//! The CI fuzz smoke, on stable: every fuzz target (src/fuzzing.rs, the
//! same bodies cargo-fuzz runs from fuzz/) replays the committed corpus in
//! fuzz/corpus and a few thousand seeded mutations of it. A panic fails
//! the test. The long runs (10 million executions per target) are
//! `scripts/fuzz.sh`, on nightly with cargo-fuzz.
//!
//! `cargo test --test fuzz_smoke -- --ignored write_seed_corpus` rewrites
//! the hand-made seeds into fuzz/corpus.

use aelab::data::idx::write_idx;
use aelab::fuzzing;
use aelab::models::record::{to_bytes, to_bytes_as, Storage};
use aelab::models::{
    ClassifierConfig, DenoiserConfig, LatentAeConfig, SeriesAeConfig, SeriesModelKind,
};
use aelab::platform::CpuBackend;
use std::io::Write;
use std::path::PathBuf;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 7] = [
    ("idx", fuzzing::idx),
    ("csv_wide", fuzzing::csv_wide),
    ("csv_long", fuzzing::csv_long),
    ("record", fuzzing::record),
    ("anomaly_run", fuzzing::anomaly_run),
    ("spec", fuzzing::spec),
    ("workspace", fuzzing::workspace),
];

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn prefixed(b: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![b];
    v.extend_from_slice(body);
    v
}

/// Hand-made seeds: one small valid input of each kind the target reads,
/// so that mutations start inside the parser rather than at its door.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    match target {
        "idx" => {
            let images = write_idx(&[2, 4, 4], &(0..32).collect::<Vec<u8>>());
            let labels = write_idx(&[2], &[3, 7]);
            let mut pair = images.clone();
            pair.extend_from_slice(&labels);
            vec![
                prefixed(2, &images),
                prefixed(0, &labels),
                prefixed(2, &gzip(&images)),
                prefixed(2, &pair),
                prefixed(1, &write_idx(&[3, 2], &[1, 2, 3, 4, 5, 6])),
            ]
        }
        "csv_wide" => vec![
            prefixed(
                4,
                b"1,0.1,0.2,0.3,0.4\n2,0.4,0.3,0.2,0.1\n1,0.0,0.5,1.0,0.5\n",
            ),
            prefixed(6, b"label\ta\tb\tc\n1\t-0.11\t-2.3e-1\t1.5\n0\t1\t2\t3\n"),
            prefixed(0, b"0.1;0.2;0.3\n0.4;0.5;0.6\n"),
            prefixed(4, &gzip(b"1,1,2,3,4,5,6,7,8\n2,8,7,6,5,4,3,2,1\n")),
        ],
        "csv_long" => vec![
            prefixed(
                0x24,
                b"timestamp,value,label\n2024-01-01 00:00,1.0,0\n2024-01-01 00:01,1.5,0\n\
                  2024-01-01 00:02,9.0,1\n2024-01-01 00:03,1.2,0\n2024-01-01 00:04,1.1,0\n\
                  2024-01-01 00:05,0.9,0\n2024-01-01 00:06,1.0,0\n",
            ),
            prefixed(0x10, b"0.5\n0.25\n-1e3\n4\n5\n6\n7\n"),
            prefixed(0x02, b"t\tv\n1\t2\n2\t3\n3\t4\n"),
        ],
        "record" => {
            let dev = CpuBackend::Flex.device();
            let mut out = Vec::new();
            let c = LatentAeConfig::new().with_latent(2).with_width(2);
            out.push(to_bytes(&c.init(&dev), &c, serde_json::json!({})).unwrap());
            for kind in [SeriesModelKind::Dense, SeriesModelKind::Conv1d] {
                let c = SeriesAeConfig::new(kind, 8).with_latent(2).with_depth(1);
                out.push(to_bytes(&c.init(&dev), &c, serde_json::json!({"n": 1})).unwrap());
            }
            let c = ClassifierConfig::new()
                .with_channels1(1)
                .with_channels2(1)
                .with_hidden(2);
            out.push(to_bytes(&c.init(&dev), &c, serde_json::json!(null)).unwrap());
            let c = DenoiserConfig::canonical().with_width(1);
            out.push(to_bytes(&c.init(&dev), &c, serde_json::json!({})).unwrap());
            // The same models stored as f16 and as 8-bit.
            let c = DenoiserConfig::canonical().with_width(1);
            for storage in [Storage::F16, Storage::Q8] {
                let m = c.init(&dev);
                out.push(to_bytes_as(&m, &c, serde_json::json!({}), storage).unwrap());
            }
            let c = LatentAeConfig::new().with_latent(2).with_width(2);
            out.push(to_bytes_as(&c.init(&dev), &c, serde_json::json!({}), Storage::Q8).unwrap());
            // A classifier whose dense layer (32·49 × 42 = 65 856 values)
            // is just large enough to be stored 4-bit.
            let c = ClassifierConfig::new()
                .with_channels1(1)
                .with_channels2(32)
                .with_hidden(42);
            out.push(to_bytes_as(&c.init(&dev), &c, serde_json::json!({}), Storage::Q4).unwrap());
            out
        }
        "spec" => {
            let mut out: Vec<Vec<u8>> = aelab::models::spec::presets::PRESETS
                .iter()
                .map(|p| p.json.as_bytes().to_vec())
                .collect();
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/specs");
            for f in ["all-layers.json", "all-layers-series.json"] {
                out.push(std::fs::read(dir.join(f)).unwrap());
            }
            out.push(br#"{"aelab_spec": 1, "input": {"kind": "series", "length": 9}, "layers": [{"type": "dense", "units": 3}, {"type": "dense", "units": "input"}]}"#.to_vec());
            out
        }
        "workspace" => {
            let entries = serde_json::json!({
                "denoiser": {"$bytes": 0},
                "runs-denoise": [{"lab": "denoise", "started": "t", "seconds": 1.0, "model": "m", "params": 1,
                    "settings": "s", "metrics": [], "version": "v", "weights_sha256": "ab", "command": "aelab x",
                    "spec": "{}", "spec_file": "../m.json", "id": "1-a"}],
                "run-model-denoise-1-a": {"weights": {"$bytes": 1}, "extra": null},
                "anomaly-data": {"kind": "csv", "name": "/etc/beats.csv", "bytes": {"$bytes": 0}},
                "design-denoise": {"json": "{}", "active": true},
            });
            vec![
                aelab::workspace::pack(&entries.to_string(), &[b"abc", b"weights"], "now").unwrap(),
                aelab::workspace::pack("{}", &[], "").unwrap(),
            ]
        }
        "anomaly_run" => vec![
            fuzzing::anomaly_run_seed(2, 12),
            fuzzing::anomaly_run_seed(0, 0),
        ],
        _ => unreachable!(),
    }
}

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(target))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// A small seeded mutator (xorshift): bit flips, byte sets to edge values,
/// truncation, duplication of a slice, and splices of two inputs.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn mutate(&mut self, a: &[u8], b: &[u8]) -> Vec<u8> {
        let mut v = a.to_vec();
        for _ in 0..1 + self.below(4) {
            let n = v.len();
            match self.below(6) {
                0 if n > 0 => {
                    let i = self.below(n);
                    v[i] ^= 1 << self.below(8);
                }
                1 if n > 0 => {
                    let i = self.below(n);
                    v[i] =
                        [0, 0xff, 0x7f, 0x80, b',', b'\n', b'\t', b'-', b'e', b'.'][self.below(10)];
                }
                2 => v.truncate(self.below(n + 1)),
                3 if n > 0 => {
                    let i = self.below(n);
                    let j = (i + self.below(64)).min(n);
                    let piece = v[i..j].to_vec();
                    let at = self.below(n + 1);
                    v.splice(at..at, piece);
                }
                4 => {
                    let at = self.below(n + 1);
                    let from = self.below(b.len() + 1);
                    v.truncate(at);
                    v.extend_from_slice(&b[from..]);
                }
                _ => {
                    let at = self.below(n + 1);
                    let byte = self.next() as u8;
                    v.insert(at, byte);
                }
            }
        }
        v
    }
}

#[test]
fn corpus_replays_without_panics() {
    for (name, target) in TARGETS {
        let inputs = corpus(name);
        assert!(!inputs.is_empty(), "fuzz/corpus/{name} is empty or missing");
        for input in inputs.iter().chain(seeds(name).iter()) {
            target(input);
        }
    }
}

#[test]
fn seeded_mutations_do_not_panic() {
    for (k, (name, target)) in TARGETS.into_iter().enumerate() {
        let mut pool = corpus(name);
        pool.extend(seeds(name));
        // The record and spec targets build models, so they get fewer rounds.
        let rounds = if name == "record" || name == "spec" {
            300
        } else {
            5_000
        };
        let mut m = Mutator(0x9e37_79b9_7f4a_7c15 ^ k as u64);
        for _ in 0..rounds {
            let a = &pool[m.below(pool.len())];
            let b = &pool[m.below(pool.len())];
            let input = m.mutate(a, b);
            target(&input);
        }
    }
}

/// The mutator must really change its inputs, or the smoke proves nothing.
#[test]
fn mutator_changes_inputs() {
    let mut m = Mutator(1);
    let a = b"1,2,3\n4,5,6\n".to_vec();
    let changed = (0..100).filter(|_| m.mutate(&a, &a) != a).count();
    assert!(
        changed > 90,
        "only {changed} of 100 mutations changed the input"
    );
}

#[test]
#[ignore = "writes the seed corpus into fuzz/corpus"]
fn write_seed_corpus() {
    for (name, _) in TARGETS {
        let dir = corpus_dir(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, s) in seeds(name).iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:02}")), s).unwrap();
        }
    }
}
