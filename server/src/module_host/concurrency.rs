//! API 1.1, concurrency: module-blocked clients (`block_client`, `block_on_keys`), the
//! thread-safe context's lock, and timers.
//!
//! A module-blocked client is an ordinary waiter of [`crate::blocking`] (`Wants::Module`), so
//! its connection waits outside the lock as for BLPOP, `INFO clients` counts it and its timeout
//! fires from the connection; what is module-specific (the callbacks, the handle's state) is a
//! [`Blocked`] record here, keyed by client id. Whoever finishes the client (the handle's reply,
//! the timeout, CLIENT UNBLOCK, a key-ready callback, the disconnect) does it holding the core
//! lock and removing the record, so exactly one of them does.
//!
//! A thread's `reply` never takes the core lock itself (it may be a command or a callback, which
//! holds it already): it leaves the callback in the handle's slot and spawns a task that takes
//! the lock and runs it. Callbacks run under the lock, with a context like a command's; a
//! thread-local flag marks threads running module code under the lock, so that a
//! `ThreadSafeContext::lock` there fails instead of deadlocking.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RMut;
use abi_stable::std_types::{RBox, RErr, ROk, ROption, RResult, RSlice, RStr, RString};
use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};
use vireo_module_api::abi::{
    Aggregate, BlockCallback_TO, BlockedHandle, BlockedHandle_TO, CallReply, DisconnectCallback_TO,
    HostCtx, HostCtx_TO, KeyReadyCallback_TO, LogLevel, ServerHandle, ServerHandle_TO,
    TimerCallback_TO, API_MINOR,
};
use vireo_module_api::tracker::ReplyTracker;

use super::Host;
use crate::blocking::{BlockRequest, Wants};
use crate::client::{Client, ClientShared};
use crate::cmd::{Command, Ctx};
use crate::resp::Reply;
use crate::server::{Core, Server};

thread_local! {
    /// This thread runs module code holding the core lock (a command, a callback, a locked
    /// thread-safe context): locking again would deadlock.
    static HOLDS_LOCK: Cell<bool> = const { Cell::new(false) };
}

/// Marks the thread as holding the core lock while module code runs; restores on drop.
pub(super) struct LockMark(bool);

impl LockMark {
    pub(super) fn set() -> LockMark {
        LockMark(HOLDS_LOCK.with(|f| f.replace(true)))
    }
}

impl Drop for LockMark {
    fn drop(&mut self) {
        HOLDS_LOCK.with(|f| f.set(self.0));
    }
}

/// What a handle left for its client.
enum Pending {
    Reply(BlockCallback_TO<'static, RBox<()>>),
    Abort,
}

/// The state a handle shares with its record.
#[derive(Default)]
struct Slot {
    /// The client was finished (or never blocked): the handle can do nothing more.
    dead: bool,
    pending: Option<Pending>,
}

/// A module-blocked client.
struct Blocked {
    module: String,
    cmd: Arc<Command>,
    db: usize,
    resp: u8,
    user: String,
    shared: Arc<ClientShared>,
    slot: Arc<Mutex<Slot>>,
    on_timeout: Option<BlockCallback_TO<'static, RBox<()>>>,
    on_disconnect: Option<DisconnectCallback_TO<'static, RBox<()>>>,
    on_ready: Option<KeyReadyCallback_TO<'static, RBox<()>>>,
}

struct Timer {
    module: String,
    callback: TimerCallback_TO<'static, RBox<()>>,
}

/// The concurrency state (in `Modules`).
#[derive(Default)]
pub struct State {
    blocked: HashMap<u64, Blocked>,
    timers: BTreeMap<u64, Timer>,
    next_timer: u64,
    /// The runtime spawned tasks (replies from threads, timers) run on.
    rt: Option<tokio::runtime::Handle>,
}

impl State {
    /// Remembers the runtime (module loading runs on it).
    pub(super) fn capture_runtime(&mut self) {
        if self.rt.is_none() {
            self.rt = tokio::runtime::Handle::try_current().ok();
        }
    }

