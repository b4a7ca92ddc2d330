//! Loads modules and serves the module API (`vireo-module-api`) to them.
//!
//! A module is a `cdylib` exporting abi_stable's root module ([`abi::ModuleRef`]). Each library
//! is opened with `lib_header_from_path(..)?.init_root_module()`, so any number load side by side;
//! abi_stable never unmaps a library, so code a module handed out (its command handlers) stays
//! callable for as long as anything holds it, and MODULE UNLOAD only unregisters. Loading checks,
//! in order: that the file is a library, that it is a Vireo module of the same API major version
//! with a compatible layout (abi_stable), that the API minor it needs is one this server offers
//! (naming the capabilities it lacks otherwise), that its name is free; then its `init` registers
//! its commands into a staging list that joins the command table only when `init` succeeded.
//!
//! Module commands are [`Command`]s like the built-ins, found after them by name (see
//! [`Modules::command`]); their handler is [`dispatch`], which calls the module through the
//! handler object kept in [`ModuleCommand`].

pub mod concurrency;
mod keys;
pub mod modconf;
// ---- keyspace and server events, replication control (API 1.1) ----
pub mod events;
// ---- shared read access to an exporter's data types (API 1.1) ----
pub mod shared_types;
pub mod spec;
pub mod types;

use std::path::Path;
use std::sync::Arc;

use abi_stable::library::{lib_header_from_path, LibraryError};
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RMut;
use abi_stable::std_types::{
    RBox, RErr, ROk, ROption, RResult, RSlice, RStr, RString, RVec, Tuple2,
};
use bytes::Bytes;
use vireo_module_api::abi::{
    self, Aggregate, CallReply, CommandDef, CommandHandler_TO, HostCtx, HostCtx_TO, InitHost,
    InitHost_TO, LogLevel, ModuleRef, API_MINOR,
};
use vireo_module_api::tracker::ReplyTracker;

use crate::client::Client;
use crate::cmd::{self, Command, Ctx, NameMap};
use crate::error::{CmdResult, Error};
use crate::resp::Reply;
use crate::server::{Core, Server};

/// What a module command runs: the module's handler object.
pub struct ModuleCommand {
    pub module: String,
    handler: CommandHandler_TO<'static, RBox<()>>,
}

/// A loaded module, as MODULE LIST shows it.
pub struct LoadedModule {
    pub name: String,
    pub version: i32,
    pub path: String,
    pub args: Vec<Vec<u8>>,
    /// Its commands' lower-case names.
    pub commands: Vec<Box<[u8]>>,
}

/// The loaded modules and their commands (in `Core`).
#[derive(Default)]
pub struct Modules {
    pub loaded: Vec<LoadedModule>,
    commands: NameMap<Arc<Command>>,
    /// The next stats slot for a module command (slots are never reused).
    next_id: usize,
    /// The data types of the loaded modules (API 1.1).
    pub types: types::Registry,
    /// Blocked clients, timers (API 1.1, see `concurrency`).
    pub conc: concurrency::State,
    /// Module configs, INFO sections, shared APIs (API 1.1).
    pub ext: modconf::State,
    // ---- keyspace and server events, replication control (API 1.1) ----
    pub events: events::Events,
}

impl Modules {
    /// A module command by name, ASCII case-insensitively.
    #[inline]
    pub fn command(&self, name: &[u8]) -> Option<Arc<Command>> {
        if self.commands.is_empty() {
            return None;
        }
        self.commands.get(name).cloned()
    }

    /// Whether any module command is registered.
    #[inline]
    pub fn has_commands(&self) -> bool {
        !self.commands.is_empty()
    }

    /// Every module command, by name.
    pub fn commands(&self) -> impl Iterator<Item = &Arc<Command>> {
        self.commands.values()
    }

