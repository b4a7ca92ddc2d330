//! CLIENT subcommands.
//!
//! A client's own line in CLIENT LIST/INFO is built from its live state (`ctx.client`); other
//! clients' lines come from the `ClientMeta` their connection loop publishes after each batch,
//! under the same core lock this handler holds, so every line is consistent.

use std::fmt::Write as _;

use bytes::Bytes;

use super::{Ctx, Handler};
use crate::client::{ClientKind, ClientMeta, ClientShared, ReplyMode};
use crate::error::{CmdResult, Error};
use crate::server::Pause;
use crate::util::num::parse_i64;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("client|id", id),
    ("client|getname", getname),
    ("client|setname", setname),
    ("client|setinfo", setinfo),
    ("client|list", list),
    ("client|info", info),
    ("client|kill", kill),
    ("client|pause", pause),
    ("client|unpause", unpause),
    ("client|unblock", unblock),
    ("client|reply", reply),
    ("client|no-evict", no_evict),
    ("client|no-touch", no_touch),
    ("client|help", help),
    ("client|tracking", tracking),
    ("client|caching", caching),
    ("client|getredir", getredir),
    ("client|trackinginfo", trackinginfo),
];

/// Client names may not contain spaces, newlines or other special characters.
pub fn validate_name(name: &Bytes) -> CmdResult {
    if !is_printable_word(name) {
        return Err(Error::msg(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

fn is_printable_word(s: &[u8]) -> bool {
    s.iter().all(|b| (b'!'..=b'~').contains(b))
}

/// `ERR unknown subcommand or wrong number of arguments for 'x'. Try CMD HELP.`
pub fn subcommand_syntax_error(argv: &[Bytes]) -> Error {
    let sub: String = String::from_utf8_lossy(&argv[1]).chars().take(128).collect();
    Error(
        format!(
            "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {} HELP.",
            String::from_utf8_lossy(&argv[0]).to_ascii_uppercase()
        )
        .into(),
    )
}

/// Writes a HELP reply: the `<CMD> <subcommand> ...` header, `lines`, and the HELP entry.
pub fn help_reply(ctx: &mut Ctx, cmd: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!("{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
}

/// CLIENT ID
fn id(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

/// CLIENT GETNAME
fn getname(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    match &ctx.client.name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    Ok(())
}

/// CLIENT SETNAME connection-name
fn setname(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    validate_name(&argv[2])?;
    ctx.client.name = if argv[2].is_empty() { None } else { Some(argv[2].to_vec()) };
    ctx.out.ok();
    Ok(())
}

/// CLIENT SETINFO <LIB-NAME libname | LIB-VER libver>   (Redis 7.2)
fn setinfo(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let attr = &argv[2];
    let is_name = Ctx::is(attr, "lib-name");
    if !is_name && !Ctx::is(attr, "lib-ver") {
        return Err(Error::err(format_args!(
            "Unrecognized option '{}'",
            String::from_utf8_lossy(attr)
        )));
    }
    if !is_printable_word(&argv[3]) {
        return Err(Error::err(format_args!(
            "{} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(attr)
        )));
    }
    let v = if argv[3].is_empty() { None } else { Some(argv[3].to_vec()) };
    if is_name {
        ctx.client.lib_name = v;
    } else {
        ctx.client.lib_ver = v;
    }
    ctx.out.ok();
    Ok(())
}

/// The caller's state as other clients would see it after this command.
fn own_meta(ctx: &Ctx) -> ClientMeta {
    let mut m = ctx.client.shared.meta.lock().clone();
    ctx.client.sync_meta(&mut m);
    m.last_cmd = ctx.cmd.fullname;
    m.last_interaction_ms = ctx.now;
    m
}

/// Size of `argv` as a RESP multibulk request.
fn request_len(argv: &[Bytes]) -> usize {
    let digits = |n: usize| n.to_string().len();
    3 + digits(argv.len()) + argv.iter().map(|a| 5 + digits(a.len()) + a.len()).sum::<usize>()
}

/// Approximate memory of a client beyond its buffers (Redis's `sizeof(client)` and friends).
const CLIENT_BASE_MEM: usize = 1800;

/// Appends one CLIENT LIST line (without the newline). `current` is the caller's argv when the
/// line describes the caller.
fn write_line(
    out: &mut String,
    sh: &ClientShared,
    m: &ClientMeta,
    now: i64,
    current: Option<&[Bytes]>,
) {
    let (qbuf, argv_mem) = match current {
        Some(argv) => (request_len(argv), argv.iter().map(|a| a.len()).sum()),
        None => (m.qbuf, 0),
    };
    let qbuf_free = m.rbs.saturating_sub(qbuf);
    // Output waiting for the socket: what was pushed and not yet written (replies to the
    // client's own commands are written before it reads more, so they never wait here).
    let omem = sh.out.pending_bytes();
    let tot_mem = CLIENT_BASE_MEM + m.rbs + argv_mem + omem;
    let lossy =
        |v: &Option<Vec<u8>>| String::from_utf8_lossy(v.as_deref().unwrap_or(b"")).into_owned();
    let _ = write!(
        out,
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} \
         multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem=0 rbs={} rbp={} obl=0 oll={} omem={} \
         tot-mem={} events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
        sh.id,
        sh.addr,
        sh.laddr,
        sh.fd,
        lossy(&m.name),
        (now - sh.created_ms).max(0) / 1000,
        (now - m.last_interaction_ms).max(0) / 1000,
        m.flag_letters(),
        m.db,
        m.sub,
        m.psub,
        m.ssub,
        m.multi,
        qbuf,
        qbuf_free,
        argv_mem,
        m.rbs,
        m.rbp,
        sh.out.pending_msgs(),
        omem,
        tot_mem,
        m.last_cmd,
        m.user,
        m.tracking.redir,
        m.resp,
        lossy(&m.lib_name),
        lossy(&m.lib_ver),
    );
}

/// A client's CLIENT LIST line, for log messages (Redis's client info string).
pub fn info_line(sh: &ClientShared) -> String {
    let m = sh.meta.lock().clone();
    let mut s = String::new();
    write_line(&mut s, sh, &m, crate::clock::mstime(), None);
    s
}

/// Which clients CLIENT LIST shows.
enum ListFilter {
    All,
    Kind(ClientKind),
    Ids(Vec<i64>),
}

fn unknown_type(name: &[u8]) -> Error {
    Error::err(format_args!("Unknown client type '{}'", String::from_utf8_lossy(name)))
}

/// CLIENT LIST [TYPE <NORMAL | MASTER | REPLICA | PUBSUB>] [ID client-id [client-id ...]]
fn list(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let filter = if argv.len() == 2 {
        ListFilter::All
    } else if argv.len() == 4 && Ctx::is(&argv[2], "type") {
        ListFilter::Kind(ClientKind::from_name(&argv[3]).ok_or_else(|| unknown_type(&argv[3]))?)
    } else if argv.len() > 3 && Ctx::is(&argv[2], "id") {
        let ids = argv[3..]
            .iter()
            .map(|a| parse_i64(a).ok_or_else(|| Error::msg("ERR Invalid client ID")))
            .collect::<Result<Vec<_>, _>>()?;
        ListFilter::Ids(ids)
    } else {
        return Err(Error::SYNTAX);
    };
    let own = own_meta(ctx);
    let me = ctx.client.id;
    let now = ctx.now;
    let mut s = String::new();
    let mut add = |sh: &ClientShared, kind: Option<ClientKind>| {
        let show = |m: &ClientMeta, s: &mut String, current: Option<&[Bytes]>| {
            if kind.is_none_or(|k| m.kind() == k) {
                write_line(s, sh, m, now, current);
                s.push('\n');
            }
        };
        if sh.id == me {
            show(&own, &mut s, Some(argv));
        } else if !sh.is_killed() {
            show(&sh.meta.lock(), &mut s, None);
        }
    };
    match filter {
        ListFilter::All => ctx.core.clients.values().for_each(|c| add(c, None)),
        ListFilter::Kind(k) => ctx.core.clients.values().for_each(|c| add(c, Some(k))),
        ListFilter::Ids(ids) => {
            for id in ids {
                if let Some(c) = u64::try_from(id).ok().and_then(|id| ctx.core.clients.get(&id)) {
                    add(c, None);
                }
            }
        }
    }
    ctx.out.verbatim("txt", s.as_bytes());
    Ok(())
}

/// CLIENT INFO
fn info(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let own = own_meta(ctx);
    let mut s = String::new();
    write_line(&mut s, &ctx.client.shared, &own, ctx.now, Some(argv));
    s.push('\n');
    ctx.out.verbatim("txt", s.as_bytes());
    Ok(())
}

/// Filters of the new form of CLIENT KILL; a client must match all given.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    kind: Option<ClientKind>,
    addr: Option<Bytes>,
    laddr: Option<Bytes>,
    user: Option<Bytes>,
    max_age: Option<i64>,
    skipme: bool,
}

impl KillFilter {
    fn matches(&self, sh: &ClientShared, m: &ClientMeta, now: i64) -> bool {
        self.id.is_none_or(|id| id == sh.id)
            && self.kind.is_none_or(|k| k == m.kind())
            && self.addr.as_ref().is_none_or(|a| a[..] == *sh.addr.as_bytes())
            && self.laddr.as_ref().is_none_or(|a| a[..] == *sh.laddr.as_bytes())
            && self.user.as_ref().is_none_or(|u| u[..] == *m.user.as_bytes())
            && self.max_age.is_none_or(|age| (now - sh.created_ms) / 1000 > age)
    }
}

/// CLIENT KILL ip:port
/// CLIENT KILL <ID client-id | TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB> | USER username
///   | ADDR ip:port | LADDR ip:port | SKIPME <YES | NO> | MAXAGE maxage> [...]
fn kill(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let old_form = argv.len() == 3;
    let f = if old_form {
        KillFilter { addr: Some(argv[2].clone()), skipme: false, ..Default::default() }
    } else {
        let mut f = KillFilter { skipme: true, ..Default::default() };
        let mut i = 2;
        while i < argv.len() {
            let Some(val) = argv.get(i + 1) else {
                return Err(Error::SYNTAX);
            };
            let opt = &argv[i];
            if Ctx::is(opt, "id") {
                match parse_i64(val) {
                    Some(id) if id > 0 => f.id = Some(id as u64),
                    _ => return Err(Error::msg("ERR client-id should be greater than 0")),
                }
            } else if Ctx::is(opt, "type") {
                f.kind = Some(ClientKind::from_name(val).ok_or_else(|| unknown_type(val))?);
            } else if Ctx::is(opt, "addr") {
                f.addr = Some(val.clone());
            } else if Ctx::is(opt, "laddr") {
                f.laddr = Some(val.clone());
            } else if Ctx::is(opt, "user") {
                if ctx.core.acl.user(val).is_none() {
                    return Err(Error::err(format_args!(
                        "No such user '{}'",
                        String::from_utf8_lossy(val)
                    )));
                }
                f.user = Some(val.clone());
            } else if Ctx::is(opt, "skipme") {
                if Ctx::is(val, "yes") {
                    f.skipme = true;
                } else if Ctx::is(val, "no") {
                    f.skipme = false;
                } else {
                    return Err(Error::SYNTAX);
                }
            } else if Ctx::is(opt, "maxage") {
                f.max_age = Some(parse_i64(val).ok_or(Error::NOT_INT)?);
            } else {
                return Err(Error::SYNTAX);
            }
            i += 2;
        }
        f
    };

    let me = ctx.client.id;
    let own = own_meta(ctx);
    let mut killed = 0i64;
    let mut kill_self = false;
    for (&cid, sh) in &ctx.core.clients {
        if sh.is_killed() {
            continue;
        }
        let hit = if cid == me {
            !f.skipme && f.matches(sh, &own, ctx.now)
        } else {
            f.matches(sh, &sh.meta.lock(), ctx.now)
        };
        if !hit {
            continue;
        }
        killed += 1;
        if cid == me {
            kill_self = true;
        } else {
            sh.kill();
        }
    }
    if kill_self {
        // The reply goes out first, then the connection closes.
        ctx.client.close_after_reply = true;
    }
    if old_form {
        if killed == 0 {
            return Err(Error::msg("ERR No such client"));
        }
        ctx.out.ok();
    } else {
        ctx.out.int(killed);
    }
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE | ALL]
fn pause(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 4 {
        return Err(subcommand_syntax_error(argv));
    }
    let mut writes_only = false;
    if let Some(mode) = argv.get(3) {
        if Ctx::is(mode, "write") {
            writes_only = true;
        } else if !Ctx::is(mode, "all") {
            return Err(Error::msg("ERR CLIENT PAUSE mode must be WRITE or ALL"));
        }
    }
    let ms = parse_i64(&argv[2])
        .ok_or_else(|| Error::msg("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(Error::msg("ERR timeout is negative"));
    }
    let until = ctx.now.saturating_add(ms);
    // A new pause sets the mode; the end time only ever moves later.
    let until_ms = match ctx.core.pause {
        Some(p) if p.until_ms > until => p.until_ms,
        _ => until,
    };
    ctx.core.pause = Some(Pause { until_ms, writes_only });
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNPAUSE
fn unpause(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.core.pause = None;
    ctx.out.ok();
    Ok(())
}

/// CLIENT REPLY <ON | OFF | SKIP>
fn reply(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let a = &argv[2];
    if Ctx::is(a, "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if Ctx::is(a, "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if Ctx::is(a, "skip") {
        // Already OFF: everything is suppressed anyway.
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        return Err(Error::SYNTAX);
    }
    Ok(())
}

fn on_off(arg: &[u8]) -> Result<bool, Error> {
    if Ctx::is(arg, "on") {
        Ok(true)
    } else if Ctx::is(arg, "off") {
        Ok(false)
    } else {
        Err(Error::SYNTAX)
    }
}

/// CLIENT NO-EVICT <ON | OFF>
fn no_evict(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ctx.client.flags.no_evict = on_off(&argv[2])?;
    ctx.out.ok();
    Ok(())
}

/// CLIENT NO-TOUCH <ON | OFF>   (Redis 7.2)
fn no_touch(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ctx.client.flags.no_touch = on_off(&argv[2])?;
    ctx.out.ok();
    Ok(())
}

/// CLIENT HELP
fn help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    help_reply(
        ctx,
        "CLIENT",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    );
    Ok(())
}

/// CLIENT UNBLOCK client-id [TIMEOUT | ERROR]
fn unblock(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    // In Redis's order: the count of arguments, the reason, then the id.
    if argv.len() > 4 {
        return Err(subcommand_syntax_error(argv));
    }
    let error = match argv.get(3) {
        None => false,
        Some(a) if Ctx::is(a, "timeout") => false,
        Some(a) if Ctx::is(a, "error") => true,
        Some(_) => return Err(Error::msg("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")),
    };
    let id = parse_i64(&argv[2]).ok_or(Error::NOT_INT)?;
    if let Ok(uid) = u64::try_from(id) {
        let m = crate::module_host::concurrency::client_unblock(ctx.server, ctx.core, uid, error);
        if let Some(n) = m {
            ctx.out.int(n);
            return Ok(());
        }
    }
    let core = &mut *ctx.core;
    let Some(w) = u64::try_from(id).ok().and_then(|id| core.blocking.unblock(&mut core.dbs, id))
    else {
        ctx.out.int(0);
        return Ok(());
    };
    let reply = if error {
        b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n".to_vec()
    } else {
        crate::blocking::timeout_reply(w.resp)
    };
    crate::blocking::finish(core, &w.shared, reply);
    ctx.out.int(1);
    Ok(())
}

/// CLIENT TRACKING <ON | OFF> [REDIRECT client-id] [PREFIX prefix [PREFIX prefix ...]] [BCAST]
///   [OPTIN] [OPTOUT] [NOLOOP]
fn tracking(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut redirect = 0u64;
    let mut opts = crate::tracking::Options::default();
    let mut prefixes = Vec::new();
    // Options are parsed (and REDIRECT checked) for OFF too, as Redis does.
    let mut j = 3;
    while j < argv.len() {
        let a = &argv[j];
        let more = j + 1 < argv.len();
        if Ctx::is(a, "redirect") && more {
            j += 1;
            if redirect != 0 {
                return Err(Error::msg("ERR A client can only redirect to a single other client"));
            }
            let id = parse_i64(&argv[j]).ok_or(Error::NOT_INT)?;
            match u64::try_from(id).ok().filter(|id| ctx.core.clients.contains_key(id)) {
                Some(id) => redirect = id,
                None => {
                    return Err(Error::msg("ERR The client ID you want redirect to does not exist"))
                }
            }
        } else if Ctx::is(a, "bcast") {
            opts.bcast = true;
        } else if Ctx::is(a, "optin") {
            opts.optin = true;
        } else if Ctx::is(a, "optout") {
            opts.optout = true;
        } else if Ctx::is(a, "noloop") {
            opts.noloop = true;
        } else if Ctx::is(a, "prefix") && more {
            j += 1;
            prefixes.push(argv[j].clone());
        } else {
            return Err(Error::SYNTAX);
        }
        j += 1;
    }
    let id = ctx.client.id;
    if Ctx::is(&argv[2], "off") {
        ctx.core.tracking.disable(id);
        ctx.out.ok();
        return Ok(());
    }
    if !Ctx::is(&argv[2], "on") {
        return Err(Error::SYNTAX);
    }
    if !opts.bcast && !prefixes.is_empty() {
        return Err(Error::msg("ERR PREFIX option requires BCAST mode to be enabled"));
    }
    let current = ctx.core.tracking.get(id).map(|t| t.opts);
    if current.is_some_and(|c| c.bcast != opts.bcast) {
        return Err(Error::msg(
            "ERR You can't switch BCAST mode on/off before disabling tracking for this client, \
             and then re-enabling it with a different mode.",
        ));
    }
    if opts.bcast && (opts.optin || opts.optout) {
        return Err(Error::msg("ERR OPTIN and OPTOUT are not compatible with BCAST"));
    }
    if opts.optin && opts.optout {
        return Err(Error::msg("ERR You can't specify both OPTIN mode and OPTOUT mode"));
    }
    if current.is_some_and(|c| (opts.optin && c.optout) || (opts.optout && c.optin)) {
        return Err(Error::msg(
            "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, \
             and then re-enabling it with a different mode.",
        ));
    }
    if opts.bcast {
        ctx.core.tracking.check_prefixes(id, &prefixes)?;
    }
    ctx.core.tracking.enable(ctx.client, redirect, opts, &prefixes);
    ctx.out.ok();
    Ok(())
}

/// CLIENT CACHING <YES | NO>
fn caching(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    ctx.core.tracking.caching(ctx.client.id, &argv[2])?;
    ctx.out.ok();
    Ok(())
}

/// CLIENT GETREDIR
fn getredir(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let redir = ctx.core.tracking.get(ctx.client.id).map_or(-1, |t| t.redirect as i64);
    ctx.out.int(redir);
    Ok(())
}

/// CLIENT TRACKINGINFO
fn trackinginfo(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let t = ctx.core.tracking.get(ctx.client.id);
    let mut flags = vec![if t.is_some() { "on" } else { "off" }];
    if let Some(t) = t {
        if t.opts.bcast {
            flags.push("bcast");
        }
        if t.opts.optin {
            flags.push("optin");
            if t.caching {
                flags.push("caching-yes");
            }
        }
        if t.opts.optout {
            flags.push("optout");
            if t.caching {
                flags.push("caching-no");
            }
        }
        if t.opts.noloop {
            flags.push("noloop");
        }
        if t.broken_redirect {
            flags.push("broken_redirect");
        }
    }
    let redirect = t.map_or(-1, |t| t.redirect as i64);
    let prefixes: Vec<Box<[u8]>> =
        t.map(|t| t.prefixes.iter().cloned().collect()).unwrap_or_default();
    ctx.out.map(3);
    ctx.out.bulk(b"flags");
    ctx.out.set(flags.len());
    for f in flags {
        ctx.out.bulk(f.as_bytes());
    }
    ctx.out.bulk(b"redirect");
    ctx.out.int(redirect);
    ctx.out.bulk(b"prefixes");
    ctx.out.array(prefixes.len());
    for p in &prefixes {
        ctx.out.bulk(p);
    }
    Ok(())
}
