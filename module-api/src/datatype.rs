//! Custom data types (API 1.1): a module's own value type in the keyspace, persisted in RDB
//! files under Redis's module-type id scheme.
//!
//! A type implements [`DataType`] and is registered in `init` with
//! [`InitContext::register_type`]; commands read and write values of it by key name with
//! [`Context::get_value`], [`Context::get_value_mut`] and [`Context::set_value`]. The server
//! keeps each value as an opaque object whose code (save, rewrite, copy, drop) is the module's
//! own; the SDK catches panics in every callback, so none crosses into the server.

use abi_stable::sabi_trait::TD_CanDowncast;
use abi_stable::std_types::{RBox, RErr, ROk, ROption, RResult, RSlice, RStr, RString, RVec};

use crate::abi::{
    DataTypeDef, DataTypeHandler, DataTypeHandler_TO, ModuleValue, ModuleValue_TO, RdbItem,
};
use crate::command::catch_panic as guard;
use crate::{Context, Error, InitContext};

pub use crate::abi::{AUX_AFTER_RDB, AUX_BEFORE_RDB};

/// The characters a type name is made of, in the order of their 6-bit codes in a type id.
const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Whether `name` is a valid data type name: exactly 9 characters of `A-Z a-z 0-9 - _`.
pub fn valid_type_name(name: &str) -> bool {
    name.len() == 9 && name.bytes().all(|c| CHARSET.contains(&c))
}

/// The 64-bit id Redis writes into RDB files for a type: the name's 9 characters at 6 bits
/// each, then the encoding version in the low 10 bits. None for an invalid name or version.
pub fn type_id(name: &str, encver: u32) -> Option<u64> {
    if !valid_type_name(name) || encver > 1023 {
        return None;
    }
    let mut id = 0u64;
    for c in name.bytes() {
        id = (id << 6) | CHARSET.iter().position(|&x| x == c)? as u64;
    }
    Some((id << 10) | u64::from(encver))
}

/// A module's own value type.
///
/// ```ignore
/// #[derive(Clone)]
/// struct Counter(i64);
///
/// impl DataType for Counter {
///     const NAME: &'static str = "counter-1"; // 9 characters
///     const ENCVER: u32 = 0;
///     fn rdb_save(&self, w: &mut RdbWriter) { w.save_signed(self.0) }
///     fn rdb_load(r: &mut RdbReader, _encver: u32) -> Result<Self, Error> {
///         Ok(Counter(r.load_signed()?))
///     }
///     fn aof_rewrite(&self, key: &[u8], out: &mut AofRewriter) {
///         out.emit(&[&b"COUNTER.INCRBY"[..], key, self.0.to_string().as_bytes()]);
///     }
/// }
/// ```
pub trait DataType: Clone + Send + Sync + 'static {
    /// 9 characters of `A-Z a-z 0-9 - _` (what TYPE answers; unique in the server).
    const NAME: &'static str;
    /// The encoding version (0 to 1023) saved with each value and given back to `rdb_load`.
    const ENCVER: u32;
    /// Writes the value (RDB files, DUMP payloads, DEBUG RELOAD).
    fn rdb_save(&self, w: &mut RdbWriter);
    /// Reads a value `rdb_save` wrote, with encoding version `encver` (possibly older than
    /// [`DataType::ENCVER`]). An error refuses the load (the file, or RESTORE's payload).
    fn rdb_load(r: &mut RdbReader, encver: u32) -> Result<Self, Error>;
    /// Emits the commands that rebuild the value under `key` (AOF rewrite without an RDB
    /// preamble).
    fn aof_rewrite(&self, key: &[u8], out: &mut AofRewriter);
    /// Bytes the value uses, for MEMORY USAGE (the default: its own size, not what it owns).
    fn mem_usage(&self) -> usize {
        std::mem::size_of::<Self>()
    }
    /// Feeds what identifies the value's content to `w` (DEBUG DIGEST-VALUE). The default is
    /// its RDB form.
    fn digest(&self, w: &mut RdbWriter) {
        self.rdb_save(w)
    }
}

/// Writes a value's serialized form: the items Redis's `RM_Save*` functions write.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RdbWriter {
    items: Vec<RdbItem>,
}

