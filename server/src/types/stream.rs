//! The stream type (Redis 7.0 streams): an append-only log of entries named by 128-bit ids,
//! plus its consumer groups.
//!
//! ## Log
//!
//! Entries live in blocks ([`Node`]) held in an ordered map keyed by the id of each block's
//! first entry (its *master* id), as Redis keeps listpacks in a radix tree. A block is one byte
//! buffer: the master field names (the fields of its first entry), then the entries back to
//! back. Each entry is
//!
//! - a head byte: bit 0 deleted, bit 1 "same fields as the master", bits 2..8 the ms delta
//!   from the previous entry of the block (63 means "63 plus a varint that follows");
//! - the sequence: its delta from the previous entry's when the ms delta is 0, else itself
//!   (a varint);
//! - for a same-fields entry the values only, else the field count and field/value pairs.
//!
//! Field names and values are a varint tag followed by nothing (an integer: canonical decimal
//! strings are stored as zigzag numbers and given back byte for byte) or by the bytes (a string
//! of `tag >> 1` bytes). Ids and field names, repeated in Redis's listpack per entry at a few
//! bytes each, cost about two bytes per entry here, and there are no back-pointers.
//!
//! Where a block ends is observable (approximate trimming with `~` removes whole blocks, and
//! XINFO STREAM counts them), so blocks split exactly where Redis's listpacks do: each block
//! tracks the size Redis's listpack for the same entries would have (`stream-node-max-bytes`)
//! and its live + deleted entry count (`stream-node-max-entries`).
//!
//! Deleting an entry only flags it, as in Redis; a block with no live entry left is dropped.
//!
//! ## Consumer groups
//!
//! A [`Group`] holds its last delivered id, its entries-read counter, its pending entries list
//! (PEL, ordered by id, each entry naming its consumer) and its consumers (by name, each with
//! its own ordered PEL).

use std::collections::{btree_map, BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use crate::util::num::{parse_i64, parse_u64_lenient};

// ------------------------------------------------------------------------------------------------
// Ids

/// An entry id: milliseconds and a sequence number, ordered as a 128-bit number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// The next id, or None after the largest one.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous id, or None before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// The `<ms>-<seq>` text form.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut b = itoa::Buffer::new();
        let mut out = Vec::with_capacity(41);
        out.extend_from_slice(b.format(self.ms).as_bytes());
        out.push(b'-');
        out.extend_from_slice(b.format(self.seq).as_bytes());
        out
    }

    /// Big-endian bytes: the key Redis's radix tree stores.
    fn key_bytes(self) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&self.ms.to_be_bytes());
        k[8..].copy_from_slice(&self.seq.to_be_bytes());
        k
    }
}

/// An id argument as XADD reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdArg {
    Exact(StreamId),
    /// `<ms>-*`: the sequence is chosen by the stream.
    AutoSeq(u64),
}

/// Parses an id argument as Redis 7.0 does: `<ms>-<seq>`, or `<ms>` alone (sequence
/// `missing_seq`), or `-` / `+` (the smallest / largest id) unless `strict`; `<ms>-*` when
/// `auto_seq`. Each number is read like C `strtoull` (see `parse_u64_lenient`); the argument
/// ends at a NUL byte and may not be longer than 127 bytes.
pub fn parse_id(arg: &[u8], missing_seq: u64, strict: bool, auto_seq: bool) -> Option<IdArg> {
    if arg.len() > 127 {
        return None;
    }
    let s = match arg.iter().position(|&c| c == 0) {
        Some(n) => &arg[..n],
        None => arg,
    };
    match s {
        b"-" => return (!strict).then_some(IdArg::Exact(StreamId::MIN)),
        b"+" => return (!strict).then_some(IdArg::Exact(StreamId::MAX)),
        _ => {}
    }
    let (ms_part, seq_part) = match s.iter().position(|&c| c == b'-') {
        Some(d) => (&s[..d], Some(&s[d + 1..])),
        None => (s, None),
    };
    let ms = parse_u64_lenient(ms_part)?;
    let seq = match seq_part {
        None => missing_seq,
        Some(b"*") if auto_seq => return Some(IdArg::AutoSeq(ms)),
        Some(p) => parse_u64_lenient(p)?,
    };
    Some(IdArg::Exact(StreamId::new(ms, seq)))
}

/// A strict id (no `-`, `+`, or `*`), sequence 0 when missing.
pub fn parse_strict(arg: &[u8]) -> Option<StreamId> {
    match parse_id(arg, 0, true, false)? {
        IdArg::Exact(id) => Some(id),
        IdArg::AutoSeq(_) => None,
    }
}

/// An id that may be `-` or `+`, sequence `missing_seq` when missing.
pub fn parse_loose(arg: &[u8], missing_seq: u64) -> Option<StreamId> {
    match parse_id(arg, missing_seq, false, false)? {
        IdArg::Exact(id) => Some(id),
        IdArg::AutoSeq(_) => None,
    }
}

/// A range bound: a loose id, or `(` and a strict id for an exclusive bound. Returns the id and
/// whether it was exclusive.
pub fn parse_interval(arg: &[u8], missing_seq: u64) -> Option<(StreamId, bool)> {
    if arg.len() > 1 && arg[0] == b'(' {
        match parse_id(&arg[1..], missing_seq, true, false)? {
            IdArg::Exact(id) => Some((id, true)),
            IdArg::AutoSeq(_) => None,
        }
    } else {
        parse_loose(arg, missing_seq).map(|id| (id, false))
    }
}

// ------------------------------------------------------------------------------------------------
// Byte encodings

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// A field name or value as stored: canonical integers as numbers, everything else as bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Val<'_> {
    /// Whether this is the value `b` was stored from.
    pub fn eq_bytes(&self, b: &[u8]) -> bool {
        match *self {
            Val::Str(s) => s == b,
            Val::Int(n) => itoa::Buffer::new().format(n).as_bytes() == b,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        match *self {
            Val::Str(s) => s.to_vec(),
            Val::Int(n) => itoa::Buffer::new().format(n).as_bytes().to_vec(),
        }
    }
}

fn put_value(buf: &mut Vec<u8>, v: &[u8]) {
    if let Some(n) = parse_i64(v) {
        let z = zigzag(n);
        if z < 1 << 62 {
            put_varint(buf, (z << 1) | 1);
            return;
        }
    }
    put_varint(buf, (v.len() as u64) << 1);
    buf.extend_from_slice(v);
}

fn get_value<'a>(buf: &'a [u8], pos: &mut usize) -> Val<'a> {
    let tag = get_varint(buf, pos);
    if tag & 1 == 1 {
        Val::Int(unzigzag(tag >> 1))
    } else {
        let len = (tag >> 1) as usize;
        let s = &buf[*pos..*pos + len];
        *pos += len;
        Val::Str(s)
    }
}

