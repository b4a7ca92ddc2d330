//! Compact per-key storage: one heap allocation per key.
//!
//! An [`Entry`] is a thin owning pointer (8 bytes, and `Option<Entry>` is 8 bytes too) to a
//! single allocation that holds everything the keyspace knows about one key:
//!
//! ```text
//! offset  size       field
//! 0       8          next: Option<Entry<O>>   hash-chain link, owned (null = None)
//! 8       4          meta: u32                bits 0-1  value encoding (int/str/buf/obj)
//!                                             bit  2    has-expire
//!                                             bits 3-6  4 spare bits for the caller (`tag`)
//!                                             bit  7    snapshot mark (see `table.rs`)
//!                                             bits 8-31 24-bit LRU clock / LFU data
//! 12      0 or 8     expire_at: i64 (LE)      absolute unix ms, only present when set
//! ..      1..=10     key length (LEB128 varint)
//! ..      klen       key bytes
//! ..                 value, by encoding:
//!                      int: i64 (LE), 8 bytes     -- strings that are canonical integers
//!                      str: varint length + bytes -- exact size, the common case
//!                      buf: len u64, cap u64, cap bytes (bytes past len are zero)
//!                           -- a string that grew by APPEND/SETRANGE/SETBIT: amortised growth
//!                      obj: Box<O> raw pointer, 8 bytes (unaligned)
//! ```
//!
//! Why: Redis spends a dictEntry (24 B), a robj (16 B) and an sds key and value per key, about
//! 88 bytes for a 10-byte key and 10-byte value. Here the same key costs one record of
//! 8 + 4 + 1 + 10 + 1 + 10 = 34 bytes (42 with an expiry), i.e. jemalloc's 48-byte class both
//! with and without a TTL, plus ~8 bytes of bucket array in the table: ~56 bytes per key.
//! An integer value makes the record 8 + 4 + 1 + 10 + 8 = 31 bytes, a 32-byte class.
//!
//! The allocation has alignment 8, so `next` (offset 0) and `meta` (offset 8) are aligned;
//! the expiry, the integer and the object pointer are not, and are read and written with
//! byte copies (`from_le_bytes`) or `read_unaligned`/`write_unaligned`. Every byte below the
//! allocation's size is initialised at all times once construction is done (the `buf`
//! slack is zero-filled), so the record can be viewed as byte slices. The size of the
//! allocation is not stored: it is recomputed from the meta word and the varints.
//!
//! All `unsafe` code is in this file, in a handful of private primitives (`alloc`, `realloc`,
//! `put`, `move_bytes`, `zero`, `byte`, `bytes`, `next_ref`, ...) whose callers in this module
//! compute offsets from the layout above; the public API is safe.
//!
//! Dropping an entry frees its value and its whole `next` chain iteratively (no recursion),
//! so a long chain cannot overflow the stack.

use std::alloc::{self, Layout};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::mem;
use std::ptr::{self, NonNull};

const ALIGN: usize = 8;
const OFF_META: usize = 8;
/// next + meta.
const HDR: usize = 12;
const EXP_LEN: usize = 8;

const ENC_MASK: u32 = 0b11;
const ENC_INT: u32 = 0;
const ENC_STR: u32 = 1;
const ENC_BUF: u32 = 2;
const ENC_OBJ: u32 = 3;
const HAS_EXPIRE: u32 = 1 << 2;
const TAG_SHIFT: u32 = 3;
const TAG_MASK: u32 = 0x0f << TAG_SHIFT;
const SNAP_MARK: u32 = 1 << 7;
const LRU_SHIFT: u32 = 8;
/// Largest value the 24-bit LRU/LFU field holds.
pub const LRU_MAX: u32 = (1 << 24) - 1;
/// Largest value of the spare tag bits.
pub const TAG_MAX: u8 = 0x0f;

/// Strings grown by `str_grow` up to this length stay exact-sized (jemalloc reallocs within a
/// size class in place); past it they switch to the `buf` encoding with spare capacity.
const EXACT_GROW_MAX: usize = 64;
/// Past this, growth adds this much instead of doubling.
const GROW_DOUBLE_MAX: usize = 1 << 20;

/// A value to store in an [`Entry`].
pub enum Value<'a, O> {
    /// A string that is a canonical integer, stored as 8 bytes.
    Int(i64),
    /// A string stored inline in the record.
    Str(Cow<'a, [u8]>),
    /// A collection (or any other object), stored behind its own allocation.
    Obj(Box<O>),
}

impl<'a, O> Value<'a, O> {
    /// A string value, stored as an integer when it is a canonical decimal integer (as Redis
    /// does: at most 20 bytes, optional `-`, no leading zeros, no `+`, no spaces, no `-0`).
    pub fn string(bytes: &'a [u8]) -> Self {
        match parse_canonical_i64(bytes) {
            Some(n) => Value::Int(n),
            None => Value::Str(Cow::Borrowed(bytes)),
        }
    }

    /// Size of this value's part of the record.
    fn encoded_len(&self) -> usize {
        match self {
            Value::Int(_) | Value::Obj(_) => 8,
            Value::Str(s) => varint_len(s.len()) + s.len(),
        }
    }
}

impl<O: fmt::Debug> fmt::Debug for Value<'_, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(n) => f.debug_tuple("Int").field(n).finish(),
            Value::Str(s) => f.debug_tuple("Str").field(&String::from_utf8_lossy(s)).finish(),
            Value::Obj(o) => f.debug_tuple("Obj").field(o).finish(),
        }
    }
}

/// A borrowed view of an entry's value.
#[derive(Debug)]
pub enum ValueRef<'a, O> {
    Int(i64),
    Str(&'a [u8]),
    Obj(&'a O),
}

impl<O> Clone for ValueRef<'_, O> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<O> Copy for ValueRef<'_, O> {}

/// A mutable view of an entry's value. Strings can be changed in place but not resized
/// (use [`Entry::str_grow`], [`Entry::str_append`], [`Entry::set_value`] for that).
#[derive(Debug)]
pub enum ValueMut<'a, O> {
    Int(i64),
    Str(&'a mut [u8]),
    Obj(&'a mut O),
}

/// Parses a canonical decimal i64 (the form `i64::to_string` produces), as Redis does when it
/// decides to store a string as an integer.
pub fn parse_canonical_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    // Accumulate negatively so i64::MIN parses.
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_sub(i64::from(c - b'0'))?;
    }
    if neg {
        Some(v)
    } else {
        v.checked_neg()
    }
}

