//! Custom data types of modules (module API 1.1): the registry of types, the keyspace's module
//! values ([`ModuleObject`], in `Object::Module`), and their RDB form.
//!
//! A value is an abi_stable object made by the module: the server never looks inside it, and
//! its drop, serialization and copy run the module's code. Each value holds its
//! [`ModuleType`], which counts the live values so that MODULE UNLOAD can refuse while any
//! exists (the module's code must outlive them; abi_stable never unmaps a library anyway).
//!
//! RDB form, as Redis 7 writes it (`RDB_TYPE_MODULE_2`): the type byte 7, the key, the 64-bit
//! type id (name and encoding version, see [`vireo_module_api::datatype::type_id`]) as a length,
//! then each item as a module opcode (a length: 1 signed, 2 unsigned, 3 float, 4 double,
//! 5 string) and its value (signed and unsigned as lengths, float and double as 4 and 8 bytes
//! little endian, string as an RDB string), then the EOF opcode 0. Aux data
//! (`RDB_OPCODE_MODULE_AUX`, 247): the type id, the unsigned opcode and `when`, the items, EOF.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use abi_stable::std_types::{RBox, RErr, ROk, ROption, RResult, RSlice, RString, RVec};
use vireo_module_api::abi::{
    DataTypeDef, DataTypeHandler_TO, ModuleValue_TO, RdbItem, AUX_AFTER_RDB, AUX_BEFORE_RDB,
};
use vireo_module_api::datatype::type_id;

use crate::cmd::Ctx;
use crate::keyspace::{Ttl, Value};
use crate::persist::rdb::load::Reader;
use crate::persist::rdb::save::{write_len, write_string};
use crate::persist::rdb::{self, RdbError};
use crate::types::Object;

/// A registered data type.
pub struct ModuleType {
    pub name: String,
    pub encver: u32,
    /// The RDB id: name and encoding version.
    pub id: u64,
    /// The module that registered it.
    pub module: String,
    pub aux_triggers: u32,
    handler: DataTypeHandler_TO<'static, RBox<()>>,
    /// Values of this type that exist.
    live: AtomicUsize,
}

