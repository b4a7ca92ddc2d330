//! Module configs, INFO sections and shared APIs (module API 1.1): `sdk-examples/config` and
//! `sdk-examples/shared-exporter` + `shared-importer`, built with cargo and loaded into a
//! running server.

use crate::common;

use std::sync::OnceLock;
use std::time::Duration;

use common::{build_module, show, Server};

fn cfgdemo() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| build_module("vireo-example-config", "vireo_config").display().to_string())
}

fn exporter() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| {
        build_module("vireo-example-shared-exporter", "vireo_shared_exporter").display().to_string()
    })
}

fn importer() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| {
        build_module("vireo-example-shared-importer", "vireo_shared_importer").display().to_string()
    })
}

fn start(extra: &[&str]) -> Server {
    let mut args = vec!["--logfile", "vireo.log", "--enable-module-command", "yes"];
    args.extend_from_slice(extra);
    Server::start_with(&args)
}

fn log_of(srv: &Server) -> String {
    std::thread::sleep(Duration::from_millis(50));
    std::fs::read_to_string(srv.dir.join("vireo.log")).unwrap_or_default()
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// The reply of `CONFIG GET name` when it holds one pair.
fn pair(name: &str, value: &str) -> Vec<u8> {
    format!("*2\r\n{}{}", bulk(name), bulk(value)).into_bytes()
}

fn set_err(name: &str, why: &str) -> Vec<u8> {
    format!("-ERR CONFIG SET failed (possibly related to argument '{name}') - {why}\r\n")
        .into_bytes()
}

#[test]
fn config_get_set_with_bounds_and_errors() {
    let srv = start(&["--loadmodule", cfgdemo()]);
    let mut r = srv.raw();
    r.expect("config get cfgdemo.greeting", &pair("cfgdemo.greeting", "hello"));
    r.expect("config get CFGDEMO.MAX-ITEMS", &pair("CFGDEMO.MAX-ITEMS", "100"));
    r.expect("config get cfgdemo.cache-size", &pair("cfgdemo.cache-size", "1048576"));
    r.expect("config get cfgdemo.mode", &pair("cfgdemo.mode", "fast"));
    r.expect("config get cfgdemo.features", &pair("cfgdemo.features", "a b"));
    r.expect("config get cfgdemo.enabled", &pair("cfgdemo.enabled", "yes"));
    // Hidden: only by exact name.
    r.expect("config get cfgdemo.secret", &pair("cfgdemo.secret", ""));
    let all = show(&r.line("config get cfgdemo.*"));
    assert!(all.starts_with("*14\\r\\n"), "{all}");
    assert!(!all.contains("secret"), "{all}");
    assert!(show(&r.line("config get *")).contains("cfgdemo.max-items"));

    r.script(&[
        ("config set cfgdemo.greeting hi", b"+OK\r\n"),
        ("cfgdemo.greet you", b"$6\r\nhi you\r\n"),
        ("config set cfgdemo.max-items 1000", b"+OK\r\n"),
        ("cfgdemo.get max-items", b":1000\r\n"),
        ("config set cfgdemo.cache-size 2mb", b"+OK\r\n"),
        ("cfgdemo.get cache-size", b":2097152\r\n"),
        ("config set cfgdemo.mode SAFE", b"+OK\r\n"),
        ("cfgdemo.get mode", b":2\r\n"),
        ("config set cfgdemo.features \"a b c\"", b"+OK\r\n"),
        ("cfgdemo.get features", b":7\r\n"),
        ("config set cfgdemo.enabled no", b"+OK\r\n"),
        ("cfgdemo.greet you", b"-ERR cfgdemo is disabled\r\n"),
    ]);
    r.expect("config get cfgdemo.features", &pair("cfgdemo.features", "all"));
    r.expect("config set cfgdemo.features \"c a\"", b"+OK\r\n");
    r.expect("config get cfgdemo.features", &pair("cfgdemo.features", "a c"));
    r.expect("config get cfgdemo.mode", &pair("cfgdemo.mode", "safe"));

    r.expect(
        "config set cfgdemo.max-items 1001",
        &set_err("cfgdemo.max-items", "argument must be between 1 and 1000 inclusive"),
    );
    r.expect(
        "config set cfgdemo.max-items x",
        &set_err("cfgdemo.max-items", "argument couldn't be parsed into an integer"),
    );
    r.expect("config set cfgdemo.max-items 13", &set_err("cfgdemo.max-items", "13 is unlucky"));
    r.expect(
        "config set cfgdemo.cache-size -5",
        &set_err("cfgdemo.cache-size", "argument must be a memory value"),
    );
    r.expect(
        "config set cfgdemo.cache-size 2gb",
        &set_err("cfgdemo.cache-size", "argument must be between 0 and 1073741824 inclusive"),
    );
    r.expect(
        "config set cfgdemo.mode slow",
        &set_err("cfgdemo.mode", "argument(s) must be one of the following: fast, safe"),
    );
    r.expect(
        "config set cfgdemo.features \"a z\"",
        &set_err(
            "cfgdemo.features",
            "argument(s) must be one of the following: all, none, a, b, c",
        ),
    );
    r.expect(
        "config set cfgdemo.enabled maybe",
        &set_err("cfgdemo.enabled", "argument must be 'yes' or 'no'"),
    );
    r.expect(
        "config set cfgdemo.secret x",
        &set_err("cfgdemo.secret", "can't set immutable config"),
    );
    r.expect(
        "config set cfgdemo.guarded yes",
        &set_err("cfgdemo.guarded", "can't set protected config"),
    );
    r.expect(
        "config set cfgdemo.nosuch 1",
        b"-ERR Unknown option or number of arguments for CONFIG SET - 'cfgdemo.nosuch'\r\n",
    );
    r.expect(
        "config set cfgdemo.mode fast cfgdemo.MODE safe",
        &set_err("cfgdemo.MODE", "duplicate parameter"),
    );
    // All or nothing: a refused value undoes the others, built-in ones included.
    r.expect(
        "config set cfgdemo.greeting yo maxmemory 5mb cfgdemo.max-items 13",
        &set_err("cfgdemo.max-items", "13 is unlucky"),
    );
    r.expect("config get cfgdemo.greeting", &pair("cfgdemo.greeting", "hi"));
    r.expect("config get maxmemory", &pair("maxmemory", "0"));
    r.expect("config set cfgdemo.greeting yo maxmemory 5mb", b"+OK\r\n");
    r.expect("cfgdemo.get greeting", b"$2\r\nyo\r\n");

    // Unloaded: its configs are gone; loaded again: back to the defaults.
    r.expect("module unload cfgdemo", b"+OK\r\n");
    r.expect("config get cfgdemo.*", b"*0\r\n");
    r.expect(&format!("module load {}", cfgdemo()), b"+OK\r\n");
    r.expect("config get cfgdemo.greeting", &pair("cfgdemo.greeting", "hello"));
}

#[test]
fn loadex_configs() {
    let srv = start(&[]);
    let mut r = srv.raw();
    let p = cfgdemo();
    r.expect(
        &format!("module loadex {p} config cfgdemo.max-items 7 CONFIG cfgdemo.secret s3 config cfgdemo.max-items 8 args a"),
        b"+OK\r\n",
    );
    r.expect("config get cfgdemo.max-items", &pair("cfgdemo.max-items", "8"));
    r.expect("config get cfgdemo.secret", &pair("cfgdemo.secret", "s3"));
    r.expect("module unload cfgdemo", b"+OK\r\n");
    let fail = b"-ERR Error loading the extension. Please check the server logs.\r\n";
    // A bad value, a value the module refuses, a config nobody declares: nothing stays loaded.
    r.expect(&format!("module loadex {p} config cfgdemo.max-items 0"), fail);
    r.expect(&format!("module loadex {p} config cfgdemo.max-items 13"), fail);
    r.expect(&format!("module loadex {p} config cfgdemo.nosuch 1"), fail);
    r.expect(&format!("module loadex {p} config maxclients 5"), fail);
    r.expect("module list", b"*0\r\n");
    r.expect("config get cfgdemo.*", b"*0\r\n");
    let log = log_of(&srv);
    assert!(
        log.contains("Issue during loading of configuration cfgdemo.max-items : argument must be between 1 and 1000 inclusive"),
        "{log}"
    );
    assert!(log.contains("Issue during loading of configuration cfgdemo.max-items : 13 is unlucky"));
    assert!(log.contains(
        "Loadex configurations were not applied, likely due to invalid arguments. Unloading the module."
    ));
}

#[test]
fn config_file_lines_after_loadmodule_and_rewrite() {
    let tmp = common::TempDir::new("modconf-rewrite");
    let dir = &tmp.0;
    let conf = dir.join("vireo.conf");
    std::fs::write(
        &conf,
        format!(
            "# my server\nloadmodule {}\ncfgdemo.greeting \"good day\"\ncfgdemo.features c b\nCFGDEMO.cache-size 1kb\n",
            cfgdemo()
        ),
    )
    .unwrap();
    let srv = common::ConfServer::start(dir, &conf, &["--enable-module-command", "yes"]);
    let mut r = srv.raw();
    r.expect("config get cfgdemo.greeting", &pair("cfgdemo.greeting", "good day"));
    r.expect("config get cfgdemo.features", &pair("cfgdemo.features", "b c"));
    r.expect("config get cfgdemo.cache-size", &pair("cfgdemo.cache-size", "1024"));
    r.expect("cfgdemo.greet you", b"$12\r\ngood day you\r\n");
    // Changes, and a module loaded at run time with its own config, survive a rewrite.
    r.expect("config set cfgdemo.max-items 9 cfgdemo.greeting hey", b"+OK\r\n");
    r.expect("config set cfgdemo.features none", b"+OK\r\n");
    r.expect(
        &format!("module loadex {} config cfgdemo.nothing 1", exporter()),
        b"-ERR Error loading the extension. Please check the server logs.\r\n",
    );
    r.expect(&format!("module load {} x", exporter()), b"+OK\r\n");
    r.expect("config rewrite", b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.starts_with("# my server\n"), "{text}");
    assert!(text.contains("cfgdemo.greeting \"hey\"\n"), "{text}");
    assert!(text.contains("cfgdemo.features none\n"), "{text}");
    assert!(text.contains("cfgdemo.cache-size 1kb\n"), "{text}");
    assert!(text.contains("cfgdemo.max-items 9\n"), "{text}");
    assert!(!text.contains("cfgdemo.mode"), "defaults are not written: {text}");
    assert!(text.contains(&format!("loadmodule {} x\n", exporter())), "{text}");
    drop(srv);

    let srv = common::ConfServer::start(dir, &conf, &[]);
    let mut r = srv.raw();
    r.expect("config get cfgdemo.greeting", &pair("cfgdemo.greeting", "hey"));
    r.expect("config get cfgdemo.max-items", &pair("cfgdemo.max-items", "9"));
    r.expect("config get cfgdemo.features", &pair("cfgdemo.features", "none"));
    r.expect("exporter.get k", b":0\r\n");
}

#[test]
fn bad_module_config_lines_stop_start_up() {
    let (ok, log) = common::start_fails(&["--cfgdemo.greeting", "hi"]);
    assert!(!ok);
    assert!(
        log.contains("Module Configuration detected without loadmodule directive or no ApplyConfig call: aborting"),
        "{log}"
    );
    let (ok, log) = common::start_fails(&["--loadmodule", cfgdemo(), "--cfgdemo.nosuch", "1"]);
    assert!(!ok);
    assert!(log.contains("Module Configuration detected without loadmodule directive"), "{log}");
    let (ok, log) =
        common::start_fails(&["--loadmodule", cfgdemo(), "--cfgdemo.max-items", "5000"]);
    assert!(!ok);
    assert!(
        log.contains("Issue during loading of configuration cfgdemo.max-items : argument must be between 1 and 1000 inclusive"),
        "{log}"
    );
}

#[test]
fn info_sections_of_modules() {
    let srv = start(&["--loadmodule", cfgdemo(), "--loadmodule", exporter()]);
    let mut r = srv.raw();
    r.line("cfgdemo.greet a");
    r.line("cfgdemo.greet b");
    let stats = "# cfgdemo_stats\\r\\ncfgdemo_greetings:2\\r\\ncfgdemo_greeting:hello\\r\\ncfgdemo_ratio:0.5\\r\\n";
    let limits = "# cfgdemo_limits\\r\\ncfgdemo_max_items:100\\r\\ncfgdemo_mode:fast=1,x=y\\r\\n";
    let own = show(&r.line("info cfgdemo"));
    assert!(own.contains(&format!("{stats}\\r\\n{limits}")), "{own}");
    assert!(!own.contains("# Server"), "{own}");
    let one = show(&r.line("info CFGDEMO_LIMITS"));
    assert!(one.contains(limits) && !one.contains("stats"), "{one}");
    let modules = show(&r.line("info modules"));
    assert!(modules.contains("# Modules\\r\\nmodule:name=cfgdemo,ver=3,api=1,"), "{modules}");
    assert!(modules.contains(stats) && modules.contains(limits), "{modules}");
    assert!(!modules.contains("# Server"), "{modules}");
    let every = show(&r.line("info everything"));
    assert!(every.contains("# Keyspace") && every.contains(stats), "{every}");
    for s in ["", "all", "default", "server"] {
        let text = show(&r.line(&format!("info {s}")));
        assert!(!text.contains("cfgdemo_"), "INFO {s}: {text}");
    }
    let server_and_mine = show(&r.line("info server cfgdemo_stats"));
    assert!(server_and_mine.contains("# Server") && server_and_mine.contains(stats));
}

#[test]
fn shared_api_between_modules() {
    let srv = start(&[]);
    let mut r = srv.raw();
    // The importer loads first: it imports at its first command.
    r.expect(&format!("module load {}", importer()), b"+OK\r\n");
    r.expect("importer.incr k", b"-ERR no module exports a shared API named 'example.counter'\r\n");
    r.expect(&format!("module load {}", exporter()), b"+OK\r\n");
    r.expect("importer.incr k 5", b":5\r\n");
    r.expect("importer.incr k", b":6\r\n");
    r.expect("exporter.get k", b":6\r\n");
    r.expect("importer.owner", b"*2\r\n$8\r\nexporter\r\n:1\r\n");
    let info = show(&r.line("info modules"));
    assert!(
        info.contains(
            "module:name=importer,ver=1,api=1,filters=0,usedby=[],using=[exporter],options=[]"
        ),
        "{info}"
    );
    assert!(
        info.contains(
            "module:name=exporter,ver=1,api=1,filters=0,usedby=[importer],using=[],options=[]"
        ),
        "{info}"
    );
    r.expect(
        "module unload exporter",
        b"-ERR Error unloading module: the module exports APIs used by other modules. Please unload them first and try again\r\n",
    );
    r.expect("module unload importer", b"+OK\r\n");
    r.expect("module unload exporter", b"+OK\r\n");

    // The exporter first: the importer takes the API in its init.
    r.expect(&format!("module load {}", exporter()), b"+OK\r\n");
    r.expect(&format!("module load {}", importer()), b"+OK\r\n");
    assert!(show(&r.line("info modules")).contains("usedby=[importer]"));
    r.expect("importer.incr j 2", b":2\r\n");
    r.expect(
        "module unload exporter",
        b"-ERR Error unloading module: the module exports APIs used by other modules. Please unload them first and try again\r\n",
    );
}

#[test]
fn module_logs_follow_loglevel() {
    // cfgdemo logs its greeting at `verbose` in init.
    let srv = start(&["--loglevel", "notice", "--loadmodule", cfgdemo()]);
    assert!(!log_of(&srv).contains("greeting is"), "verbose logged at notice");
    let srv = start(&["--loglevel", "verbose", "--loadmodule", cfgdemo()]);
    assert!(log_of(&srv).contains("<cfgdemo> greeting is 'hello'"));
}
