//! The in-memory keyspace behind [`crate::testing::TestModule`]'s key operations (API 1.1): one
//! database, the five basic types, millisecond expiries checked lazily, and the replies the
//! server gives (RESP3-shaped, WRONGTYPE included). Not the server's encodings or notifications.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::abi::key_op;
use crate::{Error, Reply};

/// A value of the fake keyspace.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    List(VecDeque<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    /// Member → score.
    ZSet(BTreeMap<Vec<u8>, f64>),
}

impl Value {
    fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Value::String(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
        }
    }
}

/// The keyspace a [`crate::testing::TestModule`]'s commands see through [`crate::Key`].
#[derive(Default, Debug)]
pub struct Keyspace {
    keys: BTreeMap<Vec<u8>, (Value, Option<i64>)>,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn wrong_type() -> String {
    Error::WRONG_TYPE.message().to_string()
}

fn int_arg(a: &[u8]) -> Result<i64, String> {
    crate::parse_i64(a).ok_or_else(|| Error::NOT_INT.message().to_string())
}

fn range(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let s = if start < 0 { (len + start).max(0) } else { start };
    let e = if stop < 0 { len + stop } else { stop.min(len - 1) };
    (s <= e && s < len).then_some((s as usize, e as usize))
}

fn bulks<'a>(it: impl IntoIterator<Item = &'a Vec<u8>>) -> Vec<Reply> {
    it.into_iter().map(Reply::bulk).collect()
}

impl Keyspace {
    /// A key's value, if it exists and has not expired.
    pub fn get(&mut self, key: &[u8]) -> Option<&Value> {
        self.expire_if_due(key);
        self.keys.get(key).map(|(v, _)| v)
    }

    /// Stores a value (without expiry), replacing what the key held.
    pub fn insert(&mut self, key: &[u8], v: Value) {
        self.keys.insert(key.to_vec(), (v, None));
    }

    /// The key names, sorted.
    pub fn names(&mut self) -> Vec<Vec<u8>> {
        let now = now_ms();
        self.keys.retain(|_, (_, e)| e.is_none_or(|at| at > now));
        self.keys.keys().cloned().collect()
    }

    fn expire_if_due(&mut self, key: &[u8]) {
        if self.keys.get(key).is_some_and(|(_, e)| e.is_some_and(|at| at <= now_ms())) {
            self.keys.remove(key);
        }
    }

    /// The value at `key` if it is of the type `pick` accepts; `Ok(None)` when missing.
    fn typed<T>(
        &mut self,
        key: &[u8],
        pick: impl FnOnce(&mut Value) -> Option<&mut T>,
    ) -> Result<Option<&mut T>, String> {
        self.expire_if_due(key);
        match self.keys.get_mut(key) {
            None => Ok(None),
            Some((v, _)) => pick(v).map(Some).ok_or_else(wrong_type),
        }
    }

    /// The value at `key`, created with `make` when missing, if `pick` accepts its type.
    fn typed_or_new<T>(
        &mut self,
        key: &[u8],
        make: impl FnOnce() -> Value,
        pick: impl FnOnce(&mut Value) -> Option<&mut T>,
    ) -> Result<&mut T, String> {
        self.expire_if_due(key);
        let (v, _) = self.keys.entry(key.to_vec()).or_insert_with(|| (make(), None));
        pick(v).ok_or_else(wrong_type)
    }

    /// Deletes `key` if its collection emptied.
    fn drop_empty(&mut self, key: &[u8]) {
        if self.keys.get(key).is_some_and(|(v, _)| v.is_empty()) {
            self.keys.remove(key);
        }
    }

