//! The write stream that AOF and replicas consume.
//!
//! Every command that changed the dataset is fed here after it ran, in execution order, as the
//! command that reproduces its effect: relative expiries become absolute ones, INCRBYFLOAT becomes
//! SET with KEEPTTL, lazily expired keys become DEL. A SELECT is inserted whenever the database
//! changes, as in Redis's replication stream. Consumers (the AOF writer, replica links) register a
//! sink; with none registered nothing is encoded.

use bytes::Bytes;

/// Receives the encoded stream, RESP multibulk commands back to back.
pub trait Sink: Send {
    fn write(&mut self, bytes: &[u8]);

    /// A name for [`Propagator::remove_sinks`].
    fn name(&self) -> &'static str {
        ""
    }
}

#[derive(Default)]
pub struct Propagator {
    sinks: Vec<Box<dyn Sink>>,
    /// The database the stream last SELECTed; `None` forces a SELECT before the next command.
    selected: Option<usize>,
    scratch: Vec<u8>,
    /// Commands of the transaction EXEC is running, held until it ends.
    txn: Option<Vec<(usize, Vec<Bytes>)>>,
    /// What is fed is dropped (a script's `redis.set_repl(redis.REPL_NONE)`).
    pub suppressed: bool,
}

impl Propagator {
    pub fn add_sink(&mut self, s: Box<dyn Sink>) {
        self.sinks.push(s);
        self.selected = None;
    }

    /// Removes the sinks called `name`.
    pub fn remove_sinks(&mut self, name: &str) {
        self.sinks.retain(|s| s.name() != name);
    }

    /// Makes the next command go after a SELECT (a sink started a new file).
    pub fn force_select(&mut self) {
        self.selected = None;
    }

    pub fn has_sinks(&self) -> bool {
        !self.sinks.is_empty()
    }

    /// Whether a transaction (EXEC, a script) is holding back what is fed.
    pub fn in_transaction(&self) -> bool {
        self.txn.is_some()
    }

    /// How many commands the transaction holds so far (None: no transaction).
    pub fn txn_len(&self) -> Option<usize> {
        self.txn.as_ref().map(Vec::len)
    }

    /// Forgets what the transaction held after its first `n` commands (a module command that
    /// chose what it replicates).
    pub fn truncate_txn(&mut self, n: usize) {
        if let Some(t) = &mut self.txn {
            t.truncate(n);
        }
    }

    /// Starts holding back what is fed, until [`Propagator::end_transaction`].
    pub fn begin_transaction(&mut self) {
        if !self.sinks.is_empty() {
            self.txn = Some(Vec::new());
        }
    }

    /// Sends what was held back since [`Propagator::begin_transaction`]: as it is if it is one
    /// command, else wrapped in MULTI/EXEC so that AOF and replicas apply it whole (as Redis 7.0:
    /// the SELECT, if any, goes before the MULTI).
    pub fn end_transaction(&mut self) {
        let Some(ops) = self.txn.take() else { return };
        if ops.len() > 1 {
            self.emit(Some(ops[0].0), &[Bytes::from_static(b"MULTI")]);
        }
        for (db, argv) in &ops {
            self.emit(Some(*db), argv);
        }
        if ops.len() > 1 {
            self.emit(None, &[Bytes::from_static(b"EXEC")]);
        }
    }

    /// Feeds what one command propagates instead of itself: several commands (SPOP with a
    /// count, XREADGROUP...) go wrapped in MULTI/EXEC, as Redis 7.0 does, unless they are part
    /// of a transaction already.
    pub fn feed_all(&mut self, db: usize, cmds: &[Vec<Bytes>]) {
        let wrap = cmds.len() > 1 && self.txn.is_none();
        if wrap {
            self.begin_transaction();
        }
        for c in cmds {
            self.feed(db, c);
        }
        if wrap {
            self.end_transaction();
        }
    }

    /// Feeds one command that ran against database `db`.
    pub fn feed(&mut self, db: usize, argv: &[Bytes]) {
        if self.sinks.is_empty() || self.suppressed {
            return;
        }
        if let Some(t) = &mut self.txn {
            t.push((db, argv.to_vec()));
            return;
        }
        self.emit(Some(db), argv);
    }

    /// Encodes one command for the sinks, after a SELECT if it runs against another database
    /// than the stream's (`db` None: no database of its own, as EXEC).
    fn emit(&mut self, db: Option<usize>, argv: &[Bytes]) {
        self.scratch.clear();
        if let Some(db) = db.filter(|&d| self.selected != Some(d)) {
            let n = db.to_string();
            encode(&mut self.scratch, &[b"SELECT".as_slice(), n.as_bytes()]);
            self.selected = Some(db);
        }
        encode(&mut self.scratch, argv);
        for s in &mut self.sinks {
            s.write(&self.scratch);
        }
    }
}

/// Encodes a command as a RESP multibulk.
pub fn encode<T: AsRef<[u8]>>(out: &mut Vec<u8>, argv: &[T]) {
    let mut b = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(b.format(argv.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in argv {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(b.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// A sink that keeps everything in memory, shared with whoever reads it (tests, DEBUG).
#[derive(Clone, Default)]
pub struct MemorySink(pub std::sync::Arc<parking_lot::Mutex<Vec<u8>>>);

impl Sink for MemorySink {
    fn write(&mut self, bytes: &[u8]) {
        self.0.lock().extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_on_db_change_only() {
        let mut p = Propagator::default();
        let sink = MemorySink::default();
        p.add_sink(Box::new(sink.clone()));
        p.feed(0, &[Bytes::from("SET"), Bytes::from("a"), Bytes::from("1")]);
        p.feed(0, &[Bytes::from("DEL"), Bytes::from("a")]);
        p.feed(3, &[Bytes::from("DEL"), Bytes::from("b")]);
        let got = sink.0.lock().clone();
        assert_eq!(
            got,
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n\
*2\r\n$3\r\nDEL\r\n$1\r\na\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*2\r\n$3\r\nDEL\r\n$1\r\nb\r\n"
                .to_vec()
        );
    }
}