    /// Whether module `name` has blocked clients (MODULE UNLOAD is refused then).
    pub(super) fn blocks_clients(&self, name: &str) -> bool {
        self.blocked.values().any(|b| b.module == name)
    }

    /// Cancels the timers of module `name` (it is being unloaded).
    pub(super) fn cancel_timers(&mut self, name: &str) {
        self.timers.retain(|_, t| t.module != name);
    }
}

/// The handle a module thread unblocks its client through.
struct Handle {
    server: Weak<Server>,
    rt: tokio::runtime::Handle,
    id: u64,
    slot: Arc<Mutex<Slot>>,
}

impl Handle {
    fn leave(&self, p: Pending) -> bool {
        {
            let mut s = self.slot.lock();
            if s.dead || s.pending.is_some() {
                return false;
            }
            s.pending = Some(p);
        }
        let (server, id, slot) = (self.server.clone(), self.id, self.slot.clone());
        self.rt.spawn(async move {
            let Some(server) = server.upgrade() else { return };
            let mut guard = server.lock_core().await;
            let core = &mut *guard;
            // Finished meanwhile (a timeout that ran the pending reply, a disconnect)?
            let mine =
                core.modules.conc.blocked.get(&id).is_some_and(|b| Arc::ptr_eq(&b.slot, &slot));
            if mine {
                let (b, pending) = take(core, id).expect("checked above");
                let shared = b.shared.clone();
                let reply = finish_reply(&server, core, b, pending, Finish::Timeout);
                crate::blocking::finish(core, &shared, reply);
                crate::cmd::serve_blocked_now(&server, core);
            }
        });
        true
    }
}

impl BlockedHandle for Handle {
    fn reply(&self, reply: BlockCallback_TO<'static, RBox<()>>) -> bool {
        self.leave(Pending::Reply(reply))
    }

    fn abort(&self) -> bool {
        self.leave(Pending::Abort)
    }
}

struct Dead;

impl BlockedHandle for Dead {
    fn reply(&self, _reply: BlockCallback_TO<'static, RBox<()>>) -> bool {
        false
    }
    fn abort(&self) -> bool {
        false
    }
}

fn dead() -> BlockedHandle_TO<'static, RBox<()>> {
    BlockedHandle_TO::from_value(Dead, TD_Opaque)
}

/// `block_client` / `block_on_keys` of a command's host.
pub(super) fn block(
    host: &mut Host,
    keys: Vec<Bytes>,
    timeout_ms: i64,
    on_ready: Option<KeyReadyCallback_TO<'static, RBox<()>>>,
    on_timeout: Option<BlockCallback_TO<'static, RBox<()>>>,
    on_disconnect: Option<DisconnectCallback_TO<'static, RBox<()>>>,
) -> BlockedHandle_TO<'static, RBox<()>> {
    let ctx = &mut *host.ctx;
    // As Redis: a blocking module command inside a script or a transaction (EXEC, or a module
    // calling it, or a callback) does not block; its reply is this error.
    let refused = if ctx.client.lua {
        Some("ERR Blocking module command called from Lua script")
    } else if ctx.client.in_exec {
        Some("ERR Blocking module command called from transaction")
    } else if ctx.blocked.is_some() {
        Some("ERR the client is blocked already")
    } else {
        None
    };
    let rt = ctx.core.modules.conc.rt.clone();
    let (Some(rt), None) = (rt, refused) else {
        host.reply_error(RStr::from_str(refused.unwrap_or("ERR no runtime to block on")));
        return dead();
    };
    let Some(cmd) = ctx.core.modules.command(ctx.cmd.spec.name.as_bytes()) else {
        host.reply_error(RStr::from_str("ERR the command is not a module command"));
        return dead();
    };
    let id = ctx.client.id;
    let slot = Arc::new(Mutex::new(Slot::default()));
    let deadline = (timeout_ms > 0).then(|| ctx.now.saturating_add(timeout_ms));
    ctx.blocked = Some(BlockRequest { keys, deadline, wants: Wants::Module, rerun: None });
    let b = Blocked {
        module: host.module.to_string(),
        cmd,
        db: ctx.client.db,
        resp: ctx.client.resp,
        user: ctx.client.user.clone(),
        shared: ctx.client.shared.clone(),
        slot: slot.clone(),
        on_timeout,
        on_disconnect,
        on_ready,
    };
    ctx.core.modules.conc.blocked.insert(id, b);
    let h = Handle { server: Arc::downgrade(ctx.server), rt, id, slot };
    BlockedHandle_TO::from_value(h, TD_Opaque)
}

