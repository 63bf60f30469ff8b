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

/// Polls `cond` every 20 ms until it holds or `timeout` passed; returns whether it held. For a
/// caller whose own assertion then shows what is wrong (a list of processes, say).
pub fn poll_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "waiting for the moon to rise")]
    fn wait_until_fails_naming_what_it_waited_for() {
        wait_until(Duration::from_millis(100), "the moon to rise", || false);
    }

    #[test]
    fn wait_until_returns_once_the_condition_holds() {
        let mut n = 0;
        wait_until(Duration::from_secs(5), "three polls", || {
            n += 1;
            n == 3
        });
        assert_eq!(n, 3);
    }

    #[test]
    #[should_panic(expected = "the count stopped holding")]
    fn holds_for_fails_naming_what_stopped_holding() {
        let mut n = 0;
        holds_for(Duration::from_secs(5), "the count", || {
            n += 1;
            n < 3
        });
    }

    #[test]
    fn poll_until_says_whether_it_held() {
        assert!(!poll_until(Duration::from_millis(50), || false));
        assert!(poll_until(Duration::from_millis(50), || true));
    }
}
