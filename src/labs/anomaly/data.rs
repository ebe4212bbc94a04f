//! Where an anomaly run's series come from, and how they are split: the
//! shipped ECG5000 and machine signal, one uploaded file (the page) or a
//! training and a test file (the CLI). The page and the CLI read bytes and
//! show the results; every rule of the split is here.

use crate::data::machine::benchmark;
use crate::data::series::{self, Column, LongSeries, SeriesError, SeriesSet, Shape, Table};
use crate::rng::Rng;

/// Points per window of a long series, by default.
pub const DEFAULT_WINDOW: usize = 48;
/// Points between window starts, by default.
pub const DEFAULT_STRIDE: usize = 8;
/// The fewest normal rows a single UCR-shaped file must have: half train,
/// half test.
pub const MIN_NORMAL_ROWS: usize = 8;
/// The seed of the split of one UCR-shaped file's normal rows.
const UCR_SPLIT_SEED: u64 = 7;

/// How to read a CSV of series: its shape and columns, and the windows of a
/// long series. Empty strings count as unset.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(default)]
pub struct SeriesOptions {
    /// `auto` (or unset), `ucr` or `long`.
    pub format: Option<String>,
    /// UCR: the label column (a header name or a 0-based index). Long: the
    /// 0/1 label column.
    pub label_column: Option<String>,
    /// UCR: the label of normal rows (default 1).
    pub normal_label: Option<String>,
    /// Long: the value column (default: "value", else the last column).
    pub value_column: Option<String>,
    /// Long: the timestamp column.
    pub timestamp_column: Option<String>,
    pub window: usize,
    pub stride: usize,
}

impl Default for SeriesOptions {
    fn default() -> Self {
        Self {
            format: None,
            label_column: None,
            normal_label: None,
            value_column: None,
            timestamp_column: None,
            window: DEFAULT_WINDOW,
            stride: DEFAULT_STRIDE,
        }
    }
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl SeriesOptions {
    /// The shape the options ask for, or the one the table looks like.
    pub fn shape(&self, table: &Table) -> Result<Shape, String> {
        match nonempty(&self.format).unwrap_or("auto") {
            "auto" => Ok(series::guess_shape(table)),
            "ucr" => Ok(Shape::Ucr),
            "long" => Ok(Shape::Long),
            f => Err(format!("unknown format '{f}': expected ucr, long or auto")),
        }
    }
}

/// The series of one file, in the shape it was read as.
#[derive(Debug, Clone)]
pub enum Loaded {
    /// One series per row.
    Ucr(SeriesSet),
    /// One long series (the windows are cut later).
    Long(LongSeries),
}

/// What was read, for the page's preview.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct FileInfo {
    pub shape: &'static str,
    pub separator: &'static str,
    pub header: Option<Vec<String>>,
}

/// What [`RunData::preview`] reports of loaded data.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Preview {
    pub name: String,
    /// Points per series (per window, for a long series).
    pub length: usize,
    pub train: usize,
    /// The normal series that set the threshold, when they are apart.
    pub valid: Option<usize>,
    pub test: usize,
    pub test_normal: usize,
    pub test_anomalous: usize,
    /// The windows cut from a long series.
    pub long: Option<LongWindows>,
    pub details: DataDetails,
}

/// The windows of a long series: `window` points every `stride`, over the
/// test part's `points`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct LongWindows {
    pub points: usize,
    pub window: usize,
    pub stride: usize,
}

/// Where loaded data came from: a named source, the labelled events of a
/// generated signal, or how a file was read.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct DataDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<LabelledEvent>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileInfo>,
}

/// One labelled anomaly of a generated signal.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct LabelledEvent {
    pub kind: String,
    pub start: usize,
    pub len: usize,
}

/// Rows converted per piece: about 200 000 values, a few milliseconds.
fn rows_per_piece(columns: usize) -> usize {
    (200_000 / columns.max(1)).max(1)
}

