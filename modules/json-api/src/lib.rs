//! The API the JSON module (`modules/json`) exports to other modules, as RedisJSON offers
//! RediSearch its `RedisJSONAPI`: is a key a JSON document, evaluate a path (JSONPath `$...`
//! or legacy `.a.b`) on a key's document, and read each match: its type, its scalar value, its
//! length, its serialized JSON text, an array's elements.
//!
//! An importer takes the API with `import_api::<JsonApiRef>(NAME, VERSION)` and calls it with
//! its own command's context ([`vireo_module_api::Context::host`]), since the documents live in
//! the keyspace of the calling client:
//!
//! ```ignore
//! let json: Shared<JsonApiRef> = ctx.import_api(vireo_json_api::NAME, vireo_json_api::VERSION)?;
//! for m in json.matches(ctx, b"doc", "$.tags[*]")?.unwrap_or_default() {
//!     if let Some(s) = m.as_str().into_option() { /* index s */ }
//! }
//! ```
//!
//! The server lets the JSON module read its documents on the importer's context because the
//! importer imported this API (the host rule in `docs/modules.md`, "Shared APIs"); writes stay
//! the JSON module's own.
//!
//! Both traits grow only by appending methods after the current last one (abi_stable's prefix
//! rule, as the module API's traits): a new method comes with a new [`VERSION`], and an
//! importer that calls it asks for that version.
//!
//! (abi_stable's `#[sabi_trait]` expands to `unsafe` code, so this crate does not forbid it;
//! the modules that use it do.)

// abi_stable's `#[sabi_trait]` expands to impls inside a constant.
#![allow(non_local_definitions)]

use abi_stable::sabi_trait;
use abi_stable::StableAbi;
use vireo_module_api::{Context, Error};

/// The ABI types the traits use, for implementors and callers.
pub use abi_stable::sabi_trait::TD_Opaque;
pub use abi_stable::sabi_types::RMut;
pub use abi_stable::std_types::{RBox, ROption, RResult, RSlice, RStr, RString, RVec};
pub use vireo_module_api::abi::HostCtx_TO;

/// The name the JSON module exports the API under.
pub const NAME: &str = "json";
/// The API's version: importers ask for at least the version whose methods they call.
pub const VERSION: u32 = 1;

/// A JSON value's type, with RedisJSON's names (JSON.TYPE's answers).
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonType {
    Null,
    Boolean,
    /// A number written without a fraction or exponent (`i64`, or `u64` above `i64::MAX`).
    Integer,
    /// A floating-point number.
    Number,
    String,
    Array,
    Object,
}

impl JsonType {
    /// RedisJSON's name: `null`, `boolean`, `integer`, `number`, `string`, `array`, `object`.
    pub fn name(self) -> &'static str {
        match self {
            JsonType::Null => "null",
            JsonType::Boolean => "boolean",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
            JsonType::String => "string",
            JsonType::Array => "array",
            JsonType::Object => "object",
        }
    }
}

/// One match of a path: a copy of the matched value, owned by the caller (dropping it runs the
/// JSON module's code), independent of the document once returned.
#[sabi_trait]
pub trait JsonMatch: Send + Sync {
    fn json_type(&self) -> JsonType;
    /// A boolean's value.
    fn as_bool(&self) -> ROption<bool>;
    /// An integer's value, if it fits an `i64`.
    fn as_i64(&self) -> ROption<i64>;
    /// Any number's value as a double (integers included).
    fn as_f64(&self) -> ROption<f64>;
    /// A string's text.
    fn as_str(&self) -> ROption<RStr<'_>>;
    /// An array's elements, an object's members, a string's bytes (as JSON.ARRLEN, OBJLEN,
    /// STRLEN); none for other types.
    fn len(&self) -> ROption<u64>;
    /// The compact JSON text (what `JSON.GET key path` shows of this value).
    fn to_json(&self) -> RString;
    /// Element `index` of an array (none past its end or for other types).
    #[sabi(last_prefix_field)]
    fn at(&self, index: u64) -> ROption<JsonMatchBox>;
}