/// The command that blocked failed or replied after all: the client is not blocked.
pub(super) fn cancel(ctx: &mut Ctx) {
    ctx.blocked = None;
    if let Some(b) = ctx.core.modules.conc.blocked.remove(&ctx.client.id) {
        b.slot.lock().dead = true;
    }
}

/// Removes client `id`'s record (marking its handle dead) and its waiter; returns the record
/// and what its handle left.
fn take(core: &mut Core, id: u64) -> Option<(Blocked, Option<Pending>)> {
    let b = core.modules.conc.blocked.remove(&id)?;
    // The command counts once its client is finished (as a built-in blocked command counts
    // when it is served).
    if let Some(st) = core.stats.cmd.get_mut(b.cmd.id) {
        st.calls += 1;
    }
    core.stats.total_commands_processed += 1;
    let pending = {
        let mut s = b.slot.lock();
        s.dead = true;
        s.pending.take()
    };
    core.blocking.unblock(&mut core.dbs, id);
    Some((b, pending))
}

/// Why a client is finished when no callback of its handle is pending.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Finish {
    Timeout,
    UnblockError,
}

/// The reply of a finished client: what its handle left wins (it came first), else the
/// timeout callback (or the null reply), or CLIENT UNBLOCK ERROR's error.
fn finish_reply(
    server: &Arc<Server>,
    core: &mut Core,
    mut b: Blocked,
    pending: Option<Pending>,
    why: Finish,
) -> Vec<u8> {
    match pending {
        Some(Pending::Reply(mut cb)) => run_reply(server, core, &b, |h| cb.call(h)),
        Some(Pending::Abort) => crate::blocking::timeout_reply(b.resp),
        None if why == Finish::UnblockError => {
            b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n".to_vec()
        }
        None => match b.on_timeout.take() {
            Some(mut cb) => run_reply(server, core, &b, |h| cb.call(h)),
            None => crate::blocking::timeout_reply(b.resp),
        },
    }
}

/// Runs one of client `b`'s callbacks with a context like its command's, and returns the reply
/// it wrote: exactly one, or the error it returned.
fn run_reply(
    server: &Arc<Server>,
    core: &mut Core,
    b: &Blocked,
    f: impl FnOnce(HostCtx_TO<'_, RMut<'_, ()>>) -> RResult<(), RString>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let (r, complete) = with_host(server, core, b, &mut out, f);
    let err = match r {
        ROk(()) if complete => return out,
        ROk(()) => {
            format!("ERR module command '{}' did not write exactly one reply", b.cmd.fullname)
        }
        RErr(e) => e.into_string(),
    };
    out.clear();
    Reply::new(&mut out, b.resp == 3).error(&err);
    out
}

/// Runs `f` with a host for client `b` (its id, database, protocol and user; nothing it calls
/// blocks), writing into `out`; whether it wrote exactly one reply.
fn with_host<R>(
    server: &Arc<Server>,
    core: &mut Core,
    b: &Blocked,
    out: &mut Vec<u8>,
    f: impl FnOnce(HostCtx_TO<'_, RMut<'_, ()>>) -> R,
) -> (R, bool) {
    let mut client = Client::new(b.shared.id, b.shared.clone(), true, b.shared.push_sender());
    client.db = b.db;
    client.resp = b.resp;
    client.user.clone_from(&b.user);
    client.in_exec = true;
    detached(server, core, &mut client, &b.cmd, &b.module, out, f)
}