async fn ucr_in_pieces(
    t: &Table<'_>,
    label: Option<&Column>,
    normal: Option<&str>,
) -> Result<SeriesSet, SeriesError> {
    let n = t.rows.len();
    let step = rows_per_piece(t.columns());
    let mut out: Option<SeriesSet> = None;
    for a in (0..n).step_by(step) {
        let part = series::ucr(&t.slice(a..(a + step).min(n)), label, normal)?;
        match &mut out {
            None => out = Some(part),
            Some(o) => {
                o.values.extend(part.values);
                if let (Some(x), Some(y)) = (&mut o.anomalous, part.anomalous) {
                    x.extend(y);
                }
            }
        }
        crate::platform::yield_now().await;
    }
    out.ok_or(SeriesError::Empty)
}

async fn long_in_pieces(
    t: &Table<'_>,
    value: &Column,
    timestamp: Option<&Column>,
    label: Option<&Column>,
) -> Result<LongSeries, SeriesError> {
    let n = t.rows.len();
    let step = rows_per_piece(t.columns());
    let mut out: Option<LongSeries> = None;
    for a in (0..n).step_by(step) {
        let part = series::long(&t.slice(a..(a + step).min(n)), value, timestamp, label)?;
        match &mut out {
            None => out = Some(part),
            Some(o) => {
                o.values.extend(part.values);
                if let (Some(x), Some(y)) = (&mut o.labels, part.labels) {
                    x.extend(y);
                }
                if let (Some(x), Some(y)) = (&mut o.timestamps, part.timestamps) {
                    x.extend(y);
                }
            }
        }
        crate::platform::yield_now().await;
    }
    out.ok_or(SeriesError::Empty)
}

/// Reads a CSV/TSV file (gzipped or not) as the options say. In the browser
/// it gives the page a turn every 20 000 lines and every piece of rows, so a
/// large file does not freeze it; natively those turns cost nothing.
pub async fn load(bytes: &[u8], o: &SeriesOptions) -> Result<(Loaded, FileInfo), String> {
    if bytes.len() > series::MAX_CSV_BYTES {
        return Err(SeriesError::TooLarge(bytes.len()).to_string());
    }
    let s = |e: SeriesError| e.to_string();
    let raw = series::maybe_gunzip(bytes).map_err(s)?;
    let text = series::text_of(&raw).map_err(s)?;
    let mut lines = series::data_lines(text);
    let (first_no, first) = lines.next().ok_or_else(|| s(SeriesError::Empty))?;
    let mut builder = series::TableBuilder::start(first_no, first, None);
    for (k, (no, line)) in lines.enumerate() {
        builder.push(no, line).map_err(s)?;
        if k % 20_000 == 19_999 {
            crate::platform::yield_now().await;
        }
    }
    let table = builder.finish().map_err(s)?;
    let shape = o.shape(&table)?;
    let info = FileInfo {
        shape: if shape == Shape::Ucr { "ucr" } else { "long" },
        separator: match table.separator {
            series::Separator::Comma => "comma",
            series::Separator::Tab => "tab",
            series::Separator::Semicolon => "semicolon",
        },
        header: table.header.clone(),
    };
    let label = nonempty(&o.label_column).map(Column::parse);
    let loaded = match shape {
        Shape::Ucr => Loaded::Ucr(
            ucr_in_pieces(&table, label.as_ref(), nonempty(&o.normal_label))
                .await
                .map_err(s)?,
        ),
        Shape::Long => {
            let value = match nonempty(&o.value_column) {
                Some(c) => Column::parse(c),
                None => table.default_value_column(),
            };
            let ts = nonempty(&o.timestamp_column).map(Column::parse);
            Loaded::Long(
                long_in_pieces(&table, &value, ts.as_ref(), label.as_ref())
                    .await
                    .map_err(s)?,
            )
        }
    };
    Ok((loaded, info))
}

