//! Paths: JSONPath (`$...`) and RedisJSON's legacy syntax (`.a.b[0]`, `a`, `.`, `["key"]`),
//! parsed into one form and evaluated into the *locations* of the matches (so that commands can
//! update them), in the order RedisJSON returns them.

use crate::value::{Num, Value};

/// One step from a value to one of its children.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Key(String),
    Idx(usize),
    /// After the key of a member that a filter selected from an object: RedisJSON's reads see
    /// such a match, but its writes cannot reach it (nor anything below it). [`get`] and
    /// [`get_mut`] find nothing there; [`peek`] looks through.
    Lost,
}

/// Whether a write can reach the location.
pub fn reachable(loc: &[Step]) -> bool {
    !loc.contains(&Step::Lost)
}

/// The value at a location, reachable or not.
pub fn peek<'a>(root: &'a Value, loc: &[Step]) -> Option<&'a Value> {
    walk(root, loc, true)
}

/// The value at a location; through [`Step::Lost`] only with `through_lost`.
fn walk<'a>(root: &'a Value, loc: &[Step], through_lost: bool) -> Option<&'a Value> {
    let mut v = root;
    for s in loc {
        v = match (v, s) {
            (Value::Obj(o), Step::Key(k)) => o.get(k)?,
            (Value::Arr(a), Step::Idx(i)) => a.get(*i)?,
            (_, Step::Lost) if through_lost => v,
            _ => return None,
        };
    }
    Some(v)
}

/// Where a match is, from the root.
pub type Loc = Vec<Step>;

#[derive(Debug, Clone)]
pub enum Sel {
    Key(String),
    Keys(Vec<String>),
    Wild,
    Indices(Vec<i64>),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Filter(Box<Expr>),
}

#[derive(Debug, Clone)]
pub enum Seg {
    Child(Sel),
    Descend(Sel),
}

#[derive(Debug, Clone)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Cmp(Operand, CmpOp, Operand),
    Exists(Operand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Regex,
}

#[derive(Debug, Clone)]
pub enum Operand {
    Current(Vec<Seg>),
    Root(Vec<Seg>),
    Lit(Value),
}

/// Whether path text `p` is in the legacy syntax (anything but `$` or what starts with `$.` or
/// `$[`). RedisJSON parses a path only once it has a document to apply it to, so what a command
/// answers on a missing key depends on this and [`is_root`] alone, never on a parse error.
pub fn is_legacy(p: &[u8]) -> bool {
    !(p.first() == Some(&b'$') && (p.len() == 1 || matches!(p[1], b'.' | b'[')))
}

/// Whether path text `p` is the root (`$`, or the legacy `.`); any other text, the empty one
/// included, names something below it or does not parse.
pub fn is_root(p: &[u8]) -> bool {
    p == b"$" || p == b"."
}

/// A parsed path.
#[derive(Debug, Clone)]
pub struct Path {
    pub segs: Vec<Seg>,
    /// Legacy syntax: the first match only, scalar replies, errors when missing.
    pub legacy: bool,
    /// The path as RedisJSON names it in its errors (`$.a.b` for the legacy `.a.b`).
    pub text: String,
}

impl Path {
    pub fn is_root(&self) -> bool {
        self.segs.is_empty()
    }

    /// Whether every segment selects at most one location (no wildcard, descent, filter...).
    pub fn is_static(&self) -> bool {
        self.segs.iter().all(|s| match s {
            Seg::Child(Sel::Key(_)) => true,
            Seg::Child(Sel::Indices(i)) => i.len() == 1,
            _ => false,
        })
    }

    /// Parses `p` with RedisJSON's rules: a path that is `$` or starts with `$.` or `$[` is
    /// JSONPath; anything else is legacy (`.` is the root; a path without a leading `.` or `[`
    /// gets one).
    pub fn parse(p: &str) -> Result<Path, String> {
        if !is_legacy(p.as_bytes()) {
            let segs = crate::grammar::parse(p)?;
            return Ok(Path { segs, legacy: false, text: p.to_string() });
        }
        let text = if p == "." {
            "$".to_string()
        } else if p.starts_with('.') {
            format!("${p}")
        } else {
            format!("$.{p}")
        };
        let segs = crate::grammar::parse(&text)?;
        Ok(Path { segs, legacy: true, text })
    }

