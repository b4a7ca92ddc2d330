//! Replies go out at the end of the worker's pass, as Redis writes its clients' replies at the
//! end of each event-loop iteration.
//!
//! A connection that has run a batch waits for its turn to write until the worker thread has
//! nothing else ready (tokio's `on_thread_park`, see [`end`]), then all of them write. A client
//! sleeping on its replies is then woken once per pass instead of once per reply: with one reply
//! at a time, redis-benchmark slept and was woken for nearly every reply, and the wake-up (an
//! inter-processor interrupt charged to our `send`) cost the server more than the write itself.
//!
//! The wait is bounded: after [`MAX_BATCHES`] batches on one thread the waiting connections
//! write without waiting for the pass to end (a worker that never runs dry would otherwise hold
//! them). A thread that gives its worker away to a busy script ([`hand_off`]) lets them go
//! first, and until it parks as a worker again its connections write at once: it may never
//! park again (the runtime's `on_thread_park` hook must be [`end`]).

use std::cell::RefCell;
use std::sync::Arc;

use tokio::sync::Notify;

/// The most batches a thread runs before the connections waiting on it write anyway.
const MAX_BATCHES: usize = 64;

#[derive(Default)]
struct Pass {
    waiting: Vec<Arc<Notify>>,
    batches: usize,
    /// This thread gave its worker away (see [`hand_off`]).
    handed_off: bool,
}

thread_local! {
    static PASS: RefCell<Pass> = RefCell::new(Pass::default());
}

/// Waits until this worker's pass ends (at once when it has lasted [`MAX_BATCHES`] batches).
/// `turn` is the connection's own: a notification given before the wait starts is kept.
pub async fn wait_turn(turn: &Arc<Notify>) {
    let full = PASS.with(|p| {
        let mut p = p.borrow_mut();
        if p.handed_off {
            return None;
        }
        p.waiting.push(turn.clone());
        p.batches += 1;
        Some(p.batches >= MAX_BATCHES)
    });
    match full {
        None => return,
        Some(true) => end(),
        Some(false) => {}
    }
    turn.notified().await;
}

/// Ends this thread's pass: every connection waiting on it may write. The runtime's
/// `on_thread_park` hook.
pub fn end() {
    PASS.with(|p| release(&mut p.borrow_mut(), false));
}

/// Called by a thread about to give its worker away (`block_in_place`): the connections waiting
/// on it write now, and those it still runs write at once until it parks as a worker again.
pub fn hand_off() {
    PASS.with(|p| release(&mut p.borrow_mut(), true));
}

fn release(p: &mut Pass, handed_off: bool) {
    p.handed_off = handed_off;
    p.batches = 0;
    // Waking a task only schedules it: nothing runs here that could come back to PASS.
    for turn in p.waiting.drain(..) {
        turn.notify_one();
    }
}
