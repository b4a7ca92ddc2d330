//! Redis 7.0 functions: FUNCTION LOAD/DELETE/FLUSH/LIST/STATS/DUMP/RESTORE/KILL/HELP, FCALL
//! and FCALL_RO.
//!
//! The libraries and their Lua state are `vireo_scripting::Functions` (separate from EVAL's
//! engine, as in Redis: SCRIPT FLUSH keeps them, FUNCTION FLUSH keeps the script cache). FCALL
//! runs a function through the same host as EVAL (see `cmd::scripting`). Functions are part of
//! the dataset but FLUSHALL keeps them, as Redis; the write subcommands propagate as they are.
//!
//! For persistence: [`library_codes`] lists what to save, [`load_library`] loads one library
//! (replacing one of the same name), [`dump_payload`]/[`restore_payload`] are FUNCTION
//! DUMP/RESTORE's blob.

use bytes::Bytes;
use vireo_scripting::{flag_names, Functions, RestorePolicy};

use super::scripting::{finish, numkeys, over_maxmemory, with_host};
use super::{Ctx, Handler};
use crate::error::{CmdResult, Error};
use crate::script_run::Kind;
use crate::server::Core;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("fcall", fcall),
    ("fcall_ro", fcall_ro),
    ("function|load", function_load),
    ("function|delete", function_delete),
    ("function|flush", function_flush),
    ("function|list", function_list),
    ("function|stats", function_stats),
    ("function|dump", function_dump),
    ("function|restore", function_restore),
    ("function|kill", function_kill),
    ("function|help", function_help),
];

/// The libraries, created on first use.
fn functions(core: &mut Core) -> Result<&mut Functions, Error> {
    if core.functions.is_none() {
        let f = Functions::new().map_err(|e| Error(format!("ERR Lua engine: {e}").into()))?;
        core.functions = Some(Box::new(f));
    }
    Ok(core.functions.as_mut().expect("created above"))
}

/// The code of every library, by name: what RDB and AOF rewrites save (an RDB writes each as
/// an opcode-245 record; an AOF as `FUNCTION LOAD <code>`).
pub fn library_codes(core: &Core) -> Vec<Vec<u8>> {
    core.functions
        .as_ref()
        .map_or_else(Vec::new, |f| f.codes().into_iter().map(<[u8]>::to_vec).collect())
}

/// Loads one library's code (from an RDB or AOF), replacing a library of the same name;
/// returns the library's name or Redis's error.
pub fn load_library(core: &mut Core, code: &[u8]) -> Result<String, String> {
    let f = functions(core).map_err(|e| e.0.to_string())?;
    f.load(code, true, &mut log_load)
}

/// FUNCTION DUMP's payload.
pub fn dump_payload(core: &Core) -> Vec<u8> {
    let codes = library_codes(core);
    super::function_payload::dump(codes.iter().map(|c| &c[..]))
}

/// FUNCTION RESTORE: loads a payload with `policy` (all or nothing).
pub fn restore_payload(
    core: &mut Core,
    payload: &[u8],
    policy: RestorePolicy,
) -> Result<(), String> {
    let codes = super::function_payload::parse(payload)?;
    functions(core).map_err(|e| e.0.to_string())?.restore(&codes, policy)
}

/// `redis.log` while a library loads.
fn log_load(level: i64, msg: &[u8]) {
    let msg = String::from_utf8_lossy(msg);
    match level {
        3 => tracing::warn!("{msg}"),
        2 => tracing::info!("{msg}"),
        _ => tracing::debug!("{msg}"),
    }
}

/// FCALL function numkeys [key [key ...]] [arg [arg ...]]
fn fcall(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    run(ctx, argv, false)
}

/// FCALL_RO function numkeys [key [key ...]] [arg [arg ...]]
fn fcall_ro(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    run(ctx, argv, true)
}

fn run(ctx: &mut Ctx, argv: &[Bytes], ro: bool) -> CmdResult {
    const NOT_FOUND: &str = "ERR Function not found";
    let flags = match ctx.core.functions.as_ref().and_then(|f| f.info(&argv[1])) {
        Some(info) => info.flags,
        None => return Err(Error::msg(NOT_FOUND)),
    };
    let numkeys = numkeys(argv, Error::msg("ERR Bad number of keys provided"))?;
    if ro && !flags.no_writes {
        return Err(Error::msg("ERR Can not execute a script with write flag using *_ro command."));
    }
    // Functions are scripts that declare their flags: without allow-oom (or no-writes) they do
    // not start over maxmemory.
    let oom = over_maxmemory(ctx, &flags);
    if oom && !flags.no_writes {
        return Err(Error::msg(crate::keyspace::evict::OOM_ERROR));
    }
    let keys: Vec<&[u8]> = argv[3..3 + numkeys].iter().map(|a| &a[..]).collect();
    let args: Vec<&[u8]> = argv[3 + numkeys..].iter().map(|a| &a[..]).collect();
    let fns = ctx.core.functions.as_mut().expect("found above");
    if !fns.has_watchdog() {
        // Watched and capped as EVAL's engine is (created where no server is at hand: a load).
        fns.set_memory_limit(super::scripting::LUA_HEAP_LIMIT)
            .and_then(|_| fns.set_watchdog(ctx.server.script.clone()))
            .map_err(|e| Error(format!("ERR Lua engine: {e}").into()))?;
    }
    let mut fns = ctx.core.functions.take().expect("found above");
    let outcome = with_host(ctx, Kind::Function, argv, ro || flags.no_writes, oom, |h| {
        fns.call(&argv[1], &keys, &args, h)
    });
    ctx.core.functions = Some(fns);
    finish(ctx, outcome.ok_or(Error::msg(NOT_FOUND))?)
}

