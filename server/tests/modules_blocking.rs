//! Module API 1.1, concurrency: `sdk-examples/blocking` and `sdk-examples/timer` loaded into a
//! running server and used over the wire: replies from a thread, timeouts, a key-ready wake,
//! CLIENT UNBLOCK, a disconnect while blocked, MULTI/EXEC and scripts, MODULE UNLOAD refused
//! while clients are blocked, timers that fire, stop and die with their module, and a thread
//! running commands through a thread-safe context.

use crate::common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{build_module, eventually, show, Raw, Server};

fn blocking() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| build_module("vireo-example-blocking", "vireo_blocking").display().to_string())
}

fn timer() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| build_module("vireo-example-timer", "vireo_timer").display().to_string())
}

fn start() -> Server {
    let (b, t) = (blocking(), timer());
    Server::start_with(&["--enable-module-command", "yes", "--loadmodule", b, "--loadmodule", t])
}

fn blocked_clients(r: &mut Raw) -> i64 {
    let info = String::from_utf8(r.line("INFO clients")).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap()
}

fn client_id(r: &mut Raw) -> i64 {
    r.int("CLIENT ID")
}

#[track_caller]
fn expect_reply(r: &mut Raw, want: &[u8]) {
    assert_eq!(show(&r.read_reply()), show(want));
}

#[test]
fn reply_from_a_thread_and_timeouts() {
    let srv = start();
    let mut a = srv.raw();
    // The thread replies after 50 ms: the client waited for it.
    let t = Instant::now();
    a.expect("BLOCK.SLEEP 50 0", b":50\r\n");
    assert!(t.elapsed() >= Duration::from_millis(50));
    a.expect("BLOCK.SLEEP 0 1000", b":0\r\n");
    // The timeout comes first: the timeout callback's reply; the thread's later reply is dropped.
    let t = Instant::now();
    a.expect("BLOCK.SLEEP 2000 100", b"+TIMEOUT\r\n");
    assert!(t.elapsed() < Duration::from_millis(1500), "{:?}", t.elapsed());
    // Meanwhile the connection goes on as usual, and so does the thread.
    a.expect("PING", b"+PONG\r\n");
    eventually(10, "the late thread", || a.line("BLOCK.STATS") == b"*3\r\n:2\r\n:1\r\n:0\r\n");
    // Errors of the command itself, before it blocks.
    a.expect("BLOCK.SLEEP -1 0", b"-ERR ms and timeout must not be negative\r\n");
    a.expect("BLOCK.SLEEP 1", b"-ERR wrong number of arguments for 'block.sleep' command\r\n");
    // Commands pipelined behind a blocked one wait for it.
    a.send(b"BLOCK.SLEEP 30 0\r\nPING\r\n");
    expect_reply(&mut a, b":30\r\n");
    expect_reply(&mut a, b"+PONG\r\n");
}

#[test]
fn other_clients_are_served_while_one_is_blocked() {
    let srv = start();
    let mut a = srv.raw();
    let mut b = srv.raw();
    a.send_cmd(&["BLOCK.SLEEP", "0", "0"]);
    expect_reply(&mut a, b":0\r\n");
    a.send_cmd(&["BLOCK.POP", "q", "0"]);
    eventually(10, "a blocked client", || blocked_clients(&mut b) == 1);
    let info = String::from_utf8(b.line("INFO clients")).unwrap();
    assert!(info.contains("clients_in_timeout_table:0"), "{info}");
    b.expect("SET k v", b"+OK\r\n");
    b.expect("GET k", b"$1\r\nv\r\n");
    let list = String::from_utf8(b.line("CLIENT LIST")).unwrap();
    assert!(list.lines().any(|l| l.contains("flags=b") && l.contains("cmd=block.pop")), "{list}");
    b.expect("RPUSH q x y", b":2\r\n");
    expect_reply(&mut a, b"$1\r\nx\r\n");
    b.expect("LRANGE q 0 -1", b"*1\r\n$1\r\ny\r\n");
    assert_eq!(blocked_clients(&mut b), 0);
    // Counted once served.
    let stats = String::from_utf8(b.line("INFO commandstats")).unwrap();
    assert!(stats.contains("cmdstat_block.pop:calls=1,"), "{stats}");
    assert!(stats.contains("cmdstat_block.sleep:calls=1,"), "{stats}");
}

