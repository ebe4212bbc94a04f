//! The report figures and the training chart, drawn with plotters on any
//! drawing backend: a PNG natively (the CLI), a canvas in the browser.

pub mod anomaly;

use crate::labs::denoise::FigureData;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

#[cfg(not(target_arch = "wasm32"))]
static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

/// A tick label: a whole number without a decimal point ("20", not
/// "20.0"), any other value to two significant decimals.
pub fn tick(x: f64) -> String {
    if (x - x.round()).abs() < 1e-6 * x.abs().max(1.0) {
        format!("{}", x.round() as i64)
    } else {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// How many tick labels fit along an axis `pixels` long: each label is up
/// to `chars` characters of `size`-pixel text (about 0.6 × `size` wide each)
/// and needs two more of gap; at least 2, at most `most`. plotters picks
/// round values and never more than asked, so labels cannot crowd at a
/// phone's width (the layout tests check it, in the bundled font).
pub fn labels_along(pixels: i32, chars: usize, size: u32, most: usize) -> usize {
    let per = (chars as f64 + 2.0) * size as f64 * 0.62;
    ((pixels.max(0) as f64 / per) as usize).clamp(2, most.max(2))
}

/// How many tick labels of `size`-pixel text fit up an axis `pixels` tall,
/// with 0.8 of a line between them; at least 2, at most `most`.
pub fn labels_up(pixels: i32, size: u32, most: usize) -> usize {
    ((pixels.max(0) as f64 / (size as f64 * 1.8)) as usize).clamp(2, most.max(2))
}

/// `text`, or its first part (before " (" or ":") when the whole does not
/// fit in `room` pixels at `size`: on a phone an axis says "point of the
/// file" without its parenthesis.
pub fn fit_text<'a, DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: &'a str,
    size: u32,
    room: u32,
) -> &'a str {
    let style: TextStyle = ("sans-serif", size).into_font().into();
    let fits = |t: &str| {
        root.estimate_text_size(t, &style)
            .map(|(w, _)| w <= room)
            .unwrap_or(true)
    };
    if fits(text) {
        return text;
    }
    let head = text.split(" (").next().unwrap_or(text);
    head.split(':').next().unwrap_or(head).trim()
}

/// What a legend entry shows beside its label.
#[derive(Clone, Copy)]
pub enum Swatch {
    /// A line in this colour (2 px).
    Line(RGBColor),
    /// A filled box in this colour.
    Box(RGBAColor),
}

/// A legend in the upper right corner of `area` (a chart's plotting area):
/// a swatch and a label per entry, on a light box. Its text is measured by
/// the backend (plotters' own series labels measure text with the page's
/// DOM in the browser, which a worker has not).
pub fn draw_legend<DB: DrawingBackend, CT: plotters::coord::CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    entries: &[(&str, Swatch)],
    size: u32,
) -> Result<(), String> {
    let area = area.strip_coord_spec();
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let style: TextStyle = ("sans-serif", size).into_font().into();
    let sizes: Vec<(u32, u32)> = entries
        .iter()
        .map(|(t, _)| area.estimate_text_size(t, &style).map_err(|e| err(&e)))
        .collect::<Result<_, _>>()?;
    let (pad, swatch, gap) = (6, 16, 6);
    let line = sizes.iter().map(|s| s.1).max().unwrap_or(size) as i32 + 4;
    let text_w = sizes.iter().map(|s| s.0).max().unwrap_or(0) as i32;
    let (w, _) = area.dim_in_pixel();
    let box_w = pad * 2 + swatch + gap + text_w;
    let box_h = pad * 2 + line * entries.len() as i32;
    let (x0, y0) = (w as i32 - box_w - 8, 8);
    area.draw(&Rectangle::new(
        [(x0, y0), (x0 + box_w, y0 + box_h)],
        WHITE.mix(0.85).filled(),
    ))
    .map_err(|e| err(&e))?;
    area.draw(&Rectangle::new(
        [(x0, y0), (x0 + box_w, y0 + box_h)],
        RGBColor(200, 200, 210),
    ))
    .map_err(|e| err(&e))?;
    for (k, (label, sw)) in entries.iter().enumerate() {
        let y = y0 + pad + line * k as i32 + line / 2;
        let x = x0 + pad;
        match *sw {
            Swatch::Line(c) => area.draw(&PathElement::new(
                vec![(x, y), (x + swatch, y)],
                c.stroke_width(2),
            )),
            Swatch::Box(c) => area.draw(&Rectangle::new(
                [(x + 2, y - 5), (x + 14, y + 5)],
                c.filled(),
            )),
        }
        .map_err(|e| err(&e))?;
        let anchored = style.pos(Pos::new(HPos::Left, VPos::Center));
        area.draw_text(label, &anchored, (x + swatch + gap, y))
            .map_err(|e| err(&e))?;
    }
    Ok(())
}

