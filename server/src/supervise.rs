//! `supervised systemd` (or `auto` under systemd): the readiness protocol of a `Type=notify`
//! unit, as Debian's redis-server.service runs Redis. The server tells systemd through the
//! datagram socket named by `NOTIFY_SOCKET` that it is ready (once the data set is loaded) and
//! that it is stopping; without those messages systemd would kill it when its start times out.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::OnceLock;

use crate::config::Supervised;

/// systemd's socket, when the server is supervised by it.
static SOCKET: OnceLock<Option<SocketAddr>> = OnceLock::new();

/// Decides, once at start-up, whether systemd supervises the server.
pub fn init(mode: Supervised) {
    let addr = match mode {
        Supervised::Systemd | Supervised::Auto => notify_socket(mode == Supervised::Systemd),
        Supervised::Upstart => {
            tracing::warn!("upstart supervision is not supported by Vireo; running unsupervised");
            None
        }
        Supervised::No => None,
    };
    if addr.is_some() {
        tracing::info!(
            "supervised by systemd. Please make sure you set appropriate values for \
             TimeoutStartSec and TimeoutStopSec in your service unit."
        );
    }
    let _ = SOCKET.set(addr);
}

/// The address in `NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace).
fn notify_socket(asked: bool) -> Option<SocketAddr> {
    let Some(name) = std::env::var_os("NOTIFY_SOCKET").filter(|n| !n.is_empty()) else {
        if asked {
            tracing::warn!(
                "systemd supervision requested or auto-detected, but NOTIFY_SOCKET environment \
                 variable not found!"
            );
        }
        return None;
    };
    let bytes = name.as_encoded_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(abs) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(abs)
        }
        None => SocketAddr::from_pathname(&name),
    };
    addr.map_err(|e| tracing::warn!("Can't use NOTIFY_SOCKET {name:?}: {e}")).ok()
}

/// Sends `state` (`READY=1\n`, `STATUS=...\n`, ...) to systemd when it supervises the server.
pub fn notify(state: &str) {
    let Some(Some(addr)) = SOCKET.get() else { return };
    let sent = UnixDatagram::unbound().and_then(|s| s.send_to_addr(state.as_bytes(), addr));
    if let Err(e) = sent {
        tracing::warn!("Can't send notification to systemd: {e}");
    }
}
