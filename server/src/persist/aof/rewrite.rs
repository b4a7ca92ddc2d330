//! The AOF rewrite: a base file holding, for each key, the commands that rebuild it.
//!
//! [`rewrite_entry`] writes one key; [`write_dataset`] drives it over every database. They are
//! kept apart so that a point-in-time snapshot can feed `rewrite_entry` key by key later. The
//! output follows Redis 7.0's rewrite: one command per key (collections in batches of
//! [`ITEMS_PER_CMD`] items: RPUSH, SADD, ZADD, HMSET), an expiry as PEXPIREAT after its key,
//! streams as XADD per entry, XSETID, then per group XGROUP CREATE, XCLAIM ... JUSTID FORCE for
//! each pending entry and XGROUP CREATECONSUMER for consumers with nothing pending.

use crate::keyspace::record::{Entry, ValueRef};
use crate::propagate::encode;
use crate::types::stream::Stream;
use crate::types::Object;

/// Items per command for collections, as Redis's AOF_REWRITE_ITEMS_PER_CMD.
pub const ITEMS_PER_CMD: usize = 64;

/// Appends a RESP multibulk header.
fn header(out: &mut Vec<u8>, argc: usize) {
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(argc).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(b.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn bulk_i64(out: &mut Vec<u8>, v: i64) {
    bulk(out, itoa::Buffer::new().format(v).as_bytes());
}

/// Writes `cmd key item...` commands of at most [`ITEMS_PER_CMD`] items (each item being
/// `per_item` arguments) for `n` items produced by `items`.
fn batched<'a>(
    out: &mut Vec<u8>,
    cmd: &[u8],
    key: &[u8],
    n: usize,
    per_item: usize,
    items: impl Iterator<Item = Vec<std::borrow::Cow<'a, [u8]>>>,
) {
    let mut left = n;
    let mut in_cmd = 0;
    for item in items {
        if in_cmd == 0 {
            let count = left.min(ITEMS_PER_CMD);
            header(out, 2 + count * per_item);
            bulk(out, cmd);
            bulk(out, key);
        }
        for a in &item {
            bulk(out, a);
        }
        in_cmd += 1;
        left -= 1;
        if in_cmd == ITEMS_PER_CMD {
            in_cmd = 0;
        }
    }
}

/// Appends the commands that rebuild `entry` (its value, then its expiry if it has one).
pub fn rewrite_entry(out: &mut Vec<u8>, entry: &Entry<Object>) {
    use std::borrow::Cow;
    let key = entry.key();
    match entry.value() {
        ValueRef::Int(n) => {
            header(out, 3);
            bulk(out, b"SET");
            bulk(out, key);
            bulk_i64(out, n);
        }
        ValueRef::Str(s) => {
            header(out, 3);
            bulk(out, b"SET");
            bulk(out, key);
            bulk(out, s);
        }
        ValueRef::Obj(Object::List(l)) => {
            let items = l.iter().map(|e| vec![Cow::Borrowed(e)]);
            batched(out, b"RPUSH", key, l.len(), 1, items);
        }
        ValueRef::Obj(Object::Set(s)) => {
            let items = s.iter().map(|m| vec![Cow::Owned(m.to_vec())]);
            batched(out, b"SADD", key, s.len(), 1, items);
        }
        ValueRef::Obj(Object::ZSet(z)) => {
            let mut pairs: Vec<(Vec<u8>, f64)> = Vec::with_capacity(z.len());
            z.for_range(0, z.len(), false, |m, s| pairs.push((m.to_vec(), s)));
            let items = pairs.iter().map(|(m, s)| {
                let mut score = Vec::new();
                crate::util::num::write_double_resp(&mut score, *s);
                vec![Cow::Owned(score), Cow::Borrowed(&m[..])]
            });
            batched(out, b"ZADD", key, z.len(), 2, items);
        }
        ValueRef::Obj(Object::Hash(h)) => {
            let items = h.iter().map(|(f, v)| vec![Cow::Borrowed(f), Cow::Borrowed(v)]);
            batched(out, b"HMSET", key, h.len(), 2, items);
        }
        ValueRef::Obj(Object::Stream(s)) => rewrite_stream(out, key, s),
        ValueRef::Obj(Object::Module(m)) => {
            for cmd in m.rewrite(key) {
                let argv: Vec<&[u8]> = cmd.iter().map(|a| &a[..]).collect();
                crate::propagate::encode(out, &argv);
            }
        }
    }
    if let Some(at) = entry.expire_at() {
        header(out, 3);
        bulk(out, b"PEXPIREAT");
        bulk(out, key);
        bulk_i64(out, at);
    }
}

fn rewrite_stream(out: &mut Vec<u8>, key: &[u8], s: &Stream) {
    let log = &s.log;
    if log.length > 0 {
        for e in log.iter() {
            header(out, 3 + 2 * e.len());
            bulk(out, b"XADD");
            bulk(out, key);
            bulk(out, &e.id.to_bytes());
            for (f, v) in e.pairs() {
                bulk(out, &f.to_vec());
                bulk(out, &v.to_vec());
            }
        }
    } else {
        // An empty stream: add an entry and trim it away at once (Redis's MAXLEN 0 trick), with
        // the smallest id XADD takes; XSETID below sets the real last id.
        encode(out, &[b"XADD".as_slice(), key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]);
    }
    let added = itoa::Buffer::new().format(log.entries_added).to_string();
    encode(
        out,
        &[
            b"XSETID".as_slice(),
            key,
            &log.last_id.to_bytes(),
            b"ENTRIESADDED",
            added.as_bytes(),
            b"MAXDELETEDID",
            &log.max_deleted.to_bytes(),
        ],
    );
    for (name, g) in &s.groups {
        let read = itoa::Buffer::new().format(g.entries_read).to_string();
        encode(
            out,
            &[
                b"XGROUP".as_slice(),
                b"CREATE",
                key,
                name,
                &g.last_id.to_bytes(),
                b"ENTRIESREAD",
                read.as_bytes(),
            ],
        );
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                encode(out, &[b"XGROUP".as_slice(), b"CREATECONSUMER", key, name, cname]);
                continue;
            }
            for id in &c.pel {
                let Some(nack) = g.pel.get(id) else { continue };
                let time = itoa::Buffer::new().format(nack.delivery_time).to_string();
                let count = itoa::Buffer::new().format(nack.delivery_count).to_string();
                encode(
                    out,
                    &[
                        b"XCLAIM".as_slice(),
                        key,
                        name,
                        cname,
                        b"0",
                        &id.to_bytes(),
                        b"TIME",
                        time.as_bytes(),
                        b"RETRYCOUNT",
                        count.as_bytes(),
                        b"JUSTID",
                        b"FORCE",
                    ],
                );
            }
        }
    }
}

