//! Module configs, INFO sections and shared APIs between modules (module API 1.1).
//!
//! - Configs: a module declares `<module>.<name>` configs in `init` ([`Staged::register_config`]);
//!   `load_configs` gives each the value the config file (`<module>.<name> value` lines, queued
//!   in `Config::module_configs`) or MODULE LOADEX (`CONFIG name value`) names, else its default,
//!   through the module's setter, which may refuse it. CONFIG GET/SET/REWRITE reach them through
//!   [`lookup`], [`get_pairs`], [`set_many`] and [`rewrite_lines`]. The value lives in the
//!   module; the server keeps the definition (kind, bounds, enum names, flags).
//! - INFO: a module's handler returns its sections; [`info_sections`] prints them as Redis does
//!   (`# <module>_<section>`, fields `<module>_<field>:value`) for `INFO everything`,
//!   `INFO modules`, `INFO <module>` and `INFO <module>_<section>`.
//! - Shared APIs: a module exports a named, versioned value; another imports it (from `init` or
//!   a command), which records that it uses the exporter: MODULE UNLOAD of the exporter is then
//!   refused, and INFO's `# Modules` lines show `usedby` / `using`.

use std::borrow::Cow;

use abi_stable::std_types::{RBox, RErr, ROk, RResult, RString};
use vireo_module_api::abi::{
    config_flags as F, ConfigDef, ConfigHandler_TO, ConfigValue, InfoHandler_TO, InfoValue,
    SharedApi,
};

use crate::config::table::{
    check_bounds, enum_name, format_memory, parse_bool, parse_enum, parse_int, Unit,
};

/// A registered module config.
pub struct ModuleConfig {
    pub module: String,
    /// `<module>.<name>`.
    pub full: String,
    pub def: ConfigDef,
    handler: ConfigHandler_TO<'static, RBox<()>>,
}

impl ModuleConfig {
    pub fn is(&self, f: u32) -> bool {
        self.def.flags & f != 0
    }

    pub fn get(&self) -> ConfigValue {
        self.handler.get()
    }

    /// The value as CONFIG GET prints it.
    pub fn get_text(&self) -> Vec<u8> {
        format_value(&self.def, &self.get())
    }
}

/// An exported shared API.
pub struct Export {
    pub name: String,
    pub module: String,
    pub api: SharedApi,
}

/// The modules' configs, INFO handlers, exports and uses (in `Modules`).
#[derive(Default)]
pub struct State {
    pub configs: Vec<ModuleConfig>,
    info: Vec<(String, InfoHandler_TO<'static, RBox<()>>)>,
    pub exports: Vec<Export>,
    /// (user, exporter) module names: `user` imported an API `exporter` exports.
    pub uses: Vec<(String, String)>,
}

/// What a module's `init` registered of these, joining [`State`] only if the load succeeds.
#[derive(Default)]
pub struct Staged {
    configs: Vec<ModuleConfig>,
    configs_loaded: bool,
    info: Option<InfoHandler_TO<'static, RBox<()>>>,
    exports: Vec<Export>,
    /// Exporters this module imported from.
    using: Vec<String>,
    /// `<module>.<name>` values to apply (the config file's, or MODULE LOADEX's).
    pub queue: Vec<(String, Vec<u8>)>,
}

fn valid_name(name: &str) -> Option<char> {
    name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
}

/// The enum's names and values, as the config table's helpers take them.
fn enum_names(def: &ConfigDef) -> Vec<(&str, i32)> {
    def.enum_values.iter().map(|t| (t.0.as_str(), t.1)).collect()
}

/// Parses a config value from text (a config file line, LOADEX, CONFIG SET), with Redis's
/// errors, and checks bounds and enum names.
pub fn parse_value(def: &ConfigDef, text: &[u8]) -> Result<ConfigValue, Cow<'static, str>> {
    let v = match &def.default {
        ConfigValue::Bool(_) => ConfigValue::Bool(parse_bool(text)?),
        ConfigValue::Numeric(_) => {
            let unit = if def.flags & F::MEMORY != 0 { Unit::Memory } else { Unit::Plain };
            let n = parse_int(text, unit)?;
            ConfigValue::Numeric(i64::try_from(n).unwrap_or(i64::MAX))
        }
        ConfigValue::String(_) => ConfigValue::String(text.into()),
        ConfigValue::Enum(_) => {
            let multi = def.flags & F::BITFLAGS != 0;
            let args: Vec<Vec<u8>> = if multi {
                text.split(|&c| c == b' ').filter(|a| !a.is_empty()).map(<[u8]>::to_vec).collect()
            } else {
                vec![text.to_vec()]
            };
            ConfigValue::Enum(parse_enum(&enum_names(def), &args, multi)?)
        }
    };
    check(def, &v)?;
    Ok(v)
}