    pub fn is_empty(&self) -> bool {
        self.loaded.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&LoadedModule> {
        self.loaded.iter().find(|m| m.name.eq_ignore_ascii_case(name))
    }
}

/// The message a failed MODULE LOAD / LOADEX replies (the reason goes to the log), as Redis.
pub const LOAD_ERROR: &str = "ERR Error loading the extension. Please check the server logs.";

fn library_error(e: &LibraryError) -> String {
    match e {
        LibraryError::OpenError { err, .. } => err.to_string(),
        LibraryError::GetSymbolError { .. } => {
            "it is not a Vireo module (no module API root symbol)".to_string()
        }
        LibraryError::IncompatibleVersionNumber { expected_version, actual_version, .. } => {
            format!(
                "it was built with module API {}.{} (vireo-module-api {actual_version}); this \
                 server speaks API {}.x (vireo-module-api {expected_version}): a different major \
                 version is incompatible",
                actual_version.major, actual_version.minor, expected_version.major
            )
        }
        LibraryError::AbiInstability(details) => {
            // The full layout comparison is long: for whoever debugs an SDK change.
            tracing::debug!("module layout check: {details}");
            "its module API types do not match this server's (an incompatible vireo-module-api)"
                .to_string()
        }
        other => other.to_string(),
    }
}

/// Loads the module at `path`, runs its `init` with `args` and registers its commands. The error
/// says why, for the log.
pub fn load(
    server: &Arc<Server>,
    core: &mut Core,
    path: &str,
    args: &[Vec<u8>],
) -> Result<(), String> {
    load_ex(server, core, path, args, &mut Vec::new())
}

/// [`load`] with `<module>.<name>` config values to apply (the config file's, or MODULE
/// LOADEX's): those the module takes are removed from `queue`.
pub fn load_ex(
    server: &Arc<Server>,
    core: &mut Core,
    path: &str,
    args: &[Vec<u8>],
    queue: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), String> {
    core.modules.conc.capture_runtime();
    let header = lib_header_from_path(Path::new(path)).map_err(|e| library_error(&e))?;
    let module: ModuleRef = header.init_root_module().map_err(|e| library_error(&e))?;
    let name = module.name().to_string();
    let needs = module.api_minor();
    if needs > API_MINOR {
        let missing: Vec<String> = module
            .capabilities()
            .iter()
            .filter(|c| c.minor > API_MINOR && c.minor <= needs)
            .map(|c| format!("{} ({}.{})", c.name, abi::API_MAJOR, c.minor))
            .collect();
        let missing = if missing.is_empty() {
            "capabilities this server does not know".to_string()
        } else {
            missing.join(", ")
        };
        return Err(format!(
            "module '{name}' needs module API {}.{needs}, this server provides {}.{API_MINOR}: \
             missing {missing}",
            abi::API_MAJOR,
            abi::API_MAJOR
        ));
    }
    if core.modules.get(&name).is_some() {
        return Err(format!("a module named '{name}' is already loaded"));
    }
    let str_args: Vec<RString> =
        args.iter().map(|a| RString::from(String::from_utf8_lossy(a).into_owned())).collect();
    let mut staging = Staging {
        server,
        core: &*core,
        module: &name,
        commands: Vec::new(),
        types: Vec::new(),
        ext: modconf::Staged::with_queue(std::mem::take(queue)),
        subs: Default::default(),
    };
    let init = module.init();
    let r = init(
        InitHost_TO::from_ptr(RMut::new(&mut staging), TD_Opaque),
        RSlice::from_slice(&str_args),
    );
    let staged = std::mem::take(&mut staging.commands);
    let staged_types = std::mem::take(&mut staging.types);
    let mut ext = std::mem::take(&mut staging.ext);
    *queue = std::mem::take(&mut ext.queue);
    let subs = std::mem::take(&mut staging.subs);
    if let RErr(e) = r {
        // Nothing it registered joined the table: dropping the staging list unloads it.
        return Err(format!("Module {name} initialization failed: {e}"));
    }
    ext.finish()?;
    let mut names = Vec::new();
    let base = server.commands.len();
    for (spec, handler) in staged {
        let id = base + core.modules.next_id;
        core.modules.next_id += 1;
        let (counted_reads, notified_reads) =
            cmd::read_lookups(spec.full_name, spec.flag_bits, true);
        let c = Command {
            spec,
            handler: Some(dispatch),
            id,
            fullname: spec.full_name,
            flags: spec.flag_bits,
            counted_reads,
            notified_reads,
            subcommands: NameMap::default(),
            module: Some(Box::new(ModuleCommand { module: name.clone(), handler })),
        };
        names.push(spec.name.as_bytes().into());
        core.modules.commands.insert(spec.name.as_bytes(), Arc::new(c));
    }
    if core.stats.cmd.len() < base + core.modules.next_id {
        core.stats.cmd.resize(base + core.modules.next_id, Default::default());
    }
    for t in staged_types {
        core.modules.types = core.modules.types.with(t);
    }
    ext.commit(&mut core.modules.ext, &name);
    core.modules.events.commit(&name, subs);
    crate::keyspace::notify::sync(core);
    core.modules.loaded.push(LoadedModule {
        name,
        version: module.version(),
        path: path.to_string(),
        args: args.to_vec(),
        commands: names,
    });
    Ok(())
}

/// Why MODULE UNLOAD refused.
pub enum UnloadError {
    NoSuchModule,
    InUse,
    /// Values of the module's data types exist.
    HasValues,
    /// Clients are blocked by its commands.
    BlockedClients,
    /// Another module uses an API it exports.
    UsedBy,
}

/// Unregisters module `name`'s commands and forgets it. Refused while one of its commands is
/// running (a module command that unloads its own module through `call`).
pub fn unload(core: &mut Core, name: &str) -> Result<(), UnloadError> {
    let i = core
        .modules
        .loaded
        .iter()
        .position(|m| m.name.eq_ignore_ascii_case(name))
        .ok_or(UnloadError::NoSuchModule)?;
    if core.modules.conc.blocks_clients(&core.modules.loaded[i].name) {
        return Err(UnloadError::BlockedClients);
    }
    let busy = core.modules.loaded[i]
        .commands
        .iter()
        .any(|c| core.modules.commands.get(c).is_some_and(|c| Arc::strong_count(c) > 1));
    if busy {
        return Err(UnloadError::InUse);
    }
    let module = core.modules.loaded[i].name.clone();
    if core.modules.types.of_module(&module).any(|t| t.live_values() > 0) {
        return Err(UnloadError::HasValues);
    }
    if !core.modules.ext.used_by(&module).is_empty() {
        return Err(UnloadError::UsedBy);
    }
    core.modules.types = core.modules.types.without_module(&module);
    let m = core.modules.loaded.remove(i);
    core.modules.conc.cancel_timers(&m.name);
    core.modules.ext.remove_module(&m.name);
    core.modules.events.remove_module(&m.name);
    crate::keyspace::notify::sync(core);
    for c in &m.commands {
        if let Some(cmd) = core.modules.commands.remove(c) {
            core.stats.cmd[cmd.id] = Default::default();
        }
    }
    tracing::info!("Module {} unloaded", m.name);
    Ok(())
}

/// Loads the `loadmodule` lines of the configuration, in order; the first failure is returned
/// (start-up stops with it, as Redis does).
pub fn load_at_startup(server: &Arc<Server>, core: &mut Core) -> Result<(), String> {
    let lines = core.cfg.loadmodule.clone();
    let mut queue = core.cfg.module_configs.clone();
    for line in lines {
        let path = String::from_utf8_lossy(&line[0]).into_owned();
        match load_ex(server, core, &path, &line[1..], &mut queue) {
            Ok(()) => tracing::info!(
                "Module '{}' loaded from {path}",
                core.modules.loaded.last().map_or("", |m| &m.name)
            ),
            Err(e) => {
                tracing::warn!("Module {path} failed to load: {e}");
                return Err(format!("Can't load module from {path}: server aborting ({e})"));
            }
        }
    }
    if !queue.is_empty() {
        return Err(
            "Module Configuration detected without loadmodule directive or no ApplyConfig call: aborting"
                .into(),
        );
    }
    Ok(())
}

/// What a module's `init` registers into: its commands join the table only if `init` succeeds.
struct Staging<'a> {
    server: &'a Arc<Server>,
    core: &'a Core,
    module: &'a str,
    commands: Vec<(&'static cmd::spec::CommandSpec, CommandHandler_TO<'static, RBox<()>>)>,
    types: Vec<Arc<types::ModuleType>>,
    ext: modconf::Staged,
    subs: events::Staged,
}

