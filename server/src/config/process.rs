//! Start-up directives that act on the process: `daemonize`, `pidfile`, `logfile` and
//! `loglevel` (which CONFIG SET can change while running), and the open-files limit that
//! `maxclients` needs.

use std::path::PathBuf;
use std::sync::OnceLock;

use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{reload, EnvFilter, Registry};

use super::{strerror, Config, Supervised};

/// Redis's pid file when daemonized without `pidfile`.
pub const DEFAULT_PIDFILE: &str = "/var/run/redis.pid";

static LOG_FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// The current `loglevel` as Redis numbers it (0 debug, 1 verbose, 2 notice, 3 warning, 4
/// nothing), for what logs at Redis's levels (modules).
static LOG_LEVEL: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(2);

fn store_level(loglevel: &str) {
    let n = match loglevel {
        "debug" => 0,
        "verbose" => 1,
        "warning" => 3,
        "nothing" => 4,
        _ => 2,
    };
    LOG_LEVEL.store(n, std::sync::atomic::Ordering::Relaxed);
}

/// Whether a message at Redis level `level` (0 debug .. 3 warning) passes `loglevel`.
pub fn log_enabled(level: u8) -> bool {
    level >= LOG_LEVEL.load(std::sync::atomic::Ordering::Relaxed)
}

/// The tracing level for a Redis `loglevel`.
pub fn level_for(loglevel: &str) -> &'static str {
    match loglevel {
        "debug" => "debug",
        "verbose" => "info",
        "warning" => "warn",
        "nothing" => "off",
        _ => "info",
    }
}

/// Installs the logger: to `logfile` (appending) or standard output, at `loglevel` unless the
/// `VIREO_LOG` environment variable gives a tracing filter. The level can be changed later with
/// [`set_log_level`].
pub fn init_logging(cfg: &Config) -> Result<(), String> {
    store_level(&cfg.loglevel);
    let filter = EnvFilter::try_from_env("VIREO_LOG")
        .unwrap_or_else(|_| EnvFilter::new(level_for(&cfg.loglevel)));
    let (filter, handle) = reload::Layer::new(filter);
    let writer = if cfg.logfile.is_empty() {
        BoxMakeWriter::new(std::io::stdout)
    } else {
        let f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&cfg.logfile)
            .map_err(|e| format!("Can't open the log file: {}", strerror(&e)))?;
        BoxMakeWriter::new(std::sync::Mutex::new(f))
    };
    let fmt = tracing_subscriber::fmt::layer().event_format(RedisLine).with_writer(writer);
    let syslog = cfg.syslog_enabled.then(|| Syslog::new(cfg));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(syslog)
        .try_init()
        .map_err(|e| e.to_string())?;
    let _ = LOG_FILTER.set(handle);
    Ok(())
}

/// `syslog-enabled yes`: every log line also goes to the system logger, as Redis's `syslog()`
/// calls send it: `<priority>ident[pid]: message` on the `/dev/log` datagram socket
/// (`VIREO_SYSLOG_SOCKET` names another), with `syslog-facility` and `syslog-ident`. Lines
/// are dropped when no logger listens, as the C library's are.
struct Syslog {
    sock: Option<std::os::unix::net::UnixDatagram>,
    path: PathBuf,
    facility: u8,
    ident: String,
}

impl Syslog {
    fn new(cfg: &Config) -> Syslog {
        use super::SyslogFacility as F;
        let facility = match cfg.syslog_facility {
            F::User => 1,
            F::Local0 => 16,
            F::Local1 => 17,
            F::Local2 => 18,
            F::Local3 => 19,
            F::Local4 => 20,
            F::Local5 => 21,
            F::Local6 => 22,
            F::Local7 => 23,
        };
        let path = std::env::var_os("VIREO_SYSLOG_SOCKET").unwrap_or_else(|| "/dev/log".into());
        Syslog {
            sock: std::os::unix::net::UnixDatagram::unbound().ok(),
            path: path.into(),
            facility,
            ident: cfg.syslog_ident.clone(),
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Syslog {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        use tracing::Level;
        let Some(sock) = &self.sock else { return };
        // Redis's map: warning, notice (Vireo's info), debug.
        let severity = match *event.metadata().level() {
            Level::ERROR | Level::WARN => 4,
            Level::INFO => 5,
            Level::DEBUG | Level::TRACE => 7,
        };
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, field: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                use std::fmt::Write as _;
                if !self.0.is_empty() {
                    self.0.push(' ');
                }
                let _ = match field.name() {
                    "message" => write!(self.0, "{v:?}"),
                    name => write!(self.0, "{name}={v:?}"),
                };
            }
        }
        let mut text = Text(String::new());
        event.record(&mut text);
        let pri = u32::from(self.facility) * 8 + severity;
        let line = format!("<{pri}>{}[{}]: {}", self.ident, std::process::id(), text.0);
        let _ = sock.send_to(line.as_bytes(), &self.path);
    }
}

/// A log line as Redis writes it, so that what reads Redis's logs reads Vireo's:
/// `<pid>:<role> <day> <month> <year> <hh:mm:ss.mmm> <level> <message>`, the role `M` (master)
/// or `S` (replica), the level `#` (warning), `*` (notice) or `.` (debug). Times are UTC.
struct RedisLine;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for RedisLine
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        use tracing::Level;
        let level = match *event.metadata().level() {
            Level::ERROR | Level::WARN => '#',
            Level::INFO => '*',
            Level::DEBUG | Level::TRACE => '.',
        };
        let role = if crate::keyspace::replica() { 'S' } else { 'M' };
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let (secs, ms) = (now.as_secs() as i64, now.subsec_millis());
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let t = secs.rem_euclid(86_400);
        const MONTHS: [&str; 12] =
            ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        write!(
            writer,
            "{}:{role} {day:02} {} {year} {:02}:{:02}:{:02}.{ms:03} {level} ",
            std::process::id(),
            MONTHS[(month - 1) as usize],
            t / 3600,
            t / 60 % 60,
            t % 60,
        )?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// The (year, month 1-12, day 1-31) of a count of days since 1970-01-01, in the proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Applies a new `loglevel` to the running logger.
