//! Vireo: a Redis-compatible in-memory data-structure server.

pub mod acl;
pub mod blocking;
pub mod client;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod cron;
pub mod error;
pub mod info;
pub mod keyspace;
pub mod module_host;
pub mod net;
pub mod outbuf;
pub mod persist;
pub mod propagate;
pub mod pubsub;
pub mod repl;
pub mod resp;
pub mod script_run;
pub mod server;
pub mod stats;
pub mod supervise;
pub mod tracking;
pub mod types;
pub mod util;

pub use server::Server;

/// The Redis version Vireo reports (INFO, HELLO): clients gate features on it.
pub const REDIS_VERSION: &str = "7.0.15";
