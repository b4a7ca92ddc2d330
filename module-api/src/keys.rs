//! API 1.1: key access ([`Context::key`], [`Context::open_key_writable`], [`Context::scan`])
//! and calling commands with options ([`Context::call_with`]).
//!
//! Keys are named, in the calling client's selected database. A [`Key`] reads, a [`KeyMut`]
//! also writes; each operation is one call into the server, which does what the equivalent
//! built-in command does (WRONGTYPE included: the error is [`Error::WRONG_TYPE`]'s text), and
//! writes behave as the built-in's: keyspace notifications, WATCH and client-side caching
//! invalidation, the dirty counter, and propagation to AOF and replicas as the built-in command.

use std::ops::{Deref, DerefMut};

use abi_stable::std_types::{RErr, ROk, RSlice};

use crate::abi::{call_error, call_flags, key_op};
use crate::{Context, Error, Reply};

/// Options for [`Context::call_with`], as Redis's `RM_Call` format modifiers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallOptions {
    flags: u32,
}

impl CallOptions {
    /// No checks beyond the dispatcher's, RESP3 replies (what [`Context::call`] does).
    pub fn new() -> CallOptions {
        CallOptions::default()
    }

    /// `C`: check the command against the calling user's ACL (Vireo has only the `default`
    /// user, allowed everything, so nothing is refused today).
    pub fn check_acl(mut self) -> Self {
        self.flags |= call_flags::CHECK_ACL;
        self
    }

    /// `S`: refuse what scripts may not run (`deny-script` commands, and writes while the
    /// server refuses writes after a failed save or AOF write).
    pub fn script_mode(mut self) -> Self {
        self.flags |= call_flags::SCRIPT_MODE;
        self
    }

    /// `W`: refuse write commands.
    pub fn no_writes(mut self) -> Self {
        self.flags |= call_flags::NO_WRITES;
        self
    }

    /// `M`: refuse `deny-oom` commands while over `maxmemory`.
    pub fn respect_oom(mut self) -> Self {
        self.flags |= call_flags::RESPECT_OOM;
        self
    }

    /// Replies shaped for RESP2 (HGETALL a flat array, doubles bulk strings).
    pub fn resp2(mut self) -> Self {
        self.flags |= call_flags::RESP2;
        self
    }

    /// Replies shaped for the calling client's protocol (`0`).
    pub fn resp_auto(mut self) -> Self {
        self.flags |= call_flags::RESP_AUTO;
        self
    }

    /// The raw [`call_flags`] bits.
    pub fn flags(&self) -> u32 {
        self.flags
    }
}

/// What kind of [`CallError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallErrorKind {
    /// The command ran and replied with an error.
    Command,
    UnknownCommand,
    WrongArity,
    /// Refused by the ACL.
    NoPermission,
    /// Refused in script mode ([`CallOptions::script_mode`]).
    ScriptMode,
    /// A write refused by [`CallOptions::no_writes`].
    NoWrites,
    /// Refused over `maxmemory` ([`CallOptions::respect_oom`]).
    Oom,
    /// A kind this SDK does not know (from a newer server).
    Other(u32),
}

/// The error of a [`Context::call_with`]: refused before it ran, or the command's own error
/// reply. `?` turns it into the command's [`Error`] with the same text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallError {
    pub kind: CallErrorKind,
    /// The whole error line, its code first: `ERR Write command 'set' was called while write
    /// is not allowed.`
    pub message: String,
}

impl CallError {
    /// The error code, the first word (`ERR`, `OOM`, `WRONGTYPE`).
    pub fn code(&self) -> &str {
        self.message.split(' ').next().unwrap_or("")
    }
}

impl From<CallError> for Error {
    fn from(e: CallError) -> Error {
        Error::new(e.message)
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// One batch of a SCAN: the cursor to continue from (0 when done) and what it found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScanBatch {
    pub cursor: u64,
    /// Key names ([`Context::scan`]) or elements ([`Key::scan_elements`]: fields and values of
    /// a hash, members of a set, members and scores of a sorted set, flattened as HSCAN, SSCAN
    /// and ZSCAN give them).
    pub items: Vec<Vec<u8>>,
}

/// A hash field and its value.
pub type FieldValue = (Vec<u8>, Vec<u8>);

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListEnd {
    Head,
    Tail,
}

/// A key's expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// No such key.
    NoKey,
    /// The key never expires.
    Persistent,
    /// Milliseconds (left, for [`Key::ttl`]; a unix time, for [`Key::expire_at`]).
    Ms(i64),
}

