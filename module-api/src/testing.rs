//! An in-process host, so that a module's unit tests run its commands without a server:
//!
//! ```ignore
//! let mut m = TestModule::load("hello", init, &[]).unwrap();
//! assert_eq!(m.run(&["hello.echo", "hi"]), Reply::bulk("hi"));
//! m.set_resp(3);
//! m.on_call(|argv| if argv[0] == b"PING" { Reply::simple("PONG") } else { Reply::error("ERR no") });
//! ```
//!
//! Commands run through the same ABI objects the server uses, with the server's arity check and
//! its RESP2/RESP3 encoding, and the server's rule that a command writes exactly one reply.
//! [`Context::call`](crate::Context::call) is answered by the closure given to
//! [`TestModule::on_call`]. Doubles are written in Rust's shortest form (the server uses
//! Redis's `%.17g`).

use std::cell::RefCell;
use std::collections::HashMap;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RMut;
use abi_stable::std_types::{RBox, RErr, ROk, ROption, RResult, RSlice, RStr, RString, RVec};

use crate::abi::{
    call_error, Aggregate, BlockCallback_TO, BlockedHandle_TO, CallError, CallReply, CommandDef,
    CommandHandler_TO, ConfigDef, ConfigHandler_TO, ConfigValue, DataTypeDef, DataTypeHandler_TO,
    DisconnectCallback_TO, HostCtx, HostCtx_TO, InfoHandler_TO, InfoSection, InitHost, InitHost_TO,
    KeyReadyCallback_TO, LogLevel, ModuleValue_TO, RdbItem, ServerHandle_TO, SharedApi,
    TimerCallback_TO, API_MINOR,
};
use crate::datatype::{self, DataType};
// ---- keyspace and server events, replication control (API 1.1) ----
use crate::abi::{
    EventHost, EventHost_TO, KeyspaceListener_TO, ServerEventData, ServerEventListener_TO,
};
use crate::tracker::ReplyTracker;
use crate::{Error, InitContext, Reply};

pub use crate::fake_keys::{Keyspace, Value as KeyValue};

type CallFn = Box<dyn FnMut(&[Vec<u8>]) -> Reply>;

