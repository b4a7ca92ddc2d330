//! Listeners and the connection loop.
//!
//! A connection task reads whatever the socket has, parses every complete command in it, takes
//! the core lock once for the whole batch, runs the commands, releases the lock and writes all the
//! replies with one write, at the end of the worker's pass (see [`pass`]). Pipelined clients
//! therefore pay one lock and one syscall pair per read, not per command.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::mpsc;

use crate::client::{Client, ClientShared};
use crate::cmd::{self, Flow};
use crate::resp::{parse::unquote_inline, parse_command, Limits, Parsed};
use crate::server::Server;

mod output;
pub mod pass;
pub mod socket;
mod unwind;

const READ_CHUNK: usize = 16 * 1024;

/// Binds every configured address. Like Redis, an address prefixed with `-` is optional: failing
/// to bind it (e.g. no IPv6) is not an error.
pub async fn bind_all(
    server: &Arc<Server>,
) -> io::Result<(Vec<TcpListener>, Option<UnixListener>)> {
    let (binds, port, unixsocket, perm, backlog) = {
        let core = server.core.lock();
        let c = &core.cfg;
        (c.bind.clone(), c.port, c.unixsocket.clone(), c.unixsocketperm, c.tcp_backlog)
    };
    warn_if_backlog_capped(backlog);
    let mut listeners = Vec::new();
    if port != 0 {
        for b in &binds {
            let (optional, addr) = match b.strip_prefix('-') {
                Some(a) => (true, a),
                None => (false, b.as_str()),
            };
            let addr = match addr {
                "*" => "0.0.0.0",
                "::*" => "::",
                a => a,
            };
            let sa = if addr.contains(':') {
                format!("[{addr}]:{port}")
            } else {
                format!("{addr}:{port}")
            };
            match tcp_listener(&sa, backlog).await {
                Ok(l) => listeners.push(l),
                Err(e) if optional => tracing::debug!("skipping optional bind {sa}: {e}"),
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("Could not create server TCP listening socket {sa}: {e}"),
                    ))
                }
            }
        }
        if let Some(l) = listeners.first() {
            if let Ok(a) = l.local_addr() {
                server.tcp_port.store(a.port() as u64, Ordering::Relaxed);
            }
        }
    }
    let unix = match unixsocket {
        Some(path) if !path.is_empty() => {
            let _ = std::fs::remove_file(&path);
            let l = unix_listener(&path, backlog).map_err(|e| {
                io::Error::new(e.kind(), format!("Failed opening Unix socket {path}: {e}"))
            })?;
            if perm != 0 {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(perm))?;
            }
            Some(l)
        }
        _ => None,
    };
    Ok((listeners, unix))
}

/// A listening socket on `addr` with `tcp-backlog` as its accept queue (the standard
/// library's is 128: a burst of connections past it waits a second for SYN retransmission).
/// IPv6 sockets are IPv6-only, as Redis's, so `bind 0.0.0.0 ::` binds both.
async fn tcp_listener(addr: &str, backlog: u32) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sa = tokio::net::lookup_host(addr)
        .await?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
    let socket = Socket::new(Domain::for_address(sa), Type::STREAM, Some(Protocol::TCP))?;
    if sa.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&sa.into())?;
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    TcpListener::from_std(socket.into())
}

/// The Unix-socket listener, with the same backlog as the TCP ones (as Redis).
fn unix_listener(path: &str, backlog: u32) -> io::Result<UnixListener> {
    use socket2::{Domain, SockAddr, Socket, Type};
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SockAddr::unix(path)?)?;
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    UnixListener::from_std(socket.into())
}

/// Redis's start-up warning when the kernel caps the accept queue below `tcp-backlog`.
fn warn_if_backlog_capped(backlog: u32) {
    const PROC: &str = "/proc/sys/net/core/somaxconn";
    let Ok(text) = std::fs::read_to_string(PROC) else { return };
    if let Ok(max) = text.trim().parse::<u32>() {
        if max < backlog {
            tracing::warn!(
                "WARNING: The TCP backlog setting of {backlog} cannot be enforced because {PROC} \
                 is set to the lower value of {max}."
            );
        }
    }
}

