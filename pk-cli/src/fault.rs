//! Fault injection, for tests only: `pk up` and `pk down` call [`point`] after each step that
//! changes something, and the test suite (`tests/e2e/faults.rs`) makes pk die at one of them to
//! check that whatever a crash leaves behind, a new `pk up` finishes the job and `pk down`
//! removes everything pk made.
//!
//! The switch is the environment variable `PK_FAULT_AT` (deliberately not a command-line
//! option, and not in `--help`): a number `K` makes pk die at the K-th point it reaches (1 is
//! the first), anything else at the point of that name (`up:worktree-added:api`). Dying is
//! [`std::process::abort`]: no destructors run, no lock is released by pk, no buffered state is
//! written, as when the process is killed. Before dying pk prints `pk: fault injected at <name>
//! (point K)` to stderr, so a test can say where.
//!
//! Unset (the normal case) the variable is read once and each point costs an atomic load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The variable that arms a fault.
pub const PK_FAULT_AT: &str = "PK_FAULT_AT";

enum Target {
    Nth(usize),
    Named(String),
}

static TARGET: OnceLock<Option<Target>> = OnceLock::new();
static REACHED: AtomicUsize = AtomicUsize::new(0);

fn target() -> &'static Option<Target> {
    TARGET.get_or_init(|| {
        let value = std::env::var(PK_FAULT_AT).ok()?;
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        Some(match value.parse::<usize>() {
            Ok(n) => Target::Nth(n),
            Err(_) => Target::Named(value.to_string()),
        })
    })
}

/// A step of `pk up` or `pk down` is done: dies here when `PK_FAULT_AT` names this point.
pub fn point(name: &str) {
    let Some(target) = target() else {
        return;
    };
    let n = REACHED.fetch_add(1, Ordering::SeqCst) + 1;
    let hit = match target {
        Target::Nth(k) => *k == n,
        Target::Named(want) => want == name,
    };
    if hit {
        eprintln!("pk: fault injected at {name} (point {n})");
        std::process::abort();
    }
}
