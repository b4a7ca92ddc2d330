//! The JSON module's shared API (`vireo-json-api`, exported as `json`) used by another module:
//! `sdk-examples/json-reader`, a stand-in for a search module, reads documents and evaluates
//! paths through it, on its own commands' contexts. Also the host rule that allows it (an
//! importer's context may read the exporter's data type, never write it) and the unload rule.

use crate::common;

use std::sync::OnceLock;

use common::{build_module, json_module, show, Server};

fn reader() -> &'static str {
    static P: OnceLock<String> = OnceLock::new();
    P.get_or_init(|| {
        build_module("vireo-example-json-reader", "vireo_json_reader").display().to_string()
    })
}

fn start(modules: &[&str]) -> Server {
    let mut args = vec!["--enable-module-command", "yes"];
    for m in modules {
        args.extend_from_slice(&["--loadmodule", m]);
    }
    Server::start_with(&args)
}

const DOC: &str = r#"{"s":"hé","i":-7,"f":1.5,"t":true,"z":false,"n":null,"big":18446744073709551615,"a":[1,"x",[2,3]],"o":{"k":"v","m":{"k":2}},"books":[{"title":"Dune","price":9.5},{"title":"Emma","price":12}]}"#;

const WRONGTYPE: &[u8] = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const NOT_OWNER: &[u8] = b"-ERR data type 'ReJSON-RL' is not registered by module 'jsonreader'\r\n";
const NO_IMPORT: &[u8] = b"-ERR data type 'ReJSON-RL' belongs to module 'ReJSON': module 'jsonreader' may read it only after importing a shared API that module exports\r\n";
const USED: &[u8] = b"-ERR Error unloading module: the module exports APIs used by other modules. Please unload them first and try again\r\n";

