//! Lua scripts: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT.
//!
//! The engine (the `vireo-scripting` crate) holds the Lua state and the script cache; it reaches
//! the keyspace only through [`ScriptHost`], implemented here by running each `redis.call`
//! through the dispatcher as a client flagged like EXEC's inner commands. A script runs under
//! the keyspace lock its connection already holds, so nothing else runs until it ends; what it
//! wrote propagates as the commands it ran, wrapped in MULTI/EXEC when more than one, as Redis
//! 7.0's effects replication.

use std::sync::Arc;

use bytes::Bytes;
use vireo_scripting::{Engine, Reply, ScriptHost};

use super::spec::CmdFlags;
use super::{Ctx, Handler, Lookup};
use crate::acl::Denied;
use crate::client::Client;
use crate::error::{CmdResult, Error};
use crate::script_run::Kind;
use crate::server::{Core, Server};

pub const HANDLERS: &[(&str, Handler)] = &[
    ("eval", eval),
    ("evalsha", evalsha),
    ("eval_ro", eval_ro),
    ("evalsha_ro", evalsha_ro),
    ("script|load", script_load),
    ("script|exists", script_exists),
    ("script|flush", script_flush),
    ("script|kill", script_kill),
    ("script|debug", super::ldb::script_debug),
    ("script|help", script_help),
];

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// The Lua heap's cap (Redis has none; its scripts fail only when the process's allocation
/// does). A script beyond it gets `not enough memory`.
pub const LUA_HEAP_LIMIT: usize = 1 << 30;

/// The engine, created on first use (a server that runs no script pays nothing for Lua).
fn engine<'a>(server: &Server, core: &'a mut Core) -> Result<&'a mut Engine, Error> {
    if core.scripts.is_none() {
        let mut e = Engine::new().map_err(|e| Error(format!("ERR Lua engine: {e}").into()))?;
        // The Lua heap is capped so that a runaway script fails instead of the server.
        let limit = LUA_HEAP_LIMIT;
        e.set_memory_limit(limit).map_err(|e| Error(format!("ERR Lua engine: {e}").into()))?;
        e.set_watchdog(server.script.clone())
            .map_err(|e| Error(format!("ERR Lua engine: {e}").into()))?;
        core.scripts = Some(Box::new(e));
    }
    Ok(core.scripts.as_mut().expect("created above"))
}

/// EVAL script numkeys [key [key ...]] [arg [arg ...]]
fn eval(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    run_script(ctx, argv, false, false)
}

/// EVALSHA sha1 numkeys [key [key ...]] [arg [arg ...]]
fn evalsha(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    run_script(ctx, argv, true, false)
}

/// EVAL_RO script numkeys [key [key ...]] [arg [arg ...]]
fn eval_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    run_script(ctx, argv, false, true)
}

/// EVALSHA_RO sha1 numkeys [key [key ...]] [arg [arg ...]]
fn evalsha_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    run_script(ctx, argv, true, true)
}

fn run_script(ctx: &mut Ctx, argv: &[Bytes], by_sha: bool, ro: bool) -> CmdResult {
    let numkeys = numkeys(argv, Error::NOT_INT)?;
    // A debugging session (SCRIPT DEBUG); not inside MULTI/EXEC, where the script just runs.
    if let Some(mode) = ctx.client.lua_debug.filter(|_| !ctx.client.in_exec) {
        if by_sha {
            return Err(Error::msg("ERR Please use EVAL instead of EVALSHA for debugging"));
        }
        // A shebang the engine refuses is its compile error, reported when the session ends.
        let flags = vireo_scripting::parse_shebang(&argv[1]).map(|(f, _)| f).unwrap_or_default();
        let (read_only, oom) = script_limits(ctx, &flags, ro)?;
        return super::ldb::start(ctx, argv, numkeys, read_only, oom, mode);
    }
    let eng = engine(ctx.server, ctx.core)?;
    let loaded;
    let sha: &[u8] = if by_sha {
        &argv[1]
    } else {
        loaded = eng.load(&argv[1]).map_err(|e| Error(e.into()))?;
        loaded.as_bytes()
    };
    let Some(script) = eng.find(sha) else { return Err(Error::msg(NOSCRIPT)) };
    let (read_only, oom) = script_limits(ctx, &script.flags, ro)?;
    let keys: Vec<&[u8]> = argv[3..3 + numkeys].iter().map(|a| &a[..]).collect();
    let args: Vec<&[u8]> = argv[3 + numkeys..].iter().map(|a| &a[..]).collect();
    let mut eng = ctx.core.scripts.take().expect("created above");
    let outcome = with_host(ctx, Kind::Eval, argv, read_only, oom, |h| {
        eng.run_script(&script, &keys, &args, h)
    });
    ctx.core.scripts = Some(eng);
    finish(ctx, outcome)
}

