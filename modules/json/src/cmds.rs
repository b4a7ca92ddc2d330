//! Every JSON.* command as a pure function of a document (or none, for a missing key) and its
//! arguments: the reply, with RedisJSON 2.8's shapes on RESP2 and RESP3 and its error messages,
//! and whether the key must be written back or deleted. Nothing here knows about the server.

use crate::compact::thin_bytes;
use crate::path::{self, get, get_mut, Loc, Path, Step};
use crate::value::{Arr, Format, Num, Value, MAX_DEPTH};

/// A reply, as the module writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Ok,
    Null,
    Int(i64),
    Bulk(String),
    Simple(String),
    /// A double: `,` on RESP3; on RESP2 a bulk string as Redis Stack formats it.
    Double(f64),
    Arr(Vec<Reply>),
    /// The command failed after it changed the document (an error at a later match of a
    /// JSONPath, earlier ones changed, as RedisJSON leaves them): an error reply, and a write.
    Failed(String),
}

/// What to do with the key after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    None,
    Update,
    Delete,
}

pub type Outcome = Result<(Reply, Write), String>;

pub const NO_KEY: &str = "ERR could not perform this operation on a key that doesn't exist";
pub const NEW_AT_ROOT: &str = "ERR new objects must be created at the root";

fn read(r: Reply) -> Outcome {
    Ok((r, Write::None))
}

fn arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

fn utf8(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn parse_path(b: &[u8]) -> Result<Path, String> {
    Path::parse(&utf8(b))
}

fn parse_int(b: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "Couldn't parse as integer".to_string())
}

fn nulls_or(v: Vec<Option<Reply>>) -> Reply {
    Reply::Arr(v.into_iter().map(|r| r.unwrap_or(Reply::Null)).collect())
}

/// A value as JSON.RESP gives it: arrays as `[` then the elements, objects as `{` then keys
/// and values, `true`/`false` as simple strings, floats as doubles.
pub fn resp_of(v: &Value) -> Reply {
    match v {
        Value::Null => Reply::Null,
        Value::Bool(b) => Reply::Simple(if *b { "true" } else { "false" }.into()),
        Value::Num(Num::I(i)) => Reply::Int(*i),
        Value::Num(n) => Reply::Double(n.as_f64()),
        Value::Str(s) => Reply::Bulk(s.to_string()),
        Value::Arr(a) => {
            let mut out = vec![Reply::Simple("[".into())];
            out.extend(a.iter().map(resp_of));
            Reply::Arr(out)
        }
        Value::Obj(o) => {
            let mut out = vec![Reply::Simple("{".into())];
            for (k, v) in o {
                out.push(Reply::Bulk(k.to_string()));
                out.push(resp_of(v));
            }
            Reply::Arr(out)
        }
    }
}

/// Runs a single-key command: `name` in lower case, `args` after the key. On an error the
/// document may have been changed halfway: callers work on a copy, or discard it.
pub fn run(name: &str, doc: &mut Option<Value>, args: &[&[u8]], resp3: bool) -> Outcome {
    if let Some(r) = run_read(name, doc.as_ref(), args, resp3) {
        return r;
    }
    match name {
        "json.set" => set(doc, args),
        "json.del" | "json.forget" => del(doc, args),
        "json.numincrby" | "json.nummultby" | "json.numpowby" => num_op(name, doc, args, resp3),
        "json.strappend" => strappend(doc, args),
        "json.arrappend" => arrappend(doc, args),
        "json.arrinsert" => arrinsert(doc, args),
        "json.arrpop" => arrpop(doc, args),
        "json.arrtrim" => arrtrim(doc, args),
        "json.clear" => clear(doc, args),
        "json.toggle" => toggle(doc, args),
        "json.merge" => merge(doc, args),
        _ => Err(format!("ERR unknown command '{name}'")),
    }
}

/// Whether `name` (lower case) only reads its document.
pub fn is_read(name: &str) -> bool {
    matches!(
        name,
        "json.get"
            | "json.type"
            | "json.strlen"
            | "json.arrindex"
            | "json.arrlen"
            | "json.objkeys"
            | "json.objlen"
            | "json.resp"
    )
}

/// Runs a command that only reads its document (None for the others): these need no copy of
/// the document, and never write it.
pub fn run_read(name: &str, doc: Option<&Value>, args: &[&[u8]], resp3: bool) -> Option<Outcome> {
    Some(match name {
        "json.get" => get_cmd(doc, args),
        "json.type" => type_cmd(doc, args, resp3),
        "json.strlen" => strlen(doc, args),
        "json.arrindex" => arrindex(doc, args),
        "json.arrlen" => arrlen(doc, args),
        "json.objkeys" => objkeys(doc, args),
        "json.objlen" => objlen(doc, args),
        "json.resp" => resp_cmd(doc, args),
        _ => return None,
    })
}

/// Checks the arguments RedisJSON reads before it looks the key up (only some commands have
/// any): their errors come before a key of another type is noticed.
pub fn check_args_before_key(name: &str, args: &[&[u8]]) -> Result<(), String> {
    match name {
        "json.set" if args.len() >= 2 => set_cond(&args[2..]).map(drop),
        "json.arrappend" if args.len() >= 2 => parse_values(&args[1..]).map(drop),
        "json.arrinsert" if args.len() >= 3 => {
            parse_int(args[1])?;
            parse_values(&args[2..]).map(drop)
        }
        "json.arrtrim" if args.len() == 3 => {
            parse_int(args[1])?;
            parse_int(args[2]).map(drop)
        }
        "json.arrindex" if (2..=4).contains(&args.len()) => arrindex_args(args).map(drop),
        _ => Ok(()),
    }
}

