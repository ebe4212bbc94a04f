//! The bad-input catalogue: every malformed input gets its own clear
//! message, and none panics. One row per case: what it is, the bytes, and
//! a piece of the message it must give.

use aelab::data::idx::{parse_idx, write_idx};
use aelab::data::series::{self, Column};
use aelab::data::Mnist;
use aelab::models::record::{self, Weights};
use aelab::models::{Classifier, ClassifierConfig, Denoiser, DenoiserConfig};
use aelab::platform::CpuBackend;

/// Reads CSV bytes as the Anomaly tab does with its default options: the
/// shape is guessed; UCR files take column 0 as the label (normal = 1);
/// long files take "value" (else the last column) and "label" when present,
/// cut into windows of 48 every 8.
fn csv(bytes: &[u8]) -> Result<usize, String> {
    let raw = series::maybe_gunzip(bytes).map_err(|e| e.to_string())?;
    let text = series::text_of(&raw).map_err(|e| e.to_string())?;
    let t = series::parse_table(text, None).map_err(|e| e.to_string())?;
    match series::guess_shape(&t) {
        series::Shape::Ucr => series::ucr(&t, Some(&Column::Index(0)), None)
            .map(|s| s.count())
            .map_err(|e| e.to_string()),
        series::Shape::Long => {
            let has_label = t
                .header
                .as_ref()
                .is_some_and(|h| h.iter().any(|x| x.eq_ignore_ascii_case("label")));
            let value = t.default_value_column();
            let label = has_label.then(|| Column::parse("label"));
            let l = series::long(&t, &value, None, label.as_ref()).map_err(|e| e.to_string())?;
            l.windows(48, 8)
                .map(|w| w.count())
                .map_err(|e| e.to_string())
        }
    }
}

fn ucr_row(label: &str, n: usize) -> String {
    let vals: Vec<String> = (0..n).map(|i| format!("{}", i as f32 * 0.1)).collect();
    format!("{label},{}\n", vals.join(","))
}

fn long_rows(n: usize, label: bool) -> String {
    let mut s = String::from(if label { "value,label\n" } else { "value\n" });
    for i in 0..n {
        if label {
            s += &format!("{},0\n", (i as f32 * 0.1).sin());
        } else {
            s += &format!("{}\n", (i as f32 * 0.1).sin());
        }
    }
    s
}

fn gz(b: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

#[test]
fn csv_catalogue() {
    let utf16: Vec<u8> = "1,2,3\n"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let mut utf16_bom = vec![0xff, 0xfe];
    utf16_bom.extend(&utf16);
    let bom_ok = [&[0xef, 0xbb, 0xbf][..], ucr_row("1", 10).as_bytes()].concat();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("a 0-byte upload", vec![], "empty"),
        ("only blank lines", b"\n\n  \n".to_vec(), "empty"),
        (
            "binary junk",
            vec![0x00, 0x01, 0xfe, 0x80, 0x90, 0xff, 0x00],
            "not text",
        ),
        (
            "invalid UTF-8",
            vec![b'1', b',', 0xc3, 0x28, b'\n'],
            "not text",
        ),
        ("UTF-16 with a BOM", utf16_bom, "UTF-16"),
        ("UTF-16 without a BOM", utf16, "UTF-16"),
        ("a header only", b"a,b,c,d,e,f,g,h,i\n".to_vec(), "empty"),
        (
            "comments only",
            b"# nothing here\n# still nothing\n".to_vec(),
            "empty",
        ),
        (
            "ragged UCR rows",
            format!("{}1,2,3\n", ucr_row("1", 10)).into_bytes(),
            "line 2 has 3 fields, but the first data row has 11",
        ),
        (
            "a ragged long row",
            b"value,label\n1,0\n2\n".to_vec(),
            "line 3 has 1 fields",
        ),
        (
            "NaN in a series",
            ucr_row("1", 10).replace("0.3", "NaN").into_bytes(),
            "line 1, column 5: the value is NaN or infinite",
        ),
        (
            "Inf in a series",
            ucr_row("1", 10).replace("0.3", "inf").into_bytes(),
            "NaN or infinite",
        ),
        (
            "-Infinity in a series",
            ucr_row("1", 10).replace("0.3", "-Infinity").into_bytes(),
            "NaN or infinite",
        ),
        (
            "a huge number",
            ucr_row("1", 10).replace("0.3", "1e300").into_bytes(),
            "too large for 32-bit floats",
        ),
        (
            "a word among numbers",
            format!(
                "{}{}",
                ucr_row("1", 10),
                ucr_row("1", 10).replace("0.4", "abc")
            )
            .into_bytes(),
            "line 2, column 6: \"abc\" is not a number",
        ),
        (
            "an empty field",
            ucr_row("1", 10).replace(",0.5,", ",,").into_bytes(),
            "line 1, column 7: \"(empty)\" is not a number",
        ),
        (
            "a named column with a word",
            b"value,label\n1,0\nx,0\n".to_vec(),
            "line 3, column 1 (\"value\"): \"x\" is not a number",
        ),
        (
            "a wrong label value",
            format!("{}1,2\n", long_rows(60, true)).into_bytes(),
            "the label \"2\" is not 0 or 1",
        ),
        (
            "a series shorter than the window",
            long_rows(30, false).into_bytes(),
            "30 points, fewer than the window of 48",
        ),
        (
            "one row, one value",
            b"5\n".to_vec(),
            "fewer than the window",
        ),
        (
            "one column of UCR",
            b"1\n2\n3\n".to_vec(),
            "fewer than the window",
        ),
        (
            "a UCR row with only a label and one value",
            b"1,2,3,4,5,6,7,8\n".to_vec(),
            "",
        ),
        (
            "semicolons with decimal commas",
            b"1;0,5;0,7;0,1;0,2;0,3;0,4;0,9;0,8\n1;0,5;0,7;0,1;0,2;0,3;0,4;0,9;0,8\n".to_vec(),
            "a decimal comma?",
        ),
        (
            "a corrupt gzip stream",
            vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3],
            "gzip data is corrupt",
        ),
        (
            "gzipped NaN",
            gz(ucr_row("1", 10).replace("0.2", "nan").as_bytes()),
            "NaN or infinite",
        ),
        ("a BOM before good data", bom_ok, ""),
    ];
    assert!(cases.len() >= 25);
    for (what, bytes, want) in &cases {
        let got =
            std::panic::catch_unwind(|| csv(bytes)).unwrap_or_else(|_| panic!("{what}: panicked"));
        match (got, want.is_empty()) {
            (Ok(_), true) => {}
            (Ok(n), false) => {
                panic!("{what}: accepted ({n} series), expected an error with \"{want}\"")
            }
            (Err(e), true) => panic!("{what}: refused with \"{e}\", expected to be read"),
            (Err(e), false) => assert!(
                e.contains(want),
                "{what}: the message \"{e}\" lacks \"{want}\""
            ),
        }
    }
    // Over the limit: refused before parsing, with the limit stated.
    let big = vec![b'1'; series::MAX_CSV_BYTES + 1];
    let e = csv(&big).unwrap_err();
    assert!(e.contains("over the limit of 50 MB"), "{e}");
}