impl InitHost for Staging<'_> {
    fn register_command(
        &mut self,
        def: CommandDef,
        handler: CommandHandler_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        let taken = |n: &str| {
            self.server.commands.get(n.as_bytes()).is_some()
                || self.core.modules.command(n.as_bytes()).is_some()
                || self.commands.iter().any(|(s, _)| s.name.eq_ignore_ascii_case(n))
        };
        if taken(&def.name) {
            return RErr(format!("ERR command '{}' already exists", def.name).into());
        }
        match spec::build(&def) {
            Ok(s) => {
                self.commands.push((s, handler));
                ROk(())
            }
            Err(e) => RErr(format!("ERR {e}").into()),
        }
    }

    fn log(&self, level: LogLevel, msg: RStr<'_>) {
        log(level, self.module, msg.as_str());
    }

    fn api_minor(&self) -> u32 {
        API_MINOR
    }

    fn register_type(
        &mut self,
        def: abi::DataTypeDef,
        handler: abi::DataTypeHandler_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        let reg = &self.core.modules.types;
        match types::build_type(reg, &self.types, self.module, def, handler) {
            Ok(t) => {
                self.types.push(t);
                ROk(())
            }
            Err(e) => RErr(e.into()),
        }
    }

    fn server_handle(&self) -> abi::ServerHandle_TO<'static, RBox<()>> {
        concurrency::server_handle(self.server)
    }

    // Module configs, INFO sections, shared APIs (API 1.1).
    fn register_config(
        &mut self,
        def: abi::ConfigDef,
        handler: abi::ConfigHandler_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        self.ext.register_config(&self.core.modules.ext, self.module, def, handler)
    }

    fn load_configs(&mut self) -> RResult<(), RString> {
        self.ext.load_configs()
    }

    fn register_info(
        &mut self,
        handler: abi::InfoHandler_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        self.ext.register_info(handler)
    }

    fn export_api(&mut self, name: RStr<'_>, api: abi::SharedApi) -> RResult<(), RString> {
        self.ext.export_api(&self.core.modules.ext, self.module, name.as_str(), api)
    }

    fn import_api(&mut self, name: RStr<'_>, min_version: u32) -> RResult<abi::SharedApi, RString> {
        self.ext.import_api(&self.core.modules.ext, name.as_str(), min_version)
    }
    // ---- keyspace and server events, replication control (API 1.1) ----
    fn subscribe_keyspace(
        &mut self,
        classes: u32,
        listener: abi::KeyspaceListener_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        self.subs.keyspace(classes, listener);
        ROk(())
    }

    fn subscribe_server_event(
        &mut self,
        event: u32,
        listener: abi::ServerEventListener_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        match self.subs.server(event, listener) {
            true => ROk(()),
            false => RErr(format!("ERR unknown server event {event}").into()),
        }
    }
}

