//! Operations logs: SLOWLOG, LATENCY and MONITOR, and the argument redaction the slow log and
//! MONITOR share.

use std::fmt::Write as _;

use bytes::Bytes;

use super::client::{help_reply, subcommand_syntax_error};
use super::{Ctx, Handler};
use crate::client::Client;
use crate::error::{CmdResult, Error};
use crate::server::Core;
use crate::stats::LatencyEvent;
use crate::util::num::parse_i64;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("slowlog|get", slowlog_get),
    ("slowlog|len", slowlog_len),
    ("slowlog|reset", slowlog_reset),
    ("slowlog|help", slowlog_help),
    ("latency|latest", latency_latest),
    ("latency|history", latency_history),
    ("latency|reset", latency_reset),
    ("latency|graph", latency_graph),
    ("latency|doctor", latency_doctor),
    ("latency|histogram", latency_histogram),
    ("latency|help", latency_help),
    ("monitor", monitor),
];

// ---------------------------------------------------------------------------------------------
// Redaction

const REDACTED: &[u8] = b"(redacted)";

/// Configuration parameters whose values CONFIG SET hides from the slow log.
const SENSITIVE_CONFIGS: &[&str] =
    &["requirepass", "masterauth", "masteruser", "tls-key-file-pass", "tls-client-key-file-pass"];

/// `argv` with secrets replaced by `(redacted)`, as the slow log and MONITOR show it, or `None`
/// when nothing needs hiding: the arguments of AUTH and ACL SETUSER, HELLO's and MIGRATE's
/// credentials, and the values of sensitive parameters given to CONFIG SET.
pub fn redact(fullname: &str, argv: &[Bytes]) -> Option<Vec<Bytes>> {
    let is = |a: &Bytes, kw: &str| a.eq_ignore_ascii_case(kw.as_bytes());
    let mut hide = vec![false; argv.len()];
    match fullname {
        "auth" => hide[1..].iter_mut().for_each(|h| *h = true),
        "acl|setuser" => hide.iter_mut().skip(2).for_each(|h| *h = true),
        "hello" => {
            let mut j = 2;
            while j < argv.len() {
                let more = argv.len() - 1 - j;
                if is(&argv[j], "auth") && more >= 2 {
                    hide[j + 1] = true;
                    hide[j + 2] = true;
                    j += 3;
                } else if is(&argv[j], "setname") && more >= 1 {
                    j += 2;
                } else {
                    break;
                }
            }
        }
        "migrate" => {
            let mut j = 6;
            while j < argv.len() {
                let more = argv.len() - 1 - j;
                if is(&argv[j], "copy") || is(&argv[j], "replace") {
                    j += 1;
                } else if is(&argv[j], "auth") && more >= 1 {
                    hide[j + 1] = true;
                    j += 2;
                } else if is(&argv[j], "auth2") && more >= 2 {
                    hide[j + 1] = true;
                    hide[j + 2] = true;
                    j += 3;
                } else {
                    break;
                }
            }
        }
        "config|set" => {
            let mut j = 2;
            while j + 1 < argv.len() {
                let name = String::from_utf8_lossy(&argv[j]).to_ascii_lowercase();
                if SENSITIVE_CONFIGS.contains(&name.as_str()) {
                    hide[j + 1] = true;
                }
                j += 2;
            }
        }
        _ => return None,
    }
    if !hide.contains(&true) {
        return None;
    }
    Some(
        argv.iter()
            .zip(hide)
            .map(|(a, h)| if h { Bytes::from_static(REDACTED) } else { a.clone() })
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// MONITOR

/// MONITOR
fn monitor(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    // A client already monitoring gets no reply, as in Redis.
    if ctx.client.flags.monitor {
        return Ok(());
    }
    ctx.client.flags.monitor = true;
    ctx.core.monitors.push((ctx.client.id, ctx.client.push_tx.clone()));
    ctx.out.ok();
    Ok(())
}

/// Where a command came from, as a MONITOR line shows it: `127.0.0.1:60866`, or
/// `unix:/path/to/socket` for a Unix-socket client. (Commands run by a script are fed with the
/// origin `lua`.)
pub fn monitor_origin(core: &Core, client: &Client) -> String {
    if client.lua {
        "lua".into()
    } else if client.flags.unix {
        format!("unix:{}", core.cfg.unixsocket.as_deref().unwrap_or(""))
    } else {
        client.shared.addr.clone()
    }
}

/// Sends a command to every MONITOR client, formatted as Redis does:
/// `+1339518083.107412 [0 127.0.0.1:60866] "keys" "*"`. Monitors whose connection is gone (or
/// closing, e.g. over its output buffer limit) are dropped.
pub fn feed_monitors(core: &mut Core, db: usize, origin: &str, argv: &[Bytes]) {
    let us = crate::clock::ustime();
    let mut line = format!("+{}.{:06} [{} {}]", us / 1_000_000, us % 1_000_000, db, origin);
    for a in argv {
        line.push(' ');
        crate::util::repr::quote_into(&mut line, a);
    }
    line.push_str("\r\n");
    let msg = Bytes::from(line);
    // Through the client's accounted push, so a monitor that does not read meets the output
    // buffer limits of its class.
    let limits = core.cfg.client_output_buffer_limit;
    let clients = &core.clients;
    core.monitors.retain(|(id, tx)| match clients.get(id) {
        Some(c) => c.push(msg.clone(), &limits),
        None => tx.send(msg.clone()).is_ok(),
    });
}

// ---------------------------------------------------------------------------------------------
// SLOWLOG

/// SLOWLOG GET [count]
fn slowlog_get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 3 {
        return Err(subcommand_syntax_error(argv));
    }
    let count = match argv.get(2) {
        None => 10,
        Some(a) => match parse_i64(a) {
            Some(n) if n >= -1 => n,
            _ => return Err(Error::msg("ERR count should be greater than or equal to -1")),
        },
    };
    let entries = &ctx.core.slowlog.entries;
    let n = if count == -1 { entries.len() } else { entries.len().min(count as usize) };
    let out = &mut ctx.out;
    out.array(n);
    for e in entries.iter().take(n) {
        out.array(6);
        out.int(e.id as i64);
        out.int(e.time);
        out.int(e.duration_us as i64);
        out.bulks(e.args.iter());
        out.bulk(e.addr.as_bytes());
        out.bulk(&e.name);
    }
    Ok(())
}

/// SLOWLOG LEN
fn slowlog_len(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.core.slowlog.entries.len() as i64);
    Ok(())
}

