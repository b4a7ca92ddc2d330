//! Geo commands (Redis 7.0's geo group). A geo set is a sorted set whose scores are 52-bit
//! geohashes (see `types::geo`), so every sorted set command works on it and every sorted set
//! can be searched.
//!
//! Propagation is Redis 7.0's: GEOADD goes as the `zadd` it turns into (the options as given,
//! then the integer scores); GEORADIUS ... STORE and GEOSEARCHSTORE go verbatim.
//! Coordinates are replied in Redis's "human" long double format (bulk strings on RESP2,
//! doubles on RESP3), distances with four decimals as bulk strings.

use std::cmp::Ordering;

use bytes::Bytes;

use super::string::access;
use super::zset::{as_zset, get_zset, store};
use super::{Ctx, Handler};
use crate::error::{CmdResult, Error};
use crate::resp::Reply;
use crate::types::geo::{self, Shape, ShapeKind};
use crate::types::zset::{ScoreBound, ZSet};
use crate::util::num::{parse_f64, parse_i64, write_double_human};

pub const HANDLERS: &[(&str, Handler)] = &[
    ("geoadd", geoadd),
    ("geodist", geodist),
    ("geohash", geohash),
    ("geopos", geopos),
    ("georadius", georadius),
    ("georadius_ro", georadius_ro),
    ("georadiusbymember", georadiusbymember),
    ("georadiusbymember_ro", georadiusbymember_ro),
    ("geosearch", geosearch),
    ("geosearchstore", geosearchstore),
];

/// A coordinate as Redis's addReplyHumanLongDouble writes it.
fn reply_coord(out: &mut Reply, v: f64) {
    let mut s = Vec::with_capacity(24);
    write_double_human(&mut s, v);
    if out.is_resp3() {
        out.raw(b",");
        out.raw(&s);
        out.raw(b"\r\n");
    } else {
        out.bulk(&s);
    }
}

/// A distance: four decimals, always a bulk string.
fn reply_dist(out: &mut Reply, d: f64) {
    out.bulk(format!("{d:.4}").as_bytes());
}

fn parse_double(arg: &[u8], err: Error) -> Result<f64, Error> {
    parse_f64(arg).ok_or(err)
}

/// A longitude/latitude pair, checked against the limits geo sets can hold.
fn parse_lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), Error> {
    let lon = parse_double(lon, Error::NOT_FLOAT)?;
    let lat = parse_double(lat, Error::NOT_FLOAT)?;
    if !geo::valid_lon_lat(lon, lat) {
        return Err(Error::err(format!("invalid longitude,latitude pair {lon:.6},{lat:.6}")));
    }
    Ok((lon, lat))
}

/// Metres per unit.
fn parse_unit(arg: &[u8]) -> Result<f64, Error> {
    if Ctx::is(arg, "m") {
        Ok(1.0)
    } else if Ctx::is(arg, "km") {
        Ok(1000.0)
    } else if Ctx::is(arg, "ft") {
        Ok(0.3048)
    } else if Ctx::is(arg, "mi") {
        Ok(1609.34)
    } else {
        Err(Error::err("unsupported unit provided. please use M, KM, FT, MI"))
    }
}

/// `radius unit`: (radius, metres per unit).
fn parse_radius(radius: &[u8], unit: &[u8]) -> Result<(f64, f64), Error> {
    let r = parse_double(radius, Error::err("need numeric radius"))?;
    if r < 0.0 {
        return Err(Error::err("radius cannot be negative"));
    }
    Ok((r, parse_unit(unit)?))
}

/// `width height unit`: (width, height, metres per unit).
fn parse_box(width: &[u8], height: &[u8], unit: &[u8]) -> Result<(f64, f64, f64), Error> {
    let w = parse_double(width, Error::err("need numeric width"))?;
    let h = parse_double(height, Error::err("need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        return Err(Error::err("height or width cannot be negative"));
    }
    Ok((w, h, parse_unit(unit)?))
}

/// GEOADD key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]
///
/// Runs (and propagates) as `zadd key [options] score member ...`, as Redis does.
fn geoadd(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx) = (false, false);
    let mut idx = 2;
    while idx < argv.len() {
        let a = &argv[idx][..];
        if Ctx::is(a, "nx") {
            nx = true;
        } else if Ctx::is(a, "xx") {
            xx = true;
        } else if !Ctx::is(a, "ch") {
            break;
        }
        idx += 1;
    }
    if !(argv.len() - idx).is_multiple_of(3) || (nx && xx) {
        return Err(Error::SYNTAX);
    }
    let elements = (argv.len() - idx) / 3;
    let mut zargv = Vec::with_capacity(idx + elements * 2);
    zargv.push(Bytes::from_static(b"zadd"));
    zargv.extend_from_slice(&argv[1..idx]);
    for t in argv[idx..].chunks_exact(3) {
        let (lon, lat) = parse_lon_lat(&t[0], &t[1])?;
        let score = geo::score_of(lon, lat).expect("checked by parse_lon_lat");
        zargv.push(Bytes::copy_from_slice(itoa::Buffer::new().format(score).as_bytes()));
        zargv.push(t[2].clone());
    }
    super::zset::zadd(ctx, &zargv)?;
    ctx.propagate(zargv);
    Ok(())
}

