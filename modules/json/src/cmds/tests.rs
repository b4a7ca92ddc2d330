//! Sessions of commands on one in-memory keyspace, replies encoded as RESP and compared with
//! what Redis Stack 7.4.1 + RedisJSON 2.8 answered to the same commands.

use std::collections::HashMap;

use super::*;

/// Encodes a reply as a RESP2 or RESP3 client reads it.
fn encode(r: &Reply, resp3: bool, out: &mut String) {
    match r {
        Reply::Ok => out.push_str("+OK\r\n"),
        Reply::Null => out.push_str(if resp3 { "_\r\n" } else { "$-1\r\n" }),
        Reply::Int(i) => out.push_str(&format!(":{i}\r\n")),
        Reply::Bulk(s) => out.push_str(&format!("${}\r\n{s}\r\n", s.len())),
        Reply::Simple(s) => out.push_str(&format!("+{s}\r\n")),
        Reply::Double(d) => {
            let s = crate::value::format_double(*d);
            if resp3 {
                out.push_str(&format!(",{s}\r\n"));
            } else {
                out.push_str(&format!("${}\r\n{s}\r\n", s.len()));
            }
        }
        Reply::Arr(a) => {
            out.push_str(&format!("*{}\r\n", a.len()));
            for x in a {
                encode(x, resp3, out);
            }
        }
        Reply::Failed(e) => out.push_str(&format!("-{e}\r\n")),
    }
}

struct Session {
    keys: HashMap<String, Value>,
    resp3: bool,
}

impl Session {
    fn new(resp3: bool) -> Session {
        Session { keys: HashMap::new(), resp3 }
    }

    /// Runs `args` (command name first, key second) and returns the RESP bytes.
    fn run(&mut self, args: &[&str]) -> String {
        let name = args[0].to_ascii_lowercase();
        if args.len() < 2 {
            return format!("-ERR wrong number of arguments for '{name}' command\r\n");
        }
        let key = args[1].to_string();
        let rest: Vec<&[u8]> = args[2..].iter().map(|a| a.as_bytes()).collect();
        let mut doc = self.keys.get(&key).cloned();
        match run(&name, &mut doc, &rest, self.resp3) {
            Err(e) => format!("-{e}\r\n"),
            Ok((r, w)) => {
                match (w, doc) {
                    (Write::Update, Some(d)) => {
                        self.keys.insert(key, d);
                    }
                    (Write::Delete, _) => {
                        self.keys.remove(&key);
                    }
                    _ => {}
                }
                let mut out = String::new();
                encode(&r, self.resp3, &mut out);
                out
            }
        }
    }

    fn check(&mut self, steps: &[(&[&str], &str)]) {
        for (args, want) in steps {
            assert_eq!(self.run(args), *want, "{args:?} (RESP{})", if self.resp3 { 3 } else { 2 });
        }
    }
}

const DOC: &str = r#"{"a":{"b":[1,2,3],"c":"s"},"arr":[1,"x",null,[1],{"k":1}],"o":{"a":1,"b":{"a":2}},"n":3,"t":true,"s":"str"}"#;

