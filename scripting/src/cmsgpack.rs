//! The `cmsgpack` library scripts see: `pack`, `unpack`, `unpack_one` and `unpack_limit`,
//! making the encoding choices of the lua-cmsgpack 0.4.0 that Redis embeds (written from the
//! MessagePack specification and the reference's observed output):
//!
//! - numbers that are whole and fit in 64 bits as integers in their smallest form (unsigned
//!   forms for positive ones), other numbers as float32 when exact, else float64;
//! - tables whose keys are exactly 1..n as arrays (the empty table too), other tables as maps,
//!   in `next` order; tables nested 16 deep and values of other types (functions...) as nil;
//! - strings as fixstr/str8/str16/str32. Unpacking refuses bin, ext and the reserved byte.

use mlua::{Lua, MultiValue, Table, Value};

use crate::{arg_err, check_number, lua_err, opt_number};

/// Tables nested deeper than this are packed as nil.
const MAX_NESTING: usize = 16;

pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    t.set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(arg_err(lua, 0, "MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for a in args.iter() {
                pack(a, 0, &mut out)?;
            }
            lua.create_string(out)
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| {
            let s = check_string(lua, &args, 0)?;
            unpack_full(lua, &s, 0, 0)
        })?,
    )?;
    t.set(
        "unpack_one",
        lua.create_function(|lua, args: MultiValue| {
            let s = check_string(lua, &args, 0)?;
            let offset = opt_number(lua, &args, 1, 0.0)? as i64;
            unpack_full(lua, &s, 1, offset)
        })?,
    )?;
    t.set(
        "unpack_limit",
        lua.create_function(|lua, args: MultiValue| {
            let s = check_string(lua, &args, 0)?;
            let limit = check_number(lua, &args, 1)? as i64;
            let offset = opt_number(lua, &args, 2, 0.0)? as i64;
            unpack_full(lua, &s, limit, offset)
        })?,
    )?;
    Ok(t)
}

/// `luaL_checklstring`: a string, or a number as its string.
fn check_string(lua: &Lua, args: &MultiValue, i: usize) -> mlua::Result<Vec<u8>> {
    let got = match args.get(i) {
        Some(Value::String(s)) => return Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => return Ok(n.to_string().into_bytes()),
        Some(Value::Number(n)) => return Ok(crate::reply::format_g(*n, 14).into_bytes()),
        Some(v) => v.type_name(),
        None => "no value",
    };
    Err(arg_err(lua, i + 1, &format!("string expected, got {got}")))
}

/// Whether `n` is a whole number that a 64-bit integer holds exactly.
fn as_int(n: f64) -> Option<i64> {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    (n.is_finite() && n.trunc() == n && (-LIMIT..LIMIT).contains(&n)).then_some(n as i64)
}

fn pack(v: &Value, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => pack_number(*n as f64, out),
        Value::Number(n) => pack_number(*n, out),
        Value::String(s) => {
            let s = s.as_bytes();
            let n = s.len();
            if n < 32 {
                out.push(0xa0 | n as u8);
            } else if n <= 0xff {
                out.extend_from_slice(&[0xd9, n as u8]);
            } else if n <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            out.extend_from_slice(&s);
        }
        Value::Table(t) if level < MAX_NESTING => pack_table(t, level, out)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn pack_number(n: f64, out: &mut Vec<u8>) {
    if let Some(i) = as_int(n) {
        pack_int(i, out);
    } else if (n as f32) as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_bits().to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_bits().to_be_bytes());
    }
}