#[test]
fn idx_and_weights_catalogue() {
    let images = write_idx(&[2, 28, 28], &vec![0u8; 2 * 784]);
    let labels = write_idx(&[2], &[3, 4]);
    assert!(Mnist::from_idx(&images, &labels).is_ok());
    let idx_cases: Vec<(&str, Vec<u8>, Vec<u8>, &str)> = vec![
        (
            "an empty image file",
            vec![],
            labels.clone(),
            "header alone needs",
        ),
        (
            "a wrong magic number",
            b"PK\x03\x04 this is a zip".to_vec(),
            labels.clone(),
            "magic number is 50 4b 03 04",
        ),
        (
            "a truncated image file",
            images[..images.len() - 100].to_vec(),
            labels.clone(),
            "truncated",
        ),
        (
            "trailing bytes",
            [images.clone(), vec![0; 5]].concat(),
            labels.clone(),
            "5 bytes more",
        ),
        (
            "labels as images",
            labels.clone(),
            labels.clone(),
            "dimensions",
        ),
        (
            "too few labels",
            images.clone(),
            write_idx(&[1], &[3]),
            "2 images but the label file holds 1",
        ),
        (
            "a label over 9",
            images.clone(),
            write_idx(&[2], &[3, 12]),
            "12",
        ),
        (
            "16×16 images",
            write_idx(&[1, 16, 16], &[0; 256]),
            write_idx(&[1], &[0]),
            "16x16",
        ),
        (
            "corrupt gzip",
            vec![0x1f, 0x8b, 8, 0, 9, 9, 9, 9],
            labels.clone(),
            "gzip",
        ),
    ];
    for (what, im, lb, want) in &idx_cases {
        let e = Mnist::from_idx(im, lb)
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"))
            .to_string();
        assert!(
            e.contains(want),
            "{what}: the message \"{e}\" lacks \"{want}\""
        );
    }
    assert!(
        parse_idx(&[0, 0, 8, 1, 0xff, 0xff, 0xff, 0xff], 1).is_err(),
        "an absurd count"
    );

    let dev = CpuBackend::Flex.device();
    let den = DenoiserConfig::canonical().init(&dev);
    let good =
        record::to_bytes(&den, &DenoiserConfig::canonical(), serde_json::Value::Null).unwrap();
    let cls = ClassifierConfig::new().init(&dev);
    let cls_bytes =
        record::to_bytes(&cls, &ClassifierConfig::new(), serde_json::Value::Null).unwrap();
    let mut bad_header = good.clone();
    bad_header[12] = b'!';
    let mut absurd = good.clone();
    absurd[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut wrong_width = b"AELABW01".to_vec();
    let h = br#"{"model":"denoiser","config":{"kind":"Canonical","width":100000,"bottleneck":64,"depth":3}}"#;
    wrong_width.extend((h.len() as u32).to_le_bytes());
    wrong_width.extend(h);
    wrong_width.extend(b"xx");
    let weight_cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("0 bytes", vec![], "empty"),
        (
            "not aelab",
            b"GIF89a......".to_vec(),
            "not an aelab weights file",
        ),
        ("a truncated header", good[..20].to_vec(), "truncated"),
        (
            "a truncated record",
            good[..good.len() / 2].to_vec(),
            "do not fit",
        ),
        ("a header that is not JSON", bad_header, "header is corrupt"),
        ("an absurd header length", absurd, "absurd"),
        (
            "weights for another model",
            cls_bytes,
            "holds a classifier model, but a denoiser was expected",
        ),
        (
            "an impossible configuration",
            wrong_width,
            "width is 100000",
        ),
        (
            "no record after the header",
            good[..12 + u32::from_le_bytes(good[8..12].try_into().unwrap()) as usize].to_vec(),
            "truncated",
        ),
    ];
    for (what, bytes, want) in &weight_cases {
        let r =
            std::panic::catch_unwind(|| record::from_bytes::<Denoiser>(bytes, &dev).map(|_| ()))
                .unwrap_or_else(|_| panic!("{what}: panicked"));
        let e = r
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"))
            .to_string();
        assert!(
            e.contains(want),
            "{what}: the message \"{e}\" lacks \"{want}\""
        );
    }
    // The classifier refuses a denoiser file the same way.
    let e = record::from_bytes::<Classifier>(&good, &dev)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("a classifier was expected"), "{e}");
    let _ = <Denoiser as Weights>::NAME;
}

