//! Time series from CSV text: the UCR shape (one series per row, with an
//! optional label column) and the long shape (one value per row, with an
//! optional timestamp and a 0/1 label, cut into windows). Comma, tab and
//! semicolon separators and a header row are detected. Every error names
//! the line and the column; nothing here panics on any input.

use std::fmt;

/// Larger uploads are refused before parsing.
pub const MAX_CSV_BYTES: usize = 50 * 1024 * 1024;
/// At most this many values in all (20 M floats, 80 MB).
pub const MAX_VALUES: usize = 20_000_000;

#[derive(Debug, Clone, PartialEq)]
pub enum SeriesError {
    Empty,
    TooLarge(usize),
    NotText,
    Utf16,
    /// 1-based line; how many fields were expected and found.
    Ragged {
        line: usize,
        expected: usize,
        found: usize,
    },
    /// 1-based line and column; the column's name when there is a header.
    NotANumber {
        line: usize,
        column: usize,
        name: Option<String>,
        text: String,
    },
    NotFinite {
        line: usize,
        column: usize,
        name: Option<String>,
    },
    OutOfRange {
        line: usize,
        column: usize,
        name: Option<String>,
    },
    NoColumn(String),
    BadLabel {
        line: usize,
        column: usize,
        text: String,
    },
    TooShort {
        points: usize,
        window: usize,
    },
    TooManyValues,
    Bad(String),
}

fn col_name(column: usize, name: &Option<String>) -> String {
    match name {
        Some(n) => format!("column {column} (\"{n}\")"),
        None => format!("column {column}"),
    }
}

impl fmt::Display for SeriesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeriesError::Empty => write!(f, "the file is empty (no data rows)"),
            SeriesError::TooLarge(n) => write!(
                f,
                "the file is {:.1} MB, over the limit of {} MB",
                *n as f64 / 1e6,
                MAX_CSV_BYTES / (1024 * 1024)
            ),
            SeriesError::NotText => write!(f, "the file is not text (CSV or TSV)"),
            SeriesError::Utf16 => write!(
                f,
                "the file is UTF-16 text; save it as UTF-8 (\"CSV UTF-8\" in spreadsheet programs)"
            ),
            SeriesError::Ragged {
                line,
                expected,
                found,
            } => write!(
                f,
                "line {line} has {found} fields, but the first data row has {expected}"
            ),
            SeriesError::NotANumber {
                line,
                column,
                name,
                text,
            } => write!(
                f,
                "line {line}, {}: \"{}\" is not a number{}",
                col_name(*column, name),
                text.chars().take(40).collect::<String>(),
                if text.contains(',') {
                    " (a decimal comma? write numbers with a point)"
                } else {
                    ""
                }
            ),
            SeriesError::NotFinite { line, column, name } => write!(
                f,
                "line {line}, {}: the value is NaN or infinite",
                col_name(*column, name)
            ),
            SeriesError::OutOfRange { line, column, name } => write!(
                f,
                "line {line}, {}: the value is too large for 32-bit floats (over 3.4e38)",
                col_name(*column, name)
            ),
            SeriesError::NoColumn(c) => write!(f, "there is no column {c}"),
            SeriesError::BadLabel { line, column, text } => write!(
                f,
                "line {line}, column {column}: the label \"{text}\" is not 0 or 1"
            ),
            SeriesError::TooShort { points, window } => write!(
                f,
                "the series has {points} points, fewer than the window of {window}"
            ),
            SeriesError::TooManyValues => {
                write!(f, "the data holds more than {MAX_VALUES} values, the limit")
            }
            SeriesError::Bad(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for SeriesError {}

/// A set of equal-length series, with an anomaly flag per series when the
/// data is labelled.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSet {
    pub len: usize,
    /// `count × len` values.
    pub values: Vec<f32>,
    /// `true` = anomalous; `None` when unlabelled.
    pub anomalous: Option<Vec<bool>>,
}

impl SeriesSet {
    pub fn count(&self) -> usize {
        self.values.len().checked_div(self.len).unwrap_or(0)
    }

    pub fn series(&self, i: usize) -> &[f32] {
        &self.values[i * self.len..(i + 1) * self.len]
    }

