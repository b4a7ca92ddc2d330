//! Reading AOF files: the command parser (pure, fuzzed) and the replay of a file's commands
//! through the dispatcher with a fake client.

use std::sync::Arc;

use bytes::Bytes;

use crate::client::{Client, ClientShared};
use crate::persist::loading::Tracker;
use crate::server::Server;

/// Why a file stops before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The file ends inside a command (or an annotation).
    Truncated,
    /// Bytes that are not a command at `offset`.
    Format { offset: usize },
}

/// What [`next`] found at a position.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    /// A command and the offset just after it.
    Command(Vec<Bytes>, usize),
    /// A `#...` annotation line (`#TS:<unix secs>`) and the offset after it.
    Annotation(usize),
}

/// Reads a `<prefix><digits>\r\n` line at `pos`: the number and the offset after the line.
fn number_line(buf: &[u8], pos: usize, prefix: u8) -> Result<(u64, usize), ParseError> {
    let fmt = Err(ParseError::Format { offset: pos });
    match buf.get(pos) {
        None => return Err(ParseError::Truncated),
        Some(&c) if c != prefix => return fmt,
        _ => {}
    }
    let mut i = pos + 1;
    let mut v: u64 = 0;
    let mut digits = 0;
    loop {
        match buf.get(i) {
            None => return Err(ParseError::Truncated),
            Some(c @ b'0'..=b'9') => {
                v = match v.checked_mul(10).and_then(|v| v.checked_add(u64::from(c - b'0'))) {
                    Some(v) => v,
                    None => return fmt,
                };
                digits += 1;
            }
            Some(b'\r') => break,
            Some(_) => return fmt,
        }
        i += 1;
    }
    match buf.get(i + 1) {
        None => Err(ParseError::Truncated),
        Some(b'\n') if digits > 0 => Ok((v, i + 2)),
        Some(_) => fmt,
    }
}

/// Parses the item at `pos` of `buf`; `None` at the end of the buffer.
pub fn next(buf: &Bytes, pos: usize) -> Result<Option<Item>, ParseError> {
    if pos >= buf.len() {
        return Ok(None);
    }
    if buf[pos] == b'#' {
        return match buf[pos..].iter().position(|&c| c == b'\n') {
            Some(p) => Ok(Some(Item::Annotation(pos + p + 1))),
            None => Err(ParseError::Truncated),
        };
    }
    let (argc, mut i) = number_line(buf, pos, b'*')?;
    if argc < 1 || argc > i32::MAX as u64 {
        return Err(ParseError::Format { offset: pos });
    }
    let mut argv = Vec::with_capacity((argc as usize).min(1024));
    for _ in 0..argc {
        let (len, at) = number_line(buf, i, b'$')?;
        let len = usize::try_from(len).map_err(|_| ParseError::Format { offset: i })?;
        let end = at.checked_add(len).ok_or(ParseError::Format { offset: i })?;
        if end.saturating_add(2) > buf.len() {
            return Err(ParseError::Truncated);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(ParseError::Format { offset: end });
        }
        argv.push(buf.slice(at..end));
        i = end + 2;
    }
    Ok(Some(Item::Command(argv, i)))
}

/// What loading one file did.
#[derive(Debug, Default)]
pub struct Loaded {
    pub commands: u64,
    /// Set when the file ended inside a command or a transaction and that tail was dropped:
    /// the offset up to which the file is valid.
    pub valid_up_to: Option<usize>,
}

/// A client that runs a file's commands: no connection, its replies dropped.
pub fn fake_client() -> Client {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let id = u64::MAX;
    let shared =
        Arc::new(ClientShared::new(id, String::new(), String::new(), -1, true, tx.clone()));
    let mut c = Client::new(id, shared, true, tx);
    c.aof_loader = true;
    c
}

