//! Arbitrary bytes as an AOF file: the parser never panics, never reads past the input, and
//! the replay of what it accepts through the dispatcher (with a fake client, as at start-up)
//! never panics either.
#![no_main]

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use vireo_server::persist::aof::load::{next, replay, Item};
use vireo_server::{config::Config, Server};

fn server() -> &'static Arc<Server> {
    static S: OnceLock<Arc<Server>> = OnceLock::new();
    S.get_or_init(|| Server::new(Config::default(), None))
}

fuzz_target!(|data: &[u8]| {
    let buf = Bytes::copy_from_slice(data);
    let mut pos = 0;
    while let Ok(Some(item)) = next(&buf, pos) {
        let end = match item {
            Item::Command(argv, end) => {
                assert!(!argv.is_empty());
                end
            }
            Item::Annotation(end) => end,
        };
        assert!(end > pos && end <= buf.len());
        pos = end;
    }
    // Commands that reach outside the data set (files, the process, the Lua engine, which can
    // loop forever) are left to their own tests: only the parse above runs on such input.
    let lower = data.to_ascii_lowercase();
    let outside = [
        &b"config"[..], b"shutdown", b"debug", b"save", b"rewrite", b"eval", b"fcall",
        b"function", b"script", b"module", b"sleep",
    ];
    if outside.iter().any(|w| lower.windows(w.len()).any(|x| x == *w)) {
        return;
    }
    let srv = server();
    {
        let mut core = srv.core.lock();
        let n = core.dbs.len();
        core.dbs = (0..n).map(vireo_server::keyspace::Db::new).collect();
    }
    srv.loading.start();
    let mut tracker = vireo_server::persist::loading::Tracker::new(&srv.loading, 0);
    let _ = replay(srv, &mut tracker, &buf, "fuzz.aof", 0);
    srv.loading.stop();
});
