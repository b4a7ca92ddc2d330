//! Glob-style pattern matching with the exact semantics of Redis 7.0's
//! `stringmatchlen` (used by KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET, ...).
//!
//! Pattern syntax, as Redis interprets it:
//!
//! * `*` matches any sequence of bytes; runs of `*` act as one.
//! * `?` matches exactly one byte.
//! * `[...]` matches one byte from a set; `[^...]` negates the set. Inside a
//!   set, `\x` stands for the byte `x` (compared case-sensitively even when
//!   `nocase` is set), `a-z` is an inclusive range whose ends are swapped when
//!   reversed (`[z-a]` == `[a-z]`) and compared as *signed* chars (bytes >=
//!   0x80 sort below 0x00), and any other byte stands for itself. `]` right
//!   after `[` (or `[^`) closes an empty set: `[]` matches nothing and `[^]`
//!   matches any byte. A set that is never closed extends to the end of the
//!   pattern and still matches one byte (`[ab` behaves like `[ab]` at the end).
//!   `[a-]` is the range `a`..`]` followed by an unterminated set.
//! * `\x` matches the byte `x` literally; a trailing lone `\` matches `\`.
//! * any other byte matches itself (ASCII case-insensitively with `nocase`).
//!
//! Quirks reproduced on purpose:
//!
//! * An empty string is matched only by the empty pattern: `*` does **not**
//!   match `""`. (KEYS and SCAN special-case a pattern of exactly `*` to
//!   return every key, including `""`; callers must do the same.)
//! * Redis 7.0 stops recursing after 1000 nested `*`: a pattern with more than
//!   1000 groups of `*` that are followed by something else never matches.
//!
//! The implementation is iterative (no recursion, no exponential blow-up):
//! every non-`*` element consumes exactly one byte, so backtracking to the
//! most recent `*` only is sufficient, giving O(pattern * string) worst case.

/// Maximum number of non-trailing `*` groups Redis 7.0 will recurse through.
const MAX_STAR_NESTING: usize = 1000;

/// `tolower` in the C locale: only ASCII `A`-`Z` change.
#[inline]
fn lower(c: i32) -> i32 {
    if (b'A' as i32..=b'Z' as i32).contains(&c) {
        c + 32
    } else {
        c
    }
}

/// C `char` is signed on the platforms Redis is usually built for.
#[inline]
fn signed(b: u8) -> i32 {
    b as i8 as i32
}

#[inline]
fn byte_eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        lower(signed(a)) == lower(signed(b))
    } else {
        a == b
    }
}

/// Matches the single-byte element (anything but `*`) starting at `p[i]`
/// against `c`. Returns whether it matched and the index just past the
/// element.
fn match_one(p: &[u8], i: usize, c: u8, nocase: bool) -> (bool, usize) {
    let plen = p.len();
    match p[i] {
        b'?' => (true, i + 1),
        b'\\' if plen - i >= 2 => (byte_eq(p[i + 1], c, nocase), i + 2),
        b'[' => {
            let mut j = i + 1;
            let negate = j < plen && p[j] == b'^';
            if negate {
                j += 1;
            }
            let mut matched = false;
            let end = loop {
                if j >= plen {
                    // Unterminated set: it runs to the end of the pattern.
                    break plen;
                }
                let b = p[j];
                if b == b'\\' && plen - j >= 2 {
                    // Escapes inside a set ignore `nocase`.
                    if p[j + 1] == c {
                        matched = true;
                    }
                    j += 2;
                } else if b == b']' {
                    break j + 1;
                } else if plen - j >= 3 && p[j + 1] == b'-' {
                    let (mut lo, mut hi) = (signed(b), signed(p[j + 2]));
                    if lo > hi {
                        std::mem::swap(&mut lo, &mut hi);
                    }
                    let mut ch = signed(c);
                    if nocase {
                        lo = lower(lo);
                        hi = lower(hi);
                        ch = lower(ch);
                    }
                    if ch >= lo && ch <= hi {
                        matched = true;
                    }
                    j += 3;
                } else {
                    if byte_eq(b, c, nocase) {
                        matched = true;
                    }
                    j += 1;
                }
            };
            (matched != negate, end)
        }
        b => (byte_eq(b, c, nocase), i + 1),
    }
}

/// Index just past the element starting at `p[i]` (which is not `*`).
fn skip_one(p: &[u8], i: usize) -> usize {
    // The element boundaries do not depend on the byte being matched.
    match_one(p, i, 0, false).1
}

