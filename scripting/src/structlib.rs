//! The `struct` library scripts see: `struct.pack`, `struct.unpack` and `struct.size`, in the
//! format language of the lua-struct that Redis embeds (written from its documented format and
//! the reference's observed behaviour):
//!
//! - `>` big endian, `<` little endian (the default), `!n` maximum alignment (`!` alone: 8);
//! - `b`/`B` 1 byte, `h`/`H` 2, `l`/`L` and `T` 8, `i`/`I` n bytes (default 4, at most 32),
//!   signed (lower case) or unsigned; `f` float, `d` double;
//! - `s` a zero-terminated string, `cn` n characters (`c` one; `c0` the whole string when
//!   packing, the previous number's count when unpacking), `x` a zero byte; spaces are ignored.
//!
//! Items of more than a byte (except `c`) are aligned to the smaller of their size and the
//! maximum alignment.

use mlua::{Lua, MultiValue, Table, Value};

use crate::{arg_err, check_number, lua_err, opt_number};

const MAX_INT_SIZE: usize = 32;
const NATIVE_ALIGN: usize = 8;

pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", lua.create_function(pack)?)?;
    t.set("unpack", lua.create_function(unpack)?)?;
    t.set("size", lua.create_function(size)?)?;
    Ok(t)
}

/// One item of a format.
#[derive(Clone, Copy, PartialEq)]
enum Item {
    Int {
        size: usize,
        signed: bool,
    },
    Float,
    Double,
    /// `s`
    Zstr,
    /// `cn`
    Chars(usize),
    /// `x`
    Pad,
}

impl Item {
    fn size(self) -> usize {
        match self {
            Item::Int { size, .. } => size,
            Item::Float => 4,
            Item::Double => 8,
            Item::Zstr => 0,
            Item::Chars(n) => n,
            Item::Pad => 1,
        }
    }
}

/// Reads a format, calling `f` for each item with its endianness and the padding before it.
struct Format<'a> {
    fmt: &'a [u8],
    i: usize,
    big: bool,
    align: usize,
}

impl<'a> Format<'a> {
    fn new(fmt: &'a [u8]) -> Self {
        // The C library reads the format as a C string: it ends at a zero byte.
        let end = fmt.iter().position(|&c| c == 0).unwrap_or(fmt.len());
        Format { fmt: &fmt[..end], i: 0, big: false, align: 1 }
    }

    fn number(&mut self) -> Option<usize> {
        let start = self.i;
        let mut n: usize = 0;
        while let Some(c) = self.fmt.get(self.i).filter(|c| c.is_ascii_digit()) {
            n = n.saturating_mul(10).saturating_add((c - b'0') as usize);
            self.i += 1;
        }
        (self.i > start).then_some(n)
    }

    /// The next item, or None at the end of the format.
    fn next(&mut self, lua: &Lua) -> mlua::Result<Option<Item>> {
        while let Some(&c) = self.fmt.get(self.i) {
            self.i += 1;
            let item = match c {
                b' ' => continue,
                b'>' => {
                    self.big = true;
                    continue;
                }
                b'<' => {
                    self.big = false;
                    continue;
                }
                b'!' => {
                    self.align = self.number().unwrap_or(NATIVE_ALIGN);
                    continue;
                }
                b'b' | b'B' => Item::Int { size: 1, signed: c == b'b' },
                b'h' | b'H' => Item::Int { size: 2, signed: c == b'h' },
                b'l' | b'L' => Item::Int { size: 8, signed: c == b'l' },
                b'T' => Item::Int { size: 8, signed: false },
                b'i' | b'I' => {
                    let size = self.number().unwrap_or(4);
                    if size > MAX_INT_SIZE {
                        return Err(lua_err(
                            lua,
                            &format!("integral size {size} is larger than limit of {MAX_INT_SIZE}"),
                        ));
                    }
                    Item::Int { size, signed: c == b'i' }
                }
                b'f' => Item::Float,
                b'd' => Item::Double,
                b's' => Item::Zstr,
                b'c' => Item::Chars(self.number().unwrap_or(1)),
                b'x' => Item::Pad,
                c => {
                    let m = format!("invalid format option '{}'", c as char);
                    return Err(arg_err(lua, 1, &m));
                }
            };
            return Ok(Some(item));
        }
        Ok(None)
    }

