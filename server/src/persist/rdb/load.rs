//! The RDB loader: versions 1 to 12 (everything Redis 6.2 to 7.4 writes), every type and
//! encoding, into fresh databases the caller swaps in only when the whole file loaded.
//!
//! Untrusted input: every length is checked against the bytes that remain before anything is
//! allocated for it, preallocation is capped, and every listpack, ziplist and intset is
//! validated whole before its elements are used. Any malformed input is an error, never a
//! panic.
//!
//! Module values and module aux data go to the loaded module's data type (see
//! `module_host::types`); one no loaded module provides is refused, the message naming it.
//! Refused, with a message saying why: versions above 12, hashes with field
//! expiration (Redis 7.4's types 22 to 25), and pre-release function libraries.

use std::borrow::Cow;
use std::collections::HashSet;

use super::*;
use crate::keyspace::{self, Access, Db, Entry, Lru, Value};
use crate::types::hash::{self, Hash};
use crate::types::list::{End, List};
use crate::types::set::Set;
use crate::types::stream::{Consumer, Group, Nack, Stream, StreamId};
use crate::types::zset::{self, ZSet};
use crate::types::Object;

/// Cap on any preallocation sized from the file.
const PREALLOC_MAX: usize = 1 << 12;

/// How loaded values are built (the conversion thresholds of the configuration).
#[derive(Clone, Debug)]
pub struct LoadOpts {
    pub hash: hash::Limits,
    pub zset: zset::Limits,
    pub set_max_intset: usize,
    pub list_fill: i32,
    /// The LRU/LFU field of a loaded key, before any IDLE/FREQ from the file.
    pub access: Access,
    /// Drop keys whose expiry has passed (a master does; a replica keeps them).
    pub drop_expired_before: Option<i64>,
    /// Check the CRC-64 footer (`rdbchecksum`); a stored 0 is never checked.
    pub verify_checksum: bool,
    /// The data types of the loaded modules, for module values and aux data.
    pub module_types: crate::module_host::types::Registry,
}

/// What a file held.
pub struct Loaded {
    pub dbs: Vec<Db>,
    /// Source code of each function library (FUNCTION2 opcodes), in file order.
    pub functions: Vec<String>,
    /// The aux fields, in file order.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    pub version: u16,
    pub keys_loaded: u64,
    pub keys_expired: u64,
    pub empty_keys_skipped: u64,
    /// Bytes read, up to and including the checksum (an AOF with an RDB preamble goes on
    /// after them).
    pub consumed: usize,
}

fn corrupt(s: impl Into<String>) -> RdbError {
    RdbError::Corrupt(s.into())
}

/// A cursor over the bytes of a file or payload.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], RdbError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or_else(|| {
            corrupt(format!("unexpected end of file at offset {} (needed {n} bytes)", self.pos))
        })?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub fn byte(&mut self) -> Result<u8, RdbError> {
        Ok(self.take(1)?[0])
    }

    /// A length, or a special string encoding (`Err(enc)` inside `Ok`).
    fn len_or_enc(&mut self) -> Result<Result<u64, u8>, RdbError> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => Ok(u64::from(b & 0x3f)),
            1 => Ok((u64::from(b & 0x3f) << 8) | u64::from(self.byte()?)),
            2 => match b {
                0x80 => {
                    let d = self.take(4)?;
                    Ok(u64::from(u32::from_be_bytes([d[0], d[1], d[2], d[3]])))
                }
                0x81 => Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes"))),
                _ => return Err(corrupt(format!("unknown length encoding {b:#x}"))),
            },
            _ => Err(b & 0x3f),
        })
    }

    pub fn read_len(&mut self) -> Result<u64, RdbError> {
        match self.len_or_enc()? {
            Ok(n) => Ok(n),
            Err(_) => Err(corrupt("encoded string where a length was expected")),
        }
    }

    /// A length used as a count or size of something in memory.
    fn usize_len(&mut self) -> Result<usize, RdbError> {
        usize::try_from(self.read_len()?).map_err(|_| corrupt("length too large"))
    }

    pub fn string(&mut self) -> Result<Cow<'a, [u8]>, RdbError> {
        match self.len_or_enc()? {
            Ok(n) => {
                let n = usize::try_from(n).map_err(|_| corrupt("string too long"))?;
                Ok(Cow::Borrowed(self.take(n)?))
            }
            Err(enc) => {
                let v = match enc {
                    ENC_INT8 => i64::from(self.byte()? as i8),
                    ENC_INT16 => {
                        let d = self.take(2)?;
                        i64::from(i16::from_le_bytes([d[0], d[1]]))
                    }
                    ENC_INT32 => {
                        let d = self.take(4)?;
                        i64::from(i32::from_le_bytes([d[0], d[1], d[2], d[3]]))
                    }
                    ENC_LZF => {
                        let clen = self.usize_len()?;
                        let len = self.usize_len()?;
                        let c = self.take(clen)?;
                        return lzf::decompress(c, len)
                            .map(Cow::Owned)
                            .ok_or_else(|| corrupt("invalid LZF compressed string"));
                    }
                    _ => return Err(corrupt(format!("unknown string encoding {enc}"))),
                };
                Ok(Cow::Owned(itoa::Buffer::new().format(v).as_bytes().to_vec()))
            }
        }
    }

    fn ms_time(&mut self) -> Result<i64, RdbError> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn binary_double(&mut self) -> Result<f64, RdbError> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    /// A double in the old string form (zset type 3): a length byte (253 NaN, 254 +inf,
    /// 255 -inf) and that many ASCII bytes.
    fn string_double(&mut self) -> Result<f64, RdbError> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let s = self.take(n as usize)?;
                crate::util::num::parse_f64_lenient(s).ok_or_else(|| corrupt("bad double value"))
            }
        }
    }

    fn stream_id(&mut self) -> Result<StreamId, RdbError> {
        let d = self.take(16)?;
        Ok(id_from_key(d))
    }
}

