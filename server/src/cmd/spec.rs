//! Command metadata: the static command table.
//!
//! `server/build.rs` reads `server/commands/*.json` (recorded from Redis 7.0's `COMMAND INFO` and
//! `COMMAND DOCS` replies by `server/commands/record.py`) and `server/commands/vireo/*.json`
//! (hand-written: the later commands Vireo adds, such as Redis 7.2's CLIENT SETINFO) and
//! generates the table included at the bottom of this file. Everything here is plain `&'static` data: nothing is allocated to look a
//! command up or to print its metadata.
//!
//! Besides what the JSON files hold, the build script derives what Redis itself derives when it
//! loads its table, so that `COMMAND INFO` can be answered from this data alone:
//! - the `movablekeys` flag and the legacy `first_key`/`last_key`/`key_step` triple, from the key
//!   specs;
//! - the ACL categories implied by the flags (`write` -> `@write`, `readonly` -> `@read` unless the
//!   command is `@scripting`, `admin` -> `@admin @dangerous`, `pubsub` -> `@pubsub`, `fast` ->
//!   `@fast`, otherwise `@slow`, `blocking` -> `@blocking`).

use std::fmt;

macro_rules! bitset {
    (
        $(#[$meta:meta])*
        $name:ident($repr:ty) { $($(#[$cmeta:meta])* $konst:ident = $text:literal,)* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub $repr);

        #[allow(clippy::eq_op, clippy::identity_op)]
        impl $name {
            /// The names, in the order Redis prints them; bit `i` is `NAMES[i]`.
            pub const NAMES: &'static [&'static str] = &[$($text),*];
            bitset!(@consts $repr, 0, $($(#[$cmeta])* $konst,)*);
            pub const EMPTY: Self = Self(0);

            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }
            pub const fn intersects(self, other: Self) -> bool {
                self.0 & other.0 != 0
            }
            pub const fn union(self, other: Self) -> Self {
                Self(self.0 | other.0)
            }
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }
            /// The bit for one name (ASCII case-insensitive).
            pub fn from_name(name: &str) -> Option<Self> {
                Self::NAMES
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case(name))
                    .map(|i| Self(1 << i))
            }
            /// The names of the bits set, in the order Redis prints them.
            pub fn names(self) -> impl Iterator<Item = &'static str> {
                Self::NAMES
                    .iter()
                    .enumerate()
                    .filter(move |(i, _)| self.0 & (1 << i) != 0)
                    .map(|(_, n)| *n)
            }
        }

        impl std::ops::BitOr for $name {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self {
                Self(self.0 | rhs.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.names()).finish()
            }
        }
    };
    (@consts $repr:ty, $bit:expr, ) => {};
    (@consts $repr:ty, $bit:expr, $(#[$cmeta:meta])* $konst:ident, $($rest:tt)*) => {
        $(#[$cmeta])*
        pub const $konst: Self = Self(1 << $bit);
        bitset!(@consts $repr, $bit + 1, $($rest)*);
    };
}

bitset! {
    /// Command flags, as `COMMAND INFO` prints them.
    CmdFlags(u32) {
        WRITE = "write",
        READONLY = "readonly",
        DENYOOM = "denyoom",
        MODULE = "module",
        ADMIN = "admin",
        PUBSUB = "pubsub",
        NOSCRIPT = "noscript",
        BLOCKING = "blocking",
        LOADING = "loading",
        STALE = "stale",
        SKIP_MONITOR = "skip_monitor",
        SKIP_SLOWLOG = "skip_slowlog",
        ASKING = "asking",
        FAST = "fast",
        NO_AUTH = "no_auth",
        MAY_REPLICATE = "may_replicate",
        SENTINEL = "sentinel",
        ONLY_SENTINEL = "only_sentinel",
        NO_MANDATORY_KEYS = "no_mandatory_keys",
        PROTECTED = "protected",
        NO_ASYNC_LOADING = "no_async_loading",
        NO_MULTI = "no_multi",
        MOVABLEKEYS = "movablekeys",
        ALLOW_BUSY = "allow_busy",
    }
}

bitset! {
    /// ACL categories (without the `@`), in the order `COMMAND INFO` and `ACL CAT` print them.
    AclCategories(u32) {
        KEYSPACE = "keyspace",
        READ = "read",
        WRITE = "write",
        SET = "set",
        SORTEDSET = "sortedset",
        LIST = "list",
        HASH = "hash",
        STRING = "string",
        BITMAP = "bitmap",
        HYPERLOGLOG = "hyperloglog",
        GEO = "geo",
        STREAM = "stream",
        PUBSUB = "pubsub",
        ADMIN = "admin",
        FAST = "fast",
        SLOW = "slow",
        BLOCKING = "blocking",
        DANGEROUS = "dangerous",
        CONNECTION = "connection",
        TRANSACTION = "transaction",
        SCRIPTING = "scripting",
    }
}

bitset! {
    /// Key-spec flags, spelled as `COMMAND INFO` and `COMMAND GETKEYSANDFLAGS` print them.
    KeyFlags(u16) {
        RO = "RO",
        RW = "RW",
        OW = "OW",
        RM = "RM",
        ACCESS = "access",
        UPDATE = "update",
        INSERT = "insert",
        DELETE = "delete",
        NOT_KEY = "not_key",
        INCOMPLETE = "incomplete",
        VARIABLE_FLAGS = "variable_flags",
    }
}

/// The type of a command argument, as `COMMAND DOCS` prints it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum ArgType {
    String,
    Integer,
    Double,
    Key,
    Pattern,
    UnixTime,
    PureToken,
    Oneof,
    Block,
}

impl ArgType {
    pub const fn as_str(self) -> &'static str {
        match self {
            ArgType::String => "string",
            ArgType::Integer => "integer",
            ArgType::Double => "double",
            ArgType::Key => "key",
            ArgType::Pattern => "pattern",
            ArgType::UnixTime => "unix-time",
            ArgType::PureToken => "pure-token",
            ArgType::Oneof => "oneof",
            ArgType::Block => "block",
        }
    }
}

/// Where a key spec starts looking for keys.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BeginSearch {
    /// At this argument index.
    Index(i32),
    /// Just after `keyword`, searched case-insensitively from argument `startfrom` towards the end,
    /// or, when `startfrom` is negative, from `argc + startfrom` back towards the start.
    Keyword {
        keyword: &'static str,
        startfrom: i32,
    },
    Unknown,
}

/// How a key spec finds its keys once it has a start.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FindKeys {
    /// Keys up to `lastkey` (relative to the start; negative counts from the end of argv), every
    /// `step` arguments. With a negative `lastkey` and a non-zero `limit`, only `1/limit` of the
    /// remaining arguments are keys (XREAD's STREAMS).
    Range {
        lastkey: i32,
        step: i32,
        limit: i32,
    },
    /// The key count is the argument at `start + keynumidx`; keys begin at `start + firstkey`.
    Keynum {
        keynumidx: i32,
        firstkey: i32,
        step: i32,
    },
    Unknown,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KeySpec {
    pub flags: KeyFlags,
    pub notes: Option<&'static str>,
    pub begin_search: BeginSearch,
    pub find_keys: FindKeys,
}

/// One node of a command's argument tree (`COMMAND DOCS`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Arg {
    pub name: &'static str,
    pub typ: ArgType,
    /// Index into the command's `key_specs`, or -1.
    pub key_spec_index: i32,
    pub token: Option<&'static str>,
    pub summary: Option<&'static str>,
    pub since: Option<&'static str>,
    pub deprecated_since: Option<&'static str>,
    pub display_text: Option<&'static str>,
    pub optional: bool,
    pub multiple: bool,
    pub multiple_token: bool,
    /// The children of a `oneof` or `block`.
    pub arguments: &'static [Arg],
}

