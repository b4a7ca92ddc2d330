//! A module that reads JSON documents through the JSON module's shared API (`vireo-json-api`,
//! exported by `modules/json` as `json`): a stand-in for a search module, which indexes the
//! fields of JSON documents the same way.
//!
//! - `JSONREADER.ISJSON key`: 1 if the key holds a JSON document, else 0.
//! - `JSONREADER.GET key path`: each match of the path as `[type, value]`: the value is null,
//!   a boolean, an integer, a double or a string for a scalar, the JSON text for an array or an
//!   object; a null reply when the key does not exist.
//! - `JSONREADER.LEN key path`: each match's length (array, object, string), or null.
//! - `JSONREADER.TEXT key path`: each match's JSON text.
//! - `JSONREADER.AT key path index`: each match's element `index` as JSON text (null when the
//!   match is not an array or is shorter).
//! - `JSONREADER.PROBE key`: what this module may NOT do with a JSON document on its own:
//!   read it through its own code, modify it, replace it; replies the three refusals (the
//!   server's rule for shared reads, see `docs/modules.md`). It does not import the API
//!   itself, so before the import even the server's read is refused.
//!
//! The API is imported in `init` when the JSON module is already loaded, else at the first
//! command that needs it; once imported, the JSON module cannot be unloaded while this one is.
#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex};

use vireo_json_api::{JsonApiExt, JsonApiRef, JsonMatchBox, JsonType, NAME, VERSION};
use vireo_module_api::*;

/// The imported API, once imported.
type Slot = Arc<Mutex<Option<Shared<JsonApiRef>>>>;

fn api(ctx: &mut Context, slot: &Slot) -> Result<Shared<JsonApiRef>, Error> {
    let mut s = slot.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(a) = s.as_ref() {
        return Ok(a.clone());
    }
    let a = ctx.import_api::<JsonApiRef>(NAME, VERSION)?;
    *s = Some(a.clone());
    Ok(a)
}

/// The matches of `path` (argument 2) on `key` (argument 1), or the null reply written when
/// the key does not exist.
fn matches(
    ctx: &mut Context,
    args: &Args,
    slot: &Slot,
) -> Result<Option<Vec<JsonMatchBox>>, Error> {
    let (key, path) = (args.bytes(1)?, args.str(2)?);
    let json = api(ctx, slot)?;
    let found = json.matches(ctx, key, path)?;
    if found.is_none() {
        ctx.reply_null();
    }
    Ok(found)
}

fn reply_value(ctx: &mut Context, m: &JsonMatchBox) {
    match m.json_type() {
        JsonType::Null => ctx.reply_null(),
        JsonType::Boolean => ctx.reply_bool(m.as_bool().unwrap_or(false)),
        JsonType::Integer => match m.as_i64().into_option() {
            Some(i) => ctx.reply_int(i),
            // Above i64::MAX.
            None => ctx.reply_double(m.as_f64().unwrap_or(0.0)),
        },
        JsonType::Number => ctx.reply_double(m.as_f64().unwrap_or(0.0)),
        JsonType::String => ctx.reply_bulk(m.as_str().map(|s| s.as_str()).unwrap_or("")),
        JsonType::Array | JsonType::Object => ctx.reply_bulk(m.to_json().as_str()),
    }
}

/// JSONREADER.GET key path
fn get(ctx: &mut Context, args: &Args, slot: &Slot) -> CommandResult {
    let Some(found) = matches(ctx, args, slot)? else { return Ok(()) };
    ctx.reply_array(found.len());
    for m in &found {
        ctx.reply_array(2);
        ctx.reply_bulk(m.json_type().name());
        reply_value(ctx, m);
    }
    Ok(())
}

/// JSONREADER.LEN key path
fn len(ctx: &mut Context, args: &Args, slot: &Slot) -> CommandResult {
    let Some(found) = matches(ctx, args, slot)? else { return Ok(()) };
    ctx.reply_array(found.len());
    for m in &found {
        match m.len().into_option() {
            Some(n) => ctx.reply_int(n as i64),
            None => ctx.reply_null(),
        }
    }
    Ok(())
}

/// JSONREADER.TEXT key path
fn text(ctx: &mut Context, args: &Args, slot: &Slot) -> CommandResult {
    let Some(found) = matches(ctx, args, slot)? else { return Ok(()) };
    ctx.reply_array(found.len());
    for m in &found {
        ctx.reply_bulk(m.to_json().as_str());
    }
    Ok(())
}

