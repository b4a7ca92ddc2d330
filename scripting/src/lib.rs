//! Vireo's Lua scripting engine: Lua 5.1 (as Redis's), the script cache, the sandbox and the
//! Lua <-> RESP conversion rules of Redis 7.0.
//!
//! The engine never sees the server: scripts reach the keyspace through [`ScriptHost`], which
//! the server implements (it runs a command and hands back its reply as a [`Reply`]).

mod bit;
mod cjson;
mod cmsgpack;
mod ldb;
mod reply;
mod run;
mod structlib;

use std::collections::HashMap;

use bytes::Bytes;
use either::Either;
use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};

pub use function::{flag_names, FunctionInfo, Functions, Library, RestorePolicy};
pub use ldb::{DebugInput, DebugIo};
pub use reply::{format_double, format_g, format_g17, parse as parse_reply, Reply};

/// What scripts reach the server through.
pub trait ScriptHost {
    /// Runs `argv` (the command name first) as a script's command and returns its reply. Errors
    /// are `Reply::Error` with Redis's text (`ERR Unknown Redis command called from script`...).
    fn call(&mut self, argv: Vec<bytes::Bytes>) -> Reply;
    /// Whether the error the last [`ScriptHost::call`] returned was already counted in the
    /// error statistics (the command ran and failed), so that the script's own error, if it
    /// does not catch it, is not counted again.
    fn error_counted(&self) -> bool {
        false
    }
    /// `redis.setresp(2|3)`: the protocol the script's commands reply in from now on.
    fn set_resp(&mut self, _resp: u8) {}
    /// `redis.log(level, message)`: level is one of the `LOG_*` constants (0..=3).
    fn log(&mut self, level: i64, msg: &[u8]);
    /// `redis.set_repl(flags)`: where the script's next commands propagate (`REPL_*` bits:
    /// 1 AOF, 2 replicas).
    fn set_repl(&mut self, _flags: u8) {}
    /// `redis.acl_check_cmd(command, args...)`: whether the script's user may run it; an error
    /// (Redis's text) for a command that does not exist.
    fn acl_check(&mut self, _argv: Vec<bytes::Bytes>) -> Result<bool, String> {
        Ok(true)
    }
}

/// Watches a running script: called every [`WATCHDOG_INSTRUCTIONS`] Lua instructions.
pub trait Watchdog: Send + Sync {
    /// `Some(error)` stops the script with that error (SCRIPT KILL): the error cannot be
    /// caught by `pcall`, and the script's caller gets it as the script's error.
    fn tick(&self) -> Option<String>;
}

/// How often (in Lua instructions) the [`Watchdog`] is asked, as Redis's count hook.
pub const WATCHDOG_INSTRUCTIONS: u32 = 100_000;

/// The error a [`Watchdog`] stops a script with.
#[derive(Debug, Clone)]
struct Killed(String);

impl std::fmt::Display for Killed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Killed {}

fn is_killed(e: &mlua::Error) -> bool {
    match e {
        mlua::Error::CallbackError { cause, .. } => is_killed(cause),
        mlua::Error::ExternalError(x) => x.downcast_ref::<Killed>().is_some(),
        _ => false,
    }
}

/// The flags of a `#!lua flags=...` shebang.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// The script had a shebang (scripts without one run as in Redis 6).
    pub shebang: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

/// Parses the shebang line, if any; returns the flags and the body to compile (the shebang
/// line emptied, so that line numbers stay those of the script).
pub fn parse_shebang(body: &[u8]) -> Result<(ScriptFlags, Vec<u8>), String> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::default(), body.to_vec()));
    }
    let Some(eol) = body.iter().position(|&c| c == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..eol]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {line}"));
    }
    let mut flags = ScriptFlags { shebang: true, ..Default::default() };
    for p in parts {
        let Some(list) = p.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {p}"));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            match f {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                "allow-stale" => flags.allow_stale = true,
                "no-cluster" => flags.no_cluster = true,
                "allow-cross-slot-keys" => flags.allow_cross_slot_keys = true,
                _ => return Err(format!("ERR Unexpected flag in script shebang: {f}")),
            }
        }
    }
    Ok((flags, body[eol..].to_vec()))
}

/// The SHA1 of `data` in lower-case hex, as `redis.sha1hex` and the script cache use.
pub fn sha1hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// A SHA1 in hex as the script cache's key: lower-cased; `None` if it is not 40 bytes long
/// (then no script has it).
fn sha_key(sha: &[u8]) -> Option<[u8; 40]> {
    let mut key: [u8; 40] = sha.try_into().ok()?;
    key.make_ascii_lowercase();
    Some(key)
}

/// Hashes a script's key by the value of its first 16 hex digits: SHA1 digests are uniform
/// already, and loaded scripts cannot be chosen to collide on 64 bits of SHA1, so SipHash's
/// work buys nothing on every EVALSHA.
#[derive(Default)]
struct ShaHasher(u64);

impl std::hash::Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &c in bytes.iter().take(16) {
            // A hex digit's value; other bytes (a bad EVALSHA argument) still hash somewhere.
            self.0 = self.0 << 4 | u64::from((c & 0x0f) + 9 * (c >> 6));
        }
    }
    fn write_usize(&mut self, _len: usize) {}
}

type ShaMap<V> = HashMap<[u8; 40], V, std::hash::BuildHasherDefault<ShaHasher>>;

/// A cached script as [`Engine::find`] gives it.
#[derive(Clone, Copy, Debug)]
pub struct ScriptRef {
    /// Its SHA1, lower-case hex.
    key: [u8; 40],
    slot: u32,
    pub flags: ScriptFlags,
}

/// A cached script. Its compiled function lives in the Lua state, in [`Engine::funcs`] at
/// `slot`: a Rust handle per script would take a slot of mlua's reference stack each, which
/// holds a few thousand.
struct Script {
    slot: u32,
    body_len: u32,
    flags: ScriptFlags,
}

/// The Lua heap cap set for as long as it lives (the previous one back when dropped): on while
/// a script's code runs, off again (`HeapCap::set(lua, 0)`) inside the engine's Rust functions
/// that scripts call, which allocate only what the server hands them (see
/// [`Engine::set_memory_limit`]).
pub(crate) struct HeapCap<'a> {
    lua: &'a Lua,
    restore: usize,
}

impl<'a> HeapCap<'a> {
    pub(crate) fn set(lua: &'a Lua, limit: usize) -> HeapCap<'a> {
        let restore = lua.set_memory_limit(limit).unwrap_or(0);
        HeapCap { lua, restore }
    }
}

impl Drop for HeapCap<'_> {
    fn drop(&mut self) {
        let _ = self.lua.set_memory_limit(self.restore);
    }
}

