//! An in-process host, so that a module's unit tests run its commands without a server:
//!
//! ```ignore
//! let mut m = TestModule::load("hello", init, &[]).unwrap();
//! assert_eq!(m.run(&["hello.echo", "hi"]), Reply::bulk("hi"));
//! m.set_resp(3);
//! m.on_call(|argv| if argv[0] == b"PING" { Reply::simple("PONG") } else { Reply::error("ERR no") });
//! ```
//!
//! Commands run through the same ABI objects the server uses, with the server's arity check and
//! its RESP2/RESP3 encoding, and the server's rule that a command writes exactly one reply.
//! [`Context::call`](crate::Context::call) is answered by the closure given to
//! [`TestModule::on_call`]. Doubles are written in Rust's shortest form (the server uses
//! Redis's `%.17g`).

use std::cell::RefCell;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RMut;
use abi_stable::std_types::{RBox, RErr, ROk, RResult, RSlice, RStr, RString};

use crate::abi::{
    Aggregate, CallReply, CommandDef, CommandHandler_TO, HostCtx, HostCtx_TO, InitHost,
    InitHost_TO, LogLevel, API_MINOR,
};
// ---- keyspace and server events, replication control (API 1.1) ----
use crate::abi::{
    EventHost, EventHost_TO, KeyspaceListener_TO, ServerEventData, ServerEventListener_TO,
};
use crate::tracker::ReplyTracker;
use crate::{Error, InitContext, Reply};

type CallFn = Box<dyn FnMut(&[Vec<u8>]) -> Reply>;

