//! The SDK through the in-process test host: registration, arguments, every reply type on
//! RESP2 and RESP3, postponed lengths, calls, errors and panics.

use vireo_module_api::testing::TestModule;
use vireo_module_api::*;

fn echo(ctx: &mut Context, args: &Args) -> CommandResult {
    ctx.reply_bulk(args.bytes(1)?);
    Ok(())
}

fn add(ctx: &mut Context, args: &Args) -> CommandResult {
    let mut p = args.parser();
    let (a, b) = (p.next_i64()?, p.next_f64()?);
    p.done()?;
    ctx.reply_double(a as f64 + b);
    Ok(())
}

fn kinds(ctx: &mut Context, _args: &Args) -> CommandResult {
    ctx.reply_map(4);
    ctx.reply_simple("bool");
    ctx.reply_bool(true);
    ctx.reply_simple("set");
    ctx.reply_set(1);
    ctx.reply_int(7);
    ctx.reply_simple("big");
    ctx.reply_big_number("123456789012345678901234567890");
    ctx.reply_simple("verbatim");
    ctx.reply_verbatim("txt", "hi");
    Ok(())
}

fn postponed(ctx: &mut Context, args: &Args) -> CommandResult {
    let n = args.i64(1)?;
    let outer = ctx.reply_array_postponed();
    for i in 0..n {
        let inner = ctx.reply_map_postponed();
        ctx.reply_bulk(i.to_string());
        ctx.reply_null();
        ctx.set_len(inner, 1);
    }
    ctx.set_len(outer, n as usize);
    Ok(())
}

fn twice(ctx: &mut Context, _args: &Args) -> CommandResult {
    ctx.reply_int(1);
    ctx.reply_int(2);
    Ok(())
}

fn half(ctx: &mut Context, _args: &Args) -> CommandResult {
    ctx.reply_array(2);
    ctx.reply_int(1);
    Err(Error::new("WRONGTYPE nope"))
}

fn boom(_ctx: &mut Context, _args: &Args) -> CommandResult {
    panic!("kaboom\r\nline two");
}

fn ping(ctx: &mut Context, _args: &Args) -> CommandResult {
    ctx.log(LogLevel::Notice, "pinging");
    let r = ctx.call(&["PING"]);
    ctx.reply_value(&r);
    Ok(())
}

