//! A replica's link to its master: connect, handshake, receive the data set, apply the stream
//! (see the module docs). One task per `REPLICAOF`; it stops when a newer one (or `REPLICAOF NO
//! ONE`) changes the epoch.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::LinkState;
use crate::client::{Client, ClientShared};
use crate::resp::parse::{parse_command, Limits, Parsed};
use crate::server::{Core, Server};

/// Runs the link until the epoch changes, reconnecting a second after each failure.
pub async fn run(server: Arc<Server>, host: String, port: u16, epoch: u64) {
    loop {
        if !set_state(&server, epoch, LinkState::Connecting) {
            return;
        }
        match session(&server, &host, port, epoch).await {
            Ok(()) => return,
            Err(e) => tracing::warn!("Replication link with MASTER {host}:{port}: {e}"),
        }
        if !set_state(&server, epoch, LinkState::Connect) {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Whether this link is still the one the server wants.
fn current(core: &Core, epoch: u64) -> bool {
    core.repl.master.as_ref().is_some_and(|m| m.epoch == epoch)
}

fn set_state(server: &Server, epoch: u64, state: LinkState) -> bool {
    let mut core = server.core.lock();
    match core.repl.master.as_mut() {
        Some(m) if m.epoch == epoch => {
            if m.state == LinkState::Connected && state != LinkState::Connected {
                m.down_since_ms = crate::clock::mstime();
            }
            m.state = state;
            true
        }
        _ => false,
    }
}

async fn send<W: AsyncWrite + Unpin>(w: &mut W, args: &[&[u8]]) -> Result<(), String> {
    let mut buf = Vec::new();
    crate::propagate::encode(&mut buf, args);
    w.write_all(&buf).await.map_err(|e| format!("writing to master: {e}"))
}

/// One reply line (without CRLF); the empty lines a master sends as keep-alives are skipped.
async fn line<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    timeout: Duration,
) -> Result<String, String> {
    loop {
        let mut l = Vec::new();
        let n = tokio::time::timeout(timeout, r.read_until(b'\n', &mut l))
            .await
            .map_err(|_| "timeout waiting for the master".to_string())?
            .map_err(|e| format!("reading from master: {e}"))?;
        if n == 0 {
            return Err("the master closed the connection".into());
        }
        let s = String::from_utf8_lossy(&l).trim_end_matches(['\r', '\n']).to_string();
        if !s.is_empty() {
            return Ok(s);
        }
    }
}

/// Sends a handshake command and reads its reply line.
async fn ask<R, W>(
    r: &mut BufReader<R>,
    w: &mut W,
    args: &[&[u8]],
    t: Duration,
) -> Result<String, String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    send(w, args).await?;
    line(r, t).await
}

/// The RDB payload after `+FULLRESYNC`: `$<len>` and that many bytes, or `$EOF:<40-byte mark>`
/// and bytes up to the mark (a diskless master).
async fn read_rdb<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    t: Duration,
    progress: &super::Transfer,
) -> Result<Vec<u8>, String> {
    let header = line(r, t).await?;
    let got = |n: usize| {
        progress.read.fetch_add(n as u64, Ordering::Relaxed);
        progress.last_io_ms.store(crate::clock::mstime(), Ordering::Relaxed);
    };
    progress.read.store(0, Ordering::Relaxed);
    got(0);
    let Some(spec) = header.strip_prefix('$') else {
        return Err(format!("bad protocol from MASTER, the first byte is not '$': {header}"));
    };
    // The EOF form ends with its mark; the sized one after `len` bytes.
    let (mark, len) = match spec.strip_prefix("EOF:") {
        Some(mark) if mark.len() == 40 => (Some(mark.as_bytes()), usize::MAX),
        Some(_) => return Err(format!("bad EOF mark from MASTER: {header}")),
        None => {
            let len: usize =
                spec.parse().map_err(|_| format!("bad RDB length from MASTER: {header}"))?;
            (None, len)
        }
    };
    let mut data = Vec::new();
    if mark.is_none() {
        // A length no allocation can hold is the master's error, not a reason to abort.
        data.try_reserve_exact(len)
            .map_err(|_| format!("the master's RDB of {len} bytes does not fit in memory"))?;
        progress.size.store(len as i64, Ordering::Relaxed);
    } else {
        progress.size.store(0, Ordering::Relaxed);
    }
    // In pieces, each within the timeout, counted as they come.
    let mut chunk = vec![0u8; 64 * 1024];
    while data.len() < len {
        let want = chunk.len().min(len - data.len());
        let n = tokio::time::timeout(t, r.read(&mut chunk[..want]))
            .await
            .map_err(|_| "timeout receiving the RDB".to_string())?
            .map_err(|e| format!("reading the RDB from master: {e}"))?;
        if n == 0 {
            return Err("the master closed the connection during the RDB".into());
        }
        data.extend_from_slice(&chunk[..n]);
        got(n);
        crate::stats::count_repl_input(n);
        if let Some(mark) = mark.filter(|m| data.ends_with(m)) {
            data.truncate(data.len() - mark.len());
            break;
        }
    }
    Ok(data)
}

