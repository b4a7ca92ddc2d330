//! MIGRATE: moves keys to another server as DUMP payloads sent in RESTOREs, over a connection
//! kept open for later calls (Redis's migrate socket cache).
//!
//! As in Redis, the command holds the keyspace while it talks to the target: the keys are in
//! one place or the other at any moment a client can see. `timeout` bounds each wait on the
//! target (connect, write, read), not the whole transfer.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::Bytes;

use super::{Ctx, Handler};
use crate::config::notify as ev;
use crate::error::{CmdResult, Error};
use crate::keyspace::Access;
use crate::persist::rdb;
use crate::util::num::parse_i64;

pub const HANDLERS: &[(&str, Handler)] = &[("migrate", migrate)];

/// Connections idle this long are closed by the cron (Redis's MIGRATE_SOCKET_CACHE_TTL).
const IDLE_SECS: i64 = 10;
/// At most this many targets keep a connection (MIGRATE_SOCKET_CACHE_ITEMS).
const MAX_SOCKETS: usize = 64;
/// A target's reply line longer than this is not a reply to RESTORE: the link is dropped.
const MAX_LINE: u64 = 64 * 1024;

struct Link {
    conn: BufReader<TcpStream>,
    /// The database the target connection has selected, if known.
    db: Option<i64>,
    last_use: i64,
}

/// Open connections to MIGRATE targets, by `host:port`.
#[derive(Default)]
pub struct Sockets(HashMap<String, Link>);

impl Sockets {
    /// INFO's `migrate_cached_sockets`.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Closes connections unused for [`IDLE_SECS`].
pub fn cron(sockets: &mut Sockets, now_secs: i64) {
    sockets.0.retain(|_, l| now_secs - l.last_use <= IDLE_SECS);
}

/// Why a transfer stopped on the connection itself (the IOERR replies).
enum LinkError {
    /// Connecting took longer than the timeout.
    ConnectTimeout,
    Write(std::io::Error),
    Read(std::io::Error),
}

impl LinkError {
    fn timed_out(&self) -> bool {
        let is_timeout =
            |e: &std::io::Error| matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock);
        match self {
            LinkError::ConnectTimeout => true,
            LinkError::Write(e) | LinkError::Read(e) => is_timeout(e),
        }
    }

    fn reply(&self) -> Error {
        Error::msg(match self {
            LinkError::ConnectTimeout => "IOERR error or timeout connecting to the client",
            LinkError::Write(_) => "IOERR error or timeout writing to target instance",
            LinkError::Read(_) => "IOERR error or timeout reading to target instance",
        })
    }
}

struct Options {
    copy: bool,
    replace: bool,
    auth: Option<(Option<Bytes>, Bytes)>,
    keys: Vec<Bytes>,
}

fn parse_options(argv: &[Bytes]) -> Result<Options, Error> {
    let mut o = Options { copy: false, replace: false, auth: None, keys: vec![argv[3].clone()] };
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if Ctx::is(&argv[j], "copy") {
            o.copy = true;
        } else if Ctx::is(&argv[j], "replace") {
            o.replace = true;
        } else if Ctx::is(&argv[j], "auth") {
            if more < 1 {
                return Err(Error::SYNTAX);
            }
            o.auth = Some((None, argv[j + 1].clone()));
            j += 1;
        } else if Ctx::is(&argv[j], "auth2") {
            if more < 2 {
                return Err(Error::SYNTAX);
            }
            o.auth = Some((Some(argv[j + 1].clone()), argv[j + 2].clone()));
            j += 2;
        } else if Ctx::is(&argv[j], "keys") {
            if !argv[3].is_empty() {
                return Err(Error::msg(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the \
                     empty string",
                ));
            }
            o.keys = argv[j + 1..].to_vec();
            break;
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password |
/// AUTH2 username password] [KEYS key [key ...]]
fn migrate(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let o = parse_options(argv)?;
    let timeout = parse_i64(&argv[5]).ok_or(Error::NOT_INT)?;
    let dbid = parse_i64(&argv[4]).ok_or(Error::NOT_INT)?;
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });

    // The keys to send, with their payloads and remaining TTLs.
    let (now, acc) = (ctx.now, Access::of(ctx.core, ctx.client));
    let opts = rdb::save::SaveOpts { compress: ctx.core.cfg.rdbcompression, ..Default::default() };
    let mut found = Vec::new();
    for key in &o.keys {
        let Some(e) = ctx.core.dbs[ctx.client.db].lookup_read(key, now, acc) else {
            continue;
        };
        // A live key has at least 1 ms left (0 would mean "no expiry" to RESTORE).
        let ttl = e.expire_at().map_or(0, |at| (at - now).max(1));
        found.push((key.clone(), ttl, rdb::save::dump_payload(e, &opts)));
    }
    if found.is_empty() {
        ctx.out.simple("NOKEY");
        return Ok(());
    }

    let addr =
        format!("{}:{}", String::from_utf8_lossy(&argv[1]), String::from_utf8_lossy(&argv[2]));
    // A failure before any key was answered is tried once more on a new connection (the cached
    // one may have been closed by the target), unless it was a timeout.
    let mut may_retry = true;
    loop {
        match transfer(ctx, &addr, dbid, timeout, &o, &found) {
            Ok(Ok(())) => {
                ctx.out.ok();
                return Ok(());
            }
            Ok(err) => return err,
            Err((e, retry)) => {
                ctx.core.migrate.0.remove(&addr);
                if retry && may_retry && !e.timed_out() {
                    may_retry = false;
                    continue;
                }
                return Err(e.reply());
            }
        }
    }
}