fn id_from_key(d: &[u8]) -> StreamId {
    StreamId::new(
        u64::from_be_bytes(d[..8].try_into().expect("8 bytes")),
        u64::from_be_bytes(d[8..16].try_into().expect("8 bytes")),
    )
}

fn string_value(b: Cow<'_, [u8]>) -> Value<'_> {
    match crate::keyspace::record::parse_canonical_i64(&b) {
        Some(n) => Value::Int(n),
        None => Value::Str(b),
    }
}

/// A loaded value (a string may borrow from the input): a key's value, or an empty
/// collection (skipped, as Redis does).
pub enum Loaded1<'a> {
    Value(Value<'a>),
    Empty,
}

fn obj(o: Object) -> Result<Loaded1<'static>, RdbError> {
    Ok(if o.is_empty() { Loaded1::Empty } else { Loaded1::Value(Value::Obj(Box::new(o))) })
}

fn score_of(e: Elem) -> Result<f64, RdbError> {
    let v = match e {
        Elem::Int(n) => n as f64,
        Elem::Str(s) => {
            crate::util::num::parse_f64_lenient(s).ok_or_else(|| corrupt("bad sorted set score"))?
        }
    };
    if v.is_nan() {
        return Err(corrupt("sorted set score is NaN"));
    }
    Ok(v)
}

fn zset_from(pairs: Vec<(Vec<u8>, f64)>, opts: &LoadOpts) -> Result<Loaded1<'static>, RdbError> {
    if pairs.iter().any(|(_, s)| s.is_nan()) {
        return Err(corrupt("sorted set score is NaN"));
    }
    // Most sorted sets in a file are small listpacks: comparing with the earlier members
    // costs less than building a set of them.
    let dup = if pairs.len() <= 32 {
        pairs.iter().enumerate().any(|(i, (m, _))| pairs[..i].iter().any(|(n, _)| n == m))
    } else {
        let mut seen = HashSet::with_capacity(pairs.len());
        !pairs.iter().all(|(m, _)| seen.insert(&m[..]))
    };
    if dup {
        return Err(corrupt("duplicate sorted set members"));
    }
    obj(Object::ZSet(ZSet::from_pairs(pairs, opts.zset)))
}

fn hash_from<'b>(
    pairs: impl Iterator<Item = (Cow<'b, [u8]>, Cow<'b, [u8]>)>,
    opts: &LoadOpts,
) -> Result<Loaded1<'static>, RdbError> {
    let pairs: Vec<_> = pairs.collect();
    let refs: Vec<(&[u8], &[u8])> = pairs.iter().map(|(f, v)| (&f[..], &v[..])).collect();
    let h = Hash::from_pairs(&refs, opts.hash).ok_or_else(|| corrupt("duplicate hash fields"))?;
    obj(Object::Hash(h))
}

type Pairs<'b> = Vec<(Cow<'b, [u8]>, Cow<'b, [u8]>)>;

fn pairs_of<'b>(elems: &[Elem<'b>]) -> Result<Pairs<'b>, RdbError> {
    if !elems.len().is_multiple_of(2) {
        return Err(corrupt("odd number of elements in a hash"));
    }
    Ok(elems.chunks_exact(2).map(|p| (p[0].bytes(), p[1].bytes())).collect())
}