pub async fn accept_tcp(server: Arc<Server>, listener: TcpListener) {
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("Accepting client connection: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = server.shutdown.notified() => return,
        };
        let _ = stream.set_nodelay(true);
        // A busy script holds the lock: the default then.
        let keepalive = server.try_lock_core().map(|c| c.cfg.tcp_keepalive).unwrap_or(300);
        if keepalive > 0 {
            let ka = socket2::TcpKeepalive::new().with_time(Duration::from_secs(keepalive));
            let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&ka);
        }
        let laddr = stream.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        let srv = server.clone();
        tokio::spawn(async move {
            serve(srv, Arc::new(stream), peer.to_string(), laddr, fd, false, Some(peer)).await;
        });
    }
}

pub async fn accept_unix(server: Arc<Server>, listener: UnixListener, path: String) {
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!("Accepting client connection: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = server.shutdown.notified() => return,
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        let srv = server.clone();
        // Redis shows both ends of a Unix-socket connection as `<path>:0`.
        let addr = format!("{path}:0");
        tokio::spawn(async move {
            serve(srv, Arc::new(stream), addr.clone(), addr, fd, true, None).await;
        });
    }
}

fn is_loopback(peer: Option<SocketAddr>) -> bool {
    peer.map(|p| p.ip().is_loopback()).unwrap_or(true)
}

/// Serves one connection until it closes, is killed, or the server shuts down.
pub async fn serve(
    server: Arc<Server>,
    socket: Arc<dyn socket::Socket>,
    addr: String,
    laddr: String,
    fd: i32,
    unix: bool,
    peer: Option<SocketAddr>,
) {
    let id = server.next_client_id.fetch_add(1, Ordering::Relaxed);
    let (push_tx, mut push_rx) = mpsc::unbounded_channel::<Bytes>();
    let shared = Arc::new(ClientShared::new(id, addr, laddr, fd, unix, push_tx.clone()));
    let mut stream = socket::Stream(socket.clone());
    shared.handoff.lock().set_socket(socket);
    // While a script is busy the client registers once it ends (it can meanwhile only get
    // BUSY or kill the script, as in Redis).
    let (authenticated, refuse, registered) = match server.try_lock_core() {
        None => (!server.script.auth_required(), None, false),
        Some(mut core) => {
            core.stats.total_connections_received += 1;
            let connected = server.connected.load(Ordering::Relaxed);
            let refuse = if connected >= core.cfg.maxclients as u64 {
                core.stats.rejected_connections += 1;
                Some("-ERR max number of clients reached\r\n".to_string())
            } else if core.cfg.protected_mode
                && core.acl.default_is_nopass()
                && !core.cfg.bind_explicit
                && !is_loopback(peer)
            {
                core.stats.rejected_connections += 1;
                Some(PROTECTED_MODE_MSG.to_string())
            } else {
                None
            };
            if refuse.is_none() {
                core.clients.insert(id, shared.clone());
            }
            (core.acl.default_needs_no_auth(), refuse, true)
        }
    };
    if let Some(msg) = refuse {
        let _ = stream.write_all(msg.as_bytes()).await;
        return;
    }
    server.connected.fetch_add(1, Ordering::Relaxed);
    shared.meta.lock().rbs = READ_CHUNK;
    let mut client = Client::new(id, shared.clone(), authenticated, push_tx);
    let served = unwind::CatchUnwind::new(connection_loop(
        &server,
        &mut stream,
        &mut client,
        &mut push_rx,
        registered,
    ))
    .await;
    if let Err(msg) = served {
        tracing::error!("Bug serving client id={id}, closing its connection: panic: {msg}");
    }
    // Leave the client table before the peer can see the connection close, so that what it
    // does next (reconnect, CLIENT LIST) never finds this client still there.
    {
        let mut core = server.lock_core().await;
        core.clients.remove(&id);
        core.monitors.retain(|(cid, _)| *cid != id);
        cmd::multi::unwatch_all(&mut core, &mut client);
        let core = &mut *core;
        crate::module_host::concurrency::client_gone(core, id);
        core.blocking.unblock(&mut core.dbs, id);
        client.shared.handoff.lock().close();
        crate::pubsub::unsubscribe_all(core, &mut client);
        core.tracking.disable(id);
        if client.flags.replica {
            crate::repl::forget(core, id);
        }
        crate::repl::forget_wait(core, id);
    }
    server.connected.fetch_sub(1, Ordering::Relaxed);
    let _ = stream.shutdown().await;
}