impl Arg {
    /// The base the generated table fills in.
    pub const EMPTY: Arg = Arg {
        name: "",
        typ: ArgType::String,
        key_spec_index: -1,
        token: None,
        summary: None,
        since: None,
        deprecated_since: None,
        display_text: None,
        optional: false,
        multiple: false,
        multiple_token: false,
        arguments: &[],
    };
}

/// One command or subcommand.
#[derive(PartialEq, Eq, Debug)]
pub struct CommandSpec {
    /// Lower-case name: "get", or "list" for CLIENT LIST.
    pub name: &'static str,
    /// The name `COMMAND INFO` prints and error messages use: "get", "client|list".
    pub full_name: &'static str,
    /// Lower-case container of a subcommand: "client".
    pub container: Option<&'static str>,
    pub summary: &'static str,
    pub complexity: Option<&'static str>,
    pub group: &'static str,
    pub since: &'static str,
    /// Positive: exactly this many arguments (the name included); negative: at least -arity.
    pub arity: i32,
    /// Lower-case, as `COMMAND INFO` prints them, `movablekeys` included.
    pub flags: &'static [&'static str],
    /// The same flags as bits.
    pub flag_bits: CmdFlags,
    /// As `COMMAND INFO` prints them ("@write"), implied categories included.
    pub acl_categories: &'static [&'static str],
    /// The same categories as bits.
    pub acl_bits: AclCategories,
    /// The legacy key positions `COMMAND INFO` prints (derived from the key specs).
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
    pub key_specs: &'static [KeySpec],
    pub arguments: &'static [Arg],
    /// Sorted by name.
    pub subcommands: &'static [CommandSpec],
    /// Lower-case, as `COMMAND INFO` prints them: "nondeterministic_output",
    /// "request_policy:all_shards".
    pub tips: &'static [&'static str],
    /// Lower-case: "deprecated", "syscmd".
    pub doc_flags: &'static [&'static str],
    pub deprecated_since: Option<&'static str>,
    pub replaced_by: Option<&'static str>,
    /// (version, description) pairs.
    pub history: &'static [(&'static str, &'static str)],
}

impl CommandSpec {
    /// A subcommand by name, ASCII case-insensitive.
    pub fn subcommand(&self, name: &str) -> Option<&'static CommandSpec> {
        find_sorted(self.subcommands, name.as_bytes())
    }

    /// [`CommandSpec::subcommand`] on raw argument bytes.
    pub fn subcommand_bytes(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        find_sorted(self.subcommands, name)
    }

    pub const fn has_flag(&self, flag: CmdFlags) -> bool {
        self.flag_bits.contains(flag)
    }

    pub const fn is_container(&self) -> bool {
        !self.subcommands.is_empty()
    }

    /// Whether `argc` arguments (the command name, and for a subcommand the container's name,
    /// included) satisfy the arity.
    pub const fn arity_ok(&self, argc: usize) -> bool {
        let arity = self.arity as i64;
        let argc = argc as i64;
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// Whether some key spec names real keys (not only channels): what `COMMAND GETKEYS` needs
    /// before it answers anything but "The command has no key arguments".
    pub fn has_keys(&self) -> bool {
        self.key_specs.iter().any(|ks| !ks.flags.contains(KeyFlags::NOT_KEY))
    }
}

/// The top-level commands, sorted by name.
pub fn all() -> &'static [CommandSpec] {
    &generated::COMMANDS
}

/// A top-level command by name, ASCII case-insensitive. One hash and one comparison.
pub fn lookup(name: &str) -> Option<&'static CommandSpec> {
    lookup_bytes(name.as_bytes())
}

/// [`lookup`] on raw argument bytes (argv[0] as it came off the wire).
pub fn lookup_bytes(name: &[u8]) -> Option<&'static CommandSpec> {
    if name.len() > generated::MAX_NAME_LEN {
        return None;
    }
    let h = name_hash(name);
    let disp = generated::HASH_DISP[(h >> 32) as usize & (generated::HASH_DISP.len() - 1)];
    let idx = generated::HASH_SLOTS[slot_of(h, disp, generated::HASH_SLOT_BITS)];
    if idx == 0 {
        return None;
    }
    let spec = &generated::COMMANDS[idx as usize - 1];
    spec.name.as_bytes().eq_ignore_ascii_case(name).then_some(spec)
}

