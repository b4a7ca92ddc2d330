//! Reading redis.conf syntax: the command line, files, `include`, quoting, numbers with units,
//! and Redis's start-up error messages.

use std::borrow::Cow;
use std::io::Read;
use std::path::PathBuf;

use super::{absolute_path, lookup, strerror, Config, SetCtx};

/// Directives Redis 7.0 still accepts (and ignores) with exactly one argument.
const DEPRECATED: &[&str] =
    &["list-max-ziplist-entries", "list-max-ziplist-value", "lua-replicate-commands"];

/// Nesting limit for `include` (Redis has none and recurses until it crashes).
const MAX_INCLUDE_DEPTH: usize = 32;

/// Splits a line into arguments as redis.conf and redis-cli do: blanks separate arguments;
/// `"..."` understands `\n \r \t \b \a \\ \"` and `\xHH`; `'...'` understands `\'`; a closing
/// quote must be followed by a blank or the end. `None` on unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    let h = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
                    cur.push(h(line[i + 2]) * 16 + h(line[i + 3]));
                    i += 4;
                } else if c == b'\\' && i + 1 < n {
                    cur.push(match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                    i += 2;
                } else if c == b'"' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                    i += 1;
                }
            } else if in_sq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    cur.push(b'\'');
                    i += 2;
                } else if c == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                    i += 1;
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
                i += 1;
            }
        }
        args.push(cur);
    }
}