fn log(level: LogLevel, module: &str, msg: &str) {
    // `loglevel` filters as Redis's levels do (the tracing filter alone cannot tell verbose
    // from notice).
    if !crate::config::process::log_enabled(level as u8) {
        return;
    }
    match level {
        LogLevel::Warning => tracing::warn!("<{module}> {msg}"),
        LogLevel::Notice | LogLevel::Verbose => tracing::info!("<{module}> {msg}"),
        LogLevel::Debug => tracing::debug!("<{module}> {msg}"),
    }
}

/// The handler of every module command: calls the module, checks that it wrote exactly one
/// reply, and turns its error (or panic, which the SDK caught) into the error reply.
pub fn dispatch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(m) = ctx.cmd.module.as_deref() else {
        return Err(Error::msg("ERR not a module command"));
    };
    let start = ctx.out.buf.len();
    let mut small = [RSlice::from_slice(&[][..]); 8];
    let big: Vec<RSlice<u8>>;
    let args: &[RSlice<u8>] = if argv.len() <= small.len() {
        for (d, a) in small.iter_mut().zip(argv) {
            *d = RSlice::from_slice(a);
        }
        &small[..argv.len()]
    } else {
        big = argv.iter().map(|a| RSlice::from_slice(a)).collect();
        &big
    };
    // Where an enclosing transaction (EXEC, a script) stood before this command's calls.
    let txn_mark = ctx.core.prop.txn_len();
    let mut host = Host {
        ctx,
        tracker: ReplyTracker::default(),
        wrapped: false,
        module: &m.module,
        argv,
        replicate: None,
        value_marks: 0,
    };
    let mark = concurrency::LockMark::set();
    let r = m
        .handler
        .call(HostCtx_TO::from_ptr(RMut::new(&mut host), TD_Opaque), RSlice::from_slice(args));
    drop(mark);
    let Host { ctx, tracker, mut wrapped, replicate, .. } = host;
    if let Some(cmds) = replicate {
        // Chosen commands replace what the calls propagated.
        if wrapped {
            ctx.core.prop.truncate_txn(0);
        } else if let Some(n) = txn_mark {
            ctx.core.prop.truncate_txn(n);
        }
        if !wrapped && !ctx.core.prop.in_transaction() && cmds.len() > 1 {
            ctx.core.prop.begin_transaction();
            wrapped = true;
        }
        for (db, c) in &cmds {
            ctx.core.prop.feed(*db, c);
        }
        ctx.propagate_as = Some(Vec::new());
    }
    if wrapped {
        ctx.core.prop.end_transaction();
    }
    // API 1.1: a command that blocked its client replies later, so it must write nothing now.
    if ctx.blocked.is_some() {
        match r {
            ROk(()) if ctx.out.buf.len() == start => return Ok(()),
            _ => concurrency::cancel(ctx),
        }
    }
    let err = match r {
        ROk(()) if tracker.complete() => return Ok(()),
        ROk(()) => Error(
            format!("ERR module command '{}' did not write exactly one reply", ctx.cmd.fullname)
                .into(),
        ),
        RErr(e) => Error(e.into_string().into()),
    };
    // The error replaces whatever was written.
    ctx.out.buf.truncate(start);
    if err.0.starts_with("ERR module command '") && err.0.contains("' panicked: ") {
        tracing::warn!("{}", err.0);
    }
    Err(err)
}