/// FUNCTION LOAD [REPLACE] function-code
fn function_load(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut replace = false;
    for a in &argv[2..argv.len() - 1] {
        if Ctx::is(a, "replace") {
            replace = true;
        } else {
            let a = String::from_utf8_lossy(a);
            return Err(Error(format!("ERR Unknown option given: {a}").into()));
        }
    }
    let code = &argv[argv.len() - 1];
    let name =
        functions(ctx.core)?.load(code, replace, &mut log_load).map_err(|e| Error(e.into()))?;
    ctx.dirty(1);
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

/// FUNCTION DELETE library-name
fn function_delete(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&argv[2]);
    let deleted = ctx.core.functions.as_mut().is_some_and(|f| f.delete(&name));
    if !deleted {
        return Err(Error::msg("ERR Library not found"));
    }
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// FUNCTION FLUSH [ASYNC | SYNC]
fn function_flush(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(super::client::subcommand_syntax_error(argv));
    }
    if argv.len() == 3 && !Ctx::is(&argv[2], "sync") && !Ctx::is(&argv[2], "async") {
        return Err(Error::msg("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"));
    }
    // A new Lua state, as Redis.
    ctx.core.functions = None;
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// FUNCTION LIST [LIBRARYNAME library-name-pattern] [WITHCODE]
fn function_list(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if !with_code && Ctx::is(a, "withcode") {
            with_code = true;
        } else if pattern.is_none() && Ctx::is(a, "libraryname") {
            if i + 1 >= argv.len() {
                return Err(Error::msg("ERR library name argument was not given"));
            }
            i += 1;
            pattern = Some(&argv[i]);
        } else {
            let a = String::from_utf8_lossy(a);
            return Err(Error(format!("ERR Unknown argument {a}").into()));
        }
        i += 1;
    }
    let Some(fns) = ctx.core.functions.as_ref() else {
        ctx.out.array(0);
        return Ok(());
    };
    let libs: Vec<_> = fns
        .libraries()
        .filter(|l| {
            pattern.is_none_or(|p| crate::util::glob::glob_match(p, l.name().as_bytes(), true))
        })
        .collect();
    let out = &mut ctx.out;
    out.array(libs.len());
    for lib in libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name().as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        let funcs: Vec<_> = lib.functions().collect();
        out.array(funcs.len());
        for f in funcs {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names = flag_names(&f.flags);
            out.set(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(lib.code());
        }
    }
    Ok(())
}

/// FUNCTION STATS
fn function_stats(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let (libs, funcs) =
        ctx.core.functions.as_ref().map_or((0, 0), |f| (f.libraries_count(), f.functions_count()));
    let out = &mut ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    // Nothing else runs while a function runs (no BUSY yet), so no caller sees one running.
    out.null();
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(libs as i64);
    out.bulk(b"functions_count");
    out.int(funcs as i64);
    Ok(())
}

/// FUNCTION DUMP
fn function_dump(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let payload = dump_payload(ctx.core);
    ctx.out.bulk(&payload);
    Ok(())
}

/// FUNCTION RESTORE serialized-value [FLUSH | APPEND | REPLACE]
fn function_restore(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 4 {
        return Err(super::client::subcommand_syntax_error(argv));
    }
    let policy =
        match argv.get(3) {
            None => RestorePolicy::Append,
            Some(p) if Ctx::is(p, "flush") => RestorePolicy::Flush,
            Some(p) if Ctx::is(p, "append") => RestorePolicy::Append,
            Some(p) if Ctx::is(p, "replace") => RestorePolicy::Replace,
            Some(_) => return Err(Error::msg(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    restore_payload(ctx.core, &argv[2], policy).map_err(|e| Error(e.into()))?;
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// FUNCTION KILL
fn function_kill(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    // With the lock in hand no function runs (a busy one is killed from `net`'s busy path).
    ctx.server.script.kill(Kind::Function).map_err(Error::msg)?;
    ctx.out.ok();
    Ok(())
}

/// FUNCTION HELP
fn function_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    super::client::help_reply(
        ctx,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
    Ok(())
}