const PROTECTED_MODE_MSG: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Waits, outside the keyspace lock, until the blocked command of `client` is served, times out
/// or is unblocked, and writes its reply. Meanwhile the socket is still read, so that a client
/// that goes away stops waiting (and is never served an element nobody receives). `queued`: the
/// client's own commands (or a protocol error) wait behind the blocked one. Returns false if
/// the connection must close.
#[allow(clippy::too_many_arguments)]
async fn wait_unblocked<S>(
    server: &Arc<Server>,
    stream: &mut S,
    client: &mut Client,
    deadline: Option<i64>,
    push_rx: &mut mpsc::UnboundedReceiver<Bytes>,
    rbuf: &mut BytesMut,
    qbuf_limit: u64,
    queued: bool,
) -> io::Result<bool>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let id = client.id;
    let shared = client.shared.clone();
    let mut scratch = Vec::new();
    let timer = async {
        match deadline {
            Some(d) => {
                let ms = (d - crate::clock::mstime()).max(0) as u64;
                tokio::time::sleep(Duration::from_millis(ms)).await
            }
            None => std::future::pending().await,
        }
    };
    tokio::pin!(timer);
    let mut timed_out = false;
    // Everything of its own is written: whoever serves it may write the reply itself. Not
    // with input waiting: being served must then wake the connection to run it.
    let idle = |rbuf: &BytesMut| !queued && rbuf.is_empty();
    if idle(rbuf) {
        shared.handoff.lock().arm();
    }
    loop {
        if !timed_out {
            if rbuf.capacity() - rbuf.len() < READ_CHUNK / 2 {
                rbuf.reserve(READ_CHUNK);
            }
            tokio::select! {
                biased;
                msg = push_rx.recv() => {
                    if let Some(m) = msg {
                        // The socket is the connection's own while it writes them.
                        let rest = shared.handoff.lock().disarm();
                        if let Some(rest) = rest {
                            output::write_counted(stream, &rest, &shared).await?;
                        }
                        output::write_pushes(stream, m, push_rx, &shared, &mut scratch).await?;
                        if idle(rbuf) {
                            shared.handoff.lock().arm();
                        }
                    }
                }
                r = stream.read_buf(rbuf) => {
                    if r? == 0 || rbuf.len() as u64 > qbuf_limit {
                        return Ok(false);
                    }
                }
                _ = &mut timer => timed_out = true,
            }
        }
        if client.shared.is_killed() || server.is_shutting_down() {
            return Ok(false);
        }
        let served = shared.handoff.lock().take(idle(rbuf));
        let (reply, aof) = match served {
            Some(served) => served.into_parts(),
            None if timed_out => {
                let mut guard = server.lock_core().await;
                let core = &mut *guard;
                // Served while the lock was awaited?
                let served = shared.handoff.lock().take(false);
                match served {
                    Some(served) => served.into_parts(),
                    None => (cmd::timed_out(server, core, id, client.resp), core.aof.barrier()),
                }
            }
            None => continue,
        };
        client.flags.blocked = false;
        client.sync_meta(&mut shared.meta.lock());
        // Once what serving it wrote is in the AOF. Not deferred to the end of the pass: the
        // waiter was woken by another client's batch, which that pass already ran.
        if let Some(b) = aof {
            b.wait().await;
        }
        if !reply.is_empty() {
            output::write_counted(stream, &reply, &shared).await?;
        }
        return Ok(true);
    }
}

