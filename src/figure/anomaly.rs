//! The anomaly lab's plots, on any plotters backend (a canvas in the page):
//! the error histogram with the threshold, the ROC curve, a long series
//! with its flagged windows shaded, and reconstructions over inputs.

use crate::figure::Swatch;
use plotters::coord::Shift;
use plotters::prelude::*;

const BLUE: RGBColor = RGBColor(47, 111, 222);
const RED_: RGBColor = RGBColor(198, 40, 40);
const GREY: RGBColor = RGBColor(235, 235, 240);

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn range(values: impl Iterator<Item = f32>) -> (f32, f32) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        (0.0, 1.0)
    } else if hi - lo < 1e-9 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// Where the histogram's x axis lies on the canvas, so that the page can
/// turn a drag into a threshold: pixels `x0..x1` map to errors `lo..hi`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Axis {
    pub x0: i32,
    pub x1: i32,
    pub lo: f32,
    pub hi: f32,
}

/// Histograms of the errors of normal (blue) and anomalous (red) items,
/// with the threshold as a vertical line.
pub fn draw_histogram_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    errors: &[f32],
    anomalous: &[bool],
    cut: crate::labs::anomaly::Cut,
    bins: usize,
    items: &str,
) -> Result<Axis, String> {
    let threshold = cut.threshold;
    root.fill(&WHITE).map_err(err)?;
    let (lo, hi0) = range(errors.iter().copied().chain([threshold]).chain(cut.floor));
    let hi = hi0 + (hi0 - lo) * 0.02;
    let bins = bins.max(5);
    let w = (hi - lo) / bins as f32;
    let mut counts = vec![[0usize; 2]; bins];
    for (&e, &a) in errors.iter().zip(anomalous) {
        if e.is_finite() {
            let b = (((e - lo) / w) as usize).min(bins - 1);
            counts[b][a as usize] += 1;
        }
    }
    let top = counts
        .iter()
        .map(|c| c[0].max(c[1]))
        .max()
        .unwrap_or(1)
        .max(1) as f32;
    let (cw, ch) = root.dim_in_pixel();
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        // Room for the last tick's label, centred on the right edge.
        .margin_right(26)
        .x_label_area_size(34)
        .y_label_area_size(46)
        .build_cartesian_2d(lo..hi, 0f32..top * 1.08)
        .map_err(err)?;
    let chars = crate::figure::tick_chars(lo as f64, hi as f64) + 1;
    chart
        .configure_mesh()
        .x_desc("reconstruction error (MAE, scaled)")
        .y_desc(items)
        .x_labels(crate::figure::labels_along(cw as i32 - 82, chars, 12, 10))
        // Counts: no more labels than whole numbers up to the top.
        .y_labels(crate::figure::labels_up(
            ch as i32 - 54,
            12,
            (top as usize + 1).min(11),
        ))
        .y_label_formatter(&|y| crate::figure::tick(*y as f64))
        .light_line_style(GREY)
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    let labelled = anomalous.iter().any(|&a| a);
    let mut legend = Vec::new();
    for (k, color) in [(0usize, BLUE), (1, RED_)] {
        if k == 1 && !labelled {
            continue;
        }
        chart
            .draw_series(counts.iter().enumerate().map(|(b, c)| {
                let x = lo + b as f32 * w;
                Rectangle::new([(x, 0.0), (x + w, c[k] as f32)], color.mix(0.45).filled())
            }))
            .map_err(err)?;
        let label = match (k, labelled) {
            (0, true) => "normal",
            (0, false) => "test items",
            _ => "anomalous",
        };
        legend.push((label, Swatch::Box(color.mix(0.6))));
    }
    chart
        .draw_series(LineSeries::new(
            [(threshold, 0.0), (threshold, top * 1.08)],
            BLACK.stroke_width(2),
        ))
        .map_err(err)?;
    legend.push(("threshold (drag it)", Swatch::Line(BLACK)));
    if let Some(f) = cut.floor.filter(|f| (lo..hi).contains(f)) {
        let grey = RGBColor(110, 110, 120);
        chart
            .draw_series(DashedLineSeries::new(
                [(f, 0.0), (f, top * 1.08)],
                5,
                4,
                grey.stroke_width(2),
            ))
            .map_err(err)?;
        legend.push(("floor: smoother is flagged", Swatch::Line(grey)));
    }
    crate::figure::draw_legend(chart.plotting_area(), &legend, 12)?;
    let x0 = chart.backend_coord(&(lo, 0.0)).0;
    let x1 = chart.backend_coord(&(hi, 0.0)).0;
    root.present().map_err(err)?;
    Ok(Axis { x0, x1, lo, hi })
}