fn varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Encodes `v` as LEB128; returns the buffer and the number of bytes used.
fn varint_encode(mut v: usize) -> ([u8; 10], usize) {
    let mut buf = [0u8; 10];
    let mut n = 0;
    while v >= 0x80 {
        buf[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    buf[n] = v as u8;
    (buf, n + 1)
}

/// Formats an i64 in decimal into a stack buffer.
fn fmt_i64(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let neg = n < 0;
    let mut u = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, ALIGN).expect("record too large")
}

/// Where things are in one record, recomputed from the meta word and the varints.
#[derive(Clone, Copy, Debug)]
struct Parts {
    meta: u32,
    key_at: usize,
    key_len: usize,
    /// Start of the value part.
    val_at: usize,
    /// Start and length of the string bytes (str/buf), or of the 8-byte int/pointer.
    data_at: usize,
    data_len: usize,
    /// Allocation size.
    size: usize,
}

impl Parts {
    fn enc(&self) -> u32 {
        self.meta & ENC_MASK
    }
}

/// One key with its value, expiry, LRU field and hash-chain link, in one allocation.
/// See the module docs for the layout.
#[repr(transparent)]
pub struct Entry<O> {
    // `repr(transparent)` over NonNull guarantees that `Option<Entry<O>>` has the layout of a
    // nullable pointer, which is what the `next` field at offset 0 of every record holds.
    ptr: NonNull<u8>,
    _owns: PhantomData<Box<O>>,
}

// SAFETY: an Entry uniquely owns its allocation (like a Box) and, through it, a Box<O> and the
// rest of its chain; nothing is shared, so it can move to another thread whenever O can.
unsafe impl<O: Send> Send for Entry<O> {}
// SAFETY: &Entry only gives out &O and shared byte slices; no interior mutability.
unsafe impl<O: Sync> Sync for Entry<O> {}

impl<O> Entry<O> {
    /// Where the record lives (for cache prefetch hints; never dereferenced by callers).
    pub fn addr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    // ----- raw primitives: the only places that touch memory through the pointer -----

    /// Allocates `size` uninitialised bytes with the record alignment.
    fn alloc(size: usize) -> NonNull<u8> {
        let l = layout(size);
        // SAFETY: `size` is never zero: every record has at least the 12-byte header, a key
        // length byte and a value length byte.
        let p = unsafe { alloc::alloc(l) };
        NonNull::new(p).unwrap_or_else(|| alloc::handle_alloc_error(l))
    }

    /// Resizes the allocation from `old` bytes (its current size) to `new` bytes. Bytes past
    /// `old` are uninitialised afterwards; the caller initialises them before reading.
    fn realloc(&mut self, old: usize, new: usize) {
        if old == new {
            return;
        }
        // SAFETY: self.ptr was allocated by the global allocator with layout(old) (the caller
        // passes the current size), `new` is non-zero and does not overflow isize (checked by
        // `layout(new)`).
        let p = unsafe { alloc::realloc(self.ptr.as_ptr(), layout(old), layout(new).size()) };
        self.ptr = NonNull::new(p).unwrap_or_else(|| alloc::handle_alloc_error(layout(new)));
    }

    /// Copies `src` to offset `at`. `at + src.len()` must be within the allocation, which the
    /// callers guarantee by computing offsets from the size they allocated.
    fn put(&mut self, at: usize, src: &[u8]) {
        // SAFETY: the destination range is inside the allocation (see above) and cannot overlap
        // `src`, which is borrowed from elsewhere (we hold &mut self, so no slice of this
        // record can be alive).
        unsafe { ptr::copy_nonoverlapping(src.as_ptr(), self.ptr.as_ptr().add(at), src.len()) }
    }

    /// memmove within the allocation; both ranges must be inside it.
    fn move_bytes(&mut self, from: usize, to: usize, len: usize) {
        // SAFETY: both ranges are inside the allocation (callers compute them from its size);
        // `ptr::copy` allows overlap and preserves pointer provenance of the copied bytes.
        unsafe { ptr::copy(self.ptr.as_ptr().add(from), self.ptr.as_ptr().add(to), len) }
    }

    /// Zero-fills `len` bytes at `at`; the range must be inside the allocation.
    fn zero(&mut self, at: usize, len: usize) {
        // SAFETY: the range is inside the allocation (callers compute it from its size).
        unsafe { ptr::write_bytes(self.ptr.as_ptr().add(at), 0, len) }
    }

    /// Reads one byte of the header area (meta, varints, len/cap fields).
    fn byte(&self, at: usize) -> u8 {
        // SAFETY: only called by `parts` on offsets it proves are in bounds: header and varint
        // bytes come before the end of the record and are always initialised.
        unsafe { *self.ptr.as_ptr().add(at) }
    }

    fn meta(&self) -> u32 {
        // SAFETY: the meta word is at offset 8, 4-byte aligned (allocation align is 8), inside
        // every record and initialised at construction.
        unsafe { self.ptr.as_ptr().add(OFF_META).cast::<u32>().read() }
    }

    fn set_meta(&mut self, m: u32) {
        // SAFETY: as in `meta`; `&mut self` means no reference into the record is alive.
        unsafe { self.ptr.as_ptr().add(OFF_META).cast::<u32>().write(m) }
    }

    /// The initialised bytes `at..at + len` of the record.
    fn bytes(&self, at: usize, len: usize) -> &[u8] {
        // SAFETY: callers pass ranges computed by `parts`, so they lie below the record size,
        // where every byte is initialised; offsets are >= 8 so the range never covers the
        // `next` field, which may be borrowed separately. The slice borrows `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(at), len) }
    }

    fn bytes_mut(&mut self, at: usize, len: usize) -> &mut [u8] {
        // SAFETY: as in `bytes`; `&mut self` makes the slice unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().add(at), len) }
    }

    fn next_ptr(&self) -> *mut Option<Entry<O>> {
        self.ptr.as_ptr().cast()
    }

    fn next_ref(&self) -> &Option<Entry<O>> {
        // SAFETY: offset 0 of every record holds an initialised Option<Entry<O>> (written
        // first at construction); it is 8-byte aligned and has pointer layout because Entry is
        // repr(transparent) over NonNull. The reference borrows self.
        unsafe { &*self.next_ptr() }
    }

    fn next_mut(&mut self) -> &mut Option<Entry<O>> {
        // SAFETY: as in `next_ref`; `&mut self` makes the reference unique.
        unsafe { &mut *self.next_ptr() }
    }

    fn read_obj_ptr(&self, at: usize) -> *mut O {
        // SAFETY: for the obj encoding, `at` is the 8 value bytes written by `write_obj_ptr`
        // (possibly moved by realloc/ptr::copy, which keep the bytes and their provenance).
        unsafe { self.ptr.as_ptr().add(at).cast::<*mut O>().read_unaligned() }
    }

    fn write_obj_ptr(&mut self, at: usize, p: *mut O) {
        // SAFETY: `at..at + 8` is the value part of an obj record, inside the allocation.
        unsafe { self.ptr.as_ptr().add(at).cast::<*mut O>().write_unaligned(p) }
    }

    fn free_obj(p: *mut O) {
        // SAFETY: `p` came from Box::into_raw in `write_value`, and the record stops
        // referring to it (encoding changed, or the record is being freed) before/after this
        // call without any other path reading it again.
        drop(unsafe { Box::from_raw(p) })
    }

    fn dealloc(&mut self, size: usize) {
        // SAFETY: called once per record (from Drop, or from `rekey` which then forgets the
        // record), with its current size, i.e. the layout it was (re)allocated with.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), layout(size)) }
    }

    // ----- layout -----

    fn read_varint(&self, mut at: usize) -> (usize, usize) {
        let start = at;
        let mut v: usize = 0;
        let mut shift = 0;
        loop {
            let b = self.byte(at);
            at += 1;
            v |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                return (v, at - start);
            }
            shift += 7;
        }
    }

    fn read_u64_at(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.bytes(at, 8).try_into().unwrap())
    }

    fn parts(&self) -> Parts {
        let meta = self.meta();
        let mut at = HDR + if meta & HAS_EXPIRE != 0 { EXP_LEN } else { 0 };
        let (key_len, n) = self.read_varint(at);
        at += n;
        let key_at = at;
        let val_at = key_at + key_len;
        let (data_at, data_len, size) = match meta & ENC_MASK {
            ENC_STR => {
                let (len, n) = self.read_varint(val_at);
                (val_at + n, len, val_at + n + len)
            }
            ENC_BUF => {
                let len = self.read_u64_at(val_at) as usize;
                let cap = self.read_u64_at(val_at + 8) as usize;
                (val_at + 16, len, val_at + 16 + cap)
            }
            _ => (val_at, 8, val_at + 8),
        };
        Parts { meta, key_at, key_len, val_at, data_at, data_len, size }
    }

    /// Writes `v` at `val_at` (the allocation must already have room) and returns the new
    /// encoding bits.
    fn write_value(&mut self, val_at: usize, v: Value<'_, O>) -> u32 {
        match v {
            Value::Int(n) => {
                self.put(val_at, &n.to_le_bytes());
                ENC_INT
            }
            Value::Str(s) => {
                let (lb, ln) = varint_encode(s.len());
                self.put(val_at, &lb[..ln]);
                self.put(val_at + ln, &s);
                ENC_STR
            }
            Value::Obj(b) => {
                self.write_obj_ptr(val_at, Box::into_raw(b));
                ENC_OBJ
            }
        }
    }

    // ----- public API -----

    /// Builds a record for `key` holding `value`, with an optional absolute expiry (unix ms).
    pub fn new(key: &[u8], value: Value<'_, O>, expire_at_ms: Option<i64>) -> Self {
        let exp_len = if expire_at_ms.is_some() { EXP_LEN } else { 0 };
        let (kb, kn) = varint_encode(key.len());
        let key_at = HDR + exp_len + kn;
        let val_at = key_at + key.len();
        let size = val_at + value.encoded_len();
        let mut e = Entry { ptr: Self::alloc(size), _owns: PhantomData };
        // Initialise every byte before anything reads the record (nothing below can panic).
        // SAFETY: offset 0 is inside the fresh allocation, aligned for a pointer; writing
        // (not assigning) does not drop the uninitialised previous contents.
        unsafe { e.next_ptr().write(None) };
        if let Some(t) = expire_at_ms {
            e.put(HDR, &t.to_le_bytes());
        }
        e.put(HDR + exp_len, &kb[..kn]);
        e.put(key_at, key);
        let enc = e.write_value(val_at, value);
        let meta = enc | if expire_at_ms.is_some() { HAS_EXPIRE } else { 0 };
        e.set_meta(meta);
        e
    }

    /// The key's bytes.
    pub fn key(&self) -> &[u8] {
        let p = self.parts();
        self.bytes(p.key_at, p.key_len)
    }

    /// The value.
    pub fn value(&self) -> ValueRef<'_, O> {
        let p = self.parts();
        match p.enc() {
            ENC_INT => {
                ValueRef::Int(i64::from_le_bytes(self.bytes(p.data_at, 8).try_into().unwrap()))
            }
            ENC_OBJ => {
                let o = self.read_obj_ptr(p.data_at);
                // SAFETY: the pointer came from Box::into_raw and the record owns it; the
                // reference borrows self, so the Box cannot be freed or replaced meanwhile.
                ValueRef::Obj(unsafe { &*o })
            }
            _ => ValueRef::Str(self.bytes(p.data_at, p.data_len)),
        }
    }

    /// The value, mutably (strings keep their length).
    pub fn value_mut(&mut self) -> ValueMut<'_, O> {
        let p = self.parts();
        match p.enc() {
            ENC_INT => {
                ValueMut::Int(i64::from_le_bytes(self.bytes(p.data_at, 8).try_into().unwrap()))
            }
            ENC_OBJ => {
                let o = self.read_obj_ptr(p.data_at);
                // SAFETY: as in `value`; `&mut self` makes the reference unique.
                ValueMut::Obj(unsafe { &mut *o })
            }
            _ => ValueMut::Str(self.bytes_mut(p.data_at, p.data_len)),
        }
    }

    /// The object, if the value is one.
    pub fn obj(&self) -> Option<&O> {
        match self.value() {
            ValueRef::Obj(o) => Some(o),
            _ => None,
        }
    }

    /// The object, mutably, if the value is one.
    pub fn obj_mut(&mut self) -> Option<&mut O> {
        match self.value_mut() {
            ValueMut::Obj(o) => Some(o),
            _ => None,
        }
    }

    /// Whether the value is a string (inline bytes or integer).
    pub fn is_string(&self) -> bool {
        self.meta() & ENC_MASK != ENC_OBJ
    }

    /// Replaces the value; key, expiry, LRU, tag and chain link are kept. May reallocate.
    pub fn set_value(&mut self, v: Value<'_, O>) {
        let p = self.parts();
        let old_obj = (p.enc() == ENC_OBJ).then(|| self.read_obj_ptr(p.val_at));
        let new_size = p.val_at + v.encoded_len();
        self.realloc(p.size, new_size);
        let enc = self.write_value(p.val_at, v);
        self.set_meta((p.meta & !ENC_MASK) | enc);
        if let Some(o) = old_obj {
            Self::free_obj(o);
        }
    }

    /// Consumes the record and returns its value (string bytes are copied out).
    /// The rest of its chain, if any, is dropped.
    pub fn take_value(mut self) -> Value<'static, O> {
        let p = self.parts();
        let v = match p.enc() {
            ENC_INT => Value::Int(i64::from_le_bytes(self.bytes(p.data_at, 8).try_into().unwrap())),
            ENC_OBJ => {
                let o = self.read_obj_ptr(p.data_at);
                // The record no longer owns the object: relabel the 8 bytes as an integer so
                // Drop does not free it.
                self.set_meta((p.meta & !ENC_MASK) | ENC_INT);
                // SAFETY: `o` came from Box::into_raw; ownership moves to the returned Box and
                // the record, now int-encoded, never reads it again.
                Value::Obj(unsafe { Box::from_raw(o) })
            }
            _ => Value::Str(Cow::Owned(self.bytes(p.data_at, p.data_len).to_vec())),
        };
        v
    }

    /// Consumes the record and returns one with the same value, expiry, LRU and tag under a
    /// new key (RENAME, MOVE), without copying the value out. The chain link is dropped.
    pub fn rekey(mut self, key: &[u8]) -> Self {
        drop(self.take_next());
        let p = self.parts();
        let (kb, kn) = varint_encode(key.len());
        let key_at = p.key_at - varint_len(p.key_len) + kn;
        let val_at = key_at + key.len();
        let val_len = p.size - p.val_at;
        let size = val_at + val_len;
        let mut e = Entry { ptr: Self::alloc(size), _owns: PhantomData };
        // SAFETY: as in `new`: initialising the next field of a fresh allocation.
        unsafe { e.next_ptr().write(None) };
        // meta + expiry, unchanged.
        let head = p.key_at - varint_len(p.key_len) - OFF_META;
        e.put(OFF_META, self.bytes(OFF_META, head));
        e.put(key_at - kn, &kb[..kn]);
        e.put(key_at, key);
        // SAFETY: copies the value part (which may contain the object pointer; a raw copy
        // keeps its provenance) from the old record, in bounds of both allocations, into the
        // fresh one; the two allocations are distinct.
        unsafe {
            ptr::copy_nonoverlapping(
                self.ptr.as_ptr().add(p.val_at),
                e.ptr.as_ptr().add(val_at),
                val_len,
            )
        };
        // `e` now owns the value (and its object, if any): free the old allocation without
        // running Drop, which would free the object too.
        self.dealloc(p.size);
        mem::forget(self);
        e
    }

    /// The absolute expiry time in unix milliseconds, if any.
    pub fn expire_at(&self) -> Option<i64> {
        (self.meta() & HAS_EXPIRE != 0)
            .then(|| i64::from_le_bytes(self.bytes(HDR, 8).try_into().unwrap()))
    }

    /// Sets or clears the expiry. Adding or removing one reallocates (8 bytes).
    pub fn set_expire(&mut self, at_ms: Option<i64>) {
        let p = self.parts();
        let had = p.meta & HAS_EXPIRE != 0;
        match (had, at_ms) {
            (true, Some(t)) => self.put(HDR, &t.to_le_bytes()),
            (false, None) => {}
            (false, Some(t)) => {
                self.realloc(p.size, p.size + EXP_LEN);
                self.move_bytes(HDR, HDR + EXP_LEN, p.size - HDR);
                self.put(HDR, &t.to_le_bytes());
                self.set_meta(p.meta | HAS_EXPIRE);
            }
            (true, None) => {
                self.move_bytes(HDR + EXP_LEN, HDR, p.size - HDR - EXP_LEN);
                self.realloc(p.size, p.size - EXP_LEN);
                self.set_meta(p.meta & !HAS_EXPIRE);
            }
        }
    }

    /// The 24-bit LRU/LFU field.
    pub fn lru(&self) -> u32 {
        self.meta() >> LRU_SHIFT
    }

    /// Sets the 24-bit LRU/LFU field (higher bits are ignored).
    pub fn set_lru(&mut self, v: u32) {
        let m = self.meta();
        self.set_meta((m & ((1 << LRU_SHIFT) - 1)) | ((v & LRU_MAX) << LRU_SHIFT));
    }

    /// The snapshot mark: whether the running snapshot has this entry (see `Table`).
    pub(super) fn snap_mark(&self) -> bool {
        self.meta() & SNAP_MARK != 0
    }

    pub(super) fn set_snap_mark(&mut self, on: bool) {
        let m = self.meta();
        self.set_meta(if on { m | SNAP_MARK } else { m & !SNAP_MARK });
    }

    /// Four spare meta bits the caller may use (e.g. to cache the object's type).
    pub fn tag(&self) -> u8 {
        ((self.meta() & TAG_MASK) >> TAG_SHIFT) as u8
    }

    /// Sets the spare bits (only the low 4 bits of `t` are kept).
    pub fn set_tag(&mut self, t: u8) {
        let m = self.meta();
        self.set_meta((m & !TAG_MASK) | ((u32::from(t) << TAG_SHIFT) & TAG_MASK));
    }

    /// Makes the string value at least `min_len` bytes long, padding with zero bytes, and
    /// returns its bytes. An integer value is first turned into its decimal text. Returns None
    /// for objects. Strings up to 64 bytes stay exact-sized; longer ones get spare capacity
    /// (doubling up to 1 MiB, then +1 MiB), so repeated APPENDs are amortised O(1).
    pub fn str_grow(&mut self, min_len: usize) -> Option<&mut [u8]> {
        let mut p = self.parts();
        match p.enc() {
            ENC_OBJ => return None,
            ENC_INT => {
                let n = i64::from_le_bytes(self.bytes(p.data_at, 8).try_into().unwrap());
                let mut buf = [0u8; 20];
                self.set_value(Value::Str(Cow::Borrowed(fmt_i64(n, &mut buf))));
                p = self.parts();
            }
            _ => {}
        }
        let cur = p.data_len;
        if min_len > cur {
            if p.enc() == ENC_BUF {
                let cap = p.size - p.data_at;
                if min_len > cap {
                    let new_cap = grow_cap(min_len);
                    self.realloc(p.size, p.data_at + new_cap);
                    self.zero(p.data_at + cap, new_cap - cap);
                    self.put(p.val_at + 8, &(new_cap as u64).to_le_bytes());
                }
                // Bytes between the old length and the capacity are zero already.
                self.put(p.val_at, &(min_len as u64).to_le_bytes());
            } else if min_len <= EXACT_GROW_MAX {
                let ln = varint_len(min_len);
                let data_at = p.val_at + ln;
                let size = data_at + min_len;
                self.realloc(p.size, size);
                self.move_bytes(p.data_at, data_at, cur);
                self.zero(data_at + cur, min_len - cur);
                let (lb, ln) = varint_encode(min_len);
                self.put(p.val_at, &lb[..ln]);
            } else {
                let cap = grow_cap(min_len);
                let data_at = p.val_at + 16;
                self.realloc(p.size, data_at + cap);
                self.move_bytes(p.data_at, data_at, cur);
                self.zero(data_at + cur, cap - cur);
                self.put(p.val_at, &(min_len as u64).to_le_bytes());
                self.put(p.val_at + 8, &(cap as u64).to_le_bytes());
                self.set_meta((p.meta & !ENC_MASK) | ENC_BUF);
            }
            p = self.parts();
        }
        Some(self.bytes_mut(p.data_at, p.data_len))
    }

    /// Appends to the string value (APPEND); returns the new length, or None for objects.
    pub fn str_append(&mut self, data: &[u8]) -> Option<usize> {
        let len = match self.value() {
            ValueRef::Obj(_) => return None,
            ValueRef::Str(s) => s.len(),
            ValueRef::Int(n) => fmt_i64(n, &mut [0u8; 20]).len(),
        };
        let new_len = len + data.len();
        self.str_grow(new_len)?[len..].copy_from_slice(data);
        Some(new_len)
    }

    /// Overwrites the string at `offset`, zero-padding as needed (SETRANGE); returns the new
    /// length, or None for objects. An empty `data` changes nothing.
    pub fn str_setrange(&mut self, offset: usize, data: &[u8]) -> Option<usize> {
        if data.is_empty() {
            return match self.value() {
                ValueRef::Obj(_) => None,
                ValueRef::Str(s) => Some(s.len()),
                ValueRef::Int(n) => Some(fmt_i64(n, &mut [0u8; 20]).len()),
            };
        }
        let s = self.str_grow(offset + data.len())?;
        s[offset..offset + data.len()].copy_from_slice(data);
        Some(s.len())
    }

    /// Bytes this record asks the allocator for (not counting the object behind `Obj`, which
    /// the caller accounts for, nor the allocator's rounding to its size class).
    pub fn alloc_size(&self) -> usize {
        self.parts().size
    }

    // ----- chain link, for the table -----

    /// The next entry in this hash chain.
    pub(super) fn next(&self) -> Option<&Entry<O>> {
        self.next_ref().as_ref()
    }

    /// The next-link slot, to link and unlink chain members.
    pub(super) fn next_slot(&mut self) -> &mut Option<Entry<O>> {
        self.next_mut()
    }

    /// Detaches and returns the rest of the chain.
    pub(super) fn take_next(&mut self) -> Option<Entry<O>> {
        self.next_mut().take()
    }

    /// Replaces the rest of the chain (a previous one is dropped).
    pub(super) fn set_next(&mut self, next: Option<Entry<O>>) {
        *self.next_mut() = next;
    }
}

