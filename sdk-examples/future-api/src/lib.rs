//! A module that needs API minor `API_MINOR + 1`, with a capability table naming what that
//! minor adds: a server must refuse it at load, naming the capability.
#![forbid(unsafe_code)]

use vireo_module_api::abi::{AbiStr, Capability, CAPABILITIES};
use vireo_module_api::{
    vireo_module, Args, Command, CommandResult, Context, Error, InitContext, API_MINOR,
};

fn never(ctx: &mut Context, _args: &Args) -> CommandResult {
    ctx.reply_ok();
    Ok(())
}

fn init(ctx: &mut InitContext, _args: &[String]) -> Result<(), Error> {
    ctx.register(Command::new("future.never", never))
}

static TABLE: [Capability; 2] =
    [CAPABILITIES[0], Capability { minor: API_MINOR + 1, name: AbiStr::from_str("time travel") }];

vireo_module! {
    name: "future",
    version: 1,
    api_minor: API_MINOR + 1,
    capabilities: &TABLE,
    init: init,
}