impl RdbWriter {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn save_unsigned(&mut self, n: u64) {
        self.items.push(RdbItem::Unsigned(n));
    }
    pub fn save_signed(&mut self, n: i64) {
        self.items.push(RdbItem::Signed(n));
    }
    pub fn save_double(&mut self, d: f64) {
        self.items.push(RdbItem::Double(d));
    }
    pub fn save_float(&mut self, f: f32) {
        self.items.push(RdbItem::Float(f));
    }
    /// A byte string (Redis's `RM_SaveStringBuffer`).
    pub fn save_bytes(&mut self, b: impl AsRef<[u8]>) {
        self.items.push(RdbItem::Bytes(RVec::from_slice(b.as_ref())));
    }
    /// The items written so far.
    pub fn items(&self) -> &[RdbItem] {
        &self.items
    }
    pub fn into_items(self) -> Vec<RdbItem> {
        self.items
    }
    /// The items as bytes (for digests): one tag byte and the value each.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for i in &self.items {
            match i {
                RdbItem::Unsigned(n) => {
                    out.push(2);
                    out.extend_from_slice(&n.to_le_bytes());
                }
                RdbItem::Signed(n) => {
                    out.push(1);
                    out.extend_from_slice(&n.to_le_bytes());
                }
                RdbItem::Float(f) => {
                    out.push(3);
                    out.extend_from_slice(&f.to_le_bytes());
                }
                RdbItem::Double(d) => {
                    out.push(4);
                    out.extend_from_slice(&d.to_le_bytes());
                }
                RdbItem::Bytes(b) => {
                    out.push(5);
                    out.extend_from_slice(&(b.len() as u64).to_le_bytes());
                    out.extend_from_slice(b);
                }
            }
        }
        out
    }
}

/// Reads a value's serialized form, item by item, in the order [`RdbWriter`] wrote them. A
/// read of the wrong kind, or past the end, is an error (the load is refused).
#[derive(Debug)]
pub struct RdbReader<'a> {
    items: &'a [RdbItem],
    at: usize,
}

impl<'a> RdbReader<'a> {
    pub fn new(items: &'a [RdbItem]) -> Self {
        RdbReader { items, at: 0 }
    }

    fn next(&mut self, want: &str) -> Result<&'a RdbItem, Error> {
        let i = self.items.get(self.at).ok_or_else(|| {
            Error::err(format!("module value is shorter than expected (wanted {want})"))
        })?;
        self.at += 1;
        Ok(i)
    }

    fn mismatch(want: &str, got: &RdbItem) -> Error {
        let got = match got {
            RdbItem::Unsigned(_) => "unsigned",
            RdbItem::Signed(_) => "signed",
            RdbItem::Float(_) => "float",
            RdbItem::Double(_) => "double",
            RdbItem::Bytes(_) => "string",
        };
        Error::err(format!("module value has a {got} where {want} was expected"))
    }

    pub fn load_unsigned(&mut self) -> Result<u64, Error> {
        match self.next("unsigned")? {
            RdbItem::Unsigned(n) => Ok(*n),
            other => Err(Self::mismatch("unsigned", other)),
        }
    }
    pub fn load_signed(&mut self) -> Result<i64, Error> {
        match self.next("signed")? {
            RdbItem::Signed(n) => Ok(*n),
            other => Err(Self::mismatch("signed", other)),
        }
    }
    pub fn load_double(&mut self) -> Result<f64, Error> {
        match self.next("double")? {
            RdbItem::Double(d) => Ok(*d),
            other => Err(Self::mismatch("double", other)),
        }
    }
    pub fn load_float(&mut self) -> Result<f32, Error> {
        match self.next("float")? {
            RdbItem::Float(f) => Ok(*f),
            other => Err(Self::mismatch("float", other)),
        }
    }
    pub fn load_bytes(&mut self) -> Result<&'a [u8], Error> {
        match self.next("string")? {
            RdbItem::Bytes(b) => Ok(b.as_slice()),
            other => Err(Self::mismatch("string", other)),
        }
    }
    /// A string that must be UTF-8.
    pub fn load_str(&mut self) -> Result<&'a str, Error> {
        std::str::from_utf8(self.load_bytes()?)
            .map_err(|_| Error::err("module value holds invalid UTF-8"))
    }
    /// Items not read yet.
    pub fn remaining(&self) -> usize {
        self.items.len() - self.at
    }
}

/// Collects the commands an AOF rewrite writes for a value.
#[derive(Debug, Default)]
pub struct AofRewriter {
    commands: Vec<Vec<Vec<u8>>>,
}

impl AofRewriter {
    /// One command: its name, then its arguments.
    pub fn emit<A: AsRef<[u8]>>(&mut self, argv: &[A]) {
        self.commands.push(argv.iter().map(|a| a.as_ref().to_vec()).collect());
    }
    pub fn commands(&self) -> &[Vec<Vec<u8>>] {
        &self.commands
    }
}

/// A value of type `T` as the keyspace holds it.
struct Boxed<T: DataType>(T);

impl<T: DataType> ModuleValue for Boxed<T> {
    fn rdb_save(&self) -> RResult<RVec<RdbItem>, RString> {
        guard(T::NAME, || {
            let mut w = RdbWriter::new();
            self.0.rdb_save(&mut w);
            RVec::from(w.into_items())
        })
        .into()
    }

