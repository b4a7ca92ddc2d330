//! How a script or a library's function is called: its keys and arguments go onto the Lua stack
//! as the runner's arguments and the runner (Lua code) builds KEYS and ARGV from them, and a
//! plain value the script returns is read off the stack as a reply. Through mlua's generic
//! paths each key, each table and the returned value would be an API operation of its own
//! (a lock and a reference slot each), which made an EVALSHA cost markedly more than Redis's.

use std::ffi::c_int;

use mlua::{ffi, FromLuaMulti, Function, IntoLua, IntoLuaMulti, Lua, MultiValue, Table, Value};

use crate::{number_to_int, Reply};

/// Set up once per Lua state, given `xpcall`, the cached scripts' functions by slot, the
/// scripts' globals (read-only), the error handler and `setreadonly`. Returns four functions:
/// - `protected(f, handler)`: `xpcall(f, handler)`;
/// - `script(slot, nkeys, nargs, ...)`: sets KEYS and ARGV from the `...` (the keys first),
///   then runs the cached script `funcs[slot]` under the handler;
/// - `call(f, nkeys, nargs, ...)`: runs `f(KEYS, ARGV)` under the handler, as FCALL does;
/// - `forget()`: empties KEYS and ARGV, so that the garbage collector may take the last ones.
///
/// With `nkeys < 0` the engine made the two tables itself (too many items for the stack): the
/// runners get them as their two arguments.
pub(crate) const RUNNER: &str = r#"
local xpcall, funcs, backing, h, setro = ...
-- The globals are unlocked only for two assignments to keys that exist (the prelude made them),
-- which cannot fail: nothing else can run meanwhile.
local function setargs(keys, argv)
  setro(backing, false)
  backing.KEYS, backing.ARGV = keys, argv
  setro(backing, true)
end
-- The keys stay where the constructor put them and the rest moves to ARGV: the length of KEYS
-- is then nkeys (the only border of its array part).
local function split(nkeys, nargs, ...)
  local keys, argv = {...}, {}
  for i = 1, nargs do
    argv[i] = keys[nkeys + i]
    keys[nkeys + i] = nil
  end
  return keys, argv
end
local function protected(f, handler)
  return xpcall(f, handler)
end
-- `script` and `call` each make KEYS and ARGV inline: a shared helper taking the varargs costs
-- one more call per run, measurable on an EVALSHA.
local function script(slot, nkeys, nargs, ...)
  if nargs == 0 then setargs({...}, {})
  elseif nkeys == 0 then setargs({}, {...})
  elseif nkeys > 0 then setargs(split(nkeys, nargs, ...))
  else setargs(...)
  end
  return xpcall(funcs[slot], h)
end
local function call(f, nkeys, nargs, ...)
  local keys, argv
  if nargs == 0 then keys, argv = {...}, {}
  elseif nkeys == 0 then keys, argv = {}, {...}
  elseif nkeys > 0 then keys, argv = split(nkeys, nargs, ...)
  else keys, argv = ...
  end
  return xpcall(function() return f(keys, argv) end, h)
end
local function forget() setargs({}, {}) end
return protected, script, call, forget
"#;

/// The most keys and arguments passed on the Lua stack: Lua 5.1 refuses to grow a C
/// function's stack past 8,000 slots. Beyond it the engine makes the tables itself.
pub(crate) const MAX_STACK_ITEMS: usize = 4096;

/// What the runner runs: a cached script (by its slot) or a library's function.
#[derive(Clone, Copy)]
pub(crate) enum Callee<'a> {
    Slot(u32),
    Func(&'a Function),
}

/// The runner's arguments.
pub(crate) enum RunArgs<'a> {
    /// Keys and arguments as Lua strings pushed straight onto the stack. Made only by
    /// [`RunArgs::on_stack`].
    Stack { callee: Callee<'a>, keys: &'a [&'a [u8]], args: &'a [&'a [u8]] },
    /// KEYS and ARGV made already (`nkeys` and `nargs` = -1 tell the runner).
    Tables { callee: Callee<'a>, keys: Table, args: Table },
}

impl<'a> RunArgs<'a> {
    /// The keys and arguments to be pushed onto the stack, or `None` when they must go as
    /// tables: too many, or more than half the `room` the heap cap leaves.
    ///
    /// Pushing a string outside a protected call is sound only when no allocation can fail
    /// (a failure would raise a Lua error with nowhere to go): below the cap none does, as
    /// mlua's own direct pushes rely on when no cap is set. Besides the strings and the stack,
    /// a push may run a garbage-collection step, whose end shrinks the string table into a new
    /// array of at most a pointer per string (under half the heap in use); the engine starts a
    /// run with at most half the cap in use, so half the room left covers that too.
    pub(crate) fn on_stack(
        room: usize,
        callee: Callee<'a>,
        keys: &'a [&'a [u8]],
        args: &'a [&'a [u8]],
    ) -> Option<RunArgs<'a>> {
        let n = keys.len() + args.len();
        if n > MAX_STACK_ITEMS {
            return None;
        }
        // A string's header and terminator, the stack slots, and some to spare.
        let bytes: usize = keys.iter().chain(args).map(|a| a.len() + 32).sum();
        (bytes + (n + 16) * 16 + 4096 < room / 2).then_some(RunArgs::Stack { callee, keys, args })
    }
}