/// A module loaded into an in-process fake host.
pub struct TestModule {
    name: String,
    commands: Vec<(CommandDef, CommandHandler_TO<'static, RBox<()>>)>,
    on_call: Option<CallFn>,
    resp: u8,
    logs: RefCell<Vec<(LogLevel, String)>>,
    keyspace: Keyspace,
    types: Vec<(DataTypeDef, DataTypeHandler_TO<'static, RBox<()>>)>,
    values: HashMap<Vec<u8>, TestValue>,
    // Module configs, INFO sections, shared APIs (API 1.1).
    configs: Vec<(ConfigDef, ConfigHandler_TO<'static, RBox<()>>)>,
    info: Option<InfoHandler_TO<'static, RBox<()>>>,
    apis: Vec<(String, SharedApi)>,
    // ---- keyspace and server events, replication control (API 1.1) ----
    keyspace_listeners: Vec<(u32, KeyspaceListener_TO<'static, RBox<()>>)>,
    server_events: Vec<(u32, ServerEventListener_TO<'static, RBox<()>>)>,
    /// Keyspace events the module raised: (class, event, key).
    notified: RefCell<Vec<(u32, String, Vec<u8>)>>,
    /// What the last command asked to replicate (`replicate_verbatim` gives its own argv).
    replicated: Vec<Vec<Vec<u8>>>,
}

/// A key of the fake keyspace: a value of one of the module's types, or a key of another type
/// (to test WRONGTYPE replies).
enum TestValue {
    Module { ty: String, v: ModuleValue_TO<'static, RBox<()>> },
    Other(String),
}

impl TestModule {
    /// Runs `init` with `args` against the fake host, as `loadmodule` would.
    pub fn load(
        name: &str,
        init: fn(&mut InitContext, &[String]) -> Result<(), Error>,
        args: &[&str],
    ) -> Result<TestModule, Error> {
        let mut m = TestModule {
            name: name.into(),
            commands: Vec::new(),
            on_call: None,
            resp: 2,
            logs: RefCell::default(),
            keyspace: Keyspace::default(),
            types: Vec::new(),
            values: HashMap::new(),
            configs: Vec::new(),
            info: None,
            apis: Vec::new(),
            keyspace_listeners: Vec::new(),
            server_events: Vec::new(),
            notified: RefCell::default(),
            replicated: Vec::new(),
        };
        m.init_with(init, args)?;
        Ok(m)
    }

    /// As [`TestModule::load`], with shared APIs (see [`TestModule::provide_api`]) that `init`
    /// can import.
    pub fn load_with_apis(
        name: &str,
        init: fn(&mut InitContext, &[String]) -> Result<(), Error>,
        args: &[&str],
        apis: &[(&str, SharedApi)],
    ) -> Result<TestModule, Error> {
        let mut m = TestModule::load(name, |_, _| Ok(()), &[])?;
        m.apis = apis.iter().map(|(n, a)| (n.to_string(), a.clone())).collect();
        m.init_with(init, args)?;
        Ok(m)
    }

    fn init_with(
        &mut self,
        init: fn(&mut InitContext, &[String]) -> Result<(), Error>,
        args: &[&str],
    ) -> Result<(), Error> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut host = TestInit { m: self };
        let to = InitHost_TO::from_ptr(RMut::new(&mut host), TD_Opaque);
        let mut ctx = InitContext::new(to);
        init(&mut ctx, &args)?;
        if ctx.configs_pending {
            ctx.load_configs()?;
        }
        Ok(())
    }

    /// A shared API as a module would export it, for [`TestModule::load_with_apis`] or
    /// [`TestModule::provide_api`].
    pub fn shared_api<T: abi_stable::StableAbi + Send + Sync + 'static>(
        version: u32,
        value: T,
    ) -> SharedApi {
        crate::modconf::to_shared(version, value)
    }

    /// Makes a shared API importable by the module's commands (and lists what it exported).
    pub fn provide_api(&mut self, name: &str, api: SharedApi) {
        self.apis.retain(|(n, _)| n != name);
        self.apis.push((name.to_string(), api));
    }

    /// The shared APIs the module exported (and those provided to it), by name.
    pub fn apis(&self) -> impl Iterator<Item = (&str, &SharedApi)> {
        self.apis.iter().map(|(n, a)| (n.as_str(), a))
    }

    /// A module config's value, by its name without the module prefix.
    pub fn config_get(&self, name: &str) -> Option<ConfigValue> {
        self.configs.iter().find(|(d, _)| d.name.eq_ignore_ascii_case(name)).map(|(_, h)| h.get())
    }

    /// Sets a module config as CONFIG SET would once the value is parsed: checks its kind,
    /// numeric bounds and enum values (not the immutable flag), then calls the module's setter.
    pub fn config_set(&mut self, name: &str, value: ConfigValue) -> Result<(), String> {
        let Some((d, h)) = self.configs.iter().find(|(d, _)| d.name.eq_ignore_ascii_case(name))
        else {
            return Err(format!("no config named '{name}'"));
        };
        check_config_value(d, &value)?;
        match h.set(value) {
            ROk(()) => Ok(()),
            RErr(e) => Err(e.into_string()),
        }
    }

    /// The module's INFO sections, as INFO would ask for them.
    pub fn info(&self) -> Vec<InfoSection> {
        self.info.as_ref().map(|h| h.sections(false).into_vec()).unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The protocol the next commands run with: 2 (the default) or 3.
    pub fn set_resp(&mut self, resp: u8) {
        self.resp = resp;
    }

    /// What answers the module's [`Context::call`](crate::Context::call)s.
    pub fn on_call(&mut self, f: impl FnMut(&[Vec<u8>]) -> Reply + 'static) {
        self.on_call = Some(Box::new(f));
    }

    /// The in-memory keyspace the module's key operations ([`crate::Key`]) work on.
    pub fn keyspace(&mut self) -> &mut Keyspace {
        &mut self.keyspace
    }

    /// The registered commands' definitions.
    pub fn commands(&self) -> impl Iterator<Item = &CommandDef> {
        self.commands.iter().map(|(d, _)| d)
    }

    /// What the module logged, oldest first.
    pub fn logs(&self) -> Vec<(LogLevel, String)> {
        self.logs.borrow().clone()
    }

    /// Runs a command and returns its reply, decoded.
    pub fn run<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Reply {
        let raw = self.run_raw(argv);
        match decode(&raw) {
            Some((r, n)) if n == raw.len() => r,
            _ => panic!("malformed reply {:?}", String::from_utf8_lossy(&raw)),
        }
    }

    /// Runs a command and returns its reply as the bytes a client would read.
    pub fn run_raw<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Vec<u8> {
        let resp = self.resp;
        let mut out = Vec::new();
        let name = argv.first().map(|a| a.as_ref()).unwrap_or_default();
        let Some(i) =
            self.commands.iter().position(|(d, _)| d.name.as_bytes().eq_ignore_ascii_case(name))
        else {
            encode_error(
                &mut out,
                &format!("ERR unknown command '{}'", String::from_utf8_lossy(name)),
            );
            return out;
        };
        let (arity, argc) = (self.commands[i].0.arity, argv.len() as i32);
        if (arity > 0 && argc != arity) || (arity < 0 && argc < -arity) {
            let n = self.commands[i].0.name.to_lowercase();
            encode_error(&mut out, Error::wrong_arity(&n).message());
            return out;
        }
        let args: Vec<RSlice<u8>> = argv.iter().map(|a| RSlice::from_slice(a.as_ref())).collect();
        let mut on_call = self.on_call.take();
        self.replicated.clear();
        let argv_owned: Vec<Vec<u8>> = argv.iter().map(|a| a.as_ref().to_vec()).collect();
        let result = {
            let mut ctx = TestCtx {
                out: &mut out,
                resp,
                tracker: ReplyTracker::default(),
                on_call: &mut on_call,
                logs: &self.logs,
                keys: &mut self.keyspace,
                types: &self.types,
                values: &mut self.values,
                apis: &self.apis,
                argv: &argv_owned,
                notified: &self.notified,
                replicated: &mut self.replicated,
            };
            let r = {
                let to = HostCtx_TO::from_ptr(RMut::new(&mut ctx), TD_Opaque);
                self.commands[i].1.call(to, RSlice::from_slice(&args))
            };
            match r {
                ROk(()) if !ctx.tracker.complete() => Err(format!(
                    "ERR module command '{}' did not write exactly one reply",
                    self.commands[i].0.name
                )),
                ROk(()) => Ok(()),
                RErr(e) => Err(e.into_string()),
            }
        };
        self.on_call = on_call;
        if let Err(e) = result {
            out.clear();
            encode_error(&mut out, &e);
        }
        out
    }
}

/// Custom data types: the fake keyspace the module's commands read and write, and the
/// persistence callbacks, run without a server.
impl TestModule {
    /// The registered data types.
    pub fn types(&self) -> impl Iterator<Item = &DataTypeDef> {
        self.types.iter().map(|(d, _)| d)
    }

    fn handler(&self, name: &str) -> Result<&DataTypeHandler_TO<'static, RBox<()>>, Error> {
        self.types
            .iter()
            .find(|(d, _)| d.name == name)
            .map(|(_, h)| h)
            .ok_or_else(|| Error::err(format!("data type '{name}' is not registered")))
    }

    fn module_value(
        &self,
        key: &[u8],
    ) -> Result<(&str, &ModuleValue_TO<'static, RBox<()>>), Error> {
        match self.values.get(key) {
            Some(TestValue::Module { ty, v }) => Ok((ty, v)),
            Some(TestValue::Other(_)) => Err(Error::WRONG_TYPE),
            None => Err(Error::err("no such key")),
        }
    }

    /// Sets `key` to a value of type `T` (registered by the module).
    pub fn set_value<T: DataType>(&mut self, key: impl AsRef<[u8]>, v: T) {
        let v = TestValue::Module { ty: T::NAME.into(), v: datatype::to_object(v) };
        self.values.insert(key.as_ref().to_vec(), v);
    }

    /// The `T` at `key`, if it holds one.
    pub fn get_value<T: DataType>(&self, key: impl AsRef<[u8]>) -> Option<&T> {
        match self.values.get(key.as_ref()) {
            Some(TestValue::Module { v, .. }) => datatype::downcast::<T>(v),
            _ => None,
        }
    }

    /// Makes `key` a key of a built-in type (`"string"`, `"list"`...), which the module's
    /// typed access answers with WRONGTYPE.
    pub fn set_key_type(&mut self, key: impl AsRef<[u8]>, type_name: &str) {
        self.values.insert(key.as_ref().to_vec(), TestValue::Other(type_name.into()));
    }

    /// What TYPE would answer for `key`.
    pub fn key_type(&self, key: impl AsRef<[u8]>) -> String {
        key_type(self.values.get(key.as_ref()))
    }

    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> bool {
        self.values.remove(key.as_ref()).is_some()
    }

    /// The serialized form of `key`'s value, as the server writes it into RDB files.
    pub fn rdb_items(&self, key: impl AsRef<[u8]>) -> Result<Vec<RdbItem>, Error> {
        let (_, v) = self.module_value(key.as_ref())?;
        v.rdb_save().into_result().map(RVec::into_vec).map_err(|e| Error::new(e.into_string()))
    }

    /// Saves `key`'s value and replaces it with what its type loads back from that (with the
    /// type's current encoding version), as a restart from an RDB file would.
    pub fn rdb_round_trip(&mut self, key: impl AsRef<[u8]>) -> Result<(), Error> {
        let key = key.as_ref();
        let items = self.rdb_items(key)?;
        let ty = self.module_value(key)?.0.to_string();
        let encver = self.types.iter().find(|(d, _)| d.name == ty).map_or(0, |(d, _)| d.encver);
        let v = self.load_value(&ty, &items, encver)?;
        self.values.insert(key.to_vec(), TestValue::Module { ty, v });
        Ok(())
    }

    /// A value of type `type_name` loaded from `items` written with encoding version `encver`
    /// (an older file's, for one), stored at `key`.
    pub fn rdb_load(
        &mut self,
        key: impl AsRef<[u8]>,
        type_name: &str,
        items: &[RdbItem],
        encver: u32,
    ) -> Result<(), Error> {
        let v = self.load_value(type_name, items, encver)?;
        self.values.insert(key.as_ref().to_vec(), TestValue::Module { ty: type_name.into(), v });
        Ok(())
    }

    fn load_value(
        &self,
        ty: &str,
        items: &[RdbItem],
        encver: u32,
    ) -> Result<ModuleValue_TO<'static, RBox<()>>, Error> {
        self.handler(ty)?
            .rdb_load(RSlice::from_slice(items), encver)
            .into_result()
            .map_err(|e| Error::new(e.into_string()))
    }

    /// The commands an AOF rewrite writes for `key`.
    pub fn aof_rewrite(&self, key: impl AsRef<[u8]>) -> Result<Vec<Vec<Vec<u8>>>, Error> {
        let key = key.as_ref();
        let (_, v) = self.module_value(key)?;
        match v.aof_rewrite(RSlice::from_slice(key)) {
            ROk(cmds) => {
                Ok(cmds.into_iter().map(|c| c.into_iter().map(RVec::into_vec).collect()).collect())
            }
            RErr(e) => Err(Error::new(e.into_string())),
        }
    }

    /// What the value's `mem_usage` says.
    pub fn mem_usage(&self, key: impl AsRef<[u8]>) -> Result<usize, Error> {
        Ok(self.module_value(key.as_ref())?.1.mem_usage() as usize)
    }

    /// Copies `src`'s value to `dst` through the type's copy callback (COPY).
    pub fn copy(&mut self, src: impl AsRef<[u8]>, dst: impl AsRef<[u8]>) -> Result<(), Error> {
        let (ty, v) = self.module_value(src.as_ref())?;
        let ty = ty.to_string();
        let c =
            self.handler(&ty)?.copy(v).into_result().map_err(|e| Error::new(e.into_string()))?;
        self.values.insert(dst.as_ref().to_vec(), TestValue::Module { ty, v: c });
        Ok(())
    }

    /// Saves type `type_name`'s aux data for `when` and loads it back; returns the items.
    pub fn aux_round_trip(&mut self, type_name: &str, when: u32) -> Result<Vec<RdbItem>, Error> {
        let encver =
            self.types.iter().find(|(d, _)| d.name == type_name).map_or(0, |(d, _)| d.encver);
        let h = self.handler(type_name)?;
        let items = h.aux_save(when).into_result().map_err(|e| Error::new(e.into_string()))?;
        h.aux_load(items.as_rslice(), encver, when)
            .into_result()
            .map_err(|e| Error::new(e.into_string()))?;
        Ok(items.into_vec())
    }
}

fn key_type(v: Option<&TestValue>) -> String {
    match v {
        Some(TestValue::Module { ty, .. }) => ty.clone(),
        Some(TestValue::Other(t)) => t.clone(),
        None => "none".into(),
    }
}

struct TestInit<'a> {
    m: &'a mut TestModule,
}

impl InitHost for TestInit<'_> {
    fn register_command(
        &mut self,
        def: CommandDef,
        handler: CommandHandler_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        if self.m.commands.iter().any(|(d, _)| d.name.eq_ignore_ascii_case(&def.name)) {
            return RErr(format!("ERR command '{}' is already registered", def.name).into());
        }
        self.m.commands.push((def, handler));
        ROk(())
    }

    fn log(&self, level: LogLevel, msg: RStr<'_>) {
        self.m.logs.borrow_mut().push((level, msg.to_string()));
    }

    fn api_minor(&self) -> u32 {
        API_MINOR
    }

    fn register_type(
        &mut self,
        def: DataTypeDef,
        handler: DataTypeHandler_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        if datatype::type_id(&def.name, def.encver).is_none() {
            return RErr(
                format!(
                    "ERR invalid data type name '{}' or encoding version {}",
                    def.name, def.encver
                )
                .into(),
            );
        }
        if self.m.types.iter().any(|(d, _)| d.name == def.name) {
            return RErr(format!("ERR data type '{}' is already registered", def.name).into());
        }
        self.m.types.push((def, handler));
        ROk(())
    }

    fn server_handle(&self) -> ServerHandle_TO<'static, RBox<()>> {
        ServerHandle_TO::from_value(crate::concurrency::NoServer, TD_Opaque)
    }