/// Number of `*` groups that are followed by some other element. Redis
/// recurses once per such group and gives up past `MAX_STAR_NESTING`.
fn star_nesting(p: &[u8]) -> usize {
    let mut groups = 0;
    let mut i = 0;
    while i < p.len() {
        if p[i] == b'*' {
            while i < p.len() && p[i] == b'*' {
                i += 1;
            }
            if i < p.len() {
                groups += 1;
            }
        } else {
            i = skip_one(p, i);
        }
    }
    groups
}

/// Returns whether `string` matches the glob `pattern`, exactly as Redis
/// 7.0's `stringmatchlen(pattern, string, nocase)` would.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let p = pattern;
    let s = string;
    if s.is_empty() {
        // Redis' matching loop never runs on an empty string.
        return p.is_empty();
    }
    let mut pi = 0;
    let mut si = 0;
    // (pattern index after the last `*` group, string index it resumes at)
    let mut backtrack: Option<(usize, usize)> = None;
    let mut checked_nesting = false;
    loop {
        if pi < p.len() && p[pi] == b'*' {
            while pi < p.len() && p[pi] == b'*' {
                pi += 1;
            }
            if pi == p.len() {
                return true;
            }
            if !checked_nesting {
                if star_nesting(p) > MAX_STAR_NESTING {
                    return false;
                }
                checked_nesting = true;
            }
            backtrack = Some((pi, si));
            continue;
        }
        if si == s.len() {
            if pi == p.len() {
                return true;
            }
            // Only `*` could match the empty rest; none is at `pi`.
        } else if pi < p.len() {
            let (ok, next) = match_one(p, pi, s[si], nocase);
            if ok {
                pi = next;
                si += 1;
                continue;
            }
        }
        // Mismatch: let the most recent `*` swallow one more byte.
        match backtrack {
            Some((bp, bs)) if bs < s.len() => {
                backtrack = Some((bp, bs + 1));
                pi = bp;
                si = bs + 1;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    fn mb(p: &[u8], s: &[u8]) -> bool {
        glob_match(p, s, false)
    }

    // Every expectation below was checked against Redis 7.0 with KEYS.

    #[test]
    fn literals_and_question_mark() {
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abd"));
        assert!(!m("abc", "ab"));
        assert!(!m("ab", "abc"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("???", "xyz"));
        assert!(!m("???", "xy"));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(!m("?", ""));
    }

    #[test]
    fn stars() {
        assert!(m("*", "anything"));
        assert!(m("a*", "a"));
        assert!(m("a*", "abc"));
        assert!(m("*c", "abc"));
        assert!(m("a*c", "ac"));
        assert!(m("a*c", "abbbc"));
        assert!(!m("a*c", "abbbd"));
        assert!(m("a**c", "abc"));
        assert!(m("***", "x"));
        assert!(m("a*b*c", "aXbYc"));
        assert!(m("a*b*c", "abcbc"));
        assert!(!m("a*b*c", "acb"));
        assert!(m("*a*", "bab"));
        assert!(m("h*llo*", "hello world"));
        // The empty string is only matched by the empty pattern.
        assert!(!m("*", ""));
        assert!(!m("**", ""));
    }

    #[test]
    fn sets() {
        assert!(m("[abc]", "b"));
        assert!(!m("[abc]", "d"));
        assert!(m("[^abc]", "d"));
        assert!(!m("[^abc]", "a"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[a-c]x", "dx"));
        assert!(m("[c-a]", "b"), "reversed range");
        assert!(m("[^a-c]", "z"));
        assert!(!m("[^c-a]", "a"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(m("[a-]", "_"), "range a..] then unterminated");
        assert!(m("[a-]", "]"));
        assert!(!m("[a-]", "-"));
        assert!(!m("[a-]", "b"));
        assert!(m("[-a]", "-"));
        // `b-]` is a range b..] (swapped), and the set is then unterminated.
        assert!(!m("[ab-]", "-"));
        assert!(m("[ab-]", "_"));
        // `[]` is an empty set, `[^]` matches any byte.
        assert!(!m("[]]", "]"));
        assert!(!m("[]", "a"));
        assert!(m("[^]", "a"));
        assert!(!m("[]a]", "]a"));
        assert!(!m("[]a]", "a"));
        assert!(m("[^]a", "xa"));
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-]", "-"));
        assert!(!m("[\\-]", "\\"));
        // `\]` escapes the `]`, so the set is unterminated.
        assert!(!m("[a\\]", "\\"));
        assert!(m("[a\\]", "]"));
        assert!(m("[a\\]", "a"));
        // A lone trailing backslash inside a set is literal.
        assert!(m("[a\\", "\\"));
        assert!(m("[*]", "*"));
        assert!(!m("[*]", "a"));
        assert!(m("[?]", "?"));
        assert!(!m("[?]", "a"));
        assert!(m("[[]", "["));
    }

    #[test]
    fn unterminated_sets() {
        assert!(!m("[", "["));
        assert!(!m("[", "a"));
        assert!(!m("[", ""));
        assert!(m("[a", "a"));
        assert!(!m("[a", "b"));
        assert!(m("[^", "a"));
        assert!(m("[^", "^"));
        assert!(m("[^a", "b"));
        assert!(!m("[^a", "a"));
        assert!(m("x[abc", "xc"));
        assert!(!m("x[abc", "xcd"));
        assert!(m("*[ab", "zzb"));
    }

    #[test]
    fn escapes() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("\\?", "?"));
        assert!(!m("\\?", "a"));
        assert!(m("\\[a]", "[a]"));
        assert!(m("\\a", "a"));
        assert!(m("a\\", "a\\"), "trailing backslash is literal");
        assert!(!m("a\\", "a"));
        assert!(m("\\", "\\"));
        assert!(m("\\\\", "\\"));
        assert!(m("*\\*", "abc*"));
        assert!(!m("*\\*", "abc"));
    }

    #[test]
    fn high_bytes_are_signed_in_ranges() {
        assert!(mb(b"\xff", b"\xff"));
        assert!(mb(b"[\x80-\xff]", b"\x90"));
        assert!(!mb(b"[\x80-\xff]", b"a"));
        // a(97)..\xff(-1) swaps to -1..97: includes \x00..a and \xff only.
        assert!(mb(b"[a-\xff]", b"\xff"));
        assert!(mb(b"[a-\xff]", b"0"));
        assert!(!mb(b"[a-\xff]", b"\x80"));
        assert!(!mb(b"[a-\xff]", b"b"));
        assert!(mb(b"[\x00-\x7f]", b"\x00"));
        assert!(!mb(b"[\x00-\x7f]", b"\x80"));
        assert!(mb(b"a\x00*", b"a\x00bc"));
        assert!(mb(b"?", b"\x00"));
    }

    #[test]
    fn nocase() {
        let n = |p: &str, s: &str| glob_match(p.as_bytes(), s.as_bytes(), true);
        assert!(n("ABC", "abc"));
        assert!(n("a*C", "AbC"));
        assert!(n("[abc]", "B"));
        assert!(n("[A-C]", "b"));
        assert!(n("[a-c]", "B"));
        assert!(n("\\A", "a"));
        // Escapes inside a set stay case-sensitive.
        assert!(!n("[\\A]", "a"));
        assert!(n("[\\A]", "A"));
        // Range ends are lowered: [A-z] becomes a..z, so '[' no longer fits.
        assert!(!n("[A-z]", "["));
        assert!(m("[A-z]", "["));
        assert!(n("maxmemory*", "MAXMEMORY-policy"));
    }

    #[test]
    fn nesting_limit() {
        let s = "a".repeat(1100);
        assert!(m(&"*a".repeat(1000), &s));
        assert!(m(&("*a".repeat(1000) + "*"), &s));
        assert!(!m(&"*a".repeat(1001), &s));
        assert!(!m(&("*a".repeat(1001) + "*"), &s));
        // A trailing group does not count.
        assert!(m(&"a*".repeat(1001), &"a".repeat(1001)));
        assert!(!m(&"a*".repeat(1002), &"a".repeat(1100)));
        // Escaped or bracketed stars are not groups.
        assert!(m(&("\\*".repeat(1500) + "*"), &"*".repeat(1600)));
        assert!(m(&("[*]".repeat(1500) + "*"), &"*".repeat(1600)));
    }

    #[test]
    fn no_exponential_blowup() {
        let s = "a".repeat(5000);
        let p = "a*".repeat(30) + "b";
        assert!(!m(&p, &s));
        let p = "*a".repeat(900) + "*b";
        assert!(!m(&p, &s));
        let p = "*?".repeat(900) + "*b";
        assert!(!m(&p, &s));
        let p = "*".repeat(100_000) + "b";
        assert!(!m(&p, &s));
        assert!(m(&p, &(s.clone() + "b")));
    }
}
