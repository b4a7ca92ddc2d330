//! String collation for SORT ... ALPHA and Lua's string comparisons, as Redis: the C library's
//! `strcoll` under the process's `LC_COLLATE`, which Redis takes from the environment at start-up
//! (`setlocale(LC_COLLATE, "")`) and Redis 7.2+ from `locale-collate` ("" meaning the
//! environment). In the C and C.UTF-8 locales `strcoll` is `strcmp`, so those compare bytes
//! without a call into the C library.
//!
//! The process locale is set once, before any thread starts: `setlocale` is not safe to call
//! while other threads may use the locale, so `locale-collate` is not changed at run time.

use std::cmp::Ordering;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering as MemOrder};

/// Redis 7.2's reason for a locale it cannot set.
const INVALID: &str = "Invalid locale name";

/// Whether `strcoll` is known to be `strcmp` (the C locale, the state before [`init`]).
static BYTES: AtomicBool = AtomicBool::new(true);

/// Checks that `name` is a locale the C library has, without changing the process's. "" (the
/// environment's) always passes: an environment naming a locale the system lacks leaves the C
/// locale, as Redis 7.0 does.
pub fn check(name: &[u8]) -> Result<(), &'static str> {
    if name.is_empty() {
        return Ok(());
    }
    let c = CString::new(name).map_err(|_| INVALID)?;
    // SAFETY: `c` is a NUL-terminated string that outlives the call; a null base asks for a
    // new locale object, which is ours alone and freed right after.
    let loc = unsafe { libc::newlocale(libc::LC_COLLATE_MASK, c.as_ptr(), std::ptr::null_mut()) };
    if loc.is_null() {
        return Err(INVALID);
    }
    // SAFETY: `loc` came from newlocale above and is used nowhere else.
    unsafe { libc::freelocale(loc) };
    Ok(())
}

/// Sets the process's `LC_COLLATE` to `name` ("": the environment's; see [`check`]). Called
/// from `main` before any thread exists.
pub fn init(name: &[u8]) -> Result<(), &'static str> {
    let c = CString::new(name).map_err(|_| INVALID)?;
    // SAFETY: no other thread exists yet (the caller's contract), so nothing reads the locale
    // while it changes; `c` is NUL-terminated and outlives the call.
    let set = unsafe { libc::setlocale(libc::LC_COLLATE, c.as_ptr()) };
    if set.is_null() {
        return if name.is_empty() { Ok(()) } else { Err(INVALID) };
    }
    // SAFETY: setlocale returned a NUL-terminated name it owns; it is copied before any other
    // locale call could overwrite it.
    let effective = unsafe { std::ffi::CStr::from_ptr(set) }.to_bytes().to_vec();
    BYTES.store(is_bytewise(&effective), MemOrder::Relaxed);
    Ok(())
}

/// Locales whose collation glibc implements as `strcmp`.
fn is_bytewise(name: &[u8]) -> bool {
    matches!(name, b"C" | b"POSIX" | b"C.UTF-8" | b"C.utf8")
}

/// `strcoll` of two strings without NUL bytes (callers cut them at the first, as C does).
pub fn cmp(a: &[u8], b: &[u8]) -> Ordering {
    if BYTES.load(MemOrder::Relaxed) {
        return a.cmp(b);
    }
    match (CString::new(a), CString::new(b)) {
        (Ok(x), Ok(y)) => {
            // SAFETY: both are NUL-terminated strings that outlive the call; the locale is
            // only set before threads start (see `init`).
            let r = unsafe { libc::strcoll(x.as_ptr(), y.as_ptr()) };
            r.cmp(&0)
        }
        // Unreachable for callers that cut at NUL; bytes are a total order all the same.
        _ => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_c_locale_compares_bytes_and_names_are_checked() {
        assert_eq!(cmp(b"B", b"a"), Ordering::Less);
        assert_eq!(cmp(b"abc", b"abd"), Ordering::Less);
        assert_eq!(cmp(b"", b""), Ordering::Equal);
        assert!(check(b"C").is_ok());
        assert!(check(b"").is_ok());
        assert_eq!(check(b"no_SUCH.locale"), Err("Invalid locale name"));
        assert_eq!(check(b"C\0"), Err("Invalid locale name"));
    }
}
