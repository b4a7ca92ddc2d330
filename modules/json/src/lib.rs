//! The JSON module: RedisJSON 2.8-compatible `JSON.*` commands, built only on Vireo's public
//! module API. `MODULE LIST` names it `ReJSON`, version 20803, as clients check.
//!
//! Load it with `loadmodule /path/to/libvireo_json.so`.
//!
//! The engine (`value`, `path`, `cmds`) knows nothing of the server; this file reads a key's
//! document through a [`Store`], runs the command, and writes the document back.
#![forbid(unsafe_code)]

pub mod api;
pub mod cmds;
pub mod compact;
pub mod events;
mod grammar;
pub mod path;
pub mod value;

use std::borrow::Cow;

use vireo_module_api::{
    notify_class, vireo_module, AofRewriter, Args, Command, CommandResult, Context, DataType,
    Error, InitContext, RdbReader, RdbWriter,
};

use cmds::{Reply, Write};
use path::Path;
use value::Value;

/// RedisJSON 2.8.3's module version, as MODULE LIST reports it.
pub const MODULE_VERSION: i32 = 20803;

/// Where documents live: the keyspace, as values of [`JsonDoc`]'s module type ([`TypeStore`]).
/// Each call answers the "wrong Redis type" error for a key holding something else.
pub trait Store: Send + Sync {
    /// A copy of the key's document (`None` when the key does not exist).
    fn read(&self, ctx: &mut Context, key: &[u8]) -> Result<Option<Value>, Error>;
    fn delete(&self, ctx: &mut Context, key: &[u8]) -> Result<(), Error>;
    /// Runs `f` on the key's document where it lies.
    fn with_doc(
        &self,
        ctx: &mut Context,
        key: &[u8],
        f: &mut dyn FnMut(Option<&Value>),
    ) -> Result<(), Error>;
    /// Runs `f` on the key's document in place, if the key exists (the key counts as changed).
    /// Whether the key existed.
    fn with_doc_mut(
        &self,
        ctx: &mut Context,
        key: &[u8],
        f: &mut dyn FnMut(&mut Value),
    ) -> Result<bool, Error>;
    /// Stores `doc` (moved, not copied) as the key's document.
    fn put(&self, ctx: &mut Context, key: &[u8], doc: Value) -> Result<(), Error>;
    /// A write command starts on the key: it counts as modified for WATCH and client-side
    /// caching even if the command then fails or changes nothing, as RedisJSON's writes, which
    /// open their keys for writing first.
    fn open_write(&self, ctx: &mut Context, key: &[u8]);
}

/// A document as the keyspace holds it: a value of the module type `ReJSON-RL` (RedisJSON's
/// type name and encoding version). RDB and DUMP carry the compact JSON text as one string, as
/// RedisJSON 2.x writes it for encoding versions 2 and 3 (read from Redis Stack 7.4.1's files:
/// the value is one RDB module string, then the module EOF), so files and DUMP payloads move
/// both ways; an AOF rewrite emits `JSON.SET key $ <json>`.
#[derive(Clone)]
pub struct JsonDoc(pub Value);

impl DataType for JsonDoc {
    const NAME: &'static str = "ReJSON-RL";
    const ENCVER: u32 = 3;

    fn rdb_save(&self, w: &mut RdbWriter) {
        w.save_bytes(self.0.to_json());
    }

    fn rdb_load(r: &mut RdbReader, encver: u32) -> Result<Self, Error> {
        if encver < 2 {
            // ReJSON 1.x's node-by-node encoding.
            return Err(Error::err(format!(
                "ReJSON-RL encoding version {encver} (ReJSON 1.x) is not supported"
            )));
        }
        Value::parse_stored(r.load_bytes()?).map(JsonDoc).map_err(raw_error)
    }

    fn aof_rewrite(&self, key: &[u8], out: &mut AofRewriter) {
        out.emit(&[b"JSON.SET".as_slice(), key, b"$", self.0.to_json().as_bytes()]);
    }

