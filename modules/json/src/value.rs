//! The document model: JSON values that keep integers and floats apart, objects in insertion
//! order (a removal moves the last key into the hole, as RedisJSON's objects do), parsing with
//! serde_json's exact error messages, and RedisJSON's output formats.

use std::fmt;

pub use crate::compact::{Arr, Map, Str};
use thin_vec::ThinVec;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The deepest document this module keeps. Parsing alone stops at 128 levels (serde_json's
/// limit, with its message, as RedisJSON); a value set below an existing path may add to the
/// depth, and the whole document is refused past this, so that nothing recursive over a
/// document (output, comparison, drop) can exhaust a thread's stack.
pub const MAX_DEPTH: usize = 1024;

#[derive(Debug, Clone, Copy)]
pub enum Num {
    /// Integers that fit an i64.
    I(i64),
    /// Integers above i64::MAX that fit a u64.
    U(u64),
    F(f64),
}

#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Num(Num),
    Str(Str),
    Arr(Arr),
    Obj(Map),
}

impl Num {
    pub fn as_f64(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::U(u) => u as f64,
            Num::F(f) => f,
        }
    }
    pub fn is_float(self) -> bool {
        matches!(self, Num::F(_))
    }
    /// Equality as RedisJSON's values compare: an integer never equals a float.
    pub fn strict_eq(self, other: Num) -> bool {
        match (self, other) {
            (Num::F(a), Num::F(b)) => a == b,
            (Num::F(_), _) | (_, Num::F(_)) => false,
            (a, b) => int128(a) == int128(b),
        }
    }
}

fn int128(n: Num) -> i128 {
    match n {
        Num::I(i) => i as i128,
        Num::U(u) => u as i128,
        Num::F(f) => f as i128,
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Num(a), Value::Num(b)) => a.strict_eq(*b),
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Arr(a), Value::Arr(b)) => a == b,
            (Value::Obj(a), Value::Obj(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| v == w))
            }
            _ => false,
        }
    }
}

impl Value {
    /// RedisJSON's type names (JSON.TYPE).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Num(Num::F(_)) => "number",
            Value::Num(_) => "integer",
            Value::Str(_) => "string",
            Value::Arr(_) => "array",
            Value::Obj(_) => "object",
        }
    }

    /// Levels of nesting: a scalar is 0, `[]` is 1, `[[1]]` is 2.
    pub fn depth(&self) -> usize {
        match self {
            Value::Arr(a) => 1 + a.iter().map(Value::depth).max().unwrap_or(0),
            Value::Obj(o) => 1 + o.values().map(Value::depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    /// Parses one JSON value as RedisJSON does: serde_json's grammar and error messages
    /// (`EOF while parsing a value at line 1 column 0`), its 128-level recursion limit, and
    /// whatever follows the first value ignored.
    pub fn parse(text: &[u8]) -> Result<Value, String> {
        parse_with(text, true, false)
    }

    /// [`Value::parse`], but what follows the value is an error (`trailing characters at line 1
    /// column 8`): how RedisJSON reads JSON.ARRINDEX's value.
    pub fn parse_whole(text: &[u8]) -> Result<Value, String> {
        parse_with(text, true, true)
    }

    /// Parses a document this module wrote itself, which may be deeper than 128 levels (a
    /// value set below a path adds to the depth) but never deeper than [`MAX_DEPTH`].
    pub fn parse_stored(text: &[u8]) -> Result<Value, String> {
        parse_with(text, false, false)
    }

    /// The compact serialization (JSON.GET without formatting).
    pub fn to_json(&self) -> String {
        self.to_json_with(&Format::COMPACT)
    }

    pub fn to_json_with(&self, f: &Format) -> String {
        let mut out = Vec::new();
        self.write(&mut out, f, 0);
        into_string(out)
    }

    /// Writes the value with `f`'s indent, newline and space (after `:`), as serde_json's
    /// pretty printer with those strings: nothing between the brackets of an empty container.
    ///
    /// It writes bytes: the strings are UTF-8 already, and a `String` would check each one again
    /// (an inline string's bytes are checked whenever it is read as a `&str`).
    pub fn write(&self, out: &mut Vec<u8>, f: &Format, level: usize) {
        match self {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Num(n) => write_num(out, *n),
            Value::Str(s) => write_str(out, s.as_bytes()),
            Value::Arr(a) => write_array(out, a.iter(), f, level),
            Value::Obj(o) => {
                out.push(b'{');
                for (i, (k, v)) in o.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    f.line(out, level + 1);
                    write_str(out, k.as_bytes());
                    out.push(b':');
                    out.extend_from_slice(f.space.as_bytes());
                    v.write(out, f, level + 1);
                }
                if !o.is_empty() {
                    f.line(out, level);
                }
                out.push(b'}');
            }
        }
    }
}

/// What the writers produced, as text: only UTF-8 goes in (strings as stored, ASCII around
/// them), so the check cannot fail; it is one pass over the whole output.
fn into_string(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Writes `items` as a JSON array (what `Value::Arr` of them writes, without building one).
pub fn write_array<'a>(
    out: &mut Vec<u8>,
    items: impl Iterator<Item = &'a Value>,
    f: &Format,
    level: usize,
) {
    out.push(b'[');
    let mut any = false;
    for v in items {
        if any {
            out.push(b',');
        }
        any = true;
        f.line(out, level + 1);
        v.write(out, f, level + 1);
    }
    if any {
        f.line(out, level);
    }
    out.push(b']');
}

/// The JSON array of `items`, formatted with `f`.
pub fn array_to_json(items: &[&Value], f: &Format) -> String {
    let mut out = Vec::new();
    write_array(&mut out, items.iter().copied(), f, 0);
    into_string(out)
}

/// JSON.GET's INDENT, NEWLINE and SPACE.
#[derive(Debug, Clone, Default)]
pub struct Format {
    pub indent: String,
    pub newline: String,
    pub space: String,
}

impl Format {
    pub const COMPACT: Format =
        Format { indent: String::new(), newline: String::new(), space: String::new() };

    pub fn is_compact(&self) -> bool {
        self.indent.is_empty() && self.newline.is_empty() && self.space.is_empty()
    }

    fn line(&self, out: &mut Vec<u8>, level: usize) {
        if self.newline.is_empty() && self.indent.is_empty() {
            return;
        }
        out.extend_from_slice(self.newline.as_bytes());
        for _ in 0..level {
            out.extend_from_slice(self.indent.as_bytes());
        }
    }
}

pub fn write_num(out: &mut Vec<u8>, n: Num) {
    match n {
        Num::I(i) => out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
        Num::U(u) => out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes()),
        Num::F(f) if f.is_finite() => {
            out.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes())
        }
        Num::F(_) => out.extend_from_slice(b"null"),
    }
}

