//! The `cjson` library scripts see: `cjson.encode`, `cjson.decode`, `cjson.null`, `cjson.new`
//! and the settings of the lua-cjson 2.1.0 that Redis embeds (`encode_sparse_array`,
//! `encode_max_depth`, `decode_max_depth`, `encode_number_precision`, `encode_keep_buffer`,
//! `encode_invalid_numbers`, `decode_invalid_numbers`), with its output and error texts. The
//! settings belong to the module table (and so last until SCRIPT FLUSH), `cjson.new()` makes a
//! module with settings of its own.

use std::sync::{Arc, Mutex};

use mlua::{Lua, MultiValue, Table, Value};

use crate::reply::format_g;
use crate::{arg_err, check_number};

/// The settings of one cjson module.
#[derive(Clone, Copy)]
struct Cfg {
    sparse_convert: bool,
    sparse_ratio: i64,
    sparse_safe: i64,
    encode_max_depth: i64,
    decode_max_depth: i64,
    /// 0 off (error), 1 on (`inf`, `nan`), 2 `null`.
    encode_invalid: u8,
    decode_invalid: bool,
    precision: usize,
    keep_buffer: bool,
}

impl Default for Cfg {
    fn default() -> Self {
        Cfg {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid: 0,
            decode_invalid: true,
            precision: 14,
            keep_buffer: true,
        }
    }
}

type Shared = Arc<Mutex<Cfg>>;

fn cfg(c: &Shared) -> Cfg {
    *c.lock().unwrap_or_else(|e| e.into_inner())
}

fn set_cfg(c: &Shared, f: impl FnOnce(&mut Cfg)) {
    f(&mut c.lock().unwrap_or_else(|e| e.into_inner()))
}

/// An error raised as lua-cjson raises it: with the position of its caller.
fn fail(lua: &Lua, msg: &str) -> mlua::Error {
    crate::lua_err(lua, msg)
}

const INT_MAX: i64 = i32::MAX as i64;

fn verify_arg_count(lua: &Lua, args: &MultiValue, n: usize) -> mlua::Result<()> {
    if args.len() > n {
        return Err(arg_err(lua, n + 1, "found too many arguments"));
    }
    Ok(())
}

/// An integer setting: unchanged when the argument is absent or nil.
fn int_option(
    lua: &Lua,
    args: &MultiValue,
    i: usize,
    min: i64,
    max: i64,
) -> mlua::Result<Option<i64>> {
    if matches!(args.get(i), None | Some(Value::Nil)) {
        return Ok(None);
    }
    let n = check_number(lua, args, i)? as i64;
    if !(min..=max).contains(&n) {
        // lua-cjson names the first argument whichever one is out of range.
        return Err(arg_err(lua, 1, &format!("expected integer between {min} and {max}")));
    }
    Ok(Some(n))
}

/// An on/off setting (`true`/`false` or one of `options`): the index of the option chosen,
/// `true` being `on_index`.
fn enum_option(
    lua: &Lua,
    args: &MultiValue,
    i: usize,
    options: &[&str],
    on_index: u8,
) -> mlua::Result<Option<u8>> {
    let s = match args.get(i) {
        None | Some(Value::Nil) => return Ok(None),
        Some(Value::Boolean(b)) => return Ok(Some(if *b { on_index } else { 0 })),
        Some(Value::String(s)) => s.to_string_lossy().to_string(),
        Some(Value::Integer(n)) => n.to_string(),
        Some(Value::Number(n)) => format_g(*n, 14),
        Some(v) => {
            return Err(arg_err(lua, i + 1, &format!("string expected, got {}", v.type_name())))
        }
    };
    match options.iter().position(|o| *o == s) {
        Some(p) => Ok(Some(p as u8)),
        None => Err(arg_err(lua, i + 1, &format!("invalid option '{s}'"))),
    }
}

/// What an on/off setting returns: a boolean, or the option's name beyond on/off.
fn enum_value(lua: &Lua, v: u8, options: &[&str], on_index: u8) -> mlua::Result<Value> {
    Ok(if v == 0 {
        Value::Boolean(false)
    } else if v == on_index {
        Value::Boolean(true)
    } else {
        Value::String(lua.create_string(options[v as usize])?)
    })
}

pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    fill(lua, &t)?;
    t.set(
        "new",
        lua.create_function(|lua, ()| {
            let t = lua.create_table()?;
            fill(lua, &t)?;
            Ok(t)
        })?,
    )?;
    Ok(t)
}

