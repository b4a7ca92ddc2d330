//! The `cjson` library scripts see: `cjson.encode`, `cjson.decode` and `cjson.null`, with the
//! output and error texts of the lua-cjson that Redis embeds.

use mlua::{Lua, Table, Value};

use crate::reply::format_g;

const MAX_DEPTH: usize = 1000;

/// An error raised as lua-cjson raises it: with the position of the script's line.
fn fail(lua: &Lua, msg: &str) -> mlua::Error {
    let line = crate::user_line(lua).map(|l| format!("user_script:{l}: ")).unwrap_or_default();
    mlua::Error::RuntimeError(format!("{line}{msg}"))
}

pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("null", Value::NULL)?;
    t.set(
        "encode",
        lua.create_function(|lua, args: mlua::MultiValue| {
            if args.len() != 1 {
                return Err(fail(lua, "bad argument #1 to 'encode' (expected 1 argument)"));
            }
            let mut out = Vec::new();
            encode(lua, &args[0], 0, &mut out)?;
            lua.create_string(out)
        })?,
    )?;
    t.set(
        "decode",
        lua.create_function(|lua, args: mlua::MultiValue| {
            if args.len() != 1 {
                return Err(fail(lua, "bad argument #1 to 'decode' (expected 1 argument)"));
            }
            let s = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(n) => n.to_string().into_bytes(),
                Value::Number(n) => format_g(*n, 14).into_bytes(),
                v => {
                    let m = format!(
                        "bad argument #1 to 'decode' (string expected, got {})",
                        v.type_name()
                    );
                    return Err(fail(lua, &m));
                }
            };
            let mut p = Parser { s: &s, i: 0, lua, depth: 0 };
            let v = p.value()?;
            p.ws();
            if p.i < s.len() {
                return Err(p.expected("the end"));
            }
            Ok(v)
        })?,
    )?;
    Ok(t)
}

fn encode(lua: &Lua, v: &Value, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err(fail(lua, "Cannot serialise number: must not be NaN or Inf"));
            }
            out.extend_from_slice(format_g(*n, 14).as_bytes());
        }
        Value::String(s) => string(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth + 1 > MAX_DEPTH {
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
            if array && max > 0 {
                if max > items * 2 && max > 10 {
                    return Err(fail(lua, "Cannot serialise table: excessively sparse array"));
                }
                out.push(b'[');
                for i in 1..=max {
                    if i > 1 {
                        out.push(b',');
                    }
                    encode(lua, &t.raw_get::<Value>(i)?, depth + 1, out)?;
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
                        Value::Integer(n) => string(n.to_string().as_bytes(), out),
                        Value::Number(n) => string(format_g(*n, 14).as_bytes(), out),
                        other => {
                            let m = format!(
                                "Cannot serialise {}: table key must be a number or string",
                                other.type_name()
                            );
                            return Err(fail(lua, &m));
                        }
                    }
                    out.push(b':');
                    encode(lua, &val, depth + 1, out)?;
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
            None => "T_END",
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
                if rest.starts_with(b"true") || rest.starts_with(b"false") {
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
                if self.depth > MAX_DEPTH {
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
            b'"' => Ok(Value::String(self.lua.create_string(self.string()?)?)),
            b'-' | b'0'..=b'9' => self.number(),
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
        while self.i < self.s.len()
            && matches!(self.s[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        match text.parse::<f64>() {
            Ok(n) => Ok(Value::Number(n)),
            Err(_) => {
                self.i = start;
                Err(fail(
                    self.lua,
                    &format!("Expected value but found invalid number at character {}", start + 1),
                ))
            }
        }
    }

    fn string(&mut self) -> mlua::Result<Vec<u8>> {
        let start = self.i;
        self.i += 1;
        let mut out = Vec::new();
        let bad = |p: &Self| {
            fail(
                p.lua,
                &format!("Expected value but found invalid string at character {}", start + 1),
            )
        };
        loop {
            let Some(&c) = self.s.get(self.i) else { return Err(bad(self)) };
            self.i += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else { return Err(bad(self)) };
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut cp = self.hex4().ok_or_else(|| bad(self))?;
                            if (0xD800..0xDC00).contains(&cp) {
                                // A surrogate pair.
                                if self.s.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return Err(bad(self));
                                }
                                self.i += 2;
                                let lo = self.hex4().ok_or_else(|| bad(self))?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(bad(self));
                                }
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            let ch = char::from_u32(cp).ok_or_else(|| bad(self))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(bad(self)),
                    }
                }
                c => out.push(c),
            }
        }
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
            let k = self.string()?;
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
