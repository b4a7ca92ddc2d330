//! API 1.1, concurrency: blocking a client until a thread or a key-ready event serves it
//! ([`Context::block_client`], [`Context::block_on_keys`], [`BlockedClient`]), running commands
//! from any thread under the server's execution lock ([`ThreadSafeContext`]), and timers
//! ([`Context::create_timer`], [`Context::stop_timer`]).
//!
//! Every callback runs inside `catch_unwind`: a panic in one becomes an error reply (or a log
//! line where there is no client), never an unwind across the ABI.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use abi_stable::sabi_trait::{TD_CanDowncast, TD_Opaque};
use abi_stable::sabi_types::RMut;
use abi_stable::std_types::{RBox, RErr, ROk, ROption, RResult, RSlice, RString};

use crate::abi::{
    BlockCallback, BlockCallback_TO, BlockedHandle, BlockedHandle_TO, DisconnectCallback,
    DisconnectCallback_TO, HostCtx_TO, KeyReadyCallback, KeyReadyCallback_TO, LogLevel,
    ServerHandle, ServerHandle_TO, TimerCallback, TimerCallback_TO,
};
use crate::command::panic_message;
use crate::{CommandResult, Context, Error, Reply};

type ReplyFn = Box<dyn FnOnce(&mut Context) -> CommandResult + Send>;

fn panicked(what: &str, p: &(dyn std::any::Any + Send)) -> String {
    format!("ERR module {what} panicked: {}", panic_message(p).replace(['\r', '\n'], " "))
}

/// A reply or timeout callback, run at most once.
struct OnceCallback {
    what: &'static str,
    f: Option<ReplyFn>,
}

impl BlockCallback for OnceCallback {
    fn call(&mut self, ctx: HostCtx_TO<'_, RMut<'_, ()>>) -> RResult<(), RString> {
        let Some(f) = self.f.take() else { return ROk(()) };
        let mut c = Context::new(ctx);
        match catch_unwind(AssertUnwindSafe(|| f(&mut c))) {
            Ok(Ok(())) => ROk(()),
            Ok(Err(e)) => RErr(e.message().into()),
            Err(p) => {
                let msg = panicked(self.what, p.as_ref());
                c.log(LogLevel::Warning, &msg);
                RErr(msg.into())
            }
        }
    }
}

fn once(what: &'static str, f: ReplyFn) -> BlockCallback_TO<'static, RBox<()>> {
    BlockCallback_TO::from_value(OnceCallback { what, f: Some(f) }, TD_Opaque)
}

type ReadyFn = Box<dyn FnMut(&mut Context, &[u8]) -> Result<bool, Error> + Send>;

struct ReadyCallback(ReadyFn);

impl KeyReadyCallback for ReadyCallback {
    fn call(
        &mut self,
        ctx: HostCtx_TO<'_, RMut<'_, ()>>,
        key: RSlice<'_, u8>,
    ) -> RResult<bool, RString> {
        let mut c = Context::new(ctx);
        match catch_unwind(AssertUnwindSafe(|| (self.0)(&mut c, key.as_slice()))) {
            Ok(Ok(served)) => ROk(served),
            Ok(Err(e)) => RErr(e.message().into()),
            Err(p) => {
                let msg = panicked("key-ready callback", p.as_ref());
                c.log(LogLevel::Warning, &msg);
                RErr(msg.into())
            }
        }
    }
}

struct OnDisconnect(Option<Box<dyn FnOnce() + Send>>);

impl DisconnectCallback for OnDisconnect {
    fn call(&mut self) {
        if let Some(f) = self.0.take() {
            // Nowhere to report it: the client is gone. The panic must not cross the ABI.
            let _ = catch_unwind(AssertUnwindSafe(f));
        }
    }
}

/// A client blocked by [`Context::block_client`] or [`Context::block_on_keys`]: `Send` and
/// `'static`, so a thread can finish the work and [`BlockedClient::reply`].
pub struct BlockedClient {
    handle: BlockedHandle_TO<'static, RBox<()>>,
}

impl BlockedClient {
    /// Unblocks the client; `f` writes its reply, on the server (with the server locked), as a
    /// command handler would: exactly one reply, or an `Err` that becomes the error reply.
    /// False (and `f` never runs) when the client is no longer blocked by this handle: it timed
    /// out, was unblocked by CLIENT UNBLOCK, disconnected, or was never blocked (MULTI, scripts).
    pub fn reply(self, f: impl FnOnce(&mut Context) -> CommandResult + Send + 'static) -> bool {
        self.handle.reply(once("reply callback", Box::new(f)))
    }

    /// Unblocks the client with the reply value `r`.
    pub fn reply_value(self, r: impl Into<Reply>) -> bool {
        let r = r.into();
        self.reply(move |ctx| {
            ctx.reply_value(&r);
            Ok(())
        })
    }

    /// Unblocks the client without running a callback: it gets a null reply. False as for
    /// [`BlockedClient::reply`].
    pub fn abort(self) -> bool {
        self.handle.abort()
    }
}

/// A timer's id, from [`Context::create_timer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId(pub u64);

type TimerFn<T> = Box<dyn FnOnce(&mut Context, T) + Send>;

/// A timer's data and callback, recovered by [`Context::stop_timer`] (a downcast: the type is
/// known by the one who stops it).
struct Timer<T: Send + 'static> {
    data: Option<T>,
    f: Option<TimerFn<T>>,
}

