//! The shared API other modules import (`vireo-json-api`: [`NAME`] `json`, version 1): is a
//! key a JSON document, and a path's matches on a key's document, each a copy of the matched
//! value behind a [`JsonMatch`] object.
//!
//! The methods run on the importer's context: documents are read with
//! [`Context::get_value`], which the server allows on another module's context only when that
//! module imported an API this module exports (and only for reading); the downcast to
//! [`JsonDoc`] succeeds only here, in the code that made the value. Paths are parsed and
//! evaluated by [`crate::path`], as the JSON.* commands do. No panic leaves a method: each is
//! caught and becomes an error (or an empty answer where the signature has no error).

use vireo_json_api::{
    json_api, json_match, HostCtx_TO, JsonApi, JsonApiRef, JsonMatch, JsonMatchBox, JsonType, RMut,
    ROption, RResult, RSlice, RStr, RString, RVec, NAME, VERSION,
};
use vireo_module_api::{catch_panic, Context, Error, InitContext};

use crate::path::Path;
use crate::value::{Num, Value};
use crate::JsonDoc;

/// Exports the API (from the module's `init`).
pub fn export(ctx: &mut InitContext) -> Result<(), Error> {
    ctx.export_api(NAME, VERSION, exported())
}

/// The exported value.
pub fn exported() -> JsonApiRef {
    json_api(Api)
}

/// A method's code, a panic caught (nothing may unwind across the ABI).
fn guard<T>(f: impl FnOnce() -> T) -> Result<T, RString> {
    catch_panic("ERR the JSON module's shared API", f)
}

struct Api;

impl JsonApi for Api {
    fn is_json(
        &self,
        ctx: HostCtx_TO<'_, RMut<'_, ()>>,
        key: RSlice<'_, u8>,
    ) -> RResult<bool, RString> {
        let r = guard(|| match Context::new(ctx).get_value::<JsonDoc>(key.as_slice()) {
            Ok(doc) => Ok(doc.is_some()),
            Err(e) if e.0.starts_with("WRONGTYPE") => Ok(false),
            Err(e) => Err(RString::from(e.0.into_owned())),
        });
        r.and_then(|r| r).into()
    }

    fn get(
        &self,
        ctx: HostCtx_TO<'_, RMut<'_, ()>>,
        key: RSlice<'_, u8>,
        path: RStr<'_>,
    ) -> RResult<ROption<RVec<JsonMatchBox>>, RString> {
        let r = guard(|| {
            // The path first, so that a bad path is an error whether or not the key exists (as
            // JSON.GET answers it).
            let path = Path::parse(path.as_str())?;
            let mut ctx = Context::new(ctx);
            match ctx.get_value::<JsonDoc>(key.as_slice()) {
                Ok(Some(doc)) => Ok(ROption::RSome(matches(&doc.0, &path))),
                Ok(None) => Ok(ROption::RNone),
                Err(e) => Err(e.0.into_owned()),
            }
        });
        r.and_then(|r| r.map_err(RString::from)).into()
    }
}

/// Copies of `path`'s matches on `doc`.
pub fn matches(doc: &Value, path: &Path) -> RVec<JsonMatchBox> {
    path.values(doc).into_iter().map(|v| json_match(Match(v.clone()))).collect()
}

/// A match: a copy of the matched value.
struct Match(Value);

impl JsonMatch for Match {
    fn json_type(&self) -> JsonType {
        match &self.0 {
            Value::Null => JsonType::Null,
            Value::Bool(_) => JsonType::Boolean,
            Value::Num(Num::F(_)) => JsonType::Number,
            Value::Num(_) => JsonType::Integer,
            Value::Str(_) => JsonType::String,
            Value::Arr(_) => JsonType::Array,
            Value::Obj(_) => JsonType::Object,
        }
    }

    fn as_bool(&self) -> ROption<bool> {
        match &self.0 {
            Value::Bool(b) => ROption::RSome(*b),
            _ => ROption::RNone,
        }
    }

    fn as_i64(&self) -> ROption<i64> {
        match &self.0 {
            Value::Num(Num::I(i)) => ROption::RSome(*i),
            _ => ROption::RNone,
        }
    }

    fn as_f64(&self) -> ROption<f64> {
        match &self.0 {
            Value::Num(n) => ROption::RSome(n.as_f64()),
            _ => ROption::RNone,
        }
    }