/// What a script run gave.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    pub reply: Reply,
    /// The reply is an error a failed `redis.call` raised, already counted in the error
    /// statistics when its command failed (Redis does not count it again).
    pub error_counted: bool,
}

impl Outcome {
    /// An error of the engine's own (not one a command gave, so not counted yet).
    pub(crate) fn error(msg: String) -> Outcome {
        Outcome { reply: Reply::Error(msg.into_bytes()), error_counted: false }
    }
}

/// The Lua state and the script cache.
pub struct Engine {
    lua: Lua,
    /// By SHA1 (lower-case hex).
    scripts: ShaMap<Script>,
    /// The cached scripts' compiled functions, by [`Script::slot`] (1, 2, ...).
    funcs: Table,
    /// The scripts' globals (read-only inside Lua, see scripting/lua-src/PATCHES.md).
    backing: Table,
    /// The runners of [`run::RUNNER`]: `protected(f, handler)`, `script(slot, nkeys, ...)`
    /// and `call(f, nkeys, ...)`.
    runner: Function,
    script_runner: Function,
    call_runner: Function,
    /// The runner's `forget()`: empties KEYS and ARGV.
    forget: Function,
    /// Error tables redis.pcall returned for commands that failed (weak keys).
    counted: Table,
    /// The Lua heap cap (0: none).
    memory_limit: usize,
    /// Asked while a script runs (see [`Engine::set_watchdog`]).
    watchdog: Option<std::sync::Arc<dyn Watchdog>>,
    /// A debugger's engine ([`Engine::debugger`]): lists a frame's locals.
    locals: Option<Function>,
}

/// Set up once per Lua state, with the full globals: builds the sandbox the scripts see.
const PRELUDE: &str = r#"
local backing, redis, unwrap, cjson, bit, cmsgpack, struct, iskilled, setro, script_args = ...
local rawpcall, rawxpcall, getmetatable, setmetatable, error, tostring =
      pcall, xpcall, getmetatable, setmetatable, error, tostring
local keep = {'assert','error','getmetatable','ipairs','next','pairs','rawequal','rawget',
  'rawset','select','tonumber','tostring','type','unpack','_VERSION','string','table','math',
  'coroutine','gcinfo','collectgarbage','load'}
for _, k in ipairs(keep) do backing[k] = _G[k] end
-- What scripts must never reach (Redis 7.0 gives them no getfenv either).
for _, k in ipairs({'dofile','loadfile','loadstring','require','module','print','newproxy',
  'package','io','os','debug'}) do _G[k] = nil end
-- An error raised by redis.call is caught by pcall as its message, as in Redis.
-- A script killed by SCRIPT KILL cannot catch it.
local function fix(ok, ...)
  if not ok then
    local e = ...
    if iskilled(e) then error(e, 0) end
    return false, unwrap(e)
  end
  return ok, ...
end
backing.pcall = function(...) return fix(rawpcall(...)) end
local function xfix(ok, ...)
  if not ok and iskilled((...)) then error((...), 0) end
  return ok, ...
end
backing.xpcall = function(f, h)
  return xfix(rawxpcall(f, function(e)
    if iskilled(e) then return e end
    return h(unwrap(e))
  end))
end
-- Lua itself refuses writes to a read-only table (our patch, scripting/lua-src/PATCHES.md):
-- scripts get the tables themselves, so a global read is one lookup.
backing.setmetatable = setmetatable
backing.redis, backing.cjson, backing.bit, backing.cmsgpack, backing.struct =
  redis, cjson, bit, cmsgpack, struct
-- Made before the lock: the runner's later assignments of them then allocate nothing.
if script_args then backing.KEYS, backing.ARGV = {}, {} end
backing._G = backing
local strict = {
  __index = function(_, k)
    if k ~= 'loadstring' then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
  end,
}
setmetatable(backing, strict)
for _, t in ipairs({redis, cjson, bit, cmsgpack, struct, backing.string, backing.table,
                    backing.math, backing.coroutine, strict, backing}) do
  setro(t, true)
end
"#;