    /// The series whose flag equals `anomalous` (all of them when
    /// unlabelled and `anomalous` is false).
    pub fn select(&self, anomalous: bool) -> SeriesSet {
        let keep: Vec<usize> = (0..self.count())
            .filter(|&i| match &self.anomalous {
                Some(a) => a[i] == anomalous,
                None => !anomalous,
            })
            .collect();
        self.subset(&keep)
    }

    pub fn subset(&self, idx: &[usize]) -> SeriesSet {
        let mut values = Vec::with_capacity(idx.len() * self.len);
        for &i in idx {
            values.extend_from_slice(self.series(i));
        }
        SeriesSet {
            len: self.len,
            values,
            anomalous: self
                .anomalous
                .as_ref()
                .map(|a| idx.iter().map(|&i| a[i]).collect()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    Comma,
    Tab,
    Semicolon,
}

impl Separator {
    pub fn char(self) -> char {
        match self {
            Separator::Comma => ',',
            Separator::Tab => '\t',
            Separator::Semicolon => ';',
        }
    }
}

/// A column, by header name or by 0-based index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Name(String),
    Index(usize),
}

impl Column {
    /// A number is an index, anything else a name.
    pub fn parse(s: &str) -> Self {
        match s.trim().parse::<usize>() {
            Ok(i) => Column::Index(i),
            Err(_) => Column::Name(s.trim().to_string()),
        }
    }
}

/// CSV text split into fields, with the 1-based line number of each row.
#[derive(Debug, Clone)]
pub struct Table<'a> {
    pub separator: Separator,
    pub header: Option<Vec<String>>,
    pub rows: Vec<(usize, Vec<&'a str>)>,
}

fn is_number(s: &str) -> bool {
    let t = s.trim();
    !t.is_empty() && t.parse::<f64>().is_ok()
}

/// Decompresses gzipped bytes (up to [`MAX_CSV_BYTES`]); other bytes are
/// returned as they are.
pub fn maybe_gunzip(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, SeriesError> {
    use std::io::Read;
    if bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_CSV_BYTES as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| SeriesError::Bad(format!("the gzip data is corrupt: {e}")))?;
        if out.len() > MAX_CSV_BYTES {
            return Err(SeriesError::TooLarge(out.len()));
        }
        Ok(std::borrow::Cow::Owned(out))
    } else {
        Ok(std::borrow::Cow::Borrowed(bytes))
    }
}

/// ECG5000 from one of its (gzipped) UCR files: class in column 0, where 1
/// is normal, then 140 values.
pub fn ecg5000(bytes: &[u8]) -> Result<SeriesSet, SeriesError> {
    let raw = maybe_gunzip(bytes)?;
    let table = parse_table(text_of(&raw)?, Some(Separator::Tab))?;
    let set = ucr(&table, Some(&Column::Index(0)), Some("1"))?;
    if set.len != 140 {
        return Err(SeriesError::Bad(format!(
            "ECG5000 rows have 140 values, these have {}",
            set.len
        )));
    }
    Ok(set)
}

/// Checks the raw bytes of an upload and turns them into text.
pub fn text_of(bytes: &[u8]) -> Result<&str, SeriesError> {
    if bytes.len() > MAX_CSV_BYTES {
        return Err(SeriesError::TooLarge(bytes.len()));
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(SeriesError::Empty);
    }
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return Err(SeriesError::Utf16);
    }
    // UTF-16 without a byte-order mark: every other byte of ASCII is 0.
    if bytes.len() >= 4
        && bytes[..bytes.len().min(64)]
            .iter()
            .filter(|&&b| b == 0)
            .count()
            * 3
            >= bytes.len().min(64)
    {
        return Err(SeriesError::Utf16);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| SeriesError::NotText)?;
    if text.contains('\0') {
        return Err(SeriesError::NotText);
    }
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// Splits text into rows and fields. The separator is the one of tab,
/// semicolon and comma that splits the first line into the most fields
/// (unless given). The first row is a header when any of its fields is not
/// a number. Blank lines and lines starting with `#` are skipped.
pub fn parse_table(text: &str, separator: Option<Separator>) -> Result<Table<'_>, SeriesError> {
    let mut lines = data_lines(text);
    let Some((first_no, first)) = lines.next() else {
        return Err(SeriesError::Empty);
    };
    let mut b = TableBuilder::start(first_no, first, separator);
    for (no, l) in lines {
        b.push(no, l)?;
    }
    b.finish()
}