    /// The parent path and the key of the last segment, when the last segment names one key:
    /// what JSON.SET and JSON.MERGE use to add a missing member.
    pub fn split_last_key(&self) -> Option<(Path, String)> {
        match self.segs.last()? {
            Seg::Child(Sel::Key(k)) => Some((
                Path { segs: self.segs[..self.segs.len() - 1].to_vec(), ..self.clone() },
                k.clone(),
            )),
            Seg::Child(Sel::Keys(k)) if k.len() == 1 => Some((
                Path { segs: self.segs[..self.segs.len() - 1].to_vec(), ..self.clone() },
                k[0].clone(),
            )),
            _ => None,
        }
    }

    /// The locations of every match, in RedisJSON's order, legacy paths included: RedisJSON's
    /// writes change every match of a legacy path too (and answer for the last they changed).
    pub fn locate(&self, root: &Value) -> Vec<Loc> {
        eval::<Loc>(root, root, &self.segs).into_iter().map(|(l, _)| l).collect()
    }

    /// The matches a read sees (no locations are built): a legacy path's first only.
    pub fn values<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        let mut out = self.all_values(root);
        if self.legacy {
            out.truncate(1);
        }
        out
    }

    /// Every match, legacy paths included.
    pub fn all_values<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        eval::<NoLoc>(root, root, &self.segs).into_iter().map(|(_, v)| v).collect()
    }
}

/// What an evaluation records about where a match is: its [`Loc`] (for commands that update
/// the matches), or nothing (for those that only read them: no allocation per node visited).
trait Track: Sized + Clone {
    fn root() -> Self;
    fn key(&self, k: &str) -> Self;
    fn idx(&self, i: usize) -> Self;
    /// The member `k` that a filter selected from an object.
    fn filtered_key(&self, k: &str) -> Self;
}

impl Track for Loc {
    fn root() -> Self {
        Vec::new()
    }
    fn key(&self, k: &str) -> Self {
        [self.as_slice(), &[Step::Key(k.to_string())]].concat()
    }
    fn idx(&self, i: usize) -> Self {
        [self.as_slice(), &[Step::Idx(i)]].concat()
    }
    fn filtered_key(&self, k: &str) -> Self {
        [self.as_slice(), &[Step::Key(k.to_string()), Step::Lost]].concat()
    }
}

/// No location.
#[derive(Clone)]
struct NoLoc;

impl Track for NoLoc {
    fn root() -> Self {
        NoLoc
    }
    fn key(&self, _: &str) -> Self {
        NoLoc
    }
    fn idx(&self, _: usize) -> Self {
        NoLoc
    }
    fn filtered_key(&self, _: &str) -> Self {
        NoLoc
    }
}

pub fn get<'a>(root: &'a Value, loc: &[Step]) -> Option<&'a Value> {
    walk(root, loc, false)
}