    fn register_config(
        &mut self,
        def: ConfigDef,
        handler: ConfigHandler_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        if self.m.configs.iter().any(|(d, _)| d.name.eq_ignore_ascii_case(&def.name)) {
            return RErr(format!("config '{}' is already registered", def.name).into());
        }
        if let Err(e) = check_config_value(&def, &def.default) {
            return RErr(format!("config '{}': bad default: {e}", def.name).into());
        }
        self.m.configs.push((def, handler));
        ROk(())
    }

    fn load_configs(&mut self) -> RResult<(), RString> {
        for (d, h) in &self.m.configs {
            if let RErr(e) = h.set(d.default.clone()) {
                return RErr(
                    format!("Issue during loading of configuration {} : {e}", d.name).into(),
                );
            }
        }
        ROk(())
    }

    fn register_info(
        &mut self,
        handler: InfoHandler_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        self.m.info = Some(handler);
        ROk(())
    }

    fn export_api(&mut self, name: RStr<'_>, api: SharedApi) -> RResult<(), RString> {
        if self.m.apis.iter().any(|(n, _)| n == name.as_str()) {
            return RErr(format!("shared API '{name}' is already exported").into());
        }
        self.m.apis.push((name.to_string(), api));
        ROk(())
    }

    fn import_api(&mut self, name: RStr<'_>, min_version: u32) -> RResult<SharedApi, RString> {
        find_api(&self.m.apis, name.as_str(), min_version)
    }

