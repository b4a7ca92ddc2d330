//! One-word owning pointers for the collection types, so that [`super::Object`] is 16 bytes
//! (its tag and one word) as Redis's object header is.
//!
//! - [`ThinBytes`] is a `Box<[u8]>` whose length lives in the allocation instead of beside the
//!   pointer: `[len: u32 LE][bytes]` (lengths of 4 GiB or more: `u32::MAX`, then the length as
//!   a u64 LE, then the bytes). The empty value holds no allocation. It costs 4 bytes of heap
//!   and saves 8 bytes of pointer.
//! - [`Tagged<S, B>`] holds either a small value `S` (a `ThinBytes` under another name: the
//!   compact encodings) or a `Box<B>` (the big encodings) in one word, the low bit telling which:
//!   a `ThinBytes` pointer is 4-aligned, so its low bit is always clear, and a `Box<B>` is
//!   stored with the bit set (`B` is at least 2-aligned; checked at compile time).
//!
//! All the `unsafe` code of the collection types' compact encodings is here, behind a safe API;
//! the types themselves use slices and enums (`Ref`, `Mut`, `Own`).

use std::alloc::{self, Layout};
use std::fmt;
use std::marker::PhantomData;
use std::mem::{self, ManuallyDrop};
use std::ops::{Deref, DerefMut, Range};
use std::ptr;

/// Alignment of a `ThinBytes` allocation: enough for the u32 header, and at least 2, which
/// keeps bit 0 of the pointer clear for [`Tagged`].
const ALIGN: usize = 4;
/// Header of a length below `u32::MAX`.
const SHORT_HDR: usize = 4;
/// Header of a longer one: the `u32::MAX` marker, then the u64 length.
const LONG_HDR: usize = 12;

const _: () = assert!(ALIGN >= 2 && ALIGN.is_power_of_two() && SHORT_HDR.is_multiple_of(ALIGN));

#[inline]
fn hdr_len(n: usize) -> usize {
    if n < u32::MAX as usize {
        SHORT_HDR
    } else {
        LONG_HDR
    }
}

#[inline]
fn layout(n: usize) -> Layout {
    // Only fails past isize::MAX bytes, where an allocation would fail anyway (as Vec's
    // "capacity overflow").
    Layout::from_size_align(hdr_len(n) + n, ALIGN).expect("ThinBytes: length overflow")
}

/// An owned, fixed-length byte buffer behind an 8-byte pointer (see the module docs).
///
/// Invariant: `ptr` is null (empty, no allocation), or it was returned by the global allocator
/// for `layout(n)` where `n >= 1` is the length its header holds, and all `hdr_len(n) + n` bytes
/// are initialised. `ptr` is then `ALIGN`-aligned, so `ptr.addr() & 1 == 0` in both cases.
#[repr(transparent)]
pub struct ThinBytes {
    ptr: *mut u8,
}

// SAFETY: a ThinBytes uniquely owns its allocation, as a Box<[u8]> does, and has no interior
// mutability: `&ThinBytes` only hands out `&[u8]`, mutation needs `&mut ThinBytes`. Sending it
// or sharing references across threads is therefore as sound as for Box<[u8]>.
unsafe impl Send for ThinBytes {}
// SAFETY: see Send.
unsafe impl Sync for ThinBytes {}

impl ThinBytes {
    /// The empty buffer (no allocation).
    pub const fn new() -> Self {
        ThinBytes { ptr: ptr::null_mut() }
    }

    pub fn from_slice(b: &[u8]) -> Self {
        let mut t = ThinBytes::new();
        t.resize(b.len());
        t.copy_from_slice(b);
        t
    }

