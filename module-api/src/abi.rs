//! The raw stable ABI between `vireo-server` and a module. Module authors use the safe SDK
//! ([`crate::Module`], [`crate::Context`], [`crate::vireo_module!`]) instead of this.
//!
//! # Versioning
//!
//! The API version is `MAJOR.MINOR`, the crate's own version (`vireo-module-api 1.0.x` is API
//! 1.0):
//!
//! - **Major**: any change to something that exists (a field's or argument's type, a method's
//!   signature, an enum's variants, a field's meaning) is a new major version. abi_stable refuses
//!   a library whose `vireo-module-api` major differs from the server's, and its layout check
//!   refuses any type that changed shape, so a mismatch is an error at load, never undefined
//!   behaviour.
//! - **Minor**: growth only by appending: a field after the last one of a prefix type
//!   ([`Module`]), a method after the last one of a `#[sabi_trait]` ([`HostCtx`], [`InitHost`],
//!   [`CommandHandler`]), a new `InitHost` method that takes a new definition type where an old
//!   one must grow (`register_command_v2`). Each minor names what it adds in [`CAPABILITIES`].
//!   A module records the minor it needs ([`Module::api_minor`], the SDK's [`API_MINOR`] by
//!   default) and the capability table of the SDK it was built with; a server older than that
//!   minor refuses it at load, naming the capabilities it lacks. A newer server loads an older
//!   module: the fields the module lacks read as absent, the methods it does not call cost
//!   nothing.

// abi_stable's `#[sabi_trait]` expands to impls inside a constant.
#![allow(non_local_definitions)]

pub use abi_stable::std_types::RStr as AbiStr;

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::{RMut, VersionStrings},
    std_types::{RBox, RResult, RSlice, RStr, RString, RVec, Tuple2},
    StableAbi,
};

/// The API's major version: the crate's major version, checked by abi_stable at load.
pub const API_MAJOR: u32 = 1;
/// The API's minor version: what this crate offers. See the module docs for the rules.
pub const API_MINOR: u32 = 1;

/// One capability an API minor version added.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct Capability {
    pub minor: u32,
    pub name: RStr<'static>,
}

/// What each minor version of the API added, oldest first. A module carries its SDK's copy, so
/// that an older server can name what it lacks.
pub const CAPABILITIES: &[Capability] = &[
    Capability {
        minor: 0,
        name: RStr::from_str(
            "commands (name, arity, flags, keys, key specs, ACL categories, summary), \
         RESP2/RESP3 replies with postponed lengths, calling commands, logging",
        ),
    },
    Capability {
        minor: 1,
        name: RStr::from_str("keyspace and server events, replication control"),
    },
];

/// The root module every plugin exports (a prefix type: later minors append fields).
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = ModuleRef, prefix_fields = Module_Prefix)))]
#[sabi(missing_field(option))]
pub struct Module {
    /// The API minor version the module needs.
    pub api_minor: u32,
    /// The capability table of the SDK the module was built with.
    pub capabilities: RSlice<'static, Capability>,
    /// The module's name (MODULE LIST `name`, MODULE UNLOAD's argument).
    pub name: RStr<'static>,
    /// The module's version (MODULE LIST `ver`).
    pub version: i32,
    /// Called once per load with the `loadmodule` / MODULE LOAD arguments: registers the
    /// module's commands through `host`. An error refuses the load, with its message.
    #[sabi(last_prefix_field)]
    pub init: extern "C" fn(
        host: InitHost_TO<'_, RMut<'_, ()>>,
        args: RSlice<'_, RString>,
    ) -> RResult<(), RString>,
}

impl RootModule for ModuleRef {
    declare_root_module_statics! {ModuleRef}
    const BASE_NAME: &'static str = "vireo_module";
    const NAME: &'static str = "vireo_module";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// Log levels, as Redis's (`debug`, `verbose`, `notice`, `warning`).
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
}

/// An aggregate reply's kind.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    Array,
    /// `len` pairs; a flat array of `2 * len` on RESP2.
    Map,
    /// An array on RESP2.
    Set,
    /// RESP3 only: on RESP2 nothing is written and the call returns false.
    Attribute,
}

