//! The git pk runs ends with pk, and what such a git leaves behind is removed only once no
//! process holds it (issue 10, case 4).
//!
//! A `git reset --hard` that outlives a killed pk keeps its `index.lock` and goes on writing
//! files; the next pk that deleted that lock and checked out beside it left a 0-byte index. So:
//! - on Linux every git pk starts gets a parent-death signal: SIGTERM when pk ends, however it
//!   ends (SIGKILL, SIGINT, SIGTERM, a crash). git handles SIGTERM by removing its own lock
//!   files, then dies; what it started (a smudge filter) sees its pipes close and ends too;
//! - a lock file in a worktree's git folder is stale only when no live process has it open:
//!   git keeps its lock files open (`/proc/<pid>/fd`) from making them until it renames or
//!   removes them, so this is asked of the kernel, not guessed from pids.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Makes `cmd` (a git pk runs and waits for) end when pk ends.
///
/// The parent-death signal fires when the *thread* that started the child exits, not the
/// process: pk starts git from the thread that then waits for it (`output()`, in
/// [`crate::util::parallel::in_parallel`]'s worker threads too), so that thread outlives the child while
/// pk lives. A pk that died between the fork and the `prctl` would be missed: the child then
/// checks that its parent is still the pk that forked it, else fails to start.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn end_with_pk(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let pk = rustix::process::getpid();
    let hook = move || -> std::io::Result<()> {
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))?;
        if rustix::process::getppid() != Some(pk) {
            return Err(std::io::Error::other("pk ended before git started"));
        }
        Ok(())
    };
    // SAFETY: the hook runs in the forked child before exec. It only makes two system calls
    // (prctl, getppid), which are async-signal-safe; it allocates nothing (the error of the
    // unlikely last branch is a static message) and takes no lock.
    unsafe {
        cmd.pre_exec(hook);
    }
}

/// Elsewhere there is no parent-death signal: a killed pk's git finishes on its own, and its
/// locks are left alone while it runs (see [`holders`]).
#[cfg(not(target_os = "linux"))]
pub(crate) fn end_with_pk(_cmd: &mut Command) {}

/// A live process that holds a file under a folder pk wants to clean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Holder {
    pub pid: i32,
    /// Its command name (`/proc/<pid>/comm`).
    pub name: String,
    /// The file it holds open, or the folder it works in.
    pub what: PathBuf,
}

/// The live processes that have a file under `dir` open, or work (their current folder) in
/// `worktree` or below. Linux only (`/proc`); elsewhere none can be seen. Processes of other
/// users cannot be read and are not counted: pk's git runs as the user.
pub(crate) fn holders(dir: &Path, worktree: &Path) -> Vec<Holder> {
    if !cfg!(target_os = "linux") {
        return Vec::new();
    }
    let (dir, worktree) = (
        crate::util::fs::canonical(dir),
        crate::util::fs::canonical(worktree),
    );
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| *n != me)
            .and_then(|n| n.parse().ok())
        else {
            continue;
        };
        let proc_dir = entry.path();
        // Working in the worktree counts for git and what git started (a filter), not for
        // anyone else: a user's shell left in a half-made worktree holds no lock of git's.
        let mut held = std::fs::read_link(proc_dir.join("cwd"))
            .ok()
            .filter(|cwd| cwd.starts_with(&worktree))
            .filter(|_| is_git(&proc_dir) || parent_dir(&proc_dir).is_some_and(|p| is_git(&p)));
        if held.is_none()
            && let Ok(fds) = std::fs::read_dir(proc_dir.join("fd"))
        {
            held = fds
                .flatten()
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .find(|target| target.starts_with(&dir));
        }
        if let Some(what) = held {
            let name = std::fs::read_to_string(proc_dir.join("comm")).unwrap_or_default();
            out.push(Holder {
                pid,
                name: name.trim().to_string(),
                what,
            });
        }
    }
    out
}

/// True when the process in `/proc/<pid>` runs git (`git`, or one of its `git-*` programs).
fn is_git(proc_dir: &Path) -> bool {
    std::fs::read_to_string(proc_dir.join("comm")).is_ok_and(|c| c.starts_with("git"))
}

/// `/proc/<ppid>` of the process in `/proc/<pid>`.
fn parent_dir(proc_dir: &Path) -> Option<PathBuf> {
    let stat = std::fs::read_to_string(proc_dir.join("stat")).ok()?;
    // `pid (comm) state ppid …`: the name may hold spaces and parentheses, the last `)` ends it.
    let ppid = stat.rsplit_once(") ")?.1.split_whitespace().nth(1)?;
    Some(Path::new("/proc").join(ppid))
}

/// [`holders`], waited for: what a killed pk's git leaves ends a moment after pk (its
/// parent-death signal, then its filters' pipes), so they get `patience` to go.
pub(crate) fn holders_after(
    dir: &Path,
    worktree: &Path,
    patience: std::time::Duration,
) -> Vec<Holder> {
    let deadline = std::time::Instant::now() + patience;
    loop {
        let found = holders(dir, worktree);
        if found.is_empty() || std::time::Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn sees_a_process_holding_a_file_or_working_in_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let admin = dir.path().join("admin");
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(&admin).unwrap();
        std::fs::create_dir_all(&tree).unwrap();
        std::fs::write(admin.join("index.lock"), "").unwrap();
        assert_eq!(holders(&admin, &tree), Vec::new());
        // A child holding the lock open; one "git" working in the tree (a `sleep` under that
        // name: the kernel names a process after its program's file); and a user's shell
        // there, which holds nothing of git's.
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/bin/sleep", bin.join("git")).unwrap();
        let mut open = Command::new("sh")
            .arg("-c")
            .arg("exec 3<\"$0\"; exec sleep 30")
            .arg(admin.join("index.lock"))
            .spawn()
            .unwrap();
        let mut inside = Command::new(bin.join("git"))
            .arg("30")
            .current_dir(&tree)
            .spawn()
            .unwrap();
        let mut shell = Command::new("sleep")
            .arg("30")
            .current_dir(&tree)
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut seen = holders(&admin, &tree);
        while seen.len() < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
            seen = holders(&admin, &tree);
        }
        // Time for the shell to be seen too, were it counted.
        std::thread::sleep(std::time::Duration::from_millis(100));
        seen = holders(&admin, &tree);
        let _ = (open.kill(), inside.kill(), shell.kill());
        let _ = (open.wait(), inside.wait(), shell.wait());
        let mut pids: Vec<i32> = seen.iter().map(|h| h.pid).collect();
        pids.sort();
        let mut want = vec![open.id() as i32, inside.id() as i32];
        want.sort();
        assert_eq!(pids, want, "{seen:?}");
    }
}