    /// Padding needed before `item` at offset `len`.
    fn to_align(&self, lua: &Lua, len: usize, item: Item) -> mlua::Result<usize> {
        let size = item.size();
        if size <= 1 || matches!(item, Item::Chars(_)) {
            return Ok(0);
        }
        let a = size.min(self.align);
        if a == 1 {
            return Ok(0);
        }
        if !a.is_power_of_two() {
            return Err(lua_err(lua, &format!("alignment {a} is not a power of 2")));
        }
        Ok((a - (len & (a - 1))) & (a - 1))
    }
}

fn check_str(lua: &Lua, args: &MultiValue, i: usize, missing: &str) -> mlua::Result<Vec<u8>> {
    let got = match args.get(i) {
        Some(Value::String(s)) => return Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => return Ok(n.to_string().into_bytes()),
        Some(Value::Number(n)) => return Ok(crate::reply::format_g(*n, 14).into_bytes()),
        Some(v) => v.type_name(),
        None => missing,
    };
    Err(arg_err(lua, i + 1, &format!("string expected, got {got}")))
}

/// A data argument of `pack`: a missing one is reported as nil, as the reference does.
fn data_number(lua: &Lua, args: &MultiValue, i: usize) -> mlua::Result<f64> {
    if args.get(i).is_none() {
        return Err(arg_err(lua, i + 1, "number expected, got nil"));
    }
    check_number(lua, args, i)
}

fn put_int(out: &mut Vec<u8>, n: f64, size: usize, big: bool) {
    const P63: f64 = 9_223_372_036_854_775_808.0;
    // C's casts as x86-64 makes them: below 2^63 through a signed conversion.
    let v: u64 = if n < P63 {
        if n.is_nan() || n < -P63 {
            1 << 63
        } else {
            n as i64 as u64
        }
    } else if n < 2.0 * P63 {
        n as u64
    } else {
        1 << 63
    };
    let start = out.len();
    for k in 0..size {
        out.push(if k < 8 { (v >> (8 * k)) as u8 } else { 0 });
    }
    if big {
        out[start..].reverse();
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8], big: bool) {
    // `b` is little endian.
    if big {
        out.extend(b.iter().rev());
    } else {
        out.extend_from_slice(b);
    }
}

