//! Redis 7.0 functions: libraries of Lua functions loaded with `FUNCTION LOAD` (a
//! `#!lua name=<lib>` shebang, then code that calls `redis.register_function`), run by `FCALL`.
//!
//! Functions live in a Lua state of their own (an [`Engine`], so EVAL's cache and globals are
//! not shared, as in Redis). Every library's code runs in one global environment whose lookups
//! switch, as Redis's: while a library loads, only a restricted `redis` table (with
//! `register_function`, `log`, the `LOG_*` levels and the version) is visible; when a function
//! runs, the environment of EVAL scripts (without `KEYS`/`ARGV`: functions get them as
//! arguments).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use mlua::{Function, HookTriggers, MultiValue, Table, Value, VmState};

use crate::{
    error_handler, log_args, lua_number_string, raise, Engine, Outcome, ScriptFlags, ScriptHost,
    Target, REDIS_VERSION, REDIS_VERSION_NUM,
};

/// How long a library's top-level code may run while loading.
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

/// What a function declared when it was registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionInfo {
    pub name: String,
    pub description: Option<Vec<u8>>,
    /// `shebang` is always set: functions behave as scripts that declare their flags.
    pub flags: ScriptFlags,
}

struct Func {
    info: FunctionInfo,
    callback: Function,
}

/// A loaded library: its name, its code as given to `FUNCTION LOAD`, its functions in the
/// order they were registered.
pub struct Library {
    name: String,
    code: Vec<u8>,
    funcs: Vec<Func>,
}

impl Library {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn code(&self) -> &[u8] {
        &self.code
    }

    pub fn functions(&self) -> impl Iterator<Item = &FunctionInfo> {
        self.funcs.iter().map(|f| &f.info)
    }
}

/// `FUNCTION RESTORE`'s policy for libraries that already exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Delete every library first.
    Flush,
    /// Fail on a library that exists.
    Append,
    /// Replace a library that exists.
    Replace,
}

/// Set up once per functions Lua state (with the full globals): the switching environment.
const FN_PRELUDE: &str = r#"
local backing = ...
local error, tostring, setmetatable = error, tostring, setmetatable
local function missing(k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 3)
end
local function readonly() error('Attempt to modify a readonly table', 2) end
local load_redis = {}
local load_redis_proxy = setmetatable({}, {
  __index = function(_, k)
    local v = load_redis[k]
    if v == nil then missing(k) end
    return v
  end,
  __newindex = readonly,
  __metatable = false,
})
-- While a library loads, lookups go to `loading`; when a function runs, straight to the
-- scripts' globals (a table: what exists is found without calling a function; what does not
-- raises the scripts' error from the globals' own metatable).
local function loading(_, k)
  if k == 'redis' then return load_redis_proxy end
  missing(k)
end
local mode = { __index = backing, __newindex = readonly, __metatable = false }
local env = setmetatable({}, mode)
return env, mode, load_redis, loading
"#;

/// The functions Lua state and the loaded libraries.
pub struct Functions {
    engine: Engine,
    env: Table,
    /// The metatable of `env`: its `__index` is `loading` while a library loads, else the
    /// scripts' globals.
    mode: Table,
    loading: Function,
    load_redis: Table,
    /// By library name (case-sensitive, as Redis).
    libs: BTreeMap<String, Library>,
    /// Lower-cased function name -> its library (function names are case-insensitive).
    index: HashMap<String, String>,
}

impl Functions {
    /// See [`Engine::set_watchdog`]: FCALL is watched as EVAL is (BUSY, FUNCTION KILL).
    pub fn set_watchdog(&mut self, w: std::sync::Arc<dyn crate::Watchdog>) -> mlua::Result<()> {
        self.engine.set_watchdog(w)
    }

    pub fn has_watchdog(&self) -> bool {
        self.engine.has_watchdog()
    }

    /// See [`Engine::set_memory_limit`].
    pub fn set_memory_limit(&mut self, bytes: usize) -> mlua::Result<()> {
        self.engine.set_memory_limit(bytes)
    }

    pub fn new() -> mlua::Result<Functions> {
        let engine = Engine::with_globals(false, false)?;
        let (env, mode, load_redis, loading) = engine
            .lua
            .load(FN_PRELUDE)
            .set_name("=fn_prelude")
            .call::<(Table, Table, Table, Function)>(engine.backing.clone())?;
        load_redis.raw_set("REDIS_VERSION", REDIS_VERSION)?;
        load_redis.raw_set("REDIS_VERSION_NUM", REDIS_VERSION_NUM)?;
        for (i, n) in ["LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING"].iter().enumerate() {
            load_redis.raw_set(*n, i as i64)?;
        }
        Ok(Functions {
            engine,
            env,
            mode,
            loading,
            load_redis,
            libs: BTreeMap::new(),
            index: HashMap::new(),
        })
    }