/// Reads a value of type `t`.
pub fn read_object<'a>(
    r: &mut Reader<'a>,
    t: u8,
    opts: &LoadOpts,
) -> Result<Loaded1<'a>, RdbError> {
    match t {
        T_STRING => Ok(Loaded1::Value(string_value(r.string()?))),
        T_LIST => {
            let n = r.read_len()?;
            let mut l = List::new();
            for _ in 0..n {
                l.push(End::Tail, &r.string()?, opts.list_fill);
            }
            obj(Object::List(l))
        }
        T_LIST_ZIPLIST => {
            let zl = r.string()?;
            let mut l = List::new();
            for e in ziplist::decode(&zl)? {
                l.push(End::Tail, &e.to_vec(), opts.list_fill);
            }
            obj(Object::List(l))
        }
        T_LIST_QUICKLIST | T_LIST_QUICKLIST_2 => {
            let n = r.read_len()?;
            let mut l = List::new();
            for _ in 0..n {
                let container = if t == T_LIST_QUICKLIST_2 { r.read_len()? } else { QL_PACKED };
                let blob = r.string()?;
                match container {
                    QL_PLAIN => l.append_node([&blob[..]]),
                    QL_PACKED => {
                        let elems = if t == T_LIST_QUICKLIST {
                            ziplist::decode(&blob)?
                        } else {
                            listpack::decode(&blob)?
                        };
                        let bytes: Vec<Cow<[u8]>> = elems.into_iter().map(Elem::bytes).collect();
                        l.append_node(bytes.iter().map(|v| &v[..]));
                    }
                    _ => return Err(corrupt(format!("unknown quicklist container {container}"))),
                }
            }
            obj(Object::List(l))
        }
        T_SET | T_SET_INTSET | T_SET_LISTPACK => {
            let mut s = Set::new();
            let add = |s: &mut Set, m: &[u8]| {
                if s.add(m, opts.set_max_intset) {
                    Ok(())
                } else {
                    Err(corrupt("duplicate set members"))
                }
            };
            match t {
                T_SET => {
                    let n = r.read_len()?;
                    for _ in 0..n {
                        add(&mut s, &r.string()?)?;
                    }
                }
                T_SET_INTSET => {
                    let b = r.string()?;
                    let mut buf = itoa::Buffer::new();
                    for v in intset::decode(&b)? {
                        add(&mut s, buf.format(v).as_bytes())?;
                    }
                }
                _ => {
                    let b = r.string()?;
                    for e in listpack::decode(&b)? {
                        add(&mut s, &e.bytes())?;
                    }
                }
            }
            obj(Object::Set(s))
        }
        T_ZSET | T_ZSET_2 => {
            let n = r.read_len()?;
            let mut pairs = Vec::with_capacity((n as usize).min(PREALLOC_MAX));
            for _ in 0..n {
                let m = r.string()?.into_owned();
                let s = if t == T_ZSET { r.string_double()? } else { r.binary_double()? };
                pairs.push((m, s));
            }
            zset_from(pairs, opts)
        }
        T_ZSET_ZIPLIST | T_ZSET_LISTPACK => {
            let b = r.string()?;
            let elems =
                if t == T_ZSET_ZIPLIST { ziplist::decode(&b)? } else { listpack::decode(&b)? };
            if !elems.len().is_multiple_of(2) {
                return Err(corrupt("odd number of elements in a sorted set"));
            }
            let pairs = elems
                .chunks_exact(2)
                .map(|p| Ok((p[0].to_vec(), score_of(p[1])?)))
                .collect::<Result<Vec<_>, RdbError>>()?;
            zset_from(pairs, opts)
        }
        T_HASH => {
            let n = r.read_len()?;
            let mut h = Hash::new();
            for _ in 0..n {
                let f = r.string()?;
                let v = r.string()?;
                if !h.set(&f, &v, opts.hash) {
                    return Err(corrupt("duplicate hash fields"));
                }
            }
            obj(Object::Hash(h))
        }
        T_HASH_ZIPMAP => {
            let b = r.string()?;
            let pairs = ziplist::decode_zipmap(&b)?;
            hash_from(pairs.into_iter().map(|(f, v)| (Cow::Borrowed(f), Cow::Borrowed(v))), opts)
        }
        T_HASH_ZIPLIST | T_HASH_LISTPACK => {
            let b = r.string()?;
            let elems =
                if t == T_HASH_ZIPLIST { ziplist::decode(&b)? } else { listpack::decode(&b)? };
            hash_from(pairs_of(&elems)?.into_iter(), opts)
        }
        T_STREAM_LISTPACKS | T_STREAM_LISTPACKS_2 | T_STREAM_LISTPACKS_3 => read_stream(r, t),
        T_HASH_METADATA_PRE_GA | T_HASH_LISTPACK_EX_PRE_GA | T_HASH_METADATA
        | T_HASH_LISTPACK_EX => Err(RdbError::Unsupported(format!(
            "The RDB file holds a hash with field expiration (Redis 7.4, RDB type {t}), which Vireo does not support"
        ))),
        T_MODULE_2 => {
            let m = crate::module_host::types::read_value(r, &opts.module_types)?;
            obj(Object::Module(Box::new(m)))
        }
        T_MODULE_PRE_GA => {
            let id = r.read_len()?;
            Err(RdbError::Unsupported(format!(
                "The RDB file contains module data I can't load: no matching module type '{}' (encoding version {})",
                module_type_name(id),
                module_type_version(id)
            )))
        }
        _ => Err(corrupt(format!("unknown value type {t}"))),
    }
}