    // ---- keyspace and server events, replication control (API 1.1) ----
    fn subscribe_keyspace(
        &mut self,
        classes: u32,
        listener: KeyspaceListener_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        self.m.keyspace_listeners.push((classes, listener));
        ROk(())
    }

    fn subscribe_server_event(
        &mut self,
        event: u32,
        listener: ServerEventListener_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        self.m.server_events.push((event, listener));
        ROk(())
    }
}

fn find_api(apis: &[(String, SharedApi)], name: &str, min: u32) -> RResult<SharedApi, RString> {
    match apis.iter().find(|(n, _)| n == name) {
        None => RErr(format!("no shared API named '{name}'").into()),
        Some((_, a)) if a.version < min => {
            RErr(format!("shared API '{name}' has version {}, {min} is needed", a.version).into())
        }
        Some((_, a)) => ROk(a.clone()),
    }
}

/// The checks the server makes on a parsed config value.
fn check_config_value(d: &ConfigDef, v: &ConfigValue) -> Result<(), String> {
    use std::mem::discriminant;
    if discriminant(&d.default) != discriminant(v) {
        return Err("the value has the wrong type".into());
    }
    match v {
        ConfigValue::Numeric(n) if *n < d.min || *n > d.max => {
            Err(format!("argument must be between {} and {} inclusive", d.min, d.max))
        }
        ConfigValue::Enum(e) => {
            let known = d.enum_values.iter().any(|t| t.1 == *e)
                || (d.flags & crate::abi::config_flags::BITFLAGS != 0
                    && *e & !d.enum_values.iter().fold(0, |a, t| a | t.1) == 0);
            if known {
                Ok(())
            } else {
                Err("not one of the enum's values".into())
            }
        }
        _ => Ok(()),
    }
}