/// Runs `f` with a host over `client` and command `cmd` outside any command: a callback's
/// context. Returns what `f` did and whether it wrote exactly one reply.
fn detached<R>(
    server: &Arc<Server>,
    core: &mut Core,
    client: &mut Client,
    cmd: &Command,
    module: &str,
    out: &mut Vec<u8>,
    f: impl FnOnce(HostCtx_TO<'_, RMut<'_, ()>>) -> R,
) -> (R, bool) {
    let _mark = LockMark::set();
    let resp3 = client.resp == 3;
    let mut ctx = Ctx {
        core,
        server,
        client,
        out: Reply::new(out, resp3),
        now: crate::clock::mstime(),
        propagate_as: None,
        cmd,
        blocked: None,
        touched_own: false,
        force_propagation: false,
    };
    // A callback replies to no command of its own: nothing to replicate verbatim, and what it
    // chooses to replicate is dropped (its calls propagate).
    let mut host = Host {
        ctx: &mut ctx,
        tracker: ReplyTracker::default(),
        wrapped: false,
        module,
        argv: &[],
        replicate: None,
        value_marks: 0,
    };
    let r = f(HostCtx_TO::from_ptr(RMut::new(&mut host), TD_Opaque));
    let (wrapped, complete) = (host.wrapped, host.tracker.complete());
    if wrapped {
        ctx.core.prop.end_transaction();
    }
    (r, complete)
}

/// The connection of blocked client `id` saw its deadline pass: the module's reply (a pending
/// one from its handle, else its timeout callback's), or None when it is not a module client.
pub fn timed_out(server: &Arc<Server>, core: &mut Core, id: u64) -> Option<Vec<u8>> {
    let (b, pending) = take(core, id)?;
    let reply = finish_reply(server, core, b, pending, Finish::Timeout);
    crate::cmd::serve_blocked_now(server, core);
    Some(reply)
}

/// CLIENT UNBLOCK on client `id`: None when it is not module-blocked, else its reply (1, or 0
/// when the module gave no timeout callback, as Redis's `moduleBlockedClientMayTimeout`).
pub fn client_unblock(server: &Arc<Server>, core: &mut Core, id: u64, error: bool) -> Option<i64> {
    let b = core.modules.conc.blocked.get(&id)?;
    if b.on_timeout.is_none() {
        return Some(0);
    }
    let (b, pending) = take(core, id).expect("checked above");
    let shared = b.shared.clone();
    let why = if error { Finish::UnblockError } else { Finish::Timeout };
    let reply = finish_reply(server, core, b, pending, why);
    crate::blocking::finish(core, &shared, reply);
    Some(1)
}

/// Client `id` disconnected: its module's disconnect callback runs, its handle goes dead.
pub fn client_gone(core: &mut Core, id: u64) {
    if core.modules.conc.blocked.is_empty() {
        return;
    }
    if let Some((mut b, _)) = take(core, id) {
        if let Some(mut cb) = b.on_disconnect.take() {
            let _mark = LockMark::set();
            cb.call();
        }
    }
}

/// Module client `id`, blocked on `key` of the database being served, gets its key-ready
/// callback; if it serves (or fails) it is unblocked with what it wrote. Whether it was
/// unblocked. Clients blocked without `block_on_keys` (on a timeout only) are never ready.
pub fn serve_waiter(server: &Arc<Server>, core: &mut Core, id: u64, key: &[u8]) -> bool {
    let Some(mut ready) = core.modules.conc.blocked.get_mut(&id).and_then(|b| b.on_ready.take())
    else {
        return false;
    };
    // The record is moved out for the call (the host borrows the core) and put back.
    let Some(mut b) = core.modules.conc.blocked.remove(&id) else { return false };
    let mut out = Vec::new();
    let (r, complete) =
        with_host(server, core, &b, &mut out, |h| ready.call(h, RSlice::from_slice(key)));
    let served = match r {
        ROk(false) => {
            b.on_ready = Some(ready);
            core.modules.conc.blocked.insert(id, b);
            return false;
        }
        ROk(true) if complete => out,
        ROk(true) => {
            let e =
                format!("ERR module command '{}' did not write exactly one reply", b.cmd.fullname);
            out.clear();
            Reply::new(&mut out, b.resp == 3).error(&e);
            out
        }
        RErr(e) => {
            out.clear();
            Reply::new(&mut out, b.resp == 3).error(&e);
            out
        }
    };
    core.modules.conc.blocked.insert(id, b);
    let (b, _pending) = take(core, id).expect("inserted above");
    crate::blocking::finish(core, &b.shared, served);
    true
}

