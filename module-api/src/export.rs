//! Exporting a module: [`crate::vireo_module!`] implements [`ExportModule`] and exports the root
//! module abi_stable's loader looks for.

use std::panic::{catch_unwind, AssertUnwindSafe};

use abi_stable::library::{CheckTypeLayout, IntoRootModuleResult, LibHeader, RootModuleResult};
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_types::RMut;
use abi_stable::std_types::{RErr, RResult, RSlice, RStr, RString};

use crate::abi::{Capability, InitHost_TO, Module, ModuleRef, API_MINOR, CAPABILITIES};
use crate::{Error, InitContext};

/// A module, as [`crate::vireo_module!`] declares it.
pub trait ExportModule: 'static {
    /// The module's name (MODULE LIST, MODULE UNLOAD).
    const NAME: &'static str;
    /// The module's version (MODULE LIST's `ver`).
    const VERSION: i32;
    /// The API minor version the module needs (see [`crate::abi`]'s versioning rules).
    const API_MINOR: u32 = API_MINOR;
    /// The capability table the module carries (the SDK's; a test fixture may give another).
    const CAPABILITIES: &'static [Capability] = CAPABILITIES;
    /// Registers the module's commands; `args` are the `loadmodule` / MODULE LOAD arguments.
    fn init(ctx: &mut InitContext, args: &[String]) -> Result<(), Error>;
}

fn root_module<M: ExportModule>() -> ModuleRef {
    Module {
        api_minor: M::API_MINOR,
        capabilities: RSlice::from_slice(M::CAPABILITIES),
        name: RStr::from_str(M::NAME),
        version: M::VERSION,
        init: init_module::<M>,
    }
    .leak_into_prefix()
}

extern "C" fn init_module<M: ExportModule>(
    host: InitHost_TO<'_, RMut<'_, ()>>,
    args: RSlice<'_, RString>,
) -> RResult<(), RString> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let run = || -> Result<(), Error> {
        let mut ctx = InitContext::new(host);
        M::init(&mut ctx, &args)?;
        if ctx.configs_pending {
            ctx.load_configs()?;
        }
        Ok(())
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(())) => RResult::ROk(()),
        Ok(Err(e)) => RErr(e.message().into()),
        Err(p) => RErr(
            format!("module init panicked: {}", crate::command::panic_message(p.as_ref())).into(),
        ),
    }
}

extern "C" fn load_root_module<M: ExportModule>() -> RootModuleResult {
    abi_stable::library::__call_root_module_loader(root_module::<M>)
}

/// The library header of module `M`: what [`crate::vireo_module!`] exports under abi_stable's
/// root-module symbol.
#[doc(hidden)]
pub const fn lib_header<M: ExportModule>() -> LibHeader {
    // SAFETY: `from_constructor` requires that the constructor return a root module of type
    // `ModuleRef`: `load_root_module::<M>` returns what `root_module::<M>` builds, a `ModuleRef`,
    // through abi_stable's own `__call_root_module_loader` (the code `#[export_root_module]`
    // generates).
    unsafe { LibHeader::from_constructor::<ModuleRef>(load_root_module::<M>, CheckTypeLayout::Yes) }
}

// Keeps the `IntoRootModuleResult` bound `__call_root_module_loader` needs visible here.
const _: fn() = || {
    fn is_root<T: IntoRootModuleResult>() {}
    is_root::<ModuleRef>();
};

/// Declares a module: its name, version and `init` function, which registers its commands.
///
/// ```ignore
/// use vireo_module_api::*;
///
/// fn echo(ctx: &mut Context, args: &Args) -> CommandResult {
///     ctx.reply_bulk(args.bytes(1)?);
///     Ok(())
/// }
///
/// fn init(ctx: &mut InitContext, _args: &[String]) -> Result<(), Error> {
///     ctx.register(Command::new("hello.echo", echo).arity(2).flags("fast"))
/// }
///
/// vireo_module! { name: "hello", version: 1, init: init }
/// ```
///
/// `api_minor: N` may follow `version` to declare the API minor version the module needs, when
/// it is lower than the SDK's (see the versioning rules in [`crate::abi`]).
#[macro_export]
macro_rules! vireo_module {
    (
        name: $name:expr,
        version: $ver:expr,
        $(api_minor: $minor:expr,)?
        $(capabilities: $caps:expr,)?
        init: $init:path $(,)?
    ) => {
        #[doc(hidden)]
        pub struct __VireoModule;

        impl $crate::export::ExportModule for __VireoModule {
            const NAME: &'static str = $name;
            const VERSION: i32 = $ver;
            $(const API_MINOR: u32 = $minor;)?
            $(const CAPABILITIES: &'static [$crate::abi::Capability] = $caps;)?
            fn init(
                ctx: &mut $crate::InitContext,
                args: &[::std::string::String],
            ) -> ::std::result::Result<(), $crate::Error> {
                $init(ctx, args)
            }
        }

        /// The root module abi_stable's loader looks for.
        #[no_mangle]
        pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::export::__LibHeader =
            $crate::export::lib_header::<__VireoModule>();
    };
}

#[doc(hidden)]
pub use abi_stable::library::LibHeader as __LibHeader;

#[cfg(test)]
mod tests {
    #[test]
    fn exported_symbol_is_abi_stables() {
        assert_eq!(
            abi_stable::library::ROOT_MODULE_LOADER_NAME,
            "_1as_0lib_1header_0root_bmodule_bloader"
        );
    }
}
