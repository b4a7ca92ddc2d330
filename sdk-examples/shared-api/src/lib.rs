//! The API `sdk-examples/shared-exporter` exports and `sdk-examples/shared-importer` imports: a
//! crate both depend on, as a JSON module would publish "read a document / evaluate a path" for
//! a search module. The exported value is a sabi trait object, so it can grow by appending
//! methods (after `#[sabi(last_prefix_field)]`) without breaking older importers; abi_stable's
//! layout check, run by `import_api`, refuses an importer built against an incompatible shape.
//!
//! (abi_stable's `#[sabi_trait]` expands to `unsafe` code, so this crate does not forbid it; the
//! modules that use it do.)

// abi_stable's `#[sabi_trait]` expands to impls inside a constant.
#![allow(non_local_definitions)]

use abi_stable::sabi_trait;
pub use abi_stable::sabi_trait::TD_Opaque;
pub use abi_stable::std_types::{RBox, ROption, RStr, RString};

/// The name the counter API is exported under.
pub const NAME: &str = "example.counter";
/// Its version: importers ask for at least the version whose methods they call.
pub const VERSION: u32 = 1;

/// Named counters kept by the exporting module.
#[sabi_trait]
pub trait Counter: Send + Sync {
    /// Adds `by` to counter `key`; returns the new value.
    fn add(&self, key: RStr<'_>, by: i64) -> i64;
    /// The counter's value (0 if it was never added to).
    fn get(&self, key: RStr<'_>) -> i64;
    /// The name of the module that exports it.
    #[sabi(last_prefix_field)]
    fn owner(&self) -> RString;
}

/// The exported value: a boxed `Counter` trait object.
pub type CounterApi = Counter_TO<'static, RBox<()>>;

/// Boxes an implementation as the exported value.
pub fn counter_api(c: impl Counter + 'static) -> CounterApi {
    Counter_TO::from_value(c, TD_Opaque)
}