fn skip_value(buf: &[u8], pos: &mut usize) {
    let tag = get_varint(buf, pos);
    if tag & 1 == 0 {
        *pos += (tag >> 1) as usize;
    }
}

// ------------------------------------------------------------------------------------------------
// Redis listpack sizes (where blocks split)

/// Largest listpack Redis builds (`STREAM_LISTPACK_MAX_SIZE`), and the largest entry it takes.
pub const LISTPACK_MAX: usize = 1 << 30;

fn lp_backlen(l: u64) -> u64 {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    }
}

/// Bytes of one listpack integer element (encoding, data and back-length).
fn lp_int(v: i64) -> u64 {
    let enc = if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if (-32768..=32767).contains(&v) {
        3
    } else if (-8388608..=8388607).contains(&v) {
        4
    } else if (i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&v) {
        5
    } else {
        9
    };
    enc + lp_backlen(enc)
}

/// Bytes of one listpack element holding `s` (stored as an integer when it is one).
fn lp_str(s: &[u8]) -> u64 {
    if let Some(n) = parse_i64(s) {
        return lp_int(n);
    }
    let len = s.len() as u64;
    let enc = if len < 64 {
        1 + len
    } else if len < 4096 {
        2 + len
    } else {
        5 + len
    };
    enc + lp_backlen(enc)
}

/// Listpack header and end byte.
const LP_OVERHEAD: u64 = 7;
const FLAG_DELETED: u8 = 1;
const FLAG_SAME: u8 = 2;

// ------------------------------------------------------------------------------------------------
// Blocks

/// The limits that decide when a block is full (`stream-node-max-bytes`,
/// `stream-node-max-entries`; 0 means no limit).
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: u64,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits { max_bytes: 4096, max_entries: 100 }
    }
}

#[derive(Clone, Debug)]
struct Node {
    /// The master field names, then the entries.
    data: Vec<u8>,
    /// Offset of the first entry.
    first_at: u32,
    /// Number of master fields.
    master_fields: u32,
    live: u32,
    deleted: u32,
    /// Size of Redis's listpack for these entries, less its live and deleted counters.
    lp_base: u64,
    /// Id of the last entry, deleted or not.
    last: StreamId,
}

/// One decoded entry position in a block.
#[derive(Clone, Copy, Debug)]
struct Raw {
    id: StreamId,
    head_at: usize,
    flags: u8,
    body_at: usize,
    end: usize,
}

impl Node {
    fn new(id: StreamId, pairs: &[&[u8]]) -> Node {
        let nfields = pairs.len() / 2;
        let mut data = Vec::new();
        put_varint(&mut data, nfields as u64);
        let mut lp_base = LP_OVERHEAD + lp_int(nfields as i64) + lp_int(0);
        for f in pairs.iter().step_by(2) {
            put_value(&mut data, f);
            lp_base += lp_str(f);
        }
        let first_at = data.len() as u32;
        let mut n = Node {
            data,
            first_at,
            master_fields: nfields as u32,
            live: 0,
            deleted: 0,
            lp_base,
            last: id,
        };
        n.push(id, id, pairs);
        n
    }

    /// Size of the listpack Redis would hold.
    fn lp_bytes(&self) -> u64 {
        self.lp_base + lp_int(i64::from(self.live)) + lp_int(i64::from(self.deleted))
    }

    fn same_fields(&self, pairs: &[&[u8]]) -> bool {
        if pairs.len() / 2 != self.master_fields as usize {
            return false;
        }
        let mut pos = 0;
        get_varint(&self.data, &mut pos);
        pairs.iter().step_by(2).all(|f| get_value(&self.data, &mut pos).eq_bytes(f))
    }

    /// Appends entry `id` (greater than every id in the block) of block `master`.
    fn push(&mut self, master: StreamId, id: StreamId, pairs: &[&[u8]]) {
        let same = self.same_fields(pairs);
        let prev = if self.live + self.deleted == 0 { master } else { self.last };
        let flags = if same { FLAG_SAME } else { 0 };
        let msd = id.ms - prev.ms;
        let small = msd.min(63);
        self.data.push(flags | (small as u8) << 2);
        if small == 63 {
            put_varint(&mut self.data, msd - 63);
        }
        put_varint(&mut self.data, if msd == 0 { id.seq - prev.seq } else { id.seq });
        let nfields = pairs.len() / 2;
        let mut lp = lp_int(i64::from(flags))
            + lp_int(id.ms.wrapping_sub(master.ms) as i64)
            + lp_int(id.seq.wrapping_sub(master.seq) as i64);
        let mut lp_count = nfields as i64 + 3;
        if same {
            for v in pairs.iter().skip(1).step_by(2) {
                put_value(&mut self.data, v);
                lp += lp_str(v);
            }
        } else {
            put_varint(&mut self.data, nfields as u64);
            lp += lp_int(nfields as i64);
            for x in pairs {
                put_value(&mut self.data, x);
                lp += lp_str(x);
            }
            lp_count += nfields as i64 + 1;
        }
        lp += lp_int(lp_count);
        self.lp_base += lp;
        self.live += 1;
        self.last = id;
    }

    fn decode(&self, pos: usize, prev: StreamId) -> Raw {
        let d = &self.data;
        let mut p = pos;
        let head = d[p];
        p += 1;
        let flags = head & 3;
        let mut msd = u64::from(head >> 2);
        if msd == 63 {
            msd += get_varint(d, &mut p);
        }
        let v = get_varint(d, &mut p);
        let id = if msd == 0 {
            StreamId::new(prev.ms, prev.seq + v)
        } else {
            StreamId::new(prev.ms + msd, v)
        };
        let body_at = p;
        let n = if flags & FLAG_SAME != 0 {
            self.master_fields as usize
        } else {
            2 * get_varint(d, &mut p) as usize
        };
        for _ in 0..n {
            skip_value(d, &mut p);
        }
        Raw { id, head_at: pos, flags, body_at, end: p }
    }

    /// Every entry of the block, deleted ones included, in order.
    fn raws(&self, master: StreamId) -> RawIter<'_> {
        RawIter { node: self, pos: self.first_at as usize, prev: master }
    }

    fn entry(&self, r: &Raw) -> Entry<'_> {
        Entry { id: r.id, node: self, body_at: r.body_at, same: r.flags & FLAG_SAME != 0 }
    }

    /// Flags the entry at `r` deleted.
    fn flag_deleted(&mut self, r: &Raw) {
        self.data[r.head_at] |= FLAG_DELETED;
        self.live -= 1;
        self.deleted += 1;
    }

    fn heap_bytes(&self) -> usize {
        crate::info::jemalloc_size_class(self.data.capacity())
    }
}

struct RawIter<'a> {
    node: &'a Node,
    pos: usize,
    prev: StreamId,
}

impl Iterator for RawIter<'_> {
    type Item = Raw;

    fn next(&mut self) -> Option<Raw> {
        if self.pos >= self.node.data.len() {
            return None;
        }
        let r = self.node.decode(self.pos, self.prev);
        self.pos = r.end;
        self.prev = r.id;
        Some(r)
    }
}