/// Writes a replica's full synchronization as the snapshot's thread hands it over (see
/// `repl::full_sync`). Returns false if the connection must close: the snapshot failed, the
/// replica was killed, or it read nothing for `repl-timeout` seconds. What the replica sends
/// meanwhile stays unread, for after.
async fn send_snapshot<S>(
    server: &Arc<Server>,
    stream: &mut S,
    from: &mut mpsc::Receiver<crate::repl::Piece>,
    shared: &ClientShared,
    timeout_secs: u32,
) -> io::Result<bool>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    use crate::repl::Piece;
    let timeout = Duration::from_secs(u64::from(timeout_secs.max(1)));
    loop {
        let piece = tokio::select! {
            p = from.recv() => p,
            _ = shared.out.killed.notified() => return Ok(false),
        };
        if shared.is_killed() || server.is_shutting_down() {
            return Ok(false);
        }
        match piece {
            Some(Piece::Bytes(b)) => {
                match tokio::time::timeout(timeout, output::write_counted(stream, &b, shared)).await
                {
                    Ok(r) => r?,
                    Err(_) => {
                        tracing::warn!(
                            "Disconnecting timedout replica (full sync): {}",
                            shared.addr
                        );
                        return Ok(false);
                    }
                }
            }
            Some(Piece::End) => return Ok(true),
            Some(Piece::Failed) | None => return Ok(false),
        }
    }
}

/// Parsed commands of one read, argument bytes shared with the read buffer. Reused across reads.
#[derive(Default)]
struct Batch {
    ranges: Vec<Range<usize>>,
    /// (first range index, argc, inline) per command.
    spans: Vec<(usize, usize, bool)>,
    /// Every command's arguments back to back; `cmds` indexes into it.
    argv: Vec<Bytes>,
    cmds: Vec<Range<usize>>,
}

