//! Charts drawn where the page's canvas is not: a plotters backend that
//! records what a chart draws (lines, rectangles, paths, polygons, circles,
//! text) as a list of operations, which the page replays on its canvas
//! (`paintDrawing` in assets/web/ui.js). So the lab's session can run in a
//! worker, which has no canvas of the page's, and the page only paints.
//!
//! A [`Drawing`] reaches the page as `{ width, height, ops, texts }`: `ops`
//! a Float32Array of operations, each an opcode and its numbers (below),
//! `texts` the strings and fonts the text operations name by index. A
//! colour is `r·65536 + g·256 + b` and an alpha.
//!
//! | opcode | numbers after it |
//! |---|---|
//! | 0 line | x0 y0 x1 y1 colour alpha width |
//! | 1 rectangle | x0 y0 x1 y1 colour alpha width fill |
//! | 2 path | n colour alpha width, then n points |
//! | 3 polygon | n colour alpha, then n points |
//! | 4 circle | x y r colour alpha width fill |
//! | 5 text | text font x y colour alpha h v rotation |
//! | 6 pixel | x y colour alpha |
//!
//! `h` is 0 left, 1 centre, 2 right; `v` 0 top, 1 middle, 2 bottom; the
//! rotation in quarter turns.

use plotters::coord::Shift;
use plotters::drawing::DrawingArea;
use plotters::prelude::IntoDrawingArea;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
    FontTransform,
};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(typescript_custom_section)]
const DRAWING_TS: &str = r#"
/** A chart as drawing operations, for the page to paint (src/web/sketch.rs). */
export interface Drawing { width: number; height: number; ops: Float32Array; texts: string[] }
"#;

/// Where a chart is shown: its full size (the canvas's size in index.html)
/// and the width the page shows it at (0 when hidden).
#[derive(serde::Deserialize, tsify::Tsify, Clone, Copy)]
pub struct ChartFrame {
    pub width: u32,
    pub height: u32,
    pub shown: u32,
}

impl ChartFrame {
    /// The size to draw at: the width shown (at least 200 px or the full
    /// width, at most the full width), and the height scaled with it (at
    /// least 3/4 of the full height, so that text keeps its size instead of
    /// shrinking with the picture) times `rows(width)` rows of panels.
    pub fn size(&self, rows: &dyn Fn(u32) -> usize) -> (u32, u32) {
        let (w0, h0) = (self.width.max(1), self.height.max(1));
        let w = if self.shown > 0 {
            self.shown.clamp(w0.min(200), w0)
        } else {
            w0
        };
        let h =
            (h0 as f64 * (w as f64 / w0 as f64).max(0.75)).round() as u32 * rows(w).max(1) as u32;
        (w, h)
    }
}

/// A drawing area on the recording backend.
pub type Area = DrawingArea<Sketch, Shift>;

/// What a [`Sketch`] recorded.
#[derive(Default)]
struct Recording {
    ops: Vec<f32>,
    texts: Vec<String>,
}

/// The recording backend; its recording is shared with [`sketch`], which
/// takes it when the chart is drawn.
pub struct Sketch {
    size: (u32, u32),
    rec: Rc<RefCell<Recording>>,
}

/// The recording's error: none can happen.
#[derive(Debug)]
pub struct Never;

impl std::fmt::Display for Never {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("never")
    }
}
impl std::error::Error for Never {}

/// A finished drawing, for the page.
pub struct Drawing {
    width: u32,
    height: u32,
    rec: Recording,
}

impl Drawing {
    pub fn to_js(&self) -> JsValue {
        let o = js_sys::Object::new();
        let set = |k: &str, v: &JsValue| {
            let _ = js_sys::Reflect::set(&o, &k.into(), v);
        };
        set("width", &self.width.into());
        set("height", &self.height.into());
        set(
            "ops",
            &js_sys::Float32Array::from(self.rec.ops.as_slice()).into(),
        );
        let texts = js_sys::Array::new();
        for t in &self.rec.texts {
            texts.push(&t.into());
        }
        set("texts", &texts.into());
        o.into()
    }
}

/// Draws with `draw` on a `size` drawing area and returns the drawing with
/// what `draw` returned.
pub fn sketch<T, E: std::fmt::Display>(
    size: (u32, u32),
    draw: impl FnOnce(&Area) -> Result<T, E>,
) -> Result<(Drawing, T), String> {
    let rec = Rc::new(RefCell::new(Recording::default()));
    let out = {
        let root = Sketch {
            size,
            rec: rec.clone(),
        }
        .into_drawing_area();
        draw(&root).map_err(|e| e.to_string())?
    };
    let rec = std::mem::take(&mut *rec.borrow_mut());
    Ok((
        Drawing {
            width: size.0,
            height: size.1,
            rec,
        },
        out,
    ))
}

/// A colour's two numbers.
fn colour(c: BackendColor) -> [f32; 2] {
    let (r, g, b) = c.rgb;
    [
        (r as u32 * 65536 + g as u32 * 256 + b as u32) as f32,
        c.alpha as f32,
    ]
}

impl Recording {
    fn push(&mut self, op: u8, nums: &[f32]) {
        self.ops.push(op as f32);
        self.ops.extend_from_slice(nums);
    }

