//! The `bit` library scripts see (LuaBitOp's API): 32-bit operations on Lua numbers.

use mlua::{Lua, MultiValue, Table, Value};

/// LuaBitOp's normalisation: round to nearest (ties to even), keep the low 32 bits, signed.
pub fn tobit(n: f64) -> i32 {
    // Adding 2^52 + 2^51 puts the integer part in the low bits of the mantissa.
    (n + 6_755_399_441_055_744.0).to_bits() as u32 as i32
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => {
            let s = s.to_str().ok()?;
            let t = s.trim();
            if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                u64::from_str_radix(h, 16).ok().map(|v| v as f64)
            } else {
                t.parse::<f64>().ok()
            }
        }
        _ => None,
    }
}

/// Argument `i` (0-based) as a 32-bit integer, or Lua's "bad argument" error.
fn arg(lua: &Lua, args: &MultiValue, i: usize) -> mlua::Result<i32> {
    let got = match args.get(i) {
        Some(v) => match number_of(v) {
            Some(n) => return Ok(tobit(n)),
            None => v.type_name(),
        },
        None => "no value",
    };
    Err(crate::arg_err(lua, i + 1, &format!("number expected, got {got}")))
}

type Unary = fn(i32) -> i32;
type Fold = fn(i32, i32) -> i32;
type Shift = fn(i32, u32) -> i32;

pub fn install(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let unary: [(&str, Unary); 3] =
        [("tobit", |x| x), ("bnot", |x| !x), ("bswap", |x| x.swap_bytes())];
    for (name, f) in unary {
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                Ok(f64::from(f(arg(lua, &args, 0)?)))
            })?,
        )?;
    }
    let folds: [(&str, Fold); 3] =
        [("band", |a, b| a & b), ("bor", |a, b| a | b), ("bxor", |a, b| a ^ b)];
    for (name, f) in folds {
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                let mut acc = arg(lua, &args, 0)?;
                for i in 1..args.len() {
                    acc = f(acc, arg(lua, &args, i)?);
                }
                Ok(f64::from(acc))
            })?,
        )?;
    }
    let shifts: [(&str, Shift); 5] = [
        ("lshift", |x, n| ((x as u32) << n) as i32),
        ("rshift", |x, n| ((x as u32) >> n) as i32),
        ("arshift", |x, n| x >> n),
        ("rol", |x, n| (x as u32).rotate_left(n) as i32),
        ("ror", |x, n| (x as u32).rotate_right(n) as i32),
    ];
    for (name, f) in shifts {
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                let x = arg(lua, &args, 0)?;
                let n = arg(lua, &args, 1)? as u32 & 31;
                Ok(f64::from(f(x, n)))
            })?,
        )?;
    }
    t.set(
        "tohex",
        lua.create_function(|lua, args: MultiValue| {
            let x = arg(lua, &args, 0)? as u32;
            let n = if args.len() > 1 { arg(lua, &args, 1)? } else { 8 };
            let upper = n < 0;
            let n = (n.unsigned_abs() as usize).min(8);
            let s = if upper { format!("{x:08X}") } else { format!("{x:08x}") };
            Ok(s[8 - n..].to_string())
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::tobit;

    #[test]
    fn tobit_rounds_and_wraps() {
        assert_eq!(tobit(4294967295.0), -1);
        assert_eq!(tobit(1099511627779.0), 3);
        assert_eq!(tobit(1.5), 2);
        assert_eq!(tobit(2.5), 2);
        assert_eq!(tobit(-0.5), 0);
        assert_eq!(tobit(-1.0), -1);
    }
}