/// Files the Anomaly tab and `aelab anomaly` read through the core
/// (`labs::anomaly::data::load`, then one file's split): each problem gets
/// its message, and a constant series is read and scaled without dividing
/// by zero.
#[test]
fn series_file_catalogue() {
    use aelab::labs::anomaly::data::{load, Loaded, RunData, SeriesOptions, SplitAt};
    use aelab::platform::block_on;
    let read = |csv: &str| -> Result<RunData, String> {
        let (loaded, _) = block_on(load(csv.as_bytes(), &SeriesOptions::default()))?;
        RunData::one_file("f.csv", loaded, 48, 8, SplitAt::HALF)
    };
    let long = |f: &dyn Fn(usize) -> String| {
        let mut s = String::from("timestamp,value\n");
        for i in 0..600 {
            s += &format!("{},{}\n", 1000 + i, f(i));
        }
        s
    };
    let ucr = |classes: &[&str]| -> String { classes.iter().map(|c| ucr_row(c, 10)).collect() };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "an all-NaN value column",
            long(&|_| "NaN".into()),
            "the value is NaN",
        ),
        (
            "a timestamp going back",
            long(&|i| format!("{}", (i as f32 * 0.1).sin())).replace("\n1300,", "\n900,"),
            "goes back in time",
        ),
        (
            "a label column whose normal class is a tie",
            ucr(&["3", "4", "3", "4", "3", "4", "3", "4"]),
            "equally common",
        ),
        (
            "a file too short to split",
            long(&|i| format!("{i}"))
                .lines()
                .take(200)
                .collect::<Vec<_>>()
                .join("\n"),
            "needs at least 240",
        ),
    ];
    for (what, csv, want) in &cases {
        let got =
            std::panic::catch_unwind(|| read(csv)).unwrap_or_else(|_| panic!("{what}: panicked"));
        match got {
            Ok(_) => panic!("{what}: accepted, expected an error with \"{want}\""),
            Err(e) => assert!(
                e.contains(want),
                "{what}: the message \"{e}\" lacks \"{want}\""
            ),
        }
    }
    // Several classes (ECG5000's 1–5) are fine: 1 is normal.
    assert!(read(&ucr(&[
        "1", "2", "1", "5", "3", "1", "1", "1", "1", "1", "1", "1", "4"
    ]))
    .is_ok());
    // A constant series: read, and scaled to finite values.
    let d = read(&long(&|_| "7.5".into())).expect("a constant series is data");
    let scaler = aelab::labs::anomaly::Scaler::fit(&d.train.values).unwrap();
    let scaled = scaler.apply(&[7.5, 8.0, -3.0]);
    assert_eq!(
        scaled,
        vec![0.0, 0.5, -10.5],
        "shifted, not divided by a zero range"
    );
    let Loaded::Long(_) = block_on(load(
        long(&|_| "1".into()).as_bytes(),
        &SeriesOptions::default(),
    ))
    .unwrap()
    .0
    else {
        panic!("a two-column file is long")
    };
}