impl<T: Send + 'static> TimerCallback for Timer<T> {
    fn fire(&mut self, ctx: HostCtx_TO<'_, RMut<'_, ()>>) {
        let (Some(data), Some(f)) = (self.data.take(), self.f.take()) else { return };
        let mut c = Context::new(ctx);
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(&mut c, data))) {
            c.log(LogLevel::Warning, &panicked("timer callback", p.as_ref()));
        }
    }
}

/// A handle that never blocks anything (the fake host's, an old server's).
pub(crate) struct DeadHandle;

impl BlockedHandle for DeadHandle {
    fn reply(&self, _reply: BlockCallback_TO<'static, RBox<()>>) -> bool {
        false
    }
    fn abort(&self) -> bool {
        false
    }
}

pub(crate) fn dead_handle() -> BlockedHandle_TO<'static, RBox<()>> {
    BlockedHandle_TO::from_value(DeadHandle, TD_Opaque)
}

/// A server handle whose lock always fails (the fake host's).
pub(crate) struct NoServer;

impl ServerHandle for NoServer {
    fn lock(&self) -> RResult<HostCtx_TO<'static, RBox<()>>, RString> {
        RErr("ERR no server to lock".into())
    }
    fn clone_handle(&self) -> ServerHandle_TO<'static, RBox<()>> {
        ServerHandle_TO::from_value(NoServer, TD_Opaque)
    }
}

impl<'a, 'p> Context<'a, 'p> {
    /// Blocks the client (as `RM_BlockClient`): the command returns without a reply, and the
    /// [`BlockedClient`] (handed to a thread) replies later. After `timeout_ms` (0: never)
    /// `on_timeout` writes the reply instead. Inside MULTI/EXEC or a Lua script nothing blocks:
    /// the command's reply is Redis's error (`Blocking module command called from
    /// transaction`), and the handle's `reply` returns false. Write no reply of your own after
    /// blocking.
    pub fn block_client(
        &mut self,
        timeout_ms: u64,
        on_timeout: impl FnOnce(&mut Context) -> CommandResult + Send + 'static,
    ) -> BlockedClient {
        let t = once("timeout callback", Box::new(on_timeout));
        let handle = self.host.block_client(timeout_ms as i64, ROption::RSome(t), ROption::RNone);
        BlockedClient { handle }
    }

    /// [`Context::block_client`], with `on_disconnect` called if the client disconnects while
    /// blocked (the handle's `reply` then returns false).
    pub fn block_client_with_disconnect(
        &mut self,
        timeout_ms: u64,
        on_timeout: impl FnOnce(&mut Context) -> CommandResult + Send + 'static,
        on_disconnect: impl FnOnce() + Send + 'static,
    ) -> BlockedClient {
        let t = once("timeout callback", Box::new(on_timeout));
        let d = DisconnectCallback_TO::from_value(
            OnDisconnect(Some(Box::new(on_disconnect))),
            TD_Opaque,
        );
        let handle =
            self.host.block_client(timeout_ms as i64, ROption::RSome(t), ROption::RSome(d));
        BlockedClient { handle }
    }

    /// Blocks the client on `keys` of its database (as `RM_BlockClientOnKeys`): each time one
    /// of them is signalled ready (a write creates it, a stream gets an entry, or
    /// [`Context::signal_key_ready`]), `on_ready` runs on the server with the key: it replies and
    /// returns `Ok(true)` to serve the client, or returns `Ok(false)` to keep waiting (what it
    /// wrote is dropped). `on_timeout` as for [`Context::block_client`]. The handle may still
    /// unblock the client from elsewhere.
    pub fn block_on_keys<K: AsRef<[u8]>>(
        &mut self,
        keys: &[K],
        timeout_ms: u64,
        on_ready: impl FnMut(&mut Context, &[u8]) -> Result<bool, Error> + Send + 'static,
        on_timeout: impl FnOnce(&mut Context) -> CommandResult + Send + 'static,
    ) -> BlockedClient {
        let keys: Vec<RSlice<'_, u8>> =
            keys.iter().map(|k| RSlice::from_slice(k.as_ref())).collect();
        let r = KeyReadyCallback_TO::from_value(ReadyCallback(Box::new(on_ready)), TD_Opaque);
        let t = once("timeout callback", Box::new(on_timeout));
        let handle = self.host.block_on_keys(
            RSlice::from_slice(&keys),
            timeout_ms as i64,
            r,
            ROption::RSome(t),
            ROption::RNone,
        );
        BlockedClient { handle }
    }

