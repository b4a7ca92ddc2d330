//! ACL CAT DELUSER DRYRUN GENPASS GETUSER HELP LIST LOAD LOG SAVE SETUSER USERS WHOAMI, and the
//! permission check the dispatcher, EXEC, scripts and modules share.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use super::{Command, Ctx, Handler, Lookup};
use crate::acl::{self, Denied, LogContext, LogEntry, LogReason, Refusal, Universe, User};
use crate::client::{Client, ClientShared};
use crate::error::{CmdResult, Error};
use crate::server::{Core, Server};
use crate::util::num::parse_i64;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("acl|cat", cat),
    ("acl|deluser", deluser),
    ("acl|dryrun", dryrun),
    ("acl|genpass", genpass),
    ("acl|getuser", getuser),
    ("acl|help", help),
    ("acl|list", list),
    ("acl|load", load),
    ("acl|log", log),
    ("acl|save", save),
    ("acl|setuser", setuser),
    ("acl|users", users),
    ("acl|whoami", whoami),
];

pub(crate) fn universe<'a>(server: &'a Server, core: &'a Core) -> Universe<'a> {
    Universe { builtins: server.commands, modules: &core.modules }
}

/// Checks a call against the client's user. A user that may run anything (the `default` user
/// as shipped) costs one comparison: the answer is cached until any user changes.
pub fn check(
    core: &Core,
    client: &mut Client,
    cmd: &Command,
    argv: &[Bytes],
) -> Result<(), Refusal> {
    if client.acl_epoch == core.acl.epoch && client.acl_unrestricted {
        return Ok(());
    }
    let Some(user) = core.acl.user(client.user.as_bytes()) else {
        // Deleted: its connections are being closed.
        return Err((Denied::Command, 0));
    };
    client.acl_epoch = core.acl.epoch;
    client.acl_unrestricted = user.unrestricted();
    if client.acl_unrestricted {
        return Ok(());
    }
    user.check(cmd, argv)
}

/// Whether the client's user is known, as of the last change to any user, to be allowed
/// everything.
#[inline]
fn unrestricted(core: &Core, client: &Client) -> bool {
    client.acl_epoch == core.acl.epoch && client.acl_unrestricted
}

/// Records a refusal in the ACL log.
pub fn log_refusal(
    core: &mut Core,
    client: &Client,
    cmd: &Command,
    argv: &[Bytes],
    (denied, pos): Refusal,
    context: LogContext,
) {
    let object = match denied {
        Denied::Command => cmd.fullname.as_bytes().to_vec(),
        Denied::Key | Denied::Channel => argv[pos].to_vec(),
    };
    log_entry(core, client, denied.into(), context, object, client.user.as_bytes().to_vec());
}

fn log_entry(
    core: &mut Core,
    client: &Client,
    reason: LogReason,
    context: LogContext,
    object: Vec<u8>,
    username: Vec<u8>,
) {
    let entry = LogEntry {
        count: 1,
        reason,
        context,
        object,
        username,
        ctime: crate::clock::mstime(),
        client_info: super::client::info_line(&client.shared),
    };
    let max = usize::try_from(core.cfg.acllog_max_len).unwrap_or(usize::MAX);
    core.acl.log_event(entry, max);
}

/// Authenticates the caller as `username` when the password matches and the user is on. A
/// failure is logged under the name it tried, with the command (AUTH or HELLO) as the object.
pub fn authenticate(ctx: &mut Ctx, username: &[u8], pass: &[u8]) -> CmdResult {
    let (core, client) = (&mut *ctx.core, &mut *ctx.client);
    let ok = core.acl.user(username).is_some_and(|u| u.flags.enabled && u.password_ok(pass));
    if !ok {
        let context = if client.multi.is_some() { LogContext::Multi } else { LogContext::Toplevel };
        let object = ctx.cmd.fullname.as_bytes().to_vec();
        log_entry(core, client, LogReason::Auth, context, object, username.to_vec());
        return Err(Error::msg("WRONGPASS invalid username-password pair or user is disabled."));
    }
    client.authenticated = true;
    client.user = String::from_utf8_lossy(username).into_owned();
    client.acl_epoch = 0;
    Ok(())
}