/// A live entry, borrowed from its block.
#[derive(Clone, Copy)]
pub struct Entry<'a> {
    pub id: StreamId,
    node: &'a Node,
    body_at: usize,
    same: bool,
}

impl<'a> Entry<'a> {
    /// Number of field/value pairs.
    pub fn len(&self) -> usize {
        if self.same {
            self.node.master_fields as usize
        } else {
            let mut p = self.body_at;
            get_varint(&self.node.data, &mut p) as usize
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The field/value pairs in order.
    pub fn pairs(&self) -> Pairs<'a> {
        let d = &self.node.data;
        if self.same {
            let mut mp = 0;
            let n = get_varint(d, &mut mp) as usize;
            Pairs { data: d, master: Some(mp), pos: self.body_at, left: n }
        } else {
            let mut p = self.body_at;
            let n = get_varint(d, &mut p) as usize;
            Pairs { data: d, master: None, pos: p, left: n }
        }
    }
}

impl fmt::Debug for Entry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("id", &self.id)
            .field("pairs", &self.pairs().collect::<Vec<_>>())
            .finish()
    }
}

/// Field/value pairs of an [`Entry`].
pub struct Pairs<'a> {
    data: &'a [u8],
    master: Option<usize>,
    pos: usize,
    left: usize,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (Val<'a>, Val<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let f = match &mut self.master {
            Some(mp) => get_value(self.data, mp),
            None => get_value(self.data, &mut self.pos),
        };
        let v = get_value(self.data, &mut self.pos);
        Some((f, v))
    }
}

// ------------------------------------------------------------------------------------------------
// The log