    /// Marks `key` (of this context's database) ready: clients blocked on it by
    /// [`Context::block_on_keys`] get their `on_ready` called after this command.
    pub fn signal_key_ready(&mut self, key: impl AsRef<[u8]>) {
        self.host.signal_key_ready(RSlice::from_slice(key.as_ref()));
    }

    /// Runs `callback` with `data` on the server after `ms` milliseconds (as `RM_CreateTimer`),
    /// with a context that can call commands (its replies go nowhere). Timers of a module that
    /// is unloaded are cancelled.
    pub fn create_timer<T: Send + 'static>(
        &mut self,
        ms: u64,
        data: T,
        callback: impl FnOnce(&mut Context, T) + Send + 'static,
    ) -> TimerId {
        let t = Timer { data: Some(data), f: Some(Box::new(callback) as TimerFn<T>) };
        TimerId(self.host.create_timer(ms, TimerCallback_TO::from_value(t, TD_CanDowncast)))
    }

    /// Cancels a timer and returns its data; `None` if it fired already, does not exist, or
    /// its data is not a `T` (it is cancelled all the same).
    pub fn stop_timer<T: Send + 'static>(&mut self, id: TimerId) -> Option<T> {
        let cb = self.host.stop_timer(id.0).into_option()?;
        let t = cb.obj.downcast_into::<Timer<T>>().ok()?;
        RBox::into_inner(t).data
    }

    /// A thread-safe context for this server (see [`ThreadSafeContext`]).
    pub fn thread_safe_context(&self) -> ThreadSafeContext {
        ThreadSafeContext { handle: Some(self.host.server_handle()) }
    }
}

/// The server handle the module's `init` got, for [`ThreadSafeContext::new`].
static SERVER: Mutex<Option<ServerHandle_TO<'static, RBox<()>>>> = Mutex::new(None);

pub(crate) fn set_server(h: ServerHandle_TO<'static, RBox<()>>) {
    *SERVER.lock().unwrap_or_else(|e| e.into_inner()) = Some(h);
}

/// Runs commands from any thread (as `RM_GetThreadSafeContext`): [`ThreadSafeContext::lock`]
/// waits for the server's execution lock (the one every command runs under) and returns a
/// [`LockedContext`]; the lock is released when that is dropped.
///
/// Never lock from a command handler or callback (the thread holds the lock already): that is
/// refused with an error rather than a deadlock. Locking while the server shuts down fails.
pub struct ThreadSafeContext {
    handle: Option<ServerHandle_TO<'static, RBox<()>>>,
}

impl Default for ThreadSafeContext {
    fn default() -> Self {
        Self::new()
    }
}

impl ThreadSafeContext {
    /// A context on the server that loaded this module (the handle `init` received).
    pub fn new() -> ThreadSafeContext {
        let g = SERVER.lock().unwrap_or_else(|e| e.into_inner());
        ThreadSafeContext { handle: g.as_ref().map(|h| h.clone_handle()) }
    }

    /// Waits for the server's execution lock.
    pub fn lock(&self) -> Result<LockedContext, Error> {
        let Some(h) = &self.handle else {
            return Err(Error::err("no server: the module was not loaded by a server"));
        };
        match h.lock() {
            ROk(host) => Ok(LockedContext { host }),
            RErr(e) => Err(Error::new(e.into_string())),
        }
    }
}

impl Clone for ThreadSafeContext {
    fn clone(&self) -> Self {
        ThreadSafeContext { handle: self.handle.as_ref().map(|h| h.clone_handle()) }
    }
}

/// The server's execution lock, held: commands run through [`LockedContext::call`] (or the
/// [`Context`] of [`LockedContext::ctx`]) as a client of database 0 would run them. Dropping it
/// releases the lock (and serves clients blocked on keys those commands made ready).
pub struct LockedContext {
    host: HostCtx_TO<'static, RBox<()>>,
}

impl LockedContext {
    /// A [`Context`] to call commands, log and create timers through (replies go nowhere).
    pub fn ctx(&mut self) -> Context<'static, '_> {
        Context::new(self.host.sabi_reborrow_mut())
    }

    /// Runs a command (see [`Context::call`]).
    pub fn call<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Reply {
        self.ctx().call(argv)
    }
}
