//! The dispatcher and the command handlers, one file per command family.
//!
//! Command metadata comes from `server/commands/*.json` (see `spec.rs`); each family file lists
//! its handlers in a `HANDLERS` table. The dispatcher alone does what every command needs: lookup,
//! arity, authentication, pause, stats, slow log, latency, MONITOR and propagation.

pub mod spec;

pub mod bitmap;
pub mod client;
pub mod command;
pub mod config;
pub mod connection;
pub mod hash;
pub mod hll;
pub mod keys;
pub mod list;
pub mod ops;
pub mod server_cmds;
pub mod set;
pub mod stream;
pub mod string;
pub mod zset;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::client::{Client, ReplyMode};
use crate::error::{CmdResult, Error};
use crate::keyspace::Db;
use crate::resp::Reply;
use crate::server::{Core, Server};
use spec::{CmdFlags, CommandSpec};

pub type Handler = fn(&mut Ctx, &[Bytes]) -> CmdResult;

/// Command names are looked up once per command: a fast non-cryptographic hash is enough for a
/// table that never holds client-chosen keys.
pub type NameMap<V> = HashMap<Box<[u8]>, V, foldhash::fast::FixedState>;

/// Every handler table, by family. Adding a family means adding its table here.
fn handler_tables() -> [&'static [(&'static str, Handler)]; 15] {
    [
        bitmap::HANDLERS,
        client::HANDLERS,
        command::HANDLERS,
        config::HANDLERS,
        connection::HANDLERS,
        hash::HANDLERS,
        hll::HANDLERS,
        keys::HANDLERS,
        list::HANDLERS,
        ops::HANDLERS,
        server_cmds::HANDLERS,
        set::HANDLERS,
        stream::HANDLERS,
        string::HANDLERS,
        zset::HANDLERS,
    ]
}

pub struct Command {
    pub spec: &'static CommandSpec,
    pub handler: Option<Handler>,
    /// Index into the stats table.
    pub id: usize,
    /// `get`, or `client|list` for a subcommand.
    pub fullname: &'static str,
    /// The spec's `command_flags` as bits (`CmdFlags::WRITE`...).
    pub flags: CmdFlags,
    pub subcommands: NameMap<Command>,
}

impl Command {
    pub fn is_container(&self) -> bool {
        !self.subcommands.is_empty()
    }
}

/// The command table: specs joined with handlers, built once at start-up.
pub struct Commands {
    map: NameMap<Command>,
    /// Full names by id, for stats.
    pub names: Vec<&'static str>,
}

impl Commands {
    /// Builds the table once; it lives as long as the process (handlers and stats refer to its
    /// names by `&'static str`).
    pub fn build() -> &'static Commands {
        let mut handlers: HashMap<&'static str, Handler> = HashMap::new();
        for table in handler_tables() {
            for (name, h) in table {
                let prev = handlers.insert(name, *h);
                assert!(prev.is_none(), "handler {name} registered twice");
            }
        }
        let mut names = Vec::new();
        let mut map = NameMap::default();
        for spec in spec::all() {
            let cmd = Self::make(spec, None, &handlers, &mut names);
            map.insert(spec.name.as_bytes().into(), cmd);
        }
        Box::leak(Box::new(Commands { map, names }))
    }

    fn make(
        spec: &'static CommandSpec,
        parent: Option<&str>,
        handlers: &HashMap<&'static str, Handler>,
        names: &mut Vec<&'static str>,
    ) -> Command {
        let fullname: &'static str = match parent {
            Some(p) => Box::leak(format!("{p}|{}", spec.name).into_boxed_str()),
            None => spec.name,
        };
        let id = names.len();
        names.push(fullname);
        let subcommands = spec
            .subcommands
            .iter()
            .map(|s| (s.name.as_bytes().into(), Self::make(s, Some(fullname), handlers, names)))
            .collect();
        Command {
            spec,
            handler: handlers.get(fullname).copied(),
            id,
            flags: spec.flag_bits,
            fullname,
            subcommands,
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Looks up a top-level command by name, case-insensitively.
    pub fn get(&self, name: &[u8]) -> Option<&Command> {
        with_lower(name, |n| self.map.get(n))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Command> {
        self.map.values()
    }

    /// Resolves `argv` to the command (or subcommand) it names.
    pub fn resolve(&self, argv: &[Bytes]) -> Lookup<'_> {
        let Some(cmd) = self.get(&argv[0]) else { return Lookup::Unknown };
        if cmd.is_container() && argv.len() >= 2 {
            match with_lower(&argv[1], |n| cmd.subcommands.get(n)) {
                Some(sub) => Lookup::Found(sub),
                None => Lookup::UnknownSub,
            }
        } else {
            Lookup::Found(cmd)
        }
    }
}