/// `signal_key_ready` of a host.
pub(super) fn signal_ready(host: &mut Host, key: &[u8]) {
    let db = host.ctx.client.db;
    host.ctx.core.dbs[db].signal_ready(key);
}

// ---- timers ----

/// `create_timer` of a host.
pub(super) fn create_timer(
    server: &Arc<Server>,
    core: &mut Core,
    module: &str,
    ms: u64,
    callback: TimerCallback_TO<'static, RBox<()>>,
) -> u64 {
    let st = &mut core.modules.conc;
    let Some(rt) = st.rt.clone() else { return 0 };
    st.next_timer += 1;
    let id = st.next_timer;
    st.timers.insert(id, Timer { module: module.to_string(), callback });
    let server = Arc::downgrade(server);
    rt.spawn(async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        let Some(server) = server.upgrade() else { return };
        if server.is_shutting_down() {
            return;
        }
        let mut guard = server.lock_core().await;
        fire(&server, &mut guard, id);
    });
    id
}

fn fire(server: &Arc<Server>, core: &mut Core, id: u64) {
    let Some(mut t) = core.modules.conc.timers.remove(&id) else { return };
    let Some(cmd) = placeholder(server) else { return };
    let mut client = fake_client();
    let mut out = Vec::new();
    detached(server, core, &mut client, cmd, &t.module, &mut out, |h| t.callback.fire(h));
    crate::cmd::serve_blocked_now(server, core);
}

/// `stop_timer` of a host.
pub(super) fn stop_timer(core: &mut Core, id: u64) -> ROption<TimerCallback_TO<'static, RBox<()>>> {
    core.modules.conc.timers.remove(&id).map(|t| t.callback).into()
}

/// The client timers and thread-safe contexts run commands as: database 0, RESP3, no
/// connection (Redis's module fake client).
fn fake_client() -> Client {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let shared =
        Arc::new(ClientShared::new(0, String::new(), String::new(), -1, false, tx.clone()));
    let mut c = Client::new(0, shared, true, tx);
    c.resp = 3;
    c.in_exec = true;
    c
}

/// The command a context outside any command is given (a `Ctx` needs one; the module host
/// only names it in errors about replies, which such a context does not check).
fn placeholder(server: &Server) -> Option<&'static Command> {
    server.commands.get(b"module").or_else(|| server.commands.iter().next())
}

// ---- thread-safe contexts ----

/// Servers thread-safe contexts lock: one `Arc` per server leaked, so that a lock guard can
/// borrow it for `'static` (a server lives as long as its process).
static SERVERS: Mutex<Vec<&'static Arc<Server>>> = Mutex::new(Vec::new());

fn leaked(server: &Arc<Server>) -> &'static Arc<Server> {
    let mut v = SERVERS.lock();
    if let Some(s) = v.iter().find(|s| Arc::ptr_eq(s, server)) {
        return s;
    }
    let s: &'static Arc<Server> = Box::leak(Box::new(server.clone()));
    v.push(s);
    s
}

/// The handle a module's thread-safe contexts lock the server through.
pub(super) fn server_handle(server: &Arc<Server>) -> ServerHandle_TO<'static, RBox<()>> {
    ServerHandle_TO::from_value(ServerRef(leaked(server)), TD_Opaque)
}