extern "C-unwind" {
    /// `setreadonly(t, on)`, a C function of our Lua (scripting/lua-src/PATCHES.md).
    fn lua_setreadonlyfn(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int;
}

const REDIS_VERSION: &str = "7.0.15";
const REDIS_VERSION_NUM: i64 = 0x07000f;

impl Engine {
    /// An engine for EVAL's scripts.
    pub fn new() -> mlua::Result<Engine> {
        Engine::with_globals(true, false)
    }

    /// An engine for one debugging session (`SCRIPT DEBUG`): its Lua state also keeps what
    /// the debugger needs of Lua's debug library (the scripts still do not see it).
    pub fn debugger() -> mlua::Result<Engine> {
        Engine::with_globals(true, true)
    }

    /// With `script_args`, the globals have KEYS and ARGV (EVAL's scripts; a library's
    /// functions get their keys and arguments as parameters).
    pub(crate) fn with_globals(script_args: bool, debugger: bool) -> mlua::Result<Engine> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH;
        let lua = if debugger {
            // SAFETY: mlua calls the debug library unsafe because Lua code holding it can break
            // mlua's invariants (upvalues and metatables of mlua's own functions). No Lua code
            // here ever holds it: the prelude removes it from the globals before any other code
            // runs, the scripts' globals never had it, and only `debug.getlocal` and
            // `debug.getinfo` are kept, as upvalues of the debugger's helper, which only reads
            // the locals of the script's own frame.
            unsafe { Lua::unsafe_new_with(libs | StdLib::DEBUG, LuaOptions::default()) }
        } else {
            Lua::new_with(libs, LuaOptions::default())?
        };
        // Taken before the prelude removes the debug library from the globals.
        let locals = if debugger { Some(ldb::make_locals(&lua)?) } else { None };
        install_random(&lua)?;
        let backing = lua.create_table()?;
        let redis = lua.create_table()?;
        Self::fill_redis(&lua, &redis)?;
        // An error raised by redis.call (a Rust error value) as the string pcall gives.
        let unwrap = lua.create_function(|lua, v: Value| {
            if let Value::Error(e) = &v {
                if let Some(CallError(msg, _)) = find_call_error(e) {
                    return Ok(Value::String(lua.create_string(msg)?));
                }
                // The engine's own errors: their message, as a C library's error is.
                return Ok(Value::String(lua.create_string(root_message(e))?));
            }
            Ok(v)
        })?;
        // The scripts' error tables counted already (weak keys): see redis.pcall.
        let counted = lua.create_table()?;
        let weak = lua.create_table()?;
        weak.set("__mode", "k")?;
        counted.set_metatable(Some(weak))?;
        install_host_functions(&lua, &redis, &counted)?;
        // SAFETY: `lua_setreadonlyfn` is a C function of the Lua this crate links (our copy,
        // scripting/lua-src): it follows the lua_CFunction protocol, checks its arguments and
        // reports a bad one with a Lua error, raised inside the call Lua makes to it.
        let setro = unsafe { lua.create_c_function(lua_setreadonlyfn) }?;
        // Builds the sandbox and makes its tables read-only: nothing of Rust's writes to them
        // afterwards (a refused write outside a protected call would abort).
        lua.load(PRELUDE).set_name("=prelude").call::<()>((
            backing.clone(),
            redis.clone(),
            unwrap,
            cjson::install(&lua)?,
            bit::install(&lua)?,
            cmsgpack::install(&lua)?,
            structlib::install(&lua)?,
            lua.create_function(|_, v: Value| Ok(matches!(&v, Value::Error(e) if is_killed(e))))?,
            &setro,
            script_args,
        ))?;
        let handler = lua.create_function(|lua, err: Value| error_handler(lua, err))?;
        let funcs = lua.create_table()?;
        let globals = lua.globals();
        let (runner, script_runner, call_runner, forget) = lua
            .load(run::RUNNER)
            .set_name("=runner")
            .call::<(Function, Function, Function, Function)>((
                globals.raw_get::<Function>("xpcall")?,
                &funcs,
                &backing,
                handler,
                setro,
            ))?;
        Ok(Engine {
            lua,
            scripts: ShaMap::default(),
            funcs,
            backing,
            runner,
            script_runner,
            call_runner,
            forget,
            counted,
            memory_limit: 0,
            watchdog: None,
            locals,
        })
    }

    fn fill_redis(lua: &Lua, redis: &Table) -> mlua::Result<()> {
        redis.set("REDIS_VERSION", REDIS_VERSION)?;
        redis.set("REDIS_VERSION_NUM", REDIS_VERSION_NUM)?;
        for (i, n) in ["LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING"].iter().enumerate() {
            redis.set(*n, i as i64)?;
        }
        for (n, v) in [("REPL_NONE", 0), ("REPL_AOF", 1), ("REPL_SLAVE", 2), ("REPL_REPLICA", 2)] {
            redis.set(n, v)?;
        }
        redis.set("REPL_ALL", 3)?;
        redis.set(
            "sha1hex",
            lua.create_function(|lua, args: MultiValue| {
                if args.len() != 1 {
                    return raise(lua, "ERR wrong number of arguments");
                }
                let s = match &args[0] {
                    Value::String(s) => s.as_bytes().to_vec(),
                    Value::Integer(n) => n.to_string().into_bytes(),
                    Value::Number(n) => lua_number_string(*n).into_bytes(),
                    _ => Vec::new(),
                };
                Ok(Value::String(lua.create_string(sha1hex(&s))?))
            })?,
        )?;
        redis.set(
            "error_reply",
            lua.create_function(|lua, args: MultiValue| {
                let t = lua.create_table()?;
                match (args.len(), args.front()) {
                    (1, Some(Value::String(s))) => {
                        let s = s.as_bytes();
                        let s = s.strip_prefix(b"-").unwrap_or(&s);
                        t.set("err", lua.create_string(error_code_form(s))?)?;
                    }
                    _ => t.set("err", "ERR wrong number or type of arguments")?,
                }
                Ok(t)
            })?,
        )?;
        redis.set(
            "status_reply",
            lua.create_function(|lua, args: MultiValue| {
                let t = lua.create_table()?;
                match (args.len(), args.front()) {
                    (1, Some(Value::String(s))) => t.set("ok", s.clone())?,
                    _ => t.set("err", "ERR wrong number or type of arguments")?,
                }
                Ok(t)
            })?,
        )?;
        // Redis 7.0 always replicates effects: these remain for old scripts.
        redis.set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
        // The debugger's: they do nothing outside a debugging session.
        redis.set(
            "breakpoint",
            lua.create_function(|_, _: MultiValue| Ok(ldb::breakpoint_call()))?,
        )?;
        redis.set(
            "debug",
            lua.create_function(|lua, args: MultiValue| {
                ldb::debug_call(lua, &args);
                Ok(())
            })?,
        )?;
        Ok(())
    }

    /// Asks `w` every [`WATCHDOG_INSTRUCTIONS`] instructions whether the running script must
    /// stop (SCRIPT KILL); the server also learns there that a script runs long (BUSY).
    pub fn set_watchdog(&mut self, w: std::sync::Arc<dyn Watchdog>) -> mlua::Result<()> {
        self.watchdog = Some(w);
        self.install_watchdog()
    }

    pub fn has_watchdog(&self) -> bool {
        self.watchdog.is_some()
    }

    /// (Re)installs the watchdog's count hook (FUNCTION LOAD runs under a hook of its own).
    pub(crate) fn install_watchdog(&self) -> mlua::Result<()> {
        let Some(w) = self.watchdog.clone() else {
            self.lua.remove_hook();
            return Ok(());
        };
        let triggers = mlua::HookTriggers::new().every_nth_instruction(WATCHDOG_INSTRUCTIONS);
        self.lua.set_hook(triggers, move |_, _| match w.tick() {
            Some(msg) => Err(mlua::Error::external(Killed(msg))),
            None => Ok(mlua::VmState::Continue),
        })
    }

    /// Caps the Lua heap: a script allocating beyond it fails with `not enough memory`, the
    /// server stays up. 0 removes the cap.
    ///
    /// The cap is in force only while Lua code runs (see [`HeapCap`]): with a limit set, mlua
    /// runs every API operation (creating a string, setting a table field) as a protected call,
    /// which in Lua 5.1 allocates two C closures each time; without one those operations are
    /// direct and an allocation failure aborts, as any Rust allocation does.
    pub fn set_memory_limit(&mut self, bytes: usize) -> mlua::Result<()> {
        self.memory_limit = bytes;
        Ok(())
    }

    /// Compiles `body` and caches it under its SHA1; returns the SHA1 or Redis's error.
    pub fn load(&mut self, body: &[u8]) -> Result<String, String> {
        let sha = sha1hex(body);
        let key = sha_key(sha.as_bytes()).expect("a SHA1 in hex");
        if self.scripts.contains_key(&key) {
            return Ok(sha);
        }
        let (flags, code) = parse_shebang(body)?;
        let env: Table = self.backing.raw_get("_G").map_err(|e| e.to_string())?;
        let func = self
            .lua
            .load(&code[..])
            .set_name("@user_script")
            .set_environment(env)
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    e => e.to_string(),
                };
                format!("ERR Error compiling script (new function): {msg}")
            })?;
        let slot = self.scripts.len() as u32 + 1;
        self.funcs.raw_set(slot, func).map_err(|e| e.to_string())?;
        let body_len = body.len().min(u32::MAX as usize) as u32;
        self.scripts.insert(key, Script { slot, body_len, flags });
        Ok(sha)
    }

    pub fn exists(&self, sha: &[u8]) -> bool {
        sha_key(sha).is_some_and(|k| self.scripts.contains_key(&k))
    }

    /// The flags of a cached script (SHA1 in any case); `None` if it is not cached.
    pub fn flags(&self, sha: &[u8]) -> Option<ScriptFlags> {
        self.find(sha).map(|s| s.flags)
    }

    /// The cached script `sha` (in any case), to run with [`Engine::run_script`]; `None` if
    /// it is not cached.
    pub fn find(&self, sha: &[u8]) -> Option<ScriptRef> {
        let key = sha_key(sha)?;
        let s = self.scripts.get(&key)?;
        Some(ScriptRef { key, slot: s.slot, flags: s.flags })
    }

    /// Forgets every cached script.
    pub fn flush(&mut self) {
        self.scripts.clear();
        // Emptied in place: the script runner holds this table.
        let _ = self.funcs.clear();
        let _ = self.lua.gc_collect();
    }

    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }

    /// Bytes of the cached scripts' bodies (INFO `used_memory_scripts` approximation).
    pub fn bodies_len(&self) -> usize {
        self.scripts.values().map(|s| s.body_len as usize).sum()
    }

    /// Bytes the Lua state uses.
    pub fn memory(&self) -> usize {
        self.lua.used_memory()
    }

    /// Runs the cached script `sha` with `KEYS` and `ARGV`; `None` if it is not cached.
    pub fn run(
        &mut self,
        sha: &[u8],
        keys: &[&[u8]],
        args: &[&[u8]],
        host: &mut dyn ScriptHost,
    ) -> Option<Reply> {
        let script = self.find(sha)?;
        Some(self.run_script(&script, keys, args, host).reply)
    }

    /// Runs a script [`Engine::find`] found (and no flush forgot since) with `KEYS` and
    /// `ARGV`.
    pub fn run_script(
        &mut self,
        script: &ScriptRef,
        keys: &[&[u8]],
        args: &[&[u8]],
        host: &mut dyn ScriptHost,
    ) -> Outcome {
        let sha = std::str::from_utf8(&script.key).expect("hex digits");
        let target = Target::Script { sha, slot: script.slot };
        self.run_function(target, keys, args, host)
            .unwrap_or_else(|e| Outcome::error(format!("ERR Error running script: {e}")))
    }

    /// Runs `body` (an EVAL's script) under the debugger, which talks to its client through
    /// `io`; `timeout_ms` (0: 5 s) is how long the script may run without stopping before the
    /// debugger stops it as an infinite loop. Returns the script's outcome and what was logged
    /// since the client's last command. Only for an engine made by [`Engine::debugger`].
    pub fn debug_script(
        &mut self,
        body: &[u8],
        keys: &[&[u8]],
        args: &[&[u8]],
        host: &mut dyn ScriptHost,
        io: Box<dyn DebugIo>,
        timeout_ms: u64,
    ) -> (Outcome, Vec<Vec<u8>>) {
        let Some(locals) = self.locals.clone() else {
            return (Outcome::error("ERR not a debugger engine".into()), Vec::new());
        };
        let sha = match self.load(body) {
            Ok(sha) => sha,
            Err(e) => return (Outcome::error(e), Vec::new()),
        };
        let script = self.find(sha.as_bytes()).expect("loaded above");
        let session = ldb::Session::start(io, body, timeout_ms, locals, self.backing.clone());
        let triggers =
            mlua::HookTriggers::new().every_line().every_nth_instruction(WATCHDOG_INSTRUCTIONS);
        // Global: coroutines the script makes get it too, so that stepping enters them.
        if let Err(e) = self.lua.set_global_hook(triggers, ldb::hook) {
            return (Outcome::error(format!("ERR Lua engine: {e}")), Vec::new());
        }
        let outcome = self.run_script(&script, keys, args, host);
        self.lua.remove_global_hook();
        (outcome, session.finish())
    }

    fn run_function(
        &mut self,
        target: Target<'_>,
        keys: &[&[u8]],
        args: &[&[u8]],
        host: &mut dyn ScriptHost,
    ) -> mlua::Result<Outcome> {
        let lua = &self.lua;
        // Room left under the heap cap (none said when more than half of it is in use, see
        // `RunArgs::on_stack`). Garbage past half the cap that an earlier script left is
        // collected first: Lua 5.1 does not collect when an allocation fails. KEYS and ARGV of
        // the last run, which no one sees until this run sets them, may hold large arguments.
        let room = match self.memory_limit {
            0 => usize::MAX,
            limit => {
                let mut used = lua.used_memory();
                if used > limit / 2 {
                    // (A library's functions have no such globals.)
                    if let Target::Script { .. } = target {
                        self.forget.call::<()>(())?;
                    }
                    lua.gc_collect()?;
                    used = lua.used_memory();
                }
                if used > limit / 2 {
                    0
                } else {
                    limit - used
                }
            }
        };
        let (runner, callee) = match target {
            Target::Script { slot, .. } => (&self.script_runner, run::Callee::Slot(slot)),
            Target::Function { func, .. } => (&self.call_runner, run::Callee::Func(func)),
        };
        // Too many items for the Lua stack: one call into mlua per table, UTF-8 items (the
        // usual keys and arguments) pushed as they are, other bytes made Lua strings first.
        let to_table = |items: &[&[u8]]| -> mlua::Result<Table> {
            let mut binary = Vec::new();
            for a in items.iter().filter(|a| std::str::from_utf8(a).is_err()) {
                binary.push(lua.create_string(a)?);
            }
            let mut binary = binary.into_iter();
            lua.create_sequence_from(items.iter().map(|a| match std::str::from_utf8(a) {
                Ok(s) => Either::Left(s),
                Err(_) => Either::Right(binary.next().expect("made above")),
            }))
        };
        let run_args = match run::RunArgs::on_stack(room, callee, keys, args) {
            Some(a) => a,
            None => {
                let (keys, args) = (to_table(keys)?, to_table(args)?);
                run::RunArgs::Tables { callee, keys, args }
            }
        };
        // The engine's functions (redis.call...) find the host here while the script runs.
        let _running = Running::enter(host);
        let result = {
            let _capped = HeapCap::set(lua, self.memory_limit);
            runner.call::<run::RunResult>(run_args)
        }?;
        let result = match result {
            run::RunResult::Reply(reply) => return Ok(Outcome { reply, error_counted: false }),
            run::RunResult::Values(values) => values,
        };
        let mut it = result.into_iter();
        let ok = matches!(it.next(), Some(Value::Boolean(true)));
        let value = it.next().unwrap_or(Value::Nil);
        if ok {
            // An error table redis.pcall gave back, returned as it is, was counted already.
            let error_counted = matches!(&value, Value::Table(_))
                && self.counted.raw_get::<bool>(value.clone()).unwrap_or(false);
            // Booleans follow the protocol the script chose with redis.setresp.
            let resp3 = Running::with(|_, resp3| *resp3).unwrap_or(false);
            return Ok(Outcome { reply: lua_to_reply(&value, resp3), error_counted });
        }
        // The handler made every error a table with `err` and, where known, `line`.
        let mut error_counted = false;
        let (msg, line) = match &value {
            Value::Table(t) => {
                let msg: Vec<u8> = match t.raw_get::<Value>("err")? {
                    Value::String(s) => s.as_bytes().to_vec(),
                    _ => b"ERR unknown error".to_vec(),
                };
                error_counted = t.raw_get::<bool>("counted").unwrap_or(false);
                let line = match t.raw_get::<Value>("line")? {
                    Value::Integer(n) => n.to_string(),
                    Value::Number(n) => (n as i64).to_string(),
                    _ => "?".into(),
                };
                (msg, line)
            }
            v => (format!("ERR {v:?}").into_bytes(), "?".into()),
        };
        let mut full = msg;
        let (label, chunk) = match target {
            Target::Script { sha, .. } => (sha, "user_script"),
            Target::Function { name, .. } => (name, "user_function"),
        };
        full.extend_from_slice(format!(" script: {label}, on @{chunk}:{line}.").as_bytes());
        Ok(Outcome { reply: Reply::Error(full), error_counted })
    }
}