/// The encoder of a background rewrite's AOF-format base: a SELECT per database, then one
/// command group per live key (as [`write_dataset`] writes them).
pub(crate) struct AofEncoder {
    /// Keys whose deadline passed by the rewrite's start are left out.
    pub now: i64,
}

impl crate::persist::background::Encoder for AofEncoder {
    fn select_db(&mut self, out: &mut Vec<u8>, db: usize) {
        encode(out, &[b"SELECT".as_slice(), itoa::Buffer::new().format(db).as_bytes()]);
    }
    fn entry(&mut self, out: &mut Vec<u8>, e: &crate::keyspace::Entry) {
        if !matches!(e.expire_at(), Some(t) if t <= self.now) {
            rewrite_entry(out, e);
        }
    }
}

/// Appends the whole dataset: a SELECT before each non-empty database, then every live key
/// (keys whose deadline passed at `now` are left out: their deletion is not needed).
pub fn write_dataset(out: &mut Vec<u8>, dbs: &[crate::keyspace::Db], now: i64) {
    for db in dbs {
        if db.is_empty() {
            continue;
        }
        encode(out, &[b"SELECT".as_slice(), itoa::Buffer::new().format(db.id).as_bytes()]);
        for e in db.table.iter() {
            if matches!(e.expire_at(), Some(t) if t <= now) {
                continue;
            }
            rewrite_entry(out, e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::record::Value;
    use crate::types::list::{End, List};

    #[test]
    fn lists_go_in_batches_of_64_like_redis() {
        let mut l = List::new();
        for i in 1..=70 {
            l.push(End::Tail, i.to_string().as_bytes(), -2);
        }
        let e = Entry::new(b"l", Value::Obj(Box::new(Object::List(l))), Some(1234));
        let mut out = Vec::new();
        rewrite_entry(&mut out, &e);
        // What Redis 7.0.15 wrote for the same list (recorded from its rewrite).
        let mut want = Vec::new();
        let first: Vec<String> = (1..=64).map(|i| i.to_string()).collect();
        let mut a: Vec<&[u8]> = vec![b"RPUSH", b"l"];
        a.extend(first.iter().map(|s| s.as_bytes()));
        encode(&mut want, &a);
        let rest: Vec<String> = (65..=70).map(|i| i.to_string()).collect();
        let mut a: Vec<&[u8]> = vec![b"RPUSH", b"l"];
        a.extend(rest.iter().map(|s| s.as_bytes()));
        encode(&mut want, &a);
        encode(&mut want, &[b"PEXPIREAT".as_slice(), b"l", b"1234"]);
        assert_eq!(String::from_utf8(out).unwrap(), String::from_utf8(want).unwrap());
    }

    #[test]
    fn strings_and_integers() {
        let mut out = Vec::new();
        rewrite_entry(&mut out, &Entry::<Object>::new(b"n", Value::Int(-5), None));
        rewrite_entry(&mut out, &Entry::<Object>::new(b"s", Value::string(b"x y"), None));
        assert_eq!(
            out,
            b"*3\r\n$3\r\nSET\r\n$1\r\nn\r\n$2\r\n-5\r\n*3\r\n$3\r\nSET\r\n$1\r\ns\r\n$3\r\nx y\r\n"
        );
    }
}