/// GEODIST key member1 member2 [M | KM | FT | MI]
fn geodist(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let to_meter = match argv.len() {
        5 => parse_unit(&argv[4])?,
        n if n > 5 => return Err(Error::SYNTAX),
        _ => 1.0,
    };
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let Some(z) = get_zset(db, &argv[1], now, acc)? else {
        out.null();
        return Ok(());
    };
    match (z.score(&argv[2]), z.score(&argv[3])) {
        (Some(a), Some(b)) => {
            let (a, b) = (geo::decode_score(a), geo::decode_score(b));
            reply_dist(out, geo::distance(a.0, a.1, b.0, b.1) / to_meter);
        }
        _ => out.null(),
    }
    Ok(())
}

/// GEOHASH key [member [member ...]]
fn geohash(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let z = get_zset(db, &argv[1], now, acc)?;
    out.array(argv.len() - 2);
    for m in &argv[2..] {
        match z.as_ref().and_then(|z| z.score(m)) {
            Some(s) => out.bulk(&geo::geohash_string(s)),
            None => out.null(),
        }
    }
    Ok(())
}

/// GEOPOS key [member [member ...]]
fn geopos(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let (db, out) = ctx.db_out();
    let z = get_zset(db, &argv[1], now, acc)?;
    out.array(argv.len() - 2);
    for m in &argv[2..] {
        match z.as_ref().and_then(|z| z.score(m)) {
            Some(s) => {
                let (lon, lat) = geo::decode_score(s);
                out.array(2);
                reply_coord(out, lon);
                reply_coord(out, lat);
            }
            None => out.null_array(),
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// GEORADIUS, GEORADIUSBYMEMBER, GEOSEARCH and their variants

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// GEORADIUS[_RO]: centre and radius are positional.
    Coords,
    /// GEORADIUSBYMEMBER[_RO]: member and radius are positional.
    Member,
    /// GEOSEARCH[STORE]: everything is an option.
    Search,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// A parsed search.
struct Search<'a> {
    shape: Shape,
    store: Option<&'a Bytes>,
    store_dist: bool,
    with_dist: bool,
    with_hash: bool,
    with_coord: bool,
    sort: Sort,
    any: bool,
    /// 0 for no limit.
    count: u64,
}

/// The centre of a search around `member`.
fn member_center(z: &ZSet, member: &[u8]) -> Result<(f64, f64), Error> {
    z.score(member)
        .map(geo::decode_score)
        .ok_or_else(|| Error::err("could not decode requested zset member"))
}

/// Parses a search's arguments, in Redis's order of checks. `z` is the source set, if any: a
/// search around a member of a missing key parses without looking for the member.
fn parse_search<'a>(
    argv: &'a [Bytes],
    variant: Variant,
    nostore: bool,
    searchstore: bool,
    z: Option<&ZSet>,
) -> Result<Search<'a>, Error> {
    let mut s = Search {
        shape: Shape { lon: 0.0, lat: 0.0, conversion: 0.0, kind: ShapeKind::Radius(0.0) },
        store: None,
        store_dist: false,
        with_dist: false,
        with_hash: false,
        with_coord: false,
        sort: Sort::None,
        any: false,
        count: 0,
    };
    let base = match variant {
        Variant::Coords => {
            let (lon, lat) = parse_lon_lat(&argv[2], &argv[3])?;
            let (r, conv) = parse_radius(&argv[4], &argv[5])?;
            s.shape = Shape { lon, lat, conversion: conv, kind: ShapeKind::Radius(r) };
            6
        }
        Variant::Member => {
            if let Some(z) = z {
                let (lon, lat) = member_center(z, &argv[2])?;
                let (r, conv) = parse_radius(&argv[3], &argv[4])?;
                s.shape = Shape { lon, lat, conversion: conv, kind: ShapeKind::Radius(r) };
            }
            5
        }
        Variant::Search => {
            if searchstore {
                s.store = Some(&argv[1]);
                3
            } else {
                2
            }
        }
    };
    let search = variant == Variant::Search;
    let (mut from_member, mut from_loc, mut by_radius, mut by_box) = (false, false, false, false);
    let rest = &argv[base..];
    let mut i = 0;
    while i < rest.len() {
        let a = &rest[i][..];
        let left = rest.len() - i - 1;
        if Ctx::is(a, "withdist") {
            s.with_dist = true;
        } else if Ctx::is(a, "withhash") {
            s.with_hash = true;
        } else if Ctx::is(a, "withcoord") {
            s.with_coord = true;
        } else if Ctx::is(a, "any") {
            s.any = true;
        } else if Ctx::is(a, "asc") {
            s.sort = Sort::Asc;
        } else if Ctx::is(a, "desc") {
            s.sort = Sort::Desc;
        } else if Ctx::is(a, "count") && left >= 1 {
            let c = parse_i64(&rest[i + 1]).ok_or(Error::NOT_INT)?;
            if c <= 0 {
                return Err(Error::err("COUNT must be > 0"));
            }
            s.count = c as u64;
            i += 1;
        } else if (Ctx::is(a, "store") || Ctx::is(a, "storedist"))
            && left >= 1
            && !nostore
            && !search
        {
            s.store = Some(&rest[i + 1]);
            s.store_dist = Ctx::is(a, "storedist");
            i += 1;
        } else if Ctx::is(a, "storedist") && search && searchstore {
            s.store_dist = true;
        } else if Ctx::is(a, "frommember") && left >= 1 && search && !from_loc {
            if let Some(z) = z {
                (s.shape.lon, s.shape.lat) = member_center(z, &rest[i + 1])?;
            }
            from_member = true;
            i += 1;
        } else if Ctx::is(a, "fromlonlat") && left >= 2 && search && !from_member {
            (s.shape.lon, s.shape.lat) = parse_lon_lat(&rest[i + 1], &rest[i + 2])?;
            from_loc = true;
            i += 2;
        } else if Ctx::is(a, "byradius") && left >= 2 && search && !by_box {
            let (r, conv) = parse_radius(&rest[i + 1], &rest[i + 2])?;
            s.shape.kind = ShapeKind::Radius(r);
            s.shape.conversion = conv;
            by_radius = true;
            i += 2;
        } else if Ctx::is(a, "bybox") && left >= 3 && search && !by_radius {
            let (width, height, conv) = parse_box(&rest[i + 1], &rest[i + 2], &rest[i + 3])?;
            s.shape.kind = ShapeKind::Box { width, height };
            s.shape.conversion = conv;
            by_box = true;
            i += 3;
        } else {
            return Err(Error::SYNTAX);
        }
        i += 1;
    }
    if s.store.is_some() && (s.with_dist || s.with_hash || s.with_coord) {
        let what = if searchstore { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return Err(Error::err(format!(
            "{what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = String::from_utf8_lossy(&argv[0]);
    if search && !(from_member || from_loc) {
        return Err(Error::err(format!(
            "exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if search && !(by_radius || by_box) {
        return Err(Error::err(format!(
            "exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if s.any && s.count == 0 {
        return Err(Error::err("the ANY argument requires COUNT argument"));
    }
    Ok(s)
}

/// A match: member, distance from the centre (metres), score and decoded position.
struct Point {
    member: Vec<u8>,
    dist: f64,
    score: f64,
    lon: f64,
    lat: f64,
}

/// The members of `z` inside `shape`, in the order Redis visits them (cell by cell, by score
/// within a cell), stopping at `limit` matches when it is not 0.
fn collect(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Point> {
    let mut found = Vec::new();
    for (min, max) in shape.score_ranges() {
        if limit > 0 && found.len() >= limit {
            break;
        }
        let (lo, hi) = z.score_range(
            ScoreBound { value: min as f64, excl: false },
            ScoreBound { value: max as f64, excl: true },
        );
        let mut done = false;
        z.for_range(lo, hi, false, |m, score| {
            if done {
                return;
            }
            let (lon, lat) = geo::decode_score(score);
            if let Some(dist) = shape.contains(lon, lat) {
                found.push(Point { member: m.to_vec(), dist, score, lon, lat });
            }
            done = limit > 0 && found.len() >= limit;
        });
    }
    found
}

fn search_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    src_idx: usize,
    variant: Variant,
    nostore: bool,
    searchstore: bool,
) -> CmdResult {
    let (now, acc) = (ctx.now, access(ctx));
    let db = ctx.db();
    let z = as_zset(db.lookup_read(&argv[src_idx], now, acc))?.map(|z| &*z);
    let s = parse_search(argv, variant, nostore, searchstore, z)?;
    let event = if searchstore { "geosearchstore" } else { "georadiusstore" };
    let Some(z) = z else {
        match s.store {
            Some(dst) => {
                store(ctx, dst, Vec::new(), event);
                ctx.out.int(0);
            }
            None => ctx.out.array(0),
        }
        return Ok(());
    };
    let mut sort = s.sort;
    if s.count != 0 && sort == Sort::None && !s.any {
        sort = Sort::Asc;
    }
    let limit = if s.any { s.count as usize } else { 0 };
    let mut points = collect(z, &s.shape, limit);
    if points.is_empty() && s.store.is_none() {
        ctx.out.array(0);
        return Ok(());
    }
    let total = points.len();
    let returned = if s.count == 0 { total } else { total.min(s.count as usize) };
    if sort != Sort::None {
        let cmp = |a: &Point, b: &Point| {
            let o = a.dist.partial_cmp(&b.dist).unwrap_or(Ordering::Equal);
            if sort == Sort::Desc {
                o.reverse()
            } else {
                o
            }
        };
        if returned == total {
            // Redis sorts the whole result with libc's qsort, a stable merge sort in glibc.
            points.sort_by(cmp);
        } else {
            geo::partial_sort(&mut points, returned - 1, &cmp);
        }
    }
    points.truncate(returned);
    let conv = s.shape.conversion;
    if let Some(dst) = s.store {
        let mut seen = std::collections::HashSet::with_capacity(points.len());
        let pairs: Vec<(Vec<u8>, f64)> = points
            .into_iter()
            .filter(|p| seen.insert(p.member.clone()))
            .map(|p| {
                let score = if s.store_dist { p.dist / conv } else { p.score };
                (p.member, score)
            })
            .collect();
        store(ctx, dst, pairs, event);
        if returned > 1 {
            // Redis counts one change per stored member.
            ctx.dirty(returned as u64 - 1);
        }
        ctx.out.int(returned as i64);
        return Ok(());
    }
    let options = usize::from(s.with_dist) + usize::from(s.with_hash) + usize::from(s.with_coord);
    let out = &mut ctx.out;
    out.array(points.len());
    for p in &points {
        if options > 0 {
            out.array(options + 1);
        }
        out.bulk(&p.member);
        if s.with_dist {
            reply_dist(out, p.dist / conv);
        }
        if s.with_hash {
            out.int(p.score as i64);
        }
        if s.with_coord {
            out.array(2);
            reply_coord(out, p.lon);
            reply_coord(out, p.lat);
        }
    }
    Ok(())
}

/// GEORADIUS key longitude latitude radius M | KM | FT | MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]
fn georadius(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 1, Variant::Coords, false, false)
}

/// GEORADIUS_RO key longitude latitude radius M | KM | FT | MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]
fn georadius_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 1, Variant::Coords, true, false)
}

/// GEORADIUSBYMEMBER key member radius M | KM | FT | MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]
fn georadiusbymember(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 1, Variant::Member, false, false)
}

/// GEORADIUSBYMEMBER_RO key member radius M | KM | FT | MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]
fn georadiusbymember_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 1, Variant::Member, true, false)
}

/// GEOSEARCH key FROMMEMBER member | FROMLONLAT longitude latitude BYRADIUS radius M | KM | FT | MI | BYBOX width height M | KM | FT | MI [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]
fn geosearch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 1, Variant::Search, false, false)
}

/// GEOSEARCHSTORE destination source FROMMEMBER member | FROMLONLAT longitude latitude BYRADIUS radius M | KM | FT | MI | BYBOX width height M | KM | FT | MI [ASC | DESC] [COUNT count [ANY]] [STOREDIST]
fn geosearchstore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    search_generic(ctx, argv, 2, Variant::Search, false, true)
}
