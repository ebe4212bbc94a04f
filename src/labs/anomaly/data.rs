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
    /// One file: where its training part ends, a fraction ("0.5") or a
    /// count of points or rows ("5000"); see [`SplitAt`]. Default: half.
    pub split: Option<String>,
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
            split: None,
        }
    }
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl SeriesOptions {
    /// Where one file's training part ends (half, when unset).
    pub fn split(&self) -> Result<SplitAt, String> {
        nonempty(&self.split).map_or(Ok(SplitAt::HALF), SplitAt::parse)
    }

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

/// Where the training part of one file ends: a fraction of it, or a count
/// of its points (a long series) or of its rows (one series per row).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SplitAt {
    Fraction(f64),
    Count(usize),
}

impl SplitAt {
    pub const HALF: SplitAt = SplitAt::Fraction(0.5);

    /// `0.5` (a fraction, strictly between 0 and 1) or `5000` (a count).
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad = || {
            format!("the split must be a fraction between 0 and 1 (such as 0.5) or a count of points (such as 5000), not '{t}'")
        };
        if let Ok(n) = t.parse::<usize>() {
            return if n >= 1 {
                Ok(SplitAt::Count(n))
            } else {
                Err(bad())
            };
        }
        match t.parse::<f64>() {
            Ok(f) if f > 0.0 && f < 1.0 => Ok(SplitAt::Fraction(f)),
            _ => Err(bad()),
        }
    }

    /// The index where training ends among `n` items (`what` names them for
    /// the error when nothing would be left on one side).
    pub fn at(self, n: usize, what: &str) -> Result<usize, String> {
        let p = match self {
            SplitAt::Fraction(f) => (n as f64 * f).round() as usize,
            SplitAt::Count(c) => c,
        };
        if p == 0 || p >= n {
            return Err(format!(
                "a split at {p} of {n} {what} leaves nothing to {}",
                if p == 0 { "train on" } else { "test" }
            ));
        }
        Ok(p)
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
    /// The label column, when there is one, and how it was found.
    pub label: Option<FoundColumn>,
    /// UCR: the class taken as normal.
    pub normal_label: Option<String>,
    /// Long: the value column and the timestamp column.
    pub value: Option<FoundColumn>,
    pub timestamp: Option<FoundColumn>,
}

/// Header names taken as the label column when none is named.
pub const LABEL_NAMES: [&str; 6] = [
    "label",
    "labels",
    "is_anomaly",
    "anomaly",
    "class",
    "target",
];
/// Header names taken as the timestamp column when none is named.
pub const TIMESTAMP_NAMES: [&str; 4] = ["timestamp", "time", "date", "datetime"];
/// A UCR file's first column is proposed as its class when it holds whole
/// numbers of at most this many distinct values (and at least two).
const MAX_GUESSED_CLASSES: usize = 10;

/// A column the reader used: its header name (or "column N", 0-based, in a
/// file without one), its index, and how it was chosen: `"given"` (named
/// by the user), `"by its name"` (a known header name) or `"guessed"`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct FoundColumn {
    pub name: String,
    pub index: usize,
    pub how: &'static str,
}

impl FoundColumn {
    fn new(t: &Table, index: usize, how: &'static str) -> Self {
        let name = t
            .header
            .as_ref()
            .and_then(|h| h.get(index).cloned())
            .unwrap_or_else(|| format!("column {index}"));
        FoundColumn { name, index, how }
    }

    /// The column the user named (a header name or a 0-based index).
    fn given(t: &Table, name: &str) -> Result<Self, String> {
        let i = t.resolve(&Column::parse(name)).map_err(|e| e.to_string())?;
        Ok(FoundColumn::new(t, i, "given"))
    }

    fn column(&self) -> Column {
        Column::Index(self.index)
    }
}

/// The first column whose header is one of `names` (case and surrounding
/// space ignored).
fn by_name(t: &Table, names: &[&str]) -> Option<usize> {
    let h = t.header.as_ref()?;
    h.iter()
        .position(|x| names.iter().any(|n| x.trim().eq_ignore_ascii_case(n)))
}

