//! Module configs, INFO sections and shared APIs between modules (API 1.1).
//!
//! - [`ConfigBuilder`] declares a config (`ctx.register_config(ConfigBuilder::numeric(..))`): a
//!   typed, bounded value the server shows as `<module>.<name>` in CONFIG GET/SET/REWRITE. The
//!   value lives in the returned [`ConfigCell`], which the module reads from its commands.
//! - [`InfoBuilder`] fills the module's INFO sections (`ctx.register_info(|info, _| ..)`).
//! - [`InitContext::export_api`] / [`InitContext::import_api`] (and [`Context::import_api`])
//!   share a value of any `StableAbi` type (a function table, a prefix struct, a sabi trait
//!   object) between modules, by name, with a minimum version and abi_stable's layout check.

use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, RwLock};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, RBox, RErr, ROk, RResult, RString, RVec, Tuple2};
use abi_stable::StableAbi;

use crate::abi::{
    config_flags, ConfigDef, ConfigHandler, ConfigHandler_TO, ConfigValue, InfoField, InfoHandler,
    InfoHandler_TO, InfoSection, InfoValue, SharedApi, SharedValue, SharedValue_TO,
};
use crate::command::panic_message;
use crate::{Context, Error, InitContext};

/// The API minor that brought these features.
const MINOR: u32 = 1;

fn needs_minor(server_minor: u32, what: &str) -> Result<(), Error> {
    if server_minor < MINOR {
        return Err(Error::err(format!(
            "{what} need module API 1.{MINOR}, the server provides 1.{server_minor}"
        )));
    }
    Ok(())
}

/// A Rust type a config can hold: `bool`, `i64` (numeric), `String` (UTF-8), `Vec<u8>` (any
/// bytes), or [`EnumValue`].
pub trait ConfigType: Clone + Send + Sync + 'static {
    #[doc(hidden)]
    fn to_value(&self) -> ConfigValue;
    #[doc(hidden)]
    fn from_value(v: ConfigValue) -> Result<Self, String>;
}

const WRONG_KIND: &str = "the value has the wrong type";

impl ConfigType for bool {
    fn to_value(&self) -> ConfigValue {
        ConfigValue::Bool(*self)
    }
    fn from_value(v: ConfigValue) -> Result<Self, String> {
        match v {
            ConfigValue::Bool(b) => Ok(b),
            _ => Err(WRONG_KIND.into()),
        }
    }
}

impl ConfigType for i64 {
    fn to_value(&self) -> ConfigValue {
        ConfigValue::Numeric(*self)
    }
    fn from_value(v: ConfigValue) -> Result<Self, String> {
        match v {
            ConfigValue::Numeric(n) => Ok(n),
            _ => Err(WRONG_KIND.into()),
        }
    }
}

impl ConfigType for String {
    fn to_value(&self) -> ConfigValue {
        ConfigValue::String(self.as_bytes().into())
    }
    fn from_value(v: ConfigValue) -> Result<Self, String> {
        match v {
            ConfigValue::String(s) => {
                String::from_utf8(s.into_vec()).map_err(|_| "argument must be valid UTF-8".into())
            }
            _ => Err(WRONG_KIND.into()),
        }
    }
}

impl ConfigType for Vec<u8> {
    fn to_value(&self) -> ConfigValue {
        ConfigValue::String(self.as_slice().into())
    }
    fn from_value(v: ConfigValue) -> Result<Self, String> {
        match v {
            ConfigValue::String(s) => Ok(s.into_vec()),
            _ => Err(WRONG_KIND.into()),
        }
    }
}

/// An enum config's value: one entry's value, or several OR-ed for a `bitflags` config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnumValue(pub i32);

impl ConfigType for EnumValue {
    fn to_value(&self) -> ConfigValue {
        ConfigValue::Enum(self.0)
    }
    fn from_value(v: ConfigValue) -> Result<Self, String> {
        match v {
            ConfigValue::Enum(n) => Ok(EnumValue(n)),
            _ => Err(WRONG_KIND.into()),
        }
    }
}

/// A config's current value, shared by the module and the server (which sets it through
/// CONFIG SET, the config file and MODULE LOADEX). Cheap to clone.
#[derive(Clone)]
pub struct ConfigCell<T>(Arc<RwLock<T>>);

