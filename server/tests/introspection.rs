//! Introspection and operations commands: COMMAND, INFO, MEMORY, DEBUG, TIME, LASTSAVE,
//! SHUTDOWN. Exact replies were recorded from Redis 7.0.15.

use crate::common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{show, Raw, Server};

/// The body of a bulk (RESP2) reply.
fn bulk_body(reply: &[u8]) -> String {
    assert_eq!(reply[0], b'$', "not a bulk: {}", show(reply));
    let start = reply.iter().position(|&b| b == b'\n').unwrap() + 1;
    String::from_utf8(reply[start..reply.len() - 2].to_vec()).unwrap()
}

fn info(r: &mut Raw, args: &str) -> String {
    bulk_body(&r.line(&format!("INFO {args}")))
}

/// `field:value` of an INFO text.
fn info_field<'a>(text: &'a str, field: &str) -> Option<&'a str> {
    text.split("\r\n").find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
}

fn headers(text: &str) -> Vec<&str> {
    text.split("\r\n").filter(|l| l.starts_with("# ")).collect()
}

/// Reads the RESP3 HELLO reply away.
fn hello3(r: &mut Raw) {
    let hello = r.line("HELLO 3");
    assert_eq!(hello[0], b'%', "{}", show(&hello));
}

#[test]
fn command_count_and_all() {
    let s = Server::start();
    let mut r = s.raw();
    // Redis 7.0 has 240 top-level commands; Vireo describes every one of them.
    assert_eq!(r.int("COMMAND COUNT"), 240);
    let all = r.line("COMMAND");
    assert!(all.starts_with(b"*240\r\n"), "{}", show(&all[..20]));
    let info_all = r.line("COMMAND INFO");
    assert_eq!(all, info_all);
    r.expect("COMMAND COUNT x", b"-ERR wrong number of arguments for 'command|count' command\r\n");
    r.expect("COMMAND foo", b"-ERR unknown subcommand 'foo'. Try COMMAND HELP.\r\n");
}

const INFO_GET: &[u8] =
    b"*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n\
      +@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n\
      $12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\n\
      index\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n\
      $7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";

#[test]
fn command_info_exact() {
    let s = Server::start();
    let mut r = s.raw();
    let mut get = b"*1\r\n".to_vec();
    get.extend_from_slice(INFO_GET);
    r.expect("COMMAND INFO get", &get);
    r.expect("COMMAND INFO GET", &get);
    r.expect(
        "COMMAND INFO set",
        b"*1\r\n*10\r\n$3\r\nset\r\n:-3\r\n*2\r\n+write\r\n+denyoom\r\n:1\r\n:1\r\n:1\r\n*3\r\n\
      +@write\r\n+@string\r\n+@slow\r\n*0\r\n*1\r\n*8\r\n$5\r\nnotes\r\n$48\r\n\
      RW and ACCESS due to the optional `GET` argument\r\n$5\r\nflags\r\n*4\r\n+RW\r\n\
      +access\r\n+update\r\n+variable_flags\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\n\
      index\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n\
      $5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\n\
      limit\r\n:0\r\n*0\r\n",
    );
    r.expect(
        "COMMAND INFO client|list",
        b"*1\r\n*10\r\n$11\r\nclient|list\r\n:-2\r\n*4\r\n+admin\r\n+noscript\r\n+loading\r\n\
      +stale\r\n:0\r\n:0\r\n:0\r\n*4\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n+@connection\r\n\
      *1\r\n$23\r\nnondeterministic_output\r\n*0\r\n*0\r\n",
    );
    // Unknown names answer a nil entry in place.
    let mut mixed = b"*3\r\n$-1\r\n".to_vec();
    mixed.extend_from_slice(INFO_GET);
    mixed.extend_from_slice(b"$-1\r\n");
    r.expect("COMMAND INFO nosuch get client|nosuch", &mixed);
    // A container lists its subcommands in the tenth element.
    let object = r.line("COMMAND INFO object");
    assert!(object.starts_with(b"*1\r\n*10\r\n$6\r\nobject\r\n:-2\r\n*0\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*0\r\n*0\r\n*5\r\n"));

    hello3(&mut r);
    r.expect(
        "COMMAND INFO set",
        b"*1\r\n*10\r\n$3\r\nset\r\n:-3\r\n~2\r\n+write\r\n+denyoom\r\n:1\r\n:1\r\n:1\r\n~3\r\n\
      +@write\r\n+@string\r\n+@slow\r\n~0\r\n~1\r\n%4\r\n$5\r\nnotes\r\n$48\r\n\
      RW and ACCESS due to the optional `GET` argument\r\n$5\r\nflags\r\n~4\r\n+RW\r\n\
      +access\r\n+update\r\n+variable_flags\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\n\
      index\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n\
      $5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\n\
      limit\r\n:0\r\n~0\r\n",
    );
    r.expect("COMMAND INFO nosuch", b"*1\r\n_\r\n");
}