/// Checks a value's kind and bounds.
fn check(def: &ConfigDef, v: &ConfigValue) -> Result<(), Cow<'static, str>> {
    if std::mem::discriminant(&def.default) != std::mem::discriminant(v) {
        return Err("the value has the wrong type".into());
    }
    if let ConfigValue::Numeric(n) = v {
        check_bounds(i128::from(*n), i128::from(def.min), i128::from(def.max), Unit::Plain)?;
    }
    Ok(())
}

/// A value as CONFIG GET prints it.
pub fn format_value(def: &ConfigDef, v: &ConfigValue) -> Vec<u8> {
    match v {
        ConfigValue::Bool(b) => if *b { "yes" } else { "no" }.into(),
        ConfigValue::Numeric(n) => n.to_string().into_bytes(),
        ConfigValue::String(s) => s.to_vec(),
        ConfigValue::Enum(e) => {
            enum_name(&enum_names(def), *e, def.flags & F::BITFLAGS != 0).into_bytes()
        }
    }
}

impl Staged {
    pub fn with_queue(queue: Vec<(String, Vec<u8>)>) -> Staged {
        Staged { queue, ..Default::default() }
    }

    pub fn register_config(
        &mut self,
        state: &State,
        module: &str,
        def: ConfigDef,
        handler: ConfigHandler_TO<'static, RBox<()>>,
    ) -> RResult<(), RString> {
        if let Some(c) = valid_name(&def.name) {
            return RErr(
                format!("Invalid character {c} in Module Config {module}.{}", def.name).into(),
            );
        }
        let full = format!("{module}.{}", def.name);
        let taken = |c: &ModuleConfig| c.full.eq_ignore_ascii_case(&full);
        if def.name.is_empty()
            || state.configs.iter().any(taken)
            || self.configs.iter().any(taken)
            || crate::config::lookup(full.as_bytes()).is_some()
        {
            return RErr(format!("Configuration by the name: {full} already registered").into());
        }
        if def.flags & !F::ALL != 0 {
            return RErr(format!("Module Config {full} has unknown flags").into());
        }
        if let ConfigValue::Enum(_) = def.default {
            if def.enum_values.is_empty() {
                return RErr(format!("Module Config {full}: an enum needs values").into());
            }
        } else if def.flags & F::BITFLAGS != 0 {
            return RErr(format!("Module Config {full}: only an enum can be bitflags").into());
        }
        if def.flags & F::MEMORY != 0 && !matches!(def.default, ConfigValue::Numeric(_)) {
            return RErr(format!("Module Config {full}: only a numeric config is memory").into());
        }
        if def.min > def.max {
            return RErr(format!("Module Config {full}: min is above max").into());
        }
        let default_ok = match &def.default {
            ConfigValue::Enum(e) => {
                // The default must print back as names.
                let names = enum_names(&def);
                enum_name(&names, *e, def.flags & F::BITFLAGS != 0) != "unknown"
                    || names.iter().any(|(n, _)| *n == "unknown")
            }
            v => check(&def, v).is_ok(),
        };
        if !default_ok {
            return RErr(format!("Module Config {full}: the default is not a valid value").into());
        }
        self.configs.push(ModuleConfig { module: module.to_string(), full, def, handler });
        ROk(())
    }

    /// `RM_LoadConfigs`: every config registered so far gets its queued value or its default.
    pub fn load_configs(&mut self) -> RResult<(), RString> {
        self.configs_loaded = true;
        for c in &self.configs {
            let queued = self.queue.iter().rposition(|(n, _)| n.eq_ignore_ascii_case(&c.full));
            let value = match queued {
                Some(i) => {
                    let (_, text) = self.queue.remove(i);
                    // Earlier lines for the same name lose to the last one.
                    self.queue.retain(|(n, _)| !n.eq_ignore_ascii_case(&c.full));
                    match parse_value(&c.def, &text) {
                        Ok(v) => v,
                        Err(e) => return issue(&c.full, &e),
                    }
                }
                None => c.def.default.clone(),
            };
            if let RErr(e) = c.handler.set(value) {
                return issue(&c.full, &e);
            }
        }
        ROk(())
    }