    /// The document's real size: its boxed root (the server holds a `JsonDoc` in a box of its
    /// own) and what the root owns.
    fn mem_usage(&self) -> usize {
        compact::alloc_size(std::mem::size_of::<JsonDoc>()) + cmds::memory(&self.0).max(0) as usize
    }
}

/// Documents as values of [`JsonDoc`]'s module type.
pub struct TypeStore;

pub const WRONG_TYPE: &str = "Existing key has wrong Redis type";

fn raw_error(msg: impl Into<String>) -> Error {
    Error(Cow::Owned(msg.into()))
}

/// RedisJSON's words for a key of another type.
fn type_error(e: Error) -> Error {
    if e.0.starts_with("WRONGTYPE") {
        raw_error(WRONG_TYPE)
    } else {
        e
    }
}

impl Store for TypeStore {
    fn read(&self, ctx: &mut Context, key: &[u8]) -> Result<Option<Value>, Error> {
        Ok(ctx.get_value::<JsonDoc>(key).map_err(type_error)?.map(|d| d.0.clone()))
    }

    fn with_doc(
        &self,
        ctx: &mut Context,
        key: &[u8],
        f: &mut dyn FnMut(Option<&Value>),
    ) -> Result<(), Error> {
        f(ctx.get_value::<JsonDoc>(key).map_err(type_error)?.map(|d| &d.0));
        Ok(())
    }

    fn with_doc_mut(
        &self,
        ctx: &mut Context,
        key: &[u8],
        f: &mut dyn FnMut(&mut Value),
    ) -> Result<bool, Error> {
        match ctx.get_value_mut::<JsonDoc>(key).map_err(type_error)? {
            Some(d) => {
                f(&mut d.0);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn put(&self, ctx: &mut Context, key: &[u8], doc: Value) -> Result<(), Error> {
        // In place when the document exists, so that the key keeps its TTL (as RedisJSON's
        // updates do); a new key otherwise.
        if let Some(d) = ctx.get_value_mut::<JsonDoc>(key).map_err(type_error)? {
            d.0 = doc;
            return Ok(());
        }
        ctx.set_value(key, JsonDoc(doc)).map_err(type_error)
    }

    fn delete(&self, ctx: &mut Context, key: &[u8]) -> Result<(), Error> {
        ctx.open_key_writable(key).remove().map(|_| ())
    }

    fn open_write(&self, ctx: &mut Context, key: &[u8]) {
        ctx.open_key_writable(key);
    }
}

fn emit(ctx: &mut Context, r: &Reply) {
    match r {
        Reply::Ok => ctx.reply_ok(),
        Reply::Null => ctx.reply_null(),
        Reply::Int(i) => ctx.reply_int(*i),
        Reply::Bulk(s) => ctx.reply_bulk(s.as_bytes()),
        Reply::Simple(s) => ctx.reply_simple(s),
        Reply::Double(d) => {
            if ctx.is_resp3() {
                ctx.reply_double(*d)
            } else {
                ctx.reply_bulk(value::format_double(*d).as_bytes())
            }
        }
        Reply::Arr(a) => {
            ctx.reply_array(a.len());
            for x in a {
                emit(ctx, x);
            }
        }
        // (Written as an error by the caller; never inside another reply.)
        Reply::Failed(e) => ctx.reply_error(e),
    }
}

fn lower_name(args: &Args) -> String {
    String::from_utf8_lossy(args.name()).to_ascii_lowercase()
}

fn all_args<'a>(args: &'a Args) -> Vec<&'a [u8]> {
    args.iter().collect()
}

/// A command on one key (argument 1), `min` arguments at least, the name included.
///
/// Commands that only read work on the stored document itself; JSON.SET of the root parses
/// and stores the new document without reading the old; other writes work on a copy (an error
/// leaves the stored document as it was) that replaces the stored one when the command writes.
fn single_key(store: &dyn Store, ctx: &mut Context, args: &Args, min: usize) -> CommandResult {
    let name = lower_name(args);
    let argv = all_args(args);
    if argv.len() < min {
        return Err(Error::wrong_arity(&name));
    }
    let key = argv[1];
    if cmds::is_read(&name) {
        let resp3 = ctx.is_resp3();
        let mut out = None;
        store
            .with_doc(ctx, key, &mut |doc| out = cmds::run_read(&name, doc, &argv[2..], resp3))
            .map_err(other_type(&name, &argv))?;
        if let Some(r) = out {
            emit(ctx, &r.map_err(raw_error)?.0);
            return Ok(());
        }
    }
    let r = write_one(store, ctx, &name, &argv);
    // RedisJSON opens the key for writing once the arguments it reads before the key are good:
    // from then on the key counts as modified, even if the command fails or changes nothing.
    let args_ok = r.is_ok() || cmds::check_args_before_key(&name, &argv[2..]).is_ok();
    if args_ok {
        store.open_write(ctx, key);
    }
    // But it replicates (and counts) only what changed the document. An error leaves it as it
    // was, except one at a later match of a JSONPath (see `write_one`): that propagates.
    if matches!(r, Ok(Write::None) | Err(Failure { changed: false, .. })) {
        ctx.mark_unchanged();
    }
    r.map(drop).map_err(|f| f.error)
}

/// A write command's error, and whether it changed the document before it failed.
struct Failure {
    error: Error,
    changed: bool,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure { error, changed: false }
    }
}

