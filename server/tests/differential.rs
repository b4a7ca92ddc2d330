//! Differential tests: every script in `tests/differential/*.txt` is sent to Vireo and to a
//! reference Redis, command by command, and the raw reply bytes must be identical.
//!
//! Script syntax: one command per line in redis-cli quoting; `#` starts a comment line. A line
//! prefixed with `?` compares only the reply's type (for replies that differ by nature, such as
//! timestamps); `@sleep <ms>` pauses both sides. Every script starts from an empty server.
//!
//! The reference server is `$VIREO_REFERENCE_REDIS`, else `redis-server` on PATH; without one
//! the test prints that it was skipped.

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};

use common::{show, split_args, Raw};
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
        let mut rc = Raw::connect(rport);
        let mut vc = Raw::connect(vport);
        for c in [&mut rc, &mut vc] {
            c.call(&["FLUSHALL"]);
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