pub enum Lookup<'a> {
    Found(&'a Command),
    Unknown,
    UnknownSub,
}

/// Calls `f` with the ASCII-lower-cased `name`, without allocating for short names.
fn with_lower<R>(name: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = [0u8; 32];
    if name.len() <= buf.len() {
        for (d, s) in buf.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        f(&buf[..name.len()])
    } else {
        f(&name.to_ascii_lowercase())
    }
}

/// What a handler works with.
pub struct Ctx<'a> {
    pub core: &'a mut Core,
    pub server: &'a Arc<Server>,
    pub client: &'a mut Client,
    pub out: Reply<'a>,
    /// Time of this command's start, unix ms: all expiry checks in one command use it.
    pub now: i64,
    /// What to propagate instead of the command's own argv, if it changed the dataset.
    pub propagate_as: Option<Vec<Vec<Bytes>>>,
    pub cmd: &'a Command,
}

impl<'a> Ctx<'a> {
    /// The client's selected database and the reply writer, borrowed together.
    pub fn db_out(&mut self) -> (&mut Db, &mut Reply<'a>) {
        (&mut self.core.dbs[self.client.db], &mut self.out)
    }

    pub fn db(&mut self) -> &mut Db {
        &mut self.core.dbs[self.client.db]
    }

    /// Records `n` changes to the dataset (drives propagation and the save schedule).
    pub fn dirty(&mut self, n: u64) {
        self.core.dirty += n;
    }

    /// Propagates `argv` instead of the command as it was called (may be called several times).
    pub fn propagate(&mut self, argv: Vec<Bytes>) {
        self.propagate_as.get_or_insert_with(Vec::new).push(argv);
    }

    /// Lower-cased equality for option keywords.
    pub fn is(arg: &[u8], kw: &str) -> bool {
        arg.eq_ignore_ascii_case(kw.as_bytes())
    }
}

/// Parses a SCAN-family cursor as Redis does (strtoul: an optional sign, decimal digits, nothing
/// else; a negative number wraps around; the empty string is 0).
pub fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let (neg, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        // strtoul("") is 0 with nothing left over; a lone sign is not a number.
        return arg.is_empty().then_some(0);
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// The options of SCAN, HSCAN, SSCAN and ZSCAN.
pub struct ScanOpts<'a> {
    pub count: i64,
    /// `None` for no pattern or `*` (which matches everything, the empty key included).
    pub pattern: Option<&'a [u8]>,
    /// `TYPE t`, accepted only where `allow_type` (SCAN).
    pub typ: Option<&'a [u8]>,
}

/// Parses `[MATCH pattern] [COUNT count]` (and `[TYPE type]` when `allow_type`), as Redis does:
/// a COUNT below 1 and anything else is a syntax error.
pub fn parse_scan_opts(args: &[Bytes], allow_type: bool) -> Result<ScanOpts<'_>, Error> {
    let mut o = ScanOpts { count: 10, pattern: None, typ: None };
    let mut i = 0;
    while i < args.len() {
        let more = i + 1 < args.len();
        if Ctx::is(&args[i], "count") && more {
            o.count = crate::util::num::parse_i64(&args[i + 1]).ok_or(Error::NOT_INT)?;
            if o.count < 1 {
                return Err(Error::SYNTAX);
            }
        } else if Ctx::is(&args[i], "match") && more {
            o.pattern = Some(&args[i + 1][..]).filter(|p| *p != b"*");
        } else if allow_type && Ctx::is(&args[i], "type") && more {
            o.typ = Some(&args[i + 1][..]);
        } else {
            return Err(Error::SYNTAX);
        }
        i += 2;
    }
    Ok(o)
}

