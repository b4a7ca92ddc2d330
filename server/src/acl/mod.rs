//! Access control lists: users, their rules and the permission check, as Redis 7.0 has them.
//!
//! A user has flags (`on`/`off`, `nopass`, the payload-sanitizing pair), SHA-256 password
//! hashes, and selectors: the root selector and any number of `(...)` selectors. A command is
//! allowed when one selector allows all of it: the command (by id, or by its first argument), every
//! key its key specs find (with read or write access as the specs' flags say), and every channel
//! it publishes or subscribes to. The rules and the way `ACL LIST` describes them follow Redis
//! 7.0 (see `docs/acl.md`), so a user's `ACL LIST` line pasted into another server gives the same
//! permissions.
//!
//! Commands are identified by `Command::id` (built-ins first, module commands after them), so a
//! selector's command set is a bitmap. Redis's trick for commands not known yet (a module loaded
//! later) is kept: `+@all` allows them, `-@all` denies them, single commands do not change it.

pub mod file;

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::cmd::spec::{self, AclCategories, CmdFlags, KeyFlags};
use crate::cmd::{Command, Commands};
use crate::util::glob::glob_match;

/// Key permissions of a pattern.
const READ: u8 = 1;
const WRITE: u8 = 2;

/// Why a rule could not be applied (Redis's errno values, and their messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError {
    UnknownCommand,
    Syntax,
    KeyAfterAll,
    ChannelAfterAll,
    NoSuchPassword,
    BadHash,
    FirstArgOfSubcommand,
}

impl RuleError {
    pub fn message(self) -> &'static str {
        match self {
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyAfterAll => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and \
                 does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            RuleError::ChannelAfterAll => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid \
                 and does not have any effect. Try 'resetchannels' to start with an empty list of \
                 channels"
            }
            RuleError::NoSuchPassword => {
                "The password you are trying to remove from the user does not exist"
            }
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase \
                 hexadecimal characters"
            }
            RuleError::FirstArgOfSubcommand => {
                "Allowing first-arg of a subcommand is not supported"
            }
        }
    }
}

/// What a permission check refused, in Redis's order of relevance (a channel beats a key beats
/// the command when no selector allows the call).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Command,
    Key,
    Channel,
}

/// A refusal and the argument it is about (the key or channel; 0 for the command).
pub type Refusal = (Denied, usize);

/// The commands a rule can name: the built-in table and the loaded modules' commands.
pub struct Universe<'a> {
    pub builtins: &'a Commands,
    pub modules: &'a crate::module_host::Modules,
}

impl Universe<'_> {
    /// Top-level commands: built-ins in name order (by their own names, renamed or not, as
    /// Redis's ACL sees them), then module commands.
    fn each(&self, mut f: impl FnMut(&Command)) {
        for s in spec::all() {
            if let Some(c) = self.builtins.get_original(s.name.as_bytes()) {
                f(c);
            }
        }
        for c in self.modules.commands() {
            f(c);
        }
    }

    /// Every command and subcommand of category `cat`, in name order (module commands last).
    pub fn each_in(&self, cat: AclCategories, mut f: impl FnMut(&Command)) {
        self.each(|c| {
            if c.spec.acl_bits.intersects(cat) {
                f(c);
            }
            for sub in c.subcommands_sorted() {
                if sub.spec.acl_bits.intersects(cat) {
                    f(sub);
                }
            }
        });
    }

    /// A command (`get`) or subcommand (`config|get`) by name, as ACL rules spell them.
    fn lookup(&self, name: &[u8], f: impl FnOnce(Option<&Command>)) {
        let (top, sub) = match name.iter().position(|&b| b == b'|') {
            Some(i) => (&name[..i], Some(&name[i + 1..])),
            None => (name, None),
        };
        let module;
        let cmd = match self.builtins.get_original(top) {
            Some(c) => Some(c),
            None => {
                module = self.modules.command(top);
                module.as_deref()
            }
        };
        match (cmd, sub) {
            (Some(c), None) => f(Some(c)),
            (Some(c), Some(s)) if !s.contains(&b'|') => f(c.subcommands.get(s)),
            _ => f(None),
        }
    }
}

