//! The dispatcher and the command handlers, one file per command family.
//!
//! Command metadata comes from `server/commands/*.json` (see `spec.rs`); each family file lists
//! its handlers in a `HANDLERS` table. The dispatcher alone does what every command needs: lookup,
//! arity, authentication, pause, stats, slow log, latency, MONITOR and propagation.

pub mod spec;

pub mod acl;
pub mod aof;
pub mod bitmap;
pub mod client;
pub mod cluster;
pub mod command;
pub mod config;
pub mod connection;
pub mod function;
mod function_payload;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod keys;
pub mod ldb;
pub(crate) mod legacy_range;
pub mod list;
pub mod lolwut;
pub mod migrate;
pub mod module;
pub mod multi;
pub mod ops;
pub mod persist;
pub mod pubsub;
pub mod repl;
pub mod scripting;
pub mod server_cmds;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod zset;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::blocking::{BlockRequest, Waiter, Wants};
use crate::client::{Client, ReplyMode};
use crate::error::{CmdResult, Error};
use crate::keyspace::{Db, Lookups, ReadLookups};
use crate::resp::Reply;
use crate::server::{Core, Server};
use spec::{CmdFlags, CommandSpec};

pub type Handler = fn(&mut Ctx, &[Bytes]) -> CmdResult;

/// Values by command name, found in any ASCII case (built-ins, subcommands, module commands).
///
/// Every command looks its name up, so names of up to 15 bytes (all but four built-ins) are
/// keyed by one integer made in registers ([`short_name`]): hashed and compared in place, where
/// a byte-string key costs a pointer chase and a memcmp. A fast non-cryptographic hash is enough
/// for a table that never holds client-chosen keys.
pub struct NameMap<V> {
    short: HashMap<ShortName, V, foldhash::fast::FixedState>,
    /// Longer names, lower-cased.
    long: HashMap<Box<[u8]>, V, foldhash::fast::FixedState>,
}

impl<V> Default for NameMap<V> {
    fn default() -> Self {
        NameMap { short: HashMap::default(), long: HashMap::default() }
    }
}

impl<V> NameMap<V> {
    pub fn get(&self, name: &[u8]) -> Option<&V> {
        match short_name(name) {
            Some(key) => self.short.get(&key),
            None => with_lower(name, |n| self.long.get(n)),
        }
    }

    pub fn insert(&mut self, name: &[u8], v: V) -> Option<V> {
        match short_name(name) {
            Some(key) => self.short.insert(key, v),
            None => self.long.insert(name.to_ascii_lowercase().into(), v),
        }
    }

    pub fn remove(&mut self, name: &[u8]) -> Option<V> {
        match short_name(name) {
            Some(key) => self.short.remove(&key),
            None => with_lower(name, |n| self.long.remove(n)),
        }
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.short.values().chain(self.long.values())
    }

    pub fn len(&self) -> usize {
        self.short.len() + self.long.len()
    }

    pub fn is_empty(&self) -> bool {
        self.short.is_empty() && self.long.is_empty()
    }
}

/// A name of at most 15 bytes, lower-cased, with its length in the last byte.
type ShortName = u128;

fn short_name(name: &[u8]) -> Option<ShortName> {
    if name.len() > 15 {
        return None;
    }
    // Made in registers: bytes stored one at a time and read back as one integer stall the
    // load (no store forwarding), which cost more than the whole lookup.
    let mut key = (name.len() as u128) << 120;
    for (i, &b) in name.iter().enumerate() {
        key |= u128::from(b.to_ascii_lowercase()) << (8 * i);
    }
    Some(key)
}