    #[inline]
    pub fn len(&self) -> usize {
        if self.ptr.is_null() {
            return 0;
        }
        // SAFETY: a non-null `ptr` points at an initialised header of at least SHORT_HDR bytes,
        // ALIGN (4) aligned, so the u32 read is in bounds and aligned; LONG_HDR bytes are
        // initialised when the marker says so (read unaligned: offset 4 of a 4-aligned block).
        unsafe {
            let short = u32::from_le((self.ptr as *const u32).read());
            if short != u32::MAX {
                short as usize
            } else {
                u64::from_le((self.ptr.add(SHORT_HDR) as *const u64).read_unaligned()) as usize
            }
        }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ptr.is_null()
    }

    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        let n = self.len();
        if n == 0 {
            return &[];
        }
        // SAFETY: by the invariant, the allocation holds `hdr_len(n) + n` initialised bytes,
        // so `n` bytes from `ptr + hdr_len(n)` are in bounds and initialised; they are borrowed
        // for `&self`'s lifetime, during which nothing can free or mutate them (`&mut self` is
        // needed for that).
        unsafe { std::slice::from_raw_parts(self.ptr.add(hdr_len(n)), n) }
    }

    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let n = self.len();
        if n == 0 {
            return &mut [];
        }
        // SAFETY: as in `as_slice`; the exclusive borrow of self makes the slice unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(hdr_len(n)), n) }
    }

    /// Writes the header for length `n` (>= 1) at `p`.
    ///
    /// # Safety
    /// `p` must point at an `ALIGN`-aligned writable block of at least `hdr_len(n)` bytes.
    unsafe fn write_hdr(p: *mut u8, n: usize) {
        if n < u32::MAX as usize {
            (p as *mut u32).write((n as u32).to_le());
        } else {
            (p as *mut u32).write(u32::MAX.to_le());
            (p.add(SHORT_HDR) as *mut u64).write_unaligned((n as u64).to_le());
        }
    }

    /// Sets the length to `n`: the first `min(len, n)` bytes are kept, new bytes are zero.
    /// One `realloc` (in place within jemalloc's size class); `n == 0` frees the allocation.
    pub fn resize(&mut self, n: usize) {
        let old = self.len();
        if n == old {
            return;
        }
        if n == 0 {
            // SAFETY: old >= 1, so `ptr` is non-null and was allocated with `layout(old)`;
            // it is nulled right after, so it is freed once.
            unsafe { alloc::dealloc(self.ptr, layout(old)) };
            self.ptr = ptr::null_mut();
            return;
        }
        let new_layout = layout(n);
        let p = if old == 0 {
            // SAFETY: `new_layout` has a non-zero size (hdr_len(n) >= 4).
            unsafe { alloc::alloc(new_layout) }
        } else if hdr_len(old) == hdr_len(n) {
            // SAFETY: `ptr` was allocated with `layout(old)` (same alignment as `new_layout`);
            // the new size is non-zero and, `layout(n)` having succeeded, does not overflow
            // isize when rounded up to ALIGN. On success the old pointer is no longer used
            // (replaced below); on failure (null) it stays valid and we abort.
            unsafe { alloc::realloc(self.ptr, layout(old), new_layout.size()) }
        } else {
            // The header changes size (crossing 4 GiB): copy into a new block.
            // SAFETY: non-zero size; the copy reads `min(old, n)` initialised bytes of the old
            // data and writes them inside the new block's data area (hdr_len(n) + n bytes);
            // the old block is freed with the layout it was allocated with, and not used again.
            unsafe {
                let q = alloc::alloc(new_layout);
                if q.is_null() {
                    alloc::handle_alloc_error(new_layout);
                }
                ptr::copy_nonoverlapping(self.ptr.add(hdr_len(old)), q.add(hdr_len(n)), old.min(n));
                alloc::dealloc(self.ptr, layout(old));
                self.ptr = ptr::null_mut();
                q
            }
        };
        if p.is_null() {
            alloc::handle_alloc_error(new_layout);
        }
        // SAFETY: `p` is a live block of `layout(n)`: hdr_len(n) header bytes then n data
        // bytes. The first min(old, n) data bytes hold the old data (realloc and the copy above
        // keep them; for old == 0 there are none); bytes old..n are zeroed here, so all of the
        // block is initialised, as the invariant requires, before `ptr` is set.
        unsafe {
            Self::write_hdr(p, n);
            if n > old {
                ptr::write_bytes(p.add(hdr_len(n) + old), 0, n - old);
            }
        }
        self.ptr = p;
    }

    /// Replaces the bytes in `range` with `with` (as `Vec::splice`), with at most one
    /// reallocation. Panics if `range` is out of bounds, as slice indexing does.
    pub fn splice(&mut self, range: Range<usize>, with: &[u8]) {
        let (start, end, old) = (range.start, range.end, self.len());
        assert!(start <= end && end <= old, "ThinBytes::splice: {start}..{end} out of 0..{old}");
        let new = old - (end - start) + with.len();
        let to = start + with.len();
        if new > old {
            self.resize(new);
            let s = self.as_mut_slice();
            s.copy_within(end..old, to);
            s[start..to].copy_from_slice(with);
        } else {
            let s = self.as_mut_slice();
            s[start..to].copy_from_slice(with);
            s.copy_within(end..old, to);
            self.resize(new);
        }
    }

    /// Bytes of the allocation as jemalloc sizes it (0 when empty).
    pub fn alloc_size(&self) -> usize {
        match self.len() {
            0 => 0,
            n => crate::info::jemalloc_size_class(hdr_len(n) + n),
        }
    }
}