/// The lines of `text` that hold data, with their 1-based numbers: blank
/// lines and lines starting with `#` are skipped.
pub fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
}

fn split_fields(l: &str, sep: char) -> Vec<&str> {
    l.split(sep).map(|f| f.trim().trim_matches('"')).collect()
}

/// Builds a [`Table`] line by line, so that a caller can pause between
/// lines (the page yields to the browser every few thousand).
pub struct TableBuilder<'a> {
    table: Table<'a>,
    expected: usize,
    cells: usize,
}

impl<'a> TableBuilder<'a> {
    /// Starts from the first data line: it fixes the separator (unless
    /// given) and whether there is a header.
    pub fn start(first_no: usize, first: &'a str, separator: Option<Separator>) -> Self {
        let sep = separator.unwrap_or_else(|| {
            // On a tie the later one wins: tab, then semicolon (which goes
            // with decimal commas), then comma.
            [Separator::Comma, Separator::Semicolon, Separator::Tab]
                .into_iter()
                .max_by_key(|s| first.matches(s.char()).count())
                .filter(|s| first.contains(s.char()))
                .unwrap_or(Separator::Comma)
        });
        let first_fields = split_fields(first, sep.char());
        // A header has a field that is text (an empty field alone is a
        // missing value, not a header).
        let header_row = first_fields.iter().any(|f| !f.is_empty() && !is_number(f));
        let expected = first_fields.len();
        let (header, rows) = if header_row {
            (
                Some(first_fields.iter().map(|s| s.to_string()).collect()),
                Vec::new(),
            )
        } else {
            (None, vec![(first_no, first_fields)])
        };
        Self {
            table: Table {
                separator: sep,
                header,
                rows,
            },
            expected,
            cells: expected,
        }
    }

    pub fn push(&mut self, no: usize, line: &'a str) -> Result<(), SeriesError> {
        let f = split_fields(line, self.table.separator.char());
        if f.len() != self.expected {
            return Err(SeriesError::Ragged {
                line: no,
                expected: self.expected,
                found: f.len(),
            });
        }
        self.cells += f.len();
        if self.cells > MAX_VALUES {
            return Err(SeriesError::TooManyValues);
        }
        self.table.rows.push((no, f));
        Ok(())
    }

    pub fn finish(self) -> Result<Table<'a>, SeriesError> {
        if self.table.rows.is_empty() {
            return Err(SeriesError::Empty);
        }
        Ok(self.table)
    }
}

impl<'a> Table<'a> {
    /// The rows `range` of this table, with the same header: to convert a
    /// large table in pieces.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Table<'a> {
        Table {
            separator: self.separator,
            header: self.header.clone(),
            rows: self.rows[range].to_vec(),
        }
    }

    /// The value column of a long-shape table when none is named: the
    /// column headed "value", else the last one.
    pub fn default_value_column(&self) -> Column {
        let named = self
            .header
            .as_ref()
            .is_some_and(|h| h.iter().any(|x| x.eq_ignore_ascii_case("value")));
        if named {
            Column::Name("value".into())
        } else {
            Column::Index(self.columns().saturating_sub(1))
        }
    }

    pub fn columns(&self) -> usize {
        self.rows.first().map_or(0, |r| r.1.len())
    }

    fn name(&self, c: usize) -> Option<String> {
        self.header.as_ref().and_then(|h| h.get(c).cloned())
    }

    /// The 0-based index of a column.
    pub fn resolve(&self, c: &Column) -> Result<usize, SeriesError> {
        match c {
            Column::Index(i) if *i < self.columns() => Ok(*i),
            Column::Index(i) => Err(SeriesError::NoColumn(format!(
                "{i} (the file has columns 0 to {})",
                self.columns().saturating_sub(1)
            ))),
            Column::Name(n) => self
                .header
                .as_ref()
                .and_then(|h| h.iter().position(|x| x.eq_ignore_ascii_case(n)))
                .ok_or_else(|| match &self.header {
                    Some(h) => {
                        SeriesError::NoColumn(format!("\"{n}\" (the header has: {})", h.join(", ")))
                    }
                    None => SeriesError::NoColumn(format!(
                        "\"{n}\": the file has no header; give a 0-based index"
                    )),
                }),
        }
    }

    fn number(&self, line: usize, c: usize, text: &str) -> Result<f32, SeriesError> {
        let v: f64 = text.parse().map_err(|_| SeriesError::NotANumber {
            line,
            column: c + 1,
            name: self.name(c),
            text: if text.is_empty() {
                "(empty)".into()
            } else {
                text.to_string()
            },
        })?;
        if !v.is_finite() {
            return Err(SeriesError::NotFinite {
                line,
                column: c + 1,
                name: self.name(c),
            });
        }
        if v.abs() > f32::MAX as f64 {
            return Err(SeriesError::OutOfRange {
                line,
                column: c + 1,
                name: self.name(c),
            });
        }
        Ok(v as f32)
    }
}