pub fn get_mut<'a>(root: &'a mut Value, loc: &[Step]) -> Option<&'a mut Value> {
    let mut v = root;
    for s in loc {
        v = match (v, s) {
            (Value::Obj(o), Step::Key(k)) => o.get_mut(k)?,
            (Value::Arr(a), Step::Idx(i)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Evaluates `segs` from `start`; `root` is what `$` means inside filters.
fn eval<'a, L: Track>(root: &'a Value, start: &'a Value, segs: &[Seg]) -> Vec<(L, &'a Value)> {
    let mut cur: Vec<(L, &'a Value)> = vec![(L::root(), start)];
    for seg in segs {
        let mut next = Vec::new();
        for (loc, v) in &cur {
            match seg {
                Seg::Child(sel) => select(root, loc, v, sel, &mut next),
                Seg::Descend(sel) => descend(root, loc, v, sel, &mut next),
            }
        }
        cur = next;
        if cur.is_empty() {
            break;
        }
    }
    cur
}

/// `..sel`: the selector applied to the value, then to each child's descendants in turn.
fn descend<'a, L: Track>(
    root: &'a Value,
    loc: &L,
    v: &'a Value,
    sel: &Sel,
    out: &mut Vec<(L, &'a Value)>,
) {
    select(root, loc, v, sel, out);
    // Only a filter selects anything from a scalar (the scalar itself).
    let visit = |c: &Value| matches!(sel, Sel::Filter(_)) || is_container(c);
    match v {
        Value::Arr(a) => {
            for (i, c) in a.iter().enumerate() {
                if visit(c) {
                    descend(root, &loc.idx(i), c, sel, out);
                }
            }
        }
        Value::Obj(o) => {
            for (k, c) in o {
                if visit(c) {
                    descend(root, &loc.key(k), c, sel, out);
                }
            }
        }
        _ => {}
    }
}

fn is_container(v: &Value) -> bool {
    matches!(v, Value::Arr(_) | Value::Obj(_))
}

/// An index into an array of `len`: negative from the end, clamped to the first element when it
/// reaches before it (as RedisJSON: `[-5]` of a 3-element array is its first), none past the end.
fn norm_index(i: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if i < 0 { (len + i).max(0) } else { i };
    (0..len).contains(&i).then_some(i as usize)
}

fn select<'a, L: Track>(
    root: &'a Value,
    loc: &L,
    v: &'a Value,
    sel: &Sel,
    out: &mut Vec<(L, &'a Value)>,
) {
    match (sel, v) {
        (Sel::Key(k), Value::Obj(o)) => {
            if let Some(c) = o.get(k.as_str()) {
                out.push((loc.key(k), c));
            }
        }
        (Sel::Keys(ks), Value::Obj(o)) => {
            for k in ks {
                if let Some(c) = o.get(k.as_str()) {
                    out.push((loc.key(k), c));
                }
            }
        }
        (Sel::Wild, Value::Obj(o)) => {
            for (k, c) in o {
                out.push((loc.key(k), c));
            }
        }
        (Sel::Wild, Value::Arr(a)) => {
            for (i, c) in a.iter().enumerate() {
                out.push((loc.idx(i), c));
            }
        }
        (Sel::Indices(is), Value::Arr(a)) => {
            for &i in is {
                if let Some(i) = norm_index(i, a.len()) {
                    out.push((loc.idx(i), &a[i]));
                }
            }
        }
        (Sel::Slice(start, end, step), Value::Arr(a)) => {
            let len = a.len() as i64;
            let step = step.unwrap_or(1);
            if step <= 0 {
                return;
            }
            let clamp = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
            let s = start.map(clamp).unwrap_or(0);
            let e = end.map(clamp).unwrap_or(len);
            let mut i = s;
            while i < e {
                out.push((loc.idx(i as usize), &a[i as usize]));
                i += step;
            }
        }
        (Sel::Filter(expr), Value::Arr(a)) => {
            for (i, c) in a.iter().enumerate() {
                if test(root, c, expr) {
                    out.push((loc.idx(i), c));
                }
            }
        }
        (Sel::Filter(expr), Value::Obj(o)) => {
            for (k, c) in o {
                if test(root, c, expr) {
                    out.push((loc.filtered_key(k), c));
                }
            }
        }
        // RedisJSON tests a scalar against a filter itself.
        (Sel::Filter(expr), scalar) if test(root, scalar, expr) => {
            out.push((loc.clone(), scalar));
        }
        _ => {}
    }
}

fn operand<'a>(root: &'a Value, cur: &'a Value, o: &'a Operand) -> Vec<&'a Value> {
    match o {
        Operand::Current(segs) => {
            eval::<NoLoc>(root, cur, segs).into_iter().map(|(_, v)| v).collect()
        }
        Operand::Root(segs) => {
            eval::<NoLoc>(root, root, segs).into_iter().map(|(_, v)| v).collect()
        }
        Operand::Lit(v) => vec![v],
    }
}

/// An operand that names at most one value (a literal, or `@`/`$` followed by member names
/// only): `Some(the value or None when missing)`; `None` for the other forms.
fn single<'a>(root: &'a Value, cur: &'a Value, o: &'a Operand) -> Option<Option<&'a Value>> {
    let (mut v, segs) = match o {
        Operand::Lit(v) => return Some(Some(v)),
        Operand::Current(segs) => (cur, segs),
        Operand::Root(segs) => (root, segs),
    };
    for s in segs {
        let Seg::Child(Sel::Key(k)) = s else { return None };
        match v {
            Value::Obj(o) => match o.get(k.as_str()) {
                Some(c) => v = c,
                None => return Some(None),
            },
            _ => return Some(None),
        }
    }
    Some(Some(v))
}