/// The message a command that passed when queued gets from EXEC when the rules changed since.
pub fn exec_refusal(denied: Denied) -> String {
    let reason = match denied {
        Denied::Command => "no permission to execute the command or subcommand",
        Denied::Key => "no permission to touch the specified keys",
        Denied::Channel => "no permission to access one of the channels used as arguments",
    };
    format!(
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the \
         EXEC call. This command is no longer allowed for the following reason: {reason}"
    )
}

/// EXEC's check of a queued command: the rules may have changed since it was queued.
pub fn exec_check(
    server: &Server,
    core: &mut Core,
    client: &mut Client,
    argv: &[Bytes],
) -> Option<Error> {
    if unrestricted(core, client) {
        return None;
    }
    let mut module_cmd = None;
    let Lookup::Found(cmd) = super::resolve(server, core, argv, &mut module_cmd) else {
        return None;
    };
    let refusal = check(core, client, cmd, argv).err()?;
    log_refusal(core, client, cmd, argv, refusal, LogContext::Multi);
    Some(Error(exec_refusal(refusal.0).into()))
}

/// Closes the connections of the users named (deleted, or changed by ACL LOAD). The caller's
/// own connection closes after its reply.
fn disconnect_users(ctx: &mut Ctx, gone: &[Vec<u8>]) {
    let me = ctx.client.id;
    for (&id, sh) in &ctx.core.clients {
        if id != me && gone.iter().any(|g| *g == sh.meta.lock().user.as_bytes()) {
            sh.kill();
        }
    }
    if gone.iter().any(|g| *g == ctx.client.user.as_bytes()) {
        ctx.client.close_after_reply = true;
    }
}

/// One client's subscriptions.
struct Subscriptions {
    client: Arc<ClientShared>,
    channels: Vec<Vec<u8>>,
    patterns: Vec<Vec<u8>>,
}

/// Closes the connections of `user` subscribed to channels or patterns it may no longer use,
/// as Redis does when a user's channel rules shrink.
fn disconnect_subscribers(ctx: &mut Ctx, user: &User) {
    if user.root.allows_all_channels() {
        return;
    }
    let mut subs: HashMap<u64, Subscriptions> = HashMap::new();
    ctx.core.pubsub.each(|kind, name, sh| {
        let s = subs.entry(sh.id).or_insert_with(|| Subscriptions {
            client: sh.clone(),
            channels: Vec::new(),
            patterns: Vec::new(),
        });
        match kind {
            crate::pubsub::Kind::Pattern => s.patterns.push(name.to_vec()),
            _ => s.channels.push(name.to_vec()),
        }
    });
    let me = ctx.client.id;
    for (id, s) in subs {
        let name =
            if id == me { ctx.client.user.clone() } else { s.client.meta.lock().user.clone() };
        if name.as_bytes() != user.name || user.allows_subscriptions(&s.channels, &s.patterns) {
            continue;
        }
        if id == me {
            ctx.client.close_after_reply = true;
        } else {
            s.client.kill();
        }
    }
}

/// ACL SETUSER username [rule [rule ...]]
fn setuser(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let name = &argv[2];
    if name.iter().any(|c| c.is_ascii_whitespace() || *c == 0) {
        return Err(Error::msg("ERR Usernames can't contain spaces or null characters"));
    }
    let args: Vec<&[u8]> = argv[3..].iter().map(|a| &a[..]).collect();
    let rules = acl::merge_selector_args(&args).map_err(Error::err)?;
    let all_channels = ctx.core.cfg.acl_pubsub_default_all();
    let mut user = match ctx.core.acl.user(name) {
        Some(u) => u.clone(),
        None => User::new(name, all_channels),
    };
    let u = universe(ctx.server, ctx.core);
    for op in &rules {
        if let Err(e) = user.apply(&u, op, all_channels) {
            return Err(Error::err(format_args!(
                "Error in ACL SETUSER modifier '{}': {}",
                String::from_utf8_lossy(op),
                e.message()
            )));
        }
    }
    ctx.core.acl.put(user.clone());
    disconnect_subscribers(ctx, &user);
    ctx.out.ok();
    Ok(())
}

