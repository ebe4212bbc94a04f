//! Turning a drawing into an MNIST-like digit.
//!
//! MNIST's digits were size-normalised to fit a 20×20 box, keeping their
//! aspect ratio, anti-aliased, and then placed in a 28×28 image so that
//! their centre of mass sits at the centre. [`mnist_style`] does the same
//! to a drawing of any size, so the models see what they were trained on.

use super::{PIXELS, SIDE};

/// Pixels at or below this intensity count as background when finding
/// the bounding box.
const INK: f32 = 0.05;
/// The side of the box the digit is fitted into.
const BOX: usize = 20;

/// Preprocesses a `width`×`height` grey image (row-major, ink near 1,
/// background near 0) into 784 floats in [0, 1]. Returns `None` for a blank
/// image, or for a size that does not match `pixels`.
pub fn mnist_style(pixels: &[f32], width: usize, height: usize) -> Option<Vec<f32>> {
    if width == 0 || height == 0 || pixels.len() != width.checked_mul(height)? {
        return None;
    }
    let ink = |v: f32| {
        if v.is_finite() {
            v.clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    // Bounding box of the ink.
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for y in 0..height {
        for x in 0..width {
            if ink(pixels[y * width + x]) > INK {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
        }
    }
    if x0 == usize::MAX {
        return None;
    }
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    // Scale so the longer side is 20 px; area-average (box filter) sampling.
    let scale = BOX as f32 / bw.max(bh) as f32;
    let (tw, th) = (
        ((bw as f32 * scale).round() as usize).clamp(1, BOX),
        ((bh as f32 * scale).round() as usize).clamp(1, BOX),
    );
    let mut small = vec![0f32; tw * th];
    for ty in 0..th {
        let sy0 = y0 as f32 + ty as f32 * bh as f32 / th as f32;
        let sy1 = y0 as f32 + (ty + 1) as f32 * bh as f32 / th as f32;
        for tx in 0..tw {
            let sx0 = x0 as f32 + tx as f32 * bw as f32 / tw as f32;
            let sx1 = x0 as f32 + (tx + 1) as f32 * bw as f32 / tw as f32;
            small[ty * tw + tx] = area_mean(pixels, width, sx0, sx1, sy0, sy1, &ink);
        }
    }
    // Centre of mass of the scaled digit.
    let (mut m, mut mx, mut my) = (0f64, 0f64, 0f64);
    for y in 0..th {
        for x in 0..tw {
            let v = small[y * tw + x] as f64;
            m += v;
            mx += v * (x as f64 + 0.5);
            my += v * (y as f64 + 0.5);
        }
    }
    if m <= 0.0 {
        return None;
    }
    let half = SIDE as f64 / 2.0;
    // Integer shift that puts the centre of mass nearest the centre, kept
    // so that the digit stays inside the image.
    let place = |com: f64, len: usize| -> i64 {
        let off = (half - com).round() as i64;
        off.clamp(0, (SIDE - len) as i64)
    };
    let (ox, oy) = (place(mx / m, tw), place(my / m, th));
    let mut out = vec![0f32; PIXELS];
    for y in 0..th {
        for x in 0..tw {
            let (px, py) = (x as i64 + ox, y as i64 + oy);
            out[py as usize * SIDE + px as usize] = small[y * tw + x].clamp(0.0, 1.0);
        }
    }
    Some(out)
}

/// The mean of `pixels` over the rectangle [x0, x1) × [y0, y1), weighting
/// partly covered pixels by their covered area.
fn area_mean(
    pixels: &[f32],
    width: usize,
    x0: f32,
    x1: f32,
    y0: f32,
    y1: f32,
    ink: &impl Fn(f32) -> f32,
) -> f32 {
    let (mut sum, mut area) = (0f32, 0f32);
    let mut y = y0.floor() as usize;
    while (y as f32) < y1 {
        let wy = (y1.min(y as f32 + 1.0) - y0.max(y as f32)).max(0.0);
        let mut x = x0.floor() as usize;
        while (x as f32) < x1 {
            let wx = (x1.min(x as f32 + 1.0) - x0.max(x as f32)).max(0.0);
            let idx = y * width + x;
            if idx < pixels.len() {
                sum += ink(pixels[idx]) * wx * wy;
                area += wx * wy;
            }
            x += 1;
        }
        y += 1;
    }
    if area > 0.0 {
        sum / area
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canvas(w: usize, h: usize, rect: (usize, usize, usize, usize)) -> Vec<f32> {
        let mut c = vec![0f32; w * h];
        for y in rect.1..rect.3 {
            for x in rect.0..rect.2 {
                c[y * w + x] = 1.0;
            }
        }
        c
    }

    fn bbox(img: &[f32]) -> (usize, usize, usize, usize) {
        let (mut x0, mut y0, mut x1, mut y1) = (SIDE, SIDE, 0, 0);
        for (i, &v) in img.iter().enumerate() {
            if v > INK {
                let (x, y) = (i % SIDE, i / SIDE);
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
        }
        (x0, y0, x1 - x0 + 1, y1 - y0 + 1)
    }

    #[test]
    fn blank_or_mismatched_input_gives_none() {
        assert!(mnist_style(&[0.0; 100], 10, 10).is_none());
        assert!(mnist_style(&[1.0; 99], 10, 10).is_none());
        assert!(mnist_style(&[], 0, 0).is_none());
        assert!(mnist_style(&[f32::NAN; 100], 10, 10).is_none());
    }

    #[test]
    fn a_tall_stroke_is_fitted_to_20_px_and_centred() {
        // A 20×200 bar in the top-left corner of a 280×280 pad.
        let img = mnist_style(&canvas(280, 280, (10, 5, 30, 205)), 280, 280).unwrap();
        assert_eq!(img.len(), PIXELS);
        let (x, y, w, h) = bbox(&img);
        assert_eq!(h, 20, "the longer side becomes 20 px");
        assert_eq!(w, 2, "the aspect ratio is kept");
        assert_eq!((y, y + h), (4, 24), "centred vertically");
        assert!((13..=14).contains(&x), "centred horizontally: {x}");
        assert!(img.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn the_centre_of_mass_lands_in_the_middle() {
        // An L shape: more mass at the bottom, so the box is not centred.
        let mut c = canvas(100, 100, (20, 10, 30, 90));
        for y in 80..90 {
            for x in 30..80 {
                c[y * 100 + x] = 1.0;
            }
        }
        let img = mnist_style(&c, 100, 100).unwrap();
        let (mut m, mut mx, mut my) = (0.0, 0.0, 0.0);
        for (i, &v) in img.iter().enumerate() {
            m += v;
            mx += v * ((i % SIDE) as f32 + 0.5);
            my += v * ((i / SIDE) as f32 + 0.5);
        }
        assert!((mx / m - 14.0).abs() <= 0.5, "{}", mx / m);
        assert!((my / m - 14.0).abs() <= 0.5, "{}", my / m);
    }

    #[test]
    fn a_small_dot_is_scaled_up() {
        let img = mnist_style(&canvas(50, 50, (24, 24, 26, 26)), 50, 50).unwrap();
        let (_, _, w, h) = bbox(&img);
        assert_eq!((w, h), (20, 20));
    }
}
