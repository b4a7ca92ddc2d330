//! The hello module: commands, argument parsing, every reply type, calling other commands.
//!
//! Load it with `loadmodule /path/to/libvireo_hello.so [greeting]` in the configuration, or
//! `MODULE LOAD /path/to/libvireo_hello.so [greeting]`.
#![forbid(unsafe_code)]

use vireo_module_api::{
    vireo_module, Args, Command, CommandResult, Context, Error, InitContext, KeySpec, LogLevel,
    Reply,
};

/// HELLO.ECHO message: replies its argument, as ECHO.
fn echo(ctx: &mut Context, args: &Args) -> CommandResult {
    ctx.reply_bulk(args.bytes(1)?);
    Ok(())
}

/// HELLO.ADD integer double: their sum, as a double.
fn add(ctx: &mut Context, args: &Args) -> CommandResult {
    let mut p = args.parser();
    let a = p.next_i64()?;
    let b = p.next_f64()?;
    p.done()?;
    ctx.reply_double(a as f64 + b);
    Ok(())
}

/// HELLO.TYPES: a map naming one reply of every type (RESP2 clients see them downgraded).
fn types(ctx: &mut Context, _args: &Args) -> CommandResult {
    let map = ctx.reply_map_postponed();
    let mut pairs = 0;
    let mut pair = |ctx: &mut Context, name: &str, value: &dyn Fn(&mut Context)| {
        ctx.reply_simple(name);
        value(ctx);
        pairs += 1;
    };
    pair(ctx, "simple", &|c| c.reply_simple("OK"));
    pair(ctx, "error", &|c| c.reply_error("ERR an error inside a reply"));
    pair(ctx, "int", &|c| c.reply_int(-42));
    pair(ctx, "bulk", &|c| c.reply_bulk(b"bytes\x00\xff"));
    pair(ctx, "null", &|c| c.reply_null());
    pair(ctx, "double", &|c| c.reply_double(3.5));
    pair(ctx, "bool", &|c| c.reply_bool(true));
    pair(ctx, "bignum", &|c| c.reply_big_number("1234567890123456789012345678901234567890"));
    pair(ctx, "verbatim", &|c| c.reply_verbatim("txt", "some text"));
    pair(ctx, "array", &|c| {
        c.reply_array(2);
        c.reply_int(1);
        c.reply_int(2);
    });
    pair(ctx, "set", &|c| {
        c.reply_set(1);
        c.reply_bulk("member");
    });
    pair(ctx, "postponed", &|c| {
        let a = c.reply_array_postponed();
        for i in 0..3 {
            c.reply_int(i);
        }
        c.set_len(a, 3);
    });
    pair(ctx, "value", &|c| c.reply(Reply::array([Reply::ok(), Reply::Int(7), Reply::Null])));
    ctx.set_len(map, pairs);
    Ok(())
}

/// HELLO.CALL command [arg ...]: runs the command and replies with its reply.
fn call(ctx: &mut Context, args: &Args) -> CommandResult {
    let argv: Vec<&[u8]> = args.iter().skip(1).collect();
    let r = ctx.call(&argv);
    ctx.reply_value(&r);
    Ok(())
}

/// HELLO.SETGET key value: SET then GET through `call`; replies the value read back.
fn setget(ctx: &mut Context, args: &Args) -> CommandResult {
    let (key, value) = (args.bytes(1)?, args.bytes(2)?);
    if let Reply::Error(e) = ctx.call(&[&b"SET"[..], key, value]) {
        return Err(Error::new(e));
    }
    let got = ctx.call(&[&b"GET"[..], key]);
    ctx.reply_value(&got);
    Ok(())
}

/// HELLO.PANIC: panics (the server replies an error and goes on).
fn panics(_ctx: &mut Context, _args: &Args) -> CommandResult {
    panic!("hello.panic was called");
}

fn init(ctx: &mut InitContext, args: &[String]) -> Result<(), Error> {
    if args.first().is_some_and(|a| a == "fail") {
        return Err(Error::err("hello was told to fail"));
    }
    let greeting = args.first().cloned().unwrap_or_else(|| "hello".to_string());
    ctx.log(LogLevel::Notice, &format!("hello module loaded with greeting '{greeting}'"));
    ctx.register(
        Command::new("hello.echo", echo)
            .arity(2)
            .flags("fast")
            .acl("connection")
            .summary("Returns the given string"),
    )?;
    ctx.register(
        Command::new("hello.add", add)
            .arity(3)
            .flags("fast")
            .summary("Adds an integer and a double"),
    )?;
    ctx.register(Command::new("hello.types", types).arity(1).summary("One reply of every type"))?;
    ctx.register(Command::new("hello.call", call).arity(-2).summary("Runs a command"))?;
    ctx.register(
        Command::new("hello.setget", setget)
            .arity(3)
            .flags("write deny-oom")
            .key_spec(KeySpec::range("RW UPDATE", 1, 1, 1))
            .acl("string")
            .summary("Sets a key and reads it back"),
    )?;
    ctx.register(Command::new("hello.panic", panics).arity(1))?;
    ctx.register(
        Command::new("hello.greet", move |ctx: &mut Context, args: &Args| {
            let who = args.get(1).map(String::from_utf8_lossy).unwrap_or_default();
            ctx.reply_simple(format!("{greeting} {who}").trim_end());
            Ok(())
        })
        .arity(-1)
        .flags("fast"),
    )
}

vireo_module! {
    name: "hello",
    version: 1,
    init: init,
}

#[cfg(test)]
mod tests {
    use super::*;
    use vireo_module_api::testing::TestModule;

    #[test]
    fn echo_add_greet() {
        let mut m = TestModule::load("hello", init, &["hi"]).unwrap();
        assert_eq!(m.run(&["hello.echo", "x"]), Reply::bulk("x"));
        assert_eq!(m.run(&["hello.add", "1", "0.5"]), Reply::bulk("1.5"));
        assert_eq!(
            m.run(&["hello.add", "1.5", "1"]),
            Reply::error("ERR value is not an integer or out of range")
        );
        assert_eq!(m.run(&["hello.greet", "you"]), Reply::simple("hi you"));
        assert!(TestModule::load("hello", init, &["fail"]).is_err());
    }

    #[test]
    fn types_on_both_protocols() {
        let mut m = TestModule::load("hello", init, &[]).unwrap();
        let Reply::Array(flat) = m.run(&["hello.types"]) else { panic!("RESP2 map is an array") };
        assert_eq!(flat.len(), 26);
        m.set_resp(3);
        let Reply::Map(pairs) = m.run(&["hello.types"]) else { panic!("RESP3 map") };
        assert_eq!(pairs[6], (Reply::simple("bool"), Reply::Bool(true)));
        assert_eq!(pairs[11].1, Reply::Array(vec![Reply::Int(0), Reply::Int(1), Reply::Int(2)]));
    }

    #[test]
    fn setget_goes_through_call() {
        let mut m = TestModule::load("hello", init, &[]).unwrap();
        let mut store = std::collections::HashMap::new();
        m.on_call(move |argv| match argv[0].as_slice() {
            b"SET" => {
                store.insert(argv[1].clone(), argv[2].clone());
                Reply::ok()
            }
            b"GET" => store.get(&argv[1]).cloned().map_or(Reply::Null, Reply::Bulk),
            _ => Reply::error("ERR unknown command"),
        });
        assert_eq!(m.run(&["hello.setget", "k", "v"]), Reply::bulk("v"));
    }
}
