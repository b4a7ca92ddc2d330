//! Declaring commands: [`Command`] (a builder) and [`InitContext`] (what `init` registers them
//! through).

use std::panic::{catch_unwind, AssertUnwindSafe};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RMut;
use abi_stable::std_types::{RBox, RErr, ROk, RResult, RSlice, RStr, RString, RVec};

use crate::abi::{self, CommandHandler, CommandHandler_TO, HostCtx_TO, InitHost_TO, LogLevel};
use crate::{Args, CommandResult, Context, Error};

/// A key spec: where a command's keys are and what it does with them (Redis 7's key specs).
#[derive(Clone, Debug)]
pub struct KeySpec(abi::KeySpec);

impl KeySpec {
    /// Keys from argument `first` (1 is the first after the command name) to `last` (negative:
    /// counted from the end, -1 the last argument), every `step`. `flags`: `RO ACCESS`,
    /// `RW UPDATE`, `OW`, `RM DELETE`, `INSERT`...
    pub fn range(flags: &str, first: i32, last: i32, step: i32) -> KeySpec {
        let lastkey = if last < 0 { last } else { last - first };
        KeySpec(abi::KeySpec {
            flags: flags.into(),
            begin_search: abi::BeginSearch::Index(first),
            find_keys: abi::FindKeys::Range { lastkey, step, limit: 0 },
        })
    }

    /// The key count is argument `numkeys_at`; the keys follow it.
    pub fn keynum(flags: &str, numkeys_at: i32) -> KeySpec {
        KeySpec(abi::KeySpec {
            flags: flags.into(),
            begin_search: abi::BeginSearch::Index(numkeys_at),
            find_keys: abi::FindKeys::Keynum { keynumidx: 0, firstkey: 1, step: 1 },
        })
    }

    /// Any key spec Redis can express.
    pub fn raw(spec: abi::KeySpec) -> KeySpec {
        KeySpec(spec)
    }
}

type BoxedHandler = Box<dyn Fn(&mut Context, &Args) -> CommandResult + Send + Sync>;

/// A command's declaration:
///
/// ```
/// # use vireo_module_api::*;
/// fn echo(ctx: &mut Context, args: &Args) -> CommandResult {
///     ctx.reply_bulk(args.bytes(1)?);
///     Ok(())
/// }
/// let cmd = Command::new("hello.echo", echo).arity(2).flags("readonly fast").acl("fast")
///     .summary("Returns its argument");
/// ```
pub struct Command {
    def: abi::CommandDef,
    handler: BoxedHandler,
}

impl Command {
    /// A command named `name` (modules name theirs `module.command`), arity -1 (any number of
    /// arguments) and no flags until said otherwise.
    pub fn new(
        name: &str,
        handler: impl Fn(&mut Context, &Args) -> CommandResult + Send + Sync + 'static,
    ) -> Command {
        Command {
            def: abi::CommandDef {
                name: name.into(),
                arity: -1,
                flags: RString::new(),
                first_key: 0,
                last_key: 0,
                key_step: 0,
                key_specs: RVec::new(),
                acl_categories: RString::new(),
                summary: RString::new(),
                complexity: RString::new(),
                since: RString::new(),
            },
            handler: Box::new(handler),
        }
    }

    /// Positive: exactly this many arguments, the name included; negative: at least `-arity`.
    pub fn arity(mut self, arity: i32) -> Self {
        self.def.arity = arity;
        self
    }

    /// Space-separated flags, as Redis's `RM_CreateCommand`: `write`, `readonly`, `admin`,
    /// `deny-oom`, `deny-script`, `allow-loading`, `pubsub`, `random`, `allow-stale`,
    /// `no-monitor`, `no-slowlog`, `fast`, `no-auth`, `may-replicate`, `no-mandatory-keys`,
    /// `blocking`, `allow-busy`, `no-cluster`.
    pub fn flags(mut self, flags: &str) -> Self {
        self.def.flags = flags.into();
        self
    }

    /// The legacy key positions: first key, last key (negative: from the end), step.
    pub fn keys(mut self, first: i32, last: i32, step: i32) -> Self {
        self.def.first_key = first;
        self.def.last_key = last;
        self.def.key_step = step;
        self
    }