/// A command or subcommand by its full name: "get", "client|list" (case-insensitive).
pub fn lookup_full(name: &str) -> Option<&'static CommandSpec> {
    match name.split_once('|') {
        None => lookup(name),
        Some((container, sub)) => lookup(container)?.subcommand(sub),
    }
}

/// A case-folding hash of a command name, eight bytes at a time. `build.rs` builds the perfect
/// hash with the same function; keep the two in step.
fn name_hash(name: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (name.len() as u64).wrapping_mul(K);
    for chunk in name.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        // Setting bit 5 of every byte folds ASCII case (and maps a few non-letters together,
        // which only costs a comparison).
        h = (h ^ (u64::from_le_bytes(word) | 0x2020_2020_2020_2020)).wrapping_mul(K);
        h ^= h >> 29;
    }
    h
}

/// The slot of a hash in a table of `1 << bits` slots, given its bucket's displacement.
fn slot_of(h: u64, disp: u32, bits: u32) -> usize {
    (((h as u32) ^ disp).wrapping_mul(0x9e37_79b9) >> (32 - bits)) as usize
}

fn find_sorted(specs: &'static [CommandSpec], name: &[u8]) -> Option<&'static CommandSpec> {
    specs
        .binary_search_by(|s| {
            let a = s.name.as_bytes().iter();
            let b = name.iter().map(u8::to_ascii_lowercase);
            a.copied().cmp(b)
        })
        .ok()
        .map(|i| &specs[i])
}

// ------------------------------------------------------------------------------------------------
// Key extraction

/// Why no keys could be found in an argument vector.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum GetKeysError {
    /// The arguments do not match the command's key specs: a key count that is not a valid
    /// integer or that runs past the end, a keyword with nothing after it, a spec Redis cannot
    /// evaluate. `COMMAND GETKEYS` then replies as it does for zero keys.
    InvalidArguments,
}

impl fmt::Display for GetKeysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Invalid arguments specified for command")
    }
}

impl std::error::Error for GetKeysError {}

/// A key's position in argv and the flags of the key spec that found it.
pub type KeyRef = (usize, KeyFlags);

/// The keys of one call, as `COMMAND GETKEYS[ANDFLAGS]` and cluster routing see them.
///
/// `argv` is the whole call, argv[0] being the command name (and argv[1] the subcommand's name
/// for a subcommand, whose key positions count from the container's name). Channels of
/// `not_key` specs (SPUBLISH, SSUBSCRIBE) are left out; see [`get_keys_and_channels`].
///
/// Like Redis 7.0, the key specs are evaluated when they can be; when one cannot (an `unknown`
/// or `incomplete` spec, a bad key count, a keyword at the very end) or when a spec's flags
/// depend on the arguments (`variable_flags`), the command's own rule applies, as Redis's
/// per-command key functions do: SORT / SORT_RO (STORE), MIGRATE (KEYS), GEORADIUS[BYMEMBER]
/// (trailing STORE), SET (GET makes it RW), BITFIELD (read-only sub-operations make it RO), and
/// the numkeys commands (EVAL/FCALL family, Z*STORE, ZUNION & co, SINTERCARD, [B]LMPOP,
/// [B]ZMPOP), whose fallback reads the count leniently (as C's strtol: "01", "+1", " 1", "1x")
/// and gives the keys it finds no flags.
/// Any other failure is an error. The fallbacks' results were checked against Redis 7.0.15's
/// COMMAND GETKEYSANDFLAGS replies.
pub fn get_keys(spec: &CommandSpec, argv: &[&[u8]]) -> Result<Vec<KeyRef>, GetKeysError> {
    keys_of(spec, argv, false)
}

/// The keys a call names for the work after it runs (WATCH, client tracking, `keymiss`):
/// [`get_keys`], or where that fails as COMMAND GETKEYS does (PFMERGE with no source keys, a
/// spec beyond the last argument), the keys of the specs that can be evaluated. The command
/// itself ran, and its destination key must not be missed.
pub fn keys_after_call(spec: &CommandSpec, argv: &[&[u8]]) -> Vec<KeyRef> {
    get_keys(spec, argv).unwrap_or_else(|_| {
        let variable = spec.key_specs.iter().any(|ks| ks.flags.contains(KeyFlags::VARIABLE_FLAGS));
        if variable {
            return Vec::new();
        }
        eval_specs_with(spec, argv, false, true).unwrap_or_default()
    })
}

/// [`get_keys`], including the channels of `not_key` specs (cluster routing of sharded pubsub).
pub fn get_keys_and_channels(
    spec: &CommandSpec,
    argv: &[&[u8]],
) -> Result<Vec<KeyRef>, GetKeysError> {
    keys_of(spec, argv, true)
}