/// Fills a cjson module table with functions sharing one new set of settings.
fn fill(lua: &Lua, t: &Table) -> mlua::Result<()> {
    let shared: Shared = Arc::default();
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    t.set("null", Value::NULL)?;
    let c = shared.clone();
    t.set(
        "encode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(arg_err(lua, 1, "expected 1 argument"));
            }
            let mut out = Vec::new();
            encode(lua, &cfg(&c), &args[0], 0, &mut out)?;
            lua.create_string(out)
        })?,
    )?;
    let c = shared.clone();
    t.set(
        "decode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(arg_err(lua, 1, "expected 1 argument"));
            }
            let s = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(n) => n.to_string().into_bytes(),
                Value::Number(n) => format_g(*n, 14).into_bytes(),
                v => {
                    let m = format!("string expected, got {}", v.type_name());
                    return Err(arg_err(lua, 1, &m));
                }
            };
            // lua-cjson's guess at a wide encoding: a zero byte among the first two.
            if s.len() >= 2 && (s[0] == 0 || s[1] == 0) {
                return Err(fail(lua, "JSON parser does not support UTF-16 or UTF-32"));
            }
            let cfg = cfg(&c);
            let mut p = Parser { s: &s, i: 0, lua, depth: 0, cfg };
            let v = p.value()?;
            p.ws();
            // lua-cjson reads a C string: a zero byte is the end of the text.
            if p.i < s.len() && s[p.i] != 0 {
                return Err(p.expected("the end"));
            }
            Ok(v)
        })?,
    )?;
    const ONOFF: &[&str] = &["off", "on"];
    const INVALID: &[&str] = &["off", "on", "null"];
    let c = shared.clone();
    t.set(
        "encode_sparse_array",
        lua.create_function(move |lua, args: MultiValue| {
            verify_arg_count(lua, &args, 3)?;
            let convert = enum_option(lua, &args, 0, ONOFF, 1)?;
            let ratio = int_option(lua, &args, 1, 0, INT_MAX)?;
            let safe = int_option(lua, &args, 2, 0, INT_MAX)?;
            set_cfg(&c, |g| {
                if let Some(v) = convert {
                    g.sparse_convert = v == 1;
                }
                if let Some(v) = ratio {
                    g.sparse_ratio = v;
                }
                if let Some(v) = safe {
                    g.sparse_safe = v;
                }
            });
            let g = cfg(&c);
            Ok((g.sparse_convert, g.sparse_ratio, g.sparse_safe))
        })?,
    )?;
    for name in ["encode_max_depth", "decode_max_depth", "encode_number_precision"] {
        let c = shared.clone();
        let max = if name == "encode_number_precision" { 14 } else { INT_MAX };
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                verify_arg_count(lua, &args, 1)?;
                let v = int_option(lua, &args, 0, 1, max)?;
                set_cfg(&c, |g| {
                    let slot = match name {
                        "encode_max_depth" => &mut g.encode_max_depth,
                        "decode_max_depth" => &mut g.decode_max_depth,
                        _ => {
                            if let Some(v) = v {
                                g.precision = v as usize;
                            }
                            return;
                        }
                    };
                    if let Some(v) = v {
                        *slot = v;
                    }
                });
                let g = cfg(&c);
                Ok(match name {
                    "encode_max_depth" => g.encode_max_depth,
                    "decode_max_depth" => g.decode_max_depth,
                    _ => g.precision as i64,
                })
            })?,
        )?;
    }
    for name in ["encode_keep_buffer", "encode_invalid_numbers", "decode_invalid_numbers"] {
        let c = shared.clone();
        let options = if name == "encode_invalid_numbers" { INVALID } else { ONOFF };
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                verify_arg_count(lua, &args, 1)?;
                let v = enum_option(lua, &args, 0, options, 1)?;
                let mut now = 0;
                set_cfg(&c, |g| {
                    match name {
                        "encode_keep_buffer" => {
                            if let Some(v) = v {
                                g.keep_buffer = v == 1;
                            }
                            now = g.keep_buffer as u8;
                        }
                        "encode_invalid_numbers" => {
                            if let Some(v) = v {
                                g.encode_invalid = v;
                            }
                            now = g.encode_invalid;
                        }
                        _ => {
                            if let Some(v) = v {
                                g.decode_invalid = v == 1;
                            }
                            now = g.decode_invalid as u8;
                        }
                    };
                });
                enum_value(lua, now, options, 1)
            })?,
        )?;
    }
    Ok(())
}

