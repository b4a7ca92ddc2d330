//! Geohash arithmetic for the GEO commands: pure functions, no protocol.
//!
//! A geo set is a sorted set whose scores are 52-bit interleaved geohashes: 26 bits of latitude
//! (on the Web-Mercator range -85.05112878..85.05112878) on the even bits and 26 bits of
//! longitude (-180..180) on the odd bits. Everything here reproduces Redis 7.0's arithmetic
//! operation for operation, so that scores, decoded coordinates, distances and the set of
//! geohash boxes a search visits come out bit-identical:
//!
//! - a cell decodes to its centre, clamped to the valid ranges;
//! - distances are haversine on a sphere of radius 6372797.560856 m, with the latitude-only
//!   shortcut when both longitudes are equal;
//! - a search covers the 3x3 cells around the centre at a resolution estimated from the radius,
//!   one step coarser when a neighbour does not reach the bounding box, with the neighbours that
//!   lie wholly outside the bounding box dropped.

use std::cmp::Ordering;

pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
/// Bits per coordinate in a stored score.
pub const STEP_MAX: u8 = 26;
pub const EARTH_RADIUS_M: f64 = 6372797.560856;
/// Half the circumference on the Mercator projection, in metres.
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

/// The geohash alphabet (standard base32 without a, i, l, o).
const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";

fn deg_rad(a: f64) -> f64 {
    a * D_R
}

fn rad_deg(a: f64) -> f64 {
    a / D_R
}

/// A geohash of `step` bits per coordinate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hash {
    pub bits: u64,
    pub step: u8,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

const LONG_RANGE: Range = Range { min: LONG_MIN, max: LONG_MAX };
const LAT_RANGE: Range = Range { min: LAT_MIN, max: LAT_MAX };

/// A cell: its hash and its extent.
#[derive(Clone, Copy, Debug)]
pub struct Area {
    pub hash: Hash,
    pub lon: Range,
    pub lat: Range,
}

/// Spreads the 32 bits of `v` onto the even bits of a u64.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bits of `v` into a u32.
fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// Latitude on the even bits, longitude on the odd bits.
fn interleave(lat: u32, lon: u32) -> u64 {
    spread(lat) | (spread(lon) << 1)
}

/// (latitude, longitude) cell indices of interleaved bits.
fn deinterleave(bits: u64) -> (u32, u32) {
    (squash(bits), squash(bits >> 1))
}

/// What C's `(uint32_t)d` gives for the non-negative offsets the encoder produces.
fn to_u32(d: f64) -> u32 {
    // Offsets lie in 0..=2^32; the conversion truncates (x86-64 goes through a 64-bit integer).
    (d as i64) as u32
}