/// How XADD names the new entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddId {
    /// `*`: from the clock.
    Auto,
    /// `<ms>-*`.
    AutoSeq(u64),
    Exact(StreamId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddError {
    /// The id is not greater than the stream's last id (or its sequence is exhausted).
    NotGreater,
    /// The fields and values are together larger than a listpack may be (also what Redis 7.0
    /// reports when `<ms>-*` finds the sequence of `<ms>` exhausted).
    TooLarge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrimStrategy {
    MaxLen(u64),
    MinId(StreamId),
}

/// A trimming request (XADD/XTRIM MAXLEN or MINID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trim {
    pub strategy: TrimStrategy,
    /// `~`: only whole blocks are removed.
    pub approx: bool,
    /// Most entries removed; 0 for no limit.
    pub limit: u64,
}

/// The entries and the stream's counters.
#[derive(Clone, Debug, Default)]
pub struct Log {
    nodes: BTreeMap<StreamId, Node>,
    /// Live entries.
    pub length: u64,
    /// The last id ever given (XSETID may set it).
    pub last_id: StreamId,
    /// The first live id at the last trim or deletion of the first entry (0-0 when empty).
    pub first_id: StreamId,
    /// The largest id deleted by XDEL.
    pub max_deleted: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
}

impl Log {
    /// Number of blocks (XINFO's `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The id of the first entry of the first block, deleted or not (Redis's
    /// streamGetEdgeID without skipping tombstones).
    pub fn first_node_id(&self) -> Option<StreamId> {
        self.nodes.keys().next().copied()
    }

    /// Appends an entry of `pairs` (field, value, field, value...). `now_ms` feeds `*`.
    pub fn add(
        &mut self,
        id: AddId,
        pairs: &[&[u8]],
        limits: NodeLimits,
        now_ms: u64,
    ) -> Result<StreamId, AddError> {
        let last = self.last_id;
        let id = match id {
            AddId::Exact(id) => id,
            AddId::AutoSeq(ms) if ms == last.ms => {
                if last.seq == u64::MAX {
                    // Redis 7.0 fails here without setting errno, and so reports it as
                    // "Elements are too large to be stored".
                    return Err(AddError::TooLarge);
                }
                StreamId::new(ms, last.seq + 1)
            }
            AddId::AutoSeq(ms) => StreamId::new(ms, 0),
            AddId::Auto if now_ms > last.ms => StreamId::new(now_ms, 0),
            AddId::Auto => last.incr().ok_or(AddError::NotGreater)?,
        };
        if id <= last {
            return Err(AddError::NotGreater);
        }
        let total: usize = pairs.iter().map(|p| p.len()).sum();
        if total > LISTPACK_MAX {
            return Err(AddError::TooLarge);
        }
        let max_bytes = match limits.max_bytes {
            0 => LISTPACK_MAX,
            n => n.min(LISTPACK_MAX),
        } as u64;
        let mut tail = self.nodes.last_entry();
        let full = match &tail {
            None => true,
            Some(t) => {
                let n = t.get();
                n.lp_bytes() + total as u64 >= max_bytes
                    || (limits.max_entries != 0
                        && u64::from(n.live + n.deleted) >= limits.max_entries)
            }
        };
        if full {
            if let Some(t) = &mut tail {
                t.get_mut().data.shrink_to_fit();
            }
            self.nodes.insert(id, Node::new(id, pairs));
        } else if let Some(mut t) = tail {
            let master = *t.key();
            t.get_mut().push(master, id, pairs);
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(id)
    }

    /// Live entries with ids in `start..=end`, in order.
    pub fn range(&self, start: StreamId, end: StreamId) -> Range<'_> {
        let nodes = match self.nodes.range(..=start).next_back() {
            Some((&k, _)) => self.nodes.range(k..),
            None => self.nodes.range(start..),
        };
        Range { nodes, cur: None, start, end, done: start > end }
    }

    /// Live entries with ids in `start..=end`, last first.
    pub fn rev_range(&self, start: StreamId, end: StreamId) -> RevRange<'_> {
        RevRange {
            nodes: self.nodes.range(..=end).rev(),
            node: None,
            raws: Vec::new(),
            start,
            end,
            done: start > end,
        }
    }

    /// Every live entry, in order.
    pub fn iter(&self) -> Range<'_> {
        self.range(StreamId::MIN, StreamId::MAX)
    }

    /// The live entry `id`.
    pub fn get(&self, id: StreamId) -> Option<Entry<'_>> {
        self.range(id, id).next()
    }

    pub fn exists(&self, id: StreamId) -> bool {
        self.get(id).is_some()
    }

    /// The first live id (`first`) or the last one.
    pub fn edge_id(&self, first: bool) -> Option<StreamId> {
        if first {
            self.iter().next().map(|e| e.id)
        } else {
            self.rev_range(StreamId::MIN, StreamId::MAX).next().map(|e| e.id)
        }
    }

    /// Flags entry `id` deleted; drops its block when nothing live is left in it.
    fn delete_one(&mut self, id: StreamId) -> bool {
        let Some((&master, node)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        if node.last < id {
            return false;
        }
        let Some(r) = node.raws(master).find(|r| r.id >= id) else { return false };
        if r.id != id || r.flags & FLAG_DELETED != 0 {
            return false;
        }
        if node.live == 1 {
            self.nodes.remove(&master);
        } else {
            node.flag_deleted(&r);
        }
        self.length -= 1;
        true
    }

    /// XDEL: deletes the live entries among `ids`; returns how many.
    pub fn delete(&mut self, ids: &[StreamId]) -> u64 {
        let mut deleted = 0;
        let mut first_entry = false;
        for &id in ids {
            if self.delete_one(id) {
                if id == self.first_id {
                    first_entry = true;
                }
                if id > self.max_deleted {
                    self.max_deleted = id;
                }
                deleted += 1;
            }
        }
        if deleted > 0 {
            if self.length == 0 {
                self.first_id = StreamId::MIN;
            } else if first_entry {
                self.first_id = self.edge_id(true).unwrap_or(StreamId::MIN);
            }
        }
        deleted
    }

    /// Trims from the front as XTRIM/XADD do; returns the number of entries removed.
    pub fn trim(&mut self, t: Trim) -> u64 {
        let mut deleted = 0u64;
        while let Some(mut first) = self.nodes.first_entry() {
            if let TrimStrategy::MaxLen(max) = t.strategy {
                if self.length <= max {
                    break;
                }
            }
            let entries = u64::from(first.get().live);
            if t.limit != 0 && deleted + entries > t.limit {
                break;
            }
            let whole = match t.strategy {
                TrimStrategy::MaxLen(max) => self.length - entries >= max,
                TrimStrategy::MinId(min) => first.get().last < min,
            };
            if whole {
                first.remove();
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if t.approx {
                break;
            }
            let master = *first.key();
            let node = first.get_mut();
            let raws: Vec<Raw> = node.raws(master).collect();
            for r in raws {
                let stop = match t.strategy {
                    TrimStrategy::MaxLen(max) => self.length <= max,
                    TrimStrategy::MinId(min) => r.id >= min,
                };
                if stop {
                    break;
                }
                if r.flags & FLAG_DELETED == 0 {
                    node.flag_deleted(&r);
                    self.length -= 1;
                    deleted += 1;
                }
            }
            break;
        }
        self.first_id = if self.length == 0 {
            StreamId::MIN
        } else {
            self.edge_id(true).unwrap_or(StreamId::MIN)
        };
        deleted
    }

    /// Whether a deleted entry may lie in `start..=end` (Redis's streamRangeHasTombstones).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.length == 0 || self.max_deleted.is_zero() || self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted && self.max_deleted <= end
    }

    /// The logical read counter of `id`: its distance from the first entry ever added, or -1
    /// when it cannot be known (Redis's streamEstimateDistanceFromFirstEverEntry).
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        let added = self.entries_added as i64;
        if added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return added;
        }
        if id == self.last_id {
            return added;
        }
        if id > self.last_id {
            return -1;
        }
        if self.max_deleted.is_zero() || self.max_deleted < self.first_id {
            if id < self.first_id {
                return added - self.length as i64;
            }
            if id == self.first_id {
                return added - self.length as i64 + 1;
            }
        }
        -1
    }

    /// A group's lag: entries added but not yet read by it, None when it cannot be known.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != -1 && !self.range_has_tombstones(g.last_id, StreamId::MAX) {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        match self.estimate_distance(g.last_id) {
            -1 => None,
            n => Some(self.entries_added as i64 - n),
        }
    }

    /// The number of nodes of the radix tree Redis would hold for this stream's block keys
    /// (XINFO's `radix-tree-nodes`).
    pub fn rax_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|k| k.key_bytes()).collect();
        if keys.is_empty() {
            return 1;
        }
        rax_count(&keys, 0)
    }

    /// The blocks in order, each with its master id (the RDB writer saves one listpack per
    /// block, deleted entries included, as Redis does).
    pub fn blocks(&self) -> impl Iterator<Item = Block<'_>> + '_ {
        self.nodes.iter().map(|(&master, node)| Block { master, node })
    }

    /// Appends a block of entries `(id, deleted, field/value pairs)` read from an RDB file.
    /// Ids must be increasing and above every id already held; a block with no live entry is
    /// dropped (Redis never keeps one). The counters (`length`, `last_id`, ...) are the
    /// caller's to set. Returns the number of live entries added, or an error message.
    pub fn load_block(
        &mut self,
        entries: &[(StreamId, bool, Vec<&[u8]>)],
    ) -> Result<u64, &'static str> {
        let Some((first, _, first_pairs)) = entries.first() else {
            return Err("empty stream block");
        };
        if let Some((_, last)) = self.nodes.last_key_value() {
            if *first <= last.last {
                return Err("stream block ids out of order");
            }
        }
        for (_, _, pairs) in entries {
            if pairs.len() % 2 != 0 {
                return Err("stream entry with an odd number of fields and values");
            }
        }
        let mut node = Node::new(*first, first_pairs);
        for w in entries.windows(2) {
            if w[1].0 <= w[0].0 {
                return Err("stream entry ids out of order");
            }
            node.push(*first, w[1].0, &w[1].2);
        }
        let raws: Vec<Raw> = node.raws(*first).collect();
        for (r, (_, deleted, _)) in raws.iter().zip(entries) {
            if *deleted {
                node.flag_deleted(r);
            }
        }
        let live = u64::from(node.live);
        if live > 0 {
            node.data.shrink_to_fit();
            self.nodes.insert(*first, node);
        }
        Ok(live)
    }

    /// Heap bytes held by the blocks and their map.
    fn heap_bytes(&self) -> usize {
        let nodes: usize = self.nodes.values().map(Node::heap_bytes).sum();
        // B-tree leaves hold up to 11 entries and are about two thirds full after appends.
        let per_leaf = crate::info::jemalloc_size_class(
            11 * (std::mem::size_of::<StreamId>() + std::mem::size_of::<Node>()) + 16,
        );
        nodes + self.nodes.len().div_ceil(7) * per_leaf
    }
}

/// Nodes of a radix tree holding `keys` (sorted, distinct, all 16 bytes), below the node for
/// their common `depth`-byte prefix: a key end is a leaf; a prefix every key continues the same
/// way is one compressed node; a prefix where keys part is one branching node.
fn rax_count(keys: &[[u8; 16]], depth: usize) -> usize {
    if depth == 16 {
        return 1;
    }
    let (a, b) = (&keys[0], &keys[keys.len() - 1]);
    let lcp = (depth..16).find(|&i| a[i] != b[i]).unwrap_or(16);
    if lcp > depth {
        return 1 + rax_count(keys, lcp);
    }
    let mut n = 1;
    let mut i = 0;
    while i < keys.len() {
        let c = keys[i][depth];
        let j = i + keys[i..].iter().take_while(|k| k[depth] == c).count();
        n += rax_count(&keys[i..j], depth + 1);
        i = j;
    }
    n
}

/// One block of a stream's log (see [`Log::blocks`]).
#[derive(Clone, Copy)]
pub struct Block<'a> {
    pub master: StreamId,
    node: &'a Node,
}