pub fn set_log_level(loglevel: &str) {
    store_level(loglevel);
    if let Some(h) = LOG_FILTER.get() {
        let _ = h.reload(EnvFilter::new(level_for(loglevel)));
    }
}

/// Whether `daemonize yes` forks: not when a supervisor (upstart, systemd, or one detected by
/// `supervised auto`) runs the process.
pub fn should_daemonize(cfg: &Config) -> bool {
    if !cfg.daemonize {
        return false;
    }
    match cfg.supervised {
        Supervised::No => true,
        Supervised::Upstart | Supervised::Systemd => false,
        Supervised::Auto => {
            std::env::var_os("UPSTART_JOB").is_none() && std::env::var_os("NOTIFY_SOCKET").is_none()
        }
    }
}

/// Forks into the background as Redis does: the parent exits at once; the child starts a new
/// session with standard input, output and error on `/dev/null`. Must be called before any
/// other thread exists (before the logger and the runtime start).
pub fn daemonize() {
    use std::os::fd::AsRawFd;
    let devnull = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null").ok();
    let fd = devnull.as_ref().map(|f| f.as_raw_fd());
    // SAFETY: the process is still single-threaded (no runtime, logger or other thread has been
    // started), so the child of fork() is a complete copy with no lock held by a vanished
    // thread. setsid() and dup2() only act on the process's own session and descriptor table;
    // `fd` is an open descriptor owned by `devnull`, which outlives the calls, and 0, 1 and 2
    // are the standard descriptors. The parent leaves with _exit() so that nothing buffered or
    // registered is run twice.
    unsafe {
        match libc::fork() {
            -1 => {
                eprintln!("Can't fork to the background: {}", std::io::Error::last_os_error());
                libc::_exit(1);
            }
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        if let Some(fd) = fd {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
        }
    }
}

/// Writes the pid file if `pidfile` is set, or to [`DEFAULT_PIDFILE`] when daemonized without
/// one (which then shows in CONFIG GET pidfile). Returns the absolute path to remove at exit.
/// Failing to write it is logged, not fatal, as in Redis.
pub fn write_pidfile(cfg: &mut Config, daemonized: bool) -> Option<PathBuf> {
    if cfg.pidfile.is_none() {
        if !daemonized {
            return None;
        }
        cfg.pidfile = Some(DEFAULT_PIDFILE.into());
    }
    let path = super::absolute_path(cfg.pidfile.as_deref().unwrap_or(DEFAULT_PIDFILE));
    match std::fs::write(&path, format!("{}\n", std::process::id())) {
        Ok(()) => Some(path),
        Err(e) => {
            tracing::warn!("Failed to write PID file: {}", strerror(&e));
            None
        }
    }
}

/// Descriptors kept for what is not a client (listeners, data files, modules), as Redis keeps.
const RESERVED_FDS: u64 = 32;

/// Raises the open-files limit to what `maxclients` needs, as Redis does at start-up. Where the
/// system refuses, `maxclients` is lowered to what the limit allows, with Redis's warnings; Err
/// (the server must not start) when not even the reserved descriptors fit.
pub fn adjust_open_files_limit(cfg: &mut Config) -> Result<(), String> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let want = cfg.maxclients as u64 + RESERVED_FDS;
    let limit = getrlimit(Resource::Nofile);
    // None: unlimited.
    let Some(old) = limit.current.filter(|&n| n < want) else { return Ok(()) };
    // Try the whole need first, then less, as Redis does; the hard limit is never lowered.
    let mut best = want;
    let mut error = None;
    while best > old {
        let max = limit.maximum.map(|m| m.max(best));
        match setrlimit(Resource::Nofile, Rlimit { current: Some(best), maximum: max }) {
            Ok(()) => break,
            Err(e) => error = Some(e),
        }
        best = best.saturating_sub(16);
    }
    let best = best.max(old);
    if best >= want {
        tracing::info!(
            "Increased maximum number of open files to {want} (it was originally set to {old})."
        );
        return Ok(());
    }
    if best <= RESERVED_FDS {
        return Err(format!(
            "Your current 'ulimit -n' of {old} is not enough for the server to start. Please \
             increase your open file limit to at least {want}. Exiting."
        ));
    }
    let requested = cfg.maxclients;
    cfg.maxclients = (best - RESERVED_FDS) as usize;
    let why = error.map(|e| strerror(&e.into())).unwrap_or_default();
    tracing::warn!(
        "You requested maxclients of {requested} requiring at least {want} max file descriptors."
    );
    tracing::warn!("Server can't set maximum open files to {want} because of OS error: {why}.");
    tracing::warn!(
        "Current maximum open files is {best}. maxclients has been reduced to {} to compensate \
         for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
        cfg.maxclients
    );
    Ok(())
}

/// Removes the pid file written at start-up.
pub fn remove_pidfile(path: &Option<PathBuf>) {
    if let Some(p) = path {
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn dates_of_log_lines() {
        for (days, date) in [
            (0, (1970, 1, 1)),
            (-1, (1969, 12, 31)),
            (11_016, (2000, 2, 29)),
            (11_017, (2000, 3, 1)),
            (20_781, (2026, 11, 24)),
            (47_846, (2100, 12, 31)),
        ] {
            assert_eq!(civil_from_days(days), date, "{days}");
        }
    }
}