fn expiry(n: i64) -> Expiry {
    match n {
        -2 => Expiry::NoKey,
        -1 => Expiry::Persistent,
        n => Expiry::Ms(n),
    }
}

fn unexpected(r: &Reply) -> Error {
    Error::err(format!("unexpected reply from the server: {r:?}"))
}

fn int(r: Reply) -> Result<i64, Error> {
    r.as_int().ok_or_else(|| unexpected(&r))
}

fn opt_bytes(r: Reply) -> Result<Option<Vec<u8>>, Error> {
    match r {
        Reply::Null | Reply::NullArray => Ok(None),
        Reply::Bulk(b) => Ok(Some(b)),
        r => Err(unexpected(&r)),
    }
}

fn bytes_list(r: Reply) -> Result<Vec<Vec<u8>>, Error> {
    match r {
        Reply::Array(v) | Reply::Set(v) => v
            .into_iter()
            .map(|e| match e {
                Reply::Bulk(b) => Ok(b),
                r => Err(unexpected(&r)),
            })
            .collect(),
        Reply::Null | Reply::NullArray => Ok(Vec::new()),
        r => Err(unexpected(&r)),
    }
}

fn double(r: &Reply) -> Option<f64> {
    match r {
        Reply::Double(d) => Some(*d),
        Reply::Bulk(b) => crate::parse_f64(b),
        _ => None,
    }
}

fn scored(r: Reply) -> Result<Vec<(Vec<u8>, f64)>, Error> {
    let Reply::Array(v) = r else { return Err(unexpected(&r)) };
    v.into_iter()
        .map(|pair| match pair {
            Reply::Array(p) if p.len() == 2 => match (&p[0], double(&p[1])) {
                (Reply::Bulk(m), Some(s)) => Ok((m.clone(), s)),
                _ => Err(unexpected(&Reply::Array(p))),
            },
            r => Err(unexpected(&r)),
        })
        .collect()
}

fn scan_batch(r: Reply) -> Result<ScanBatch, Error> {
    let Reply::Array(mut v) = r else { return Err(unexpected(&r)) };
    if v.len() != 2 {
        return Err(unexpected(&Reply::Array(v)));
    }
    let items = bytes_list(v.pop().expect("two"))?;
    let cursor = v
        .pop()
        .and_then(|c| c.as_bytes().and_then(|b| std::str::from_utf8(b).ok()?.parse().ok()))
        .ok_or_else(|| Error::err("bad SCAN cursor from the server"))?;
    Ok(ScanBatch { cursor, items })
}

/// A score as ZRANGE ... BYSCORE takes it.
fn score_arg(s: f64) -> String {
    if s == f64::INFINITY {
        "+inf".into()
    } else if s == f64::NEG_INFINITY {
        "-inf".into()
    } else {
        format!("{s}")
    }
}

impl<'a, 'p> Context<'a, 'p> {
    /// Runs a command with [`CallOptions`] (checked as Redis's `RM_Call` checks its `C`, `S`,
    /// `W`, `M` modifiers). A refusal or an error reply is the `Err`, with its kind.
    pub fn call_with<A: AsRef<[u8]>>(
        &mut self,
        opts: CallOptions,
        argv: &[A],
    ) -> Result<Reply, CallError> {
        let args: Vec<RSlice<'_, u8>> =
            argv.iter().map(|a| RSlice::from_slice(a.as_ref())).collect();
        match self.host_mut().call_with(opts.flags, RSlice::from_slice(&args)) {
            ROk(r) => Ok(r.into()),
            RErr(e) => {
                let kind = match e.kind {
                    call_error::COMMAND => CallErrorKind::Command,
                    call_error::UNKNOWN_COMMAND => CallErrorKind::UnknownCommand,
                    call_error::WRONG_ARITY => CallErrorKind::WrongArity,
                    call_error::NO_PERMISSION => CallErrorKind::NoPermission,
                    call_error::SCRIPT_MODE => CallErrorKind::ScriptMode,
                    call_error::NO_WRITES => CallErrorKind::NoWrites,
                    call_error::OOM => CallErrorKind::Oom,
                    k => CallErrorKind::Other(k),
                };
                Err(CallError { kind, message: e.message.into_string() })
            }
        }
    }