    /// `FUNCTION LOAD [REPLACE] code`: returns the library's name or Redis's error. `log`
    /// receives what the code passes to `redis.log` while it loads.
    pub fn load(
        &mut self,
        code: &[u8],
        replace: bool,
        log: &mut dyn FnMut(i64, &[u8]),
    ) -> Result<String, String> {
        let (name, body) = parse_metadata(code)?;
        if !replace && self.libs.contains_key(&name) {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        let lib = self.build(name, code, body, log)?;
        self.check_collisions(std::slice::from_ref(&lib))?;
        let name = lib.name.clone();
        self.insert(lib);
        Ok(name)
    }

    /// Loads libraries (the codes of a `FUNCTION DUMP` payload, or of an RDB file) with
    /// `policy`; all or nothing.
    pub fn restore(&mut self, codes: &[Vec<u8>], policy: RestorePolicy) -> Result<(), String> {
        let mut staged: Vec<Library> = Vec::new();
        for code in codes {
            let (name, body) = parse_metadata(code)?;
            if staged.iter().any(|l| l.name == name) {
                return Err(format!("ERR Library '{name}' already exists"));
            }
            let lib = self.build(name, code, body, &mut |_, _| {})?;
            for f in &lib.funcs {
                let taken = staged.iter().flat_map(|l| &l.funcs).any(|g| same(&g.info, &f.info));
                if taken {
                    return Err(format!("ERR Function {} already exists", f.info.name));
                }
            }
            staged.push(lib);
        }
        match policy {
            RestorePolicy::Flush => {
                self.libs.clear();
                self.index.clear();
            }
            RestorePolicy::Append => {
                if let Some(l) = staged.iter().find(|l| self.libs.contains_key(&l.name)) {
                    return Err(format!("ERR Library {} already exists", l.name));
                }
            }
            RestorePolicy::Replace => {}
        }
        self.check_collisions(&staged)?;
        for lib in staged {
            self.insert(lib);
        }
        Ok(())
    }

    /// A function of `libs` that another library (not replaced by one of `libs`) has.
    fn check_collisions(&self, libs: &[Library]) -> Result<(), String> {
        for f in libs.iter().flat_map(|l| &l.funcs) {
            if let Some(owner) = self.index.get(&f.info.name.to_ascii_lowercase()) {
                if !libs.iter().any(|l| &l.name == owner) {
                    return Err(format!("ERR Function {} already exists", f.info.name));
                }
            }
        }
        Ok(())
    }

    fn insert(&mut self, lib: Library) {
        self.delete(&lib.name);
        for f in &lib.funcs {
            self.index.insert(f.info.name.to_ascii_lowercase(), lib.name.clone());
        }
        self.libs.insert(lib.name.clone(), lib);
    }

    /// Runs a library's code to collect the functions it registers.
    fn build(
        &mut self,
        name: String,
        code: &[u8],
        body: &[u8],
        log: &mut dyn FnMut(i64, &[u8]),
    ) -> Result<Library, String> {
        let lua = &self.engine.lua;
        let chunk = lua
            .load(body)
            .set_name("@user_function")
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    e => e.to_string(),
                };
                format!("ERR Error compiling function: {msg}")
            })?;
        let funcs: RefCell<Vec<Func>> = RefCell::new(Vec::new());
        let log = RefCell::new(log);
        let start = Instant::now();
        let fail = |e: mlua::Error| format!("ERR Error registering functions: {e}");
        lua.set_hook(HookTriggers::new().every_nth_instruction(100_000), move |_, _| {
            if start.elapsed() > LOAD_TIMEOUT {
                return Err(mlua::Error::RuntimeError("FUNCTION LOAD timeout".into()));
            }
            Ok(VmState::Continue)
        })
        .map_err(fail)?;
        let result = lua.scope(|scope| {
            let register =
                scope.create_function(|lua, args: MultiValue| register(lua, args, &funcs))?;
            let logf = scope.create_function(|lua, args: MultiValue| match log_args(&args) {
                Ok((level, msg)) => {
                    (log.borrow_mut())(level, &msg);
                    Ok(Value::Nil)
                }
                Err(e) => raise(lua, e),
            })?;
            let handler = lua.create_function(|lua, err: Value| error_handler(lua, err))?;
            self.load_redis.raw_set("register_function", register)?;
            self.load_redis.raw_set("log", logf)?;
            self.mode.raw_set("__index", &self.loading)?;
            let r = {
                let _capped = crate::HeapCap::set(lua, self.engine.memory_limit);
                self.engine.runner.call::<MultiValue>((chunk, handler))
            };
            self.mode.raw_set("__index", &self.engine.backing)?;
            self.load_redis.raw_set("register_function", Value::Nil)?;
            self.load_redis.raw_set("log", Value::Nil)?;
            r
        });
        self.engine.install_watchdog().map_err(fail)?;
        let result = result.map_err(fail)?;
        let mut it = result.into_iter();
        if !matches!(it.next(), Some(Value::Boolean(true))) {
            let msg = match it.next() {
                Some(Value::Table(t)) => match t.raw_get::<Value>("err") {
                    Ok(Value::String(s)) => s.to_string_lossy(),
                    _ => "ERR unknown error".into(),
                },
                _ => "ERR unknown error".into(),
            };
            return Err(format!("ERR Error registering functions: {msg}"));
        }
        let funcs = funcs.into_inner();
        if funcs.is_empty() {
            return Err("ERR No functions registered".into());
        }
        Ok(Library { name, code: code.to_vec(), funcs })
    }

    /// `FUNCTION DELETE`: whether the library existed.
    pub fn delete(&mut self, lib: &str) -> bool {
        let Some(old) = self.libs.remove(lib) else { return false };
        for f in &old.funcs {
            self.index.remove(&f.info.name.to_ascii_lowercase());
        }
        true
    }

    fn find(&self, name: &[u8]) -> Option<&Func> {
        let key = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
        let lib = self.libs.get(self.index.get(&key)?)?;
        lib.funcs.iter().find(|f| f.info.name.eq_ignore_ascii_case(&key))
    }

    /// A function's flags and description, `None` if there is no such function.
    pub fn info(&self, name: &[u8]) -> Option<&FunctionInfo> {
        self.find(name).map(|f| &f.info)
    }

    /// `FCALL`: runs the function `name` with its keys and arguments; `None` if there is no
    /// such function.
    pub fn call(
        &mut self,
        name: &[u8],
        keys: &[&[u8]],
        args: &[&[u8]],
        host: &mut dyn ScriptHost,
    ) -> Option<Outcome> {
        let f = self.find(name)?;
        let (fname, callback) = (f.info.name.clone(), f.callback.clone());
        let target = Target::Function { name: &fname, func: &callback };
        Some(
            self.engine
                .run_function(target, keys, args, host)
                .unwrap_or_else(|e| Outcome::error(format!("ERR Error running script: {e}"))),
        )
    }

    /// The libraries, by name.
    pub fn libraries(&self) -> impl Iterator<Item = &Library> {
        self.libs.values()
    }

    /// The code of every library, as `FUNCTION DUMP` and RDB/AOF saving need them.
    pub fn codes(&self) -> Vec<&[u8]> {
        self.libs.values().map(|l| &l.code[..]).collect()
    }

    pub fn libraries_count(&self) -> usize {
        self.libs.len()
    }

    pub fn functions_count(&self) -> usize {
        self.index.len()
    }

    /// Bytes the functions Lua state uses.
    pub fn memory(&self) -> usize {
        self.engine.memory()
    }

    /// Bytes of the libraries' codes and names (INFO `used_memory_functions` approximation).
    pub fn codes_len(&self) -> usize {
        self.libs.values().map(|l| l.code.len() + l.name.len()).sum()
    }
}

