//! The server cron: what Redis's serverCron does, at `hz` times per second.
//!
//! Each tick takes the core lock for a bounded time: it refreshes the LRU clock, samples the
//! instantaneous metrics, runs the active expire cycle, moves incremental rehashing along, ends
//! an expired CLIENT PAUSE, keeps the tracking table within `tracking-table-max-keys` and closes
//! idle clients (`timeout`; replicas, monitors, the master, blocked and pub/sub clients are
//! exempt).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::ClientMeta;
use crate::clock::mstime;
use crate::server::{lru_clock_now, Core, Server};

pub async fn run(server: Arc<Server>) {
    let mut last_sample = 0i64;
    loop {
        let hz = server.lock_core().await.cfg.hz.clamp(1, 500);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(1000 / hz as u64)) => {}
            _ = server.shutdown.notified() => return,
        }
        if server.is_shutting_down() {
            return;
        }
        let mut core = server.lock_core().await;
        let now = mstime();
        core.lru_clock = lru_clock_now();
        if now - last_sample >= 100 {
            last_sample = now;
            let s = &mut core.stats;
            s.inst_ops.sample(now, s.total_commands_processed);
            s.inst_net_in.sample(now, s.net_input_bytes());
            s.inst_net_out.sample(now, s.net_output_bytes());
            s.inst_net_repl_in.sample(now, s.net_repl_input_bytes());
            s.inst_net_repl_out.sample(now, s.net_repl_output_bytes());
            let used = crate::info::used_memory();
            crate::info::track_memory(&mut core, used);
        }
        if let Some(p) = core.pause {
            if p.until_ms <= now {
                core.pause = None;
            }
        }
        // A replica's keys expire by its master's DELs (see keyspace::set_replica).
        if core.active_expire_enabled && !crate::keyspace::replica() {
            active_expire_cycle(&mut core, hz);
            crate::tracking::flush_bcast(&mut core);
            crate::module_host::events::deliver(&server, &mut core);
        }
        crate::tracking::limit_table(&mut core);
        for db in &mut core.dbs {
            db.table.rehash_step(100);
        }
        close_idle_clients(&mut core, now);
        crate::persist::aof::cron(&server, &mut core);
        crate::persist::snapshot::cron(&server, &mut core);
        crate::repl::cron(&server, &mut core);
        crate::cmd::migrate::cron(&mut core.migrate, crate::clock::unix_secs());
        // What the tick freed counts in the memory meter before the lock goes (see the meter).
        crate::keyspace::evict::publish();
    }
}

/// Walks each database's table from its saved cursor, deleting expired keys.
///
/// Redis samples its separate expires table; Vireo keeps the expiry inside the key record (no
/// second table, see docs/performance.md) and sweeps the main table instead. Every cycle spends
/// a small base budget (so keys nobody reads are reclaimed within seconds), and keeps going, up
/// to 25% of the tick (scaled by `active-expire-effort`), while the share of expired keys found
/// stays above the acceptable stale ratio.
pub fn active_expire_cycle(core: &mut Core, hz: u32) {
    let effort = core.cfg.active_expire_effort.clamp(1, 10) as u64;
    let tick_us = 1_000_000 / hz as u64;
    let limit = Duration::from_micros(tick_us * (25 + 2 * (effort - 1)) / 100);
    let base = Duration::from_micros(1000 * effort);
    let acceptable_stale = 10u64.saturating_sub(effort - 1).max(1);
    let start = Instant::now();
    let now = mstime();
    let mut total_checked = 0u64;
    let mut total_expired = 0u64;
    let ndbs = core.dbs.len();
    for dbi in 0..ndbs {
        if core.stats.avg_ttl.len() < ndbs {
            core.stats.avg_ttl.resize(ndbs, 0);
        }
        if core.dbs[dbi].expires == 0 {
            core.stats.avg_ttl[dbi] = 0;
            continue;
        }
        loop {
            let mut checked = 0u64;
            let mut expired_keys: Vec<Box<[u8]>> = Vec::new();
            let (mut ttl_sum, mut ttl_n) = (0u64, 0u64);
            {
                let db = &mut core.dbs[dbi];
                let mut cursor = db.expire_cursor;
                // one "loop": a few dozen buckets
                for _ in 0..32 {
                    cursor = db.table.scan_remove(
                        cursor,
                        |e| {
                            checked += 1;
                            match e.expire_at() {
                                Some(t) if t <= now => true,
                                Some(t) => {
                                    ttl_sum += (t - now) as u64;
                                    ttl_n += 1;
                                    false
                                }
                                None => false,
                            }
                        },
                        |e| expired_keys.push(e.key().into()),
                    );
                    if cursor == 0 {
                        break;
                    }
                }
                db.expire_cursor = cursor;
                db.expires -= expired_keys.len();
            }
            let n = expired_keys.len() as u64;
            if let Some(avg) = ttl_sum.checked_div(ttl_n) {
                // A running average over the samples, as Redis keeps avg_ttl.
                let old = core.stats.avg_ttl[dbi];
                core.stats.avg_ttl[dbi] = if old == 0 { avg } else { old / 50 * 49 + avg / 50 };
            }
            total_checked += checked;
            total_expired += n;
            core.stats.expired_keys += n;
            core.dirty += n;
            for k in expired_keys {
                let expired = crate::config::notify::EXPIRED;
                crate::keyspace::notify::notify(core, expired, "expired", &k, dbi, None);
                crate::cmd::signal_modified(core, dbi, &k);
                core.prop.feed(
                    dbi,
                    &[bytes::Bytes::from_static(b"DEL"), bytes::Bytes::from(k.into_vec())],
                );
            }
            let elapsed = start.elapsed();
            if elapsed >= limit {
                core.stats.expired_time_cap_reached_count += 1;
                break;
            }
            let stale_pct = (n * 100).checked_div(checked).unwrap_or(0);
            if core.dbs[dbi].expires == 0 || core.dbs[dbi].expire_cursor == 0 {
                break;
            }
            if elapsed >= base && stale_pct <= acceptable_stale {
                break;
            }
        }
    }
    let elapsed = start.elapsed();
    core.stats.expire_cycle_cpu_milliseconds += elapsed.as_millis() as u64;
    if total_checked > 0 {
        let cur = total_expired as f64 / total_checked as f64;
        core.stats.expired_stale_perc = cur * 0.05 + core.stats.expired_stale_perc * 0.95;
    }
}