impl Drop for ThinBytes {
    fn drop(&mut self) {
        let n = self.len();
        if n != 0 {
            // SAFETY: non-null, allocated with `layout(n)` (the invariant); never used again.
            unsafe { alloc::dealloc(self.ptr, layout(n)) }
        }
    }
}

impl Default for ThinBytes {
    fn default() -> Self {
        ThinBytes::new()
    }
}

impl Clone for ThinBytes {
    fn clone(&self) -> Self {
        ThinBytes::from_slice(self)
    }
}

impl Deref for ThinBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl DerefMut for ThinBytes {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

impl PartialEq for ThinBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for ThinBytes {}

impl fmt::Debug for ThinBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl From<&[u8]> for ThinBytes {
    fn from(b: &[u8]) -> Self {
        ThinBytes::from_slice(b)
    }
}

impl From<Vec<u8>> for ThinBytes {
    fn from(v: Vec<u8>) -> Self {
        ThinBytes::from_slice(&v)
    }
}

/// A type that is a [`ThinBytes`] under another name, so that [`Tagged`] can hold it.
///
/// # Safety
/// Implement only for a `#[repr(transparent)]` struct whose one non-zero-sized field is a
/// `ThinBytes` (or another `Small` type): then its values and `ThinBytes`'s have the same
/// layout and validity, and a `&ThinBytes`/`&mut ThinBytes` may be reinterpreted as `&Self` /
/// `&mut Self` and back. Every value then has bit 0 of its pointer clear (see `ThinBytes`).
pub unsafe trait Small: Sized {}

// SAFETY: ThinBytes is itself.
unsafe impl Small for ThinBytes {}

/// Either a small `S` or a `Box<B>`, in one word (see the module docs).
///
/// Invariant: if bit 0 of `ptr` is set, `ptr` with the bit cleared came from `Box::<B>::into_raw`
/// and this value owns that box; otherwise `ptr` is the bit pattern of a valid `S` (a valid
/// `ThinBytes`) that this value owns.
#[repr(transparent)]
pub struct Tagged<S: Small, B> {
    ptr: *mut u8,
    _own: PhantomData<(S, Box<B>)>,
}

// SAFETY: a Tagged owns either an S or a Box<B> and gives access to them only as `&S`/`&B`
// through `&self` and `&mut S`/`&mut B` through `&mut self`, like `enum { S, Box<B> }`; it is
// Send/Sync exactly when that enum would be.
unsafe impl<S: Small + Send, B: Send> Send for Tagged<S, B> {}
// SAFETY: see Send.
unsafe impl<S: Small + Sync, B: Sync> Sync for Tagged<S, B> {}

/// A shared view of a [`Tagged`].
pub enum Ref<'a, S, B> {
    Small(&'a S),
    Big(&'a B),
}

/// An exclusive view of a [`Tagged`]. A `Small` may be replaced by any other `S`; to switch to
/// the other kind, assign a new `Tagged`.
pub enum Mut<'a, S, B> {
    Small(&'a mut S),
    Big(&'a mut B),
}

/// A [`Tagged`] taken apart.
pub enum Own<S, B> {
    Small(S),
    Big(Box<B>),
}

impl<S: Small, B> Tagged<S, B> {
    pub fn small(s: S) -> Self {
        const {
            // Implied by the `Small` contract; checked anyway.
            assert!(mem::size_of::<S>() == mem::size_of::<*mut u8>());
            assert!(mem::align_of::<S>() == mem::align_of::<*mut u8>());
        }
        let s = ManuallyDrop::new(s);
        // SAFETY: S has ThinBytes's layout (the `Small` contract), which is one `*mut u8`;
        // reading it moves the value out of `s`, which is never dropped (ManuallyDrop).
        let ptr = unsafe { ptr::read(&*s as *const S as *const *mut u8) };
        debug_assert_eq!(ptr.addr() & 1, 0);
        Tagged { ptr, _own: PhantomData }
    }

    pub fn big(b: Box<B>) -> Self {
        const { assert!(mem::align_of::<B>() >= 2, "Tagged needs bit 0 of a Box<B> pointer clear") }
        let p = Box::into_raw(b) as *mut u8;
        // B's alignment is at least 2 (checked above at compile time), so bit 0 of `p` is clear and setting it loses
        // nothing; `map_addr` keeps the pointer's provenance.
        Tagged { ptr: p.map_addr(|a| a | 1), _own: PhantomData }
    }

    #[inline]
    pub fn is_big(&self) -> bool {
        self.ptr.addr() & 1 == 1
    }

    #[inline]
    fn big_ptr(&self) -> *mut B {
        self.ptr.map_addr(|a| a & !1) as *mut B
    }

    #[inline]
    pub fn get(&self) -> Ref<'_, S, B> {
        if self.is_big() {
            // SAFETY: bit 0 set: the untagged pointer is a live Box<B> we own (invariant); the
            // reference borrows self, so the box cannot be freed or replaced meanwhile.
            Ref::Big(unsafe { &*self.big_ptr() })
        } else {
            // SAFETY: bit 0 clear: `self.ptr` is a valid S (invariant), and Tagged is
            // repr(transparent) over that word (PhantomData is zero-sized, alignment 1), as S
            // is (the `Small` contract), so `&self` may be viewed as `&S`.
            Ref::Small(unsafe { &*(self as *const Self as *const S) })
        }
    }

    #[inline]
    pub fn get_mut(&mut self) -> Mut<'_, S, B> {
        if self.is_big() {
            // SAFETY: as in `get`, with the exclusive borrow of self making `&mut B` unique.
            Mut::Big(unsafe { &mut *self.big_ptr() })
        } else {
            // SAFETY: as in `get`. Whatever the caller writes through `&mut S` is a valid S,
            // hence a valid ThinBytes, whose pointer has bit 0 clear: the invariant holds
            // afterwards (still a small value).
            Mut::Small(unsafe { &mut *(self as *mut Self as *mut S) })
        }
    }

    pub fn into_inner(self) -> Own<S, B> {
        let me = ManuallyDrop::new(self);
        if me.is_big() {
            // SAFETY: the box is ours (invariant) and `me` is never dropped, so ownership
            // moves to the returned Box exactly once.
            Own::Big(unsafe { Box::from_raw(me.big_ptr()) })
        } else {
            // SAFETY: the word is a valid S (invariant, same layout); `me` is never dropped,
            // so the S is moved out exactly once.
            Own::Small(unsafe { ptr::read(&*me as *const Self as *const S) })
        }
    }
}

impl<S: Small, B> Drop for Tagged<S, B> {
    fn drop(&mut self) {
        if self.is_big() {
            // SAFETY: the box is ours (invariant) and self is being dropped: freed once.
            drop(unsafe { Box::from_raw(self.big_ptr()) });
        } else {
            // SAFETY: the word is a valid S we own (invariant), with S's layout; dropped once.
            unsafe { ptr::drop_in_place(self as *mut Self as *mut S) }
        }
    }
}

impl<S: Small + Clone, B: Clone> Clone for Tagged<S, B> {
    fn clone(&self) -> Self {
        match self.get() {
            Ref::Small(s) => Tagged::small(s.clone()),
            Ref::Big(b) => Tagged::big(Box::new(b.clone())),
        }
    }
}

impl<S: Small + fmt::Debug, B: fmt::Debug> fmt::Debug for Tagged<S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            Ref::Small(s) => f.debug_tuple("Small").field(s).finish(),
            Ref::Big(b) => f.debug_tuple("Big").field(b).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn sizes() {
        assert_eq!(mem::size_of::<ThinBytes>(), 8);
        assert_eq!(mem::size_of::<Tagged<ThinBytes, u64>>(), 8);
    }