struct TestCtx<'a> {
    out: &'a mut Vec<u8>,
    resp: u8,
    tracker: ReplyTracker,
    on_call: &'a mut Option<CallFn>,
    logs: &'a RefCell<Vec<(LogLevel, String)>>,
    keys: &'a mut Keyspace,
    types: &'a [(DataTypeDef, DataTypeHandler_TO<'static, RBox<()>>)],
    values: &'a mut HashMap<Vec<u8>, TestValue>,
    apis: &'a [(String, SharedApi)],
    argv: &'a [Vec<u8>],
    notified: &'a RefCell<Vec<(u32, String, Vec<u8>)>>,
    replicated: &'a mut Vec<Vec<Vec<u8>>>,
}

impl TestCtx<'_> {
    fn own_type(&self, name: &str) -> Result<(), RString> {
        if self.types.iter().any(|(d, _)| d.name == name) {
            Ok(())
        } else {
            Err(format!("ERR data type '{name}' is not registered by this module").into())
        }
    }
}

fn line(out: &mut Vec<u8>, prefix: u8, s: &[u8]) {
    out.push(prefix);
    out.extend(s.iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }));
    out.extend_from_slice(b"\r\n");
}

fn encode_error(out: &mut Vec<u8>, msg: &str) {
    line(out, b'-', msg.as_bytes());
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn fmt_double(d: f64) -> String {
    if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{d}")
    }
}

impl TestCtx<'_> {
    fn header(kind: Aggregate, len: u64, resp3: bool) -> Option<Vec<u8>> {
        let (p, n) = match (kind, resp3) {
            (Aggregate::Array, _) | (Aggregate::Set, false) => (b'*', len),
            (Aggregate::Map, true) => (b'%', len),
            (Aggregate::Map, false) => (b'*', 2 * len),
            (Aggregate::Set, true) => (b'~', len),
            (Aggregate::Attribute, true) => (b'|', len),
            (Aggregate::Attribute, false) => return None,
        };
        Some(format!("{}{n}\r\n", p as char).into_bytes())
    }
}