/// A JSON string literal with serde_json's escapes (`\"`, `\\`, `\n`, `\u0001`; `/` and
/// non-ASCII characters as they are).
pub fn write_str(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    let mut start = 0;
    for (i, &c) in s.iter().enumerate() {
        // Most bytes need no escape: one table lookup says so.
        if !NEEDS_ESCAPE[c as usize] {
            continue;
        }
        out.extend_from_slice(&s[start..i]);
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            _ => {
                let hex = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.extend_from_slice(&[hex[(c >> 4) as usize], hex[(c & 15) as usize]]);
                start = i + 1;
                continue;
            }
        };
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
    out.push(b'"');
}

/// The bytes a JSON string literal escapes: the quote, the backslash and the control characters.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// A double as Redis 7.2+ replies it on RESP2 (what Redis Stack sends for JSON.RESP's
/// floats): an integral value within half of i64's range as an integer; otherwise the shortest
/// digits that round-trip, plain when the exponent is small (`1000000`, `0.000001`,
/// `123456789.5`), else `1e+20`, `1.5e-7`. (Redis finds its digits with Grisu2, which for a few
/// values gives one more digit than the shortest.)
pub fn format_double(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    const HALF: f64 = (i64::MAX / 2) as f64;
    if x.fract() == 0.0 && x.abs() <= HALF {
        let i = x as i64;
        return if i == 0 && x.is_sign_negative() { "-0".into() } else { i.to_string() };
    }
    let mut out = String::new();
    if x < 0.0 {
        out.push('-');
    }
    // `d.ddde±x`: the digits, and `k`, the power of ten of the last one.
    let sci = format!("{:e}", x.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let n = digits.len() as i64;
    let k = exp.parse::<i64>().unwrap_or(0) - (n - 1);
    let e = (k + n - 1).abs();
    if k >= 0 && e < n + 7 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', k as usize));
    } else if k < 0 && (k > -7 || e < 4) {
        if n + k > 0 {
            let (int, frac) = digits.split_at((n + k) as usize);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-(n + k)) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if k + n - 1 < 0 { '-' } else { '+' });
        out.push_str(&e.to_string());
    }
    out
}