fn init(ctx: &mut InitContext, args: &[String]) -> Result<(), Error> {
    if args.first().is_some_and(|a| a == "fail") {
        return Err(Error::new("refusing to load"));
    }
    ctx.log(LogLevel::Notice, "loading");
    ctx.register(Command::new("t.echo", echo).arity(2).flags("readonly fast").acl("@fast"))?;
    ctx.register(Command::new("t.add", add).arity(3))?;
    ctx.register(Command::new("t.kinds", kinds).arity(1))?;
    ctx.register(Command::new("t.postponed", postponed).arity(2))?;
    ctx.register(Command::new("t.twice", twice))?;
    ctx.register(Command::new("t.half", half))?;
    ctx.register(Command::new("t.boom", boom))?;
    ctx.register(Command::new("t.ping", ping))?;
    let count = std::sync::atomic::AtomicI64::new(0);
    ctx.register(Command::new("t.count", move |ctx: &mut Context, _: &Args| {
        ctx.reply_int(count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
        Ok(())
    }))
}

fn load() -> TestModule {
    TestModule::load("t", init, &[]).unwrap()
}

#[test]
fn registers_commands() {
    let m = load();
    let names: Vec<String> = m.commands().map(|d| d.name.to_string()).collect();
    assert_eq!(names[0], "t.echo");
    let echo = m.commands().next().unwrap();
    assert_eq!(
        (echo.arity, echo.flags.as_str(), echo.acl_categories.as_str()),
        (2, "readonly fast", "fast")
    );
    assert_eq!(m.logs(), vec![(LogLevel::Notice, "loading".to_string())]);
    assert_eq!(
        TestModule::load("t", init, &["fail"]).err(),
        Some(Error::new("ERR refusing to load"))
    );
}

#[test]
fn duplicate_names_are_refused() {
    fn dup(ctx: &mut InitContext, _: &[String]) -> Result<(), Error> {
        ctx.register(Command::new("x", echo))?;
        ctx.register(Command::new("X", echo))
    }
    assert!(TestModule::load("d", dup, &[]).is_err());
}

#[test]
fn arguments_and_errors() {
    let mut m = load();
    assert_eq!(m.run(&["t.echo", "hi"]), Reply::bulk("hi"));
    assert_eq!(m.run(&["T.ECHO", "hi"]), Reply::bulk("hi"));
    assert_eq!(
        m.run(&["t.echo"]),
        Reply::error("ERR wrong number of arguments for 't.echo' command")
    );
    assert_eq!(m.run(&["t.add", "2", "0.5"]), Reply::Bulk(b"2.5".to_vec()));
    assert_eq!(
        m.run(&["t.add", "x", "0.5"]),
        Reply::error("ERR value is not an integer or out of range")
    );
    assert_eq!(m.run(&["t.add", "1", "nan"]), Reply::error("ERR value is not a valid float"));
    assert_eq!(m.run(&["t.count"]), Reply::Int(1));
    assert_eq!(m.run(&["t.count"]), Reply::Int(2));
}

#[test]
fn resp2_downgrades_and_resp3_types() {
    let mut m = load();
    assert_eq!(
        m.run_raw(&["t.kinds"]),
        b"*8\r\n+bool\r\n:1\r\n+set\r\n*1\r\n:7\r\n+big\r\n$30\r\n123456789012345678901234567890\r\n+verbatim\r\n$2\r\nhi\r\n"
    );
    m.set_resp(3);
    assert_eq!(
        m.run_raw(&["t.kinds"]),
        b"%4\r\n+bool\r\n#t\r\n+set\r\n~1\r\n:7\r\n+big\r\n(123456789012345678901234567890\r\n+verbatim\r\n=6\r\ntxt:hi\r\n"
    );
    assert_eq!(m.run(&["t.add", "1", "1"]), Reply::Double(2.0));
}

#[test]
fn postponed_lengths() {
    let mut m = load();
    assert_eq!(
        m.run_raw(&["t.postponed", "2"]),
        b"*2\r\n*2\r\n$1\r\n0\r\n$-1\r\n*2\r\n$1\r\n1\r\n$-1\r\n"
    );
    assert_eq!(m.run_raw(&["t.postponed", "0"]), b"*0\r\n");
    m.set_resp(3);
    assert_eq!(m.run_raw(&["t.postponed", "1"]), b"*1\r\n%1\r\n$1\r\n0\r\n_\r\n");
}

#[test]
fn one_reply_per_command() {
    let mut m = load();
    assert_eq!(
        m.run(&["t.twice"]),
        Reply::error("ERR module command 't.twice' did not write exactly one reply")
    );
    // An error replaces whatever was written before it.
    assert_eq!(m.run(&["t.half"]), Reply::error("WRONGTYPE nope"));
}

#[test]
fn panics_become_errors() {
    let mut m = load();
    assert_eq!(
        m.run(&["t.boom"]),
        Reply::error("ERR module command 't.boom' panicked: kaboom  line two")
    );
    assert_eq!(m.run(&["t.echo", "still here"]), Reply::bulk("still here"));
}

#[test]
fn calls_and_logs() {
    let mut m = load();
    assert_eq!(m.run(&["t.ping"]), Reply::error("ERR TestModule has no on_call handler"));
    m.on_call(
        |argv| if argv[0] == b"PING" { Reply::simple("PONG") } else { Reply::error("ERR unknown") },
    );
    assert_eq!(m.run(&["t.ping"]), Reply::simple("PONG"));
    assert!(m.logs().contains(&(LogLevel::Notice, "pinging".to_string())));
}