/// The script that runs on this thread, as the engine's Rust functions (`redis.call`...) see
/// it. Those functions are created once per Lua state rather than for each run (as `Lua::scope`
/// would), so they find the host of the run here.
#[derive(Clone, Copy)]
struct Running {
    host: std::ptr::NonNull<dyn ScriptHost>,
    /// `redis.setresp(3)` was called.
    resp3: bool,
}

thread_local! {
    static RUNNING: std::cell::Cell<Option<Running>> = const { std::cell::Cell::new(None) };
}

/// Makes `host` the running script's host until dropped (then the previous one, if any, is
/// back).
struct RunningGuard {
    prev: Option<Running>,
}

impl Running {
    fn enter(host: &mut dyn ScriptHost) -> RunningGuard {
        let ptr = std::ptr::NonNull::from(host);
        // SAFETY: only the lifetime of the trait object is changed. The pointer is used (in
        // `Running::with`) only while the guard lives: the guard is a local of
        // `Engine::run_function`, which holds the `&mut` borrow of the host for as long as it
        // runs, and the slot is thread-local and restored when the guard drops (on unwinding
        // too), so no use of the pointer outlives the borrow or happens on another thread.
        let ptr: std::ptr::NonNull<dyn ScriptHost + 'static> = unsafe { std::mem::transmute(ptr) };
        let prev = RUNNING.with(|r| r.replace(Some(Running { host: ptr, resp3: false })));
        RunningGuard { prev }
    }

