//! Shared helpers for the black-box tests: start the real `vireo-server` binary on a free port,
//! talk to it with the `redis` crate or with raw RESP bytes.
//!
//! ```ignore
//! use crate::common;
//! let srv = common::Server::start();
//! let mut r = srv.raw();
//! assert_eq!(r.call(&["SET", "k", "v"]), b"+OK\r\n");
//! r.expect("GET k", b"$1\r\nv\r\n");
//! ```
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server, killed (and its directory removed) on drop.
pub struct Server {
    pub port: u16,
    pub dir: PathBuf,
    child: Child,
}

/// The reference Redis for differential tests: `$VIREO_REFERENCE_REDIS`, else `redis-server` on
/// `PATH`.
pub fn reference_redis() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VIREO_REFERENCE_REDIS").filter(|p| !p.is_empty()) {
        return Some(p.into());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|d| d.join("redis-server")).find(|p| p.is_file())
    })
}

/// A tool of the reference's (`redis-cli`): next to the reference server, else on `PATH`.
#[allow(dead_code)]
pub fn reference_tool(name: &str) -> Option<PathBuf> {
    let beside = reference_redis().and_then(|p| p.parent().map(|d| d.join(name)));
    beside.filter(|p| p.is_file()).or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file())
        })
    })
}

/// A port nothing listens on now and that this test process has not handed out before: tests in
/// one binary run in parallel, and the kernel readily gives a just-released ephemeral port to the
/// next caller, so without the ledger two servers could be given the same port.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A fresh directory for one test (`vireo-<tag>-<pid>-<n>` in the temp directory), removed
/// when the guard drops.
#[allow(dead_code)]
pub struct TempDir(pub PathBuf);

#[allow(dead_code)]
impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!(
            "vireo-{tag}-{}-{}",
            std::process::id(),
            free_port()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits until `port` accepts connections; false when `child` (if given) exits first, as a
/// server does when its port was taken meanwhile (the caller then starts it on another). A
/// server started on data files may still be loading them then: see [`wait_loaded`].
pub fn wait_ready(port: u16, child: Option<&mut Child>) -> bool {
    wait_port(port, child, false)
}

/// [`wait_ready`], and until the server has loaded its data (PING no longer answers
/// -LOADING).
pub fn wait_loaded(port: u16, child: Option<&mut Child>) -> bool {
    wait_port(port, child, true)
}

/// Whether a socket listens on `port` (on any address), per `/proc/net/tcp{,6}`, and, given a
/// process id, whether that process owns it (another process's server may hold the port).
fn listening(port: u16, pid: Option<u32>) -> bool {
    let local = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(t) = std::fs::read_to_string(table) else { continue };
        for l in t.lines().skip(1) {
            let f: Vec<&str> = l.split_whitespace().collect();
            // Fields: sl, local_address, rem_address, st (0A is LISTEN), ..., inode (10th).
            if f.len() > 9 && f[1].ends_with(&local) && f[3] == "0A" {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    match pid {
        None => !inodes.is_empty(),
        Some(pid) => std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
            fds.flatten().any(|fd| {
                std::fs::read_link(fd.path())
                    .is_ok_and(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str()))
            })
        }),
    }
}

