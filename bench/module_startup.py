#!/usr/bin/env python3
"""What loading modules at start-up costs: vireo-server started with 0 and with N `loadmodule`
lines (N distinct small modules, each with a command, two configs and an INFO section), the
time from exec to the first PING answer, median of several starts of each, interleaved.

    bench/module_startup.py [--modules 10] [--starts 9] [--debug]

The target: 10 modules add under 50 ms. A module's name is fixed in its library and two
modules of one name cannot load together (as in Redis), so the N modules are generated as N
tiny crates (`startmodK`) in a temporary workspace and built once (release, or debug with
`--debug`), sharing this repository's target directory and Cargo.lock. Vireo is $VIREO_BIN,
else target/release/vireo-server (target/debug with --debug), built first. Ports: a free one,
or the next free one in $VIREO_BENCH_PORTS ("LO-HI").
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import free_port  # noqa: E402

MODULE_SRC = r'''#![forbid(unsafe_code)]
use vireo_module_api::*;

fn init(ctx: &mut InitContext, _args: &[String]) -> Result<(), Error> {
    let limit = ctx.register_config(ConfigBuilder::numeric("limit", 10, 0, 1000))?;
    ctx.register_config(ConfigBuilder::string("label", "x"))?;
    ctx.load_configs()?;
    ctx.register(Command::new("startmod@K@.ping", |ctx: &mut Context, _args: &Args| {
        ctx.reply_simple("PONG");
        Ok(())
    }).arity(1).flags("fast"))?;
    ctx.register_info(move |info, _| {
        info.section("stats").field("limit", limit.get());
    })
}

vireo_module! { name: "startmod@K@", version: 1, init: init }
'''


def generate(n, profile):
    """Writes and builds the N module crates; returns their library paths."""
    ws = os.path.join(tempfile.gettempdir(), "vireo-startup-modules")
    os.makedirs(ws, exist_ok=True)
    members = []
    for k in range(n):
        d = os.path.join(ws, f"m{k}")
        os.makedirs(os.path.join(d, "src"), exist_ok=True)
        with open(os.path.join(d, "Cargo.toml"), "w") as f:
            f.write(
                f'[package]\nname = "startmod{k}"\nversion = "0.1.0"\nedition = "2021"\n'
                f'publish = false\n\n[lib]\ncrate-type = ["cdylib"]\n\n[dependencies]\n'
                f'vireo-module-api = {{ path = "{ROOT}/module-api" }}\n'
            )
        with open(os.path.join(d, "src", "lib.rs"), "w") as f:
            f.write(MODULE_SRC.replace("@K@", str(k)))
        members.append(f'"m{k}"')
    with open(os.path.join(ws, "Cargo.toml"), "w") as f:
        f.write(f"[workspace]\nresolver = \"2\"\nmembers = [{', '.join(members)}]\n")
    shutil.copy(os.path.join(ROOT, "Cargo.lock"), os.path.join(ws, "Cargo.lock"))
    target = os.path.join(ROOT, "target")
    cmd = ["cargo", "build", "--quiet", "--workspace"] + (["--release"] if profile == "release" else [])
    subprocess.run(cmd, cwd=ws, check=True, env=dict(os.environ, CARGO_TARGET_DIR=target))
    return [os.path.join(target, profile, f"libstartmod{k}.so") for k in range(n)]


def vireo_bin(profile):
    b = os.environ.get("VIREO_BIN")
    if b:
        return b
    cmd = ["cargo", "build", "--quiet", "-p", "vireo-server"] + (["--release"] if profile == "release" else [])
    subprocess.run(cmd, cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", profile, "vireo-server")


def start_time(binary, libs, workdir):
    """Seconds from exec to the first PING answer."""
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--loglevel", "warning"]
    for lib in libs:
        args += ["--loadmodule", lib]
    t0 = time.perf_counter()
    p = subprocess.Popen(args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if p.poll() is not None:
                sys.exit(f"vireo-server exited at start-up ({' '.join(args)})")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return time.perf_counter() - t0
            except OSError:
                time.sleep(0.0005)
            if time.perf_counter() - t0 > 30:
                sys.exit("vireo-server did not answer within 30 s")
    finally:
        p.kill()
        p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modules", type=int, default=10)
    ap.add_argument("--starts", type=int, default=9)
    ap.add_argument("--debug", action="store_true", help="debug builds (to check the script)")
    a = ap.parse_args()
    profile = "debug" if a.debug else "release"
    binary = vireo_bin(profile)
    libs = generate(a.modules, profile)
    with tempfile.TemporaryDirectory(prefix="vireo-startup-") as workdir:
        # One start of each first: the page cache holds the binary and the libraries.
        start_time(binary, [], workdir)
        start_time(binary, libs, workdir)
        bare, loaded = [], []
        for _ in range(a.starts):
            bare.append(start_time(binary, [], workdir))
            loaded.append(start_time(binary, libs, workdir))
    b, m = statistics.median(bare) * 1000, statistics.median(loaded) * 1000
    diff = m - b
    print(f"start-up to first PING, median of {a.starts} ({profile}):")
    print(f"  0 modules:  {b:8.2f} ms")
    print(f"  {a.modules} modules: {m:8.2f} ms")
    print(f"  difference: {diff:8.2f} ms ({diff / max(a.modules, 1):.2f} ms per module); "
          f"target for 10 modules: < 50 ms -> {'OK' if diff < 50 or a.modules != 10 else 'OVER'}")


if __name__ == "__main__":
    main()
