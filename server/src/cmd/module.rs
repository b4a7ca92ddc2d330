//! MODULE LOAD / LOADEX / UNLOAD / LIST / HELP (the loading itself is `module_host`'s).

use bytes::Bytes;

use super::{Ctx, Handler};
use crate::client::Client;
use crate::error::{CmdResult, Error};
use crate::module_host::{self, UnloadError, LOAD_ERROR};
use crate::server::Core;

pub const HANDLERS: &[(&str, Handler)] = &[
    ("module|help", help),
    ("module|list", list),
    ("module|load", load),
    ("module|loadex", loadex),
    ("module|unload", unload),
];

/// Whether `enable-module-command` lets this client load and unload modules (`local`: from
/// loopback or the unix socket). The dispatcher checks it for LOAD, LOADEX and UNLOAD.
pub fn allowed(core: &Core, client: &Client) -> bool {
    let local = client.flags.unix || super::server_cmds::is_loopback_addr(&client.shared.addr);
    core.cfg.enable_module_command.allows(local)
}

pub fn not_allowed() -> Error {
    Error::msg(
        "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
    )
}

/// MODULE HELP
fn help(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    super::client::help_reply(
        ctx,
        "MODULE",
        &[
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
        ],
    );
    Ok(())
}

/// MODULE LIST
fn list(ctx: &mut Ctx, _argv: &[Bytes]) -> CmdResult {
    let out = &mut ctx.out;
    out.array(ctx.core.modules.loaded.len());
    for m in &ctx.core.modules.loaded {
        out.map(4);
        out.bulk(b"name");
        out.bulk(m.name.as_bytes());
        out.bulk(b"ver");
        out.int(i64::from(m.version));
        out.bulk(b"path");
        out.bulk(m.path.as_bytes());
        out.bulk(b"args");
        out.bulks(m.args.iter());
    }
    Ok(())
}

fn load_module(
    ctx: &mut Ctx,
    path: &[u8],
    args: &[Bytes],
    mut configs: Vec<(String, Vec<u8>)>,
) -> CmdResult {
    let path = String::from_utf8_lossy(path).into_owned();
    let args: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
    let given = !configs.is_empty();
    let mut result = module_host::load_ex(ctx.server, ctx.core, &path, &args, &mut configs);
    if result.is_ok() && given && !configs.is_empty() {
        // A LOADEX config the module did not take: the load is undone.
        if let Some(name) = ctx.core.modules.loaded.last().map(|m| m.name.clone()) {
            let _ = module_host::unload(ctx.core, &name);
        }
        result = Err("Loadex configurations were not applied, likely due to invalid arguments. Unloading the module.".to_string());
    }
    match result {
        Ok(()) => {
            let name = ctx.core.modules.loaded.last().map_or("", |m| m.name.as_str());
            tracing::info!("Module '{name}' loaded from {path}");
            let name = name.to_string();
            let loaded = vireo_module_api::abi::server_event::LOADED;
            module_host::events::module_changed(ctx.server, ctx.core, loaded, &name);
            ctx.out.ok();
            Ok(())
        }
        Err(e) => {
            tracing::warn!("Module {path} failed to load: {e}");
            Err(Error::msg(LOAD_ERROR))
        }
    }
}

/// MODULE LOAD path [arg [arg ...]]
fn load(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    load_module(ctx, &argv[2], &argv[3..], Vec::new())
}

/// MODULE LOADEX path [CONFIG name value [CONFIG name value ...]] [ARGS args [args ...]]
fn loadex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let mut configs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut i = 3;
    let mut args: &[Bytes] = &[];
    while i < argv.len() {
        if Ctx::is(&argv[i], "config") {
            if i + 2 >= argv.len() {
                tracing::info!("CONFIG specified without name value pair");
                return Err(Error::msg(LOAD_ERROR));
            }
            configs
                .push((String::from_utf8_lossy(&argv[i + 1]).into_owned(), argv[i + 2].to_vec()));
            i += 3;
        } else if Ctx::is(&argv[i], "args") {
            args = &argv[i + 1..];
            break;
        } else {
            tracing::info!(
                "Syntax Error from arguments to loadex around {}.",
                String::from_utf8_lossy(&argv[i])
            );
            return Err(Error::msg(LOAD_ERROR));
        }
    }
    load_module(ctx, &argv[2], args, configs)
}

/// MODULE UNLOAD name
fn unload(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&argv[2]);
    let real = ctx.core.modules.get(&name).map(|m| m.name.clone());
    match module_host::unload(ctx.core, &name) {
        Ok(()) => {
            let unloaded = vireo_module_api::abi::server_event::UNLOADED;
            let real = real.unwrap_or_default();
            module_host::events::module_changed(ctx.server, ctx.core, unloaded, &real);
            ctx.out.ok();
            Ok(())
        }
        Err(UnloadError::NoSuchModule) => {
            Err(Error::msg("ERR Error unloading module: no such module with that name"))
        }
        Err(UnloadError::InUse) => {
            Err(Error::msg("ERR Error unloading module: the module's commands are running"))
        }
        Err(UnloadError::HasValues) => Err(Error::msg(
            "ERR Error unloading module: the module exports one or more module-side data types, can't unload",
        )),
        Err(UnloadError::BlockedClients) => Err(Error::msg(
            "ERR Error unloading module: the module has blocked clients. Please wait them \
             unblocked and try again",
        )),
        Err(UnloadError::UsedBy) => Err(Error::msg(
            "ERR Error unloading module: the module exports APIs used by other modules. Please unload them first and try again",
        )),
    }
}