/// Where a key spec starts looking for keys (as Redis's `begin_search`).
#[repr(C, u8)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub enum BeginSearch {
    Index(i32),
    Keyword { keyword: RString, startfrom: i32 },
}

/// How a key spec finds its keys once it has a start (as Redis's `find_keys`).
#[repr(C, u8)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub enum FindKeys {
    Range { lastkey: i32, step: i32, limit: i32 },
    Keynum { keynumidx: i32, firstkey: i32, step: i32 },
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct KeySpec {
    /// Space-separated, as `COMMAND INFO` prints them: `RW UPDATE`, `RO ACCESS`.
    pub flags: RString,
    pub begin_search: BeginSearch,
    pub find_keys: FindKeys,
}

/// A command's definition.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct CommandDef {
    pub name: RString,
    pub arity: i32,
    /// Space-separated Redis module command flags: `write readonly admin deny-oom deny-script
    /// allow-loading pubsub random allow-stale no-monitor no-slowlog fast no-auth may-replicate
    /// no-mandatory-keys blocking allow-busy getkeys-api no-cluster`.
    pub flags: RString,
    /// The legacy key positions (0, 0, 0: no keys); ignored when `key_specs` is not empty.
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
    pub key_specs: RVec<KeySpec>,
    /// Space-separated ACL categories, without `@`: `fast string`.
    pub acl_categories: RString,
    pub summary: RString,
    pub complexity: RString,
    pub since: RString,
}

/// A command's reply, as `HostCtx::call` returns it (the command runs as on RESP3).
#[repr(C, u8)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub enum CallReply {
    Simple(RString),
    /// The whole error line: `ERR syntax error`.
    Error(RString),
    Int(i64),
    Bulk(RVec<u8>),
    Null,
    Array(RVec<CallReply>),
    Map(RVec<Tuple2<CallReply, CallReply>>),
    Set(RVec<CallReply>),
    Double(f64),
    Bool(bool),
    BigNumber(RString),
    Verbatim {
        format: RString,
        text: RVec<u8>,
    },
}