/// One attempt: sends everything, reads the replies and removes the keys the target took
/// (unless COPY). Ok is the command's result; Err is a connection failure, with whether the
/// attempt may be retried (no key was answered yet).
fn transfer(
    ctx: &mut Ctx,
    addr: &str,
    dbid: i64,
    timeout: Duration,
    o: &Options,
    found: &[(Bytes, i64, Vec<u8>)],
) -> Result<CmdResult, (LinkError, bool)> {
    let link = link(&mut ctx.core.migrate, addr, timeout).map_err(|e| (e, true))?;
    let select = link.db != Some(dbid);
    let mut buf = Vec::new();
    if let Some((user, pass)) = &o.auth {
        match user {
            Some(u) => crate::propagate::encode(&mut buf, &[&b"AUTH"[..], u, pass]),
            None => crate::propagate::encode(&mut buf, &[&b"AUTH"[..], pass]),
        }
    }
    if select {
        crate::propagate::encode(&mut buf, &[b"SELECT", dbid.to_string().as_bytes()]);
    }
    for (key, ttl, payload) in found {
        let ttl = ttl.to_string();
        let mut args: Vec<&[u8]> = vec![b"RESTORE", key, ttl.as_bytes(), payload];
        if o.replace {
            args.push(b"REPLACE");
        }
        crate::propagate::encode(&mut buf, &args);
    }
    let stream = link.conn.get_mut();
    let sent = stream.set_write_timeout(Some(timeout)).and_then(|_| stream.write_all(&buf));
    sent.map_err(|e| (LinkError::Write(e), true))?;
    link.conn.get_mut().set_read_timeout(Some(timeout)).map_err(|e| (LinkError::Read(e), true))?;

    // An error from AUTH or SELECT fails every key; the first error is the one reported.
    let mut target_error = None;
    if o.auth.is_some() {
        let line = read_line(&mut link.conn).map_err(|e| (LinkError::Read(e), true))?;
        target_error = error_text(&line);
    }
    if select {
        let line = read_line(&mut link.conn).map_err(|e| (LinkError::Read(e), true))?;
        target_error = target_error.or_else(|| error_text(&line));
    }
    let setup_failed = target_error.is_some();
    let mut moved = Vec::new();
    let mut broken = None;
    for (key, _, _) in found {
        let line = match read_line(&mut link.conn) {
            Ok(l) => l,
            Err(e) => {
                broken = Some(LinkError::Read(e));
                break;
            }
        };
        match error_text(&line) {
            Some(err) => target_error = target_error.or(Some(err)),
            None if setup_failed || o.copy => {}
            None => moved.push(key.clone()),
        }
    }
    link.db = if target_error.is_some() { None } else { Some(dbid) };

    let db = ctx.client.db;
    for key in &moved {
        ctx.core.dbs[db].delete(key, ctx.now);
        ctx.key_modified(key);
        ctx.notify(ev::GENERIC, "del", key);
        ctx.dirty(1);
    }
    if !moved.is_empty() {
        let mut del = vec![Bytes::from_static(b"DEL")];
        del.extend(moved);
        ctx.propagate(del);
    }
    if broken.is_some() {
        ctx.core.migrate.0.remove(addr);
    }
    // The target's own error wins over a connection lost after it.
    match (target_error, broken) {
        (Some(err), _) => {
            Ok(Err(Error::msg(format!("ERR Target instance replied with error: {err}"))))
        }
        (None, Some(e)) => Err((e, false)),
        (None, None) => Ok(Ok(())),
    }
}

/// The cached connection to `addr`, or a new one.
fn link<'a>(
    sockets: &'a mut Sockets,
    addr: &str,
    timeout: Duration,
) -> Result<&'a mut Link, LinkError> {
    let now = crate::clock::unix_secs();
    if !sockets.0.contains_key(addr) {
        if sockets.0.len() >= MAX_SOCKETS {
            // Room for this one: drop any other (Redis drops a random one).
            let victim = sockets.0.keys().next().cloned().expect("cache is full");
            sockets.0.remove(&victim);
        }
        let stream = connect(addr, timeout)?;
        let _ = stream.set_nodelay(true);
        sockets.0.insert(
            addr.to_string(),
            Link { conn: BufReader::new(stream), db: None, last_use: now },
        );
    }
    let link = sockets.0.get_mut(addr).expect("inserted above");
    link.last_use = now;
    Ok(link)
}

/// Connects within `timeout`. Redis connects without waiting for the handshake's outcome, so
/// a refused connection shows up as a failed write: the same reply here.
fn connect(addr: &str, timeout: Duration) -> Result<TcpStream, LinkError> {
    let refused = |e| LinkError::Write(e);
    let addrs = addr.to_socket_addrs().map_err(refused)?;
    let mut last = std::io::Error::new(ErrorKind::NotFound, "no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == ErrorKind::TimedOut => return Err(LinkError::ConnectTimeout),
            Err(e) => last = e,
        }
    }
    Err(refused(last))
}

/// One reply line from the target, without its CRLF.
fn read_line(conn: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    conn.by_ref().take(MAX_LINE).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(std::io::Error::new(ErrorKind::UnexpectedEof, "reply line cut short"));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(line)
}

/// The text of an error reply (`-ERR ...` gives `ERR ...`), None for any other reply.
fn error_text(line: &[u8]) -> Option<String> {
    let rest = line.strip_prefix(b"-")?;
    Some(String::from_utf8_lossy(rest).into_owned())
}