/// Encodes a point at `step` bits per coordinate over the given ranges; None when the point is
/// outside the WGS84/Mercator limits or the ranges.
pub fn encode(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<Hash> {
    if step == 0 || step > 32 {
        return None;
    }
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    Some(Hash { bits: interleave(to_u32(lat_off), to_u32(lon_off)), step })
}

/// Encodes on the ranges geo sets use.
pub fn encode_wgs84(lon: f64, lat: f64, step: u8) -> Option<Hash> {
    encode(LONG_RANGE, LAT_RANGE, lon, lat, step)
}

/// The cell a hash names.
pub fn decode(lon_r: Range, lat_r: Range, hash: Hash) -> Area {
    let (ilat, ilon) = deinterleave(hash.bits);
    let div = (1u64 << hash.step) as f64;
    let lat_scale = lat_r.max - lat_r.min;
    let lon_scale = lon_r.max - lon_r.min;
    // The upper index wraps at 32 bits, as the C arithmetic on uint32_t does.
    let lat = Range {
        min: lat_r.min + (f64::from(ilat) / div) * lat_scale,
        max: lat_r.min + (f64::from(ilat.wrapping_add(1)) / div) * lat_scale,
    };
    let lon = Range {
        min: lon_r.min + (f64::from(ilon) / div) * lon_scale,
        max: lon_r.min + (f64::from(ilon.wrapping_add(1)) / div) * lon_scale,
    };
    Area { hash, lon, lat }
}

fn decode_wgs84(hash: Hash) -> Area {
    decode(LONG_RANGE, LAT_RANGE, hash)
}

/// The centre of a cell, clamped to the valid ranges: (longitude, latitude).
fn area_center(a: &Area) -> (f64, f64) {
    let lon = ((a.lon.min + a.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.lat.min + a.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The bits of a stored score, converted as C's `(uint64_t)score` does on x86-64 (scores set
/// with ZADD may be anything: negative, fractional, huge or infinite).
pub fn score_bits(score: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    // cvttsd2si: truncation, 0x8000000000000000 for anything out of the i64 range.
    fn cvt(d: f64) -> u64 {
        if d > -TWO63 - 1.0 && d < TWO63 {
            (d as i64) as u64
        } else {
            1 << 63
        }
    }
    if score < TWO63 || score.is_nan() {
        cvt(score)
    } else {
        cvt(score - TWO63) ^ (1 << 63)
    }
}

/// The score GEOADD stores for a valid point.
pub fn score_of(lon: f64, lat: f64) -> Option<u64> {
    encode_wgs84(lon, lat, STEP_MAX).map(align52)
}

/// The (longitude, latitude) a stored score stands for.
pub fn decode_score(score: f64) -> (f64, f64) {
    area_center(&decode_wgs84(Hash { bits: score_bits(score), step: STEP_MAX }))
}

/// Whether a longitude/latitude pair may be stored.
pub fn valid_lon_lat(lon: f64, lat: f64) -> bool {
    (LONG_MIN..=LONG_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

/// The 11-character standard geohash of a stored score (the point re-encoded on the -90..90
/// latitude range; the 11th character stands for bits that are not stored, always `0`).
pub fn geohash_string(score: f64) -> [u8; 11] {
    let (lon, lat) = decode_score(score);
    let lat90 = Range { min: -90.0, max: 90.0 };
    let bits = encode(LONG_RANGE, lat90, lon, lat, STEP_MAX).map_or(0, |h| h.bits);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().enumerate().take(10) {
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    out
}

/// A hash shifted up to the 52-bit score scale.
pub fn align52(h: Hash) -> u64 {
    h.bits << (52 - u32::from(h.step) * 2)
}

/// Distance along a meridian, in metres.
fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Great-circle distance in metres (haversine).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// The area a search covers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ShapeKind {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// A search: centre, extent in the user's unit and the unit's size in metres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    pub lon: f64,
    pub lat: f64,
    /// Metres per unit.
    pub conversion: f64,
    pub kind: ShapeKind,
}

impl Shape {
    /// The distance in metres from the centre to a point inside the shape, None outside.
    pub fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.kind {
            ShapeKind::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.conversion).then_some(d)
            }
            ShapeKind::Box { width, height } => {
                let (w, h) = (width * self.conversion, height * self.conversion);
                if lat_distance(lat, self.lat) > h / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > w / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }

    /// [min_lon, min_lat, max_lon, max_lat] of the shape.
    fn bounding_box(&self) -> [f64; 4] {
        let (height, width) = match self.kind {
            ShapeKind::Radius(r) => (self.conversion * r, self.conversion * r),
            ShapeKind::Box { width, height } => {
                (self.conversion * (height / 2.0), self.conversion * (width / 2.0))
            }
        };
        let lat_delta = rad_deg(height / EARTH_RADIUS_M);
        let lon_delta_top = rad_deg(width / EARTH_RADIUS_M / deg_rad(self.lat + lat_delta).cos());
        let lon_delta_bottom =
            rad_deg(width / EARTH_RADIUS_M / deg_rad(self.lat - lat_delta).cos());
        // The widest part of the box is the edge nearer the equator.
        let lon_delta = if self.lat < 0.0 { lon_delta_bottom } else { lon_delta_top };
        [self.lon - lon_delta, self.lat - lat_delta, self.lon + lon_delta, self.lat + lat_delta]
    }

    /// The radius (for a box, half its diagonal) in metres.
    fn radius_m(&self) -> f64 {
        let r = match self.kind {
            ShapeKind::Radius(r) => r,
            ShapeKind::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        };
        r * self.conversion
    }

    /// The score intervals `[min, max)` to scan, in the order Redis scans them: the centre cell
    /// and its eight neighbours (north, south, east, west, north-east, north-west, south-east,
    /// south-west), minus those outside the bounding box and those equal to the cell scanned
    /// just before.
    pub fn score_ranges(&self) -> Vec<(u64, u64)> {
        let cells = self.cells();
        let mut out = Vec::with_capacity(9);
        let mut last: Option<usize> = None;
        for (i, c) in cells.iter().enumerate() {
            let Some(h) = c else { continue };
            // The centre (index 0) is never compared against: a neighbour equal to it is
            // scanned again, as Redis does.
            if let Some(l) = last.filter(|&l| l != 0) {
                if cells[l] == Some(*h) {
                    continue;
                }
            }
            let min = align52(*h);
            let max = align52(Hash { bits: h.bits.wrapping_add(1), step: h.step });
            out.push((min, max));
            last = Some(i);
        }
        out
    }

    /// The centre cell and its neighbours (None for those excluded).
    fn cells(&self) -> [Option<Hash>; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounding_box();
        let mut step = estimate_steps(self.radius_m(), self.lat);
        let encode =
            |step| encode_wgs84(self.lon, self.lat, step).unwrap_or(Hash { bits: 0, step });
        let mut hash = encode(step);
        let mut nb = Neighbors::of(hash);
        let mut area = decode_wgs84(hash);
        let too_big = decode_wgs84(nb.north).lat.max < max_lat
            || decode_wgs84(nb.south).lat.min > min_lat
            || decode_wgs84(nb.east).lon.max < max_lon
            || decode_wgs84(nb.west).lon.min > min_lon;
        if step > 1 && too_big {
            step -= 1;
            hash = encode(step);
            nb = Neighbors::of(hash);
            area = decode_wgs84(hash);
        }
        let mut cells = [
            Some(hash),
            Some(nb.north),
            Some(nb.south),
            Some(nb.east),
            Some(nb.west),
            Some(nb.north_east),
            Some(nb.north_west),
            Some(nb.south_east),
            Some(nb.south_west),
        ];
        if step >= 2 {
            const N: usize = 1;
            const S: usize = 2;
            const E: usize = 3;
            const W: usize = 4;
            const NE: usize = 5;
            const NW: usize = 6;
            const SE: usize = 7;
            const SW: usize = 8;
            let mut drop = |idx: [usize; 3]| idx.iter().for_each(|&i| cells[i] = None);
            if area.lat.min < min_lat {
                drop([S, SW, SE]);
            }
            if area.lat.max > max_lat {
                drop([N, NE, NW]);
            }
            if area.lon.min < min_lon {
                drop([W, SW, NW]);
            }
            if area.lon.max > max_lon {
                drop([E, SE, NE]);
            }
        }
        cells
    }
}

/// The number of bits per coordinate whose cells are about as big as the radius.
fn estimate_steps(mut range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_m < MERCATOR_MAX {
        range_m *= 2.0;
        step += 1;
    }
    step -= 2;
    // Cells narrow towards the poles.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

struct Neighbors {
    north: Hash,
    south: Hash,
    east: Hash,
    west: Hash,
    north_east: Hash,
    north_west: Hash,
    south_east: Hash,
    south_west: Hash,
}

const EVEN: u64 = 0x5555_5555_5555_5555;
const ODD: u64 = 0xaaaa_aaaa_aaaa_aaaa;

/// Moves one cell east (+1) or west (-1), wrapping around.
fn move_x(h: Hash, d: i8) -> Hash {
    if d == 0 {
        return h;
    }
    let shift = 64 - u32::from(h.step) * 2;
    let mut x = h.bits & ODD;
    let y = h.bits & EVEN;
    let zz = EVEN >> shift;
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x = (x | zz).wrapping_sub(zz + 1);
    }
    x &= ODD >> shift;
    Hash { bits: x | y, step: h.step }
}

/// Moves one cell north (+1) or south (-1), wrapping around.
fn move_y(h: Hash, d: i8) -> Hash {
    if d == 0 {
        return h;
    }
    let shift = 64 - u32::from(h.step) * 2;
    let x = h.bits & ODD;
    let mut y = h.bits & EVEN;
    let zz = ODD >> shift;
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y = (y | zz).wrapping_sub(zz + 1);
    }
    y &= EVEN >> shift;
    Hash { bits: x | y, step: h.step }
}

impl Neighbors {
    fn of(h: Hash) -> Neighbors {
        Neighbors {
            east: move_x(h, 1),
            west: move_x(h, -1),
            south: move_y(h, -1),
            north: move_y(h, 1),
            north_west: move_y(move_x(h, -1), 1),
            south_west: move_y(move_x(h, -1), -1),
            north_east: move_y(move_x(h, 1), 1),
            south_east: move_y(move_x(h, 1), -1),
        }
    }
}

/// Sorts `v` so that its first `upto + 1` elements are the smallest ones in order, the way
/// Redis's partial quicksort (Bentley and McIlroy's three-way quicksort that skips partitions
/// lying wholly after `upto`) leaves them: elements that compare equal come out in the same
/// order as there, which a stable sort would not give.
pub fn partial_sort<T>(v: &mut [T], upto: usize, cmp: &impl Fn(&T, &T) -> Ordering) {
    if v.is_empty() {
        return;
    }
    pqsort(v, 0, v.len(), 0, upto, cmp);
}

fn insertion_sort<T>(v: &mut [T], lo: usize, n: usize, cmp: &impl Fn(&T, &T) -> Ordering) {
    for m in lo + 1..lo + n {
        let mut l = m;
        while l > lo && cmp(&v[l - 1], &v[l]) == Ordering::Greater {
            v.swap(l, l - 1);
            l -= 1;
        }
    }
}

fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> Ordering) -> usize {
    use Ordering::{Greater, Less};
    if cmp(&v[a], &v[b]) == Less {
        if cmp(&v[b], &v[c]) == Less {
            b
        } else if cmp(&v[a], &v[c]) == Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Greater {
        b
    } else if cmp(&v[a], &v[c]) == Less {
        a
    } else {
        c
    }
}

fn vecswap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// Whether the wanted ranks `lr..=rr` meet the partition `s..s + len`.
fn wanted(lr: usize, rr: usize, s: usize, len: usize) -> bool {
    !((lr < s && rr < s) || (lr >= s + len && rr >= s + len))
}

fn pqsort<T>(
    v: &mut [T],
    mut lo: usize,
    mut n: usize,
    lr: usize,
    rr: usize,
    cmp: &impl Fn(&T, &T) -> Ordering,
) {
    use Ordering::{Equal, Greater, Less};
    loop {
        if n < 7 {
            insertion_sort(v, lo, n, cmp);
            return;
        }
        let mut pm = lo + n / 2;
        if n > 7 {
            let mut pl = lo;
            let mut pn = lo + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(lo, pm);
        let (mut pa, mut pb) = (lo + 1, lo + 1);
        let (mut pc, mut pd) = (lo + n - 1, lo + n - 1);
        loop {
            while pb <= pc {
                let r = cmp(&v[pb], &v[lo]);
                if r == Greater {
                    break;
                }
                if r == Equal {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let r = cmp(&v[pc], &v[lo]);
                if r == Less {
                    break;
                }
                if r == Equal {
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let pn = lo + n;
        let r = (pa - lo).min(pb - pa);
        vecswap(v, lo, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        vecswap(v, pb, pn - r, r);
        let r = pb - pa;
        if r > 1 && wanted(lr, rr, lo, r) {
            pqsort(v, lo, r, lr, rr, cmp);
        }
        let r = pd - pc;
        if r > 1 && wanted(lr, rr, pn - r, r) {
            lo = pn - r;
            n = r;
            continue;
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_redis() {
        // GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania, as Redis 7.0
        // stores them.
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698));
        assert_eq!(score_of(15.087269, 37.502669), Some(3479447370796909));
        // The top corner sets the bits just above the 52 (Redis stores 3 * 2^52).
        assert_eq!(score_of(180.0, LAT_MAX), Some(3 << 52));
        assert_eq!(score_of(-180.0, LAT_MIN), Some(0));
        assert_eq!(score_of(180.0000001, 0.0), None);
        assert_eq!(score_of(0.0, 85.06), None);
    }

    #[test]
    fn decoding_gives_cell_centres() {
        let (lon, lat) = decode_score(3479099956230698.0);
        assert_eq!(lon, 13.361389338970184);
        assert_eq!(lat, 38.1155563954963);
        // A score of 0 is the south-west cell; huge, negative and infinite scores decode as
        // the C conversion to uint64 makes them.
        assert_eq!(decode_score(0.0), (-179.99999731779099, -85.05112751263943));
        assert_eq!(decode_score(-1.0), (180.0, LAT_MAX));
        assert_eq!(decode_score(1e30), decode_score(0.0));
        assert_eq!(decode_score(f64::INFINITY), decode_score(0.0));
        assert_eq!(decode_score(f64::NEG_INFINITY), (180.0, -85.05112751263943));
    }

    #[test]
    fn score_bits_follows_c_conversion() {
        assert_eq!(score_bits(-1.0), u64::MAX);
        assert_eq!(score_bits(-0.5), 0);
        assert_eq!(score_bits(1.5), 1);
        assert_eq!(score_bits(-1e30), 1 << 63);
        assert_eq!(score_bits(1e30), 0);
        assert_eq!(score_bits(9223372036854775808.0), 1 << 63);
        assert_eq!(score_bits(f64::INFINITY), 0);
        assert_eq!(score_bits(f64::NEG_INFINITY), 1 << 63);
    }

    #[test]
    fn geohash_strings() {
        assert_eq!(&geohash_string(3479099956230698.0), b"sqc8b49rny0");
        assert_eq!(&geohash_string(3479447370796909.0), b"sqdtr74hyu0");
        assert_eq!(&geohash_string(0.0), b"00bh0hbj200");
        assert_eq!(&geohash_string((3u64 << 52) as f64), b"bp05b5048p0");
    }

    #[test]
    fn distances() {
        let (a, b) = (decode_score(3479099956230698.0), decode_score(3479447370796909.0));
        assert_eq!(format!("{:.4}", distance(a.0, a.1, b.0, b.1)), "166274.1516");
        // Same longitude: the meridian shortcut (differs from haversine in the last digit).
        let p = decode_score(score_of(10.0, 63.28458261248571).unwrap() as f64);
        let q = decode_score(score_of(10.0, -61.78330102585605).unwrap() as f64);
        assert_eq!(format!("{:.4}", distance(p.0, p.1, q.0, q.1)), "13910837.7560");
    }

    #[test]
    fn neighbours_wrap_around() {
        let h = Hash { bits: 0, step: 2 };
        let nb = Neighbors::of(h);
        // West of the first column is the last column (longitude bits are the odd ones).
        assert_eq!(nb.west.bits, 0b1010);
        assert_eq!(nb.east.bits, 0b0010);
        assert_eq!(nb.south.bits, 0b0101);
        assert_eq!(nb.north.bits, 0b0001);
        assert_eq!(nb.south_west.bits, 0b1111);
    }

    #[test]
    fn search_ranges_cover_the_centre() {
        let s = Shape { lon: 15.0, lat: 37.0, conversion: 1000.0, kind: ShapeKind::Radius(200.0) };
        let r = s.score_ranges();
        assert!(!r.is_empty() && r.len() <= 9);
        let palermo = 3479099956230698u64;
        assert!(r.iter().any(|&(lo, hi)| (lo..hi).contains(&palermo)));
        assert!(s.contains(13.361389338970184, 38.1155563954963).is_some());
        let small = Shape { kind: ShapeKind::Radius(100.0), ..s };
        assert!(small.contains(13.361389338970184, 38.1155563954963).is_none());
        let bx = Shape { kind: ShapeKind::Box { width: 400.0, height: 400.0 }, ..s };
        assert!(bx.contains(13.361389338970184, 38.1155563954963).is_some());
        let thin = Shape { kind: ShapeKind::Box { width: 400.0, height: 10.0 }, ..s };
        assert!(thin.contains(13.361389338970184, 38.1155563954963).is_none());
    }

    #[test]
    fn steps_estimate() {
        assert_eq!(estimate_steps(0.0, 0.0), 26);
        assert_eq!(estimate_steps(1e9, 0.0), 1);
        assert!(estimate_steps(1000.0, 0.0) > estimate_steps(1000.0, 70.0));
        assert!(estimate_steps(1000.0, 70.0) > estimate_steps(1000.0, 85.0));
    }

    #[test]
    fn partial_sort_orders_the_prefix() {
        let mut v: Vec<(u32, usize)> = (0..200).map(|i| ((i * 7919 % 37) as u32, i)).collect();
        let cmp = |a: &(u32, usize), b: &(u32, usize)| a.0.cmp(&b.0);
        partial_sort(&mut v, 9, &cmp);
        let mut sorted: Vec<u32> = v.iter().map(|p| p.0).collect();
        sorted.sort();
        for i in 0..10 {
            assert_eq!(v[i].0, sorted[i]);
        }
        // Full partial sort is a (non-stable) sort.
        let mut w: Vec<(u32, usize)> = (0..100).map(|i| ((i * 31 % 17) as u32, i)).collect();
        partial_sort(&mut w, 99, &cmp);
        assert!(w.windows(2).all(|p| p[0].0 <= p[1].0));
        let mut idx: Vec<usize> = w.iter().map(|p| p.1).collect();
        idx.sort();
        assert_eq!(idx, (0..100).collect::<Vec<_>>());
    }
}
