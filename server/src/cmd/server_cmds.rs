//! Server commands: DBSIZE FLUSHDB FLUSHALL ...

use bytes::Bytes;

use super::{Ctx, Handler};
use crate::error::CmdResult;

pub const HANDLERS: &[(&str, Handler)] = &[("dbsize", dbsize)];

/// DBSIZE
fn dbsize(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let n = ctx.db().len();
    ctx.out.int(n as i64);
    Ok(())
}