fn same(a: &FunctionInfo, b: &FunctionInfo) -> bool {
    a.name.eq_ignore_ascii_case(&b.name)
}

/// Names of libraries and functions: letters, digits and underscores, at least one.
fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

const BAD_NAME: &str = "ERR Library names can only contain letters, numbers, or underscores(_) \
                        and must be at least one character long";

/// The shebang line: returns the library's name and the code to compile (from the end of the
/// shebang line on, so that line numbers stay those of the code).
fn parse_metadata(code: &[u8]) -> Result<(String, &[u8]), String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(eol) = code.iter().position(|&c| c == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let line = String::from_utf8_lossy(&code[2..eol]).into_owned();
    let mut parts = line.split(|c: char| c.is_ascii_whitespace()).filter(|p| !p.is_empty());
    let engine = if line.starts_with(|c: char| c.is_ascii_whitespace()) {
        ""
    } else {
        parts.next().unwrap_or("")
    };
    let mut name = None;
    for p in parts {
        let value = match p.get(..5) {
            Some(k) if k.eq_ignore_ascii_case("name=") => &p[5..],
            _ => return Err(format!("ERR Invalid metadata value given: {p}")),
        };
        if name.is_some() {
            return Err("ERR Invalid metadata value, name argument was given multiple times".into());
        }
        name = Some(value.to_string());
    }
    let Some(name) = name else { return Err("ERR Library name was not given".into()) };
    if !valid_name(&name) {
        return Err(BAD_NAME.into());
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    Ok((name, &code[eol..]))
}

/// A Lua value as `lua_tostring` gives it, for the values `lua_isstring` accepts.
fn lua_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_string_lossy()),
        Value::Integer(n) => Some(n.to_string()),
        Value::Number(n) => Some(lua_number_string(*n)),
        _ => None,
    }
}