#[test]
fn key_ready_wakes_in_order_and_keeps_waiting_when_nothing_is_there() {
    let srv = start();
    let mut a = srv.raw();
    let mut b = srv.raw();
    let mut c = srv.raw();
    // Not blocked when the list has an element.
    c.expect("RPUSH l1 first", b":1\r\n");
    a.expect("BLOCK.POP l1 0", b"$5\r\nfirst\r\n");
    a.send_cmd(&["BLOCK.POP", "l1", "0"]);
    eventually(10, "a blocked", || blocked_clients(&mut c) == 1);
    b.send_cmd(&["BLOCK.POP", "l1", "0"]);
    eventually(10, "b blocked", || blocked_clients(&mut c) == 2);
    // A key of another type is ready too: the callback finds no list and they keep waiting.
    c.expect("SET l1 str", b"+OK\r\n");
    c.expect("DEL l1", b":1\r\n");
    c.expect("SET other v", b"+OK\r\n");
    assert_eq!(blocked_clients(&mut c), 2);
    // One element: the oldest waiter gets it, the other waits on.
    c.expect("LPUSH l1 one", b":1\r\n");
    expect_reply(&mut a, b"$3\r\none\r\n");
    assert_eq!(blocked_clients(&mut c), 1);
    // Inside MULTI the push and the wake-up come after EXEC.
    c.expect("MULTI", b"+OK\r\n");
    c.expect("LPUSH l1 two", b"+QUEUED\r\n");
    c.expect("EXEC", b"*1\r\n:1\r\n");
    expect_reply(&mut b, b"$3\r\ntwo\r\n");
    c.expect("EXISTS l1", b":0\r\n");
    // A timeout: the module's timeout callback replies null.
    a.expect("BLOCK.POP l2 50", b"$-1\r\n");
    // The key is ready after the script; the callback finds a string: it waits on.
    a.send_cmd(&["BLOCK.POP", "l3", "0"]);
    eventually(10, "a blocked", || blocked_clients(&mut c) == 1);
    c.expect("EVAL \"redis.call('rpush', KEYS[1], 'z'); redis.call('del', KEYS[1]); redis.call('set', KEYS[1], 's')\" 1 l3", b"$-1\r\n");
    // Served once the list exists (the script's push was undone before the wake-up).
    c.expect("DEL l3", b":1\r\n");
    c.expect("RPUSH l3 last", b":1\r\n");
    expect_reply(&mut a, b"$4\r\nlast\r\n");
}

/// Module clients and BLPOP clients blocked on the same key share one queue: each element goes
/// to the oldest waiter, whichever kind it is.
#[test]
fn module_and_built_in_waiters_are_served_in_the_order_they_blocked() {
    let srv = start();
    let (mut first, mut second, mut c) = (srv.raw(), srv.raw(), srv.raw());
    first.send_cmd(&["BLPOP", "q", "0"]);
    eventually(10, "BLPOP blocked", || blocked_clients(&mut c) == 1);
    second.send_cmd(&["BLOCK.POP", "q", "0"]);
    eventually(10, "BLOCK.POP blocked", || blocked_clients(&mut c) == 2);
    c.expect("LPUSH q a", b":1\r\n");
    expect_reply(&mut first, b"*2\r\n$1\r\nq\r\n$1\r\na\r\n");
    assert_eq!(blocked_clients(&mut c), 1);
    first.send_cmd(&["BLPOP", "q", "0"]);
    eventually(10, "BLPOP blocked again", || blocked_clients(&mut c) == 2);
    c.expect("LPUSH q b", b":1\r\n");
    expect_reply(&mut second, b"$1\r\nb\r\n");
    c.expect("LPUSH q c", b":1\r\n");
    expect_reply(&mut first, b"*2\r\n$1\r\nq\r\n$1\r\nc\r\n");
}