/// Parses with serde_json, its recursion limit on or off. Text that is valid UTF-8 as a whole
/// (one fast check) is read as a `&str`, so that serde_json does not check each string again;
/// other text is read as bytes, for serde_json's error at the bad byte (the same messages and
/// positions either way: its `str` reader is its byte reader without the per-string check).
fn parse_with(text: &[u8], limit: bool, whole: bool) -> Result<Value, String> {
    fn run<'de, R: serde_json::de::Read<'de>>(
        mut de: serde_json::Deserializer<R>,
        limit: bool,
        whole: bool,
    ) -> Result<Value, String> {
        if !limit {
            de.disable_recursion_limit();
        }
        let mut scratch = SCRATCH.take();
        let out = scratch.parse(&mut de).map_err(|e| e.to_string());
        scratch.clear();
        if scratch.items.capacity() <= KEEP && scratch.members.capacity() <= KEEP {
            SCRATCH.set(scratch);
        }
        let v = out?;
        if whole {
            de.end().map_err(|e| e.to_string())?;
        }
        Ok(v)
    }
    match std::str::from_utf8(text) {
        Ok(s) => run(serde_json::Deserializer::from_str(s), limit, whole),
        Err(_) => run(serde_json::Deserializer::from_slice(text), limit, whole),
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        Scratch::default().parse(d)
    }
}

/// Where a parse keeps the elements and members of the containers it is inside of: a
/// container's own run on top of the stack, moved into one exact-size allocation when it ends
/// (no growing, no cutting to size), and an object's keys checked for repeats only then.
/// Each value is written where it goes (an element slot, or the value of a member whose key
/// is pushed first) rather than returned up through serde's results: a 24-byte value moved
/// through a few `Result`s and `Option`s on the stack cost more than building it.
#[derive(Default)]
struct Scratch {
    items: ThinVec<Value>,
    members: ThinVec<(Str, Value)>,
}

impl Scratch {
    fn clear(&mut self) {
        self.items.clear();
        self.members.clear();
    }

    /// One value from `d` (the scratch stacks as they were before, or with what an error
    /// left on them).
    fn parse<'de, D: Deserializer<'de>>(&mut self, d: D) -> Result<Value, D::Error> {
        let base = self.items.len();
        Seed { s: self, to: Slot::Item }.deserialize(d)?;
        match self.items.len() {
            n if n == base + 1 => Ok(self.items.pop().unwrap_or(Value::Null)),
            _ => Err(de::Error::custom("no value parsed")),
        }
    }
}

/// The elements and members a thread's scratch stacks keep room for between parses (more is
/// given back).
const KEEP: usize = 1024;

thread_local! {
    /// Each thread's scratch stacks, kept between parses (none allocated per parse).
    static SCRATCH: std::cell::Cell<Scratch> = const {
        std::cell::Cell::new(Scratch { items: ThinVec::new(), members: ThinVec::new() })
    };
}

/// Where a parsed value goes.
#[derive(Clone, Copy)]
enum Slot {
    /// Onto the element stack.
    Item,
    /// Into the member at this position of the member stack (its key is there already).
    Member(usize),
}

/// Parses one value into its slot, its containers' contents going through the scratch stacks.
struct Seed<'s> {
    s: &'s mut Scratch,
    to: Slot,
}

impl Seed<'_> {
    /// Puts the value `v` makes into the slot. `v` runs once the slot has room, so that the
    /// value is stored straight into it: a value made first was stored on the stack field by
    /// field and then copied 16 bytes at a time, each load waiting for the narrower stores
    /// (no store forwarding).
    #[inline(always)]
    fn put<E>(self, v: impl FnOnce() -> Value) -> Result<(), E> {
        match self.to {
            Slot::Item => self.s.items.extend(std::iter::once_with(v)),
            Slot::Member(i) => {
                if let Some(m) = self.s.members.get_mut(i) {
                    // The slot holds the null its key was pushed with: nothing to drop.
                    std::mem::forget(std::mem::replace(&mut m.1, v()));
                }
            }
        }
        Ok(())
    }
}

