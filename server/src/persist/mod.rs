//! Persistence: RDB snapshots (see [`rdb`]).

pub mod rdb;
pub mod snapshot;