/// The characters of the longer of `lo`'s and `hi`'s tick labels, plus one
/// for the in-between values' extra decimal.
pub fn tick_chars(lo: f64, hi: f64) -> usize {
    tick(lo).len().max(tick(hi).len()) + 1
}

/// Natively plotters draws text with a registered font; in the browser it
/// uses the canvas's own fonts.
#[cfg(not(target_arch = "wasm32"))]
fn register_fonts() -> Result<(), String> {
    use plotters::style::FontStyle;
    use std::sync::OnceLock;
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    RESULT
        .get_or_init(|| {
            for style in [FontStyle::Normal, FontStyle::Bold] {
                plotters::style::register_font("sans-serif", style, FONT)
                    .map_err(|_| "the bundled font could not be loaded".to_string())?;
            }
            Ok(())
        })
        .clone()
}

/// Draws the denoising figure: one column per digit 0–9; rows: clean, then
/// noisy and denoised for each level. The row names are on the y axis, the
/// digits on the x axis, and each denoised image carries the classifier's
/// verdict (green when right, red when wrong).
#[cfg(not(target_arch = "wasm32"))]
pub fn draw_denoise_figure(
    fig: &FigureData,
    out: &std::path::Path,
    title: &str,
) -> Result<(), String> {
    register_fonts()?;
    let root = BitMapBackend::new(out, denoise_figure_size(fig.levels.len())).into_drawing_area();
    draw_denoise_figure_on(&root, fig, title)
        .map_err(|e| format!("drawing {} failed: {e}", out.display()))
}

const CELL: i32 = 84; // 28 px × 3
const GAP: i32 = 6;
const LEFT: i32 = 160;
const TOP: i32 = 50;

/// The pixel size of the denoising figure with `levels` noise levels.
pub fn denoise_figure_size(levels: usize) -> (u32, u32) {
    let rows = 1 + 2 * levels as i32;
    (
        (LEFT + 10 * (CELL + GAP) + 20) as u32,
        (TOP + rows * (CELL + GAP) + 60) as u32,
    )
}