/// A module loaded into an in-process fake host.
pub struct TestModule {
    name: String,
    commands: Vec<(CommandDef, CommandHandler_TO<'static, RBox<()>>)>,
    on_call: Option<CallFn>,
    resp: u8,
    logs: RefCell<Vec<(LogLevel, String)>>,
    // ---- keyspace and server events, replication control (API 1.1) ----
    keyspace: Vec<(u32, KeyspaceListener_TO<'static, RBox<()>>)>,
    server_events: Vec<(u32, ServerEventListener_TO<'static, RBox<()>>)>,
    /// Keyspace events the module raised: (class, event, key).
    notified: RefCell<Vec<(u32, String, Vec<u8>)>>,
    /// What the last command asked to replicate (`replicate_verbatim` gives its own argv).
    replicated: Vec<Vec<Vec<u8>>>,
}

impl TestModule {
    /// Runs `init` with `args` against the fake host, as `loadmodule` would.
    pub fn load(
        name: &str,
        init: fn(&mut InitContext, &[String]) -> Result<(), Error>,
        args: &[&str],
    ) -> Result<TestModule, Error> {
        let mut m = TestModule {
            name: name.into(),
            commands: Vec::new(),
            on_call: None,
            resp: 2,
            logs: RefCell::default(),
            keyspace: Vec::new(),
            server_events: Vec::new(),
            notified: RefCell::default(),
            replicated: Vec::new(),
        };
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut host = TestInit { m: &mut m };
        let to = InitHost_TO::from_ptr(RMut::new(&mut host), TD_Opaque);
        init(&mut InitContext::new(to), &args)?;
        Ok(m)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The protocol the next commands run with: 2 (the default) or 3.
    pub fn set_resp(&mut self, resp: u8) {
        self.resp = resp;
    }

    /// What answers the module's [`Context::call`](crate::Context::call)s.
    pub fn on_call(&mut self, f: impl FnMut(&[Vec<u8>]) -> Reply + 'static) {
        self.on_call = Some(Box::new(f));
    }

    /// The registered commands' definitions.
    pub fn commands(&self) -> impl Iterator<Item = &CommandDef> {
        self.commands.iter().map(|(d, _)| d)
    }

    /// What the module logged, oldest first.
    pub fn logs(&self) -> Vec<(LogLevel, String)> {
        self.logs.borrow().clone()
    }

    /// Runs a command and returns its reply, decoded.
    pub fn run<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Reply {
        let raw = self.run_raw(argv);
        match decode(&raw) {
            Some((r, n)) if n == raw.len() => r,
            _ => panic!("malformed reply {:?}", String::from_utf8_lossy(&raw)),
        }
    }

    /// Runs a command and returns its reply as the bytes a client would read.
    pub fn run_raw<A: AsRef<[u8]>>(&mut self, argv: &[A]) -> Vec<u8> {
        let resp = self.resp;
        let mut out = Vec::new();
        let name = argv.first().map(|a| a.as_ref()).unwrap_or_default();
        let Some(i) =
            self.commands.iter().position(|(d, _)| d.name.as_bytes().eq_ignore_ascii_case(name))
        else {
            encode_error(
                &mut out,
                &format!("ERR unknown command '{}'", String::from_utf8_lossy(name)),
            );
            return out;
        };
        let (arity, argc) = (self.commands[i].0.arity, argv.len() as i32);
        if (arity > 0 && argc != arity) || (arity < 0 && argc < -arity) {
            let n = self.commands[i].0.name.to_lowercase();
            encode_error(&mut out, Error::wrong_arity(&n).message());
            return out;
        }
        let args: Vec<RSlice<u8>> = argv.iter().map(|a| RSlice::from_slice(a.as_ref())).collect();
        let mut on_call = self.on_call.take();
        self.replicated.clear();
        let argv_owned: Vec<Vec<u8>> = argv.iter().map(|a| a.as_ref().to_vec()).collect();
        let result = {
            let mut ctx = TestCtx {
                out: &mut out,
                resp,
                tracker: ReplyTracker::default(),
                on_call: &mut on_call,
                logs: &self.logs,
                argv: &argv_owned,
                notified: &self.notified,
                replicated: &mut self.replicated,
            };
            let r = {
                let to = HostCtx_TO::from_ptr(RMut::new(&mut ctx), TD_Opaque);
                self.commands[i].1.call(to, RSlice::from_slice(&args))
            };
            match r {
                ROk(()) if !ctx.tracker.complete() => Err(format!(
                    "ERR module command '{}' did not write exactly one reply",
                    self.commands[i].0.name
                )),
                ROk(()) => Ok(()),
                RErr(e) => Err(e.into_string()),
            }
        };
        self.on_call = on_call;
        if let Err(e) = result {
            out.clear();
            encode_error(&mut out, &e);
        }
        out
    }
}

struct TestInit<'a> {
    m: &'a mut TestModule,
}

impl InitHost for TestInit<'_> {
    fn register_command(
        &mut self,
        def: CommandDef,
        handler: CommandHandler_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        if self.m.commands.iter().any(|(d, _)| d.name.eq_ignore_ascii_case(&def.name)) {
            return RErr(format!("ERR command '{}' is already registered", def.name).into());
        }
        self.m.commands.push((def, handler));
        ROk(())
    }

    fn log(&self, level: LogLevel, msg: RStr<'_>) {
        self.m.logs.borrow_mut().push((level, msg.to_string()));
    }

    fn api_minor(&self) -> u32 {
        API_MINOR
    }

    // ---- keyspace and server events, replication control (API 1.1) ----
    fn subscribe_keyspace(
        &mut self,
        classes: u32,
        listener: KeyspaceListener_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        self.m.keyspace.push((classes, listener));
        ROk(())
    }

    fn subscribe_server_event(
        &mut self,
        event: u32,
        listener: ServerEventListener_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        self.m.server_events.push((event, listener));
        ROk(())
    }
}

struct TestCtx<'a> {
    out: &'a mut Vec<u8>,
    resp: u8,
    tracker: ReplyTracker,
    on_call: &'a mut Option<CallFn>,
    logs: &'a RefCell<Vec<(LogLevel, String)>>,
    argv: &'a [Vec<u8>],
    notified: &'a RefCell<Vec<(u32, String, Vec<u8>)>>,
    replicated: &'a mut Vec<Vec<Vec<u8>>>,
}

fn line(out: &mut Vec<u8>, prefix: u8, s: &[u8]) {
    out.push(prefix);
    out.extend(s.iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }));
    out.extend_from_slice(b"\r\n");
}

fn encode_error(out: &mut Vec<u8>, msg: &str) {
    line(out, b'-', msg.as_bytes());
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn fmt_double(d: f64) -> String {
    if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{d}")
    }
}

impl TestCtx<'_> {
    fn header(kind: Aggregate, len: u64, resp3: bool) -> Option<Vec<u8>> {
        let (p, n) = match (kind, resp3) {
            (Aggregate::Array, _) | (Aggregate::Set, false) => (b'*', len),
            (Aggregate::Map, true) => (b'%', len),
            (Aggregate::Map, false) => (b'*', 2 * len),
            (Aggregate::Set, true) => (b'~', len),
            (Aggregate::Attribute, true) => (b'|', len),
            (Aggregate::Attribute, false) => return None,
        };
        Some(format!("{}{n}\r\n", p as char).into_bytes())
    }
}