fn test(root: &Value, cur: &Value, e: &Expr) -> bool {
    match e {
        Expr::Or(a, b) => test(root, cur, a) || test(root, cur, b),
        Expr::And(a, b) => test(root, cur, a) && test(root, cur, b),
        Expr::Exists(o) => !operand(root, cur, o).is_empty(),
        Expr::Cmp(l, op, r) => {
            // The common `@.a.b < lit`: one value or none each side, without allocating.
            if let (Some(a), Some(b)) = (single(root, cur, l), single(root, cur, r)) {
                return match (a, b) {
                    (Some(a), Some(b)) => compare(a, *op, b),
                    _ => *op == CmpOp::Ne,
                };
            }
            let (ls, rs) = (operand(root, cur, l), operand(root, cur, r));
            // A missing member differs from everything.
            if *op == CmpOp::Ne && (ls.is_empty() || rs.is_empty()) {
                return true;
            }
            ls.iter().any(|a| rs.iter().any(|b| compare(a, *op, b)))
        }
    }
}

fn compare(a: &Value, op: CmpOp, b: &Value) -> bool {
    use std::cmp::Ordering;
    let ord = match (a, b) {
        (Value::Num(x), Value::Num(y)) => match (x, y) {
            (Num::F(_), _) | (_, Num::F(_)) => x.as_f64().partial_cmp(&y.as_f64()),
            _ => Some(num_i128(*x).cmp(&num_i128(*y))),
        },
        (Value::Str(x), Value::Str(y)) => {
            if op == CmpOp::Regex {
                return simple_regex(y, x);
            }
            Some(x.cmp(y))
        }
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => {
            return match op {
                CmpOp::Eq => a == b,
                CmpOp::Ne => a != b,
                _ => false,
            }
        }
    };
    let Some(ord) = ord else { return op == CmpOp::Ne };
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
        CmpOp::Regex => false,
    }
}

fn num_i128(n: Num) -> i128 {
    match n {
        Num::I(i) => i as i128,
        Num::U(u) => u as i128,
        Num::F(f) => f as i128,
    }
}