/// The label column: the one named, else one with a label's name, else (in
/// a UCR-shaped file) a first column of few distinct whole numbers.
fn find_label(t: &Table, shape: Shape, given: Option<&str>) -> Result<Option<FoundColumn>, String> {
    if let Some(g) = given {
        return FoundColumn::given(t, g).map(Some);
    }
    if let Some(i) = by_name(t, &LABEL_NAMES) {
        return Ok(Some(FoundColumn::new(t, i, "by its name")));
    }
    if shape == Shape::Ucr && !t.rows.is_empty() {
        let mut seen: Vec<f64> = Vec::new();
        for (_, row) in &t.rows {
            match row[0].trim().parse::<f64>() {
                Ok(v) if v.fract() == 0.0 && v.is_finite() => {
                    if !seen.contains(&v) {
                        seen.push(v);
                        if seen.len() > MAX_GUESSED_CLASSES {
                            return Ok(None);
                        }
                    }
                }
                _ => return Ok(None),
            }
        }
        if seen.len() >= 2 {
            return Ok(Some(FoundColumn::new(t, 0, "guessed")));
        }
    }
    Ok(None)
}

/// The normal class of a UCR label column: the one given, else 1 when it
/// occurs, else the most frequent class; a tie for the most frequent is an
/// error that asks for it.
fn normal_class(t: &Table, label: &FoundColumn, given: Option<&str>) -> Result<String, String> {
    if let Some(g) = given {
        return Ok(g.to_string());
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for (_, row) in &t.rows {
        let v = row[label.index].trim();
        match counts.iter_mut().find(|(k, _)| series::same_label(k, v)) {
            Some(c) => c.1 += 1,
            None => counts.push((v, 1)),
        }
    }
    if counts.iter().any(|(k, _)| series::same_label(k, "1")) {
        return Ok("1".into());
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    match counts.as_slice() {
        [] => Err(SeriesError::Empty.to_string()),
        [(a, n), (b, m), ..] if n == m => Err(format!(
            "cannot tell which class of the label column ({}) is normal: {a} and {b} are equally common; name the normal label",
            label.name
        )),
        [(a, _), ..] => Ok(a.to_string()),
    }
}

/// Timestamps must not go back in time: numbers are compared as numbers,
/// ISO 8601 dates (`2024-01-31…`) as text; other formats are not checked.
fn check_time_order(stamps: &[String], column: &FoundColumn) -> Result<(), String> {
    let back = |i: usize| {
        format!(
            "the timestamp column ({}) goes back in time at data row {}: {} comes after {}; sort the file by time",
            column.name,
            i + 1,
            stamps[i],
            stamps[i - 1]
        )
    };
    let nums: Option<Vec<f64>> = stamps.iter().map(|x| x.trim().parse().ok()).collect();
    if let Some(v) = nums {
        return match (1..v.len()).find(|&i| v[i] < v[i - 1]) {
            Some(i) => Err(back(i)),
            None => Ok(()),
        };
    }
    let iso = |x: &str| {
        let b = x.trim().as_bytes();
        b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[7] == b'-'
    };
    if stamps.iter().all(|x| iso(x)) {
        if let Some(i) = (1..stamps.len()).find(|&i| stamps[i].trim() < stamps[i - 1].trim()) {
            return Err(back(i));
        }
    }
    Ok(())
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
    /// Whether the test series are labelled (else the counts below are 0).
    pub labelled: bool,
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
    let label = find_label(&table, shape, nonempty(&o.label_column))?;
    let mut info = FileInfo {
        shape: if shape == Shape::Ucr { "ucr" } else { "long" },
        separator: match table.separator {
            series::Separator::Comma => "comma",
            series::Separator::Tab => "tab",
            series::Separator::Semicolon => "semicolon",
        },
        header: table.header.clone(),
        label: label.clone(),
        normal_label: None,
        value: None,
        timestamp: None,
    };
    let label_col = label.as_ref().map(FoundColumn::column);
    let loaded = match shape {
        Shape::Ucr => {
            let normal = match &label {
                Some(l) => Some(normal_class(&table, l, nonempty(&o.normal_label))?),
                None => None,
            };
            info.normal_label = normal.clone();
            Loaded::Ucr(
                ucr_in_pieces(&table, label_col.as_ref(), normal.as_deref())
                    .await
                    .map_err(s)?,
            )
        }
        Shape::Long => {
            let ts = match nonempty(&o.timestamp_column) {
                Some(g) => Some(FoundColumn::given(&table, g)?),
                None => by_name(&table, &TIMESTAMP_NAMES)
                    .map(|i| FoundColumn::new(&table, i, "by its name")),
            };
            let value = match nonempty(&o.value_column) {
                Some(c) => FoundColumn::given(&table, c)?,
                None => {
                    // "value", else the last column that is neither the
                    // label nor the timestamp.
                    let taken = |i: usize| {
                        Some(i) == label.as_ref().map(|l| l.index)
                            || Some(i) == ts.as_ref().map(|t| t.index)
                    };
                    match by_name(&table, &["value"]) {
                        Some(i) => FoundColumn::new(&table, i, "by its name"),
                        None => {
                            let i = (0..table.columns())
                                .rev()
                                .find(|&i| !taken(i))
                                .ok_or("the file has no column left for the values")?;
                            FoundColumn::new(&table, i, "guessed")
                        }
                    }
                }
            };
            let l = long_in_pieces(
                &table,
                &value.column(),
                ts.as_ref().map(FoundColumn::column).as_ref(),
                label_col.as_ref(),
            )
            .await
            .map_err(s)?;
            if let (Some(stamps), Some(t)) = (&l.timestamps, &ts) {
                check_time_order(stamps, t)?;
            }
            info.value = Some(value);
            info.timestamp = ts;
            Loaded::Long(l)
        }
    };
    Ok((loaded, info))
}

/// Points `a..b` of a long series, with their labels and timestamps.
fn part(l: &LongSeries, a: usize, b: usize) -> LongSeries {
    LongSeries {
        values: l.values[a..b].to_vec(),
        labels: l.labels.as_ref().map(|x| x[a..b].to_vec()),
        timestamps: l.timestamps.as_ref().map(|x| x[a..b].to_vec()),
    }
}

/// The data of an anomaly run: normal training series, test series
/// (labelled or not), and for long series the test series itself (for
/// event scores and flagged stretches).
#[derive(Debug, Clone)]
pub struct RunData {
    pub name: String,
    /// The command-line arguments of `aelab anomaly` that load the same
    /// data (the run tables' commands): `--dataset ecg5000`, `--train
    /// FILE` with its reading options ([`RunData::with_options`]), …
    pub source: Vec<String>,
    pub train: SeriesSet,
    /// Normal validation series, where they must not be drawn at random
    /// from `train` (windows of a long series overlap).
    pub valid: Option<SeriesSet>,
    pub test: SeriesSet,
    /// The long test series with its window and stride.
    pub long: Option<(LongSeries, usize, usize)>,
    /// Where the test part starts in its file (a point of a long series, a
    /// row of one series per row), so that flags name the file's points.
    pub test_offset: usize,
}

/// `--dataset machine` with the signal's seed, and the window and stride
/// where they are not the defaults.
fn machine_source(seed: u64, window: usize, stride: usize) -> Vec<String> {
    let mut a = vec![
        "--dataset".into(),
        "machine".into(),
        "--data-seed".into(),
        seed.to_string(),
    ];
    window_args(&mut a, window, stride);
    a
}

fn window_args(a: &mut Vec<String>, window: usize, stride: usize) {
    if window != DEFAULT_WINDOW {
        a.extend(["--window".into(), window.to_string()]);
    }
    if stride != DEFAULT_STRIDE {
        a.extend(["--stride".into(), stride.to_string()]);
    }
}

impl RunData {
    /// Adds the reading options `o` of an uploaded file to [`RunData::source`]
    /// (those that differ from the command line's defaults).
    pub fn with_options(mut self, o: &SeriesOptions) -> Self {
        let a = &mut self.source;
        for (flag, v) in [
            ("--format", &o.format),
            ("--label-column", &o.label_column),
            ("--normal-label", &o.normal_label),
            ("--value-column", &o.value_column),
            ("--timestamp-column", &o.timestamp_column),
            ("--split", &o.split),
        ] {
            if let Some(v) = nonempty(v) {
                if !(flag == "--format" && v == "auto") {
                    a.extend([flag.to_string(), v.to_string()]);
                }
            }
        }
        window_args(a, o.window, o.stride);
        self
    }

    /// ECG5000: the normal beats of TRAIN to train, all of TEST to test.
    pub fn ecg5000(train: SeriesSet, test: SeriesSet) -> Self {
        RunData {
            name: "ECG5000".into(),
            source: vec!["--dataset".into(), "ecg5000".into()],
            train: train.select(false),
            valid: None,
            test,
            long: None,
            test_offset: 0,
        }
    }

    /// The generated machine signal: 20 000 normal points to train, 5 000
    /// to set the threshold, 20 000 with 12 anomalies to test.
    pub fn machine(seed: u64, window: usize, stride: usize) -> Result<Self, String> {
        let b = benchmark(seed);
        let win = |l: &LongSeries| l.windows(window, stride).map_err(|e| e.to_string());
        Ok(RunData {
            name: format!("generated machine signal (seed {seed})"),
            source: machine_source(seed, window, stride),
            train: win(&b.train)?,
            valid: Some(win(&b.valid)?),
            test: win(&b.test.series)?,
            long: Some((b.test.series, window, stride)),
            test_offset: 0,
        })
    }

    /// One file (the page's upload, or the CLI's `--train` alone), split
    /// at `split` ([`SplitAt::HALF`] by default).
    ///
    /// - Long shape: the points before the split train (the last fifth of
    ///   them sets the threshold), the rest test. Labels are optional: with
    ///   them the run is scored, without them its windows are flagged.
    /// - UCR shape, labelled: a seeded `split` of the normal rows trains;
    ///   the other normal rows and every anomalous row test.
    /// - UCR shape, unlabelled: the rows before the split train, the rest
    ///   test.
    pub fn one_file(
        name: &str,
        loaded: Loaded,
        window: usize,
        stride: usize,
        split: SplitAt,
    ) -> Result<Self, String> {
        match loaded {
            Loaded::Ucr(set) => {
                let Some(flags) = set.anomalous.clone() else {
                    let p = split.at(set.count(), "rows")?;
                    if p < MIN_NORMAL_ROWS / 2 {
                        return Err(format!(
                            "only {p} rows train: at least {} are needed",
                            MIN_NORMAL_ROWS / 2
                        ));
                    }
                    let idx: Vec<usize> = (0..set.count()).collect();
                    return Ok(RunData {
                        name: name.to_string(),
                        source: vec!["--train".into(), name.into()],
                        train: set.subset(&idx[..p]),
                        valid: None,
                        test: set.subset(&idx[p..]),
                        long: None,
                        test_offset: p,
                    });
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
                let cut = split.at(normal.len(), "normal rows")?;
                let mut test_idx: Vec<usize> = normal[cut..].to_vec();
                test_idx.extend(&anomalous);
                test_idx.sort_unstable();
                Ok(RunData {
                    name: name.to_string(),
                    source: vec!["--train".into(), name.into()],
                    train: set.subset(&normal[..cut]),
                    valid: None,
                    test: set.subset(&test_idx),
                    long: None,
                    test_offset: 0,
                })
            }
            Loaded::Long(long) => {
                let (w, s) = (window, stride);
                let n = long.values.len();
                let too_short = || {
                    format!(
                        "the series has {n} points, and one file needs at least {} (5 windows of {w}: to train, to set the threshold and to test)",
                        w * 5
                    )
                };
                if n < w * 5 {
                    return Err(too_short());
                }
                let p = split.at(n, "points")?;
                let fit = p * 4 / 5;
                if fit < w || p - fit < w || n - p < w {
                    return Err(format!(
                        "{}; a split at point {p} leaves {fit} points to train on, {} to set the threshold and {} to test, each needing a window of {w}",
                        too_short(),
                        p - fit,
                        n - p
                    ));
                }
                let e = |e: SeriesError| e.to_string();
                let train = part(&long, 0, fit).windows(w, s).map_err(e)?.select(false);
                let valid = part(&long, fit, p).windows(w, s).map_err(e)?.select(false);
                let test_long = part(&long, p, n);
                let test = test_long.windows(w, s).map_err(e)?;
                if train.count() < 4 || valid.count() < 1 {
                    return Err("too few normal windows before the split to train on".into());
                }
                Ok(RunData {
                    name: name.to_string(),
                    source: vec!["--train".into(), name.into()],
                    train,
                    valid: Some(valid),
                    test,
                    long: Some((test_long, w, s)),
                    test_offset: p,
                })
            }
        }
    }

    /// A training file and a test file, labelled or not (the CLI's
    /// `--train` and `--test`). The normal series of the training file train; a long
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
        if train.len != test.len {
            return Err(format!(
                "the training series have {} points and the test series {}",
                train.len, test.len
            ));
        }
        Ok(RunData {
            name: test_name.to_string(),
            source: vec![
                "--train".into(),
                train_name.into(),
                "--test".into(),
                test_name.into(),
            ],
            train: train.select(false),
            valid,
            test,
            long: long.map(|l| (l, w, s)),
            test_offset: 0,
        })
    }

    /// What the page's preview shows: the shape, the counts and, for long
    /// data, the windows; `details` is added as it is.
    /// The long test series with its window and stride, as
    /// [`super::flagged_stretches`] takes them.
    fn long_windows(&self) -> Option<(&LongSeries, usize, usize)> {
        self.long.as_ref().map(|(l, w, s)| (l, *w, *s))
    }

    /// The stretches of the test part whose `errors` `cut` flags,
    /// in the file's points (see [`super::flagged_stretches`]).
    pub fn stretches(&self, errors: &[f32], cut: super::Cut) -> Vec<super::Stretch> {
        super::flagged_stretches(errors, cut, self.long_windows(), self.test_offset)
    }

    /// Event scores at `cut`, for a labelled long test series.
    pub fn event_score(&self, errors: &[f32], cut: super::Cut) -> Option<super::EventScore> {
        self.test.anomalous.as_ref()?;
        let (l, w, s) = self.long_windows()?;
        Some(super::event_score(l, w, s, &cut.flag_all(errors)))
    }

    /// What flags a test item at `threshold`: with windows of a long
    /// series, a floor set by `normal_errors` too (see [`super::Cut`]),
    /// unless `floor` is false.
    pub fn cut(&self, threshold: f32, normal_errors: &[f32], floor: bool) -> super::Cut {
        super::Cut {
            threshold,
            floor: if floor && self.long.is_some() {
                super::error_floor(normal_errors)
            } else {
                None
            },
        }
    }

    /// The note on a threshold set by `errors` normal items of this data:
    /// with `folds`, what the cross-validated threshold rests on (see
    /// [`super::cv_threshold_note`]); else the warning when the validation
    /// items (windows of a long series, else series) are few (see
    /// [`super::threshold_note`]).
    pub fn threshold_note(&self, errors: usize, folds: Option<usize>) -> Option<String> {
        if let Some(k) = folds {
            return Some(super::cv_threshold_note(errors, k));
        }
        let items = if self.long.is_some() {
            "windows"
        } else {
            "series"
        };
        super::threshold_note(errors, items)
    }

    /// Whether the threshold of a run with `settings` on this data is
    /// cross-validated: when asked, or by default when the validation split
    /// would hold fewer than [`super::MIN_THRESHOLD_ITEMS`] normal series.
    /// Windows of a long series cannot be: they overlap, so each fold would
    /// leak into the others.
    pub fn cross_validates(&self, settings: &super::AnomalySettings) -> Result<bool, String> {
        use super::ThresholdFrom;
        let rows = self.valid.is_none();
        match settings.threshold_from {
            ThresholdFrom::Split => Ok(false),
            ThresholdFrom::Cv if !rows => Err(
                "a cross-validated threshold needs one series per row: the windows of a long series overlap, so each fold would leak into the others; set the threshold from the split".into(),
            ),
            ThresholdFrom::Cv => Ok(true),
            ThresholdFrom::Auto => Ok(rows
                && super::valid_count(self.train.count(), settings.valid_fraction)
                    < super::MIN_THRESHOLD_ITEMS),
        }
    }

    /// What was loaded, for the page's preview: the counts of each split,
    /// the windows of a long series, and `details` of the source.
    pub fn preview(&self, details: DataDetails) -> Preview {
        let count = |s: &SeriesSet, a: bool| {
            s.anomalous
                .as_ref()
                .map_or(0, |v| v.iter().filter(|&&x| x == a).count())
        };
        Preview {
            name: self.name.clone(),
            length: self.test.len,
            train: self.train.count(),
            valid: self.valid.as_ref().map(|v| v.count()),
            test: self.test.count(),
            labelled: self.test.anomalous.is_some(),
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
        let d = RunData::one_file("x.csv", Loaded::Ucr(set.clone()), 48, 8, SplitAt::HALF).unwrap();
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
        let again = RunData::one_file("x.csv", Loaded::Ucr(set), 48, 8, SplitAt::HALF).unwrap();
        assert_eq!(ids(&again.train), train, "the split is seeded");
        assert!(d.valid.is_none() && d.long.is_none());
    }

    #[test]
    fn the_preview_counts_each_split_and_the_windows_of_a_long_series() {
        let d = RunData::one_file(
            "x.csv",
            Loaded::Ucr(ucr(30, |i| i % 3 == 0)),
            48,
            8,
            SplitAt::HALF,
        )
        .unwrap();
        let p = d.preview(DataDetails::default());
        assert_eq!((p.name.as_str(), p.length), ("x.csv", 5));
        assert_eq!((p.train, p.valid, p.test), (10, None, 20));
        assert_eq!((p.test_normal, p.test_anomalous), (10, 10));
        assert!(p.long.is_none());
        let l = long(1000, |i| (700..720).contains(&i));
        let d = RunData::one_file("m.csv", Loaded::Long(l), 20, 5, SplitAt::HALF).unwrap();
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
        let msg = |s: SeriesSet| {
            RunData::one_file("x", Loaded::Ucr(s), 48, 8, SplitAt::HALF).unwrap_err()
        };
        assert!(msg(ucr(20, |i| i > 4)).contains("only 5 rows are normal"));
        assert!(msg(ucr(20, |_| false)).contains("no row is anomalous"));
    }

    #[test]
    fn one_long_file_trains_on_its_first_half_and_tests_on_the_second() {
        let l = long(1000, |i| (700..720).contains(&i));
        let d = RunData::one_file("m.csv", Loaded::Long(l), 20, 5, SplitAt::HALF).unwrap();
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
        let short = RunData::one_file("m", Loaded::Long(long(60, |_| false)), 20, 5, SplitAt::HALF);
        let e = short.unwrap_err();
        assert!(e.contains("60"), "too short names the points: {e}");
    }

    #[test]
    fn an_unlabelled_file_trains_before_its_split_and_tests_after_it() {
        let mut l = long(1000, |_| false);
        l.labels = None;
        l.timestamps = Some((0..1000).map(|i| format!("t{i}")).collect());
        let d =
            RunData::one_file("m", Loaded::Long(l.clone()), 20, 5, SplitAt::Count(600)).unwrap();
        let (test_long, _, _) = d.long.as_ref().unwrap();
        assert_eq!((d.test_offset, test_long.values[0]), (600, 600.0));
        assert_eq!(test_long.timestamps.as_ref().unwrap()[0], "t600");
        assert!(d.test.anomalous.is_none(), "nothing to score");
        assert_eq!(
            d.train.count(),
            (480 - 20) / 5 + 1,
            "every window before point 480 trains"
        );
        let e = RunData::one_file("m", Loaded::Long(l.clone()), 20, 5, SplitAt::Count(990))
            .unwrap_err();
        assert!(e.contains("10 to test"), "{e}");
        let e = RunData::one_file("m", Loaded::Long(l), 20, 5, SplitAt::Count(1000)).unwrap_err();
        assert!(e.contains("nothing to test"), "{e}");
        let mut rows = ucr(20, |_| false);
        rows.anomalous = None;
        let d = RunData::one_file("u", Loaded::Ucr(rows), 48, 8, SplitAt::Fraction(0.75)).unwrap();
        assert_eq!(
            (d.train.count(), d.test.count(), d.test_offset),
            (15, 5, 15)
        );
        assert_eq!(
            d.test.series(0)[0],
            15.0,
            "the rows after the split test, in order"
        );
    }

    #[test]
    fn a_split_is_a_fraction_or_a_count() {
        assert_eq!(SplitAt::parse("0.25").unwrap(), SplitAt::Fraction(0.25));
        assert_eq!(SplitAt::parse(" 5000 ").unwrap(), SplitAt::Count(5000));
        for bad in ["0", "1.5", "-3", "half", "", "NaN"] {
            assert!(SplitAt::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(SplitAt::Fraction(0.25).at(1000, "points").unwrap(), 250);
        assert!(SplitAt::Count(10).at(10, "rows").is_err());
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
        let d = RunData::two_files(
            ("a.csv", Loaded::Ucr(ucr(10, |_| false))),
            ("b.csv", Loaded::Ucr(unlabelled)),
            20,
            5,
        )
        .unwrap();
        assert!(
            d.test.anomalous.is_none(),
            "an unlabelled test file is flagged, not scored"
        );
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

    fn read(csv: &str, o: &SeriesOptions) -> Result<(Loaded, FileInfo), String> {
        block_on(load(csv.as_bytes(), o))
    }

    #[test]
    fn a_label_column_is_found_by_its_name_or_given() {
        let long = SeriesOptions {
            format: Some("long".into()),
            ..SeriesOptions::default()
        };
        for name in LABEL_NAMES {
            let csv = format!("v,{}\n0.5,0\n0.7,1\n", name.to_uppercase());
            let (loaded, info) = read(&csv, &long).unwrap();
            let l = info.label.unwrap_or_else(|| panic!("{name} is a label"));
            assert_eq!((l.index, l.how), (1, "by its name"), "{name}");
            let Loaded::Long(series) = loaded else {
                panic!()
            };
            assert_eq!(series.labels, Some(vec![false, true]), "{name}");
            assert_eq!(series.values, vec![0.5, 0.7], "the value is not the label");
        }
        // The user's choice wins over a name.
        let csv = "label,flag,value\n0,1,0.5\n0,0,0.7\n";
        let o = SeriesOptions {
            label_column: Some("flag".into()),
            ..long.clone()
        };
        let (loaded, info) = read(csv, &o).unwrap();
        assert_eq!(info.label.unwrap().how, "given");
        let Loaded::Long(series) = loaded else {
            panic!()
        };
        assert_eq!(series.labels, Some(vec![true, false]));
        // No label, no guess in a long file.
        let (_, info) = read("a,b\n1,2\n3,4\n", &long).unwrap();
        assert!(info.label.is_none());
    }

    #[test]
    fn a_ucr_files_class_column_is_guessed_and_its_normal_class_chosen() {
        let row = |c: &str| format!("{c},0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8\n");
        let ucr = SeriesOptions::default();
        // ECG5000-like classes 1..5: column 0 is the class, 1 is normal.
        let csv: String = ["1", "2", "1", "5", "3", "1"].map(row).concat();
        let (loaded, info) = read(&csv, &ucr).unwrap();
        let l = info.label.unwrap();
        assert_eq!(
            (l.index, l.how, info.normal_label.as_deref()),
            (0, "guessed", Some("1"))
        );
        let Loaded::Ucr(set) = loaded else { panic!() };
        assert_eq!(set.len, 8);
        assert_eq!(
            set.anomalous,
            Some(vec![false, true, false, true, true, false])
        );
        // Without a class 1, the most frequent class is normal.
        let csv: String = ["0", "7", "0", "0", "7"].map(row).concat();
        let (_, info) = read(&csv, &ucr).unwrap();
        assert_eq!(info.normal_label.as_deref(), Some("0"));
        // A tie cannot be settled: the message asks for the normal label.
        let csv: String = ["0", "7", "0", "7"].map(row).concat();
        let e = read(&csv, &ucr).unwrap_err();
        assert!(
            e.contains("equally common") && e.contains("normal label"),
            "{e}"
        );
        let given = SeriesOptions {
            normal_label: Some("7".into()),
            ..ucr.clone()
        };
        assert_eq!(
            read(&csv, &given).unwrap().1.normal_label.as_deref(),
            Some("7")
        );
        // Real values in the first column are a series, not a class.
        let csv: String = ["0.25", "1.5", "0.25"].map(row).concat();
        assert!(read(&csv, &ucr).unwrap().1.label.is_none());
    }

    #[test]
    fn timestamps_are_found_by_name_and_must_not_go_back() {
        let long = SeriesOptions {
            format: Some("long".into()),
            ..SeriesOptions::default()
        };
        for name in TIMESTAMP_NAMES {
            let csv = format!("{name},reading\n2024-01-01,1\n2024-01-02,2\n");
            let (loaded, info) = read(&csv, &long).unwrap();
            assert_eq!(info.timestamp.unwrap().how, "by its name", "{name}");
            assert_eq!(info.value.unwrap().name, "reading", "{name}");
            let Loaded::Long(l) = loaded else { panic!() };
            assert_eq!(l.timestamps.unwrap()[1], "2024-01-02");
        }
        let e = read("time,value\n2024-01-02,1\n2024-01-01,2\n", &long).unwrap_err();
        assert!(e.contains("goes back in time at data row 2"), "{e}");
        let e = read("time,value\n10,1\n9.5,2\n", &long).unwrap_err();
        assert!(e.contains("9.5 comes after 10"), "{e}");
        // Formats that cannot be ordered as text are not checked.
        assert!(read("time,value\n2/1/2024,1\n1/2/2024,2\n", &long).is_ok());
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
