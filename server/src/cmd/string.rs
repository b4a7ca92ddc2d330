//! String commands.

use bytes::Bytes;

use super::{Ctx, Handler};
use crate::error::{CmdResult, Error};
use crate::keyspace::{Value, ValueRef};

pub const HANDLERS: &[(&str, Handler)] = &[("get", get), ("set", set)];

/// GET key
fn get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.db_out();
    match db.get(&argv[1], now) {
        None => out.null(),
        Some(e) => match e.value() {
            ValueRef::Str(s) => out.bulk(s),
            ValueRef::Int(i) => out.bulk_int(i),
            ValueRef::Obj(_) => return Err(Error::WRONG_TYPE),
        },
    }
    Ok(())
}

/// SET key value
fn set(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() != 3 {
        return Err(Error::SYNTAX);
    }
    ctx.db().set(&argv[1], Value::Str(argv[2].to_vec()), None);
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}