impl ModuleType {
    pub fn live_values(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// A value from its items, written with `encver`.
    pub fn load(self: &Arc<Self>, items: &[RdbItem], encver: u32) -> Result<ModuleObject, String> {
        match self.handler.rdb_load(RSlice::from_slice(items), encver) {
            ROk(v) => Ok(ModuleObject::new(self.clone(), v)),
            RErr(e) => Err(e.into_string()),
        }
    }
}

/// The types of every loaded module, by name.
pub type TypeMap = HashMap<String, Arc<ModuleType>>;

/// The registered types, shared with loaders (an RDB load on another thread, DEBUG RELOAD,
/// RESTORE) as an immutable snapshot.
#[derive(Clone, Default)]
pub struct Registry(pub Arc<TypeMap>);

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Registry {
    /// The type a file's id names: the name part must match (the encoding version is the
    /// value's, handed to the type's loader), as Redis looks types up.
    pub fn by_id(&self, id: u64) -> Option<&Arc<ModuleType>> {
        self.0.values().find(|t| t.id >> 10 == id >> 10)
    }

    pub fn by_name(&self, name: &str) -> Option<&Arc<ModuleType>> {
        self.0.get(name)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A registry with `t` added (types are registered rarely: copy on write).
    pub fn with(&self, t: Arc<ModuleType>) -> Registry {
        let mut m = (*self.0).clone();
        m.insert(t.name.clone(), t);
        Registry(Arc::new(m))
    }

    /// A registry without the types of module `module`.
    pub fn without_module(&self, module: &str) -> Registry {
        let m = self.0.iter().filter(|(_, t)| t.module != module);
        Registry(Arc::new(m.map(|(k, v)| (k.clone(), v.clone())).collect()))
    }

    /// The types of module `module`.
    pub fn of_module<'a>(&'a self, module: &'a str) -> impl Iterator<Item = &'a Arc<ModuleType>> {
        self.0.values().filter(move |t| t.module == module)
    }
}

/// Checks a type declaration and builds the type (registration, at a module's `init`).
pub fn build_type(
    reg: &Registry,
    staged: &[Arc<ModuleType>],
    module: &str,
    def: DataTypeDef,
    handler: DataTypeHandler_TO<'static, RBox<()>>,
) -> Result<Arc<ModuleType>, String> {
    let Some(id) = type_id(&def.name, def.encver) else {
        return Err(format!(
            "ERR invalid data type '{}' (a name of 9 characters of A-Z a-z 0-9 - _) or encoding version {} (0 to 1023)",
            def.name, def.encver
        ));
    };
    let clash = |t: &ModuleType| t.id >> 10 == id >> 10;
    if reg.0.values().any(|t| clash(t)) || staged.iter().any(|t| clash(t)) {
        return Err(format!("ERR data type '{}' is already registered", def.name));
    }
    Ok(Arc::new(ModuleType {
        name: def.name.into_string(),
        encver: def.encver,
        id,
        module: module.to_string(),
        aux_triggers: def.aux_triggers & (AUX_BEFORE_RDB | AUX_AFTER_RDB),
        handler,
        live: AtomicUsize::new(0),
    }))
}

/// A module value in the keyspace.
pub struct ModuleObject {
    pub ty: Arc<ModuleType>,
    pub value: ModuleValue_TO<'static, RBox<()>>,
}

impl ModuleObject {
    pub fn new(ty: Arc<ModuleType>, value: ModuleValue_TO<'static, RBox<()>>) -> ModuleObject {
        ty.live.fetch_add(1, Ordering::SeqCst);
        ModuleObject { ty, value }
    }

    /// A copy through the type's copy callback (COPY): Redis's error when it fails.
    pub fn try_clone(&self) -> Result<ModuleObject, String> {
        match self.ty.handler.copy(&self.value) {
            ROk(v) => Ok(ModuleObject::new(self.ty.clone(), v)),
            RErr(e) => {
                tracing::warn!("<{}> copy of a {} value failed: {e}", self.ty.module, self.ty.name);
                Err("ERR module key failed to copy".into())
            }
        }
    }

    /// Bytes the value uses, as its module says.
    pub fn mem_usage(&self) -> usize {
        self.value.mem_usage() as usize
    }

    /// The value's items (RDB, DUMP). A module that fails to serialize its value is logged and
    /// written as no items, which its loader will refuse: the file says so at load.
    pub fn items(&self) -> Vec<RdbItem> {
        match self.value.rdb_save() {
            ROk(v) => v.into_vec(),
            RErr(e) => {
                tracing::warn!("<{}> saving a {} value failed: {e}", self.ty.module, self.ty.name);
                Vec::new()
            }
        }
    }

    /// The commands that rebuild the value under `key`.
    pub fn rewrite(&self, key: &[u8]) -> Vec<Vec<Vec<u8>>> {
        match self.value.aof_rewrite(RSlice::from_slice(key)) {
            ROk(v) => v.into_iter().map(|c| c.into_iter().map(RVec::into_vec).collect()).collect(),
            RErr(e) => {
                tracing::warn!(
                    "<{}> AOF rewrite of a {} value failed: {e}",
                    self.ty.module,
                    self.ty.name
                );
                Vec::new()
            }
        }
    }

    pub fn digest(&self) -> Vec<u8> {
        self.value.digest().into_vec()
    }
}

impl Drop for ModuleObject {
    fn drop(&mut self) {
        // The value itself is dropped next, by its own (the module's) vtable.
        self.ty.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl fmt::Debug for ModuleObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModuleObject({})", self.ty.name)
    }
}

// ------------------------------------------------------------------------------------------------
// RDB form

const OP_EOF: u64 = 0;
const OP_SINT: u64 = 1;
const OP_UINT: u64 = 2;
const OP_FLOAT: u64 = 3;
const OP_DOUBLE: u64 = 4;
const OP_STRING: u64 = 5;

fn write_items(out: &mut Vec<u8>, items: &[RdbItem], compress: bool) {
    for i in items {
        match i {
            RdbItem::Signed(n) => {
                write_len(out, OP_SINT);
                write_len(out, *n as u64);
            }
            RdbItem::Unsigned(n) => {
                write_len(out, OP_UINT);
                write_len(out, *n);
            }
            RdbItem::Float(f) => {
                write_len(out, OP_FLOAT);
                out.extend_from_slice(&f.to_le_bytes());
            }
            RdbItem::Double(d) => {
                write_len(out, OP_DOUBLE);
                out.extend_from_slice(&d.to_le_bytes());
            }
            RdbItem::Bytes(b) => {
                write_len(out, OP_STRING);
                write_string(out, b, compress);
            }
        }
    }
    write_len(out, OP_EOF);
}

/// The body of a `RDB_TYPE_MODULE_2` value (after the type byte and the key).
pub fn write_value(out: &mut Vec<u8>, o: &ModuleObject, compress: bool) {
    write_len(out, o.ty.id);
    write_items(out, &o.items(), compress);
}

/// Reads module opcodes up to their EOF.
fn read_items(r: &mut Reader<'_>) -> Result<Vec<RdbItem>, RdbError> {
    let mut items = Vec::new();
    loop {
        let item = match r.read_len()? {
            OP_EOF => return Ok(items),
            OP_SINT => RdbItem::Signed(r.read_len()? as i64),
            OP_UINT => RdbItem::Unsigned(r.read_len()?),
            OP_FLOAT => {
                let b = r.take(4)?;
                RdbItem::Float(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            OP_DOUBLE => {
                let b = r.take(8)?;
                RdbItem::Double(f64::from_le_bytes(b.try_into().expect("8 bytes")))
            }
            OP_STRING => RdbItem::Bytes(RVec::from_slice(&r.string()?)),
            op => return Err(RdbError::Corrupt(format!("unknown module opcode {op}"))),
        };
        items.push(item);
    }
}

fn no_type(id: u64) -> RdbError {
    RdbError::Unsupported(format!(
        "The RDB file contains module data I can't load: no matching module type '{}' (encoding version {}); load the module that provides it (loadmodule) before the data",
        rdb::module_type_name(id),
        rdb::module_type_version(id)
    ))
}

/// Reads a `RDB_TYPE_MODULE_2` value (after the type byte and the key).
pub fn read_value(r: &mut Reader<'_>, reg: &Registry) -> Result<ModuleObject, RdbError> {
    let id = r.read_len()?;
    let ty = reg.by_id(id).ok_or_else(|| no_type(id))?;
    let items = read_items(r)?;
    ty.load(&items, rdb::module_type_version(id) as u32).map_err(|e| {
        RdbError::Unsupported(format!(
            "The RDB file contains module data for the module type '{}', that the responsible module is not able to load: {e}",
            ty.name
        ))
    })
}

/// Reads a module aux record (after its opcode) and hands it to its type.
pub fn read_aux(r: &mut Reader<'_>, reg: &Registry) -> Result<(), RdbError> {
    let id = r.read_len()?;
    let Some(ty) = reg.by_id(id) else {
        return Err(RdbError::Unsupported(format!(
            "The RDB file contains AUX module data I can't load: no matching module '{}' (encoding version {})",
            rdb::module_type_name(id),
            rdb::module_type_version(id)
        )));
    };
    if r.read_len()? != OP_UINT {
        return Err(RdbError::Corrupt("bad module aux 'when' opcode".into()));
    }
    let when = r.read_len()?;
    let items = read_items(r)?;
    let encver = rdb::module_type_version(id) as u32;
    match ty.handler.aux_load(RSlice::from_slice(&items), encver, when as u32) {
        ROk(()) => Ok(()),
        RErr(e) => Err(RdbError::Unsupported(format!(
            "The RDB file contains module AUX data for the module type '{}', that the responsible module is not able to load: {e}",
            ty.name
        ))),
    }
}

/// The aux records of every type whose triggers include `when`, encoded.
pub fn aux_records(reg: &Registry, when: u32, compress: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut types: Vec<&Arc<ModuleType>> =
        reg.0.values().filter(|t| t.aux_triggers & when != 0).collect();
    types.sort_by(|a, b| a.name.cmp(&b.name));
    for t in types {
        let items = match t.handler.aux_save(when) {
            ROk(v) => v,
            RErr(e) => {
                tracing::warn!("<{}> saving the aux data of {} failed: {e}", t.module, t.name);
                continue;
            }
        };
        out.push(rdb::OP_MODULE_AUX);
        write_len(&mut out, t.id);
        write_len(&mut out, OP_UINT);
        write_len(&mut out, u64::from(when));
        write_items(&mut out, &items, compress);
    }
    out
}

// ------------------------------------------------------------------------------------------------
// The host side of the typed access (HostCtx's data type methods)

/// Why a typed access failed: Redis's WRONGTYPE, or a type the module does not own.
pub fn check_own(
    reg: &Registry,
    module: &str,
    type_name: &str,
) -> Result<Arc<ModuleType>, RString> {
    match reg.by_name(type_name) {
        Some(t) if t.module == module => Ok(t.clone()),
        _ => {
            Err(format!("ERR data type '{type_name}' is not registered by module '{module}'")
                .into())
        }
    }
}

pub type ValueResult<'a> = RResult<ROption<&'a ModuleValue_TO<'static, RBox<()>>>, RString>;
pub type ValueMutResult<'a> = RResult<ROption<&'a mut ModuleValue_TO<'static, RBox<()>>>, RString>;

fn wrong_type() -> RString {
    crate::error::Error::WRONG_TYPE.0.as_ref().into()
}

/// The calling client's database entry for `key`, checked to hold a value of `ty`.
fn typed_entry<'c>(
    ctx: &'c mut Ctx<'_>,
    key: &[u8],
    ty: &Arc<ModuleType>,
) -> Result<Option<&'c mut ModuleObject>, RString> {
    let (now, acc) = (ctx.now, crate::cmd::string::access(ctx));
    let Some(e) = ctx.core.dbs[ctx.client.db].lookup(key, now, acc) else { return Ok(None) };
    match e.obj_mut() {
        Some(Object::Module(m)) if Arc::ptr_eq(&m.ty, ty) => Ok(Some(m)),
        _ => Err(wrong_type()),
    }
}

/// [`HostCtx::module_value`](vireo_module_api::abi::HostCtx::module_value).
pub fn host_value<'c>(
    ctx: &'c mut Ctx<'_>,
    module: &str,
    key: &[u8],
    type_name: &str,
) -> ValueResult<'c> {
    // Readers include the importers of the owner's APIs (see `shared_types`).
    let modules = &ctx.core.modules;
    let ty = match super::shared_types::check_readable(
        &modules.types,
        &modules.ext,
        module,
        type_name,
    ) {
        Ok(t) => t,
        Err(e) => return RErr(e),
    };
    match typed_entry(ctx, key, &ty) {
        Ok(Some(m)) => ROk(ROption::RSome(&m.value)),
        Ok(None) => ROk(ROption::RNone),
        Err(e) => RErr(e),
    }
}

