//! COMMAND and its subcommands: the command table as clients see it.
//!
//! Every reply is built from the static metadata in `spec.rs` (recorded from Redis 7.0), in the
//! shapes Redis 7.0 sends: the 10-element `COMMAND INFO` entry, the `COMMAND DOCS` map, sets for
//! flags, ACL categories, tips, key specs and doc flags on RESP3.
//!
//! Which commands are listed: every command in the table, implemented or not. Clients read
//! `COMMAND DOCS` for hints and `COMMAND INFO` for key positions (cluster clients route with
//! them), and a Redis 7.0 client expects the whole 7.0 command set to be described; a command
//! Vireo does not implement yet is described all the same and answers
//! `ERR command 'x' is not implemented in Vireo yet` when called.

use bytes::Bytes;

use super::spec::{self, Arg, ArgType, BeginSearch, CmdFlags, CommandSpec, FindKeys, KeySpec};
use super::{Ctx, Handler};
use crate::error::{CmdResult, Error};
use crate::resp::Reply;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("command", command),
    ("command|count", count),
    ("command|info", info),
    ("command|docs", docs),
    ("command|list", list),
    ("command|getkeys", getkeys),
    ("command|getkeysandflags", getkeysandflags),
    ("command|help", help),
];

/// Every top-level command: the built-ins, then the modules' commands by name.
fn all_commands(ctx: &Ctx) -> Vec<&'static CommandSpec> {
    let removed = |s: &&CommandSpec| ctx.server.commands.removed(s.name);
    let mut all: Vec<&'static CommandSpec> = spec::all().iter().filter(|s| !removed(s)).collect();
    let mut modules: Vec<&'static CommandSpec> =
        ctx.core.modules.commands().map(|c| c.spec).collect();
    modules.sort_unstable_by_key(|s| s.name);
    all.extend(modules);
    all
}

/// COMMAND
fn command(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    debug_assert_eq!(argv.len(), 1);
    let all = all_commands(ctx);
    ctx.out.array(all.len());
    for s in all {
        reply_info(&mut ctx.out, s);
    }
    Ok(())
}

/// COMMAND COUNT
fn count(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.out.int(all_commands(ctx).len() as i64);
    Ok(())
}

/// A top-level command by name, built-in or a module's.
fn lookup_top(ctx: &Ctx, name: &[u8]) -> Option<&'static CommandSpec> {
    // By the name clients use (`rename-command` may have changed it).
    ctx.server
        .commands
        .get(name)
        .map(|c| c.spec)
        .or_else(|| ctx.core.modules.command(name).map(|c| c.spec))
}

/// A command or subcommand by the name a client gives: `get`, `client|list`.
fn lookup_name(ctx: &Ctx, name: &[u8]) -> Option<&'static CommandSpec> {
    let name = std::str::from_utf8(name).ok()?;
    let mut parts = name.split('|');
    let top = lookup_top(ctx, parts.next()?.as_bytes())?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(top),
        (Some(sub), None) => top.subcommand(sub),
        _ => None,
    }
}