fn grow_cap(min_len: usize) -> usize {
    if min_len < GROW_DOUBLE_MAX {
        min_len * 2
    } else {
        min_len + GROW_DOUBLE_MAX
    }
}

impl<O> Drop for Entry<O> {
    fn drop(&mut self) {
        // Unlink the chain first and free it one record at a time, so each record dropped in
        // the loop has no successor and the drop never recurses.
        let mut next = self.take_next();
        while let Some(mut e) = next {
            next = e.take_next();
            drop(e);
        }
        let p = self.parts();
        if p.enc() == ENC_OBJ {
            let o = self.read_obj_ptr(p.data_at);
            // Relabel first so a panicking O::drop cannot lead to a second free.
            self.set_meta((p.meta & !ENC_MASK) | ENC_INT);
            Self::free_obj(o);
        }
        self.dealloc(p.size);
    }
}

impl<O: fmt::Debug> fmt::Debug for Entry<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Entry");
        d.field("key", &String::from_utf8_lossy(self.key()));
        match self.value() {
            ValueRef::Int(n) => d.field("int", &n),
            ValueRef::Str(s) => d.field("str", &String::from_utf8_lossy(s)),
            ValueRef::Obj(o) => d.field("obj", o),
        };
        d.field("expire_at", &self.expire_at()).field("lru", &self.lru()).finish()
    }
}