/// After `+FULLRESYNC <replid> <offset>`: receives the data set and installs it in place of
/// the current one. The offset the stream starts at; `None` when the link is no longer wanted.
async fn full_resync<R: AsyncRead + Unpin>(
    server: &Arc<Server>,
    rd: &mut BufReader<R>,
    reply: &str,
    epoch: u64,
    timeout: Duration,
) -> Result<Option<u64>, String> {
    let Some(rest) = reply.strip_prefix("+FULLRESYNC ") else {
        return Err(format!("unexpected reply to PSYNC from master: {reply}"));
    };
    let mut parts = rest.split(' ');
    let replid = parts.next().unwrap_or_default().to_string();
    let offset: u64 = parts.next().and_then(|o| o.parse().ok()).ok_or("bad FULLRESYNC offset")?;
    if replid.len() != 40 {
        return Err(format!("bad replication id from master: {replid}"));
    }
    if !set_state(server, epoch, LinkState::Sync) {
        return Ok(None);
    }
    tracing::info!("Full resync from master: {replid}:{offset}");
    let progress = match server.core.lock().repl.master.as_ref() {
        Some(m) if m.epoch == epoch => m.transfer.clone(),
        _ => return Ok(None),
    };
    let data = read_rdb(rd, timeout, &progress).await?;
    tracing::info!("MASTER <-> REPLICA sync: received {} bytes of RDB", data.len());
    let (opts, ndbs) = {
        let core = server.core.lock();
        let mut opts = crate::persist::snapshot::load_opts(&core);
        // A replica keeps what the master has; the master's DELs expire keys.
        opts.drop_expired_before = None;
        (opts, core.dbs.len())
    };
    let loaded = crate::persist::rdb::load::load(&data, ndbs, &opts)
        .map_err(|e| format!("loading the RDB from master: {e}"))?;
    drop(data);
    // The database the stream that follows has selected (a replica master passes its own
    // master's stream on without a SELECT of its own).
    let stream_db = loaded
        .aux
        .iter()
        .find(|(k, _)| k == b"repl-stream-db")
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse::<usize>().ok())
        .filter(|&db| db < ndbs)
        .unwrap_or(0);
    let mut core = server.core.lock();
    if !current(&core, epoch) {
        return Ok(None);
    }
    crate::persist::snapshot::install(&mut core, loaded, false);
    super::restart_stream(&mut core, offset);
    core.replid = replid;
    // A new history: nothing older is this server's.
    core.replid2 = "0".repeat(40);
    core.repl.second_offset = None;
    let m = core.repl.master.as_mut().expect("current");
    m.state = LinkState::Connected;
    m.offset = offset;
    m.synced = true;
    m.db = stream_db;
    m.last_io_ms = crate::clock::mstime();
    core.dirty += 1;
    tracing::info!("MASTER <-> REPLICA sync: finished with success");
    crate::supervise::notify(
        "STATUS=MASTER <-> REPLICA sync: Finished with success. Ready to accept connections in \
         read-write mode.\n",
    );
    Ok(Some(offset))
}