/// Runs every command of `data` (the content of the file `name`) from offset `start` (after an
/// RDB preamble), in slices under the core lock (between them clients are answered and
/// `key-load-delay` sleeps: see `persist::loading`). A file that
/// ends inside a command or an unfinished MULTI reports where its valid part ends; the caller
/// decides (aof-load-truncated). Bad bytes in the middle are an error naming the file and the
/// offset.
pub fn replay(
    server: &Arc<Server>,
    tracker: &mut Tracker<'_>,
    data: &Bytes,
    name: &str,
    start: usize,
) -> Result<Loaded, String> {
    let mut client = fake_client();
    let mut guard = None;
    let mut out = Vec::new();
    let mut loaded = Loaded::default();
    let mut pos = start;
    // Where the file was last valid outside a transaction.
    let mut before_multi = start;
    loop {
        let item = match next(data, pos) {
            Ok(Some(i)) => i,
            Ok(None) => break,
            Err(ParseError::Truncated) => {
                let valid = if client.multi.is_some() { before_multi } else { pos };
                loaded.valid_up_to = Some(valid);
                return Ok(loaded);
            }
            Err(ParseError::Format { offset }) => {
                return Err(format!(
                    "Bad file format reading the append only file {name} at offset {offset}: \
                     make a backup of your AOF file, then use ./redis-check-aof --fix \
                     <filename.manifest>"
                ))
            }
        };
        let (argv, end) = match item {
            Item::Annotation(end) => {
                pos = end;
                continue;
            }
            Item::Command(argv, end) => (argv, end),
        };
        let core = guard.get_or_insert_with(|| server.core.lock());
        let mut module_cmd = None;
        match crate::cmd::resolve(server, core, &argv, &mut module_cmd) {
            crate::cmd::Lookup::Found(c) if c.handler.is_some() => {}
            // Known to Redis, not to this build: refused rather than skipped, so that nothing
            // of the file is silently dropped.
            crate::cmd::Lookup::Found(c) => {
                return Err(format!(
                    "Command '{}' of the append only file {name} at offset {pos} is not \
                     implemented in Vireo yet",
                    c.fullname
                ))
            }
            _ => {
                return Err(format!(
                    "Unknown command '{}' reading the append only file {name} at offset {pos}",
                    String::from_utf8_lossy(&argv[0])
                ))
            }
        }
        if client.multi.is_none() && argv[0].eq_ignore_ascii_case(b"multi") {
            before_multi = pos;
        }
        out.clear();
        crate::cmd::execute(server, core, &mut client, &argv, &mut out);
        if out.first() == Some(&b'-') {
            tracing::debug!(
                "AOF {name}: command at offset {pos} failed: {}",
                String::from_utf8_lossy(&out[1..out.len().saturating_sub(2)])
            );
        }
        loaded.commands += 1;
        pos = end;
        if tracker.item(pos) {
            guard = None;
            tracker.pause();
        }
    }
    if client.multi.is_some() {
        tracing::warn!("Revert incomplete MULTI/EXEC transaction in AOF file {name}");
        let core = guard.get_or_insert_with(|| server.core.lock());
        crate::cmd::multi::discard_transaction(core, &mut client);
        loaded.valid_up_to = Some(before_multi);
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(data: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ParseError> {
        let data = Bytes::copy_from_slice(data);
        let mut pos = 0;
        let mut out = Vec::new();
        while let Some(i) = next(&data, pos)? {
            match i {
                Item::Command(a, e) => {
                    out.push(a.iter().map(|b| b.to_vec()).collect());
                    pos = e;
                }
                Item::Annotation(e) => pos = e,
            }
        }
        Ok(out)
    }

    #[test]
    fn parses_commands_and_annotations() {
        let got = items(b"#TS:1700000000\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n");
        assert_eq!(
            got.unwrap(),
            vec![vec![b"GET".to_vec(), b"k".to_vec()], vec![b"PING".to_vec()]]
        );
    }

    #[test]
    fn truncation_and_corruption() {
        assert_eq!(items(b"*2\r\n$3\r\nGET\r\n$1\r\n"), Err(ParseError::Truncated));
        assert_eq!(items(b"*2\r\n$3\r\nGE"), Err(ParseError::Truncated));
        assert_eq!(items(b"*1\r\n$4\r\nPING\r"), Err(ParseError::Truncated));
        assert_eq!(items(b"*1\r\n$4\r\nPING\r\nxx"), Err(ParseError::Format { offset: 14 }));
        assert_eq!(items(b"*0\r\n"), Err(ParseError::Format { offset: 0 }));
        assert_eq!(items(b"*1\r\n$4\r\nPINGxx"), Err(ParseError::Format { offset: 12 }));
        assert_eq!(items(b"*1\r\n$-1\r\n"), Err(ParseError::Format { offset: 4 }));
        assert_eq!(items(b"*99999999999999999999999\r\n"), Err(ParseError::Format { offset: 0 }));
    }
}
