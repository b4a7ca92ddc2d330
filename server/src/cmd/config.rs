//! CONFIG GET / SET / RESETSTAT / REWRITE / HELP, driven by the directive table
//! (`config/table.rs`).

use std::borrow::Cow;

use bytes::Bytes;

use super::{Ctx, Handler};
use crate::config::{self, table::HIDDEN, table::PROTECTED, Directive, SetCtx};
use crate::error::{CmdResult, Error};

pub const HANDLERS: &[(&str, Handler)] = &[
    ("config|get", get),
    ("config|set", set),
    ("config|resetstat", resetstat),
    ("config|rewrite", rewrite),
    ("config|help", help),
];

/// CONFIG GET parameter [parameter ...]
fn get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // (name as matched or typed, directive), names compared case-insensitively.
    let mut matches: Vec<(Cow<'static, str>, &'static Directive)> = Vec::new();
    let seen = |m: &[(Cow<'static, str>, &Directive)], n: &str| {
        m.iter().any(|(k, _)| k.eq_ignore_ascii_case(n))
    };
    for pat in &argv[2..] {
        if !pat.iter().any(|c| matches!(c, b'*' | b'?' | b'[')) {
            let name = String::from_utf8_lossy(pat);
            if seen(&matches, &name) {
                continue;
            }
            if let Some((d, _)) = config::lookup(pat) {
                matches.push((Cow::Owned(name.into_owned()), d));
            }
            continue;
        }
        for d in config::DIRECTIVES {
            if d.is(HIDDEN) {
                continue;
            }
            for name in std::iter::once(d.name).chain(d.alias) {
                if !seen(&matches, name)
                    && crate::util::glob::glob_match(pat, name.as_bytes(), true)
                {
                    matches.push((Cow::Borrowed(name), d));
                }
            }
        }
    }
    // Module configs (`<module>.<name>`).
    let mut module_pairs: Vec<(String, Vec<u8>)> = Vec::new();
    if !ctx.core.modules.ext.configs.is_empty() {
        for pat in &argv[2..] {
            let seen = |n: &str| module_pairs.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
            let found = crate::module_host::modconf::get_pairs(&ctx.core.modules.ext, pat, seen);
            module_pairs.extend(found);
        }
    }
    let cfg = &ctx.core.cfg;
    ctx.out.map(matches.len() + module_pairs.len());
    for (name, d) in &matches {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(&d.get(cfg));
    }
    for (name, v) in &module_pairs {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(v);
    }
    Ok(())
}

fn is_local(ctx: &Ctx) -> bool {
    ctx.client.flags.unix
        || ctx
            .client
            .shared
            .addr
            .parse::<std::net::SocketAddr>()
            .map(|a| a.ip().is_loopback())
            .unwrap_or(false)
}

/// Splits a CONFIG SET value for a multi-argument directive at single spaces, as Redis does
/// (`""` is no argument at all).
fn split_value(v: &[u8]) -> Vec<Vec<u8>> {
    if v.is_empty() {
        Vec::new()
    } else {
        v.split(|&c| c == b' ').map(<[u8]>::to_vec).collect()
    }
}