impl HostCtx for TestCtx<'_> {
    fn resp(&self) -> u8 {
        self.resp
    }
    fn client_id(&self) -> u64 {
        1
    }
    fn db(&self) -> i64 {
        0
    }
    fn reply_simple(&mut self, s: RStr<'_>) {
        line(self.out, b'+', s.as_bytes());
        self.tracker.value();
    }
    fn reply_error(&mut self, s: RStr<'_>) {
        line(self.out, b'-', s.as_bytes());
        self.tracker.value();
    }
    fn reply_int(&mut self, n: i64) {
        self.out.extend_from_slice(format!(":{n}\r\n").as_bytes());
        self.tracker.value();
    }
    fn reply_bulk(&mut self, b: RSlice<'_, u8>) {
        bulk(self.out, &b);
        self.tracker.value();
    }
    fn reply_null(&mut self) {
        self.out.extend_from_slice(if self.resp == 3 { b"_\r\n" } else { b"$-1\r\n" });
        self.tracker.value();
    }
    fn reply_null_array(&mut self) {
        self.out.extend_from_slice(if self.resp == 3 { b"_\r\n" } else { b"*-1\r\n" });
        self.tracker.value();
    }
    fn reply_double(&mut self, d: f64) {
        let s = fmt_double(d);
        if self.resp == 3 {
            line(self.out, b',', s.as_bytes());
        } else {
            bulk(self.out, s.as_bytes());
        }
        self.tracker.value();
    }
    fn reply_bool(&mut self, b: bool) {
        let s: &[u8] = match (self.resp == 3, b) {
            (true, true) => b"#t\r\n",
            (true, false) => b"#f\r\n",
            (false, true) => b":1\r\n",
            (false, false) => b":0\r\n",
        };
        self.out.extend_from_slice(s);
        self.tracker.value();
    }
    fn reply_big_number(&mut self, digits: RStr<'_>) {
        if self.resp == 3 {
            line(self.out, b'(', digits.as_bytes());
        } else {
            bulk(self.out, digits.as_bytes());
        }
        self.tracker.value();
    }
    fn reply_verbatim(&mut self, format: RStr<'_>, text: RSlice<'_, u8>) {
        if self.resp == 3 {
            self.out.extend_from_slice(format!("={}\r\n{format}:", text.len() + 4).as_bytes());
            self.out.extend_from_slice(&text);
            self.out.extend_from_slice(b"\r\n");
        } else {
            bulk(self.out, &text);
        }
        self.tracker.value();
    }
    fn reply_aggregate(&mut self, kind: Aggregate, len: u64) -> bool {
        match Self::header(kind, len, self.resp == 3) {
            Some(h) => {
                self.out.extend_from_slice(&h);
                self.tracker.aggregate(kind, len);
                true
            }
            None => false,
        }
    }
    fn reply_postponed(&mut self, kind: Aggregate) -> u32 {
        if kind == Aggregate::Attribute && self.resp != 3 {
            return 0;
        }
        self.tracker.postpone(kind, self.out.len())
    }
    fn set_postponed_len(&mut self, handle: u32, len: u64) {
        if let Some((kind, at)) = self.tracker.close(handle, len) {
            let h = Self::header(kind, len, self.resp == 3).unwrap_or_default();
            self.out.splice(at..at, h);
        }
    }
    fn call(&mut self, argv: RSlice<'_, RSlice<'_, u8>>) -> CallReply {
        let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
        let r = match self.on_call.as_mut() {
            Some(f) => f(&argv),
            None => Reply::error("ERR TestModule has no on_call handler"),
        };
        CallReply::from(&r)
    }
    fn log(&self, level: LogLevel, msg: RStr<'_>) {
        self.logs.borrow_mut().push((level, msg.to_string()));
    }
    fn api_minor(&self) -> u32 {
        API_MINOR
    }
    fn key_op(
        &mut self,
        op: u32,
        key: RSlice<'_, u8>,
        args: RSlice<'_, RSlice<'_, u8>>,
    ) -> RResult<CallReply, RString> {
        // Module values live beside the key API's fake keyspace: the generic operations see
        // them too.
        if let Some(v) = self.values.get(key.as_slice()) {
            match op {
                crate::abi::key_op::DEL
                | crate::abi::key_op::UNLINK
                | crate::abi::key_op::REMOVE => {
                    self.values.remove(key.as_slice());
                    return ROk(CallReply::Int(1));
                }
                crate::abi::key_op::EXISTS => return ROk(CallReply::Int(1)),
                crate::abi::key_op::TYPE => {
                    return ROk(CallReply::Simple(key_type(Some(v)).into()))
                }
                _ => {}
            }
        }
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        match self.keys.op(op, &key, &args) {
            Ok(r) => ROk(CallReply::from(&r)),
            Err(e) => RErr(e.into()),
        }
    }
    /// Answered by `on_call` like [`HostCtx::call`]; the options are not checked (the fake
    /// host has no command table), an error reply is the `Err`.
    fn call_with(
        &mut self,
        _flags: u32,
        argv: RSlice<'_, RSlice<'_, u8>>,
    ) -> RResult<CallReply, CallError> {
        match self.call(argv) {
            CallReply::Error(e) => RErr(CallError { kind: call_error::COMMAND, message: e }),
            r => ROk(r),
        }
    }
    fn module_value(
        &mut self,
        key: RSlice<'_, u8>,
        type_name: RStr<'_>,
    ) -> RResult<ROption<&ModuleValue_TO<'static, RBox<()>>>, RString> {
        if let Err(e) = self.own_type(type_name.as_str()) {
            return RErr(e);
        }
        match self.values.get(key.as_slice()) {
            None => ROk(ROption::RNone),
            Some(TestValue::Module { ty, v }) if ty == type_name.as_str() => ROk(ROption::RSome(v)),
            Some(_) => RErr(Error::WRONG_TYPE.message().into()),
        }
    }
    fn module_value_mut(
        &mut self,
        key: RSlice<'_, u8>,
        type_name: RStr<'_>,
    ) -> RResult<ROption<&mut ModuleValue_TO<'static, RBox<()>>>, RString> {
        if let Err(e) = self.own_type(type_name.as_str()) {
            return RErr(e);
        }
        match self.values.get_mut(key.as_slice()) {
            None => ROk(ROption::RNone),
            Some(TestValue::Module { ty, v }) if ty == type_name.as_str() => ROk(ROption::RSome(v)),
            Some(_) => RErr(Error::WRONG_TYPE.message().into()),
        }
    }
    fn set_module_value(
        &mut self,
        key: RSlice<'_, u8>,
        type_name: RStr<'_>,
        value: ModuleValue_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        if let Err(e) = self.own_type(type_name.as_str()) {
            return RErr(e);
        }
        self.values.insert(key.to_vec(), TestValue::Module { ty: type_name.to_string(), v: value });
        ROk(())
    }
    fn key_type_name(&mut self, key: RSlice<'_, u8>) -> RString {
        key_type(self.values.get(key.as_slice())).into()
    }

    // API 1.1: the fake host blocks nothing and runs no timers.
    fn block_client(
        &mut self,
        _timeout_ms: i64,
        _on_timeout: ROption<BlockCallback_TO<'static, RBox<()>>>,
        _on_disconnect: ROption<DisconnectCallback_TO<'static, RBox<()>>>,
    ) -> BlockedHandle_TO<'static, RBox<()>> {
        self.reply_error(RStr::from_str(BLOCKING_UNSUPPORTED));
        crate::concurrency::dead_handle()
    }
    fn block_on_keys(
        &mut self,
        _keys: RSlice<'_, RSlice<'_, u8>>,
        _timeout_ms: i64,
        _on_ready: KeyReadyCallback_TO<'static, RBox<()>>,
        _on_timeout: ROption<BlockCallback_TO<'static, RBox<()>>>,
        _on_disconnect: ROption<DisconnectCallback_TO<'static, RBox<()>>>,
    ) -> BlockedHandle_TO<'static, RBox<()>> {
        self.reply_error(RStr::from_str(BLOCKING_UNSUPPORTED));
        crate::concurrency::dead_handle()
    }
    fn create_timer(&mut self, _ms: u64, _callback: TimerCallback_TO<'static, RBox<()>>) -> u64 {
        0
    }
    fn stop_timer(&mut self, _id: u64) -> ROption<TimerCallback_TO<'static, RBox<()>>> {
        ROption::RNone
    }
    fn server_handle(&self) -> ServerHandle_TO<'static, RBox<()>> {
        ServerHandle_TO::from_value(crate::concurrency::NoServer, TD_Opaque)
    }
    fn signal_key_ready(&mut self, _key: RSlice<'_, u8>) {}

    fn import_api(&mut self, name: RStr<'_>, min_version: u32) -> RResult<SharedApi, RString> {
        find_api(self.apis, name.as_str(), min_version)
    }

    // ---- keyspace and server events, replication control (API 1.1) ----
    fn notify_keyspace_event(&mut self, class: u32, event: RStr<'_>, key: RSlice<'_, u8>) {
        self.notified.borrow_mut().push((class, event.to_string(), key.to_vec()));
    }
    fn replicate_verbatim(&mut self) {
        self.replicated.push(self.argv.to_vec());
    }
    fn replicate(&mut self, argv: RSlice<'_, RSlice<'_, u8>>) -> RResult<(), RString> {
        if argv.is_empty() {
            return RErr("ERR empty command".into());
        }
        self.replicated.push(argv.iter().map(|a| a.to_vec()).collect());
        ROk(())
    }
}