#[test]
fn command_docs_exact() {
    let s = Server::start();
    let mut r = s.raw();
    r.expect(
        "COMMAND DOCS get",
        b"*2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n$5\r\n\
      since\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n\
      $9\r\narguments\r\n*1\r\n*6\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n\
      $14\r\nkey_spec_index\r\n:0\r\n",
    );
    // Unknown names are left out.
    r.expect("COMMAND DOCS nosuch", b"*0\r\n");
    let all = r.line("COMMAND DOCS");
    assert!(all.starts_with(b"*480\r\n"), "{}", show(&all[..20]));
    let list = r.line("COMMAND DOCS client|list");
    let text = String::from_utf8_lossy(&list);
    assert!(text.contains("$7\r\nhistory\r\n*6\r\n*2\r\n$6\r\n2.8.12\r\n"), "{text}");
    hello3(&mut r);
    r.expect(
        "COMMAND DOCS get",
        b"%1\r\n$3\r\nget\r\n%5\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n$5\r\nsince\r\n\
      $5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\n\
      arguments\r\n*1\r\n%3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\n\
      key_spec_index\r\n:0\r\n",
    );
    let rpoplpush = String::from_utf8_lossy(&r.line("COMMAND DOCS rpoplpush")).into_owned();
    assert!(
        rpoplpush.contains("$9\r\ndoc_flags\r\n~1\r\n+deprecated\r\n$16\r\ndeprecated_since\r\n")
    );
}

