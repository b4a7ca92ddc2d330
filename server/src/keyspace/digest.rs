//! DEBUG DIGEST and DEBUG DIGEST-VALUE: a SHA1-based fingerprint of the dataset, computed the
//! way Redis 7.0 computes it, so that a Vireo and a Redis holding the same data answer the same
//! 40 hex digits (test suites compare a primary's and a replica's digests this way).
//!
//! The scheme, as Redis documents it in its source comments:
//! - *xor*: SHA1 of the bytes, XORed into the digest, for unordered things (set members, hash
//!   fields, keys of a database);
//! - *mix*: xor, then the digest becomes the SHA1 of itself, for ordered things (list elements,
//!   stream entries).
//!
//! A key's digest mixes its name, then its type number (big-endian u32), then its value; a TTL
//! XORs in the marker `!!expire!!`. Numbers enter as their decimal text, scores as `%.17g`.

use crate::keyspace::{Db, Entry, ValueRef};
use crate::types::Object;

pub type Digest = [u8; 20];

fn sha1(data: &[u8]) -> Digest {
    sha1_smol::Sha1::from(data).digest().bytes()
}

fn xor(d: &mut Digest, data: &[u8]) {
    for (a, b) in d.iter_mut().zip(sha1(data)) {
        *a ^= b;
    }
}

fn mix(d: &mut Digest, data: &[u8]) {
    xor(d, data);
    *d = sha1(d);
}

/// The type numbers Redis's digest mixes in (its object type constants).
fn type_number(e: &Entry) -> u32 {
    match e.value() {
        ValueRef::Int(_) | ValueRef::Str(_) => 0,
        ValueRef::Obj(o) => match o {
            Object::List(_) => 1,
            Object::Set(_) => 2,
            Object::ZSet(_) => 3,
            Object::Hash(_) => 4,
            Object::Module(_) => 5,
            Object::Stream(_) => 6,
        },
    }
}

/// XORs the digest of `e`'s value (type, content, TTL marker) into `d`: DEBUG DIGEST-VALUE's
/// answer for one key, and the part of DEBUG DIGEST after the key's name.
pub fn value_digest(d: &mut Digest, e: &Entry) {
    mix(d, &type_number(e).to_be_bytes());
    let mut num = itoa::Buffer::new();
    match e.value() {
        ValueRef::Int(n) => mix(d, num.format(n).as_bytes()),
        ValueRef::Str(s) => mix(d, s),
        ValueRef::Obj(o) => match o {
            Object::List(l) => l.iter().for_each(|el| mix(d, el)),
            Object::Set(s) => s.iter().for_each(|m| xor(d, m.bytes(&mut num))),
            Object::ZSet(z) => {
                let mut score = Vec::with_capacity(24);
                z.for_range(0, z.len(), false, |m, s| {
                    score.clear();
                    crate::util::num::write_double_resp(&mut score, s);
                    let mut el = Digest::default();
                    mix(&mut el, m);
                    mix(&mut el, &score);
                    xor(d, &el);
                });
            }
            Object::Hash(h) => {
                for (f, v) in h.iter() {
                    let mut el = Digest::default();
                    mix(&mut el, f);
                    mix(&mut el, v);
                    xor(d, &el);
                }
            }
            Object::Stream(s) => {
                for entry in s.log.iter() {
                    mix(d, format!("{}.{}", entry.id.ms, entry.id.seq).as_bytes());
                    for (f, v) in entry.pairs() {
                        mix(d, &f.to_vec());
                        mix(d, &v.to_vec());
                    }
                }
            }
            // A module value is one sequence of what its type's digest callback gives (as a
            // Redis module's digest that adds one buffer and ends the sequence).
            Object::Module(m) => {
                let (mut seq, mut all) = (Digest::default(), Digest::default());
                mix(&mut seq, &m.digest());
                xor(&mut all, &seq);
                xor(d, &all);
            }
        },
    }
    if e.expire_at().is_some() {
        xor(d, b"!!expire!!");
    }
}

/// The digest of every database (DEBUG DIGEST): all zeros when the dataset is empty.
pub fn dataset_digest(dbs: &[Db]) -> Digest {
    let mut fin = Digest::default();
    for db in dbs.iter().filter(|db| !db.table.is_empty()) {
        mix(&mut fin, &(db.id as u32).to_be_bytes());
        for e in db.table.iter() {
            let mut d = Digest::default();
            mix(&mut d, e.key());
            value_digest(&mut d, e);
            xor(&mut fin, &d);
        }
    }
    fin
}
