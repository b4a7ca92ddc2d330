//! Value types and their encodings: pure data structures, no protocol.
//!
//! Strings live inline in the key's record (see `keyspace::record`); every other type is an
//! `Object` behind a pointer in the record. Each type lives in its own file with its compact and
//! full encodings, and answers the same small set of questions (`encoding_name`, `mem_usage`,
//! `len`) that the generic key commands ask.

pub mod bitmap;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod list;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod thin;
pub mod zset;

/// The collection types.
///
/// Every collection key pays for one `Object` allocation on top of its record, so it is kept
/// at 16 bytes, the size of Redis's object header: the tag and one word, each type being a
/// one-word [`thin::Tagged`] pointer to its compact or its big encoding.
#[derive(Debug)]
pub enum Object {
    List(list::List),
    Hash(hash::Hash),
    Set(set::Set),
    ZSet(zset::ZSet),
    Stream(Box<stream::Stream>),
    /// A value of a module's data type.
    Module(Box<crate::module_host::types::ModuleObject>),
}

const _: () = assert!(std::mem::size_of::<Object>() <= 16, "Object must stay within 16 bytes");

/// The hash of a collection member (a set's or a sorted set's): foldhash with a seed drawn
/// once per process, so that home buckets, and so SSCAN/ZSCAN cursors, are stable for the
/// process's lifetime.
pub(crate) fn member_hash(m: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    foldhash::fast::FixedState::with_seed(*SEED.get_or_init(rand::random)).hash_one(m)
}

impl Object {
    /// The name TYPE answers.
    pub fn type_name(&self) -> &str {
        match self {
            Object::Module(m) => &m.ty.name,
            Object::List(_) => "list",
            Object::Hash(_) => "hash",
            Object::Set(_) => "set",
            Object::ZSet(_) => "zset",
            Object::Stream(_) => "stream",
        }
    }

    /// The name OBJECT ENCODING answers.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Object::List(v) => v.encoding_name(),
            Object::Hash(v) => v.encoding_name(),
            Object::Set(v) => v.encoding_name(),
            Object::ZSet(v) => v.encoding_name(),
            Object::Stream(v) => v.encoding_name(),
            // Redis creates module objects with the raw encoding.
            Object::Module(_) => "raw",
        }
    }

    /// Bytes held by the object beyond the record (MEMORY USAGE).
    pub fn mem_usage(&self) -> usize {
        match self {
            Object::List(v) => v.mem_usage(),
            Object::Hash(v) => v.mem_usage(),
            Object::Set(v) => v.mem_usage(),
            Object::ZSet(v) => v.mem_usage(),
            Object::Stream(v) => v.mem_usage(),
            Object::Module(v) => v.mem_usage(),
        }
    }

    /// Number of elements; a collection that becomes empty is deleted by the command that
    /// emptied it, as in Redis.
    pub fn len(&self) -> usize {
        match self {
            Object::List(v) => v.len(),
            Object::Hash(v) => v.len(),
            Object::Set(v) => v.len(),
            Object::ZSet(v) => v.len(),
            Object::Stream(v) => v.len(),
            // Never "empty": a module value is deleted only as a key.
            Object::Module(_) => 1,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy (COPY). Only a module value's copy can fail: its type's callback said so.
    pub fn try_clone(&self) -> Result<Object, String> {
        Ok(match self {
            Object::List(v) => Object::List(v.clone()),
            Object::Hash(v) => Object::Hash(v.clone()),
            Object::Set(v) => Object::Set(v.clone()),
            Object::ZSet(v) => Object::ZSet(v.clone()),
            Object::Stream(v) => Object::Stream(v.clone()),
            Object::Module(m) => Object::Module(Box::new(m.try_clone()?)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Object>(), 16);
        for t in [
            std::mem::size_of::<list::List>(),
            std::mem::size_of::<hash::Hash>(),
            std::mem::size_of::<set::Set>(),
            std::mem::size_of::<zset::ZSet>(),
        ] {
            assert_eq!(t, 8);
        }
        assert_eq!(crate::info::jemalloc_size_class(std::mem::size_of::<Object>()), 16);
    }
}