/// Points `a..b` of a long series (its labels too; timestamps dropped).
fn part(l: &LongSeries, a: usize, b: usize) -> LongSeries {
    LongSeries {
        values: l.values[a..b].to_vec(),
        labels: l.labels.as_ref().map(|x| x[a..b].to_vec()),
        timestamps: None,
    }
}

/// The data of an anomaly run: normal training series, labelled test
/// series, and for long series the test series itself (for event scores).
#[derive(Debug, Clone)]
pub struct RunData {
    pub name: String,
    pub train: SeriesSet,
    /// Normal validation series, where they must not be drawn at random
    /// from `train` (windows of a long series overlap).
    pub valid: Option<SeriesSet>,
    pub test: SeriesSet,
    /// The long test series with its window and stride.
    pub long: Option<(LongSeries, usize, usize)>,
}

impl RunData {
    /// ECG5000: the normal beats of TRAIN to train, all of TEST to test.
    pub fn ecg5000(train: SeriesSet, test: SeriesSet) -> Self {
        RunData {
            name: "ECG5000".into(),
            train: train.select(false),
            valid: None,
            test,
            long: None,
        }
    }

    /// The generated machine signal: 20 000 normal points to train, 5 000
    /// to set the threshold, 20 000 with 12 anomalies to test.
    pub fn machine(seed: u64, window: usize, stride: usize) -> Result<Self, String> {
        let b = benchmark(seed);
        let win = |l: &LongSeries| l.windows(window, stride).map_err(|e| e.to_string());
        Ok(RunData {
            name: format!("generated machine signal (seed {seed})"),
            train: win(&b.train)?,
            valid: Some(win(&b.valid)?),
            test: win(&b.test.series)?,
            long: Some((b.test.series, window, stride)),
        })
    }

    /// One labelled file (the page's upload). UCR shape: a seeded half of
    /// the normal rows trains, the other half and every anomalous row
    /// test. Long shape: the first half of the series trains (its last
    /// fifth sets the threshold), the second half tests.
    pub fn one_file(
        name: &str,
        loaded: Loaded,
        window: usize,
        stride: usize,
    ) -> Result<Self, String> {
        match loaded {
            Loaded::Ucr(set) => {
                let Some(flags) = set.anomalous.clone() else {
                    return Err(
                        "name the label column: without labels nothing can be scored".into(),
                    );
                };
                let mut normal: Vec<usize> = (0..set.count()).filter(|&i| !flags[i]).collect();
                let anomalous: Vec<usize> = (0..set.count()).filter(|&i| flags[i]).collect();
                if normal.len() < MIN_NORMAL_ROWS {
                    return Err(format!(
                        "only {} rows are normal: at least {MIN_NORMAL_ROWS} are needed (is the normal label right?)",
                        normal.len()
                    ));
                }
                if anomalous.is_empty() {
                    return Err(
                        "no row is anomalous: check the label column and the normal label".into(),
                    );
                }
                Rng::new(UCR_SPLIT_SEED).shuffle(&mut normal);
                let half = normal.len() / 2;
                let mut test_idx: Vec<usize> = normal[half..].to_vec();
                test_idx.extend(&anomalous);
                test_idx.sort_unstable();
                Ok(RunData {
                    name: name.to_string(),
                    train: set.subset(&normal[..half]),
                    valid: None,
                    test: set.subset(&test_idx),
                    long: None,
                })
            }
            Loaded::Long(long) => {
                if long.labels.is_none() {
                    return Err(
                        "name the 0/1 label column: without labels nothing can be scored".into(),
                    );
                }
                let (w, s) = (window, stride);
                let n = long.values.len();
                let half = n / 2;
                let fit = half * 4 / 5;
                if fit < w || half - fit < w || n - half < w {
                    return Err(SeriesError::TooShort {
                        points: n,
                        window: w * 5,
                    }
                    .to_string());
                }
                let e = |e: SeriesError| e.to_string();
                let train = part(&long, 0, fit).windows(w, s).map_err(e)?.select(false);
                let valid = part(&long, fit, half)
                    .windows(w, s)
                    .map_err(e)?
                    .select(false);
                let test_long = part(&long, half, n);
                let test = test_long.windows(w, s).map_err(e)?;
                if train.count() < 4 || valid.count() < 1 {
                    return Err("too few normal windows in the first half to train on".into());
                }
                Ok(RunData {
                    name: name.to_string(),
                    train,
                    valid: Some(valid),
                    test,
                    long: Some((test_long, w, s)),
                })
            }
        }
    }