/// Every handler table, by family. Adding a family means adding its table here.
fn handler_tables() -> &'static [&'static [(&'static str, Handler)]] {
    &[
        acl::HANDLERS,
        aof::HANDLERS,
        bitmap::HANDLERS,
        client::HANDLERS,
        cluster::HANDLERS,
        command::HANDLERS,
        config::HANDLERS,
        connection::HANDLERS,
        geo::HANDLERS,
        hash::HANDLERS,
        function::HANDLERS,
        hll::HANDLERS,
        keys::HANDLERS,
        list::HANDLERS,
        lolwut::HANDLERS,
        migrate::HANDLERS,
        module::HANDLERS,
        multi::HANDLERS,
        ops::HANDLERS,
        persist::HANDLERS,
        pubsub::HANDLERS,
        repl::HANDLERS,
        scripting::HANDLERS,
        server_cmds::HANDLERS,
        set::HANDLERS,
        sort::HANDLERS,
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
    /// Which of its lookups count in INFO's keyspace hits and misses, and which fire
    /// `keymiss` (see [`read_lookups`]): decided once, every call asks.
    pub counted_reads: ReadLookups,
    pub notified_reads: ReadLookups,
    pub subcommands: NameMap<Command>,
    /// The module that implements it, for a module command (see `module_host`).
    pub module: Option<Box<crate::module_host::ModuleCommand>>,
}

impl Command {
    pub fn is_container(&self) -> bool {
        !self.subcommands.is_empty()
    }

    /// Subcommands in name order (for output that must not depend on hashing).
    pub fn subcommands_sorted(&self) -> Vec<&Command> {
        let mut v: Vec<&Command> = self.subcommands.values().collect();
        v.sort_by_key(|c| c.fullname);
        v
    }

    /// The keys of a call, as positions in `argv` with their key-spec flags; none when the
    /// specs cannot find them (as `COMMAND GETKEYS` would fail). For ACL checks.
    pub fn keys(&self, argv: &[Bytes]) -> Vec<spec::KeyRef> {
        let args: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
        spec::get_keys(self.spec, &args).unwrap_or_default()
    }

    /// The keys of a call that ran, for the per-key work that follows it: WATCH, client
    /// tracking (see [`spec::keys_after_call`]).
    pub fn keys_after_call(&self, argv: &[Bytes]) -> Vec<spec::KeyRef> {
        let args: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
        spec::keys_after_call(self.spec, &args)
    }
}

/// The command table: specs joined with handlers, built once at start-up.
pub struct Commands {
    map: NameMap<Command>,
    /// Full names by id, for stats.
    pub names: Vec<&'static str>,
    /// Top-level commands `rename-command` removed, by their own names (renamed ones are in
    /// `map` under their new names; a command keeps its own name in replies, errors and stats,
    /// as in Redis).
    removed: NameMap<Command>,
    /// Renamed top-level commands: (own name, new name).
    renamed: Vec<(&'static str, Box<[u8]>)>,
}

/// Checks a `rename-command old new` line against the lines before it (`renames`), as Redis
/// applies them one after the other: only top-level commands, the new name free.
pub fn check_rename(renames: &[(Vec<u8>, Vec<u8>)], old: &[u8], new: &[u8]) -> Result<(), String> {
    let exists = |name: &[u8]| {
        let mut present = spec::lookup_bytes(name).is_some();
        for (o, n) in renames {
            if o == name {
                present = false;
            }
            if n == name {
                present = true;
            }
        }
        present
    };
    if !exists(old) {
        return Err("No such command in rename-command".into());
    }
    if !new.is_empty() && exists(new) {
        return Err("Target command name already exists".into());
    }
    Ok(())
}

impl Commands {
    /// Builds the table once; it lives as long as the process (handlers and stats refer to its
    /// names by `&'static str`).
    pub fn build() -> &'static Commands {
        Self::build_renamed(&[])
    }

    /// The table with the `rename-command` lines applied, in order (checked by
    /// [`check_rename`] when the configuration was read).
    pub fn build_renamed(renames: &[(Vec<u8>, Vec<u8>)]) -> &'static Commands {
        let mut handlers: HashMap<&'static str, Handler> = HashMap::new();
        for table in handler_tables() {
            for (name, h) in table.iter() {
                let prev = handlers.insert(name, *h);
                assert!(prev.is_none(), "handler {name} registered twice");
            }
        }
        let mut names = Vec::new();
        let mut map = NameMap::default();
        for spec in spec::all() {
            let cmd = Self::make(spec, None, &handlers, &mut names);
            map.insert(spec.name.as_bytes(), cmd);
        }
        let (mut removed, mut renamed) = (NameMap::default(), Vec::new());
        for (old, new) in renames {
            let Some(cmd) = map.remove(old) else { continue };
            renamed.retain(|(own, _)| *own != cmd.fullname);
            if new.is_empty() {
                removed.insert(cmd.fullname.as_bytes(), cmd);
            } else {
                renamed.push((cmd.fullname, new.clone().into_boxed_slice()));
                map.insert(new, cmd);
            }
        }
        Box::leak(Box::new(Commands { map, names, removed, renamed }))
    }

    /// Whether `rename-command` removed this top-level command.
    pub fn removed(&self, fullname: &str) -> bool {
        self.removed.get(fullname.as_bytes()).is_some()
    }

    /// A top-level command by its own name, whatever `rename-command` did to it: ACL rules
    /// name commands so, as in Redis.
    pub fn get_original(&self, name: &[u8]) -> Option<&Command> {
        if self.renamed.is_empty() && self.removed.is_empty() {
            return self.map.get(name);
        }
        let own = spec::lookup_bytes(name)?.name;
        if let Some(c) = self.removed.get(own.as_bytes()) {
            return Some(c);
        }
        match self.renamed.iter().find(|(o, _)| *o == own) {
            Some((_, new)) => self.map.get(new),
            None => self.map.get(own.as_bytes()),
        }
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
        let mut subcommands = NameMap::default();
        for s in spec.subcommands {
            subcommands.insert(s.name.as_bytes(), Self::make(s, Some(fullname), handlers, names));
        }
        let (counted_reads, notified_reads) = read_lookups(fullname, spec.flag_bits, false);
        Command {
            spec,
            handler: handlers.get(fullname).copied(),
            id,
            flags: spec.flag_bits,
            counted_reads,
            notified_reads,
            fullname,
            subcommands,
            module: None,
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
        self.map.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Command> {
        self.map.values()
    }

    /// Resolves `argv` to the command (or subcommand) it names.
    pub fn resolve(&self, argv: &[Bytes]) -> Lookup<'_> {
        let Some(cmd) = self.get(&argv[0]) else { return Lookup::Unknown };
        if cmd.is_container() && argv.len() >= 2 {
            match cmd.subcommands.get(&argv[1]) {
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

/// Finds the command `argv` names, a built-in or a module's. A module command is held in
/// `module_cmd` (an `Arc`: MODULE UNLOAD sees it running while it is held). No built-in has a
/// `.` in its name and modules name theirs `module.command`, so such a name is looked up among
/// the modules' commands first, saving a miss in the built-in table.
pub(crate) fn resolve<'a>(
    server: &'a Server,
    core: &Core,
    argv: &[Bytes],
    module_cmd: &'a mut Option<Arc<Command>>,
) -> Lookup<'a> {
    if core.modules.has_commands() && argv[0].contains(&b'.') {
        if let Some(c) = core.modules.command(&argv[0]) {
            return Lookup::Found(module_cmd.insert(c));
        }
    }
    match server.commands.resolve(argv) {
        Lookup::Unknown => match core.modules.command(&argv[0]) {
            Some(c) => Lookup::Found(module_cmd.insert(c)),
            None => Lookup::Unknown,
        },
        other => other,
    }
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
    /// Set by [`Ctx::block`].
    pub blocked: Option<BlockRequest>,
    /// The command told [`Ctx::key_modified`] which of its keys it changed, so the dispatcher
    /// does not take every key it writes by its key specs as changed.
    pub touched_own: bool,
    /// Propagate the command even though the dataset's change count did not grow (FLUSHALL,
    /// whose save resets the count, as Redis's forceCommandPropagation).
    pub force_propagation: bool,
}

impl<'a> Ctx<'a> {
    /// The clock TTLs are computed against (EXPIRE's base, what TTL subtracts): `now`, except
    /// inside a script, whose `now` stays at its start for expiry checks while Redis 7.0 takes
    /// the current time for these.
    pub fn wall_ms(&self) -> i64 {
        match self.client.time_snapshot {
            Some(_) => crate::clock::mstime(),
            None => self.now,
        }
    }

    /// The keys a blocking command tries: all of them, or, when it runs again because one of
    /// them became ready, that key alone: Redis 7.0 serves a woken client from the key that
    /// woke it, whatever the others hold by then.
    pub fn keys_to_serve<'k>(&self, keys: &'k [Bytes]) -> &'k [Bytes] {
        let ready = self.client.serving_blocked.as_ref();
        match ready.and_then(|k| keys.iter().position(|x| x == k)) {
            Some(i) => &keys[i..=i],
            None => keys,
        }
    }

    /// The client's selected database and the reply writer, borrowed together.
    pub fn db_out(&mut self) -> (&mut Db, &mut Reply<'a>) {
        (&mut self.core.dbs[self.client.db], &mut self.out)
    }

    pub fn db(&mut self) -> &mut Db {
        &mut self.core.dbs[self.client.db]
    }

    /// For a command that names keys it may leave alone (DEL of a missing key, LMPOP's
    /// other keys): `key` of the current database changed. WATCH and client-side caching
    /// then hear of these keys only, as Redis signals each modified key.
    pub fn key_modified(&mut self, key: &[u8]) {
        self.touched_own = true;
        signal_modified(self.core, self.client.db, key);
    }

    /// For the writes Redis 7.0 does not signal (a stream's consumer-group state and last id):
    /// WATCH and client-side caches are not told of them.
    pub fn signal_nothing(&mut self) {
        self.touched_own = true;
    }

    /// Records `n` changes to the dataset (drives propagation and the save schedule).
    pub fn dirty(&mut self, n: u64) {
        self.core.dirty += n;
    }

    /// Propagates `argv` instead of the command as it was called (may be called several times).
    pub fn propagate(&mut self, argv: Vec<Bytes>) {
        self.propagate_as.get_or_insert_with(Vec::new).push(argv);
    }

    /// Blocks the client on `keys` until one of them can serve it, or `deadline` (unix ms)
    /// passes. Inside MULTI/EXEC (and scripts) nothing blocks: the command answers as if it
    /// had timed out, as in Redis.
    pub fn block(&mut self, keys: &[Bytes], deadline: Option<i64>, wants: Wants) {
        self.block_as(keys, deadline, wants, None);
    }

    /// [`Ctx::block`], to be served by running `argv` instead of the command as called (XREAD
    /// with `$` waits for entries after the last id at the time it blocked).
    pub fn block_as(
        &mut self,
        keys: &[Bytes],
        deadline: Option<i64>,
        wants: Wants,
        argv: Option<Vec<Bytes>>,
    ) {
        if self.client.in_exec && self.client.serving_blocked.is_none() {
            self.out.null_array();
            return;
        }
        self.blocked = Some(BlockRequest { keys: keys.to_vec(), deadline, wants, rerun: argv });
    }

    /// Publishes keyspace notification `event` of `class` (a [`crate::config::notify`] bit) on
    /// `key` of the client's database. One branch when the class is not configured.
    #[inline]
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        if crate::keyspace::notify::wanted(self.core) & class != 0 {
            let db = self.client.db;
            self.notify_db(class, event, key, db);
        }
    }

    /// [`Ctx::notify`] on a key of database `db` (MOVE, COPY ... DB).
    pub fn notify_db(&mut self, class: u32, event: &str, key: &[u8], db: usize) {
        let local = crate::pubsub::Local { client: &mut *self.client, out: &mut *self.out.buf };
        crate::keyspace::notify::notify(self.core, class, event, key, db, Some(local));
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
    /// The command blocked (BLPOP & co): its reply comes when it is served or times out.
    Blocked,
}

pub(crate) fn unknown_command_error(argv: &[Bytes]) -> Error {
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
    // Module listeners of the keyspace events the command raised run after it, before blocked
    // clients are served (so that what they write can serve them too); and again for the
    // events of serving them (see module_host::events).
    if !client.in_exec {
        crate::module_host::events::deliver(server, core);
    }
    // Keys the command (or the whole EXEC) gave values to may serve blocked clients now.
    if !client.in_exec && !core.blocking.is_empty() && !core.blocking.serving {
        serve_blocked(server, core);
    }
    // Not run yet (paused) or not answered yet (blocked): only when it is does it count for
    // CLIENT REPLY SKIP. Otherwise CLIENT REPLY OFF/SKIP: the command ran, its reply is dropped.
    if flow == Flow::Continue {
        match client.reply_mode {
            ReplyMode::On => {}
            ReplyMode::Off => crate::pubsub::drop_reply(client, out, reply_start),
            ReplyMode::SkipNext => client.reply_mode = ReplyMode::Skip,
            ReplyMode::Skip => {
                crate::pubsub::drop_reply(client, out, reply_start);
                client.reply_mode = ReplyMode::On;
            }
        }
    }
    // Tracking messages for this client itself (pushes survive CLIENT REPLY OFF).
    if !client.in_exec && core.tracking.has_local() {
        crate::tracking::deliver_local(core, client, out, reply_start);
    }
    if !client.in_exec {
        crate::module_host::events::deliver(server, core);
    }
    flow
}

/// Refuses a command before it runs. A command refused while a transaction is being queued
/// makes its EXEC fail; a refused EXEC discards the transaction, as Redis's rejectCommand.
fn reject(
    core: &mut Core,
    client: &mut Client,
    out: &mut Vec<u8>,
    cmd: Option<&Command>,
    e: &Error,
) {
    let resp3 = client.resp == 3;
    let is_exec = cmd.is_some_and(|c| c.fullname == "exec");
    if is_exec {
        // In a transaction or not, as Redis's execCommandAbort.
        multi::discard_transaction(core, client);
        let msg = e.0.strip_prefix("ERR ").unwrap_or(&e.0);
        let abort = Error(format!("EXECABORT Transaction discarded because of: {msg}").into());
        Reply::new(out, resp3).error(&abort.0);
        count_error(core, &abort);
    } else {
        if let Some(m) = &mut client.multi {
            m.aborted = true;
        }
        Reply::new(out, resp3).error(&e.0);
        count_error(core, e);
    }
    if let Some(c) = cmd {
        core.stats.cmd[c.id].rejected_calls += 1;
    }
}

/// `key` of database `db` changed, as Redis's signalModifiedKey: its WATCHes fail and the
/// client-side caches holding it are told. One branch when neither is in use.
pub(crate) fn signal_modified(core: &mut Core, db: usize, key: &[u8]) {
    if !core.watches.is_empty() || core.tracking.watching() {
        core.watches.touch(&core.dbs[db], key);
        crate::tracking::key_modified(core, key);
    }
}

/// What a command that ran against `db` sends to the AOF and replicas, and whether it changed
/// the dataset: the DELs of keys it found expired, then itself (or what it propagates instead)
/// if the dirty count grew past `dirty_before` or it `forced` it (a count that fell was reset
/// by a save: SAVE, SHUTDOWN, DEBUG RELOAD). As Redis 7.0 propagates a call, that is one unit,
/// wrapped in MULTI/EXEC when it holds several commands (the transaction wraps only then).
pub(crate) fn propagate_call(
    core: &mut Core,
    db: usize,
    argv: &[Bytes],
    propagate_as: Option<Vec<Vec<Bytes>>>,
    dirty_before: u64,
    forced: bool,
) -> bool {
    // (Its own count excludes the deletions, counted below.)
    let dirtied = core.dirty > dirty_before || forced;
    let unit = !core.dbs[db].lazy_expired.is_empty() && !core.prop.in_transaction();
    if unit {
        core.prop.begin_transaction();
    }
    propagate_lazy_expired(core, db);
    if dirtied {
        match propagate_as {
            Some(cmds) => core.prop.feed_all(db, &cmds),
            None => core.prop.feed(db, argv),
        }
    }
    if unit {
        core.prop.end_transaction();
    }
    dirtied
}

/// Propagates a DEL (or UNLINK) for each key of `db` that expired lazily since the last call, and
/// counts them.
pub(crate) fn propagate_lazy_expired(core: &mut Core, db: usize) {
    // Keyspace events the databases recorded (lazy expiry, new keys) are published by now.
    crate::keyspace::notify::flush(core, None);
    if core.dbs[db].lazy_expired.is_empty() {
        return;
    }
    let keys = std::mem::take(&mut core.dbs[db].lazy_expired);
    core.stats.expired_keys += keys.len() as u64;
    core.dirty += keys.len() as u64;
    let del = keys::del_for(core.cfg.lazyfree_lazy_expire);
    for k in keys {
        signal_modified(core, db, &k);
        core.prop.feed(db, &[del.clone(), Bytes::from(k.into_vec())]);
    }
}

/// What the dispatcher does after a top-level command, for work that ran outside one (a SYNC
/// debugging session): module listeners get the keyspace events, blocked clients the keys that
/// received values.
pub(crate) fn after_command(server: &Arc<Server>, core: &mut Core) {
    crate::module_host::events::deliver(server, core);
    if !core.blocking.is_empty() && !core.blocking.serving {
        serve_blocked(server, core);
    }
    crate::module_host::events::deliver(server, core);
}

/// Serves clients blocked on keys that received values, oldest waiter first, until no ready key
/// can serve anyone (a served BLMOVE can make its destination ready in turn).
fn serve_blocked(server: &Arc<Server>, core: &mut Core) {
    core.blocking.serving = true;
    loop {
        let mut any = false;
        for dbi in 0..core.dbs.len() {
            if core.dbs[dbi].ready.is_empty() {
                continue;
            }
            let mut ready = std::mem::take(&mut core.dbs[dbi].ready);
            // Usually one key (one write, outside MULTI): nothing to deduplicate.
            if ready.len() > 1 {
                let mut seen = std::collections::HashSet::with_capacity(ready.len());
                ready.retain(|k| seen.insert(k.clone()));
            }
            for key in ready {
                any = true;
                serve_key(server, core, dbi, &key);
            }
        }
        if !any {
            break;
        }
    }
    core.blocking.serving = false;
}

/// The reply of blocked client `id` whose deadline passed, by what it waits for: a module's
/// timeout callback, WAIT's count of replicas, or the null array of the key-blocking commands.
pub(crate) fn timed_out(server: &Arc<Server>, core: &mut Core, id: u64, resp: u8) -> Vec<u8> {
    let reply = match core.blocking.waiter(id).map(|w| w.wants) {
        Some(Wants::Module) => crate::module_host::concurrency::timed_out(server, core, id),
        Some(Wants::Replicas) => crate::repl::wait_timed_out(core, id),
        _ => None,
    };
    reply.unwrap_or_else(|| {
        core.blocking.unblock(&mut core.dbs, id);
        crate::blocking::timeout_reply(resp)
    })
}

/// [`serve_blocked`] unless it is running or nobody is blocked (for what runs outside a
/// command: module callbacks, timers, thread-safe contexts).
pub(crate) fn serve_blocked_now(server: &Arc<Server>, core: &mut Core) {
    if !core.blocking.is_empty() && !core.blocking.serving {
        serve_blocked(server, core);
    }
}

/// Serves the clients blocked on `key` in the order they blocked, while the key exists. A client
/// it cannot serve (blocked for another type, an XREAD past the stream's last entry, a module
/// whose key-ready callback declines) keeps its place and the next one is tried, as in Redis.
fn serve_key(server: &Arc<Server>, core: &mut Core, dbi: usize, key: &[u8]) {
    use crate::keyspace::ValueRef;
    use crate::types::Object;
    let Some(queue) = core.dbs[dbi].blocked_on.get(key) else { return };
    let ids: Vec<u64> = queue.iter().copied().collect();
    for id in ids {
        let Some(w) = core.blocking.waiter_mut(id) else { continue };
        let (wants, resp, shared) = (w.wants, w.resp, w.shared.clone());
        let now = crate::clock::mstime();
        let serves = match core.dbs[dbi].get(key, now).map(|e| e.value()) {
            None => None,
            Some(ValueRef::Obj(Object::List(_))) => Some(wants == Wants::List),
            Some(ValueRef::Obj(Object::ZSet(_))) => Some(wants == Wants::ZSet),
            Some(ValueRef::Obj(Object::Stream(_))) => Some(wants == Wants::Stream),
            Some(_) => Some(false),
        };
        propagate_lazy_expired(core, dbi);
        match serves {
            // Gone (or emptied by the clients served before): nobody else can be served.
            None => return,
            _ if wants == Wants::Module => {
                crate::module_host::concurrency::serve_waiter(server, core, id, key);
                continue;
            }
            Some(false) => continue,
            Some(true) => {}
        }
        let w = core.blocking.waiter_mut(id).expect("checked above");
        let argv = std::mem::take(&mut w.argv);
        let push = shared.push_sender();
        let mut client = Client::new(id, shared, true, push);
        client.db = dbi;
        client.resp = resp;
        client.in_exec = true;
        client.serving_blocked = Some(Bytes::copy_from_slice(key));
        let mut out = Vec::new();
        if execute(server, core, &mut client, &argv, &mut out) == Flow::Blocked {
            // Nothing for it after all: it keeps its place.
            core.blocking.waiter_mut(id).expect("still blocked").argv = argv;
            continue;
        }
        let w = core.blocking.unblock(&mut core.dbs, id).expect("blocked above");
        crate::blocking::finish(core, &w.shared, out);
    }
}

/// Which of a command's lookups are reads, as Redis 7.0 counts them in INFO's keyspace_hits
/// and keyspace_misses, and as it fires `keymiss` for those that find nothing: every lookup of
/// a read-only command, what a write reads with [`Db::lookup_read`] (SINTERSTORE's sources,
/// GETDEL's key). Apart: MEMORY USAGE looks without either, OBJECT without notifying, a
/// read-only script's (or a module's write's) own count adds nothing to that of the commands it
/// runs.
pub(crate) fn read_lookups(
    fullname: &str,
    flags: CmdFlags,
    module: bool,
) -> (ReadLookups, ReadLookups) {
    let readonly = flags.contains(CmdFlags::READONLY);
    let counted = match fullname {
        "memory|usage" | "eval_ro" | "evalsha_ro" | "fcall_ro" => ReadLookups::None,
        _ if readonly => ReadLookups::All,
        // (WATCH reads no key: it is neither.)
        _ if flags.contains(CmdFlags::WRITE) && !module => ReadLookups::Marked,
        _ => ReadLookups::None,
    };
    let notified = match fullname {
        "memory|usage" => ReadLookups::None,
        _ if fullname.starts_with("object|") => ReadLookups::None,
        _ if readonly => ReadLookups::All,
        _ => ReadLookups::Marked,
    };
    (counted, notified)
}

/// Adds a call's reads (see [`read_lookups`]) to INFO's keyspace_hits / keyspace_misses.
fn count_keyspace_hits(core: &mut Core, cmd: &Command, db: usize, before: Lookups) {
    let now = core.dbs[db].lookups;
    // (Saturating: SWAPDB or a reload may have put another database there.)
    let (hits, misses) = match cmd.counted_reads {
        ReadLookups::None => return,
        ReadLookups::All => {
            (now.hits.saturating_sub(before.hits), now.misses.saturating_sub(before.misses))
        }
        ReadLookups::Marked => (
            now.read_hits.saturating_sub(before.read_hits),
            now.read_misses.saturating_sub(before.read_misses),
        ),
    };
    core.stats.keyspace_hits += hits;
    core.stats.keyspace_misses += misses;
}

/// Invalidates WATCHes (and client-side caches) on the keys a write command wrote: those its
/// key specs mark as written (RW, OW, RM) or give no flags. Commands that write elsewhere than
/// the caller's database (MOVE, COPY ... DB) touch the other database's key themselves.
pub(crate) fn touch_written_keys(core: &mut Core, cmd: &Command, argv: &[Bytes], db: usize) {
    let written = spec::KeyFlags::RW.union(spec::KeyFlags::OW).union(spec::KeyFlags::RM);
    for (i, f) in cmd.keys_after_call(argv) {
        if f.intersects(written) || f == spec::KeyFlags::default() {
            signal_modified(core, db, &argv[i]);
        }
    }
}

pub(crate) fn count_error(core: &mut Core, e: &Error) {
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
    let mut module_cmd = None;
    let cmd = match resolve(server, core, argv, &mut module_cmd) {
        Lookup::Found(c) => c,
        Lookup::Unknown => {
            reject(core, client, out, None, &unknown_command_error(argv));
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
            reject(core, client, out, None, &e);
            return Flow::Continue;
        }
    };
    let arity = cmd.spec.arity;
    let argc = argv.len() as i32;
    if (arity > 0 && argc != arity) || (arity < 0 && argc < -arity) {
        reject(core, client, out, Some(cmd), &Error::arity(cmd.fullname));
        return Flow::Continue;
    }
    if !client.authenticated && !cmd.flags.contains(CmdFlags::NO_AUTH) {
        reject(core, client, out, Some(cmd), &Error::NOAUTH);
        return Flow::Continue;
    }
    // MODULE LOAD, LOADEX and UNLOAD need `enable-module-command`, checked as Redis does before
    // the command runs or is queued (only admin commands pay for the name comparison).
    if cmd.flags.contains(CmdFlags::ADMIN)
        && matches!(cmd.fullname, "module|load" | "module|loadex" | "module|unload")
        && !module::allowed(core, client)
    {
        reject(core, client, out, Some(cmd), &module::not_allowed());
        return Flow::Continue;
    }
    // Between MULTI and EXEC every command but these few is queued, not run.
    let queueing = client.multi.is_some()
        && !matches!(cmd.fullname, "exec" | "discard" | "multi" | "watch" | "quit" | "reset");
    if queueing && cmd.flags.contains(CmdFlags::NO_MULTI) {
        let e = Error::msg("ERR Command not allowed inside a transaction");
        reject(core, client, out, Some(cmd), &e);
        return Flow::Continue;
    }
    // The user's permissions; EXEC, scripts and modules check the commands they run themselves.
    // The master's stream is obeyed whatever the rules and limits, as in Redis.
    let from_master = client.flags.master;
    if !client.in_exec && !client.aof_loader && !from_master {
        if let Err(refusal) = acl::check(core, client, cmd, argv) {
            let context = match client.multi {
                Some(_) => crate::acl::LogContext::Multi,
                None => crate::acl::LogContext::Toplevel,
            };
            acl::log_refusal(core, client, cmd, argv, refusal, context);
            let e = Error(crate::acl::noperm_error(refusal.0, cmd).into());
            reject(core, client, out, Some(cmd), &e);
            return Flow::Continue;
        }
    }
    if cmd.handler.is_none() {
        let e =
            Error(format!("ERR command '{}' is not implemented in Vireo yet", cmd.fullname).into());
        reject(core, client, out, Some(cmd), &e);
        return Flow::Continue;
    }
    // EXEC is as much a write as the commands it will run.
    let flags = match (&client.multi, cmd.fullname) {
        (Some(m), "exec") => cmd.flags.union(m.flags),
        _ => cmd.flags,
    };
    // Commands run by EXEC were checked when queued and run whole, as Redis's call() does:
    // no eviction, OOM or pause check between them.
    if client.in_exec {
        return run(server, core, client, argv, out, cmd, resp3);
    }
    // maxmemory, where Redis's processCommand checks it: evict before any command while over
    // the limit; refuse a command that may grow memory if that did not get under it (while
    // queueing, any command).
    if core.cfg.maxmemory > 0
        && !from_master
        && crate::keyspace::evict::perform(server, core) == crate::keyspace::evict::Outcome::Fail
        && (flags.contains(CmdFlags::DENYOOM) || queueing)
    {
        reject(core, client, out, Some(cmd), &Error::msg(crate::keyspace::evict::OOM_ERROR));
        return Flow::Continue;
    }
    // After a failed BGSAVE with `stop-writes-on-bgsave-error`, or while the AOF cannot be
    // written or fsynced, writes (and PING, so that monitoring notices) are refused until a
    // save (a write) succeeds, as Redis does.
    if (core.rdb.last_bgsave_failed || crate::persist::aof::failing(core))
        && (flags.contains(CmdFlags::WRITE) || cmd.fullname == "ping")
    {
        let e = if crate::persist::snapshot::writes_refused(core) {
            Some(Error::msg(crate::persist::snapshot::MISCONF))
        } else {
            crate::persist::aof::disk_error(core).map(Error::msg)
        };
        if let Some(e) = e {
            reject(core, client, out, Some(cmd), &e);
            return Flow::Continue;
        }
    }
    if let Some(e) = crate::repl::refusal(core, client, cmd, flags) {
        reject(core, client, out, Some(cmd), &Error::msg(e));
        return Flow::Continue;
    }
    if let Some(e) = pubsub::context_error(client, cmd) {
        reject(core, client, out, Some(cmd), &e);
        return Flow::Continue;
    }
    // While the data set loads at start-up only `loading` commands run (INFO, CONFIG, ...).
    if server.loading.active()
        && !cmd.flags.contains(CmdFlags::LOADING)
        && !client.aof_loader
        && !client.lua
    {
        let e = Error::msg(crate::persist::loading::LOADING_ERROR);
        reject(core, client, out, Some(cmd), &e);
        return Flow::Continue;
    }
    // A MONITOR client is a replica of sorts: it may not touch the keyspace.
    let touches_keys = cmd
        .flags
        .intersects(CmdFlags::WRITE.union(CmdFlags::READONLY).union(CmdFlags::MAY_REPLICATE));
    if client.flags.monitor && touches_keys {
        let e = Error::msg("ERR Replica can't interact with the keyspace");
        reject(core, client, out, Some(cmd), &e);
        return Flow::Continue;
    }
    if !from_master {
        // CLIENT PAUSE, and a FAILOVER's pause of writes.
        let mut writes_paused = crate::repl::failover::pauses_writes(core);
        if let Some(p) = core.pause {
            if p.until_ms <= crate::clock::mstime() {
                core.pause = None;
            } else if !p.writes_only {
                return Flow::Paused;
            } else {
                writes_paused = true;
            }
        }
        if writes_paused && flags.intersects(CmdFlags::WRITE.union(CmdFlags::MAY_REPLICATE)) {
            return Flow::Paused;
        }
    }
    if queueing {
        let m = client.multi.as_mut().expect("queueing");
        m.flags = m.flags.union(cmd.flags);
        m.queued.push(argv.to_vec());
        Reply::new(out, resp3).simple("QUEUED");
        return Flow::Continue;
    }
    run(server, core, client, argv, out, cmd, resp3)
}

/// Runs a command that passed every check, as the client tracking knows to be running.
fn run(
    server: &Arc<Server>,
    core: &mut Core,
    client: &mut Client,
    argv: &[Bytes],
    out: &mut Vec<u8>,
    cmd: &Command,
    resp3: bool,
) -> Flow {
    let prev = core.tracking.enter(client);
    let flow = run_inner(server, core, client, argv, out, cmd, resp3);
    core.tracking.leave(prev);
    flow
}

/// Does what follows every call: stats, slow log, propagation, WATCH and tracking
/// invalidation, MONITOR.
fn run_inner(
    server: &Arc<Server>,
    core: &mut Core,
    client: &mut Client,
    argv: &[Bytes],
    out: &mut Vec<u8>,
    cmd: &Command,
    resp3: bool,
) -> Flow {
    let handler = cmd.handler.expect("execute_inner runs only implemented commands");
    let now = client.time_snapshot.unwrap_or_else(crate::clock::mstime);
    client.last_cmd = Some(cmd.fullname);
    let dirty_before = core.dirty;
    let db_before = client.db;
    let lookups_before = core.dbs[db_before].lookups;
    // (Saved and put back: a script's commands run inside its call.)
    let wants_misses = crate::keyspace::notify::wanted(core) & crate::config::notify::KEY_MISS != 0;
    let misses_before = wants_misses
        .then(|| std::mem::replace(&mut core.dbs[db_before].miss_events, cmd.notified_reads));
    let reply_start = out.len();
    let start = quanta::Instant::now();
    let mut ctx = Ctx {
        core,
        server,
        client,
        out: Reply::new(out, resp3),
        now,
        propagate_as: None,
        cmd,
        blocked: None,
        touched_own: false,
        force_propagation: false,
    };
    let result = handler(&mut ctx, argv);
    let touched_own = ctx.touched_own;
    let forced = ctx.force_propagation;
    let propagate_as = ctx.propagate_as.take();
    let blocked = ctx.blocked.take();
    let duration_us = start.elapsed().as_micros() as u64;
    let Ctx { core, client, out, .. } = ctx;
    let out = out.buf;
    // A blocked command run again to serve it counts nothing: Redis 7.0 serves it from the
    // key that woke it without a counted lookup (a module's callback opens keys itself).
    if client.serving_blocked.is_none() || cmd.module.is_some() {
        count_keyspace_hits(core, cmd, db_before, lookups_before);
    }
    if let Some(m) = misses_before {
        core.dbs[db_before].miss_events = m;
    }

    // Keyspace events no notify call published yet (a lazy expiry on a read, a key created by a
    // command with no event of its own) come before the reply, as in Redis.
    if crate::keyspace::notify::wanted(core) != 0 {
        crate::pubsub::local_at(client, out, reply_start, |l| {
            crate::keyspace::notify::flush(core, Some(l))
        });
    }
    if let Err(e) = &result {
        Reply::new(out, resp3).error(&e.0);
        count_error(core, e);
        core.stats.cmd[cmd.id].failed_calls += 1;
    }
    let cmd_dirtied = propagate_call(core, db_before, argv, propagate_as, dirty_before, forced);
    // After those deletions: a key the command found expired is tracked from now on, not
    // invalidated by its own read.
    if core.tracking.has_trackers() {
        crate::tracking::after_call(core, client, cmd, argv);
    }
    if let Some(BlockRequest { keys, deadline, wants, rerun }) = blocked {
        // Not answered yet: it counts in the stats when it is served. (A waiter being served
        // that still finds nothing keeps its registration.)
        if client.serving_blocked.is_none() {
            let waiter = Waiter {
                db: client.db,
                keys,
                argv: rerun.unwrap_or_else(|| argv.to_vec()),
                resp: client.resp,
                wants,
                deadline,
                shared: client.shared.clone(),
            };
            core.blocking.block(&mut core.dbs, client.id, waiter);
            client.flags.blocked = true;
        }
        return Flow::Blocked;
    }
    let st = &mut core.stats.cmd[cmd.id];
    st.calls += 1;
    st.usec += duration_us;
    if core.cfg.latency_tracking {
        st.latency.record(duration_us * 1000);
    }
    core.stats.total_commands_processed += 1;
    if cmd_dirtied && !touched_own && (!core.watches.is_empty() || core.tracking.watching()) {
        touch_written_keys(core, cmd, argv, db_before);
    }

    // A script's commands are not logged on their own: the EVAL is, as in Redis.
    if !cmd.flags.contains(CmdFlags::SKIP_SLOWLOG)
        && !client.lua
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Names are found in any case, through the integer index (up to 15 bytes) and the byte
    /// string map (longer); a name that only starts like one, or has a NUL after it, is not.
    #[test]
    fn names_resolve_case_insensitively_and_exactly() {
        let cmds = Commands::build();
        for (name, full) in [
            ("get", "get"),
            ("GeT", "get"),
            ("zrangebyscore", "zrangebyscore"),
            ("ZREVRANGEBYSCORE", "zrevrangebyscore"),
            ("georadiusbymember_ro", "georadiusbymember_ro"),
        ] {
            assert_eq!(cmds.get(name.as_bytes()).map(|c| c.fullname), Some(full), "{name}");
        }
        for name in ["ge", "gett", "get\0", "", "zrevrangebyscorex", "georadiusbymember_r"] {
            assert!(cmds.get(name.as_bytes()).is_none(), "{name:?}");
        }
        let short = cmds.iter().filter(|c| c.spec.name.len() <= 15).count();
        assert_eq!(short, cmds.map.short.len(), "every short name is in the integer index");
    }
}