/// struct.pack(fmt, ...)
fn pack(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::LuaString> {
    let fmt = check_str(lua, &args, 0, "no value")?;
    let mut f = Format::new(&fmt);
    let mut out = Vec::new();
    let mut arg = 1;
    while let Some(item) = f.next(lua)? {
        let pad = f.to_align(lua, out.len(), item)?;
        out.resize(out.len() + pad, 0);
        match item {
            Item::Int { size, .. } => {
                let n = data_number(lua, &args, arg)?;
                arg += 1;
                put_int(&mut out, n, size, f.big);
            }
            Item::Float => {
                let n = data_number(lua, &args, arg)? as f32;
                arg += 1;
                put_bytes(&mut out, &n.to_le_bytes(), f.big);
            }
            Item::Double => {
                let n = data_number(lua, &args, arg)?;
                arg += 1;
                put_bytes(&mut out, &n.to_le_bytes(), f.big);
            }
            Item::Zstr => {
                let s = check_str(lua, &args, arg, "nil")?;
                arg += 1;
                out.extend_from_slice(&s);
                out.push(0);
            }
            Item::Chars(n) => {
                let s = check_str(lua, &args, arg, "nil")?;
                arg += 1;
                if s.len() < n {
                    // The reference names the argument after the string.
                    return Err(arg_err(lua, arg + 1, "string too short"));
                }
                let n = if n == 0 { s.len() } else { n };
                out.extend_from_slice(&s[..n]);
            }
            Item::Pad => out.push(0),
        }
    }
    lua.create_string(out)
}

fn get_int(data: &[u8], size: usize, signed: bool, big: bool) -> f64 {
    let mut v: u64 = 0;
    for k in 0..size {
        let b = if big { data[k] } else { data[size - 1 - k] };
        v = (v << 8) | b as u64;
    }
    if signed {
        if size < 8 && size > 0 {
            let mask = 1u64 << (size * 8 - 1);
            if v & mask != 0 {
                v |= !(mask - 1);
            }
        }
        v as i64 as f64
    } else {
        v as f64
    }
}

/// struct.unpack(fmt, data [, offset])
fn unpack(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let fmt = check_str(lua, &args, 0, "no value")?;
    let data = check_str(lua, &args, 1, "no value")?;
    let offset = opt_number(lua, &args, 2, 1.0)? as i64;
    if offset < 1 {
        return Err(arg_err(lua, 3, "offset must be 1 or greater"));
    }
    let mut pos = (offset - 1) as usize;
    let mut f = Format::new(&fmt);
    let mut ret: Vec<Value> = Vec::new();
    let short = |lua: &Lua| arg_err(lua, 2, "data string too short");
    while let Some(item) = f.next(lua)? {
        pos += f.to_align(lua, pos, item)?;
        let size = item.size();
        if pos.saturating_add(size) > data.len() {
            return Err(short(lua));
        }
        match item {
            Item::Int { size, signed } => {
                ret.push(Value::Number(get_int(&data[pos..], size, signed, f.big)));
            }
            Item::Float | Item::Double => {
                let mut b = data[pos..pos + size].to_vec();
                if f.big {
                    b.reverse();
                }
                let n = if size == 4 {
                    f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64
                } else {
                    f64::from_le_bytes(b.try_into().unwrap_or([0; 8]))
                };
                ret.push(Value::Number(n));
            }
            Item::Zstr => {
                let Some(z) = data[pos..].iter().position(|&c| c == 0) else {
                    return Err(lua_err(lua, "unfinished string in data"));
                };
                ret.push(Value::String(lua.create_string(&data[pos..pos + z])?));
                pos += z + 1;
            }
            Item::Chars(0) => {
                let n = match ret.last() {
                    Some(Value::Number(n)) => *n,
                    Some(Value::String(s)) => {
                        match s.to_str().ok().and_then(|t| crate::lua_str_to_number(&t)) {
                            Some(n) => n,
                            None => return Err(lua_err(lua, "format 'c0' needs a previous size")),
                        }
                    }
                    _ => return Err(lua_err(lua, "format 'c0' needs a previous size")),
                };
                ret.pop();
                let n = if n < 0.0 { usize::MAX } else { n as usize };
                if pos.saturating_add(n) > data.len() {
                    return Err(short(lua));
                }
                ret.push(Value::String(lua.create_string(&data[pos..pos + n])?));
                pos += n;
            }
            Item::Chars(n) => {
                ret.push(Value::String(lua.create_string(&data[pos..pos + n])?));
            }
            Item::Pad => {}
        }
        if !matches!(item, Item::Zstr | Item::Chars(0)) {
            pos += size;
        }
    }
    ret.push(Value::Integer(pos as i64 + 1));
    Ok(ret.into_iter().collect())
}

/// struct.size(fmt)
fn size(lua: &Lua, args: MultiValue) -> mlua::Result<i64> {
    let fmt = check_str(lua, &args, 0, "no value")?;
    let mut f = Format::new(&fmt);
    let mut len = 0usize;
    while let Some(item) = f.next(lua)? {
        let name = match item {
            Item::Zstr => Some("s"),
            Item::Chars(0) => Some("c0"),
            _ => None,
        };
        if let Some(name) = name {
            return Err(arg_err(lua, 1, &format!("option '{name}' has no fixed size")));
        }
        len += f.to_align(lua, len, item)?;
        len += item.size();
    }
    Ok(len as i64)
}