    /// Opens key `name` of the client's database for reading.
    pub fn key(&mut self, name: impl AsRef<[u8]>) -> Key<'_, 'a, 'p> {
        Key { ctx: self, name: name.as_ref().to_vec() }
    }

    /// Opens key `name` of the client's database for reading and writing. As a key a Redis
    /// module opens with REDISMODULE_WRITE, it counts as modified for WATCH and client-side
    /// caching whether or not the command then changes it. (Redis signals it when the module
    /// closes the key, Vireo when it is opened: no other client can tell, the command runs
    /// alone; only the order among several keys of one command shows it.)
    pub fn open_key_writable(&mut self, name: impl AsRef<[u8]>) -> KeyMut<'_, 'a, 'p> {
        let name = name.as_ref();
        // An older server refuses the operation: the key is then signalled only if it changes.
        let _ = self.key_op(key_op::OPEN_WRITE, name, &[]);
        KeyMut(self.key(name))
    }

    /// The module values this command took for writing ([`Context::get_value_mut`],
    /// [`Context::set_value`]) turned out unchanged (a write that matched nothing, or failed
    /// before changing anything): the command is then not propagated to the AOF and replicas
    /// for them, and does not count as a change, as a Redis module that does not call
    /// `RM_ReplicateVerbatim`. Keys opened with [`Context::open_key_writable`] still count as
    /// modified for WATCH and client-side caching.
    pub fn mark_unchanged(&mut self) {
        // An older server refuses the operation: the command then propagates as it did.
        let _ = self.key_op(key_op::UNCHANGED, b"", &[]);
    }

    /// One step of a SCAN over the client's database: start with cursor 0 and go on with the
    /// returned cursor until it is 0 again (SCAN's guarantees: every key present all along is
    /// returned at least once). `count` is SCAN's COUNT hint, `pattern` its MATCH.
    pub fn scan(
        &mut self,
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> Result<ScanBatch, Error> {
        let c = cursor.to_string();
        let n = count.max(1).to_string();
        let mut args: Vec<&[u8]> = vec![n.as_bytes()];
        args.extend(pattern);
        scan_batch(self.key_op(key_op::SCAN, c.as_bytes(), &args)?)
    }

    fn key_op(&mut self, op: u32, key: &[u8], args: &[&[u8]]) -> Result<Reply, Error> {
        let a: Vec<RSlice<'_, u8>> = args.iter().map(|x| RSlice::from_slice(x)).collect();
        match self.host_mut().key_op(op, RSlice::from_slice(key), RSlice::from_slice(&a)) {
            ROk(r) => Ok(r.into()),
            RErr(e) => Err(Error::new(e.into_string())),
        }
    }
}

/// A key opened for reading ([`Context::key`]).
pub struct Key<'c, 'a, 'p> {
    ctx: &'c mut Context<'a, 'p>,
    name: Vec<u8>,
}