/// JSONREADER.AT key path index
fn at(ctx: &mut Context, args: &Args, slot: &Slot) -> CommandResult {
    let index = args.i64(3)?;
    let Some(found) = matches(ctx, args, slot)? else { return Ok(()) };
    ctx.reply_array(found.len());
    for m in &found {
        let el = u64::try_from(index).ok().and_then(|i| m.at(i).into_option());
        match el {
            Some(e) => ctx.reply_bulk(e.to_json().as_str()),
            None => ctx.reply_null(),
        }
    }
    Ok(())
}

/// A type of this module that claims the JSON module's type name: what `PROBE` tries to reach
/// documents with. It is never registered (the name is the JSON module's).
#[derive(Clone)]
struct Impostor;

impl DataType for Impostor {
    const NAME: &'static str = "ReJSON-RL";
    const ENCVER: u32 = 3;
    fn rdb_save(&self, _w: &mut RdbWriter) {}
    fn rdb_load(_r: &mut RdbReader, _encver: u32) -> Result<Self, Error> {
        Ok(Impostor)
    }
    fn aof_rewrite(&self, _key: &[u8], _out: &mut AofRewriter) {}
}

/// JSONREADER.PROBE key
fn probe(ctx: &mut Context, args: &Args, slot: &Slot) -> CommandResult {
    let key = args.bytes(1)?;
    // PROBE imports nothing itself: before any other command imported the API, even the read
    // is refused.
    let _ = slot;
    let outcome = |r: Result<bool, Error>| match r {
        Ok(found) => format!("allowed (found: {found})"),
        Err(e) => e.0.into_owned(),
    };
    let read = outcome(ctx.get_value::<Impostor>(key).map(|v| v.is_some()));
    let modify = outcome(ctx.get_value_mut::<Impostor>(key).map(|v| v.is_some()));
    let replace = outcome(ctx.set_value(key, Impostor).map(|()| true));
    ctx.reply_array(3);
    for o in [read, modify, replace] {
        ctx.reply_bulk(o);
    }
    Ok(())
}

fn init(ctx: &mut InitContext, _args: &[String]) -> Result<(), Error> {
    let slot: Slot = Arc::default();
    // Imported at once when the JSON module is already loaded, else at first use.
    if let Ok(a) = ctx.import_api::<JsonApiRef>(NAME, VERSION) {
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(a);
    }
    type Handler = fn(&mut Context, &Args, &Slot) -> CommandResult;
    let commands: [(&str, i32, &str, Handler); 5] = [
        ("jsonreader.get", 3, "Each match of a path: type and value", get),
        ("jsonreader.len", 3, "Each match's length", len),
        ("jsonreader.text", 3, "Each match's JSON text", text),
        ("jsonreader.at", 4, "An element of each match", at),
        ("jsonreader.probe", 2, "What this module may not do with a document", probe),
    ];
    for (name, arity, summary, f) in commands {
        let s = slot.clone();
        ctx.register(
            Command::new(name, move |ctx: &mut Context, args: &Args| f(ctx, args, &s))
                .arity(arity)
                .flags("readonly")
                .keys(1, 1, 1)
                .summary(summary),
        )?;
    }
    ctx.register(
        Command::new("jsonreader.isjson", move |ctx: &mut Context, args: &Args| {
            let key = args.bytes(1)?;
            let json = api(ctx, &slot)?;
            let is = json.is_json_key(ctx, key)?;
            ctx.reply_int(is.into());
            Ok(())
        })
        .arity(2)
        .flags("readonly fast")
        .keys(1, 1, 1)
        .summary("Whether a key holds a JSON document"),
    )
}

vireo_module! { name: "jsonreader", version: 1, init: init }

#[cfg(test)]
mod tests {
    use super::*;
    use vireo_json_api::{
        json_api, json_match, HostCtx_TO, JsonApi, JsonMatch, RMut, ROption, RResult, RSlice, RStr,
        RString, RVec,
    };
    use vireo_module_api::testing::TestModule;

    /// A scalar or a list of scalars.
    #[derive(Clone)]
    enum Fake {
        Int(i64),
        Str(&'static str),
        List(Vec<Fake>),
    }