/// What a module's command talks to the server through, for one call.
#[sabi_trait]
pub trait HostCtx {
    /// The calling client's protocol: 2 or 3.
    fn resp(&self) -> u8;
    fn client_id(&self) -> u64;
    /// The calling client's selected database.
    fn db(&self) -> i64;
    fn reply_simple(&mut self, s: RStr<'_>);
    fn reply_error(&mut self, s: RStr<'_>);
    fn reply_int(&mut self, n: i64);
    fn reply_bulk(&mut self, b: RSlice<'_, u8>);
    /// The null reply (`$-1` on RESP2).
    fn reply_null(&mut self);
    /// The null array (`*-1` on RESP2, `_` on RESP3).
    fn reply_null_array(&mut self);
    fn reply_double(&mut self, d: f64);
    fn reply_bool(&mut self, b: bool);
    fn reply_big_number(&mut self, digits: RStr<'_>);
    fn reply_verbatim(&mut self, format: RStr<'_>, text: RSlice<'_, u8>);
    /// An aggregate of `len` elements (pairs for maps and attributes). False for an attribute on
    /// RESP2, when nothing was written.
    fn reply_aggregate(&mut self, kind: Aggregate, len: u64) -> bool;
    /// An aggregate whose length is set later with [`HostCtx::set_postponed_len`]; returns its
    /// handle (0 for an attribute on RESP2, when nothing was written).
    fn reply_postponed(&mut self, kind: Aggregate) -> u32;
    /// Sets the length of the postponed aggregate `handle`.
    fn set_postponed_len(&mut self, handle: u32, len: u64);
    /// Runs a command as the calling client and returns its reply.
    fn call(&mut self, argv: RSlice<'_, RSlice<'_, u8>>) -> CallReply;
    fn log(&self, level: LogLevel, msg: RStr<'_>);
    /// The server's API minor version.
    #[sabi(last_prefix_field)]
    fn api_minor(&self) -> u32;

    // ---- keyspace and server events, replication control (API 1.1) ----
    /// Raises keyspace event `event` of `class` (a [`notify_class`] bit) on `key` of the
    /// client's database: published as a built-in event, and delivered to module listeners.
    fn notify_keyspace_event(&mut self, class: u32, event: RStr<'_>, key: RSlice<'_, u8>);
    /// Propagates the command itself to the AOF and replicas, instead of what it called.
    fn replicate_verbatim(&mut self);
    /// Propagates `argv` (after anything replicated before), instead of what the command
    /// called. An error when `argv` names no known command.
    fn replicate(&mut self, argv: RSlice<'_, RSlice<'_, u8>>) -> RResult<(), RString>;
}

/// What a module's `init` registers its commands through.
#[sabi_trait]
pub trait InitHost {
    fn register_command(
        &mut self,
        def: CommandDef,
        handler: CommandHandler_TO<'static, RBox<()>>,
    ) -> RResult<(), RString>;
    fn log(&self, level: LogLevel, msg: RStr<'_>);
    /// The server's API minor version.
    #[sabi(last_prefix_field)]
    fn api_minor(&self) -> u32;

    // ---- keyspace and server events, replication control (API 1.1) ----
    /// Calls `listener` for each keyspace event of the [`notify_class`] bits in `classes`.
    fn subscribe_keyspace(
        &mut self,
        classes: u32,
        listener: KeyspaceListener_TO<'static, RBox<()>>,
    ) -> RResult<(), RString>;
    /// Calls `listener` for each server event `event` (a [`server_event`] constant).
    fn subscribe_server_event(
        &mut self,
        event: u32,
        listener: ServerEventListener_TO<'static, RBox<()>>,
    ) -> RResult<(), RString>;
}

/// A module command, implemented by the module (the SDK catches panics inside it: one must
/// never cross this boundary).
#[sabi_trait]
pub trait CommandHandler: Send + Sync {
    /// Runs the command; an `Err` is written as an error reply (`ERR ...`, `WRONGTYPE ...`).
    #[sabi(last_prefix_field)]
    fn call(
        &self,
        ctx: HostCtx_TO<'_, RMut<'_, ()>>,
        args: RSlice<'_, RSlice<'_, u8>>,
    ) -> RResult<(), RString>;
}

// ---- keyspace and server events, replication control (API 1.1) ----

/// Keyspace event classes, with Redis's bit values (`notify-keyspace-events` letters in the
/// comments).
pub mod notify_class {
    /// `g`: DEL, EXPIRE, RENAME...
    pub const GENERIC: u32 = 1 << 2;
    /// `$`
    pub const STRING: u32 = 1 << 3;
    /// `l`
    pub const LIST: u32 = 1 << 4;
    /// `s`
    pub const SET: u32 = 1 << 5;
    /// `h`
    pub const HASH: u32 = 1 << 6;
    /// `z`
    pub const ZSET: u32 = 1 << 7;
    /// `x`: a key expired (lazily or actively).
    pub const EXPIRED: u32 = 1 << 8;
    /// `e`: a key was evicted by `maxmemory`.
    pub const EVICTED: u32 = 1 << 9;
    /// `t`
    pub const STREAM: u32 = 1 << 10;
    /// `m`: a read found no key.
    pub const KEY_MISS: u32 = 1 << 11;
    /// `d`: events modules raise.
    pub const MODULE: u32 = 1 << 13;
    /// `n`: a key came to exist.
    pub const NEW: u32 = 1 << 14;
    /// `A`: every class but `m` and `n`.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Server events a module can subscribe to, and their subevents.
pub mod server_event {
    /// FLUSHDB / FLUSHALL: subevent [`START`] then [`END`]; `db` is -1 for FLUSHALL.
    pub const FLUSHDB: u32 = 1;
    /// SWAPDB: `db` and `other_db`.
    pub const SWAPDB: u32 = 2;
    /// Loading the data at start-up: [`START`], then [`END`] or [`FAILED`].
    pub const LOADING: u32 = 3;
    /// Persistence: [`RDB_START`], [`SYNC_RDB_START`], [`AOF_START`], then [`END`] or
    /// [`FAILED`].
    pub const PERSISTENCE: u32 = 4;
    /// The server is shutting down.
    pub const SHUTDOWN: u32 = 5;
    /// A module was loaded ([`LOADED`]) or unloaded ([`UNLOADED`]); `name` is its name.
    pub const MODULE_CHANGE: u32 = 6;
    /// CONFIG SET changed parameters: `names`.
    pub const CONFIG_CHANGE: u32 = 7;
    /// A key was deleted ([`DELETED`]), expired, evicted or overwritten: `db`, `name` the key.
    pub const KEY: u32 = 8;
    /// The replication role changed: [`MASTER`] or [`REPLICA`].
    pub const REPLICATION_ROLE: u32 = 9;

    pub const START: u32 = 0;
    pub const END: u32 = 1;
    pub const FAILED: u32 = 2;
    pub const RDB_START: u32 = 3;
    pub const SYNC_RDB_START: u32 = 4;
    pub const AOF_START: u32 = 5;
    pub const LOADED: u32 = 0;
    pub const UNLOADED: u32 = 1;
    pub const DELETED: u32 = 0;
    pub const EXPIRED: u32 = 1;
    pub const EVICTED: u32 = 2;
    pub const OVERWRITTEN: u32 = 3;
    pub const MASTER: u32 = 0;
    pub const REPLICA: u32 = 1;
}

/// One server event, as the server delivers it (the SDK turns it into a typed value).
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct ServerEventData {
    /// A [`server_event`] event constant.
    pub event: u32,
    /// A [`server_event`] subevent constant (0 where the event has none).
    pub subevent: u32,
    pub db: i64,
    pub other_db: i64,
    /// A key or a module name.
    pub name: RVec<u8>,
    /// CONFIG_CHANGE's parameter names.
    pub names: RVec<RString>,
}

/// What an event listener works through (the server, while it delivers one event).
#[sabi_trait]
pub trait EventHost {
    /// The event's database: what `call` runs against.
    fn db(&self) -> i64;
    /// Runs a command (on RESP3) and returns its reply.
    fn call(&mut self, argv: RSlice<'_, RSlice<'_, u8>>) -> CallReply;
    /// Raises a keyspace event on `key` of the event's database.
    fn notify_keyspace_event(&mut self, class: u32, event: RStr<'_>, key: RSlice<'_, u8>);
    fn log(&self, level: LogLevel, msg: RStr<'_>);
    #[sabi(last_prefix_field)]
    fn api_minor(&self) -> u32;
}

/// A keyspace event listener, implemented by the module (the SDK catches panics).
#[sabi_trait]
pub trait KeyspaceListener: Send + Sync {
    #[sabi(last_prefix_field)]
    fn on_event(
        &self,
        ctx: EventHost_TO<'_, RMut<'_, ()>>,
        db: i64,
        class: u32,
        event: RStr<'_>,
        key: RSlice<'_, u8>,
    );
}

/// A server event listener, implemented by the module (the SDK catches panics).
#[sabi_trait]
pub trait ServerEventListener: Send + Sync {
    #[sabi(last_prefix_field)]
    fn on_event(&self, ctx: EventHost_TO<'_, RMut<'_, ()>>, event: ServerEventData);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_cover_every_minor() {
        for m in 0..=API_MINOR {
            assert!(CAPABILITIES.iter().any(|c| c.minor == m), "minor {m} has no capability");
        }
        assert!(CAPABILITIES.windows(2).all(|w| w[0].minor <= w[1].minor));
    }

    #[test]
    fn major_is_the_crate_major() {
        assert_eq!(env!("CARGO_PKG_VERSION_MAJOR").parse::<u32>().unwrap(), API_MAJOR);
        assert_eq!(env!("CARGO_PKG_VERSION_MINOR").parse::<u32>().unwrap(), API_MINOR);
    }
}