/// `[type, value]` as JSONREADER.GET replies one match, the value already encoded.
fn m(ty: &str, value: &str) -> String {
    format!("*2\r\n${}\r\n{ty}\r\n{value}", ty.len())
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

fn arr(items: &[String]) -> Vec<u8> {
    format!("*{}\r\n{}", items.len(), items.concat()).into_bytes()
}

#[test]
fn reads_documents_and_paths_through_the_api() {
    let srv = start(&[json_module(), reader()]);
    let mut r = srv.raw();
    assert_eq!(r.call(&["JSON.SET", "doc", "$", DOC]), b"+OK\r\n");
    r.expect("SET plain v", b"+OK\r\n");

    r.expect("JSONREADER.ISJSON doc", b":1\r\n");
    r.expect("JSONREADER.ISJSON plain", b":0\r\n");
    r.expect("JSONREADER.ISJSON nokey", b":0\r\n");

    // Each type, its scalar (RESP2: a double is a bulk string, a boolean an integer).
    r.expect("JSONREADER.GET doc $.s", &arr(&[m("string", &bulk("hé"))]));
    r.expect("JSONREADER.GET doc $.i", &arr(&[m("integer", ":-7\r\n")]));
    r.expect("JSONREADER.GET doc $.f", &arr(&[m("number", &bulk("1.5"))]));
    r.expect("JSONREADER.GET doc $.t", &arr(&[m("boolean", ":1\r\n")]));
    r.expect("JSONREADER.GET doc $.z", &arr(&[m("boolean", ":0\r\n")]));
    r.expect("JSONREADER.GET doc $.n", &arr(&[m("null", "$-1\r\n")]));
    // An integer above i64::MAX has no i64 value: the reader falls back to the double.
    r.expect("JSONREADER.GET doc $.big", &arr(&[m("integer", &bulk("1.8446744073709552e+19"))]));
    r.expect("JSONREADER.GET doc $.a", &arr(&[m("array", &bulk(r#"[1,"x",[2,3]]"#))]));
    r.expect("JSONREADER.GET doc $.o", &arr(&[m("object", &bulk(r#"{"k":"v","m":{"k":2}}"#))]));

    // JSONPath: every match, in JSON.GET's order.
    r.expect(
        "JSONREADER.GET doc $.books[*].price",
        &arr(&[m("number", &bulk("9.5")), m("integer", ":12\r\n")]),
    );
    r.expect("JSONREADER.GET doc $..k", &arr(&[m("string", &bulk("v")), m("integer", ":2\r\n")]));
    r.expect(
        "JSONREADER.GET doc $.books[?(@.price<10)].title",
        &arr(&[m("string", &bulk("Dune"))]),
    );
    r.expect(
        "JSONREADER.GET doc $.a[*]",
        &arr(&[m("integer", ":1\r\n"), m("string", &bulk("x")), m("array", &bulk("[2,3]"))]),
    );
    r.expect("JSONREADER.GET doc $.nope", b"*0\r\n");
    // Legacy paths: the first match only; none is an empty list.
    r.expect("JSONREADER.GET doc .books[1].title", &arr(&[m("string", &bulk("Emma"))]));
    r.expect("JSONREADER.GET doc ..k", &arr(&[m("string", &bulk("v"))]));
    r.expect("JSONREADER.GET doc i", &arr(&[m("integer", ":-7\r\n")]));
    r.expect("JSONREADER.GET doc .nope", b"*0\r\n");

    // Lengths: a string's bytes, an array's elements, an object's members; none for others.
    r.expect(
        "JSONREADER.LEN doc $[\"s\",\"a\",\"o\",\"i\",\"n\"]",
        b"*5\r\n:3\r\n:3\r\n:2\r\n$-1\r\n$-1\r\n",
    );
    // Serialized text, the same as JSON.GET's.
    r.expect("JSONREADER.TEXT doc $.o.m", &arr(&[bulk(r#"{"k":2}"#)]));
    let whole = r.call(&["JSON.GET", "doc"]);
    r.expect("JSONREADER.TEXT doc $", &[b"*1\r\n".as_slice(), &whole].concat());
    r.expect("JSONREADER.TEXT doc .f", &arr(&[bulk("1.5")]));
    // An array's elements.
    r.expect("JSONREADER.AT doc $.a 2", &arr(&[bulk("[2,3]")]));
    r.expect("JSONREADER.AT doc $..a 3", b"*1\r\n$-1\r\n");
    r.expect("JSONREADER.AT doc $.s 0", b"*1\r\n$-1\r\n");

    // A missing key, a key of another type, a path that does not parse (JSON.GET's error).
    r.expect("JSONREADER.GET nokey $", b"$-1\r\n");
    r.expect("JSONREADER.GET plain $", WRONGTYPE);
    let bad = r.line("JSON.GET doc $.a[");
    assert!(bad.starts_with(b"-Error occurred on position"), "{}", show(&bad));
    r.expect("JSONREADER.GET doc $.a[", &bad);
    r.expect("JSONREADER.GET nokey $.a[", &bad);

    // The caller's database.
    r.expect("SELECT 1", b"+OK\r\n");
    r.expect("JSONREADER.ISJSON doc", b":0\r\n");
    r.expect("JSONREADER.GET doc $", b"$-1\r\n");
    r.expect("SELECT 0", b"+OK\r\n");

    // RESP3: booleans and doubles in their own types.
    r.call(&["HELLO", "3"]);
    r.expect("JSONREADER.GET doc $.t", &arr(&[m("boolean", "#t\r\n")]));
    r.expect("JSONREADER.GET doc $.f", &arr(&[m("number", ",1.5\r\n")]));
    r.expect("JSONREADER.GET doc $.n", &arr(&[m("null", "_\r\n")]));

    // Reads changed nothing.
    let after = r.call(&["JSON.GET", "doc"]);
    assert_eq!(after, whole);
}

#[test]
fn the_importer_reads_only_through_the_json_module() {
    let srv = start(&[json_module(), reader()]);
    let mut r = srv.raw();
    assert_eq!(r.call(&["JSON.SET", "doc", "$", r#"{"a":1}"#]), b"+OK\r\n");
    // Its own code: the server lets it reach the value (it imported the API), but only the
    // JSON module's code can downcast it, so the read is WRONGTYPE; writes are refused.
    let want =
        [b"*3\r\n".as_slice(), &bulk_of(WRONGTYPE), &bulk_of(NOT_OWNER), &bulk_of(NOT_OWNER)]
            .concat();
    r.expect("JSONREADER.PROBE doc", &want);
    r.expect("TYPE doc", b"+ReJSON-RL\r\n");
    r.expect("JSON.GET doc", &bulk(r#"{"a":1}"#).into_bytes());
    // On a missing key the refusal to write is the same; the read finds nothing.
    let want = [
        b"*3\r\n".as_slice(),
        &bulk("allowed (found: false)").into_bytes(),
        &bulk_of(NOT_OWNER),
        &bulk_of(NOT_OWNER),
    ]
    .concat();
    r.expect("JSONREADER.PROBE nokey", &want);
    r.expect("EXISTS nokey", b":0\r\n");
}

/// An error reply's text (without `-` and CRLF) as a bulk string.
fn bulk_of(err: &[u8]) -> Vec<u8> {
    bulk(std::str::from_utf8(&err[1..err.len() - 2]).unwrap()).into_bytes()
}

#[test]
fn without_the_import_nothing_is_read_and_json_stays_unloadable() {
    // The reader first: it has nothing to import at load.
    let srv = start(&[reader()]);
    let mut r = srv.raw();
    r.expect("JSONREADER.GET doc $", b"-ERR no module exports a shared API named 'json'\r\n");
    r.expect("JSONREADER.ISJSON doc", b"-ERR no module exports a shared API named 'json'\r\n");
    r.expect(&format!("MODULE LOAD {}", json_module()), b"+OK\r\n");
    assert_eq!(r.call(&["JSON.SET", "doc", "$", r#"{"a":[1,2]}"#]), b"+OK\r\n");
    // Not imported yet: the server refuses even a read of the JSON module's type.
    let want =
        [b"*3\r\n".as_slice(), &bulk_of(NO_IMPORT), &bulk_of(NOT_OWNER), &bulk_of(NOT_OWNER)]
            .concat();
    r.expect("JSONREADER.PROBE doc", &want);
    r.expect("FLUSHALL", b"+OK\r\n");
    // Nothing links the two yet: the JSON module unloads (no documents are left).
    r.expect("MODULE UNLOAD ReJSON", b"+OK\r\n");
    r.expect(&format!("MODULE LOAD {}", json_module()), b"+OK\r\n");
    assert_eq!(r.call(&["JSON.SET", "doc", "$", r#"{"a":[1,2]}"#]), b"+OK\r\n");
    // The first command that needs the API imports it.
    r.expect("JSONREADER.GET doc $.a", &arr(&[m("array", &bulk("[1,2]"))]));
    let info = show(&r.line("INFO modules"));
    assert!(
        info.contains(
            "module:name=ReJSON,ver=20803,api=1,filters=0,usedby=[jsonreader],using=[],options=[]"
        ),
        "{info}"
    );
    assert!(
        info.contains(
            "module:name=jsonreader,ver=1,api=1,filters=0,usedby=[],using=[ReJSON],options=[]"
        ),
        "{info}"
    );
    r.expect("FLUSHALL", b"+OK\r\n");
    r.expect("MODULE UNLOAD ReJSON", USED);
}

#[test]
fn json_cannot_be_unloaded_while_the_reader_is_loaded() {
    let srv = start(&[json_module(), reader()]);
    let mut r = srv.raw();
    assert_eq!(r.call(&["JSON.SET", "doc", "$", "[1]"]), b"+OK\r\n");
    r.expect(
        "MODULE UNLOAD ReJSON",
        b"-ERR Error unloading module: the module exports one or more module-side data types, can't unload\r\n",
    );
    r.expect("FLUSHALL", b"+OK\r\n");
    // No documents left, but the reader imported the API at its load.
    r.expect("MODULE UNLOAD ReJSON", USED);
    r.expect("JSONREADER.ISJSON doc", b":0\r\n");
    r.expect("MODULE UNLOAD jsonreader", b"+OK\r\n");
    r.expect("MODULE UNLOAD ReJSON", b"+OK\r\n");
    r.expect("MODULE LIST", b"*0\r\n");
}
