//! Directives with their own syntax (`save`, `bind`, `client-output-buffer-limit`, ...) and the
//! value checks some string directives need. Error texts are Redis's.

use std::borrow::Cow;

use super::parse::{memtoull, strtoll};
use super::table::format_memory;
use super::{notify, ClientBufferLimit, Config, SavePoint, SetCtx, SetResult};
use crate::util::repr::quote;

/// How a special directive is set, printed and rewritten.
pub struct SpecialSpec {
    /// Takes several arguments (CONFIG SET splits the value at spaces).
    pub multi: bool,
    /// Type, for the docs.
    pub type_doc: &'static str,
    pub set: fn(&mut Config, &[Vec<u8>], &mut SetCtx) -> SetResult,
    pub get: fn(&Config) -> Vec<u8>,
    /// Lines for CONFIG REWRITE with their "force" flag (see `Directive::rewrite_lines`).
    pub rewrite: fn(&Config, &Config) -> Vec<(String, bool)>,
}

/// A single empty argument stands for no arguments (`save ""`, `bind ""`).
fn none_if_single_empty(args: &[Vec<u8>]) -> &[Vec<u8>] {
    if args.len() == 1 && args[0].is_empty() {
        &[]
    } else {
        args
    }
}

fn join<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items.into_iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------- save

pub static SAVE: SpecialSpec = SpecialSpec {
    multi: true,
    type_doc: "`<seconds> <changes>` pairs",
    set: save_set,
    get: |c| join(c.save.iter().map(|p| format!("{} {}", p.seconds, p.changes))).into_bytes(),
    rewrite: |c, _| {
        if c.save.is_empty() {
            vec![("save \"\"".into(), true)]
        } else {
            c.save.iter().map(|p| (format!("save {} {}", p.seconds, p.changes), true)).collect()
        }
    },
};

fn save_set(cfg: &mut Config, args: &[Vec<u8>], ctx: &mut SetCtx) -> SetResult {
    let mut args = args;
    if args.len() == 1 && args[0].is_empty() {
        cfg.save.clear();
        args = &[];
    }
    const ERR: &str = "Invalid save parameters";
    if args.len() % 2 == 1 {
        return Err(ERR.into());
    }
    let mut points = Vec::new();
    for pair in args.chunks(2) {
        let seconds = strtoll(&pair[0], 10).ok_or(ERR)?;
        let changes = strtoll(&pair[1], 10).ok_or(ERR)?;
        if seconds < 1 || changes < 0 {
            return Err(ERR.into());
        }
        points.push(SavePoint { seconds: seconds as u64, changes: changes as u64 });
    }
    // Several `save` lines in a file add up; the first one replaces the defaults.
    if !ctx.loading {
        cfg.save.clear();
    } else if !ctx.save_loaded {
        ctx.save_loaded = true;
        cfg.save.clear();
    }
    cfg.save.extend(points);
    Ok(())
}

// ---------------------------------------------------------------------------------- bind

pub static BIND: SpecialSpec = SpecialSpec {
    multi: true,
    type_doc: "addresses (at most 16)",
    set: |cfg, args, _| {
        if args.len() > 16 {
            return Err("Too many bind addresses specified.".into());
        }
        let args = none_if_single_empty(args);
        cfg.bind = args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        cfg.bind_explicit = true;
        Ok(())
    },
    get: |c| c.bind.join(" ").into_bytes(),
    rewrite: |c, d| {
        if c.bind == d.bind {
            Vec::new()
        } else if c.bind.is_empty() {
            vec![("bind \"\"".into(), true)]
        } else {
            vec![(format!("bind {}", c.bind.join(" ")), true)]
        }
    },
};

// ---------------------------------------------------------------------------------- dir

pub static DIR: SpecialSpec = SpecialSpec {
    multi: false,
    type_doc: "directory",
    set: |cfg, args, ctx| {
        let path = String::from_utf8_lossy(&args[0]).into_owned();
        if ctx.live {
            std::env::set_current_dir(&path).map_err(|e| Cow::Owned(super::strerror(&e)))?;
            cfg.dir = std::env::current_dir().map(|p| p.display().to_string()).unwrap_or(path);
        } else {
            cfg.dir = path;
        }
        Ok(())
    },
    get: |c| current_dir(c).into_bytes(),
    rewrite: |c, _| vec![(format!("dir {}", quote(current_dir(c).as_bytes())), true)],
};