/// CONFIG SET parameter value [parameter value ...]
///
/// Every pair is checked before anything changes; if one fails, nothing changes.
fn set(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() % 2 == 1 {
        return Err(Error::SYNTAX);
    }
    let fail = |name: &str, why: &str| {
        Error::err(format_args!(
            "CONFIG SET failed (possibly related to argument '{name}') - {why}"
        ))
    };
    let protected_ok = ctx.core.cfg.enable_protected_configs.allows(is_local(ctx));
    // Find every directive first: unknown, immutable and repeated names fail the whole call.
    let mut targets: Vec<(&'static Directive, &'static str, &Bytes)> = Vec::new();
    // Module configs: (index in the module config list, value).
    let mut module_targets: Vec<(usize, &[u8])> = Vec::new();
    for pair in argv[2..].chunks(2) {
        let typed = String::from_utf8_lossy(&pair[0]);
        let mconfigs = &ctx.core.modules.ext.configs;
        if let Some(i) =
            mconfigs.iter().position(|c| c.full.as_bytes().eq_ignore_ascii_case(&pair[0]))
        {
            if let Some(why) = crate::module_host::modconf::set_refusal(&mconfigs[i], protected_ok)
            {
                return Err(fail(&typed, why));
            }
            if module_targets.iter().any(|(j, _)| *j == i) {
                return Err(fail(&typed, "duplicate parameter"));
            }
            module_targets.push((i, &pair[1]));
            continue;
        }
        let Some((d, matched)) = config::lookup(&pair[0]) else {
            return Err(Error::err(format_args!(
                "Unknown option or number of arguments for CONFIG SET - '{typed}'"
            )));
        };
        if d.immutable() {
            return Err(fail(&typed, "can't set immutable config"));
        }
        if d.is(PROTECTED) && !protected_ok {
            return Err(fail(&typed, "can't set protected config"));
        }
        if targets.iter().any(|(_, m, _)| *m == matched) {
            return Err(fail(&typed, "duplicate parameter"));
        }
        targets.push((d, matched, &pair[1]));
    }

    let old = ctx.core.cfg.clone();
    let old_cwd = std::env::current_dir().ok();
    let mut sctx = SetCtx { loading: false, live: true, save_loaded: false };
    let mut result = Ok(());
    for (d, matched, value) in &targets {
        let args = if d.multi_arg() { split_value(value) } else { vec![value.to_vec()] };
        if let Err(e) = d.set(&mut ctx.core.cfg, &args, &mut sctx) {
            result = Err(fail(matched, &e));
            break;
        }
    }
    if result.is_ok() && !module_targets.is_empty() {
        let loading = ctx.server.loading.active();
        if let Err((name, why)) =
            crate::module_host::modconf::set_many(&ctx.core.modules.ext, &module_targets, loading)
        {
            result = Err(fail(&name, &why));
        }
    }
    // More clients need more descriptors: raised now, or refused (as Redis).
    if result.is_ok() && ctx.core.cfg.maxclients > old.maxclients {
        let wanted = ctx.core.cfg.maxclients;
        let fits = config::process::adjust_open_files_limit(&mut ctx.core.cfg)
            .map_or(old.maxclients, |()| ctx.core.cfg.maxclients);
        if fits < wanted {
            let why = format!(
                "The operating system is not able to handle the specified number of clients, \
                 try with {fits}"
            );
            result = Err(fail("maxclients", &why));
        }
    }
    if let Err(e) = result {
        ctx.core.cfg = old;
        if let Some(cwd) = old_cwd {
            if std::env::current_dir().ok().as_ref() != Some(&cwd) {
                let _ = std::env::set_current_dir(cwd);
            }
        }
        return Err(e);
    }
    apply(&old, &ctx.core.cfg);
    if let Err(e) = crate::persist::aof::config_changed(ctx.core, &old) {
        ctx.core.cfg.appendonly = false;
        return Err(fail("appendonly", &e));
    }
    if old.notify_keyspace_events != ctx.core.cfg.notify_keyspace_events {
        crate::keyspace::notify::sync(ctx.core);
    }
    if old.repl_backlog_size != ctx.core.cfg.repl_backlog_size
        || old.client_output_buffer_limit != ctx.core.cfg.client_output_buffer_limit
    {
        crate::repl::config_changed(ctx.core);
    }
    if old.requirepass != ctx.core.cfg.requirepass {
        let pass = ctx.core.cfg.requirepass.clone();
        ctx.core.acl.set_requirepass(pass.as_deref());
    }
    let names: Vec<&str> = targets.iter().map(|(_, m, _)| *m).collect();
    crate::module_host::events::config_changed(ctx.server, ctx.core, &names);
    ctx.out.ok();
    Ok(())
}

/// Side effects of a successful CONFIG SET beyond the new values, which the rest of the server
/// reads live.
fn apply(old: &config::Config, new: &config::Config) {
    if old.loglevel != new.loglevel {
        config::process::set_log_level(&new.loglevel);
    }
}

/// CONFIG RESETSTAT
///
/// Clears INFO's stats, the command and error statistics (see `Stats::reset_counters` for what
/// stays). The slow log and latency history stay, as in Redis.
fn resetstat(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.core.stats.reset_counters();
    ctx.core.errorstats.clear();
    ctx.out.ok();
    Ok(())
}

/// CONFIG REWRITE
fn rewrite(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let Some(path) = ctx.server.config_file.as_ref() else {
        return Err(Error::msg("ERR The server is running without a config file"));
    };
    let mut extra = crate::module_host::modconf::rewrite_extra(&ctx.core.modules);
    // The users, as Redis writes them, unless they live in the ACL file.
    let mut users = Vec::new();
    if ctx.core.cfg.aclfile.is_empty() {
        let content =
            crate::acl::file::render(ctx.core, &super::acl::universe(ctx.server, ctx.core));
        for line in content.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            users.push((String::from_utf8_lossy(line).into_owned(), true));
        }
    }
    extra.push(("user".to_string(), users));
    match config::rewrite::rewrite_with(&ctx.core.cfg, path, &extra) {
        Ok(()) => {
            tracing::warn!("CONFIG REWRITE executed with success.");
            ctx.out.ok();
            Ok(())
        }
        Err(e) => {
            let e = config::strerror(&e);
            tracing::warn!("CONFIG REWRITE failed: {e}");
            Err(Error::err(format_args!("Rewriting config file: {e}")))
        }
    }
}

/// CONFIG HELP
fn help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let lines = [
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.simple(l);
    }
    Ok(())
}