/// One connection to the master. `Ok` when the link is no longer wanted.
async fn session(server: &Arc<Server>, host: &str, port: u16, epoch: u64) -> Result<(), String> {
    let (auth, user, my_port, my_ip, timeout) = {
        let core = server.core.lock();
        let c = &core.cfg;
        let announce = if c.replica_announce_port > 0 { c.replica_announce_port } else { c.port };
        (
            c.masterauth.clone(),
            c.masteruser.clone(),
            announce,
            c.replica_announce_ip.clone(),
            Duration::from_secs(c.repl_timeout.max(1) as u64),
        )
    };
    tracing::info!("Connecting to MASTER {host}:{port}");
    let stream = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| "timeout connecting to the master".to_string())?
        .map_err(|e| format!("connecting: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::with_capacity(64 * 1024, rd);
    let pong = ask(&mut rd, &mut wr, &[b"PING"], timeout).await?;
    if pong.starts_with('-')
        && !pong.starts_with("-NOAUTH")
        && !pong.starts_with("-NOPERM")
        && !pong.starts_with("-ERR operation not permitted")
    {
        return Err(format!("error reply to PING from master: '{pong}'"));
    }
    if let Some(pass) = &auth {
        let reply = match &user {
            Some(u) => ask(&mut rd, &mut wr, &[b"AUTH", u.as_bytes(), pass], timeout).await?,
            None => ask(&mut rd, &mut wr, &[b"AUTH", pass], timeout).await?,
        };
        if reply.starts_with('-') {
            return Err(format!("unable to AUTH to MASTER: {reply}"));
        }
    }
    let port_s = my_port.to_string();
    ask(&mut rd, &mut wr, &[b"REPLCONF", b"listening-port", port_s.as_bytes()], timeout).await?;
    // The address the master (and Sentinel, through it) is to give for this replica, behind
    // NAT or a container's port mapping. A master that does not know the option refuses it;
    // the link goes on.
    if let Some(ip) = my_ip.filter(|ip| !ip.is_empty()) {
        let r =
            ask(&mut rd, &mut wr, &[b"REPLCONF", b"ip-address", ip.as_bytes()], timeout).await?;
        if r.starts_with('-') {
            tracing::info!("(Non critical) Master does not understand REPLCONF ip-address: {r}");
        }
    }
    ask(&mut rd, &mut wr, &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"], timeout).await?;
    // Continue where the last link stopped, if the data set is the master's up to there. A
    // master failing over to this one asks it to take over (see `failover`).
    let (resume, failover) = {
        let core = server.core.lock();
        let m = core.repl.master.as_ref().filter(|m| m.epoch == epoch && m.synced);
        (m.map(|m| (core.replid.clone(), m.offset)), super::failover::in_progress(&core))
    };
    let reply = match &resume {
        Some((replid, at)) => {
            let from = (at + 1).to_string();
            let mut psync: Vec<&[u8]> = vec![b"PSYNC", replid.as_bytes(), from.as_bytes()];
            if failover {
                psync.push(b"FAILOVER");
            }
            ask(&mut rd, &mut wr, &psync, timeout).await?
        }
        None => ask(&mut rd, &mut wr, &[b"PSYNC", b"?", b"-1"], timeout).await?,
    };
    if failover {
        let mut core = server.core.lock();
        if !current(&core, epoch) {
            return Ok(());
        }
        let accepted = reply.starts_with("+CONTINUE") || reply.starts_with("+FULLRESYNC");
        super::failover::answered(server, &mut core, accepted);
        if !accepted {
            return Ok(());
        }
    }
    let offset = if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let Some((_, at)) = resume else {
            return Err("the master answered +CONTINUE to a full resync request".into());
        };
        let mut core = server.core.lock();
        if !current(&core, epoch) {
            return Ok(());
        }
        // A master with a new history (promoted) gives its new id.
        let new_id = rest.trim();
        if new_id.len() == 40 && new_id != core.replid {
            core.replid2 = std::mem::replace(&mut core.replid, new_id.to_string());
            core.repl.second_offset = Some(at + 1);
            // Ours ask again, and continue through replid2.
            super::drop_replicas(&mut core);
        }
        let m = core.repl.master.as_mut().expect("current");
        m.state = LinkState::Connected;
        m.last_io_ms = crate::clock::mstime();
        tracing::info!("Successful partial resynchronization with master.");
        crate::supervise::notify(
            "STATUS=MASTER <-> REPLICA sync: Partial Resynchronization accepted. Ready to accept \
             connections in read-write mode.\n",
        );
        at
    } else {
        match full_resync(server, &mut rd, &reply, epoch, timeout).await? {
            Some(o) => o,
            None => return Ok(()),
        }
    };
    // Where the stream goes on: the database it had selected.
    let db = match server.core.lock().repl.master.as_ref() {
        Some(m) if m.epoch == epoch => m.db,
        _ => return Ok(()),
    };

    // The stream, applied by a client flagged `master` (CLIENT LIST shows it with `M`; CLIENT
    // KILL TYPE master drops the link, which then reconnects); its replies go nowhere.
    let id = server.next_client_id.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    let addr = format!("{host}:{port}");
    let shared = Arc::new(ClientShared::new(id, addr, String::new(), -1, false, tx.clone()));
    shared.meta.lock().flags.master = true;
    let mut client = Client::new(id, shared.clone(), true, tx);
    client.db = db;
    server.core.lock().clients.insert(id, shared.clone());
    let stream = StreamState { epoch, offset, timeout };
    let r = apply_stream(server, &mut client, &mut rx, rd, &mut wr, stream).await;
    let mut core = server.core.lock();
    core.clients.remove(&id);
    if let Some(m) = core.repl.master.as_mut().filter(|m| m.epoch == epoch) {
        m.db = client.db;
    }
    r
}

/// Where the stream stands: the link's epoch, the offset applied, the master's timeout.
struct StreamState {
    epoch: u64,
    offset: u64,
    timeout: Duration,
}

/// Applies the master's stream until the link breaks (`Err`) or is no longer wanted (`Ok`).
async fn apply_stream<R, W>(
    server: &Arc<Server>,
    client: &mut Client,
    rx: &mut mpsc::UnboundedReceiver<Bytes>,
    rd: BufReader<R>,
    wr: &mut W,
    st: StreamState,
) -> Result<(), String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let StreamState { epoch, mut offset, timeout } = st;
    let mut buf = BytesMut::with_capacity(64 * 1024);
    buf.extend_from_slice(rd.buffer());
    let mut rd = rd.into_inner();
    let mut out = Vec::new();
    let mut ranges = Vec::new();
    let mut ack = tokio::time::interval(Duration::from_secs(1));
    let limits = Limits { max_bulk_len: i64::MAX, authenticated: true };
    loop {
        // Apply every whole command received.
        let mut consumed = 0;
        let mut cmds: Vec<(std::ops::Range<usize>, usize)> = Vec::new();
        ranges.clear();
        loop {
            let start = ranges.len();
            match parse_command(&buf[consumed..], limits, &mut ranges) {
                Ok(Parsed::Incomplete) => break,
                Ok(Parsed::Empty { consumed: c }) => {
                    // Not a command, but part of the stream the offset counts.
                    consumed += c;
                    offset += c as u64;
                }
                Ok(Parsed::Command { consumed: c, .. }) => {
                    for r in &mut ranges[start..] {
                        *r = r.start + consumed..r.end + consumed;
                    }
                    consumed += c;
                    cmds.push((start..ranges.len(), c));
                }
                Err(e) => return Err(format!("protocol error from master: {e:?}")),
            }
        }
        if consumed > 0 {
            let frame = buf.split_to(consumed).freeze();
            let mut getack = false;
            {
                let mut core = server.core.lock();
                if !current(&core, epoch) {
                    return Ok(());
                }
                for (span, len) in &cmds {
                    let argv: Vec<Bytes> =
                        ranges[span.clone()].iter().map(|r| frame.slice(r.clone())).collect();
                    if argv.len() >= 2
                        && argv[0].eq_ignore_ascii_case(b"replconf")
                        && argv[1].eq_ignore_ascii_case(b"getack")
                    {
                        getack = true;
                    } else {
                        out.clear();
                        crate::keyspace::set_applying_master_stream(true);
                        crate::cmd::execute(server, &mut core, client, &argv, &mut out);
                        crate::keyspace::set_applying_master_stream(false);
                    }
                    offset += *len as u64;
                }
                // Passed on as it came, to this server's own replicas and backlog.
                core.repl.stream.proxy(&frame);
                let m = core.repl.master.as_mut().expect("current");
                m.offset = offset;
                m.db = client.db;
                m.last_io_ms = crate::clock::mstime();
            }
            if getack {
                send_ack(wr, offset).await?;
            }
        }
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        tokio::select! {
            r = tokio::time::timeout(timeout, rd.read_buf(&mut buf)) => {
                match r {
                    Err(_) => return Err("timeout: no data nor PING from the master".into()),
                    Ok(Err(e)) => return Err(format!("reading from master: {e}")),
                    Ok(Ok(0)) => return Err("the master closed the connection".into()),
                    Ok(Ok(n)) => crate::stats::count_repl_input(n),
                }
            }
            _ = rx.recv() => {
                if client.shared.is_killed() {
                    return Err("the link was killed (CLIENT KILL)".into());
                }
            }
            _ = ack.tick() => {
                if !current(&server.core.lock(), epoch) {
                    return Ok(());
                }
                send_ack(wr, offset).await?;
            }
        }
    }
}

async fn send_ack<W: AsyncWrite + Unpin>(w: &mut W, offset: u64) -> Result<(), String> {
    let o = offset.to_string();
    send(w, &[b"REPLCONF", b"ACK", o.as_bytes()]).await
}