/// C's `strtoll(s, &end, radix)` where the whole string must be consumed: leading blanks and a
/// sign are allowed; an empty string is 0 (as Redis's callers accept it). `None` on junk or
/// overflow.
pub fn strtoll(s: &[u8], radix: u32) -> Option<i64> {
    if s.is_empty() {
        return Some(0);
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let start = i;
    let mut v: i128 = 0;
    while i < s.len() {
        let d = (s[i] as char).to_digit(radix)?;
        v = v * radix as i128 + d as i128;
        if v > i64::MAX as i128 + 1 {
            return None;
        }
        i += 1;
    }
    if i == start {
        return None;
    }
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
}

/// Redis's memory values: digits with an optional unit `b`, `k` (1000), `kb` (1024), `m`,
/// `mb`, `g`, `gb`, case-insensitive. No sign, no fraction; empty digits are 0.
pub fn memtoull(s: &[u8]) -> Option<u64> {
    if s.first() == Some(&b'-') {
        return None;
    }
    let end = s.iter().position(|c| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(end);
    let mul: u64 = match unit.to_ascii_lowercase().as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits.len() >= 128 {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    v.checked_mul(mul)
}

/// Trims what Redis trims from a config line.
fn trim(line: &[u8]) -> &[u8] {
    let is_t = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = line.iter().position(|c| !is_t(c)).unwrap_or(line.len());
    let end = line.iter().rposition(|c| !is_t(c)).map_or(start, |e| e + 1);
    &line[start..end]
}

fn fatal_at(line_no: usize, line: &[u8], err: &str) -> String {
    format!(
        "\n*** FATAL CONFIG FILE ERROR (Redis {}) ***\nReading the configuration file, at line {line_no}\n>>> '{}'\n{err}",
        crate::REDIS_VERSION,
        String::from_utf8_lossy(line)
    )
}

fn fatal(err: &str) -> String {
    format!("\n*** FATAL CONFIG FILE ERROR (Redis {}) ***\n{err}", crate::REDIS_VERSION)
}

fn cant_open(path: &str, e: &std::io::Error) -> String {
    format!("Fatal error, can't open config file '{path}': {}", strerror(e))
}

enum LineError {
    /// Reported with the line it comes from.
    Msg(Cow<'static, str>),
    /// A complete message (from an included file, or a file that cannot be opened).
    Complete(String),
}

impl From<Cow<'static, str>> for LineError {
    fn from(e: Cow<'static, str>) -> Self {
        LineError::Msg(e)
    }
}

impl From<&'static str> for LineError {
    fn from(e: &'static str) -> Self {
        LineError::Msg(Cow::Borrowed(e))
    }
}

/// Applies config text (files, then command-line options) to a `Config`.
pub struct Loader {
    pub cfg: Config,
    pub ctx: SetCtx,
    depth: usize,
}

impl Loader {
    /// `live`: act on the process where a directive does (`dir` changes directory).
    pub fn new(live: bool) -> Loader {
        Loader {
            cfg: Config::default(),
            ctx: SetCtx { loading: true, live, save_loaded: false },
            depth: 0,
        }
    }

    /// Loads redis.conf text. The error is the complete message to print before exiting.
    pub fn load_text(&mut self, text: &[u8]) -> Result<(), String> {
        for (i, raw) in text.split(|&c| c == b'\n').enumerate() {
            let line = trim(raw);
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            let result = match split_args(line) {
                None => Err(LineError::Msg("Unbalanced quotes in configuration line".into())),
                Some(argv) if argv.is_empty() => Ok(()),
                Some(argv) => self.apply(argv),
            };
            match result {
                Ok(()) => {}
                Err(LineError::Msg(e)) => return Err(fatal_at(i + 1, line, &e)),
                Err(LineError::Complete(e)) => return Err(e),
            }
        }
        Ok(())
    }

    fn apply(&mut self, mut argv: Vec<Vec<u8>>) -> Result<(), LineError> {
        argv[0].make_ascii_lowercase();
        let argc = argv.len();
        if let Some((d, _)) = lookup(&argv[0]) {
            if !d.multi_arg() && argc != 2 {
                return Err("wrong number of arguments".into());
            }
            if d.multi_arg() && argc == 2 && !argv[1].is_empty() {
                // `--save "900 1 300 10"`: one argument holding several.
                let split =
                    split_args(&argv[1]).ok_or("Unbalanced quotes in configuration line")?;
                d.set(&mut self.cfg, &split, &mut self.ctx)?;
            } else {
                d.set(&mut self.cfg, &argv[1..], &mut self.ctx)?;
            }
            return Ok(());
        }
        let name = String::from_utf8_lossy(&argv[0]).into_owned();
        if DEPRECATED.contains(&name.as_str()) && argc == 2 {
            return Ok(());
        }
        match name.as_str() {
            "include" if argc == 2 => self.include(&String::from_utf8_lossy(&argv[1])),
            "rename-command" if argc == 3 => {
                let (old, new) = (argv[1].to_ascii_lowercase(), argv[2].to_ascii_lowercase());
                crate::cmd::check_rename(&self.cfg.rename_commands, &old, &new)
                    .map_err(|e| LineError::Msg(e.into()))?;
                self.cfg.rename_commands.push((old, new));
                Ok(())
            }
            "user" if argc >= 2 => {
                self.cfg.users.push(argv[1..].to_vec());
                Ok(())
            }
            "loadmodule" if argc >= 2 => {
                self.cfg.loadmodule.push(argv[1..].to_vec());
                Ok(())
            }
            "sentinel" => {
                if argc != 1 {
                    return Err("sentinel directive while not in sentinel mode".into());
                }
                Ok(())
            }
            n if n.contains('.') => {
                if argc < 2 {
                    return Err("Module config specified without value".into());
                }
                let value = argv[2..].iter().fold(argv[1].clone(), |mut acc, a| {
                    acc.push(b' ');
                    acc.extend_from_slice(a);
                    acc
                });
                self.cfg.module_configs.retain(|(k, _)| *k != name);
                self.cfg.module_configs.push((name, value));
                Ok(())
            }
            _ => Err("Bad directive or wrong number of arguments".into()),
        }
    }

    /// `include path`: the file's directives apply at this point; a pattern (`*`, `?`, `[`)
    /// in the file name includes every match, in name order, and nothing if none matches.
    fn include(&mut self, path: &str) -> Result<(), LineError> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err("include nesting is too deep".into());
        }
        let files =
            if path.contains(['*', '?', '[']) { expand_glob(path) } else { vec![path.to_string()] };
        for f in files {
            let text = std::fs::read(&f).map_err(|e| LineError::Complete(cant_open(&f, &e)))?;
            self.depth += 1;
            let r = self.load_text(&text);
            self.depth -= 1;
            r.map_err(LineError::Complete)?;
        }
        Ok(())
    }

    /// Checks Redis makes once everything is read.
    pub fn finish(self) -> Result<Config, String> {
        let cfg = self.cfg;
        if !cfg.logfile.is_empty() && self.ctx.live {
            if let Err(e) = std::fs::OpenOptions::new().append(true).create(true).open(&cfg.logfile)
            {
                return Err(fatal(&format!("Can't open the log file: {}", strerror(&e))));
            }
        }
        if cfg.cluster_enabled && cfg.replicaof.is_some() {
            return Err(fatal("replicaof directive not allowed in cluster mode"));
        }
        // Refused rather than ignored: a client expecting TLS there would find nothing listening.
        if cfg.tls_port != 0 {
            return Err(fatal(&format!(
                "Vireo does not support TLS (tls-port {}): remove tls-port, or put a TLS \
                 terminator (stunnel, HAProxy) in front of a plain port.",
                cfg.tls_port
            )));
        }
        Ok(cfg)
    }
}