fn number(lua: &Lua, cfg: &Cfg, n: f64, out: &mut Vec<u8>) -> mlua::Result<()> {
    if !n.is_finite() {
        match cfg.encode_invalid {
            0 => return Err(fail(lua, "Cannot serialise number: must not be NaN or Inf")),
            2 => out.extend_from_slice(b"null"),
            _ => out.extend_from_slice(if n.is_nan() {
                b"nan".as_slice()
            } else if n > 0.0 {
                b"inf"
            } else {
                b"-inf"
            }),
        }
        return Ok(());
    }
    out.extend_from_slice(format_g(n, cfg.precision).as_bytes());
    Ok(())
}

fn encode(lua: &Lua, cfg: &Cfg, v: &Value, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => number(lua, cfg, *n as f64, out)?,
        Value::Number(n) => number(lua, cfg, *n, out)?,
        Value::String(s) => string(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth as i64 + 1 > cfg.encode_max_depth {
                return Err(fail(
                    lua,
                    &format!("Cannot serialise, excessive nesting ({})", depth + 1),
                ));
            }
            // An array when every key is a positive integer, as lua-cjson.
            let mut max = 0usize;
            let mut items = 0usize;
            let mut array = true;
            for pair in t.pairs::<Value, Value>() {
                let (k, _) = pair?;
                let idx = match k {
                    Value::Integer(i) if i >= 1 => Some(i as usize),
                    Value::Number(f) if f >= 1.0 && f.fract() == 0.0 => Some(f as usize),
                    _ => None,
                };
                match idx {
                    Some(i) => {
                        max = max.max(i);
                        items += 1;
                    }
                    None => {
                        array = false;
                        break;
                    }
                }
            }
            // Too sparse: more than `safe` long and more than `ratio` times its items.
            let sparse = cfg.sparse_ratio > 0
                && max as i64 > cfg.sparse_safe
                && max as i64 > items as i64 * cfg.sparse_ratio;
            if array && max > 0 && sparse && !cfg.sparse_convert {
                return Err(fail(lua, "Cannot serialise table: excessively sparse array"));
            }
            if array && max > 0 && !sparse {
                out.push(b'[');
                for i in 1..=max {
                    if i > 1 {
                        out.push(b',');
                    }
                    encode(lua, cfg, &t.raw_get::<Value>(i)?, depth + 1, out)?;
                }
                out.push(b']');
            } else {
                out.push(b'{');
                let mut first = true;
                for pair in t.pairs::<Value, Value>() {
                    let (k, val) = pair?;
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    match &k {
                        Value::String(s) => string(&s.as_bytes(), out),
                        Value::Integer(n) => {
                            string(format_g(*n as f64, cfg.precision).as_bytes(), out)
                        }
                        Value::Number(n) => string(format_g(*n, cfg.precision).as_bytes(), out),
                        other => {
                            let m = format!(
                                "Cannot serialise {}: table key must be a number or string",
                                other.type_name()
                            );
                            return Err(fail(lua, &m));
                        }
                    }
                    out.push(b':');
                    encode(lua, cfg, &val, depth + 1, out)?;
                }
                out.push(b'}');
            }
        }
        other => {
            let m = format!("Cannot serialise {}: type not supported", other.type_name());
            return Err(fail(lua, &m));
        }
    }
    Ok(())
}

