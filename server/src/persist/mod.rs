//! Persistence: RDB files (`rdb` the format, `snapshot` the files), the append only file
//! (`aof`), and fork-free point-in-time dumps of the live data set for both (`background`).

pub mod aof;
pub mod background;
pub mod loading;
pub mod rdb;
pub mod snapshot;
