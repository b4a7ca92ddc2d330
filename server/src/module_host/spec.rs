//! A module command's definition ([`vireo_module_api::abi::CommandDef`]) turned into a
//! [`CommandSpec`], so that the dispatcher, COMMAND INFO/DOCS/GETKEYS and ACL categories treat
//! it as they treat a built-in.
//!
//! Specs are `&'static` everywhere, so a module command's spec is leaked: a few hundred bytes
//! per MODULE LOAD, never freed by MODULE UNLOAD.

use vireo_module_api::abi;

use crate::cmd::spec::{
    AclCategories, BeginSearch, CmdFlags, CommandSpec, FindKeys, KeyFlags, KeySpec,
};

/// Redis's module command flags (`RM_CreateCommand`) and the command flags they set.
const MODULE_FLAGS: &[(&str, CmdFlags)] = &[
    ("write", CmdFlags::WRITE),
    ("readonly", CmdFlags::READONLY),
    ("admin", CmdFlags::ADMIN),
    ("deny-oom", CmdFlags::DENYOOM),
    ("deny-script", CmdFlags::NOSCRIPT),
    ("allow-loading", CmdFlags::LOADING),
    ("pubsub", CmdFlags::PUBSUB),
    ("random", CmdFlags::EMPTY),
    ("allow-stale", CmdFlags::STALE),
    ("no-monitor", CmdFlags::SKIP_MONITOR),
    ("no-slowlog", CmdFlags::SKIP_SLOWLOG),
    ("fast", CmdFlags::FAST),
    ("no-auth", CmdFlags::NO_AUTH),
    ("may-replicate", CmdFlags::MAY_REPLICATE),
    ("no-mandatory-keys", CmdFlags::NO_MANDATORY_KEYS),
    ("blocking", CmdFlags::BLOCKING),
    ("allow-busy", CmdFlags::ALLOW_BUSY),
    ("no-cluster", CmdFlags::EMPTY),
];

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn opt(s: &str) -> Option<&'static str> {
    (!s.is_empty()).then(|| leak(s))
}

fn key_flags(text: &str, cmd: &str) -> Result<KeyFlags, String> {
    let mut f = KeyFlags::EMPTY;
    for name in text.split_whitespace() {
        f = f.union(
            KeyFlags::from_name(name)
                .ok_or_else(|| format!("unknown key spec flag '{name}' in command '{cmd}'"))?,
        );
    }
    Ok(f)
}

fn key_spec(ks: &abi::KeySpec, cmd: &str) -> Result<KeySpec, String> {
    let begin_search = match &ks.begin_search {
        abi::BeginSearch::Index(i) if *i > 0 => BeginSearch::Index(*i),
        abi::BeginSearch::Keyword { keyword, startfrom } if !keyword.is_empty() => {
            BeginSearch::Keyword { keyword: leak(keyword), startfrom: *startfrom }
        }
        _ => return Err(format!("invalid key spec begin_search in command '{cmd}'")),
    };
    let find_keys = match ks.find_keys {
        abi::FindKeys::Range { lastkey, step, limit } if step > 0 && limit >= 0 => {
            FindKeys::Range { lastkey, step, limit }
        }
        abi::FindKeys::Keynum { keynumidx, firstkey, step } if step > 0 && keynumidx >= 0 => {
            FindKeys::Keynum { keynumidx, firstkey, step }
        }
        _ => return Err(format!("invalid key spec find_keys in command '{cmd}'")),
    };
    Ok(KeySpec { flags: key_flags(&ks.flags, cmd)?, notes: None, begin_search, find_keys })
}

/// The legacy (first, last, step) triple COMMAND INFO prints, and whether the keys are movable,
/// from the key specs, as for the built-ins.
fn legacy_range(specs: &[KeySpec]) -> (i32, i32, i32, bool) {
    use crate::cmd::legacy_range::{legacy_range, Plain};
    let plain: Vec<Plain> = specs
        .iter()
        .map(|ks| Plain {
            range: match (ks.begin_search, ks.find_keys) {
                (BeginSearch::Index(pos), FindKeys::Range { lastkey, step, .. }) => {
                    Some((pos.into(), lastkey.into(), step.into()))
                }
                _ => None,
            },
            incomplete: ks.flags.contains(KeyFlags::INCOMPLETE),
        })
        .collect();
    let (first, last, step, movable) = legacy_range(&plain);
    (first as i32, last as i32, step as i32, movable)
}