    /// Adds a key spec (then the legacy key positions are derived from the specs).
    pub fn key_spec(mut self, spec: KeySpec) -> Self {
        self.def.key_specs.push(spec.0);
        self
    }

    /// Space-separated ACL categories, with or without `@`: `fast string`.
    pub fn acl(mut self, categories: &str) -> Self {
        let cats: Vec<&str> =
            categories.split_whitespace().map(|c| c.trim_start_matches('@')).collect();
        self.def.acl_categories = cats.join(" ").into();
        self
    }

    /// One line for COMMAND DOCS.
    pub fn summary(mut self, s: &str) -> Self {
        self.def.summary = s.into();
        self
    }

    pub fn complexity(mut self, s: &str) -> Self {
        self.def.complexity = s.into();
        self
    }

    pub fn since(mut self, s: &str) -> Self {
        self.def.since = s.into();
        self
    }

    pub fn name(&self) -> &str {
        &self.def.name
    }

    pub(crate) fn into_parts(self) -> (abi::CommandDef, CommandHandler_TO<'static, RBox<()>>) {
        let name = self.def.name.to_string();
        let h = FnHandler { name, f: self.handler };
        (self.def, CommandHandler_TO::from_value(h, TD_Opaque))
    }
}

/// Runs a handler, turning its error into the error reply and a panic into `ERR ...`: nothing
/// unwinds across the ABI.
struct FnHandler {
    name: String,
    f: BoxedHandler,
}

/// Runs module code, turning a panic into the error `<what> panicked: <message>`: what a
/// callback that crosses the ABI needs (data type callbacks, the methods of a shared API a
/// module exports), since no panic may unwind across it.
pub fn catch_panic<R>(what: &str, f: impl FnOnce() -> R) -> Result<R, RString> {
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|p| format!("{what} panicked: {}", panic_message(p.as_ref())).into())
}

/// The message a panic carried (its `&str` or `String` payload).
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

impl CommandHandler for FnHandler {
    fn call(
        &self,
        ctx: HostCtx_TO<'_, RMut<'_, ()>>,
        args: RSlice<'_, RSlice<'_, u8>>,
    ) -> RResult<(), RString> {
        let run = || {
            let mut c = Context::new(ctx);
            (self.f)(&mut c, &Args::new(args.as_slice()))
        };
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(Ok(())) => ROk(()),
            Ok(Err(e)) => RErr(e.message().into()),
            Err(p) => RErr(
                format!(
                    "ERR module command '{}' panicked: {}",
                    self.name,
                    panic_message(p.as_ref()).replace(['\r', '\n'], " ")
                )
                .into(),
            ),
        }
    }
}

/// What a module's `init` registers its commands through.
pub struct InitContext<'a, 'p> {
    pub(crate) host: InitHost_TO<'a, RMut<'p, ()>>,
    /// Configs were registered since the last `load_configs` (API 1.1).
    pub(crate) configs_pending: bool,
}

impl<'a, 'p> InitContext<'a, 'p> {
    pub fn new(host: InitHost_TO<'a, RMut<'p, ()>>) -> Self {
        // API 1.1: the handle `ThreadSafeContext::new` locks the server through.
        if host.api_minor() >= 1 {
            crate::concurrency::set_server(host.server_handle());
        }
        InitContext { host, configs_pending: false }
    }

    /// Registers a command. Refused when the name is taken or the declaration is invalid (an
    /// unknown flag, a bad key spec), with the server's reason.
    pub fn register(&mut self, cmd: Command) -> Result<(), Error> {
        let (def, handler) = cmd.into_parts();
        match self.host.register_command(def, handler) {
            ROk(()) => Ok(()),
            RErr(e) => Err(Error::new(e.into_string())),
        }
    }

    pub fn log(&self, level: LogLevel, msg: &str) {
        self.host.log(level, RStr::from_str(msg));
    }

    /// The server's API minor version.
    pub fn server_api_minor(&self) -> u32 {
        self.host.api_minor()
    }
}