fn keys_of(
    spec: &CommandSpec,
    argv: &[&[u8]],
    with_channels: bool,
) -> Result<Vec<KeyRef>, GetKeysError> {
    let usable = |ks: &KeySpec| with_channels || !ks.flags.contains(KeyFlags::NOT_KEY);
    let has_specs = spec.key_specs.iter().any(usable);
    let variable = spec.key_specs.iter().any(|ks| ks.flags.contains(KeyFlags::VARIABLE_FLAGS));
    if !has_specs {
        return Ok(Vec::new());
    }
    if !variable {
        if let Ok(keys) = eval_specs(spec, argv, with_channels) {
            return Ok(keys);
        }
    }
    if spec.container.is_some() {
        return Err(GetKeysError::InvalidArguments);
    }
    let ks_flags = |i: usize| spec.key_specs.get(i).map_or(KeyFlags::EMPTY, |ks| ks.flags);
    match spec.name {
        "sort" => sort_keys(argv, ks_flags(0), ks_flags(2)),
        "sort_ro" => first_key(argv, ks_flags(0)),
        "migrate" => migrate_keys(argv, ks_flags(0)),
        "georadius" | "georadiusbymember" => georadius_keys(argv, ks_flags(0), ks_flags(1)),
        "set" => {
            let get = argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
            let flags = if get {
                KeyFlags::RW | KeyFlags::ACCESS | KeyFlags::UPDATE
            } else {
                KeyFlags::OW | KeyFlags::UPDATE
            };
            first_key(argv, flags)
        }
        "bitfield" => {
            let flags = if bitfield_is_read_only(argv) {
                KeyFlags::RO | KeyFlags::ACCESS
            } else {
                KeyFlags::RW | KeyFlags::ACCESS | KeyFlags::UPDATE
            };
            first_key(argv, flags)
        }
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => {
            numkeys_fallback(argv, 2, None)
        }
        "zunionstore" | "zinterstore" | "zdiffstore" => numkeys_fallback(argv, 2, Some(1)),
        "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" | "lmpop" | "zmpop" => {
            numkeys_fallback(argv, 1, None)
        }
        "blmpop" | "bzmpop" => numkeys_fallback(argv, 2, None),
        // Specs whose flags vary but that have no rule of their own: their positions with the
        // declared flags.
        _ if variable => eval_specs(spec, argv, with_channels),
        // XREAD / XREADGROUP included: where their specs fail, Redis finds no keys either.
        _ => Err(GetKeysError::InvalidArguments),
    }
}

/// Redis's key-spec evaluation; any spec it cannot evaluate fails the whole call.
fn eval_specs(
    spec: &CommandSpec,
    argv: &[&[u8]],
    with_channels: bool,
) -> Result<Vec<KeyRef>, GetKeysError> {
    eval_specs_with(spec, argv, with_channels, false)
}

/// [`eval_specs`]; with `skip_bad`, a spec whose keys fall outside the arguments gives none
/// instead of failing the call.
fn eval_specs_with(
    spec: &CommandSpec,
    argv: &[&[u8]],
    with_channels: bool,
    skip_bad: bool,
) -> Result<Vec<KeyRef>, GetKeysError> {
    const BAD: GetKeysError = GetKeysError::InvalidArguments;
    let argc = argv.len() as i64;
    let mut keys = Vec::new();
    for ks in spec.key_specs {
        if ks.flags.contains(KeyFlags::NOT_KEY) && !with_channels {
            continue;
        }
        if ks.flags.contains(KeyFlags::INCOMPLETE) {
            return Err(BAD);
        }
        let mut first = match ks.begin_search {
            BeginSearch::Index(pos) => i64::from(pos),
            BeginSearch::Keyword { keyword, startfrom } => {
                match find_keyword(argv, keyword, startfrom) {
                    Some(i) => i as i64 + 1,
                    None => continue, // an absent keyword just means no keys from this spec
                }
            }
            BeginSearch::Unknown => return Err(BAD),
        };
        let (last, step) = match ks.find_keys {
            FindKeys::Range { lastkey, step, limit } => {
                let lastkey = i64::from(lastkey);
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit == 0 {
                    argc + lastkey
                } else {
                    first + (argc - first) / i64::from(limit) + lastkey
                };
                (last, step)
            }
            FindKeys::Keynum { keynumidx, firstkey, step } => {
                let keynumidx = i64::from(keynumidx);
                if keynumidx >= argc - first || first + keynumidx < 0 {
                    return Err(BAD);
                }
                let count = parse_strict(argv[(first + keynumidx) as usize]).ok_or(BAD)?;
                if count < 0 {
                    return Err(BAD);
                }
                first += i64::from(firstkey);
                // Redis narrows the count to a C int here; so do we.
                (first + i64::from(count as i32) - 1, step)
            }
            FindKeys::Unknown => return Err(BAD),
        };
        if last >= argc || last < first || first >= argc || first < 0 || step <= 0 {
            if skip_bad {
                continue;
            }
            return Err(BAD);
        }
        let mut i = first;
        while i <= last {
            keys.push((i as usize, ks.flags));
            i += i64::from(step);
        }
    }
    Ok(keys)
}

fn find_keyword(argv: &[&[u8]], keyword: &str, startfrom: i32) -> Option<usize> {
    let argc = argv.len() as i64;
    let matches = |i: i64| argv[i as usize].eq_ignore_ascii_case(keyword.as_bytes());
    if startfrom == 0 {
        None // Redis's search stops at argv[0] at once
    } else if startfrom > 0 {
        (i64::from(startfrom)..argc).find(|&i| matches(i)).map(|i| i as usize)
    } else {
        let start = (argc + i64::from(startfrom)).min(argc - 1);
        (1..=start).rev().find(|&i| matches(i)).map(|i| i as usize)
    }
}