fn parse_values(args: &[&[u8]]) -> Result<Vec<Value>, String> {
    args.iter().map(|a| Value::parse(a)).collect()
}

/// JSON.SET's arguments after the key when its path is the root: the value and the condition
/// (errors as JSON.SET gives them), or None for another path.
pub fn set_root_args(args: &[&[u8]]) -> Option<Result<(Value, Cond), String>> {
    if args.len() < 2 || !path::is_root(args[0]) {
        return None;
    }
    Some(set_cond(&args[2..]).and_then(|c| Ok((Value::parse(args[1])?, c))))
}

fn set_cond(rest: &[&[u8]]) -> Result<Cond, String> {
    Ok(match rest {
        [] => Cond::Always,
        [c] if c.eq_ignore_ascii_case(b"NX") => Cond::Nx,
        [c] if c.eq_ignore_ascii_case(b"XX") => Cond::Xx,
        _ => return Err("ERR syntax error".into()),
    })
}

/// The optional path of TYPE, OBJLEN and OBJKEYS: RedisJSON answers for a legacy path that does
/// not parse as for one that matches nothing (None).
fn lenient_path(args: &[&[u8]]) -> Result<Option<Path>, String> {
    match opt_path(args, 0) {
        Ok(p) => Ok(Some(p)),
        Err(_) if args.first().is_some_and(|p| path::is_legacy(p)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The optional path argument (legacy root when absent).
fn opt_path(args: &[&[u8]], at: usize) -> Result<Path, String> {
    match args.get(at) {
        Some(p) => parse_path(p),
        None => Path::parse("."),
    }
}

// ---------------------------------------------------------------- JSON.SET / MSET / MERGE

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    Always,
    Nx,
    Xx,
}

/// JSON.SET key path value [NX|XX]: the condition, then the value, then the key; the path is
/// parsed only against an existing document (RedisJSON's order).
fn set(doc: &mut Option<Value>, args: &[&[u8]]) -> Outcome {
    if args.len() < 2 {
        return Err(arity("json.set"));
    }
    let cond = set_cond(&args[2..])?;
    let value = Value::parse(args[1])?;
    match doc {
        Some(root) => set_at(root, &parse_path(args[0])?, value, cond),
        None => create(doc, args[0], value, cond),
    }
}

/// Where JSON.SET writes in an existing document, found before anything changes (so that its
/// errors and NX/XX leave the document as it was); [`apply_set`] writes there.
pub struct SetPlan {
    /// Replace the values at these locations ...
    replace: Vec<Loc>,
    /// ... or add the key to those of these that are objects without it when the plan is
    /// carried out (RedisJSON checks then, not when it looks: a JSON.MSET triple may add to a
    /// document an earlier triple replaced).
    add: Option<(Vec<Loc>, String)>,
}

/// Writes `value` where `plan` (made on this same document, unchanged since) says, after
/// checking that the document stays within the depth limit.
pub fn apply_set(root: &mut Value, plan: SetPlan, value: Value) -> Outcome {
    let SetPlan { replace, add } = plan;
    let depth = value.depth();
    for l in &replace {
        check_depth_at(l.len(), depth)?;
    }
    for l in add.iter().flat_map(|(parents, _)| parents) {
        check_depth_at(l.len() + 1, depth)?;
    }
    let mut value = Some(value);
    let mut wrote = false;
    for (i, l) in replace.iter().enumerate() {
        if let Some(v) = get_mut(root, l) {
            // The last location takes the parsed value itself.
            *v = if i + 1 == replace.len() { value.take() } else { value.clone() }
                .unwrap_or(Value::Null);
            wrote = true;
        }
    }
    if let (Some((parents, key)), Some(value)) = (add, value) {
        for l in &parents {
            if let Some(Value::Obj(o)) = get_mut(root, l) {
                if !o.contains_key(&key) {
                    o.insert(key.clone(), value.clone());
                    wrote = true;
                }
            }
        }
    }
    Ok(if wrote { (Reply::Ok, Write::Update) } else { (Reply::Null, Write::None) })
}

/// JSON.SET on a missing key (`doc` is None), at the unparsed path `raw`.
fn create(doc: &mut Option<Value>, raw: &[u8], value: Value, cond: Cond) -> Outcome {
    if cond == Cond::Xx {
        return read(Reply::Null);
    }
    if !path::is_root(raw) {
        return Err(NEW_AT_ROOT.into());
    }
    // A parsed value is within the depth limit (parsing stops at 128 levels).
    *doc = Some(value);
    Ok((Reply::Ok, Write::Update))
}

/// The document would be too deep with a value of depth `depth` below `steps` containers (the
/// rest of it is within the limit already).
fn check_depth_at(steps: usize, depth: usize) -> Result<(), String> {
    if steps + depth > MAX_DEPTH {
        return Err(format!("ERR the document would be nested deeper than {MAX_DEPTH} levels"));
    }
    Ok(())
}

/// JSON.SET on an existing document (shared with JSON.MERGE).
fn set_at(root: &mut Value, path: &Path, value: Value, cond: Cond) -> Outcome {
    match plan_set(root, path, cond)? {
        Ok(plan) => apply_set(root, plan, value),
        Err(reply) => read(reply),
    }
}

/// Where JSON.SET at `path` writes, or its reply when it writes nothing. As RedisJSON: the
/// matches are replaced (NX skips looking for them); without any, a static path whose parent
/// is an object gets the key added; an array is never extended.
pub fn plan_set(root: &Value, path: &Path, cond: Cond) -> Result<Result<SetPlan, Reply>, String> {
    if cond != Cond::Nx {
        let mut locs = path.locate(root);
        if !locs.is_empty() {
            // Matches that writes cannot reach are not written, nor added.
            locs.retain(|l| path::reachable(l));
            if locs.is_empty() {
                return Ok(Err(Reply::Null));
            }
            return Ok(Ok(SetPlan { replace: locs, add: None }));
        }
        if cond == Cond::Xx {
            return Ok(Err(Reply::Null));
        }
    }
    if !path.is_static() {
        return Err("Err wrong static path".into());
    }
    let Some((parent, key)) = path.split_last_key() else {
        // The root or an array element: there already (NX), or out of range whatever the
        // parent is.
        if path.locate(root).is_empty() {
            return Err("ERR array index out of range".into());
        }
        return Ok(Err(Reply::Null));
    };
    let parents = parent.locate(root);
    if parents.is_empty() {
        return Ok(Err(Reply::Null));
    }
    Ok(Ok(SetPlan { replace: Vec::new(), add: Some((parents, key)) }))
}

/// RFC 7396 merge patch of `target` with `patch`.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Obj(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !matches!(target, Value::Obj(_)) {
        *target = Value::Obj(Default::default());
    }
    let Value::Obj(t) = target else { return };
    for (k, v) in p {
        if matches!(v, Value::Null) {
            t.swap_remove(k);
        } else if let Some(tv) = t.get_mut(k) {
            merge_patch(tv, v);
        } else {
            let mut nv = Value::Null;
            merge_patch(&mut nv, v);
            t.insert(k.clone(), nv);
        }
    }
}