/// Outcome of [`execute`] for the connection loop.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// CLIENT PAUSE is in force for this command: release the lock, wait, and run it again.
    Paused,
}

fn unknown_command_error(argv: &[Bytes]) -> Error {
    let mut args = String::new();
    for a in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        let s = String::from_utf8_lossy(a);
        let s: String = s.chars().take(room).collect();
        args.push('\'');
        args.push_str(&s);
        args.push_str("' ");
    }
    let name = String::from_utf8_lossy(&argv[0]);
    let name: String = name.chars().take(128).collect();
    Error(format!("ERR unknown command '{name}', with args beginning with: {args}").into())
}

/// Runs one command. The caller holds the core lock and owns the output buffer.
pub fn execute(
    server: &Arc<Server>,
    core: &mut Core,
    client: &mut Client,
    argv: &[Bytes],
    out: &mut Vec<u8>,
) -> Flow {
    let reply_start = out.len();
    let flow = execute_inner(server, core, client, argv, out);
    if flow == Flow::Paused {
        // Not run yet: it will be tried again, and only then counts for CLIENT REPLY SKIP.
        return flow;
    }
    // CLIENT REPLY OFF/SKIP: the command runs, its reply is dropped.
    match client.reply_mode {
        ReplyMode::On => {}
        ReplyMode::Off => out.truncate(reply_start),
        ReplyMode::SkipNext => client.reply_mode = ReplyMode::Skip,
        ReplyMode::Skip => {
            out.truncate(reply_start);
            client.reply_mode = ReplyMode::On;
        }
    }
    flow
}

fn reject(core: &mut Core, out: &mut Vec<u8>, resp3: bool, id: Option<usize>, e: &Error) {
    Reply::new(out, resp3).error(&e.0);
    count_error(core, e);
    if let Some(id) = id {
        core.stats.cmd[id].rejected_calls += 1;
    }
}

fn count_error(core: &mut Core, e: &Error) {
    core.stats.total_error_replies += 1;
    let code = e.code();
    match core.errorstats.get_mut(code) {
        Some(n) => *n += 1,
        None => {
            // Redis stops tracking new error codes past 128 distinct ones.
            if core.errorstats.len() < 128 {
                core.errorstats.insert(code.to_string(), 1);
            }
        }
    }
}