#[test]
fn set_conditions_and_get() {
    let mut s = Session::new(false);
    s.check(&[
        (&["JSON.SET", "d", "$", DOC], "+OK\r\n"),
        (&["JSON.SET", "d", "$.new", "1", "NX"], "+OK\r\n"),
        (&["JSON.SET", "d", "$.new", "2", "NX"], "$-1\r\n"),
        (&["JSON.SET", "d", "$.zz", "2", "XX"], "$-1\r\n"),
        (&["JSON.SET", "d", "$.new", "3", "XX"], "+OK\r\n"),
        (&["JSON.SET", "d", "$.x.y", "1"], "$-1\r\n"),
        (&["JSON.SET", "d", ".x.y", "1"], "$-1\r\n"),
        (&["JSON.SET", "d", "$..a", "7"], "+OK\r\n"),
        (&["JSON.SET", "d", "$", "1", "NX"], "$-1\r\n"),
        (&["JSON.SET", "nk", ".a", "1"], "-ERR new objects must be created at the root\r\n"),
        (&["JSON.SET", "nk", "$", "1", "XX"], "$-1\r\n"),
        (&["JSON.SET", "d", "$", "1", "FOO"], "-ERR syntax error\r\n"),
        (&["JSON.SET", "d", "$", "1", "NX", "XX"], "-ERR syntax error\r\n"),
        (
            &["JSON.GET", "d"],
            "$95\r\n{\"a\":7,\"arr\":[1,\"x\",null,[1],{\"k\":1}],\"o\":{\"a\":7,\"b\":{\"a\":7}},\"n\":3,\"t\":true,\"s\":\"str\",\"new\":3}\r\n",
        ),
        (&["JSON.GET", "d", ".nope"], "-ERR Path '$.nope' does not exist\r\n"),
        (&["JSON.GET", "d", ".o", ".nope"], "-ERR Path '.nope' does not exist\r\n"),
        (&["JSON.GET", "d", "$.nope"], "$2\r\n[]\r\n"),
        (&["JSON.GET", "d", ".o", ".o"], "$26\r\n{\".o\":{\"a\":7,\"b\":{\"a\":7}}}\r\n"),
        (&["JSON.GET", "d", "INDENT"], "-ERR wrong number of arguments for 'json.get' command\r\n"),
        (&["JSON.GET", "d", "FOO"], "-ERR Path '$.FOO' does not exist\r\n"),
        (&["JSON.GET", "nokey", "$"], "$-1\r\n"),
    ]);
}

#[test]
fn type_strlen_strappend() {
    for resp3 in [false, true] {
        let mut s = Session::new(resp3);
        let null = if resp3 { "_\r\n" } else { "$-1\r\n" };
        s.run(&["JSON.SET", "d", "$", DOC]);
        let ty = s.run(&["JSON.TYPE", "d", "$..a"]);
        assert_eq!(
            ty,
            if resp3 {
                "*1\r\n*3\r\n$6\r\nobject\r\n$7\r\ninteger\r\n$7\r\ninteger\r\n"
            } else {
                "*3\r\n$6\r\nobject\r\n$7\r\ninteger\r\n$7\r\ninteger\r\n"
            }
        );
        assert_eq!(s.run(&["JSON.TYPE", "nokey"]), if resp3 { "*1\r\n_\r\n" } else { "$-1\r\n" });
        s.check(&[
            (&["JSON.STRLEN", "d", ".s"], ":3\r\n"),
            (
                &["JSON.STRLEN", "d", ".n"],
                "-WRONGTYPE wrong type of path value - expected string but found integer\r\n",
            ),
            (&["JSON.STRLEN", "nokey", ".s"], null),
            (&["JSON.STRAPPEND", "d", ".s", "\"ab\""], ":5\r\n"),
            (
                &["JSON.STRAPPEND", "d", ".n", "\"ab\""],
                "-ERR Path '$.n' does not exist or not a string\r\n",
            ),
            (&["JSON.STRAPPEND", "d", ".s", "ab"], "-ERR expected value at line 1 column 1\r\n"),
            (
                &["JSON.STRAPPEND", "d", ".s", "1"],
                "-WRONGTYPE wrong type of path value - expected string but found 1\r\n",
            ),
            (
                &["JSON.STRAPPEND", "nokey", "\"a\""],
                "-ERR could not perform this operation on a key that doesn't exist\r\n",
            ),
        ]);
        let want = format!("*6\r\n{null}{null}{null}{null}{null}:7\r\n");
        assert_eq!(s.run(&["JSON.STRAPPEND", "d", "$.*", "\"ab\""]), want);
    }
}