    impl JsonMatch for Fake {
        fn json_type(&self) -> JsonType {
            match self {
                Fake::Int(_) => JsonType::Integer,
                Fake::Str(_) => JsonType::String,
                Fake::List(_) => JsonType::Array,
            }
        }
        fn as_bool(&self) -> ROption<bool> {
            ROption::RNone
        }
        fn as_i64(&self) -> ROption<i64> {
            match self {
                Fake::Int(i) => ROption::RSome(*i),
                _ => ROption::RNone,
            }
        }
        fn as_f64(&self) -> ROption<f64> {
            self.as_i64().map(|i| i as f64)
        }
        fn as_str(&self) -> ROption<RStr<'_>> {
            match self {
                Fake::Str(s) => ROption::RSome(RStr::from_str(s)),
                _ => ROption::RNone,
            }
        }
        fn len(&self) -> ROption<u64> {
            match self {
                Fake::Str(s) => ROption::RSome(s.len() as u64),
                Fake::List(l) => ROption::RSome(l.len() as u64),
                Fake::Int(_) => ROption::RNone,
            }
        }
        fn to_json(&self) -> RString {
            match self {
                Fake::Int(i) => i.to_string().into(),
                Fake::Str(s) => format!("\"{s}\"").into(),
                Fake::List(l) => {
                    let items: Vec<String> = l.iter().map(|x| x.to_json().into_string()).collect();
                    format!("[{}]", items.join(",")).into()
                }
            }
        }
        fn at(&self, index: u64) -> ROption<JsonMatchBox> {
            match self {
                Fake::List(l) => l.get(index as usize).cloned().map(json_match).into(),
                _ => ROption::RNone,
            }
        }
    }

    /// Key `doc` holds `{"n":5,"tags":["a","b"]}`; `$.n`, `$.tags`, `$.*` are the paths it
    /// knows; `other` is of another type.
    struct FakeApi;

    impl JsonApi for FakeApi {
        fn is_json(
            &self,
            _ctx: HostCtx_TO<'_, RMut<'_, ()>>,
            key: RSlice<'_, u8>,
        ) -> RResult<bool, RString> {
            RResult::ROk(key.as_slice() == b"doc")
        }
        fn get(
            &self,
            _ctx: HostCtx_TO<'_, RMut<'_, ()>>,
            key: RSlice<'_, u8>,
            path: RStr<'_>,
        ) -> RResult<ROption<RVec<JsonMatchBox>>, RString> {
            match key.as_slice() {
                b"doc" => {}
                b"other" => return RResult::RErr(Error::WRONG_TYPE.0.into_owned().into()),
                _ => return RResult::ROk(ROption::RNone),
            }
            let tags = Fake::List(vec![Fake::Str("a"), Fake::Str("b")]);
            let found = match path.as_str() {
                "$.n" => vec![Fake::Int(5)],
                "$.tags" => vec![tags],
                "$.*" => vec![Fake::Int(5), tags],
                _ => return RResult::RErr("bad path".into()),
            };
            RResult::ROk(ROption::RSome(found.into_iter().map(json_match).collect()))
        }
    }

    #[test]
    fn reads_through_the_imported_api() {
        let mut m = TestModule::load("jsonreader", init, &[]).unwrap();
        assert_eq!(
            m.run(&["jsonreader.get", "doc", "$.n"]),
            Reply::error("ERR no shared API named 'json'")
        );
        m.provide_api(NAME, TestModule::shared_api(VERSION, json_api(FakeApi)));
        assert_eq!(m.run(&["jsonreader.isjson", "doc"]), Reply::Int(1));
        assert_eq!(m.run(&["jsonreader.isjson", "nokey"]), Reply::Int(0));
        assert_eq!(
            m.run(&["jsonreader.get", "doc", "$.*"]),
            Reply::array([
                Reply::array([Reply::bulk("integer"), Reply::Int(5)]),
                Reply::array([Reply::bulk("array"), Reply::bulk(r#"["a","b"]"#)]),
            ])
        );
        assert_eq!(
            m.run(&["jsonreader.len", "doc", "$.*"]),
            Reply::array([Reply::Null, Reply::Int(2)])
        );
        assert_eq!(m.run(&["jsonreader.text", "doc", "$.n"]), Reply::array([Reply::bulk("5")]));
        assert_eq!(
            m.run(&["jsonreader.at", "doc", "$.*", "1"]),
            Reply::array([Reply::Null, Reply::bulk("\"b\"")])
        );
        assert_eq!(m.run(&["jsonreader.get", "nokey", "$"]), Reply::Null);
        assert_eq!(
            m.run(&["jsonreader.get", "other", "$"]),
            Reply::Error(Error::WRONG_TYPE.0.into())
        );
        assert_eq!(m.run(&["jsonreader.get", "doc", "$["]), Reply::error("bad path"));
    }
}
