//! Cluster mode is not built. Every CLUSTER subcommand, READONLY, READWRITE and ASKING answer as
//! Redis 7.0 does with `cluster-enabled no` (its default), which is how clients and tools find
//! out that a server is not a cluster node.

use std::borrow::Cow;

use bytes::Bytes;

use super::{Ctx, Handler};
use crate::error::{CmdResult, Error};

pub const HANDLERS: &[(&str, Handler)] = &[
    ("asking", disabled),
    ("readonly", disabled),
    ("readwrite", disabled),
    ("cluster|addslots", disabled),
    ("cluster|addslotsrange", disabled),
    ("cluster|bumpepoch", disabled),
    ("cluster|count-failure-reports", disabled),
    ("cluster|countkeysinslot", disabled),
    ("cluster|delslots", disabled),
    ("cluster|delslotsrange", disabled),
    ("cluster|failover", disabled),
    ("cluster|flushslots", disabled),
    ("cluster|forget", disabled),
    ("cluster|getkeysinslot", disabled),
    ("cluster|help", disabled),
    ("cluster|info", disabled),
    ("cluster|keyslot", disabled),
    ("cluster|links", disabled),
    ("cluster|meet", disabled),
    ("cluster|myid", disabled),
    ("cluster|nodes", disabled),
    ("cluster|replicas", disabled),
    ("cluster|replicate", disabled),
    ("cluster|reset", disabled),
    ("cluster|saveconfig", disabled),
    ("cluster|set-config-epoch", disabled),
    ("cluster|setslot", disabled),
    ("cluster|shards", disabled),
    ("cluster|slaves", disabled),
    ("cluster|slots", disabled),
];

/// Whether a command is one of these: the compatibility table shows them apart.
pub fn answers_disabled(fullname: &str) -> bool {
    HANDLERS.iter().any(|(n, _)| *n == fullname)
}

fn disabled(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    if ctx.core.cfg.cluster_enabled {
        // Asked to be a cluster node, which Vireo cannot be yet: say so, not "disabled".
        return Err(Error(
            format!("ERR command '{}' is not implemented in Vireo yet", ctx.cmd.fullname).into(),
        ));
    }
    Err(Error(Cow::Borrowed("ERR This instance has cluster support disabled")))
}
