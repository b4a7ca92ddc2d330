//! `vireo-server [/path/to/vireo.conf] [--directive value ...]`, as redis-server.

use std::sync::Arc;

use vireo_server::{config, cron, net, Server};

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut cfg, file) = match config::load_from_args(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    // The collation locale is set while this is the only thread (see util::collate).
    if let Err(e) = vireo_server::util::collate::init(cfg.locale_collate.as_bytes()) {
        eprintln!("Failed to set locale-collate: {e}");
        std::process::exit(1);
    }
    // Fork before any thread exists (the logger and the runtime start threads).
    let background = config::process::should_daemonize(&cfg);
    if background {
        config::process::daemonize();
    }
    if let Err(e) = config::process::init_logging(&cfg) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    if let Err(e) = config::process::adjust_open_files_limit(&mut cfg) {
        tracing::warn!("{e}");
        std::process::exit(1);
    }
    vireo_server::supervise::init(cfg.supervised);
    let pidfile = config::process::write_pidfile(&mut cfg, background);
    // Commands time themselves with the TSC (a fraction of clock_gettime's cost); its clock
    // calibrates once, for up to 200 ms, off the start-up path.
    std::thread::spawn(quanta::Instant::now);

    // One worker per core the process may run on. Always the multi-thread runtime, even with one
    // worker: a script past busy-reply-threshold hands its worker to another thread (see
    // script_run), which a single-threaded runtime cannot do.
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        // Replies wait for the end of the worker's pass (see net::pass).
        .on_thread_park(vireo_server::net::pass::parked)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(async move {
        let server = Server::new(cfg, file);
        {
            // Modules first, as Redis: the data may hold their types and the AOF their commands.
            let mut core = server.core.lock();
            if let Err(e) = vireo_server::module_host::load_at_startup(&server, &mut core) {
                tracing::error!("{e}");
                return 1;
            }
            // Then the users, whose rules may name module commands.
            if let Err(e) = vireo_server::acl::file::load_at_startup(&server, &mut core) {
                tracing::error!("{e}");
                return 1;
            }
        }
        match run(server).await {
            Ok(()) => 0,
            Err(e) => {
                tracing::error!("{e}");
                1
            }
        }
    });
    config::process::remove_pidfile(&pidfile);
    std::process::exit(code);
}

/// Loads the data set: the AOF when it is on (it is the source of truth then), else the RDB
/// file.
fn load_data(server: &Arc<Server>) -> Result<(), String> {
    use vireo_module_api::abi::server_event as se;
    use vireo_server::module_host::events;
    events::fire_locked(server, events::data(se::LOADING, se::START, 0));
    let aof = server.core.lock().cfg.appendonly;
    let r = if aof {
        vireo_server::persist::aof::load_at_startup(server)
    } else {
        vireo_server::persist::snapshot::load_at_startup(server)
    };
    let end = if r.is_ok() { se::END } else { se::FAILED };
    events::fire_locked(server, events::data(se::LOADING, end, 0));
    r
}

/// Returns when SHUTDOWN or a signal asked the server to stop.
async fn stop_requested(server: &Server) {
    loop {
        // A Notified future sees notify_waiters() from its creation on, so create it first.
        let stop = server.shutdown.notified();
        if server.is_shutting_down() {
            return;
        }
        stop.await;
    }
}

/// SIGTERM and SIGINT shut the server down as `shutdown-on-sigterm` / `shutdown-on-sigint`
/// say (`default`: save when save points are configured). A save that fails without `force`
/// keeps the server running, as Redis does: it does not exit losing what it was to save.
async fn on_signals(server: Arc<Server>) {
    use tokio::signal::unix::{signal, SignalKind};
    use vireo_server::cmd::server_cmds::{prepare_shutdown, ShutdownMode};
    let mut term = signal(SignalKind::terminate()).expect("signal handler");
    let mut int = signal(SignalKind::interrupt()).expect("signal handler");
    loop {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::warn!("Received {name} scheduling shutdown...");
        if server.loading.active() {
            // Nothing whole to save: the loader stops (see `run`).
            server.request_shutdown();
            return;
        }
        let done = {
            // Asynchronously: a busy script holds the lock, and this worker must stay free to
            // answer BUSY (and SHUTDOWN NOSAVE) meanwhile.
            let mut core = server.lock_core().await;
            // Meanwhile a SHUTDOWN NOSAVE may have ended the script and the server.
            if server.is_shutting_down() {
                return;
            }
            let cfg = &core.cfg;
            let flags =
                if name == "SIGTERM" { cfg.shutdown_on_sigterm } else { cfg.shutdown_on_sigint };
            prepare_shutdown(&server, &mut core, ShutdownMode::from_flags(flags))
        };
        if done {
            tracing::warn!("User requested shutdown...");
            server.request_shutdown();
            return;
        }
        tracing::warn!(
            "{name} received but errors trying to shut down the server, check the logs for more \
             information"
        );
    }
}