/// CONFIG GET dir prints the working directory, as Redis does.
fn current_dir(c: &Config) -> String {
    std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_else(|_| c.dir.clone())
}

// ---------------------------------------------------------------------------------- replicaof

pub static REPLICAOF: SpecialSpec = SpecialSpec {
    multi: true,
    type_doc: "`<host> <port>` or `no one`",
    set: |cfg, args, _| {
        if args.len() != 2 {
            return Err("wrong number of arguments".into());
        }
        cfg.replicaof = None;
        if args[0].eq_ignore_ascii_case(b"no") && args[1].eq_ignore_ascii_case(b"one") {
            return Ok(());
        }
        let port = strtoll(&args[1], 10)
            .filter(|p| (0..=65535).contains(p))
            .ok_or("Invalid master port")?;
        cfg.replicaof = Some((String::from_utf8_lossy(&args[0]).into_owned(), port as u16));
        Ok(())
    },
    get: |c| match &c.replicaof {
        Some((h, p)) => format!("{h} {p}").into_bytes(),
        None => Vec::new(),
    },
    rewrite: |c, _| match &c.replicaof {
        Some((h, p)) => vec![(format!("replicaof {h} {p}"), true)],
        None => Vec::new(),
    },
};

// ---------------------------------------------------------------------------------- oom-score-adj-values

pub static OOM_SCORE_ADJ_VALUES: SpecialSpec = SpecialSpec {
    multi: true,
    type_doc: "three integers -2000..2000",
    set: |cfg, args, _| {
        if args.len() != 3 {
            return Err("wrong number of arguments".into());
        }
        let mut values = [0i32; 3];
        for (v, a) in values.iter_mut().zip(args) {
            *v = strtoll(a, 10)
                .filter(|n| (-2000..=2000).contains(n))
                .ok_or("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")?
                as i32;
        }
        cfg.oom_score_adj_values = values;
        Ok(())
    },
    get: |c| join(c.oom_score_adj_values).into_bytes(),
    rewrite: |c, d| {
        vec![(
            format!("oom-score-adj-values {}", join(c.oom_score_adj_values)),
            c.oom_score_adj_values != d.oom_score_adj_values,
        )]
    },
};

// ---------------------------------------------------------------------------------- latency percentiles

pub static LATENCY_PERCENTILES: SpecialSpec = SpecialSpec {
    multi: true,
    type_doc: "percentiles 0..100",
    set: |cfg, args, _| {
        let args = none_if_single_empty(args);
        let mut values = Vec::with_capacity(args.len());
        for a in args {
            let v = std::str::from_utf8(a)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|v| !v.is_nan())
                .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
            if !(0.0..=100.0).contains(&v) {
                return Err(
                    "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                        .into(),
                );
            }
            values.push(v);
        }
        cfg.latency_tracking_info_percentiles = values;
        Ok(())
    },
    get: |c| {
        join(c.latency_tracking_info_percentiles.iter().map(|v| fmt_percentile(*v))).into_bytes()
    },
    rewrite: |c, _| {
        let v = &c.latency_tracking_info_percentiles;
        let values = if v.is_empty() {
            "\"\"".to_string()
        } else {
            join(v.iter().map(|v| fmt_percentile(*v)))
        };
        vec![(format!("latency-tracking-info-percentiles {values}"), true)]
    },
};

/// `%f` with trailing zeros (and a trailing dot) removed.
fn fmt_percentile(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0');
    s.strip_suffix('.').unwrap_or(s).to_string()
}

// ---------------------------------------------------------------------------------- notify-keyspace-events

pub static NOTIFY_KEYSPACE_EVENTS: SpecialSpec = SpecialSpec {
    multi: false,
    type_doc: "event classes",
    set: |cfg, args, _| {
        let flags = notify::parse(&args[0])
            .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?;
        cfg.notify_keyspace_events = flags;
        Ok(())
    },
    get: |c| notify::format(c.notify_keyspace_events).into_bytes(),
    rewrite: |c, _| {
        let flags = notify::format(c.notify_keyspace_events);
        vec![(
            format!("notify-keyspace-events {}", quote(flags.as_bytes())),
            c.notify_keyspace_events != 0,
        )]
    },
};

