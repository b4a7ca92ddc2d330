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
        name: RStr::from_str("module configs, INFO sections, shared APIs between modules"),
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

    // ---- Module configs, INFO sections, shared APIs (API 1.1) ----
    /// The shared API `name` another module exported, if its version is at least
    /// `min_version`; records that this module uses the exporter (MODULE UNLOAD of the exporter
    /// is then refused).
    fn import_api(&mut self, name: RStr<'_>, min_version: u32) -> RResult<SharedApi, RString>;
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
