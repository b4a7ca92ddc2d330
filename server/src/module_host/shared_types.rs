//! Who may read a module data type's values (module API 1.1, `HostCtx::module_value`).
//!
//! The rule: a module reads the values of its own types, and of the types of a module whose
//! shared API it imported; only the owner writes or sets them (`module_value_mut`,
//! `set_module_value` keep [`super::types::check_own`]). This is what lets an exporter's API
//! read its own values on the importer's context (the JSON module's `json` API, called by a
//! search module with the search command's context).
//!
//! Why it is sound: the value reached is `&ModuleValue_TO`, a shared reference to an opaque
//! abi_stable object. Its methods (serialize, digest, memory usage) run the owner's code on a
//! shared borrow, and the SDK reaches the Rust value only by downcasting, which abi_stable
//! allows only in the library that made the object (its type id includes the library's
//! identity): in the owner's code, such as its API implementation, the downcast succeeds; in
//! the importer's own code it fails, and the SDK answers WRONGTYPE. No `&mut` is ever handed
//! out, so no one but the owner can replace or change a value. The import link is required so
//! that the access is declared: a module that imported nothing from the owner is refused, and
//! the owner cannot be unloaded while such a reader is loaded (the unload rule of shared APIs).

use std::sync::Arc;

use abi_stable::std_types::RString;

use super::modconf;
use super::types::{check_own, ModuleType, Registry};

/// The type `type_name` if `module` may read its values: its own, or one of a module it
/// imported a shared API from.
pub fn check_readable(
    reg: &Registry,
    ext: &modconf::State,
    module: &str,
    type_name: &str,
) -> Result<Arc<ModuleType>, RString> {
    let Some(t) = reg.by_name(type_name) else { return check_own(reg, module, type_name) };
    if t.module == module || ext.using(module).contains(&t.module.as_str()) {
        return Ok(t.clone());
    }
    Err(format!(
        "ERR data type '{type_name}' belongs to module '{}': module '{module}' may read it only \
         after importing a shared API that module exports",
        t.module
    )
    .into())
}