/// JSON.MERGE key path value
fn merge(doc: &mut Option<Value>, args: &[&[u8]]) -> Outcome {
    if args.len() != 2 {
        return Err(arity("json.merge"));
    }
    let patch = Value::parse(args[1])?;
    let Some(root) = doc.as_mut() else {
        if !path::is_root(args[0]) {
            return Err(NEW_AT_ROOT.into());
        }
        // A new key takes the patch as it is, nulls included (RedisJSON stores it as JSON.SET
        // would); a parsed value is within the depth limit.
        *doc = Some(patch);
        return Ok((Reply::Ok, Write::Update));
    };
    let path = parse_path(args[0])?;
    let mut locs = path.locate(root);
    if locs.is_empty() {
        // Nothing to merge into: RedisJSON sets the patch as it is, as JSON.SET would (a missing
        // parent answers null, a null patch is stored as null).
        return set_at(root, &path, patch, Cond::Always);
    }
    locs.retain(|l| path::reachable(l));
    if locs.is_empty() {
        return read(Reply::Null);
    }
    // A merge is no deeper than the deeper of the target and the patch: checked before any
    // change, as the document is changed in place.
    let depth = patch.depth();
    for l in &locs {
        check_depth_at(l.len(), depth)?;
    }
    for l in &locs {
        if let Some(v) = get_mut(root, l) {
            merge_patch(v, &patch);
        }
    }
    Ok((Reply::Ok, Write::Update))
}

// ---------------------------------------------------------------- JSON.GET / MGET / RESP / TYPE

/// JSON.GET key [INDENT s] [NEWLINE s] [SPACE s] [NOESCAPE] [path ...]
fn get_cmd(doc: Option<&Value>, args: &[&[u8]]) -> Outcome {
    let mut f = Format::default();
    let mut paths = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i];
        let opt = [b"INDENT".as_slice(), b"NEWLINE", b"SPACE"]
            .iter()
            .position(|o| a.eq_ignore_ascii_case(o));
        if let Some(o) = opt {
            let Some(v) = args.get(i + 1) else { return Err(arity("json.get")) };
            let v = utf8(v);
            match o {
                0 => f.indent = v,
                1 => f.newline = v,
                _ => f.space = v,
            }
            i += 2;
        } else if a.eq_ignore_ascii_case(b"NOESCAPE") {
            i += 1;
        } else {
            paths.push(a);
            i += 1;
        }
    }
    let Some(doc) = doc else { return read(Reply::Null) };
    read(Reply::Bulk(get_text(doc, &paths, &f)?))
}

/// JSON.GET's reply text for `paths` (none: the whole document).
pub fn get_text(doc: &Value, paths: &[&[u8]], f: &Format) -> Result<String, String> {
    if paths.is_empty() {
        return Ok(doc.to_json_with(f));
    }
    if let [raw] = paths {
        let p = parse_path(raw)?;
        if p.legacy {
            return match p.values(doc).first() {
                Some(v) => Ok(v.to_json_with(f)),
                None => Err(format!("ERR Path '{}' does not exist", p.text)),
            };
        }
        return Ok(crate::value::array_to_json(&p.values(doc), f));
    }
    // Several paths: each one's matches under its own name; a path that does not parse is left
    // out (RedisJSON's way), and legacy paths alone give their first match, not an array.
    let all_legacy = paths.iter().all(|p| path::is_legacy(p));
    let mut obj = crate::value::Map::new();
    for raw in paths {
        let Ok(p) = parse_path(raw) else { continue };
        let v = if all_legacy {
            match p.values(doc).first() {
                Some(v) => (*v).clone(),
                None => return Err(format!("ERR Path '{}' does not exist", utf8(raw))),
            }
        } else {
            Value::Arr(p.all_values(doc).into_iter().cloned().collect())
        };
        let k = utf8(raw);
        if !obj.contains_key(&k) {
            obj.insert(k, v);
        }
    }
    Ok(Value::Obj(obj).to_json_with(f))
}

