//! A client's socket, shared by its connection task and whoever serves the client while it is
//! blocked (see `crate::blocking::Handoff`), which writes the reply at once instead of waking the
//! task. Both go through `&self` (tokio's readiness and `try_*` calls), so sharing needs no lock
//! and no second descriptor; the descriptor closes when the last holder lets go.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// What the connection needs of a TCP or Unix stream, through a shared reference.
pub trait Socket: Send + Sync + 'static {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    fn try_read_into(&self, buf: &mut ReadBuf<'_>) -> io::Result<usize>;
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// Writes what the socket takes now; `WouldBlock` if nothing.
    fn try_write(&self, buf: &[u8]) -> io::Result<usize>;
    /// Shuts the sending side down (the peer reads end-of-file).
    fn shutdown_write(&self) -> io::Result<()>;
}

macro_rules! socket_impl {
    ($t:ty) => {
        impl Socket for $t {
            fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$t>::poll_read_ready(self, cx)
            }
            fn try_read_into(&self, buf: &mut ReadBuf<'_>) -> io::Result<usize> {
                // A read that did not fill the buffer emptied the socket: it is reported to
                // `try_io` as would-block, which clears the readiness it was given (a later
                // arrival's event still counts), so the next poll parks instead of spending a
                // system call on a read that finds nothing. Tokio's own `poll_read` does the
                // same; its `try_read_*` calls do not.
                let want = buf.remaining();
                let mut short = None;
                let r = self.try_io(Interest::READABLE, || {
                    // Into the buffer's uninitialised part, without zeroing it first.
                    let n = self.try_read_buf(&mut *buf)?;
                    if 0 < n && n < want {
                        short = Some(n);
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    Ok(n)
                });
                match short {
                    Some(n) => Ok(n),
                    None => r,
                }
            }
            fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$t>::poll_write_ready(self, cx)
            }
            fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                <$t>::try_write(self, buf)
            }
            fn shutdown_write(&self) -> io::Result<()> {
                socket2::SockRef::from(self).shutdown(std::net::Shutdown::Write)
            }
        }
    };
}

socket_impl!(TcpStream);
socket_impl!(UnixStream);

/// The connection task's handle on a shared socket, as an ordinary async stream.
pub struct Stream(pub Arc<dyn Socket>);

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.0.poll_read_ready(cx))?;
            match self.0.try_read_into(buf) {
                Ok(_) => return Poll::Ready(Ok(())),
                // Readiness was stale: `try_read_into` cleared it, so the next poll registers.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.0.shutdown_write())
    }
}