/// Draws the denoising figure on `root`, which should be
/// [`denoise_figure_size`] large.
pub fn draw_denoise_figure_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &FigureData,
    title: &str,
) -> Result<(), String> {
    let rows = 1 + 2 * fig.levels.len();
    let (cell, gap, left, top) = (CELL, GAP, LEFT, TOP);
    let w = denoise_figure_size(fig.levels.len()).0 as i32;
    let err = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let font = |size: i32| TextStyle::from(("sans-serif", size).into_font());
    root.draw(&Text::new(title.to_string(), (left, 12), font(20)))
        .map_err(|e| err(&e))?;
    let row_names: Vec<String> = std::iter::once("clean".to_string())
        .chain(
            fig.levels
                .iter()
                .flat_map(|f| [format!("noisy f={f}"), format!("denoised f={f}")]),
        )
        .collect();
    let axis = BLACK.stroke_width(1);
    let (x_axis_y, y_axis_x) = (top + rows as i32 * (cell + gap), left - 8);
    root.draw(&PathElement::new(
        vec![(y_axis_x, top - 4), (y_axis_x, x_axis_y)],
        axis,
    ))
    .map_err(|e| err(&e))?;
    root.draw(&PathElement::new(
        vec![(y_axis_x, x_axis_y), (w - 10, x_axis_y)],
        axis,
    ))
    .map_err(|e| err(&e))?;
    for (r, name) in row_names.iter().enumerate() {
        let yc = top + r as i32 * (cell + gap) + cell / 2;
        root.draw(&PathElement::new(
            vec![(y_axis_x - 5, yc), (y_axis_x, yc)],
            axis,
        ))
        .map_err(|e| err(&e))?;
        root.draw(&Text::new(
            name.clone(),
            (y_axis_x - 10, yc),
            font(15).pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(|e| err(&e))?;
    }
    for d in 0..10 {
        let xc = left + d * (cell + gap) + cell / 2;
        root.draw(&PathElement::new(
            vec![(xc, x_axis_y), (xc, x_axis_y + 5)],
            axis,
        ))
        .map_err(|e| err(&e))?;
        root.draw(&Text::new(
            d.to_string(),
            (xc, x_axis_y + 8),
            font(16).pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(|e| err(&e))?;
    }
    root.draw(&Text::new(
        "digit (first test example of each class)".to_string(),
        (left + 5 * (cell + gap), x_axis_y + 32),
        font(15).pos(Pos::new(HPos::Center, VPos::Top)),
    ))
    .map_err(|e| err(&e))?;
    let draw_img = |row: usize, col: usize, img: &[f32]| {
        let (x0, y0) = (
            left + col as i32 * (cell + gap),
            top + row as i32 * (cell + gap),
        );
        draw_digit(root, (x0, y0), cell / 28, img)
    };
    for d in 0..10 {
        draw_img(0, d, &fig.clean[d])?;
        for l in 0..fig.levels.len() {
            draw_img(1 + 2 * l, d, &fig.noisy[l][d])?;
            draw_img(2 + 2 * l, d, &fig.denoised[l][d])?;
        }
    }
    for l in 0..fig.levels.len() {
        let y = top + (2 + 2 * l as i32) * (cell + gap) + 2;
        for (d, v) in fig.verdicts[l].iter().enumerate() {
            let color = if v.digit as usize == d {
                RGBColor(0, 200, 0)
            } else {
                RED
            };
            let x = left + d as i32 * (cell + gap) + 3;
            root.draw(&Text::new(
                format!("{} ({:.0}%)", v.digit, v.confidence * 100.0),
                (x, y),
                font(13).color(&color),
            ))
            .map_err(|e| err(&e))?;
        }
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Draws a 28×28 image with its top-left corner at `at`, `scale` pixels
/// per image pixel.
pub fn draw_digit<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    scale: i32,
    img: &[f32],
) -> Result<(), String> {
    let (x0, y0) = at;
    let s = scale;
    for (i, &v) in img.iter().enumerate().take(784) {
        let (r, c) = ((i / 28) as i32, (i % 28) as i32);
        let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        root.draw(&Rectangle::new(
            [
                (x0 + c * s, y0 + r * s),
                (x0 + (c + 1) * s, y0 + (r + 1) * s),
            ],
            RGBColor(g, g, g).filled(),
        ))
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// One block of the augmentation figure: generated digits and verdicts.
#[derive(Debug, Clone)]
pub struct AugmentPanel {
    pub title: String,
    /// `n × 784` pixels.
    pub images: Vec<f32>,
    pub verdicts: Vec<crate::infer::Verdict>,
    /// The digit the generator was trained on.
    pub digit: u8,
}

const AUG_CELL: i32 = 56; // 28 px × 2
const AUG_GAP: i32 = 6;
const AUG_LABEL: i32 = 18;
const AUG_TITLE: i32 = 30;
const AUG_MARGIN: i32 = 16;

fn augment_rows(panel: &AugmentPanel, cols: usize) -> i32 {
    (panel.images.len() / 784).div_ceil(cols.max(1)) as i32
}

/// The pixel size of the augmentation figure.
pub fn augment_figure_size(panels: &[AugmentPanel], cols: usize) -> (u32, u32) {
    augment_figure_size_titled(panels, cols, "")
}

/// The size that also fits the titles (about 0.55 em per character).
fn augment_figure_size_titled(panels: &[AugmentPanel], cols: usize, title: &str) -> (u32, u32) {
    let cols = cols.max(1) as i32;
    let h: i32 = panels
        .iter()
        .map(|p| AUG_TITLE + augment_rows(p, cols as usize) * (AUG_CELL + AUG_LABEL + AUG_GAP))
        .sum();
    let text = |chars: usize, size: f32| (chars as f32 * size * 0.56) as i32;
    let widest = panels
        .iter()
        .map(|p| text(p.title.chars().count(), 16.0))
        .chain([text(title.chars().count(), 20.0)])
        .max()
        .unwrap_or(0);
    (
        (2 * AUG_MARGIN + (cols * (AUG_CELL + AUG_GAP)).max(widest)) as u32,
        (AUG_MARGIN + 34 + h + AUG_MARGIN) as u32,
    )
}

/// Draws panels of generated digits, `cols` per row, each with the
/// classifier's verdict under it: green when it is the trained digit, red
/// with a red frame when it is not.
pub fn draw_augment_figure_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &[AugmentPanel],
    cols: usize,
    title: &str,
) -> Result<(), String> {
    let cols = cols.max(1);
    let err = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let font = |size: i32| TextStyle::from(("sans-serif", size).into_font());
    root.draw(&Text::new(title.to_string(), (AUG_MARGIN, 12), font(20)))
        .map_err(|e| err(&e))?;
    let mut y = AUG_MARGIN + 34;
    for p in panels {
        root.draw(&Text::new(p.title.clone(), (AUG_MARGIN, y + 6), font(16)))
            .map_err(|e| err(&e))?;
        y += AUG_TITLE;
        for (k, img) in p.images.chunks(784).enumerate() {
            let (r, c) = ((k / cols) as i32, (k % cols) as i32);
            let x0 = AUG_MARGIN + c * (AUG_CELL + AUG_GAP);
            let y0 = y + r * (AUG_CELL + AUG_LABEL + AUG_GAP);
            draw_digit(root, (x0, y0), AUG_CELL / 28, img)?;
            if let Some(v) = p.verdicts.get(k) {
                let ok = v.digit == p.digit;
                let color = if ok { RGBColor(0, 150, 0) } else { RED };
                if !ok {
                    root.draw(&Rectangle::new(
                        [(x0 - 2, y0 - 2), (x0 + AUG_CELL + 1, y0 + AUG_CELL + 1)],
                        RED.stroke_width(2),
                    ))
                    .map_err(|e| err(&e))?;
                }
                root.draw(&Text::new(
                    format!("{} {:.0}%", v.digit, v.confidence * 100.0),
                    (x0 + AUG_CELL / 2, y0 + AUG_CELL + 2),
                    font(13)
                        .color(&color)
                        .pos(Pos::new(HPos::Center, VPos::Top)),
                ))
                .map_err(|e| err(&e))?;
            }
        }
        y += augment_rows(p, cols) * (AUG_CELL + AUG_LABEL + AUG_GAP);
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Draws the augmentation figure to a PNG file.
#[cfg(not(target_arch = "wasm32"))]
pub fn draw_augment_figure(
    panels: &[AugmentPanel],
    cols: usize,
    out: &std::path::Path,
    title: &str,
) -> Result<(), String> {
    register_fonts()?;
    let root = BitMapBackend::new(out, augment_figure_size_titled(panels, cols, title))
        .into_drawing_area();
    draw_augment_figure_on(&root, panels, cols, title)
        .map_err(|e| format!("drawing {} failed: {e}", out.display()))
}

/// One point of a loss curve: (epochs done, as a fraction; loss).
pub type CurvePoint = (f64, f64);

/// Draws training and validation loss against epochs on `root`.
pub fn draw_loss_chart_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    train: &[CurvePoint],
    valid: &[CurvePoint],
    epochs: usize,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let finite = |p: &&CurvePoint| p.1.is_finite();
    let all = train.iter().chain(valid).filter(finite);
    let (lo, hi) = all.fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    let (lo, hi) = if lo > hi {
        (0.0, 1.0)
    } else {
        let pad = ((hi - lo) * 0.08).max(1e-3);
        ((lo - pad).max(0.0), hi + pad)
    };
    let (w, h) = root.dim_in_pixel();
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        // Room for the last tick's label, centred on the right edge.
        .margin_right(24)
        .x_label_area_size(34)
        .y_label_area_size(52)
        .build_cartesian_2d(0f64..epochs.max(1) as f64, lo..hi)
        .map_err(|e| err(&e))?;
    let epochs_chars = tick(epochs as f64).len();
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("loss")
        // Whole epochs only: no more labels than epochs + 1, so that the
        // step between them is at least one.
        .x_labels(labels_along(w as i32 - 86, epochs_chars, 13, 11).min(epochs.max(1) + 1))
        .y_labels(labels_up(h as i32 - 54, 13, 10))
        .x_label_formatter(&|x| tick(*x))
        .light_line_style(RGBColor(235, 235, 240))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(|e| err(&e))?;
    let blue = RGBColor(47, 111, 222);
    let orange = RGBColor(230, 120, 20);
    chart
        .draw_series(LineSeries::new(
            train.iter().filter(finite).copied(),
            blue.stroke_width(2),
        ))
        .map_err(|e| err(&e))?;
    chart
        .draw_series(LineSeries::new(
            valid.iter().filter(finite).copied(),
            orange.stroke_width(2),
        ))
        .map_err(|e| err(&e))?;
    chart
        .draw_series(
            valid
                .iter()
                .filter(finite)
                .map(|&p| Circle::new(p, 4, orange.filled())),
        )
        .map_err(|e| err(&e))?;
    draw_legend(
        chart.plotting_area(),
        &[
            ("train", Swatch::Line(blue)),
            ("validation", Swatch::Line(orange)),
        ],
        13,
    )?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Writes a loss chart as a PNG (the CLI's `--chart`).
#[cfg(not(target_arch = "wasm32"))]
pub fn draw_loss_chart(
    train: &[CurvePoint],
    valid: &[CurvePoint],
    epochs: usize,
    out: &std::path::Path,
) -> Result<(), String> {
    register_fonts()?;
    let root = BitMapBackend::new(out, (640, 360)).into_drawing_area();
    draw_loss_chart_on(&root, train, valid, epochs)
        .map_err(|e| format!("drawing {} failed: {e}", out.display()))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod layout_tests;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn the_loss_chart_is_a_png_and_survives_nan_and_empty_curves() {
        let dir = std::env::temp_dir().join(format!("aelab-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("chart.png");
        let train: Vec<CurvePoint> = (0..50)
            .map(|i| (i as f64 / 25.0, 0.3 / (1.0 + i as f64)))
            .chain([(2.0, f64::NAN)])
            .collect();
        draw_loss_chart(&train, &[(1.0, 0.1), (2.0, 0.08)], 2, &out).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        draw_loss_chart(&[], &[], 0, &out).unwrap();
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn whole_ticks_have_no_decimal_point() {
        assert_eq!(tick(20.0), "20");
        assert_eq!(tick(4500.0), "4500");
        assert_eq!(tick(-3.0), "-3");
        assert_eq!(tick(0.5), "0.5");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(0.126), "0.13");
        assert_eq!(tick(1e-9), "0");
    }
}