/// One set of permissions: the root selector of a user, or a `(...)` one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    /// Allowed command ids; ids past the end take `future`'s value.
    bits: Vec<u64>,
    /// Whether commands not known yet are allowed (set by `+@all`, cleared by `-@all`).
    future: bool,
    /// Nothing was denied since `+@all`: the command check can be skipped.
    all_commands: bool,
    /// First arguments allowed for otherwise denied commands (`+select|0`), by command id.
    firstargs: BTreeMap<usize, Vec<Vec<u8>>>,
    all_keys: bool,
    patterns: Vec<(Vec<u8>, u8)>,
    all_channels: bool,
    channels: Vec<Vec<u8>>,
}

impl Selector {
    /// No permissions, but channels as `acl-pubsub-default` says.
    pub fn new(all_channels: bool) -> Self {
        Selector {
            bits: Vec::new(),
            future: false,
            all_commands: false,
            firstargs: BTreeMap::new(),
            all_keys: false,
            patterns: Vec::new(),
            all_channels,
            channels: Vec::new(),
        }
    }

    pub fn allows_all_channels(&self) -> bool {
        self.all_channels
    }

    /// Whether this selector allows anything at all on any key or channel.
    fn unrestricted(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    fn bit(&self, id: usize) -> bool {
        self.bits.get(id / 64).map_or(self.future, |w| w >> (id % 64) & 1 == 1)
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        let fill = if self.future { u64::MAX } else { 0 };
        if self.bits.len() <= id / 64 {
            self.bits.resize(id / 64 + 1, fill);
        }
        if on {
            self.bits[id / 64] |= 1 << (id % 64);
        } else {
            self.bits[id / 64] &= !(1 << (id % 64));
            self.all_commands = false;
        }
    }

    /// Allows or denies a command and all its subcommands, forgetting its first-arg rules.
    fn change(&mut self, cmd: &Command, on: bool) {
        self.set_bit(cmd.id, on);
        self.firstargs.remove(&cmd.id);
        for sub in cmd.subcommands.values() {
            self.set_bit(sub.id, on);
        }
    }

    fn set_all(&mut self, on: bool) {
        self.bits.clear();
        self.future = on;
        self.all_commands = on;
        self.firstargs.clear();
    }

    /// `+@cat` / `-@cat`: every command and subcommand of the category.
    fn change_category(&mut self, u: &Universe, cat: AclCategories, on: bool) {
        u.each_in(cat, |c| self.change(c, on));
    }

    /// Commands of a category this selector allows and denies (subcommands included).
    fn count_category(&self, u: &Universe, cat: AclCategories) -> (usize, usize) {
        let (mut on, mut off) = (0, 0);
        u.each_in(cat, |c| match self.bit(c.id) {
            true => on += 1,
            false => off += 1,
        });
        (on, off)
    }

    /// Applies one selector rule.
    pub fn apply(&mut self, u: &Universe, op: &[u8]) -> Result<(), RuleError> {
        let is = |s: &str| op.eq_ignore_ascii_case(s.as_bytes());
        if is("allkeys") || is("~*") {
            self.all_keys = true;
            self.patterns.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.patterns.clear();
        } else if is("allchannels") || is("&*") {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.set_all(true);
        } else if is("nocommands") || is("-@all") {
            self.set_all(false);
        } else if op[0] == b'~' || op[0] == b'%' {
            if self.all_keys {
                return Err(RuleError::KeyAfterAll);
            }
            let (flags, pattern) = parse_key_pattern(op)?;
            match self.patterns.iter_mut().find(|(p, _)| *p == pattern) {
                Some((_, f)) => *f |= flags,
                None => self.patterns.push((pattern.to_vec(), flags)),
            }
        } else if op[0] == b'&' {
            if self.all_channels {
                return Err(RuleError::ChannelAfterAll);
            }
            let pattern = &op[1..];
            if has_spaces(pattern) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pattern) {
                self.channels.push(pattern.to_vec());
            }
        } else if (op[0] == b'+' || op[0] == b'-') && op.get(1) == Some(&b'@') {
            let name = std::str::from_utf8(&op[2..]).map_err(|_| RuleError::UnknownCommand)?;
            let cat = AclCategories::from_name(name).ok_or(RuleError::UnknownCommand)?;
            self.change_category(u, cat, op[0] == b'+');
        } else if op[0] == b'-' {
            let mut res = Err(RuleError::UnknownCommand);
            u.lookup(&op[1..], |c| {
                if let Some(c) = c {
                    self.change(c, false);
                    res = Ok(());
                }
            });
            return res;
        } else if op[0] == b'+' {
            return self.allow(u, &op[1..]);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    /// `+name`: a command, a subcommand (`config|get`), or the first argument of an otherwise
    /// denied command (`select|0`).
    fn allow(&mut self, u: &Universe, name: &[u8]) -> Result<(), RuleError> {
        let Some(bar) = name.iter().rposition(|&b| b == b'|') else {
            let mut res = Err(RuleError::UnknownCommand);
            u.lookup(name, |c| {
                if let Some(c) = c {
                    self.change(c, true);
                    res = Ok(());
                }
            });
            return res;
        };
        let (base, arg) = (&name[..bar], &name[bar + 1..]);
        let mut res = Err(RuleError::UnknownCommand);
        u.lookup(base, |c| {
            let Some(c) = c else { return };
            if c.spec.container.is_some() {
                res = Err(RuleError::FirstArgOfSubcommand);
            } else if arg.is_empty() {
                res = Err(RuleError::Syntax);
            } else if c.is_container() {
                match c.subcommands.get(arg) {
                    Some(sub) => {
                        self.change(sub, true);
                        res = Ok(());
                    }
                    None => res = Err(RuleError::UnknownCommand),
                }
            } else {
                let list = self.firstargs.entry(c.id).or_default();
                if !list.iter().any(|a| a.eq_ignore_ascii_case(arg)) {
                    list.push(arg.to_vec());
                }
                res = Ok(());
            }
        });
        res
    }

    /// Checks one call against this selector.
    fn check(&self, cmd: &Command, argv: &[Bytes]) -> Result<(), Refusal> {
        if !self.all_commands && !cmd.flags.contains(CmdFlags::NO_AUTH) && !self.bit(cmd.id) {
            let at = if cmd.spec.container.is_some() { 2 } else { 1 };
            let allowed = match (self.firstargs.get(&cmd.id), argv.get(at)) {
                (Some(list), Some(arg)) => list.iter().any(|a| a.eq_ignore_ascii_case(arg)),
                _ => false,
            };
            if !allowed {
                return Err((Denied::Command, 0));
            }
        }
        if !self.all_keys && cmd.spec.has_keys() {
            for (pos, flags) in cmd.keys(argv) {
                let mut need = 0;
                if flags.contains(KeyFlags::ACCESS) {
                    need |= READ;
                }
                if flags
                    .intersects(KeyFlags::INSERT.union(KeyFlags::DELETE).union(KeyFlags::UPDATE))
                {
                    need |= WRITE;
                }
                let ok = self
                    .patterns
                    .iter()
                    .any(|(p, f)| f & need == need && glob_match(p, &argv[pos], false));
                if !ok {
                    return Err((Denied::Key, pos));
                }
            }
        }
        if !self.all_channels {
            if let Some((channels, pattern)) = channel_args(cmd, argv.len()) {
                for pos in channels {
                    let ch = &argv[pos];
                    let ok = self.channels.iter().any(|p| match pattern {
                        true => p[..] == ch[..],
                        false => glob_match(p, ch, false),
                    });
                    if !ok {
                        return Err((Denied::Channel, pos));
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether this selector may read any key (`allkeys`, or a `*` pattern with read access).
    fn reads_every_key(&self) -> bool {
        self.all_keys || self.patterns.iter().any(|(p, f)| f & READ != 0 && p[..] == b"*"[..])
    }

    /// Whether a client of this selector may stay subscribed to these channels and patterns.
    fn allows_subscriptions(&self, channels: &[Vec<u8>], patterns: &[Vec<u8>]) -> bool {
        self.all_channels
            || (channels.iter().all(|c| self.channels.iter().any(|p| glob_match(p, c, false)))
                && patterns.iter().all(|c| self.channels.contains(c)))
    }

    /// The key patterns as `ACL LIST` and `ACL GETUSER` spell them.
    fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        let parts: Vec<String> = self
            .patterns
            .iter()
            .map(|(p, f)| {
                let prefix = match *f {
                    READ => "%R~",
                    WRITE => "%W~",
                    _ => "~",
                };
                format!("{prefix}{}", String::from_utf8_lossy(p))
            })
            .collect();
        parts.join(" ")
    }

    fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        let parts: Vec<String> =
            self.channels.iter().map(|c| format!("&{}", String::from_utf8_lossy(c))).collect();
        parts.join(" ")
    }

    /// The command rules that rebuild this selector's command set, as Redis 7.0 derives them:
    /// `+@all` or `-@all`, then greedily the categories that match best, then the single
    /// commands that still differ, then first-arg rules.
    pub fn describe_commands(&self, u: &Universe) -> String {
        let additive = !self.future;
        let mut rules = vec![if additive { "-@all".to_string() } else { "+@all".to_string() }];
        let mut fake = Selector::new(false);
        fake.set_all(!additive);
        let mut temp = self.clone();
        let mut applied = [false; 32];
        loop {
            let mut best = None;
            let (mut min_diff, mut max_same) = (usize::MAX, 0);
            for (j, name) in AclCategories::NAMES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (on, off) = temp.count_category(u, AclCategories(1 << j));
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                    best = Some((j, *name));
                    min_diff = diff;
                    max_same = same;
                }
            }
            let Some((j, name)) = best else { break };
            let cat = AclCategories(1 << j);
            fake.change_category(u, cat, additive);
            temp.change_category(u, cat, !additive);
            rules.push(format!("{}@{name}", if additive { '+' } else { '-' }));
            applied[j] = true;
        }
        let single = |c: &Command, fake: &mut Selector, rules: &mut Vec<String>| {
            let on = self.bit(c.id);
            if on != fake.bit(c.id) {
                rules.push(format!("{}{}", if on { '+' } else { '-' }, c.fullname));
                fake.change(c, on);
            }
            on
        };
        u.each(|c| {
            let on = single(c, &mut fake, &mut rules);
            for sub in c.subcommands_sorted() {
                single(sub, &mut fake, &mut rules);
            }
            if !on {
                for arg in self.firstargs.get(&c.id).into_iter().flatten() {
                    rules.push(format!("+{}|{}", c.fullname, String::from_utf8_lossy(arg)));
                }
            }
        });
        rules.join(" ")
    }

    /// `~keys &channels commands`, as one selector of `ACL LIST`.
    fn describe(&self, u: &Universe) -> String {
        let mut parts = Vec::new();
        let keys = self.describe_keys();
        if !keys.is_empty() {
            parts.push(keys);
        }
        if self.all_channels {
            parts.push("&*".into());
        } else {
            parts.push("resetchannels".into());
            let ch = self.describe_channels();
            if !ch.is_empty() {
                parts.push(ch);
            }
        }
        parts.push(self.describe_commands(u));
        parts.join(" ")
    }
}

/// `~pattern`, `%R~pattern`, `%W~pattern`, `%RW~pattern`: the permissions and the pattern.
fn parse_key_pattern(op: &[u8]) -> Result<(u8, &[u8]), RuleError> {
    let (flags, rest) = if op[0] == b'%' {
        let mut flags = 0;
        let mut i = 1;
        loop {
            match op.get(i).map(u8::to_ascii_uppercase) {
                None => break,
                Some(b'R') if flags & READ == 0 => flags |= READ,
                Some(b'W') if flags & WRITE == 0 => flags |= WRITE,
                Some(b'~') if flags != 0 => {
                    i += 1;
                    break;
                }
                _ => return Err(RuleError::Syntax),
            }
            i += 1;
        }
        (flags, &op[i.min(op.len())..])
    } else {
        (READ | WRITE, &op[1..])
    };
    if has_spaces(rest) {
        return Err(RuleError::Syntax);
    }
    Ok((flags, rest))
}

fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|c| c.is_ascii_whitespace() || *c == 0x0b)
}

/// The arguments of a command that are channels, and whether they are patterns: PUBLISH and
/// SPUBLISH name one channel, the subscribe commands several. Unsubscribing is never refused.
fn channel_args(cmd: &Command, argc: usize) -> Option<(std::ops::Range<usize>, bool)> {
    match cmd.fullname {
        "publish" | "spublish" => Some((1..2, false)),
        "subscribe" | "ssubscribe" => Some((1..argc, false)),
        "psubscribe" => Some((1..argc, true)),
        _ => None,
    }
}

/// The flags a user can have, in the order `ACL LIST` prints them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserFlags {
    pub enabled: bool,
    pub nopass: bool,
    /// `Some(true)`: sanitize-payload; `Some(false)`: skip-sanitize-payload.
    pub sanitize: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: Vec<u8>,
    pub flags: UserFlags,
    /// SHA-256 hashes, lower-case hex.
    pub passwords: Vec<String>,
    pub root: Selector,
    pub selectors: Vec<Selector>,
}