struct ServerRef(&'static Arc<Server>);

impl ServerHandle for ServerRef {
    fn lock(&self) -> RResult<HostCtx_TO<'static, RBox<()>>, RString> {
        if HOLDS_LOCK.with(|f| f.get()) {
            return RErr(
                "ERR ThreadSafeContext::lock called where the server is locked already (a                  command, a callback or a locked context): it would deadlock"
                    .into(),
            );
        }
        let server = self.0;
        let core = loop {
            if server.is_shutting_down() {
                return RErr("ERR the server is shutting down".into());
            }
            if let Some(core) = server.core.try_lock_for(Duration::from_millis(10)) {
                break core;
            }
        };
        if core.shutting_down {
            return RErr("ERR the server is shutting down".into());
        }
        let Some(cmd) = placeholder(server) else {
            return RErr("ERR no context command".into());
        };
        let locked = Locked {
            server,
            core,
            client: fake_client(),
            cmd,
            wrapped: false,
            mark: LockMark::set(),
        };
        ROk(HostCtx_TO::from_value(locked, TD_Opaque))
    }

    fn clone_handle(&self) -> ServerHandle_TO<'static, RBox<()>> {
        ServerHandle_TO::from_value(ServerRef(self.0), TD_Opaque)
    }
}

/// A locked thread-safe context: the core lock, held until it is dropped.
struct Locked {
    server: &'static Arc<Server>,
    core: MutexGuard<'static, Core>,
    client: Client,
    cmd: &'static Command,
    /// A call began a MULTI/EXEC around what the context's calls propagate.
    wrapped: bool,
    #[allow(dead_code)]
    mark: LockMark,
}

impl Drop for Locked {
    fn drop(&mut self) {
        if self.wrapped {
            self.core.prop.end_transaction();
        }
        crate::cmd::serve_blocked_now(self.server, &mut self.core);
    }
}

impl Locked {
    fn with<R>(&mut self, f: impl FnOnce(&mut Host) -> R) -> R {
        let mut out = Vec::new();
        let resp3 = self.client.resp == 3;
        let mut ctx = Ctx {
            core: &mut self.core,
            server: self.server,
            client: &mut self.client,
            out: Reply::new(&mut out, resp3),
            now: crate::clock::mstime(),
            propagate_as: None,
            cmd: self.cmd,
            blocked: None,
            touched_own: false,
            force_propagation: false,
        };
        let mut host = Host {
            ctx: &mut ctx,
            tracker: ReplyTracker::default(),
            wrapped: self.wrapped,
            module: "",
            argv: &[],
            replicate: None,
            value_marks: 0,
        };
        let r = f(&mut host);
        self.wrapped = host.wrapped;
        r
    }
}