    fn as_str(&self) -> ROption<RStr<'_>> {
        match &self.0 {
            Value::Str(s) => ROption::RSome(RStr::from_str(s.as_str())),
            _ => ROption::RNone,
        }
    }

    fn len(&self) -> ROption<u64> {
        match &self.0 {
            Value::Str(s) => ROption::RSome(s.len() as u64),
            Value::Arr(a) => ROption::RSome(a.len() as u64),
            Value::Obj(o) => ROption::RSome(o.len() as u64),
            _ => ROption::RNone,
        }
    }

    fn to_json(&self) -> RString {
        // Writing a value cannot fail; a panic (a bug) gives an empty text rather than cross.
        guard(|| self.0.to_json()).map(RString::from).unwrap_or_default()
    }

    fn at(&self, index: u64) -> ROption<JsonMatchBox> {
        let Value::Arr(a) = &self.0 else { return ROption::RNone };
        let at = usize::try_from(index).ok().and_then(|i| a.get(i));
        guard(|| at.map(|v| json_match(Match(v.clone())))).ok().flatten().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        Value::parse(
            br#"{"s":"h\u00e9","i":-3,"big":18446744073709551615,"f":1.5,"t":true,"n":null,
                "a":[1,"x",[2]],"o":{"k":{"k":7}}}"#,
        )
        .unwrap()
    }

    fn get(p: &str) -> Vec<JsonMatchBox> {
        matches(&doc(), &Path::parse(p).unwrap()).into_vec()
    }

    fn one(p: &str) -> JsonMatchBox {
        let mut v = get(p);
        assert_eq!(v.len(), 1, "{p}");
        v.remove(0)
    }

    #[test]
    fn types_scalars_lengths_and_text() {
        let s = one("$.s");
        assert_eq!(s.json_type(), JsonType::String);
        assert_eq!(s.as_str().map(|s| s.to_string()), ROption::RSome("hé".to_string()));
        assert_eq!(s.len(), ROption::RSome(3));
        assert_eq!(s.to_json().as_str(), "\"hé\"");
        assert_eq!(s.as_i64(), ROption::RNone);
        let i = one("$.i");
        assert_eq!(
            (i.json_type(), i.as_i64(), i.as_f64()),
            (JsonType::Integer, ROption::RSome(-3), ROption::RSome(-3.0))
        );
        assert_eq!(i.len(), ROption::RNone);
        let big = one(".big");
        assert_eq!((big.json_type(), big.as_i64()), (JsonType::Integer, ROption::RNone));
        assert_eq!(big.as_f64(), ROption::RSome(18446744073709551615.0));
        let f = one("$.f");
        assert_eq!(
            (f.json_type(), f.as_f64(), f.as_i64()),
            (JsonType::Number, ROption::RSome(1.5), ROption::RNone)
        );
        let t = one("$.t");
        assert_eq!((t.json_type(), t.as_bool()), (JsonType::Boolean, ROption::RSome(true)));
        let n = one("$.n");
        assert_eq!(
            (n.json_type(), n.as_bool(), n.to_json().as_str()),
            (JsonType::Null, ROption::RNone, "null")
        );
        let a = one("$.a");
        assert_eq!((a.json_type(), a.len()), (JsonType::Array, ROption::RSome(3)));
        assert_eq!(a.to_json().as_str(), r#"[1,"x",[2]]"#);
        assert_eq!(a.at(1).map(|m| m.to_json().into_string()), ROption::RSome("\"x\"".into()));
        assert_eq!(a.at(2).map(|m| m.len()), ROption::RSome(ROption::RSome(1)));
        assert!(a.at(3).is_none() && s.at(0).is_none());
        let o = one("$.o");
        assert_eq!((o.json_type(), o.len()), (JsonType::Object, ROption::RSome(1)));
    }

    #[test]
    fn jsonpath_gives_every_match_legacy_the_first() {
        let all: Vec<String> = get("$..k").iter().map(|m| m.to_json().into_string()).collect();
        assert_eq!(all, [r#"{"k":7}"#, "7"]);
        let first: Vec<String> = get("..k").iter().map(|m| m.to_json().into_string()).collect();
        assert_eq!(first, [r#"{"k":7}"#]);
        assert!(get("$.nope").is_empty() && get(".nope").is_empty());
        assert_eq!(get("$.a[*]").len(), 3);
    }
}