// ---------------------------------------------------------------------------------- client-output-buffer-limit

const CLASS_NAMES: [&str; 3] = ["normal", "slave", "pubsub"];

pub static CLIENT_OUTPUT_BUFFER_LIMIT: SpecialSpec = SpecialSpec {
    multi: true,
    type_doc: "`<class> <hard> <soft> <seconds>`...",
    set: |cfg, args, _| {
        if args.len() % 4 != 0 {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut limits = cfg.client_output_buffer_limit;
        for a in args.chunks(4) {
            let class = match a[0].to_ascii_lowercase().as_slice() {
                b"normal" => 0,
                b"slave" | b"replica" => 1,
                b"pubsub" => 2,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into()
                    )
                }
            };
            const ERR: &str =
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            let hard = memtoull(&a[1]).ok_or(ERR)?;
            let soft = memtoull(&a[2]).ok_or(ERR)?;
            let secs = strtoll(&a[3], 10).filter(|s| *s >= 0).ok_or(ERR)?;
            limits[class] = ClientBufferLimit { hard, soft, soft_seconds: secs as u64 };
        }
        cfg.client_output_buffer_limit = limits;
        Ok(())
    },
    get: |c| {
        join(
            c.client_output_buffer_limit
                .iter()
                .zip(CLASS_NAMES)
                .map(|(l, n)| format!("{n} {} {} {}", l.hard, l.soft, l.soft_seconds)),
        )
        .into_bytes()
    },
    rewrite: |c, d| {
        let names = ["normal", "replica", "pubsub"];
        (0..3)
            .map(|i| {
                let l = c.client_output_buffer_limit[i];
                let line = format!(
                    "client-output-buffer-limit {} {} {} {}",
                    names[i],
                    format_memory(l.hard as i128),
                    format_memory(l.soft as i128),
                    l.soft_seconds
                );
                (line, l != d.client_output_buffer_limit[i])
            })
            .collect()
    },
};

// ---------------------------------------------------------------------------------- checks

fn is_base_name(v: &[u8]) -> bool {
    !v.contains(&b'/') && !v.contains(&b'\\')
}

pub fn check_dbfilename(v: &[u8]) -> Result<(), &'static str> {
    if is_base_name(v) {
        Ok(())
    } else {
        Err("dbfilename can't be a path, just a filename")
    }
}

pub fn check_appendfilename(v: &[u8]) -> Result<(), &'static str> {
    if is_base_name(v) {
        Ok(())
    } else {
        Err("appendfilename can't be a path, just a filename")
    }
}

pub fn check_appenddirname(v: &[u8]) -> Result<(), &'static str> {
    if is_base_name(v) {
        Ok(())
    } else {
        Err("appenddirname can't be a path, just a dirname")
    }
}

pub fn check_hostname(v: &[u8]) -> Result<(), &'static str> {
    if v.len() >= 256 {
        return Err("Hostnames must be less than 256 characters");
    }
    if !v.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'.') {
        return Err("Hostnames may only contain alphanumeric characters, hyphens or dots");
    }
    Ok(())
}

/// A process title template must expand (known `{variables}`, `{{` for a brace) to something
/// not blank.
pub fn check_proc_title(v: &[u8]) -> Result<(), &'static str> {
    const ERR: &str = "template format is invalid or contains unknown variables";
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        if v[i] != b'{' {
            out.push(v[i]);
            i += 1;
            continue;
        }
        i += 1;
        if i >= v.len() {
            return Err(ERR);
        }
        if v[i] == b'{' {
            out.push(b'{');
            i += 1;
            continue;
        }
        let end = v[i..].iter().position(|&c| c == b'}').ok_or(ERR)? + i;
        let value: &[u8] = match &v[i..end] {
            b"title" | b"server-mode" | b"unixsocket" | b"config-file" => b"",
            b"listen-addr" | b"port" | b"tls-port" => b"x",
            _ => return Err(ERR),
        };
        out.extend_from_slice(value);
        i = end + 1;
    }
    if out.iter().all(|&c| c == b' ') {
        return Err(ERR);
    }
    Ok(())
}
