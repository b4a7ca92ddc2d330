//! The Lua debugger (Redis's LDB, `SCRIPT DEBUG` + `redis-cli --ldb`): a script runs under a
//! line hook that stops it, reports where, and serves the debugger's commands (step, continue,
//! list, print, break, trace, eval, redis, maxlen, abort) until one lets it go on.
//!
//! The engine knows nothing of the client: it exchanges log lines for commands through
//! [`DebugIo`]. The session's state is thread-local, as [`crate::Running`] is: the hook, the
//! `redis.debug`/`redis.breakpoint` functions and `redis.call`'s tracing find it there.
//! While the debugger serves a command it takes the state out, so that Lua code it runs
//! (`eval`, `redis`) is neither stopped nor traced, as in Redis.

use std::cell::RefCell;
use std::time::Instant;

use bytes::Bytes;
use mlua::{Function, Lua, MultiValue, Table, Value};

use crate::{format_g, Killed, Reply};

/// What the client sent when the debugger asked for a command.
pub enum DebugInput {
    Command(Vec<Bytes>),
    /// Something that is not a command array (an inline command, an empty array): the script
    /// is stopped with `ERR protocol error`, as Redis does.
    ProtocolError,
    /// The client went away: the script is stopped.
    Gone,
}

/// The debugging client, as the engine sees it.
pub trait DebugIo: Send {
    /// Sends `log` (the lines since the last exchange) as one reply and waits for the client's
    /// next command.
    fn exchange(&mut self, log: Vec<Vec<u8>>) -> DebugInput;
}

const DEFAULT_MAXLEN: usize = 256;
const MIN_MAXLEN: usize = 60;
const MAX_BREAKPOINTS: usize = 64;
/// How long a script runs without stopping before the debugger stops it as an infinite loop,
/// when `busy-reply-threshold` is 0.
const DEFAULT_TIMEOUT_MS: u64 = 5000;
const SCRIPT_SOURCE: &str = "@user_script";

pub(crate) struct Ldb {
    io: Box<dyn DebugIo>,
    /// The script's source, by line (line 1 first).
    source: Vec<Vec<u8>>,
    breakpoints: Vec<usize>,
    /// Stop at the next line.
    step: bool,
    /// `redis.breakpoint()` was called: stop at the next line, saying so.
    luabp: bool,
    current_line: usize,
    log: Vec<Vec<u8>>,
    /// Trim `<reply>`, `<value>` and `<retval>` lines to this many bytes (0: no limit).
    maxlen: usize,
    /// The hint about trimming was given, or the user set `maxlen` himself.
    maxlen_hint_sent: bool,
    start: Instant,
    timeout_ms: u64,
    /// `locals()`: names, values and count of the innermost script frame's locals.
    locals: Function,
    /// The scripts' globals (`print KEYS`, `eval`'s environment).
    globals: Table,
}

thread_local! {
    static LDB: RefCell<Option<Ldb>> = const { RefCell::new(None) };
}

/// The session of this thread while its script runs; cleared when dropped.
pub(crate) struct Session;

impl Session {
    pub(crate) fn start(
        io: Box<dyn DebugIo>,
        body: &[u8],
        timeout_ms: u64,
        locals: Function,
        globals: Table,
    ) -> Session {
        let mut source: Vec<Vec<u8>> = body.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
        // Trailing empty lines are not listed (as Redis: an empty script has no line at all).
        while source.last().is_some_and(Vec::is_empty) {
            source.pop();
        }
        let timeout_ms = if timeout_ms == 0 { DEFAULT_TIMEOUT_MS } else { timeout_ms };
        LDB.with(|l| {
            *l.borrow_mut() = Some(Ldb {
                io,
                source,
                breakpoints: Vec::new(),
                step: true,
                luabp: false,
                current_line: 0,
                log: Vec::new(),
                maxlen: DEFAULT_MAXLEN,
                maxlen_hint_sent: false,
                start: Instant::now(),
                timeout_ms,
                locals,
                globals,
            })
        });
        Session
    }

    /// What was logged since the last exchange (sent with the session's end).
    pub(crate) fn finish(self) -> Vec<Vec<u8>> {
        LDB.with(|l| l.borrow_mut().take()).map(|l| l.log).unwrap_or_default()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        LDB.with(|l| l.borrow_mut().take());
    }
}