/// ACL DELUSER username [username ...]
fn deluser(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv[2..].iter().any(|n| &n[..] == b"default") {
        return Err(Error::msg("ERR The 'default' user cannot be removed"));
    }
    let mut gone = Vec::new();
    for name in &argv[2..] {
        if ctx.core.acl.remove(name) {
            gone.push(name.to_vec());
        }
    }
    disconnect_users(ctx, &gone);
    ctx.out.int(gone.len() as i64);
    Ok(())
}

/// ACL GETUSER username
fn getuser(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(user) = ctx.core.acl.user(&argv[2]) else {
        ctx.out.null();
        return Ok(());
    };
    let u = universe(ctx.server, ctx.core);
    let out = &mut ctx.out;
    out.map(6);
    out.bulk(b"flags");
    let flags = user.flag_names();
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    out.array(user.passwords.len());
    for p in &user.passwords {
        out.bulk(p.as_bytes());
    }
    for (field, value) in User::selector_fields(&user.root, &u) {
        out.bulk(field.as_bytes());
        out.bulk(value.as_bytes());
    }
    out.bulk(b"selectors");
    out.array(user.selectors.len());
    for s in &user.selectors {
        out.map(3);
        for (field, value) in User::selector_fields(s, &u) {
            out.bulk(field.as_bytes());
            out.bulk(value.as_bytes());
        }
    }
    Ok(())
}

/// ACL LIST
fn list(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let u = universe(ctx.server, ctx.core);
    let lines: Vec<Vec<u8>> = ctx
        .core
        .acl
        .users()
        .map(|user| {
            let mut l = b"user ".to_vec();
            l.extend_from_slice(&user.name);
            l.push(b' ');
            l.extend_from_slice(user.describe(&u).as_bytes());
            l
        })
        .collect();
    ctx.out.bulks(lines.iter().map(|l| &l[..]));
    Ok(())
}

/// ACL USERS
fn users(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let names: Vec<Vec<u8>> = ctx.core.acl.users().map(|u| u.name.clone()).collect();
    ctx.out.bulks(names.iter().map(|n| &n[..]));
    Ok(())
}

/// ACL WHOAMI
fn whoami(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    ctx.out.bulk(ctx.client.user.as_bytes());
    Ok(())
}

/// ACL CAT [category]
fn cat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    use crate::cmd::spec::AclCategories;
    if argv.len() > 3 {
        return Err(super::client::subcommand_syntax_error(argv));
    }
    let Some(name) = argv.get(2) else {
        ctx.out.bulks(AclCategories::NAMES.iter().map(|n| n.as_bytes()));
        return Ok(());
    };
    let cat =
        std::str::from_utf8(name).ok().and_then(AclCategories::from_name).ok_or_else(|| {
            Error::err(format_args!("Unknown category '{}'", String::from_utf8_lossy(name)))
        })?;
    let mut names: Vec<&str> = Vec::new();
    universe(ctx.server, ctx.core).each_in(cat, |c| names.push(c.fullname));
    ctx.out.bulks(names.iter().map(|n| n.as_bytes()));
    Ok(())
}

/// ACL GENPASS [bits]
fn genpass(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let bits =
        match argv.get(2) {
            None => 256,
            Some(a) => match parse_i64(a).ok_or(Error::NOT_INT)? {
                b if (1..=4096).contains(&b) => b as usize,
                _ => return Err(Error::msg(
                    "ERR ACL GENPASS argument must be the number of bits for the output password, \
                     a positive number up to 4096",
                )),
            },
        };
    let chars = bits.div_ceil(4);
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    rand::Rng::fill(&mut rand::rngs::OsRng, &mut bytes[..]);
    let mut hex = crate::util::repr::hex(&bytes);
    hex.truncate(chars);
    ctx.out.bulk(hex.as_bytes());
    Ok(())
}

