//! Modules: `sdk-examples/hello` built with cargo, loaded by `loadmodule` and by MODULE LOAD into
//! a running server, and used over the wire on RESP2 and RESP3; refusals of what is not a
//! loadable module; a panicking module command.

use crate::common;

use std::sync::OnceLock;
use std::time::Duration;

use common::{build_module, show, Server};

fn hello() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| build_module("vireo-example-hello", "vireo_hello").display().to_string())
}

fn future_api() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| {
        build_module("vireo-test-future-api", "vireo_test_future_api").display().to_string()
    })
}

/// A shared library that is not a Vireo module: the C library this test runs with.
fn libc_path() -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("/libc.so") || p.contains("/libc-"))
        .expect("libc is mapped")
        .to_string()
}

fn log_of(srv: &Server) -> String {
    // Log lines are written as they happen; give the last one a moment.
    std::thread::sleep(Duration::from_millis(50));
    std::fs::read_to_string(srv.dir.join("vireo.log")).unwrap_or_default()
}

fn start(extra: &[&str]) -> Server {
    let mut args = vec!["--logfile", "vireo.log", "--enable-module-command", "yes"];
    args.extend_from_slice(extra);
    Server::start_with(&args)
}

const TYPES_RESP2: &[u8] = b"*26\r\n\
+simple\r\n+OK\r\n\
+error\r\n-ERR an error inside a reply\r\n\
+int\r\n:-42\r\n\
+bulk\r\n$7\r\nbytes\x00\xff\r\n\
+null\r\n$-1\r\n\
+double\r\n$3\r\n3.5\r\n\
+bool\r\n:1\r\n\
+bignum\r\n$40\r\n1234567890123456789012345678901234567890\r\n\
+verbatim\r\n$9\r\nsome text\r\n\
+array\r\n*2\r\n:1\r\n:2\r\n\
+set\r\n*1\r\n$6\r\nmember\r\n\
+postponed\r\n*3\r\n:0\r\n:1\r\n:2\r\n\
+value\r\n*3\r\n+OK\r\n:7\r\n$-1\r\n";

const TYPES_RESP3: &[u8] = b"%13\r\n\
+simple\r\n+OK\r\n\
+error\r\n-ERR an error inside a reply\r\n\
+int\r\n:-42\r\n\
+bulk\r\n$7\r\nbytes\x00\xff\r\n\
+null\r\n_\r\n\
+double\r\n,3.5\r\n\
+bool\r\n#t\r\n\
+bignum\r\n(1234567890123456789012345678901234567890\r\n\
+verbatim\r\n=13\r\ntxt:some text\r\n\
+array\r\n*2\r\n:1\r\n:2\r\n\
+set\r\n~1\r\n$6\r\nmember\r\n\
+postponed\r\n*3\r\n:0\r\n:1\r\n:2\r\n\
+value\r\n*3\r\n+OK\r\n:7\r\n_\r\n";