    fn aof_rewrite(&self, key: RSlice<'_, u8>) -> RResult<RVec<RVec<RVec<u8>>>, RString> {
        guard(T::NAME, || {
            let mut out = AofRewriter::default();
            self.0.aof_rewrite(key.as_slice(), &mut out);
            out.commands.into_iter().map(|c| c.into_iter().map(RVec::from).collect()).collect()
        })
        .into()
    }

    fn mem_usage(&self) -> u64 {
        guard(T::NAME, || self.0.mem_usage() as u64).unwrap_or(0)
    }

    fn digest(&self) -> RVec<u8> {
        guard(T::NAME, || {
            let mut w = RdbWriter::new();
            self.0.digest(&mut w);
            RVec::from(w.to_bytes())
        })
        .unwrap_or_default()
    }
}

/// Wraps a value for the server (the object keeps `T`'s drop, so the value is dropped by the
/// module's code).
pub(crate) fn to_object<T: DataType>(v: T) -> ModuleValue_TO<'static, RBox<()>> {
    ModuleValue_TO::from_value(Boxed(v), TD_CanDowncast)
}

/// The `T` inside a value object: None when the object holds another type.
pub(crate) fn downcast<'a, T: DataType>(v: &'a ModuleValue_TO<'static, RBox<()>>) -> Option<&'a T> {
    v.obj.downcast_as::<Boxed<T>>().ok().map(|b| &b.0)
}

pub(crate) fn downcast_mut<'a, T: DataType>(
    v: &'a mut ModuleValue_TO<'static, RBox<()>>,
) -> Option<&'a mut T> {
    v.obj.downcast_as_mut::<Boxed<T>>().ok().map(|b| &mut b.0)
}

type AuxSave = Box<dyn Fn(u32, &mut RdbWriter) + Send + Sync>;
type AuxLoad = Box<dyn Fn(&mut RdbReader, u32, u32) -> Result<(), Error> + Send + Sync>;

/// A type's handler for the server: loads and copies values, saves and loads aux data.
struct Handler<T> {
    aux: Option<(AuxSave, AuxLoad)>,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: DataType> DataTypeHandler for Handler<T> {
    fn rdb_load(
        &self,
        items: RSlice<'_, RdbItem>,
        encver: u32,
    ) -> RResult<ModuleValue_TO<'static, RBox<()>>, RString> {
        match guard(T::NAME, || T::rdb_load(&mut RdbReader::new(items.as_slice()), encver)) {
            Ok(Ok(v)) => ROk(to_object(v)),
            Ok(Err(e)) => RErr(e.message().into()),
            Err(p) => RErr(p),
        }
    }

    fn copy(
        &self,
        value: &ModuleValue_TO<'static, RBox<()>>,
    ) -> RResult<ModuleValue_TO<'static, RBox<()>>, RString> {
        match downcast::<T>(value) {
            Some(v) => guard(T::NAME, || to_object(v.clone())).into(),
            None => RErr("ERR module key failed to copy".into()),
        }
    }

    fn aux_save(&self, when: u32) -> RResult<RVec<RdbItem>, RString> {
        let Some((save, _)) = &self.aux else { return ROk(RVec::new()) };
        guard(T::NAME, || {
            let mut w = RdbWriter::new();
            save(when, &mut w);
            RVec::from(w.into_items())
        })
        .into()
    }

    fn aux_load(&self, items: RSlice<'_, RdbItem>, encver: u32, when: u32) -> RResult<(), RString> {
        let Some((_, load)) = &self.aux else { return ROk(()) };
        match guard(T::NAME, || load(&mut RdbReader::new(items.as_slice()), encver, when)) {
            Ok(Ok(())) => ROk(()),
            Ok(Err(e)) => RErr(e.message().into()),
            Err(p) => RErr(p),
        }
    }
}

fn parts<T: DataType>(
    triggers: u32,
    aux: Option<(AuxSave, AuxLoad)>,
) -> (DataTypeDef, DataTypeHandler_TO<'static, RBox<()>>) {
    let def = DataTypeDef { name: T::NAME.into(), encver: T::ENCVER, aux_triggers: triggers };
    let h = Handler::<T> { aux, _t: std::marker::PhantomData };
    (def, DataTypeHandler_TO::from_value(h, abi_stable::sabi_trait::TD_Opaque))
}

impl InitContext<'_, '_> {
    /// Registers data type `T`. Refused when its name is not 9 characters of
    /// `A-Z a-z 0-9 - _`, its encoding version is above 1023, or another module registered
    /// the name.
    pub fn register_type<T: DataType>(&mut self) -> Result<(), Error> {
        let (def, h) = parts::<T>(0, None);
        self.register_type_raw(def, h)
    }