// Keep the pointer-sized promise the table relies on.
const _: () = assert!(mem::size_of::<Option<Entry<()>>>() == 8);

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// An object that counts its live instances.
    #[derive(Debug)]
    struct Tracked {
        items: Vec<String>,
        live: Arc<AtomicUsize>,
    }
    impl Tracked {
        fn new(live: &Arc<AtomicUsize>, items: &[&str]) -> Box<Self> {
            live.fetch_add(1, Ordering::SeqCst);
            Box::new(Tracked {
                items: items.iter().map(|s| s.to_string()).collect(),
                live: live.clone(),
            })
        }
    }
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.live.fetch_sub(1, Ordering::SeqCst);
        }
    }

    type E = Entry<Vec<String>>;

    fn s(v: &[u8]) -> Value<'_, Vec<String>> {
        Value::Str(Cow::Borrowed(v))
    }

    fn as_str(e: &E) -> Vec<u8> {
        match e.value() {
            ValueRef::Str(s) => s.to_vec(),
            ValueRef::Int(n) => n.to_string().into_bytes(),
            ValueRef::Obj(_) => panic!("obj"),
        }
    }

    #[test]
    fn sizes_for_ten_byte_key_and_value() {
        let e = E::new(b"key:000001", s(b"value:0001"), None);
        assert_eq!(e.alloc_size(), 34);
        let e2 = E::new(b"key:000001", s(b"value:0001"), Some(1_700_000_000_000));
        assert_eq!(e2.alloc_size(), 42);
        let e3 = E::new(b"key:000001", Value::Int(12345), None);
        assert_eq!(e3.alloc_size(), 31);
        assert_eq!(mem::size_of::<E>(), 8);
        assert_eq!(mem::size_of::<Option<E>>(), 8);
    }

    #[test]
    fn roundtrip_kinds() {
        let live = Arc::new(AtomicUsize::new(0));
        for klen in [0usize, 1, 10, 127, 128, 300] {
            let key: Vec<u8> = (0..klen).map(|i| (i % 251) as u8).collect();
            for vlen in [0usize, 1, 10, 127, 128, 1000] {
                let val: Vec<u8> = (0..vlen).map(|i| (i * 7 % 256) as u8).collect();
                for exp in [None, Some(-5i64), Some(i64::MAX)] {
                    let e = E::new(&key, s(&val), exp);
                    assert_eq!(e.key(), &key[..]);
                    assert_eq!(as_str(&e), val);
                    assert_eq!(e.expire_at(), exp);
                    assert_eq!(e.lru(), 0);
                    assert!(e.next().is_none());
                }
            }
            let e: E = Entry::new(&key, Value::Int(i64::MIN), Some(7));
            assert!(matches!(e.value(), ValueRef::Int(i64::MIN)));
            let e = Entry::new(&key, Value::Obj(Tracked::new(&live, &["a", "b"])), None);
            match e.value() {
                ValueRef::Obj(o) => assert_eq!(o.items, ["a", "b"]),
                _ => panic!(),
            }
            assert_eq!(e.key(), &key[..]);
            assert_eq!(live.load(Ordering::SeqCst), 1);
            drop(e);
            assert_eq!(live.load(Ordering::SeqCst), 0);
        }
    }

    #[test]
    fn canonical_ints() {
        for (s, v) in [
            ("0", Some(0)),
            ("-1", Some(-1)),
            ("123", Some(123)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("-0", None),
            ("01", None),
            ("+1", None),
            (" 1", None),
            ("1 ", None),
            ("", None),
            ("-", None),
            ("1a", None),
        ] {
            assert_eq!(parse_canonical_i64(s.as_bytes()), v, "{s}");
        }
        assert!(matches!(Value::<()>::string(b"42"), Value::Int(42)));
        assert!(matches!(Value::<()>::string(b"042"), Value::Str(_)));
        let mut b = [0u8; 20];
        for n in [0, 1, -1, i64::MIN, i64::MAX, 1234567] {
            assert_eq!(fmt_i64(n, &mut b), n.to_string().as_bytes());
        }
    }

    #[test]
    fn set_value_transitions_and_meta() {
        let live = Arc::new(AtomicUsize::new(0));
        let mut e: Entry<Tracked> = Entry::new(b"k", Value::Int(1), None);
        e.set_lru(0xabcdef);
        e.set_tag(0x05);
        e.set_expire(Some(99));
        let vals: Vec<Box<dyn Fn() -> Value<'static, Tracked>>> = vec![
            Box::new(|| Value::Int(-7)),
            Box::new(|| Value::Str(Cow::Owned(vec![b'x'; 200]))),
            Box::new(|| Value::Str(Cow::Borrowed(b"short"))),
            Box::new({
                let live = live.clone();
                move || Value::Obj(Tracked::new(&live, &["z"]))
            }),
            Box::new(|| Value::Str(Cow::Borrowed(b""))),
        ];
        for a in &vals {
            for b in &vals {
                e.set_value(a());
                e.set_value(b());
                assert_eq!(e.key(), b"k");
                assert_eq!(e.lru(), 0xabcdef);
                assert_eq!(e.tag(), 0x05);
                assert_eq!(e.expire_at(), Some(99));
                assert!(live.load(Ordering::SeqCst) <= 1);
            }
        }
        e.set_lru(u32::MAX);
        assert_eq!(e.lru(), LRU_MAX);
        assert_eq!(e.tag(), 0x05);
        e.set_tag(0xff);
        assert_eq!(e.tag(), TAG_MAX);
        assert_eq!(e.lru(), LRU_MAX);
        drop(e);
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn expire_toggle_keeps_everything() {
        let live = Arc::new(AtomicUsize::new(0));
        let mut e: Entry<Tracked> =
            Entry::new(b"some key", Value::Obj(Tracked::new(&live, &["q"])), None);
        e.set_lru(5);
        let base = e.alloc_size();
        for i in 0..10 {
            e.set_expire(Some(i));
            assert_eq!(e.alloc_size(), base + 8);
            assert_eq!(e.expire_at(), Some(i));
            e.set_expire(Some(i + 1));
            assert_eq!(e.expire_at(), Some(i + 1));
            e.set_expire(None);
            assert_eq!(e.expire_at(), None);
            assert_eq!(e.alloc_size(), base);
            assert_eq!(e.key(), b"some key");
            assert_eq!(e.obj().unwrap().items, ["q"]);
            assert_eq!(e.lru(), 5);
        }
        e.obj_mut().unwrap().items.push("r".into());
        let v = e.take_value();
        assert_eq!(live.load(Ordering::SeqCst), 1);
        match v {
            Value::Obj(o) => assert_eq!(o.items, ["q", "r"]),
            _ => panic!(),
        }
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn append_and_setrange() {
        let mut e = E::new(b"k", Value::Int(-12), Some(3));
        assert_eq!(e.str_append(b"34"), Some(5));
        assert_eq!(as_str(&e), b"-1234");
        assert!(matches!(e.value(), ValueRef::Str(_)));
        let mut model = b"-1234".to_vec();
        for i in 0..300u32 {
            let chunk = format!("<{i}>");
            model.extend_from_slice(chunk.as_bytes());
            assert_eq!(e.str_append(chunk.as_bytes()), Some(model.len()));
            assert_eq!(as_str(&e), model);
            assert_eq!(e.expire_at(), Some(3));
            assert!(e.alloc_size() <= 2 * model.len() + 64);
        }
        // setrange past the end pads with zeros, then inside
        let n = e.str_setrange(model.len() + 10, b"tail").unwrap();
        model.resize(model.len() + 10, 0);
        model.extend_from_slice(b"tail");
        assert_eq!(n, model.len());
        assert_eq!(as_str(&e), model);
        e.str_setrange(1, b"XY").unwrap();
        model[1..3].copy_from_slice(b"XY");
        assert_eq!(as_str(&e), model);
        assert_eq!(e.str_setrange(5, b""), Some(model.len()));
        // expiry removal and re-add with a buf-encoded value
        e.set_expire(None);
        e.set_expire(Some(8));
        assert_eq!(as_str(&e), model);
        // str_grow keeps zero slack after shrink-by-set and regrow
        e.set_value(s(b"ab"));
        assert_eq!(e.alloc_size(), 22 + 1 + 2);
        let g = e.str_grow(5).unwrap();
        assert_eq!(g, b"ab\0\0\0");
        g[4] = 9;
        assert_eq!(as_str(&e), b"ab\0\0\x09");
        // small strings stay exact
        assert_eq!(e.alloc_size(), 22 + 1 + 5);
        // crossing the varint boundary (127 -> 128) while exact isn't possible (cap 64), but
        // buf growth from a 127-byte exact string is
        let mut f = E::new(b"k", s(&[1u8; 127]), None);
        f.str_append(&[2u8]).unwrap();
        let mut want = vec![1u8; 127];
        want.push(2);
        assert_eq!(as_str(&f), want);
        let mut o: Entry<Vec<String>> = Entry::new(b"k", Value::Obj(Box::default()), None);
        assert_eq!(o.str_append(b"x"), None);
        assert_eq!(o.str_setrange(0, b""), None);
        assert!(o.str_grow(1).is_none());
        assert!(!o.is_string());
    }

    #[test]
    fn value_mut_in_place() {
        let mut e = E::new(b"k", s(b"hello"), None);
        if let ValueMut::Str(b) = e.value_mut() {
            b[0] = b'j';
        }
        assert_eq!(as_str(&e), b"jello");
        let mut e = E::new(b"k", Value::Obj(Box::default()), None);
        e.obj_mut().unwrap().push("x".into());
        assert_eq!(e.obj().unwrap(), &["x".to_string()]);
    }

    #[test]
    fn take_value_and_rekey() {
        let live = Arc::new(AtomicUsize::new(0));
        let e: Entry<Tracked> = Entry::new(b"a", s2(b"payload"), Some(4));
        match e.take_value() {
            Value::Str(v) => assert_eq!(&v[..], b"payload"),
            _ => panic!(),
        }
        let e: Entry<Tracked> = Entry::new(b"a", Value::Int(5), None);
        assert!(matches!(e.take_value(), Value::Int(5)));
        for v in [
            Value::Obj(Tracked::new(&live, &["x"])),
            Value::Int(77),
            s2(b"v"),
            Value::Str(Cow::Owned(vec![3; 500])),
        ] {
            let mut e: Entry<Tracked> = Entry::new(b"old-key", v, Some(11));
            e.set_lru(42);
            e.set_tag(3);
            let before = format!("{:?}", e.value());
            let before_size = e.alloc_size();
            let e = e.rekey(b"a much longer new key name");
            assert_eq!(e.key(), b"a much longer new key name");
            assert_eq!(format!("{:?}", e.value()), before);
            assert_eq!(e.expire_at(), Some(11));
            assert_eq!((e.lru(), e.tag()), (42, 3));
            assert_eq!(e.alloc_size(), before_size + 26 - 7);
            let e = e.rekey(b"");
            assert_eq!(e.key(), b"");
            assert_eq!(format!("{:?}", e.value()), before);
        }
        assert_eq!(live.load(Ordering::SeqCst), 0);

        fn s2(v: &[u8]) -> Value<'_, Tracked> {
            Value::Str(Cow::Borrowed(v))
        }
    }

    #[test]
    fn long_chain_drops_iteratively() {
        let live = Arc::new(AtomicUsize::new(0));
        let n = if cfg!(miri) { 2_000 } else { 1_000_000 };
        let mut head: Option<Entry<Tracked>> = None;
        for i in 0..n {
            let v = if i % 100 == 0 {
                Value::Obj(Tracked::new(&live, &[]))
            } else {
                Value::Int(i as i64)
            };
            let mut e = Entry::new(b"k", v, None);
            e.set_next(head.take());
            head = Some(e);
        }
        assert_eq!(live.load(Ordering::SeqCst), n / 100);
        // walk it
        let mut c = 0;
        let mut cur = head.as_ref();
        while let Some(e) = cur {
            c += 1;
            cur = e.next();
        }
        assert_eq!(c, n);
        drop(head);
        assert_eq!(live.load(Ordering::SeqCst), 0);
        // take_value drops the chain too
        let mut a: Entry<Tracked> = Entry::new(b"a", Value::Obj(Tracked::new(&live, &[])), None);
        a.set_next(Some(Entry::new(b"b", Value::Obj(Tracked::new(&live, &[])), None)));
        let v = a.take_value();
        assert_eq!(live.load(Ordering::SeqCst), 1);
        drop(v);
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn send_sync() {
        fn is_send<T: Send>() {}
        fn is_sync<T: Sync>() {}
        is_send::<Entry<Vec<String>>>();
        is_sync::<Entry<Vec<String>>>();
        let e = E::new(b"k", s(b"v"), None);
        let e = std::thread::spawn(move || {
            assert_eq!(e.key(), b"k");
            e
        })
        .join()
        .unwrap();
        assert_eq!(as_str(&e), b"v");
    }

    #[derive(Clone, Debug, PartialEq)]
    enum M {
        Int(i64),
        Str(Vec<u8>),
        Obj(Vec<String>),
    }

    fn check(e: &Entry<Tracked>, key: &[u8], m: &(M, Option<i64>, u32, u8)) {
        assert_eq!(e.key(), key);
        match (&m.0, e.value()) {
            (M::Int(a), ValueRef::Int(b)) => assert_eq!(*a, b),
            (M::Str(a), ValueRef::Str(b)) => assert_eq!(&a[..], b),
            (M::Obj(a), ValueRef::Obj(b)) => assert_eq!(a, &b.items),
            (a, b) => panic!("model {a:?} vs {b:?}"),
        }
        assert_eq!(e.expire_at(), m.1);
        assert_eq!(e.lru(), m.2);
        assert_eq!(e.tag(), m.3);
    }

    #[test]
    fn random_ops_against_model() {
        let live = Arc::new(AtomicUsize::new(0));
        let mut rng = SmallRng::seed_from_u64(7);
        let mut entries: HashMap<Vec<u8>, Entry<Tracked>> = HashMap::new();
        let mut model: HashMap<Vec<u8>, (M, Option<i64>, u32, u8)> = HashMap::new();
        let steps = if cfg!(miri) { 1_500 } else { 200_000 };
        let rand_bytes = |rng: &mut SmallRng, max: usize| -> Vec<u8> {
            let n = if rng.gen_bool(0.1) {
                rng.gen_range(0..=max * 20)
            } else {
                rng.gen_range(0..=max)
            };
            (0..n).map(|_| rng.gen()).collect()
        };
        for _ in 0..steps {
            let key = format!("k{}", rng.gen_range(0..40)).into_bytes();
            let key = if rng.gen_bool(0.05) { [&key[..], &[b'x'; 130][..]].concat() } else { key };
            let op = rng.gen_range(0..12);
            let v: (Value<'static, Tracked>, M) = match rng.gen_range(0..3) {
                0 => {
                    let n = rng.gen();
                    (Value::Int(n), M::Int(n))
                }
                1 => {
                    let b = rand_bytes(&mut rng, 20);
                    (Value::Str(Cow::Owned(b.clone())), M::Str(b))
                }
                _ => {
                    let it = format!("{}", rng.gen::<u8>());
                    (Value::Obj(Tracked::new(&live, &[&it])), M::Obj(vec![it]))
                }
            };
            let Some(e) = entries.get_mut(&key) else {
                let exp = rng.gen_bool(0.5).then(|| rng.gen());
                entries.insert(key.clone(), Entry::new(&key, v.0, exp));
                model.insert(key.clone(), (v.1, exp, 0, 0));
                continue;
            };
            let m = model.get_mut(&key).unwrap();
            match op {
                0 => {
                    e.set_value(v.0);
                    m.0 = v.1;
                }
                1 => {
                    drop(v);
                    let exp = rng.gen_bool(0.5).then(|| rng.gen());
                    e.set_expire(exp);
                    m.1 = exp;
                }
                2 => {
                    drop(v);
                    let l = rng.gen();
                    e.set_lru(l);
                    m.2 = l & LRU_MAX;
                    let t = rng.gen();
                    e.set_tag(t);
                    m.3 = t & TAG_MAX;
                }
                3 | 4 => {
                    drop(v);
                    let data = rand_bytes(&mut rng, 30);
                    let r = e.str_append(&data);
                    match &mut m.0 {
                        M::Obj(_) => assert_eq!(r, None),
                        other => {
                            let mut cur = match other {
                                M::Int(n) => n.to_string().into_bytes(),
                                M::Str(s) => s.clone(),
                                _ => unreachable!(),
                            };
                            cur.extend_from_slice(&data);
                            assert_eq!(r, Some(cur.len()));
                            *other = M::Str(cur);
                        }
                    }
                }
                5 => {
                    drop(v);
                    let data = rand_bytes(&mut rng, 8);
                    let off = rng.gen_range(0..100);
                    let r = e.str_setrange(off, &data);
                    match &mut m.0 {
                        M::Obj(_) => assert_eq!(r, None),
                        other => {
                            let mut cur = match other {
                                M::Int(n) => n.to_string().into_bytes(),
                                M::Str(s) => s.clone(),
                                _ => unreachable!(),
                            };
                            if !data.is_empty() {
                                if cur.len() < off + data.len() {
                                    cur.resize(off + data.len(), 0);
                                }
                                cur[off..off + data.len()].copy_from_slice(&data);
                                *other = M::Str(cur.clone());
                            }
                            assert_eq!(r, Some(cur.len()));
                        }
                    }
                }
                6 => {
                    drop(v);
                    if let Some(o) = e.obj_mut() {
                        o.items.push("p".into());
                        if let M::Obj(items) = &mut m.0 {
                            items.push("p".into());
                        }
                    }
                }
                7 => {
                    drop(v);
                    let e = entries.remove(&key).unwrap();
                    let m = model.remove(&key).unwrap();
                    match (e.take_value(), m.0) {
                        (Value::Int(a), M::Int(b)) => assert_eq!(a, b),
                        (Value::Str(a), M::Str(b)) => assert_eq!(&a[..], &b[..]),
                        (Value::Obj(a), M::Obj(b)) => assert_eq!(a.items, b),
                        (a, b) => panic!("{a:?} vs {b:?}"),
                    }
                    continue;
                }
                8 => {
                    drop(v);
                    let e = entries.remove(&key).unwrap();
                    let m = model.remove(&key).unwrap();
                    let nk = rand_bytes(&mut rng, 12);
                    if let Some(old) = entries.remove(&nk) {
                        model.remove(&nk);
                        drop(old);
                    }
                    let e = e.rekey(&nk);
                    check(&e, &nk, &m);
                    entries.insert(nk.clone(), e);
                    model.insert(nk, m);
                    continue;
                }
                9 => {
                    drop(v);
                    entries.remove(&key);
                    model.remove(&key);
                    continue;
                }
                _ => {
                    drop(v);
                    let grow = rng.gen_range(0..200);
                    if let Some(b) = e.str_grow(grow) {
                        let mut cur = match &m.0 {
                            M::Int(n) => n.to_string().into_bytes(),
                            M::Str(s) => s.clone(),
                            _ => unreachable!(),
                        };
                        if cur.len() < grow {
                            cur.resize(grow, 0);
                        }
                        assert_eq!(b, &cur[..]);
                        if !b.is_empty() {
                            b[0] ^= 1;
                            cur[0] ^= 1;
                        }
                        m.0 = M::Str(cur);
                    }
                }
            }
            check(e, &key, m);
        }
        for (k, e) in &entries {
            check(e, k, &model[k]);
        }
        let objs = model.values().filter(|m| matches!(m.0, M::Obj(_))).count();
        assert_eq!(live.load(Ordering::SeqCst), objs);
        drop(entries);
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }
}