/// An entry of a [`Block`], deleted or not.
pub struct BlockEntry<'a> {
    pub id: StreamId,
    pub deleted: bool,
    /// The entry has the block's master fields (Redis's SAMEFIELDS flag).
    pub same_fields: bool,
    pub entry: Entry<'a>,
}

impl<'a> Block<'a> {
    /// Live entries.
    pub fn live(&self) -> u64 {
        u64::from(self.node.live)
    }

    /// Entries flagged deleted.
    pub fn deleted(&self) -> u64 {
        u64::from(self.node.deleted)
    }

    /// The master field names (those of the block's first entry).
    pub fn master_fields(&self) -> Vec<Val<'a>> {
        let d = &self.node.data;
        let mut p = 0;
        let n = get_varint(d, &mut p);
        (0..n).map(|_| get_value(d, &mut p)).collect()
    }

    /// Every entry, deleted ones included, in order.
    pub fn entries(&self) -> impl Iterator<Item = BlockEntry<'a>> + 'a {
        let node = self.node;
        node.raws(self.master).map(move |r| BlockEntry {
            id: r.id,
            deleted: r.flags & FLAG_DELETED != 0,
            same_fields: r.flags & FLAG_SAME != 0,
            entry: node.entry(&r),
        })
    }
}

/// Forward iterator over live entries (see [`Log::range`]).
pub struct Range<'a> {
    nodes: btree_map::Range<'a, StreamId, Node>,
    cur: Option<(&'a Node, RawIter<'a>)>,
    start: StreamId,
    end: StreamId,
    done: bool,
}

impl<'a> Iterator for Range<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        while !self.done {
            if let Some((node, raws)) = &mut self.cur {
                for r in raws.by_ref() {
                    if r.id > self.end {
                        self.done = true;
                        return None;
                    }
                    if r.id >= self.start && r.flags & FLAG_DELETED == 0 {
                        return Some(node.entry(&r));
                    }
                }
            }
            match self.nodes.next() {
                Some((&master, node)) => {
                    if master > self.end {
                        self.done = true;
                    } else {
                        self.cur = Some((node, node.raws(master)));
                    }
                }
                None => self.done = true,
            }
        }
        None
    }
}

/// Backward iterator over live entries (see [`Log::rev_range`]).
pub struct RevRange<'a> {
    nodes: std::iter::Rev<btree_map::Range<'a, StreamId, Node>>,
    node: Option<&'a Node>,
    /// The current block's entries not yet visited, last one at the end.
    raws: Vec<Raw>,
    start: StreamId,
    end: StreamId,
    done: bool,
}

impl<'a> Iterator for RevRange<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        while !self.done {
            if let Some(node) = self.node {
                while let Some(r) = self.raws.pop() {
                    if r.id < self.start {
                        self.done = true;
                        return None;
                    }
                    if r.id <= self.end && r.flags & FLAG_DELETED == 0 {
                        return Some(node.entry(&r));
                    }
                }
            }
            match self.nodes.next() {
                Some((&master, node)) => {
                    if node.last < self.start {
                        self.done = true;
                    } else {
                        self.raws.clear();
                        self.raws.extend(node.raws(master));
                        self.node = Some(node);
                    }
                }
                None => self.done = true,
            }
        }
        None
    }
}

// ------------------------------------------------------------------------------------------------
// Consumer groups

/// A pending entry: delivered to `consumer`, not yet acknowledged.
#[derive(Clone, Debug)]
pub struct Nack {
    /// Unix ms of the last delivery.
    pub delivery_time: i64,
    pub delivery_count: u64,
    pub consumer: Arc<[u8]>,
}

#[derive(Clone, Debug, Default)]
pub struct Consumer {
    /// Unix ms of the last time the consumer read or claimed.
    pub seen_time: i64,
    /// Its pending ids.
    pub pel: BTreeSet<StreamId>,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub last_id: StreamId,
    /// Logical read counter of `last_id`; -1 when unknown.
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Arc<[u8]>, Consumer>,
}

/// One entry XCLAIM or XAUTOCLAIM handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Now pending for the claimer, with this delivery time and count.
    Claimed { id: StreamId, time: i64, count: u64 },
    /// Gone from the stream: dropped from the PEL. The NACK as it was.
    Deleted { id: StreamId, consumer: Arc<[u8]>, time: i64, count: u64 },
}

/// The options of XCLAIM.
#[derive(Clone, Copy, Debug)]
pub struct ClaimOpts {
    pub min_idle: i64,
    /// Delivery time to set.
    pub time: i64,
    /// Delivery count to set, if given.
    pub retry_count: Option<u64>,
    pub force: bool,
    pub justid: bool,
}

/// The options of XAUTOCLAIM.
#[derive(Clone, Copy, Debug)]
pub struct AutoClaimOpts {
    pub min_idle: i64,
    /// Where to start in the PEL.
    pub start: StreamId,
    /// Most entries to claim (and deleted ones to drop); ten times that are looked at.
    pub count: u64,
    pub justid: bool,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group { last_id, entries_read, pel: BTreeMap::new(), consumers: BTreeMap::new() }
    }

    /// The consumer's shared name, creating the consumer if needed; refreshes its seen time.
    /// Returns whether it was created.
    pub fn touch_consumer(&mut self, name: &[u8], now: i64) -> (Arc<[u8]>, bool) {
        if let Some((k, _)) = self.consumers.get_key_value(name) {
            let k = k.clone();
            if let Some(c) = self.consumers.get_mut(&k) {
                c.seen_time = now;
            }
            return (k, false);
        }
        let k: Arc<[u8]> = name.into();
        self.consumers.insert(k.clone(), Consumer { seen_time: now, pel: BTreeSet::new() });
        (k, true)
    }

    /// XGROUP CREATECONSUMER: whether it was created.
    pub fn create_consumer(&mut self, name: &[u8], now: i64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(name.into(), Consumer { seen_time: now, pel: BTreeSet::new() });
        true
    }

    /// XGROUP DELCONSUMER: the number of entries it had pending, or None if there was no such
    /// consumer. Its pending entries leave the group's PEL.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }

    /// XACK of one id: whether it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(nack) = self.pel.remove(&id) else { return false };
        if let Some(c) = self.consumers.get_mut(&nack.consumer) {
            c.pel.remove(&id);
        }
        true
    }

    /// Makes `id` pending for `consumer` (new delivery: count 1, time `now`), taking it from
    /// whoever had it.
    fn deliver(&mut self, id: StreamId, consumer: &Arc<[u8]>, now: i64) {
        let nack = Nack { delivery_time: now, delivery_count: 1, consumer: consumer.clone() };
        if let Some(old) = self.pel.insert(id, nack) {
            if let Some(c) = self.consumers.get_mut(&old.consumer) {
                c.pel.remove(&id);
            }
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }

    /// Moves the pending entry `id` to `consumer` with a new delivery time and count.
    fn reassign(&mut self, id: StreamId, consumer: &Arc<[u8]>, time: i64, count: u64) {
        let Some(nack) = self.pel.get_mut(&id) else { return };
        if nack.consumer != *consumer {
            if let Some(c) = self.consumers.get_mut(&nack.consumer) {
                c.pel.remove(&id);
            }
            nack.consumer = consumer.clone();
        }
        nack.delivery_time = time;
        nack.delivery_count = count;
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }

    /// Drops `id` from the PEL because the entry is gone; the NACK as it was.
    fn drop_deleted(&mut self, id: StreamId) -> Option<Claim> {
        let nack = self.pel.remove(&id)?;
        if let Some(c) = self.consumers.get_mut(&nack.consumer) {
            c.pel.remove(&id);
        }
        Some(Claim::Deleted {
            id,
            consumer: nack.consumer,
            time: nack.delivery_time,
            count: nack.delivery_count,
        })
    }

    /// The lag-relevant read counter after delivering `id` (Redis's update in
    /// streamReplyWithRange).
    fn advance(&mut self, log: &Log, id: StreamId) {
        if id <= self.last_id {
            return;
        }
        if self.entries_read != -1 && !log.range_has_tombstones(id, StreamId::MAX) {
            self.entries_read += 1;
        } else if log.entries_added != 0 {
            self.entries_read = log.estimate_distance(id);
        }
        self.last_id = id;
    }
}