/// Runs `f` on the session, if one is active and not busy serving a command.
fn with_ldb<R>(f: impl FnOnce(&mut Ldb) -> R) -> Option<R> {
    LDB.with(|l| l.try_borrow_mut().ok()?.as_mut().map(f))
}

/// The Lua helper that lists the locals of the innermost script frame, given `debug.getlocal`
/// and `debug.getinfo` (which the scripts themselves never see).
pub(crate) const LOCALS: &str = r#"
local getlocal, getinfo = ...
return function()
  for level = 2, 250 do
    local info = getinfo(level, "S")
    if not info then break end
    if info.source == "@user_script" then
      local names, values, i = {}, {}, 1
      while true do
        local name, value = getlocal(level, i)
        if not name then break end
        if name:sub(1, 12) ~= "(*temporary)" then
          names[#names + 1] = name
          values[#names] = value
        end
        i = i + 1
      end
      return names, values, #names
    end
  end
  return {}, {}, 0
end
"#;

/// The line hook (and count hook, for the infinite-loop check).
pub(crate) fn hook(lua: &Lua, debug: &mlua::debug::Debug) -> mlua::Result<mlua::VmState> {
    let count_event = matches!(debug.event(), mlua::debug::DebugEvent::Count);
    if debug.source().source.as_deref() != Some(SCRIPT_SOURCE) {
        return Ok(mlua::VmState::Continue);
    }
    let line = debug.current_line().unwrap_or(0);
    let Some(mut ldb) = LDB.with(|l| l.try_borrow_mut().ok().and_then(|mut l| l.take())) else {
        return Ok(mlua::VmState::Continue);
    };
    let result = stop_if_asked(lua, &mut ldb, line, count_event);
    LDB.with(|l| *l.borrow_mut() = Some(ldb));
    result.map(|()| mlua::VmState::Continue)
}

fn stop_if_asked(lua: &Lua, ldb: &mut Ldb, line: usize, count_event: bool) -> mlua::Result<()> {
    ldb.current_line = line;
    let bp = !count_event && ldb.breakpoints.contains(&line);
    let mut timeout = false;
    if count_event {
        if ldb.step || bp || ldb.luabp {
            return Ok(());
        }
        timeout = ldb.start.elapsed().as_millis() as u64 >= ldb.timeout_ms;
        if !timeout {
            return Ok(());
        }
    }
    if !(ldb.step || bp || ldb.luabp || timeout) {
        return Ok(());
    }
    let reason = if ldb.luabp {
        "redis.breakpoint() called"
    } else if bp {
        "break point"
    } else if timeout {
        "timeout reached, infinite loop?"
    } else {
        "step over"
    };
    ldb.step = false;
    ldb.luabp = false;
    ldb.log.push(format!("* Stopped at {line}, stop reason = {reason}").into_bytes());
    let l = ldb.source_line(line);
    ldb.log.push(l);
    repl(lua, ldb)
}

/// Serves the debugger's commands until one lets the script go on.
fn repl(lua: &Lua, ldb: &mut Ldb) -> mlua::Result<()> {
    loop {
        let log = std::mem::take(&mut ldb.log);
        let argv = match ldb.io.exchange(log) {
            DebugInput::Command(argv) => argv,
            DebugInput::ProtocolError => return Err(killed("ERR protocol error")),
            DebugInput::Gone => return Err(killed("ERR client gone")),
        };
        let Some(first) = argv.first() else { return Err(killed("ERR protocol error")) };
        let name = String::from_utf8_lossy(first).to_ascii_lowercase();
        let arg = |i: usize| argv.get(i).map(|a| String::from_utf8_lossy(a).into_owned());
        match name.as_str() {
            "h" | "help" => {
                for l in HELP {
                    ldb.log.push(l.as_bytes().to_vec());
                }
            }
            "s" | "step" | "n" | "next" => {
                ldb.step = true;
                return Ok(());
            }
            "c" | "continue" => return Ok(()),
            "t" | "trace" => ldb.trace(lua),
            "m" | "maxlen" => {
                if argv.len() == 2 {
                    ldb.maxlen_hint_sent = true;
                    let n = atoi(&argv[1]);
                    ldb.maxlen =
                        if n != 0 && n <= MIN_MAXLEN as i64 { MIN_MAXLEN } else { n as usize };
                }
                let msg = match ldb.maxlen {
                    0 => "<value> replies are unlimited.".to_string(),
                    n => format!("<value> replies are truncated at {n} bytes."),
                };
                ldb.log.push(msg.into_bytes());
            }
            "b" | "break" => ldb.breaks(&argv[1..]),
            "e" | "eval" => {
                let code = argv[1..].iter().map(|a| a.to_vec()).collect::<Vec<_>>().join(&b' ');
                ldb.eval(lua, &code)?;
            }
            "a" | "abort" => return Err(killed("ERR script aborted for user request")),
            "l" | "list" => {
                let around = arg(1).map_or(0, |a| atoi(a.as_bytes()));
                let ctx = arg(2).map_or(5, |a| atoi(a.as_bytes()));
                ldb.list(around, ctx);
            }
            "w" | "whole" => ldb.list(1, 1_000_000),
            "p" | "print" if argv.len() == 2 => ldb.print_var(lua, &argv[1])?,
            "p" | "print" => ldb.print_all()?,
            "r" | "redis" if argv.len() > 1 => {
                let argv = argv[1..].to_vec();
                ldb.log.push(redis_line(&argv));
                let traced = crate::Running::with(|h, resp3| {
                    let r = h.call(argv);
                    (r, h.error_counted(), *resp3)
                });
                if let Some((r, ran, resp3)) = traced {
                    ldb.log_reply(&r, ran, resp3);
                }
            }
            _ => ldb.log.push(
                b"<error> Unknown Redis Lua debugger command or wrong number of arguments."
                    .to_vec(),
            ),
        }
    }
}

const HELP: &[&str] = &[
    "Redis Lua debugger help:",
    "[h]elp               Show this help.",
    "[s]tep               Run current line and stop again.",
    "[n]ext               Alias for step.",
    "[c]ontinue           Run till next breakpoint.",
    "[l]ist               List source code around current line.",
    "[l]ist [line]        List source code around [line].",
    "                     line = 0 means: current position.",
    "[l]ist [line] [ctx]  In this form [ctx] specifies how many lines",
    "                     to show before/after [line].",
    "[w]hole              List all source code. Alias for 'list 1 1000000'.",
    "[p]rint              Show all the local variables.",
    "[p]rint <var>        Show the value of the specified variable.",
    "                     Can also show global vars KEYS and ARGV.",
    "[b]reak              Show all breakpoints.",
    "[b]reak <line>       Add a breakpoint to the specified line.",
    "[b]reak -<line>      Remove breakpoint from the specified line.",
    "[b]reak 0            Remove all breakpoints.",
    "[t]race              Show a backtrace.",
    "[e]val <code>        Execute some Lua code (in a different callframe).",
    "[r]edis <cmd>        Execute a Redis command.",
    "[m]axlen [len]       Trim logged Redis replies and Lua var dumps to len.",
    "                     Specifying zero as <len> means unlimited.",
    "[a]bort              Stop the execution of the script. In sync",
    "                     mode dataset changes will be retained.",
    "",
    "Debugger functions you can call from Lua scripts:",
    "redis.debug()        Produce logs in the debugger console.",
    "redis.breakpoint()   Stop execution like if there was a breakpoint in the",
    "                     next line of code.",
];

/// An error that stops the script and that `pcall` cannot catch (as SCRIPT KILL's).
fn killed(msg: &str) -> mlua::Error {
    mlua::Error::external(Killed(msg.to_string()))
}

/// C's `atoi`: leading blanks, a sign, digits; 0 when there are none.
fn atoi(s: &[u8]) -> i64 {
    let s = std::str::from_utf8(s).unwrap_or("").trim_start();
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).take(18).collect();
    let n = digits.parse::<i64>().unwrap_or(0);
    if neg {
        -n
    } else {
        n
    }
}

impl Ldb {
    fn source_line(&self, line: usize) -> Vec<u8> {
        let current = line == self.current_line;
        let bp = self.breakpoints.contains(&line);
        let prefix = match (current, bp) {
            (true, true) => "->#",
            (true, false) => "-> ",
            (false, true) => "  #",
            (false, false) => "   ",
        };
        let mut out = format!("{prefix}{line:<3} ").into_bytes();
        match line.checked_sub(1).and_then(|i| self.source.get(i)) {
            Some(src) => out.extend_from_slice(src),
            None => out.extend_from_slice(b"<out of range source code line>"),
        }
        out
    }

    fn list(&mut self, around: i64, context: i64) {
        let around = if around <= 0 { self.current_line as i64 } else { around };
        for line in 1..=self.source.len() {
            if (line as i64 - around).abs() <= context {
                let l = self.source_line(line);
                self.log.push(l);
            }
        }
    }

    /// Logs `line`, trimmed to `maxlen` (with a hint, the first time).
    fn log_trimmed(&mut self, mut line: Vec<u8>) {
        if self.maxlen != 0 && line.len() > self.maxlen {
            line.truncate(self.maxlen);
            line.extend_from_slice(b" ...");
            self.log.push(line);
            if !self.maxlen_hint_sent {
                self.maxlen_hint_sent = true;
                self.log.push(
                    b"<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming."
                        .to_vec(),
                );
            }
        } else {
            self.log.push(line);
        }
    }

    /// What a command run for the script (or by `redis`) gave: `ran` says whether it ran (a
    /// refused one is only an `<error>`).
    fn log_reply(&mut self, r: &Reply, ran: bool, resp3: bool) {
        if let Reply::Error(e) = r {
            if !ran {
                let e = e.strip_prefix(b"ERR ").unwrap_or(e);
                self.log.push([&b"<error> "[..], e].concat());
                return;
            }
            self.log.push([&b"<error> -"[..], e].concat());
        }
        let mut line = b"<reply> ".to_vec();
        reply_human(r, resp3, &mut line);
        self.log_trimmed(line);
    }

    fn breaks(&mut self, args: &[Bytes]) {
        if args.is_empty() {
            if self.breakpoints.is_empty() {
                self.log.push(b"No breakpoints set. Use 'b <line>' to add one.".to_vec());
            } else {
                self.log.push(format!("{} breakpoints set:", self.breakpoints.len()).into_bytes());
                for line in self.breakpoints.clone() {
                    let l = self.source_line(line);
                    self.log.push(l);
                }
            }
            return;
        }
        for a in args {
            let Some(n) = std::str::from_utf8(a).ok().and_then(|s| s.parse::<i64>().ok()) else {
                let msg = [&b"Invalid argument:'"[..], a, b"'"].concat();
                self.log.push(msg);
                continue;
            };
            if n == 0 {
                self.breakpoints.clear();
                self.log.push(b"All breakpoints removed.".to_vec());
            } else if n > 0 {
                let line = n as usize;
                if line <= self.source.len()
                    && !self.breakpoints.contains(&line)
                    && self.breakpoints.len() < MAX_BREAKPOINTS
                {
                    self.breakpoints.push(line);
                    self.list(n, 1);
                } else {
                    self.log.push(b"Wrong line number.".to_vec());
                }
            } else {
                let line = n.unsigned_abs() as usize;
                match self.breakpoints.iter().position(|&b| b == line) {
                    Some(i) => {
                        self.breakpoints.remove(i);
                        self.log.push(b"Breakpoint removed.".to_vec());
                    }
                    None => self.log.push(b"No breakpoint in the specified line.".to_vec()),
                }
            }
        }
    }

    fn trace(&mut self, lua: &Lua) {
        let mut first = true;
        for level in 0.. {
            let Some(frame) = lua.inspect_stack(level, |d| {
                let ours = d.source().source.as_deref() == Some(SCRIPT_SOURCE);
                let name = d.names().name.map(|n| n.into_owned());
                (ours, name, d.current_line())
            }) else {
                break;
            };
            let (ours, name, line) = frame;
            if !ours {
                continue;
            }
            let name = name.unwrap_or_else(|| "top level".into());
            let which = if first { "In" } else { "From" };
            first = false;
            self.log.push(format!("{which} {name}:").into_bytes());
            let l = self.source_line(line.unwrap_or(0));
            self.log.push(l);
        }
    }

    fn locals(&self) -> mlua::Result<Vec<(String, Value)>> {
        let (names, values, n): (Table, Table, usize) = self.locals.call(())?;
        let mut out = Vec::with_capacity(n);
        for i in 1..=n {
            out.push((names.raw_get::<String>(i)?, values.raw_get::<Value>(i)?));
        }
        Ok(out)
    }

    fn print_all(&mut self) -> mlua::Result<()> {
        let locals = self.locals()?;
        if locals.is_empty() {
            self.log.push(b"No local variables in the current context.".to_vec());
        }
        for (name, v) in locals {
            let mut line = format!("<value> {name} = ").into_bytes();
            repr_value(&v, &mut line);
            self.log_trimmed(line);
        }
        Ok(())
    }

    fn print_var(&mut self, lua: &Lua, var: &[u8]) -> mlua::Result<()> {
        let found = self.locals()?.into_iter().rev().find(|(n, _)| n.as_bytes() == var);
        let value = match found {
            Some((_, v)) => Some(v),
            None => match self.globals.raw_get::<Value>(lua.create_string(var)?)? {
                Value::Nil => None,
                v => Some(v),
            },
        };
        match value {
            Some(v) => {
                let mut line = b"<value> ".to_vec();
                repr_value(&v, &mut line);
                self.log_trimmed(line);
            }
            None => self.log.push(b"No such variable.".to_vec()),
        }
        Ok(())
    }

    /// `eval <code>`: as an expression (`return <code>`) if that compiles, else as statements,
    /// in a chunk of its own with the scripts' globals.
    fn eval(&mut self, lua: &Lua, code: &[u8]) -> mlua::Result<()> {
        let compile = |src: &[u8]| {
            lua.load(src)
                .set_name("@ldb_eval")
                .set_environment(self.globals.clone())
                .into_function()
        };
        let func = match compile(&[&b"return "[..], code].concat()) {
            Ok(f) => f,
            Err(_) => match compile(code) {
                Ok(f) => f,
                Err(e) => {
                    self.log.push(format!("<error> {}", error_text(&e)).into_bytes());
                    return Ok(());
                }
            },
        };
        match func.call::<MultiValue>(()) {
            Ok(values) => {
                let mut line = b"<retval> ".to_vec();
                repr_value(values.front().unwrap_or(&Value::Nil), &mut line);
                self.log_trimmed(line);
            }
            Err(e) => {
                if crate::is_killed(&e) {
                    return Err(e);
                }
                self.log.push(format!("<error> {}", error_text(&e)).into_bytes());
            }
        }
        Ok(())
    }
}

fn error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::CallbackError { cause, .. } => error_text(cause),
        // Without the traceback mlua's call adds.
        mlua::Error::RuntimeError(s) => match s.find("\nstack traceback:") {
            Some(i) => s[..i].to_string(),
            None => s.clone(),
        },
        e => e.to_string(),
    }
}