/// The host side of one module command call.
struct Host<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    tracker: ReplyTracker,
    /// A call began a MULTI/EXEC around what the command's calls propagate.
    wrapped: bool,
    module: &'c str,
    // ---- keyspace and server events, replication control (API 1.1) ----
    argv: &'c [Bytes],
    /// What `replicate_verbatim` / `replicate` chose, instead of what the calls propagate.
    replicate: Option<Vec<(usize, Vec<Bytes>)>>,
    /// The changes module values taken for writing added to the dirty counter (undone by
    /// `key_op::UNCHANGED`).
    value_marks: u64,
}

fn header(out: &mut Vec<u8>, kind: Aggregate, len: u64, resp3: bool) -> bool {
    let mut r = Reply::new(out, resp3);
    let len = len as usize;
    match kind {
        Aggregate::Array => r.array(len),
        Aggregate::Map => r.map(len),
        Aggregate::Set => r.set(len),
        Aggregate::Attribute if resp3 => r.attribute(len),
        Aggregate::Attribute => return false,
    }
    true
}

fn line_safe(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains(['\r', '\n']) {
        s.replace(['\r', '\n'], " ").into()
    } else {
        s.into()
    }
}

impl Host<'_, '_> {
    fn to_call_reply(r: vireo_scripting::Reply) -> CallReply {
        use vireo_scripting::Reply as R;
        let s = |b: Vec<u8>| RString::from(String::from_utf8_lossy(&b).into_owned());
        let list = |v: Vec<R>| v.into_iter().map(Self::to_call_reply).collect::<RVec<_>>();
        match r {
            R::Status(b) => CallReply::Simple(s(b)),
            R::Error(b) => CallReply::Error(s(b)),
            R::Int(n) => CallReply::Int(n),
            R::Bulk(b) => CallReply::Bulk(b.into()),
            R::Null | R::NullArray => CallReply::Null,
            R::Array(v) => CallReply::Array(list(v)),
            R::Set(v) => CallReply::Set(list(v)),
            R::Map(v) => CallReply::Map(
                v.into_iter()
                    .map(|(k, v)| Tuple2(Self::to_call_reply(k), Self::to_call_reply(v)))
                    .collect(),
            ),
            R::Double(d) => CallReply::Double(d),
            R::Bool(b) => CallReply::Bool(b),
            R::BigNumber(b) => CallReply::BigNumber(s(b)),
        }
    }
}

impl HostCtx for Host<'_, '_> {
    fn resp(&self) -> u8 {
        self.ctx.client.resp
    }

    fn client_id(&self) -> u64 {
        self.ctx.client.id
    }

    fn db(&self) -> i64 {
        self.ctx.client.db as i64
    }

    fn reply_simple(&mut self, s: RStr<'_>) {
        self.ctx.out.simple(&line_safe(s.as_str()));
        self.tracker.value();
    }

    fn reply_error(&mut self, s: RStr<'_>) {
        self.ctx.out.error(s.as_str());
        self.tracker.value();
    }

    fn reply_int(&mut self, n: i64) {
        self.ctx.out.int(n);
        self.tracker.value();
    }

    fn reply_bulk(&mut self, b: RSlice<'_, u8>) {
        self.ctx.out.bulk(b.as_slice());
        self.tracker.value();
    }

