//! Counters behind INFO stats/commandstats/errorstats, the slow log and the latency monitor.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

#[derive(Default, Clone, Debug)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

#[derive(Default, Debug)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub expired_stale_perc: f64,
    pub expired_time_cap_reached_count: u64,
    pub expire_cycle_cpu_milliseconds: u64,
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub total_net_input_bytes: u64,
    pub total_net_output_bytes: u64,
    pub total_error_replies: u64,
    pub unexpected_error_replies: u64,
    pub dump_payload_sanitizations: u64,
    pub total_reads_processed: u64,
    pub total_writes_processed: u64,
    pub client_query_buffer_limit_disconnections: u64,
    pub io_threaded_reads_processed: u64,
    /// Per command id (see `cmd::Commands`).
    pub cmd: Vec<CmdStat>,
    /// Instantaneous metrics: samples of (time ms, counter) taken by the cron.
    pub inst_ops: Sampler,
    pub inst_net_in: Sampler,
    pub inst_net_out: Sampler,
}

/// Redis's instantaneous metric: the average rate over the last 16 samples taken every 100 ms.
#[derive(Default, Debug, Clone)]
pub struct Sampler {
    last_ms: i64,
    last_value: u64,
    samples: VecDeque<f64>,
}

impl Sampler {
    pub fn sample(&mut self, now_ms: i64, value: u64) {
        if self.last_ms != 0 {
            let dt = (now_ms - self.last_ms).max(1) as f64;
            let rate = (value.saturating_sub(self.last_value)) as f64 * 1000.0 / dt;
            if self.samples.len() == 16 {
                self.samples.pop_front();
            }
            self.samples.push_back(rate);
        }
        self.last_ms = now_ms;
        self.last_value = value;
    }

    pub fn rate(&self) -> f64 {
        if self.samples.is_empty() {
            0.0
        } else {
            self.samples.iter().sum::<f64>() / self.samples.len() as f64
        }
    }
}

#[derive(Clone, Debug)]
pub struct SlowLogEntry {
    pub id: u64,
    pub time: i64,
    pub duration_us: u64,
    pub args: Vec<Bytes>,
    pub addr: String,
    pub name: Vec<u8>,
}

#[derive(Default, Debug)]
pub struct SlowLog {
    pub entries: VecDeque<SlowLogEntry>,
    pub next_id: u64,
}

impl SlowLog {
    /// Records a command, trimmed as Redis trims: at most 32 arguments (the last one saying how
    /// many more there were) and at most 128 bytes per argument.
    pub fn push(&mut self, argv: &[Bytes], duration_us: u64, addr: String, name: Vec<u8>, max_len: usize) {
        if max_len == 0 {
            return;
        }
        const MAX_ARGC: usize = 32;
        const MAX_STRING: usize = 128;
        let keep = argv.len().min(MAX_ARGC);
        let mut args = Vec::with_capacity(keep);
        for (i, a) in argv.iter().take(keep).enumerate() {
            if keep != argv.len() && i == keep - 1 {
                args.push(Bytes::from(format!("... ({} more arguments)", argv.len() - keep + 1)));
            } else if a.len() > MAX_STRING {
                let mut s = a[..MAX_STRING].to_vec();
                s.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes());
                args.push(Bytes::from(s));
            } else {
                args.push(a.clone());
            }
        }
        let entry = SlowLogEntry {
            id: self.next_id,
            time: crate::clock::unix_secs(),
            duration_us,
            args,
            addr,
            name,
        };
        self.next_id += 1;
        self.entries.push_front(entry);
        while self.entries.len() > max_len {
            self.entries.pop_back();
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct LatencySample {
    pub time: i64,
    pub latency_ms: u64,
}

#[derive(Default, Debug)]
pub struct LatencyEvent {
    pub samples: VecDeque<LatencySample>,
    pub max: u64,
}

/// LATENCY's per-event history: at most 160 samples, one per second, keeping the maximum.
#[derive(Default, Debug)]
pub struct LatencyMonitor {
    pub events: HashMap<String, LatencyEvent>,
}

impl LatencyMonitor {
    pub fn add(&mut self, event: &str, latency_ms: u64) {
        let now = crate::clock::unix_secs();
        let ev = self.events.entry(event.to_string()).or_default();
        ev.max = ev.max.max(latency_ms);
        if let Some(last) = ev.samples.back_mut() {
            if last.time == now {
                last.latency_ms = last.latency_ms.max(latency_ms);
                return;
            }
        }
        if ev.samples.len() == 160 {
            ev.samples.pop_front();
        }
        ev.samples.push_back(LatencySample { time: now, latency_ms });
    }
}