    /// Runs one `HostCtx::key_op`.
    pub(crate) fn op(&mut self, op: u32, key: &[u8], a: &[Vec<u8>]) -> Result<Reply, String> {
        let want = |n: usize| {
            if a.len() == n {
                Ok(())
            } else {
                Err("ERR wrong number of arguments for this key operation".to_string())
            }
        };
        macro_rules! pick {
            ($p:path) => {
                |v: &mut Value| match v {
                    $p(x) => Some(x),
                    _ => None,
                }
            };
        }
        let r = match op {
            key_op::TYPE => {
                want(0)?;
                Reply::simple(self.get(key).map_or("none", Value::type_name))
            }
            key_op::LEN => {
                want(0)?;
                Reply::Int(match self.get(key) {
                    None => 0,
                    Some(Value::String(s)) => s.len() as i64,
                    Some(Value::List(l)) => l.len() as i64,
                    Some(Value::Hash(h)) => h.len() as i64,
                    Some(Value::Set(s)) => s.len() as i64,
                    Some(Value::ZSet(z)) => z.len() as i64,
                })
            }
            key_op::DEL | key_op::UNLINK | key_op::REMOVE => {
                want(0)?;
                self.expire_if_due(key);
                Reply::Int(self.keys.remove(key).is_some() as i64)
            }
            key_op::EXISTS => {
                want(0)?;
                Reply::Int(self.get(key).is_some() as i64)
            }
            key_op::PTTL | key_op::PEXPIRETIME => {
                want(0)?;
                self.expire_if_due(key);
                Reply::Int(match self.keys.get(key) {
                    None => -2,
                    Some((_, None)) => -1,
                    Some((_, Some(at))) if op == key_op::PTTL => at - now_ms(),
                    Some((_, Some(at))) => *at,
                })
            }
            key_op::PEXPIRE | key_op::PEXPIREAT => {
                want(1)?;
                let n = int_arg(&a[0])?;
                let at = if op == key_op::PEXPIRE { now_ms().saturating_add(n) } else { n };
                self.expire_if_due(key);
                let done = if at <= now_ms() {
                    self.keys.remove(key).is_some()
                } else {
                    match self.keys.get_mut(key) {
                        Some((_, e)) => {
                            *e = Some(at);
                            true
                        }
                        None => false,
                    }
                };
                Reply::Int(done as i64)
            }
            key_op::PERSIST => {
                want(0)?;
                self.expire_if_due(key);
                Reply::Int(match self.keys.get_mut(key) {
                    Some((_, e)) => e.take().is_some() as i64,
                    None => 0,
                })
            }
            key_op::GET => {
                want(0)?;
                self.typed(key, pick!(Value::String))?.map_or(Reply::Null, |s| Reply::bulk(&s[..]))
            }
            key_op::SET => {
                want(1)?;
                self.insert(key, Value::String(a[0].clone()));
                Reply::ok()
            }
            key_op::APPEND => {
                want(1)?;
                let s =
                    self.typed_or_new(key, || Value::String(Vec::new()), pick!(Value::String))?;
                s.extend_from_slice(&a[0]);
                Reply::Int(s.len() as i64)
            }
            key_op::SETRANGE => {
                want(2)?;
                let off = int_arg(&a[0])?;
                if off < 0 {
                    return Err("ERR offset is out of range".into());
                }
                let off = off as usize;
                let s =
                    self.typed_or_new(key, || Value::String(Vec::new()), pick!(Value::String))?;
                if s.len() < off + a[1].len() {
                    s.resize(off + a[1].len(), 0);
                }
                s[off..off + a[1].len()].copy_from_slice(&a[1]);
                Reply::Int(s.len() as i64)
            }
            key_op::LPUSH | key_op::RPUSH => {
                let l =
                    self.typed_or_new(key, || Value::List(VecDeque::new()), pick!(Value::List))?;
                for e in a {
                    if op == key_op::LPUSH {
                        l.push_front(e.clone());
                    } else {
                        l.push_back(e.clone());
                    }
                }
                Reply::Int(l.len() as i64)
            }
            key_op::LPOP | key_op::RPOP => {
                want(0)?;
                let r = match self.typed(key, pick!(Value::List))? {
                    None => None,
                    Some(l) if op == key_op::LPOP => l.pop_front(),
                    Some(l) => l.pop_back(),
                };
                self.drop_empty(key);
                r.map_or(Reply::Null, Reply::Bulk)
            }
            key_op::LINDEX => {
                want(1)?;
                let i = int_arg(&a[0])?;
                let l = self.typed(key, pick!(Value::List))?;
                let e = l.and_then(|l| {
                    let i = if i < 0 { l.len() as i64 + i } else { i };
                    usize::try_from(i).ok().and_then(|i| l.get(i).cloned())
                });
                e.map_or(Reply::Null, Reply::Bulk)
            }
            key_op::LRANGE => {
                want(2)?;
                let (s, e) = (int_arg(&a[0])?, int_arg(&a[1])?);
                let l = self.typed(key, pick!(Value::List))?;
                Reply::Array(l.map_or(Vec::new(), |l| match range(l.len(), s, e) {
                    Some((s, e)) => bulks(l.range(s..=e)),
                    None => Vec::new(),
                }))
            }
            key_op::HGET => {
                want(1)?;
                let h = self.typed(key, pick!(Value::Hash))?;
                h.and_then(|h| h.get(&a[0]).cloned()).map_or(Reply::Null, Reply::Bulk)
            }
            key_op::HSET => {
                want(2)?;
                let h =
                    self.typed_or_new(key, || Value::Hash(BTreeMap::new()), pick!(Value::Hash))?;
                Reply::Int(h.insert(a[0].clone(), a[1].clone()).is_none() as i64)
            }
            key_op::HDEL => {
                want(1)?;
                let n =
                    self.typed(key, pick!(Value::Hash))?.is_some_and(|h| h.remove(&a[0]).is_some());
                self.drop_empty(key);
                Reply::Int(n as i64)
            }
            key_op::HGETALL => {
                want(0)?;
                let h = self.typed(key, pick!(Value::Hash))?;
                Reply::Map(h.map_or(Vec::new(), |h| {
                    h.iter().map(|(f, v)| (Reply::bulk(f), Reply::bulk(v))).collect()
                }))
            }
            key_op::SADD => {
                let s =
                    self.typed_or_new(key, || Value::Set(BTreeSet::new()), pick!(Value::Set))?;
                Reply::Int(a.iter().filter(|m| s.insert(m.to_vec())).count() as i64)
            }
            key_op::SREM => {
                let n = match self.typed(key, pick!(Value::Set))? {
                    Some(s) => a.iter().filter(|m| s.remove(*m)).count(),
                    None => 0,
                };
                self.drop_empty(key);
                Reply::Int(n as i64)
            }
            key_op::SISMEMBER => {
                want(1)?;
                Reply::Int(
                    self.typed(key, pick!(Value::Set))?.is_some_and(|s| s.contains(&a[0])) as i64
                )
            }
            key_op::SMEMBERS => {
                want(0)?;
                Reply::Set(
                    self.typed(key, pick!(Value::Set))?.map_or(Vec::new(), |s| bulks(s.iter())),
                )
            }
            key_op::ZADD => {
                want(2)?;
                let score = crate::parse_f64(&a[0])
                    .ok_or_else(|| Error::NOT_FLOAT.message().to_string())?;
                let z =
                    self.typed_or_new(key, || Value::ZSet(BTreeMap::new()), pick!(Value::ZSet))?;
                Reply::Int(z.insert(a[1].clone(), score).is_none() as i64)
            }
            key_op::ZREM => {
                let n = match self.typed(key, pick!(Value::ZSet))? {
                    Some(z) => a.iter().filter(|m| z.remove(*m).is_some()).count(),
                    None => 0,
                };
                self.drop_empty(key);
                Reply::Int(n as i64)
            }
            key_op::ZSCORE => {
                want(1)?;
                let z = self.typed(key, pick!(Value::ZSet))?;
                z.and_then(|z| z.get(&a[0]).copied()).map_or(Reply::Null, Reply::Double)
            }
            key_op::ZRANGE_RANK | key_op::ZRANGE_SCORE => {
                want(2)?;
                let Some(z) = self.typed(key, pick!(Value::ZSet))? else {
                    return Ok(Reply::Array(Vec::new()));
                };
                let mut v: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.clone(), *s)).collect();
                v.sort_by(|x, y| x.1.total_cmp(&y.1).then_with(|| x.0.cmp(&y.0)));
                let v: Vec<(Vec<u8>, f64)> = if op == key_op::ZRANGE_RANK {
                    let (s, e) = (int_arg(&a[0])?, int_arg(&a[1])?);
                    match range(v.len(), s, e) {
                        Some((s, e)) => v[s..=e].to_vec(),
                        None => Vec::new(),
                    }
                } else {
                    let bound = |b: &[u8]| match b {
                        b"+inf" => Ok(f64::INFINITY),
                        b"-inf" => Ok(f64::NEG_INFINITY),
                        b => crate::parse_f64(b)
                            .ok_or_else(|| "ERR min or max is not a float".to_string()),
                    };
                    let (lo, hi) = (bound(&a[0])?, bound(&a[1])?);
                    v.into_iter().filter(|(_, s)| *s >= lo && *s <= hi).collect()
                };
                Reply::Array(
                    v.into_iter()
                        .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                        .collect(),
                )
            }
            key_op::SCAN => {
                // One batch holds everything: cursor 0 comes back at once.
                let pattern = a.get(1);
                let names = self.names();
                let keys = names
                    .iter()
                    .filter(|k| pattern.is_none_or(|p| glob(p, k)))
                    .map(Reply::bulk)
                    .collect();
                Reply::Array(vec![Reply::bulk("0"), Reply::Array(keys)])
            }
            key_op::SCAN_ELEMENTS => {
                want(2)?;
                let items: Vec<Reply> = match self.get(key) {
                    None => Vec::new(),
                    Some(Value::Hash(h)) => {
                        h.iter().flat_map(|(f, v)| [Reply::bulk(f), Reply::bulk(v)]).collect()
                    }
                    Some(Value::Set(s)) => bulks(s.iter()),
                    Some(Value::ZSet(z)) => z
                        .iter()
                        .flat_map(|(m, s)| [Reply::bulk(m), Reply::bulk(format!("{s}"))])
                        .collect(),
                    Some(_) => return Err(wrong_type()),
                };
                Reply::Array(vec![Reply::bulk("0"), Reply::Array(items)])
            }
            key_op::OPEN_WRITE | key_op::UNCHANGED => {
                want(0)?;
                Reply::ok()
            }
            _ => return Err(format!("ERR unknown key operation {op}")),
        };
        Ok(r)
    }
}

