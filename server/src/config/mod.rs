//! Server configuration: redis.conf syntax, defaults as Redis 7.0.
//! (Being extended into a typed directive table with CONFIG GET/SET/REWRITE.)

#[derive(Clone, Debug)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    /// True when `bind` was set by the user (protected mode only guards the default bind).
    pub bind_explicit: bool,
    pub protected_mode: bool,
    pub databases: usize,
    pub unixsocket: Option<String>,
    pub unixsocketperm: u32,
    pub logfile: String,
    pub loglevel: String,
    pub daemonize: bool,
    pub pidfile: Option<String>,
    pub requirepass: Option<Vec<u8>>,
    pub maxclients: usize,
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub hz: u32,
    pub active_expire_effort: u32,
    pub proto_max_bulk_len: i64,
    pub client_query_buffer_limit: u64,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: usize,
    pub latency_monitor_threshold: u64,
    pub lazyfree_lazy_user_flush: bool,
    pub dir: String,
    pub dbfilename: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 6379,
            bind: vec!["127.0.0.1".into(), "-::1".into()],
            bind_explicit: false,
            protected_mode: true,
            databases: 16,
            unixsocket: None,
            unixsocketperm: 0,
            logfile: String::new(),
            loglevel: "notice".into(),
            daemonize: false,
            pidfile: None,
            requirepass: None,
            maxclients: 10000,
            timeout: 0,
            tcp_keepalive: 300,
            hz: 10,
            active_expire_effort: 1,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            latency_monitor_threshold: 0,
            lazyfree_lazy_user_flush: false,
            dir: ".".into(),
            dbfilename: "dump.rdb".into(),
        }
    }
}

/// Reads the command line as redis-server does: `[config-file] [--directive value ...]`.
pub fn load_from_args(args: &[String]) -> Result<(Config, Option<std::path::PathBuf>), String> {
    let mut cfg = Config::default();
    let mut file = None;
    let mut i = 0;
    if let Some(first) = args.first() {
        if !first.starts_with("--") {
            file = Some(std::path::PathBuf::from(first));
            i = 1;
        }
    }
    while i < args.len() {
        let name = args[i].trim_start_matches("--").to_ascii_lowercase();
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match name.as_str() {
            "port" => cfg.port = value.parse().map_err(|_| "bad port".to_string())?,
            "bind" => {
                cfg.bind = value.split_whitespace().map(String::from).collect();
                cfg.bind_explicit = true;
            }
            "requirepass" => cfg.requirepass = Some(value.into_bytes()),
            "protected-mode" => cfg.protected_mode = value == "yes",
            _ => {}
        }
        i += 2;
    }
    Ok((cfg, file))
}