async fn connection_loop<S>(
    server: &Arc<Server>,
    stream: &mut S,
    client: &mut Client,
    push_rx: &mut mpsc::UnboundedReceiver<Bytes>,
    mut registered: bool,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let shared = client.shared.clone();
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut batch = Batch::default();
    // Limits read from the configuration while the lock is held, for the next parse.
    let (mut max_bulk, mut qbuf_limit) = server
        .try_lock_core()
        .map(|core| (core.cfg.proto_max_bulk_len, core.cfg.client_query_buffer_limit))
        .unwrap_or((512 << 20, 1 << 30));
    // An unauthenticated client's commands are parsed one at a time (AUTH changes the limits);
    // when more are already buffered the next round parses them without reading.
    let mut buffered = false;
    loop {
        if shared.is_killed() || server.is_shutting_down() {
            return Ok(());
        }
        let mut n = 0;
        if !buffered {
            if rbuf.capacity() - rbuf.len() < READ_CHUNK / 2 {
                rbuf.reserve(READ_CHUNK);
            }
            // Unbiased: a flood of pushes must not keep the client's own commands from being
            // read (pushes queued before a batch still go out before its replies: see the drain).
            n = tokio::select! {
                msg = push_rx.recv(), if !client.repl_await_ack => {
                    // An empty message is CLIENT KILL's wake-up; the loop top sees the flag.
                    if let Some(m) = msg {
                        output::write_pushes(stream, m, push_rx, &shared, &mut out).await?;
                    }
                    continue;
                }
                r = stream.read_buf(&mut rbuf) => r?,
            };
            if n == 0 {
                return Ok(());
            }
        }
        buffered = false;
        let limits = Limits { max_bulk_len: max_bulk, authenticated: client.authenticated };

        // Parse every complete command in the buffer.
        batch.ranges.clear();
        batch.spans.clear();
        let mut consumed = 0;
        let mut proto_err = None;
        loop {
            let start = batch.ranges.len();
            let inline = rbuf.get(consumed) != Some(&b'*');
            match parse_command(&rbuf[consumed..], limits, &mut batch.ranges) {
                Ok(Parsed::Incomplete) => break,
                Ok(Parsed::Empty { consumed: c }) => consumed += c,
                Ok(Parsed::Command { consumed: c, argc }) => {
                    for r in &mut batch.ranges[start..] {
                        *r = r.start + consumed..r.end + consumed;
                    }
                    batch.spans.push((start, argc, inline));
                    consumed += c;
                    if !client.authenticated {
                        buffered = consumed < rbuf.len();
                        break;
                    }
                }
                Err(e) => {
                    proto_err = Some(e);
                    break;
                }
            }
        }
        let rbs = rbuf.capacity();
        let frame = rbuf.split_to(consumed).freeze();
        batch.argv.clear();
        batch.cmds.clear();
        for &(start, argc, inline) in &batch.spans {
            let first = batch.argv.len();
            for r in &batch.ranges[start..start + argc] {
                // Inline commands may quote arguments; those are unescaped into fresh buffers.
                match inline.then(|| unquote_inline(&frame[r.clone()])).flatten() {
                    Some(v) => batch.argv.push(Bytes::from(v)),
                    None => batch.argv.push(frame.slice(r.clone())),
                }
            }
            batch.cmds.push(first..batch.argv.len());
        }

        let mut idx = 0;
        let mut input_counted = false;
        // Pushed messages moved into `out` ahead of the batch's replies: (bytes, messages).
        let mut drained = (0, 0);
        while idx < batch.cmds.len() || !input_counted {
            let mut paused = false;
            let mut blocked = false;
            // When the blocked command times out (unix ms; None: never).
            let mut deadline = None;
            let first = idx;
            let mut aof = None;
            // While a script is busy the lock is not to be had: serve the batch without it.
            let busy = match server.try_lock_core() {
                None => true,
                Some(mut core) => {
                    if !registered {
                        core.stats.total_connections_received += 1;
                        core.clients.insert(client.id, shared.clone());
                        registered = true;
                    }
                    {
                        if !client.repl_await_ack {
                            let (b, m) = output::drain(push_rx, &mut out);
                            drained = (drained.0 + b, drained.1 + m);
                        }
                        if !input_counted {
                            core.stats.total_net_input_bytes += n as u64;
                            core.stats.total_reads_processed += (n > 0) as u64;
                            input_counted = true;
                        }
                        while idx < batch.cmds.len() {
                            let argv = &batch.argv[batch.cmds[idx].clone()];
                            match cmd::execute(server, &mut core, client, argv, &mut out) {
                                Flow::Continue => {
                                    idx += 1;
                                    // A full synchronization's snapshot goes out next, or
                                    // a debugging session takes the connection over.
                                    if client.rdb_transfer.is_some()
                                        || client.debug_session.is_some()
                                    {
                                        break;
                                    }
                                }
                                Flow::Paused => {
                                    paused = true;
                                    break;
                                }
                                Flow::Blocked => {
                                    // Its reply comes once it is served; the commands after it wait.
                                    blocked = true;
                                    deadline =
                                        core.blocking.waiter(client.id).and_then(|w| w.deadline);
                                    idx += 1;
                                    break;
                                }
                            }
                            if client.close_after_reply {
                                break;
                            }
                        }
                        // BCAST invalidations go out once per batch, after its replies.
                        crate::tracking::flush_bcast(&mut core);
                        aof = core.aof.barrier();
                        // The batch's allocations count in the memory meter before the lock
                        // goes: this task may resume on another thread (see the meter).
                        crate::keyspace::evict::publish();
                        if !out.is_empty() {
                            core.stats.total_net_output_bytes += out.len() as u64;
                            // A replica's: the stream drained into it.
                            if client.flags.replica {
                                crate::stats::count_repl_output(out.len());
                            }
                            core.stats.total_writes_processed += 1;
                        }
                        max_bulk = core.cfg.proto_max_bulk_len;
                        qbuf_limit = core.cfg.client_query_buffer_limit;
                        let mut m = shared.meta.lock();
                        client.sync_meta(&mut m);
                        m.last_interaction_ms = crate::clock::mstime();
                        m.tot_cmds += (idx - first) as u64;
                        m.qbuf = rbuf.len();
                        m.qbuf_free = rbs.saturating_sub(rbuf.len());
                        m.rbs = rbs;
                        m.rbp = n;
                    }
                    false
                }
            };
            if busy {
                let mut wait = false;
                match busy_batch(server, &batch.argv, &batch.cmds[idx..], &mut out) {
                    BusyBatch::Done(n) => idx += n,
                    BusyBatch::Wait(n) => {
                        idx += n;
                        wait = true;
                    }
                    BusyBatch::Close(n) => {
                        idx += n;
                        client.close_after_reply = true;
                    }
                }
                input_counted = true;
                if !out.is_empty() {
                    output::write_all(stream, &out, &shared).await?;
                    out.clear();
                }
                if client.close_after_reply {
                    return Ok(());
                }
                if wait {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                continue;
            }
            // Replies go out at the end of the pass, once the batch's writes are in the AOF (on
            // disk with appendfsync always). The pass ends first, so that one AOF write (or
            // fsync) covers every batch of the pass, as Redis's once per event-loop pass.
            if !out.is_empty() {
                pass::end_of_batch().await;
            }
            if let Some(b) = aof {
                b.wait().await;
            }
            if !out.is_empty() {
                output::write_all(stream, &out, &shared).await?;
                out.clear();
                shared.out.written(drained.0, drained.1);
                drained = (0, 0);
            }
            if client.close_after_reply {
                return Ok(());
            }
            if let Some(link) = client.debug_session.take() {
                // What the client sent after the EVAL is for the debugger.
                let pending = batch.cmds[idx..].iter().map(|r| batch.argv[r.clone()].to_vec());
                let pending = pending.collect();
                let relay = debug_session(stream, link, pending, &mut rbuf, max_bulk);
                // Leaving (on CLIENT KILL or shutdown) drops the link: the session stops.
                let shutdown = server.shutdown.notified();
                tokio::pin!(shutdown);
                if server.is_shutting_down() {
                    return Ok(());
                }
                return tokio::select! {
                    r = relay => r,
                    _ = shared.out.killed.notified() => Ok(()),
                    _ = &mut shutdown => Ok(()),
                };
            }
            if let Some(mut from) = client.rdb_transfer.take() {
                let timeout = server.lock_core().await.cfg.repl_timeout;
                // An `rdb-only` client (redis-cli --rdb) wants nothing after the payload.
                if !send_snapshot(server, stream, &mut from, &shared, timeout).await?
                    || client.repl_rdb_only
                {
                    return Ok(());
                }
                crate::repl::transfer_done(&mut *server.lock_core().await, client.id);
                client.repl_await_ack = true;
            }
            if blocked {
                let queued = idx < batch.cmds.len() || proto_err.is_some();
                if !wait_unblocked(
                    server, stream, client, deadline, push_rx, &mut rbuf, qbuf_limit, queued,
                )
                .await?
                {
                    return Ok(());
                }
                // What arrived meanwhile is parsed next, before reading again.
                buffered = !rbuf.is_empty();
            }
            if paused {
                // Wait outside the lock, then try the same command again.
                tokio::time::sleep(Duration::from_millis(10)).await;
                if shared.is_killed() {
                    return Ok(());
                }
            }
            if out.capacity() > 4 * READ_CHUNK {
                out = Vec::with_capacity(READ_CHUNK);
            }
        }
        // Release the read buffer's shared parts so the next reserve can reuse its memory.
        batch.argv.clear();
        drop(frame);
        if let Some(e) = proto_err {
            let msg = format!("-ERR Protocol error: {}\r\n", e.0);
            tracing::debug!("Protocol error ({}) from client: id={}", e.0, client.id);
            stream.write_all(msg.as_bytes()).await?;
            return Ok(());
        }
        if rbuf.len() as u64 > qbuf_limit {
            tracing::warn!(
                "Closing client that reached max query buffer length: id={} qbuf={}",
                client.id,
                rbuf.len()
            );
            server.lock_core().await.stats.client_query_buffer_limit_disconnections += 1;
            return Ok(());
        }
    }
}

/// Relays a Lua debugging session (see `cmd::ldb`): the session's log replies to the client,
/// the client's commands to the session, until the session ends; the connection then closes,
/// as Redis's does. Something that is not a command array ends the session (as in Redis); so
/// does the client leaving.
async fn debug_session<S>(
    stream: &mut S,
    mut link: crate::cmd::ldb::DebugLink,
    mut pending: std::collections::VecDeque<Vec<Bytes>>,
    rbuf: &mut BytesMut,
    max_bulk: i64,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    use crate::cmd::ldb::ToClient;
    use vireo_scripting::DebugInput;
    loop {
        let log = match link.from_session.recv().await {
            Some(ToClient::Log(log)) => log,
            Some(ToClient::End(end)) => return stream.write_all(&end).await,
            // Dropping the link stops the session's script.
            None => return Ok(()),
        };
        stream.write_all(&log).await?;
        let input = match pending.pop_front() {
            Some(argv) => DebugInput::Command(argv),
            None => read_debug_command(stream, rbuf, max_bulk).await?,
        };
        if link.to_session.send(input).is_err() {
            return Ok(());
        }
    }
}

/// The debugging client's next command.
async fn read_debug_command<S>(
    stream: &mut S,
    rbuf: &mut BytesMut,
    max_bulk: i64,
) -> io::Result<vireo_scripting::DebugInput>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    use vireo_scripting::DebugInput;
    let limits = Limits { max_bulk_len: max_bulk, authenticated: true };
    let mut ranges = Vec::new();
    loop {
        if !rbuf.is_empty() {
            if rbuf[0] != b'*' {
                return Ok(DebugInput::ProtocolError);
            }
            ranges.clear();
            match parse_command(rbuf, limits, &mut ranges) {
                Ok(Parsed::Incomplete) => {}
                Ok(Parsed::Command { consumed, argc }) if argc > 0 => {
                    let frame = rbuf.split_to(consumed).freeze();
                    let argv = ranges[..argc].iter().map(|r| frame.slice(r.clone())).collect();
                    return Ok(DebugInput::Command(argv));
                }
                _ => return Ok(DebugInput::ProtocolError),
            }
        }
        if stream.read_buf(rbuf).await? == 0 {
            return Ok(DebugInput::Gone);
        }
    }
}