#[test]
fn loadmodule_in_the_config_serves_commands_on_resp2_and_resp3() {
    let srv = start(&["--loadmodule", hello(), "howdy"]);
    let mut r = srv.raw();
    r.script(&[
        ("hello.echo hi", b"$2\r\nhi\r\n"),
        ("HELLO.ECHO hi", b"$2\r\nhi\r\n"),
        ("hello.echo", b"-ERR wrong number of arguments for 'hello.echo' command\r\n"),
        ("hello.add 2 0.25", b"$4\r\n2.25\r\n"),
        ("hello.add x 1", b"-ERR value is not an integer or out of range\r\n"),
        ("hello.add 1 x", b"-ERR value is not a valid float\r\n"),
        ("hello.greet world", b"+howdy world\r\n"),
        ("hello.setget k v1", b"$2\r\nv1\r\n"),
        ("get k", b"$2\r\nv1\r\n"),
        ("hello.call incrby n 5", b":5\r\n"),
        (
            "hello.call nosuchcommand",
            b"-ERR unknown command 'nosuchcommand', with args beginning with: \r\n",
        ),
    ]);
    r.expect("hello.types", TYPES_RESP2);
    assert!(r.line("hello 3").starts_with(b"%"));
    r.expect("hello.types", TYPES_RESP3);
    r.expect("hello.add 2 0.25", b",2.25\r\n");
    r.expect("hello.call hgetall nohash", b"%0\r\n");
    r.line("hset h f v");
    r.expect("hello.call hgetall h", b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
    assert!(r.line("hello 2").starts_with(b"*14\r\n"));
    r.expect("hello.call hgetall h", b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n");

    r.expect(
        "module list",
        format!(
            "*1\r\n*8\r\n$4\r\nname\r\n$5\r\nhello\r\n$3\r\nver\r\n:1\r\n$4\r\npath\r\n${}\r\n{}\r\n$4\r\nargs\r\n*1\r\n$5\r\nhowdy\r\n",
            hello().len(),
            hello()
        )
        .as_bytes(),
    );
    assert!(log_of(&srv).contains("hello module loaded with greeting 'howdy'"));
    let info = show(&r.line("info modules"));
    assert!(
        info.contains("# Modules\\r\\nmodule:name=hello,ver=1,api=1,filters=0,usedby=[],using=[],options=[]\\r\\n"),
        "{info}"
    );
}

#[test]
fn module_commands_are_commands() {
    let srv = start(&["--loadmodule", hello()]);
    let mut r = srv.raw();
    let count_with = r.int("command count");
    r.expect(
        "command info hello.setget",
        b"*1\r\n*10\r\n$12\r\nhello.setget\r\n:3\r\n*3\r\n+write\r\n+denyoom\r\n+module\r\n\
:1\r\n:1\r\n:1\r\n*3\r\n+@write\r\n+@string\r\n+@slow\r\n*0\r\n\
*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RW\r\n+update\r\n\
$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n\
$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n\
*0\r\n",
    );
    r.expect("command info hello.echo", b"*1\r\n*10\r\n$10\r\nhello.echo\r\n:2\r\n*2\r\n+module\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@fast\r\n+@connection\r\n*0\r\n*0\r\n*0\r\n");
    r.expect("command getkeys hello.setget key val", b"*1\r\n$3\r\nkey\r\n");
    r.expect(
        "command docs hello.echo nosuch",
        b"*2\r\n$10\r\nhello.echo\r\n*6\r\n$7\r\nsummary\r\n$24\r\nReturns the given string\r\n\
$5\r\ngroup\r\n$6\r\nmodule\r\n$6\r\nmodule\r\n$5\r\nhello\r\n",
    );
    let list = r.line("command list filterby module hello");
    assert!(list.starts_with(b"*7\r\n"), "{}", show(&list));
    assert!(show(&list).contains("hello.setget"));
    r.expect("command list filterby module nosuch", b"*0\r\n");
    let conn = show(&r.line("command list filterby aclcat connection"));
    assert!(conn.contains("hello.echo") && !conn.contains("hello.add"), "{conn}");
    let all = show(&r.line("command list"));
    assert!(all.contains("hello.echo") && all.contains("get"));

    // MULTI, scripts, stats.
    r.script(&[
        ("multi", b"+OK\r\n"),
        ("hello.echo a", b"+QUEUED\r\n"),
        ("hello.setget x y", b"+QUEUED\r\n"),
        ("exec", b"*2\r\n$1\r\na\r\n$1\r\ny\r\n"),
        ("multi", b"+OK\r\n"),
        ("hello.echo", b"-ERR wrong number of arguments for 'hello.echo' command\r\n"),
        ("exec", b"-EXECABORT Transaction discarded because of previous errors.\r\n"),
        ("eval \"return redis.call('hello.add', 1, '2')\" 0", b"$1\r\n3\r\n"),
        ("eval \"return redis.call('hello.echo', 'from lua')\" 0", b"$8\r\nfrom lua\r\n"),
    ]);
    let stats = show(&r.line("info commandstats"));
    assert!(stats.contains("cmdstat_hello.echo:calls=2,"), "{stats}");
    assert!(stats.contains("cmdstat_hello.setget:calls=1,"), "{stats}");

    r.expect("module unload hello", b"+OK\r\n");
    assert_eq!(r.int("command count"), count_with - 7);
    r.expect("command info hello.echo", b"*1\r\n$-1\r\n");
    assert!(!show(&r.line("info commandstats")).contains("hello."));
}

#[test]
fn module_load_unload_at_runtime() {
    let srv = start(&[]);
    let mut r = srv.raw();
    r.expect(
        "hello.echo x",
        b"-ERR unknown command 'hello.echo', with args beginning with: 'x' \r\n",
    );
    r.expect("module list", b"*0\r\n");
    assert_eq!(r.call(&["module", "load", hello(), "hey"]), b"+OK\r\n");
    r.expect("hello.greet", b"+hey\r\n");
    // Loaded once only.
    assert_eq!(
        r.call(&["module", "load", hello()]),
        b"-ERR Error loading the extension. Please check the server logs.\r\n"
    );
    assert!(log_of(&srv).contains("a module named 'hello' is already loaded"));
    r.expect(
        "module unload nosuch",
        b"-ERR Error unloading module: no such module with that name\r\n",
    );
    r.expect("module unload hello", b"+OK\r\n");
    r.expect("hello.greet", b"-ERR unknown command 'hello.greet', with args beginning with: \r\n");
    r.expect(
        "module unload hello",
        b"-ERR Error unloading module: no such module with that name\r\n",
    );
    // And again, with LOADEX and other arguments.
    assert_eq!(r.call(&["module", "loadex", hello(), "args", "yo"]), b"+OK\r\n");
    r.expect("hello.greet you", b"+yo you\r\n");
    assert!(r.line("hello 3").starts_with(b"%7\r\n"));
    let list = r.line("module list");
    assert!(
        list.starts_with(b"*1\r\n%4\r\n$4\r\nname\r\n$5\r\nhello\r\n$3\r\nver\r\n:1\r\n"),
        "{}",
        show(&list)
    );
    assert!(list.ends_with(b"$4\r\nargs\r\n*1\r\n$2\r\nyo\r\n"), "{}", show(&list));
}

#[test]
fn loads_that_fail_leave_nothing_behind() {
    let srv = start(&[]);
    let mut r = srv.raw();
    const E: &[u8] = b"-ERR Error loading the extension. Please check the server logs.\r\n";
    assert_eq!(r.call(&["module", "load", "/nonexistent/libnothing.so"]), E);
    assert_eq!(r.call(&["module", "load", &libc_path()]), E);
    assert_eq!(r.call(&["module", "load", future_api()]), E);
    assert_eq!(r.call(&["module", "load", hello(), "fail"]), E);
    assert_eq!(r.call(&["module", "loadex", hello(), "config", "hello.x", "1"]), E);
    assert_eq!(r.call(&["module", "loadex", hello(), "config", "hello.x"]), E);
    assert_eq!(r.call(&["module", "loadex", hello(), "bogus"]), E);
    r.expect("module list", b"*0\r\n");
    r.expect(
        "hello.echo x",
        b"-ERR unknown command 'hello.echo', with args beginning with: 'x' \r\n",
    );
    let log = log_of(&srv);
    let m = vireo_module_api::API_MINOR;
    let future = format!(
        "module 'future' needs module API 1.{}, this server provides 1.{m}: missing time travel (1.{})",
        m + 1,
        m + 1
    );
    for needle in [
        "Module /nonexistent/libnothing.so failed to load: /nonexistent/libnothing.so: cannot open shared object file",
        "failed to load: it is not a Vireo module",
        &future,
        "Module hello initialization failed: ERR hello was told to fail",
        "CONFIG specified without name value pair",
        "Syntax Error from arguments to loadex around bogus.",
    ] {
        assert!(log.contains(needle), "log lacks {needle:?}:\n{log}");
    }
    // What failed to initialise can load afterwards.
    assert_eq!(r.call(&["module", "load", hello()]), b"+OK\r\n");
    r.expect("hello.echo x", b"$1\r\nx\r\n");
}

#[test]
fn loading_and_unloading_need_enable_module_command() {
    let srv = Server::start();
    let mut r = srv.raw();
    const E: &[u8] = b"-ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n";
    assert_eq!(r.call(&["module", "load", hello()]), E);
    assert_eq!(r.call(&["module", "loadex", hello()]), E);
    r.expect("module unload hello", E);
    // Refused before it is queued, as Redis does.
    r.script(&[
        ("multi", b"+OK\r\n"),
        ("module unload hello", E),
        ("exec", b"-EXECABORT Transaction discarded because of previous errors.\r\n"),
    ]);
    // LIST and HELP need nothing.
    r.expect("module list", b"*0\r\n");
    assert!(r.line("module help").starts_with(
        b"*11\r\n+MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+LIST\r\n"
    ));
    let stats = show(&r.line("info commandstats"));
    assert!(stats.contains("cmdstat_module|unload:calls=0,usec=0,usec_per_call=0.00,rejected_calls=2,failed_calls=0"), "{stats}");
    let local = start(&[]);
    assert!(local.raw().line("config get enable-module-command").ends_with(b"$3\r\nyes\r\n"));
    let srv = Server::start_with(&["--enable-module-command", "local"]);
    assert_eq!(srv.raw().call(&["module", "load", hello()]), b"+OK\r\n");
}

#[test]
fn a_panicking_command_is_an_error_and_the_server_goes_on() {
    let srv = start(&["--loadmodule", hello()]);
    let mut r = srv.raw();
    r.expect(
        "hello.panic",
        b"-ERR module command 'hello.panic' panicked: hello.panic was called\r\n",
    );
    r.expect("ping", b"+PONG\r\n");
    r.expect("hello.echo still", b"$5\r\nstill\r\n");
    let stats = show(&r.line("info commandstats"));
    assert!(stats.contains("cmdstat_hello.panic:calls=1,usec="), "{stats}");
    assert!(stats.contains("failed_calls=1"), "{stats}");
}

#[test]
fn a_failing_loadmodule_stops_start_up() {
    let (ok, log) = common::start_fails(&["--loadmodule", "/nonexistent/libnothing.so"]);
    assert!(!ok);
    assert!(
        log.contains("Can't load module from /nonexistent/libnothing.so: server aborting"),
        "{log}"
    );
    let (ok, log) = common::start_fails(&["--loadmodule", hello(), "fail"]);
    assert!(!ok);
    assert!(
        log.contains("Module hello initialization failed: ERR hello was told to fail"),
        "{log}"
    );
}

#[test]
fn a_module_cannot_unload_itself_while_its_command_runs() {
    let srv = start(&["--loadmodule", hello()]);
    let mut r = srv.raw();
    r.expect(
        "hello.call module unload hello",
        b"-ERR Error unloading module: the module's commands are running\r\n",
    );
    r.expect("hello.echo x", b"$1\r\nx\r\n");
    r.expect(
        "hello.call module unload nosuch",
        b"-ERR Error unloading module: no such module with that name\r\n",
    );
}

#[test]
fn what_a_module_command_calls_is_propagated_not_the_command() {
    let srv = start(&["--loadmodule", hello(), "--appendonly", "yes", "--appendfsync", "always"]);
    let mut r = srv.raw();
    r.expect("hello.setget k v", b"$1\r\nv\r\n");
    r.expect("hello.call del k", b":1\r\n");
    r.expect("hello.echo nothing-to-propagate", b"$20\r\nnothing-to-propagate\r\n");
    let dir = srv.dir.join("appendonlydir");
    let mut aof = String::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with(".incr.aof") {
            aof += &String::from_utf8_lossy(&std::fs::read(p).unwrap());
        }
    }
    assert!(aof.contains("$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"), "{aof:?}");
    assert!(aof.contains("$3\r\ndel\r\n$1\r\nk\r\n"), "{aof:?}");
    assert!(!aof.to_ascii_lowercase().contains("hello."), "{aof:?}");
    // One write per module command: no MULTI/EXEC around it.
    assert!(!aof.contains("MULTI"), "{aof:?}");
}