impl User {
    /// A new user: off, no password, no permissions (channels per `acl-pubsub-default`).
    pub fn new(name: &[u8], all_channels: bool) -> Self {
        User {
            name: name.to_vec(),
            flags: UserFlags::default(),
            passwords: Vec::new(),
            root: Selector::new(all_channels),
            selectors: Vec::new(),
        }
    }

    /// Applies one rule (a selector in parentheses counts as one).
    pub fn apply(&mut self, u: &Universe, op: &[u8], all_channels: bool) -> Result<(), RuleError> {
        let is = |s: &str| op.eq_ignore_ascii_case(s.as_bytes());
        if op.is_empty() {
            return Ok(());
        }
        if is("on") {
            self.flags.enabled = true;
        } else if is("off") {
            self.flags.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.flags.sanitize = Some(false);
        } else if is("sanitize-payload") {
            self.flags.sanitize = Some(true);
        } else if is("nopass") {
            self.flags.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.flags.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' { hash_password(&op[1..]) } else { valid_hash(&op[1..])? };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.flags.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' { hash_password(&op[1..]) } else { valid_hash(&op[1..])? };
            let at = self.passwords.iter().position(|p| *p == hash);
            self.passwords.remove(at.ok_or(RuleError::NoSuchPassword)?);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let inner = &op[1..op.len() - 1];
            let ops = crate::config::parse::split_args(inner).ok_or(RuleError::Syntax)?;
            let mut s = Selector::new(all_channels);
            for o in &ops {
                if !o.is_empty() {
                    s.apply(u, o)?;
                }
            }
            self.selectors.push(s);
        } else if is("clearselectors") {
            self.selectors.clear();
        } else if is("reset") {
            self.flags = UserFlags { sanitize: Some(true), ..UserFlags::default() };
            self.passwords.clear();
            self.selectors.clear();
            self.root = Selector::new(all_channels);
        } else {
            self.root.apply(u, op)?;
        }
        Ok(())
    }

