//! Vireo's servers under Redis Sentinel: the reference `redis-server` run as a sentinel watches
//! a Vireo master and its Vireo replica, fails over when the master dies, turns the old master
//! into a replica when it comes back, and fails over back on `SENTINEL FAILOVER`. This is how a
//! Sentinel deployment keeps its sentinels and swaps its data servers for Vireo.

use crate::common;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{eventually, free_port, wait_ready, Raw, TempDir};

/// A process killed on drop.
struct Proc {
    child: Child,
    port: u16,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }
}

fn spawn(bin: &Path, args: &[&str], dir: &Path, port: u16) -> Proc {
    std::fs::create_dir_all(dir).unwrap();
    let log = std::fs::File::create(dir.join(format!("{port}.log"))).unwrap();
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    assert!(wait_ready(port, Some(&mut child)), "{} did not start on {port}", bin.display());
    Proc { child, port }
}

fn vireo(dir: &Path, port: u16, extra: &[&str]) -> Proc {
    let p = port.to_string();
    let mut args = vec!["--port", &p, "--bind", "127.0.0.1", "--save", ""];
    args.extend_from_slice(extra);
    spawn(Path::new(env!("CARGO_BIN_EXE_vireo-server")), &args, dir, port)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The address the sentinel gives for the master.
fn master_port(s: &Proc) -> String {
    let r = text(&s.raw().line("SENTINEL get-master-addr-by-name mymaster"));
    r.lines().last().unwrap_or_default().to_string()
}

/// ROLE's first element (`master`, `slave`), with a replica's master port: `slave of 6380`.
fn role_of(port: u16) -> String {
    let Ok(mut c) = Raw::try_connect(port) else { return "down".into() };
    let r = text(&c.line("ROLE"));
    let lines: Vec<&str> = r.lines().collect();
    let role = lines.get(2).copied().unwrap_or_default();
    if role != "slave" {
        return role.to_string();
    }
    let master = lines.iter().find(|l| l.starts_with(':')).copied().unwrap_or_default();
    format!("slave of {}", master.trim_start_matches(':'))
}

/// The sentinel sees the replica on `port` in sync with its master.
fn replica_ok(s: &Proc, port: u16) -> bool {
    let r = text(&s.raw().line("SENTINEL replicas mymaster"));
    let lines: Vec<&str> = r.lines().filter(|l| !l.starts_with(['*', '$'])).collect();
    let name = format!("127.0.0.1:{port}");
    lines.split(|l| *l == "name").any(|fields| {
        fields.first() == Some(&name.as_str())
            && fields.windows(2).any(|w| w[0] == "master-link-status" && w[1] == "ok")
            && fields.windows(2).any(|w| w[0] == "flags" && w[1] == "slave")
    })
}

/// Waits for what the sentinel does on its own timers (its INFO refresh is every 10 s, longer
/// under a loaded CI machine): up to 120 s, then fails with the sentinel's log.
fn paced(dir: &Path, sentinel_port: u16, what: &str, mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(120) {
        if f() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(dir.join(format!("{sentinel_port}.log"))).unwrap_or_default();
    panic!("timed out waiting for {what}; sentinel log:\n{log}");
}

#[test]
fn sentinel_fails_over_between_vireo_servers() {
    let Some(redis) = common::reference_redis() else {
        eprintln!("SKIPPED sentinel: no reference redis-server to run as a sentinel");
        return;
    };
    let dir = TempDir::new("sentinel");
    let (mp, rp, sp) = (free_port(), free_port(), free_port());
    let master = vireo(&dir.0.join("m"), mp, &[]);
    let mps = mp.to_string();
    let _replica = vireo(&dir.0.join("r"), rp, &["--replicaof", "127.0.0.1", &mps]);
    let conf = dir.0.join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {sp}\nbind 127.0.0.1\nsentinel monitor mymaster 127.0.0.1 {mp} 1\n\
             sentinel down-after-milliseconds mymaster 1000\n\
             sentinel failover-timeout mymaster 5000\n"
        ),
    )
    .unwrap();
    let sentinel = spawn(&redis, &[conf.to_str().unwrap(), "--sentinel"], &dir.0, sp);
    paced(&dir.0, sp, "the sentinel to find the replica", || replica_ok(&sentinel, rp));
    master.raw().expect("SET k v", b"+OK\r\n");
    eventually(10, "the write to reach the replica", || {
        Raw::connect(rp).line("GET k") == b"$1\r\nv\r\n"
    });

    // The master dies: the sentinel promotes the replica.
    drop(master);
    paced(&dir.0, sp, "the failover", || master_port(&sentinel) == rp.to_string());
    assert_eq!(role_of(rp), "master");
    Raw::connect(rp).expect("GET k", b"$1\r\nv\r\n");
    Raw::connect(rp).expect("SET k2 v2", b"+OK\r\n");

    // The old master comes back as a master: the sentinel makes it a replica of the new one.
    let _old = vireo(&dir.0.join("m"), mp, &[]);
    paced(&dir.0, sp, "the old master to follow the new one", || {
        role_of(mp) == format!("slave of {rp}")
    });
    eventually(10, "the old master to sync", || Raw::connect(mp).line("GET k2") == b"$2\r\nv2\r\n");

    // SENTINEL FAILOVER hands the role back, gracefully.
    paced(&dir.0, sp, "the sentinel to see the old master in sync", || replica_ok(&sentinel, mp));
    sentinel.raw().expect("SENTINEL FAILOVER mymaster", b"+OK\r\n");
    paced(&dir.0, sp, "the manual failover", || master_port(&sentinel) == mp.to_string());
    paced(&dir.0, sp, "the roles to swap", || {
        role_of(mp) == "master" && role_of(rp) == format!("slave of {mp}")
    });
    Raw::connect(mp).expect("GET k2", b"$2\r\nv2\r\n");
}