    fn reply_null(&mut self) {
        self.ctx.out.null();
        self.tracker.value();
    }

    fn reply_null_array(&mut self) {
        self.ctx.out.null_array();
        self.tracker.value();
    }

    fn reply_double(&mut self, d: f64) {
        self.ctx.out.double(d);
        self.tracker.value();
    }

    fn reply_bool(&mut self, b: bool) {
        self.ctx.out.boolean(b);
        self.tracker.value();
    }

    fn reply_big_number(&mut self, digits: RStr<'_>) {
        self.ctx.out.big_number(&line_safe(digits.as_str()));
        self.tracker.value();
    }

    fn reply_verbatim(&mut self, format: RStr<'_>, text: RSlice<'_, u8>) {
        let f = format.as_str();
        if f.len() != 3 || f.contains(['\r', '\n', ':']) {
            self.tracker.break_reply();
            return;
        }
        self.ctx.out.verbatim(f, text.as_slice());
        self.tracker.value();
    }

    fn reply_aggregate(&mut self, kind: Aggregate, len: u64) -> bool {
        let resp3 = self.ctx.out.is_resp3();
        if !header(self.ctx.out.buf, kind, len, resp3) {
            return false;
        }
        self.tracker.aggregate(kind, len);
        true
    }

    fn reply_postponed(&mut self, kind: Aggregate) -> u32 {
        if kind == Aggregate::Attribute && !self.ctx.out.is_resp3() {
            return 0;
        }
        self.tracker.postpone(kind, self.ctx.out.buf.len())
    }

    fn set_postponed_len(&mut self, handle: u32, len: u64) {
        if let Some((kind, at)) = self.tracker.close(handle, len) {
            let mut h = Vec::with_capacity(16);
            header(&mut h, kind, len, self.ctx.out.is_resp3());
            self.ctx.out.buf.splice(at..at, h);
        }
    }

    fn call(&mut self, argv: RSlice<'_, RSlice<'_, u8>>) -> CallReply {
        if argv.is_empty() {
            return CallReply::Error("ERR empty command".into());
        }
        let argv: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        self.run_call(&argv, 3)
    }

    fn log(&self, level: LogLevel, msg: RStr<'_>) {
        log(level, self.module, msg.as_str());
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
        keys::key_op(self, op, &key, &args)
    }

    fn call_with(
        &mut self,
        flags: u32,
        argv: RSlice<'_, RSlice<'_, u8>>,
    ) -> RResult<CallReply, abi::CallError> {
        keys::call_with(self, flags, &argv)
    }