    pub fn register_info(&mut self, h: InfoHandler_TO<'static, RBox<()>>) -> RResult<(), RString> {
        if self.info.is_some() {
            return RErr("the module already registered its INFO sections".into());
        }
        self.info = Some(h);
        ROk(())
    }

    pub fn export_api(
        &mut self,
        state: &State,
        module: &str,
        name: &str,
        api: SharedApi,
    ) -> RResult<(), RString> {
        if state.exports.iter().chain(&self.exports).any(|e| e.name == name) {
            return RErr(format!("a shared API named '{name}' is already exported").into());
        }
        self.exports.push(Export { name: name.to_string(), module: module.to_string(), api });
        ROk(())
    }

    pub fn import_api(
        &mut self,
        state: &State,
        name: &str,
        min: u32,
    ) -> RResult<SharedApi, RString> {
        if let Some(e) = self.exports.iter().find(|e| e.name == name) {
            return versioned(e, min);
        }
        let Some(e) = state.exports.iter().find(|e| e.name == name) else {
            return RErr(format!("no module exports a shared API named '{name}'").into());
        };
        let r = versioned(e, min);
        if r.is_ok() && !self.using.contains(&e.module) {
            self.using.push(e.module.clone());
        }
        r
    }

    /// Checks made once `init` returned: configs registered must have been loaded.
    pub fn finish(&self) -> Result<(), String> {
        if !self.configs.is_empty() && !self.configs_loaded {
            return Err(
                "Module Configurations were not set, likely a missing LoadConfigs call. Unloading the module."
                    .into(),
            );
        }
        Ok(())
    }

    /// Joins what the module registered to the server's state.
    pub fn commit(self, state: &mut State, module: &str) {
        state.configs.extend(self.configs);
        if let Some(h) = self.info {
            state.info.push((module.to_string(), h));
        }
        state.exports.extend(self.exports);
        for exporter in self.using {
            state.uses.push((module.to_string(), exporter));
        }
    }
}

fn issue<T>(full: &str, e: &str) -> RResult<T, RString> {
    let msg = format!("Issue during loading of configuration {full} : {e}");
    tracing::warn!("{msg}");
    RErr(msg.into())
}

fn versioned(e: &Export, min: u32) -> RResult<SharedApi, RString> {
    if e.api.version < min {
        return RErr(
            format!(
                "shared API '{}' is version {}, version {min} or later is needed",
                e.name, e.api.version
            )
            .into(),
        );
    }
    ROk(e.api.clone())
}

impl State {
    /// `module` imports `name` from a command.
    pub fn import_api(
        &mut self,
        module: &str,
        name: &str,
        min: u32,
    ) -> RResult<SharedApi, RString> {
        let Some(e) = self.exports.iter().find(|e| e.name == name) else {
            return RErr(format!("no module exports a shared API named '{name}'").into());
        };
        let r = versioned(e, min);
        let exporter = e.module.clone();
        if r.is_ok()
            && !exporter.eq_ignore_ascii_case(module)
            && !self.uses.iter().any(|(u, x)| u == module && *x == exporter)
        {
            self.uses.push((module.to_string(), exporter));
        }
        r
    }

    /// Modules that use an API `module` exports.
    pub fn used_by(&self, module: &str) -> Vec<&str> {
        self.uses
            .iter()
            .filter(|(u, x)| x == module && u != module)
            .map(|(u, _)| u.as_str())
            .collect()
    }

    /// Modules whose APIs `module` uses.
    pub fn using(&self, module: &str) -> Vec<&str> {
        self.uses.iter().filter(|(u, _)| u == module).map(|(_, x)| x.as_str()).collect()
    }

    /// Forgets what `module` registered (its configs, INFO sections, exports and uses).
    pub fn remove_module(&mut self, module: &str) {
        self.configs.retain(|c| c.module != module);
        self.info.retain(|(m, _)| m != module);
        self.exports.retain(|e| e.module != module);
        self.uses.retain(|(u, _)| u != module);
    }