/// Files matching a pattern in its last path component, sorted.
fn expand_glob(path: &str) -> Vec<String> {
    let (dir, pat) = match path.rfind('/') {
        Some(i) => (&path[..i + 1], &path[i + 1..]),
        None => ("", path),
    };
    let Ok(entries) = std::fs::read_dir(if dir.is_empty() { "." } else { dir }) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| !t.is_dir()).unwrap_or(false))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') || pat.starts_with('.'))
        .filter(|n| crate::util::glob::glob_match(pat.as_bytes(), n.as_bytes(), false))
        .collect();
    names.sort();
    names.into_iter().map(|n| format!("{dir}{n}")).collect()
}

/// Turns `--directive value ...` arguments into config text, as redis-server does: each
/// `--name` starts a line, each value is appended quoted; `--save` without a value means
/// `save ""`. Returns the text and whether `-` asked for the config on standard input.
pub fn options_text(args: &[String], first_index: usize) -> (Vec<u8>, bool) {
    let mut out: Vec<u8> = Vec::new();
    let mut stdin = false;
    let mut handled_last = true;
    let last = first_index + args.len() - 1;
    for (k, a) in args.iter().enumerate() {
        let j = first_index + k;
        if a == "-" && (j == 0 || j == last) {
            stdin = true;
        } else if handled_last && a.starts_with("--") {
            if !out.is_empty() {
                out.push(b'\n');
            }
            out.extend_from_slice(&a.as_bytes()[2..]);
            out.push(b' ');
            let one_word = split_args(a.as_bytes()).map(|v| v.len() == 1).unwrap_or(false);
            if one_word {
                handled_last = false;
                let next_is_option = j != last && args[k + 1].starts_with("--");
                if a.eq_ignore_ascii_case("--save") && (next_is_option || j == last) {
                    out.extend_from_slice(b"\"\"");
                    handled_last = next_is_option;
                } else if a.eq_ignore_ascii_case("--sentinel") && next_is_option {
                    handled_last = true;
                }
            } else {
                handled_last = true;
            }
        } else {
            out.extend_from_slice(crate::util::repr::quote(a.as_bytes()).as_bytes());
            out.push(b' ');
            handled_last = true;
        }
    }
    (out, stdin)
}

