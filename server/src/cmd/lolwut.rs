//! LOLWUT: a piece of generative art and the server version.
//!
//! `LOLWUT VERSION 5` draws a take on Georg Nees' "Schotter" (1968) in Braille characters,
//! `LOLWUT VERSION 6` a random city skyline in four ANSI gray levels; any other call answers
//! `Redis ver. <version>\n`. Each drawing is random, so only its shape and captions match
//! Redis 7.0's. Every size is clamped, so no input makes the reply (or the work) unbounded.

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{Ctx, Handler};
use crate::error::{CmdResult, Error};
use crate::util::num::parse_i64;

pub const HANDLERS: &[(&str, Handler)] = &[("lolwut", lolwut)];

/// LOLWUT [VERSION version [arg ...]]
fn lolwut(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // Only `VERSION v` selects a drawing; anything else is the plain version line.
    let version = match argv.get(2) {
        Some(v) if Ctx::is(&argv[1], "version") => Some(parse_i64(v).ok_or(Error::NOT_INT)?),
        _ => None,
    };
    let text = match version {
        Some(5) => schotter(&argv[3..])?,
        Some(6) => skyline(&argv[3..])?,
        _ => format!("Redis ver. {}\n", crate::REDIS_VERSION).into_bytes(),
    };
    ctx.out.verbatim("txt", &text);
    Ok(())
}

/// The `i`th optional integer argument clamped to `lo..=hi`, else `default`.
fn int_arg(args: &[Bytes], i: usize, default: i64, lo: i64, hi: i64) -> Result<usize, Error> {
    let v = match args.get(i) {
        Some(a) => parse_i64(a).ok_or(Error::NOT_INT)?,
        None => default,
    };
    Ok(v.clamp(lo, hi) as usize)
}

// ---------------------------------------------------------------------------------------------
// VERSION 5: Schotter on a Braille canvas.

/// A monochrome canvas stored directly as Braille cells: one byte of dot bits per character,
/// each character covering 2 pixels across and 4 down.
struct Braille {
    width: i64,
    height: i64,
    cols: usize,
    cells: Vec<u8>,
}

impl Braille {
    fn new(cols: usize, height: usize) -> Braille {
        let lines = height.div_ceil(4);
        Braille {
            width: 2 * cols as i64,
            height: height as i64,
            cols,
            cells: vec![0; cols * lines],
        }
    }

    /// Sets pixel (x, y); pixels outside the canvas are dropped.
    fn set(&mut self, x: i64, y: i64) {
        if x < 0 || y < 0 || x >= self.width || y >= self.height {
            return;
        }
        // Unicode Braille dot numbering: dots 1-3 and 7 down the left column, 4-6 and 8 down
        // the right one; dot n is bit n-1.
        const BIT: [[u8; 4]; 2] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]];
        let (x, y) = (x as usize, y as usize);
        self.cells[(y / 4) * self.cols + x / 2] |= BIT[x % 2][y % 4];
    }

    /// A straight line from (x0, y0) to (x1, y1), both ends included (Bresenham).
    fn line(&mut self, (mut x0, mut y0): (i64, i64), (x1, y1): (i64, i64)) {
        let dx = (x1 - x0).abs();
        let dy = -(y1 - y0).abs();
        let sx = if x0 < x1 { 1 } else { -1 };
        let sy = if y0 < y1 { 1 } else { -1 };
        let mut err = dx + dy;
        loop {
            self.set(x0, y0);
            if x0 == x1 && y0 == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x0 += sx;
            }
            if e2 <= dx {
                err += dx;
                y0 += sy;
            }
        }
    }

    /// Appends the canvas as text, one line per 4 pixel rows, each ending in `\n`.
    fn render(&self, out: &mut Vec<u8>) {
        for row in self.cells.chunks(self.cols) {
            for &bits in row {
                // U+2800 + bits, in UTF-8.
                out.extend_from_slice(&[0xe2, 0xa0 | (bits >> 6), 0x80 | (bits & 0x3f)]);
            }
            out.push(b'\n');
        }
    }
}