    /// The index of `s` among the texts (fonts repeat: kept once).
    fn text(&mut self, s: String) -> f32 {
        if let Some(i) = self.texts.iter().rposition(|t| *t == s) {
            return i as f32;
        }
        self.texts.push(s);
        (self.texts.len() - 1) as f32
    }

    fn points(&mut self, op: u8, head: &[f32], pts: impl IntoIterator<Item = BackendCoord>) {
        let at = self.ops.len();
        self.push(op, &[0.0]);
        self.ops.extend_from_slice(head);
        let mut n = 0;
        for (x, y) in pts {
            self.ops.push(x as f32);
            self.ops.push(y as f32);
            n += 1;
        }
        self.ops[at + 1] = n as f32;
    }
}

/// The CSS font of a text style, as the canvas takes it.
fn font<S: BackendTextStyle>(style: &S) -> String {
    format!(
        "{} {}px {}",
        style.style().as_str(),
        style.size(),
        style.family().as_str()
    )
}

thread_local! {
    /// A canvas context to measure text with: an OffscreenCanvas's, which
    /// workers have too (`None` where the browser has none).
    static MEASURE: Option<web_sys::OffscreenCanvasRenderingContext2d> = web_sys::OffscreenCanvas::new(1, 1)
        .ok()
        .and_then(|c| c.get_context("2d").ok().flatten())
        .and_then(|c| c.dyn_into().ok());
}

/// The width and height of `text` in `font` (`size` px): measured by the
/// browser, or estimated where it cannot measure.
fn measure(text: &str, font: &str, size: f64) -> (u32, u32) {
    let measured = MEASURE.with(|m| {
        let m = m.as_ref()?;
        m.set_font(font);
        let t = m.measure_text(text).ok()?;
        let h = t.font_bounding_box_ascent() + t.font_bounding_box_descent();
        Some((t.width(), if h > 0.0 { h } else { size * 1.15 }))
    });
    let (w, h) = measured.unwrap_or((0.6 * size * text.chars().count() as f64, size * 1.15));
    (w.ceil() as u32, h.ceil() as u32)
}

impl Sketch {
    /// Records `op` with `head`, the colour and `tail`; nothing for a
    /// transparent colour.
    fn shape(&self, op: u8, c: BackendColor, head: &[f32], tail: &[f32]) {
        if c.alpha > 0.0 {
            let mut rec = self.rec.borrow_mut();
            rec.push(op, head);
            rec.ops.extend_from_slice(&colour(c));
            rec.ops.extend_from_slice(tail);
        }
    }

    /// Records `op` with its point count, the colour, `tail` and the points.
    fn points(
        &self,
        op: u8,
        c: BackendColor,
        tail: &[f32],
        pts: impl IntoIterator<Item = BackendCoord>,
    ) {
        if c.alpha > 0.0 {
            let head: Vec<f32> = colour(c).into_iter().chain(tail.iter().copied()).collect();
            self.rec.borrow_mut().points(op, &head, pts);
        }
    }
}

impl DrawingBackend for Sketch {
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
        p: BackendCoord,
        c: BackendColor,
    ) -> Result<(), DrawingErrorKind<Never>> {
        self.shape(6, c, &[p.0 as f32, p.1 as f32], &[]);
        Ok(())
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Never>> {
        let at = [from.0 as f32, from.1 as f32, to.0 as f32, to.1 as f32];
        self.shape(0, style.color(), &at, &[style.stroke_width() as f32]);
        Ok(())
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        ul: BackendCoord,
        br: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Never>> {
        let at = [ul.0 as f32, ul.1 as f32, br.0 as f32, br.1 as f32];
        let tail = [style.stroke_width() as f32, fill as u8 as f32];
        self.shape(1, style.color(), &at, &tail);
        Ok(())
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Never>> {
        self.points(2, style.color(), &[style.stroke_width() as f32], path);
        Ok(())
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Never>> {
        self.points(3, style.color(), &[], path);
        Ok(())
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Never>> {
        let at = [center.0 as f32, center.1 as f32, radius as f32];
        let tail = [style.stroke_width() as f32, fill as u8 as f32];
        self.shape(4, style.color(), &at, &tail);
        Ok(())
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Never>> {
        Ok(measure(text, &font(style), style.size()))
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Never>> {
        if style.color().alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        let h = match style.anchor().h_pos {
            HPos::Left => 0.0,
            HPos::Center => 1.0,
            HPos::Right => 2.0,
        };
        let v = match style.anchor().v_pos {
            VPos::Top => 0.0,
            VPos::Center => 1.0,
            VPos::Bottom => 2.0,
        };
        let turns = match style.transform() {
            FontTransform::None => 0.0,
            FontTransform::Rotate90 => 1.0,
            FontTransform::Rotate180 => 2.0,
            FontTransform::Rotate270 => 3.0,
        };
        let (t, f) = {
            let mut rec = self.rec.borrow_mut();
            (rec.text(text.to_string()), rec.text(font(style)))
        };
        let at = [t, f, pos.0 as f32, pos.1 as f32];
        self.shape(5, style.color(), &at, &[h, v, turns]);
        Ok(())
    }
}