    /// Whether a selector that allows this call may also read any key: what SORT's BY and GET
    /// patterns need, since they name keys the key specs cannot see.
    pub fn reads_every_key_for(&self, cmd: &Command, argv: &[Bytes]) -> bool {
        std::iter::once(&self.root)
            .chain(&self.selectors)
            .any(|s| s.reads_every_key() && s.check(cmd, argv).is_ok())
    }

    /// Whether a client of this user may stay subscribed to these channels and patterns.
    pub fn allows_subscriptions(&self, channels: &[Vec<u8>], patterns: &[Vec<u8>]) -> bool {
        std::iter::once(&self.root)
            .chain(&self.selectors)
            .any(|s| s.allows_subscriptions(channels, patterns))
    }

    /// Whether this user can run anything: the per-command check can be skipped.
    pub fn unrestricted(&self) -> bool {
        self.root.unrestricted()
    }

    /// Checks a call against the user's selectors: allowed when one of them allows it all.
    pub fn check(&self, cmd: &Command, argv: &[Bytes]) -> Result<(), Refusal> {
        let mut worst = (Denied::Command, 0);
        for s in std::iter::once(&self.root).chain(&self.selectors) {
            match s.check(cmd, argv) {
                Ok(()) => return Ok(()),
                Err(r) if r > worst => worst = r,
                Err(_) => {}
            }
        }
        Err(worst)
    }