    /// A training file and a labelled test file (the CLI's `--train` and
    /// `--test`). The normal series of the training file train; a long
    /// training series is split in time, its last fifth giving the
    /// validation windows. Errors name the file (`train_name`,
    /// `test_name`) they are about.
    pub fn two_files(
        (train_name, train): (&str, Loaded),
        (test_name, test): (&str, Loaded),
        window: usize,
        stride: usize,
    ) -> Result<Self, String> {
        let (w, s) = (window, stride);
        fn at(name: &str) -> impl Fn(SeriesError) -> String + '_ {
            move |e| format!("{name}: {e}")
        }
        let (train, valid) = match train {
            Loaded::Ucr(set) => (set, None),
            Loaded::Long(l) => {
                let cut = l.values.len() * 4 / 5;
                let t = part(&l, 0, cut).windows(w, s).map_err(at(train_name))?;
                let v = part(&l, cut, l.values.len())
                    .windows(w, s)
                    .map_err(at(train_name))?;
                (t, Some(v.select(false)))
            }
        };
        let (test, long) = match test {
            Loaded::Ucr(set) => (set, None),
            Loaded::Long(l) => (l.windows(w, s).map_err(at(test_name))?, Some(l)),
        };
        if test.anomalous.is_none() {
            return Err(format!(
                "{test_name}: the test data needs labels (--label-column) to be scored"
            ));
        }
        if train.len != test.len {
            return Err(format!(
                "the training series have {} points and the test series {}",
                train.len, test.len
            ));
        }
        Ok(RunData {
            name: test_name.to_string(),
            train: train.select(false),
            valid,
            test,
            long: long.map(|l| (l, w, s)),
        })
    }

    /// What the page's preview shows: the shape, the counts and, for long
    /// data, the windows; `details` is added as it is.
    /// What was loaded, for the page's preview: the counts of each split,
    /// the windows of a long series, and `details` of the source.
    pub fn preview(&self, details: DataDetails) -> Preview {
        let count = |s: &SeriesSet, a: bool| {
            s.anomalous
                .as_ref()
                .map_or(if a { 0 } else { s.count() }, |v| {
                    v.iter().filter(|&&x| x == a).count()
                })
        };
        Preview {
            name: self.name.clone(),
            length: self.test.len,
            train: self.train.count(),
            valid: self.valid.as_ref().map(|v| v.count()),
            test: self.test.count(),
            test_normal: count(&self.test, false),
            test_anomalous: count(&self.test, true),
            long: self.long.as_ref().map(|(l, w, s)| LongWindows {
                points: l.values.len(),
                window: *w,
                stride: *s,
            }),
            details,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::block_on;

    /// A UCR-shaped set of `n` series of 5 points; series `i` is anomalous
    /// when `anomalous(i)`, and its values all equal `i`.
    fn ucr(n: usize, anomalous: impl Fn(usize) -> bool) -> SeriesSet {
        SeriesSet {
            len: 5,
            values: (0..n).flat_map(|i| [i as f32; 5]).collect(),
            anomalous: Some((0..n).map(anomalous).collect()),
        }
    }

    fn long(n: usize, anomalous: impl Fn(usize) -> bool) -> LongSeries {
        LongSeries {
            values: (0..n).map(|i| i as f32).collect(),
            labels: Some((0..n).map(anomalous).collect()),
            timestamps: None,
        }
    }

    fn ids(s: &SeriesSet) -> Vec<usize> {
        (0..s.count()).map(|i| s.series(i)[0] as usize).collect()
    }

    #[test]
    fn one_ucr_file_trains_on_a_seeded_half_of_its_normal_rows() {
        let set = ucr(30, |i| i % 3 == 0); // 10 anomalous, 20 normal
        let d = RunData::one_file("x.csv", Loaded::Ucr(set.clone()), 48, 8).unwrap();
        assert_eq!((d.train.count(), d.test.count()), (10, 20));
        assert!(d.train.anomalous.as_ref().unwrap().iter().all(|a| !a));
        let (train, test) = (ids(&d.train), ids(&d.test));
        assert!(train.iter().all(|i| i % 3 != 0), "only normal rows train");
        assert!(
            train.iter().all(|i| !test.contains(i)),
            "no row both trains and tests"
        );
        let flagged = d.test.anomalous.as_ref().unwrap();
        assert_eq!(
            flagged.iter().filter(|&&a| a).count(),
            10,
            "every anomalous row tests"
        );
        assert!(
            test.windows(2).all(|w| w[0] < w[1]),
            "test rows keep the file's order"
        );
        let again = RunData::one_file("x.csv", Loaded::Ucr(set), 48, 8).unwrap();
        assert_eq!(ids(&again.train), train, "the split is seeded");
        assert!(d.valid.is_none() && d.long.is_none());
    }

    #[test]
    fn the_preview_counts_each_split_and_the_windows_of_a_long_series() {
        let d = RunData::one_file("x.csv", Loaded::Ucr(ucr(30, |i| i % 3 == 0)), 48, 8).unwrap();
        let p = d.preview(DataDetails::default());
        assert_eq!((p.name.as_str(), p.length), ("x.csv", 5));
        assert_eq!((p.train, p.valid, p.test), (10, None, 20));
        assert_eq!((p.test_normal, p.test_anomalous), (10, 10));
        assert!(p.long.is_none());
        let l = long(1000, |i| (700..720).contains(&i));
        let d = RunData::one_file("m.csv", Loaded::Long(l), 20, 5).unwrap();
        let details = DataDetails {
            source: Some("a test".into()),
            ..Default::default()
        };
        let p = d.preview(details.clone());
        let w = p.long.unwrap();
        assert_eq!((w.points, w.window, w.stride), (500, 20, 5));
        assert_eq!(p.test, (500 - 20) / 5 + 1);
        assert_eq!(p.valid, d.valid.as_ref().map(|v| v.count()));
        assert_eq!(p.details, details);
        // Unset details are left out of the page's object, not sent as null.
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["details"], serde_json::json!({"source": "a test"}));
    }

    #[test]
    fn one_ucr_file_needs_labels_normal_rows_and_anomalies() {
        let msg = |s: SeriesSet| RunData::one_file("x", Loaded::Ucr(s), 48, 8).unwrap_err();
        let mut unlabelled = ucr(20, |_| false);
        unlabelled.anomalous = None;
        assert!(msg(unlabelled).contains("name the label column"));
        assert!(msg(ucr(20, |i| i > 4)).contains("only 5 rows are normal"));
        assert!(msg(ucr(20, |_| false)).contains("no row is anomalous"));
    }

    #[test]
    fn one_long_file_trains_on_its_first_half_and_tests_on_the_second() {
        let l = long(1000, |i| (700..720).contains(&i));
        let d = RunData::one_file("m.csv", Loaded::Long(l), 20, 5).unwrap();
        let (test_long, w, s) = d.long.as_ref().unwrap();
        assert_eq!((*w, *s), (20, 5));
        assert_eq!(test_long.values[0], 500.0, "the second half tests");
        assert_eq!(test_long.values.len(), 500);
        // Training windows end before point 400, validation ones lie in
        // 400..500.
        let max_train = d.train.values.iter().fold(0.0f32, |m, &v| m.max(v));
        assert!(max_train < 400.0, "{max_train}");
        let v = d.valid.as_ref().unwrap();
        assert!(v.values.iter().all(|&x| (400.0..500.0).contains(&x)));
        assert_eq!(d.test.count(), (500 - 20) / 5 + 1);
        let short = RunData::one_file("m", Loaded::Long(long(60, |_| false)), 20, 5);
        let e = short.unwrap_err();
        assert!(e.contains("60"), "too short names the points: {e}");
        let mut unlabelled = long(1000, |_| false);
        unlabelled.labels = None;
        let e = RunData::one_file("m", Loaded::Long(unlabelled), 20, 5).unwrap_err();
        assert!(e.contains("label column"), "{e}");
    }

    #[test]
    fn two_files_split_a_long_training_series_in_time_and_name_the_files() {
        let d = RunData::two_files(
            ("a.csv", Loaded::Long(long(500, |_| false))),
            ("b.csv", Loaded::Long(long(300, |i| i == 100))),
            20,
            5,
        )
        .unwrap();
        assert_eq!(d.name, "b.csv");
        let v = d.valid.as_ref().unwrap();
        assert!(
            v.values.iter().all(|&x| x >= 400.0),
            "the last fifth validates"
        );
        assert!(d.train.values.iter().all(|&x| x < 400.0));
        assert_eq!(d.long.as_ref().unwrap().0.values.len(), 300);
        let mut unlabelled = ucr(10, |_| false);
        unlabelled.anomalous = None;
        let e = RunData::two_files(
            ("a.csv", Loaded::Ucr(ucr(10, |_| false))),
            ("b.csv", Loaded::Ucr(unlabelled)),
            20,
            5,
        )
        .unwrap_err();
        assert!(e.starts_with("b.csv: the test data needs labels"), "{e}");
        let mut other = ucr(10, |i| i == 1);
        other.len = 4;
        other.values.truncate(40);
        let e = RunData::two_files(
            ("a.csv", Loaded::Ucr(ucr(10, |_| false))),
            ("b.csv", Loaded::Ucr(other)),
            20,
            5,
        )
        .unwrap_err();
        assert!(e.contains("5 points and the test series 4"), "{e}");
    }

    #[test]
    fn files_are_read_in_the_shape_the_options_ask_for() {
        let csv = b"label,a,b,c\n1,0.1,0.2,0.3\n0,0.3,0.2,0.1\n";
        let o = SeriesOptions {
            format: Some("ucr".into()),
            label_column: Some("label".into()),
            ..SeriesOptions::default()
        };
        let (loaded, info) = block_on(load(csv, &o)).unwrap();
        assert_eq!((info.shape, info.separator), ("ucr", "comma"));
        let Loaded::Ucr(set) = loaded else {
            panic!("read as long")
        };
        assert_eq!((set.count(), set.len), (2, 3));
        assert_eq!(set.anomalous, Some(vec![false, true]));
        let o = SeriesOptions {
            format: Some("long".into()),
            value_column: Some("b".into()),
            ..SeriesOptions::default()
        };
        let (loaded, _) = block_on(load(csv, &o)).unwrap();
        let Loaded::Long(l) = loaded else {
            panic!("read as UCR")
        };
        assert_eq!(l.values, vec![0.2, 0.2]);
        let bad = SeriesOptions {
            format: Some("wide".into()),
            ..SeriesOptions::default()
        };
        let e = block_on(load(csv, &bad)).unwrap_err();
        assert!(e.contains("unknown format 'wide'"), "{e}");
        assert!(block_on(load(b"", &o)).is_err());
        let o: SeriesOptions =
            serde_json::from_str(r#"{"window": 20, "label_column": ""}"#).unwrap();
        assert_eq!(
            (o.window, o.stride),
            (20, DEFAULT_STRIDE),
            "unset options take the defaults"
        );
    }
}
