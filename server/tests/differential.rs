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

use std::path::Path;

use common::{show, split_args, Raw, Server};
use std::time::Duration;

#[test]
fn scripts_match_reference_redis() {
    let Some(reference) = Server::start_reference("differential tests") else { return };
    let vireo = Server::start();
    let (rport, vport) = (reference.port, vireo.port);
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