/// Reads the command line as redis-server does: `[config-file] [--directive value ...]`.
/// The options apply after the file (and after standard input, with `-`). Returns the
/// configuration and the absolute path of the config file, if any.
pub fn load_from_args(args: &[String]) -> Result<(Config, Option<PathBuf>), String> {
    if let Some(first) = args.first() {
        match first.as_str() {
            "-v" | "--version" => {
                println!(
                    "Vireo server v={} (Redis {} compatible) bits={}",
                    env!("CARGO_PKG_VERSION"),
                    crate::REDIS_VERSION,
                    usize::BITS
                );
                std::process::exit(0);
            }
            "-h" | "--help" => {
                eprintln!("{}", usage());
                std::process::exit(1);
            }
            _ => {}
        }
    }
    if args.iter().any(|a| a == "--sentinel") {
        return Err("Vireo does not support Sentinel mode yet".into());
    }
    let mut file = None;
    let mut start = 0;
    if let Some(first) = args.first() {
        if !first.starts_with('-') {
            file = Some(absolute_path(first));
            start = 1;
        }
    }
    let (options, stdin) =
        if args.len() > start { options_text(&args[start..], start) } else { (Vec::new(), false) };
    let mut text = Vec::new();
    if let Some(f) = &file {
        text = std::fs::read(f).map_err(|e| cant_open(&f.display().to_string(), &e))?;
    }
    if stdin {
        std::io::stdin()
            .read_to_end(&mut text)
            .map_err(|e| format!("Fatal error, can't read config from stdin: {}", strerror(&e)))?;
    }
    text.push(b'\n');
    text.extend_from_slice(&options);
    let mut loader = Loader::new(true);
    loader.load_text(&text)?;
    Ok((loader.finish()?, file))
}

