//! Module configs and an INFO section. Configs (`CONFIG GET cfgdemo.*`):
//!
//! | config | kind | default |
//! | --- | --- | --- |
//! | `cfgdemo.greeting` | string | `hello` |
//! | `cfgdemo.max-items` | numeric 1..1000, refuses 13 | 100 |
//! | `cfgdemo.cache-size` | memory 0..1gb | 1mb |
//! | `cfgdemo.mode` | enum `fast` / `safe` | `fast` |
//! | `cfgdemo.features` | bitflags `all` (= a b c), `none`, `a`, `b`, `c` | `a b` |
//! | `cfgdemo.enabled` | yes/no | yes |
//! | `cfgdemo.secret` | string, immutable, sensitive, hidden | (empty) |
//! | `cfgdemo.guarded` | yes/no, protected | no |
//!
//! Commands: `CFGDEMO.GREET name` (refused when `enabled` is `no`), `CFGDEMO.GET name` (the
//! value the module sees). INFO sections `cfgdemo_stats` and `cfgdemo_limits`.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use vireo_module_api::*;

/// The module's view of its configs.
#[derive(Clone)]
struct Settings {
    greeting: ConfigCell<String>,
    max_items: ConfigCell<i64>,
    cache_size: ConfigCell<i64>,
    mode: ConfigCell<EnumValue>,
    features: ConfigCell<EnumValue>,
    enabled: ConfigCell<bool>,
    secret: ConfigCell<String>,
}

fn init(ctx: &mut InitContext, _args: &[String]) -> Result<(), Error> {
    let s = Settings {
        greeting: ctx.register_config(ConfigBuilder::string("greeting", "hello"))?,
        max_items: ctx.register_config(
            ConfigBuilder::numeric("max-items", 100, 1, 1000).on_set(|v| {
                if *v == 13 {
                    Err("13 is unlucky".into())
                } else {
                    Ok(())
                }
            }),
        )?,
        cache_size: ctx
            .register_config(ConfigBuilder::numeric("cache-size", 1 << 20, 0, 1 << 30).memory())?,
        mode: ctx.register_config(ConfigBuilder::enumeration(
            "mode",
            &[("fast", 1), ("safe", 2)],
            1,
        ))?,
        features: ctx.register_config(
            ConfigBuilder::enumeration(
                "features",
                &[("all", 7), ("none", 0), ("a", 1), ("b", 2), ("c", 4)],
                3,
            )
            .bitflags(),
        )?,
        enabled: ctx.register_config(ConfigBuilder::bool("enabled", true))?,
        secret: ctx.register_config(
            ConfigBuilder::string("secret", "").immutable().sensitive().hidden(),
        )?,
    };
    ctx.register_config(ConfigBuilder::bool("guarded", false).protected())?;
    // Values from the config file / MODULE LOADEX apply here, so init could read them.
    ctx.load_configs()?;
    ctx.log(LogLevel::Verbose, &format!("greeting is '{}'", s.greeting.get()));

    let calls = Arc::new(AtomicU64::new(0));
    let (c, st) = (calls.clone(), s.clone());
    ctx.register(
        Command::new("cfgdemo.greet", move |ctx: &mut Context, args: &Args| {
            if !st.enabled.get() {
                return Err(Error::err("cfgdemo is disabled"));
            }
            c.fetch_add(1, Ordering::Relaxed);
            ctx.reply_bulk(format!("{} {}", st.greeting.get(), args.str(1)?));
            Ok(())
        })
        .arity(2)
        .flags("readonly fast"),
    )?;
    let st = s.clone();
    ctx.register(
        Command::new("cfgdemo.get", move |ctx: &mut Context, args: &Args| {
            match args.str(1)?.to_ascii_lowercase().as_str() {
                "greeting" => ctx.reply_bulk(st.greeting.get()),
                "max-items" => ctx.reply_int(st.max_items.get()),
                "cache-size" => ctx.reply_int(st.cache_size.get()),
                "mode" => ctx.reply_int(st.mode.get().0.into()),
                "features" => ctx.reply_int(st.features.get().0.into()),
                "enabled" => ctx.reply_bool(st.enabled.get()),
                "secret" => ctx.reply_bulk(st.secret.get()),
                _ => return Err(Error::err("no such setting")),
            }
            Ok(())
        })
        .arity(2)
        .flags("readonly fast"),
    )?;
    ctx.register_info(move |info, _for_crash_report| {
        let n = calls.load(Ordering::Relaxed);
        info.section("stats")
            .field("greetings", n)
            .field("greeting", s.greeting.get())
            .field("ratio", n as f64 / 4.0);
        info.section("limits")
            .field("max_items", s.max_items.get())
            .dict("mode", &[("fast", if s.mode.get().0 == 1 { "1" } else { "0" }), ("x", "y")]);
    })
}

vireo_module! { name: "cfgdemo", version: 3, init: init }

#[cfg(test)]
mod tests {
    use super::*;
    use vireo_module_api::abi::{ConfigValue, InfoValue};
    use vireo_module_api::testing::TestModule;

    #[test]
    fn configs_reach_the_commands() {
        let mut m = TestModule::load("cfgdemo", init, &[]).unwrap();
        assert_eq!(m.config_get("max-items"), Some(ConfigValue::Numeric(100)));
        assert_eq!(m.run(&["cfgdemo.greet", "you"]), Reply::bulk("hello you"));
        m.config_set("greeting", ConfigValue::String(b"hi"[..].into())).unwrap();
        assert_eq!(m.run(&["cfgdemo.greet", "you"]), Reply::bulk("hi you"));
        assert_eq!(
            m.config_set("max-items", ConfigValue::Numeric(13)).unwrap_err(),
            "13 is unlucky"
        );
        assert_eq!(
            m.config_set("max-items", ConfigValue::Numeric(1001)).unwrap_err(),
            "argument must be between 1 and 1000 inclusive"
        );
        assert_eq!(m.run(&["cfgdemo.get", "max-items"]), Reply::Int(100));
        m.config_set("enabled", ConfigValue::Bool(false)).unwrap();
        assert_eq!(m.run(&["cfgdemo.greet", "you"]), Reply::error("ERR cfgdemo is disabled"));
    }

    #[test]
    fn info_sections() {
        let mut m = TestModule::load("cfgdemo", init, &[]).unwrap();
        m.run(&["cfgdemo.greet", "a"]);
        let info = m.info();
        assert_eq!(info.len(), 2);
        assert_eq!(info[0].name.as_str(), "stats");
        assert_eq!(info[0].fields[0].value, InfoValue::UInt(1));
        assert_eq!(info[0].fields[2].value, InfoValue::Double(0.25));
    }
}