/// Builds (and leaks) the spec of a module command; an error names what is wrong.
pub fn build(def: &abi::CommandDef) -> Result<&'static CommandSpec, String> {
    let name = def.name.to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.bytes().all(|c| c.is_ascii_graphic() && c != b'|')
        && def.arity != 0;
    if !valid {
        return Err(format!("invalid command name or arity for module command '{}'", def.name));
    }
    let mut flags = CmdFlags::MODULE;
    for f in def.flags.split_whitespace() {
        let Some((_, bits)) = MODULE_FLAGS.iter().find(|(n, _)| n.eq_ignore_ascii_case(f)) else {
            return Err(format!("unknown flag '{f}' for module command '{name}'"));
        };
        flags = flags.union(*bits);
    }
    let mut key_specs: Vec<KeySpec> =
        def.key_specs.iter().map(|ks| key_spec(ks, &name)).collect::<Result<_, _>>()?;
    if key_specs.is_empty() && def.first_key > 0 {
        // The legacy triple, as Redis turns it into a key spec for module commands.
        if def.key_step <= 0 || (def.last_key > 0 && def.last_key < def.first_key) {
            return Err(format!("invalid key positions for module command '{name}'"));
        }
        let lastkey = if def.last_key < 0 { def.last_key } else { def.last_key - def.first_key };
        key_specs.push(KeySpec {
            flags: KeyFlags::RW.union(KeyFlags::ACCESS).union(KeyFlags::UPDATE),
            notes: None,
            begin_search: BeginSearch::Index(def.first_key),
            find_keys: FindKeys::Range { lastkey, step: def.key_step, limit: 0 },
        });
    }
    let (first_key, last_key, key_step, movable) = legacy_range(&key_specs);
    if movable {
        flags = flags.union(CmdFlags::MOVABLEKEYS);
    }

    let mut acl = AclCategories::EMPTY;
    for c in def.acl_categories.split_whitespace() {
        let c = c.trim_start_matches('@');
        acl = acl
            .union(AclCategories::from_name(c).ok_or_else(|| {
                format!("unknown ACL category '{c}' for module command '{name}'")
            })?);
    }
    // The categories Redis implies from the flags.
    let implied = [
        (CmdFlags::WRITE, AclCategories::WRITE),
        (CmdFlags::READONLY, AclCategories::READ),
        (CmdFlags::ADMIN, AclCategories::ADMIN.union(AclCategories::DANGEROUS)),
        (CmdFlags::PUBSUB, AclCategories::PUBSUB),
        (CmdFlags::FAST, AclCategories::FAST),
        (CmdFlags::BLOCKING, AclCategories::BLOCKING),
    ];
    for (f, c) in implied {
        if flags.contains(f) && !(f == CmdFlags::READONLY && acl.contains(AclCategories::SCRIPTING))
        {
            acl = acl.union(c);
        }
    }
    if !flags.contains(CmdFlags::FAST) {
        acl = acl.union(AclCategories::SLOW);
    }

    let flag_names: Vec<&'static str> = flags.names().collect();
    let acl_names: Vec<&'static str> = acl.names().map(|n| leak(&format!("@{n}"))).collect();
    let name: &'static str = leak(&name);
    let spec = CommandSpec {
        name,
        full_name: name,
        container: None,
        summary: leak(&def.summary),
        complexity: opt(&def.complexity),
        group: "module",
        since: leak(&def.since),
        arity: def.arity,
        flags: Box::leak(flag_names.into_boxed_slice()),
        flag_bits: flags,
        acl_categories: Box::leak(acl_names.into_boxed_slice()),
        acl_bits: acl,
        first_key,
        last_key,
        key_step,
        key_specs: Box::leak(key_specs.into_boxed_slice()),
        arguments: &[],
        subcommands: &[],
        tips: &[],
        doc_flags: &[],
        deprecated_since: None,
        replaced_by: None,
        history: &[],
    };
    Ok(Box::leak(Box::new(spec)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_stable::std_types::RVec;

    fn def(name: &str, flags: &str) -> abi::CommandDef {
        abi::CommandDef {
            name: name.into(),
            arity: -2,
            flags: flags.into(),
            first_key: 0,
            last_key: 0,
            key_step: 0,
            key_specs: RVec::new(),
            acl_categories: "".into(),
            summary: "".into(),
            complexity: "".into(),
            since: "".into(),
        }
    }

    #[test]
    fn flags_and_implied_categories() {
        let s = build(&def("Mod.Get", "readonly fast")).unwrap();
        assert_eq!(s.name, "mod.get");
        assert_eq!(s.flags, &["readonly", "module", "fast"]);
        assert_eq!(s.acl_categories, &["@read", "@fast"]);
        let s = build(&def("mod.set", "write deny-oom")).unwrap();
        assert_eq!(s.acl_categories, &["@write", "@slow"]);
        assert!(build(&def("mod.x", "bogus")).unwrap_err().contains("unknown flag 'bogus'"));
        assert!(build(&def("a|b", "")).is_err());
    }

    #[test]
    fn legacy_keys_become_a_key_spec() {
        let mut d = def("mod.mset", "write");
        (d.first_key, d.last_key, d.key_step) = (1, -1, 2);
        let s = build(&d).unwrap();
        assert_eq!((s.first_key, s.last_key, s.key_step), (1, -1, 2));
        assert_eq!(s.key_specs.len(), 1);
        let args: Vec<&[u8]> = vec![b"mod.mset", b"a", b"1", b"b", b"2"];
        let keys: Vec<usize> =
            crate::cmd::spec::get_keys(s, &args).unwrap().into_iter().map(|k| k.0).collect();
        assert_eq!(keys, vec![1, 3]);
    }

    #[test]
    fn key_specs_give_the_legacy_triple() {
        let mut d = def("mod.copy", "write");
        d.key_specs.push(abi::KeySpec {
            flags: "RO ACCESS".into(),
            begin_search: abi::BeginSearch::Index(1),
            find_keys: abi::FindKeys::Range { lastkey: 0, step: 1, limit: 0 },
        });
        d.key_specs.push(abi::KeySpec {
            flags: "OW UPDATE".into(),
            begin_search: abi::BeginSearch::Index(2),
            find_keys: abi::FindKeys::Range { lastkey: 0, step: 1, limit: 0 },
        });
        let s = build(&d).unwrap();
        assert_eq!((s.first_key, s.last_key, s.key_step), (1, 2, 1));
        assert!(!s.flag_bits.contains(CmdFlags::MOVABLEKEYS));
        d.key_specs[0].flags = "XX".into();
        assert!(build(&d).is_err());
    }
}