fn usage() -> String {
    [
        "vireo-server: a Redis-compatible server.",
        "",
        "  vireo-server [config-file] [--directive value ...] [-]",
        "",
        "  config-file           a redis.conf-style file (optional)",
        "  --directive value     any config directive, applied after the file",
        "  -                     also read directives from standard input",
        "  -v, --version         print the version and exit",
        "  -h, --help            print this text",
        "",
        "For instance: vireo-server /etc/redis/redis.conf --port 6380 --loglevel verbose",
    ]
    .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{lookup, MaxmemoryPolicy, SavePoint};

    fn args(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn load(text: &str) -> Result<Config, String> {
        let mut l = Loader::new(false);
        l.load_text(text.as_bytes())?;
        l.finish()
    }

    fn err_of(text: &str) -> String {
        load(text).unwrap_err()
    }

    fn get(cfg: &Config, name: &str) -> String {
        String::from_utf8(lookup(name.as_bytes()).unwrap().0.get(cfg)).unwrap()
    }

    #[test]
    fn splits_quoted_arguments() {
        assert_eq!(split_args(b"  set  a b ").unwrap(), args(&["set", "a", "b"]));
        assert_eq!(split_args(br#"a "b c" 'd e'"#).unwrap(), args(&["a", "b c", "d e"]));
        assert_eq!(split_args(br#""\x41\n\"\\" 'it\'s'"#).unwrap(), args(&["A\n\"\\", "it's"]));
        assert_eq!(split_args(br#""" ''"#).unwrap(), args(&["", ""]));
        // Quotes may open in the middle of an argument.
        assert_eq!(split_args(br#"ab"c d""#).unwrap(), args(&["abc d"]));
        assert_eq!(split_args(b"").unwrap(), Vec::<Vec<u8>>::new());
        assert!(split_args(br#""abc"#).is_none());
        assert!(split_args(br#"'abc"#).is_none());
        assert!(split_args(br#""a"b"#).is_none());
        assert!(split_args(br#"'a'b"#).is_none());
    }

    #[test]
    fn memory_units() {
        assert_eq!(memtoull(b"1"), Some(1));
        assert_eq!(memtoull(b"1b"), Some(1));
        assert_eq!(memtoull(b"1k"), Some(1000));
        assert_eq!(memtoull(b"1kb"), Some(1024));
        assert_eq!(memtoull(b"1KB"), Some(1024));
        assert_eq!(memtoull(b"100mb"), Some(100 << 20));
        assert_eq!(memtoull(b"2m"), Some(2_000_000));
        assert_eq!(memtoull(b"1gb"), Some(1 << 30));
        assert_eq!(memtoull(b"3G"), Some(3_000_000_000));
        assert_eq!(memtoull(b""), Some(0));
        assert_eq!(memtoull(b"kb"), Some(0));
        assert_eq!(memtoull(b"-1"), None);
        assert_eq!(memtoull(b"1.5gb"), None);
        assert_eq!(memtoull(b"1 gb"), None);
        assert_eq!(memtoull(b"1tb"), None);
        assert_eq!(memtoull(b"99999999999999999999"), None);
    }

    #[test]
    fn strtoll_like_c() {
        assert_eq!(strtoll(b"12", 10), Some(12));
        assert_eq!(strtoll(b" +12", 10), Some(12));
        assert_eq!(strtoll(b"-3", 10), Some(-3));
        assert_eq!(strtoll(b"", 10), Some(0));
        assert_eq!(strtoll(b"12x", 10), None);
        assert_eq!(strtoll(b"-", 10), None);
        assert_eq!(strtoll(b"777", 8), Some(0o777));
        assert_eq!(strtoll(b"8", 8), None);
    }

    #[test]
    fn loads_directives_and_comments() {
        let cfg = load(
            "# comment\n\n   port 7000  \r\nmaxmemory 100mb\nmaxmemory-policy ALLKEYS-LRU\nAPPENDONLY yes\n\
             requirepass \"p w\"\nslaveof 10.0.0.1 6380\nhash-max-ziplist-entries 64\nunixsocketperm 700\n\
             maxmemory-clients 10%\nnotify-keyspace-events KEA\nlist-max-ziplist-entries 512\n",
        )
        .unwrap();
        assert_eq!(cfg.port, 7000);
        assert_eq!(cfg.maxmemory, 100 << 20);
        assert_eq!(cfg.maxmemory_policy, MaxmemoryPolicy::AllkeysLru);
        assert!(cfg.appendonly);
        assert_eq!(cfg.requirepass.as_deref(), Some(&b"p w"[..]));
        assert_eq!(cfg.replicaof, Some(("10.0.0.1".into(), 6380)));
        assert_eq!(cfg.hash_max_listpack_entries, 64);
        assert_eq!(cfg.unixsocketperm, 0o700);
        assert_eq!(get(&cfg, "unixsocketperm"), "700");
        assert_eq!(cfg.maxmemory_clients, -10);
        assert_eq!(get(&cfg, "maxmemory-clients"), "10%");
        assert_eq!(get(&cfg, "notify-keyspace-events"), "AKE");
        assert_eq!(get(&cfg, "replicaof"), "10.0.0.1 6380");
        // hz is kept within 1..500
        assert_eq!(get(&load("hz 0").unwrap(), "hz"), "1");
        assert_eq!(get(&load("hz 1000").unwrap(), "hz"), "500");
    }

    #[test]
    fn save_lines_add_up_and_empty_resets() {
        let cfg = load("save 900 1\nsave 300 10\n").unwrap();
        assert_eq!(
            cfg.save,
            vec![SavePoint { seconds: 900, changes: 1 }, SavePoint { seconds: 300, changes: 10 }]
        );
        assert_eq!(get(&cfg, "save"), "900 1 300 10");
        let cfg = load("save 900 1\nsave \"\"\n").unwrap();
        assert!(cfg.save.is_empty());
        let cfg = load("save \"\"\nsave 60 5\n").unwrap();
        assert_eq!(get(&cfg, "save"), "60 5");
        let cfg = load("save \"100 2 200 3\"\n").unwrap();
        assert_eq!(get(&cfg, "save"), "100 2 200 3");
        assert_eq!(get(&load("").unwrap(), "save"), "3600 1 300 100 60 10000");
    }

    #[test]
    fn error_messages_are_redis_s() {
        let e = err_of("# a\n\nbogus 1\n");
        assert_eq!(
            e,
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 3\n>>> 'bogus 1'\nBad directive or wrong number of arguments"
        );
        let last = |t: &str| err_of(t).lines().last().unwrap().to_string();
        assert_eq!(last("port 1 2"), "wrong number of arguments");
        assert_eq!(last("port"), "wrong number of arguments");
        assert_eq!(last("port \"1"), "Unbalanced quotes in configuration line");
        assert_eq!(last("port x"), "argument couldn't be parsed into an integer");
        assert_eq!(last("port 70000"), "argument must be between 0 and 65535 inclusive");
        assert_eq!(last("port 01"), "argument couldn't be parsed into an integer");
        assert_eq!(last("maxmemory 1.5gb"), "argument must be a memory value");
        assert_eq!(last("maxmemory -1"), "argument must be a memory value");
        assert_eq!(
            last("maxmemory-clients 200%"),
            "percentage argument must be less or equal to 100"
        );
        assert_eq!(last("maxmemory-clients x"), "argument must be a memory or percent value");
        assert_eq!(
            last("proto-max-bulk-len 1000"),
            "argument must be between 1048576 and 9223372036854775807 inclusive"
        );
        assert_eq!(last("appendonly maybe"), "argument must be 'yes' or 'no'");
        assert_eq!(
            last("appendfsync sometimes"),
            "argument(s) must be one of the following: everysec, always, no"
        );
        assert_eq!(last("unixsocketperm 999"), "argument couldn't be parsed as an octal number");
        assert_eq!(last("unixsocketperm 1777"), "argument must be between 0 and 777 inclusive");
        assert_eq!(last("maxclients -1"), "argument must be between 1 and 4294967295 inclusive");
        assert_eq!(last("save 1"), "Invalid save parameters");
        assert_eq!(last("save 0 1"), "Invalid save parameters");
        assert_eq!(last("replicaof x"), "wrong number of arguments");
        assert_eq!(last("replicaof x y"), "Invalid master port");
        assert_eq!(
            last("bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17"),
            "Too many bind addresses specified."
        );
        assert_eq!(
            last("client-output-buffer-limit normal 1"),
            "Wrong number of arguments in buffer limit configuration."
        );
        assert_eq!(
            last("client-output-buffer-limit master 1 1 1"),
            "Invalid client class specified in buffer limit configuration."
        );
        assert_eq!(
            last("client-output-buffer-limit normal x 1 1"),
            "Error in hard, soft or soft_seconds setting in buffer limit configuration."
        );
        assert_eq!(last("oom-score-adj-values 1 2"), "wrong number of arguments");
        assert_eq!(
            last("oom-score-adj-values 1 2 3000"),
            "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
        );
        assert_eq!(
            last("latency-tracking-info-percentiles 101"),
            "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
        );
        assert_eq!(
            last("notify-keyspace-events q"),
            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
        );
        assert_eq!(last("dbfilename a/b"), "dbfilename can't be a path, just a filename");
        assert_eq!(last("include"), "Bad directive or wrong number of arguments");
        assert_eq!(last("list-max-ziplist-entries"), "Bad directive or wrong number of arguments");
        assert_eq!(last("sentinel monitor x"), "sentinel directive while not in sentinel mode");
        assert_eq!(last("foo.bar"), "Module config specified without value");
        assert_eq!(
            err_of("cluster-enabled yes\nreplicaof 1.2.3.4 5\n"),
            "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nreplicaof directive not allowed in cluster mode"
        );
        assert_eq!(last("rename-command nosuch x"), "No such command in rename-command");
        assert_eq!(last("rename-command get set"), "Target command name already exists");
        assert_eq!(
            last("rename-command get x\nrename-command get y"),
            "No such command in rename-command"
        );
        assert_eq!(last("rename-command config|get x"), "No such command in rename-command");
        let cfg = load("rename-command GET Fetch\nrename-command flushall \"\"\n").unwrap();
        assert_eq!(
            cfg.rename_commands,
            vec![args(&["get", "fetch"]), args(&["flushall", ""])]
                .into_iter()
                .map(|v| (v[0].clone(), v[1].clone()))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn accepts_other_subsystems_lines() {
        let cfg =
            load("loadmodule /x/m.so a b\nuser alice on >pw ~* +@all\nfoo.bar 1 2\nsentinel\n")
                .unwrap();
        assert_eq!(cfg.loadmodule, vec![args(&["/x/m.so", "a", "b"])]);
        assert_eq!(cfg.users, vec![args(&["alice", "on", ">pw", "~*", "+@all"])]);
        assert_eq!(cfg.module_configs, vec![("foo.bar".to_string(), b"1 2".to_vec())]);
    }

    #[test]
    fn include_files_and_patterns() {
        let dir = std::env::temp_dir().join(format!("vireo-conf-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("conf.d")).unwrap();
        std::fs::write(dir.join("a.conf"), "hz 20\ninclude missing-but-pattern-*.conf\n").unwrap();
        std::fs::write(dir.join("conf.d/1.conf"), "maxclients 50\n").unwrap();
        std::fs::write(dir.join("conf.d/2.conf"), "maxclients 60\n").unwrap();
        std::fs::write(dir.join("bad.conf"), "# x\nhz nope\n").unwrap();
        let d = dir.display();
        let cfg =
            load(&format!("include {d}/a.conf\ninclude {d}/conf.d/*.conf\ntimeout 5\n")).unwrap();
        assert_eq!(cfg.hz, 20);
        assert_eq!(cfg.maxclients, 60);
        assert_eq!(cfg.timeout, 5);
        // An error in an included file is reported with that file's line.
        let e = err_of(&format!("port 1\ninclude {d}/bad.conf\n"));
        assert!(
            e.contains("at line 2\n>>> 'hz nope'\nargument couldn't be parsed into an integer"),
            "{e}"
        );
        let e = err_of(&format!("include {d}/none.conf\n"));
        assert_eq!(
            e,
            format!(
                "Fatal error, can't open config file '{d}/none.conf': No such file or directory"
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn command_line_options() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (t, stdin) = options_text(&a(&["--port", "7000", "--save", "--appendonly", "yes"]), 0);
        assert_eq!(String::from_utf8(t).unwrap(), "port \"7000\" \nsave \"\"\nappendonly \"yes\" ");
        assert!(!stdin);
        let (t, _) = options_text(&a(&["--save"]), 0);
        assert_eq!(String::from_utf8(t).unwrap(), "save \"\"");
        let (t, _) = options_text(&a(&["--save", ""]), 0);
        assert_eq!(String::from_utf8(t).unwrap(), "save \"\" ");
        let (t, stdin) = options_text(&a(&["--port", "1", "-"]), 1);
        assert_eq!(String::from_utf8(t).unwrap(), "port \"1\" ");
        assert!(stdin);
        // A value that starts with -- right after an option name is a value.
        let (t, _) = options_text(&a(&["--requirepass", "--x"]), 0);
        assert_eq!(String::from_utf8(t).unwrap(), "requirepass \"--x\" ");

        // Line numbers count the file's lines, then a blank one, then the options.
        let mut text = b"# a\nport 6390\n# c\n".to_vec();
        text.push(b'\n');
        text.extend_from_slice(&options_text(&a(&["--port", "abc"]), 1).0);
        let mut l = Loader::new(false);
        let e = l.load_text(&text).unwrap_err();
        assert!(e.contains("at line 5\n>>> 'port \"abc\"'\n"), "{e}");
    }
}