impl<T: Clone> ConfigCell<T> {
    pub fn get(&self) -> T {
        match self.0.read() {
            Ok(v) => v.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

type Validator<T> = Box<dyn Fn(&T) -> Result<(), String> + Send + Sync>;

/// A config's declaration.
///
/// ```
/// # use vireo_module_api::*;
/// let c = ConfigBuilder::numeric("max-items", 100, 1, 10_000)
///     .on_set(|v: &i64| if v % 2 == 0 { Ok(()) } else { Err("must be even".into()) });
/// let mode = ConfigBuilder::enumeration("mode", &[("fast", 1), ("safe", 2)], 1);
/// let cache = ConfigBuilder::numeric("cache", 1 << 20, 0, 1 << 30).memory();
/// ```
pub struct ConfigBuilder<T: ConfigType> {
    def: ConfigDef,
    on_set: Option<Validator<T>>,
    _t: PhantomData<T>,
}

impl<T: ConfigType> ConfigBuilder<T> {
    fn new(name: &str, default: T) -> Self {
        ConfigBuilder {
            def: ConfigDef {
                name: name.into(),
                flags: 0,
                default: default.to_value(),
                min: i64::MIN,
                max: i64::MAX,
                enum_values: RVec::new(),
            },
            on_set: None,
            _t: PhantomData,
        }
    }

    fn flag(mut self, f: u32) -> Self {
        self.def.flags |= f;
        self
    }

    /// CONFIG SET refuses it; only the config file and MODULE LOADEX set it.
    pub fn immutable(self) -> Self {
        self.flag(config_flags::IMMUTABLE)
    }

    /// Holds a secret.
    pub fn sensitive(self) -> Self {
        self.flag(config_flags::SENSITIVE)
    }

    /// Left out of CONFIG GET patterns (its exact name still answers).
    pub fn hidden(self) -> Self {
        self.flag(config_flags::HIDDEN)
    }

    /// CONFIG SET needs `enable-protected-configs`.
    pub fn protected(self) -> Self {
        self.flag(config_flags::PROTECTED)
    }

    /// CONFIG SET refuses it while the server loads its data.
    pub fn deny_loading(self) -> Self {
        self.flag(config_flags::DENY_LOADING)
    }

    /// Called with each new value before it is stored (the default at load included); an error
    /// refuses it, and CONFIG SET replies `ERR CONFIG SET failed (possibly related to argument
    /// '<module>.<name>') - <error>`. A panic refuses it too.
    pub fn on_set(mut self, f: impl Fn(&T) -> Result<(), String> + Send + Sync + 'static) -> Self {
        self.on_set = Some(Box::new(f));
        self
    }
}

impl ConfigBuilder<bool> {
    /// A `yes`/`no` config.
    pub fn bool(name: &str, default: bool) -> Self {
        Self::new(name, default)
    }
}

impl ConfigBuilder<i64> {
    /// An integer config within `min..=max`.
    pub fn numeric(name: &str, default: i64, min: i64, max: i64) -> Self {
        let mut b = Self::new(name, default);
        b.def.min = min;
        b.def.max = max;
        b
    }

    /// Accepts memory units (`1kb`, `5mb`, `2gb`; `k`, `m`, `g` are powers of 1000).
    pub fn memory(self) -> Self {
        self.flag(config_flags::MEMORY)
    }
}

impl ConfigBuilder<String> {
    /// A string config (UTF-8: other bytes are refused).
    pub fn string(name: &str, default: &str) -> Self {
        Self::new(name, default.to_string())
    }
}

impl ConfigBuilder<Vec<u8>> {
    /// A binary-safe string config.
    pub fn bytes(name: &str, default: &[u8]) -> Self {
        Self::new(name, default.to_vec())
    }
}

impl ConfigBuilder<EnumValue> {
    /// One of `values` (names are case-insensitive on input; CONFIG GET prints the first name
    /// of a value).
    pub fn enumeration(name: &str, values: &[(&str, i32)], default: i32) -> Self {
        let mut b = Self::new(name, EnumValue(default));
        b.def.enum_values = values.iter().map(|(n, v)| Tuple2((*n).into(), *v)).collect();
        b
    }

    /// A set of flags: `CONFIG SET m.x "a b"` ORs the values. CONFIG GET prints an entry whose
    /// value matches exactly, else the names whose bits are set, looked for in declaration
    /// order (so declare combined entries before the single bits).
    pub fn bitflags(self) -> Self {
        self.flag(config_flags::BITFLAGS)
    }
}

struct CellHandler<T: ConfigType> {
    cell: ConfigCell<T>,
    on_set: Option<Validator<T>>,
}

impl<T: ConfigType> ConfigHandler for CellHandler<T> {
    fn get(&self) -> ConfigValue {
        self.cell.get().to_value()
    }

    fn set(&self, value: ConfigValue) -> RResult<(), RString> {
        let v = match T::from_value(value) {
            Ok(v) => v,
            Err(e) => return RErr(e.into()),
        };
        if let Some(f) = &self.on_set {
            match catch_unwind(AssertUnwindSafe(|| f(&v))) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return RErr(e.into()),
                Err(p) => {
                    return RErr(format!("panicked: {}", panic_message(p.as_ref())).into());
                }
            }
        }
        match self.cell.0.write() {
            Ok(mut g) => *g = v,
            Err(p) => *p.into_inner() = v,
        }
        ROk(())
    }
}

/// A module's INFO sections, filled by the function given to
/// [`InitContext::register_info`] each time INFO shows them.
///
/// ```
/// # use vireo_module_api::InfoBuilder;
/// let mut info = InfoBuilder::default();
/// info.section("stats").field("calls", 3).field("ratio", 0.5).dict("last", &[("k", "v")]);
/// ```
#[derive(Default)]
pub struct InfoBuilder {
    sections: Vec<InfoSection>,
}

/// A value INFO can print.
pub enum InfoFieldValue {
    Str(String),
    Int(i64),
    UInt(u64),
    Double(f64),
}

impl From<&str> for InfoFieldValue {
    fn from(s: &str) -> Self {
        InfoFieldValue::Str(s.to_string())
    }
}
impl From<String> for InfoFieldValue {
    fn from(s: String) -> Self {
        InfoFieldValue::Str(s)
    }
}
impl From<i64> for InfoFieldValue {
    fn from(n: i64) -> Self {
        InfoFieldValue::Int(n)
    }
}
impl From<i32> for InfoFieldValue {
    fn from(n: i32) -> Self {
        InfoFieldValue::Int(n.into())
    }
}
impl From<u64> for InfoFieldValue {
    fn from(n: u64) -> Self {
        InfoFieldValue::UInt(n)
    }
}
impl From<usize> for InfoFieldValue {
    fn from(n: usize) -> Self {
        InfoFieldValue::UInt(n as u64)
    }
}
impl From<f64> for InfoFieldValue {
    fn from(d: f64) -> Self {
        InfoFieldValue::Double(d)
    }
}

impl InfoBuilder {
    /// Starts a section, printed `# <module>_<name>` (`# <module>` when `name` is empty).
    pub fn section(&mut self, name: &str) -> &mut Self {
        self.sections.push(InfoSection { name: name.into(), fields: RVec::new() });
        self
    }

    fn push(&mut self, name: &str, value: InfoValue) -> &mut Self {
        if self.sections.is_empty() {
            self.section("");
        }
        if let Some(s) = self.sections.last_mut() {
            s.fields.push(InfoField { name: name.into(), value });
        }
        self
    }

    /// A field, printed `<module>_<name>:<value>`.
    pub fn field(&mut self, name: &str, value: impl Into<InfoFieldValue>) -> &mut Self {
        let v = match value.into() {
            InfoFieldValue::Str(s) => InfoValue::Str(s.into()),
            InfoFieldValue::Int(n) => InfoValue::Int(n),
            InfoFieldValue::UInt(n) => InfoValue::UInt(n),
            InfoFieldValue::Double(d) => InfoValue::Double(d),
        };
        self.push(name, v)
    }

    /// A dictionary field, printed `<module>_<name>:k1=v1,k2=v2`.
    pub fn dict(&mut self, name: &str, pairs: &[(&str, &str)]) -> &mut Self {
        let d = pairs.iter().map(|(k, v)| Tuple2(RString::from(*k), RString::from(*v))).collect();
        self.push(name, InfoValue::Dict(d))
    }

    /// The sections built so far (for tests).
    pub fn sections(&self) -> &[InfoSection] {
        &self.sections
    }
}

type InfoFn = Box<dyn Fn(&mut InfoBuilder, bool) + Send + Sync>;

struct FnInfo(InfoFn);

impl InfoHandler for FnInfo {
    fn sections(&self, for_crash_report: bool) -> RVec<InfoSection> {
        let mut b = InfoBuilder::default();
        // A panic loses the sections, never the server.
        match catch_unwind(AssertUnwindSafe(|| (self.0)(&mut b, for_crash_report))) {
            Ok(()) => b.sections.into(),
            Err(_) => RVec::new(),
        }
    }
}

/// Keeps an exported value alive and gives its address.
struct Holder<T>(T);

impl<T: Send + Sync + 'static> SharedValue for Holder<T> {
    fn addr(&self) -> usize {
        &self.0 as *const T as usize
    }
}

/// An API another module exported, imported with [`InitContext::import_api`] or
/// [`Context::import_api`]: dereferences to the exported value. It keeps the value alive; the
/// server refuses to unload the exporter while importers are loaded.
pub struct Shared<T> {
    keep: RArc<SharedValue_TO<'static, RBox<()>>>,
    addr: usize,
    version: u32,
    _t: PhantomData<T>,
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared { keep: self.keep.clone(), addr: self.addr, version: self.version, _t: PhantomData }
    }
}