#[test]
fn client_unblock_timeout_and_error() {
    let srv = start();
    let mut a = srv.raw();
    let mut b = srv.raw();
    let id = client_id(&mut a);
    a.send_cmd(&["BLOCK.SLEEP", "5000", "0"]);
    eventually(10, "a blocked", || blocked_clients(&mut b) == 1);
    // TIMEOUT runs the module's timeout callback.
    b.expect(&format!("CLIENT UNBLOCK {id} TIMEOUT"), b":1\r\n");
    expect_reply(&mut a, b"+TIMEOUT\r\n");
    b.expect(&format!("CLIENT UNBLOCK {id}"), b":0\r\n");
    a.send_cmd(&["BLOCK.POP", "nothing", "0"]);
    eventually(10, "a blocked", || blocked_clients(&mut b) == 1);
    b.expect(&format!("CLIENT UNBLOCK {id} ERROR"), b":1\r\n");
    expect_reply(&mut a, b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    a.expect("PING", b"+PONG\r\n");
    assert_eq!(blocked_clients(&mut b), 0);
    // The thread of the first BLOCK.SLEEP finds its client gone: it does not reply.
    b.expect("BLOCK.STATS", b"*3\r\n:0\r\n:1\r\n:0\r\n");
}

#[test]
fn disconnect_while_blocked() {
    let srv = start();
    let mut b = srv.raw();
    {
        let mut a = srv.raw();
        a.send_cmd(&["BLOCK.SLEEP", "300", "0"]);
        let mut c = srv.raw();
        c.send_cmd(&["BLOCK.POP", "gone", "0"]);
        eventually(10, "two blocked", || blocked_clients(&mut b) == 2);
    }
    eventually(10, "the disconnects", || blocked_clients(&mut b) == 0);
    // The disconnect callback ran; the thread's reply finds nobody (nothing replied).
    eventually(10, "the disconnect callback", || {
        b.line("BLOCK.STATS") == b"*3\r\n:0\r\n:0\r\n:1\r\n"
    });
    std::thread::sleep(Duration::from_millis(400));
    b.expect("BLOCK.STATS", b"*3\r\n:0\r\n:0\r\n:1\r\n");
    // Nobody pops the pushed element for the gone client.
    b.expect("RPUSH gone x", b":1\r\n");
    b.expect("LLEN gone", b":1\r\n");
    b.expect("PING", b"+PONG\r\n");
}

#[test]
fn multi_and_scripts_do_not_block() {
    let srv = start();
    let mut a = srv.raw();
    a.expect("MULTI", b"+OK\r\n");
    a.expect("BLOCK.SLEEP 10 0", b"+QUEUED\r\n");
    a.expect("BLOCK.POP empty 0", b"+QUEUED\r\n");
    a.expect(
        "EXEC",
        b"*2\r\n-ERR Blocking module command called from transaction\r\n\
          -ERR Blocking module command called from transaction\r\n",
    );
    // Not blocking, the command is served as usual inside MULTI.
    a.expect("RPUSH full v", b":1\r\n");
    a.expect("MULTI", b"+OK\r\n");
    a.expect("BLOCK.POP full 0", b"+QUEUED\r\n");
    a.expect("EXEC", b"*1\r\n$1\r\nv\r\n");
    let r = a.line("EVAL \"return redis.call('block.sleep', '10', '0')\" 0");
    assert!(r.starts_with(b"-ERR Blocking module command called from Lua script"), "{}", show(&r));
    assert_eq!(blocked_clients(&mut a), 0);
    // The threads of those calls find no client: nothing replied.
    std::thread::sleep(Duration::from_millis(50));
    a.expect("BLOCK.STATS", b"*3\r\n:0\r\n:0\r\n:0\r\n");
}

#[test]
fn module_unload_is_refused_while_clients_are_blocked() {
    let srv = start();
    let mut a = srv.raw();
    let mut b = srv.raw();
    a.send_cmd(&["BLOCK.POP", "k", "0"]);
    eventually(10, "a blocked", || blocked_clients(&mut b) == 1);
    b.expect(
        "MODULE UNLOAD blocking",
        b"-ERR Error unloading module: the module has blocked clients. Please wait them unblocked and try again\r\n",
    );
    b.expect("RPUSH k v", b":1\r\n");
    expect_reply(&mut a, b"$1\r\nv\r\n");
    b.expect("MODULE UNLOAD blocking", b"+OK\r\n");
    b.expect(&format!("MODULE LOAD {}", blocking()), b"+OK\r\n");
}

#[test]
fn timers_fire_and_stop() {
    let srv = start();
    let mut a = srv.raw();
    let id = a.int("TIMER.SET 50 t1 fired");
    assert!(id > 0);
    a.expect("GET t1", b"$-1\r\n");
    eventually(10, "the timer", || a.line("GET t1") == b"$5\r\nfired\r\n");
    // Stopped, it gives its data back and never fires.
    let id = a.int("TIMER.SET 100 t2 never");
    a.expect(&format!("TIMER.STOP {id}"), b"$2\r\nt2\r\n");
    a.expect(&format!("TIMER.STOP {id}"), b"$-1\r\n");
    // A fired timer cannot be stopped.
    let fired = a.int("TIMER.SET 0 t3 x");
    eventually(10, "the timer", || a.line("EXISTS t3") == b":1\r\n");
    a.expect(&format!("TIMER.STOP {fired}"), b"$-1\r\n");
    std::thread::sleep(Duration::from_millis(200));
    a.expect("EXISTS t2", b":0\r\n");
    // The timers of an unloaded module are cancelled.
    a.int("TIMER.SET 100 t4 x");
    a.expect("MODULE UNLOAD timer", b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(250));
    a.expect("EXISTS t4", b":0\r\n");
    a.expect("PING", b"+PONG\r\n");
}

#[test]
fn thread_safe_context() {
    let srv = start();
    let mut a = srv.raw();
    a.expect("TIMER.THREADSET 0 tsc v1", b"+OK\r\n");
    eventually(10, "the thread", || a.line("GET tsc") == b"$2\r\nv1\r\n");
    // A blocked client is woken by what a thread-safe context writes.
    let mut b = srv.raw();
    b.send_cmd(&["BLOCK.POP", "tl", "0"]);
    eventually(10, "b blocked", || blocked_clients(&mut a) == 1);
    a.expect("TIMER.THREADSET 0 tl notalist", b"+OK\r\n");
    eventually(10, "the thread", || a.line("EXISTS tl") == b":1\r\n");
    a.expect("DEL tl", b":1\r\n");
    a.expect("RPUSH tl e", b":1\r\n");
    expect_reply(&mut b, b"$1\r\ne\r\n");
    // Locking from a command (which holds the lock) is refused, not a deadlock.
    let r = a.line("TIMER.LOCKHERE");
    assert!(
        r.starts_with(b"-ERR ThreadSafeContext::lock called where the server is locked"),
        "{}",
        show(&r)
    );
    // While the server is busy (a long script), the thread waits for the lock.
    a.expect("TIMER.THREADSET 100 during script", b"+OK\r\n");
    a.expect("EVAL \"local t = redis.call('time')[1] + 0 while redis.call('time')[1] + 0 < t + 2 do end return redis.call('exists', 'during')\" 0", b":0\r\n");
    eventually(10, "the thread", || a.line("GET during") == b"$6\r\nscript\r\n");
}