impl Key<'_, '_, '_> {
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    fn op(&mut self, op: u32, args: &[&[u8]]) -> Result<Reply, Error> {
        self.ctx.key_op(op, &self.name, args)
    }

    /// Its type as TYPE names it: `none`, `string`, `list`, `hash`, `set`, `zset`, `stream`,
    /// or a module type's name.
    pub fn key_type(&mut self) -> Result<String, Error> {
        match self.op(key_op::TYPE, &[])? {
            Reply::Simple(t) => Ok(t),
            r => Err(unexpected(&r)),
        }
    }

    pub fn exists(&mut self) -> Result<bool, Error> {
        Ok(int(self.op(key_op::EXISTS, &[])?)? == 1)
    }

    /// Its length: a string's bytes, a collection's elements (0 when it does not exist).
    pub fn len(&mut self) -> Result<u64, Error> {
        Ok(int(self.op(key_op::LEN, &[])?)?.max(0) as u64)
    }

    pub fn is_empty(&mut self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    /// Milliseconds left before it expires (PTTL).
    pub fn ttl(&mut self) -> Result<Expiry, Error> {
        Ok(expiry(int(self.op(key_op::PTTL, &[])?)?))
    }

    /// The unix time in milliseconds at which it expires (PEXPIRETIME).
    pub fn expire_at(&mut self) -> Result<Expiry, Error> {
        Ok(expiry(int(self.op(key_op::PEXPIRETIME, &[])?)?))
    }

    /// A string's value (`None`: no such key).
    pub fn get(&mut self) -> Result<Option<Vec<u8>>, Error> {
        opt_bytes(self.op(key_op::GET, &[])?)
    }

    /// A list's element at `index` (negative from the end).
    pub fn list_index(&mut self, index: i64) -> Result<Option<Vec<u8>>, Error> {
        let i = index.to_string();
        opt_bytes(self.op(key_op::LINDEX, &[i.as_bytes()])?)
    }

    /// A list's elements from `start` to `stop` inclusive (negative from the end), as LRANGE.
    pub fn list_range(&mut self, start: i64, stop: i64) -> Result<Vec<Vec<u8>>, Error> {
        let (a, b) = (start.to_string(), stop.to_string());
        bytes_list(self.op(key_op::LRANGE, &[a.as_bytes(), b.as_bytes()])?)
    }

    /// A hash field's value.
    pub fn hash_get(&mut self, field: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, Error> {
        opt_bytes(self.op(key_op::HGET, &[field.as_ref()])?)
    }

    /// Every field and value of a hash.
    pub fn hash_get_all(&mut self) -> Result<Vec<FieldValue>, Error> {
        match self.op(key_op::HGETALL, &[])? {
            Reply::Map(pairs) => pairs
                .into_iter()
                .map(|(f, v)| match (f, v) {
                    (Reply::Bulk(f), Reply::Bulk(v)) => Ok((f, v)),
                    (f, _) => Err(unexpected(&f)),
                })
                .collect(),
            r => Err(unexpected(&r)),
        }
    }

    pub fn set_is_member(&mut self, member: impl AsRef<[u8]>) -> Result<bool, Error> {
        Ok(int(self.op(key_op::SISMEMBER, &[member.as_ref()])?)? == 1)
    }

    /// A set's members, in no particular order.
    pub fn set_members(&mut self) -> Result<Vec<Vec<u8>>, Error> {
        bytes_list(self.op(key_op::SMEMBERS, &[])?)
    }

    /// A sorted set member's score.
    pub fn zset_score(&mut self, member: impl AsRef<[u8]>) -> Result<Option<f64>, Error> {
        match self.op(key_op::ZSCORE, &[member.as_ref()])? {
            Reply::Null => Ok(None),
            r => double(&r).map(Some).ok_or_else(|| unexpected(&r)),
        }
    }

    /// Members and scores by rank, `start` to `stop` inclusive (negative from the end).
    pub fn zset_range_by_rank(
        &mut self,
        start: i64,
        stop: i64,
    ) -> Result<Vec<(Vec<u8>, f64)>, Error> {
        let (a, b) = (start.to_string(), stop.to_string());
        scored(self.op(key_op::ZRANGE_RANK, &[a.as_bytes(), b.as_bytes()])?)
    }

    /// Members and scores with `min <= score <= max` (infinities allowed), lowest first.
    pub fn zset_range_by_score(
        &mut self,
        min: f64,
        max: f64,
    ) -> Result<Vec<(Vec<u8>, f64)>, Error> {
        let (a, b) = (score_arg(min), score_arg(max));
        scored(self.op(key_op::ZRANGE_SCORE, &[a.as_bytes(), b.as_bytes()])?)
    }

    /// One step of an HSCAN, SSCAN or ZSCAN (by the key's type) over its elements; a missing
    /// key gives cursor 0 and nothing, another type WRONGTYPE.
    pub fn scan_elements(&mut self, cursor: u64, count: usize) -> Result<ScanBatch, Error> {
        let (c, n) = (cursor.to_string(), count.max(1).to_string());
        scan_batch(self.op(key_op::SCAN_ELEMENTS, &[c.as_bytes(), n.as_bytes()])?)
    }
}

/// A key opened for reading and writing ([`Context::open_key_writable`]); it reads as a
/// [`Key`] too.
pub struct KeyMut<'c, 'a, 'p>(Key<'c, 'a, 'p>);

impl<'c, 'a, 'p> Deref for KeyMut<'c, 'a, 'p> {
    type Target = Key<'c, 'a, 'p>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for KeyMut<'_, '_, '_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl KeyMut<'_, '_, '_> {
    /// Deletes it (DEL); false if it did not exist.
    pub fn delete(&mut self) -> Result<bool, Error> {
        Ok(int(self.0.op(key_op::DEL, &[])?)? == 1)
    }

    /// Deletes it as Redis's `RM_DeleteKey`: as [`KeyMut::delete`], but without DEL's keyspace
    /// event, for a module that raises its own (false if it did not exist).
    pub fn remove(&mut self) -> Result<bool, Error> {
        Ok(int(self.0.op(key_op::REMOVE, &[])?)? == 1)
    }

    /// Deletes it, freeing its value in the background where the server does (UNLINK).
    pub fn unlink(&mut self) -> Result<bool, Error> {
        Ok(int(self.0.op(key_op::UNLINK, &[])?)? == 1)
    }

    /// Makes it expire in `ms` milliseconds (PEXPIRE); false if it does not exist.
    pub fn set_ttl(&mut self, ms: i64) -> Result<bool, Error> {
        let m = ms.to_string();
        Ok(int(self.0.op(key_op::PEXPIRE, &[m.as_bytes()])?)? == 1)
    }