/// `<redis> arg arg ...`.
fn redis_line(argv: &[Bytes]) -> Vec<u8> {
    let mut line = b"<redis>".to_vec();
    for a in argv {
        line.push(b' ');
        line.extend_from_slice(a);
    }
    line
}

/// Whether `redis.call` should log the commands it runs (the session is stepping).
pub(crate) fn tracing_calls() -> bool {
    // Asked by every `redis.call`: a shared borrow, nothing written.
    LDB.with(|l| l.try_borrow().is_ok_and(|l| l.as_ref().is_some_and(|l| l.step)))
}

/// Logs a command the script ran while stepping, and its reply.
pub(crate) fn trace_call(argv: &[Bytes], r: &Reply, ran: bool, resp3: bool) {
    with_ldb(|l| {
        l.log.push(redis_line(argv));
        l.log_reply(r, ran, resp3);
    });
}

/// `redis.debug(...)`: logs its arguments; nothing outside a debugging session.
pub(crate) fn debug_call(lua: &Lua, args: &MultiValue) {
    let line = crate::user_line(lua).unwrap_or(0);
    with_ldb(|l| {
        let mut out = format!("<debug> line {line}: ").into_bytes();
        for (i, v) in args.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            repr_value(v, &mut out);
        }
        l.log.push(out);
    });
}

