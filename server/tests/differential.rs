//! Differential tests: every script in `tests/differential/*.txt` is sent to Vireo and to a
//! reference Redis, command by command, and the raw reply bytes must be identical.
//!
//! Script syntax (see `common::run_differential`): one command per line in redis-cli quoting;
//! `#` starts a comment line. A line prefixed with `?` compares only the reply's type (for
//! replies that differ by nature, such as timestamps); `@sleep <ms>` pauses both sides; `2> `,
//! `3> ` and `3?> ` prefixes restrict a line to one protocol. Every script starts from an empty
//! server on RESP2.
//!
//! The reference server is `$VIREO_REFERENCE_REDIS`, else `redis-server` on PATH; without one
//! the test prints that it was skipped.

use crate::common;

use std::path::Path;

use common::{run_differential, Server};

#[test]
fn scripts_match_reference_redis() {
    let Some(reference) = Server::start_reference("differential tests") else { return };
    let vireo = Server::start_with(&["--enable-debug-command", "local"]);
    let (rport, vport) = (reference.port, vireo.port);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "txt"));
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    let mut compared = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy();
        compared += run_differential(&name, &text, 2, (rport, vport), &mut failures);
    }
    eprintln!("differential: {compared} commands compared over {} scripts", files.len());
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}