/// One key's element of JSON.MGET's reply.
pub fn mget_one(doc: Option<&Value>, path: &Path) -> Reply {
    let Some(doc) = doc else { return Reply::Null };
    let vals = path.values(doc);
    if path.legacy {
        match vals.first() {
            Some(v) => Reply::Bulk(v.to_json()),
            None => Reply::Null,
        }
    } else {
        Reply::Bulk(crate::value::array_to_json(&vals, &Format::COMPACT))
    }
}

/// JSON.RESP key [path]
fn resp_cmd(doc: Option<&Value>, args: &[&[u8]]) -> Outcome {
    if args.len() > 1 {
        return Err(arity("json.resp"));
    }
    let Some(doc) = doc else { return read(Reply::Null) };
    let path = opt_path(args, 0)?;
    let vals = path.values(doc);
    if path.legacy {
        return match vals.first() {
            Some(v) => read(resp_of(v)),
            None => Err(format!("ERR Path '{}' does not exist", path.text)),
        };
    }
    read(Reply::Arr(vals.into_iter().map(resp_of).collect()))
}

/// JSON.TYPE key [path]: RESP3 wraps the RESP2 reply in a one-element array.
fn type_cmd(doc: Option<&Value>, args: &[&[u8]], resp3: bool) -> Outcome {
    if args.len() > 1 {
        return Err(arity("json.type"));
    }
    let r = match doc {
        None => Reply::Null,
        Some(doc) => {
            let Some(path) = lenient_path(args)? else {
                return read(if resp3 { Reply::Arr(vec![Reply::Null]) } else { Reply::Null });
            };
            let vals = path.values(doc);
            let names = vals.iter().map(|v| Reply::Bulk(v.type_name().into()));
            if path.legacy {
                names.into_iter().next().unwrap_or(Reply::Null)
            } else {
                Reply::Arr(names.collect())
            }
        }
    };
    read(if resp3 { Reply::Arr(vec![r]) } else { r })
}

// ---------------------------------------------------------------- JSON.DEL

fn del(doc: &mut Option<Value>, args: &[&[u8]]) -> Outcome {
    if args.len() > 1 {
        return Err(arity("json.del"));
    }
    let Some(root) = doc.as_mut() else { return read(Reply::Int(0)) };
    let path = opt_path(args, 0)?;
    if path.is_root() {
        return Ok((Reply::Int(1), Write::Delete));
    }
    let mut locs = path.locate(root);
    if locs.is_empty() {
        return read(Reply::Int(0));
    }
    // A match inside another goes with it, and is not counted. RedisJSON tells "inside" by the
    // text of the paths, so a sibling whose last key or index begins with another's goes too
    // (`$["a","ab"]` deletes `a` and `ab`, and counts 1). In text order, what one match
    // takes with it follows it.
    // A location that two matches name is inside the other one, so neither is deleted.
    locs.retain(|l| path::reachable(l));
    locs.sort_by(|a, b| a.iter().map(step_text).cmp(b.iter().map(step_text)));
    // The matches no other match contains, each with whether it is still to be deleted.
    let mut outer: Vec<(Loc, bool)> = Vec::with_capacity(locs.len());
    for l in locs {
        match outer.last_mut() {
            Some((o, keep)) if text_inside(o, &l) => {
                if *o == l {
                    *keep = false;
                }
            }
            _ => outer.push((l, true)),
        }
    }
    // Deepest and last first, so that earlier locations stay valid.
    let mut locs: Vec<Loc> = outer.into_iter().filter(|(_, keep)| *keep).map(|(l, _)| l).collect();
    locs.sort();
    let mut n = 0;
    for l in locs.iter().rev() {
        if remove(root, l) {
            n += 1;
        }
    }
    let w = if n > 0 { Write::Update } else { Write::None };
    Ok((Reply::Int(n), w))
}

fn step_text(s: &Step) -> std::borrow::Cow<'_, str> {
    match s {
        Step::Key(k) => k.as_str().into(),
        Step::Idx(i) => i.to_string().into(),
        Step::Lost => "".into(),
    }
}

/// Whether the path text of `inner` begins with that of `outer`.
fn text_inside(outer: &[Step], inner: &[Step]) -> bool {
    let Some((last, init)) = outer.split_last() else { return true };
    inner.len() > init.len()
        && inner[..init.len()] == *init
        && step_text(&inner[init.len()]).starts_with(&*step_text(last))
}

fn remove(root: &mut Value, loc: &Loc) -> bool {
    let Some((last, parent)) = loc.split_last() else { return false };
    match (get_mut(root, parent), last) {
        (Some(Value::Obj(o)), Step::Key(k)) => o.swap_remove(k).is_some(),
        (Some(Value::Arr(a)), Step::Idx(i)) if *i < a.len() => {
            a.remove(*i);
            true
        }
        _ => false,
    }
}

// ---------------------------------------------------------------- numbers