    /// Whether the password matches (any password, for a `nopass` user).
    pub fn password_ok(&self, pass: &[u8]) -> bool {
        if self.flags.nopass {
            return true;
        }
        let hash = hash_password(pass);
        // Every stored hash is compared whole, whatever matches, so timing tells nothing.
        self.passwords
            .iter()
            .fold(false, |ok, p| ok | constant_time_eq(p.as_bytes(), hash.as_bytes()))
    }

    /// The flags, as `ACL GETUSER` and `ACL LIST` print them.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut v = vec![if self.flags.enabled { "on" } else { "off" }];
        if self.flags.nopass {
            v.push("nopass");
        }
        match self.flags.sanitize {
            Some(false) => v.push("skip-sanitize-payload"),
            Some(true) => v.push("sanitize-payload"),
            None => {}
        }
        v
    }

    /// The user's `ACL LIST` line without the leading `user <name> `.
    pub fn describe(&self, u: &Universe) -> String {
        let mut parts: Vec<String> = self.flag_names().iter().map(|s| s.to_string()).collect();
        parts.extend(self.passwords.iter().map(|p| format!("#{p}")));
        parts.push(self.root.describe(u));
        let mut s = parts.join(" ");
        for sel in &self.selectors {
            s.push_str(&format!(" ({})", sel.describe(u)));
        }
        s
    }

    /// What `ACL GETUSER` prints of a selector: its commands, keys and channels.
    pub fn selector_fields(s: &Selector, u: &Universe) -> [(&'static str, String); 3] {
        [
            ("commands", s.describe_commands(u)),
            ("keys", s.describe_keys()),
            ("channels", s.describe_channels()),
        ]
    }
}

