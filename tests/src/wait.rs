//! Waiting for a condition instead of sleeping a fixed time: as fast as the machine allows,
//! and a failure that says what never happened.

use std::time::{Duration, Instant};

/// Polls `cond` every 20 ms until it holds; panics naming `what` after `timeout`.
#[track_caller]
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Holds for the whole of `period`: checks `cond` every 20 ms and panics naming `what` as soon
/// as it fails. For "nothing happens" checks, which have no event to wait for.
#[track_caller]
pub fn holds_for(period: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    loop {
        assert!(cond(), "{what} stopped holding after {:?}", start.elapsed());
        if start.elapsed() >= period {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
