//! Replies go out at the end of the worker's pass, as Redis writes its clients' replies at the
//! end of each event-loop iteration.
//!
//! A connection that has run a batch defers its write (`yield_now`) until the worker has run
//! every other ready task and polled for I/O; tokio bounds the wait (it also wakes deferred
//! tasks every `event_interval` ticks and before `block_in_place`). A client waiting on its
//! replies is then woken once per pass instead of once per reply: with one reply at a time,
//! redis-benchmark slept and was woken for nearly every reply, and the wake-up cost the server
//! more than the write itself.
//!
//! The first batch after the worker last parked writes at once: with a single busy client every
//! pass is one batch, and deferring would only add a poll for I/O to each of its round trips.

use std::cell::Cell;

thread_local! {
    /// Batches this thread has run since it last parked.
    static BATCHES: Cell<u32> = const { Cell::new(0) };
}

/// Called by a connection with replies to write, before writing them.
pub async fn end_of_batch() {
    let n = BATCHES.with(|b| {
        let n = b.get().saturating_add(1);
        b.set(n);
        n
    });
    if n > 1 {
        tokio::task::yield_now().await;
    }
}

/// The worker thread has nothing left to run and is about to sleep: the runtime's
/// `on_thread_park` hook. Without it every batch defers its write, which is still correct.
pub fn parked() {
    BATCHES.with(|b| b.set(0));
}