impl Seed<'_> {
    /// Puts a string value, its bytes written in its slot (see [`Str::set`]).
    fn put_str<E>(self, s: &str) -> Result<(), E> {
        let slot = match self.to {
            Slot::Item => {
                self.s.items.push(Value::Str(Str::default()));
                self.s.items.last_mut()
            }
            Slot::Member(i) => self.s.members.get_mut(i).map(|m| {
                m.1 = Value::Str(Str::default());
                &mut m.1
            }),
        };
        if let Some(Value::Str(x)) = slot {
            x.set(s);
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// An object key, read straight into a new member on the stack (no intermediate `String`
/// when borrowed), its value null until parsed.
struct Key<'s>(&'s mut ThinVec<(Str, Value)>);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        // Its bytes written in its slot (see [`Str::set`]).
        self.0.push((Str::default(), Value::Null));
        if let Some((k, _)) = self.0.last_mut() {
            k.set(s);
        }
        Ok(())
    }
    fn visit_string<E>(self, s: String) -> Result<(), E> {
        self.0.push((s.into(), Value::Null));
        Ok(())
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any valid JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.put(|| Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<(), E> {
        self.put(|| Value::Num(Num::I(i)))
    }
    fn visit_u64<E>(self, u: u64) -> Result<(), E> {
        self.put(|| Value::Num(if u <= i64::MAX as u64 { Num::I(u as i64) } else { Num::U(u) }))
    }
    fn visit_f64<E>(self, f: f64) -> Result<(), E> {
        self.put(|| Value::Num(Num::F(f)))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.put_str(s)
    }
    fn visit_string<E>(self, s: String) -> Result<(), E> {
        self.put(|| Value::Str(s.into()))
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.put(|| Value::Null)
    }
    fn visit_none<E>(self) -> Result<(), E> {
        self.put(|| Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Seed { s, to } = self;
        let base = s.items.len();
        while seq.next_element_seed(Seed { s: &mut *s, to: Slot::Item })?.is_some() {}
        // One exact-size block, the elements moved in one copy.
        let a = s.items.split_off(base);
        Seed { s, to }.put(|| Value::Arr(a))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Seed { s, to } = self;
        let base = s.members.len();
        while map.next_key_seed(Key(&mut s.members))?.is_some() {
            let at = Slot::Member(s.members.len() - 1);
            map.next_value_seed(Seed { s: &mut *s, to: at })?;
        }
        let m = Map::from_parsed(&mut s.members, base);
        Seed { s, to }.put(|| Value::Obj(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(s: &str) -> String {
        Value::parse(s.as_bytes()).unwrap().to_json()
    }

    #[test]
    fn numbers_round_trip_as_redisjson() {
        assert_eq!(
            round("[1,2.0,3.5e10,1e300,-0.0,1E5,0.1,1.5e-7,1e16,1.5e16]"),
            "[1,2.0,35000000000.0,1e300,-0.0,100000.0,0.1,1.5e-7,1e16,1.5e16]"
        );
        assert_eq!(round("18446744073709551615"), "18446744073709551615");
        assert_eq!(round("-9223372036854775808"), "-9223372036854775808");
        assert_eq!(round("18446744073709551616"), "1.8446744073709552e19");
        assert_eq!(round("123456789012345678901234567890"), "1.2345678901234568e29");
        assert_eq!(Value::parse(b"1e400").unwrap_err(), "number out of range at line 1 column 5");
    }

    #[test]
    fn types() {
        let v = Value::parse(br#"[1,1.0,"s",true,null,[],{},18446744073709551615]"#).unwrap();
        let Value::Arr(a) = v else { panic!() };
        let names: Vec<_> = a.iter().map(Value::type_name).collect();
        assert_eq!(
            names,
            ["integer", "number", "string", "boolean", "null", "array", "object", "integer"]
        );
    }

    #[test]
    fn parse_errors_are_serde_jsons() {
        let e = |s: &str| Value::parse(s.as_bytes()).unwrap_err();
        assert_eq!(e(""), "EOF while parsing a value at line 1 column 0");
        assert_eq!(e("{\"a\":"), "EOF while parsing a value at line 1 column 5");
        assert_eq!(e("nope"), "expected ident at line 1 column 2");
        assert_eq!(e("[1,2"), "EOF while parsing a list at line 1 column 4");
        assert_eq!(e("{'a':1}"), "key must be a string at line 1 column 2");
        assert_eq!(e("[1,]"), "trailing comma at line 1 column 4");
        assert_eq!(e("01"), "invalid number at line 1 column 2");
        // What follows the first value is ignored, as RedisJSON does.
        assert_eq!(round("{\"a\":1}x"), "{\"a\":1}");
        // Text that is not UTF-8 is read as bytes: the error names the bad string; after the
        // value, bad bytes are ignored as anything else is.
        assert_eq!(
            Value::parse(b"[\"ok\",\"\xff\"]").unwrap_err(),
            "invalid unicode code point at line 1 column 8"
        );
        assert_eq!(Value::parse(b"{\"a\":1}\xff").unwrap().to_json(), "{\"a\":1}");
        assert_eq!(e("[\"\\ud800\"]"), "unexpected end of hex escape at line 1 column 9");
    }

    #[test]
    fn deep_input_is_refused_without_overflow() {
        let ok = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert_eq!(Value::parse(ok.as_bytes()).unwrap().depth(), 127);
        for n in [128, 129, 100_000] {
            let deep = format!("{}{}", "[".repeat(n), "]".repeat(n));
            assert_eq!(
                Value::parse(deep.as_bytes()).unwrap_err(),
                "recursion limit exceeded at line 1 column 128"
            );
        }
    }

    /// A stored document as deep as the module allows parses on a quarter of a worker
    /// thread's stack (2 MiB): the parse recurses once per level (an overflow aborts the run).
    #[test]
    fn the_deepest_stored_document_parses_on_a_small_stack() {
        let ok = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(|| {
                let deep = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
                Value::parse_stored(deep.as_bytes()).map(|v| v.depth())
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(ok, Ok(MAX_DEPTH));
    }

    #[test]
    fn strings_escape_as_serde_json() {
        assert_eq!(round(r#""h\u00e9\u0001\"\\\/\n\t""#), "\"hé\\u0001\\\"\\\\/\\n\\t\"");
        // Every ASCII character, alone and between others, as serde_json writes it.
        for c in (0u8..0x80).map(char::from) {
            let s = format!("{c}a{c}é{c}");
            let mut out = Vec::new();
            write_str(&mut out, s.as_bytes());
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&s).unwrap());
        }
    }

    #[test]
    fn repeated_keys_keep_their_first_place_and_last_value() {
        assert_eq!(round(r#"{"a":1,"b":2,"a":3}"#), r#"{"a":3,"b":2}"#);
        assert_eq!(round(r#"[{"x":{"k":1,"k":[2]}},{"k":0}]"#), r#"[{"x":{"k":[2]}},{"k":0}]"#);
        let many: Vec<String> = (0..40).map(|i| format!("\"k{}\":{i}", i % 35)).collect();
        let want: Vec<String> =
            (0..35).map(|i| format!("\"k{i}\":{}", if i < 5 { i + 35 } else { i })).collect();
        assert_eq!(round(&format!("{{{}}}", many.join(","))), format!("{{{}}}", want.join(",")));
    }

    #[test]
    fn removal_moves_the_last_key() {
        let mut v = Value::parse(br#"{"b":1,"a":2,"c":3}"#).unwrap();
        if let Value::Obj(o) = &mut v {
            o.swap_remove("b");
            o.insert("b", Value::Num(Num::I(5)));
        }
        assert_eq!(v.to_json(), r#"{"c":3,"a":2,"b":5}"#);
    }

    #[test]
    fn pretty_output() {
        let v = Value::parse(br#"{"a":[1,{"k":[]}],"e":{}}"#).unwrap();
        let f = Format { indent: "  ".into(), newline: "\n".into(), space: " ".into() };
        assert_eq!(
            v.to_json_with(&f),
            "{\n  \"a\": [\n    1,\n    {\n      \"k\": []\n    }\n  ],\n  \"e\": {}\n}"
        );
        let f = Format { indent: "z".into(), newline: "x".into(), space: "y".into() };
        let v = Value::parse(br#"[{"b":[1,2],"c":"s"}]"#).unwrap();
        assert_eq!(v.to_json_with(&f), "[xz{xzz\"b\":y[xzzz1,xzzz2xzz],xzz\"c\":y\"s\"xz}x]");
    }

    #[test]
    fn doubles_as_redis_stack_replies_them() {
        let cases = [
            (5.5, "5.5"),
            (1.8446744073709552e19, "18446744073709552000"),
            (1e300, "1e+300"),
            (35000000000.0, "35000000000"),
            (-0.0, "-0"),
            (1.5e-7, "1.5e-7"),
            (1e16, "10000000000000000"),
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (0.000001, "0.000001"),
            (123456790.0, "123456790"),
            (1.00000015, "1.00000015"),
            (1e17, "100000000000000000"),
            (5e18, "5e+18"),
            (1e20, "1e+20"),
            (-1e20, "-1e+20"),
            (1e-7, "1e-7"),
            (0.00001, "0.00001"),
            (1.2345e-5, "1.2345e-5"),
            (0.00012345, "1.2345e-4"),
            (123456789.5, "123456789.5"),
            (5e-324, "5e-324"),
        ];
        for (x, s) in cases {
            assert_eq!(format_double(x), s, "{x}");
        }
    }
}