/// [`wait_ready`] (`loaded` false) or [`wait_loaded`].
pub fn wait_port(port: u16, mut child: Option<&mut Child>, loaded: bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(if loaded { 60 } else { 10 });
    while Instant::now() < deadline {
        if let Some(c) = child.as_deref_mut() {
            if let Ok(Some(_)) = c.try_wait() {
                return false;
            }
        }
        // Ports come from the ephemeral range, and so do the local ports of connects: while
        // nothing listens yet, a probe can connect to itself, or to another test's probe that
        // is connecting the other way at the same moment (TCP simultaneous open). Only a
        // listening socket on the port counts, the child's own when there is a child (another
        // process may hold the port, and the child then fails to bind).
        let pid = child.as_deref().map(|c| c.id());
        let probe =
            if listening(port, pid) { TcpStream::connect(("127.0.0.1", port)).ok() } else { None };
        if let Some(mut probe) = probe {
            // PING, half-close and wait for the server to close too: by then it has dropped
            // the probe from its client list, which tests of CLIENT LIST and INFO clients count.
            let _ = probe.write_all(if loaded { b"PING\r\n" } else { b"" });
            let _ = probe.shutdown(std::net::Shutdown::Write);
            let _ = probe.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reply = Vec::new();
            let _ = probe.read_to_end(&mut reply);
            // No reply at all: the server went away meanwhile (a failed load exits).
            if loaded && (reply.is_empty() || reply.starts_with(b"-LOADING")) {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

impl Server {
    /// Starts a server with no persistence.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts a server with extra `--directive value` arguments.
    pub fn start_with(extra: &[&str]) -> Server {
        Server::start_binary(Path::new(env!("CARGO_BIN_EXE_vireo-server")), extra)
    }

    /// Starts the reference Redis (see [`reference_redis`]) for a differential test, with DEBUG
    /// allowed from loopback, or says on stderr that `what` is skipped and returns `None` when
    /// there is none.
    pub fn start_reference(what: &str) -> Option<Server> {
        Server::start_reference_with(what, &[])
    }

    /// [`Server::start_reference`] with more arguments.
    pub fn start_reference_with(what: &str, extra: &[&str]) -> Option<Server> {
        let Some(bin) = reference_redis() else {
            eprintln!(
                "SKIPPED {what}: no reference Redis (set VIREO_REFERENCE_REDIS or put \
                 redis-server on PATH; .ci/run installs one)"
            );
            return None;
        };
        let mut args = vec!["--appendonly", "no", "--enable-debug-command", "local"];
        args.extend_from_slice(extra);
        Some(Server::start_binary(&bin, &args))
    }

    /// Starts Vireo allowed to run on one core only (through `taskset`, as a container limited
    /// to one CPU would), or says on stderr that `what` is skipped when there is no `taskset`.
    #[allow(dead_code)]
    pub fn start_on_one_core(what: &str, extra: &[&str]) -> Option<Server> {
        let ok = Command::new("taskset").arg("-V").output().is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("SKIPPED {what}: no taskset (util-linux)");
            return None;
        }
        let bin = env!("CARGO_BIN_EXE_vireo-server");
        Some(Server::start_command(Path::new("taskset"), &["-c", "0", bin], extra))
    }

    /// Vireo (`reference`: the reference Redis) started with `LC_ALL=<locale>` in its
    /// environment and `extra` arguments, or `None` after saying on stderr that `what` is
    /// skipped, when the system lacks the locale (`locale -a`; .ci/run generates en_US.UTF-8) or
    /// the reference.
    #[allow(dead_code)]
    pub fn start_in_locale(
        what: &str,
        locale: &str,
        reference: bool,
        extra: &[&str],
    ) -> Option<Server> {
        let listed =
            Command::new("locale").arg("-a").output().map(|o| o.stdout).unwrap_or_default();
        // `locale -a` writes "en_US.utf8" for "en_US.UTF-8".
        let norm = |s: &str| s.to_ascii_lowercase().replace('-', "");
        if !String::from_utf8_lossy(&listed).lines().any(|l| norm(l) == norm(locale)) {
            eprintln!("SKIPPED {what}: the system has no {locale} locale (locale-gen makes it)");
            return None;
        }
        let bin = if reference {
            let Some(bin) = reference_redis() else {
                eprintln!("SKIPPED {what}: no reference Redis (set VIREO_REFERENCE_REDIS)");
                return None;
            };
            bin
        } else {
            PathBuf::from(env!("CARGO_BIN_EXE_vireo-server"))
        };
        let env = format!("LC_ALL={locale}");
        let bin = bin.to_string_lossy().into_owned();
        Some(Server::start_command(Path::new("env"), &[&env, &bin], extra))
    }

    /// Starts `bin` (Vireo or Redis) on a free port in its own directory, without persistence.
    fn start_binary(bin: &Path, extra: &[&str]) -> Server {
        Server::start_command(bin, &[], extra)
    }

    /// [`Server::start_binary`] through `program leading...` (a wrapper such as `taskset`).
    fn start_command(bin: &Path, leading: &[&str], extra: &[&str]) -> Server {
        for _ in 0..5 {
            let port = free_port();
            let dir =
                std::env::temp_dir().join(format!("vireo-test-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let log = std::fs::File::create(dir.join("server.log")).unwrap();
            let child = Command::new(bin)
                // Collation in bytes whatever the developer's locale (see `start_in_locale`).
                .env("LC_ALL", "C")
                .args(leading)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
                .args(extra)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
            let mut srv = Server { port, dir, child };
            if wait_ready(port, Some(&mut srv.child)) {
                return srv;
            }
            // Lost the port to someone else, or failed to start: try another one.
        }
        panic!("{} did not start", bin.display());
    }

    /// The server's process id.
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn addr(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A `redis` crate client (sync `get_connection()` or async
    /// `get_multiplexed_async_connection()`).
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.addr()).unwrap()
    }

    /// A synchronous `redis` connection.
    pub fn conn(&self) -> redis::Connection {
        self.client().get_connection().unwrap()
    }

    /// An asynchronous (tokio) `redis` connection.
    pub async fn async_conn(&self) -> redis::aio::MultiplexedConnection {
        self.client().get_multiplexed_async_connection().await.unwrap()
    }

    /// A raw RESP connection.
    pub fn raw(&self) -> Raw {
        Raw::try_connect(self.port).unwrap_or_else(|e| {
            // (An exited child not yet reaped is a zombie: state Z.)
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()));
            let alive = stat.is_ok_and(|s| !s.contains(") Z "));
            let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            panic!("connect to port {}: {e}; server alive: {alive}; its log:\n{log}", self.port)
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a differential script on fresh connections to a reference server and to Vireo at
/// protocol `resp` (2 or 3), both flushed first, comparing the raw reply bytes command by
/// command; each mismatch goes to `failures`, labelled with `name` and the line. Returns how many
/// commands were compared.
///
/// Syntax: one command per line in redis-cli quoting; blank lines and `#` lines are skipped;
/// `@sleep <ms>` pauses; a `?` before the command compares only the reply's type (replies that
/// differ by nature, such as timestamps). A line prefixed `2> ` or `3> ` runs on that protocol
/// only; `3?> ` runs on both and compares only the type on RESP3.
pub fn run_differential(
    name: &str,
    text: &str,
    resp: u8,
    (rport, vport): (u16, u16),
    failures: &mut Vec<String>,
) -> usize {
    let mut rc = Raw::connect(rport);
    let mut vc = Raw::connect(vport);
    for c in [&mut rc, &mut vc] {
        c.call(&["FLUSHALL"]);
        if resp == 3 {
            assert!(c.call(&["HELLO", "3"]).starts_with(b"%"));
        }
    }
    let mut compared = 0;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(ms) = line.strip_prefix("@sleep ") {
            std::thread::sleep(Duration::from_millis(ms.trim().parse().unwrap()));
            continue;
        }
        let (only, line) = match line.split_once("> ") {
            Some((p @ ("2" | "3" | "3?"), rest)) => (Some(p), rest),
            _ => (None, line),
        };
        if (only == Some("2") && resp != 2) || (only == Some("3") && resp != 3) {
            continue;
        }
        let (type_only, cmd) = match line.strip_prefix('?') {
            Some(rest) => (true, rest),
            None => (only == Some("3?") && resp == 3, line),
        };
        let args = split_args(cmd);
        let want = rc.call(&args);
        let got = vc.call(&args);
        compared += 1;
        let same = if type_only { want.first() == got.first() } else { want == got };
        if !same {
            failures.push(format!(
                "{name}:{} (RESP{resp}): {line}\n  reference: {}\n  vireo:     {}",
                n + 1,
                show(&want),
                show(&got)
            ));
        }
    }
    compared
}

/// The keys a tracking differential script may use (those `scripts/diff_fuzz.py` uses, so that
/// its replays go in as they are).
const TRACKED_KEYS: [&str; 6] = ["k0", "k1", "k2", "k3", "{t}a", "{t}b"];

/// One server's side of a tracking differential: a client that runs the script, one in the
/// default mode that has read every key of [`TRACKED_KEYS`], one in BCAST mode.
struct Trackers {
    driver: Raw,
    own: Raw,
    bcast: Raw,
}

impl Trackers {
    fn new(port: u16) -> Trackers {
        let mut t = Trackers {
            driver: Raw::connect(port),
            own: Raw::connect(port),
            bcast: Raw::connect(port),
        };
        // Lazy expiry only: the active cycle runs at each server's own moments.
        t.driver.expect("DEBUG SET-ACTIVE-EXPIRE 0", b"+OK\r\n");
        for (c, mode) in [(&mut t.own, ""), (&mut t.bcast, " BCAST")] {
            assert_eq!(c.line("HELLO 3")[0], b'%');
            c.expect(&format!("CLIENT TRACKING ON{mode}"), b"+OK\r\n");
        }
        t.told();
        t
    }

    /// What the two tracking clients were told since last asked, each message as it came; then
    /// every key is read again, so that the default-mode client tracks them all.
    fn told(&mut self) -> Vec<String> {
        let mut got = Vec::new();
        for (mode, c) in [("own", &mut self.own), ("bcast", &mut self.bcast)] {
            c.send_cmd(&["PING"]);
            loop {
                let r = c.read_reply();
                if r == b"+PONG\r\n" {
                    break;
                }
                got.push(format!("{mode} {}", show(&r)));
            }
        }
        let r = self.own.call(&[&["MGET"][..], &TRACKED_KEYS].concat());
        assert!(r.starts_with(b"*6\r\n"), "{}", show(&r));
        got
    }
}

/// Runs script `text` (redis-cli quoting, `#` comments) on the reference server and on Vireo,
/// as `run_differential` does, and after each command compares what tracking clients were
/// told: a default-mode client that has read every key of [`TRACKED_KEYS`] and a BCAST client
/// must get the same messages, in the same order. Returns the commands compared.
#[allow(dead_code)]
pub fn run_tracking_differential(
    name: &str,
    text: &str,
    (rport, vport): (u16, u16),
    failures: &mut Vec<String>,
) -> usize {
    let mut sides = [Trackers::new(rport), Trackers::new(vport)];
    let mut compared = 0;
    for (n, line) in text.lines().enumerate().map(|(n, l)| (n + 1, l.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        compared += 1;
        let [want, got] = sides.each_mut().map(|s| s.driver.line(line));
        if want != got {
            let (want, got) = (show(&want), show(&got));
            failures.push(format!("{name}:{n}: {line}\n  reference: {want}\n  vireo:     {got}"));
        }
        let [want, got] = sides.each_mut().map(|s| s.told());
        if want != got {
            failures
                .push(format!("{name}:{n}: {line}: told\n  reference: {want:?}\n  vireo: {got:?}"));
        }
    }
    compared
}

/// Waits until `f` holds (polling every 10 ms), or fails after `secs` seconds naming `what`.
#[track_caller]
#[allow(dead_code)]
pub fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits up to `secs` for `child` to exit; `None` (the child still running) when it did not.
pub fn wait_exit(child: &mut Child, secs: u64) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts Vireo with `args` on a free port, expecting it to exit during start-up; returns
/// whether it exited successfully and its log. Panics (after killing it) if it keeps running.
pub fn start_fails(args: &[&str]) -> (bool, String) {
    let tmp = TempDir::new("start");
    let port = free_port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vireo-server"))
        .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--logfile", "vireo.log"])
        .args(args)
        .current_dir(&tmp.0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let Some(status) = wait_exit(&mut child, 10) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server started with {args:?}");
    };
    let log = std::fs::read_to_string(tmp.0.join("vireo.log")).unwrap_or_default();
    (status.success(), log)
}

/// Starts `bin` in `dir` as `bin <before> --port <free> --bind 127.0.0.1 <after>` (output
/// discarded); tries another port when the server does not come up (the port was taken
/// meanwhile). Waits for it to answer commands, or, with `loaded`, to have loaded its data. None
/// after five tries.
fn spawn_on_free_port(
    bin: &Path,
    dir: &Path,
    loaded: bool,
    before: &[&OsStr],
    after: &[&OsStr],
) -> Option<(Child, u16)> {
    for _ in 0..5 {
        let port = free_port();
        let mut child = Command::new(bin)
            // Collation in bytes whatever the developer's locale (see `start_in_locale`).
            .env("LC_ALL", "C")
            .args(before)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(after)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        if wait_port(port, Some(&mut child), loaded) {
            return Some((child, port));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    None
}

/// Vireo started on a configuration file (its first argument, as redis-server takes it) in
/// directory `dir`, with `--port <free> --bind 127.0.0.1 --save ""` and `extra` after it; killed
/// on drop.
pub struct ConfServer {
    child: Child,
    pub port: u16,
}

impl ConfServer {
    pub fn start(dir: &Path, conf: &Path, extra: &[&str]) -> ConfServer {
        let bin = Path::new(env!("CARGO_BIN_EXE_vireo-server"));
        let mut after = vec![OsStr::new("--save"), OsStr::new("")];
        after.extend(extra.iter().map(OsStr::new));
        let (child, port) = spawn_on_free_port(bin, dir, false, &[conf.as_os_str()], &after)
            .unwrap_or_else(|| panic!("vireo-server did not start with {}", conf.display()));
        ConfServer { child, port }
    }

    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }
}

impl Drop for ConfServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server started in a directory that outlives it, so that another can start on its files
/// (persistence tests): `bin` is Vireo or the reference Redis.
pub struct DirServer {
    pub child: Child,
    pub port: u16,
}

impl DirServer {
    pub fn start(bin: &Path, dir: &Path, extra: &[&str]) -> DirServer {
        let mut after = vec![OsStr::new("--dir"), dir.as_os_str()];
        after.extend(extra.iter().map(OsStr::new));
        let (child, port) = spawn_on_free_port(bin, dir, true, &[], &after)
            .unwrap_or_else(|| panic!("{} did not start in {}", bin.display(), dir.display()));
        DirServer { child, port }
    }

    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .unwrap()
            .get_connection()
            .unwrap()
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit by itself (after SHUTDOWN).
    pub fn wait_exit(mut self) {
        if wait_exit(&mut self.child, 10).is_none() {
            let _ = self.child.kill();
            panic!("server did not exit");
        }
    }
}

impl Drop for DirServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection that sends commands as RESP and returns each reply's exact bytes.
pub struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        Raw::try_connect(port).unwrap()
    }

    pub fn try_connect(port: u16) -> std::io::Result<Raw> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        Ok(Raw { stream, buf: Vec::new() })
    }

    /// Sends bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends one command (as a RESP array of bulk strings) without reading its reply.
    pub fn send_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.send(&encode(args));
    }

    /// Sends one command and returns its reply's bytes.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send_cmd(args);
        self.read_reply()
    }

    /// Sends a command written as a line (see [`split_args`]) and returns its reply's bytes.
    pub fn line(&mut self, line: &str) -> Vec<u8> {
        self.call(&split_args(line))
    }

    /// One field of `INFO <section>`, trimmed; panics if the section has no such field.
    #[allow(dead_code)]
    pub fn info_field(&mut self, section: &str, field: &str) -> String {
        let text = String::from_utf8_lossy(&self.call(&["INFO", section])).to_string();
        let prefix = format!("{field}:");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
            .trim()
            .to_string()
    }

    /// Sends a command line and asserts its reply, byte for byte.
    #[track_caller]
    pub fn expect(&mut self, line: &str, reply: &[u8]) {
        let got = self.line(line);
        assert_eq!(show(&got), show(reply), "reply to `{line}`");
    }

    /// Runs a script of (command line, expected reply) pairs; see [`Raw::expect`].
    #[track_caller]
    pub fn script(&mut self, steps: &[(&str, &[u8])]) {
        for (line, reply) in steps {
            self.expect(line, reply);
        }
    }

    /// Reads exactly one complete reply and returns its bytes.
    pub fn read_reply(&mut self) -> Vec<u8> {
        loop {
            if let Some(n) = reply_len(&self.buf) {
                return self.buf.drain(..n).collect();
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk).expect("read reply");
            assert!(n > 0, "connection closed; unparsed: {}", show(&self.buf));
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// An integer reply's value.
    #[track_caller]
    pub fn int(&mut self, line: &str) -> i64 {
        let r = self.line(line);
        assert_eq!(r.first(), Some(&b':'), "`{line}` answered {}", show(&r));
        std::str::from_utf8(&r[1..r.len() - 2]).unwrap().parse().unwrap()
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Splits a command line on spaces; `"..."` quotes an argument (which may be empty) and
/// `\xHH`, `\r`, `\n`, `\"` and `\\` are understood inside quotes.
pub fn split_args(line: &str) -> Vec<Vec<u8>> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b' ' {
            i += 1;
            continue;
        }
        let mut arg = Vec::new();
        if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                    match b[i] {
                        b'n' => arg.push(b'\n'),
                        b'r' => arg.push(b'\r'),
                        b'x' => {
                            let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                            arg.push(u8::from_str_radix(h, 16).unwrap());
                            i += 2;
                        }
                        c => arg.push(c),
                    }
                } else {
                    arg.push(b[i]);
                }
                i += 1;
            }
            i += 1;
        } else {
            while i < b.len() && b[i] != b' ' {
                arg.push(b[i]);
                i += 1;
            }
        }
        out.push(arg);
    }
    out
}

/// Length of the first complete RESP2/RESP3 reply in `buf`, if it is all there.
pub fn reply_len(buf: &[u8]) -> Option<usize> {
    fn line_end(buf: &[u8], from: usize) -> Option<usize> {
        buf[from..].windows(2).position(|w| w == b"\r\n").map(|p| from + p)
    }
    fn num(buf: &[u8], from: usize, end: usize) -> i64 {
        std::str::from_utf8(&buf[from..end]).unwrap().parse().unwrap()
    }
    fn one(buf: &[u8], at: usize) -> Option<usize> {
        let t = *buf.get(at)?;
        let end = line_end(buf, at + 1)?;
        let next = end + 2;
        match t {
            b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => Some(next),
            b'$' | b'=' | b'!' => {
                let n = num(buf, at + 1, end);
                if n < 0 {
                    return Some(next);
                }
                let stop = next + n as usize + 2;
                (buf.len() >= stop).then_some(stop)
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = num(buf, at + 1, end);
                let items = if t == b'%' || t == b'|' { 2 * n } else { n };
                let mut pos = next;
                for _ in 0..items.max(0) {
                    pos = one(buf, pos)?;
                }
                // An attribute is followed by the reply it describes.
                if t == b'|' {
                    pos = one(buf, pos)?;
                }
                Some(pos)
            }
            _ => panic!("not a RESP reply: {}", show(buf)),
        }
    }
    one(buf, 0)
}

/// Bytes as a readable string (`\r\n` and non-printables escaped) for assertion messages.
pub fn show(b: &[u8]) -> String {
    b.iter().flat_map(|&c| std::ascii::escape_default(c)).map(char::from).collect()
}

/// A server driven in-process through `cmd::execute`, with a `MemorySink` on its propagator:
/// for tests of what commands feed to the AOF/replication stream.
pub struct InProcess {
    pub server: std::sync::Arc<vireo_server::Server>,
    client: vireo_server::client::Client,
    sink: vireo_server::propagate::MemorySink,
    _push: tokio::sync::mpsc::UnboundedReceiver<bytes::Bytes>,
    /// More clients, by id, for tests that need several (see [`InProcess::run_as`]).
    others: Vec<(vireo_server::client::Client, tokio::sync::mpsc::UnboundedReceiver<bytes::Bytes>)>,
}

fn in_process_client(
    id: u64,
) -> (vireo_server::client::Client, tokio::sync::mpsc::UnboundedReceiver<bytes::Bytes>) {
    use vireo_server::client::{Client, ClientShared};
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let shared = std::sync::Arc::new(ClientShared::new(
        id,
        format!("127.0.0.1:{id}"),
        "127.0.0.1:2".into(),
        -1,
        false,
        tx.clone(),
    ));
    (Client::new(id, shared, true, tx), rx)
}

impl InProcess {
    pub fn new() -> InProcess {
        let server = vireo_server::Server::new(vireo_server::config::Config::default(), None);
        let sink = vireo_server::propagate::MemorySink::default();
        server.core.lock().prop.add_sink(Box::new(sink.clone()));
        let (client, rx) = in_process_client(1);
        InProcess { server, client, sink, _push: rx, others: Vec::new() }
    }

    /// Runs a command line as client `id` (2, 3, ...: created on first use); returns its reply.
    #[allow(dead_code)]
    pub fn run_as(&mut self, id: u64, line: &str) -> Vec<u8> {
        let argv: Vec<bytes::Bytes> = split_args(line).into_iter().map(Into::into).collect();
        let i = match self.others.iter().position(|(c, _)| c.id == id) {
            Some(i) => i,
            None => {
                self.others.push(in_process_client(id));
                self.others.len() - 1
            }
        };
        let mut out = Vec::new();
        let mut core = self.server.core.lock();
        let client = &mut self.others[i].0;
        vireo_server::cmd::execute(&self.server, &mut core, client, &argv, &mut out);
        out
    }

    /// Runs a command line; returns its reply's bytes.
    pub fn run(&mut self, line: &str) -> Vec<u8> {
        let argv: Vec<bytes::Bytes> = split_args(line).into_iter().map(Into::into).collect();
        let mut out = Vec::new();
        let mut core = self.server.core.lock();
        vireo_server::cmd::execute(&self.server, &mut core, &mut self.client, &argv, &mut out);
        out
    }

    /// The propagated stream's bytes since the last call.
    pub fn take_raw(&self) -> Vec<u8> {
        std::mem::take(&mut *self.sink.0.lock())
    }

    /// The commands propagated since the last call, SELECTs included.
    pub fn take(&self) -> Vec<Vec<String>> {
        let bytes = self.take_raw();
        let mut cmds = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let n = reply_len(&bytes[pos..]).expect("complete command");
            let text = String::from_utf8_lossy(&bytes[pos..pos + n]).to_string();
            let mut lines = text.split("\r\n");
            let argc: usize = lines.next().unwrap()[1..].parse().unwrap();
            cmds.push(
                (0..argc)
                    .map(|_| {
                        lines.next();
                        lines.next().unwrap().to_string()
                    })
                    .collect(),
            );
            pos += n;
        }
        cmds
    }
}

/// Checks SCAN's guarantee on one collection key: a full `scan_cmd key cursor COUNT 20`
/// iteration (HSCAN, SSCAN or ZSCAN) runs while `churn(conn, step)` adds and removes other
/// elements between calls, and every one of `stable` (present for the whole iteration) must be
/// returned at least once. `pairs`: the reply alternates element and value (HSCAN, ZSCAN).
/// Returns the number of calls the iteration took.
pub fn scan_keeps_stable_elements(
    c: &mut redis::Connection,
    scan_cmd: &str,
    key: &str,
    pairs: bool,
    stable: &[String],
    mut churn: impl FnMut(&mut redis::Connection, usize),
) -> usize {
    let mut seen = std::collections::HashSet::new();
    let mut cursor = 0u64;
    let mut calls = 0;
    loop {
        let (next, items): (u64, Vec<String>) =
            redis::cmd(scan_cmd).arg(key).arg(cursor).arg("COUNT").arg(20).query(c).unwrap();
        let step = if pairs { 2 } else { 1 };
        seen.extend(items.into_iter().step_by(step));
        calls += 1;
        assert!(calls < 100_000, "{scan_cmd} does not terminate");
        if next == 0 {
            break;
        }
        cursor = next;
        churn(c, calls);
    }
    let missed: Vec<&String> = stable.iter().filter(|m| !seen.contains(*m)).collect();
    assert!(
        missed.is_empty(),
        "{scan_cmd} missed {} of {} elements present throughout, e.g. {:?}",
        missed.len(),
        stable.len(),
        &missed[..missed.len().min(5)]
    );
    calls
}

/// A raw connection that reads exact bytes and can tell when nothing (more) arrives: for tests
/// of pushed messages (Pub/Sub, keyspace notifications, client tracking).
pub struct Conn {
    pub s: TcpStream,
    pub buf: Vec<u8>,
}

impl Conn {
    pub fn new(srv: &Server) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
        s.set_nodelay(true).unwrap();
        Conn { s, buf: Vec::new() }
    }

    pub fn resp3(srv: &Server) -> Conn {
        let mut c = Conn::new(srv);
        let r = c.call("HELLO 3");
        assert_eq!(r[0], b'%', "{}", show(&r));
        c
    }

    pub fn send(&mut self, line: &str) {
        self.s.write_all(&encode(&split_args(line))).unwrap();
    }

    pub fn send_args(&mut self, args: &[&[u8]]) {
        self.s.write_all(&encode(args)).unwrap();
    }

    /// Reads more into the buffer; false on timeout or EOF.
    pub fn fill(&mut self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        self.s.set_read_timeout(Some(left)).unwrap();
        let mut chunk = [0u8; 65536];
        match self.s.read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// One reply (or push), or `None` if nothing complete arrives within `wait`.
    pub fn reply_within(&mut self, wait: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(n) = reply_len(&self.buf) {
                return Some(self.buf.drain(..n).collect());
            }
            if !self.fill(deadline) {
                return None;
            }
        }
    }

    pub fn reply(&mut self) -> Vec<u8> {
        self.reply_within(Duration::from_secs(10)).expect("a reply")
    }

    pub fn call(&mut self, line: &str) -> Vec<u8> {
        self.send(line);
        self.reply()
    }

    /// Sends a command and asserts the exact bytes that come back (several replies or pushes
    /// may make them up).
    #[track_caller]
    pub fn expect(&mut self, line: &str, want: &[u8]) {
        self.send(line);
        self.expect_bytes(want, line);
    }

    #[track_caller]
    pub fn expect_bytes(&mut self, want: &[u8], what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.buf.len() < want.len() && self.fill(deadline) {}
        let got: Vec<u8> = self.buf.drain(..want.len().min(self.buf.len())).collect();
        assert_eq!(show(&got), show(want), "after `{what}`");
    }

    /// Asserts nothing arrives for a moment.
    #[track_caller]
    pub fn expect_silence(&mut self) {
        let r = self.reply_within(Duration::from_millis(150));
        assert!(r.is_none(), "unexpected {}", show(&r.unwrap()));
    }

    pub fn int(&mut self, line: &str) -> i64 {
        let r = self.call(line);
        assert_eq!(r[0], b':', "`{line}` answered {}", show(&r));
        std::str::from_utf8(&r[1..r.len() - 2]).unwrap().parse().unwrap()
    }

    pub fn text(&mut self, line: &str) -> String {
        let r = self.call(line);
        String::from_utf8_lossy(&r).into_owned()
    }

    /// True once the server closed the connection (reading whatever was still on the way).
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        self.s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut chunk = vec![0u8; 1 << 20];
        while Instant::now() < deadline {
            match self.s.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return true,
            }
        }
        false
    }
}

/// The JSON module's library, built once for the whole test binary.
pub fn json_module() -> &'static str {
    static P: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    P.get_or_init(|| build_module("vireo-json", "vireo_json").display().to_string())
}

/// Builds a workspace package's cdylib with cargo (wherever its target directory is: cargo
/// says where it put the library) and returns the library's path.
pub fn build_module(package: &str, lib: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new(cargo)
        .args(["build", "--quiet", "--message-format=json", "-p", package])
        .current_dir(workspace)
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(out.status.success(), "cargo build -p {package} failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let file = format!("lib{lib}.so");
    for line in text.lines().filter(|l| l.contains("\"compiler-artifact\"")) {
        let Some(at) = line.find("\"filenames\":[") else { continue };
        let list = &line[at + 13..];
        let list = &list[..list.find(']').unwrap_or(list.len())];
        for f in list.split(',') {
            let f = f.trim_matches('"');
            if f.ends_with(&file) {
                return PathBuf::from(f);
            }
        }
    }
    panic!("cargo built no {file}");
}
