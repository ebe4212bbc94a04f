//! The report figures, drawn with plotters' bitmap backend (native only).

use crate::labs::denoise::FigureData;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::OnceLock;

static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

fn register_fonts() -> Result<(), String> {
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
pub fn draw_denoise_figure(fig: &FigureData, out: &Path, title: &str) -> Result<(), String> {
    register_fonts()?;
    let rows = 1 + 2 * fig.levels.len();
    let cell: i32 = 84; // 28 px × 3
    let gap: i32 = 6;
    let (left, top) = (160i32, 50i32);
    let w = left + 10 * (cell + gap) + 20;
    let h = top + rows as i32 * (cell + gap) + 60;
    let root = BitMapBackend::new(out, (w as u32, h as u32)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("drawing {} failed: {e}", out.display());
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
    let draw_img = |row: usize, col: usize, img: &[f32]| -> Result<(), String> {
        let (x0, y0) = (
            left + col as i32 * (cell + gap),
            top + row as i32 * (cell + gap),
        );
        let s = cell / 28;
        for (i, &v) in img.iter().enumerate() {
            let (r, c) = ((i / 28) as i32, (i % 28) as i32);
            let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            root.draw(&Rectangle::new(
                [
                    (x0 + c * s, y0 + r * s),
                    (x0 + (c + 1) * s, y0 + (r + 1) * s),
                ],
                RGBColor(g, g, g).filled(),
            ))
            .map_err(|e| err(&e))?;
        }
        Ok(())
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