fn execute_inner(
    server: &Arc<Server>,
    core: &mut Core,
    client: &mut Client,
    argv: &[Bytes],
    out: &mut Vec<u8>,
) -> Flow {
    let resp3 = client.resp == 3;
    if core.stats.cmd.len() < server.commands.len() {
        core.stats.cmd.resize(server.commands.len(), Default::default());
    }
    let cmd = match server.commands.resolve(argv) {
        Lookup::Found(c) => c,
        Lookup::Unknown => {
            reject(core, out, resp3, None, &unknown_command_error(argv));
            return Flow::Continue;
        }
        Lookup::UnknownSub => {
            let sub: String = String::from_utf8_lossy(&argv[1]).chars().take(128).collect();
            let e = Error(
                format!(
                    "ERR unknown subcommand '{sub}'. Try {} HELP.",
                    String::from_utf8_lossy(&argv[0]).to_ascii_uppercase()
                )
                .into(),
            );
            reject(core, out, resp3, None, &e);
            return Flow::Continue;
        }
    };
    let arity = cmd.spec.arity;
    let argc = argv.len() as i32;
    if (arity > 0 && argc != arity) || (arity < 0 && argc < -arity) {
        reject(core, out, resp3, Some(cmd.id), &Error::arity(cmd.fullname));
        return Flow::Continue;
    }
    if !client.authenticated && !cmd.flags.contains(CmdFlags::NO_AUTH) {
        reject(core, out, resp3, Some(cmd.id), &Error::NOAUTH);
        return Flow::Continue;
    }
    let Some(handler) = cmd.handler else {
        let e =
            Error(format!("ERR command '{}' is not implemented in Vireo yet", cmd.fullname).into());
        reject(core, out, resp3, Some(cmd.id), &e);
        return Flow::Continue;
    };
    // maxmemory, where Redis's processCommand checks it: evict before any command while over
    // the limit; refuse a command that may grow memory if that did not get under it.
    if core.cfg.maxmemory > 0
        && crate::keyspace::evict::perform(server, core) == crate::keyspace::evict::Outcome::Fail
        && cmd.flags.contains(CmdFlags::DENYOOM)
    {
        reject(core, out, resp3, Some(cmd.id), &Error::msg(crate::keyspace::evict::OOM_ERROR));
        return Flow::Continue;
    }
    // A MONITOR client is a replica of sorts: it may not touch the keyspace.
    let touches_keys = cmd
        .flags
        .intersects(CmdFlags::WRITE.union(CmdFlags::READONLY).union(CmdFlags::MAY_REPLICATE));
    if client.flags.monitor && touches_keys {
        let e = Error::msg("ERR Replica can't interact with the keyspace");
        reject(core, out, resp3, Some(cmd.id), &e);
        return Flow::Continue;
    }
    let now = crate::clock::mstime();
    if let Some(p) = core.pause {
        if p.until_ms <= now {
            core.pause = None;
        } else if !p.writes_only
            || cmd.flags.intersects(CmdFlags::WRITE.union(CmdFlags::MAY_REPLICATE))
        {
            return Flow::Paused;
        }
    }

    client.last_cmd = Some(cmd.fullname);
    let dirty_before = core.dirty;
    let db_before = client.db;
    let start = Instant::now();
    let mut ctx =
        Ctx { core, server, client, out: Reply::new(out, resp3), now, propagate_as: None, cmd };
    let result = handler(&mut ctx, argv);
    let propagate_as = ctx.propagate_as.take();
    let duration_us = start.elapsed().as_micros() as u64;
    let Ctx { core, client, out, .. } = ctx;
    let out = out.buf;

    if let Err(e) = &result {
        Reply::new(out, resp3).error(&e.0);
        count_error(core, e);
        core.stats.cmd[cmd.id].failed_calls += 1;
    }
    let st = &mut core.stats.cmd[cmd.id];
    st.calls += 1;
    st.usec += duration_us;
    if core.cfg.latency_tracking {
        st.latency.record(duration_us * 1000);
    }
    core.stats.total_commands_processed += 1;

    // Keys expired lazily while the command ran are deleted everywhere first, then the command
    // itself if it changed anything (its own dirty count excludes those deletions).
    let cmd_dirtied = core.dirty != dirty_before;
    let db = &mut core.dbs[db_before];
    if !db.lazy_expired.is_empty() {
        let keys = std::mem::take(&mut db.lazy_expired);
        core.stats.expired_keys += keys.len() as u64;
        core.dirty += keys.len() as u64;
        let del: &'static [u8] = if core.cfg.lazyfree_lazy_expire { b"UNLINK" } else { b"DEL" };
        for k in keys {
            core.prop.feed(db_before, &[Bytes::from_static(del), Bytes::from(k.into_vec())]);
        }
    }
    if cmd_dirtied {
        match propagate_as {
            Some(cmds) => {
                for c in cmds {
                    core.prop.feed(db_before, &c);
                }
            }
            None => core.prop.feed(db_before, argv),
        }
    }

    if !cmd.flags.contains(CmdFlags::SKIP_SLOWLOG)
        && core.cfg.slowlog_log_slower_than >= 0
        && duration_us as i64 >= core.cfg.slowlog_log_slower_than
    {
        let max = core.cfg.slowlog_max_len;
        let name = client.name.clone().unwrap_or_default();
        let args = ops::redact(cmd.fullname, argv);
        let args = args.as_deref().unwrap_or(argv);
        core.slowlog.push(args, duration_us, client.shared.addr.clone(), name, max);
    }
    let threshold = core.cfg.latency_monitor_threshold;
    if threshold > 0 && duration_us / 1000 >= threshold {
        let event = if cmd.flags.contains(CmdFlags::FAST) { "fast-command" } else { "command" };
        core.latency.add(event, duration_us / 1000);
    }
    if !core.monitors.is_empty()
        && !cmd.flags.intersects(CmdFlags::SKIP_MONITOR.union(CmdFlags::ADMIN))
    {
        let origin = ops::monitor_origin(core, client);
        let args = ops::redact(cmd.fullname, argv);
        ops::feed_monitors(core, client.db, &origin, args.as_deref().unwrap_or(argv));
    }
    Flow::Continue
}
