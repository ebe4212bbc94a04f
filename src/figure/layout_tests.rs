//! The charts' text layout, checked natively: every chart the page draws,
//! at its full width and at a phone's (a 360-px screen leaves the canvas
//! about 312 px), with its text measured in the bundled font. No label may
//! leave the canvas or overlap another, and integer axes have integer
//! labels.

use super::anomaly::{
    draw_beat_on, draw_histogram_on, draw_reconstructions_on, draw_roc_on, draw_series_view_on,
};
use super::{draw_loss_chart_on, register_fonts, CurvePoint};
use crate::labs::anomaly::Cut;
use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendTextStyle, DrawingErrorKind, FontTransform,
};
use std::cell::RefCell;
use std::rc::Rc;

/// One text drawn: its string and its box in pixels, `x0..x1` × `y0..y1`.
#[derive(Debug, Clone)]
struct Text {
    text: String,
    x0: i32,
    y0: i32,
    x1: i32,
    y1: i32,
    rotated: bool,
}

/// A backend that keeps the texts drawn on it, laid out as the bitmap
/// backend lays them out (anchor, rotation), and draws nothing.
struct Recorder {
    size: (u32, u32),
    texts: Rc<RefCell<Vec<Text>>>,
}

#[derive(Debug)]
struct Never;
impl std::fmt::Display for Never {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("never")
    }
}
impl std::error::Error for Never {}

impl DrawingBackend for Recorder {
    type ErrorType = Never;