/// COMMAND INFO [command-name ...]
fn info(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 2 {
        return command(ctx, &argv[..1]);
    }
    ctx.out.array(argv.len() - 2);
    for name in &argv[2..] {
        match lookup_name(ctx, name) {
            Some(s) => reply_info(&mut ctx.out, s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// COMMAND DOCS [command-name ...]
fn docs(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let found: Vec<&CommandSpec> = if argv.len() == 2 {
        all_commands(ctx)
    } else {
        // Unknown names are left out.
        argv[2..].iter().filter_map(|n| lookup_name(ctx, n)).collect()
    };
    let found: Vec<(&CommandSpec, Option<String>)> =
        found.into_iter().map(|s| (s, module_of(ctx, s))).collect();
    let out = &mut ctx.out;
    out.map(found.len());
    for (s, module) in found {
        out.bulk(s.full_name.as_bytes());
        reply_docs(out, s, module.as_deref());
    }
    Ok(())
}

/// The name of the module a command comes from.
fn module_of(ctx: &Ctx, s: &CommandSpec) -> Option<String> {
    if !s.flag_bits.contains(CmdFlags::MODULE) {
        return None;
    }
    let c = ctx.core.modules.command(s.name.as_bytes())?;
    c.module.as_ref().map(|m| m.module.clone())
}

enum ListFilter<'a> {
    All,
    /// The commands of the module of that name.
    Module(Vec<&'a [u8]>),
    AclCat(Option<spec::AclCategories>),
    Pattern(&'a [u8]),
}

impl ListFilter<'_> {
    fn matches(&self, s: &CommandSpec) -> bool {
        match self {
            ListFilter::All => true,
            ListFilter::Module(names) => names.contains(&s.name.as_bytes()),
            ListFilter::AclCat(Some(cat)) => s.acl_bits.intersects(*cat),
            ListFilter::AclCat(None) => false,
            ListFilter::Pattern(p) => {
                crate::util::glob::glob_match(p, s.full_name.as_bytes(), true)
            }
        }
    }
}

/// COMMAND LIST [FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]
fn list(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let filter = match argv.len() {
        2 => ListFilter::All,
        5 if Ctx::is(&argv[2], "filterby") => {
            let arg = &argv[4];
            if Ctx::is(&argv[3], "module") {
                let m = ctx.core.modules.get(&String::from_utf8_lossy(arg));
                ListFilter::Module(
                    m.map_or(Vec::new(), |m| m.commands.iter().map(|c| &c[..]).collect()),
                )
            } else if Ctx::is(&argv[3], "aclcat") {
                let cat = std::str::from_utf8(arg).ok().and_then(spec::AclCategories::from_name);
                ListFilter::AclCat(cat)
            } else if Ctx::is(&argv[3], "pattern") {
                ListFilter::Pattern(arg)
            } else {
                return Err(Error::SYNTAX);
            }
        }
        _ => return Err(Error::SYNTAX),
    };
    let mut names: Vec<&'static str> = Vec::new();
    for s in all_commands(ctx) {
        if filter.matches(s) {
            names.push(s.full_name);
        }
        for sub in s.subcommands {
            if filter.matches(sub) {
                names.push(sub.full_name);
            }
        }
    }
    ctx.out.bulks(names.iter());
    Ok(())
}

/// COMMAND GETKEYS command [arg ...]
fn getkeys(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    get_keys_reply(ctx, argv, false)
}

/// COMMAND GETKEYSANDFLAGS command [arg ...]
fn getkeysandflags(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    get_keys_reply(ctx, argv, true)
}

fn get_keys_reply(ctx: &mut Ctx, argv: &[Bytes], with_flags: bool) -> CmdResult {
    let call = &argv[2..];
    let target = lookup_top(ctx, &call[0]).and_then(|top| {
        if call.len() == 1 || !top.is_container() {
            Some(top)
        } else {
            top.subcommand_bytes(&call[1])
        }
    });
    let Some(target) = target else {
        return Err(Error::msg("ERR Invalid command specified"));
    };
    if !target.has_keys() {
        return Err(Error::msg("ERR The command has no key arguments"));
    }
    if !target.arity_ok(call.len()) {
        return Err(Error::msg("ERR Invalid number of arguments specified for command"));
    }
    let args: Vec<&[u8]> = call.iter().map(|a| &a[..]).collect();
    let keys = spec::get_keys(target, &args).unwrap_or_default();
    if keys.is_empty() {
        if target.has_flag(CmdFlags::NO_MANDATORY_KEYS) {
            ctx.out.array(0);
            return Ok(());
        }
        return Err(Error::msg("ERR Invalid arguments specified for command"));
    }
    let out = &mut ctx.out;
    out.array(keys.len());
    for (pos, flags) in keys {
        if with_flags {
            out.array(2);
            out.bulk(&call[pos]);
            let names: Vec<&str> = flags.names().collect();
            out.set(names.len());
            for n in names {
                out.simple(n);
            }
        } else {
            out.bulk(&call[pos]);
        }
    }
    Ok(())
}

/// COMMAND HELP
fn help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    reply_help(
        &mut ctx.out,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
    Ok(())
}

/// A HELP reply as Redis builds it: a usage line, the command's own lines, then HELP's lines,
/// all as status replies. `name` is the command as shown, e.g. `COMMAND`, `MEMORY`.
pub fn reply_help(out: &mut Reply, name: &str, lines: &[&str]) {
    out.array(lines.len() + 3);
    out.simple(&format!("{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    for l in lines {
        out.simple(l);
    }
    out.simple("HELP");
    out.simple("    Prints this help.");
}

fn status_set<'s>(out: &mut Reply, items: impl ExactSizeIterator<Item = &'s str>) {
    out.set(items.len());
    for s in items {
        out.simple(s);
    }
}

/// The 10-element `COMMAND INFO` entry of one command (subcommands nested).
pub fn reply_info(out: &mut Reply, s: &CommandSpec) {
    out.array(10);
    out.bulk(s.full_name.as_bytes());
    out.int(s.arity as i64);
    status_set(out, s.flags.iter().copied());
    out.int(s.first_key as i64);
    out.int(s.last_key as i64);
    out.int(s.key_step as i64);
    status_set(out, s.acl_categories.iter().copied());
    out.set(s.tips.len());
    for t in s.tips {
        out.bulk(t.as_bytes());
    }
    out.set(s.key_specs.len());
    for ks in s.key_specs {
        reply_key_spec(out, ks);
    }
    if s.subcommands.is_empty() {
        out.set(0);
    } else {
        out.array(s.subcommands.len());
        for sub in s.subcommands {
            reply_info(out, sub);
        }
    }
}

fn reply_key_spec(out: &mut Reply, ks: &KeySpec) {
    out.map(3 + ks.notes.is_some() as usize);
    if let Some(notes) = ks.notes {
        out.bulk(b"notes");
        out.bulk(notes.as_bytes());
    }
    out.bulk(b"flags");
    status_set(out, ks.flags.names().collect::<Vec<_>>().into_iter());
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    match ks.begin_search {
        BeginSearch::Index(pos) => {
            out.bulk(b"index");
            out.bulk(b"spec");
            out.map(1);
            out.bulk(b"index");
            out.int(pos as i64);
        }
        BeginSearch::Keyword { keyword, startfrom } => {
            out.bulk(b"keyword");
            out.bulk(b"spec");
            out.map(2);
            out.bulk(b"keyword");
            out.bulk(keyword.as_bytes());
            out.bulk(b"startfrom");
            out.int(startfrom as i64);
        }
        BeginSearch::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    match ks.find_keys {
        FindKeys::Range { lastkey, step, limit } => {
            out.bulk(b"range");
            out.bulk(b"spec");
            out.map(3);
            out.bulk(b"lastkey");
            out.int(lastkey as i64);
            out.bulk(b"keystep");
            out.int(step as i64);
            out.bulk(b"limit");
            out.int(limit as i64);
        }
        FindKeys::Keynum { keynumidx, firstkey, step } => {
            out.bulk(b"keynum");
            out.bulk(b"spec");
            out.map(3);
            out.bulk(b"keynumidx");
            out.int(keynumidx as i64);
            out.bulk(b"firstkey");
            out.int(firstkey as i64);
            out.bulk(b"keystep");
            out.int(step as i64);
        }
        FindKeys::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
}

/// The `COMMAND DOCS` map of one command (subcommands nested).
pub fn reply_docs(out: &mut Reply, s: &CommandSpec, module: Option<&str>) {
    let n = 1 // group
        + module.is_some() as usize
        + !s.summary.is_empty() as usize
        + !s.since.is_empty() as usize
        + s.complexity.is_some() as usize
        + !s.doc_flags.is_empty() as usize
        + s.deprecated_since.is_some() as usize
        + s.replaced_by.is_some() as usize
        + !s.history.is_empty() as usize
        + !s.arguments.is_empty() as usize
        + !s.subcommands.is_empty() as usize;
    out.map(n);
    if !s.summary.is_empty() {
        out.bulk(b"summary");
        out.bulk(s.summary.as_bytes());
    }
    if !s.since.is_empty() {
        out.bulk(b"since");
        out.bulk(s.since.as_bytes());
    }
    out.bulk(b"group");
    out.bulk(s.group.as_bytes());
    if let Some(c) = s.complexity {
        out.bulk(b"complexity");
        out.bulk(c.as_bytes());
    }
    if let Some(m) = module {
        out.bulk(b"module");
        out.bulk(m.as_bytes());
    }
    if !s.doc_flags.is_empty() {
        out.bulk(b"doc_flags");
        status_set(out, s.doc_flags.iter().copied());
    }
    if let Some(d) = s.deprecated_since {
        out.bulk(b"deprecated_since");
        out.bulk(d.as_bytes());
    }
    if let Some(r) = s.replaced_by {
        out.bulk(b"replaced_by");
        out.bulk(r.as_bytes());
    }
    if !s.history.is_empty() {
        out.bulk(b"history");
        out.set(s.history.len());
        for (version, text) in s.history {
            out.array(2);
            out.bulk(version.as_bytes());
            out.bulk(text.as_bytes());
        }
    }
    if !s.arguments.is_empty() {
        out.bulk(b"arguments");
        reply_args(out, s.arguments);
    }
    if !s.subcommands.is_empty() {
        out.bulk(b"subcommands");
        out.map(s.subcommands.len());
        for sub in s.subcommands {
            out.bulk(sub.full_name.as_bytes());
            reply_docs(out, sub, None);
        }
    }
}

fn reply_args(out: &mut Reply, args: &[Arg]) {
    out.array(args.len());
    for a in args {
        let has_flags = a.optional || a.multiple || a.multiple_token;
        let nested = matches!(a.typ, ArgType::Oneof | ArgType::Block);
        let n = 2
            + a.display_text.is_some() as usize
            + (a.key_spec_index >= 0) as usize
            + a.token.is_some() as usize
            + a.summary.is_some() as usize
            + a.since.is_some() as usize
            + a.deprecated_since.is_some() as usize
            + has_flags as usize
            + nested as usize;
        out.map(n);
        out.bulk(b"name");
        out.bulk(a.name.as_bytes());
        out.bulk(b"type");
        out.bulk(a.typ.as_str().as_bytes());
        if let Some(d) = a.display_text {
            out.bulk(b"display_text");
            out.bulk(d.as_bytes());
        }
        if a.key_spec_index >= 0 {
            out.bulk(b"key_spec_index");
            out.int(a.key_spec_index as i64);
        }
        let opt = |out: &mut Reply, k: &[u8], v: Option<&str>| {
            if let Some(v) = v {
                out.bulk(k);
                out.bulk(v.as_bytes());
            }
        };
        opt(out, b"token", a.token);
        opt(out, b"summary", a.summary);
        opt(out, b"since", a.since);
        opt(out, b"deprecated_since", a.deprecated_since);
        if has_flags {
            let flags: Vec<&str> = [
                (a.optional, "optional"),
                (a.multiple, "multiple"),
                (a.multiple_token, "multiple_token"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect();
            out.bulk(b"flags");
            status_set(out, flags.into_iter());
        }
        if nested {
            out.bulk(b"arguments");
            reply_args(out, a.arguments);
        }
    }
}