    /// A config by its full name, ASCII case-insensitively.
    pub fn config(&self, name: &[u8]) -> Option<&ModuleConfig> {
        self.configs.iter().find(|c| c.full.as_bytes().eq_ignore_ascii_case(name))
    }
}

/// CONFIG GET's pairs for the module configs `pattern` matches (a glob; hidden configs only by
/// exact name), skipping names `seen` says are already listed.
pub fn get_pairs(
    state: &State,
    pattern: &[u8],
    seen: impl Fn(&str) -> bool,
) -> Vec<(String, Vec<u8>)> {
    let glob = pattern.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
    if !glob {
        return match state.config(pattern) {
            Some(c) if !seen(&c.full) => {
                vec![(String::from_utf8_lossy(pattern).into_owned(), c.get_text())]
            }
            _ => Vec::new(),
        };
    }
    state
        .configs
        .iter()
        .filter(|c| !c.is(F::HIDDEN) && !seen(&c.full))
        .filter(|c| crate::util::glob::glob_match(pattern, c.full.as_bytes(), true))
        .map(|c| (c.full.clone(), c.get_text()))
        .collect()
}

/// Why CONFIG SET of a module config is refused before any value changes.
pub fn set_refusal(c: &ModuleConfig, protected_ok: bool) -> Option<&'static str> {
    if c.is(F::IMMUTABLE) {
        Some("can't set immutable config")
    } else if c.is(F::PROTECTED) && !protected_ok {
        Some("can't set protected config")
    } else {
        None
    }
}

/// Sets module configs (by index in `state.configs`) to new values: all are parsed first; then
/// each setter runs in order, and if one refuses, the ones already set get their old values
/// back. The error is (config name, reason).
pub fn set_many(
    state: &State,
    targets: &[(usize, &[u8])],
    loading: bool,
) -> Result<(), (String, String)> {
    let mut parsed = Vec::with_capacity(targets.len());
    for &(i, text) in targets {
        let c = &state.configs[i];
        if loading && c.is(F::DENY_LOADING) {
            return Err((c.full.clone(), "can't set config while loading".into()));
        }
        match parse_value(&c.def, text) {
            Ok(v) => parsed.push((c, v)),
            Err(e) => return Err((c.full.clone(), e.into_owned())),
        }
    }
    let mut done: Vec<(&ModuleConfig, ConfigValue)> = Vec::new();
    for (c, v) in parsed {
        let old = c.get();
        if let RErr(e) = c.handler.set(v) {
            for (c, old) in done.into_iter().rev() {
                let _ = c.handler.set(old);
            }
            return Err((c.full.clone(), e.into_string()));
        }
        done.push((c, old));
    }
    Ok(())
}

/// CONFIG REWRITE's lines for the module configs: `<module>.<name> <value>`, to be written
/// even where the file lacks them when the value differs from the default.
pub fn rewrite_lines(state: &State) -> Vec<(String, Vec<(String, bool)>)> {
    state
        .configs
        .iter()
        .map(|c| {
            let v = c.get();
            let text = match &v {
                ConfigValue::Numeric(n) if c.is(F::MEMORY) => format_memory(*n as i128),
                ConfigValue::String(s) => crate::util::repr::quote(s),
                v => String::from_utf8_lossy(&format_value(&c.def, v)).into_owned(),
            };
            let force = v != c.def.default;
            (c.full.to_ascii_lowercase(), vec![(format!("{} {text}", c.full), force)])
        })
        .collect()
}

/// CONFIG REWRITE's lines outside the config table: a `loadmodule` line per loaded module (as
/// Redis 7.0 writes them, so that modules loaded at run time load at the next start) and the
/// module configs.
pub fn rewrite_extra(modules: &super::Modules) -> Vec<(String, Vec<(String, bool)>)> {
    let quote = |a: &[u8]| {
        let plain = !a.is_empty() && a.iter().all(|c| c.is_ascii_graphic() && !b"\"'".contains(c));
        if plain {
            String::from_utf8_lossy(a).into_owned()
        } else {
            crate::util::repr::quote(a)
        }
    };
    let loadmodule: Vec<(String, bool)> = modules
        .loaded
        .iter()
        .map(|m| {
            let mut line = format!("loadmodule {}", quote(m.path.as_bytes()));
            for a in &m.args {
                line.push(' ');
                line.push_str(&quote(a));
            }
            (line, true)
        })
        .collect();
    let mut out = vec![("loadmodule".to_string(), loadmodule)];
    out.extend(rewrite_lines(&modules.ext));
    out
}