    /// Runs `f` with the running script's host and its RESP3 flag; `None` when no script runs
    /// (or when called again from inside `f`: the host is lent out once at a time).
    fn with<R>(f: impl FnOnce(&mut dyn ScriptHost, &mut bool) -> R) -> Option<R> {
        let mut run = RUNNING.with(|r| r.take())?;
        // SAFETY: the pointer comes from a `&mut dyn ScriptHost` still borrowed by the
        // `Engine::run_function` call below us on this thread (see `Running::enter`), and it
        // was taken out of the slot, so this is the only reference made from it until it is
        // put back.
        let host = unsafe { run.host.as_mut() };
        let r = f(host, &mut run.resp3);
        RUNNING.with(|r| r.set(Some(run)));
        Some(r)
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        RUNNING.with(|r| r.set(self.prev));
    }
}

/// Runs `redis.call` / `redis.pcall`'s command: (reply, already counted, RESP3).
fn host_call(args: CallArgs) -> (Reply, bool, bool) {
    match args.0 {
        Ok(argv) => Running::with(|h, resp3| {
            // A debugging session that steps logs the command and its reply.
            let traced = ldb::tracing_calls().then(|| argv.clone());
            let r = h.call(argv);
            let ran = h.error_counted();
            if let Some(argv) = traced {
                ldb::trace_call(&argv, &r, ran, *resp3);
            }
            (r, ran, *resp3)
        })
        .unwrap_or_else(|| (Reply::error("ERR no script is running"), false, false)),
        Err(msg) => (Reply::Error(msg.as_bytes().to_vec()), false, false),
    }
}

/// `redis.call`, `redis.pcall`, `redis.log`, `redis.setresp`, `redis.set_repl` and
/// `redis.acl_check_cmd`: they reach
/// the host of the script that runs ([`Running`]).
fn install_host_functions(lua: &Lua, redis: &Table, counted: &Table) -> mlua::Result<()> {
    let call = lua.create_function(|lua, args: CallArgs| match host_call(args) {
        (Reply::Error(e), counted, _) => Err(mlua::Error::external(CallError(e, counted))),
        (r, _, resp3) => {
            let _uncapped = allocates(&r).then(|| HeapCap::set(lua, 0));
            reply_to_lua(lua, &r, resp3)
        }
    })?;
    let counted_set = counted.clone();
    let pcall = lua.create_function(move |lua, args: CallArgs| {
        let (reply, counted, resp3) = host_call(args);
        let _uncapped = allocates(&reply).then(|| HeapCap::set(lua, 0));
        let v = reply_to_lua(lua, &reply, resp3)?;
        if counted && matches!(reply, Reply::Error(_)) {
            counted_set.raw_set(v.clone(), true)?;
        }
        Ok(v)
    })?;
    let log = lua.create_function(|lua, args: MultiValue| match log_args(&args) {
        Ok((level, msg)) => {
            Running::with(|h, _| h.log(level, &msg));
            Ok(Value::Nil)
        }
        Err(e) => raise(lua, e),
    })?;
    let setresp = lua.create_function(|lua, args: MultiValue| {
        if args.len() != 1 {
            return raise(lua, "ERR redis.setresp() requires one argument.");
        }
        let v = match &args[0] {
            Value::Integer(n) => *n,
            Value::Number(n) => *n as i64,
            _ => 0,
        };
        if v != 2 && v != 3 {
            return raise(lua, "ERR RESP version must be 2 or 3.");
        }
        Running::with(|h, resp3| {
            *resp3 = v == 3;
            h.set_resp(v as u8);
        });
        Ok(Value::Nil)
    })?;
    let set_repl = lua.create_function(|lua, args: MultiValue| {
        if args.len() != 1 {
            return raise(lua, "ERR redis.set_repl() requires two arguments.");
        }
        let v = match &args[0] {
            Value::Integer(n) => *n,
            Value::Number(n) => *n as i64,
            Value::String(s) => {
                s.to_str().ok().and_then(|t| lua_str_to_number(&t)).unwrap_or(0.0) as i64
            }
            _ => 0,
        };
        if v & !3 != 0 {
            return raise(
                lua,
                "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
            );
        }
        Running::with(|h, _| h.set_repl(v as u8));
        Ok(Value::Nil)
    })?;
    redis.raw_set("call", call)?;
    redis.raw_set("pcall", pcall)?;
    redis.raw_set("log", log)?;
    redis.raw_set("setresp", setresp)?;
    let acl_check_cmd = lua.create_function(|lua, args: CallArgs| {
        let argv = match args.0 {
            Ok(a) => a,
            Err(msg) => return raise(lua, msg),
        };
        match Running::with(|h, _| h.acl_check(argv)) {
            Some(Ok(allowed)) => Ok(Value::Boolean(allowed)),
            Some(Err(e)) => raise(lua, &e),
            None => raise(lua, "ERR no script is running"),
        }
    })?;
    redis.raw_set("set_repl", set_repl)?;
    redis.raw_set("acl_check_cmd", acl_check_cmd)?;
    Ok(())
}

