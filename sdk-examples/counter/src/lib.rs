//! The counter module: a custom data type (`counter_t`) with RDB persistence, AOF rewrite,
//! copy, memory usage and aux data.
//!
//! Commands:
//! - `COUNTER.INCRBY key n`: adds `n` to the counter at `key` (created at 0), replies the new
//!   value.
//! - `COUNTER.GET key`: the value, or nil.
//! - `COUNTER.RESET key`: sets it to 0, replies the old value (nil when missing).
//! - `COUNTER.INFO key`: `[value, updates]`, how many INCRBYs changed it since it was created.
//! - `COUNTER.TOTAL`: how many INCRBYs ran, on every key, since the data set was created (kept
//!   in the RDB file's aux data, after the keyspace).
//! - `COUNTER.LOAD key value updates`: sets a counter whole (what an AOF rewrite writes).
//!
//! Load it with `loadmodule /path/to/libvireo_counter.so`.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use vireo_module_api::{
    vireo_module, AofRewriter, Args, Command, CommandResult, Context, DataType, Error, InitContext,
    RdbReader, RdbWriter, AUX_AFTER_RDB,
};

/// A counter: its value and how many increments changed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counter {
    pub value: i64,
    pub updates: u64,
}

impl DataType for Counter {
    const NAME: &'static str = "counter_t";
    /// Version 0 saved the value only; version 1 adds the update count.
    const ENCVER: u32 = 1;

    fn rdb_save(&self, w: &mut RdbWriter) {
        w.save_signed(self.value);
        w.save_unsigned(self.updates);
    }

    fn rdb_load(r: &mut RdbReader, encver: u32) -> Result<Self, Error> {
        match encver {
            0 => Ok(Counter { value: r.load_signed()?, updates: 0 }),
            1 => Ok(Counter { value: r.load_signed()?, updates: r.load_unsigned()? }),
            v => {
                Err(Error::err(format!("counter_t encoding version {v} is newer than this module")))
            }
        }
    }

    fn aof_rewrite(&self, key: &[u8], out: &mut AofRewriter) {
        let (v, u) = (self.value.to_string(), self.updates.to_string());
        out.emit(&[&b"COUNTER.LOAD"[..], key, v.as_bytes(), u.as_bytes()]);
    }

