//! SCRIPT DEBUG: Lua debugging sessions (`redis-cli --ldb`).
//!
//! After `SCRIPT DEBUG YES|SYNC` the client's next EVAL starts a session instead of running: the
//! script runs on a thread of its own under the engine's debugger (`vireo_scripting::ldb`),
//! which exchanges log lines for the client's debugger commands through [`DebugLink`]; the
//! connection relays them (see `net::debug_session`) and closes once the session ends, as
//! Redis's does.
//!
//! - `YES` (Redis forks a child): the session runs on a private copy of the dataset, taken at
//!   the EVAL, while the server goes on serving everyone else; its changes are thrown away.
//! - `SYNC`: the session holds the core lock from start to end: other clients wait, as Redis
//!   blocks, and the script's changes stay, and propagate, as an EVAL's do.

use std::sync::mpsc as std_mpsc;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;
use vireo_scripting::{DebugInput, DebugIo, Engine, Reply};

use super::scripting::{Host, LUA_HEAP_LIMIT};
use super::Ctx;
use crate::client::Client;
use crate::error::{CmdResult, Error};
use crate::keyspace::{dup_value, Entry};
use crate::server::{Core, Server};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebugMode {
    /// On a copy of the dataset, changes rolled back (Redis's forked session).
    Yes,
    /// On the dataset itself, the server blocked meanwhile.
    Sync,
}

/// What a session sends its client.
pub enum ToClient {
    /// A reply of log lines; the session then waits for the client's next command.
    Log(Vec<u8>),
    /// The last log lines and the script's reply: the connection writes them and closes.
    End(Vec<u8>),
}

/// The connection's end of a session.
pub struct DebugLink {
    pub from_session: mpsc::UnboundedReceiver<ToClient>,
    pub to_session: std_mpsc::Sender<DebugInput>,
}

/// The session's end.
struct ChannelIo {
    to_client: mpsc::UnboundedSender<ToClient>,
    from_client: std_mpsc::Receiver<DebugInput>,
}

impl DebugIo for ChannelIo {
    fn exchange(&mut self, log: Vec<Vec<u8>>) -> DebugInput {
        if self.to_client.send(ToClient::Log(encode_log(log, false))).is_err() {
            return DebugInput::Gone;
        }
        self.from_client.recv().unwrap_or(DebugInput::Gone)
    }
}

/// Log lines as the array of status replies Redis sends, `<endsession>` last when `end`.
fn encode_log(lines: Vec<Vec<u8>>, end: bool) -> Vec<u8> {
    let end_line = end.then(|| b"<endsession>".to_vec());
    let statuses = lines.into_iter().chain(end_line).map(Reply::Status).collect();
    let mut out = Vec::new();
    Reply::Array(statuses).encode(&mut out, false);
    out
}

/// SCRIPT DEBUG YES|SYNC|NO
pub(super) fn script_debug(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if ctx.client.in_exec {
        return Err(Error::msg("ERR SCRIPT DEBUG must be called outside a pipeline"));
    }
    let mode = match argv[2].to_ascii_lowercase().as_slice() {
        b"no" => None,
        b"yes" => Some(DebugMode::Yes),
        b"sync" => Some(DebugMode::Sync),
        _ => return Err(Error::msg("ERR Use SCRIPT DEBUG YES/SYNC/NO")),
    };
    ctx.client.lua_debug = mode;
    ctx.out.ok();
    Ok(())
}

/// Starts a session for EVAL/EVAL_RO `argv` (numkeys checked; `read_only` and `oom` as the
/// script's flags make them): the connection relays it once this command's batch is written.
pub(super) fn start(
    ctx: &mut Ctx,
    argv: &[Bytes],
    numkeys: usize,
    read_only: bool,
    oom: bool,
    mode: DebugMode,
) -> CmdResult {
    let private = match mode {
        DebugMode::Yes => Some(private_copy(ctx.core)?),
        DebugMode::Sync => None,
    };
    if mode == DebugMode::Yes {
        // The server is done with this client, as Redis's parent closes it at the fork: no
        // messages or invalidations pile up for it while its session runs.
        crate::pubsub::unsubscribe_all(ctx.core, ctx.client);
        ctx.core.tracking.disable(ctx.client.id);
    }
    // The EVAL itself never propagates: in SYNC mode the commands its script runs do.
    ctx.propagate_as = Some(Vec::new());
    ctx.touched_own = true;
    let (to_client, from_session) = mpsc::unbounded_channel();
    let (to_session, from_client) = std_mpsc::channel();
    let io = ChannelIo { to_client, from_client };
    let session = Session {
        server: ctx.server.clone(),
        private,
        client: Client::for_script(ctx.client, ctx.now),
        script: Script {
            resp3: ctx.client.resp == 3,
            body: argv[1].clone(),
            keys: argv[3..3 + numkeys].to_vec(),
            args: argv[3 + numkeys..].to_vec(),
            read_only,
            oom,
        },
    };
    if mode == DebugMode::Sync {
        // From now on the other connections wait without taking the lock (see
        // `Server::try_lock_core`): the session takes it on its thread.
        ctx.server.script.set_debugging(true);
    }
    let spawned =
        std::thread::Builder::new().name("vireo-ldb".into()).spawn(move || session.run(io));
    if let Err(e) = spawned {
        ctx.server.script.set_debugging(false);
        return Err(Error(format!("ERR can't start the debugging session: {e}").into()));
    }
    ctx.client.debug_session = Some(DebugLink { from_session, to_session });
    Ok(())
}