/// At most this many text lines of Schotter: a tall grid (1 square across, 200 down, 1000
/// columns) would otherwise be hundreds of megabytes; the bottom rows are cropped instead.
const SCHOTTER_MAX_LINES: usize = 1000;

/// LOLWUT VERSION 5 [columns [squares-per-row [squares-per-col]]]
fn schotter(args: &[Bytes]) -> Result<Vec<u8>, Error> {
    let cols = int_arg(args, 0, 66, 1, 1000)?;
    let per_row = int_arg(args, 1, 8, 1, 200)?;
    let per_col = int_arg(args, 2, 12, 1, 200)?;

    // The grid fills the canvas width, inside a 2-pixel margin unless the canvas is tiny.
    let width = 2 * cols;
    let pad = if width > 4 { 2 } else { 0 };
    let side = (width - 2 * pad) as f64 / per_row as f64;
    let height = (per_col as f64 * side) as usize + 2 * pad;
    let height = height.min(4 * SCHOTTER_MAX_LINES);
    let mut canvas = Braille::new(cols, height);

    let mut rng = SmallRng::from_entropy();
    let half = side / 2.0;
    for r in 0..per_col {
        let top = pad as f64 + r as f64 * side;
        if top - side > height as f64 {
            break; // cropped away, even when displaced and turned
        }
        // Disorder grows down the rows: none at the top, the most at the bottom.
        let disorder = r as f64 / per_col as f64;
        for c in 0..per_row {
            let mut turn = 0.0;
            let (mut dx, mut dy) = (0.0, 0.0);
            if r > 0 {
                turn = rng.gen_range(-1.0..=1.0) * disorder * std::f64::consts::FRAC_PI_4;
                dx = rng.gen_range(-1.0..=1.0) * disorder * half;
                dy = rng.gen_range(-1.0..=1.0) * disorder * half;
            }
            let cx = pad as f64 + c as f64 * side + half + dx;
            let cy = top + half + dy;
            let (sin, cos) = if turn == 0.0 { (0.0, 1.0) } else { f64::sin_cos(turn) };
            let corner = |ux: f64, uy: f64| {
                let x = cx + half * (ux * cos - uy * sin);
                let y = cy + half * (ux * sin + uy * cos);
                (x.floor() as i64, y.floor() as i64)
            };
            let corners =
                [corner(-1.0, -1.0), corner(1.0, -1.0), corner(1.0, 1.0), corner(-1.0, 1.0)];
            for i in 0..4 {
                canvas.line(corners[i], corners[(i + 1) % 4]);
            }
        }
    }

    let mut out = Vec::with_capacity(canvas.cells.len() * 3 + height / 4 + 100);
    canvas.render(&mut out);
    out.extend_from_slice(
        format!(
            "\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. {}\n",
            crate::REDIS_VERSION
        )
        .as_bytes(),
    );
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// VERSION 6: a skyline in four gray levels.

/// Each gray level as one colored space: white (the sky), light gray, dark gray, black.
const SHADES: [&str; 4] = [
    "\x1b[0;97;107m \x1b[0m",
    "\x1b[0;37;47m \x1b[0m",
    "\x1b[0;90;100m \x1b[0m",
    "\x1b[0;30;40m \x1b[0m",
];

/// A grid of gray levels (indexes into [`SHADES`]), row 0 at the top.
struct Shades {
    cols: usize,
    rows: usize,
    cells: Vec<u8>,
}

impl Shades {
    fn set(&mut self, x: usize, y: usize, shade: u8) {
        if x < self.cols && y < self.rows {
            self.cells[y * self.cols + x] = shade;
        }
    }
}

/// One layer of buildings standing on the bottom row, left to right across the whole width.
/// `shade` is the walls' gray, `window` the gray of the windows that show, and the heights are
/// drawn between `lo` and `hi` (fractions of the rows).
fn buildings(grid: &mut Shades, rng: &mut SmallRng, shade: u8, window: u8, lo: f64, hi: f64) {
    let (cols, rows) = (grid.cols, grid.rows);
    let widest = 4 + cols / 10;
    let mut left = rng.gen_range(0..=widest / 2);
    while left < cols {
        let w = rng.gen_range(3..=widest);
        let frac = rng.gen_range(lo..=hi);
        let h = ((rows as f64 * frac).round() as usize).clamp(1, rows);
        let top = rows - h;
        for y in top..rows {
            for x in left..left + w {
                grid.set(x, y, shade);
            }
        }
        // Windows on every other cell inside a one-cell wall, a random half of them showing.
        if w >= 5 && h >= 4 {
            for y in (top + 1..rows - 1).step_by(2) {
                for x in (left + 1..left + w - 1).step_by(2) {
                    if rng.gen_bool(0.5) {
                        grid.set(x, y, window);
                    }
                }
            }
        }
        left += w + rng.gen_range(1..=widest / 2);
    }
}

/// LOLWUT VERSION 6 [columns [rows]]
fn skyline(args: &[Bytes]) -> Result<Vec<u8>, Error> {
    let cols = int_arg(args, 0, 80, 1, 1000)?;
    let rows = int_arg(args, 1, 20, 1, 1000)?;
    let mut grid = Shades { cols, rows, cells: vec![0; cols * rows] };
    let mut rng = SmallRng::from_entropy();
    // Back to front: the farther a layer, the lighter and taller it is.
    buildings(&mut grid, &mut rng, 1, 0, 0.55, 0.9);
    buildings(&mut grid, &mut rng, 2, 1, 0.35, 0.7);
    buildings(&mut grid, &mut rng, 3, 2, 0.15, 0.5);

    let mut out = Vec::with_capacity(rows * (cols * SHADES[0].len() + 1) + 200);
    for row in grid.cells.chunks(cols) {
        for &s in row {
            out.extend_from_slice(SHADES[s as usize].as_bytes());
        }
        out.push(b'\n');
    }
    out.extend_from_slice(
        format!(
            "Dedicated to the 8 bit game developers of past and present.\n\
             Original 8 bit image from Plaguemon by hikikomori. Redis ver. {}\n",
            crate::REDIS_VERSION
        )
        .as_bytes(),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split_whitespace().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect()
    }

    fn caption5() -> String {
        format!(
            "\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. {}\n",
            crate::REDIS_VERSION
        )
    }

    #[test]
    fn schotter_first_row_is_straight() {
        // The first row of squares is never turned nor moved: these match Redis exactly.
        let one = schotter(&args("1 1 1")).unwrap();
        assert_eq!(one, format!("\u{280b}\n{}", caption5()).into_bytes());
        let small = schotter(&args("3 1 1")).unwrap();
        assert_eq!(
            small,
            format!("\u{2800}\u{2864}\u{2844}\n\u{2800}\u{2809}\u{2801}\n{}", caption5())
                .into_bytes()
        );
        let tiny = schotter(&args("2 1 1")).unwrap();
        assert_eq!(tiny, format!("\u{284f}\u{2809}\n{}", caption5()).into_bytes());
    }

    #[test]
    fn extremes_stay_bounded() {
        for a in ["1000 1 200", "-5 -5 -5", "9223372036854775807 0 1", "1000 200 200"] {
            let out = schotter(&args(a)).unwrap();
            assert!(out.len() < 4_000_000, "{a}: {}", out.len());
        }
        for a in ["1000 1000", "-1 -1", "1 1"] {
            let out = skyline(&args(a)).unwrap();
            assert!(out.len() < 20_000_000, "{a}: {}", out.len());
        }
    }
}
