//! A module that exports a shared API (`example.counter`, a [`Counter`] trait object from the
//! `vireo-example-shared-api` crate) for other modules, and shows the same counters itself:
//!
//! - `EXPORTER.GET key`: a counter's value.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use vireo_example_shared_api::{counter_api, Counter, RStr, RString, NAME, VERSION};
use vireo_module_api::*;

#[derive(Default)]
struct Counters(Mutex<HashMap<String, i64>>);

impl Counters {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What importers get: a handle on the module's counters.
struct Exported(Arc<Counters>);

impl Counter for Exported {
    fn add(&self, key: RStr<'_>, by: i64) -> i64 {
        let mut m = self.0.map();
        let v = m.entry(key.to_string()).or_insert(0);
        *v = v.saturating_add(by);
        *v
    }

    fn get(&self, key: RStr<'_>) -> i64 {
        self.0.map().get(key.as_str()).copied().unwrap_or(0)
    }

    fn owner(&self) -> RString {
        "exporter".into()
    }
}

fn init(ctx: &mut InitContext, _args: &[String]) -> Result<(), Error> {
    let counters = Arc::new(Counters::default());
    ctx.export_api(NAME, VERSION, counter_api(Exported(counters.clone())))?;
    ctx.register(
        Command::new("exporter.get", move |ctx: &mut Context, args: &Args| {
            let key = args.str(1)?;
            ctx.reply_int(counters.map().get(key).copied().unwrap_or(0));
            Ok(())
        })
        .arity(2)
        .flags("readonly fast")
        .summary("A counter of the exported API"),
    )
}

vireo_module! { name: "exporter", version: 1, init: init }

#[cfg(test)]
mod tests {
    use super::*;
    use vireo_example_shared_api::CounterApi;
    use vireo_module_api::testing::TestModule;

    /// A module that imports the counter in `init` and bumps it.
    fn user(ctx: &mut InitContext, _args: &[String]) -> Result<(), Error> {
        let c = ctx.import_api::<CounterApi>(NAME, VERSION)?;
        assert_eq!(c.add(RStr::from_str("a"), 3), 3);
        Ok(())
    }

    #[test]
    fn exports_the_counter() {
        let mut m = TestModule::load("exporter", init, &[]).unwrap();
        let (name, api) = m.apis().next().map(|(n, a)| (n.to_string(), a.clone())).unwrap();
        assert_eq!((name.as_str(), api.version), (NAME, VERSION));
        // Another module imports it and changes the exporter's counters.
        TestModule::load_with_apis("user", user, &[], &[(NAME, api)]).unwrap();
        assert_eq!(m.run(&["exporter.get", "a"]), Reply::Int(3));
        assert_eq!(m.run(&["exporter.get", "b"]), Reply::Int(0));
    }
}