/// A key of another type answers the error of an argument read before the key, if one is bad.
fn other_type<'a>(name: &'a str, argv: &'a [&[u8]]) -> impl Fn(Error) -> Error + 'a {
    move |e| match cmds::check_args_before_key(name, &argv[2..]) {
        Err(m) if e.0 == WRONG_TYPE => raw_error(m),
        _ => e,
    }
}

/// The writes of [`single_key`].
fn write_one(store: &dyn Store, ctx: &mut Context, name: &str, argv: &[&[u8]]) -> WriteResult {
    let key = argv[1];
    let resp3 = ctx.is_resp3();
    let other_type = other_type(name, argv);
    if name == "json.set" {
        if let Some(parsed) = cmds::set_root_args(&argv[2..]) {
            // A parsed value is within the depth limit (parsing stops at 128 levels). The usual
            // JSON.SET goes straight to `put`, which looks the key up once and refuses another
            // type; NX, XX and a bad value look first, without writing, so that the key's type
            // is checked before the value, as RedisJSON does (WRONGTYPE first).
            let parsed = match parsed {
                Ok((value, cmds::Cond::Always)) => {
                    store.put(ctx, key, value)?;
                    return written(ctx, name, key, Reply::Ok, Write::Update);
                }
                other => other,
            };
            let mut exists = false;
            store.with_doc(ctx, key, &mut |doc| exists = doc.is_some()).map_err(other_type)?;
            let (value, cond) = parsed.map_err(raw_error)?;
            let skip = matches!((exists, cond), (true, cmds::Cond::Nx) | (false, cmds::Cond::Xx));
            if skip {
                return written(ctx, name, key, Reply::Null, Write::None);
            }
            store.put(ctx, key, value)?;
            return written(ctx, name, key, Reply::Ok, Write::Update);
        }
    }
    // Writes change the stored document where it lies, as RedisJSON's do (no copy of a large
    // document per write): a command fails before it changes anything, except an error at a
    // later match of a JSONPath (ARRINSERT out of range, NUMINCRBY overflowing), which leaves
    // the earlier matches changed, as RedisJSON does.
    let mut outcome = None;
    let existed = store
        .with_doc_mut(ctx, key, &mut |stored| {
            let mut doc = Some(std::mem::replace(stored, Value::Null));
            outcome = Some(cmds::run(name, &mut doc, &argv[2..], resp3));
            *stored = doc.unwrap_or(Value::Null);
        })
        .map_err(other_type)?;
    let (reply, write) = match outcome {
        Some(r) if existed => r.map_err(raw_error)?,
        _ => {
            let mut doc = None;
            let r = cmds::run(name, &mut doc, &argv[2..], resp3).map_err(raw_error)?;
            if let (Write::Update, Some(d)) = (r.1, doc) {
                store.put(ctx, key, d)?;
            }
            r
        }
    };
    if let Reply::Failed(e) = reply {
        return Err(Failure { error: raw_error(e), changed: true });
    }
    if write == Write::Delete {
        store.delete(ctx, key)?;
        // The command itself goes to replicas and the AOF, as RedisJSON's does, not the DEL.
        ctx.replicate_verbatim();
    }
    written(ctx, name, key, reply, write)
}