#[test]
fn command_getkeys() {
    let s = Server::start();
    let mut r = s.raw();
    r.script(&[
        ("COMMAND GETKEYS set a b", b"*1\r\n$1\r\na\r\n"),
        ("COMMAND GETKEYS mset a 1 b 2", b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        ("COMMAND GETKEYS eval x 2 a b c", b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        // EVAL may have no keys: no error
        ("COMMAND GETKEYS eval x 5 a b c", b"*0\r\n"),
        ("COMMAND GETKEYS zunionstore d 2 a b", b"*3\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\nb\r\n"),
        ("COMMAND GETKEYS zunionstore d 5 a b", b"-ERR Invalid arguments specified for command\r\n"),
        ("COMMAND GETKEYS sort a store b", b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        ("COMMAND GETKEYS memory usage k", b"*1\r\n$1\r\nk\r\n"),
        ("COMMAND GETKEYS xread streams a b 1 2", b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        ("COMMAND GETKEYS foo a", b"-ERR Invalid command specified\r\n"),
        ("COMMAND GETKEYS client foo", b"-ERR Invalid command specified\r\n"),
        ("COMMAND GETKEYS config get x", b"-ERR The command has no key arguments\r\n"),
        ("COMMAND GETKEYS spublish ch msg", b"-ERR The command has no key arguments\r\n"),
        ("COMMAND GETKEYS get a b", b"-ERR Invalid number of arguments specified for command\r\n"),
        ("COMMAND GETKEYS get", b"-ERR wrong number of arguments for 'command|getkeys' command\r\n"),
        (
            "COMMAND GETKEYSANDFLAGS set a b",
            b"*1\r\n*2\r\n$1\r\na\r\n*2\r\n+OW\r\n+update\r\n",
        ),
        (
            "COMMAND GETKEYSANDFLAGS lmove a b left right",
            b"*2\r\n*2\r\n$1\r\na\r\n*3\r\n+RW\r\n+access\r\n+delete\r\n*2\r\n$1\r\nb\r\n*2\r\n+RW\r\n\
      +insert\r\n",
        ),
    ]);
    hello3(&mut r);
    r.expect(
        "COMMAND GETKEYSANDFLAGS set a b get",
        b"*1\r\n*2\r\n$1\r\na\r\n~3\r\n+RW\r\n+access\r\n+update\r\n",
    );
}

#[test]
fn command_list_and_help() {
    let s = Server::start();
    let mut r = s.raw();
    let all = String::from_utf8(r.line("COMMAND LIST")).unwrap();
    // Redis 7.0's 366 commands and subcommands, and CLIENT NO-TOUCH and SETINFO (7.2).
    assert!(all.starts_with("*368\r\n"), "{}", &all[..10]);
    assert!(all.contains("\r\nclient|setinfo\r\n") && all.contains("\r\nclient|no-touch\r\n"));
    assert!(all.contains("\r\nclient|list\r\n") && all.contains("\r\nget\r\n"));
    let listed = String::from_utf8(r.line("COMMAND LIST FILTERBY PATTERN cl*")).unwrap();
    let mut names: Vec<&str> = listed
        .split("\r\n")
        .filter(|n| !n.is_empty() && !n.starts_with('*') && !n.starts_with('$'))
        .collect();
    names.sort();
    assert_eq!(&names[..3], ["client", "client|caching", "client|getname"]);
    assert!(names.iter().all(|n| n.starts_with("cl")));
    let admin = String::from_utf8(r.line("COMMAND LIST FILTERBY ACLCAT admin")).unwrap();
    assert!(admin.contains("\r\nshutdown\r\n") && !admin.contains("\r\nget\r\n"));
    r.script(&[
        ("COMMAND LIST FILTERBY ACLCAT nosuch", b"*0\r\n"),
        ("COMMAND LIST FILTERBY MODULE foo", b"*0\r\n"),
        ("COMMAND LIST FILTERBY", b"-ERR syntax error\r\n"),
        ("COMMAND LIST FILTERBY foo bar", b"-ERR syntax error\r\n"),
        ("COMMAND LIST x", b"-ERR syntax error\r\n"),
    ]);
    let help = r.line("COMMAND HELP");
    assert!(help.starts_with(
        b"*21\r\n+COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
    ));
    assert!(help.ends_with(b"+HELP\r\n+    Prints this help.\r\n"));
}

/// The sections and the field order of Redis 7.0's INFO.
const SERVER_FIELDS: &[&str] = &[
    "redis_version",
    "redis_git_sha1",
    "redis_git_dirty",
    "redis_build_id",
    "redis_mode",
    "os",
    "arch_bits",
    "monotonic_clock",
    "multiplexing_api",
    "atomicvar_api",
    "gcc_version",
    "process_id",
    "process_supervised",
    "run_id",
    "tcp_port",
    "server_time_usec",
    "uptime_in_seconds",
    "uptime_in_days",
    "hz",
    "configured_hz",
    "lru_clock",
    "executable",
    "config_file",
    "io_threads_active",
];

fn field_names(text: &str) -> Vec<&str> {
    text.split("\r\n").filter_map(|l| l.split_once(':').map(|(k, _)| k)).collect()
}

#[test]
fn info_sections() {
    let s = Server::start();
    let mut r = s.raw();
    let default = info(&mut r, "");
    assert_eq!(
        headers(&default),
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Errorstats",
            "# Cluster",
            "# Keyspace"
        ]
    );
    assert!(default.ends_with("\r\n") && !default.ends_with("\r\n\r\n"));
    assert!(default.contains("\r\n\r\n# Clients\r\nconnected_clients:"));
    // The readiness probe's connection may not be gone yet.
    let clients: u64 = info_field(&default, "connected_clients").unwrap().parse().unwrap();
    assert!((1..=2).contains(&clients), "{clients}");
    let all = info(&mut r, "all");
    assert_eq!(headers(&all).len(), 13);
    assert!(all.contains("# Commandstats\r\n") && all.contains("# Latencystats\r\n"));
    assert_eq!(headers(&info(&mut r, "everything")), headers(&all));
    assert_eq!(headers(&info(&mut r, "default commandstats")).len(), 12);
    // Several sections at once come out in INFO's own order; names are case-insensitive.
    assert_eq!(headers(&info(&mut r, "KEYSPACE cpu server")), ["# Server", "# CPU", "# Keyspace"]);
    r.expect("INFO nosuch", b"$0\r\n\r\n");

    let server = info(&mut r, "server");
    assert_eq!(field_names(&server), SERVER_FIELDS);
    assert_eq!(info_field(&server, "redis_mode"), Some("standalone"));
    assert_eq!(info_field(&server, "tcp_port"), Some(s.port.to_string().as_str()));
    assert_eq!(info_field(&server, "run_id").unwrap().len(), 40);
    assert!(info_field(&server, "redis_version").unwrap().starts_with("7."));

    let mem = info(&mut r, "memory");
    let used: u64 = info_field(&mem, "used_memory").unwrap().parse().unwrap();
    assert!(used > 0);
    let peak: u64 = info_field(&mem, "used_memory_peak").unwrap().parse().unwrap();
    assert!(peak >= used);
    assert!(info_field(&mem, "mem_allocator").unwrap().starts_with("jemalloc-"));
    assert!(info_field(&mem, "used_memory_human").unwrap().ends_with(['B', 'K', 'M', 'G']));
    assert_eq!(info_field(&mem, "maxmemory_policy"), Some("noeviction"));
    let rss: u64 = info_field(&mem, "used_memory_rss").unwrap().parse().unwrap();
    assert!(rss > 0);

    let repl = info(&mut r, "replication");
    assert_eq!(info_field(&repl, "role"), Some("master"));
    assert_eq!(info_field(&repl, "master_replid").unwrap().len(), 40);
    let pers = info(&mut r, "persistence");
    assert_eq!(info_field(&pers, "loading"), Some("0"));
    assert_eq!(info_field(&pers, "aof_enabled"), Some("0"));
    assert!(info_field(&info(&mut r, "cpu"), "used_cpu_user").unwrap().contains('.'));
    assert_eq!(info(&mut r, "cluster"), "# Cluster\r\ncluster_enabled:0\r\n");
    let stats = info(&mut r, "stats");
    assert!(field_names(&stats).contains(&"instantaneous_ops_per_sec"));
    assert_eq!(field_names(&stats).len(), 50);

    // RESP3: a verbatim string.
    hello3(&mut r);
    let v = r.line("INFO cluster");
    assert_eq!(v, b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n");
}

#[test]
fn info_keyspace_and_stats() {
    let s = Server::start();
    let mut r = s.raw();
    assert_eq!(info(&mut r, "keyspace"), "# Keyspace\r\n");
    r.expect("SET a 1", b"+OK\r\n");
    r.expect("SET b 2 EX 100", b"+OK\r\n");
    r.expect("SELECT 3", b"+OK\r\n");
    r.expect("SET c 3", b"+OK\r\n");
    let ks = info(&mut r, "keyspace");
    assert!(ks.starts_with("# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl="), "{ks}");
    assert!(ks.ends_with("\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n"), "{ks}");
    let pers = info(&mut r, "persistence");
    assert_eq!(info_field(&pers, "rdb_changes_since_last_save"), Some("3"));
    // The cron estimates avg_ttl as it sweeps keys with an expiry.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ks = info(&mut r, "keyspace");
        let avg: u64 =
            ks.split("avg_ttl=").nth(1).unwrap().split("\r\n").next().unwrap().parse().unwrap();
        if avg > 0 {
            assert!(avg <= 100_000, "{ks}");
            break;
        }
        assert!(Instant::now() < deadline, "avg_ttl stays 0: {ks}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn commandstats_errorstats_latencystats() {
    let s = Server::start();
    let mut r = s.raw();
    r.expect("SET k v", b"+OK\r\n");
    r.expect("GET k", b"$1\r\nv\r\n");
    r.expect("GET k", b"$1\r\nv\r\n");
    r.expect("INCR k", b"-ERR value is not an integer or out of range\r\n");
    r.expect("GET", b"-ERR wrong number of arguments for 'get' command\r\n");
    r.expect("NOSUCHCMD", b"-ERR unknown command 'NOSUCHCMD', with args beginning with: \r\n");
    r.expect("COMMAND COUNT", b":240\r\n");
    let text = info(&mut r, "commandstats");
    let line = |name: &str| {
        text.split("\r\n")
            .find(|l| l.starts_with(&format!("cmdstat_{name}:")))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .to_string()
    };
    assert!(line("get").starts_with("cmdstat_get:calls=2,usec="), "{text}");
    assert!(line("get").ends_with(",rejected_calls=1,failed_calls=0"), "{text}");
    assert!(line("incr").starts_with("cmdstat_incr:calls=1,"), "{text}");
    assert!(line("incr").ends_with(",rejected_calls=0,failed_calls=1"), "{text}");
    assert!(line("command|count").starts_with("cmdstat_command|count:calls=1,"), "{text}");
    // Commands never called are left out.
    assert!(!text.contains("cmdstat_del:"));

    let errs = info(&mut r, "errorstats");
    assert_eq!(errs, "# Errorstats\r\nerrorstat_ERR:count=3\r\n");
    let stats = info(&mut r, "stats");
    assert_eq!(info_field(&stats, "total_error_replies"), Some("3"));

    let lat = info(&mut r, "latencystats");
    let get =
        lat.split("\r\n").find(|l| l.starts_with("latency_percentiles_usec_get:")).expect(&lat);
    let values: Vec<&str> = get.split(':').nth(1).unwrap().split(',').collect();
    assert_eq!(values.len(), 3);
    assert!(
        values[0].starts_with("p50=")
            && values[1].starts_with("p99=")
            && values[2].starts_with("p99.9=")
    );
    // Only commands that ran have percentiles.
    assert!(!lat.contains("latency_percentiles_usec_incrby:"));
}

#[test]
fn memory_commands() {
    let s = Server::start();
    let mut r = s.raw();
    r.expect("SET foo bar", b"+OK\r\n");
    let usage = r.int("MEMORY USAGE foo");
    assert!((16..=256).contains(&usage), "{usage}");
    let big = "x".repeat(10_000);
    r.call(&["SET", "big", &big]);
    let big_usage = r.int("MEMORY USAGE big SAMPLES 0");
    assert!((10_000..=20_000).contains(&big_usage), "{big_usage}");
    r.script(&[
        ("MEMORY USAGE nokey", b"$-1\r\n"),
        ("MEMORY USAGE foo SAMPLES", b"-ERR syntax error\r\n"),
        ("MEMORY USAGE foo SAMPLES x", b"-ERR value is not an integer or out of range\r\n"),
        ("MEMORY USAGE foo SAMPLES -1", b"-ERR syntax error\r\n"),
        ("MEMORY USAGE foo BLAH 1", b"-ERR syntax error\r\n"),
        ("MEMORY PURGE", b"+OK\r\n"),
    ]);
    let stats = String::from_utf8(r.line("MEMORY STATS")).unwrap();
    assert!(stats.starts_with("*56\r\n$14\r\npeak.allocated\r\n:"), "{stats}");
    assert!(stats.contains("$10\r\nkeys.count\r\n:2\r\n"), "{stats}");
    assert!(stats.contains("$4\r\ndb.0\r\n*6\r\n$23\r\noverhead.hashtable.main\r\n"), "{stats}");
    let doctor = r.line("MEMORY DOCTOR");
    assert_eq!(doctor[0], b'$');
    let malloc = bulk_body(&r.line("MEMORY MALLOC-STATS"));
    assert!(malloc.contains("jemalloc"), "{}", &malloc[..malloc.len().min(200)]);
    let help = r.line("MEMORY HELP");
    assert!(help.starts_with(
        b"*14\r\n+MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
    ));
}

#[test]
fn debug_commands() {
    let s = Server::start_with(&["--enable-debug-command", "yes"]);
    let mut r = s.raw();
    r.script(&[
        ("DEBUG SLEEP 0", b"+OK\r\n"),
        ("DEBUG SLEEP 0.01", b"+OK\r\n"),
        ("DEBUG SET-ACTIVE-EXPIRE 0", b"+OK\r\n"),
        ("DEBUG SET-ACTIVE-EXPIRE 1", b"+OK\r\n"),
        ("DEBUG OBJECT nokey", b"-ERR no such key\r\n"),
        ("DEBUG ERROR \"FOO bar\"", b"-FOO bar\r\n"),
        ("DEBUG PROTOCOL map", b"*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n"),
        ("DEBUG PROTOCOL push", b"-ERR RESP2 is not supported by this command\r\n"),
        ("DEBUG LOG hello", b"+OK\r\n"),
        (
            "DEBUG SLEEP",
            b"-ERR unknown subcommand or wrong number of arguments for 'SLEEP'. Try DEBUG HELP.\r\n",
        ),
        (
            "DEBUG jmap",
            b"-ERR unknown subcommand or wrong number of arguments for 'jmap'. Try DEBUG HELP.\r\n",
        ),
        ("DEBUG", b"-ERR wrong number of arguments for 'debug' command\r\n"),
        ("SET n 12", b"+OK\r\n"),
        ("SET s hello", b"+OK\r\n"),
        ("SET big 123456789012", b"+OK\r\n"),
    ]);
    let obj = |r: &mut Raw, k: &str| {
        let reply = String::from_utf8(r.line(&format!("DEBUG OBJECT {k}"))).unwrap();
        assert!(reply.starts_with("+Value at:0x"), "{reply}");
        reply[reply.find(" refcount").unwrap() + 1..reply.find(" lru:").unwrap()].to_string()
    };
    assert_eq!(obj(&mut r, "n"), "refcount:2147483647 encoding:int serializedlength:2");
    assert_eq!(obj(&mut r, "s"), "refcount:1 encoding:embstr serializedlength:6");
    assert_eq!(obj(&mut r, "big"), "refcount:1 encoding:int serializedlength:13");

    let before = info_field(&info(&mut r, "replication"), "master_replid").unwrap().to_string();
    r.expect("DEBUG CHANGE-REPL-ID", b"+OK\r\n");
    let after = info(&mut r, "replication");
    assert_ne!(info_field(&after, "master_replid").unwrap(), before);
    assert_eq!(
        info_field(&after, "master_replid2"),
        Some("0000000000000000000000000000000000000000")
    );

    r.expect("DEBUG POPULATE 10", b"+OK\r\n");
    r.expect("DEBUG POPULATE 5 p 20", b"+OK\r\n");
    r.expect("GET key:3", b"$7\r\nvalue:3\r\n");
    r.expect("STRLEN p:4", b":20\r\n");
    r.expect("DEBUG POPULATE -1", b"-ERR value is out of range, must be positive\r\n");
    let help = r.line("DEBUG HELP");
    assert!(help.starts_with(b"*"));

    // DEBUG SLEEP holds the whole server.
    let mut other = s.raw();
    r.send_cmd(&["DEBUG", "SLEEP", "1"]);
    std::thread::sleep(Duration::from_millis(200));
    let ping = Instant::now();
    other.expect("PING", b"+PONG\r\n");
    assert!(ping.elapsed() >= Duration::from_millis(400), "{:?}", ping.elapsed());
    assert_eq!(r.read_reply(), b"+OK\r\n");
}

#[test]
fn time_and_lastsave() {
    let s = Server::start();
    let mut r = s.raw();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        as i64;
    let t = r.line("TIME");
    let text = String::from_utf8(t).unwrap();
    let parts: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(parts[0], "*2");
    let secs: i64 = parts[2].parse().unwrap();
    let usecs: i64 = parts[4].parse().unwrap();
    assert!((secs - now).abs() <= 2);
    assert!((0..1_000_000).contains(&usecs));
    let last = r.int("LASTSAVE");
    assert!(last <= now + 1 && last > now - 60);
    r.expect("TIME x", b"-ERR wrong number of arguments for 'time' command\r\n");
}

/// A server whose exit status the test can see.
struct Proc {
    child: std::process::Child,
    port: u16,
    /// Its own working directory (where an RDB file would go).
    dir: std::path::PathBuf,
}

impl Proc {
    fn start() -> Proc {
        for _ in 0..5 {
            let port = common::free_port();
            let dir = std::env::temp_dir()
                .join(format!("vireo-introspection-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let mut child = Command::new(env!("CARGO_BIN_EXE_vireo-server"))
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            if common::wait_ready(port, Some(&mut child)) {
                return Proc { child, port, dir };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("vireo-server did not start");
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn shutdown_exits_zero() {
    let mut p = Proc::start();
    // A directory where the RDB file would go makes the save of SHUTDOWN SAVE fail.
    std::fs::create_dir_all(p.dir.join("dump.rdb/x")).unwrap();
    let mut r = Raw::connect(p.port);
    r.script(&[
        ("SHUTDOWN ABORT", b"-ERR No shutdown in progress.\r\n"),
        ("SHUTDOWN NOSAVE SAVE", b"-ERR syntax error\r\n"),
        ("SHUTDOWN ABORT NOW", b"-ERR syntax error\r\n"),
        ("SHUTDOWN foo", b"-ERR syntax error\r\n"),
        ("SHUTDOWN SAVE", b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"),
        ("PING", b"+PONG\r\n"),
    ]);
    // No reply: the connection just closes.
    let mut c = std::net::TcpStream::connect(("127.0.0.1", p.port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(&common::encode(&["SHUTDOWN", "NOSAVE"])).unwrap();
    let mut buf = [0u8; 16];
    let n = c.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "{}", show(&buf[..n]));
    let st = p.wait_exit();
    assert_eq!(st.code(), Some(0), "{st:?}");
}

#[test]
fn sigterm_and_sigint_exit_zero() {
    for sig in [libc_sigterm(), libc_sigint()] {
        let mut p = Proc::start();
        let mut r = Raw::connect(p.port);
        r.expect("PING", b"+PONG\r\n");
        let ok = Command::new("kill")
            .args([format!("-{sig}"), p.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let st = p.wait_exit();
        assert_eq!(st.code(), Some(0), "signal {sig}: {st:?}");
    }
}

fn libc_sigterm() -> i32 {
    15
}

fn libc_sigint() -> i32 {
    2
}

/// keyspace_hits / keyspace_misses count read lookups as Redis 7.0.15 counted them for each of
/// these commands, run alone after CONFIG RESETSTAT (recorded from it).
#[test]
fn keyspace_hits_and_misses_count_read_lookups() {
    let srv = Server::start();
    let mut r = srv.raw();
    let cases: &[(&str, u64, u64)] = &[
        ("set a 1", 0, 0),
        ("get a", 1, 0),
        ("get nokey", 0, 1),
        ("mget a b c", 1, 2),
        ("exists a b", 1, 1),
        ("type zz", 0, 1),
        ("hset h f v", 0, 0),
        ("hget h g", 1, 0),
        ("lrange nolist 0 -1", 0, 1),
        ("object encoding a", 1, 0),
        ("memory usage h", 0, 0),
        ("scan 0", 0, 0),
        ("sadd s1 x", 0, 0),
        ("sinter s1 h2 s3", 1, 2),
        ("sinterstore d s1 nos", 1, 1),
        ("incr a", 0, 0),
        ("pttl h", 1, 0),
        ("getset nn 3", 0, 1),
        ("getset nn 4", 1, 0),
        ("set q 1 get", 0, 1),
        ("set q 2 get", 1, 0),
        ("getex nope", 0, 1),
        ("getex q", 1, 0),
        ("getdel nope", 0, 1),
        ("getdel q", 1, 0),
        ("watch a nokey", 0, 0),
        ("eval_ro \"return redis.call('get', KEYS[1])\" 1 nokey", 0, 1),
        ("eval_ro \"return redis.call('mget', KEYS[1], 'a')\" 1 nokey", 1, 1),
        // What a write reads, up to where it stops (as Redis 7.0, measured side by side).
        ("pfmerge newhll nohll", 0, 2),
        ("pfmerge newhll nohll", 1, 1),
        ("sinterstore d s1 a nos", 2, 0),
        ("bitop and d a s1 nos", 2, 0),
        ("copy a a", 0, 0),
        ("copy a a2 db 99", 0, 0),
        ("copy nokey a2", 0, 1),
        ("bitfield a get u8 0", 1, 0),
        ("bitfield a set u8 0 1", 0, 0),
        ("xack nostream g 1-1", 0, 1),
        ("xclaim nostream g c 0 1-1", 0, 1),
        ("rpush l 1 2", 0, 0),
        ("sort l by w_* get h_*", 1, 4),
        ("zunionstore d 2 s1 nozset", 1, 1),
        ("lmove l l2 left left", 0, 0),
    ];
    for (line, hits, misses) in cases {
        r.expect("config resetstat", b"+OK\r\n");
        r.line(line);
        let info = String::from_utf8(r.line("info stats")).unwrap();
        let got = |f| info_field(&info, f).unwrap().parse::<u64>().unwrap();
        assert_eq!(
            (got("keyspace_hits"), got("keyspace_misses")),
            (*hits, *misses),
            "after `{line}`"
        );
    }
}

/// A blocked XREAD / XREADGROUP counts its lookups when it runs, not again when an XADD serves
/// it (Redis 7.0 serves it from the key without a counted lookup; measured side by side).
#[test]
fn serving_a_blocked_read_counts_no_lookups() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.expect("XGROUP CREATE s g $ MKSTREAM", b"+OK\r\n");
    for (block, hits) in
        [("XREADGROUP GROUP g c BLOCK 5000 STREAMS s >", 2), ("XREAD BLOCK 5000 STREAMS s $", 2)]
    {
        r.expect("CONFIG RESETSTAT", b"+OK\r\n");
        let mut waiter = srv.raw();
        waiter.send_cmd(&common::split_args(block));
        common::eventually(5, "a blocked client", || {
            info(&mut r, "clients").contains("blocked_clients:1\r\n")
        });
        let got = |r: &mut Raw| r.info_field("stats", "keyspace_hits");
        assert_eq!(got(&mut r), hits.to_string(), "after `{block}` blocked");
        r.line("XADD s * f v");
        assert!(waiter.read_reply().starts_with(b"*1\r\n"));
        assert_eq!(got(&mut r), hits.to_string(), "after `{block}` was served");
    }
}

/// `total_net_output_bytes` counts every byte written to clients: replies, messages pushed to
/// subscribers, and the reply of a served blocked command. Since CONFIG RESETSTAT: its `+OK`
/// (5), PUBLISH's `:1` (4), the message (36), RPUSH's `:1` (4) and BLPOP's reply (18); the
/// INFO reply itself is counted after it is written. `total_writes_processed` counts those five
/// writes. The same on Redis 7.0 when one is found.
#[test]
fn net_output_counts_pushed_messages_and_served_replies() {
    fn run(srv: &Server) -> (String, String) {
        let (mut p, mut sub, mut waiter) = (srv.raw(), srv.raw(), srv.raw());
        sub.send(b"SUBSCRIBE ch\r\n");
        assert_eq!(sub.read_reply(), b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
        waiter.send(b"BLPOP q 0\r\n");
        common::eventually(5, "a blocked client", || {
            info(&mut p, "clients").contains("blocked_clients:1\r\n")
        });
        p.expect("CONFIG RESETSTAT", b"+OK\r\n");
        p.expect("PUBLISH ch hello", b":1\r\n");
        assert_eq!(sub.read_reply(), b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
        p.expect("RPUSH q v", b":1\r\n");
        assert_eq!(waiter.read_reply(), b"*2\r\n$1\r\nq\r\n$1\r\nv\r\n");
        let stats = info(&mut p, "stats");
        let field = |f| info_field(&stats, f).unwrap().to_string();
        (field("total_net_output_bytes"), field("total_writes_processed"))
    }
    // Five writes, one per reply or message.
    let want = ("67".to_string(), "5".to_string());
    assert_eq!(run(&Server::start()), want);
    match Server::start_reference("redis") {
        Some(redis) => assert_eq!(run(&redis), want),
        None => eprintln!("SKIPPED the Redis side: no reference Redis (VIREO_REFERENCE_REDIS)"),
    }
}

/// LOLWUT: the version line, Schotter in Braille (VERSION 5) and the skyline (VERSION 6). The
/// drawings are random, so only their shape is checked; the same checks pass on Redis 7.0.
#[test]
fn lolwut_shapes_and_captions() {
    fn run(srv: &Server) {
        let mut r = srv.raw();
        let version = r.info_field("server", "redis_version");
        let plain = format!("Redis ver. {version}\n");
        for line in ["LOLWUT", "LOLWUT foo", "LOLWUT VERSION", "LOLWUT 5 6", "LOLWUT VERSION 7 x"] {
            assert_eq!(bulk_body(&r.line(line)), plain, "{line}");
        }
        for line in
            ["LOLWUT VERSION x", "LOLWUT VERSION 05", "LOLWUT VERSION 5 x", "LOLWUT VERSION 6 1 y"]
        {
            r.expect(line, b"-ERR value is not an integer or out of range\r\n");
        }

        // VERSION 5: lines of `columns` Braille characters, an empty line, the caption.
        let caption =
            format!("Georg Nees - schotter, plotter on paper, 1968. Redis ver. {version}\n");
        assert_eq!(bulk_body(&r.line("LOLWUT VERSION 5 1 1 1")), format!("\u{280b}\n\n{caption}"));
        for (args, cols, lines) in [("10 2 2", 10, 5), ("20 3 4", 20, 13), ("", 66, 49)] {
            let text = bulk_body(&r.line(&format!("LOLWUT VERSION 5 {args}")));
            let drawing = text.strip_suffix(&format!("\n\n{caption}")).expect(&text);
            let rows: Vec<&str> = drawing.split('\n').collect();
            assert_eq!(rows.len(), lines, "{args}: {text}");
            for row in rows {
                assert_eq!(row.chars().count(), cols, "{args}: {row}");
                assert!(row.chars().all(|c| ('\u{2800}'..='\u{28ff}').contains(&c)), "{row}");
            }
        }
        // The first row of squares is drawn straight: `10 2 2` starts as Redis's does.
        let text = bulk_body(&r.line("LOLWUT VERSION 5 10 2 2"));
        assert!(text.starts_with("\u{2800}\u{2864}\u{2824}\u{2824}\u{2824}\u{2864}"), "{text}");
        // Huge and negative sizes are clamped.
        let text = bulk_body(&r.line("LOLWUT VERSION 5 99999 -3 0"));
        assert_eq!(text.split('\n').next().unwrap().chars().count(), 1000);

        // VERSION 6: `rows` lines of `columns` colored cells, then two caption lines.
        const CELLS: [&str; 4] = [
            "\x1b[0;97;107m \x1b[0m",
            "\x1b[0;37;47m \x1b[0m",
            "\x1b[0;90;100m \x1b[0m",
            "\x1b[0;30;40m \x1b[0m",
        ];
        let caption = format!(
            "Dedicated to the 8 bit game developers of past and present.\n\
             Original 8 bit image from Plaguemon by hikikomori. Redis ver. {version}\n"
        );
        for (args, cols, rows) in [("7 3", 7, 3), ("30 12", 30, 12), ("", 80, 20), ("-4 0", 1, 1)] {
            let text = bulk_body(&r.line(&format!("LOLWUT VERSION 6 {args}")));
            let drawing = text.strip_suffix(&format!("\n{caption}")).expect(&text);
            let lines: Vec<&str> = drawing.split('\n').collect();
            assert_eq!(lines.len(), rows, "{args}: {text:?}");
            for mut line in lines {
                let mut n = 0;
                while !line.is_empty() {
                    let cell = CELLS.iter().find(|c| line.starts_with(**c)).expect(line);
                    line = &line[cell.len()..];
                    n += 1;
                }
                assert_eq!(n, cols, "{args}");
            }
        }

        // RESP3: a verbatim string.
        hello3(&mut r);
        r.expect("LOLWUT", format!("={}\r\ntxt:{plain}\r\n", plain.len() + 4).as_bytes());
    }
    run(&Server::start());
    match Server::start_reference("redis") {
        Some(redis) => run(&redis),
        None => eprintln!("SKIPPED the Redis side: no reference Redis (VIREO_REFERENCE_REDIS)"),
    }
}