/// An integer as Redis's strict parser takes it: optional '-', digits, no leading zeros, no
/// spaces or '+', within i64.
fn parse_strict(s: &[u8]) -> Option<i64> {
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    if digits.is_empty()
        || !digits.iter().all(u8::is_ascii_digit)
        || (digits[0] == b'0' && s.len() > 1)
    {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// An integer as C's strtol reads it: leading white space, a sign, digits up to the first
/// non-digit (none: 0), saturating on overflow.
fn parse_lenient(s: &[u8]) -> i64 {
    let mut rest = s;
    while let [b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c, tail @ ..] = rest {
        rest = tail;
    }
    let neg = rest.first() == Some(&b'-');
    if let [b'+' | b'-', tail @ ..] = rest {
        rest = tail;
    }
    let mut n: i64 = 0;
    for &b in rest.iter().take_while(|b| b.is_ascii_digit()) {
        let d = i64::from(b - b'0');
        n = n.saturating_mul(10);
        n = if neg { n.saturating_sub(d) } else { n.saturating_add(d) };
    }
    n
}

fn first_key(argv: &[&[u8]], flags: KeyFlags) -> Result<Vec<KeyRef>, GetKeysError> {
    if argv.len() < 2 {
        return Err(GetKeysError::InvalidArguments);
    }
    Ok(vec![(1, flags)])
}

/// Keys of a numkeys command when its spec could not be used: count at `count_at`, keys right
/// after it, then the destination (Z*STORE lists it after the sources, as Redis does).
///
/// Like Redis 7.0's fallback (`COMMAND GETKEYSANDFLAGS eval s 01 a` answers `a` with no flags),
/// the keys found this way carry no flags, the destination's included: the rule knows positions,
/// not how the command uses them.
fn numkeys_fallback(
    argv: &[&[u8]],
    count_at: usize,
    dest: Option<usize>,
) -> Result<Vec<KeyRef>, GetKeysError> {
    let Some(count) = argv.get(count_at).map(|a| parse_lenient(a)) else {
        return Err(GetKeysError::InvalidArguments);
    };
    let available = (argv.len() - count_at - 1) as i64;
    if count < 1 || count > available {
        return Err(GetKeysError::InvalidArguments);
    }
    let mut keys: Vec<KeyRef> =
        (0..count as usize).map(|i| (count_at + 1 + i, KeyFlags::EMPTY)).collect();
    if let Some(d) = dest {
        keys.push((d, KeyFlags::EMPTY));
    }
    Ok(keys)
}

fn sort_keys(
    argv: &[&[u8]],
    key_flags: KeyFlags,
    store_flags: KeyFlags,
) -> Result<Vec<KeyRef>, GetKeysError> {
    let mut keys = first_key(argv, key_flags)?;
    let mut store = None;
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if a.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"store") && i + 1 < argv.len() {
            store = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    keys.extend(store.map(|s| (s, store_flags)));
    Ok(keys)
}

/// MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 user pw] [KEYS key...]
fn migrate_keys(argv: &[&[u8]], flags: KeyFlags) -> Result<Vec<KeyRef>, GetKeysError> {
    if argv.len() < 4 {
        return Err(GetKeysError::InvalidArguments);
    }
    let mut i = 6;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let a = argv[i];
        if a.eq_ignore_ascii_case(b"auth") && more >= 1 {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"auth2") && more >= 2 {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"keys") && more >= 1 {
            if !argv[3].is_empty() {
                return Err(GetKeysError::InvalidArguments);
            }
            return Ok((i + 1..argv.len()).map(|k| (k, flags)).collect());
        }
        i += 1;
    }
    Ok(vec![(3, flags)])
}

fn georadius_keys(
    argv: &[&[u8]],
    key_flags: KeyFlags,
    store_flags: KeyFlags,
) -> Result<Vec<KeyRef>, GetKeysError> {
    let mut keys = first_key(argv, key_flags)?;
    let mut store = None;
    let mut i = 5;
    while i < argv.len() {
        let a = argv[i];
        if (a.eq_ignore_ascii_case(b"store") || a.eq_ignore_ascii_case(b"storedist"))
            && i + 1 < argv.len()
        {
            store = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    keys.extend(store.map(|s| (s, store_flags)));
    Ok(keys)
}

/// BITFIELD touches its key read-only when every sub-operation is a complete GET (OVERFLOW
/// included); anything else, even a malformed operation, counts as a write.
fn bitfield_is_read_only(argv: &[&[u8]]) -> bool {
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if argv[i].eq_ignore_ascii_case(b"get") && more >= 2 {
            i += 3;
        } else if argv[i].eq_ignore_ascii_case(b"overflow") && more >= 1 {
            i += 2;
        } else {
            return false;
        }
    }
    true
}

include!(concat!(env!("OUT_DIR"), "/command_table.rs"));

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(name: &str, args: &[&str]) -> Result<Vec<usize>, GetKeysError> {
        let spec = lookup_full(name).unwrap_or_else(|| panic!("no command {name}"));
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        get_keys(spec, &argv).map(|v| v.into_iter().map(|(i, _)| i).collect())
    }

    fn names(name: &str, args: &str) -> Result<Vec<String>, GetKeysError> {
        let argv: Vec<&str> = args.split(' ').collect();
        keys(name, &argv).map(|v| v.into_iter().map(|i| argv[i].to_string()).collect())
    }

    fn key_flags(name: &str, args: &str) -> Vec<String> {
        let spec = lookup(name).unwrap();
        let argv: Vec<&[u8]> = args.split(' ').map(str::as_bytes).collect();
        get_keys(spec, &argv)
            .unwrap()
            .into_iter()
            .map(|(i, f)| {
                let mut s = String::from_utf8(argv[i].to_vec()).unwrap();
                for n in f.names() {
                    s.push(' ');
                    s.push_str(n);
                }
                s
            })
            .collect()
    }

    #[test]
    fn lookups() {
        assert_eq!(all().len(), 240);
        assert!(all().windows(2).all(|w| w[0].name < w[1].name));
        for spec in all() {
            assert!(std::ptr::eq(lookup(spec.name).unwrap(), spec));
            assert!(std::ptr::eq(lookup(&spec.name.to_ascii_uppercase()).unwrap(), spec));
        }
        assert_eq!(lookup("get").unwrap().full_name, "get");
        assert_eq!(lookup_bytes(b"GeT").unwrap().name, "get");
        assert!(lookup("").is_none());
        assert!(lookup("nosuchcommand").is_none());
        assert!(lookup("gett").is_none());
        assert!(lookup("ge").is_none());
        assert!(lookup(&"get".repeat(100)).is_none());
        assert!(lookup("client|list").is_none());
        let list = lookup("client").unwrap().subcommand("LIST").unwrap();
        assert_eq!(list.full_name, "client|list");
        assert_eq!(list.container, Some("client"));
        assert!(std::ptr::eq(lookup_full("CLIENT|list").unwrap(), list));
        assert!(lookup("client").unwrap().subcommand("nope").is_none());
        assert!(lookup("get").unwrap().subcommand("x").is_none());
        assert!(lookup("config").unwrap().is_container());
        assert!(lookup("restore-asking").is_some());
    }

    /// `commands/vireo/` adds Redis 7.2's CLIENT NO-TOUCH and CLIENT SETINFO to the recorded
    /// CLIENT container, with 7.2's metadata.
    #[test]
    fn vireo_additions() {
        let client = lookup("client").unwrap();
        assert!(client.subcommands.windows(2).all(|w| w[0].name < w[1].name));
        let touch = lookup_full("client|no-touch").unwrap();
        assert_eq!(touch.full_name, "client|no-touch");
        assert_eq!((touch.arity, touch.since, touch.group), (3, "7.2.0", "connection"));
        assert_eq!(touch.flags, ["noscript", "loading", "stale"]);
        assert_eq!(touch.acl_categories, ["@slow", "@connection"]);
        let setinfo = lookup_full("CLIENT|SETINFO").unwrap();
        assert_eq!((setinfo.arity, setinfo.since), (4, "7.2.0"));
        assert_eq!(setinfo.flags, ["noscript", "loading", "stale"]);
        assert_eq!(setinfo.acl_categories, ["@slow", "@connection"]);
        let attr = &setinfo.arguments[0];
        assert_eq!((attr.name, attr.typ), ("attr", ArgType::Oneof));
        let tokens: Vec<_> = attr.arguments.iter().map(|a| a.token.unwrap()).collect();
        assert_eq!(tokens, ["LIB-NAME", "LIB-VER"]);
        // a recorded subcommand next to them is untouched
        assert_eq!(lookup_full("client|no-evict").unwrap().since, "7.0.0");
    }

    #[test]
    fn metadata() {
        let get = lookup("get").unwrap();
        assert_eq!(get.arity, 2);
        assert_eq!(get.flags, ["readonly", "fast"]);
        assert_eq!(get.acl_categories, ["@read", "@string", "@fast"]);
        assert!(get.has_flag(CmdFlags::READONLY | CmdFlags::FAST));
        assert!(!get.has_flag(CmdFlags::WRITE));
        assert!(get.acl_bits.contains(AclCategories::STRING));
        assert_eq!((get.first_key, get.last_key, get.key_step), (1, 1, 1));
        assert_eq!(get.group, "string");
        assert_eq!(get.since, "1.0.0");
        assert_eq!(get.arguments[0].typ, ArgType::Key);
        assert_eq!(get.arguments[0].key_spec_index, 0);
        assert!(get.arity_ok(2) && !get.arity_ok(1) && !get.arity_ok(3));

        let mset = lookup("mset").unwrap();
        assert_eq!(mset.arity, -3);
        assert!(mset.arity_ok(5) && !mset.arity_ok(2));
        assert_eq!((mset.first_key, mset.last_key, mset.key_step), (1, -1, 2));
        assert_eq!(lookup("set").unwrap().arity, -3);
        assert_eq!(lookup("ping").unwrap().arity, -1);
        assert_eq!(lookup("zadd").unwrap().arity, -4);
        assert_eq!(lookup("xread").unwrap().arity, -4);
        assert_eq!(lookup_full("client|kill").unwrap().arity, -3);
        assert_eq!(lookup_full("object|encoding").unwrap().first_key, 2);

        let zu = lookup("zunionstore").unwrap();
        assert_eq!(zu.flags, ["write", "denyoom", "movablekeys"]);
        assert_eq!((zu.first_key, zu.last_key, zu.key_step), (1, 1, 1));
        let xr = lookup("xread").unwrap();
        assert_eq!(xr.acl_categories, ["@read", "@stream", "@slow", "@blocking"]);
        assert_eq!((xr.first_key, xr.last_key, xr.key_step), (0, 0, 0));
        assert_eq!(lookup("eval_ro").unwrap().acl_categories, ["@slow", "@scripting"]);
        let migrate = lookup("migrate").unwrap();
        assert!(migrate.has_flag(CmdFlags::MOVABLEKEYS));
        assert_eq!((migrate.first_key, migrate.last_key), (3, 3));
        let sort = lookup("sort").unwrap();
        assert_eq!(sort.key_specs.len(), 3);
        assert_eq!(sort.key_specs[1].begin_search, BeginSearch::Unknown);
        assert!(sort.key_specs[1].notes.is_some());
        assert_eq!(
            lookup("blpop").unwrap().acl_categories,
            ["@write", "@list", "@slow", "@blocking"]
        );
        let keys_cmd = lookup("keys").unwrap();
        assert_eq!(keys_cmd.tips, ["request_policy:all_shards", "nondeterministic_output_order"]);
        let rpoplpush = lookup("rpoplpush").unwrap();
        assert_eq!(rpoplpush.doc_flags, ["deprecated"]);
        assert_eq!(rpoplpush.deprecated_since, Some("6.2.0"));
        assert!(rpoplpush.replaced_by.is_some());
        assert!(!lookup("set").unwrap().history.is_empty());
    }

    #[test]
    fn bits_match_names() {
        fn check(spec: &CommandSpec) {
            let f: Vec<_> = spec.flag_bits.names().collect();
            assert_eq!(f, spec.flags, "{}", spec.full_name);
            let a: Vec<_> = spec.acl_bits.names().map(|n| format!("@{n}")).collect();
            assert_eq!(a, spec.acl_categories, "{}", spec.full_name);
            assert_eq!(
                spec.has_flag(CmdFlags::FAST),
                !spec.acl_bits.contains(AclCategories::SLOW),
                "{}",
                spec.full_name
            );
            for arg in spec.arguments {
                assert!(arg.key_spec_index < spec.key_specs.len() as i32);
            }
            spec.subcommands.iter().for_each(check);
        }
        all().iter().for_each(check);
        assert_eq!(CmdFlags::from_name("DENYOOM"), Some(CmdFlags::DENYOOM));
        assert_eq!(format!("{:?}", KeyFlags::RW | KeyFlags::ACCESS), "[\"RW\", \"access\"]");
    }

    /// Every `<container>-<sub>.json` file, recorded or Vireo's own, is reachable as a
    /// subcommand, and every command file as a command.
    #[test]
    fn every_json_file_is_reachable() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("commands");
        let entries =
            std::fs::read_dir(&dir).unwrap().chain(std::fs::read_dir(dir.join("vireo")).unwrap());
        let mut files = 0;
        let mut subs = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            files += 1;
            let text = std::fs::read_to_string(&path).unwrap();
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            match text.find("\"container\": \"") {
                Some(at) => {
                    let rest = &text[at + 14..];
                    let container = rest[..rest.find('"').unwrap()].to_ascii_lowercase();
                    let sub = &stem[container.len() + 1..];
                    let spec = lookup(&container).and_then(|c| c.subcommand(sub));
                    let spec = spec.unwrap_or_else(|| panic!("{stem} not reachable"));
                    assert_eq!(spec.full_name, format!("{container}|{sub}"));
                    subs += 1;
                }
                None => assert!(lookup(&stem).is_some(), "{stem} not reachable"),
            }
        }
        let total_subs: usize = all().iter().map(|c| c.subcommands.len()).sum();
        assert_eq!(subs, total_subs);
        assert_eq!(files, all().len() + total_subs);
    }

    #[test]
    fn keys_from_specs() {
        assert_eq!(names("get", "get k"), Ok(vec!["k".into()]));
        assert_eq!(names("mset", "mset a 1 b 2"), Ok(vec!["a".into(), "b".into()]));
        assert_eq!(names("mset", "mset a 1 b"), Ok(vec!["a".into(), "b".into()]));
        assert_eq!(names("mget", "mget a b c").unwrap().len(), 3);
        assert_eq!(names("blpop", "blpop a b 0").unwrap(), ["a", "b"]);
        assert_eq!(names("lmove", "lmove a b left right").unwrap(), ["a", "b"]);
        assert_eq!(names("object|encoding", "object encoding k").unwrap(), ["k"]);
        assert_eq!(names("xinfo|stream", "xinfo stream k").unwrap(), ["k"]);
        assert_eq!(names("ping", "ping"), Ok(vec![]));
        assert_eq!(key_flags("rename", "rename a b"), ["a RW access delete", "b OW update"]);
    }

    #[test]
    fn keys_numkeys() {
        assert_eq!(names("eval", "eval s 2 a b c").unwrap(), ["a", "b"]);
        assert_eq!(names("eval", "eval s 1 a").unwrap(), ["a"]);
        assert_eq!(names("fcall", "fcall f 1 a").unwrap(), ["a"]);
        for bad in ["eval s 0", "eval s 2 a", "eval s -1 a", "eval s x a", "eval s 1"] {
            assert_eq!(names("eval", bad), Err(GetKeysError::InvalidArguments), "{bad}");
        }
        // Redis's fallback reads the count leniently
        for odd in ["eval s 01 a", "eval s +1 a", "eval s 1x a"] {
            assert_eq!(names("eval", odd).unwrap(), ["a"], "{odd}");
        }
        assert_eq!(names("zunionstore", "zunionstore d 2 a b").unwrap(), ["d", "a", "b"]);
        assert_eq!(names("zunionstore", "zunionstore d 1 a weights 1").unwrap(), ["d", "a"]);
        assert_eq!(names("zunionstore", "zunionstore d 1x a").unwrap(), ["a", "d"]);
        for bad in ["zunionstore d 5 a b", "zunionstore d 0 a b", "zunionstore d -1 a b"] {
            assert!(names("zunionstore", bad).is_err(), "{bad}");
        }
        assert_eq!(names("zunion", "zunion 2 a b").unwrap(), ["a", "b"]);
        assert!(names("zunion", "zunion 3 a b").is_err());
        assert_eq!(names("lmpop", "lmpop 2 a b left").unwrap(), ["a", "b"]);
        assert_eq!(names("lmpop", "lmpop 3 a b left").unwrap(), ["a", "b", "left"]);
        assert_eq!(names("lmpop", "lmpop 01 a left").unwrap(), ["a"]);
        assert!(names("lmpop", "lmpop 5 a b left").is_err());
        assert_eq!(names("blmpop", "blmpop 0 2 a b left").unwrap(), ["a", "b"]);
        assert_eq!(names("bzmpop", "bzmpop 0 1 a min").unwrap(), ["a"]);
        assert_eq!(names("sintercard", "sintercard 2 a b limit 1").unwrap(), ["a", "b"]);
        // a count past i64 is not a count
        assert!(names("eval", "eval s 9999999999999999999999 a").is_err());
    }

    /// Keys found by a spec carry its flags; keys found by the numkeys fallback carry none, as
    /// in Redis 7.0's COMMAND GETKEYSANDFLAGS.
    #[test]
    fn keys_numkeys_fallback_flags() {
        assert_eq!(key_flags("eval", "eval s 1 a"), ["a RW access update"]);
        assert_eq!(key_flags("zunionstore", "zunionstore d 1 a"), ["d OW update", "a RO access"]);
        for (cmd, args, want) in [
            ("eval", "eval s 01 a", &["a"][..]),
            ("evalsha", "evalsha s +1 a", &["a"]),
            ("eval_ro", "eval_ro s 01 a", &["a"]),
            ("evalsha_ro", "evalsha_ro s 01 a", &["a"]),
            ("fcall", "fcall f 1x a", &["a"]),
            ("fcall_ro", "fcall_ro f 01 a", &["a"]),
            ("zunionstore", "zunionstore d 1x a", &["a", "d"]),
            ("zinterstore", "zinterstore d 01 a b", &["a", "d"]),
            ("zdiffstore", "zdiffstore d 01 a", &["a", "d"]),
            ("zunion", "zunion 01 a", &["a"]),
            ("zinter", "zinter 01 a", &["a"]),
            ("zdiff", "zdiff 01 a", &["a"]),
            ("zintercard", "zintercard 01 a", &["a"]),
            ("sintercard", "sintercard 01 a", &["a"]),
            ("lmpop", "lmpop 01 a left", &["a"]),
            ("zmpop", "zmpop 01 a min", &["a"]),
            ("blmpop", "blmpop 0 01 a left", &["a"]),
            ("bzmpop", "bzmpop 0 01 a min", &["a"]),
        ] {
            assert_eq!(key_flags(cmd, args), want, "{args}");
        }
    }

    #[test]
    fn keys_keyword() {
        assert_eq!(names("xread", "xread count 2 streams a b 0 0").unwrap(), ["a", "b"]);
        assert_eq!(names("xread", "xread streams a b 0").unwrap(), ["a"]);
        assert_eq!(names("xread", "xread streams a b c d").unwrap(), ["a", "b"]);
        assert_eq!(names("xread", "xread STREAMS a streams b").unwrap(), ["a"]);
        assert!(names("xread", "xread a b streams").is_err());
        assert!(names("xread", "xread count 1 streams a").is_err());
        assert_eq!(names("xreadgroup", "xreadgroup group g c streams a 0").unwrap(), ["a"]);
        assert_eq!(names("georadius", "georadius k 0 0 1 m store d").unwrap(), ["k", "d"]);
        assert_eq!(
            names("georadius", "georadius k 0 0 1 m store d storedist e").unwrap(),
            ["k", "d", "e"]
        );
        assert_eq!(names("georadius", "georadius k 0 0 1 m").unwrap(), ["k"]);
        assert_eq!(names("georadius", "georadius k 0 0 1 m store").unwrap(), ["k"]);
        assert_eq!(
            names("georadius", "georadius k 0 0 1 m store d storedist").unwrap(),
            ["k", "d"]
        );
        assert_eq!(
            names("georadiusbymember", "georadiusbymember k m 1 km storedist").unwrap(),
            ["k"]
        );
    }

    #[test]
    fn keys_fallbacks() {
        assert_eq!(
            key_flags("sort", "sort k by p get g store d limit 0 1 store e"),
            ["k RO access", "e OW update"]
        );
        assert_eq!(names("sort", "sort k by store").unwrap(), ["k"]);
        assert_eq!(names("sort", "sort k get x store y by z store").unwrap(), ["k", "y"]);
        assert_eq!(names("sort_ro", "sort_ro k store d").unwrap(), ["k"]);

        assert_eq!(
            key_flags("migrate", "migrate h p  0 5000 keys k1 k2"),
            ["k1 RW access delete", "k2 RW access delete"]
        );
        assert_eq!(names("migrate", "migrate h p k 0 5000").unwrap(), ["k"]);
        assert_eq!(names("migrate", "migrate h p k 0 5000 keys").unwrap(), ["k"]);
        assert!(names("migrate", "migrate h p k 0 5000 keys a").is_err());
        assert_eq!(names("migrate", "migrate h p  0 5000 keys keys a").unwrap(), ["keys", "a"]);
        assert_eq!(names("migrate", "migrate h p  0 5000 auth keys").unwrap(), [""]);
        assert_eq!(names("migrate", "migrate h p  0 5000 auth2 u keys x").unwrap(), [""]);
        assert_eq!(names("migrate", "migrate h p  0 5000 auth2 u p keys x").unwrap(), ["x"]);

        assert_eq!(key_flags("set", "set k v get"), ["k RW access update"]);
        assert_eq!(key_flags("set", "set k v nx GET"), ["k RW access update"]);
        assert_eq!(key_flags("set", "set k v px 10"), ["k OW update"]);
        assert_eq!(key_flags("set", "set k get"), ["k OW update"]);
        assert_eq!(key_flags("bitfield", "bitfield k get u8 0"), ["k RO access"]);
        assert_eq!(key_flags("bitfield", "bitfield k"), ["k RO access"]);
        assert_eq!(key_flags("bitfield", "bitfield k overflow sat get u8 0"), ["k RO access"]);
        assert_eq!(key_flags("bitfield", "bitfield k get set 0"), ["k RO access"]);
        for rw in [
            "bitfield k set u8 0 1",
            "bitfield k get u8",
            "bitfield k get u8 0 set",
            "bitfield k bogus",
        ] {
            assert_eq!(key_flags("bitfield", rw), ["k RW access update"], "{rw}");
        }
        assert_eq!(key_flags("bitfield_ro", "bitfield_ro k get u8 0"), ["k RO access"]);
    }

    #[test]
    fn channels() {
        let spublish = lookup("spublish").unwrap();
        assert!(!spublish.has_keys());
        assert!(lookup("get").unwrap().has_keys());
        assert!(!lookup("publish").unwrap().has_keys());
        let argv: Vec<&[u8]> = vec![b"spublish", b"ch", b"msg"];
        assert_eq!(get_keys(spublish, &argv), Ok(vec![]));
        let with = get_keys_and_channels(spublish, &argv).unwrap();
        assert_eq!(with, [(1, KeyFlags::NOT_KEY)]);
    }

    #[test]
    fn no_panics_on_short_or_odd_argv() {
        let argvs: [&[&[u8]]; 5] = [
            &[],
            &[b"x"],
            &[b"x", b"y"],
            &[b"x", b"-1", b"-1", b"2"],
            &[b"x", b"keys", b"streams", b"store", b"3", b"keys", b"get"],
        ];
        fn walk(spec: &CommandSpec, argvs: &[&[&[u8]]]) {
            for argv in argvs {
                let _ = get_keys(spec, argv);
                let _ = get_keys_and_channels(spec, argv);
            }
            for sub in spec.subcommands {
                walk(sub, argvs);
            }
        }
        for spec in all() {
            walk(spec, &argvs);
        }
    }
}