impl<T> Shared<T> {
    /// The version the exporter declared.
    pub fn version(&self) -> u32 {
        self.version
    }
}

impl<T> std::ops::Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `addr` is the address of the `T` inside the `Holder<T>` that `keep` owns (an
        // `RArc` we hold, so it is alive and never moves); `from_shared` only builds a
        // `Shared<T>` after abi_stable's layout check found the exported type compatible with
        // `T`, and the value is only ever accessed through `&T` (it is `Sync`).
        unsafe { &*(self.addr as *const T) }
    }
}

pub(crate) fn to_shared<T: StableAbi + Send + Sync + 'static>(version: u32, value: T) -> SharedApi {
    SharedApi {
        version,
        layout: <T as StableAbi>::LAYOUT,
        value: RArc::new(SharedValue_TO::from_value(Holder(value), TD_Opaque)),
    }
}

pub(crate) fn from_shared<T: StableAbi + Send + Sync + 'static>(
    name: &str,
    api: SharedApi,
) -> Result<Shared<T>, Error> {
    if let Err(e) = abi_stable::abi_stability::abi_checking::check_layout_compatibility(
        <T as StableAbi>::LAYOUT,
        api.layout,
    ) {
        let first = e.to_string().lines().next().unwrap_or("").to_string();
        return Err(Error::err(format!(
            "shared API '{name}' has a different type than the one asked for ({first})"
        )));
    }
    let addr = api.value.addr();
    Ok(Shared { keep: api.value, addr, version: api.version, _t: PhantomData })
}

