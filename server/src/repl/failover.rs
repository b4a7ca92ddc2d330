//! FAILOVER: a master hands its role to one of its replicas without losing a write, as Redis
//! 6.2+ does it.
//!
//! The master pauses writes and asks its replicas to acknowledge (`waiting-for-sync`). Once a
//! replica (the one named by `TO`, or any) has acknowledged everything, the master becomes a
//! replica of it and asks `PSYNC <replid> <offset> FAILOVER` (`failover-in-progress`); the
//! replica, seeing its own history, becomes a master and lets the old one continue (see
//! `cmd::repl::psync`). Writes resume once the target accepted: on a replica now, they get
//! READONLY. A refused PSYNC, a TIMEOUT passed in either phase or `FAILOVER ABORT` puts the
//! master back as it was, with a new replication id as after any promotion. With FORCE (and
//! TO), a timeout while waiting for sync fails over anyway, and nothing rolls it back.

use std::sync::Arc;

use crate::server::{Core, Server};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    WaitForSync,
    InProgress,
}

pub struct Failover {
    pub state: State,
    /// The replica named by TO; once in progress, the one that caught up.
    target: Option<(String, u16)>,
    /// TIMEOUT: how long each phase may take.
    timeout_ms: Option<i64>,
    /// Unix ms when this phase gives up (or, waiting for sync with FORCE, fails over anyway).
    deadline_ms: Option<i64>,
    force: bool,
}

/// `master_failover_state` in INFO.
pub fn state_name(core: &Core) -> &'static str {
    match core.repl.failover.as_ref().map(|f| f.state) {
        None => "no-failover",
        Some(State::WaitForSync) => "waiting-for-sync",
        Some(State::InProgress) => "failover-in-progress",
    }
}

/// Writes wait while a failover is under way (as under `CLIENT PAUSE WRITE`).
pub fn pauses_writes(core: &Core) -> bool {
    core.repl.failover.is_some()
}

fn describe(target: &Option<(String, u16)>) -> String {
    match target {
        Some((h, p)) => format!("{h}:{p}"),
        None => "any replica".to_string(),
    }
}

/// Starts a failover (the command checked that it may).
pub fn start(core: &mut Core, target: Option<(String, u16)>, timeout_ms: Option<i64>, force: bool) {
    tracing::info!("FAILOVER requested to {}.", describe(&target));
    let deadline_ms = timeout_ms.map(|t| crate::clock::mstime() + t);
    let state = State::WaitForSync;
    core.repl.failover = Some(Failover { state, target, timeout_ms, deadline_ms, force });
    // Replicas acknowledge every second; this one asks them now.
    super::request_acks(core);
}

/// Ends the failover and puts this server back as a master.
pub fn abort(server: &Arc<Server>, core: &mut Core, why: &str) {
    let Some(f) = core.repl.failover.take() else { return };
    tracing::info!("FAILOVER to {} aborted: {why}", describe(&f.target));
    if f.state == State::InProgress {
        super::set_master(server, core, None);
    }
}

/// The target answered this server's `PSYNC ... FAILOVER`: it took over (`+CONTINUE`,
/// `+FULLRESYNC`), or refused (an error).
pub fn answered(server: &Arc<Server>, core: &mut Core, accepted: bool) {
    if !in_progress(core) {
        return;
    }
    if accepted {
        let f = core.repl.failover.take().expect("checked");
        tracing::info!("FAILOVER to {} completed.", describe(&f.target));
    } else {
        abort(server, core, "Failover target rejected psync request");
    }
}

/// Whether the link being set up should ask `PSYNC ... FAILOVER`.
pub fn in_progress(core: &Core) -> bool {
    core.repl.failover.as_ref().is_some_and(|f| f.state == State::InProgress)
}

/// The cron's part: fails over once a replica caught up; gives up (or forces) at the deadline.
pub fn cron(server: &Arc<Server>, core: &mut Core) {
    let Some(f) = &core.repl.failover else { return };
    let late = f.deadline_ms.is_some_and(|d| crate::clock::mstime() >= d);
    match f.state {
        State::InProgress => {
            if late {
                abort(server, core, "Failover target never accepted before timeout");
            }
        }
        State::WaitForSync => {
            let offset = core.repl.offset();
            let caught_up = {
                let s = core.repl.stream.lock();
                s.replicas
                    .iter()
                    .filter(|r| f.target.as_ref().is_none_or(|(h, p)| r.ip == *h && r.port == *p))
                    .find(|r| r.ack == offset && r.state == super::ReplicaState::Online)
                    .map(|r| (r.ip.clone(), r.port))
            };
            let to = match (caught_up, late) {
                (Some(t), _) => {
                    tracing::info!("Failover target {}:{} is synced, failing over.", t.0, t.1);
                    t
                }
                (None, true) if f.force && f.target.is_some() => {
                    let t = f.target.clone().expect("checked");
                    tracing::info!("Failover target {}:{} is not synced, forcing.", t.0, t.1);
                    t
                }
                (None, true) => {
                    return abort(server, core, "Replica never caught up before timeout");
                }
                (None, false) => return,
            };
            let f = core.repl.failover.as_mut().expect("checked");
            f.state = State::InProgress;
            f.target = Some(to.clone());
            // A forced failover does not roll back.
            f.deadline_ms = match f.force {
                true => None,
                false => f.timeout_ms.map(|t| crate::clock::mstime() + t),
            };
            super::set_master(server, core, Some(to));
        }
    }
}