/// How a batch served while a script is busy went: commands answered, and what next.
enum BusyBatch {
    /// Every command was answered.
    Done(usize),
    /// These were answered; the next one waits for the script to end.
    Wait(usize),
    /// These were answered; the connection closes (QUIT, SHUTDOWN NOSAVE).
    Close(usize),
}

/// Serves commands while a script runs past `busy-reply-threshold`, without the core lock,
/// as Redis serves clients from its script hook: SCRIPT KILL, FUNCTION KILL and SHUTDOWN
/// NOSAVE act, QUIT closes, the other commands Redis lets through (`allow-busy`: MULTI, WATCH,
/// AUTH...) wait for the script to end, everything else gets BUSY.
fn busy_batch(
    server: &Arc<Server>,
    argv: &[Bytes],
    cmds: &[Range<usize>],
    out: &mut Vec<u8>,
) -> BusyBatch {
    use crate::cmd::spec::CmdFlags;
    use crate::script_run::{Kind, ScriptRun};
    let run = &server.script;
    let err = |out: &mut Vec<u8>, e: &str| {
        out.push(b'-');
        out.extend_from_slice(e.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    for (n, r) in cmds.iter().enumerate() {
        let a = &argv[r.clone()];
        let Some(kind) = run.kind() else { return BusyBatch::Wait(n) };
        // By the command it names (`rename-command` may have renamed SCRIPT or SHUTDOWN).
        let found = match server.commands.resolve(a) {
            cmd::Lookup::Found(c) => Some((c.fullname, c.flags)),
            _ => None,
        };
        match found {
            Some((kill @ ("script|kill" | "function|kill"), _)) if a.len() == 2 => {
                let by = if kill == "script|kill" { Kind::Eval } else { Kind::Function };
                match run.kill(by) {
                    Ok(()) => out.extend_from_slice(b"+OK\r\n"),
                    Err(e) => err(out, e),
                }
            }
            Some(("shutdown", _)) if a[1..].iter().any(|x| x.eq_ignore_ascii_case(b"nosave")) => {
                tracing::warn!("User requested shutdown...");
                run.kill_for_shutdown();
                server.request_shutdown();
                return BusyBatch::Close(n + 1);
            }
            Some(("quit", _)) if a.len() == 1 => {
                out.extend_from_slice(b"+OK\r\n");
                return BusyBatch::Close(n + 1);
            }
            Some((name, flags)) if name != "shutdown" && flags.contains(CmdFlags::ALLOW_BUSY) => {
                return BusyBatch::Wait(n);
            }
            _ => err(out, ScriptRun::busy_error(kind)),
        }
    }
    BusyBatch::Done(cmds.len())
}