fn num_op(name: &str, doc: &mut Option<Value>, args: &[&[u8]], resp3: bool) -> Outcome {
    if args.len() != 2 {
        return Err(arity(name));
    }
    let Some(root) = doc.as_mut() else { return Err(NO_KEY.into()) };
    let path = parse_path(args[0])?;
    let locs = path.locate(root);
    // The operand is parsed only when there is a number to apply it to.
    let nums = typed(root, &locs, |v| matches!(v, Value::Num(_)));
    let operand = match nums.any() {
        false => Num::I(0),
        true => match Value::parse(args[1]) {
            Ok(Value::Num(n)) => n,
            Ok(_) => return Err("bad input number".into()),
            Err(e) => return Err(format!("ERR {e}")),
        },
    };
    nums.reachable()?;
    let mut results = Vec::new();
    for l in &locs {
        match get_mut(root, l) {
            Some(Value::Num(n)) => {
                let r = match arith(name, *n, operand) {
                    Ok(r) => r,
                    Err(e) => return failed(results.iter().any(Option::is_some), e),
                };
                *n = r;
                results.push(Some(r));
            }
            _ => results.push(None),
        }
    }
    // A legacy path answers for the last number it changed; RESP3 replies an array for legacy
    // paths too, and so never fails on them.
    let last = results.iter().rev().find_map(|n| *n);
    if path.legacy && !resp3 && last.is_none() {
        return Err(format!(
            "ERR Path '{}' does not exist or does not contains a number",
            path.text
        ));
    }
    let changed = results.iter().any(Option::is_some);
    let w = if changed { Write::Update } else { Write::None };
    if resp3 {
        let r = results
            .iter()
            .map(|n| match n {
                Some(Num::I(i)) => Reply::Int(*i),
                Some(n) => Reply::Double(n.as_f64()),
                None => Reply::Null,
            })
            .collect();
        return Ok((Reply::Arr(r), w));
    }
    let to_v = |n: &Option<Num>| n.map(Value::Num).unwrap_or(Value::Null);
    let text = if path.legacy {
        to_v(&last).to_json()
    } else {
        Value::Arr(results.iter().map(to_v).collect()).to_json()
    };
    Ok((Reply::Bulk(text), w))
}

/// The matches of the type a command changes, settled before anything changes.
struct Typed {
    /// For each location: whether it is of the type and a write reaches it.
    at: Vec<bool>,
    /// Whether one of the type is out of a write's reach (see [`Step::Lost`]).
    lost: bool,
}

fn typed(root: &Value, locs: &[Loc], f: impl Fn(&Value) -> bool) -> Typed {
    let mut lost = false;
    let at = locs
        .iter()
        .map(|l| {
            let is = path::peek(root, l).is_some_and(&f);
            let reached = path::reachable(l);
            lost |= is && !reached;
            is && reached
        })
        .collect();
    Typed { at, lost }
}

impl Typed {
    /// Whether there is any match of the type (one to parse an operand for).
    fn any(&self) -> bool {
        self.lost || self.at.contains(&true)
    }

    /// RedisJSON's error when a match of the type is out of a write's reach.
    fn reachable(&self) -> Result<(), String> {
        match self.lost {
            true => Err("ERR Path does not exist".into()),
            false => Ok(()),
        }
    }
}

fn arith(name: &str, a: Num, b: Num) -> Result<Num, String> {
    let ints = |n: Num| match n {
        Num::I(i) => Some(i),
        Num::U(_) | Num::F(_) => None,
    };
    let r = match (ints(a), ints(b), name) {
        (Some(x), Some(y), "json.numincrby") => Num::I(x.wrapping_add(y)),
        (Some(x), Some(y), "json.nummultby") => Num::I(x.wrapping_mul(y)),
        (Some(x), Some(y), _) if (0..=u32::MAX as i64).contains(&y) => {
            Num::I(x.wrapping_pow(y as u32))
        }
        _ => {
            let (x, y) = (a.as_f64(), b.as_f64());
            Num::F(match name {
                "json.numincrby" => x + y,
                "json.nummultby" => x * y,
                _ => x.powf(y),
            })
        }
    };
    if let Num::F(f) = r {
        if !f.is_finite() {
            return Err("ERR result is not a number".into());
        }
    }
    Ok(r)
}

// ---------------------------------------------------------------- strings

fn strappend(doc: &mut Option<Value>, args: &[&[u8]]) -> Outcome {
    let (path, raw) = match args {
        [v] => (b".".as_slice(), *v),
        [p, v] => (*p, *v),
        _ => return Err(arity("json.strappend")),
    };
    let Some(root) = doc.as_mut() else { return Err(NO_KEY.into()) };
    let path = parse_path(path)?;
    let locs = path.locate(root);
    // The value is parsed only when there is a string to append it to.
    let strs = typed(root, &locs, |v| matches!(v, Value::Str(_)));
    let add = match strs.any() {
        false => Default::default(),
        true => match Value::parse(raw) {
            Ok(Value::Str(s)) => s,
            Ok(_) => {
                return Err(format!(
                    "WRONGTYPE wrong type of path value - expected string but found {}",
                    utf8(raw)
                ))
            }
            Err(e) => return Err(format!("ERR {e}")),
        },
    };
    strs.reachable()?;
    let mut out = Vec::new();
    for l in &locs {
        match get_mut(root, l) {
            Some(Value::Str(s)) => {
                s.push_str(&add);
                out.push(Some(Reply::Int(s.len() as i64)));
            }
            _ => out.push(None),
        }
    }
    let changed = out.iter().any(Option::is_some);
    let w = if changed { Write::Update } else { Write::None };
    if path.legacy {
        return match out.into_iter().flatten().last() {
            Some(r) => Ok((r, w)),
            None => Err(format!("ERR Path '{}' does not exist or not a string", path.text)),
        };
    }
    Ok((nulls_or(out), w))
}

