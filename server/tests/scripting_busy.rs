//! A script running past `busy-reply-threshold`: BUSY for other clients, SCRIPT KILL,
//! UNKILLABLE once it wrote, SHUTDOWN NOSAVE; black-box, from a second connection.

use crate::common;

use std::time::Duration;

use common::{Raw, Server};

const BUSY: &[u8] =
    b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";

const BUSY_FUNCTION: &[u8] =
    b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";

/// Sends `line` on `c` and waits until another connection sees BUSY.
fn start_busy(s: &Server, c: &mut Raw, line: &str) -> Raw {
    start_busy_with(s, c, line, BUSY)
}

fn start_busy_with(s: &Server, c: &mut Raw, line: &str, busy: &[u8]) -> Raw {
    c.send(&common::encode(&common::split_args(line)));
    let mut other = s.raw();
    for _ in 0..200 {
        std::thread::sleep(Duration::from_millis(20));
        let mut probe = Raw::connect(s.port);
        if probe.line("PING") == busy {
            return other;
        }
    }
    other.expect("PING", busy);
    other
}

#[test]
fn script_kill_stops_a_busy_script() {
    let s = Server::start_with(&["--busy-reply-threshold", "100"]);
    let mut c = s.raw();
    let mut other = start_busy(&s, &mut c, "EVAL \"while true do end\" 0");
    other.expect("GET x", BUSY);
    other.expect("FUNCTION KILL", BUSY);
    other.expect("SHUTDOWN", BUSY);
    other.expect("SCRIPT KILL", b"+OK\r\n");
    let r = c.read_reply();
    assert!(
        r.starts_with(b"-ERR Script killed by user with SCRIPT KILL... script: "),
        "{}",
        common::show(&r)
    );
    // The server goes on; a pcall cannot catch the kill either.
    other.expect("PING", b"+PONG\r\n");
    let _ = start_busy(
        &s,
        &mut c,
        "EVAL \"while true do pcall(function() while true do end end) end\" 0",
    );
    other.expect("SCRIPT KILL", b"+OK\r\n");
    assert!(c.read_reply().starts_with(b"-ERR Script killed by user"));
    c.expect("SCRIPT KILL", b"-NOTBUSY No scripts in execution right now.\r\n");
}

#[test]
fn a_script_that_wrote_is_unkillable_and_shutdown_nosave_ends_it() {
    // Save points set: NOSAVE still saves nothing (the script's half-done writes included).
    let s = Server::start_with(&["--busy-reply-threshold", "100", "--save", "3600 1"]);
    let mut c = s.raw();
    let mut other =
        start_busy(&s, &mut c, "EVAL \"redis.call('SET', 'k', 'v') while true do end\" 0");
    other.expect(
        "SCRIPT KILL",
        b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n",
    );
    other.send(&common::encode(&["SHUTDOWN", "NOSAVE"]));
    std::thread::sleep(Duration::from_millis(500));
    assert!(std::net::TcpStream::connect(("127.0.0.1", s.port)).is_err());
    assert!(!s.dir.join("dump.rdb").exists(), "SHUTDOWN NOSAVE saved");
}

/// A busy FCALL: BUSY names FUNCTION KILL, SCRIPT KILL is refused with that BUSY, FUNCTION
/// KILL stops it, and its caller gets the error Redis 7.0.15 gives (which says SCRIPT KILL).
#[test]
fn function_kill_stops_a_busy_function() {
    let s = Server::start_with(&["--busy-reply-threshold", "100"]);
    let mut c = s.raw();
    c.expect(
        "FUNCTION LOAD \"#!lua name=spin\nredis.register_function('spin', function() while true do end end)\"",
        b"$4\r\nspin\r\n",
    );
    let mut other = start_busy_with(&s, &mut c, "FCALL spin 0", BUSY_FUNCTION);
    other.expect("GET x", BUSY_FUNCTION);
    other.expect("SCRIPT KILL", BUSY_FUNCTION);
    other.expect("FUNCTION KILL", b"+OK\r\n");
    assert_eq!(
        common::show(&c.read_reply()),
        common::show(
            b"-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n"
        )
    );
    other.expect("PING", b"+PONG\r\n");
    c.expect("FUNCTION KILL", b"-NOTBUSY No scripts in execution right now.\r\n");
}

/// A server limited to one CPU (a small container) still answers BUSY and SCRIPT KILL while a
/// script loops: the script gives its runtime worker away once it is busy.
#[test]
fn a_busy_script_on_one_core_leaves_connections_served() {
    let Some(s) = Server::start_on_one_core(
        "a_busy_script_on_one_core_leaves_connections_served",
        &["--busy-reply-threshold", "100"],
    ) else {
        return;
    };
    let mut c = s.raw();
    let mut other = start_busy(&s, &mut c, "EVAL \"while true do end\" 0");
    other.expect("SCRIPT KILL", b"+OK\r\n");
    assert!(c.read_reply().starts_with(b"-ERR Script killed by user"));
    other.expect("PING", b"+PONG\r\n");
    c.expect("EVAL \"return 1\" 0", b":1\r\n");
}

/// With SCRIPT renamed, the busy script is killed by the new name, as Redis finds the command
/// by its table.
#[test]
fn script_kill_under_a_renamed_script_command() {
    let s = Server::start_with(&[
        "--busy-reply-threshold",
        "100",
        "--rename-command",
        "script",
        "myscript",
    ]);
    let mut c = s.raw();
    let mut other = start_busy(&s, &mut c, "EVAL \"while true do end\" 0");
    other.expect("SCRIPT KILL", BUSY);
    other.expect("MYSCRIPT KILL", b"+OK\r\n");
    assert!(c.read_reply().starts_with(b"-ERR Script killed by user with SCRIPT KILL..."));
}

/// SIGTERM while a script that wrote is busy, on one core: the shutdown waits for the script
/// (there is nothing consistent to save before it ends), and meanwhile the server still answers
/// BUSY and obeys SHUTDOWN NOSAVE.
#[test]
fn sigterm_during_a_busy_script_leaves_the_server_answering() {
    let what = "sigterm_during_a_busy_script_leaves_the_server_answering";
    let Some(s) = Server::start_on_one_core(what, &["--busy-reply-threshold", "100"]) else {
        return;
    };
    let mut c = s.raw();
    let mut other =
        start_busy(&s, &mut c, "EVAL \"redis.call('SET', 'k', 'v') while true do end\" 0");
    let term = std::process::Command::new("kill").args(["-TERM", &s.pid().to_string()]).status();
    assert!(term.unwrap().success());
    std::thread::sleep(Duration::from_millis(300));
    Raw::connect(s.port).expect("GET k", BUSY);
    other.send(&common::encode(&["SHUTDOWN", "NOSAVE"]));
    std::thread::sleep(Duration::from_millis(500));
    assert!(std::net::TcpStream::connect(("127.0.0.1", s.port)).is_err());
}