/// Whether two labels are the same class: as numbers when both are (1 = 1.0),
/// else as trimmed text.
pub fn same_label(a: &str, b: &str) -> bool {
    match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

/// UCR shape: each row is one series. With `label`, that column is the
/// class, and a row is normal when its class equals `normal_label`
/// (default "1").
pub fn ucr(
    table: &Table,
    label: Option<&Column>,
    normal_label: Option<&str>,
) -> Result<SeriesSet, SeriesError> {
    let label = label.map(|c| table.resolve(c)).transpose()?;
    let len = table.columns() - label.is_some() as usize;
    if len < 2 {
        return Err(SeriesError::Bad(
            "a UCR-style row needs at least two values besides the label".into(),
        ));
    }
    let normal = normal_label.unwrap_or("1");
    let mut values = Vec::with_capacity(table.rows.len() * len);
    let mut anomalous = Vec::with_capacity(table.rows.len());
    for (line, row) in &table.rows {
        for (c, f) in row.iter().enumerate() {
            if Some(c) == label {
                anomalous.push(!same_label(f, normal));
            } else {
                values.push(table.number(*line, c, f)?);
            }
        }
    }
    Ok(SeriesSet {
        len,
        values,
        anomalous: label.map(|_| anomalous),
    })
}

/// One long series with a label per point.
#[derive(Debug, Clone, PartialEq)]
pub struct LongSeries {
    pub values: Vec<f32>,
    /// Per point, `true` = anomalous; `None` when unlabelled.
    pub labels: Option<Vec<bool>>,
    /// The timestamps as written, when there is a timestamp column.
    pub timestamps: Option<Vec<String>>,
}

/// Long shape: a value column, an optional timestamp column and an optional
/// 0/1 label column.
pub fn long(
    table: &Table,
    value: &Column,
    timestamp: Option<&Column>,
    label: Option<&Column>,
) -> Result<LongSeries, SeriesError> {
    let v = table.resolve(value)?;
    let t = timestamp.map(|c| table.resolve(c)).transpose()?;
    let l = label.map(|c| table.resolve(c)).transpose()?;
    let mut values = Vec::with_capacity(table.rows.len());
    let mut labels = Vec::new();
    let mut stamps = Vec::new();
    for (line, row) in &table.rows {
        values.push(table.number(*line, v, row[v])?);
        if let Some(l) = l {
            labels.push(match row[l].trim() {
                "0" | "0.0" | "false" | "normal" => false,
                "1" | "1.0" | "true" | "anomaly" => true,
                other => {
                    return Err(SeriesError::BadLabel {
                        line: *line,
                        column: l + 1,
                        text: other.to_string(),
                    })
                }
            });
        }
        if let Some(t) = t {
            stamps.push(row[t].to_string());
        }
    }
    Ok(LongSeries {
        values,
        labels: l.map(|_| labels),
        timestamps: t.map(|_| stamps),
    })
}

impl LongSeries {
    /// Windows of `window` points every `stride` points; a window is
    /// anomalous when any of its points is.
    pub fn windows(&self, window: usize, stride: usize) -> Result<SeriesSet, SeriesError> {
        if window < 2 || stride == 0 {
            return Err(SeriesError::Bad(
                "the window must be at least 2 points and the stride at least 1".into(),
            ));
        }
        let n = self.values.len();
        if n < window {
            return Err(SeriesError::TooShort { points: n, window });
        }
        let starts: Vec<usize> = (0..=n - window).step_by(stride).collect();
        if starts.len() * window > MAX_VALUES {
            return Err(SeriesError::TooManyValues);
        }
        let mut values = Vec::with_capacity(starts.len() * window);
        for &s in &starts {
            values.extend_from_slice(&self.values[s..s + window]);
        }
        Ok(SeriesSet {
            len: window,
            values,
            anomalous: self.labels.as_ref().map(|l| {
                starts
                    .iter()
                    .map(|&s| l[s..s + window].iter().any(|&b| b))
                    .collect()
            }),
        })
    }
}

/// Which shape a table has, guessed: many columns is UCR, few is long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Ucr,
    Long,
}