fn wrongtype(expected: &str, v: &Value) -> String {
    format!("WRONGTYPE wrong type of path value - expected {expected} but found {}", v.type_name())
}

/// The shared shape of STRLEN, OBJLEN: legacy → the first match's answer or an error;
/// JSONPath → an array with nulls for the matches of another type.
fn measure(
    name: &str,
    doc: Option<&Value>,
    args: &[&[u8]],
    expected: &str,
    f: impl Fn(&Value) -> Option<i64>,
) -> Outcome {
    if args.len() > 1 {
        return Err(arity(name));
    }
    let Some(doc) = doc else {
        let raw = args.first().copied().unwrap_or(b".");
        if path::is_legacy(raw) {
            return read(Reply::Null);
        }
        return Err(if name == "json.objlen" {
            format!("ERR Path '{}' does not exist or not an object", utf8(raw))
        } else {
            NO_KEY.into()
        });
    };
    let path = match name {
        "json.objlen" => match lenient_path(args)? {
            Some(p) => p,
            None => return read(Reply::Null),
        },
        _ => opt_path(args, 0)?,
    };
    let vals = path.values(doc);
    if path.legacy {
        return match vals.first() {
            Some(v) => match f(v) {
                Some(n) => read(Reply::Int(n)),
                None => Err(wrongtype(expected, v)),
            },
            None if name == "json.objlen" => read(Reply::Null),
            None => Err(format!("ERR Path '{}' does not exist", path.text)),
        };
    }
    read(nulls_or(vals.iter().map(|v| f(v).map(Reply::Int)).collect()))
}

fn strlen(doc: Option<&Value>, args: &[&[u8]]) -> Outcome {
    measure("json.strlen", doc, args, "string", |v| match v {
        Value::Str(s) => Some(s.len() as i64),
        _ => None,
    })
}

fn objlen(doc: Option<&Value>, args: &[&[u8]]) -> Outcome {
    measure("json.objlen", doc, args, "object", |v| match v {
        Value::Obj(o) => Some(o.len() as i64),
        _ => None,
    })
}

// ---------------------------------------------------------------- arrays

/// Applies `f` to every array among the matches of path `raw` (parsed once the key is known to
/// exist) for array command `name`: legacy → the last array's reply, or [`not_array`] when
/// there is none (ARRAPPEND names the path as given, the others as RedisJSON rewrites it);
/// JSONPath → an array with nulls.
fn on_arrays(
    name: &str,
    doc: &mut Option<Value>,
    raw: &[u8],
    added: &[Value],
    mut f: impl FnMut(&mut Arr) -> Result<Reply, String>,
) -> Outcome {
    let Some(root) = doc.as_mut() else { return Err(NO_KEY.into()) };
    let path = parse_path(raw)?;
    let locs = path.locate(root);
    // Which matches are arrays is settled before the first change, as RedisJSON does: a
    // change to one array can move what a later location names (an element of an array
    // popped or trimmed before it). Such a location answers null if it is gone, an error if
    // it now holds something else. An array out of a write's reach is an error (ARRPOP
    // answers null for it instead).
    let arrays = typed(root, &locs, |v| matches!(v, Value::Arr(_)));
    if name != "json.arrpop" {
        arrays.reachable()?;
    }
    // The elements `f` adds must fit under the depth limit in every array, checked before the
    // first change (the document is changed in place).
    if let Some(depth) = added.iter().map(Value::depth).max() {
        for (l, _) in locs.iter().zip(&arrays.at).filter(|(_, a)| **a) {
            check_depth_at(l.len() + 1, depth)?;
        }
    }
    let mut out = Vec::new();
    for (l, &was_array) in locs.iter().zip(&arrays.at) {
        match get_mut(root, l) {
            _ if !was_array => out.push(None),
            Some(Value::Arr(a)) => match f(a) {
                Ok(r) => out.push(Some(r)),
                Err(e) => return failed(out.iter().any(Option::is_some), e),
            },
            Some(v) => return Err(wrongtype("array", v)),
            None if name == "json.arrtrim" => return Err("ERR Path does not exist".into()),
            None => out.push(None),
        }
    }
    // (A JSONPath ARRPOP that found only empty arrays changed nothing.)
    let changed = match name {
        "json.arrpop" if !path.legacy => out.iter().flatten().any(|r| *r != Reply::Null),
        _ => out.iter().any(Option::is_some),
    };
    let w = if changed { Write::Update } else { Write::None };
    if path.legacy {
        return match out.into_iter().flatten().last() {
            Some(r) => Ok((r, w)),
            None if name == "json.arrappend" => Err(not_array(&utf8(raw))),
            None => Err(not_array(&path.text)),
        };
    }
    Ok((nulls_or(out), w))
}

/// An error at a match: the command's error, or [`Reply::Failed`] if earlier matches changed.
fn failed(changed: bool, e: String) -> Outcome {
    match changed {
        true => Ok((Reply::Failed(e), Write::Update)),
        false => Err(e),
    }
}

fn not_array(p: &str) -> String {
    format!("ERR Path '{p}' does not exist or not an array")
}