impl IntoLua for Callee<'_> {
    fn into_lua(self, _lua: &Lua) -> mlua::Result<Value> {
        Ok(match self {
            Callee::Slot(s) => Value::Integer(s.into()),
            Callee::Func(f) => Value::Function(f.clone()),
        })
    }

    unsafe fn push_into_stack(self, lua: &mlua::state::RawLua) -> mlua::Result<()> {
        match self {
            // SAFETY: mlua calls this with stack space for one value checked; pushing a
            // number allocates nothing.
            Callee::Slot(s) => unsafe { ffi::lua_pushinteger(lua.state(), s as ffi::lua_Integer) },
            // SAFETY: as above; mlua's own push of a function handle.
            Callee::Func(f) => unsafe { f.push_into_stack(lua)? },
        }
        Ok(())
    }
}

impl IntoLuaMulti for RunArgs<'_> {
    fn into_lua_multi(self, lua: &Lua) -> mlua::Result<MultiValue> {
        let mut mv = MultiValue::new();
        match self {
            RunArgs::Stack { callee, keys, args } => {
                mv.push_back(callee.into_lua(lua)?);
                mv.push_back(Value::Integer(keys.len() as i64));
                mv.push_back(Value::Integer(args.len() as i64));
                for a in keys.iter().chain(args) {
                    mv.push_back(Value::String(lua.create_string(a)?));
                }
            }
            RunArgs::Tables { callee, keys, args } => {
                mv.push_back(callee.into_lua(lua)?);
                mv.push_back(Value::Integer(-1));
                mv.push_back(Value::Integer(-1));
                mv.push_back(Value::Table(keys));
                mv.push_back(Value::Table(args));
            }
        }
        Ok(mv)
    }

    unsafe fn push_into_stack_multi(self, lua: &mlua::state::RawLua) -> mlua::Result<c_int> {
        let (callee, keys, args) = match self {
            // SAFETY: mlua's own pushes of two values and two table handles.
            RunArgs::Tables { callee, keys, args } => {
                return unsafe { (callee, -1, -1, keys, args).push_into_stack_multi(lua) }
            }
            RunArgs::Stack { callee, keys, args } => (callee, keys, args),
        };
        let state = lua.state();
        let n = 3 + keys.len() + args.len();
        // SAFETY: `state` is the running state mlua hands us, its lock held by the caller.
        // `n` is at most MAX_STACK_ITEMS + 3, within what lua_checkstack grants; growing the
        // stack and making the strings allocate, which cannot fail: `RunArgs::Stack` is made
        // only by `RunArgs::on_stack`, after checking the heap cap leaves room for all of it
        // (mlua's own pushes before ours, of handles, allocate nothing). Each pointer is valid
        // for its length; Lua copies the bytes.
        unsafe {
            if ffi::lua_checkstack(state, n as c_int + 1) == 0 {
                return Err(mlua::Error::StackError);
            }
            callee.push_into_stack(lua)?;
            ffi::lua_pushinteger(state, keys.len() as ffi::lua_Integer);
            ffi::lua_pushinteger(state, args.len() as ffi::lua_Integer);
            for a in keys.iter().chain(args) {
                ffi::lua_pushlstring(state, a.as_ptr().cast(), a.len());
            }
        }
        Ok(n as c_int)
    }
}

/// What a runner returned (`ok, value...` from xpcall): a reply read off the stack when the
/// script succeeded with a plain value, else the values for the engine to look into.
pub(crate) enum RunResult {
    Reply(Reply),
    Values(MultiValue),
}

impl FromLuaMulti for RunResult {
    fn from_lua_multi(values: MultiValue, _lua: &Lua) -> mlua::Result<Self> {
        Ok(RunResult::Values(values))
    }

    unsafe fn from_stack_multi(nvals: c_int, lua: &mlua::state::RawLua) -> mlua::Result<Self> {
        let state = lua.state();
        // SAFETY: mlua calls this with the `nvals` results on top of the stack of `state`.
        // Reading a value's type, truth or number raises no Lua error, nor does
        // `lua_tolstring` on a string (it converts nothing); its pointer is valid for `len`
        // bytes while the string is on the stack, which it stays for the copy.
        let reply = unsafe {
            if nvals < 1 || ffi::lua_toboolean(state, -nvals) == 0 {
                None
            } else if nvals == 1 {
                Some(Reply::Null)
            } else {
                let idx = 1 - nvals;
                // The rules of `crate::lua_to_reply` for numbers, strings and nil. Booleans
                // depend on redis.setresp: they take the slow path.
                match ffi::lua_type(state, idx) {
                    ffi::LUA_TNUMBER => {
                        Some(Reply::Int(number_to_int(ffi::lua_tonumber(state, idx))))
                    }
                    ffi::LUA_TSTRING => {
                        let mut len = 0;
                        let p = ffi::lua_tolstring(state, idx, &mut len) as *const u8;
                        Some(Reply::Bulk(std::slice::from_raw_parts(p, len).to_vec()))
                    }
                    ffi::LUA_TNIL => Some(Reply::Null),
                    _ => None,
                }
            }
        };
        match reply {
            Some(r) => Ok(RunResult::Reply(r)),
            // SAFETY: as above; mlua's own reading of the values.
            None => unsafe { MultiValue::from_stack_multi(nvals, lua) }.map(RunResult::Values),
        }
    }
}
