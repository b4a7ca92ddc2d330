//! Writing to the socket: replies and pushed messages, in a way a kill can interrupt.
//!
//! A peer that stops reading fills the socket buffer and the write waits; a client killed meanwhile
//! (CLIENT KILL, output buffer limits) must still close at once, or what others push to it would
//! pile up. Pushed messages waiting in the channel are written together, one syscall for many.

use std::io;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::client::ClientShared;

/// Write at most about this much of queued pushes at once.
const COALESCE: usize = 64 * 1024;

fn killed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "client killed")
}

/// Writes all of `buf` unless the client is killed first.
pub async fn write_all<S>(stream: &mut S, mut buf: &[u8], shared: &ClientShared) -> io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    while !buf.is_empty() {
        let n = tokio::select! {
            biased;
            r = stream.write(buf) => r?,
            _ = shared.out.killed.notified() => return Err(killed()),
        };
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// [`write_all`] of what goes out apart from a batch's replies (pushed messages, a served
/// blocked reply, a full sync's payload), counted in INFO's totals here: a batch's are counted
/// under the core lock (a replica's also as replication output).
pub async fn write_counted<S>(stream: &mut S, buf: &[u8], shared: &ClientShared) -> io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    write_all(stream, buf, shared).await?;
    crate::stats::count_output(buf.len(), shared.out.is_replica());
    Ok(())
}

/// Moves the messages already queued for this client into `out` (the connection loop calls it
/// with the core lock held, before running a batch, so that messages published before the
/// batch come before its replies). Returns (bytes, messages) to report as written once `out` is.
pub fn drain(rx: &mut mpsc::UnboundedReceiver<Bytes>, out: &mut Vec<u8>) -> (usize, usize) {
    let (mut bytes, mut msgs) = (0, 0);
    while let Ok(m) = rx.try_recv() {
        if !m.is_empty() {
            out.extend_from_slice(&m);
            bytes += m.len();
            msgs += 1;
        }
    }
    (bytes, msgs)
}

/// Writes `first` and whatever else is queued behind it (up to [`COALESCE`] bytes) with one
/// write, using `scratch` (empty, left empty) to join them, then reports them written.
pub async fn write_pushes<S>(
    stream: &mut S,
    first: Bytes,
    rx: &mut mpsc::UnboundedReceiver<Bytes>,
    shared: &ClientShared,
    scratch: &mut Vec<u8>,
) -> io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    let mut msgs = usize::from(!first.is_empty());
    let mut next = rx.try_recv().ok();
    if next.is_none() {
        if msgs == 1 {
            write_counted(stream, &first, shared).await?;
            shared.out.written(first.len(), 1);
        }
        return Ok(());
    }
    scratch.extend_from_slice(&first);
    while let Some(m) = next {
        if !m.is_empty() {
            scratch.extend_from_slice(&m);
            msgs += 1;
        }
        if scratch.len() >= COALESCE {
            break;
        }
        next = rx.try_recv().ok();
    }
    let r = write_counted(stream, scratch, shared).await;
    shared.out.written(scratch.len(), msgs);
    scratch.clear();
    scratch.shrink_to(4 * COALESCE);
    r
}