/// `=~`: a small regular-expression matcher (search semantics) for the common forms: literals,
/// `.`, `*`, `+`, `?`, `^`, `$`, and `(?i)` at the start. Anything else matches nothing.
fn simple_regex(pattern: &str, text: &str) -> bool {
    let (pat, ci) = match pattern.strip_prefix("(?i)") {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let norm = |s: &str| if ci { s.to_lowercase() } else { s.to_string() };
    let p: Vec<char> = norm(pat).chars().collect();
    let t: Vec<char> = norm(text).chars().collect();
    if p.iter().any(|c| matches!(c, '[' | ']' | '(' | ')' | '{' | '}' | '|' | '\\')) {
        return false;
    }
    if p.first() == Some(&'^') {
        return match_here(&p[1..], &t);
    }
    (0..=t.len()).any(|i| match_here(&p, &t[i..]))
}

fn match_here(p: &[char], t: &[char]) -> bool {
    if p.is_empty() {
        return true;
    }
    if p == ['$'] {
        return t.is_empty();
    }
    if p.len() >= 2 && matches!(p[1], '*' | '+' | '?') {
        let c = p[0];
        let eq = |x: &char| c == '.' || *x == c;
        let max = t.iter().take_while(|x| eq(x)).count();
        let (min, max) = match p[1] {
            '*' => (0, max),
            '+' => (1, max),
            _ => (0, max.min(1)),
        };
        return (min..=max).rev().any(|n| match_here(&p[2..], &t[n..]));
    }
    !t.is_empty() && (p[0] == '.' || p[0] == t[0]) && match_here(&p[1..], &t[1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        Value::parse(
            br#"{"a":{"b":[1,2,3],"c":"s"},"arr":[1,"x",null,[1],{"k":1}],"o":{"a":1,"b":{"a":2}},"n":3}"#,
        )
        .unwrap()
    }

    fn get_json(p: &str) -> String {
        let d = doc();
        let path = Path::parse(p).unwrap();
        let vals: Vec<String> = path.values(&d).iter().map(|v| v.to_json()).collect();
        format!("[{}]", vals.join(","))
    }

    #[test]
    fn jsonpath_matches_in_redisjson_order() {
        assert_eq!(get_json("$..a"), r#"[{"b":[1,2,3],"c":"s"},1,2]"#);
        assert_eq!(
            get_json("$..*"),
            r#"[{"b":[1,2,3],"c":"s"},[1,"x",null,[1],{"k":1}],{"a":1,"b":{"a":2}},3,[1,2,3],"s",1,2,3,1,"x",null,[1],{"k":1},1,1,1,{"a":2},2]"#
        );
        assert_eq!(get_json("$.a.b[-1]"), "[3]");
        assert_eq!(get_json("$.a.b[5]"), "[]");
        assert_eq!(get_json("$.a.b[-5]"), "[1]");
        assert_eq!(get_json("$.a.b[0:2]"), "[1,2]");
        assert_eq!(get_json("$.a.b[:-1]"), "[1,2]");
        assert_eq!(get_json("$.a.b[::2]"), "[1,3]");
        assert_eq!(get_json("$.a.b[0,2]"), "[1,3]");
        assert_eq!(get_json("$['a']['c']"), r#"["s"]"#);
        assert_eq!(get_json(r#"$["a","n"]"#), r#"[{"b":[1,2,3],"c":"s"},3]"#);
        assert_eq!(get_json("$.n[0]"), "[]");
        assert_eq!(get_json("$"), format!("[{}]", doc().to_json()));
    }

    #[test]
    fn filters() {
        assert_eq!(get_json("$.arr[?(@>0)]"), "[1]");
        assert_eq!(get_json("$.arr[?(@.k==1)]"), r#"[{"k":1}]"#);
        assert_eq!(get_json(r#"$.arr[?(@=="x")]"#), r#"["x"]"#);
        assert_eq!(get_json("$.arr[?(@.k)]"), r#"[{"k":1}]"#);
        assert_eq!(get_json("$.o[?(@.a)]"), r#"[{"a":2}]"#);
        assert_eq!(get_json("$.a.b[?(@ > 1 && @ < 3)]"), "[2]");
        assert_eq!(get_json("$.a.b[?(@ == 1 || @ == 3)]"), "[1,3]");
        assert_eq!(get_json("$.a.b[?(@ == $.n)]"), "[3]");
        assert_eq!(get_json(r#"$.*[?(@ =~ "^s$")]"#), r#"["s"]"#);
        // RedisJSON 2.8 has no `!`; a literal alone is true.
        assert!(Path::parse("$.a.b[?(!(@ > 1))]").unwrap_err().ends_with("single_filter."));
        assert_eq!(get_json("$.a.b[?(false)]"), "[1,2,3]");
        assert_eq!(get_json("$.a.b[?((@ > 1) && @ < 3)]"), "[2]");
        assert_eq!(get_json("$.a.b[?@ > 2]"), "[3]");
        assert_eq!(get_json("$.arr[?(@.k != 2)]"), r#"[1,"x",null,[1],{"k":1}]"#);
    }

    #[test]
    fn legacy_paths() {
        assert_eq!(get_json("."), format!("[{}]", doc().to_json()));
        assert_eq!(get_json(".a.b[-1]"), "[3]");
        assert_eq!(get_json("a.c"), r#"["s"]"#);
        assert_eq!(get_json(r#"["a"]["c"]"#), r#"["s"]"#);
        assert_eq!(get_json("..a"), r#"[{"b":[1,2,3],"c":"s"}]"#);
        assert_eq!(get_json(".a..b"), "[[1,2,3]]");
        assert_eq!(Path::parse(".a.b").unwrap().text, "$.a.b");
        assert_eq!(Path::parse("a-b").unwrap().text, "$.a-b");
        assert_eq!(Path::parse("$a").unwrap().text, "$.$a");
        assert!(Path::parse("$a").unwrap().legacy);
        assert!(!Path::parse("$.a").unwrap().legacy);
    }

    #[test]
    fn parse_errors_in_redisjsons_words() {
        assert_eq!(
            Path::parse("$.a.b[x]").unwrap_err(),
            "Error occurred on position 6, \"$.a.b[ ---->>>> x]\", expected one of the following: \
             '<string>[,<string>,...]', '<number>', ['start:end:steps'], '*'."
        );
        assert_eq!(
            Path::parse("$.a[").unwrap_err(),
            "Error occurred on position 4, \"$.a[ <<<<----\", expected one of the following: \
             '<string>[,<string>,...]', '<number>', ['start:end:steps'], '*'."
        );
    }

    #[test]
    fn locations_allow_updates() {
        let mut d = doc();
        let p = Path::parse("$..a").unwrap();
        let locs = p.locate(&d);
        assert_eq!(locs.len(), 3);
        for l in &locs {
            *get_mut(&mut d, l).unwrap() = Value::Num(Num::I(7));
        }
        assert_eq!(get_json_of(&d, "$..a"), "[7,7,7]");
    }

    fn get_json_of(d: &Value, p: &str) -> String {
        let vals: Vec<String> =
            Path::parse(p).unwrap().values(d).iter().map(|v| v.to_json()).collect();
        format!("[{}]", vals.join(","))
    }
}
