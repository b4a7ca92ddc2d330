//! The running script, seen from outside the core lock.
//!
//! A script runs under the core lock its connection holds, so nothing else can look at the
//! `Core` meanwhile. What other connections need to know — is a script running, since when, is
//! it past `busy-reply-threshold`, has it written, must it stop — lives here in atomics. The Lua
//! count hook ([`vireo_scripting::Watchdog`]) marks the script busy once it runs past the
//! threshold and stops it when SCRIPT KILL / FUNCTION KILL (or SHUTDOWN NOSAVE) asked; while it
//! is busy, connections serve their commands without the lock (BUSY replies, the kills,
//! SHUTDOWN NOSAVE), see `net`.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};

use crate::clock::mstime;

/// What kind of script runs: EVAL and friends, or FCALL (their BUSY and kill texts differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Eval = 1,
    Function = 2,
}

pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
pub const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
pub const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";

#[derive(Default)]
pub struct ScriptRun {
    /// 0: none, else a [`Kind`].
    kind: AtomicU8,
    start_ms: AtomicI64,
    threshold_ms: AtomicI64,
    busy: AtomicBool,
    wrote: AtomicBool,
    kill: AtomicBool,
    /// `requirepass` is set (for connections that arrive while a script is busy).
    auth_required: AtomicBool,
    /// A SYNC debugging session holds the core lock: other connections wait for it without
    /// trying to take the lock (see `Server::try_lock_core`).
    debugging: AtomicBool,
}

impl ScriptRun {
    /// A script starts (under the core lock) at `now_ms` (its command's time), with the
    /// `busy-reply-threshold` in force.
    pub fn begin(&self, kind: Kind, threshold_ms: u64, now_ms: i64) {
        self.start_ms.store(now_ms, Ordering::Relaxed);
        self.threshold_ms.store(threshold_ms.min(i64::MAX as u64) as i64, Ordering::Relaxed);
        self.busy.store(false, Ordering::Relaxed);
        self.wrote.store(false, Ordering::Relaxed);
        self.kill.store(false, Ordering::Relaxed);
        self.kind.store(kind as u8, Ordering::Release);
    }

    pub fn set_debugging(&self, on: bool) {
        self.debugging.store(on, Ordering::Release);
    }

    pub fn debugging(&self) -> bool {
        self.debugging.load(Ordering::Acquire)
    }

    /// Whether new connections start unauthenticated (noted when a script starts).
    pub fn set_auth_required(&self, yes: bool) {
        self.auth_required.store(yes, Ordering::Relaxed);
    }

    pub fn auth_required(&self) -> bool {
        self.auth_required.load(Ordering::Relaxed)
    }

    /// The script ended.
    pub fn end(&self) {
        self.kind.store(0, Ordering::Release);
        self.busy.store(false, Ordering::Release);
        self.kill.store(false, Ordering::Relaxed);
    }

    pub fn kind(&self) -> Option<Kind> {
        match self.kind.load(Ordering::Acquire) {
            1 => Some(Kind::Eval),
            2 => Some(Kind::Function),
            _ => None,
        }
    }

    /// The script ran a write command: SCRIPT KILL no longer stops it.
    pub fn wrote(&self) {
        self.wrote.store(true, Ordering::Relaxed);
    }

    /// A script runs past the threshold: other clients get BUSY.
    pub fn busy(&self) -> Option<Kind> {
        if self.busy.load(Ordering::Acquire) {
            self.kind()
        } else {
            None
        }
    }

    /// The BUSY error for the script running.
    pub fn busy_error(kind: Kind) -> &'static str {
        match kind {
            Kind::Eval => BUSY_EVAL,
            Kind::Function => BUSY_FUNCTION,
        }
    }

    /// SCRIPT KILL (`Kind::Eval`) or FUNCTION KILL (`Kind::Function`): Ok when the script will
    /// stop, else Redis's error.
    pub fn kill(&self, by: Kind) -> Result<(), &'static str> {
        let Some(running) = self.kind() else { return Err(NOTBUSY) };
        if self.wrote.load(Ordering::Relaxed) {
            return Err(UNKILLABLE);
        }
        if running != by {
            return Err(Self::busy_error(running));
        }
        self.kill.store(true, Ordering::Release);
        Ok(())
    }

    /// SHUTDOWN NOSAVE while a script runs: stop it whatever it did.
    pub fn kill_for_shutdown(&self) {
        self.kill.store(true, Ordering::Release);
    }
}

impl vireo_scripting::Watchdog for ScriptRun {
    fn tick(&self) -> Option<String> {
        if self.kill.load(Ordering::Acquire) {
            // Redis 7.0 names SCRIPT KILL whichever KILL stopped it.
            return Some("ERR Script killed by user with SCRIPT KILL...".into());
        }
        if !self.busy.load(Ordering::Relaxed) {
            let elapsed = mstime() - self.start_ms.load(Ordering::Relaxed);
            if elapsed >= self.threshold_ms.load(Ordering::Relaxed) {
                tracing::warn!(
                    "Slow script detected: still in execution after {elapsed} milliseconds. You can try killing the script using the SCRIPT KILL command."
                );
                self.busy.store(true, Ordering::Release);
            }
        }
        if self.busy.load(Ordering::Relaxed) {
            release_worker();
        }
        None
    }
}

/// Hands the runtime worker the busy script runs on to another thread, so that the other
/// connections are served meanwhile (BUSY replies, the kills, SHUTDOWN NOSAVE) even on a
/// runtime with a single worker; the script goes on, on this thread, without one.
///
/// Called at every watchdog tick while busy: the hand-over only sticks once the new thread has
/// taken the worker, which the yield gives it a chance to do (if it has not, the worker comes
/// back here when the closure returns, and the next tick tries again). Once the worker is
/// gone, `block_in_place` returns at once.
fn release_worker() {
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi {
        tokio::task::block_in_place(std::thread::yield_now);
    }
}