impl HostCtx for TestCtx<'_> {
    fn resp(&self) -> u8 {
        self.resp
    }
    fn client_id(&self) -> u64 {
        1
    }
    fn db(&self) -> i64 {
        0
    }
    fn reply_simple(&mut self, s: RStr<'_>) {
        line(self.out, b'+', s.as_bytes());
        self.tracker.value();
    }
    fn reply_error(&mut self, s: RStr<'_>) {
        line(self.out, b'-', s.as_bytes());
        self.tracker.value();
    }
    fn reply_int(&mut self, n: i64) {
        self.out.extend_from_slice(format!(":{n}\r\n").as_bytes());
        self.tracker.value();
    }
    fn reply_bulk(&mut self, b: RSlice<'_, u8>) {
        bulk(self.out, &b);
        self.tracker.value();
    }
    fn reply_null(&mut self) {
        self.out.extend_from_slice(if self.resp == 3 { b"_\r\n" } else { b"$-1\r\n" });
        self.tracker.value();
    }
    fn reply_null_array(&mut self) {
        self.out.extend_from_slice(if self.resp == 3 { b"_\r\n" } else { b"*-1\r\n" });
        self.tracker.value();
    }
    fn reply_double(&mut self, d: f64) {
        let s = fmt_double(d);
        if self.resp == 3 {
            line(self.out, b',', s.as_bytes());
        } else {
            bulk(self.out, s.as_bytes());
        }
        self.tracker.value();
    }
    fn reply_bool(&mut self, b: bool) {
        let s: &[u8] = match (self.resp == 3, b) {
            (true, true) => b"#t\r\n",
            (true, false) => b"#f\r\n",
            (false, true) => b":1\r\n",
            (false, false) => b":0\r\n",
        };
        self.out.extend_from_slice(s);
        self.tracker.value();
    }
    fn reply_big_number(&mut self, digits: RStr<'_>) {
        if self.resp == 3 {
            line(self.out, b'(', digits.as_bytes());
        } else {
            bulk(self.out, digits.as_bytes());
        }
        self.tracker.value();
    }
    fn reply_verbatim(&mut self, format: RStr<'_>, text: RSlice<'_, u8>) {
        if self.resp == 3 {
            self.out.extend_from_slice(format!("={}\r\n{format}:", text.len() + 4).as_bytes());
            self.out.extend_from_slice(&text);
            self.out.extend_from_slice(b"\r\n");
        } else {
            bulk(self.out, &text);
        }
        self.tracker.value();
    }
    fn reply_aggregate(&mut self, kind: Aggregate, len: u64) -> bool {
        match Self::header(kind, len, self.resp == 3) {
            Some(h) => {
                self.out.extend_from_slice(&h);
                self.tracker.aggregate(kind, len);
                true
            }
            None => false,
        }
    }
    fn reply_postponed(&mut self, kind: Aggregate) -> u32 {
        if kind == Aggregate::Attribute && self.resp != 3 {
            return 0;
        }
        self.tracker.postpone(kind, self.out.len())
    }
    fn set_postponed_len(&mut self, handle: u32, len: u64) {
        if let Some((kind, at)) = self.tracker.close(handle, len) {
            let h = Self::header(kind, len, self.resp == 3).unwrap_or_default();
            self.out.splice(at..at, h);
        }
    }
    fn call(&mut self, argv: RSlice<'_, RSlice<'_, u8>>) -> CallReply {
        let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
        let r = match self.on_call.as_mut() {
            Some(f) => f(&argv),
            None => Reply::error("ERR TestModule has no on_call handler"),
        };
        CallReply::from(&r)
    }
    fn log(&self, level: LogLevel, msg: RStr<'_>) {
        self.logs.borrow_mut().push((level, msg.to_string()));
    }
    fn api_minor(&self) -> u32 {
        API_MINOR
    }

    // ---- keyspace and server events, replication control (API 1.1) ----
    fn notify_keyspace_event(&mut self, class: u32, event: RStr<'_>, key: RSlice<'_, u8>) {
        self.notified.borrow_mut().push((class, event.to_string(), key.to_vec()));
    }
    fn replicate_verbatim(&mut self) {
        self.replicated.push(self.argv.to_vec());
    }
    fn replicate(&mut self, argv: RSlice<'_, RSlice<'_, u8>>) -> RResult<(), RString> {
        if argv.is_empty() {
            return RErr("ERR empty command".into());
        }
        self.replicated.push(argv.iter().map(|a| a.to_vec()).collect());
        ROk(())
    }
}

// ---- keyspace and server events, replication control (API 1.1) ----

impl TestModule {
    /// Delivers keyspace event `event` of `class` on `key` of `db` to the module's listeners
    /// of that class, as the server would after a command.
    pub fn keyspace_event(&mut self, db: i64, class: u32, event: &str, key: &[u8]) {
        let mut on_call = self.on_call.take();
        for (classes, l) in &self.keyspace {
            if classes & class != 0 {
                let mut h = TestEvents {
                    db,
                    on_call: &mut on_call,
                    logs: &self.logs,
                    notified: &self.notified,
                };
                let to = EventHost_TO::from_ptr(RMut::new(&mut h), TD_Opaque);
                l.on_event(to, db, class, RStr::from_str(event), RSlice::from_slice(key));
            }
        }
        self.on_call = on_call;
    }

