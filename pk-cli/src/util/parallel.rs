//! Parallel maps: one thread per item for work that mostly waits on a child process, a few
//! threads over a shared queue for work that reads.

use crate::error::{Error, Result};

/// Runs `f` on every item at once, one thread each, and returns the results in order (a
/// panicking thread gives an error). For per-worktree git commands: most of their time is
/// spent in the child process, so the threads mostly wait.
pub(crate) fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Vec<Result<R>> {
    if let [one] = items {
        return vec![f(one)];
    }
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items
            .iter()
            .map(|item| scope.spawn(move || f(item)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::failure("a worker thread panicked")))
            })
            .collect()
    })
}

/// Runs `work` on every item; on up to `threads_max` threads when the items have at least
/// `from` of work together (`backlog`, in any unit), the biggest first, so that a first look at
/// long transcripts takes the time of the longest rather than of all. Small amounts stay on
/// this thread: starting threads costs more than they save.
pub(crate) fn each_in_parallel<T: Send>(
    items: &mut [T],
    backlog: impl Fn(&T) -> u64,
    from: u64,
    threads_max: usize,
    work: impl Fn(&mut T) + Sync,
) {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(threads_max)
        .min(items.len());
    let mut queue: Vec<(u64, &mut T)> = items.iter_mut().map(|i| (backlog(i), i)).collect();
    let total: u64 = queue.iter().map(|(b, _)| b).sum();
    if threads < 2 || total < from {
        queue.into_iter().for_each(|(_, item)| work(item));
        return;
    }
    // Smallest first: `pop` takes the biggest.
    queue.sort_by_key(|(b, _)| *b);
    let queue = std::sync::Mutex::new(queue);
    let next = || {
        queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
    };
    let run = || {
        while let Some((_, item)) = next() {
            work(item);
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(run);
        }
        run();
    });
}