fn rerr<T>(r: RResult<T, RString>) -> Result<T, Error> {
    match r {
        ROk(v) => Ok(v),
        RErr(e) => Err(Error::new(e.into_string())),
    }
}

impl InitContext<'_, '_> {
    /// Declares a config, shown as `<module>.<name>`; returns the cell that holds its value.
    /// Values from the config file and MODULE LOADEX are applied by [`Self::load_configs`]
    /// (called automatically after `init` if the module did not).
    pub fn register_config<T: ConfigType>(
        &mut self,
        b: ConfigBuilder<T>,
    ) -> Result<ConfigCell<T>, Error> {
        needs_minor(self.server_api_minor(), "module configs")?;
        let default = T::from_value(b.def.default.clone()).map_err(Error::err)?;
        let cell = ConfigCell(Arc::new(RwLock::new(default)));
        let h = CellHandler { cell: cell.clone(), on_set: b.on_set };
        rerr(self.host.register_config(b.def, ConfigHandler_TO::from_value(h, TD_Opaque)))?;
        self.configs_pending = true;
        Ok(cell)
    }

    /// Gives the configs registered so far their values (from the config file or MODULE
    /// LOADEX, else their defaults), so that `init` can read them. An error should fail `init`.
    pub fn load_configs(&mut self) -> Result<(), Error> {
        needs_minor(self.server_api_minor(), "module configs")?;
        self.configs_pending = false;
        rerr(self.host.load_configs())
    }

    /// Adds the module's INFO sections: `f` fills an [`InfoBuilder`] each time INFO shows them
    /// (the flag says whether it is for a crash report).
    pub fn register_info(
        &mut self,
        f: impl Fn(&mut InfoBuilder, bool) + Send + Sync + 'static,
    ) -> Result<(), Error> {
        needs_minor(self.server_api_minor(), "INFO sections")?;
        let h = InfoHandler_TO::from_value(FnInfo(Box::new(f)), TD_Opaque);
        rerr(self.host.register_info(h))
    }

    /// Exports `value` under `name` at `version` for other modules to import with
    /// [`Self::import_api`] / [`Context::import_api`] as the same `StableAbi` type (typically
    /// defined in a small crate both depend on).
    pub fn export_api<T: StableAbi + Send + Sync + 'static>(
        &mut self,
        name: &str,
        version: u32,
        value: T,
    ) -> Result<(), Error> {
        needs_minor(self.server_api_minor(), "shared APIs")?;
        rerr(self.host.export_api(name.into(), to_shared(version, value)))
    }

    /// Imports the API another (already loaded) module exported as `name`, if its version is
    /// at least `min_version` and its type is compatible with `T`.
    pub fn import_api<T: StableAbi + Send + Sync + 'static>(
        &mut self,
        name: &str,
        min_version: u32,
    ) -> Result<Shared<T>, Error> {
        needs_minor(self.server_api_minor(), "shared APIs")?;
        let api = rerr(self.host.import_api(name.into(), min_version))?;
        from_shared(name, api)
    }
}

impl Context<'_, '_> {
    /// [`InitContext::import_api`] from a command: for an exporter loaded after this module.
    pub fn import_api<T: StableAbi + Send + Sync + 'static>(
        &mut self,
        name: &str,
        min_version: u32,
    ) -> Result<Shared<T>, Error> {
        needs_minor(self.server_api_minor(), "shared APIs")?;
        let api = rerr(self.host.import_api(name.into(), min_version))?;
        from_shared(name, api)
    }
}
