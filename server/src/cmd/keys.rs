//! Generic key commands.

use bytes::Bytes;

use super::{Ctx, Handler};
use crate::error::CmdResult;

pub const HANDLERS: &[(&str, Handler)] = &[("del", del)];

/// DEL key [key ...]
fn del(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    let mut n = 0;
    for k in &argv[1..] {
        if db.get(k, now).is_some() {
            db.remove(k);
            n += 1;
        }
    }
    ctx.dirty(n as u64);
    ctx.out.int(n);
    Ok(())
}