/// Whether `timeout` applies to a client: as in Redis, never to replicas, monitors, the master
/// link, clients waiting in a blocking command (their own timeout governs them) or clients in
/// pub/sub mode (they mostly listen).
fn obeys_idle_timeout(m: &ClientMeta) -> bool {
    let f = &m.flags;
    !(f.monitor || f.replica || f.master || f.blocked || m.is_pubsub())
}

fn close_idle_clients(core: &mut Core, now: i64) {
    let timeout = core.cfg.timeout;
    if timeout == 0 {
        return;
    }
    for c in core.clients.values() {
        let m = c.meta.lock();
        if !obeys_idle_timeout(&m) {
            continue;
        }
        if now - m.last_interaction_ms > timeout as i64 * 1000 {
            drop(m);
            tracing::debug!("Closing idle client id={}", c.id);
            c.kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::client::{ClientFlags, ClientShared};
    use crate::config::Config;

    /// Idle clients are closed unless they are replicas, monitors, the master, blocked or in
    /// pub/sub mode; a client with recent traffic stays.
    #[test]
    fn idle_timeout_exemptions() {
        let mut core = Core::new(Config { timeout: 10, ..Config::default() });
        let now = mstime();
        let idle = now - 11_000;
        let cases: [(&str, ClientFlags, usize, i64, bool); 9] = [
            ("normal", ClientFlags::default(), 0, idle, true),
            ("recent", ClientFlags::default(), 0, now - 9_000, false),
            ("monitor", ClientFlags { monitor: true, ..Default::default() }, 0, idle, false),
            ("replica", ClientFlags { replica: true, ..Default::default() }, 0, idle, false),
            ("master", ClientFlags { master: true, ..Default::default() }, 0, idle, false),
            ("blocked", ClientFlags { blocked: true, ..Default::default() }, 0, idle, false),
            ("pubsub", ClientFlags::default(), 1, idle, false),
            ("no-evict", ClientFlags { no_evict: true, ..Default::default() }, 0, idle, true),
            ("unix", ClientFlags { unix: true, ..Default::default() }, 0, idle, true),
        ];
        for (id, (_, flags, subs, last, _)) in cases.iter().enumerate() {
            let sh = Arc::new(ClientShared::new(
                id as u64,
                String::new(),
                String::new(),
                -1,
                false,
                tokio::sync::mpsc::unbounded_channel().0,
            ));
            {
                let mut m = sh.meta.lock();
                m.flags = *flags;
                m.psub = *subs;
                m.last_interaction_ms = *last;
            }
            core.clients.insert(id as u64, sh);
        }
        close_idle_clients(&mut core, now);
        for (id, (name, _, _, _, closed)) in cases.iter().enumerate() {
            assert_eq!(core.clients[&(id as u64)].is_killed(), *closed, "{name}");
        }

        // timeout 0: nobody is closed
        core.cfg.timeout = 0;
        let sh = Arc::new(ClientShared::new(
            99,
            String::new(),
            String::new(),
            -1,
            false,
            tokio::sync::mpsc::unbounded_channel().0,
        ));
        sh.meta.lock().last_interaction_ms = 0;
        core.clients.insert(99, sh);
        close_idle_clients(&mut core, now);
        assert!(!core.clients[&99].is_killed());
    }
}