    #[test]
    fn thin_bytes_ops() {
        let mut t = ThinBytes::new();
        assert!(t.is_empty());
        assert_eq!(t.as_slice(), b"");
        assert_eq!(t.alloc_size(), 0);
        t.splice(0..0, b"hello");
        assert_eq!(&*t, b"hello");
        assert_eq!(t.alloc_size(), 16);
        t.splice(1..4, b"EYYYY");
        assert_eq!(&*t, b"hEYYYYo");
        t.splice(2..6, b"");
        assert_eq!(&*t, b"hEo");
        t.splice(3..3, b"!!");
        assert_eq!(&*t, b"hEo!!");
        t.as_mut_slice()[0] = b'H';
        let c = t.clone();
        assert_eq!(c, t);
        t.resize(2);
        assert_eq!(&*t, b"HE");
        t.resize(4);
        assert_eq!(&*t, b"HE\0\0");
        t.splice(0..4, b"");
        assert!(t.is_empty());
        assert_eq!(&*c, b"HEo!!");
        let big: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let b = ThinBytes::from(big.clone());
        assert_eq!(&*b, &big[..]);
        assert_eq!(format!("{:?}", ThinBytes::from_slice(b"ab")), "[97, 98]");
    }

    #[test]
    #[should_panic(expected = "out of")]
    fn splice_out_of_bounds_panics() {
        let mut t = ThinBytes::from_slice(b"abc");
        t.splice(2..5, b"");
    }

