//! Counters behind INFO stats/commandstats/errorstats, the slow log and the latency monitor.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

/// Bytes written to clients outside a batch's replies (pushed messages, a served blocked
/// client's reply), counted where they are written, without the core lock. INFO's
/// `total_net_output_bytes` is [`Stats::net_output_bytes`], which adds them.
static OUTPUT_OUTSIDE_BATCHES: AtomicU64 = AtomicU64::new(0);
/// Writes to clients outside a batch's replies (each counted by [`count_output`]).
static WRITES_OUTSIDE_BATCHES: AtomicU64 = AtomicU64::new(0);
/// Bytes a replica read from its master, outside the connection loop (which counts the rest).
static INPUT_OUTSIDE_BATCHES: AtomicU64 = AtomicU64::new(0);
/// Replication's share of the totals, which Redis 7.0 also shows on its own: what a master
/// sends its replicas (a full sync's payload, then the stream), what a replica reads from its
/// master.
static REPL_OUTPUT: AtomicU64 = AtomicU64::new(0);
static REPL_INPUT: AtomicU64 = AtomicU64::new(0);

/// Counts one write of `n` bytes to a client outside a batch's replies.
pub fn count_output(n: usize, replica: bool) {
    OUTPUT_OUTSIDE_BATCHES.fetch_add(n as u64, Ordering::Relaxed);
    WRITES_OUTSIDE_BATCHES.fetch_add(1, Ordering::Relaxed);
    if replica {
        count_repl_output(n);
    }
}

/// Counts `n` bytes, already in the output total, as sent to a replica.
pub fn count_repl_output(n: usize) {
    REPL_OUTPUT.fetch_add(n as u64, Ordering::Relaxed);
}

/// Counts `n` bytes a replica read from its master.
pub fn count_repl_input(n: usize) {
    INPUT_OUTSIDE_BATCHES.fetch_add(n as u64, Ordering::Relaxed);
    REPL_INPUT.fetch_add(n as u64, Ordering::Relaxed);
}

#[derive(Default, Clone, Debug)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
    /// Per-call latency, for INFO latencystats.
    pub latency: LatencyHistogram,
}

/// A log-linear latency histogram in nanoseconds with the resolution Redis's per-command
/// HdrHistogram has (two significant digits: 256 sub-buckets, the upper 128 of them per power of
/// two past 256), over 1 ns ..= 1 s. The 128-slot chunks are allocated on first use, so a command
/// whose calls all take a few microseconds holds two or three chunks (~1.5 KB), not the whole
/// 24 chunks.
#[derive(Default, Clone, Debug)]
pub struct LatencyHistogram {
    chunks: Vec<Option<Box<[u32; 128]>>>,
    total: u64,
}

impl LatencyHistogram {
    const MAX_NS: u64 = 1_000_000_000;

    /// (chunk, slot) of a value, and the chunk's shift (log2 of its slot width).
    fn index(v: u64) -> (usize, usize, u32) {
        if v < 256 {
            ((v >> 7) as usize, (v & 127) as usize, 0)
        } else {
            let b = 63 - v.leading_zeros();
            let shift = b - 7;
            ((b - 6) as usize, ((v >> shift) - 128) as usize, shift)
        }
    }

    pub fn record(&mut self, ns: u64) {
        let v = ns.clamp(1, Self::MAX_NS);
        let (c, s, _) = Self::index(v);
        if self.chunks.len() <= c {
            self.chunks.resize(c + 1, None);
        }
        let chunk = self.chunks[c].get_or_insert_with(|| Box::new([0; 128]));
        chunk[s] = chunk[s].saturating_add(1);
        self.total += 1;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The value at a percentile (0-100), as HdrHistogram reports it: the highest value
    /// equivalent to the bucket where the cumulative count reaches the percentile.
    pub fn value_at_percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let p = p.clamp(0.0, 100.0);
        let target = ((p / 100.0 * self.total as f64) + 0.5) as u64;
        let target = target.max(1);
        let mut seen = 0u64;
        for (c, chunk) in self.chunks.iter().enumerate() {
            let Some(chunk) = chunk else { continue };
            for (s, &n) in chunk.iter().enumerate() {
                seen += n as u64;
                if n > 0 && seen >= target {
                    return Self::highest_equivalent(c, s);
                }
            }
        }
        Self::MAX_NS
    }

