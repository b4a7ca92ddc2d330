//! Keyspace events with RedisJSON 2.8's names, of the module class (`d` in
//! `notify-keyspace-events`), so that a subscriber (or the search module) sees a JSON write as it
//! sees it on Redis Stack.
//!
//! What RedisJSON raises, recorded from Redis Stack 7.4.1 (RedisJSON 2.8.3) with
//! `notify-keyspace-events KEA` and checked by `server/tests/modules_json.rs`:
//!
//! - one event per write, on the key, named after the command: `json.set`, `json.merge`,
//!   `json.numincrby`, `json.nummultby`, `json.numpowby`, `json.strappend`, `json.arrappend`,
//!   `json.arrinsert`, `json.arrpop`, `json.arrtrim`, `json.toggle`, `json.clear`; JSON.DEL and
//!   JSON.FORGET both raise `json.del` (also when they delete the whole key); JSON.MSET raises
//!   `json.mset` for each `key path value` triple that wrote, in argument order (a key twice,
//!   twice);
//! - none when the command changed nothing: JSON.SET or JSON.MERGE refused by NX/XX or a
//!   missing parent (reply null), no path matching a value of the right type (NUMINCRBY on a
//!   string, TOGGLE on a number...), JSON.DEL / JSON.CLEAR that count 0, JSON.ARRPOP with a
//!   JSONPath that popped nothing;
//! - but JSON.ARRPOP with a legacy path on an empty array (reply null) raises `json.arrpop`,
//!   JSON.ARRTRIM raises `json.arrtrim` on an empty array, and JSON.MERGE raises `json.merge`
//!   even when the patch changes nothing.

use crate::cmds::{Reply, Write};

/// The event a single-key command raises after it ran (`name` in lower case), or none.
pub fn event(name: &str, write: Write, reply: &Reply) -> Option<&'static str> {
    if write == Write::None {
        return None;
    }
    Some(match name {
        "json.del" | "json.forget" => "json.del",
        "json.arrpop" => "json.arrpop",
        // Null: a missing parent, or NX / XX refused.
        "json.set" | "json.merge" if *reply == Reply::Null => return None,
        "json.set" => "json.set",
        "json.merge" => "json.merge",
        "json.numincrby" => "json.numincrby",
        "json.nummultby" => "json.nummultby",
        "json.numpowby" => "json.numpowby",
        "json.strappend" => "json.strappend",
        "json.arrappend" => "json.arrappend",
        "json.arrinsert" => "json.arrinsert",
        "json.arrtrim" => "json.arrtrim",
        "json.toggle" => "json.toggle",
        "json.clear" => "json.clear",
        _ => return None,
    })
}

/// The event JSON.MSET raises on each key it writes.
pub const MSET: &str = "json.mset";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_no_ops() {
        assert_eq!(event("json.set", Write::Update, &Reply::Ok), Some("json.set"));
        assert_eq!(event("json.set", Write::None, &Reply::Null), None);
        assert_eq!(event("json.merge", Write::Update, &Reply::Null), None);
        assert_eq!(event("json.forget", Write::Delete, &Reply::Int(1)), Some("json.del"));
        // Deleting nothing, or popping only from empty arrays, changes nothing (no event); a
        // legacy path's pop from an empty array counts as a write in RedisJSON.
        assert_eq!(event("json.del", Write::None, &Reply::Int(0)), None);
        assert_eq!(event("json.arrpop", Write::None, &Reply::Arr(vec![Reply::Null])), None);
        assert_eq!(event("json.arrpop", Write::Update, &Reply::Null), Some("json.arrpop"));
        assert_eq!(event("json.get", Write::None, &Reply::Null), None);
    }
}