/// What an EVAL's script (`ro`: EVAL_RO) may do, from its shebang flags: (read-only, over
/// maxmemory). Over maxmemory, as Redis: a script with a shebang and without allow-oom does not
/// run; one without a shebang runs, and its commands that may grow memory are refused.
fn script_limits(
    ctx: &mut Ctx,
    flags: &vireo_scripting::ScriptFlags,
    ro: bool,
) -> Result<(bool, bool), Error> {
    let oom = over_maxmemory(ctx, flags);
    if oom && flags.shebang && !flags.no_writes && !ro {
        return Err(Error::msg(crate::keyspace::evict::OOM_ERROR));
    }
    Ok((ro || flags.no_writes, oom))
}

/// The `numkeys` argument of EVAL and FCALL (`bad` when it is not an integer).
pub(super) fn numkeys(argv: &[Bytes], bad: Error) -> Result<usize, Error> {
    let numkeys = crate::util::num::parse_i64(&argv[2]).ok_or(bad)?;
    if numkeys > (argv.len() - 3) as i64 {
        return Err(Error::msg("ERR Number of keys can't be greater than number of args"));
    }
    if numkeys < 0 {
        return Err(Error::msg("ERR Number of keys can't be negative"));
    }
    Ok(numkeys as usize)
}

/// Whether the server is over maxmemory (after trying to evict) for a script with `flags`.
pub(super) fn over_maxmemory(ctx: &mut Ctx, flags: &vireo_scripting::ScriptFlags) -> bool {
    ctx.core.cfg.maxmemory > 0
        && !flags.allow_oom
        && crate::keyspace::evict::perform(ctx.server, ctx.core)
            == crate::keyspace::evict::Outcome::Fail
}

/// Runs `run` (a script or a function) with a [`Host`] for the client of `ctx`: MONITOR sees
/// the calling command first, and the commands it runs propagate (wrapped in MULTI/EXEC when
/// more than one) instead of it.
pub(super) fn with_host<R>(
    ctx: &mut Ctx,
    kind: crate::script_run::Kind,
    argv: &[Bytes],
    read_only: bool,
    oom: bool,
    run: impl FnOnce(&mut Host) -> R,
) -> R {
    // EVAL is flagged skip-monitor so that it can show before the commands it runs, as Redis.
    if !ctx.core.monitors.is_empty() {
        let origin = super::ops::monitor_origin(ctx.core, ctx.client);
        super::ops::feed_monitors(ctx.core, ctx.client.db, &origin, argv);
    }
    // EVAL itself never propagates, nor signals its declared keys modified: the commands the
    // script ran do.
    ctx.propagate_as = Some(Vec::new());
    ctx.touched_own = true;
    let wrap = !ctx.core.prop.in_transaction();
    if wrap {
        ctx.core.prop.begin_transaction();
    }
    let mut lua_client = Client::for_script(ctx.client, ctx.now);
    let mut host = Host::new(ctx.server, ctx.core, &mut lua_client, read_only, oom);
    let threshold = host.core.cfg.busy_reply_threshold;
    ctx.server.script.set_auth_required(!host.core.acl.default_needs_no_auth());
    ctx.server.script.begin(kind, threshold, ctx.now);
    // A script that runs long gives its runtime worker away (see script_run's watchdog), so
    // that connections stay served (BUSY, SCRIPT KILL); a short one costs nothing for it.
    let r = run(&mut host);
    ctx.server.script.end();
    ctx.core.prop.suppressed = false;
    if wrap {
        ctx.core.prop.end_transaction();
    }
    r
}

/// Writes what a script or a function gave as the reply.
pub(super) fn finish(ctx: &mut Ctx, outcome: vireo_scripting::Outcome) -> CmdResult {
    match outcome.reply {
        Reply::Error(e) => {
            let msg: String = String::from_utf8_lossy(&e)
                .chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                .collect();
            if outcome.error_counted {
                // Counted when the command failed; Redis does not count it twice.
                ctx.out.error(&msg);
                return Ok(());
            }
            Err(Error(msg.into()))
        }
        r => {
            // Errors inside an array reply count as error replies, as in Redis.
            count_nested_errors(ctx.core, &r);
            let resp3 = ctx.out.is_resp3();
            r.encode(ctx.out.buf, resp3);
            Ok(())
        }
    }
}

fn count_nested_errors(core: &mut Core, r: &Reply) {
    match r {
        Reply::Error(e) => {
            super::count_error(core, &Error(String::from_utf8_lossy(e).into_owned().into()))
        }
        Reply::Array(items) | Reply::Set(items) => {
            items.iter().for_each(|i| count_nested_errors(core, i))
        }
        Reply::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            count_nested_errors(core, k);
            count_nested_errors(core, v);
        }),
        _ => {}
    }
}

/// What a running script calls the server through.
pub(super) struct Host<'a> {
    server: &'a Arc<Server>,
    core: &'a mut Core,
    client: &'a mut Client,
    read_only: bool,
    /// Over maxmemory when the script started: `denyoom` commands are refused.
    oom: bool,
    out: Vec<u8>,
    /// The last call ran through the dispatcher (its error, if any, is counted).
    ran: bool,
}