/// After write command `name` on `key`: its keyspace event, if it raises one, then its reply.
fn written(ctx: &mut Context, name: &str, key: &[u8], reply: Reply, write: Write) -> WriteResult {
    if let Some(ev) = events::event(name, write, &reply) {
        ctx.notify_keyspace_event(notify_class::MODULE, ev, key);
    }
    emit(ctx, &reply);
    Ok(write)
}

/// What a write command did to its document, or its error.
type WriteResult = Result<Write, Failure>;

/// JSON.MGET key [key ...] path
fn mget(store: &dyn Store, ctx: &mut Context, args: &Args) -> CommandResult {
    let argv = all_args(args);
    if argv.len() < 3 {
        return Err(Error::wrong_arity("json.mget"));
    }
    // A path that does not parse reads as missing, as does a key of another type; every key is
    // read all the same, as RedisJSON reads them (a missing one is a keymiss).
    let path = Path::parse(&String::from_utf8_lossy(argv[argv.len() - 1])).ok();
    let mut out = Vec::new();
    for key in &argv[1..argv.len() - 1] {
        let mut r = Reply::Null;
        let _ = store.with_doc(ctx, key, &mut |doc| {
            if let Some(path) = &path {
                r = cmds::mget_one(doc, path);
            }
        });
        out.push(r);
    }
    emit(ctx, &Reply::Arr(out));
    Ok(())
}

/// JSON.MSET key path value [key path value ...]: as RedisJSON, every triple is checked
/// against the documents as they were before the command (a missing key takes only the root,
/// even after an earlier triple created it; where a path writes is found then), and only then
/// are the triples carried out, in order.
fn mset(store: &dyn Store, ctx: &mut Context, args: &Args) -> CommandResult {
    let argv = all_args(args);
    if argv.len() < 4 || !(argv.len() - 1).is_multiple_of(3) {
        return Err(Error::wrong_arity("json.mset"));
    }
    /// What a triple does.
    enum Action {
        Root(Value),
        At(cmds::SetPlan, Value),
        Nothing,
    }
    let triples: Vec<&[&[u8]]> = argv[1..].chunks(3).collect();
    // Each key's document, read once.
    let mut docs: Vec<(&[u8], Option<Value>)> = Vec::new();
    let mut actions = Vec::new();
    for (i, t) in triples.iter().enumerate() {
        let mut check = || {
            let at = match docs.iter().position(|(k, _)| *k == t[0]) {
                Some(i) => i,
                None => {
                    docs.push((t[0], store.read(ctx, t[0])?));
                    docs.len() - 1
                }
            };
            let action = match &docs[at].1 {
                // The root replaces the document; the path and where it writes come before
                // the value (RedisJSON's order).
                _ if path::is_root(t[1]) => Action::Root(Value::parse(t[2]).map_err(raw_error)?),
                Some(doc) => {
                    let path = Path::parse(&String::from_utf8_lossy(t[1])).map_err(raw_error)?;
                    let plan = cmds::plan_set(doc, &path, cmds::Cond::Always).map_err(raw_error)?;
                    let value = Value::parse(t[2]).map_err(raw_error)?;
                    plan.map_or(Action::Nothing, |p| Action::At(p, value))
                }
                None => return Err(raw_error(cmds::NEW_AT_ROOT)),
            };
            Ok((at, action))
        };
        match check() {
            Ok(a) => actions.push(a),
            Err(e) => {
                // RedisJSON opened each key up to this one for writing; they count as modified
                // in the order it lets go of them: this one, then the earlier ones.
                store.open_write(ctx, t[0]);
                for t in &triples[..i] {
                    store.open_write(ctx, t[0]);
                }
                return Err(e);
            }
        }
    }
    for t in &triples {
        store.open_write(ctx, t[0]);
    }
    // The keys of the triples that wrote, in order, for their events.
    let mut wrote: Vec<&[u8]> = Vec::new();
    for (at, action) in actions {
        let (key, doc) = &mut docs[at];
        match (action, doc) {
            (Action::Root(v), doc) => *doc = Some(v),
            (Action::At(plan, v), Some(root)) => {
                if cmds::apply_set(root, plan, v).map_err(raw_error)?.1 == Write::None {
                    continue;
                }
            }
            _ => continue,
        }
        wrote.push(key);
    }
    // Only documents a triple changed are stored back: the others are not written (nor
    // counted as changes).
    for (key, doc) in docs {
        if let (Some(d), true) = (doc, wrote.contains(&key)) {
            store.put(ctx, key, d)?;
        }
    }
    for key in wrote {
        ctx.notify_keyspace_event(notify_class::MODULE, events::MSET, key);
    }
    // Replicated whole, even when no triple changed anything, as RedisJSON does.
    ctx.replicate_verbatim();
    ctx.reply_ok();
    Ok(())
}