fn arrappend(doc: &mut Option<Value>, args: &[&[u8]]) -> Outcome {
    if args.len() < 2 {
        return Err(arity("json.arrappend"));
    }
    let vals = parse_values(&args[1..])?;
    on_arrays("json.arrappend", doc, args[0], &vals, |a| {
        a.extend(vals.iter().cloned());
        Ok(Reply::Int(a.len() as i64))
    })
}

fn arrinsert(doc: &mut Option<Value>, args: &[&[u8]]) -> Outcome {
    if args.len() < 3 {
        return Err(arity("json.arrinsert"));
    }
    let index = parse_int(args[1])?;
    let vals = parse_values(&args[2..])?;
    on_arrays("json.arrinsert", doc, args[0], &vals, |a| {
        let len = a.len() as i64;
        let at = if index < 0 { len + index } else { index };
        if at < 0 || at > len {
            return Err("ERR index out of bounds".into());
        }
        let at = at as usize;
        a.splice(at..at, vals.iter().cloned());
        Ok(Reply::Int(a.len() as i64))
    })
}

fn arrpop(doc: &mut Option<Value>, args: &[&[u8]]) -> Outcome {
    if args.len() > 2 {
        return Err(arity("json.arrpop"));
    }
    // RedisJSON takes an index that is not an integer as the last element.
    let index = args.get(1).and_then(|i| parse_int(i).ok()).unwrap_or(-1);
    on_arrays("json.arrpop", doc, args.first().copied().unwrap_or(b"."), &[], |a| {
        if a.is_empty() {
            return Ok(Reply::Null);
        }
        let len = a.len() as i64;
        let at = if index < 0 { (len + index).max(0) } else { index.min(len - 1) };
        Ok(Reply::Bulk(a.remove(at as usize).to_json()))
    })
}

fn arrtrim(doc: &mut Option<Value>, args: &[&[u8]]) -> Outcome {
    if args.len() != 3 {
        return Err(arity("json.arrtrim"));
    }
    let start = parse_int(args[1])?;
    let stop = parse_int(args[2])?;
    on_arrays("json.arrtrim", doc, args[0], &[], |a| {
        let len = a.len() as i64;
        let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i };
        let (s, e) = (norm(start), norm(stop).min(len - 1));
        if s >= len || s > e {
            a.clear();
        } else {
            a.truncate(e as usize + 1);
            a.drain(..s as usize);
        }
        Ok(Reply::Int(a.len() as i64))
    })
}

fn arrlen(doc: Option<&Value>, args: &[&[u8]]) -> Outcome {
    if args.len() > 1 {
        return Err(arity("json.arrlen"));
    }
    let raw = args.first().copied().unwrap_or(b".");
    let Some(doc) = doc else {
        return if path::is_legacy(raw) { read(Reply::Null) } else { Err(NO_KEY.into()) };
    };
    let given = utf8(raw);
    let path = parse_path(raw)?;
    let vals = path.values(doc);
    let len = |v: &Value| match v {
        Value::Arr(a) => Some(Reply::Int(a.len() as i64)),
        _ => None,
    };
    if path.legacy {
        return match vals.first() {
            Some(v) => len(v).map(read).unwrap_or_else(|| Err(not_array(&given))),
            None => Err(format!("ERR Path '{given}' does not exist")),
        };
    }
    read(nulls_or(vals.iter().map(|v| len(v)).collect()))
}

/// ARRINDEX's value, start and stop (both 0 when absent).
fn arrindex_args(args: &[&[u8]]) -> Result<(Value, i64, i64), String> {
    let needle = Value::parse_whole(args[1]).map_err(|e| format!("ERR {e}"))?;
    let int_at = |i: usize| args.get(i).map_or(Ok(0), |s| parse_int(s));
    Ok((needle, int_at(2)?, int_at(3)?))
}

fn arrindex(doc: Option<&Value>, args: &[&[u8]]) -> Outcome {
    if !(2..=4).contains(&args.len()) {
        return Err(arity("json.arrindex"));
    }
    let (needle, start, stop) = arrindex_args(args)?;
    let Some(doc) = doc else { return Err(format!("ERR Path '{}' does not exist", utf8(args[0]))) };
    let path = parse_path(args[0])?;
    let find = |a: &[Value]| {
        let len = a.len() as i64;
        // A start past the end is the last element (RedisJSON's clamp).
        let s = if start < 0 { (len + start).max(0) } else { start.min(len - 1).max(0) };
        let e = if stop == 0 {
            len
        } else if stop < 0 {
            (len + stop).max(0)
        } else {
            stop.min(len)
        };
        if s >= e {
            return -1;
        }
        a[s as usize..e as usize].iter().position(|v| *v == needle).map_or(-1, |i| s + i as i64)
    };
    let vals = path.values(doc);
    if path.legacy {
        return match vals.first() {
            Some(Value::Arr(a)) => read(Reply::Int(find(a))),
            Some(v) => Err(wrongtype("array", v)),
            None => Err(format!("ERR Path '{}' does not exist", path.text)),
        };
    }
    read(nulls_or(
        vals.iter()
            .map(|v| match v {
                Value::Arr(a) => Some(Reply::Int(find(a))),
                _ => None,
            })
            .collect(),
    ))
}

// ---------------------------------------------------------------- objects, CLEAR, TOGGLE