pub fn guess_shape(table: &Table) -> Shape {
    if table.columns() >= 8 {
        Shape::Ucr
    } else {
        Shape::Long
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ucr_with_tabs_and_labels() {
        let t = parse_table("1\t0.5\t0.25\n2\t1\t2\n1\t3\t4\n", None).unwrap();
        assert_eq!(t.separator, Separator::Tab);
        assert!(t.header.is_none());
        let s = ucr(&t, Some(&Column::Index(0)), Some("1")).unwrap();
        assert_eq!((s.len, s.count()), (2, 3));
        assert_eq!(s.values, vec![0.5, 0.25, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.anomalous, Some(vec![false, true, false]));
        assert_eq!(s.select(false).count(), 2);
        // "1.0" is the same label as "1".
        let t = parse_table("1.0;1;2\n", None).unwrap();
        assert_eq!(t.separator, Separator::Semicolon);
        let s = ucr(&t, Some(&Column::Index(0)), None).unwrap();
        assert_eq!(s.anomalous, Some(vec![false]));
    }

    #[test]
    fn long_with_header_windows() {
        let text = "timestamp,value,label\n2020-01-01 00:00,1,0\n2020-01-01 00:05,2,0\n2020-01-01 00:10,3,1\n2020-01-01 00:15,4,0\n";
        let t = parse_table(text, None).unwrap();
        assert_eq!(t.header.as_ref().unwrap()[1], "value");
        assert_eq!(guess_shape(&t), Shape::Long);
        let l = long(
            &t,
            &Column::parse("value"),
            Some(&Column::parse("timestamp")),
            Some(&Column::parse("LABEL")),
        )
        .unwrap();
        assert_eq!(l.values, vec![1.0, 2.0, 3.0, 4.0]);
        let w = l.windows(2, 1).unwrap();
        assert_eq!(w.values, vec![1.0, 2.0, 2.0, 3.0, 3.0, 4.0]);
        assert_eq!(w.anomalous, Some(vec![false, true, true]));
        assert_eq!(
            l.windows(5, 1).unwrap_err(),
            SeriesError::TooShort {
                points: 4,
                window: 5
            }
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse_table("1,2,3\n4,5\n", None).unwrap_err();
        assert_eq!(
            e,
            SeriesError::Ragged {
                line: 2,
                expected: 3,
                found: 2
            }
        );
        assert!(e.to_string().contains("line 2"));
        let t = parse_table("a,b\n1,2\n3,x\n", None).unwrap();
        let e = long(&t, &Column::parse("b"), None, None).unwrap_err();
        assert!(
            e.to_string().contains("line 3, column 2 (\"b\")") && e.to_string().contains("\"x\""),
            "{e}"
        );
        let t = parse_table("1,2\n3,NaN\n", None).unwrap();
        let e = ucr(&t, None, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2, column 2: the value is NaN or infinite"
        );
        assert_eq!(text_of(b"").unwrap_err(), SeriesError::Empty);
        assert_eq!(text_of(b" \n\n").unwrap_err(), SeriesError::Empty);
        assert_eq!(text_of(&[0xff, 0xfe, 0]).unwrap_err(), SeriesError::Utf16);
        assert_eq!(
            text_of(&[0xc3, 0x28, b'1']).unwrap_err(),
            SeriesError::NotText
        );
        assert_eq!(parse_table("a,b\n", None).unwrap_err(), SeriesError::Empty);
        let t = parse_table("v\n1\n", None).unwrap();
        assert!(long(&t, &Column::parse("value"), None, None)
            .unwrap_err()
            .to_string()
            .contains("the header has: v"));
        let t = parse_table("v,l\n1,2\n", None).unwrap();
        assert!(matches!(
            long(&t, &Column::Index(0), None, Some(&Column::Index(1))),
            Err(SeriesError::BadLabel { line: 2, .. })
        ));
        let big = vec![b'1'; MAX_CSV_BYTES + 1];
        assert!(matches!(text_of(&big), Err(SeriesError::TooLarge(_))));
    }
}