// ---- keyspace and server events, replication control (API 1.1) ----

impl TestModule {
    /// Delivers keyspace event `event` of `class` on `key` of `db` to the module's listeners
    /// of that class, as the server would after a command.
    pub fn keyspace_event(&mut self, db: i64, class: u32, event: &str, key: &[u8]) {
        let mut on_call = self.on_call.take();
        for (classes, l) in &self.keyspace_listeners {
            if classes & class != 0 {
                let mut h = TestEvents {
                    db,
                    on_call: &mut on_call,
                    logs: &self.logs,
                    notified: &self.notified,
                };
                let to = EventHost_TO::from_ptr(RMut::new(&mut h), TD_Opaque);
                l.on_event(to, db, class, RStr::from_str(event), RSlice::from_slice(key));
            }
        }
        self.on_call = on_call;
    }

    /// Delivers a server event to the module's listeners of its kind.
    pub fn server_event(&mut self, event: ServerEventData) {
        let mut on_call = self.on_call.take();
        for (kind, l) in &self.server_events {
            if *kind == event.event {
                let mut h = TestEvents {
                    db: event.db.max(0),
                    on_call: &mut on_call,
                    logs: &self.logs,
                    notified: &self.notified,
                };
                let to = EventHost_TO::from_ptr(RMut::new(&mut h), TD_Opaque);
                l.on_event(to, event.clone());
            }
        }
        self.on_call = on_call;
    }