/// `redis.breakpoint()`: stops at the next line; false outside a debugging session.
pub(crate) fn breakpoint_call() -> bool {
    with_ldb(|l| l.luabp = true).is_some()
}

/// A byte string as Redis's `sdscatrepr` writes it: quoted, with C escapes.
pub fn repr_bytes(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// A Lua value as the debugger shows it: tables that are sequences as `{a; b}`, others as
/// `{[k]=v; ...}`, numbers as Lua prints them.
fn repr_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Nil => out.extend_from_slice(b"nil"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        // As C's `%g`, as Redis prints them.
        Value::Integer(n) => out.extend_from_slice(format_g(*n as f64, 6).as_bytes()),
        Value::Number(n) => out.extend_from_slice(format_g(*n, 6).as_bytes()),
        Value::String(s) => repr_bytes(&s.as_bytes(), out),
        Value::Table(t) => {
            let mut pairs = Vec::new();
            let mut sequence = true;
            for (i, pair) in t.clone().pairs::<Value, Value>().enumerate() {
                let Ok((k, v)) = pair else { continue };
                let expected = (i + 1) as f64;
                let is_next = match &k {
                    Value::Integer(n) => *n as f64 == expected,
                    Value::Number(n) => *n == expected,
                    _ => false,
                };
                sequence &= is_next;
                pairs.push((k, v));
            }
            out.push(b'{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b"; ");
                }
                if !sequence {
                    out.push(b'[');
                    repr_value(k, out);
                    out.extend_from_slice(b"]=");
                }
                repr_value(v, out);
            }
            out.push(b'}');
        }
        other => {
            let s = format!("{}@{:p}", other.type_name(), other.to_pointer());
            repr_bytes(s.as_bytes(), out);
        }
    }
}

