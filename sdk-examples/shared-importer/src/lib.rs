//! A module that imports the `example.counter` API another module exports (see
//! `sdk-examples/shared-exporter`). The import happens at the first command that needs it, so
//! the two modules may load in any order (Redis's recommended pattern); once imported, the
//! exporter cannot be unloaded while this module is loaded.
//!
//! - `IMPORTER.INCR key [by]`: adds to the exporter's counter `key`; returns the new value.
//! - `IMPORTER.OWNER`: the exporter's name and the API version imported.
#![forbid(unsafe_code)]

use std::sync::{Arc, Mutex};

use vireo_example_shared_api::{CounterApi, RStr, NAME, VERSION};
use vireo_module_api::*;

/// The imported API, once imported.
type Slot = Arc<Mutex<Option<Shared<CounterApi>>>>;

fn api(ctx: &mut Context, slot: &Slot) -> Result<Shared<CounterApi>, Error> {
    let mut s = slot.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(a) = s.as_ref() {
        return Ok(a.clone());
    }
    let a = ctx.import_api::<CounterApi>(NAME, VERSION)?;
    *s = Some(a.clone());
    Ok(a)
}

fn init(ctx: &mut InitContext, _args: &[String]) -> Result<(), Error> {
    let slot: Slot = Arc::default();
    // Imported at once when the exporter is already loaded, else at first use.
    if let Ok(a) = ctx.import_api::<CounterApi>(NAME, VERSION) {
        *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(a);
    }
    let s = slot.clone();
    ctx.register(
        Command::new("importer.incr", move |ctx: &mut Context, args: &Args| {
            let key = args.str(1)?;
            let by = if args.len() > 2 { args.i64(2)? } else { 1 };
            let counter = api(ctx, &s)?;
            ctx.reply_int(counter.add(RStr::from_str(key), by));
            Ok(())
        })
        .arity(-2)
        .flags("fast")
        .summary("Adds to a counter of another module's API"),
    )?;
    ctx.register(
        Command::new("importer.owner", move |ctx: &mut Context, _args: &Args| {
            let counter = api(ctx, &slot)?;
            ctx.reply_array(2);
            ctx.reply_bulk(counter.owner().as_str());
            ctx.reply_int(counter.version().into());
            Ok(())
        })
        .arity(1)
        .flags("fast"),
    )
}

vireo_module! { name: "importer", version: 1, init: init }

#[cfg(test)]
mod tests {
    use super::*;
    use vireo_example_shared_api::{counter_api, Counter, RString};
    use vireo_module_api::testing::TestModule;

    struct Fake(Mutex<i64>);

    impl Counter for Fake {
        fn add(&self, _key: RStr<'_>, by: i64) -> i64 {
            let mut v = self.0.lock().unwrap();
            *v += by;
            *v
        }
        fn get(&self, _key: RStr<'_>) -> i64 {
            *self.0.lock().unwrap()
        }
        fn owner(&self) -> RString {
            "fake".into()
        }
    }

    #[test]
    fn imports_lazily_and_checks_versions() {
        let mut m = TestModule::load("importer", init, &[]).unwrap();
        let e = m.run(&["importer.incr", "k"]);
        assert_eq!(e, Reply::error("ERR no shared API named 'example.counter'"));
        m.provide_api(NAME, TestModule::shared_api(VERSION, counter_api(Fake(Mutex::new(0)))));
        assert_eq!(m.run(&["importer.incr", "k", "5"]), Reply::Int(5));
        assert_eq!(m.run(&["importer.incr", "k"]), Reply::Int(6));
        assert_eq!(
            m.run(&["importer.owner"]),
            Reply::array([Reply::bulk("fake"), Reply::Int(VERSION.into())])
        );
    }

    #[test]
    fn refuses_an_older_version_and_another_type() {
        let old = TestModule::shared_api(0, counter_api(Fake(Mutex::new(0))));
        let mut m = TestModule::load_with_apis("importer", init, &[], &[(NAME, old)]).unwrap();
        assert_eq!(
            m.run(&["importer.incr", "k"]),
            Reply::error("ERR shared API 'example.counter' has version 0, 1 is needed")
        );
        m.provide_api(NAME, TestModule::shared_api(VERSION, 42i64));
        match m.run(&["importer.incr", "k"]) {
            Reply::Error(e) => assert!(e.contains("has a different type"), "{e}"),
            r => panic!("{r:?}"),
        }
    }
}