    #[test]
    fn header_sizes() {
        assert_eq!(hdr_len(0), SHORT_HDR);
        assert_eq!(hdr_len(u32::MAX as usize - 1), SHORT_HDR);
        assert_eq!(hdr_len(u32::MAX as usize), LONG_HDR);
    }

    #[repr(transparent)]
    #[derive(Clone, Debug, Default)]
    struct Wrap(ThinBytes);
    // SAFETY: repr(transparent) over ThinBytes.
    unsafe impl Small for Wrap {}

    #[derive(Clone, Debug)]
    struct BigOne {
        items: Vec<Rc<()>>,
    }

    #[test]
    fn tagged_switches_and_drops() {
        let tracker = Rc::new(());
        let mut t: Tagged<Wrap, BigOne> = Tagged::small(Wrap(ThinBytes::from_slice(b"abc")));
        assert!(!t.is_big());
        match t.get_mut() {
            Mut::Small(w) => w.0.splice(3..3, b"def"),
            Mut::Big(_) => panic!("small expected"),
        }
        match t.get() {
            Ref::Small(w) => assert_eq!(&*w.0, b"abcdef"),
            Ref::Big(_) => panic!("small expected"),
        }
        // Replace the small value wholesale, then switch to big.
        if let Mut::Small(w) = t.get_mut() {
            *w = Wrap::default();
        }
        assert!(matches!(t.get(), Ref::Small(w) if w.0.is_empty()));
        t = Tagged::big(Box::new(BigOne { items: vec![tracker.clone(); 3] }));
        assert!(t.is_big());
        assert_eq!(Rc::strong_count(&tracker), 4);
        if let Mut::Big(b) = t.get_mut() {
            b.items.push(tracker.clone());
        }
        let c = t.clone();
        assert_eq!(Rc::strong_count(&tracker), 9);
        drop(c);
        assert_eq!(Rc::strong_count(&tracker), 5);
        match t.into_inner() {
            Own::Big(b) => assert_eq!(b.items.len(), 4),
            Own::Small(_) => panic!("big expected"),
        }
        assert_eq!(Rc::strong_count(&tracker), 1);
        let s: Tagged<Wrap, BigOne> = Tagged::small(Wrap(ThinBytes::from_slice(b"xyz")));
        let s2 = s.clone();
        match s.into_inner() {
            Own::Small(w) => assert_eq!(&*w.0, b"xyz"),
            Own::Big(_) => panic!("small expected"),
        }
        assert!(format!("{s2:?}").starts_with("Small"));
    }
}
