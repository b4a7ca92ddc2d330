//! CPU cost of parsing and replacing JSON documents, without the network or criterion:
//! `cargo run --release -p vireo-json --example parse_bench -- DOC.json [iterations]`
//! prints the best of 7 rounds, in ns per operation, of: serde_json's scan alone (IgnoredAny:
//! the floor), a parse and drop of the compact value, a drop alone (of many documents in a
//! row), and a JSON.SET of the root replacing an existing document (the module's command
//! table on a fake keyspace: parse, store, free of the old document, reply).
//!
//! With a third argument (`scan`, `parse` or `set`) it runs only that operation, `iterations` times,
//! without timing: for instruction counts that a busy machine does not disturb, e.g.
//! `valgrind --tool=cachegrind --cache-sim=no parse_bench DOC.json 200 set` minus the same with
//! 0 iterations, divided by 200.

use std::hint::black_box;
use std::time::Instant;

use vireo_json::value::Value;
use vireo_module_api::testing::TestModule;
use vireo_module_api::{Error, InitContext};

fn init(ctx: &mut InitContext, _: &[String]) -> Result<(), Error> {
    ctx.register_type::<vireo_json::JsonDoc>()?;
    vireo_json::register_all(ctx, std::sync::Arc::new(vireo_json::TypeStore))
}

const ROUNDS: usize = 7;

fn best_of(n: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        best = best.min(t.elapsed().as_nanos() as f64 / n as f64);
    }
    best
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let doc = std::fs::read(&args[1]).expect("a JSON file");
    let n: usize = args.get(2).map_or(10_000, |s| s.parse().expect("a count"));

    let mut m = TestModule::load("ReJSON", init, &[]).unwrap();
    let argv: [&[u8]; 4] = [b"JSON.SET", b"k", b"$", &doc];
    m.run(&argv);
    match args.get(3).map(String::as_str) {
        Some("parse") => {
            for _ in 0..n {
                black_box(Value::parse(black_box(&doc)).unwrap());
            }
            return;
        }
        Some("scan") => {
            for _ in 0..n {
                let _: serde::de::IgnoredAny = serde_json::from_slice(black_box(&doc)).unwrap();
            }
            return;
        }
        Some("set") => {
            for _ in 0..n {
                black_box(m.run(&argv));
            }
            return;
        }
        Some(other) => panic!("{other}: scan, parse or set"),
        None => {}
    }
    let scan = best_of(n, || {
        let _: serde::de::IgnoredAny = serde_json::from_slice(black_box(&doc)).unwrap();
    });
    let parse = best_of(n, || {
        black_box(Value::parse(black_box(&doc)).unwrap());
    });
    let mut docs: Vec<Value> = Vec::with_capacity(n);
    let mut drop = f64::MAX;
    for _ in 0..ROUNDS {
        docs.extend((0..n).map(|_| Value::parse(&doc).unwrap()));
        let t = Instant::now();
        docs.clear();
        drop = drop.min(t.elapsed().as_nanos() as f64 / n as f64);
    }
    let set = best_of(n, || {
        black_box(m.run(&argv));
    });
    println!(
        "{} bytes: scan {scan:.0} ns, parse+drop {parse:.0} ns, drop {drop:.0} ns, \
         JSON.SET replace {set:.0} ns",
        doc.len()
    );
}