/// A command's reply as the debugger logs it: `"+OK"`, `"-ERR ..."`, `"bulk"`, `12`,
/// `NULL` (`(null)` in RESP3), `[a,b]`, `{k => v,...}`, `~(a,b)`, `(double) 1.5`.
fn reply_human(r: &Reply, resp3: bool, out: &mut Vec<u8>) {
    let list = |items: &[Reply], out: &mut Vec<u8>| {
        for (i, x) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            reply_human(x, resp3, out);
        }
    };
    match r {
        Reply::Status(s) => repr_bytes(&[&b"+"[..], s].concat(), out),
        Reply::Error(e) => repr_bytes(&[&b"-"[..], e].concat(), out),
        Reply::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Reply::Bulk(b) => repr_bytes(b, out),
        Reply::Null | Reply::NullArray => {
            out.extend_from_slice(if resp3 { b"(null)" } else { b"NULL" })
        }
        Reply::Array(items) => {
            out.push(b'[');
            list(items, out);
            out.push(b']');
        }
        Reply::Set(items) => {
            out.extend_from_slice(b"~(");
            list(items, out);
            out.push(b')');
        }
        Reply::Map(pairs) => {
            out.push(b'{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                reply_human(k, resp3, out);
                out.extend_from_slice(b" => ");
                reply_human(v, resp3, out);
            }
            out.push(b'}');
        }
        Reply::Double(d) => {
            out.extend_from_slice(b"(double) ");
            out.extend_from_slice(crate::format_double(*d).as_bytes());
        }
        Reply::Bool(b) => out.extend_from_slice(if *b { b"#true" } else { b"#false" }),
        Reply::BigNumber(n) => {
            out.extend_from_slice(b"(big number) ");
            out.extend_from_slice(n);
        }
    }
}