    /// Registers data type `T` with aux data: `save(when, w)` runs when an RDB image is
    /// written, before its keyspace (`when` = [`AUX_BEFORE_RDB`]) and/or after it
    /// ([`AUX_AFTER_RDB`]), as `triggers` says; `load(r, encver, when)` when it is read back.
    pub fn register_type_with_aux<T: DataType>(
        &mut self,
        triggers: u32,
        save: impl Fn(u32, &mut RdbWriter) + Send + Sync + 'static,
        load: impl Fn(&mut RdbReader, u32, u32) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Result<(), Error> {
        let (def, h) = parts::<T>(triggers, Some((Box::new(save), Box::new(load))));
        self.register_type_raw(def, h)
    }

    fn register_type_raw(
        &mut self,
        def: DataTypeDef,
        h: DataTypeHandler_TO<'static, RBox<()>>,
    ) -> Result<(), Error> {
        if self.server_api_minor() < 1 {
            return Err(Error::err("data types need a server with module API 1.1"));
        }
        match self.host.register_type(def, h) {
            ROk(()) => Ok(()),
            RErr(e) => Err(Error::new(e.into_string())),
        }
    }
}

fn wrong_type() -> Error {
    Error::WRONG_TYPE
}

impl Context<'_, '_> {
    /// The value of `key` if it holds a `T` (None when the key does not exist; `WRONGTYPE`
    /// when it holds anything else). The read counts as an access for LRU/LFU.
    pub fn get_value<T: DataType>(&mut self, key: impl AsRef<[u8]>) -> Result<Option<&T>, Error> {
        let r = self.host.module_value(RSlice::from_slice(key.as_ref()), RStr::from_str(T::NAME));
        match r {
            ROk(ROption::RSome(v)) => downcast::<T>(v).map(Some).ok_or_else(wrong_type),
            ROk(ROption::RNone) => Ok(None),
            RErr(e) => Err(Error::new(e.into_string())),
        }
    }

    /// The value of `key` if it holds a `T`, to modify in place. The key counts as modified:
    /// the command is propagated to the AOF and replicas as called, and WATCHes on the key
    /// are invalidated.
    pub fn get_value_mut<T: DataType>(
        &mut self,
        key: impl AsRef<[u8]>,
    ) -> Result<Option<&mut T>, Error> {
        let r =
            self.host.module_value_mut(RSlice::from_slice(key.as_ref()), RStr::from_str(T::NAME));
        match r {
            ROk(ROption::RSome(v)) => downcast_mut::<T>(v).map(Some).ok_or_else(wrong_type),
            ROk(ROption::RNone) => Ok(None),
            RErr(e) => Err(Error::new(e.into_string())),
        }
    }

    /// Sets `key` to `value`, replacing whatever it held and its expiry.
    pub fn set_value<T: DataType>(&mut self, key: impl AsRef<[u8]>, value: T) -> Result<(), Error> {
        let r = self.host.set_module_value(
            RSlice::from_slice(key.as_ref()),
            RStr::from_str(T::NAME),
            to_object(value),
        );
        match r {
            ROk(()) => Ok(()),
            RErr(e) => Err(Error::new(e.into_string())),
        }
    }

    /// What TYPE answers for `key`: `none`, `string`, `list`..., or a module type's name.
    pub fn key_type(&mut self, key: impl AsRef<[u8]>) -> String {
        self.host.key_type_name(RSlice::from_slice(key.as_ref())).into_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_as_redis_computes_them() {
        // RedisJSON's "ReJSON-RL" at encoding version 3: its id as it appears in RDB files.
        let id = type_id("ReJSON-RL", 3).unwrap();
        assert_eq!(id & 1023, 3);
        assert_eq!(id >> 10 & 63, CHARSET.iter().position(|&c| c == b'L').unwrap() as u64);
        assert_eq!(id >> 58, CHARSET.iter().position(|&c| c == b'R').unwrap() as u64);
        assert!(type_id("short", 0).is_none());
        assert!(type_id("counter-1", 1024).is_none());
        assert!(type_id("bad name!", 0).is_none());
        assert!(valid_type_name("counter_1") && !valid_type_name("counter.1"));
    }

    #[test]
    fn reader_checks_kinds() {
        let mut w = RdbWriter::new();
        w.save_signed(-5);
        w.save_bytes("x");
        let items = w.into_items();
        let mut r = RdbReader::new(&items);
        assert_eq!(r.load_signed().unwrap(), -5);
        assert!(r.load_unsigned().unwrap_err().message().contains("string where unsigned"));
        let mut r = RdbReader::new(&items[..1]);
        r.load_signed().unwrap();
        assert!(r.load_bytes().is_err());
    }
}