/// A copy of the dataset for a YES session (Redis gets it from fork). Refused when the copy
/// would take the server past `maxmemory` (where it would evict the real keys), or, without
/// one, when it would take more than half of what the system has left.
fn private_copy(core: &Core) -> Result<Box<Core>, Error> {
    let (max, used) = (core.cfg.maxmemory, crate::keyspace::evict::used_memory());
    if max > 0 && used.saturating_mul(2) > max {
        return Err(Error::msg(
            "ERR not enough room below maxmemory for a copy of the dataset: use SCRIPT DEBUG SYNC",
        ));
    }
    if max == 0 && crate::info::available_system_memory().is_some_and(|a| used > a / 2) {
        return Err(Error::msg(
            "ERR not enough free memory for a copy of the dataset: use SCRIPT DEBUG SYNC",
        ));
    }
    let mut cfg = core.cfg.clone();
    // The copy must never reach the server's files (FLUSHALL saves when save points are set).
    cfg.save.clear();
    cfg.appendonly = false;
    let mut copy = Box::new(Core::new(cfg));
    copy.acl = core.acl.clone();
    copy.lru_clock = core.lru_clock;
    copy.active_expire_enabled = false;
    for (src, dst) in core.dbs.iter().zip(copy.dbs.iter_mut()) {
        dst.table.reserve(src.table.len());
        for e in src.table.iter() {
            let (value, tag) = dup_value(e).map_err(|m| Error(m.into()))?;
            let mut n = Entry::new(e.key(), value, e.expire_at());
            n.set_tag(tag);
            n.set_lru(e.lru());
            dst.insert(n);
        }
    }
    Ok(copy)
}

struct Session {
    server: Arc<Server>,
    /// YES: the copy it runs on; SYNC: none (the server's own core).
    private: Option<Box<Core>>,
    /// The client the script's commands run as.
    client: Client,
    script: Script,
}

struct Script {
    /// The debugging client speaks RESP3 (the script's reply is encoded for it).
    resp3: bool,
    body: Bytes,
    keys: Vec<Bytes>,
    args: Vec<Bytes>,
    read_only: bool,
    oom: bool,
}

impl Session {
    fn run(self, io: ChannelIo) {
        let Session { server, mut private, mut client, script } = self;
        let to_client = io.to_client.clone();
        let sync = private.is_none();
        // Whatever happens on this thread, a SYNC session's end lets the others in again.
        let _flag = sync.then(|| DebuggingFlag(&server.script));
        let end = {
            let mut guard = None;
            let core: &mut Core = match private.as_deref_mut() {
                Some(c) => c,
                None => &mut *guard.insert(server.core.lock()),
            };
            let end = run_script(&server, core, &mut client, &script, io);
            if sync {
                // What follows a top-level command (the EVAL's ran before the script did).
                super::after_command(&server, core);
                crate::keyspace::evict::publish();
            }
            end
        };
        drop(_flag);
        // The copy goes with the session, off the server's threads.
        drop(private);
        let _ = to_client.send(ToClient::End(end));
    }
}

/// Set while a SYNC session runs (see `start`); cleared when dropped, on unwinding too.
struct DebuggingFlag<'a>(&'a crate::script_run::ScriptRun);

impl Drop for DebuggingFlag<'_> {
    fn drop(&mut self) {
        self.0.set_debugging(false);
    }
}

/// Runs the session's script under the debugger; returns what ends the session on the wire.
fn run_script(
    server: &Arc<Server>,
    core: &mut Core,
    client: &mut Client,
    s: &Script,
    io: ChannelIo,
) -> Vec<u8> {
    let mut engine = match Engine::debugger() {
        Ok(e) => e,
        Err(e) => {
            return end_bytes(Vec::new(), &Reply::error(format!("ERR Lua engine: {e}")), s.resp3)
        }
    };
    let _ = engine.set_memory_limit(LUA_HEAP_LIMIT);
    let wrap = !core.prop.in_transaction();
    if wrap {
        core.prop.begin_transaction();
    }
    let threshold = core.cfg.busy_reply_threshold;
    let keys: Vec<&[u8]> = s.keys.iter().map(|k| &k[..]).collect();
    let args: Vec<&[u8]> = s.args.iter().map(|a| &a[..]).collect();
    let (outcome, log) = {
        let mut host = Host::new(server, core, client, s.read_only, s.oom);
        engine.debug_script(&s.body, &keys, &args, &mut host, Box::new(io), threshold)
    };
    core.prop.suppressed = false;
    if wrap {
        core.prop.end_transaction();
    }
    end_bytes(log, &outcome.reply, s.resp3)
}

fn end_bytes(log: Vec<Vec<u8>>, reply: &Reply, resp3: bool) -> Vec<u8> {
    let mut out = encode_log(log, true);
    reply.encode(&mut out, resp3);
    out
}