/// JSON.DEBUG MEMORY key [path] | HELP
fn debug(store: &dyn Store, ctx: &mut Context, args: &Args) -> CommandResult {
    let argv = all_args(args);
    if argv.len() < 2 {
        return Err(Error::wrong_arity("json.debug"));
    }
    if argv[1].eq_ignore_ascii_case(b"HELP") {
        emit(ctx, &cmds::debug_help());
        return Ok(());
    }
    if !argv[1].eq_ignore_ascii_case(b"MEMORY") {
        return Err(raw_error("ERR unknown subcommand - try `JSON.DEBUG HELP`"));
    }
    if argv.len() < 3 || argv.len() > 4 {
        return Err(Error::wrong_arity("json.debug"));
    }
    let raw = argv.get(3).copied().unwrap_or(b".");
    let mut r = Ok(Reply::Null);
    store.with_doc(ctx, argv[2], &mut |doc| r = cmds::debug_memory(doc, raw))?;
    emit(ctx, &r.map_err(raw_error)?);
    Ok(())
}

/// Commands on one key at argument 1: name, minimum arguments (name included), flags.
const SINGLE: &[(&str, usize, &str)] = &[
    ("json.set", 4, "write deny-oom"),
    ("json.get", 2, "readonly"),
    ("json.merge", 4, "write deny-oom"),
    ("json.del", 2, "write"),
    ("json.forget", 2, "write"),
    ("json.type", 2, "readonly"),
    ("json.numincrby", 4, "write"),
    ("json.nummultby", 4, "write"),
    ("json.numpowby", 4, "write"),
    ("json.strappend", 3, "write deny-oom"),
    ("json.strlen", 2, "readonly"),
    ("json.arrappend", 4, "write deny-oom"),
    ("json.arrindex", 4, "readonly"),
    ("json.arrinsert", 5, "write deny-oom"),
    ("json.arrlen", 2, "readonly"),
    ("json.arrpop", 2, "write"),
    ("json.arrtrim", 5, "write"),
    ("json.objkeys", 2, "readonly"),
    ("json.objlen", 2, "readonly"),
    ("json.clear", 2, "write"),
    ("json.toggle", 3, "write deny-oom"),
    ("json.resp", 2, "readonly"),
];

/// The names of every command the module registers (lower case).
pub fn command_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = SINGLE.iter().map(|c| c.0).collect();
    v.extend(["json.mget", "json.mset", "json.debug"]);
    v
}

