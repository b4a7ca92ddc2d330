//! The manifest of a multi-part AOF (Redis 7.0): one line per file,
//! `file <name> seq <n> type <b|h|i>\n`, base first, then history, then the incremental files in
//! order.

use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Base,
    History,
    Incr,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::Base => 'b',
            Kind::History => 'h',
            Kind::Incr => 'i',
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    pub name: String,
    pub seq: u64,
    pub kind: Kind,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<FileInfo>,
    pub history: Vec<FileInfo>,
    pub incr: Vec<FileInfo>,
    /// Sequence numbers last used for a base and for an incremental file.
    pub base_seq: u64,
    pub incr_seq: u64,
}

/// Quotes a name as Redis's sdscatrepr when it holds anything a plain word cannot.
fn repr(name: &str) -> String {
    let plain = !name.is_empty()
        && name.bytes().all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\'' && c != b'\\');
    if plain {
        return name.to_string();
    }
    let mut s = String::from("\"");
    for c in name.bytes() {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            c if c.is_ascii_graphic() || c == b' ' => s.push(c as char),
            c => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('"');
    s
}

/// Splits a line into words as Redis's sdssplitargs: blanks separate, double quotes allow
/// escapes (`\n`, `\xHH`...), single quotes allow `\'`. None on unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= line.len() {
            return Some(out);
        }
        let mut cur = Vec::new();
        let (mut inq, mut insq) = (false, false);
        loop {
            let c = line.get(i).copied();
            if inq {
                match c {
                    None => return None,
                    Some(b'\\') if line.get(i + 1) == Some(&b'x') && i + 3 < line.len() => {
                        let h = std::str::from_utf8(&line[i + 2..i + 4]).ok();
                        match h.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                            Some(v) => {
                                cur.push(v);
                                i += 3;
                            }
                            None => cur.push(b'\\'),
                        }
                    }
                    Some(b'\\') if i + 1 < line.len() => {
                        i += 1;
                        cur.push(match line[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            c => c,
                        });
                    }
                    Some(b'"') => {
                        if line.get(i + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(c) => cur.push(c),
                }
            } else if insq {
                match c {
                    None => return None,
                    Some(b'\\') if line.get(i + 1) == Some(&b'\'') => {
                        i += 1;
                        cur.push(b'\'');
                    }
                    Some(b'\'') => {
                        if line.get(i + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(c) => cur.push(c),
                }
            } else {
                match c {
                    None => break,
                    Some(c) if c.is_ascii_whitespace() => break,
                    Some(b'"') => inq = true,
                    Some(b'\'') => insq = true,
                    Some(c) => cur.push(c),
                }
            }
            i += 1;
        }
        out.push(cur);
    }
}

impl Manifest {
    /// The manifest's text.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let all = self.base.iter().chain(&self.history).chain(&self.incr);
        for f in all {
            let _ = writeln!(s, "file {} seq {} type {}", repr(&f.name), f.seq, f.kind.letter());
        }
        s
    }

    /// Parses a manifest, with Redis's checks: every line ends with a newline, at most one
    /// base, incremental files in increasing order.
    pub fn parse(text: &[u8]) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        if text.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        let mut rest = text;
        while !rest.is_empty() {
            let (line, more) = match rest.iter().position(|&c| c == b'\n') {
                Some(p) => (&rest[..p], &rest[p + 1..]),
                None => return Err("The AOF manifest file is invalid format".into()),
            };
            rest = more;
            if line.first() == Some(&b'#') {
                continue;
            }
            if line.len() > 1024 {
                return Err("The AOF manifest file contains too long line".into());
            }
            let words = split_args(line).ok_or("Invalid AOF manifest file format")?;
            if words.len() < 6 || words.len() % 2 != 0 {
                return Err("Invalid AOF manifest file format".into());
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for kv in words.chunks(2) {
                match &kv[0][..] {
                    b"file" => name = Some(String::from_utf8_lossy(&kv[1]).into_owned()),
                    b"seq" => {
                        let s = std::str::from_utf8(&kv[1]).ok().and_then(|s| s.parse().ok());
                        seq = Some(s.ok_or("Invalid AOF manifest file format")?);
                    }
                    b"type" => {
                        kind = Some(match &kv[1][..] {
                            b"b" => Kind::Base,
                            b"h" => Kind::History,
                            b"i" => Kind::Incr,
                            _ => return Err("Unknown AOF file type".into()),
                        })
                    }
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err("Invalid AOF manifest file format".into());
            };
            if name.contains('/') {
                return Err("File can't be a path, just a filename".into());
            }
            let info = FileInfo { name, seq, kind };
            match kind {
                Kind::Base => {
                    if m.base.is_some() {
                        return Err("Found duplicate base file information".into());
                    }
                    m.base_seq = seq;
                    m.base = Some(info);
                }
                Kind::History => m.history.push(info),
                Kind::Incr => {
                    if seq <= m.incr_seq {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    m.incr_seq = seq;
                    m.incr.push(info);
                }
            }
        }
        if m.base.is_none() && m.incr.is_empty() && m.history.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        Ok(m)
    }

    /// Names a new base file (its predecessor, if any, becomes history) and returns it.
    pub fn new_base(&mut self, filename: &str, rdb: bool) -> String {
        if let Some(b) = self.base.take() {
            self.history.push(FileInfo { kind: Kind::History, ..b });
        }
        self.base_seq += 1;
        let ext = if rdb { "rdb" } else { "aof" };
        let name = format!("{filename}.{}.base.{ext}", self.base_seq);
        self.base = Some(FileInfo { name: name.clone(), seq: self.base_seq, kind: Kind::Base });
        name
    }

    /// Names a new incremental file, appended after the others, and returns it.
    pub fn new_incr(&mut self, filename: &str) -> String {
        self.incr_seq += 1;
        let name = format!("{filename}.{}.incr.aof", self.incr_seq);
        self.incr.push(FileInfo { name: name.clone(), seq: self.incr_seq, kind: Kind::Incr });
        name
    }

    /// Moves every incremental file but the last to history (after a rewrite whose base holds
    /// their content).
    pub fn incr_to_history_but_last(&mut self) {
        let keep = self.incr.pop();
        for f in self.incr.drain(..) {
            self.history.push(FileInfo { kind: Kind::History, ..f });
        }
        self.incr.extend(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_redis_format() {
        let text = "file appendonly.aof.2.base.aof seq 2 type b\n\
                    file appendonly.aof.2.incr.aof seq 2 type i\n\
                    file appendonly.aof.3.incr.aof seq 3 type i\n";
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.2.base.aof");
        assert_eq!(m.incr.len(), 2);
        assert_eq!((m.base_seq, m.incr_seq), (2, 3));
        assert_eq!(m.to_text(), text);
    }

    #[test]
    fn refuses_bad_manifests() {
        assert!(Manifest::parse(b"").is_err());
        assert!(Manifest::parse(b"file a seq 1 type b").is_err()); // no newline
        assert!(Manifest::parse(b"file a seq 1 type b\nfile c seq 2 type b\n").is_err());
        assert!(Manifest::parse(b"file a seq 2 type i\nfile c seq 1 type i\n").is_err());
        assert!(Manifest::parse(b"file a seq x type i\n").is_err());
        assert!(Manifest::parse(b"file ../a seq 1 type i\n").is_err());
    }

    #[test]
    fn quoted_names() {
        let mut m = Manifest::default();
        m.new_base("my aof", false);
        let t = m.to_text();
        assert_eq!(t, "file \"my aof.1.base.aof\" seq 1 type b\n");
        assert_eq!(Manifest::parse(t.as_bytes()).unwrap(), m);
    }

    #[test]
    fn rewrite_moves_old_files_to_history() {
        let mut m = Manifest::default();
        m.new_base("a.aof", false);
        m.new_incr("a.aof");
        m.new_incr("a.aof");
        m.new_base("a.aof", false);
        m.incr_to_history_but_last();
        assert_eq!(m.history.len(), 2);
        assert_eq!(m.incr[0].name, "a.aof.2.incr.aof");
        assert_eq!(m.base.as_ref().unwrap().name, "a.aof.2.base.aof");
    }
}
