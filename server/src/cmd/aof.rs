//! BGREWRITEAOF.

use bytes::Bytes;

use super::Ctx;
use crate::error::{CmdResult, Error};

pub const HANDLERS: &[(&str, super::Handler)] = &[("bgrewriteaof", bgrewriteaof)];

/// BGREWRITEAOF
///
/// The rewrite runs to its end before the reply for now (see `persist::aof`), so the reply is
/// Redis's for a rewrite that started.
fn bgrewriteaof(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    match crate::persist::aof::start_rewrite(ctx.server, ctx.core) {
        Ok(true) => {
            ctx.out.simple("Background append only file rewriting started");
            Ok(())
        }
        Ok(false) => {
            ctx.out.simple("Background append only file rewriting scheduled");
            Ok(())
        }
        Err(e) if e.starts_with("ERR ") => Err(Error(e.into())),
        Err(_) => Err(Error::msg("ERR Can't execute an AOF background rewriting. Please check the server logs for more information.")),
    }
}