/// The ROC curve, with the point of the current threshold.
pub fn draw_roc_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    curve: &[(f64, f64)],
    auroc: f64,
    at: (f64, f64),
) -> Result<(), String> {
    root.fill(&WHITE).map_err(err)?;
    let (w, h) = root.dim_in_pixel();
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .margin_right(18)
        .caption(format!("ROC, AUROC = {auroc:.4}"), ("sans-serif", 14))
        .x_label_area_size(34)
        .y_label_area_size(46)
        .build_cartesian_2d(0f64..1f64, 0f64..1.001f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("false-positive rate")
        .y_desc("true-positive rate")
        .x_labels(crate::figure::labels_along(w as i32 - 74, 3, 12, 11))
        .y_labels(crate::figure::labels_up(h as i32 - 74, 12, 11))
        .light_line_style(GREY)
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            RGBColor(180, 180, 190),
        ))
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(curve.iter().copied(), BLUE.stroke_width(2)))
        .map_err(err)?;
    chart
        .draw_series([Circle::new(at, 5, BLACK.filled())])
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// A long series: values, labelled anomalies (red background) and flagged
/// windows (yellow).
///
/// `x0` is the x of the first value (a test part's first point in its
/// file), so that the axis names the same points as the flagged stretches;
/// `flagged` is in those coordinates too. Its labels are whole numbers.
pub fn draw_series_view_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    values: &[f32],
    x0: usize,
    labels: Option<&[bool]>,
    flagged: &[(usize, usize)],
    (x_desc, y_desc): (&str, &str),
) -> Result<(), String> {
    root.fill(&WHITE).map_err(err)?;
    let n = values.len().max(2);
    let x0f = x0 as f32;
    let (lo, hi) = range(values.iter().copied());
    let pad = (hi - lo) * 0.05;
    let (w, h) = root.dim_in_pixel();
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        // Room for the last tick's label, centred on the right edge.
        .margin_right(28)
        .x_label_area_size(30)
        .y_label_area_size(46)
        .build_cartesian_2d(x0f..x0f + n as f32, lo - pad..hi + pad)
        .map_err(err)?;
    let chars = crate::figure::tick((x0 + n) as f64).len();
    chart
        .configure_mesh()
        .x_desc(crate::figure::fit_text(
            root,
            x_desc,
            12,
            w.saturating_sub(60),
        ))
        .y_desc(y_desc)
        // Points are whole: no more labels than points, so the step is ≥ 1.
        .x_labels(crate::figure::labels_along(w as i32 - 84, chars, 12, 10).min(n))
        .y_labels(crate::figure::labels_up(h as i32 - 50, 12, 10))
        .x_label_formatter(&|x| crate::figure::tick(*x as f64))
        .light_line_style(GREY)
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    let band = |a: usize, b: usize, color: RGBAColor| {
        Rectangle::new([(a as f32, lo - pad), (b as f32, hi + pad)], color.filled())
    };
    chart
        .draw_series(
            flagged
                .iter()
                .map(|&(a, b)| band(a, b, RGBColor(255, 200, 0).mix(0.35))),
        )
        .map_err(err)?;
    if let Some(l) = labels {
        let runs = crate::labs::anomaly::runs(l);
        chart
            .draw_series(
                runs.iter()
                    .map(|&(a, b)| band(x0 + a, x0 + b, RED_.mix(0.25))),
            )
            .map_err(err)?;
    }
    // Thin the line for very long series.
    let step = (values.len() / 4000).max(1);
    chart
        .draw_series(LineSeries::new(
            values
                .iter()
                .enumerate()
                .step_by(step)
                .map(|(i, &v)| (x0f + i as f32, v)),
            BLUE.stroke_width(1),
        ))
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Inputs (blue) and their reconstructions (red dashed look: thinner) for a
/// few series, one panel each, titled with their error.
pub fn draw_reconstructions_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    items: &[(String, Vec<f32>, Vec<f32>)],
) -> Result<(), String> {
    root.fill(&WHITE).map_err(err)?;
    if items.is_empty() {
        root.present().map_err(err)?;
        return Ok(());
    }
    let (cols, rows) = reconstructions_layout(root.dim_in_pixel().0, items.len());
    let panels = root.split_evenly((rows, cols));
    for (area, (title, input, recon)) in panels.iter().zip(items) {
        let (lo, hi) = range(input.iter().chain(recon).copied());
        let pad = (hi - lo) * 0.05;
        let (w, h) = area.dim_in_pixel();
        let chars = crate::figure::tick(input.len() as f64).len();
        let mut chart = ChartBuilder::on(area)
            .margin(6)
            .margin_right(16)
            .caption(title, ("sans-serif", 12))
            .x_label_area_size(20)
            .y_label_area_size(34)
            .build_cartesian_2d(0f32..input.len().max(2) as f32, lo - pad..hi + pad)
            .map_err(err)?;
        // A panel is a few hundred pixels wide: four x labels at most.
        chart
            .configure_mesh()
            .x_labels(
                crate::figure::labels_along(w as i32 - 56, chars, 10, 4).min(input.len().max(2)),
            )
            .y_labels(crate::figure::labels_up(h as i32 - 52, 10, 5))
            .x_label_formatter(&|x| crate::figure::tick(*x as f64))
            .light_line_style(GREY)
            .label_style(("sans-serif", 10))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                input.iter().enumerate().map(|(i, &v)| (i as f32, v)),
                BLUE.stroke_width(2),
            ))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                recon.iter().enumerate().map(|(i, &v)| (i as f32, v)),
                RED_.stroke_width(1),
            ))
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// How the reconstructions' panels are laid out on a canvas `width` wide:
/// (columns, rows), each panel at least 220 px wide, so that a phone gets
/// one column (the page makes such a canvas taller: `web::anomaly`).
pub fn reconstructions_layout(width: u32, items: usize) -> (usize, usize) {
    let items = items.max(1);
    let cols = (width as usize / 220).clamp(1, items);
    (cols, items.div_ceil(cols))
}