/// Makes the Lua helper that lists a frame's locals, from a state that has the debug library.
pub(crate) fn make_locals(lua: &Lua) -> mlua::Result<Function> {
    let debug: Table = lua.globals().get("debug")?;
    let getlocal: Function = debug.get("getlocal")?;
    let getinfo: Function = debug.get("getinfo")?;
    lua.load(LOCALS).set_name("=ldb").call::<Function>((getlocal, getinfo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_escapes_like_sdscatrepr() {
        let mut out = Vec::new();
        repr_bytes(b"a\"b\n\0c\\\x7f", &mut out);
        assert_eq!(out, b"\"a\\\"b\\n\\x00c\\\\\\x7f\"");
    }

    #[test]
    fn atoi_reads_like_c() {
        assert_eq!(atoi(b" 12x"), 12);
        assert_eq!(atoi(b"-5"), -5);
        assert_eq!(atoi(b"x"), 0);
    }

    #[test]
    fn replies_read_as_redis_logs_them() {
        let r = Reply::Array(vec![
            Reply::Bulk(b"m".to_vec()),
            Reply::Double(1.0),
            Reply::Null,
            Reply::Status(b"OK".to_vec()),
        ]);
        let mut out = Vec::new();
        reply_human(&r, true, &mut out);
        assert_eq!(out, b"[\"m\",(double) 1,(null),\"+OK\"]");
        let mut out = Vec::new();
        reply_human(&Reply::Map(vec![(Reply::Bulk(b"a".to_vec()), Reply::Int(1))]), true, &mut out);
        assert_eq!(out, b"{\"a\" => 1}");
    }
}
