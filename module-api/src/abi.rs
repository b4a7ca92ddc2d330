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
    std_types::{RBox, ROption, RResult, RSlice, RStr, RString, RVec, Tuple2},
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
    Capability { minor: 1, name: RStr::from_str("key access and call options") },
    Capability {
        minor: 1,
        name: RStr::from_str(
            "custom data types (RDB save/load, AOF rewrite, copy, memory usage, aux data)",
        ),
    },
    Capability {
        minor: 1,
        name: RStr::from_str("blocking clients (threads, keys), thread-safe contexts, timers"),
    },
    Capability {
        minor: 1,
        name: RStr::from_str("module configs, INFO sections, shared APIs between modules"),
    },
    Capability {
        minor: 1,
        name: RStr::from_str("keyspace and server events, replication control"),
    },
    Capability {
        minor: 1,
        name: RStr::from_str("exporters read their data types on their importers' contexts"),
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

    // ---- API 1.1: key access and call options ----
    /// Runs key operation `op` (a [`key_op`] code) on `key` of the calling client's database,
    /// with the operation's `args`. The reply is typed as on RESP3; an error (`WRONGTYPE ...`)
    /// is the `RErr`.
    fn key_op(
        &mut self,
        op: u32,
        key: RSlice<'_, u8>,
        args: RSlice<'_, RSlice<'_, u8>>,
    ) -> RResult<CallReply, RString>;
    /// [`HostCtx::call`] with [`call_flags`]; a refusal or an error reply is the `RErr`.
    fn call_with(
        &mut self,
        flags: u32,
        argv: RSlice<'_, RSlice<'_, u8>>,
    ) -> RResult<CallReply, CallError>;
    // ---- API 1.1: custom data types ----
    /// The value of `key` in the client's database when it is of the calling module's type
    /// `type_name`, for reading (the access counts for LRU/LFU): `Ok(None)` when the key does
    /// not exist, `Err("WRONGTYPE ...")` when it holds anything else. Since the shared read
    /// access of API 1.1, `type_name` may also be a type of a module whose shared API the
    /// calling module imported: the exporter's code reads its values on the importer's
    /// context (the importer's own code cannot downcast them).
    fn module_value(
        &mut self,
        key: RSlice<'_, u8>,
        type_name: RStr<'_>,
    ) -> RResult<ROption<&ModuleValue_TO<'static, RBox<()>>>, RString>;
    /// As [`HostCtx::module_value`], for writing: the key counts as modified (the command is
    /// then propagated, and WATCHes on it are invalidated).
    fn module_value_mut(
        &mut self,
        key: RSlice<'_, u8>,
        type_name: RStr<'_>,
    ) -> RResult<ROption<&mut ModuleValue_TO<'static, RBox<()>>>, RString>;
    /// Sets `key` to `value` of the calling module's type `type_name`, replacing whatever the
    /// key held (and its expiry), as Redis's `RM_ModuleTypeSetValue`.
    fn set_module_value(
        &mut self,
        key: RSlice<'_, u8>,
        type_name: RStr<'_>,
        value: ModuleValue_TO<'static, RBox<()>>,
    ) -> RResult<(), RString>;
    /// The type name TYPE answers for `key` (`none` when it does not exist).
    fn key_type_name(&mut self, key: RSlice<'_, u8>) -> RString;
    // ---- API 1.1: concurrency (blocking clients, thread-safe contexts, timers) ----

    /// Blocks the calling client until the returned handle replies, `timeout_ms` passes (0:
    /// never) and `on_timeout` replies, or the client goes away (`on_disconnect` runs). Inside
    /// MULTI/EXEC or a script the client is not blocked: the command's reply is the error Redis
    /// gives, and the handle is dead.
    fn block_client(
        &mut self,
        timeout_ms: i64,
        on_timeout: ROption<BoxedBlockCallback>,
        on_disconnect: ROption<BoxedDisconnectCallback>,
    ) -> BoxedBlockedHandle;
    /// Blocks the calling client until one of `keys` (of its database) is signalled ready and
    /// `on_ready` serves it (returns true), as [`HostCtx::block_client`] otherwise.
    fn block_on_keys(
        &mut self,
        keys: RSlice<'_, RSlice<'_, u8>>,
        timeout_ms: i64,
        on_ready: KeyReadyCallback_TO<'static, RBox<()>>,
        on_timeout: ROption<BoxedBlockCallback>,
        on_disconnect: ROption<BoxedDisconnectCallback>,
    ) -> BoxedBlockedHandle;
    /// Runs `callback` on the server after `ms` milliseconds; returns the timer's id.
    fn create_timer(&mut self, ms: u64, callback: TimerCallback_TO<'static, RBox<()>>) -> u64;
    /// Cancels timer `id` and gives its callback back; none if it fired or does not exist.
    fn stop_timer(&mut self, id: u64) -> ROption<TimerCallback_TO<'static, RBox<()>>>;
    /// A handle any thread can lock the server through.
    fn server_handle(&self) -> ServerHandle_TO<'static, RBox<()>>;
    /// Marks `key` of the context's database ready for clients blocked on it.
    fn signal_key_ready(&mut self, key: RSlice<'_, u8>);

    // ---- Module configs, INFO sections, shared APIs (API 1.1) ----
    /// The shared API `name` another module exported, if its version is at least
    /// `min_version`; records that this module uses the exporter (MODULE UNLOAD of the exporter
    /// is then refused).
    fn import_api(&mut self, name: RStr<'_>, min_version: u32) -> RResult<SharedApi, RString>;
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

/// API 1.1: owned callback and handle objects (aliases; the types are the `_TO`s).
pub type BoxedBlockCallback = BlockCallback_TO<'static, RBox<()>>;
pub type BoxedDisconnectCallback = DisconnectCallback_TO<'static, RBox<()>>;
pub type BoxedBlockedHandle = BlockedHandle_TO<'static, RBox<()>>;

/// API 1.1: a callback that writes a blocked client's reply (from a [`BlockedHandle`], or on a
/// timeout). Called at most once, on the server, with the server locked.
#[sabi_trait]
pub trait BlockCallback: Send {
    #[sabi(last_prefix_field)]
    fn call(&mut self, ctx: HostCtx_TO<'_, RMut<'_, ()>>) -> RResult<(), RString>;
}

/// API 1.1: decides, when a key a client is blocked on is signalled ready, whether to serve it
/// (write its reply, return true) or let it wait on (return false; what it wrote is dropped).
#[sabi_trait]
pub trait KeyReadyCallback: Send {
    #[sabi(last_prefix_field)]
    fn call(
        &mut self,
        ctx: HostCtx_TO<'_, RMut<'_, ()>>,
        key: RSlice<'_, u8>,
    ) -> RResult<bool, RString>;
}

/// API 1.1: called once when a blocked client disconnects.
#[sabi_trait]
pub trait DisconnectCallback: Send {
    #[sabi(last_prefix_field)]
    fn call(&mut self);
}

/// API 1.1: what a module thread unblocks its client through.
#[sabi_trait]
pub trait BlockedHandle: Send + Sync {
    /// Unblocks the client: `reply` writes its reply on the server. False (and `reply` is
    /// dropped unrun) when the client is no longer blocked by this handle.
    fn reply(&self, reply: BlockCallback_TO<'static, RBox<()>>) -> bool;
    /// Unblocks the client without a callback: it gets a null reply. False as for `reply`.
    #[sabi(last_prefix_field)]
    fn abort(&self) -> bool;
}

/// API 1.1: a timer's callback (and the data it carries).
#[sabi_trait]
pub trait TimerCallback: Send {
    #[sabi(last_prefix_field)]
    fn fire(&mut self, ctx: HostCtx_TO<'_, RMut<'_, ()>>);
}

/// API 1.1: the server, for a thread that wants to run commands (`RM_GetThreadSafeContext`).
#[sabi_trait]
pub trait ServerHandle: Send + Sync {
    /// Waits for the server's execution lock; the context runs commands while it is held and
    /// releases the lock when dropped. An error when the server is shutting down, or when the
    /// calling thread is running a command or callback (it holds the lock already).
    fn lock(&self) -> RResult<HostCtx_TO<'static, RBox<()>>, RString>;
    #[sabi(last_prefix_field)]
    fn clone_handle(&self) -> ServerHandle_TO<'static, RBox<()>>;
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

    // ---- API 1.1: custom data types ----
    /// Registers a data type. Refused when the name is invalid (9 characters of
    /// `A-Z a-z 0-9 - _`) or taken, or the encoding version is above 1023.
    fn register_type(
        &mut self,
        def: DataTypeDef,
        handler: DataTypeHandler_TO<'static, RBox<()>>,
    ) -> RResult<(), RString>;
    // ---- API 1.1: concurrency ----

    /// A handle any thread can lock the server through.
    fn server_handle(&self) -> ServerHandle_TO<'static, RBox<()>>;
    // ---- Module configs, INFO sections, shared APIs (API 1.1) ----
    /// Declares the config `<module>.<def.name>`; its value lives in the module, behind
    /// `handler`. Refused for an invalid name or definition, or a name taken.
    fn register_config(
        &mut self,
        def: ConfigDef,
        handler: ConfigHandler_TO<'static, RBox<()>>,
    ) -> RResult<(), RString>;
    /// Gives every config registered so far its value: the one the config file or MODULE
    /// LOADEX names, else its default (Redis's `RM_LoadConfigs`). An error (a bad value, a
    /// value the module's setter refused) should fail the load.
    fn load_configs(&mut self) -> RResult<(), RString>;
    /// Adds the module's INFO sections (one handler per module).
    fn register_info(&mut self, handler: InfoHandler_TO<'static, RBox<()>>)
        -> RResult<(), RString>;
    /// Exports `api` under `name` for other modules (a name is exported once server-wide).
    fn export_api(&mut self, name: RStr<'_>, api: SharedApi) -> RResult<(), RString>;
    /// As [`HostCtx::import_api`], from `init`.
    fn import_api(&mut self, name: RStr<'_>, min_version: u32) -> RResult<SharedApi, RString>;
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

// ---- Module configs, INFO sections, shared APIs (API 1.1) ----

/// Config flags ([`ConfigDef::flags`]), as Redis's `REDISMODULE_CONFIG_*`.
pub mod config_flags {
    /// CONFIG SET refuses it: only the config file or MODULE LOADEX set it.
    pub const IMMUTABLE: u32 = 1 << 0;
    /// Holds a secret (kept out of logs).
    pub const SENSITIVE: u32 = 1 << 1;
    /// Not matched by CONFIG GET patterns; CONFIG GET of its exact name still answers.
    pub const HIDDEN: u32 = 1 << 2;
    /// CONFIG SET needs `enable-protected-configs`.
    pub const PROTECTED: u32 = 1 << 3;
    /// Refused while the server loads its data.
    pub const DENY_LOADING: u32 = 1 << 4;
    /// Numeric: accepts memory units (`1kb`, `5mb`, `2gb`).
    pub const MEMORY: u32 = 1 << 5;
    /// Enum: a set of flags (`CONFIG SET m.x "a b"` combines values).
    pub const BITFLAGS: u32 = 1 << 6;
    /// Every flag this API version knows.
    pub const ALL: u32 = (1 << 7) - 1;
}

/// A config's value, by kind.
#[repr(C, u8)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub enum ConfigValue {
    Bool(bool),
    Numeric(i64),
    /// Any bytes (a config string is binary-safe, as Redis's).
    String(RVec<u8>),
    /// The value of an enum entry (or of several, OR-ed, with `BITFLAGS`).
    Enum(i32),
}

/// A module config's definition. The kind is the default's.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct ConfigDef {
    /// Without the module prefix: `max-items` becomes `<module>.max-items`.
    pub name: RString,
    /// [`config_flags`] bits.
    pub flags: u32,
    pub default: ConfigValue,
    /// Bounds of a numeric config, inclusive.
    pub min: i64,
    pub max: i64,
    /// An enum's names and values, in the order CONFIG GET looks for names.
    pub enum_values: RVec<Tuple2<RString, i32>>,
}

/// A module config's value, kept by the module.
#[sabi_trait]
pub trait ConfigHandler: Send + Sync {
    fn get(&self) -> ConfigValue;
    /// Sets a new value (already parsed and within bounds); an `Err` refuses it with a message
    /// (CONFIG SET's error says `... - <message>`).
    #[sabi(last_prefix_field)]
    fn set(&self, value: ConfigValue) -> RResult<(), RString>;
}

/// An INFO field's value.
#[repr(C, u8)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub enum InfoValue {
    Str(RString),
    Int(i64),
    UInt(u64),
    /// Printed as `%.17g`.
    Double(f64),
    /// `name:k1=v1,k2=v2`.
    Dict(RVec<Tuple2<RString, RString>>),
}

#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct InfoField {
    /// Printed as `<module>_<name>`.
    pub name: RString,
    pub value: InfoValue,
}

/// One INFO section, printed as `# <module>_<name>` (`# <module>` for an empty name).
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct InfoSection {
    pub name: RString,
    pub fields: RVec<InfoField>,
}

/// A module's INFO sections, asked for each time INFO includes them.
#[sabi_trait]
pub trait InfoHandler: Send + Sync {
    /// `for_crash_report`: the sections go to a crash report (keep them cheap and safe).
    #[sabi(last_prefix_field)]
    fn sections(&self, for_crash_report: bool) -> RVec<InfoSection>;
}

/// The shared value behind a [`SharedApi`]: keeps it alive and gives its address.
#[sabi_trait]
pub trait SharedValue: Send + Sync {
    /// The address of the exported value, of the type `SharedApi::layout` describes.
    #[sabi(last_prefix_field)]
    fn addr(&self) -> usize;
}

/// An API a module exports to others: a value of any `StableAbi` type (a function table, a
/// prefix struct, a sabi trait object), type-checked with abi_stable's layout check by the
/// importer before it is used.
#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct SharedApi {
    /// The API's version (the importer asks for a minimum).
    pub version: u32,
    /// abi_stable's layout of the exported value's type.
    pub layout: &'static abi_stable::type_layout::TypeLayout,
    pub value: abi_stable::std_types::RArc<SharedValue_TO<'static, RBox<()>>>,
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

// ---- API 1.1: key access and call options ----

/// The operations of [`HostCtx::key_op`]: each runs the built-in command named in its comment
/// on the key, with the arguments listed (codes are never reused; later minors append).
pub mod key_op {
    /// TYPE key
    pub const TYPE: u32 = 1;
    /// The length STRLEN, LLEN, HLEN, SCARD, ZCARD or XLEN gives for the key's type (0: none).
    pub const LEN: u32 = 2;
    /// DEL key
    pub const DEL: u32 = 3;
    /// UNLINK key
    pub const UNLINK: u32 = 4;
    /// EXISTS key
    pub const EXISTS: u32 = 5;
    /// PTTL key
    pub const PTTL: u32 = 6;
    /// PEXPIRETIME key
    pub const PEXPIRETIME: u32 = 7;
    /// PEXPIRE key ms
    pub const PEXPIRE: u32 = 8;
    /// PEXPIREAT key unix-ms
    pub const PEXPIREAT: u32 = 9;
    /// PERSIST key
    pub const PERSIST: u32 = 10;
    /// GET key
    pub const GET: u32 = 11;
    /// SET key value
    pub const SET: u32 = 12;
    /// APPEND key value
    pub const APPEND: u32 = 13;
    /// SETRANGE key offset value
    pub const SETRANGE: u32 = 14;
    /// LPUSH key element [element ...]
    pub const LPUSH: u32 = 15;
    /// RPUSH key element [element ...]
    pub const RPUSH: u32 = 16;
    /// LPOP key
    pub const LPOP: u32 = 17;
    /// RPOP key
    pub const RPOP: u32 = 18;
    /// LINDEX key index
    pub const LINDEX: u32 = 19;
    /// LRANGE key start stop
    pub const LRANGE: u32 = 20;
    /// HGET key field
    pub const HGET: u32 = 21;
    /// HSET key field value
    pub const HSET: u32 = 22;
    /// HDEL key field
    pub const HDEL: u32 = 23;
    /// HGETALL key
    pub const HGETALL: u32 = 24;
    /// SADD key member [member ...]
    pub const SADD: u32 = 25;
    /// SREM key member [member ...]
    pub const SREM: u32 = 26;
    /// SISMEMBER key member
    pub const SISMEMBER: u32 = 27;
    /// SMEMBERS key
    pub const SMEMBERS: u32 = 28;
    /// ZADD key score member
    pub const ZADD: u32 = 29;
    /// ZREM key member [member ...]
    pub const ZREM: u32 = 30;
    /// ZSCORE key member
    pub const ZSCORE: u32 = 31;
    /// ZRANGE key start stop WITHSCORES
    pub const ZRANGE_RANK: u32 = 32;
    /// ZRANGE key min max BYSCORE WITHSCORES
    pub const ZRANGE_SCORE: u32 = 33;
    /// SCAN cursor COUNT count [MATCH pattern]: the key is the cursor, the arguments the count
    /// and optionally the pattern.
    pub const SCAN: u32 = 34;
    /// HSCAN, SSCAN or ZSCAN (by the key's type) key cursor COUNT count: the arguments are the
    /// cursor and the count. A missing key gives cursor 0 and no elements.
    pub const SCAN_ELEMENTS: u32 = 35;
    /// Opens the key for writing, no arguments, answers OK: the key counts as modified for
    /// WATCH and client-side caching whether or not the command then changes it, as a key a
    /// Redis module opens with REDISMODULE_WRITE does. (A server without this operation answers
    /// an error; it then signals the keys that changed only.)
    pub const OPEN_WRITE: u32 = 36;
    /// No key, no arguments, answers OK: the values the command reached for writing (module
    /// values through `module_value_mut`/`set_module_value`) are unchanged after all, so they
    /// neither make the command propagate nor count as changes to the data set. Other writes
    /// (key operations, calls) are not affected.
    pub const UNCHANGED: u32 = 37;
    /// DEL key without DEL's keyspace event, as Redis's `RM_DeleteKey` (the module raises its
    /// own); 1 if the key existed. WATCH, client-side caches, the dirty counter and propagation
    /// (as DEL) as DEL.
    pub const REMOVE: u32 = 38;
}

/// The flags of [`HostCtx::call_with`], as Redis's `RM_Call` format modifiers.
pub mod call_flags {
    /// `C`: check the command against the calling user's ACL.
    pub const CHECK_ACL: u32 = 1;
    /// `S`: script mode: refuse `deny-script` (noscript) commands, and writes while the server
    /// refuses writes (a failing save or AOF).
    pub const SCRIPT_MODE: u32 = 2;
    /// `W`: refuse write commands.
    pub const NO_WRITES: u32 = 4;
    /// `M`: refuse `deny-oom` commands while over `maxmemory`.
    pub const RESPECT_OOM: u32 = 8;
    /// The command replies as to a RESP2 client (the default is RESP3).
    pub const RESP2: u32 = 16;
    /// The command replies in the calling client's protocol (`0`).
    pub const RESP_AUTO: u32 = 32;
}

/// The kinds of [`CallError`].
pub mod call_error {
    /// The command ran and replied with an error.
    pub const COMMAND: u32 = 0;
    /// No such command.
    pub const UNKNOWN_COMMAND: u32 = 1;
    /// Wrong number of arguments.
    pub const WRONG_ARITY: u32 = 2;
    /// Refused by the ACL (`NOPERM`).
    pub const NO_PERMISSION: u32 = 3;
    /// A `deny-script` command, or a write the server refuses, in script mode.
    pub const SCRIPT_MODE: u32 = 4;
    /// A write command with [`super::call_flags::NO_WRITES`].
    pub const NO_WRITES: u32 = 5;
    /// A `deny-oom` command over `maxmemory` with [`super::call_flags::RESPECT_OOM`].
    pub const OOM: u32 = 6;
}

/// Why a [`HostCtx::call_with`] gave no reply: one of [`call_error`], and the error line
/// (`ERR Write command 'set' was called while write is not allowed.`).
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct CallError {
    pub kind: u32,
    pub message: RString,
}

// ---- API 1.1: custom data types ----

/// One item of a module value's serialized form, as Redis's RDB module opcodes hold them
/// (`SINT`, `UINT`, `FLOAT`, `DOUBLE`, `STRING`).
#[repr(C, u8)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub enum RdbItem {
    Unsigned(u64),
    Signed(i64),
    Float(f32),
    Double(f64),
    Bytes(RVec<u8>),
}

/// Aux data saved before the keyspace (Redis's `REDISMODULE_AUX_BEFORE_RDB`).
pub const AUX_BEFORE_RDB: u32 = 1;
/// Aux data saved after the keyspace (Redis's `REDISMODULE_AUX_AFTER_RDB`).
pub const AUX_AFTER_RDB: u32 = 2;

/// A data type's declaration.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct DataTypeDef {
    /// 9 characters of `A-Z a-z 0-9 - _`: TYPE's answer and, with `encver`, the RDB type id.
    pub name: RString,
    /// The encoding version written with each value (0 to 1023).
    pub encver: u32,
    /// When aux data is saved: `AUX_BEFORE_RDB | AUX_AFTER_RDB`, 0 for none.
    pub aux_triggers: u32,
}

/// A value of a module's data type, as the keyspace holds it. Created, used and dropped by
/// the module's own code (its vtable), opaque to the server.
#[sabi_trait]
pub trait ModuleValue: Send + Sync {
    /// The value's serialized form (RDB, DUMP).
    fn rdb_save(&self) -> RResult<RVec<RdbItem>, RString>;
    /// The commands that rebuild the value under `key` (AOF rewrite).
    fn aof_rewrite(&self, key: RSlice<'_, u8>) -> RResult<RVec<RVec<RVec<u8>>>, RString>;
    /// Bytes the value uses (MEMORY USAGE).
    fn mem_usage(&self) -> u64;
    /// Bytes that identify the value's content (DEBUG DIGEST-VALUE).
    #[sabi(last_prefix_field)]
    fn digest(&self) -> RVec<u8>;
}

/// A module's data type: what builds values from their serialized form, copies them, and
/// saves and loads the type's aux data.
#[sabi_trait]
pub trait DataTypeHandler: Send + Sync {
    /// A value from its serialized form, written with encoding version `encver`.
    fn rdb_load(
        &self,
        items: RSlice<'_, RdbItem>,
        encver: u32,
    ) -> RResult<ModuleValue_TO<'static, RBox<()>>, RString>;
    /// A copy of `value` (COPY).
    fn copy(
        &self,
        value: &ModuleValue_TO<'static, RBox<()>>,
    ) -> RResult<ModuleValue_TO<'static, RBox<()>>, RString>;
    /// The type's aux data, `when` being `AUX_BEFORE_RDB` or `AUX_AFTER_RDB`.
    fn aux_save(&self, when: u32) -> RResult<RVec<RdbItem>, RString>;
    /// Loads aux data saved by `aux_save(when)` with encoding version `encver`.
    #[sabi(last_prefix_field)]
    fn aux_load(&self, items: RSlice<'_, RdbItem>, encver: u32, when: u32) -> RResult<(), RString>;
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