/// SLOWLOG RESET
fn slowlog_reset(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.core.slowlog.entries.clear();
    ctx.out.ok();
    Ok(())
}

/// SLOWLOG HELP
fn slowlog_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    help_reply(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// LATENCY

/// The events, sorted by name (Redis answers in hash order; any order is correct).
fn sorted_events(core: &Core) -> Vec<(&String, &LatencyEvent)> {
    let mut v: Vec<_> = core.latency.events.iter().filter(|(_, e)| !e.samples.is_empty()).collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

/// LATENCY LATEST
fn latency_latest(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let events = sorted_events(ctx.core);
    let out = &mut ctx.out;
    out.array(events.len());
    for (name, ev) in events {
        let last = ev.samples.back().expect("non-empty");
        out.array(4);
        out.bulk(name.as_bytes());
        out.int(last.time);
        out.int(last.latency_ms as i64);
        out.int(ev.max as i64);
    }
    Ok(())
}

/// LATENCY HISTORY event
fn latency_history(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&argv[2]);
    let out = &mut ctx.out;
    match ctx.core.latency.events.get(name.as_ref()) {
        None => out.array(0),
        Some(ev) => {
            out.array(ev.samples.len());
            for s in &ev.samples {
                out.array(2);
                out.int(s.time);
                out.int(s.latency_ms as i64);
            }
        }
    }
    Ok(())
}

/// LATENCY RESET [event [event ...]]
fn latency_reset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let events = &mut ctx.core.latency.events;
    let n = if argv.len() == 2 {
        let n = events.len();
        events.clear();
        n
    } else {
        argv[2..]
            .iter()
            .filter(|a| events.remove(String::from_utf8_lossy(a).as_ref()).is_some())
            .count()
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// The label of a sample in LATENCY GRAPH: how long ago it was, in the largest whole unit.
fn ago_label(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

const GRAPH_COLS: usize = 80;
const GRAPH_ROWS: usize = 4;

/// Draws samples as Redis's LATENCY GRAPH does: four rows of bars, one column per sample,
/// scaled between the smallest and the largest sample, each column's label written vertically
/// underneath; more than 80 samples wrap into further blocks.
fn sparkline(out: &mut String, samples: &[(u64, String)], min: u64, max: u64) {
    const TOPS: [char; 3] = ['_', 'o', '#'];
    let levels = (TOPS.len() * GRAPH_ROWS) as i64;
    let range = if max > min { (max - min) as f64 } else { 1.0 };
    for block in samples.chunks(GRAPH_COLS) {
        let steps: Vec<i64> = block
            .iter()
            .map(|(v, _)| {
                ((((v - min) as i64 * levels) as f64 / range) as i64).clamp(0, levels - 1)
            })
            .collect();
        for row in 0..GRAPH_ROWS {
            let base = ((GRAPH_ROWS - row - 1) * TOPS.len()) as i64;
            for &step in &steps {
                let i = step - base;
                out.push(match i {
                    i if i < 0 => ' ',
                    i if (i as usize) < TOPS.len() => TOPS[i as usize],
                    _ => '|',
                });
            }
            out.push('\n');
        }
        // One blank row, then the labels top to bottom.
        out.extend(std::iter::repeat_n(' ', block.len()));
        out.push('\n');
        let longest = block.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
        for k in 0..longest {
            out.extend(block.iter().map(|(_, l)| l.as_bytes().get(k).map_or(' ', |&b| b as char)));
            out.push('\n');
        }
    }
}

/// LATENCY GRAPH event
fn latency_graph(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&argv[2]);
    let Some(ev) = ctx.core.latency.events.get(name.as_ref()).filter(|e| !e.samples.is_empty())
    else {
        return Err(Error::err(format_args!("No samples available for event '{name}'")));
    };
    let now = crate::clock::unix_secs();
    let samples: Vec<(u64, String)> =
        ev.samples.iter().map(|s| (s.latency_ms, ago_label(now - s.time))).collect();
    let min = samples.iter().map(|s| s.0).min().unwrap_or(0);
    let max = samples.iter().map(|s| s.0).max().unwrap_or(0);
    let mut g = format!("{name} - high {max} ms, low {min} ms (all time high {} ms)\n", ev.max);
    g.push_str(&"-".repeat(GRAPH_COLS));
    g.push('\n');
    sparkline(&mut g, &samples, min, max);
    ctx.out.verbatim("txt", g.as_bytes());
    Ok(())
}

/// LATENCY DOCTOR: a short report in Vireo's own words; the numbers are the ones Redis's
/// report gives (spikes, average, mean deviation, period between spikes, worst ever).
fn latency_doctor(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let mut r = String::new();
    let events = sorted_events(ctx.core);
    if ctx.core.cfg.latency_monitor_threshold == 0 && events.is_empty() {
        r.push_str(
            "Latency monitoring is disabled. Enable it with \
             \"CONFIG SET latency-monitor-threshold <milliseconds>\" and ask again once \
             something was slow.\n",
        );
    } else if events.is_empty() {
        r.push_str("No latency spike has been observed since this server started.\n");
    } else {
        let now = crate::clock::unix_secs();
        r.push_str("Latency spikes were observed:\n\n");
        for (i, (name, ev)) in events.iter().enumerate() {
            let n = ev.samples.len() as f64;
            let avg = ev.samples.iter().map(|s| s.latency_ms as f64).sum::<f64>() / n;
            let mad = ev.samples.iter().map(|s| (s.latency_ms as f64 - avg).abs()).sum::<f64>() / n;
            let first = ev.samples.front().map_or(now, |s| s.time);
            let period = (now - first).max(0) as f64 / n;
            let _ = writeln!(
                r,
                "{}. {name}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
                i + 1,
                ev.samples.len(),
                avg as u64,
                mad as u64,
                period,
                ev.max
            );
        }
        r.push_str(
            "\nSLOWLOG GET lists the slowest recent commands with their arguments; large \
             values deleted, expired or evicted in one step are a common cause of spikes.\n",
        );
    }
    ctx.out.verbatim("txt", r.as_bytes());
    Ok(())
}

/// LATENCY HISTOGRAM [command [command ...]]: per command, the number of calls and the
/// cumulative count of calls at each power-of-two latency bound (in microseconds).
fn latency_histogram(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let commands = ctx.server.commands;
    let mut picked: Vec<&super::Command> = Vec::new();
    let with_calls =
        |c: &super::Command| ctx.core.stats.cmd.get(c.id).is_some_and(|s| s.latency.count() > 0);
    let push_tree = |c: &'static super::Command, picked: &mut Vec<&super::Command>| {
        if with_calls(c) {
            picked.push(c);
        }
        let mut subs: Vec<_> = c.subcommands.values().filter(|s| with_calls(s)).collect();
        subs.sort_by_key(|s| s.fullname);
        picked.extend(subs);
    };
    if argv.len() == 2 {
        let mut all: Vec<&'static super::Command> = commands.iter().collect();
        all.sort_by_key(|c| c.fullname);
        for c in all {
            push_tree(c, &mut picked);
        }
    } else {
        for a in &argv[2..] {
            let name = String::from_utf8_lossy(a);
            let found = match name.split_once('|') {
                None => commands.get(a),
                Some((top, sub)) => {
                    commands.get(top.as_bytes()).and_then(|c| c.subcommands.get(sub.as_bytes()))
                }
            };
            if let Some(c) = found {
                push_tree(c, &mut picked);
            }
        }
    }
    let out = &mut ctx.out;
    out.map(picked.len());
    for c in picked {
        let h = &ctx.core.stats.cmd[c.id].latency;
        let buckets = h.cumulative_pow2_usec();
        out.bulk(c.fullname.as_bytes());
        out.map(2);
        out.bulk(b"calls");
        out.int(h.count() as i64);
        out.bulk(b"histogram_usec");
        out.map(buckets.len());
        for (usec, n) in buckets {
            out.int(usec as i64);
            out.int(n as i64);
        }
    }
    Ok(())
}

/// LATENCY HELP
fn latency_help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    help_reply(
        ctx,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("get", &b(&["get", "k"])), None);
        assert_eq!(
            redact("auth", &b(&["auth", "u", "p"])),
            Some(b(&["auth", "(redacted)", "(redacted)"]))
        );
        assert_eq!(
            redact("hello", &b(&["hello", "3", "setname", "x", "auth", "u", "p"])),
            Some(b(&["hello", "3", "setname", "x", "auth", "(redacted)", "(redacted)"]))
        );
        assert_eq!(redact("hello", &b(&["hello", "3"])), None);
        assert_eq!(
            redact(
                "migrate",
                &b(&["migrate", "h", "1", "", "0", "10", "copy", "auth2", "u", "p", "keys", "a"])
            ),
            Some(b(&[
                "migrate",
                "h",
                "1",
                "",
                "0",
                "10",
                "copy",
                "auth2",
                "(redacted)",
                "(redacted)",
                "keys",
                "a"
            ]))
        );
        assert_eq!(
            redact("config|set", &b(&["config", "set", "maxmemory", "1", "MASTERAUTH", "x"])),
            Some(b(&["config", "set", "maxmemory", "1", "MASTERAUTH", "(redacted)"]))
        );
    }

    #[test]
    fn graph_matches_redis() {
        // Samples of 50, 200 and 20 ms taken 5, 3 and 1 seconds ago.
        let s = vec![(50, "5s".to_string()), (200, "3s".to_string()), (20, "1s".to_string())];
        let mut g = String::new();
        sparkline(&mut g, &s, 20, 200);
        assert_eq!(g, " # \n | \n | \n#|_\n   \n531\nsss\n");
    }

    #[test]
    fn labels() {
        assert_eq!(ago_label(5), "5s");
        assert_eq!(ago_label(61), "1m");
        assert_eq!(ago_label(7200), "2h");
        assert_eq!(ago_label(86400 * 3), "3d");
    }
}