/// ACL LOG [count | RESET]
fn log(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut count = usize::MAX;
    if let Some(a) = argv.get(2) {
        if Ctx::is(a, "reset") {
            ctx.core.acl.log.clear();
            ctx.out.ok();
            return Ok(());
        }
        count = usize::try_from(parse_i64(a).ok_or(Error::NOT_INT)?).unwrap_or(0);
    }
    let now = crate::clock::mstime();
    let entries: Vec<LogEntry> = ctx.core.acl.log.iter().take(count).cloned().collect();
    ctx.out.array(entries.len());
    for e in entries {
        let out = &mut ctx.out;
        out.map(7);
        out.bulk(b"count");
        out.int(e.count as i64);
        out.bulk(b"reason");
        out.bulk(e.reason.as_str().as_bytes());
        out.bulk(b"context");
        out.bulk(e.context.as_str().as_bytes());
        out.bulk(b"object");
        out.bulk(&e.object);
        out.bulk(b"username");
        out.bulk(&e.username);
        out.bulk(b"age-seconds");
        out.double((now - e.ctime) as f64 / 1000.0);
        out.bulk(b"client-info");
        out.bulk(e.client_info.as_bytes());
    }
    Ok(())
}

/// ACL DRYRUN username command [arg [arg ...]]
fn dryrun(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(user) = ctx.core.acl.user(&argv[2]) else {
        return Err(Error::err(format_args!(
            "User '{}' not found",
            String::from_utf8_lossy(&argv[2])
        )));
    };
    let call = &argv[3..];
    let mut module_cmd = None;
    let cmd = match super::resolve(ctx.server, ctx.core, call, &mut module_cmd) {
        Lookup::Found(c) => c,
        _ => {
            return Err(Error::err(format_args!(
                "Command '{}' not found",
                String::from_utf8_lossy(&call[0])
            )))
        }
    };
    if !cmd.spec.arity_ok(call.len()) {
        return Err(Error::arity(cmd.fullname));
    }
    match user.check(cmd, call) {
        Ok(()) => ctx.out.ok(),
        Err((Denied::Command, _)) => ctx.out.bulk(
            format!("This user has no permissions to run the '{}' command", cmd.fullname)
                .as_bytes(),
        ),
        Err((d, pos)) => {
            let what = if d == Denied::Key { "key" } else { "channel" };
            let msg = format!(
                "This user has no permissions to access the '{}' {what}",
                String::from_utf8_lossy(&call[pos])
            );
            ctx.out.bulk(msg.as_bytes());
        }
    }
    Ok(())
}

const NO_ACLFILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may \
    want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming \
    you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// ACL LOAD
fn load(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let path = ctx.core.cfg.aclfile.clone();
    if path.is_empty() {
        return Err(Error::msg(NO_ACLFILE));
    }
    let content = std::fs::read(&path)
        .map_err(|e| Error::err(format_args!("Error loading ACLs, opening file '{path}': {e}")))?;
    let all_channels = ctx.core.cfg.acl_pubsub_default_all();
    let users = {
        let u = universe(ctx.server, ctx.core);
        acl::file::parse(&u, &path, &content, all_channels).map_err(Error::err)?
    };
    // Connections of users that are gone or changed start over, as in Redis.
    let changed: Vec<Vec<u8>> = ctx
        .core
        .acl
        .users()
        .filter(|old| users.get(&old.name) != Some(old))
        .map(|old| old.name.clone())
        .collect();
    ctx.core.acl.replace_all(users);
    disconnect_users(ctx, &changed);
    ctx.out.ok();
    Ok(())
}

/// ACL SAVE
fn save(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let path = ctx.core.cfg.aclfile.clone();
    if path.is_empty() {
        return Err(Error::msg(NO_ACLFILE));
    }
    let content = acl::file::render(ctx.core, &universe(ctx.server, ctx.core));
    // Atomically, as CONFIG REWRITE replaces the config file.
    crate::config::rewrite::write_atomically(std::path::Path::new(&path), &content).map_err(|e| {
        tracing::warn!("Saving the ACL file {path}: {e}");
        Error::msg("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
    })?;
    ctx.out.ok();
    Ok(())
}

/// ACL HELP
fn help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    super::client::help_reply(
        ctx,
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    );
    Ok(())
}