/// A match as the API hands it out.
pub type JsonMatchBox = JsonMatch_TO<'static, RBox<()>>;

/// What the JSON module exports. Each method takes the caller's context: the key is read in
/// the calling client's database, as the caller's own read would be (an access for LRU/LFU).
#[sabi_trait]
pub trait JsonApi: Send + Sync {
    /// Whether `key` holds a JSON document (false when it is missing or of another type). An
    /// error only when the server refuses the read (a caller that did not import the API).
    fn is_json(
        &self,
        ctx: HostCtx_TO<'_, RMut<'_, ()>>,
        key: RSlice<'_, u8>,
    ) -> RResult<bool, RString>;
    /// Evaluates `path` on `key`'s document: every match of a JSONPath (`$`, `$.a`, `$..b`,
    /// `$[?(@.x>1)]`...), in JSON.GET's order; at most the first for a legacy path (`.a.b`,
    /// `a[0]`). No match is an empty list, not an error. `None` when the key does not exist;
    /// an error for a key of another type (`WRONGTYPE Operation against a key holding the
    /// wrong kind of value`), a path that does not parse (RedisJSON's message, as JSON.GET
    /// gives it), or a read the server refuses.
    #[sabi(last_prefix_field)]
    fn get(
        &self,
        ctx: HostCtx_TO<'_, RMut<'_, ()>>,
        key: RSlice<'_, u8>,
        path: RStr<'_>,
    ) -> RResult<ROption<RVec<JsonMatchBox>>, RString>;
}

/// The exported value: a boxed [`JsonApi`] trait object (import it as this type).
pub type JsonApiRef = JsonApi_TO<'static, RBox<()>>;

/// Boxes an implementation as the exported value.
pub fn json_api(api: impl JsonApi + 'static) -> JsonApiRef {
    JsonApi_TO::from_value(api, TD_Opaque)
}

/// Boxes an implementation as a match.
pub fn json_match(m: impl JsonMatch + 'static) -> JsonMatchBox {
    JsonMatch_TO::from_value(m, TD_Opaque)
}

fn sdk_error(e: RString) -> Error {
    // The message keeps its own code (`WRONGTYPE ...`) or has none (RedisJSON's path errors).
    Error(e.into_string().into())
}

/// The API with the SDK's types: a command's [`Context`] and `Result`s.
pub trait JsonApiExt {
    /// [`JsonApi::is_json`] on the command's context.
    fn is_json_key(&self, ctx: &mut Context, key: &[u8]) -> Result<bool, Error>;
    /// [`JsonApi::get`] on the command's context.
    fn matches(
        &self,
        ctx: &mut Context,
        key: &[u8],
        path: &str,
    ) -> Result<Option<Vec<JsonMatchBox>>, Error>;
}

impl JsonApiExt for JsonApiRef {
    fn is_json_key(&self, ctx: &mut Context, key: &[u8]) -> Result<bool, Error> {
        self.is_json(ctx.host(), RSlice::from_slice(key)).into_result().map_err(sdk_error)
    }

    fn matches(
        &self,
        ctx: &mut Context,
        key: &[u8],
        path: &str,
    ) -> Result<Option<Vec<JsonMatchBox>>, Error> {
        match self.get(ctx.host(), RSlice::from_slice(key), RStr::from_str(path)) {
            RResult::ROk(found) => Ok(found.into_option().map(RVec::into_vec)),
            RResult::RErr(e) => Err(sdk_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_redisjson_s() {
        let all = [
            JsonType::Null,
            JsonType::Boolean,
            JsonType::Integer,
            JsonType::Number,
            JsonType::String,
            JsonType::Array,
            JsonType::Object,
        ];
        let names: Vec<&str> = all.iter().map(|t| t.name()).collect();
        assert_eq!(names, ["null", "boolean", "integer", "number", "string", "array", "object"]);
    }
}
