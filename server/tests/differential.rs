//! Differential tests: every script in `tests/differential/*.txt` is sent to Vireo and to a
//! reference Redis, command by command, and the raw reply bytes must be identical.
//!
//! Script syntax: one command per line in redis-cli quoting; `#` starts a comment line. A line
//! prefixed with `?` compares only the reply's type (for replies that differ by nature, such as
//! timestamps); `@sleep <ms>` pauses both sides. Every script starts from an empty server.
//!
//! The reference server is `$VIREO_REFERENCE_REDIS`, else `redis-server` on PATH; without one
//! the test prints that it was skipped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn reference_redis() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("VIREO_REFERENCE_REDIS") {
        if !p.is_empty() {
            return Some(p.into());
        }
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|d| d.join("redis-server")).find(|p| p.is_file())
    })
}

fn start(bin: &Path, extra: &[&str]) -> (Proc, u16) {
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.args(["--port", &port.to_string(), "--save", "", "--appendonly", "no"]).args(extra);
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start server");
    let p = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{} did not start", bin.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    (p, port)
}

/// Splits a line the way redis-cli does (double quotes with escapes, single quotes).
fn split_args(line: &str) -> Vec<Vec<u8>> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let mut cur = Vec::new();
        if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                    match b[i] {
                        b'n' => cur.push(b'\n'),
                        b'r' => cur.push(b'\r'),
                        b't' => cur.push(b'\t'),
                        b'x' if i + 2 < b.len() => {
                            let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                            cur.push(u8::from_str_radix(h, 16).unwrap());
                            i += 2;
                        }
                        c => cur.push(c),
                    }
                } else {
                    cur.push(b[i]);
                }
                i += 1;
            }
            i += 1;
        } else if b[i] == b'\'' {
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                cur.push(b[i]);
                i += 1;
            }
            i += 1;
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                cur.push(b[i]);
                i += 1;
            }
        }
        out.push(cur);
    }
    out
}

fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Reads exactly one RESP2/RESP3 reply and returns its raw bytes.
fn read_reply(r: &mut BufReader<TcpStream>, out: &mut Vec<u8>) {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).expect("read reply");
    assert!(line.ends_with(b"\r\n"), "truncated reply: {:?}", String::from_utf8_lossy(&line));
    out.extend_from_slice(&line);
    let body = &line[1..line.len() - 2];
    let num = || std::str::from_utf8(body).unwrap().parse::<i64>().unwrap();
    match line[0] {
        b'$' | b'=' | b'!' => {
            let n = num();
            if n >= 0 {
                let mut buf = vec![0; n as usize + 2];
                r.read_exact(&mut buf).unwrap();
                out.extend_from_slice(&buf);
            }
        }
        b'*' | b'~' | b'>' => {
            for _ in 0..num().max(0) {
                read_reply(r, out);
            }
        }
        b'%' | b'|' => {
            for _ in 0..num() * 2 {
                read_reply(r, out);
            }
            if line[0] == b'|' {
                read_reply(r, out);
            }
        }
        _ => {}
    }
}

struct Conn {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    fn new(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Conn { w: s.try_clone().unwrap(), r: BufReader::new(s) }
    }

    fn call(&mut self, args: &[Vec<u8>]) -> Vec<u8> {
        self.w.write_all(&encode(args)).unwrap();
        let mut out = Vec::new();
        read_reply(&mut self.r, &mut out);
        out
    }
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace("\r\n", "\\r\\n")
}

#[test]
fn scripts_match_reference_redis() {
    let Some(redis) = reference_redis() else {
        eprintln!(
            "SKIPPED differential tests: no reference Redis (set VIREO_REFERENCE_REDIS or put \
             redis-server on PATH; .ci/run installs one)"
        );
        return;
    };
    let vireo = PathBuf::from(env!("CARGO_BIN_EXE_vireo-server"));
    let (_r, rport) = start(&redis, &["--bind", "127.0.0.1"]);
    let (_v, vport) = start(&vireo, &[]);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "txt"));
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    let mut compared = 0;
    for file in &files {
        let mut rc = Conn::new(rport);
        let mut vc = Conn::new(vport);
        for c in [&mut rc, &mut vc] {
            c.call(&[b"FLUSHALL".to_vec()]);
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(ms) = line.strip_prefix("@sleep ") {
                std::thread::sleep(Duration::from_millis(ms.trim().parse().unwrap()));
                continue;
            }
            let (type_only, cmd) = match line.strip_prefix('?') {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let args = split_args(cmd);
            let want = rc.call(&args);
            let got = vc.call(&args);
            compared += 1;
            let same = if type_only { want.first() == got.first() } else { want == got };
            if !same {
                failures.push(format!(
                    "{}:{}: {}\n  redis: {}\n  vireo: {}",
                    file.file_name().unwrap().to_string_lossy(),
                    n + 1,
                    line,
                    show(&want),
                    show(&got)
                ));
            }
        }
    }
    eprintln!("differential: {compared} commands compared over {} scripts", files.len());
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}