fn string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    lua: &'a Lua,
    depth: usize,
    cfg: Cfg,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    /// The name lua-cjson gives the token at the current position.
    fn token_name(&self) -> &'static str {
        match self.s.get(self.i) {
            None | Some(0) => "T_END",
            Some(b'{') => "T_OBJ_BEGIN",
            Some(b'}') => "T_OBJ_END",
            Some(b'[') => "T_ARR_BEGIN",
            Some(b']') => "T_ARR_END",
            Some(b'"') => "T_STRING",
            Some(b'-' | b'0'..=b'9') => "T_NUMBER",
            Some(b':') => "T_COLON",
            Some(b',') => "T_COMMA",
            Some(_) => {
                let rest = &self.s[self.i..];
                if self.cfg.decode_invalid && is_invalid_number(rest) {
                    "T_NUMBER"
                } else if rest.starts_with(b"true") || rest.starts_with(b"false") {
                    "T_BOOLEAN"
                } else if rest.starts_with(b"null") {
                    "T_NULL"
                } else {
                    "invalid token"
                }
            }
        }
    }

    fn expected(&self, what: &str) -> mlua::Error {
        let m =
            format!("Expected {what} but found {} at character {}", self.token_name(), self.i + 1);
        fail(self.lua, &m)
    }

    fn value(&mut self) -> mlua::Result<Value> {
        self.ws();
        let Some(&c) = self.s.get(self.i) else { return Err(self.expected("value")) };
        match c {
            b'{' | b'[' => {
                self.depth += 1;
                if self.depth as i64 > self.cfg.decode_max_depth {
                    let m = format!(
                        "Found too many nested data structures ({}) at character {}",
                        self.depth,
                        self.i + 1
                    );
                    return Err(fail(self.lua, &m));
                }
                let v = if c == b'{' { self.object()? } else { self.array()? };
                self.depth -= 1;
                Ok(v)
            }
            b'"' => Ok(Value::String(self.lua.create_string(self.string("value")?)?)),
            b'-' | b'0'..=b'9' => self.number(),
            b'+' | b'i' | b'I' | b'n' | b'N'
                if self.cfg.decode_invalid && is_invalid_number(&self.s[self.i..]) =>
            {
                self.number()
            }
            _ => {
                let rest = &self.s[self.i..];
                for (word, v) in [
                    ("true", Value::Boolean(true)),
                    ("false", Value::Boolean(false)),
                    ("null", Value::NULL),
                ] {
                    if rest.starts_with(word.as_bytes()) {
                        self.i += word.len();
                        return Ok(v);
                    }
                }
                Err(self.expected("value"))
            }
        }
    }

    fn number(&mut self) -> mlua::Result<Value> {
        let start = self.i;
        let rest = &self.s[start..];
        let scanned = if !self.cfg.decode_invalid && is_invalid_number(rest) {
            None
        } else {
            scan_number(rest)
        };
        match scanned {
            Some((n, len)) => {
                self.i += len;
                Ok(Value::Number(n))
            }
            None => Err(fail(
                self.lua,
                &format!("Expected value but found invalid number at character {}", start + 1),
            )),
        }
    }

    /// A string token; `expected` names it in errors ("value", "object key string").
    fn string(&mut self, expected: &str) -> mlua::Result<Vec<u8>> {
        self.i += 1;
        let mut out = Vec::new();
        // lua-cjson's token errors, at 1-based character `at`.
        let bad = |p: &Self, what: &str, at: usize| {
            fail(p.lua, &format!("Expected {expected} but found {what} at character {at}"))
        };
        loop {
            // The text ends at a zero byte, as a C string does for lua-cjson.
            let c = match self.s.get(self.i) {
                None | Some(0) => return Err(bad(self, "unexpected end of string", self.i + 1)),
                Some(&c) => c,
            };
            self.i += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    // Escape errors point at the backslash.
                    let at = self.i;
                    let e = self.s.get(self.i).copied().unwrap_or(0);
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let ch = self
                                .unicode_escape()
                                .ok_or_else(|| bad(self, "invalid unicode escape code", at))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(bad(self, "invalid escape code", at)),
                    }
                }
                c => out.push(c),
            }
        }
    }

    /// The character of a `\uXXXX` escape (a surrogate pair takes two), the `\u` read.
    fn unicode_escape(&mut self) -> Option<char> {
        let mut cp = self.hex4()?;
        if (0xD800..0xDC00).contains(&cp) {
            if self.s.get(self.i..self.i + 2) != Some(b"\\u") {
                return None;
            }
            self.i += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return None;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        char::from_u32(cp)
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.i..self.i + 4)?;
        let v = u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
        self.i += 4;
        Some(v)
    }

    fn array(&mut self) -> mlua::Result<Value> {
        self.i += 1;
        let t = self.lua.create_table()?;
        self.ws();
        if self.s.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Value::Table(t));
        }
        let mut n = 1;
        loop {
            let v = self.value()?;
            t.raw_set(n, v)?;
            n += 1;
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Table(t));
                }
                _ => return Err(self.expected("comma or array end")),
            }
        }
    }

    fn object(&mut self) -> mlua::Result<Value> {
        self.i += 1;
        let t = self.lua.create_table()?;
        self.ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Value::Table(t));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return Err(self.expected("object key string"));
            }
            let k = self.string("object key string")?;
            self.ws();
            if self.s.get(self.i) != Some(&b':') {
                return Err(self.expected("colon"));
            }
            self.i += 1;
            let v = self.value()?;
            t.raw_set(self.lua.create_string(k)?, v)?;
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Table(t));
                }
                _ => return Err(self.expected("comma or object end")),
            }
        }
    }
}