pub fn hash_password(pass: &[u8]) -> String {
    use sha2::Digest;
    crate::util::repr::hex(&sha2::Sha256::digest(pass))
}

fn valid_hash(h: &[u8]) -> Result<String, RuleError> {
    if h.len() == 64 && h.iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)) {
        Ok(String::from_utf8_lossy(h).into_owned())
    } else {
        Err(RuleError::BadHash)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Joins the arguments of `ACL SETUSER` (or a `user` line) so that a selector split over several
/// arguments (`(~key*` `+get)`) is one rule. An unclosed selector is an error naming it.
pub fn merge_selector_args(args: &[&[u8]]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    // The selector being joined, and the argument that opened it (what an error names).
    let mut open: Option<(Vec<u8>, &[u8])> = None;
    for a in args {
        if let Some((sel, _)) = open.as_mut() {
            sel.push(b' ');
            sel.extend_from_slice(a);
            if a.last() == Some(&b')') {
                out.push(open.take().expect("open").0);
            }
        } else if a.first() == Some(&b'(') && a.last() != Some(&b')') {
            open = Some((a.to_vec(), a));
        } else {
            out.push(a.to_vec());
        }
    }
    match open {
        Some((_, first)) => Err(format!(
            "Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(first)
        )),
        None => Ok(out),
    }
}

/// Why an entry went into the ACL log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogReason {
    Command,
    Key,
    Channel,
    Auth,
}

impl LogReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LogReason::Command => "command",
            LogReason::Key => "key",
            LogReason::Channel => "channel",
            LogReason::Auth => "auth",
        }
    }
}

impl From<Denied> for LogReason {
    fn from(d: Denied) -> Self {
        match d {
            Denied::Command => LogReason::Command,
            Denied::Key => LogReason::Key,
            Denied::Channel => LogReason::Channel,
        }
    }
}

/// Where the refused call came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogContext {
    Toplevel,
    Multi,
    Lua,
    Module,
}