    /// Makes it expire at unix time `ms` in milliseconds (PEXPIREAT).
    pub fn set_expire_at(&mut self, unix_ms: i64) -> Result<bool, Error> {
        let m = unix_ms.to_string();
        Ok(int(self.0.op(key_op::PEXPIREAT, &[m.as_bytes()])?)? == 1)
    }

    /// Removes its expiry (PERSIST); false if it had none or does not exist.
    pub fn remove_expire(&mut self) -> Result<bool, Error> {
        Ok(int(self.0.op(key_op::PERSIST, &[])?)? == 1)
    }

    /// Makes it the string `value`, whatever it held (SET: its expiry goes too).
    pub fn set(&mut self, value: impl AsRef<[u8]>) -> Result<(), Error> {
        self.0.op(key_op::SET, &[value.as_ref()]).map(|_| ())
    }

    /// Appends to a string (created if missing); returns its new length.
    pub fn append(&mut self, value: impl AsRef<[u8]>) -> Result<u64, Error> {
        Ok(int(self.0.op(key_op::APPEND, &[value.as_ref()])?)? as u64)
    }

    /// Overwrites a string from byte `offset` (zero-padded as SETRANGE); returns its length.
    pub fn set_range(&mut self, offset: u64, value: impl AsRef<[u8]>) -> Result<u64, Error> {
        let o = offset.to_string();
        Ok(int(self.0.op(key_op::SETRANGE, &[o.as_bytes(), value.as_ref()])?)? as u64)
    }

    /// Pushes `elements` at one end of a list (created if missing), in order, as LPUSH/RPUSH;
    /// returns the list's length.
    pub fn list_push<E: AsRef<[u8]>>(
        &mut self,
        end: ListEnd,
        elements: &[E],
    ) -> Result<u64, Error> {
        if elements.is_empty() {
            return self.0.len();
        }
        let op = if end == ListEnd::Head { key_op::LPUSH } else { key_op::RPUSH };
        let a: Vec<&[u8]> = elements.iter().map(|e| e.as_ref()).collect();
        Ok(int(self.0.op(op, &a)?)? as u64)
    }

    /// Pops an element from one end of a list (the key goes when it empties).
    pub fn list_pop(&mut self, end: ListEnd) -> Result<Option<Vec<u8>>, Error> {
        let op = if end == ListEnd::Head { key_op::LPOP } else { key_op::RPOP };
        opt_bytes(self.0.op(op, &[])?)
    }

    /// Sets a hash field; true if the field is new.
    pub fn hash_set(
        &mut self,
        field: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<bool, Error> {
        Ok(int(self.0.op(key_op::HSET, &[field.as_ref(), value.as_ref()])?)? == 1)
    }

    /// Deletes a hash field; true if it existed.
    pub fn hash_del(&mut self, field: impl AsRef<[u8]>) -> Result<bool, Error> {
        Ok(int(self.0.op(key_op::HDEL, &[field.as_ref()])?)? == 1)
    }

    /// Adds members to a set; returns how many were new.
    pub fn set_add<M: AsRef<[u8]>>(&mut self, members: &[M]) -> Result<u64, Error> {
        if members.is_empty() {
            return Ok(0);
        }
        let a: Vec<&[u8]> = members.iter().map(|e| e.as_ref()).collect();
        Ok(int(self.0.op(key_op::SADD, &a)?)? as u64)
    }

    /// Removes members from a set; returns how many were there.
    pub fn set_rem<M: AsRef<[u8]>>(&mut self, members: &[M]) -> Result<u64, Error> {
        if members.is_empty() {
            return Ok(0);
        }
        let a: Vec<&[u8]> = members.iter().map(|e| e.as_ref()).collect();
        Ok(int(self.0.op(key_op::SREM, &a)?)? as u64)
    }

    /// Adds a member with `score` to a sorted set or updates its score; true if it is new.
    /// NaN is refused (`ERR value is not a valid float`).
    pub fn zset_add(&mut self, score: f64, member: impl AsRef<[u8]>) -> Result<bool, Error> {
        if score.is_nan() {
            return Err(Error::NOT_FLOAT);
        }
        let s = score_arg(score);
        Ok(int(self.0.op(key_op::ZADD, &[s.as_bytes(), member.as_ref()])?)? == 1)
    }

    /// Removes a member from a sorted set; true if it was there.
    pub fn zset_rem(&mut self, member: impl AsRef<[u8]>) -> Result<bool, Error> {
        Ok(int(self.0.op(key_op::ZREM, &[member.as_ref()])?)? == 1)
    }
}