    fn get_size(&self) -> (u32, u32) {
        self.size
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Never>> {
        Ok(())
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Never>> {
        Ok(())
    }

    fn draw_pixel(
        &mut self,
        _: BackendCoord,
        _: BackendColor,
    ) -> Result<(), DrawingErrorKind<Never>> {
        Ok(())
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Never>> {
        if text.trim().is_empty() {
            return Ok(());
        }
        let ((min_x, min_y), (max_x, max_y)) = style
            .layout_box(text)
            .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (w, h) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -w,
            HPos::Center => -w / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -h / 2,
            VPos::Bottom => -h,
        };
        let t: FontTransform = style.transform();
        let rotated = !matches!(t, FontTransform::None);
        let corners = [(dx, dy), (dx + w, dy), (dx, dy + h), (dx + w, dy + h)]
            .map(|(x, y)| t.transform(x, y));
        let xs = corners.map(|c| c.0 + pos.0);
        let ys = corners.map(|c| c.1 + pos.1);
        self.texts.borrow_mut().push(Text {
            text: text.to_string(),
            x0: *xs.iter().min().unwrap(),
            x1: *xs.iter().max().unwrap(),
            y0: *ys.iter().min().unwrap(),
            y1: *ys.iter().max().unwrap(),
            rotated,
        });
        Ok(())
    }
}

/// The texts `draw` puts on a `w`×`h` canvas.
fn texts(
    (w, h): (u32, u32),
    draw: impl FnOnce(&DrawingArea<Recorder, plotters::coord::Shift>),
) -> Vec<Text> {
    register_fonts().unwrap();
    let texts = Rc::new(RefCell::new(Vec::new()));
    let root = Recorder {
        size: (w, h),
        texts: texts.clone(),
    }
    .into_drawing_area();
    draw(&root);
    texts.take()
}

/// Every text inside the canvas, and no two overlapping.
fn check(name: &str, (w, h): (u32, u32), texts: &[Text]) {
    assert!(!texts.is_empty(), "{name} at {w}×{h}: no text drawn");
    for t in texts {
        assert!(
            t.x0 >= 0 && t.y0 >= 0 && t.x1 <= w as i32 && t.y1 <= h as i32,
            "{name} at {w}×{h}: {:?} leaves the canvas ({}..{} × {}..{})",
            t.text,
            t.x0,
            t.x1,
            t.y0,
            t.y1
        );
    }
    for (i, a) in texts.iter().enumerate() {
        for b in &texts[i + 1..] {
            let apart = a.x1 <= b.x0 || b.x1 <= a.x0 || a.y1 <= b.y0 || b.y1 <= a.y0;
            assert!(
                apart,
                "{name} at {w}×{h}: {:?} ({}..{} × {}..{}) overlaps {:?} ({}..{} × {}..{})",
                a.text, a.x0, a.x1, a.y0, a.y1, b.text, b.x0, b.x1, b.y0, b.y1
            );
        }
    }
}

/// The tick labels along the bottom: the lowest row of upright texts but
/// the axis description `desc` (or the part of it the chart kept).
fn bottom_labels(texts: &[Text], desc: &str) -> Vec<String> {
    let ticks: Vec<&Text> = texts
        .iter()
        .filter(|t| !t.rotated && !t.text.starts_with(desc))
        .collect();
    let lowest = ticks.iter().map(|t| t.y0).max().unwrap_or(0);
    ticks
        .iter()
        .filter(|t| (t.y0 - lowest).abs() <= 2)
        .map(|t| t.text.clone())
        .collect()
}

fn whole(labels: &[String]) -> bool {
    labels.iter().all(|l| l.parse::<i64>().is_ok())
}

/// The page's canvas sizes (index.html) and the same charts at phone width
/// (`web::chart_root` draws at the shown width, at least 3/4 of the height).
fn sizes(full: (u32, u32)) -> [(u32, u32); 2] {
    let w = 312;
    let h = (full.1 as f64 * (w as f64 / full.0 as f64).max(0.75)).round() as u32;
    [full, (w, h)]
}

fn curve(epochs: usize, steps: usize) -> (Vec<CurvePoint>, Vec<CurvePoint>) {
    let train = (0..epochs * steps)
        .map(|i| (i as f64 / steps as f64, 0.3 / (1.0 + i as f64 * 0.1) + 0.05))
        .collect();
    let valid = (1..=epochs)
        .map(|e| (e as f64, 0.3 / (1.0 + e as f64) + 0.06))
        .collect();
    (train, valid)
}

#[test]
fn loss_charts_fit_their_labels_with_whole_epochs() {
    for epochs in [1, 3, 10, 50, 140] {
        let (train, valid) = curve(epochs, 4);
        for size in sizes((640, 320)).into_iter().chain(sizes((640, 260))) {
            let t = texts(size, |root| {
                draw_loss_chart_on(root, &train, &valid, epochs).unwrap();
            });
            check(&format!("the loss chart, {epochs} epochs"), size, &t);
            let x = bottom_labels(&t, "epoch");
            assert!(x.len() >= 2, "{epochs} epochs at {size:?}: x labels {x:?}");
            assert!(whole(&x), "{epochs} epochs at {size:?}: x labels {x:?}");
        }
    }
}

#[test]
fn series_plots_fit_their_labels_with_whole_points() {
    let values: Vec<f32> = (0..4500).map(|i| (i as f32 * 0.05).sin()).collect();
    for (x0, n) in [(0usize, 140usize), (2250, 2250), (10_000, 4500)] {
        for size in sizes((900, 240)).into_iter().chain(sizes((900, 220))) {
            let v = &values[..n];
            let t = texts(size, |root| {
                draw_series_view_on(
                    root,
                    v,
                    x0,
                    None,
                    &[(x0 + 10, x0 + 30)],
                    (
                        "point of the file (red: labelled anomaly; yellow: flagged stretch)",
                        "value",
                    ),
                )
                .unwrap();
            });
            check(&format!("the series view from {x0}, {n} points"), size, &t);
            let x = bottom_labels(&t, "point of the file");
            assert!(x.len() >= 2, "{n} points at {size:?}: x labels {x:?}");
            assert!(whole(&x), "{n} points at {size:?}: x labels {x:?}");
        }
    }
}

#[test]
fn the_anomaly_plots_fit_their_labels() {
    let errors: Vec<f32> = (0..300).map(|i| 0.01 + (i % 37) as f32 * 0.002).collect();
    let anomalous: Vec<bool> = (0..300).map(|i| i % 7 == 0).collect();
    let cut = Cut {
        threshold: 0.06,
        floor: Some(0.012),
    };
    for size in sizes((560, 300)) {
        let t = texts(size, |root| {
            draw_histogram_on(root, &errors, &anomalous, cut, 40, "series").unwrap();
        });
        check("the error histogram", size, &t);
    }
    let curve: Vec<(f64, f64)> = (0..=20)
        .map(|i| (i as f64 / 20.0, (i as f64 / 20.0).sqrt()))
        .collect();
    for size in sizes((340, 300)) {
        let t = texts(size, |root| {
            draw_roc_on(root, &curve, 0.9731, (0.1, 0.8)).unwrap()
        });
        check("the ROC curve", size, &t);
    }
    let beat: Vec<f32> = (0..140).map(|i| (i as f32 * 0.1).sin()).collect();
    let items: Vec<(String, Vec<f32>, Vec<f32>)> = (0..4)
        .map(|k| {
            (
                format!("normal #{k}: error 0.0{k}42"),
                beat.clone(),
                beat.clone(),
            )
        })
        .collect();
    for (w, h) in sizes((900, 220)) {
        // The page stacks rows of panels on a narrow canvas (web::chart_root).
        let size = (
            w,
            h * super::anomaly::reconstructions_layout(w, items.len()).1 as u32,
        );
        let t = texts(size, |root| draw_reconstructions_on(root, &items).unwrap());
        check("the reconstructions", size, &t);
    }
    for size in sizes((900, 280)) {
        let t = texts(size, |root| {
            draw_beat_on(
                root,
                &beat,
                &beat,
                (-1.5, 1.5),
                "error 0.0421: not above the threshold 0.0600, passes as normal",
            )
            .unwrap();
        });
        check("the drawn series", size, &t);
        let x = bottom_labels(&t, "point (drag to draw)");
        assert!(whole(&x), "the drawn series at {size:?}: x labels {x:?}");
    }
}