/// [`HostCtx::module_value_mut`](vireo_module_api::abi::HostCtx::module_value_mut): the key
/// counts as modified (the command is propagated as called), one change added to `marks`.
pub fn host_value_mut<'c>(
    ctx: &'c mut Ctx<'_>,
    module: &str,
    key: &[u8],
    type_name: &str,
    marks: &mut u64,
) -> ValueMutResult<'c> {
    let ty = match check_own(&ctx.core.modules.types, module, type_name) {
        Ok(t) => t,
        Err(e) => return RErr(e),
    };
    let found = match typed_entry(ctx, key, &ty) {
        Ok(Some(_)) => true,
        Ok(None) => false,
        Err(e) => return RErr(e),
    };
    if !found {
        return ROk(ROption::RNone);
    }
    ctx.dirty(1);
    *marks += 1;
    match typed_entry(ctx, key, &ty) {
        Ok(Some(m)) => ROk(ROption::RSome(&mut m.value)),
        _ => ROk(ROption::RNone),
    }
}

/// [`HostCtx::set_module_value`](vireo_module_api::abi::HostCtx::set_module_value).
pub fn host_set_value(
    ctx: &mut Ctx<'_>,
    module: &str,
    key: &[u8],
    type_name: &str,
    value: ModuleValue_TO<'static, RBox<()>>,
    marks: &mut u64,
) -> RResult<(), RString> {
    let ty = match check_own(&ctx.core.modules.types, module, type_name) {
        Ok(t) => t,
        Err(e) => return RErr(e),
    };
    let obj = Object::Module(Box::new(ModuleObject::new(ty, value)));
    let (now, acc) = (ctx.now, crate::cmd::string::access(ctx));
    let db = ctx.client.db;
    ctx.core.dbs[db].write(key, Value::Obj(Box::new(obj)), Ttl::Set(None), 0, now, acc);
    ctx.dirty(1);
    *marks += 1;
    ROk(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip() {
        let items = vec![
            RdbItem::Signed(-3),
            RdbItem::Unsigned(u64::MAX),
            RdbItem::Float(1.5),
            RdbItem::Double(-2.25),
            RdbItem::Bytes(RVec::from_slice(b"hello")),
            RdbItem::Bytes(RVec::from_slice(b"12345")),
        ];
        let mut out = Vec::new();
        write_items(&mut out, &items, true);
        // SINT -3 is written as the length of its two's complement (a 9-byte length).
        assert_eq!(&out[..2], &[1, 0x81]);
        let mut r = Reader::new(&out);
        assert_eq!(read_items(&mut r).unwrap(), items);
        assert_eq!(r.pos(), out.len());
        assert!(read_items(&mut Reader::new(&out[..out.len() - 1])).is_err());
        assert!(read_items(&mut Reader::new(&[9])).is_err());
    }
}