    /// The keyspace events the module raised, oldest first: (class, event, key).
    pub fn notified(&self) -> Vec<(u32, String, Vec<u8>)> {
        self.notified.borrow().clone()
    }

    /// What the last command asked to replicate, in order.
    pub fn replicated(&self) -> &[Vec<Vec<u8>>] {
        &self.replicated
    }
}

struct TestEvents<'a> {
    db: i64,
    on_call: &'a mut Option<CallFn>,
    logs: &'a RefCell<Vec<(LogLevel, String)>>,
    notified: &'a RefCell<Vec<(u32, String, Vec<u8>)>>,
}

impl EventHost for TestEvents<'_> {
    fn db(&self) -> i64 {
        self.db
    }
    fn call(&mut self, argv: RSlice<'_, RSlice<'_, u8>>) -> CallReply {
        let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
        let r = match self.on_call.as_mut() {
            Some(f) => f(&argv),
            None => Reply::error("ERR TestModule has no on_call handler"),
        };
        CallReply::from(&r)
    }
    fn notify_keyspace_event(&mut self, class: u32, event: RStr<'_>, key: RSlice<'_, u8>) {
        self.notified.borrow_mut().push((class, event.to_string(), key.to_vec()));
    }
    fn log(&self, level: LogLevel, msg: RStr<'_>) {
        self.logs.borrow_mut().push((level, msg.to_string()));
    }
    fn api_minor(&self) -> u32 {
        API_MINOR
    }
}

/// What a blocking command replies under [`TestModule`], which blocks nothing (test blocking
/// against a server: `server/tests/modules_blocking.rs`).
pub const BLOCKING_UNSUPPORTED: &str = "ERR TestModule does not block clients";

/// Decodes one RESP2/RESP3 reply; the reply and the bytes it took.
pub fn decode(b: &[u8]) -> Option<(Reply, usize)> {
    let end = b.windows(2).position(|w| w == b"\r\n")?;
    let head = std::str::from_utf8(&b[1..end]).ok()?;
    let rest = end + 2;
    let text = || head.to_string();
    let int = || head.parse::<i64>().ok();
    let many = |n: i64, mut at: usize| -> Option<(Vec<Reply>, usize)> {
        let mut v = Vec::new();
        for _ in 0..n {
            let (r, used) = decode(&b[at..])?;
            v.push(r);
            at += used;
        }
        Some((v, at))
    };
    Some(match b[0] {
        b'+' => (Reply::Simple(text()), rest),
        b'-' => (Reply::Error(text()), rest),
        b':' => (Reply::Int(int()?), rest),
        b'_' => (Reply::Null, rest),
        b'#' => (Reply::Bool(head == "t"), rest),
        b',' => (Reply::Double(head.parse().ok()?), rest),
        b'(' => (Reply::BigNumber(text()), rest),
        b'$' | b'=' => {
            let n = int()?;
            if n < 0 {
                return Some((Reply::Null, rest));
            }
            let body = b.get(rest..rest + n as usize)?.to_vec();
            let used = rest + n as usize + 2;
            if b[0] == b'=' {
                let fmt = String::from_utf8_lossy(body.get(..3)?).into_owned();
                (Reply::Verbatim(fmt, body.get(4..)?.to_vec()), used)
            } else {
                (Reply::Bulk(body), used)
            }
        }
        b'*' | b'~' | b'>' => {
            let n = int()?;
            if n < 0 {
                return Some((Reply::NullArray, rest));
            }
            let (v, at) = many(n, rest)?;
            (if b[0] == b'~' { Reply::Set(v) } else { Reply::Array(v) }, at)
        }
        b'%' | b'|' => {
            let (v, at) = many(2 * int()?, rest)?;
            let mut it = v.into_iter();
            let mut pairs = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            if b[0] == b'|' {
                // An attribute: the value it describes follows.
                let (r, used) = decode(&b[at..])?;
                return Some((r, at + used));
            }
            (Reply::Map(pairs), at)
        }
        _ => return None,
    })
}
