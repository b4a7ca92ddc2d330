//! redis-py's own test suite (5.2.1, from its source distribution) against Vireo with the JSON
//! module loaded, over RESP2 and RESP3: a client library's view of the commands, replies and
//! connection handling, written by people who test against Redis.
//!
//! `scripts/redis-py-suite` installs the suite and prints its directory; this test runs it when
//! `VIREO_REDIS_PY` names that directory (CI sets it) and says SKIPPED otherwise. Tests that
//! fail for reasons that are not Vireo's (they fail against Redis 7.0.15 too, or need servers
//! on fixed ports) are listed with the reason in `clients/redis-py-failures.txt`; any other
//! failure fails this test.

use crate::common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use common::{json_module, Server};

/// The suite's files this test runs: commands, pipelines, transactions, pub/sub, scripts,
/// functions, locks, connections and pools, encodings, RESP3 caching, JSON; sync and asyncio.
const FILES: &[&str] = &[
    "tests/test_commands.py",
    "tests/test_pipeline.py",
    "tests/test_pubsub.py",
    "tests/test_scripting.py",
    "tests/test_function.py",
    "tests/test_lock.py",
    "tests/test_connection.py",
    "tests/test_connection_pool.py",
    "tests/test_encoding.py",
    "tests/test_monitor.py",
    "tests/test_helpers.py",
    "tests/test_retry.py",
    "tests/test_cache.py",
    "tests/test_command_parser.py",
    "tests/test_credentials.py",
    "tests/test_hash.py",
    "tests/test_multiprocessing.py",
    "tests/test_json.py",
    "tests/test_asyncio/test_commands.py",
    "tests/test_asyncio/test_pipeline.py",
    "tests/test_asyncio/test_pubsub.py",
    "tests/test_asyncio/test_scripting.py",
    "tests/test_asyncio/test_connection.py",
    "tests/test_asyncio/test_connection_pool.py",
    "tests/test_asyncio/test_credentials.py",
    "tests/test_asyncio/test_cwe_404.py",
    "tests/test_asyncio/test_encoding.py",
    "tests/test_asyncio/test_hash.py",
    "tests/test_asyncio/test_lock.py",
    "tests/test_asyncio/test_monitor.py",
    "tests/test_asyncio/test_retry.py",
    "tests/test_asyncio/test_json.py",
];

/// The suite's tests known to fail here, from `clients/redis-py-failures.txt` (a test id per
/// line, then `#` and why).
fn known_failures() -> BTreeSet<&'static str> {
    include_str!("clients/redis-py-failures.txt")
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn the_client_suite_passes() {
    let Some(suite) = std::env::var_os("VIREO_REDIS_PY") else {
        eprintln!(
            "SKIPPED redis-py's test suite: set VIREO_REDIS_PY=\"$(scripts/redis-py-suite)\""
        );
        return;
    };
    let suite = std::path::PathBuf::from(suite);
    let python = suite.parent().unwrap().join("venv/bin/python");
    // RESP2 and RESP3 at once, each on a server of its own (the tests flush and configure
    // their server): most of the suite's time is spent waiting, not computing.
    let runs: Vec<_> = ["2", "3"]
        .into_iter()
        .map(|protocol| {
            let srv = Server::start_with(&[
                "--loadmodule",
                json_module(),
                "--enable-debug-command",
                "yes",
                "--enable-module-command",
                "yes",
            ]);
            let url = format!("redis://127.0.0.1:{}/0", srv.port);
            let child = Command::new(&python)
                .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore"])
                .args(["-m", "not onlycluster and not ssl", "--protocol", protocol])
                .args(["--redis-url", &url, "--redis-mod-url", &url])
                .args(FILES)
                // (Its proxy listens on a fixed port: one run only.)
                .args(
                    ["--ignore", "tests/test_asyncio/test_cwe_404.py"]
                        .iter()
                        .filter(|_| protocol == "3"),
                )
                .current_dir(&suite)
                .stdout(Stdio::piped())
                .spawn()
                .expect("run pytest");
            (protocol, srv, child)
        })
        .collect();
    let known = known_failures();
    let mut unexpected = Vec::new();
    for (protocol, _srv, child) in runs {
        let out = child.wait_with_output().expect("pytest output");
        let text = String::from_utf8_lossy(&out.stdout);
        let summary = text.lines().last().unwrap_or_default().to_string();
        eprintln!("redis-py over RESP{protocol}: {summary}");
        // Every file collected and ran: a broken install or an import error shows here.
        let passed: usize = summary
            .split(", ")
            .find_map(|p| p.trim_start_matches('=').trim().strip_suffix(" passed"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        assert!(passed > 1500, "RESP{protocol}: too few tests passed:\n{text}");
        let before = unexpected.len();
        for line in text.lines() {
            let Some(id) = line.strip_prefix("FAILED ").or_else(|| line.strip_prefix("ERROR "))
            else {
                continue;
            };
            let id = id.split(" - ").next().unwrap().trim();
            // test_cwe_404's proxy binds the fixed port 5380 again for each parameter and, on
            // a loaded machine, can find it still taken: the harness's failure, not Vireo's.
            let harness = id.contains("test_cwe_404") && line.contains("address already in use");
            if !known.contains(id) && !harness {
                unexpected.push(format!("RESP{protocol}: {line}"));
            }
        }
        if unexpected.len() > before {
            eprintln!("{text}");
        }
    }
    assert!(unexpected.is_empty(), "redis-py tests failed:\n{}", unexpected.join("\n"));
}
