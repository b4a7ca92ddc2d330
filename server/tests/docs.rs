//! Keeps docs/compatibility.md in step with the command table: the table is rendered from
//! server/commands/*.json (every Redis 7.0 command), server/commands/vireo/*.json (the later
//! commands Vireo adds) and the handlers Vireo has. When a handler
//! is added the test fails until the doc is regenerated with
//! `VIREO_BLESS=1 cargo test -p vireo-server --test integration docs::`.

use std::collections::BTreeMap;
use std::path::Path;

use vireo_server::cmd::Commands;

fn render() -> String {
    let cmds = Commands::build();
    let mut groups: BTreeMap<&str, Vec<(String, &str, &str)>> = BTreeMap::new();
    let mut total = 0;
    let mut done = 0;
    for c in cmds.iter() {
        let mut rows = Vec::new();
        if c.is_container() {
            for s in c.subcommands.values() {
                rows.push(s);
            }
        } else {
            rows.push(c);
        }
        for r in rows {
            total += 1;
            let status = if vireo_server::cmd::cluster::answers_disabled(r.fullname) {
                "no cluster mode"
            } else if r.handler.is_some() {
                done += 1;
                "yes"
            } else {
                "not yet"
            };
            let name = r.fullname.replace('|', " ").to_ascii_uppercase();
            groups.entry(r.spec.group).or_default().push((name, r.spec.since, status));
        }
    }
    let mut out = String::new();
    out.push_str("# Command compatibility\n\n");
    out.push_str(
        "Every command of Redis 7.0, the few later ones Vireo adds, and whether Vireo implements \
         each. A command marked \"not yet\" answers \
         `ERR command '<name>' is not implemented in Vireo yet`. Vireo has no cluster mode: the \
         commands marked \"no cluster mode\" answer `ERR This instance has cluster support \
         disabled`, as Redis does with `cluster-enabled no`.\n\
         Generated from `server/commands/*.json`, `server/commands/vireo/*.json` and the handler \
         tables by `server/tests/docs.rs` (`VIREO_BLESS=1 cargo test -p vireo-server --test integration docs::` rewrites it).\n\n",
    );
    out.push_str(&format!("Implemented: {done} of {total}.\n"));
    for (group, mut rows) in groups {
        rows.sort();
        out.push_str(&format!(
            "\n## {group}\n\n| command | since | implemented |\n|---|---|---|\n"
        ));
        for (name, since, status) in rows {
            out.push_str(&format!("| {name} | {since} | {status} |\n"));
        }
    }
    out.push_str(&json_section());
    out
}

/// Every command of RedisJSON 2.8 (`COMMAND LIST FILTERBY MODULE ReJSON` on Redis Stack 7.4.1)
/// and whether the JSON module (`modules/json`) registers it.
const REDISJSON_2_8: &[&str] = &[
    "json.arrappend",
    "json.arrindex",
    "json.arrinsert",
    "json.arrlen",
    "json.arrpop",
    "json.arrtrim",
    "json.clear",
    "json.debug",
    "json.del",
    "json.forget",
    "json.get",
    "json.merge",
    "json.mget",
    "json.mset",
    "json.numincrby",
    "json.nummultby",
    "json.numpowby",
    "json.objkeys",
    "json.objlen",
    "json.resp",
    "json.set",
    "json.strappend",
    "json.strlen",
    "json.toggle",
    "json.type",
];

fn json_section() -> String {
    let have = vireo_json::command_names();
    let mut out = String::from(
        "\n## json (module)\n\nThe commands of RedisJSON 2.8, provided by the JSON module \
         (`modules/json`, loaded with `loadmodule`; see [modules/json.md](modules/json.md)).\n\n\
         | command | module | implemented |\n|---|---|---|\n",
    );
    for name in REDISJSON_2_8 {
        let status = if have.contains(name) { "yes" } else { "not yet" };
        out.push_str(&format!("| {} | ReJSON | {status} |\n", name.to_ascii_uppercase()));
    }
    out
}

#[test]
fn compatibility_table_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/compatibility.md");
    let want = render();
    if std::env::var_os("VIREO_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/compatibility.md is stale: run `VIREO_BLESS=1 cargo test -p vireo-server --test integration docs::`"
    );
}