#[test]
fn numbers() {
    let mut s = Session::new(false);
    s.check(&[
        (&["JSON.SET", "n", "$", r#"{"a":1,"u":18446744073709551615,"f":1.0,"i":-5,"s":"x","big":9223372036854775807,"z":0}"#], "+OK\r\n"),
        (&["JSON.NUMINCRBY", "n", "$.a", "1.5"], "$5\r\n[2.5]\r\n"),
        (&["JSON.NUMINCRBY", "n", ".a", "1"], "$3\r\n3.5\r\n"),
        (&["JSON.NUMINCRBY", "n", "$.u", "1"], "$23\r\n[1.8446744073709552e19]\r\n"),
        (&["JSON.NUMINCRBY", "n", "$.f", "1"], "$5\r\n[2.0]\r\n"),
        (&["JSON.NUMMULTBY", "n", "$.i", "2"], "$5\r\n[-10]\r\n"),
        (&["JSON.NUMMULTBY", "n", "$.i", "0.5"], "$6\r\n[-5.0]\r\n"),
        (&["JSON.NUMINCRBY", "n", ".big", "1"], "$20\r\n-9223372036854775808\r\n"),
        (&["JSON.NUMINCRBY", "n", ".s", "1"], "-ERR Path '$.s' does not exist or does not contains a number\r\n"),
        (&["JSON.NUMINCRBY", "n", ".a", "x"], "-ERR expected value at line 1 column 1\r\n"),
        (&["JSON.NUMINCRBY", "n", ".a", "\"a\""], "-bad input number\r\n"),
        (&["JSON.NUMINCRBY", "n", ".a", "1e400"], "-ERR number out of range at line 1 column 5\r\n"),
        (&["JSON.NUMINCRBY", "n", ".z", "1e308"], "$5\r\n1e308\r\n"),
        (&["JSON.NUMMULTBY", "n", ".z", "10"], "-ERR result is not a number\r\n"),
        (&["JSON.NUMINCRBY", "n", "$.nope", "1"], "$2\r\n[]\r\n"),
        (&["JSON.NUMINCRBY", "nokey", ".", "1"], "-ERR could not perform this operation on a key that doesn't exist\r\n"),
    ]);
    let mut s = Session::new(true);
    s.check(&[
        (&["JSON.SET", "n", "$", r#"{"a":1,"s":"x"}"#], "+OK\r\n"),
        (&["JSON.NUMINCRBY", "n", ".a", "1"], "*1\r\n:2\r\n"),
        (&["JSON.NUMINCRBY", "n", ".a", "0.5"], "*1\r\n,2.5\r\n"),
        (&["JSON.NUMINCRBY", "n", ".s", "1"], "*1\r\n_\r\n"),
        (&["JSON.NUMINCRBY", "n", ".nope", "1"], "*0\r\n"),
    ]);
}

#[test]
fn arrays() {
    let mut s = Session::new(false);
    s.check(&[
        (&["JSON.SET", "d", "$", DOC], "+OK\r\n"),
        (&["JSON.ARRAPPEND", "d", ".arr", "1", "\"y\""], ":7\r\n"),
        (&["JSON.ARRAPPEND", "d", "$.*", "1"], "*6\r\n$-1\r\n:8\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n"),
        (&["JSON.ARRAPPEND", "d", ".n", "1"], "-ERR Path '.n' does not exist or not an array\r\n"),
        (&["JSON.ARRLEN", "d", ".arr"], ":8\r\n"),
        (&["JSON.ARRLEN", "d"], "-ERR Path '.' does not exist or not an array\r\n"),
        (&["JSON.ARRLEN", "d", ".nope"], "-ERR Path '.nope' does not exist\r\n"),
        (
            &["JSON.ARRLEN", "nokey", "$.a"],
            "-ERR could not perform this operation on a key that doesn't exist\r\n",
        ),
        (&["JSON.ARRINDEX", "d", ".arr", "1"], ":0\r\n"),
        (&["JSON.ARRINDEX", "d", ".arr", "\"x\""], ":1\r\n"),
        (&["JSON.ARRINDEX", "d", ".arr", "1", "1"], ":5\r\n"),
        (&["JSON.ARRINDEX", "d", ".arr", "1", "-3", "-1"], ":5\r\n"),
        (&["JSON.ARRINDEX", "d", ".arr", "[1]"], ":3\r\n"),
        (&["JSON.ARRINDEX", "d", ".arr", "{\"k\":1}"], ":4\r\n"),
        (&["JSON.ARRINDEX", "d", ".arr", "1.0"], ":-1\r\n"),
        (
            &["JSON.ARRINDEX", "d", ".n", "1"],
            "-WRONGTYPE wrong type of path value - expected array but found integer\r\n",
        ),
        (&["JSON.ARRINDEX", "d", ".arr", "1", "x"], "-Couldn't parse as integer\r\n"),
        (&["JSON.ARRINSERT", "d", ".arr", "0", "\"first\""], ":9\r\n"),
        (&["JSON.ARRINSERT", "d", ".arr", "-1", "\"beforelast\""], ":10\r\n"),
        (&["JSON.ARRINSERT", "d", ".arr", "100", "1"], "-ERR index out of bounds\r\n"),
        (
            &["JSON.ARRINSERT", "d", ".n", "0", "0"],
            "-ERR Path '$.n' does not exist or not an array\r\n",
        ),
        (&["JSON.ARRINSERT", "d", ".arr", "0", "x"], "-expected value at line 1 column 1\r\n"),
        (&["JSON.ARRPOP", "d", ".arr"], "$1\r\n1\r\n"),
        (&["JSON.ARRPOP", "d", ".arr", "0"], "$7\r\n\"first\"\r\n"),
        (&["JSON.ARRPOP", "d", ".arr", "-100"], "$1\r\n1\r\n"),
        (&["JSON.ARRPOP", "d"], "-ERR Path '$' does not exist or not an array\r\n"),
        (
            &["JSON.ARRPOP", "nokey"],
            "-ERR could not perform this operation on a key that doesn't exist\r\n",
        ),
        (&["JSON.SET", "a", "$", "[1,2,3,4,5]"], "+OK\r\n"),
        (&["JSON.ARRINDEX", "a", ".", "3", "0", "0"], ":2\r\n"),
        (&["JSON.ARRINDEX", "a", ".", "3", "-2"], ":-1\r\n"),
        (&["JSON.ARRINDEX", "a", ".", "3", "1", "2"], ":-1\r\n"),
        (&["JSON.ARRTRIM", "a", ".", "-3", "-2"], ":2\r\n"),
        (&["JSON.GET", "a"], "$5\r\n[3,4]\r\n"),
        (&["JSON.ARRTRIM", "a", ".", "5", "10"], ":0\r\n"),
        (&["JSON.ARRPOP", "a"], "$-1\r\n"),
    ]);
}

#[test]
fn objects_toggle_clear_del_merge() {
    let mut s = Session::new(false);
    s.check(&[
        (&["JSON.SET", "d", "$", DOC], "+OK\r\n"),
        (&["JSON.OBJKEYS", "d", "$.o"], "*1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        (&["JSON.OBJKEYS", "d", ".n"], "-ERR Path '$.n' does not exist or not an object\r\n"),
        (&["JSON.OBJKEYS", "nokey"], "$-1\r\n"),
        (&["JSON.OBJLEN", "d"], ":6\r\n"),
        (
            &["JSON.OBJLEN", "d", ".n"],
            "-WRONGTYPE wrong type of path value - expected object but found integer\r\n",
        ),
        (&["JSON.OBJLEN", "nokey", "$"], "-ERR Path '$' does not exist or not an object\r\n"),
        (&["JSON.TOGGLE", "d", ".t"], "$5\r\nfalse\r\n"),
        (&["JSON.TOGGLE", "d", "$.t"], "*1\r\n:1\r\n"),
        (&["JSON.TOGGLE", "d", ".n"], "-ERR Path '$.n' does not exist or not a bool\r\n"),
        (&["JSON.CLEAR", "d", "$.*"], ":4\r\n"),
        (
            &["JSON.GET", "d"],
            "$49\r\n{\"a\":{},\"arr\":[],\"o\":{},\"n\":0,\"t\":true,\"s\":\"str\"}\r\n",
        ),
        (&["JSON.CLEAR", "d"], ":1\r\n"),
        (&["JSON.DEL", "d"], ":1\r\n"),
        (&["JSON.DEL", "d"], ":0\r\n"),
        (&["JSON.SET", "x", "$", r#"{"a":[1,2,3,4],"b":{"a":1}}"#], "+OK\r\n"),
        (&["JSON.DEL", "x", "$.a[1,2]"], ":2\r\n"),
        (&["JSON.GET", "x"], "$23\r\n{\"a\":[1,4],\"b\":{\"a\":1}}\r\n"),
        (&["JSON.DEL", "x", "$..a"], ":2\r\n"),
        (&["JSON.GET", "x"], "$8\r\n{\"b\":{}}\r\n"),
        (&["JSON.MERGE", "m", "$", r#"{"a":2}"#], "+OK\r\n"),
        (&["JSON.MERGE", "m", "$", r#"{"a":null,"b":{"c":1}}"#], "+OK\r\n"),
        (&["JSON.MERGE", "m", "$.b", r#"{"d":2}"#], "+OK\r\n"),
        (&["JSON.MERGE", "m", "$.zz", r#"{"d":2}"#], "+OK\r\n"),
        (&["JSON.MERGE", "m", "$.zz.yy", r#"{"d":2}"#], "+OK\r\n"),
        (
            &["JSON.GET", "m"],
            "$45\r\n{\"b\":{\"c\":1,\"d\":2},\"zz\":{\"d\":2,\"yy\":{\"d\":2}}}\r\n",
        ),
        (&["JSON.MERGE", "m2", "$.a", "1"], "-ERR new objects must be created at the root\r\n"),
    ]);
}

#[test]
fn resp_replies() {
    let mut s = Session::new(false);
    s.run(&["JSON.SET", "k", "$", r#"{"a":1,"b":[1,2.0,1e300],"t":true,"nl":null,"w":1.5e-7}"#]);
    assert_eq!(
        s.run(&["JSON.RESP", "k"]),
        "*11\r\n+{\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n*4\r\n+[\r\n:1\r\n$1\r\n2\r\n$6\r\n1e+300\r\n$1\r\nt\r\n+true\r\n$2\r\nnl\r\n$-1\r\n$1\r\nw\r\n$6\r\n1.5e-7\r\n"
    );
    assert_eq!(s.run(&["JSON.RESP", "nokey"]), "$-1\r\n");
}

#[test]
fn deep_documents_stop_at_the_limit() {
    let mut s = Session::new(false);
    let level = format!("{}{}", "[".repeat(120), "]".repeat(120));
    assert_eq!(s.run(&["JSON.SET", "d", "$", &level]), "+OK\r\n");
    let mut path = "$".to_string();
    let mut refused = false;
    for _ in 0..20 {
        path.push_str(&"[0]".repeat(119));
        let r = s.run(&["JSON.SET", "d", &path, &level]);
        if r.starts_with("-ERR the document would be nested deeper than") {
            refused = true;
            break;
        }
        assert_eq!(r, "+OK\r\n");
    }
    assert!(refused);
    assert!(s.keys["d"].depth() <= MAX_DEPTH);
}

/// JSON.SET's root fast path takes `$` and `.` without parsing them: both must parse to the
/// root, and every other text (the empty one too) goes the general way. The condition is
/// checked before the value, as RedisJSON does.
#[test]
fn set_root_args_knows_the_root() {
    for p in ["$", "."] {
        assert!(Path::parse(p).unwrap().is_root(), "{p}");
    }
    assert!(Path::parse("").is_err());
    let args = |p: &'static str| -> Vec<&'static [u8]> { vec![p.as_bytes(), b"[1]"] };
    for p in ["$", "."] {
        assert!(matches!(set_root_args(&args(p)), Some(Ok((Value::Arr(_), Cond::Always)))), "{p}");
    }
    for p in ["$.a", "a", "", "$["] {
        assert!(set_root_args(&args(p)).is_none(), "{p}");
    }
    assert!(matches!(set_root_args(&[b"$", b"[1", b"NX"]), Some(Err(e)) if e.starts_with("EOF")));
    assert!(
        matches!(set_root_args(&[b"$", b"[1", b"ZZ"]), Some(Err(e)) if e == "ERR syntax error")
    );
}
