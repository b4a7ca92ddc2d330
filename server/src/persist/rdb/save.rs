//! The RDB writer: version 10, in the encodings Redis 7.0 chooses.
//!
//! The unit of work is one key: [`write_entry`] appends a key's expiry, LRU/LFU field, type,
//! name and value to a buffer, and needs nothing but the entry. [`FileWriter`] adds the
//! header, aux fields, database selectors and the footer around a sequence of entries, keeping
//! a running CRC-64, so a snapshot can be streamed key by key (a point-in-time copy taken
//! concurrently can feed it one entry at a time).
//!
//! Encodings, as Redis 7.0 writes them:
//! - strings: integers that fit 32 bits as integers; LZF for strings over 20 bytes when
//!   compression is on and saves at least 4 bytes; raw otherwise;
//! - lists: quicklist 2 (type 18), one listpack per node;
//! - sets: intset (11) when the set is an intset, else a plain set (2);
//! - sorted sets: listpack (17) when small, else zset 2 (5) with binary scores;
//! - hashes: listpack (16) when small, else a plain hash (4);
//! - streams: listpacks 2 (19), with consumer groups.

use std::io::{self, Write};

use super::*;
use crate::keyspace::{Entry, ValueRef};
use crate::types::stream::{Stream, StreamId, Val};
use crate::types::Object;

/// What a key's LRU field is written as (Redis writes IDLE under an LRU `maxmemory-policy`,
/// FREQ under an LFU one, neither otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAge {
    None,
    /// Idle seconds, from the LRU field and this LRU clock.
    Idle {
        clock: u32,
    },
    /// The LFU counter, decayed to `minutes`.
    Freq {
        minutes: u16,
        decay_time: u32,
    },
}

/// Writer options.
#[derive(Clone, Copy, Debug)]
pub struct SaveOpts {
    /// `rdbcompression`: LZF for strings over 20 bytes.
    pub compress: bool,
    pub age: KeyAge,
}

impl Default for SaveOpts {
    fn default() -> Self {
        SaveOpts { compress: true, age: KeyAge::None }
    }
}

// ------------------------------------------------------------------------------------------------
// Primitives

