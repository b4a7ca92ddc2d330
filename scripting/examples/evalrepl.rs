//! Runs each line of stdin as a script (no keys, no arguments) and prints its RESP2 reply, one
//! per line, hex-encoded: a quick way to compare the engine with a reference Redis. `FLUSH`
//! starts a new engine (as SCRIPT FLUSH). Commands scripts call are refused.
use std::io::BufRead;

use vireo_scripting::{Engine, Reply, ScriptHost};

struct NoHost;

impl ScriptHost for NoHost {
    fn call(&mut self, _argv: Vec<bytes::Bytes>) -> Reply {
        Reply::Error(b"ERR no server".to_vec())
    }
    fn log(&mut self, _level: i64, _msg: &[u8]) {}
}

fn main() {
    let mut e = Engine::new().expect("engine");
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        if line == "FLUSH" {
            e = Engine::new().expect("engine");
            continue;
        }
        let reply = match e.load(line.as_bytes()) {
            Ok(sha) => e.run(sha.as_bytes(), &[], &[], &mut NoHost).expect("cached"),
            Err(m) => Reply::Error(m.into_bytes()),
        };
        let mut out = Vec::new();
        reply.encode(&mut out, false);
        println!("{}", out.iter().map(|b| format!("{b:02x}")).collect::<String>());
    }
}