/// Glob matching with `*`, `?` and `[...]` (no escapes), enough for tests' MATCH patterns.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && glob(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob(&p[1..], &s[1..]),
        (Some(b'['), Some(&c)) => match p.iter().position(|&x| x == b']') {
            Some(end) => p[1..end].contains(&c) && glob(&p[end + 1..], &s[1..]),
            None => false,
        },
        (Some(&a), Some(&b)) => a == b && glob(&p[1..], &s[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_wrongtype() {
        let mut k = Keyspace::default();
        assert_eq!(k.op(key_op::RPUSH, b"l", &[b"a".to_vec(), b"b".to_vec()]), Ok(Reply::Int(2)));
        assert_eq!(k.op(key_op::TYPE, b"l", &[]), Ok(Reply::simple("list")));
        assert_eq!(k.op(key_op::GET, b"l", &[]), Err(wrong_type()));
        assert_eq!(k.op(key_op::LPOP, b"l", &[]), Ok(Reply::bulk("a")));
        assert_eq!(k.op(key_op::RPOP, b"l", &[]), Ok(Reply::bulk("b")));
        assert_eq!(k.op(key_op::EXISTS, b"l", &[]), Ok(Reply::Int(0)));
        assert!(glob(b"a*[xy]?", b"abcxz"));
        assert!(!glob(b"a*[xy]?", b"abcz"));
    }
}