/// A locked context has no client to reply to: replies go nowhere; it cannot block.
impl HostCtx for Locked {
    fn resp(&self) -> u8 {
        3
    }
    fn client_id(&self) -> u64 {
        0
    }
    fn db(&self) -> i64 {
        self.client.db as i64
    }
    fn reply_simple(&mut self, _s: RStr<'_>) {}
    fn reply_error(&mut self, _s: RStr<'_>) {}
    fn reply_int(&mut self, _n: i64) {}
    fn reply_bulk(&mut self, _b: RSlice<'_, u8>) {}
    fn reply_null(&mut self) {}
    fn reply_null_array(&mut self) {}
    fn reply_double(&mut self, _d: f64) {}
    fn reply_bool(&mut self, _b: bool) {}
    fn reply_big_number(&mut self, _digits: RStr<'_>) {}
    fn reply_verbatim(&mut self, _format: RStr<'_>, _text: RSlice<'_, u8>) {}
    fn reply_aggregate(&mut self, _kind: Aggregate, _len: u64) -> bool {
        true
    }
    fn reply_postponed(&mut self, _kind: Aggregate) -> u32 {
        0
    }
    fn set_postponed_len(&mut self, _handle: u32, _len: u64) {}
    fn call(&mut self, argv: RSlice<'_, RSlice<'_, u8>>) -> CallReply {
        self.with(|h| h.call(argv))
    }
    fn log(&self, level: LogLevel, msg: RStr<'_>) {
        super::log(level, "thread-safe context", msg.as_str());
    }
    fn api_minor(&self) -> u32 {
        API_MINOR
    }
    fn block_client(
        &mut self,
        _timeout_ms: i64,
        _on_timeout: ROption<BlockCallback_TO<'static, RBox<()>>>,
        _on_disconnect: ROption<DisconnectCallback_TO<'static, RBox<()>>>,
    ) -> BlockedHandle_TO<'static, RBox<()>> {
        dead()
    }
    fn block_on_keys(
        &mut self,
        _keys: RSlice<'_, RSlice<'_, u8>>,
        _timeout_ms: i64,
        _on_ready: KeyReadyCallback_TO<'static, RBox<()>>,
        _on_timeout: ROption<BlockCallback_TO<'static, RBox<()>>>,
        _on_disconnect: ROption<DisconnectCallback_TO<'static, RBox<()>>>,
    ) -> BlockedHandle_TO<'static, RBox<()>> {
        dead()
    }
    fn create_timer(&mut self, ms: u64, callback: TimerCallback_TO<'static, RBox<()>>) -> u64 {
        create_timer(self.server, &mut self.core, "", ms, callback)
    }
    fn stop_timer(&mut self, id: u64) -> ROption<TimerCallback_TO<'static, RBox<()>>> {
        stop_timer(&mut self.core, id)
    }
    fn server_handle(&self) -> ServerHandle_TO<'static, RBox<()>> {
        ServerHandle_TO::from_value(ServerRef(self.server), TD_Opaque)
    }
    fn signal_key_ready(&mut self, key: RSlice<'_, u8>) {
        let db = self.client.db;
        self.core.dbs[db].signal_ready(key.as_slice());
    }
    fn key_op(
        &mut self,
        op: u32,
        key: RSlice<'_, u8>,
        args: RSlice<'_, RSlice<'_, u8>>,
    ) -> RResult<CallReply, RString> {
        self.with(|h| h.key_op(op, key, args))
    }
    fn call_with(
        &mut self,
        flags: u32,
        argv: RSlice<'_, RSlice<'_, u8>>,
    ) -> RResult<CallReply, vireo_module_api::abi::CallError> {
        self.with(|h| h.call_with(flags, argv))
    }
    // A thread-safe context belongs to no module, so it owns no data type: its values are
    // reached through the module's commands (`call`).
    fn module_value(
        &mut self,
        _key: RSlice<'_, u8>,
        _type_name: RStr<'_>,
    ) -> super::types::ValueResult<'_> {
        RErr(NO_TYPES.into())
    }
    fn module_value_mut(
        &mut self,
        _key: RSlice<'_, u8>,
        _type_name: RStr<'_>,
    ) -> super::types::ValueMutResult<'_> {
        RErr(NO_TYPES.into())
    }
    fn set_module_value(
        &mut self,
        _key: RSlice<'_, u8>,
        _type_name: RStr<'_>,
        _value: vireo_module_api::abi::ModuleValue_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        RErr(NO_TYPES.into())
    }
    fn key_type_name(&mut self, key: RSlice<'_, u8>) -> RString {
        self.with(|h| h.key_type_name(key))
    }
    fn notify_keyspace_event(&mut self, class: u32, event: RStr<'_>, key: RSlice<'_, u8>) {
        self.with(|h| h.notify_keyspace_event(class, event, key))
    }
    // A thread-safe context runs no command to replicate: what its calls write propagates.
    fn replicate_verbatim(&mut self) {}
    fn replicate(&mut self, _argv: RSlice<'_, RSlice<'_, u8>>) -> RResult<(), RString> {
        RErr("ERR a thread-safe context replicates what its calls write".into())
    }
    fn import_api(
        &mut self,
        _name: RStr<'_>,
        _min_version: u32,
    ) -> RResult<vireo_module_api::abi::SharedApi, RString> {
        // Imports are recorded per module, and a thread-safe context belongs to none: a module
        // imports in `init` or from its commands.
        RErr("ERR a thread-safe context cannot import shared APIs".into())
    }
}

const NO_TYPES: &str = "ERR a thread-safe context reaches module values only through commands";
