//! Users from outside: the `user` lines of the config file, the `aclfile` (ACL LOAD / ACL SAVE),
//! and the start-up that reads either.

use std::collections::BTreeMap;

use super::{default_user, merge_selector_args, Universe, User};
use crate::server::{Core, Server};

/// A user from one `user <name> <rules...>` line. The `default` user is reset first, then
/// takes the line's rules, as Redis does.
fn user_from_rules(
    u: &Universe,
    name: &[u8],
    rules: &[&[u8]],
    all_channels: bool,
) -> Result<User, String> {
    let mut user = User::new(name, all_channels);
    if name == b"default" {
        user = default_user();
        user.apply(u, b"reset", all_channels).expect("reset always applies");
    }
    for op in merge_selector_args(rules)? {
        user.apply(u, &op, all_channels).map_err(|e| {
            format!(
                "Error in applying operation '{}': {}",
                String::from_utf8_lossy(&op),
                e.message()
            )
        })?;
    }
    Ok(user)
}

/// The users an ACL file declares, the `default` user included (as on a fresh server when the
/// file does not name it). Any error leaves everything as it was: the message lists each one,
/// in Redis's words.
pub fn parse(
    u: &Universe,
    path: &str,
    content: &[u8],
    all_channels: bool,
) -> Result<BTreeMap<Vec<u8>, User>, String> {
    let mut users = BTreeMap::new();
    users.insert(b"default".to_vec(), default_user());
    let mut seen = std::collections::HashSet::new();
    let mut errors = String::new();
    for (i, raw) in content.split(|&b| b == b'\n').enumerate() {
        let n = i + 1;
        let line = raw.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let Some(args) = crate::config::parse::split_args(line) else {
            errors.push_str(&format!("{path}:{n}: unbalanced quotes in acl line. "));
            continue;
        };
        if args.len() < 2 || args[0] != b"user" {
            errors.push_str(&format!(
                "{path}:{n} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = &args[1];
        if !seen.insert(name.clone()) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {n}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let rules: Vec<&[u8]> = args[2..].iter().map(|a| &a[..]).collect();
        match user_from_rules(u, name, &rules, all_channels) {
            Ok(user) => {
                users.insert(name.clone(), user);
            }
            Err(e) => errors.push_str(&format!("{path}:{n}: {e}. ")),
        }
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was \
             performed",
        );
        Err(errors)
    }
}

/// The users as ACL SAVE writes them: one `ACL LIST` line each.
pub fn render(core: &Core, u: &Universe) -> Vec<u8> {
    let mut out = Vec::new();
    for user in core.acl.users() {
        out.extend_from_slice(b"user ");
        out.extend_from_slice(&user.name);
        out.push(b' ');
        out.extend_from_slice(user.describe(u).as_bytes());
        out.push(b'\n');
    }
    out
}

/// The users at start-up: `requirepass` (already applied), then the config file's `user`
/// lines or the `aclfile`, not both. Called once the modules are loaded, so that rules can name
/// their commands.
pub fn load_at_startup(server: &Server, core: &mut Core) -> Result<(), String> {
    let all_channels = core.cfg.acl_pubsub_default_all();
    let lines = std::mem::take(&mut core.cfg.users);
    let aclfile = core.cfg.aclfile.clone();
    if !lines.is_empty() && !aclfile.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting \
                    an ACL file path is invalid. This setup is very likely to lead to \
                    configuration errors and security holes, please define either an ACL file \
                    or declare users directly in your redis.conf, but not both."
            .into());
    }
    let u = Universe { builtins: server.commands, modules: &core.modules };
    if !aclfile.is_empty() {
        let content = std::fs::read(&aclfile)
            .map_err(|e| format!("Error loading ACLs, opening file '{aclfile}': {e}"))?;
        let users = parse(&u, &aclfile, &content, all_channels)?;
        core.acl.replace_all(users);
        return Ok(());
    }
    let mut users: Vec<User> = Vec::new();
    for line in &lines {
        let name = &line[0];
        let rules: Vec<&[u8]> = line[1..].iter().map(|a| &a[..]).collect();
        if users.iter().any(|x| x.name == *name) {
            return Err(format!(
                "Error in user declaration '{}': Duplicate user found. A user can only be \
                 defined once in config files",
                String::from_utf8_lossy(name)
            ));
        }
        let user = user_from_rules(&u, name, &rules, all_channels).map_err(|e| {
            format!("Error in user declaration '{}': {e}", String::from_utf8_lossy(name))
        })?;
        users.push(user);
    }
    for user in users {
        core.acl.put(user);
    }
    // CONFIG REWRITE writes the users it holds then, not these lines.
    Ok(())
}