pub fn write_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// An integer in the special string encoding, if it fits 32 bits.
fn write_int_string(out: &mut Vec<u8>, n: i64) -> bool {
    if let Ok(v) = i8::try_from(n) {
        out.push(0xc0 | ENC_INT8);
        out.push(v as u8);
    } else if let Ok(v) = i16::try_from(n) {
        out.push(0xc0 | ENC_INT16);
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i32::try_from(n) {
        out.push(0xc0 | ENC_INT32);
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// A string, int-encoded when it is a short canonical integer, LZF-compressed when `compress`
/// and it pays.
pub fn write_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11 {
        if let Some(n) = crate::keyspace::record::parse_canonical_i64(s) {
            if write_int_string(out, n) {
                return;
            }
        }
    }
    if compress && s.len() > 20 {
        if let Some(c) = lzf::compress(s, s.len() - 4) {
            out.push(0xc0 | ENC_LZF);
            write_len(out, c.len() as u64);
            write_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

fn write_i64_string(out: &mut Vec<u8>, n: i64) {
    if !write_int_string(out, n) {
        let mut b = itoa::Buffer::new();
        let s = b.format(n).as_bytes();
        write_len(out, s.len() as u64);
        out.extend_from_slice(s);
    }
}

fn write_ms(out: &mut Vec<u8>, ms: i64) {
    out.extend_from_slice(&ms.to_le_bytes());
}

fn write_raw_id(out: &mut Vec<u8>, id: StreamId) {
    out.extend_from_slice(&id.ms.to_be_bytes());
    out.extend_from_slice(&id.seq.to_be_bytes());
}

// ------------------------------------------------------------------------------------------------
// Values

/// The RDB type byte Vireo writes for an entry's value.
pub fn value_type(e: &Entry) -> u8 {
    match e.value() {
        ValueRef::Int(_) | ValueRef::Str(_) => T_STRING,
        ValueRef::Obj(o) => match o {
            Object::List(_) => T_LIST_QUICKLIST_2,
            Object::Set(s) => {
                if s.as_intset().is_some() {
                    T_SET_INTSET
                } else {
                    T_SET
                }
            }
            Object::ZSet(z) => {
                if z.is_listpack() {
                    T_ZSET_LISTPACK
                } else {
                    T_ZSET_2
                }
            }
            Object::Hash(h) => {
                if h.encoding_name() == "listpack" {
                    T_HASH_LISTPACK
                } else {
                    T_HASH
                }
            }
            Object::Stream(_) => T_STREAM_LISTPACKS_2,
            Object::Module(_) => T_MODULE_2,
        },
    }
}

/// A zset score as Redis writes it into a listpack (`%.17g`, integers as integers).
fn push_score(lp: &mut listpack::Writer, score: f64) {
    let mut b = Vec::with_capacity(24);
    crate::util::num::write_double_resp(&mut b, score);
    lp.push(&b);
}

/// Appends the type byte and the value of `e` (what DUMP serializes).
pub fn write_value(out: &mut Vec<u8>, e: &Entry, opts: &SaveOpts) {
    let t = value_type(e);
    out.push(t);
    write_body(out, e, t, opts.compress);
}

/// The value of `e` in the encoding of type `t` (from [`value_type`]).
fn write_body(out: &mut Vec<u8>, e: &Entry, t: u8, c: bool) {
    match e.value() {
        ValueRef::Int(n) => write_i64_string(out, n),
        ValueRef::Str(s) => write_string(out, s, c),
        ValueRef::Obj(o) => match o {
            Object::List(l) => {
                write_len(out, l.nodes().filter(|n| n.count() > 0).count() as u64);
                for node in l.nodes().filter(|n| n.count() > 0) {
                    let mut lp = listpack::Writer::new();
                    for el in node.iter() {
                        lp.push(el);
                    }
                    write_len(out, QL_PACKED);
                    write_string(out, &lp.finish(), c);
                }
            }
            Object::Set(s) => {
                if let Some(is) = s.as_intset() {
                    let v: Vec<i64> = is.iter().collect();
                    write_string(out, &intset::encode(&v), c);
                } else {
                    write_len(out, s.len() as u64);
                    let mut b = itoa::Buffer::new();
                    for m in s.iter() {
                        write_string(out, m.bytes(&mut b), c);
                    }
                }
            }
            Object::ZSet(z) => {
                if t == T_ZSET_LISTPACK {
                    let mut lp = listpack::Writer::new();
                    z.for_range(0, z.len(), false, |m, s| {
                        lp.push(m);
                        push_score(&mut lp, s);
                    });
                    write_string(out, &lp.finish(), c);
                } else {
                    write_len(out, z.len() as u64);
                    // Highest first, as Redis writes it (its loader inserts at the head).
                    z.for_range(0, z.len(), true, |m, s| {
                        write_string(out, m, c);
                        out.extend_from_slice(&s.to_le_bytes());
                    });
                }
            }
            Object::Hash(h) => {
                if t == T_HASH_LISTPACK {
                    let mut lp = listpack::Writer::new();
                    for (f, v) in h.iter() {
                        lp.push(f);
                        lp.push(v);
                    }
                    write_string(out, &lp.finish(), c);
                } else {
                    write_len(out, h.len() as u64);
                    for (f, v) in h.iter() {
                        write_string(out, f, c);
                        write_string(out, v, c);
                    }
                }
            }
            Object::Stream(s) => write_stream(out, s, c),
            Object::Module(m) => crate::module_host::types::write_value(out, m, c),
        },
    }
}

fn push_val(lp: &mut listpack::Writer, v: Val) {
    match v {
        Val::Int(n) => lp.push_int(n),
        Val::Str(s) => lp.push(s),
    }
}

fn write_stream(out: &mut Vec<u8>, s: &Stream, c: bool) {
    let log = &s.log;
    write_len(out, log.blocks().count() as u64);
    for b in log.blocks() {
        let mut lp = listpack::Writer::new();
        lp.push_int(b.live() as i64);
        lp.push_int(b.deleted() as i64);
        let master = b.master_fields();
        lp.push_int(master.len() as i64);
        for f in &master {
            push_val(&mut lp, *f);
        }
        lp.push_int(0);
        for e in b.entries() {
            let mut flags = 0;
            if e.deleted {
                flags |= STREAM_DELETED;
            }
            if e.same_fields {
                flags |= STREAM_SAMEFIELDS;
            }
            lp.push_int(flags);
            lp.push_int(e.id.ms.wrapping_sub(b.master.ms) as i64);
            lp.push_int(e.id.seq.wrapping_sub(b.master.seq) as i64);
            let n = e.entry.len() as i64;
            if e.same_fields {
                for (_, v) in e.entry.pairs() {
                    push_val(&mut lp, v);
                }
                lp.push_int(n + 3);
            } else {
                lp.push_int(n);
                for (f, v) in e.entry.pairs() {
                    push_val(&mut lp, f);
                    push_val(&mut lp, v);
                }
                lp.push_int(2 * n + 4);
            }
        }
        let mut key = Vec::with_capacity(16);
        write_raw_id(&mut key, b.master);
        write_string(out, &key, false);
        write_string(out, &lp.finish(), c);
    }
    write_len(out, log.length);
    write_len(out, log.last_id.ms);
    write_len(out, log.last_id.seq);
    write_len(out, log.first_id.ms);
    write_len(out, log.first_id.seq);
    write_len(out, log.max_deleted.ms);
    write_len(out, log.max_deleted.seq);
    write_len(out, log.entries_added);
    write_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        write_string(out, name, c);
        write_len(out, g.last_id.ms);
        write_len(out, g.last_id.seq);
        write_len(out, g.entries_read as u64);
        write_len(out, g.pel.len() as u64);
        for (id, nack) in &g.pel {
            write_raw_id(out, *id);
            write_ms(out, nack.delivery_time);
            write_len(out, nack.delivery_count);
        }
        write_len(out, g.consumers.len() as u64);
        for (cname, cons) in &g.consumers {
            write_string(out, cname, c);
            write_ms(out, cons.seen_time);
            write_len(out, cons.pel.len() as u64);
            for id in &cons.pel {
                write_raw_id(out, *id);
            }
        }
    }
}

/// Appends one key as it appears in a database section: its expiry (EXPIRETIME_MS), its
/// IDLE or FREQ field (per `opts.age`), the type, the key and the value.
pub fn write_entry(out: &mut Vec<u8>, e: &Entry, opts: &SaveOpts) {
    if let Some(at) = e.expire_at() {
        out.push(OP_EXPIRETIME_MS);
        write_ms(out, at);
    }
    match opts.age {
        KeyAge::None => {}
        KeyAge::Idle { clock } => {
            out.push(OP_IDLE);
            write_len(out, crate::keyspace::idle_ms(e.lru(), clock) / 1000);
        }
        KeyAge::Freq { minutes, decay_time } => {
            out.push(OP_FREQ);
            out.push(crate::keyspace::lfu_decr(e.lru(), minutes, decay_time) as u8);
        }
    }
    let t = value_type(e);
    out.push(t);
    write_string(out, e.key(), opts.compress);
    write_body(out, e, t, opts.compress);
}

/// A DUMP payload: the value, the RDB version (u16 LE) and a CRC-64 (LE) of all that.
pub fn dump_payload(e: &Entry, opts: &SaveOpts) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, e, opts);
    out.extend_from_slice(&WRITE_VERSION.to_le_bytes());
    let crc = crc64::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

// ------------------------------------------------------------------------------------------------
// Files

/// An aux field value: Redis writes numbers as (int-encoded) strings.
#[derive(Clone, Debug)]
pub enum Aux {
    Str(Vec<u8>),
    Int(i64),
}

/// The aux fields Redis 7.0 writes at the start of a file.
pub fn standard_aux(used_mem: u64, aof_base: bool) -> Vec<(&'static str, Aux)> {
    vec![
        ("redis-ver", Aux::Str(crate::REDIS_VERSION.as_bytes().to_vec())),
        ("redis-bits", Aux::Int(64)),
        ("ctime", Aux::Int(crate::clock::unix_secs())),
        ("used-mem", Aux::Int(used_mem as i64)),
        ("aof-base", Aux::Int(i64::from(aof_base))),
    ]
}

/// Adds the fields Redis writes in a payload for a replica (before `aof-base`): the database the
/// stream that follows has selected, and the history and offset it continues.
pub fn add_repl_aux(
    aux: &mut Vec<(&'static str, Aux)>,
    stream_db: usize,
    replid: &str,
    offset: u64,
) {
    let at = aux.iter().position(|(k, _)| *k == "aof-base").unwrap_or(aux.len());
    let fields = [
        ("repl-stream-db", Aux::Int(stream_db as i64)),
        ("repl-id", Aux::Str(replid.as_bytes().to_vec())),
        ("repl-offset", Aux::Int(offset as i64)),
    ];
    aux.splice(at..at, fields);
}

/// The SELECTDB opcode: the entries that follow belong to database `db`.
pub fn write_select_db(out: &mut Vec<u8>, db: usize) {
    out.push(OP_SELECTDB);
    write_len(out, db as u64);
}

/// Streams an RDB file into `W`: [`header`](Self::header), then for each database
/// [`select_db`](Self::select_db) and its [`entry`](Self::entry)s, then
/// [`footer`](Self::footer). Bytes are buffered and the CRC-64 kept as they go out.
pub struct FileWriter<W: Write> {
    w: W,
    buf: Vec<u8>,
    crc: u64,
    checksum: bool,
    pub opts: SaveOpts,
    /// Bytes written so far (flushed or buffered).
    written: u64,
}

const FLUSH_AT: usize = 1 << 16;

impl<W: Write> FileWriter<W> {
    /// `checksum`: `rdbchecksum` (when off, the footer holds 0).
    pub fn new(w: W, opts: SaveOpts, checksum: bool) -> Self {
        FileWriter { w, buf: Vec::with_capacity(FLUSH_AT * 2), crc: 0, checksum, opts, written: 0 }
    }

    fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if self.checksum {
            self.crc = crc64::update(self.crc, &self.buf);
        }
        self.written += self.buf.len() as u64;
        self.w.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Bytes produced so far.
    pub fn bytes_written(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    /// The magic, the version, the aux fields and the function libraries (their source code):
    /// everything an image holds before its databases.
    pub fn header(&mut self, aux: &[(&str, Aux)], functions: &[Vec<u8>]) -> io::Result<()> {
        self.buf.extend_from_slice(format!("REDIS{:04}", WRITE_VERSION).as_bytes());
        for (k, v) in aux {
            self.aux(k, v);
        }
        for code in functions {
            self.function(code)?;
        }
        self.maybe_flush()
    }

    /// One aux field.
    pub fn aux(&mut self, key: &str, v: &Aux) {
        self.buf.push(OP_AUX);
        write_string(&mut self.buf, key.as_bytes(), false);
        match v {
            Aux::Str(s) => write_string(&mut self.buf, s, false),
            Aux::Int(n) => write_i64_string(&mut self.buf, *n),
        }
    }

    /// A function library (its source code), written before the databases.
    pub fn function(&mut self, code: &[u8]) -> io::Result<()> {
        self.buf.push(OP_FUNCTION2);
        write_string(&mut self.buf, code, self.opts.compress);
        self.maybe_flush()
    }

    /// Starts database `db`, holding `keys` keys of which `expires` have an expiry (sizing
    /// hints for the loader; they need not be exact).
    pub fn select_db(&mut self, db: usize, keys: u64, expires: u64) -> io::Result<()> {
        write_select_db(&mut self.buf, db);
        self.buf.push(OP_RESIZEDB);
        write_len(&mut self.buf, keys);
        write_len(&mut self.buf, expires);
        self.maybe_flush()
    }

    /// One key of the current database.
    pub fn entry(&mut self, e: &Entry) -> io::Result<()> {
        let opts = self.opts;
        write_entry(&mut self.buf, e, &opts);
        self.maybe_flush()
    }

    /// Appends already-encoded bytes: entries (from [`write_entry`]) and SELECTDB opcodes
    /// (from [`write_select_db`]), as a background dump produces them.
    pub fn raw_entry(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(bytes);
        self.maybe_flush()
    }

    /// Writes out what is buffered and returns the inner writer, without a footer (for a
    /// stream of raw bytes that is not an RDB file).
    pub fn into_inner(mut self) -> io::Result<W> {
        self.flush_buf()?;
        self.w.flush()?;
        Ok(self.w)
    }

    /// The EOF opcode and the checksum; returns the inner writer (not synced).
    pub fn footer(mut self) -> io::Result<W> {
        self.buf.push(OP_EOF);
        self.flush_buf()?;
        let crc = if self.checksum { self.crc } else { 0 };
        self.w.write_all(&crc.to_le_bytes())?;
        self.written += 8;
        self.w.flush()?;
        Ok(self.w)
    }
}