impl<'a> Host<'a> {
    pub(super) fn new(
        server: &'a Arc<Server>,
        core: &'a mut Core,
        client: &'a mut Client,
        read_only: bool,
        oom: bool,
    ) -> Host<'a> {
        Host { server, core, client, read_only, oom, out: Vec::new(), ran: false }
    }
}

impl ScriptHost for Host<'_> {
    fn error_counted(&self) -> bool {
        self.ran
    }

    fn set_resp(&mut self, resp: u8) {
        self.client.resp = resp;
    }

    fn set_repl(&mut self, flags: u8) {
        // The stream does not tell AOF from replicas yet: any target keeps propagating.
        self.core.prop.suppressed = flags == 0;
    }

    fn call(&mut self, argv: Vec<Bytes>) -> Reply {
        self.ran = false;
        let mut module_cmd = None;
        let cmd = match super::resolve(self.server, self.core, &argv, &mut module_cmd) {
            Lookup::Found(c) => c,
            Lookup::Unknown | Lookup::UnknownSub => {
                return Reply::error("ERR Unknown Redis command called from script");
            }
        };
        let (arity, argc) = (cmd.spec.arity, argv.len() as i32);
        if (arity > 0 && argc != arity) || (arity < 0 && argc < -arity) {
            return Reply::error("ERR Wrong number of args calling Redis command from script");
        }
        if cmd.flags.contains(CmdFlags::NOSCRIPT) {
            return Reply::error("ERR This Redis command is not allowed from script");
        }
        if let Err(refusal) = super::acl::check(self.core, self.client, cmd, &argv) {
            let lua = crate::acl::LogContext::Lua;
            super::acl::log_refusal(self.core, self.client, cmd, &argv, refusal, lua);
            return Reply::error(match refusal.0 {
                Denied::Command => {
                    "ERR The user executing the script can't run this command or subcommand"
                }
                Denied::Key => {
                    "ERR The user executing the script can't access at least one of the keys \
                     mentioned in the command arguments"
                }
                Denied::Channel => {
                    "ERR The user executing the script can't publish to the channel mentioned in \
                     the command"
                }
            });
        }
        if self.read_only && cmd.flags.contains(CmdFlags::WRITE) {
            return Reply::error("ERR Write commands are not allowed from read-only scripts.");
        }
        if self.oom && cmd.flags.contains(CmdFlags::DENYOOM) {
            return Reply::error(crate::keyspace::evict::OOM_ERROR);
        }
        if cmd.flags.contains(CmdFlags::WRITE) {
            self.server.script.wrote();
        }
        self.out.clear();
        self.ran = true;
        super::execute(self.server, self.core, self.client, &argv, &mut self.out);
        match vireo_scripting::parse_reply(&self.out) {
            Some((r, _)) => r,
            None => Reply::error("ERR the command gave no reply"),
        }
    }

    fn acl_check(&mut self, argv: Vec<Bytes>) -> Result<bool, String> {
        let mut module_cmd = None;
        match super::resolve(self.server, self.core, &argv, &mut module_cmd) {
            // As in Redis, whatever the arity.
            Lookup::Found(cmd) => Ok(super::acl::check(self.core, self.client, cmd, &argv).is_ok()),
            _ => Err("ERR Invalid command passed to redis.acl_check_cmd()".into()),
        }
    }

    fn log(&mut self, level: i64, msg: &[u8]) {
        let msg = String::from_utf8_lossy(msg);
        match level {
            3 => tracing::warn!("{msg}"),
            2 => tracing::info!("{msg}"),
            _ => tracing::debug!("{msg}"),
        }
    }
}

/// SCRIPT LOAD script
fn script_load(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let sha = engine(ctx.server, ctx.core)?.load(&argv[2]).map_err(|e| Error(e.into()))?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

/// SCRIPT EXISTS sha1 [sha1 ...]
fn script_exists(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let found: Vec<bool> = match &ctx.core.scripts {
        Some(e) => argv[2..].iter().map(|s| e.exists(s)).collect(),
        None => vec![false; argv.len() - 2],
    };
    ctx.out.array(found.len());
    for f in found {
        ctx.out.int(i64::from(f));
    }
    Ok(())
}

/// SCRIPT FLUSH [ASYNC | SYNC]
fn script_flush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let ok = argv.len() == 2
        || (argv.len() == 3 && (Ctx::is(&argv[2], "sync") || Ctx::is(&argv[2], "async")));
    if !ok {
        return Err(Error::msg("ERR SCRIPT FLUSH only support SYNC|ASYNC option"));
    }
    // A new Lua state, as Redis: globals scripts may have left behind go too.
    ctx.core.scripts = None;
    ctx.out.ok();
    Ok(())
}

/// SCRIPT KILL
fn script_kill(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    // With the lock in hand no script runs (a busy one is killed from `net`'s busy path).
    ctx.server.script.kill(crate::script_run::Kind::Eval).map_err(Error::msg)?;
    ctx.out.ok();
    Ok(())
}

/// SCRIPT HELP
fn script_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    super::client::help_reply(
        ctx,
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}