    /// Number of recorded values below `v` (a bucket boundary).
    fn count_below(&self, v: u64) -> u64 {
        let mut n = 0u64;
        for (c, chunk) in self.chunks.iter().enumerate() {
            let Some(chunk) = chunk else { continue };
            for (s, &k) in chunk.iter().enumerate() {
                if k > 0 && Self::lowest_equivalent(c, s) < v {
                    n += k as u64;
                }
            }
        }
        n
    }

    /// LATENCY HISTOGRAM's cumulative distribution: (bucket in µs, calls up to it) for the
    /// power-of-two buckets from 1024 ns on, where the count grows, as Redis walks its
    /// HdrHistogram with a logarithmic iterator (so the buckets read 1, 2, 4, 8, 16, 33, 66...).
    pub fn cumulative_pow2_usec(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut prev = 0u64;
        let mut level = 1024u64;
        if self.total == 0 {
            return out;
        }
        loop {
            let width = level / 128;
            let cum = self.count_below(level + width);
            if cum > prev {
                out.push(((level + width - 1) / 1000, cum));
            }
            prev = cum;
            if cum >= self.total || level > Self::MAX_NS {
                break;
            }
            level *= 2;
        }
        out
    }

    fn lowest_equivalent(chunk: usize, slot: usize) -> u64 {
        if chunk < 2 {
            (chunk * 128 + slot) as u64
        } else {
            ((slot as u64) + 128) << (chunk as u32 - 1)
        }
    }

    fn highest_equivalent(chunk: usize, slot: usize) -> u64 {
        if chunk < 2 {
            (chunk * 128 + slot) as u64
        } else {
            let shift = chunk as u32 - 1;
            let lowest = ((slot as u64) + 128) << shift;
            lowest + (1u64 << shift) - 1
        }
    }

    pub fn reset(&mut self) {
        self.chunks.clear();
        self.total = 0;
    }
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
    pub inst_net_repl_in: Sampler,
    pub inst_net_repl_out: Sampler,
    /// `used_memory` when the server started serving (INFO `used_memory_startup`).
    pub mem_startup: u64,
    /// Highest `used_memory` seen by the cron or a memory report.
    pub mem_peak: u64,
    /// Per database: the estimated average TTL in ms of keys with an expiry, kept by the active
    /// expire cycle as Redis keeps it (INFO keyspace `avg_ttl`).
    pub avg_ttl: Vec<u64>,
    /// Microseconds spent over `maxmemory` in past episodes (INFO
    /// `total_eviction_exceeded_time`), and the start of the current one, if any.
    pub eviction_exceeded_us: u64,
    pub eviction_exceeded_since: Option<std::time::Instant>,
}

impl Stats {
    /// INFO's `total_net_output_bytes`: the batches' replies and what was written outside them.
    pub fn net_output_bytes(&self) -> u64 {
        self.total_net_output_bytes + OUTPUT_OUTSIDE_BATCHES.load(Ordering::Relaxed)
    }

    /// INFO's `total_writes_processed`: the batches' writes and those outside them.
    pub fn writes_processed(&self) -> u64 {
        self.total_writes_processed + WRITES_OUTSIDE_BATCHES.load(Ordering::Relaxed)
    }

    /// INFO's `total_net_input_bytes`: what the connections read and what a replica's link did.
    pub fn net_input_bytes(&self) -> u64 {
        self.total_net_input_bytes + INPUT_OUTSIDE_BATCHES.load(Ordering::Relaxed)
    }

    /// INFO's `total_net_repl_output_bytes`.
    pub fn net_repl_output_bytes(&self) -> u64 {
        REPL_OUTPUT.load(Ordering::Relaxed)
    }

