//! Vireo's module API: the stable ABI between `vireo-server` and its plugins ([`abi`]), and the
//! safe SDK modules are written with: [`vireo_module!`] declares a module, [`Command`] a command,
//! handlers read [`Args`] and reply through a [`Context`], and [`testing::TestModule`] runs a
//! module's commands in its unit tests without a server. See `docs/modules.md`.

pub mod abi;
mod args;
mod command;
mod concurrency;
mod context;
pub mod datatype;
mod error;
// ---- keyspace and server events, replication control (API 1.1) ----
pub mod events;
#[doc(hidden)]
pub mod export;
mod fake_keys;
mod keys;
mod modconf;
mod reply;
// ---- shared read access to an exporter's data types (API 1.1) ----
mod shared_access;
pub mod testing;
pub mod tracker;

pub use abi::{LogLevel, API_MAJOR, API_MINOR};
pub use args::{parse_f64, parse_i64, ArgParser, Args};
pub use command::{catch_panic, panic_message, Command, InitContext, KeySpec};
pub use concurrency::{BlockedClient, LockedContext, ThreadSafeContext, TimerId};
pub use context::{Context, Postponed};
pub use datatype::{AofRewriter, DataType, RdbReader, RdbWriter, AUX_AFTER_RDB, AUX_BEFORE_RDB};
pub use error::{CommandResult, Error};
pub use keys::{
    CallError, CallErrorKind, CallOptions, Expiry, FieldValue, Key, KeyMut, ListEnd, ScanBatch,
};
pub use modconf::{
    ConfigBuilder, ConfigCell, ConfigType, EnumValue, InfoBuilder, InfoFieldValue, Shared,
};
pub use reply::Reply;
// ---- keyspace and server events, replication control (API 1.1) ----
pub use events::{
    notify_class, parse_classes, EventContext, KeyChange, Persistence, Phase, ServerEvent,
    ServerEventKind,
};