impl LogContext {
    pub fn as_str(self) -> &'static str {
        match self {
            LogContext::Toplevel => "toplevel",
            LogContext::Multi => "multi",
            LogContext::Lua => "lua",
            LogContext::Module => "module",
        }
    }
}

#[derive(Clone, Debug)]
pub struct LogEntry {
    pub count: u64,
    pub reason: LogReason,
    pub context: LogContext,
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    /// When it last happened, unix ms.
    pub ctime: i64,
    pub client_info: String,
}

/// Similar refusals within this long of each other are one entry with a count, as in Redis.
const LOG_GROUPING_MS: i64 = 60_000;

/// The users and the ACL log.
#[derive(Clone)]
pub struct Acl {
    users: BTreeMap<Vec<u8>, User>,
    /// Bumped by every change of any user, so that a client can cache what it knows of its own.
    pub epoch: u64,
    /// Newest first.
    pub log: VecDeque<LogEntry>,
}

impl Default for Acl {
    fn default() -> Self {
        let mut acl = Acl { users: BTreeMap::new(), epoch: 1, log: VecDeque::new() };
        acl.users.insert(b"default".to_vec(), default_user());
        acl
    }
}

/// `user default on nopass ~* &* +@all`.
pub fn default_user() -> User {
    let mut u = User::new(b"default", true);
    u.flags.enabled = true;
    u.flags.nopass = true;
    u.root.set_all(true);
    u.root.all_keys = true;
    u
}

impl Acl {
    pub fn user(&self, name: &[u8]) -> Option<&User> {
        self.users.get(name)
    }

    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// Creates or replaces a user (the change is already validated).
    pub fn put(&mut self, user: User) {
        self.users.insert(user.name.clone(), user);
        self.epoch += 1;
    }

    pub fn remove(&mut self, name: &[u8]) -> bool {
        self.epoch += 1;
        self.users.remove(name).is_some()
    }

    /// Replaces every user (ACL LOAD, start-up).
    pub fn replace_all(&mut self, users: BTreeMap<Vec<u8>, User>) {
        self.users = users;
        self.epoch += 1;
    }

    /// Whether a new connection is authenticated as `default` without AUTH.
    pub fn default_needs_no_auth(&self) -> bool {
        self.users.get(&b"default"[..]).is_some_and(|u| u.flags.enabled && u.flags.nopass)
    }

    /// Whether the `default` user has no password (`AUTH <password>` is then an error, and
    /// protected mode applies).
    pub fn default_is_nopass(&self) -> bool {
        self.users.get(&b"default"[..]).is_some_and(|u| u.flags.nopass)
    }

    /// `requirepass`: the default user's only password (none: `nopass`).
    pub fn set_requirepass(&mut self, pass: Option<&[u8]>) {
        if let Some(u) = self.users.get_mut(&b"default"[..]) {
            u.passwords.clear();
            match pass {
                Some(p) => {
                    u.flags.nopass = false;
                    u.passwords.push(hash_password(p));
                }
                None => u.flags.nopass = true,
            }
            self.epoch += 1;
        }
    }

    /// Records a refusal, merging it with a similar recent one.
    pub fn log_event(&mut self, mut entry: LogEntry, max_len: usize) {
        let similar = self.log.iter().position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && e.object == entry.object
                && e.username == entry.username
                && entry.ctime - e.ctime < LOG_GROUPING_MS
        });
        if let Some(i) = similar {
            let old = self.log.remove(i).expect("found");
            entry.count = old.count + 1;
        }
        self.log.push_front(entry);
        self.log.truncate(max_len);
    }
}

/// The `NOPERM` error a refused command gets at the top level (and inside MULTI).
pub fn noperm_error(denied: Denied, cmd: &Command) -> String {
    match denied {
        Denied::Command => {
            format!("NOPERM this user has no permissions to run the '{}' command", cmd.fullname)
        }
        Denied::Key => {
            "NOPERM this user has no permissions to access one of the keys used as arguments".into()
        }
        Denied::Channel => {
            "NOPERM this user has no permissions to access one of the channels used as arguments"
                .into()
        }
    }
}