    /// INFO's `total_net_repl_input_bytes`.
    pub fn net_repl_input_bytes(&self) -> u64 {
        REPL_INPUT.load(Ordering::Relaxed)
    }

    /// What CONFIG RESETSTAT clears: every counter INFO stats shows, the per-command statistics
    /// (calls, time, rejections, failures, latency histograms) and the instantaneous metrics,
    /// which start again from now.
    ///
    /// Checked against Redis 7.0.15 (and 7.4.1): a RESETSTAT leaves `used_memory_peak`,
    /// `used_memory_startup` and the keyspace `avg_ttl` as they were, so `mem_startup`,
    /// `mem_peak` and `avg_ttl` stay. The error statistics live in `Core::errorstats`, the slow
    /// log and latency history outside this struct (RESETSTAT keeps those two).
    ///
    /// The destructuring names every field on purpose: a new field does not compile until it is
    /// sorted into "reset" or "kept" here.
    pub fn reset_counters(&mut self) {
        for counter in [
            &OUTPUT_OUTSIDE_BATCHES,
            &WRITES_OUTSIDE_BATCHES,
            &INPUT_OUTSIDE_BATCHES,
            &REPL_OUTPUT,
            &REPL_INPUT,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        let Stats {
            total_connections_received,
            total_commands_processed,
            rejected_connections,
            expired_keys,
            expired_stale_perc,
            expired_time_cap_reached_count,
            expire_cycle_cpu_milliseconds,
            evicted_keys,
            keyspace_hits,
            keyspace_misses,
            total_net_input_bytes,
            total_net_output_bytes,
            total_error_replies,
            unexpected_error_replies,
            dump_payload_sanitizations,
            total_reads_processed,
            total_writes_processed,
            client_query_buffer_limit_disconnections,
            io_threaded_reads_processed,
            cmd,
            inst_ops,
            inst_net_in,
            inst_net_out,
            inst_net_repl_in,
            inst_net_repl_out,
            mem_startup: _,
            mem_peak: _,
            avg_ttl: _,
            eviction_exceeded_us,
            eviction_exceeded_since,
        } = self;
        for counter in [
            total_connections_received,
            total_commands_processed,
            rejected_connections,
            expired_keys,
            expired_time_cap_reached_count,
            expire_cycle_cpu_milliseconds,
            evicted_keys,
            keyspace_hits,
            keyspace_misses,
            total_net_input_bytes,
            total_net_output_bytes,
            total_error_replies,
            unexpected_error_replies,
            dump_payload_sanitizations,
            total_reads_processed,
            total_writes_processed,
            client_query_buffer_limit_disconnections,
            io_threaded_reads_processed,
            eviction_exceeded_us,
        ] {
            *counter = 0;
        }
        // Redis clears the running episode's start too (it begins again at the next check).
        *eviction_exceeded_since = None;
        *expired_stale_perc = 0.0;
        // Reset in place: the vector is indexed by command id and must keep its length.
        cmd.iter_mut().for_each(|c| *c = CmdStat::default());
        let now = crate::clock::mstime();
        for sampler in [inst_ops, inst_net_in, inst_net_out, inst_net_repl_in, inst_net_repl_out] {
            sampler.restart(now);
        }
    }
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

    /// Forgets the samples; the next one measures from `now_ms` and a counter of zero (the
    /// counters were just reset too), as Redis restarts its metrics on RESETSTAT.
    pub fn restart(&mut self, now_ms: i64) {
        self.last_ms = now_ms;
        self.last_value = 0;
        self.samples.clear();
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
    pub fn push(
        &mut self,
        argv: &[Bytes],
        duration_us: u64,
        addr: String,
        name: Vec<u8>,
        max_len: usize,
    ) {
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
                s.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes(),
                );
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

#[cfg(test)]
mod reset_tests {
    use super::*;

    #[test]
    fn reset_counters_clears_counters_and_keeps_memory_and_ttl() {
        let mut s = Stats {
            total_connections_received: 1,
            total_commands_processed: 2,
            rejected_connections: 3,
            expired_keys: 4,
            expired_stale_perc: 0.5,
            expired_time_cap_reached_count: 5,
            expire_cycle_cpu_milliseconds: 6,
            evicted_keys: 7,
            keyspace_hits: 8,
            keyspace_misses: 9,
            total_net_input_bytes: 10,
            total_net_output_bytes: 11,
            total_error_replies: 12,
            unexpected_error_replies: 13,
            dump_payload_sanitizations: 14,
            total_reads_processed: 15,
            total_writes_processed: 16,
            client_query_buffer_limit_disconnections: 17,
            io_threaded_reads_processed: 18,
            cmd: vec![CmdStat::default(); 3],
            mem_startup: 1000,
            mem_peak: 5000,
            avg_ttl: vec![42, 0],
            ..Stats::default()
        };
        s.cmd[1].calls = 9;
        s.cmd[1].usec = 90;
        s.cmd[1].rejected_calls = 1;
        s.cmd[1].failed_calls = 2;
        s.cmd[1].latency.record(4000);
        s.inst_ops.sample(1000, 0);
        s.inst_ops.sample(1100, 50);
        s.inst_net_in.sample(1000, 0);
        s.inst_net_in.sample(1100, 500);
        s.inst_net_out.sample(1000, 0);
        s.inst_net_out.sample(1100, 700);
        assert!(s.inst_ops.rate() > 0.0);

        s.reset_counters();
        let expected = Stats {
            cmd: vec![CmdStat::default(); 3],
            mem_startup: 1000,
            mem_peak: 5000,
            avg_ttl: vec![42, 0],
            ..Stats::default()
        };
        // Everything but the samplers and histograms compares through Debug.
        let show = |s: &Stats| {
            format!(
                "{:?}",
                Stats {
                    cmd: s.cmd.clone(),
                    avg_ttl: s.avg_ttl.clone(),
                    inst_ops: Sampler::default(),
                    inst_net_in: Sampler::default(),
                    inst_net_out: Sampler::default(),
                    inst_net_repl_in: Sampler::default(),
                    inst_net_repl_out: Sampler::default(),
                    ..*s
                }
            )
        };
        assert_eq!(show(&s), show(&expected));
        assert!(s.cmd.iter().all(|c| c.calls == 0 && c.latency.count() == 0));
        for m in [&s.inst_ops, &s.inst_net_in, &s.inst_net_out] {
            assert_eq!(m.rate(), 0.0);
            assert!(m.samples.is_empty() && m.last_value == 0 && m.last_ms > 1100);
        }
        // The next sample measures from the reset: 30 commands since then.
        let t = s.inst_ops.last_ms;
        s.inst_ops.sample(t + 100, 30);
        assert_eq!(s.inst_ops.rate(), 300.0);
    }
}

#[cfg(test)]
mod histogram_tests {
    use super::LatencyHistogram;

    #[test]
    fn percentiles_as_hdr_reports_them() {
        let mut h = LatencyHistogram::default();
        h.record(4000);
        assert_eq!(h.value_at_percentile(50.0), 4015);
        let mut h = LatencyHistogram::default();
        h.record(5000);
        assert_eq!(h.value_at_percentile(99.9), 5023);
        let mut h = LatencyHistogram::default();
        h.record(1000);
        assert_eq!(h.value_at_percentile(50.0), 1003);
        h.record(0);
        assert_eq!(h.value_at_percentile(0.0), 1);
        let mut h = LatencyHistogram::default();
        for v in 1..=100u64 {
            h.record(v * 1000);
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.value_at_percentile(50.0), 50175);
        assert_eq!(h.value_at_percentile(100.0), 100351);
        h.record(5_000_000_000);
        assert_eq!(h.value_at_percentile(100.0), 1_002_438_655);
    }

    #[test]
    fn cumulative_buckets() {
        let mut h = LatencyHistogram::default();
        assert!(h.cumulative_pow2_usec().is_empty());
        for _ in 0..3 {
            h.record(5000);
        }
        h.record(1000);
        h.record(40_000);
        assert_eq!(h.cumulative_pow2_usec(), vec![(1, 1), (8, 4), (66, 5)]);
    }
}