// ------------------------------------------------------------------------------------------------
// The stream

#[derive(Clone, Debug, Default)]
pub struct Stream {
    pub log: Log,
    /// Consumer groups by name.
    pub groups: BTreeMap<Box<[u8]>, Group>,
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    pub fn encoding_name(&self) -> &'static str {
        "stream"
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.log.length as usize
    }

    pub fn is_empty(&self) -> bool {
        self.log.length == 0
    }

    /// Bytes held by the stream beyond its record (MEMORY USAGE).
    pub fn mem_usage(&self) -> usize {
        use crate::info::jemalloc_size_class as class;
        let mut n = class(std::mem::size_of::<crate::types::Object>())
            + class(std::mem::size_of::<Stream>())
            + self.log.heap_bytes();
        for (name, g) in &self.groups {
            n += class(name.len()) + 64 + class(std::mem::size_of::<Group>());
            n += g.pel.len() * 64;
            for (cname, c) in &g.consumers {
                n += class(cname.len() + 16) + 64 + c.pel.len() * 24;
            }
        }
        n
    }

    /// XGROUP CREATE: false if the group exists.
    pub fn create_group(&mut self, name: &[u8], last_id: StreamId, entries_read: i64) -> bool {
        if self.groups.contains_key(name) {
            return false;
        }
        self.groups.insert(name.into(), Group::new(last_id, entries_read));
        true
    }

    /// XREADGROUP with `>`: delivers to `consumer` (which must exist) of `group` up to `count`
    /// (0: all) entries after the group's last id, calling `emit` for each. Unless `noack`,
    /// each becomes pending for the consumer. Returns the ids delivered.
    pub fn read_new(
        &mut self,
        group: &[u8],
        consumer: &Arc<[u8]>,
        count: usize,
        noack: bool,
        now: i64,
        mut emit: impl FnMut(&Entry<'_>),
    ) -> Vec<StreamId> {
        let Stream { log, groups } = self;
        let Some(g) = groups.get_mut(group) else { return Vec::new() };
        let Some(start) = g.last_id.incr() else { return Vec::new() };
        let mut ids = Vec::new();
        for e in log.range(start, StreamId::MAX) {
            if count != 0 && ids.len() >= count {
                break;
            }
            emit(&e);
            g.advance(log, e.id);
            if !noack {
                g.deliver(e.id, consumer, now);
            }
            ids.push(e.id);
        }
        ids
    }

    /// XREADGROUP with an id: the consumer's pending entries from `start` on, up to `count`
    /// (0: all). `emit` gets each id and its entry (None when it was deleted); delivered
    /// entries count one more delivery at `now`. Returns how many were emitted.
    pub fn read_history(
        &mut self,
        group: &[u8],
        consumer: &[u8],
        start: StreamId,
        count: usize,
        now: i64,
        mut emit: impl FnMut(StreamId, Option<&Entry<'_>>),
    ) -> usize {
        let Stream { log, groups } = self;
        let Some(g) = groups.get_mut(group) else { return 0 };
        let Some(c) = g.consumers.get(consumer) else { return 0 };
        let ids: Vec<StreamId> = c
            .pel
            .range(start..)
            .take(if count == 0 { usize::MAX } else { count })
            .copied()
            .collect();
        for &id in &ids {
            match log.get(id) {
                Some(e) => {
                    emit(id, Some(&e));
                    if let Some(n) = g.pel.get_mut(&id) {
                        n.delivery_time = now;
                        n.delivery_count = n.delivery_count.wrapping_add(1);
                    }
                }
                None => emit(id, None),
            }
        }
        ids.len()
    }

    /// XCLAIM of `ids` to `consumer` in `group` (which must exist), at `now`.
    pub fn claim(
        &mut self,
        group: &[u8],
        consumer: &[u8],
        ids: &[StreamId],
        o: ClaimOpts,
        now: i64,
    ) -> Vec<Claim> {
        let Stream { log, groups } = self;
        let Some(g) = groups.get_mut(group) else { return Vec::new() };
        let mut out = Vec::new();
        let mut claimer: Option<Arc<[u8]>> = None;
        for &id in ids {
            if !log.exists(id) {
                if let Some(d) = g.drop_deleted(id) {
                    out.push(d);
                }
                continue;
            }
            let (old_count, fresh) = match g.pel.get(&id) {
                Some(n) => {
                    if o.min_idle != 0 && now - n.delivery_time < o.min_idle {
                        continue;
                    }
                    (n.delivery_count, false)
                }
                None if o.force => (1, true),
                None => continue,
            };
            let name = match &claimer {
                Some(n) => n.clone(),
                None => {
                    let (n, _) = g.touch_consumer(consumer, now);
                    claimer = Some(n.clone());
                    n
                }
            };
            if fresh {
                let nack = Nack { delivery_time: now, delivery_count: 1, consumer: name.clone() };
                g.pel.insert(id, nack);
            }
            let count = match o.retry_count {
                Some(c) => c,
                None if o.justid => old_count,
                None => old_count.wrapping_add(1),
            };
            g.reassign(id, &name, o.time, count);
            out.push(Claim::Claimed { id, time: o.time, count });
        }
        out
    }

    /// XAUTOCLAIM: claims for `consumer` up to `count` pending entries of `group` from `start`
    /// idle at least `min_idle` ms, looking at no more than `10 * count` of them. Returns what
    /// was done and the id to continue from (0-0 at the end).
    pub fn autoclaim(
        &mut self,
        group: &[u8],
        consumer: &[u8],
        o: AutoClaimOpts,
        now: i64,
    ) -> (Vec<Claim>, StreamId) {
        let Stream { log, groups } = self;
        let Some(g) = groups.get_mut(group) else { return (Vec::new(), StreamId::MIN) };
        let mut out = Vec::new();
        let AutoClaimOpts { min_idle, start, count, justid } = o;
        let mut attempts = count.saturating_mul(10);
        let mut count = count;
        let mut claimer: Option<Arc<[u8]>> = None;
        let mut cursor = start;
        let mut exhausted = false;
        while attempts > 0 && count > 0 {
            attempts -= 1;
            let Some((&id, nack)) = g.pel.range(cursor..).next() else {
                exhausted = true;
                break;
            };
            let (time, dcount) = (nack.delivery_time, nack.delivery_count);
            cursor = match id.incr() {
                Some(n) => n,
                None => {
                    exhausted = true;
                    StreamId::MAX
                }
            };
            if !log.exists(id) {
                if let Some(d) = g.drop_deleted(id) {
                    out.push(d);
                }
                count -= 1;
            } else if min_idle == 0 || now - time >= min_idle {
                let name = match &claimer {
                    Some(n) => n.clone(),
                    None => {
                        let (n, _) = g.touch_consumer(consumer, now);
                        claimer = Some(n.clone());
                        n
                    }
                };
                let dcount = if justid { dcount } else { dcount.wrapping_add(1) };
                g.reassign(id, &name, now, dcount);
                out.push(Claim::Claimed { id, time: now, count: dcount });
                count -= 1;
            }
            if exhausted {
                break;
            }
        }
        let next = if exhausted {
            StreamId::MIN
        } else {
            g.pel.range(cursor..).next().map_or(StreamId::MIN, |(&id, _)| id)
        };
        (out, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    type Fields = Vec<(Vec<u8>, Vec<u8>)>;

    fn pairs_of(e: &Entry) -> Fields {
        e.pairs().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()
    }

    #[test]
    fn id_parsing() {
        let p = |s: &str| parse_id(s.as_bytes(), 7, false, true);
        assert_eq!(p("5"), Some(IdArg::Exact(id(5, 7))));
        assert_eq!(p("5-3"), Some(IdArg::Exact(id(5, 3))));
        assert_eq!(p("5-*"), Some(IdArg::AutoSeq(5)));
        assert_eq!(p("-"), Some(IdArg::Exact(StreamId::MIN)));
        assert_eq!(p("+"), Some(IdArg::Exact(StreamId::MAX)));
        assert_eq!(p("*"), None);
        assert_eq!(p("-5"), None);
        assert_eq!(p("5-"), None);
        assert_eq!(p("a-1"), None);
        assert_eq!(p("1-2-3"), None);
        assert_eq!(
            p("18446744073709551615-18446744073709551615"),
            Some(IdArg::Exact(StreamId::MAX))
        );
        assert_eq!(p("18446744073709551616"), None);
        assert_eq!(p("1\u{0}-5"), Some(IdArg::Exact(id(1, 7))));
        assert_eq!(parse_strict(b"-"), None);
        assert_eq!(parse_strict(b"5-*"), None);
        assert_eq!(parse_interval(b"(5", 0), Some((id(5, 0), true)));
        assert_eq!(parse_interval(b"(-", 0), None);
        assert_eq!(parse_interval(b"(", 0), None);
        assert_eq!(parse_interval(b"+", 0), Some((StreamId::MAX, false)));
        assert!(parse_id(&[b'1'; 128], 0, false, false).is_none());
    }

    #[test]
    fn id_arithmetic() {
        assert_eq!(id(1, u64::MAX).incr(), Some(id(2, 0)));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(id(2, 0).decr(), Some(id(1, u64::MAX)));
        assert_eq!(StreamId::MIN.decr(), None);
        assert_eq!(id(12, 34).to_bytes(), b"12-34");
    }

    #[test]
    fn values_round_trip() {
        for v in [
            "",
            "0",
            "-1",
            "1",
            "007",
            "-0",
            "+1",
            "9223372036854775807",
            "-9223372036854775808",
            "abc",
            "4611686018427387904",
            " 1",
        ] {
            let mut buf = Vec::new();
            put_value(&mut buf, v.as_bytes());
            let mut p = 0;
            assert_eq!(get_value(&buf, &mut p).to_vec(), v.as_bytes(), "{v}");
            assert_eq!(p, buf.len());
        }
    }

    #[test]
    fn listpack_sizes() {
        assert_eq!(lp_int(0), 2);
        assert_eq!(lp_int(127), 2);
        assert_eq!(lp_int(128), 3);
        assert_eq!(lp_int(-1), 3);
        assert_eq!(lp_int(4096), 4);
        assert_eq!(lp_int(1 << 20), 5);
        assert_eq!(lp_int(1 << 30), 6);
        assert_eq!(lp_int(1 << 40), 10);
        assert_eq!(lp_str(b"abc"), 5);
        assert_eq!(lp_str(&[b'x'; 100]), 103);
        assert_eq!(lp_str(b"12"), 2);
    }

    /// Random adds, deletes and trims against a plain ordered map.
    #[test]
    fn log_matches_model() {
        let mut rng = SmallRng::seed_from_u64(7);
        for round in 0..40 {
            let limits = NodeLimits {
                max_bytes: [0, 60, 200, 4096][round % 4],
                max_entries: [0, 1, 3, 100][(round / 4) % 4],
            };
            let mut log = Log::default();
            let mut model: BTreeMap<StreamId, Fields> = BTreeMap::new();
            let mut ms = 0u64;
            for step in 0..400 {
                match rng.gen_range(0..10) {
                    0..=5 => {
                        if rng.gen_bool(0.3) {
                            ms += rng.gen_range(0..100_000);
                        }
                        let n = rng.gen_range(1..4);
                        let pairs: Vec<Vec<u8>> = (0..2 * n)
                            .map(|i| match rng.gen_range(0..4) {
                                0 => format!("{}", rng.gen_range(-300i64..300)).into_bytes(),
                                1 => vec![b'v'; rng.gen_range(0..30)],
                                _ => format!("f{}", i % 3).into_bytes(),
                            })
                            .collect();
                        let refs: Vec<&[u8]> = pairs.iter().map(|p| p.as_slice()).collect();
                        let got = log.add(AddId::AutoSeq(ms), &refs, limits, 0).unwrap();
                        let kv = pairs.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect();
                        model.insert(got, kv);
                    }
                    6 | 7 => {
                        let keys: Vec<StreamId> = model.keys().copied().collect();
                        if keys.is_empty() {
                            continue;
                        }
                        let k = keys[rng.gen_range(0..keys.len())];
                        let extra = id(k.ms, k.seq + 1);
                        let want = 1 + u64::from(model.contains_key(&extra));
                        model.remove(&extra);
                        model.remove(&k);
                        assert_eq!(log.delete(&[k, extra, k]), want);
                    }
                    8 => {
                        let max = rng.gen_range(0..(model.len() as u64 + 2));
                        let n = log.trim(Trim {
                            strategy: TrimStrategy::MaxLen(max),
                            approx: false,
                            limit: 0,
                        });
                        let mut removed = 0;
                        while model.len() as u64 > max {
                            model.pop_first();
                            removed += 1;
                        }
                        assert_eq!(n, removed);
                    }
                    _ => {
                        let min = id(ms.saturating_sub(rng.gen_range(0..200_000)), 0);
                        let before = model.len();
                        model.retain(|k, _| *k >= min);
                        let n = log.trim(Trim {
                            strategy: TrimStrategy::MinId(min),
                            approx: false,
                            limit: 0,
                        });
                        assert_eq!(n as usize, before - model.len());
                    }
                }
                assert_eq!(log.length as usize, model.len(), "round {round} step {step}");
                let got: Vec<_> = log.iter().map(|e| (e.id, pairs_of(&e))).collect();
                let want: Vec<_> = model.iter().map(|(k, v)| (*k, v.clone())).collect();
                assert_eq!(got, want);
                let rev: Vec<StreamId> =
                    log.rev_range(StreamId::MIN, StreamId::MAX).map(|e| e.id).collect();
                let mut fwd: Vec<StreamId> = model.keys().copied().collect();
                fwd.reverse();
                assert_eq!(rev, fwd);
                if let (Some(&a), Some(&b)) = (model.keys().nth(1), model.keys().last()) {
                    let got: Vec<StreamId> = log.range(a, b).map(|e| e.id).collect();
                    let want: Vec<StreamId> = model.range(a..=b).map(|(k, _)| *k).collect();
                    assert_eq!(got, want);
                    let got: Vec<StreamId> = log.rev_range(a, b).map(|e| e.id).collect();
                    assert_eq!(got, want.into_iter().rev().collect::<Vec<_>>());
                }
                assert_eq!(log.edge_id(true), model.keys().next().copied());
                assert_eq!(log.edge_id(false), model.keys().last().copied());
            }
        }
    }

    #[test]
    fn blocks_split_like_redis() {
        // 100 entries per block by default.
        let mut log = Log::default();
        for i in 1..=250 {
            log.add(AddId::Exact(id(i, 0)), &[b"f", b"v"], NodeLimits::default(), 0).unwrap();
        }
        assert_eq!(log.node_count(), 3);
        // Bytes: a 4096-byte block takes entries while it + the new fields stay under 4096.
        let mut log = Log::default();
        let big = vec![b'x'; 1000];
        for i in 1..=10 {
            log.add(AddId::Exact(id(i, 0)), &[b"f", &big], NodeLimits::default(), 0).unwrap();
        }
        // listpack: 7 + master (2 count, 2 deleted, 2 nfields, 3 "f", 2 terminator) = 18;
        // an entry: 2 flags + 2 ms + 2 seq + 1004 value + 2 lp-count = 1012.
        // 18 + 3 * 1012 = 3054, + 1001 = 4055 < 4096: a 4th entry fits; 4066 + 1001 does not.
        assert_eq!(log.node_count(), 3);
        let first: Vec<_> = log.nodes.values().map(|n| n.live).collect();
        assert_eq!(first, vec![4, 4, 2]);
    }

    #[test]
    fn approx_trim_removes_whole_blocks() {
        let mut log = Log::default();
        for i in 1..=250 {
            log.add(AddId::Exact(id(i, 0)), &[b"f", b"v"], NodeLimits::default(), 0).unwrap();
        }
        let t = Trim { strategy: TrimStrategy::MaxLen(120), approx: true, limit: 10000 };
        assert_eq!(log.trim(t), 100);
        assert_eq!(log.length, 150);
        assert_eq!(log.first_id, id(101, 0));
        let t = Trim { strategy: TrimStrategy::MaxLen(0), approx: true, limit: 99 };
        assert_eq!(log.trim(t), 0);
    }

    #[test]
    fn rax_node_counts() {
        let mut log = Log::default();
        assert_eq!(log.rax_nodes(), 1);
        log.add(AddId::Exact(id(1, 0)), &[b"f", b"v"], NodeLimits::default(), 0).unwrap();
        assert_eq!(log.rax_nodes(), 2);
        let one = NodeLimits { max_bytes: 0, max_entries: 1 };
        log.add(AddId::Exact(id(2, 0)), &[b"f", b"v"], one, 0).unwrap();
        // root "0..0" compressed, a branch on the ms byte, two compressed tails, two leaves.
        assert_eq!(log.rax_nodes(), 6);
    }

    #[test]
    fn groups_deliver_ack_claim() {
        let mut s = Stream::new();
        for i in 1..=3 {
            s.log.add(AddId::Exact(id(i, 0)), &[b"f", b"v"], NodeLimits::default(), 0).unwrap();
        }
        assert!(s.create_group(b"g", StreamId::MIN, -1));
        assert!(!s.create_group(b"g", StreamId::MIN, -1));
        let g = s.groups.get_mut(&b"g"[..]).unwrap();
        let (alice, created) = g.touch_consumer(b"alice", 10);
        assert!(created);
        let got = s.read_new(b"g", &alice, 2, false, 100, |_| {});
        assert_eq!(got, vec![id(1, 0), id(2, 0)]);
        let g = &s.groups[&b"g"[..]];
        assert_eq!(g.last_id, id(2, 0));
        assert_eq!(g.entries_read, 2);
        assert_eq!(s.log.lag(g), Some(1));
        assert_eq!(g.pel.len(), 2);
        let o =
            ClaimOpts { min_idle: 50, time: 200, retry_count: None, force: false, justid: false };
        let r = s.claim(b"g", b"bob", &[id(1, 0), id(3, 0)], o, 200);
        assert_eq!(r, vec![Claim::Claimed { id: id(1, 0), time: 200, count: 2 }]);
        let g = &s.groups[&b"g"[..]];
        assert_eq!(g.consumers[&b"bob"[..]].pel.len(), 1);
        assert_eq!(g.consumers[&b"alice"[..]].pel.len(), 1);
        s.log.delete(&[id(2, 0)]);
        let o = AutoClaimOpts { min_idle: 0, start: StreamId::MIN, count: 10, justid: true };
        let (r, next) = s.autoclaim(b"g", b"carol", o, 300);
        assert_eq!(next, StreamId::MIN);
        assert_eq!(r.len(), 2);
        assert!(matches!(&r[1], Claim::Deleted { id: i, .. } if *i == id(2, 0)));
        let g = s.groups.get_mut(&b"g"[..]).unwrap();
        assert_eq!(g.pel.len(), 1);
        assert!(g.ack(id(1, 0)));
        assert!(!g.ack(id(1, 0)));
        assert_eq!(g.delete_consumer(b"carol"), Some(0));
    }
}
