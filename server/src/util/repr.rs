//! Redis's quoted representation of binary strings (MONITOR, CLIENT LIST, CONFIG REWRITE), and
//! lower-case hex (digests, password hashes).

/// Lower-case hex digits of `bytes`, two per byte.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends `s` in double quotes, escaping `\\ \" \n \r \t \a \b` and other non-printable bytes
/// as `\xHH`.
pub fn quote_into(out: &mut String, s: &[u8]) {
    out.push('"');
    for &b in s {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                out.push_str("\\x");
                out.push(char::from_digit((b >> 4) as u32, 16).unwrap());
                out.push(char::from_digit((b & 15) as u32, 16).unwrap());
            }
        }
    }
    out.push('"');
}

pub fn quote(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    quote_into(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes() {
        assert_eq!(super::quote(b"a\"b\\\n\x01\xff"), "\"a\\\"b\\\\\\n\\x01\\xff\"");
    }
}