    fn mem_usage(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

/// COUNTER.INCRBY key n
fn incrby(ctx: &mut Context, args: &Args, total: &AtomicU64) -> CommandResult {
    let key = args.bytes(1)?;
    let n = args.i64(2)?;
    let v = match ctx.get_value_mut::<Counter>(key)? {
        Some(c) => {
            c.value = c
                .value
                .checked_add(n)
                .ok_or(Error::err("increment or decrement would overflow"))?;
            c.updates += 1;
            c.value
        }
        None => {
            ctx.set_value(key, Counter { value: n, updates: 1 })?;
            n
        }
    };
    total.fetch_add(1, Ordering::Relaxed);
    ctx.reply_int(v);
    Ok(())
}

/// COUNTER.GET key
fn get(ctx: &mut Context, args: &Args) -> CommandResult {
    match ctx.get_value::<Counter>(args.bytes(1)?)? {
        Some(c) => {
            let v = c.value;
            ctx.reply_int(v)
        }
        None => ctx.reply_null(),
    }
    Ok(())
}

/// COUNTER.RESET key
fn reset(ctx: &mut Context, args: &Args) -> CommandResult {
    match ctx.get_value_mut::<Counter>(args.bytes(1)?)? {
        Some(c) => {
            let old = std::mem::replace(&mut c.value, 0);
            ctx.reply_int(old)
        }
        None => ctx.reply_null(),
    }
    Ok(())
}

/// COUNTER.INFO key
fn info(ctx: &mut Context, args: &Args) -> CommandResult {
    match ctx.get_value::<Counter>(args.bytes(1)?)?.cloned() {
        Some(c) => {
            ctx.reply_array(2);
            ctx.reply_int(c.value);
            ctx.reply_int(c.updates as i64);
        }
        None => ctx.reply_null(),
    }
    Ok(())
}

/// COUNTER.LOAD key value updates
fn load(ctx: &mut Context, args: &Args) -> CommandResult {
    let key = args.bytes(1)?;
    let value = args.i64(2)?;
    let updates = u64::try_from(args.i64(3)?).map_err(|_| Error::NOT_INT)?;
    ctx.set_value(key, Counter { value, updates })?;
    ctx.reply_ok();
    Ok(())
}

pub fn init(ctx: &mut InitContext, _args: &[String]) -> Result<(), Error> {
    // The module's state: INCRBYs since the data set was created, saved as aux data.
    let total = Arc::new(AtomicU64::new(0));
    let (t1, t2, t3) = (total.clone(), total.clone(), total.clone());
    ctx.register_type_with_aux::<Counter>(
        AUX_AFTER_RDB,
        move |_when, w| w.save_unsigned(t1.load(Ordering::Relaxed)),
        move |r, _encver, _when| {
            t2.store(r.load_unsigned()?, Ordering::Relaxed);
            Ok(())
        },
    )?;
    ctx.register(
        Command::new("counter.incrby", move |c, a| incrby(c, a, &t3))
            .arity(3)
            .flags("write deny-oom fast")
            .keys(1, 1, 1)
            .summary("Adds n to a counter, creating it at 0"),
    )?;
    ctx.register(
        Command::new("counter.get", get)
            .arity(2)
            .flags("readonly fast")
            .key_spec(vireo_module_api::KeySpec::range("RO ACCESS", 1, 1, 1))
            .summary("The value of a counter"),
    )?;
    ctx.register(
        Command::new("counter.reset", reset)
            .arity(2)
            .flags("write fast")
            .keys(1, 1, 1)
            .summary("Sets a counter to 0, replying its old value"),
    )?;
    ctx.register(
        Command::new("counter.info", info)
            .arity(2)
            .flags("readonly fast")
            .key_spec(vireo_module_api::KeySpec::range("RO ACCESS", 1, 1, 1))
            .summary("A counter's value and update count"),
    )?;
    ctx.register(
        Command::new("counter.total", move |c, _| {
            c.reply_int(total.load(Ordering::Relaxed) as i64);
            Ok(())
        })
        .arity(1)
        .flags("readonly fast")
        .summary("INCRBYs since the data set was created"),
    )?;
    ctx.register(
        Command::new("counter.load", load)
            .arity(4)
            .flags("write deny-oom")
            .keys(1, 1, 1)
            .summary("Sets a counter whole (what an AOF rewrite writes)"),
    )
}

vireo_module! {
    name: "counter",
    version: 1,
    init: init,
}

#[cfg(test)]
mod tests {
    use super::*;
    use vireo_module_api::abi::RdbItem;
    use vireo_module_api::testing::TestModule;
    use vireo_module_api::Reply;

    #[test]
    fn counts_and_persists() {
        let mut m = TestModule::load("counter", init, &[]).unwrap();
        assert_eq!(m.run(&["counter.incrby", "c", "5"]), Reply::Int(5));
        assert_eq!(m.run(&["counter.incrby", "c", "-2"]), Reply::Int(3));
        assert_eq!(m.run(&["counter.get", "c"]), Reply::Int(3));
        assert_eq!(m.run(&["counter.get", "nope"]), Reply::Null);
        assert_eq!(m.key_type("c"), "counter_t");
        assert_eq!(m.get_value::<Counter>("c"), Some(&Counter { value: 3, updates: 2 }));

        // Through the serializer and back, as a restart from an RDB file.
        assert_eq!(m.rdb_items("c").unwrap(), vec![RdbItem::Signed(3), RdbItem::Unsigned(2)]);
        m.rdb_round_trip("c").unwrap();
        assert_eq!(m.run(&["counter.info", "c"]), Reply::array([Reply::Int(3), Reply::Int(2)]));
        // A version 0 value (the value only) still loads.
        m.rdb_load("old", "counter_t", &[RdbItem::Signed(7)], 0).unwrap();
        assert_eq!(m.get_value::<Counter>("old"), Some(&Counter { value: 7, updates: 0 }));
        // A truncated or mistyped value is refused.
        assert!(m.rdb_load("bad", "counter_t", &[RdbItem::Signed(7)], 1).is_err());
        assert!(m.rdb_load("bad", "counter_t", &[RdbItem::Bytes("x".into())], 0).is_err());

        let cmds = m.aof_rewrite("c").unwrap();
        assert_eq!(
            cmds,
            vec![vec![b"COUNTER.LOAD".to_vec(), b"c".to_vec(), b"3".to_vec(), b"2".to_vec()]]
        );
        m.copy("c", "d").unwrap();
        assert_eq!(m.run(&["counter.reset", "c"]), Reply::Int(3));
        assert_eq!(m.run(&["counter.get", "d"]), Reply::Int(3), "a copy is independent");
        assert_eq!(m.mem_usage("c").unwrap(), 16);

        // Aux data: the INCRBY total.
        assert_eq!(m.run(&["counter.total"]), Reply::Int(2));
        assert_eq!(
            m.aux_round_trip("counter_t", AUX_AFTER_RDB).unwrap(),
            vec![RdbItem::Unsigned(2)]
        );
    }

    #[test]
    fn wrong_type_and_errors() {
        let mut m = TestModule::load("counter", init, &[]).unwrap();
        m.set_key_type("s", "string");
        assert_eq!(m.run(&["counter.incrby", "s", "1"]), Reply::error(Error::WRONG_TYPE.message()));
        assert_eq!(m.run(&["counter.get", "s"]), Reply::error(Error::WRONG_TYPE.message()));
        assert_eq!(m.run(&["counter.incrby", "c", "x"]), Reply::error(Error::NOT_INT.message()));
        m.run(&["counter.incrby", "c", &i64::MAX.to_string()]);
        assert_eq!(
            m.run(&["counter.incrby", "c", "1"]),
            Reply::error("ERR increment or decrement would overflow")
        );
        assert_eq!(m.types().next().map(|d| (d.name.as_str(), d.encver)), Some(("counter_t", 1)));
    }
}