/// Whether [`reply_to_lua`] makes Lua objects of `r` (then the heap cap is lifted for it, see
/// [`HeapCap`]); numbers, booleans and nil it does not.
fn allocates(r: &Reply) -> bool {
    !matches!(r, Reply::Int(_) | Reply::Null | Reply::NullArray | Reply::Bool(_))
}

/// What [`Engine::run_function`] runs: a cached script (its SHA1 and its slot in
/// [`Engine::funcs`]) or a library's function (its name and the function).
#[derive(Clone, Copy)]
enum Target<'a> {
    Script { sha: &'a str, slot: u32 },
    Function { name: &'a str, func: &'a Function },
}

/// Raises an error from the engine's Rust functions: the handler keeps its message as it is
/// (no position), as Redis's errors raised from C.
fn raise(_lua: &Lua, msg: &str) -> mlua::Result<Value> {
    Err(mlua::Error::RuntimeError(msg.to_string()))
}

/// The state of the scripts' random generator, rand48 as Redis's: one for the whole process,
/// never reseeded between scripts, starting where rand48 starts unseeded.
static RAND48: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0x1234_ABCD_330E);

/// The next rand48 output (31 bits).
fn lrand48() -> u32 {
    use std::sync::atomic::Ordering;
    let step = |x: u64| x.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB) & 0xFFFF_FFFF_FFFF;
    let prev = RAND48.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| Some(step(x)));
    let x = step(prev.unwrap_or_else(|x| x));
    (x >> 17) as u32
}

/// `math.random` and `math.randomseed` on [`RAND48`], as Redis replaces Lua's.
fn install_random(lua: &Lua) -> mlua::Result<()> {
    let math: Table = lua.globals().get("math")?;
    math.set(
        "random",
        lua.create_function(|lua, args: MultiValue| {
            const MAX: u32 = i32::MAX as u32;
            let r = (lrand48() % MAX) as f64 / MAX as f64;
            match args.len() {
                0 => Ok(r),
                1 => {
                    let u = check_number(lua, &args, 0)? as i32;
                    if u < 1 {
                        return Err(arg_err(lua, 1, "interval is empty"));
                    }
                    Ok((r * u as f64).floor() + 1.0)
                }
                2 => {
                    let l = check_number(lua, &args, 0)? as i32;
                    let u = check_number(lua, &args, 1)? as i32;
                    if l > u {
                        return Err(arg_err(lua, 2, "interval is empty"));
                    }
                    Ok((r * (u as f64 - l as f64 + 1.0)).floor() + l as f64)
                }
                _ => Err(lua_err(lua, "wrong number of arguments")),
            }
        })?,
    )?;
    math.set(
        "randomseed",
        lua.create_function(|lua, args: MultiValue| {
            let seed = check_number(lua, &args, 0)? as i32 as u32 as u64;
            RAND48.store((seed << 16) | 0x330E, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        })?,
    )?;
    Ok(())
}

/// `luaL_where(L, 1)`: the position of the function that called the running Rust function,
/// `"user_script:3: "`, or nothing when that caller is not Lua code (pcall, a C function).
pub(crate) fn where_(lua: &Lua) -> String {
    lua.inspect_stack(1, |d| {
        let line = d.current_line()?;
        let src = d.source().short_src?.into_owned();
        Some(format!("{src}:{line}: "))
    })
    .flatten()
    .unwrap_or_default()
}

/// `luaL_error`: `msg` after the caller's position.
pub(crate) fn lua_err(lua: &Lua, msg: &str) -> mlua::Error {
    mlua::Error::RuntimeError(format!("{}{msg}", where_(lua)))
}

/// `luaL_argerror`: `bad argument #n to 'name' (msg)`, named as the call site names the
/// running function (`'?'` when it is called from C, as through pcall).
pub(crate) fn arg_err(lua: &Lua, narg: usize, msg: &str) -> mlua::Error {
    let name = lua
        .inspect_stack(0, |d| d.names().name.map(|n| n.into_owned()))
        .flatten()
        .unwrap_or_else(|| "?".into());
    lua_err(lua, &format!("bad argument #{narg} to '{name}' ({msg})"))
}

/// `luaL_checkinteger`-like: argument `i` (0-based) as a number (strings convert), truncated.
pub(crate) fn check_number(lua: &Lua, args: &MultiValue, i: usize) -> mlua::Result<f64> {
    let got = match args.get(i) {
        Some(Value::Integer(n)) => return Ok(*n as f64),
        Some(Value::Number(n)) => return Ok(*n),
        Some(Value::String(s)) => {
            if let Some(n) = s.to_str().ok().and_then(|t| lua_str_to_number(&t)) {
                return Ok(n);
            }
            "string"
        }
        Some(v) => v.type_name(),
        None => "no value",
    };
    Err(arg_err(lua, i + 1, &format!("number expected, got {got}")))
}

/// A string as Lua 5.1's `lua_tonumber` reads it (decimal, or hex with 0x).
pub(crate) fn lua_str_to_number(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let (neg, body) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let v = u64::from_str_radix(h, 16).ok()? as f64;
        return Some(if neg { -v } else { v });
    }
    t.parse::<f64>().ok()
}