    /// Delivers a server event to the module's listeners of its kind.
    pub fn server_event(&mut self, event: ServerEventData) {
        let mut on_call = self.on_call.take();
        for (kind, l) in &self.server_events {
            if *kind == event.event {
                let mut h = TestEvents {
                    db: event.db.max(0),
                    on_call: &mut on_call,
                    logs: &self.logs,
                    notified: &self.notified,
                };
                let to = EventHost_TO::from_ptr(RMut::new(&mut h), TD_Opaque);
                l.on_event(to, event.clone());
            }
        }
        self.on_call = on_call;
    }

    /// The keyspace events the module raised, oldest first: (class, event, key).
    pub fn notified(&self) -> Vec<(u32, String, Vec<u8>)> {
        self.notified.borrow().clone()
    }

    /// What the last command asked to replicate, in order.
    pub fn replicated(&self) -> &[Vec<Vec<u8>>] {
        &self.replicated
    }
}

struct TestEvents<'a> {
    db: i64,
    on_call: &'a mut Option<CallFn>,
    logs: &'a RefCell<Vec<(LogLevel, String)>>,
    notified: &'a RefCell<Vec<(u32, String, Vec<u8>)>>,
}

impl EventHost for TestEvents<'_> {
    fn db(&self) -> i64 {
        self.db
    }
    fn call(&mut self, argv: RSlice<'_, RSlice<'_, u8>>) -> CallReply {
        let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
        let r = match self.on_call.as_mut() {
            Some(f) => f(&argv),
            None => Reply::error("ERR TestModule has no on_call handler"),
        };
        CallReply::from(&r)
    }
    fn notify_keyspace_event(&mut self, class: u32, event: RStr<'_>, key: RSlice<'_, u8>) {
        self.notified.borrow_mut().push((class, event.to_string(), key.to_vec()));
    }
    fn log(&self, level: LogLevel, msg: RStr<'_>) {
        self.logs.borrow_mut().push((level, msg.to_string()));
    }
    fn api_minor(&self) -> u32 {
        API_MINOR
    }
}

/// Decodes one RESP2/RESP3 reply; the reply and the bytes it took.
pub fn decode(b: &[u8]) -> Option<(Reply, usize)> {
    let end = b.windows(2).position(|w| w == b"\r\n")?;
    let head = std::str::from_utf8(&b[1..end]).ok()?;
    let rest = end + 2;
    let text = || head.to_string();
    let int = || head.parse::<i64>().ok();
    let many = |n: i64, mut at: usize| -> Option<(Vec<Reply>, usize)> {
        let mut v = Vec::new();
        for _ in 0..n {
            let (r, used) = decode(&b[at..])?;
            v.push(r);
            at += used;
        }
        Some((v, at))
    };
    Some(match b[0] {
        b'+' => (Reply::Simple(text()), rest),
        b'-' => (Reply::Error(text()), rest),
        b':' => (Reply::Int(int()?), rest),
        b'_' => (Reply::Null, rest),
        b'#' => (Reply::Bool(head == "t"), rest),
        b',' => (Reply::Double(head.parse().ok()?), rest),
        b'(' => (Reply::BigNumber(text()), rest),
        b'$' | b'=' => {
            let n = int()?;
            if n < 0 {
                return Some((Reply::Null, rest));
            }
            let body = b.get(rest..rest + n as usize)?.to_vec();
            let used = rest + n as usize + 2;
            if b[0] == b'=' {
                let fmt = String::from_utf8_lossy(body.get(..3)?).into_owned();
                (Reply::Verbatim(fmt, body.get(4..)?.to_vec()), used)
            } else {
                (Reply::Bulk(body), used)
            }
        }
        b'*' | b'~' | b'>' => {
            let n = int()?;
            if n < 0 {
                return Some((Reply::NullArray, rest));
            }
            let (v, at) = many(n, rest)?;
            (if b[0] == b'~' { Reply::Set(v) } else { Reply::Array(v) }, at)
        }
        b'%' | b'|' => {
            let (v, at) = many(2 * int()?, rest)?;
            let mut it = v.into_iter();
            let mut pairs = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            if b[0] == b'|' {
                // An attribute: the value it describes follows.
                let (r, used) = decode(&b[at..])?;
                return Some((r, at + used));
            }
            (Reply::Map(pairs), at)
        }
        _ => return None,
    })
}