    fn module_value(&mut self, key: RSlice<'_, u8>, type_name: RStr<'_>) -> types::ValueResult<'_> {
        types::host_value(self.ctx, self.module, key.as_slice(), type_name.as_str())
    }

    fn module_value_mut(
        &mut self,
        key: RSlice<'_, u8>,
        type_name: RStr<'_>,
    ) -> types::ValueMutResult<'_> {
        let marks = &mut self.value_marks;
        types::host_value_mut(self.ctx, self.module, key.as_slice(), type_name.as_str(), marks)
    }

    fn set_module_value(
        &mut self,
        key: RSlice<'_, u8>,
        type_name: RStr<'_>,
        value: abi::ModuleValue_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        let (key, ty) = (key.as_slice(), type_name.as_str());
        types::host_set_value(self.ctx, self.module, key, ty, value, &mut self.value_marks)
    }

    fn key_type_name(&mut self, key: RSlice<'_, u8>) -> RString {
        let now = self.ctx.now;
        match self.ctx.db().get(key.as_slice(), now) {
            Some(e) => crate::keyspace::type_name(e).into(),
            None => "none".into(),
        }
    }

    // ---- API 1.1: concurrency (see `concurrency`) ----

    fn block_client(
        &mut self,
        timeout_ms: i64,
        on_timeout: ROption<abi::BlockCallback_TO<'static, RBox<()>>>,
        on_disconnect: ROption<abi::DisconnectCallback_TO<'static, RBox<()>>>,
    ) -> abi::BlockedHandle_TO<'static, RBox<()>> {
        let (t, d) = (on_timeout.into_option(), on_disconnect.into_option());
        concurrency::block(self, Vec::new(), timeout_ms, None, t, d)
    }

    fn block_on_keys(
        &mut self,
        keys: RSlice<'_, RSlice<'_, u8>>,
        timeout_ms: i64,
        on_ready: abi::KeyReadyCallback_TO<'static, RBox<()>>,
        on_timeout: ROption<abi::BlockCallback_TO<'static, RBox<()>>>,
        on_disconnect: ROption<abi::DisconnectCallback_TO<'static, RBox<()>>>,
    ) -> abi::BlockedHandle_TO<'static, RBox<()>> {
        let keys = keys.iter().map(|k| Bytes::copy_from_slice(k)).collect();
        let (t, d) = (on_timeout.into_option(), on_disconnect.into_option());
        concurrency::block(self, keys, timeout_ms, Some(on_ready), t, d)
    }

    fn create_timer(&mut self, ms: u64, callback: abi::TimerCallback_TO<'static, RBox<()>>) -> u64 {
        concurrency::create_timer(self.ctx.server, self.ctx.core, self.module, ms, callback)
    }

    fn stop_timer(&mut self, id: u64) -> ROption<abi::TimerCallback_TO<'static, RBox<()>>> {
        concurrency::stop_timer(self.ctx.core, id)
    }

    fn server_handle(&self) -> abi::ServerHandle_TO<'static, RBox<()>> {
        concurrency::server_handle(self.ctx.server)
    }

    fn signal_key_ready(&mut self, key: RSlice<'_, u8>) {
        concurrency::signal_ready(self, key.as_slice());
    }

    // Module configs, INFO sections, shared APIs (API 1.1).
    fn import_api(&mut self, name: RStr<'_>, min_version: u32) -> RResult<abi::SharedApi, RString> {
        self.ctx.core.modules.ext.import_api(self.module, name.as_str(), min_version)
    }

    // ---- keyspace and server events, replication control (API 1.1) ----
    fn notify_keyspace_event(&mut self, class: u32, event: RStr<'_>, key: RSlice<'_, u8>) {
        let db = self.ctx.client.db;
        self.ctx.notify_db(class, event.as_str(), &key, db);
    }

    fn replicate_verbatim(&mut self) {
        let db = self.ctx.client.db;
        self.replicate.get_or_insert_with(Vec::new).push((db, self.argv.to_vec()));
    }

    fn replicate(&mut self, argv: RSlice<'_, RSlice<'_, u8>>) -> RResult<(), RString> {
        let Some(name) = argv.first() else {
            return RErr("ERR empty command".into());
        };
        let ctx = &*self.ctx;
        if ctx.server.commands.get(name).is_none() && ctx.core.modules.command(name).is_none() {
            let n = String::from_utf8_lossy(name);
            return RErr(format!("ERR unknown command '{n}' to replicate").into());
        }
        let argv: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        let db = self.ctx.client.db;
        self.replicate.get_or_insert_with(Vec::new).push((db, argv));
        ROk(())
    }
}

impl Host<'_, '_> {
    /// Runs `argv` through the dispatcher as the calling client would, replying in protocol
    /// `resp`, and returns the reply.
    fn run_call(&mut self, argv: &[Bytes], resp: u8) -> CallReply {
        let ctx = &mut *self.ctx;
        // The module command itself is not propagated: the commands it calls are, wrapped in
        // MULTI/EXEC when there are several (as a script's).
        ctx.propagate_as.get_or_insert_with(Vec::new);
        if !self.wrapped && !ctx.core.prop.in_transaction() {
            ctx.core.prop.begin_transaction();
            self.wrapped = true;
        }
        let mut client =
            Client::new(ctx.client.id, ctx.client.shared.clone(), true, ctx.client.push_tx.clone());
        client.db = ctx.client.db;
        client.resp = resp;
        // As inside EXEC: nothing blocks, no pause or OOM check between the caller and callee.
        client.in_exec = true;
        client.user = ctx.client.user.clone();
        let mut out = Vec::new();
        cmd::execute(ctx.server, ctx.core, &mut client, argv, &mut out);
        match vireo_scripting::parse_reply(&out) {
            Some((r, _)) => Self::to_call_reply(r),
            None => CallReply::Error("ERR the command gave no reply".into()),
        }
    }
}

/// A command's reply, as `call` returns it.
fn parse_call_reply(out: &[u8]) -> CallReply {
    match vireo_scripting::parse_reply(out) {
        Some((r, _)) => Host::to_call_reply(r),
        None => CallReply::Error("ERR the command gave no reply".into()),
    }
}