/// An optional integer argument (`luaL_optinteger`).
pub(crate) fn opt_number(lua: &Lua, args: &MultiValue, i: usize, def: f64) -> mlua::Result<f64> {
    match args.get(i) {
        None | Some(Value::Nil) => Ok(def),
        _ => check_number(lua, args, i),
    }
}

/// The line of the script being run, from its innermost frame.
pub(crate) fn user_line(lua: &Lua) -> Option<usize> {
    for level in 0..64 {
        let found = lua.inspect_stack(level, |d| {
            let src = d.source().source;
            matches!(src.as_deref(), Some("@user_script" | "@user_function"))
                .then(|| d.current_line())
        })?;
        if let Some(l) = found {
            return l;
        }
    }
    None
}

/// Finds the script's own frame (the first one whose source is the script) and makes the
/// error the table Redis's handler makes: `{err=..., line=...}`.
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Table> {
    let line = user_line(lua);
    let t = match err {
        Value::Table(t) if t.raw_get::<Value>("err").is_ok_and(|v| v.is_string()) => t,
        Value::Error(e) => {
            // Errors raised by redis.call and the engine's own Rust functions: as they are.
            let t = lua.create_table()?;
            match find_call_error(&e) {
                Some(CallError(msg, counted)) => {
                    t.raw_set("err", lua.create_string(msg)?)?;
                    t.raw_set("counted", *counted)?;
                }
                None => {
                    let msg = root_message(&e);
                    if msg.starts_with("ERR ") {
                        t.raw_set("err", msg)?;
                    } else {
                        t.raw_set("err", format!("ERR {msg}"))?;
                    }
                }
            }
            t
        }
        other => {
            let s = match &other {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(n) => n.to_string().into_bytes(),
                Value::Number(n) => lua_number_string(*n).into_bytes(),
                Value::Nil => b"nil".to_vec(),
                Value::Boolean(b) => b.to_string().into_bytes(),
                _ => b"unknown error".to_vec(),
            };
            let mut m = b"ERR ".to_vec();
            m.extend_from_slice(&s);
            let t = lua.create_table()?;
            t.raw_set("err", lua.create_string(m)?)?;
            t
        }
    };
    if let Some(l) = line {
        t.raw_set("line", l as i64)?;
    }
    Ok(t)
}

/// The error reply a `redis.call` raised.
#[derive(Debug)]
struct CallError(Vec<u8>, bool);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl std::error::Error for CallError {}

fn find_call_error(e: &mlua::Error) -> Option<&CallError> {
    match e {
        mlua::Error::CallbackError { cause, .. } => find_call_error(cause),
        mlua::Error::ExternalError(x) => x.downcast_ref::<CallError>(),
        _ => None,
    }
}

fn root_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => root_message(cause),
        mlua::Error::ExternalError(x) => x.to_string(),
        mlua::Error::RuntimeError(s) => s.clone(),
        e => e.to_string(),
    }
}

/// `{err = msg}` in the form Redis gives error replies inside scripts.
fn error_table(lua: &Lua, msg: &[u8]) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(msg)?)?;
    Ok(Value::Table(t))
}

/// An error string as Redis keeps it in `{err=...}`: with an error code (the first word), or
/// `ERR ` in front when it has none.
fn error_code_form(s: &[u8]) -> Vec<u8> {
    if s.contains(&b' ') {
        s.to_vec()
    } else {
        let mut v = b"ERR ".to_vec();
        v.extend_from_slice(s);
        v
    }
}

const NO_ARGS: &str = "ERR Please specify at least one argument for this redis lib call";
const BAD_ARG: &str = "ERR Lua redis lib command arguments must be strings or integers";

/// The arguments of `redis.call`: strings, and numbers as C's `%.17g` writes them (as Redis).
fn call_args(args: &MultiValue) -> Result<Vec<Bytes>, &'static str> {
    if args.is_empty() {
        return Err(NO_ARGS);
    }
    args.iter()
        .map(|a| match a {
            Value::String(s) => Ok(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Integer(n) => Ok(Bytes::from(format_g17(*n as f64))),
            Value::Number(n) => Ok(Bytes::from(format_g17(*n))),
            _ => Err(BAD_ARG),
        })
        .collect()
}