fn objkeys(doc: Option<&Value>, args: &[&[u8]]) -> Outcome {
    if args.len() > 1 {
        return Err(arity("json.objkeys"));
    }
    let Some(doc) = doc else {
        let legacy = args.first().is_none_or(|p| path::is_legacy(p));
        return if legacy { read(Reply::Null) } else { Err(NO_KEY.into()) };
    };
    let Some(path) = lenient_path(args)? else { return read(Reply::Null) };
    let keys = |v: &Value| match v {
        Value::Obj(o) => Some(Reply::Arr(o.keys().map(|k| Reply::Bulk(k.to_string())).collect())),
        _ => None,
    };
    let vals = path.values(doc);
    if path.legacy {
        return match vals.first() {
            Some(v) => keys(v).map(read).unwrap_or_else(|| {
                Err(format!("ERR Path '{}' does not exist or not an object", path.text))
            }),
            None => read(Reply::Null),
        };
    }
    read(nulls_or(vals.iter().map(|v| keys(v)).collect()))
}

fn clear(doc: &mut Option<Value>, args: &[&[u8]]) -> Outcome {
    if args.len() > 1 {
        return Err(arity("json.clear"));
    }
    let Some(root) = doc.as_mut() else { return Err(NO_KEY.into()) };
    let path = opt_path(args, 0)?;
    let locs = path.locate(root);
    // What is cleared is settled before the first change (RedisJSON counts a location that
    // two matches name twice). A zero of any kind (`-0.0` too) is left as it is, uncounted.
    let clearable = |v: &Value| match v {
        Value::Arr(a) => !a.is_empty(),
        Value::Obj(o) => !o.is_empty(),
        Value::Num(x) => x.as_f64() != 0.0,
        _ => false,
    };
    let flagged: Vec<bool> = locs.iter().map(|l| get(root, l).is_some_and(clearable)).collect();
    let mut n = 0;
    for (l, _) in locs.iter().zip(flagged).filter(|(_, f)| *f) {
        match get_mut(root, l) {
            Some(Value::Arr(a)) => *a = Arr::new(),
            Some(Value::Obj(o)) => o.clear(),
            Some(Value::Num(x)) => *x = Num::I(0),
            _ => continue,
        }
        n += 1;
    }
    Ok((Reply::Int(n), if n > 0 { Write::Update } else { Write::None }))
}

fn toggle(doc: &mut Option<Value>, args: &[&[u8]]) -> Outcome {
    if args.len() != 1 {
        return Err(arity("json.toggle"));
    }
    let Some(root) = doc.as_mut() else { return Err(NO_KEY.into()) };
    let path = parse_path(args[0])?;
    let locs = path.locate(root);
    typed(root, &locs, |v| matches!(v, Value::Bool(_))).reachable()?;
    let mut out = Vec::new();
    for l in &locs {
        match get_mut(root, l) {
            Some(Value::Bool(b)) => {
                *b = !*b;
                out.push(Some(*b));
            }
            _ => out.push(None),
        }
    }
    let w = if out.iter().any(Option::is_some) { Write::Update } else { Write::None };
    if path.legacy {
        return match out.iter().flatten().last() {
            Some(b) => Ok((Reply::Bulk(b.to_string()), w)),
            None => Err(format!("ERR Path '{}' does not exist or not a bool", path.text)),
        };
    }
    Ok((nulls_or(out.into_iter().map(|b| b.map(|b| Reply::Int(b as i64))).collect()), w))
}

// ---------------------------------------------------------------- JSON.DEBUG MEMORY

/// The heap bytes a value owns (its own 24-byte slot aside): string bytes beyond the inline
/// ones, array and object slots, and what the elements and members own, each block as the
/// allocator rounds it.
pub fn memory(v: &Value) -> i64 {
    (match v {
        Value::Null | Value::Bool(_) | Value::Num(_) => 0,
        Value::Str(s) => s.heap_bytes(),
        Value::Arr(a) => thin_bytes(a) + a.iter().map(|x| memory(x) as usize).sum::<usize>(),
        Value::Obj(o) => {
            o.slots_bytes()
                + o.iter().map(|(k, x)| k.heap_bytes() + memory(x) as usize).sum::<usize>()
        }
    }) as i64
}

/// What JSON.DEBUG MEMORY reports for a value: its slot and what it owns.
pub fn debug_size(v: &Value) -> i64 {
    std::mem::size_of::<Value>() as i64 + memory(v)
}

/// JSON.DEBUG MEMORY on one document (the key already read) and path `raw`: a missing key
/// has no matches, whatever the path.
pub fn debug_memory(doc: Option<&Value>, raw: &[u8]) -> Result<Reply, String> {
    let legacy = path::is_legacy(raw);
    let sizes: Vec<i64> = match doc {
        None => Vec::new(),
        Some(doc) => parse_path(raw)?.values(doc).into_iter().map(debug_size).collect(),
    };
    Ok(match legacy {
        true => Reply::Int(sizes.first().copied().unwrap_or(0)),
        false => Reply::Arr(sizes.into_iter().map(Reply::Int).collect()),
    })
}

pub fn debug_help() -> Reply {
    Reply::Arr(vec![
        Reply::Bulk("MEMORY <key> [path] - reports memory usage".into()),
        Reply::Bulk("HELP                - this message".into()),
    ])
}

/// Whether a location can still be found (used by callers that keep locations).
pub fn exists(root: &Value, loc: &[Step]) -> bool {
    get(root, loc).is_some()
}

#[cfg(test)]
mod tests;
