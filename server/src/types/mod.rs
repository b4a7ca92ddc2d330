//! Value types and their encodings: pure data structures, no protocol.
//!
//! Strings live inline in the key's record (see `keyspace::record`); every other type is an
//! `Object` behind a pointer in the record.

pub mod string;

/// The collection types. Strings are not here: they are stored inline in the key record.
/// Lists, hashes, sets, sorted sets and streams arrive with their issues.
#[derive(Debug)]
pub enum Object {}

impl Object {
    /// The name TYPE answers.
    pub fn type_name(&self) -> &'static str {
        match *self {}
    }

    /// The name OBJECT ENCODING answers.
    pub fn encoding_name(&self) -> &'static str {
        match *self {}
    }

    /// Bytes held by the object beyond the record (MEMORY USAGE).
    pub fn mem_usage(&self) -> usize {
        match *self {}
    }
}
