//! BullMQ, a job queue whose every operation is a Lua script (dozens of them, with cmsgpack,
//! streams, sorted sets and hashes), driven through a scenario a user would run: priorities,
//! LIFO, custom ids, deduplication, retries with backoff, delayed and promoted jobs, flows of
//! parents and children, job schedulers, queue events over streams, clean/drain/obliterate.
//!
//! `clients/bullmq/scenario.js` prints what it observed, in an order that does not depend on
//! timing; `scenario.expected.json` is what it printed against Redis 7.0.15 (re-record with
//! `NODE_PATH="$(scripts/bullmq-suite)" node server/tests/clients/bullmq/scenario.js <port>`).
//! `scripts/bullmq-suite` installs BullMQ and prints its `node_modules`; this test runs when
//! `VIREO_BULLMQ` names it (CI sets it) and says SKIPPED otherwise.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::Server;

#[test]
fn a_job_queue_runs_as_on_redis() {
    let Some(modules) = std::env::var_os("VIREO_BULLMQ") else {
        eprintln!("SKIPPED BullMQ: set VIREO_BULLMQ=\"$(scripts/bullmq-suite)\"");
        return;
    };
    let srv = Server::start();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/bullmq/scenario.js");
    let out = Command::new("node")
        .arg(&script)
        .arg(srv.port.to_string())
        .env("NODE_PATH", modules)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scenario failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, include_str!("clients/bullmq/scenario.expected.json"));
}