fn pack_int(i: i64, out: &mut Vec<u8>) {
    if i >= 0 {
        let u = i as u64;
        if u < 128 {
            out.push(u as u8);
        } else if u <= 0xff {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if i >= -32 {
        out.push(i as i8 as u8);
    } else if i >= -128 {
        out.extend_from_slice(&[0xd0, i as i8 as u8]);
    } else if i >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= i32::MIN as i64 {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

/// The length of `t` as an array when its keys are exactly 1..n, else None.
fn array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let mut count = 0usize;
    let mut max = 0usize;
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if n <= 0.0 || n.trunc() != n || n > usize::MAX as f64 {
            return Ok(None);
        }
        max = max.max(n as usize);
        count += 1;
    }
    Ok((max == count).then_some(count))
}

fn pack_header(n: usize, fix: u8, b16: u8, out: &mut Vec<u8>) {
    if n < 16 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(b16 + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn pack_table(t: &Table, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    if let Some(n) = array_len(t)? {
        pack_header(n, 0x90, 0xdc, out);
        for i in 1..=n {
            pack(&t.raw_get::<Value>(i)?, level + 1, out)?;
        }
    } else {
        let n = t.clone().pairs::<Value, Value>().count();
        pack_header(n, 0x80, 0xde, out);
        for pair in t.clone().pairs::<Value, Value>() {
            let (k, v) = pair?;
            pack(&k, level + 1, out)?;
            pack(&v, level + 1, out)?;
        }
    }
    Ok(())
}

/// Decodes up to `limit` objects (0: all) from `offset`; with a limit, the next offset (or -1
/// when the input is consumed) comes first.
fn unpack_full(lua: &Lua, s: &[u8], limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    let len = s.len() as i64;
    if offset < 0 || limit < 0 {
        // The reference names the input length where it means the limit.
        return Err(lua_err(
            lua,
            &format!("Invalid request to unpack with offset of {offset} and limit of {len}."),
        ));
    }
    if offset > len {
        return Err(lua_err(
            lua,
            &format!("Start offset {offset} greater than input length {len}."),
        ));
    }
    let mut d = Decoder { s, i: offset as usize };
    let mut values = Vec::new();
    while d.i < s.len() && (limit == 0 || (values.len() as i64) < limit) {
        match d.value(lua) {
            Ok(v) => values.push(v),
            Err(DecodeError::Lua(e)) => return Err(e),
            Err(DecodeError::Eof) => return Err(lua_err(lua, "Missing bytes in input.")),
            Err(DecodeError::Bad) => return Err(lua_err(lua, "Bad data format in input.")),
        }
    }
    let mut ret = MultiValue::new();
    if limit > 0 {
        let next = if d.i >= s.len() { -1 } else { d.i as i64 };
        ret.push_back(Value::Integer(next));
    }
    ret.extend(values);
    Ok(ret)
}

enum DecodeError {
    Eof,
    Bad,
    Lua(mlua::Error),
}

impl From<mlua::Error> for DecodeError {
    fn from(e: mlua::Error) -> Self {
        DecodeError::Lua(e)
    }
}

struct Decoder<'a> {
    s: &'a [u8],
    i: usize,
}

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self.i.checked_add(n).ok_or(DecodeError::Eof)?;
        let b = self.s.get(self.i..end).ok_or(DecodeError::Eof)?;
        self.i = end;
        Ok(b)
    }

    fn be(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(self.take(n)?.iter().fold(0u64, |a, &b| (a << 8) | b as u64))
    }

    fn value(&mut self, lua: &Lua) -> Result<Value, DecodeError> {
        let c = self.take(1)?[0];
        let num = |n: f64| Ok(Value::Number(n));
        match c {
            0x00..=0x7f => num(c as f64),
            0x80..=0x8f => self.map(lua, (c & 0x0f) as usize),
            0x90..=0x9f => self.array(lua, (c & 0x0f) as usize),
            0xa0..=0xbf => self.string(lua, (c & 0x1f) as usize),
            0xc0 => Ok(Value::Nil),
            0xc2 => Ok(Value::Boolean(false)),
            0xc3 => Ok(Value::Boolean(true)),
            0xca => num(f32::from_bits(self.be(4)? as u32) as f64),
            0xcb => num(f64::from_bits(self.be(8)?)),
            0xcc => num(self.be(1)? as f64),
            0xcd => num(self.be(2)? as f64),
            0xce => num(self.be(4)? as f64),
            // As the reference: read as a signed 64-bit integer.
            0xcf => num(self.be(8)? as i64 as f64),
            0xd0 => num(self.be(1)? as u8 as i8 as f64),
            0xd1 => num(self.be(2)? as u16 as i16 as f64),
            0xd2 => num(self.be(4)? as u32 as i32 as f64),
            0xd3 => num(self.be(8)? as i64 as f64),
            0xd9 => {
                let n = self.be(1)? as usize;
                self.string(lua, n)
            }
            0xda => {
                let n = self.be(2)? as usize;
                self.string(lua, n)
            }
            0xdb => {
                let n = self.be(4)? as usize;
                self.string(lua, n)
            }
            0xdc => {
                let n = self.be(2)? as usize;
                self.array(lua, n)
            }
            0xdd => {
                let n = self.be(4)? as usize;
                self.array(lua, n)
            }
            0xde => {
                let n = self.be(2)? as usize;
                self.map(lua, n)
            }
            0xdf => {
                let n = self.be(4)? as usize;
                self.map(lua, n)
            }
            0xe0..=0xff => num(c as i8 as f64),
            _ => Err(DecodeError::Bad),
        }
    }

    fn string(&mut self, lua: &Lua, n: usize) -> Result<Value, DecodeError> {
        let b = self.take(n)?;
        Ok(Value::String(lua.create_string(b)?))
    }

    fn array(&mut self, lua: &Lua, n: usize) -> Result<Value, DecodeError> {
        // Every element takes at least a byte: a count beyond the input is missing bytes.
        let t = lua.create_table_with_capacity(n.min(self.s.len() - self.i), 0)?;
        for i in 1..=n {
            let v = self.value(lua)?;
            t.raw_set(i, v)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, n: usize) -> Result<Value, DecodeError> {
        let t = lua.create_table_with_capacity(0, n.min(self.s.len() - self.i))?;
        for _ in 0..n {
            let k = self.value(lua)?;
            let v = self.value(lua)?;
            let bad_key = match &k {
                Value::Nil => Some("table index is nil"),
                Value::Number(f) if f.is_nan() => Some("table index is NaN"),
                _ => None,
            };
            if let Some(m) = bad_key {
                return Err(DecodeError::Lua(mlua::Error::RuntimeError(m.into())));
            }
            t.raw_set(k, v)?;
        }
        Ok(Value::Table(t))
    }
}
