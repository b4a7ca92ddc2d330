//! Every integration test of the server in one test binary. Each module is one family (a
//! command group, persistence, replication, modules, ...); most start the real `vireo-server`
//! binary on a free port, a few run the command layer in process (`common::InProcess`).
//!
//! One binary, not one per file: each test binary links the whole server with its debug info
//! (about 150 MB), and forty of them filled a CI machine's disk and spent minutes linking.
//! Run one family with `cargo test -p vireo-server --test integration strings::`.

// The in-process tests measure memory as the server binary does.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod common;

mod acl;
mod aof;
mod bgsave;
mod bitmaps;
mod blocking;
mod bullmq;
mod clients;
mod config;
mod connection;
mod differential;
mod docs;
mod eviction;
mod failover;
mod functions;
mod geo;
mod hashes;
mod hyperloglog;
mod introspection;
mod keys;
mod lists;
mod loading;
mod migrate;
mod modules;
mod modules_blocking;
mod modules_config;
mod modules_events;
mod modules_json;
mod modules_json_api;
mod modules_keys;
mod modules_types;
mod notifications;
mod ops;
mod persistence;
mod propagation;
mod pubsub;
mod redis_py;
mod replication;
mod script_debug;
mod scripting;
mod scripting_busy;
mod sentinel;
mod sets;
mod sort;
mod streams;
mod strings;
mod tracking;
mod transactions;
mod zsets;
