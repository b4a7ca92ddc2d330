//! Module keyspace and server events, module-raised events and module replication control:
//! `sdk-examples/listener` built with cargo, loaded into a running server and used over the wire.

use crate::common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{build_module, show, Conn, Server};

fn listener() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| build_module("vireo-example-listener", "vireo_listener").display().to_string())
}

fn start(extra: &[&str]) -> Server {
    let mut args = vec!["--loadmodule", listener(), "--enable-module-command", "yes"];
    args.extend_from_slice(extra);
    Server::start_with(&args)
}

/// The elements of a flat array of bulk strings.
fn bulks(reply: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(reply);
    let mut lines = text.split("\r\n");
    let n: usize = lines.next().unwrap()[1..].parse().unwrap();
    (0..n)
        .map(|_| {
            lines.next();
            lines.next().unwrap().to_string()
        })
        .collect()
}

fn stats(c: &mut Conn) -> String {
    show(&c.call("LISTENER.STATS"))
}

#[test]
fn keyspace_events_reach_the_listener_without_pubsub_config() {
    let srv = start(&[]);
    let mut c = Conn::new(&srv);
    assert_eq!(
        c.call("CONFIG GET notify-keyspace-events"),
        b"*2\r\n$22\r\nnotify-keyspace-events\r\n$0\r\n\r\n"
    );
    assert_eq!(c.call("SET k v"), b"+OK\r\n");
    assert_eq!(c.call("EXPIRE k 100"), b":1\r\n");
    assert_eq!(c.call("DEL k"), b":1\r\n");
    // Counted per name: `new` (class n) and the command's own event, in a map (RESP2: flat).
    assert_eq!(
        stats(&mut c),
        show(b"*8\r\n$3\r\ndel\r\n:1\r\n$6\r\nexpire\r\n:1\r\n$3\r\nnew\r\n:1\r\n$3\r\nset\r\n:1\r\n")
    );
    assert_eq!(c.call("LISTENER.LASTDEL"), b"$1\r\nk\r\n");

    // Lazy expiry: GET finds the key expired. The listener writes `listener:expired` through
    // `call`; that write's own events do not come back to it (no `incrby` counted).
    assert_eq!(c.call("LISTENER.RESET"), b"+OK\r\n");
    assert_eq!(c.call("SET gone v PX 30"), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(c.call("GET gone"), b"$-1\r\n");
    assert_eq!(c.call("GET listener:expired"), b"$1\r\n1\r\n");
    // (SET with an expiry raises `set` and `expire`, as in Redis.)
    assert_eq!(
        stats(&mut c),
        show(
            b"*8\r\n$6\r\nexpire\r\n:1\r\n$7\r\nexpired\r\n:1\r\n$3\r\nnew\r\n:1\r\n\
$3\r\nset\r\n:1\r\n"
        )
    );

    // Active expiry (the cron) delivers too.
    assert_eq!(c.call("SET gone2 v PX 20"), b"+OK\r\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.call("GET listener:expired") != b"$1\r\n2\r\n" {
        assert!(Instant::now() < deadline, "active expiry never reached the listener");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn server_events_are_typed_and_in_order() {
    let srv = start(&[]);
    let mut c = Conn::new(&srv);
    c.call("SET a 1");
    assert_eq!(c.call("FLUSHDB"), b"+OK\r\n");
    assert_eq!(c.call("SELECT 3"), b"+OK\r\n");
    assert_eq!(c.call("FLUSHALL"), b"+OK\r\n");
    assert_eq!(c.call("SWAPDB 0 1"), b"+OK\r\n");
    assert_eq!(c.call("CONFIG SET maxmemory-clients 0 hz 10"), b"+OK\r\n");
    assert_eq!(
        bulks(&c.call("LISTENER.SERVER")),
        [
            // Start-up loads the (empty) data set after the modules.
            "Loading(Start)",
            "Loading(End)",
            "flushdb:start:0",
            "flushdb:end:0",
            "flushdb:start:all",
            "flushdb:end:all",
            "swapdb:0:1",
            "config:maxmemory-clients,hz"
        ]
    );
    // Modules loaded and unloaded after it.
    let hello = build_module("vireo-example-hello", "vireo_hello").display().to_string();
    assert_eq!(c.call(&format!("MODULE LOAD {hello}")), b"+OK\r\n");
    assert_eq!(c.call("MODULE UNLOAD hello"), b"+OK\r\n");
    let all = bulks(&c.call("LISTENER.SERVER"));
    assert_eq!(all[8..], ["module-loaded:hello", "module-unloaded:hello"]);

    // The replication role: replica of another server, then a master again.
    let master = Server::start();
    assert_eq!(c.call("LISTENER.RESET"), b"+OK\r\n");
    assert_eq!(c.call(&format!("REPLICAOF 127.0.0.1 {}", master.port)), b"+OK\r\n");
    assert_eq!(c.call("REPLICAOF NO ONE"), b"+OK\r\n");
    assert_eq!(bulks(&c.call("LISTENER.SERVER")), ["role:replica", "role:master"]);

    // Persistence: SAVE under the lock, BGSAVE ending later on its thread.
    assert_eq!(c.call("LISTENER.RESET"), b"+OK\r\n");
    assert_eq!(c.call("SAVE"), b"+OK\r\n");
    assert_eq!(c.call("BGSAVE"), b"+Background saving started\r\n");
    let want = ["PersistenceStart(SyncRdb)", "PersistenceEnd(End)", "PersistenceStart(Rdb)"];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = bulks(&c.call("LISTENER.SERVER"));
        if got.len() == 4 {
            assert_eq!(got[..3], want);
            assert_eq!(got[3], "PersistenceEnd(End)");
            break;
        }
        assert_eq!(got, want, "before the BGSAVE ends");
        assert!(Instant::now() < deadline, "the BGSAVE never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_listeners_write_serves_blocked_clients() {
    let srv = start(&[]);
    let mut waiter = Conn::new(&srv);
    waiter.send("BLPOP listener:deleted 10");
    let mut c = Conn::new(&srv);
    // (Wait until the waiter is blocked.)
    let deadline = Instant::now() + Duration::from_secs(5);
    while !show(&c.call("CLIENT LIST")).contains("cmd=blpop") {
        assert!(Instant::now() < deadline, "BLPOP never blocked");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(c.call("SET x 1"), b"+OK\r\n");
    assert_eq!(c.call("DEL x"), b":1\r\n");
    assert_eq!(
        waiter.reply_within(Duration::from_secs(2)).as_deref(),
        Some(&b"*2\r\n$16\r\nlistener:deleted\r\n$1\r\nx\r\n"[..])
    );
}

#[test]
fn key_server_events() {
    let srv = start(&[]);
    let mut c = Conn::new(&srv);
    assert_eq!(c.call("SET a 1"), b"+OK\r\n");
    assert_eq!(c.call("SET a 2"), b"+OK\r\n");
    assert_eq!(c.call("DEL a"), b":1\r\n");
    assert_eq!(c.call("SET e v PX 20"), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(c.call("GET e"), b"$-1\r\n");
    assert_eq!(
        bulks(&c.call("LISTENER.SERVER")),
        ["Loading(Start)", "Loading(End)", "key-overwritten:a", "key-deleted:a", "key-expired:e"]
    );
}

#[test]
fn a_panicking_listener_is_logged_and_the_server_goes_on() {
    let srv = start(&[]);
    let mut c = Conn::new(&srv);
    assert_eq!(c.call("SET listener:panic 1"), b"+OK\r\n");
    assert_eq!(c.call("GET listener:panic"), b"$1\r\n1\r\n");
    // Events after it are still delivered.
    assert_eq!(c.call("DEL after"), b":0\r\n");
    assert_eq!(c.call("SET after 1"), b"+OK\r\n");
    assert_eq!(c.call("DEL after"), b":1\r\n");
    assert_eq!(c.call("LISTENER.LASTDEL"), b"$5\r\nafter\r\n");
    std::thread::sleep(Duration::from_millis(50));
    let log = std::fs::read_to_string(srv.dir.join("server.log")).unwrap_or_default();
    assert!(
        log.contains("<listener> keyspace event listener panicked: asked to panic on"),
        "{log}"
    );
}

#[test]
fn module_events_reach_pubsub_subscribers() {
    let srv = start(&[]);
    let mut c = Conn::new(&srv);
    assert_eq!(c.call("CONFIG SET notify-keyspace-events KEd"), b"+OK\r\n");
    let mut sub = Conn::new(&srv);
    sub.call("PSUBSCRIBE __key*__:*");
    assert_eq!(c.call("LISTENER.EMIT mykey custom"), b"+OK\r\n");
    assert_eq!(
        sub.reply(),
        b"*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$20\r\n__keyspace@0__:mykey\r\n$6\r\ncustom\r\n"
    );
    assert_eq!(
        sub.reply(),
        b"*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$21\r\n__keyevent@0__:custom\r\n$5\r\nmykey\r\n"
    );
    // Its own listener gets the module class too.
    assert!(stats(&mut c).contains("custom"));
    // Without `d` in the configuration, subscribers see nothing; the listener still does.
    assert_eq!(c.call("CONFIG SET notify-keyspace-events KEg"), b"+OK\r\n");
    assert_eq!(c.call("LISTENER.EMIT mykey quiet"), b"+OK\r\n");
    assert_eq!(sub.reply_within(Duration::from_millis(200)), None);
    assert!(stats(&mut c).contains("quiet"));
}

/// The commands of the AOF's incremental file, as text.
fn aof_text(srv: &Server) -> String {
    let dir = srv.dir.join("appendonlydir");
    let manifest = std::fs::read_to_string(dir.join("appendonly.aof.manifest")).unwrap();
    let line = manifest.lines().rfind(|l| l.ends_with("type i")).expect("an incr file");
    let file = dir.join(line.split(' ').nth(1).unwrap());
    String::from_utf8_lossy(&std::fs::read(file).unwrap()).replace("\r\n", " ")
}

#[test]
fn module_commands_choose_what_replicates() {
    let srv = start(&["--appendonly", "yes"]);
    let mut c = Conn::new(&srv);
    // replicate(): the INCR it called is replaced by the SET it chose.
    assert_eq!(c.call("LISTENER.INCR n"), b":1\r\n");
    assert_eq!(c.call("LISTENER.INCR n"), b":2\r\n");
    // replicate_verbatim(): the command itself, not the SET it called.
    assert_eq!(c.call("LISTENER.SETV k v"), b"+OK\r\n");
    // Neither, and no write: nothing.
    c.call("LISTENER.STATS");
    c.call("LISTENER.EMIT k ping");
    // Inside MULTI/EXEC: the chosen command takes the place of the INCR in the transaction.
    assert_eq!(c.call("MULTI"), b"+OK\r\n");
    assert_eq!(c.call("LISTENER.INCR n"), b"+QUEUED\r\n");
    assert_eq!(c.call("SET x 1"), b"+QUEUED\r\n");
    assert_eq!(c.call("EXEC"), b"*2\r\n:3\r\n+OK\r\n");
    assert_eq!(c.call("SET marker 1"), b"+OK\r\n");
    let want = "*2 $6 SELECT $1 0 *3 $3 SET $1 n $1 1 *3 $3 SET $1 n $1 2 \
                *3 $13 LISTENER.SETV $1 k $1 v *1 $5 MULTI *3 $3 SET $1 n $1 3 \
                *3 $3 SET $1 x $1 1 *1 $4 EXEC *3 $3 SET $6 marker $1 1 ";
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = aof_text(&srv);
        if got.ends_with(want) || Instant::now() > deadline {
            assert!(got.ends_with(want), "AOF: {got:?}");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    // A listener's writes propagate as ordinary commands, after what raised them.
    assert_eq!(c.call("SET gone v PX 30"), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(c.call("GET gone"), b"$-1\r\n");
    let want = "*2 $3 DEL $4 gone *2 $4 INCR $16 listener:expired ";
    let deadline = Instant::now() + Duration::from_secs(5);
    while !aof_text(&srv).ends_with(want) {
        assert!(Instant::now() < deadline, "AOF: {:?}", aof_text(&srv));
        std::thread::sleep(Duration::from_millis(20));
    }
}
