//! A panic while serving one connection closes that connection, not the server.
//!
//! No input should make a command panic; this is the net under the ones that still do. Without
//! it the task unwinds past its own teardown: the client stays in the client table, the shared
//! socket stays open, and the peer waits forever for a reply. The locks it held are released by
//! the unwinding (parking_lot does not poison them).

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use vireo_module_api::panic_message;

/// Runs a future, answering `Err(message)` instead of unwinding if a poll of it panics.
pub struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> CatchUnwind<F> {
    pub fn new(f: F) -> Self {
        CatchUnwind(Box::pin(f))
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(panic_message(&*payload))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_an_error() {
        let ok = CatchUnwind::new(async { 7 }).await;
        assert_eq!(ok, Ok(7));
        let v: Vec<u8> = Vec::new();
        let err = CatchUnwind::new(async move { v[3] }).await;
        assert!(err.unwrap_err().contains("index out of bounds"));
    }
}