/// `redis.register_function(name, callback)` or `redis.register_function{function_name=...,
/// callback=..., flags={...}, description=...}`.
fn register(lua: &mlua::Lua, args: MultiValue, funcs: &RefCell<Vec<Func>>) -> mlua::Result<()> {
    let err = |m: &str| raise(lua, m).map(|_| ());
    let (name, callback, flags, description) = match args.len() {
        1 => {
            let Value::Table(t) = &args[0] else {
                return err("ERR calling redis.register_function with a single argument is only \
                            applicable to Lua table (representing named arguments).");
            };
            let (mut name, mut callback, mut flags, mut description) = (None, None, None, None);
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                let Some(k) = lua_string(&k) else {
                    return err("ERR named argument key given to redis.register_function is not \
                                a string");
                };
                match k.as_str() {
                    "function_name" => match lua_string(&v) {
                        Some(s) => name = Some(s),
                        None => {
                            return err("ERR function_name argument given to \
                                        redis.register_function must be a string")
                        }
                    },
                    "description" => match &v {
                        Value::String(s) => description = Some(s.as_bytes().to_vec()),
                        v => match lua_string(v) {
                            Some(s) => description = Some(s.into_bytes()),
                            None => {
                                return err("ERR description argument given to \
                                            redis.register_function must be a string")
                            }
                        },
                    },
                    "callback" => match v {
                        Value::Function(f) => callback = Some(f),
                        _ => {
                            return err("ERR callback argument given to redis.register_function \
                                        must be a function")
                        }
                    },
                    "flags" => match v {
                        Value::Table(t) => flags = Some(t),
                        _ => {
                            return err("ERR flags argument to redis.register_function must be a \
                                        table representing function flags")
                        }
                    },
                    _ => return err("ERR unknown argument given to redis.register_function"),
                }
            }
            let Some(name) = name else {
                return err("ERR redis.register_function must get a function name argument");
            };
            let Some(callback) = callback else {
                return err("ERR redis.register_function must get a callback argument");
            };
            (name, callback, flags, description)
        }
        2 => {
            let Some(name) = lua_string(&args[0]) else {
                return err("ERR first argument to redis.register_function must be a string");
            };
            let Value::Function(callback) = &args[1] else {
                return err("ERR second argument to redis.register_function must be a function");
            };
            (name, callback.clone(), None, None)
        }
        _ => return err("ERR wrong number of arguments to redis.register_function"),
    };
    let mut f = ScriptFlags { shebang: true, ..Default::default() };
    if let Some(t) = flags {
        for i in 1.. {
            let v: Value = t.raw_get(i)?;
            if v.is_nil() {
                break;
            }
            let s = lua_string(&v).unwrap_or_default().to_ascii_lowercase();
            match s.as_str() {
                "no-writes" => f.no_writes = true,
                "allow-oom" => f.allow_oom = true,
                "allow-stale" => f.allow_stale = true,
                "no-cluster" => f.no_cluster = true,
                "allow-cross-slot-keys" => f.allow_cross_slot_keys = true,
                _ => return err("ERR unknown flag given"),
            }
        }
    }
    if !valid_name(&name) {
        return err(BAD_NAME);
    }
    let mut funcs = funcs.borrow_mut();
    // Case-insensitively, as FCALL finds them (Redis 7.0.15 accepts `f` and `F` in one
    // library, then crashes when the library is deleted).
    if funcs.iter().any(|g| g.info.name.eq_ignore_ascii_case(&name)) {
        return err("ERR Function already exists in the library");
    }
    funcs.push(Func { info: FunctionInfo { name, description, flags: f }, callback });
    Ok(())
}

/// The flags of a function as `FUNCTION LIST` names them, in Redis's order.
pub fn flag_names(f: &ScriptFlags) -> Vec<&'static str> {
    let mut v = Vec::new();
    for (on, n) in [
        (f.no_writes, "no-writes"),
        (f.allow_oom, "allow-oom"),
        (f.allow_stale, "allow-stale"),
        (f.no_cluster, "no-cluster"),
        (f.allow_cross_slot_keys, "allow-cross-slot-keys"),
    ] {
        if on {
            v.push(n);
        }
    }
    v
}