/// Whether a number token is one JSON does not allow (hexadecimal, infinity, NaN, a `+`),
/// which `decode_invalid_numbers` decides about.
fn is_invalid_number(s: &[u8]) -> bool {
    let mut p = s;
    if let Some((&c, r)) = p.split_first() {
        if c == b'+' {
            return true;
        }
        if c == b'-' {
            p = r;
        }
    }
    let lower = |i: usize| p.get(i).map(|c| c.to_ascii_lowercase());
    matches!((lower(0), lower(1)), (Some(b'0'), Some(b'x')))
        || p.len() >= 3
            && (p[..3].eq_ignore_ascii_case(b"inf") || p[..3].eq_ignore_ascii_case(b"nan"))
}

/// A number as C's `strtod` reads it from the start of `s` (decimal, hexadecimal, `inf`,
/// `infinity`, `nan`, with a sign): its value and length, or None when nothing is a number.
fn scan_number(s: &[u8]) -> Option<(f64, usize)> {
    let mut i = 0;
    let neg = match s.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i..];
    let starts = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if starts(b"infinity") {
        return Some((sign(f64::INFINITY), i + 8));
    }
    if starts(b"inf") {
        return Some((sign(f64::INFINITY), i + 3));
    }
    if starts(b"nan") {
        let mut len = i + 3;
        if s.get(len) == Some(&b'(') {
            if let Some(close) = s[len..].iter().position(|&c| c == b')') {
                if s[len + 1..len + close].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_') {
                    len += close + 1;
                }
            }
        }
        return Some((sign(f64::NAN), len));
    }
    if starts(b"0x") {
        let mut j = i + 2;
        let mut v = 0f64;
        let mut digits = 0;
        let mut exp: i64 = 0;
        while let Some(d) = s.get(j).and_then(|c| (*c as char).to_digit(16)) {
            v = v * 16.0 + d as f64;
            digits += 1;
            j += 1;
        }
        if s.get(j) == Some(&b'.') {
            let mut k = j + 1;
            while let Some(d) = s.get(k).and_then(|c| (*c as char).to_digit(16)) {
                v = v * 16.0 + d as f64;
                exp -= 4;
                digits += 1;
                k += 1;
            }
            if digits > 0 {
                j = k;
            }
        }
        if digits == 0 {
            // Only the `0` is a number.
            return Some((sign(0.0), i + 1));
        }
        if matches!(s.get(j), Some(b'p' | b'P')) {
            let mut k = j + 1;
            let eneg = match s.get(k) {
                Some(b'-') => {
                    k += 1;
                    true
                }
                Some(b'+') => {
                    k += 1;
                    false
                }
                _ => false,
            };
            let e0 = k;
            let mut e: i64 = 0;
            while let Some(d) = s.get(k).filter(|c| c.is_ascii_digit()) {
                e = (e * 10 + (d - b'0') as i64).min(100_000);
                k += 1;
            }
            if k > e0 {
                exp += if eneg { -e } else { e };
                j = k;
            }
        }
        return Some((sign(v * 2f64.powi(exp.clamp(-5000, 5000) as i32)), j));
    }
    let mut j = i;
    let mut digits = 0;
    while s.get(j).is_some_and(|c| c.is_ascii_digit()) {
        j += 1;
        digits += 1;
    }
    if s.get(j) == Some(&b'.') {
        j += 1;
        while s.get(j).is_some_and(|c| c.is_ascii_digit()) {
            j += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if matches!(s.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(s.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        if s.get(k).is_some_and(|c| c.is_ascii_digit()) {
            while s.get(k).is_some_and(|c| c.is_ascii_digit()) {
                k += 1;
            }
            j = k;
        }
    }
    let text = std::str::from_utf8(&s[i..j]).ok()?;
    let text = text.strip_suffix('.').unwrap_or(text);
    let text = if text.starts_with('.') { format!("0{text}") } else { text.to_string() };
    Some((sign(text.parse::<f64>().ok()?), j))
}