/// Where a drawn series' plot lies on the canvas, so that the page can turn
/// a pointer into a point and a value: pixels `x0..x1` map to points
/// `0..len − 1`, and pixels `y0..y1` (top to bottom) to values `hi..lo`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct Frame {
    pub x0: i32,
    pub x1: i32,
    pub y0: i32,
    pub y1: i32,
    pub lo: f32,
    pub hi: f32,
    pub len: usize,
}

/// A drawn or edited series (blue) and the model's reconstruction of it
/// (red), in a fixed value range `lo..hi` so that the axes stay put while
/// the student draws; the caption says the error against the threshold.
pub fn draw_beat_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    beat: &[f32],
    recon: &[f32],
    (lo, hi): (f32, f32),
    caption: &str,
) -> Result<Frame, String> {
    root.fill(&WHITE).map_err(err)?;
    let last = beat.len().saturating_sub(1).max(1) as f32;
    let (w, h) = root.dim_in_pixel();
    // A caption too long for the canvas keeps its first clause ("error
    // 0.0421"); the page says the rest beside the plot.
    let caption = crate::figure::fit_text(root, caption, 13, w.saturating_sub(20));
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .caption(caption, ("sans-serif", 13))
        .margin_right(20)
        .x_label_area_size(40)
        .y_label_area_size(46)
        .build_cartesian_2d(0f32..last, lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("point (drag to draw)")
        .y_desc("value")
        .x_labels(
            crate::figure::labels_along(
                w as i32 - 76,
                crate::figure::tick(last as f64).len(),
                12,
                10,
            )
            .min(beat.len().max(2)),
        )
        .y_labels(crate::figure::labels_up(h as i32 - 80, 12, 10))
        .x_label_formatter(&|x| crate::figure::tick(*x as f64))
        .light_line_style(GREY)
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    let clamp = |v: f32| v.clamp(lo, hi);
    chart
        .draw_series(LineSeries::new(
            recon.iter().enumerate().map(|(i, &v)| (i as f32, clamp(v))),
            RED_.stroke_width(2),
        ))
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            beat.iter().enumerate().map(|(i, &v)| (i as f32, clamp(v))),
            BLUE.stroke_width(2),
        ))
        .map_err(err)?;
    crate::figure::draw_legend(
        chart.plotting_area(),
        &[
            ("reconstruction", Swatch::Line(RED_)),
            ("your series", Swatch::Line(BLUE)),
        ],
        12,
    )?;
    let (x0, y0) = chart.backend_coord(&(0.0, hi));
    let (x1, y1) = chart.backend_coord(&(last, lo));
    root.present().map_err(err)?;
    Ok(Frame {
        x0,
        x1,
        y0,
        y1,
        lo,
        hi,
        len: beat.len(),
    })
}