async fn run(server: Arc<Server>) -> std::io::Result<()> {
    // The server listens while it loads, answering -LOADING to what may not run yet (see
    // persist::loading): the state is entered before the first connection is accepted. With
    // no files there is nothing to wait for: the (empty) start-up runs before listening.
    let files = vireo_server::persist::loading::files_to_load(&server.core.lock().cfg);
    if let Some(total) = files {
        server.loading.start(total);
    } else {
        load_data(&server).map_err(std::io::Error::other)?;
    }
    let (listeners, unix) = net::bind_all(&server).await?;
    let port = server.tcp_port.load(std::sync::atomic::Ordering::Relaxed);
    tracing::info!(
        "Vireo {} started, pid={}, port={}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        port
    );
    if server.core.lock().cfg.cluster_enabled {
        tracing::warn!(
            "WARNING cluster-enabled is yes, but Vireo has no cluster mode yet: it runs as a \
             standalone server (database 0 only) whose CLUSTER commands answer that they are \
             not implemented."
        );
    }
    for l in listeners {
        tokio::spawn(net::accept_tcp(server.clone(), l));
    }
    if let Some(u) = unix {
        let path = server.core.lock().cfg.unixsocket.clone().unwrap_or_default();
        tokio::spawn(net::accept_unix(server.clone(), u, path));
    }
    tokio::spawn(on_signals(server.clone()));
    if files.is_some() {
        let srv = server.clone();
        let load = tokio::task::spawn_blocking(move || load_data(&srv));
        tokio::select! {
            r = load => {
                let r = r.unwrap_or_else(|e| Err(format!("The loading thread failed: {e}")));
                r.map_err(std::io::Error::other)?;
            }
            // Stopped while loading: nothing to save (the data set is not whole), as Redis.
            _ = stop_requested(&server) => {
                tracing::warn!("User requested shutdown while loading...");
                tracing::warn!("Vireo is now ready to exit, bye bye...");
                return Ok(());
            }
        }
        server.loading.stop();
    }
    tracing::info!("Ready to accept connections");
    // A replica is ready too (systemd is not kept waiting on the master); its status says so.
    vireo_server::supervise::notify(if server.core.lock().cfg.replicaof.is_some() {
        "STATUS=Ready to accept connections in read-only mode. Waiting for MASTER <-> REPLICA sync\n"
    } else {
        "STATUS=Ready to accept connections\n"
    });
    vireo_server::supervise::notify("READY=1\n");
    // `replicaof` in the configuration: the link starts on the loaded data set, as in Redis.
    {
        let mut core = server.core.lock();
        if let Some(master) = core.cfg.replicaof.clone() {
            vireo_server::repl::set_master(&server, &mut core, Some(master));
        }
    }
    // The cron (expiry, save points, rewrites) starts on the whole data set.
    tokio::spawn(cron::run(server.clone()));
    stop_requested(&server).await;
    vireo_server::supervise::notify("STOPPING=1\n");
    {
        // SHUTDOWN and signals saved as they were asked to and told the modules; SHUTDOWN
        // NOSAVE during a busy script could not, and saves nothing.
        let mut core = server.core.lock();
        if !core.shutting_down {
            use vireo_server::module_host::events;
            let shutdown = vireo_module_api::abi::server_event::SHUTDOWN;
            events::fire(&server, &mut core, events::data(shutdown, 0, 0));
        }
        vireo_server::persist::aof::shutdown(&mut core);
    }
    tracing::warn!("Vireo is now ready to exit, bye bye...");
    Ok(())
}