fn read_stream(r: &mut Reader<'_>, t: u8) -> Result<Loaded1<'static>, RdbError> {
    let mut s = Stream::new();
    let nblocks = r.read_len()?;
    let mut live_total = 0u64;
    for _ in 0..nblocks {
        let key = r.string()?;
        if key.len() != 16 {
            return Err(corrupt("stream node key is not 16 bytes"));
        }
        let master = id_from_key(&key);
        let lp = r.string()?;
        let elems = listpack::decode(&lp)?;
        if elems.is_empty() {
            return Err(corrupt("empty listpack inside a stream"));
        }
        live_total += parse_stream_block(&mut s, master, &elems)?;
    }
    let log = &mut s.log;
    log.length = r.read_len()?;
    log.last_id = StreamId::new(r.read_len()?, r.read_len()?);
    if t >= T_STREAM_LISTPACKS_2 {
        log.first_id = StreamId::new(r.read_len()?, r.read_len()?);
        log.max_deleted = StreamId::new(r.read_len()?, r.read_len()?);
        log.entries_added = r.read_len()?;
    } else {
        log.first_id = log.edge_id(true).unwrap_or(StreamId::MIN);
        log.max_deleted = StreamId::MIN;
        log.entries_added = log.length;
    }
    if log.length != live_total {
        return Err(corrupt("stream length does not match its entries"));
    }
    let ngroups = r.read_len()?;
    for _ in 0..ngroups {
        let name = r.string()?.into_owned();
        let last_id = StreamId::new(r.read_len()?, r.read_len()?);
        let entries_read = if t >= T_STREAM_LISTPACKS_2 {
            r.read_len()? as i64
        } else {
            s.log.estimate_distance(last_id)
        };
        let mut g = Group::new(last_id, entries_read);
        let npel = r.read_len()?;
        for _ in 0..npel {
            let id = r.stream_id()?;
            let delivery_time = r.ms_time()?;
            let delivery_count = r.read_len()?;
            let nack =
                Nack { delivery_time, delivery_count, consumer: std::sync::Arc::from(&b""[..]) };
            if g.pel.insert(id, nack).is_some() {
                return Err(corrupt("duplicate id in a consumer group's pending entries"));
            }
        }
        let ncons = r.read_len()?;
        let mut owned = HashSet::new();
        for _ in 0..ncons {
            let cname: std::sync::Arc<[u8]> = std::sync::Arc::from(&r.string()?[..]);
            let seen_time = r.ms_time()?;
            if t >= T_STREAM_LISTPACKS_3 {
                r.ms_time()?; // active-time (Redis 7.2): Vireo keeps the seen time only
            }
            let mut c = Consumer { seen_time, pel: Default::default() };
            let n = r.read_len()?;
            for _ in 0..n {
                let id = r.stream_id()?;
                let nack = g.pel.get_mut(&id).ok_or_else(|| {
                    corrupt("consumer pending entry not in its group's pending entries")
                })?;
                if !owned.insert(id) {
                    return Err(corrupt("pending entry owned by two consumers"));
                }
                nack.consumer = cname.clone();
                c.pel.insert(id);
            }
            if g.consumers.insert(cname, c).is_some() {
                return Err(corrupt("duplicate consumer in a consumer group"));
            }
        }
        if owned.len() != g.pel.len() {
            return Err(corrupt("pending entry without a consumer"));
        }
        if s.groups.insert(name.into_boxed_slice(), g).is_some() {
            return Err(corrupt("duplicate consumer group"));
        }
    }
    // An empty stream is a valid key (XADD MAXLEN 0, XDEL of everything): kept.
    Ok(Loaded1::Value(Value::Obj(Box::new(Object::Stream(Box::new(s))))))
}

/// Adds the entries of one stream listpack; returns the number of live ones.
fn parse_stream_block(s: &mut Stream, master: StreamId, e: &[Elem]) -> Result<u64, RdbError> {
    let bad = || corrupt("bad stream listpack");
    let int = |i: usize| e.get(i).and_then(|x| x.as_int()).ok_or_else(bad);
    let count = int(0)?;
    let deleted = int(1)?;
    let nmaster = usize::try_from(int(2)?).map_err(|_| bad())?;
    let mut p = 3usize;
    let master_fields = e.get(p..p.checked_add(nmaster).ok_or_else(bad)?).ok_or_else(bad)?;
    p += nmaster;
    if int(p)? != 0 {
        return Err(bad());
    }
    p += 1;
    let master_owned: Vec<Vec<u8>> = master_fields.iter().map(|f| f.to_vec()).collect();
    let mut entries: Vec<(StreamId, bool, Vec<Vec<u8>>)> = Vec::new();
    while p < e.len() {
        let flags = int(p)?;
        let ms = int(p + 1)? as u64;
        let seq = int(p + 2)? as u64;
        p += 3;
        let id = StreamId::new(master.ms.wrapping_add(ms), master.seq.wrapping_add(seq));
        let mut pairs = Vec::new();
        let n_elems = if flags & STREAM_SAMEFIELDS != 0 {
            let vals = e.get(p..p + nmaster).ok_or_else(bad)?;
            for (f, v) in master_owned.iter().zip(vals) {
                pairs.push(f.clone());
                pairs.push(v.to_vec());
            }
            p += nmaster;
            nmaster + 3
        } else {
            let n = usize::try_from(int(p)?).map_err(|_| bad())?;
            p += 1;
            let kv = e.get(p..p.checked_add(n.checked_mul(2).ok_or_else(bad)?).ok_or_else(bad)?);
            let kv = kv.ok_or_else(bad)?;
            pairs.extend(kv.iter().map(|x| x.to_vec()));
            p += 2 * n;
            2 * n + 4
        };
        if int(p)? != n_elems as i64 {
            return Err(bad());
        }
        p += 1;
        entries.push((id, flags & STREAM_DELETED != 0, pairs));
    }
    let live = entries.iter().filter(|x| !x.1).count() as i64;
    if live != count || entries.len() as i64 - live != deleted {
        return Err(corrupt("stream listpack counters do not match its entries"));
    }
    let refs: Vec<(StreamId, bool, Vec<&[u8]>)> =
        entries.iter().map(|(id, d, p)| (*id, *d, p.iter().map(|v| &v[..]).collect())).collect();
    s.log.load_block(&refs).map_err(corrupt)
}

/// Applies IDLE / FREQ read before a key to its LRU field, as the policy keeps it.
fn apply_age(e: &mut Entry, access: Access, idle: Option<u64>, freq: Option<u8>) {
    match access.lru {
        Lru::Clock(clock) => {
            if let Some(idle) = idle {
                let idle = (idle.min(u64::from(keyspace::record::LRU_MAX))) as u32;
                let v = if idle <= clock {
                    clock - idle
                } else {
                    keyspace::record::LRU_MAX - (idle - clock)
                };
                e.set_lru(v);
            }
        }
        Lru::Lfu { minutes, .. } => {
            if let Some(f) = freq {
                e.set_lru((u32::from(minutes) << 8) | u32::from(f));
            }
        }
    }
}

/// Adds a loaded key to database `db` (refusing a key the file holds twice).
fn insert_loaded(out: &mut Loaded, db: usize, e: Entry) -> Result<(), RdbError> {
    let expires = e.expire_at().is_some();
    let d = &mut out.dbs[db];
    if let Some(old) = d.table.insert(e) {
        return Err(corrupt(format!("duplicate key '{}'", String::from_utf8_lossy(old.key()))));
    }
    if expires {
        d.expires += 1;
    }
    out.keys_loaded += 1;
    Ok(())
}

/// Hooks that follow a load (start-up's progress reporting and `key-load-delay`).
pub trait Progress {
    /// An aux field.
    fn aux(&mut self, _key: &[u8], _value: &[u8]) {}
    /// A key was loaded (or dropped as expired: `expired` so far); the image is read up to
    /// `pos`.
    fn key(&mut self, _pos: usize, _expired: u64) {}
}

impl Progress for () {}

/// Loads a whole RDB image into `ndbs` fresh databases.
pub fn load(data: &[u8], ndbs: usize, opts: &LoadOpts) -> Result<Loaded, RdbError> {
    load_with(data, ndbs, opts, &mut ())
}

/// [`load`], telling `progress` about aux fields and keys as they are read.
pub fn load_with<P: Progress>(
    data: &[u8],
    ndbs: usize,
    opts: &LoadOpts,
    progress: &mut P,
) -> Result<Loaded, RdbError> {
    let mut r = Reader::new(data);
    let magic = r.take(9).map_err(|_| corrupt("too short to be an RDB file"))?;
    if &magic[..5] != b"REDIS" {
        return Err(corrupt("wrong signature trying to load DB from file"));
    }
    let version = std::str::from_utf8(&magic[5..])
        .ok()
        .filter(|s| s.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| corrupt("bad RDB version"))?;
    if !(MIN_VERSION..=MAX_VERSION).contains(&version) {
        return Err(RdbError::Unsupported(format!("Can't handle RDB format version {version}")));
    }
    let mut out = Loaded {
        dbs: (0..ndbs).map(Db::new).collect(),
        functions: Vec::new(),
        aux: Vec::new(),
        version,
        keys_loaded: 0,
        keys_expired: 0,
        empty_keys_skipped: 0,
        consumed: 0,
    };
    let mut db = 0usize;
    let mut expire: Option<i64> = None;
    let (mut idle, mut freq) = (None, None);
    let mut pending: Option<(usize, Entry)> = None;
    loop {
        let t = r.byte()?;
        match t {
            OP_EXPIRETIME => {
                let d = r.take(4)?;
                expire = Some(i64::from(i32::from_le_bytes([d[0], d[1], d[2], d[3]])) * 1000);
                continue;
            }
            OP_EXPIRETIME_MS => {
                expire = Some(r.ms_time()?);
                continue;
            }
            OP_FREQ => {
                freq = Some(r.byte()?);
                continue;
            }
            OP_IDLE => {
                idle = Some(r.read_len()?);
                continue;
            }
            OP_EOF => break,
            OP_SELECTDB => {
                let n = r.read_len()?;
                db = usize::try_from(n).ok().filter(|&d| d < ndbs).ok_or_else(|| {
                    RdbError::Unsupported(format!(
                        "The RDB file was created with more databases than the {ndbs} configured (it selects database {n})"
                    ))
                })?;
                continue;
            }
            OP_RESIZEDB => {
                let n = r.read_len()?;
                r.read_len()?;
                // A sizing hint: trusted only as far as the bytes left could hold that many
                // keys (three bytes at least each).
                let left = (data.len() - r.pos()) / 3;
                out.dbs[db].table.reserve((n.min(left as u64) as usize).min(1 << 27));
                continue;
            }
            OP_SLOT_INFO => {
                r.read_len()?;
                r.read_len()?;
                r.read_len()?;
                continue;
            }
            OP_AUX => {
                let k = r.string()?.into_owned();
                let v = r.string()?.into_owned();
                progress.aux(&k, &v);
                out.aux.push((k, v));
                continue;
            }
            OP_MODULE_AUX => {
                crate::module_host::types::read_aux(&mut r, &opts.module_types)?;
                continue;
            }
            OP_FUNCTION_PRE_GA => {
                return Err(RdbError::Unsupported(
                    "Pre-release function format not supported".into(),
                ))
            }
            OP_FUNCTION2 => {
                let code = r.string()?;
                let code = String::from_utf8(code.into_owned())
                    .map_err(|_| corrupt("function library code is not UTF-8"))?;
                out.functions.push(code);
                continue;
            }
            _ => {}
        }
        let key = r.string()?;
        out.dbs[db].table.prefetch(&key);
        let v = read_object(&mut r, t, opts)?;
        let exp = expire.take();
        let (i, f) = (idle.take(), freq.take());
        let v = match v {
            Loaded1::Empty => {
                out.empty_keys_skipped += 1;
                continue;
            }
            Loaded1::Value(v) => v,
        };
        if let (Some(at), Some(now)) = (exp, opts.drop_expired_before) {
            if at < now {
                out.keys_expired += 1;
                progress.key(r.pos(), out.keys_expired);
                continue;
            }
        }
        let mut e = Entry::new(&key, v, exp);
        e.set_lru(opts.access.initial());
        apply_age(&mut e, opts.access, i, f);
        // Inserted one key late (see Table::prefetch): the previous key's chain was fetched
        // meanwhile.
        out.dbs[db].table.prefetch_chain(&key);
        if let Some((pdb, pe)) = pending.replace((db, e)) {
            insert_loaded(&mut out, pdb, pe)?;
        }
        progress.key(r.pos(), out.keys_expired);
    }
    if let Some((pdb, pe)) = pending.take() {
        insert_loaded(&mut out, pdb, pe)?;
    }
    let body_end = r.pos();
    if version >= 5 {
        let d = r.take(8)?;
        let stored = u64::from_le_bytes(d.try_into().expect("8 bytes"));
        if stored != 0 && opts.verify_checksum {
            let crc = crc64::crc64(&data[..body_end]);
            if crc != stored {
                return Err(corrupt("wrong RDB checksum"));
            }
        }
    }
    out.consumed = r.pos();
    Ok(out)
}

/// Checks a DUMP payload's footer (RDB version and CRC-64): false if either is wrong.
pub fn verify_payload(p: &[u8], check_crc: bool) -> bool {
    if p.len() < 10 {
        return false;
    }
    let footer = &p[p.len() - 10..];
    let ver = u16::from_le_bytes([footer[0], footer[1]]);
    if ver > MAX_VERSION {
        return false;
    }
    if !check_crc {
        return true;
    }
    let stored = u64::from_le_bytes(footer[2..].try_into().expect("8 bytes"));
    crc64::crc64(&p[..p.len() - 8]) == stored
}

/// Decodes a (verified) DUMP payload's value: None when it is malformed or empty.
pub fn payload_value(p: &[u8], opts: &LoadOpts) -> Option<Value<'static>> {
    let body = p.get(..p.len().checked_sub(10)?)?;
    let mut r = Reader::new(body);
    let t = r.byte().ok()?;
    match read_object(&mut r, t, opts) {
        Ok(Loaded1::Value(v)) if r.pos() == body.len() => Some(match v {
            Value::Str(s) => Value::Str(std::borrow::Cow::Owned(s.into_owned())),
            Value::Int(n) => Value::Int(n),
            Value::Obj(o) => Value::Obj(o),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::ValueRef;
    use crate::persist::rdb::save::{self, write_len, write_string, FileWriter, SaveOpts};

    fn opts() -> LoadOpts {
        LoadOpts {
            hash: hash::Limits { max_entries: 128, max_value: 64 },
            zset: zset::Limits { entries: 128, value: 64 },
            set_max_intset: 512,
            list_fill: -2,
            access: Access::lru(100),
            drop_expired_before: None,
            verify_checksum: true,
            module_types: Default::default(),
        }
    }

    /// A ziplist of short strings (and single-byte integers for `#n`).
    fn ziplist(elems: &[&str]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        for e in elems {
            let start = body.len();
            body.push(prev as u8);
            if let Some(n) = e.strip_prefix('#') {
                body.push(0xfe);
                body.push(n.parse::<i8>().unwrap() as u8);
            } else {
                body.push(e.len() as u8);
                body.extend_from_slice(e.as_bytes());
            }
            prev = body.len() - start;
        }
        let mut zl = Vec::new();
        zl.extend_from_slice(&((10 + body.len() + 1) as u32).to_le_bytes());
        zl.extend_from_slice(&10u32.to_le_bytes());
        zl.extend_from_slice(&(elems.len() as u16).to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(0xff);
        zl
    }

    fn finish(mut f: Vec<u8>) -> Vec<u8> {
        f.push(OP_EOF);
        let crc = crc64::crc64(&f);
        f.extend_from_slice(&crc.to_le_bytes());
        f
    }

    fn obj_of<'a>(l: &'a Loaded, key: &[u8]) -> &'a Object {
        match l.dbs[0].table.get(key).unwrap().value() {
            ValueRef::Obj(o) => o,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn loads_redis_6_encodings() {
        let mut f = b"REDIS0009".to_vec();
        f.push(OP_AUX);
        write_string(&mut f, b"redis-ver", false);
        write_string(&mut f, b"6.2.14", false);
        f.push(OP_SELECTDB);
        write_len(&mut f, 0);
        f.push(OP_RESIZEDB);
        write_len(&mut f, 7);
        write_len(&mut f, 1);
        // A quicklist of two ziplist nodes, with a seconds expiry far ahead.
        f.push(OP_EXPIRETIME);
        f.extend_from_slice(&2_000_000_000i32.to_le_bytes());
        f.push(T_LIST_QUICKLIST);
        write_string(&mut f, b"list", false);
        write_len(&mut f, 2);
        write_string(&mut f, &ziplist(&["a", "b", "#-3"]), false);
        write_string(&mut f, &ziplist(&["c"]), true);
        f.push(T_HASH_ZIPLIST);
        write_string(&mut f, b"hash", false);
        write_string(&mut f, &ziplist(&["f1", "v1", "f2", "#7"]), false);
        f.push(T_ZSET_ZIPLIST);
        write_string(&mut f, b"zset", false);
        write_string(&mut f, &ziplist(&["m1", "#2", "m2", "1.5"]), false);
        f.push(T_HASH_ZIPMAP);
        write_string(&mut f, b"zipmap", false);
        write_string(&mut f, &[1, 1, b'k', 1, 0, b'v', 0xff], false);
        f.push(T_LIST_ZIPLIST);
        write_string(&mut f, b"oldlist", false);
        write_string(&mut f, &ziplist(&["x", "y"]), false);
        f.push(OP_IDLE);
        write_len(&mut f, 10);
        f.push(T_ZSET);
        write_string(&mut f, b"zset1", false);
        write_len(&mut f, 3);
        for (m, s) in [(&b"a"[..], &b"\x031.5"[..]), (b"b", b"\xfe"), (b"c", b"\xff")] {
            write_string(&mut f, m, false);
            f.extend_from_slice(s);
        }
        f.push(T_SET);
        write_string(&mut f, b"emptyset", false);
        write_len(&mut f, 0);
        let l = load(&finish(f), 16, &opts()).unwrap();
        assert_eq!((l.version, l.keys_loaded, l.empty_keys_skipped), (9, 6, 1));
        assert_eq!(l.aux, vec![(b"redis-ver".to_vec(), b"6.2.14".to_vec())]);
        let db = &l.dbs[0];
        assert_eq!(db.expires, 1);
        assert_eq!(db.table.get(b"list").unwrap().expire_at(), Some(2_000_000_000_000));
        let Object::List(list) = obj_of(&l, b"list") else { panic!() };
        let items: Vec<&[u8]> = list.iter().collect();
        assert_eq!(items, [&b"a"[..], b"b", b"-3", b"c"]);
        assert_eq!(list.node_count(), 2);
        let Object::Hash(h) = obj_of(&l, b"hash") else { panic!() };
        assert_eq!(h.get(b"f2"), Some(&b"7"[..]));
        let Object::ZSet(z) = obj_of(&l, b"zset") else { panic!() };
        assert_eq!(z.to_vec(), vec![(b"m2".to_vec(), 1.5), (b"m1".to_vec(), 2.0)]);
        let Object::Hash(zm) = obj_of(&l, b"zipmap") else { panic!() };
        assert_eq!(zm.get(b"k"), Some(&b"v"[..]));
        let Object::ZSet(z1) = obj_of(&l, b"zset1") else { panic!() };
        assert_eq!(z1.score(b"b"), Some(f64::INFINITY));
        assert_eq!(z1.score(b"c"), Some(f64::NEG_INFINITY));
        // IDLE 10 s at LRU clock 100.
        assert_eq!(db.table.get(b"zset1").unwrap().lru(), 90);
    }

    #[test]
    fn refuses_what_it_cannot_hold() {
        let key_of = |t: u8, body: &[u8]| {
            let mut f = b"REDIS0012".to_vec();
            f.push(t);
            write_string(&mut f, b"k", false);
            f.extend_from_slice(body);
            finish(f)
        };
        let mut id = Vec::new();
        write_len(&mut id, (0x1234_5678u64 << 10) | 5);
        let msg = |r: Result<Loaded, RdbError>| match r {
            Err(e) => e.to_string(),
            Ok(_) => "loaded".into(),
        };
        let m = msg(load(&key_of(T_MODULE_2, &id), 16, &opts()));
        assert!(m.contains("no matching module type") && m.contains("version 5"), "{m}");
        let m = msg(load(&key_of(T_HASH_METADATA, &[0; 8]), 16, &opts()));
        assert!(m.contains("field expiration"), "{m}");
        let m = msg(load(&key_of(99, &[]), 16, &opts()));
        assert!(m.contains("unknown value type 99"), "{m}");
        let m = msg(load(b"REDIS0013\xff", 16, &opts()));
        assert_eq!(m, "Can't handle RDB format version 13");
        let mut f = b"REDIS0010".to_vec();
        f.push(OP_SELECTDB);
        write_len(&mut f, 20);
        let m = msg(load(&finish(f), 16, &opts()));
        assert!(m.contains("more databases"), "{m}");
        // The same key twice.
        let mut f = b"REDIS0010".to_vec();
        for _ in 0..2 {
            f.push(T_STRING);
            write_string(&mut f, b"dup", false);
            write_string(&mut f, b"v", false);
        }
        assert!(msg(load(&finish(f), 16, &opts())).contains("duplicate key"));
    }

    /// A file with one key of every type, in both encodings, written by the writer.
    fn sample_file() -> Vec<u8> {
        use crate::types::list::End;
        let mut entries = Vec::new();
        entries.push(Entry::new(b"s", Value::string(b"hello hello hello hello hello"), None));
        entries.push(Entry::new(b"i", Value::Int(-123456789012), Some(4_000_000_000_000)));
        let mut l = List::new();
        for i in 0..300 {
            l.push(End::Tail, format!("item{i}").as_bytes(), 8);
        }
        entries.push(Entry::new(b"l", Value::Obj(Box::new(Object::List(l))), None));
        for (name, n) in [(&b"small"[..], 3), (b"big", 200)] {
            let mut s = Set::new();
            let mut ints = Set::new();
            let mut h = Hash::new();
            let mut pairs = Vec::new();
            for i in 0..n {
                s.add(format!("m{i}").as_bytes(), 512);
                ints.add(format!("{}", i * 1000).as_bytes(), 100);
                h.set(
                    format!("f{i}").as_bytes(),
                    b"v",
                    hash::Limits { max_entries: 128, max_value: 64 },
                );
                pairs.push((format!("z{i}").into_bytes(), i as f64 / 3.0));
            }
            let z = ZSet::from_pairs(pairs, zset::Limits { entries: 128, value: 64 });
            for (prefix, o) in [
                ("set", Object::Set(s)),
                ("ints", Object::Set(ints)),
                ("hash", Object::Hash(h)),
                ("zset", Object::ZSet(z)),
            ] {
                let k = [prefix.as_bytes(), name].concat();
                entries.push(Entry::new(&k, Value::Obj(Box::new(o)), None));
            }
        }
        let mut st = Stream::new();
        let lim = crate::types::stream::NodeLimits { max_bytes: 4096, max_entries: 10 };
        for i in 1..40u64 {
            let f = format!("f{}", i % 3);
            let pairs: Vec<&[u8]> = vec![b"a", b"1", f.as_bytes(), b"x"];
            st.log
                .add(crate::types::stream::AddId::Exact(StreamId::new(i, 0)), &pairs, lim, 0)
                .unwrap();
        }
        st.log.delete(&[StreamId::new(5, 0), StreamId::new(1, 0)]);
        st.create_group(b"g", StreamId::new(3, 0), 3);
        entries.push(Entry::new(b"st", Value::Obj(Box::new(Object::Stream(Box::new(st)))), None));
        let mut fw = FileWriter::new(Vec::new(), SaveOpts::default(), true);
        fw.header(&save::standard_aux(1000, false), &[]).unwrap();
        fw.function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)")
            .unwrap();
        fw.select_db(0, entries.len() as u64, 1).unwrap();
        for e in &entries {
            fw.entry(e).unwrap();
        }
        fw.footer().unwrap()
    }

    #[test]
    fn writer_output_loads_back() {
        let f = sample_file();
        let l = load(&f, 16, &opts()).unwrap();
        assert_eq!(l.keys_loaded, 12);
        assert_eq!(l.functions.len(), 1);
        assert_eq!(l.consumed, f.len());
        let Object::Stream(st) = obj_of(&l, b"st") else { panic!() };
        assert_eq!(st.log.length, 37);
        assert_eq!(st.groups.len(), 1);
        // Written as a plain set (a hashtable under a limit of 100), loaded under a limit of
        // 512 as an intset, as Redis converts it.
        let Object::Set(s) = obj_of(&l, b"intsbig") else { panic!() };
        assert_eq!((s.len(), s.encoding_name()), (200, "intset"));
        let Object::Set(s) = obj_of(&l, b"intssmall") else { panic!() };
        assert_eq!(s.encoding_name(), "intset");
        let Object::ZSet(z) = obj_of(&l, b"zsetbig") else { panic!() };
        assert_eq!((z.len(), z.encoding_name()), (200, "skiplist"));
        assert_eq!(z.score(b"z3"), Some(1.0));
    }

    #[test]
    fn mutated_files_never_panic() {
        let f = sample_file();
        for cut in (0..f.len()).step_by(7) {
            assert!(load(&f[..cut], 16, &opts()).is_err(), "truncated at {cut}");
        }
        let mut o = opts();
        o.verify_checksum = false;
        let mut x: u32 = 7;
        for _ in 0..3000 {
            let mut m = f.clone();
            for _ in 0..3 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let at = (x as usize >> 4) % m.len();
                m[at] = (x >> 20) as u8;
            }
            let _ = load(&m, 16, &o);
        }
    }
}