fn push_info_value(out: &mut String, v: &InfoValue) {
    use std::fmt::Write as _;
    match v {
        InfoValue::Str(s) => out.push_str(s),
        InfoValue::Int(n) => {
            let _ = write!(out, "{n}");
        }
        InfoValue::UInt(n) => {
            let _ = write!(out, "{n}");
        }
        InfoValue::Double(d) => {
            out.push_str(&String::from_utf8_lossy(&crate::util::num::fmt_double_resp(*d)))
        }
        InfoValue::Dict(pairs) => {
            for (i, p) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}={}", p.0, p.1);
            }
        }
    }
}

/// Appends the modules' INFO sections: all of them when `all` (`INFO everything`,
/// `INFO modules`), else those `names` (lower-case INFO arguments) name, by module name or by
/// `<module>_<section>`.
pub fn info_sections(state: &State, all: bool, names: &[String], out: &mut String) {
    if !all && names.is_empty() {
        return;
    }
    for (module, h) in &state.info {
        let whole = all || names.iter().any(|n| n.eq_ignore_ascii_case(module));
        for s in h.sections(false) {
            let full =
                if s.name.is_empty() { module.clone() } else { format!("{module}_{}", s.name) };
            if !whole && !names.iter().any(|n| n.eq_ignore_ascii_case(&full)) {
                continue;
            }
            if !out.is_empty() {
                out.push_str("\r\n");
            }
            out.push_str("# ");
            out.push_str(&full);
            out.push_str("\r\n");
            for f in s.fields.iter() {
                out.push_str(module);
                out.push('_');
                out.push_str(&f.name);
                out.push(':');
                push_info_value(out, &f.value);
                out.push_str("\r\n");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_stable::std_types::{RVec, Tuple2};

    fn def(default: ConfigValue, flags: u32) -> ConfigDef {
        ConfigDef {
            name: "x".into(),
            flags,
            default,
            min: -5,
            max: 2048,
            enum_values: [("none", 0), ("five", 5), ("one", 1), ("two", 2), ("four", 4)]
                .iter()
                .map(|(n, v)| Tuple2(RString::from(*n), *v))
                .collect::<RVec<_>>(),
        }
    }

    #[test]
    fn parses_as_redis() {
        let b = def(ConfigValue::Bool(true), 0);
        assert_eq!(parse_value(&b, b"YES").unwrap(), ConfigValue::Bool(true));
        assert_eq!(parse_value(&b, b"1").unwrap_err(), "argument must be 'yes' or 'no'");
        let n = def(ConfigValue::Numeric(0), 0);
        assert_eq!(parse_value(&n, b"-5").unwrap(), ConfigValue::Numeric(-5));
        assert_eq!(
            parse_value(&n, b"-6").unwrap_err(),
            "argument must be between -5 and 2048 inclusive"
        );
        assert_eq!(
            parse_value(&n, b"1k").unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        let m = def(ConfigValue::Numeric(0), F::MEMORY);
        assert_eq!(parse_value(&m, b"2kb").unwrap(), ConfigValue::Numeric(2048));
        assert_eq!(parse_value(&m, b"-5").unwrap_err(), "argument must be a memory value");
        assert_eq!(
            parse_value(&m, b"200gb").unwrap_err(),
            "argument must be between -5 and 2048 inclusive"
        );
        let e = def(ConfigValue::Enum(1), 0);
        assert_eq!(parse_value(&e, b"TWO").unwrap(), ConfigValue::Enum(2));
        assert_eq!(
            parse_value(&e, b"two four").unwrap_err(),
            "argument(s) must be one of the following: none, five, one, two, four"
        );
        let f = def(ConfigValue::Enum(1), F::BITFLAGS);
        assert_eq!(parse_value(&f, b"two four").unwrap(), ConfigValue::Enum(6));
        assert_eq!(format_value(&f, &ConfigValue::Enum(7)), b"five two");
        assert_eq!(format_value(&f, &ConfigValue::Enum(5)), b"five");
        assert_eq!(format_value(&f, &ConfigValue::Enum(6)), b"two four");
        let s = def(ConfigValue::String(RVec::new()), 0);
        assert_eq!(parse_value(&s, b"a\0b").unwrap(), ConfigValue::String(b"a\0b"[..].into()));
    }
}