/// Registers every command on `store`.
pub fn register_all(ctx: &mut InitContext, store: std::sync::Arc<dyn Store>) -> Result<(), Error> {
    for &(name, min, flags) in SINGLE {
        let s = store.clone();
        ctx.register(
            Command::new(name, move |c: &mut Context, a: &Args| single_key(&*s, c, a, min))
                .arity(-1)
                .flags(flags)
                .keys(1, 1, 1),
        )?;
    }
    let s = store.clone();
    ctx.register(
        Command::new("json.mget", move |c: &mut Context, a: &Args| mget(&*s, c, a))
            .arity(-1)
            .flags("readonly")
            .keys(1, 1, 1),
    )?;
    let s = store.clone();
    ctx.register(
        Command::new("json.mset", move |c: &mut Context, a: &Args| mset(&*s, c, a))
            .arity(-1)
            .flags("write deny-oom")
            .keys(1, -1, 3),
    )?;
    let s = store;
    ctx.register(
        Command::new("json.debug", move |c: &mut Context, a: &Args| debug(&*s, c, a))
            .arity(-1)
            .flags("readonly")
            .keys(2, 2, 1),
    )?;
    Ok(())
}

fn init(ctx: &mut InitContext, _args: &[String]) -> Result<(), Error> {
    ctx.register_type::<JsonDoc>()?;
    register_all(ctx, std::sync::Arc::new(TypeStore))?;
    // The shared API other modules (a search module) read documents through.
    api::export(ctx)
}

vireo_module! {
    name: "ReJSON",
    version: MODULE_VERSION,
    init: init,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use vireo_module_api::testing::TestModule;
    use vireo_module_api::Reply as R;

    /// The module over a fake keyspace that answers GET/SET/DEL as a server would.
    fn module() -> TestModule {
        let mut m = TestModule::load("ReJSON", init, &[]).unwrap();
        let kv: Arc<Mutex<HashMap<Vec<u8>, Vec<u8>>>> = Default::default();
        m.on_call(move |argv| {
            let mut kv = kv.lock().unwrap();
            match argv[0].as_slice() {
                b"GET" => kv.get(&argv[1]).cloned().map_or(R::Null, R::Bulk),
                b"SET" => {
                    kv.insert(argv[1].clone(), argv[2].clone());
                    R::ok()
                }
                b"DEL" => R::Int(kv.remove(&argv[1]).is_some() as i64),
                _ => R::error("ERR unknown command"),
            }
        });
        m
    }

    #[test]
    fn commands_through_the_store() {
        let mut m = module();
        assert_eq!(m.run(&["JSON.SET", "k", "$", r#"{"a":[1,2],"s":"x"}"#]), R::ok());
        assert_eq!(m.run(&["JSON.GET", "k", "$.a[*]"]), R::bulk("[1,2]"));
        assert_eq!(m.run(&["JSON.ARRAPPEND", "k", ".a", "3"]), R::Int(3));
        assert_eq!(m.run(&["JSON.GET", "k"]), R::bulk(r#"{"a":[1,2,3],"s":"x"}"#));
        assert_eq!(m.run(&["JSON.DEL", "k", "$"]), R::Int(1));
        assert_eq!(m.run(&["JSON.GET", "k"]), R::Null);
        assert_eq!(
            m.run(&["JSON.SET", "k", "$", "{"]),
            R::error("EOF while parsing an object at line 1 column 1")
        );
        assert_eq!(
            m.run(&["JSON.GET"]),
            R::error("ERR wrong number of arguments for 'json.get' command")
        );
        assert_eq!(m.run(&["JSON.MSET", "a", "$", "1", "b", "$", "[2]"]), R::ok());
        assert_eq!(
            m.run(&["JSON.MGET", "a", "b", "c", "$"]),
            R::array([R::bulk("[1]"), R::bulk("[[2]]"), R::Null])
        );
    }

    #[test]
    fn resp3_shapes() {
        let mut m = module();
        m.set_resp(3);
        assert_eq!(m.run(&["JSON.SET", "k", "$", r#"{"n":1.5}"#]), R::ok());
        assert_eq!(m.run(&["JSON.TYPE", "k", ".n"]), R::array([R::bulk("number")]));
        assert_eq!(m.run(&["JSON.NUMINCRBY", "k", ".n", "1"]), R::array([R::Double(2.5)]));
    }
}