/// `redis.call`'s arguments (see [`call_args`]), read straight off the Lua stack when Lua
/// calls: mlua's generic path would first make each one a [`Value`] holding a slot of its
/// reference stack.
struct CallArgs(Result<Vec<Bytes>, &'static str>);

impl mlua::FromLuaMulti for CallArgs {
    fn from_lua_multi(values: MultiValue, _lua: &Lua) -> mlua::Result<Self> {
        Ok(CallArgs(call_args(&values)))
    }

    unsafe fn from_stack_args(
        nargs: std::ffi::c_int,
        _i: usize,
        _to: Option<&str>,
        lua: &mlua::state::RawLua,
    ) -> mlua::Result<Self> {
        Self::from_stack_multi(nargs, lua)
    }

    unsafe fn from_stack_multi(
        nvals: std::ffi::c_int,
        lua: &mlua::state::RawLua,
    ) -> mlua::Result<Self> {
        use mlua::ffi;
        if nvals <= 0 {
            return Ok(CallArgs(Err(NO_ARGS)));
        }
        let state = lua.state();
        let mut argv = Vec::with_capacity(nvals as usize);
        for idx in -nvals..0 {
            // SAFETY: mlua calls this with the `nvals` arguments on top of the stack of
            // `state`, the running Lua state. Reading a value's type or number cannot raise a
            // Lua error, nor can `lua_tolstring` on a value that is a string (it converts
            // nothing); its pointer is valid for `len` bytes while the string is on the stack,
            // which it stays for the whole copy.
            let arg = unsafe {
                match ffi::lua_type(state, idx) {
                    ffi::LUA_TSTRING => {
                        let mut len = 0;
                        let p = ffi::lua_tolstring(state, idx, &mut len) as *const u8;
                        Bytes::copy_from_slice(std::slice::from_raw_parts(p, len))
                    }
                    ffi::LUA_TNUMBER => Bytes::from(format_g17(ffi::lua_tonumber(state, idx))),
                    _ => return Ok(CallArgs(Err(BAD_ARG))),
                }
            };
            argv.push(arg);
        }
        Ok(CallArgs(Ok(argv)))
    }
}

/// A number as Lua 5.1's `tostring` writes it (`%.14g`).
fn lua_number_string(n: f64) -> String {
    if n.is_nan() {
        return "nan".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf" } else { "-inf" }.into();
    }
    if n == n.trunc() && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    format!("{n}")
}

/// A Lua number as a reply integer: C's `(long long)` cast, which gives the minimum for what
/// does not fit (NaN, infinities, beyond 2^63).
pub fn number_to_int(n: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if n.is_nan() || !(-LIMIT..LIMIT).contains(&n) {
        i64::MIN
    } else {
        n.trunc() as i64
    }
}

/// A server reply as a Lua value, by Redis 7.0's rules for a script that chose RESP2 (the
/// default) or, with `resp3`, RESP3 (`redis.setresp(3)`).
pub fn reply_to_lua(lua: &Lua, r: &Reply, resp3: bool) -> mlua::Result<Value> {
    let wrap = |field: &str, v: Value| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set(field, v)?;
        Ok(Value::Table(t))
    };
    if resp3 {
        match r {
            Reply::Null | Reply::NullArray => return Ok(Value::Nil),
            Reply::Bool(b) => return Ok(Value::Boolean(*b)),
            Reply::Double(d) => return wrap("double", Value::Number(*d)),
            Reply::BigNumber(b) => return wrap("big_number", Value::String(lua.create_string(b)?)),
            Reply::Map(pairs) => {
                let t = lua.create_table()?;
                for (k, v) in pairs {
                    t.raw_set(reply_to_lua(lua, k, true)?, reply_to_lua(lua, v, true)?)?;
                }
                return wrap("map", Value::Table(t));
            }
            Reply::Set(items) => {
                let t = lua.create_table()?;
                for k in items {
                    t.raw_set(reply_to_lua(lua, k, true)?, true)?;
                }
                return wrap("set", Value::Table(t));
            }
            _ => {}
        }
    }
    Ok(match r {
        Reply::Int(n) => Value::Number(*n as f64),
        Reply::Bulk(b) | Reply::BigNumber(b) => Value::String(lua.create_string(b)?),
        Reply::Null | Reply::NullArray => Value::Boolean(false),
        Reply::Status(s) => {
            let t = lua.create_table()?;
            t.raw_set("ok", lua.create_string(s)?)?;
            Value::Table(t)
        }
        Reply::Error(e) => error_table(lua, e)?,
        Reply::Array(items) | Reply::Set(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, it) in items.iter().enumerate() {
                t.raw_set(i + 1, reply_to_lua(lua, it, resp3)?)?;
            }
            Value::Table(t)
        }
        Reply::Map(pairs) => {
            let t = lua.create_table_with_capacity(pairs.len() * 2, 0)?;
            for (i, (k, v)) in pairs.iter().enumerate() {
                t.raw_set(2 * i + 1, reply_to_lua(lua, k, resp3)?)?;
                t.raw_set(2 * i + 2, reply_to_lua(lua, v, resp3)?)?;
            }
            Value::Table(t)
        }
        Reply::Double(d) => Value::String(lua.create_string(format_double(*d))?),
        Reply::Bool(b) => {
            if *b {
                Value::Number(1.0)
            } else {
                Value::Boolean(false)
            }
        }
    })
}

/// A script's return value as a reply (RESP2 rules of Redis 7.0): numbers truncated to
/// integers, strings as bulk, `true` as 1, `false` and nil as null, `{err=}`/`{ok=}` as
/// error/status, `{double=}` as a double, other tables as arrays up to the first nil.
pub fn lua_to_reply(v: &Value, resp3: bool) -> Reply {
    lua_to_reply_depth(v, resp3, 0)
}

fn lua_to_reply_depth(v: &Value, resp3: bool, depth: usize) -> Reply {
    match v {
        Value::String(s) => Reply::Bulk(s.as_bytes().to_vec()),
        Value::Integer(n) => Reply::Int(*n),
        Value::Number(n) => Reply::Int(number_to_int(*n)),
        // After redis.setresp(3) a boolean is a boolean (`:1`/`:0` to a RESP2 client); before
        // it, true is 1 and false is nil.
        Value::Boolean(b) if resp3 => Reply::Bool(*b),
        Value::Boolean(true) => Reply::Int(1),
        Value::Boolean(false) | Value::Nil => Reply::Null,
        Value::Table(t) => {
            if depth > 1000 {
                return Reply::Error(b"ERR reached lua stack limit".to_vec());
            }
            if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
                return Reply::Error(e.as_bytes().to_vec());
            }
            if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
                return Reply::Status(s.as_bytes().to_vec());
            }
            match t.raw_get::<Value>("double") {
                Ok(Value::Number(d)) => return Reply::Double(d),
                Ok(Value::Integer(d)) => return Reply::Double(d as f64),
                _ => {}
            }
            if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
                let mut pairs = Vec::new();
                for (k, v) in m.pairs::<Value, Value>().flatten() {
                    pairs.push((
                        lua_to_reply_depth(&k, resp3, depth + 1),
                        lua_to_reply_depth(&v, resp3, depth + 1),
                    ));
                }
                return Reply::Map(pairs);
            }
            if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
                let items = s
                    .pairs::<Value, Value>()
                    .flatten()
                    .map(|(k, _)| lua_to_reply_depth(&k, resp3, depth + 1));
                return Reply::Set(items.collect());
            }
            let mut items = Vec::new();
            for i in 1.. {
                match t.raw_get::<Value>(i) {
                    Ok(Value::Nil) | Err(_) => break,
                    Ok(v) => items.push(lua_to_reply_depth(&v, resp3, depth + 1)),
                }
            }
            Reply::Array(items)
        }
        _ => Reply::Null,
    }
}

/// The level and message of `redis.log(level, ...)`, or its error.
fn log_args(args: &MultiValue) -> Result<(i64, Vec<u8>), &'static str> {
    if args.len() < 2 {
        return Err("ERR redis.log() requires two arguments or more.");
    }
    let level = match &args[0] {
        Value::Integer(n) => *n,
        Value::Number(n) => *n as i64,
        _ => return Err("ERR First argument must be a number (log level)."),
    };
    if !(0..=3).contains(&level) {
        return Err("ERR Invalid debug level.");
    }
    let mut msg = Vec::new();
    for (i, a) in args.iter().skip(1).enumerate() {
        if i > 0 {
            msg.push(b' ');
        }
        match a {
            Value::String(s) => msg.extend_from_slice(&s.as_bytes()),
            Value::Integer(n) => msg.extend_from_slice(n.to_string().as_bytes()),
            Value::Number(n) => msg.extend_from_slice(lua_number_string(*n).as_bytes()),
            _ => {}
        }
    }
    Ok((level, msg))
}

// Redis 7.0 functions (FUNCTION LOAD, FCALL): see function.rs.
mod function;

#[cfg(test)]
mod tests;
