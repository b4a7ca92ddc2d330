//! Handing a command's context to another module's shared API (module API 1.1), for APIs whose
//! methods work on the caller's keys: the JSON module's `vireo-json-api` reads the documents
//! of the calling client's database through the context it is given.

use abi_stable::sabi_types::RMut;

use crate::abi::HostCtx_TO;
use crate::Context;

impl<'a> Context<'a, '_> {
    /// This command's host context, borrowed for one call into a shared API that takes the
    /// caller's context (`api.get(ctx.host(), key, path)`): the exporter's code then runs on
    /// this command, for its client and database, with what the server allows this module.
    /// The borrow ends when the call returns.
    pub fn host(&mut self) -> HostCtx_TO<'a, RMut<'_, ()>> {
        self.host.sabi_reborrow_mut()
    }
}
