//! `done_when`: a track's success criterion, a shell command the user approved (like
//! `setup`), run in the track's worktree with the track's environment and ports.
//!
//! - [`run`] runs it once, blocking, its output (both streams) in a log file, and says whether
//!   it passed: the one way pk runs a check, for the watcher and for `pk land` (which runs it
//!   on the exact commit it lands);
//! - [`Outcome`] is the last finished run of a track, kept in `tracks/<track>/check.json`
//!   under the session's state folder beside the log (`check.log`), with the [`tree`] it ran
//!   on, so that a result is known to be stale once the tree changes, by the watcher, by `pk
//!   status` without one, and after a restart;
//! - [`shown`] is what `pk status` and the bar show of it.

use crate::error::{Context, Result};
use crate::session::transcript::track_dir;
use pk_status::Timestamp;
use pk_status::status_file::{Check, CheckState};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The log of a track's last check, in its folder of the state folder.
pub(crate) const LOG_FILE: &str = "check.log";
/// The last finished check of a track, in the same folder.
pub(crate) const RESULT_FILE: &str = "check.json";

/// The last finished run of a track's check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Outcome {
    /// The command, as run.
    pub command: String,
    /// It exited 0.
    pub passed: bool,
    /// Its exit code (128 + the signal that ended it).
    pub code: u8,
    /// When it ended.
    pub at: Timestamp,
    /// The [`tree`] it ran on.
    pub tree: String,
}

/// The log of `track`'s check.
pub(crate) fn log_path(state_dir: &Path, track: &str) -> PathBuf {
    track_dir(state_dir, track).join(LOG_FILE)
}

/// The last finished check of `track`, if any (a damaged file is none).
pub(crate) fn load(state_dir: &Path, track: &str) -> Option<Outcome> {
    let text = std::fs::read(track_dir(state_dir, track).join(RESULT_FILE)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Records `outcome` as the last finished check of `track`. Not when the state folder is gone
/// (the session was torn down meanwhile).
pub(crate) fn save(state_dir: &Path, track: &str, outcome: &Outcome) -> Result<()> {
    let text = serde_json::to_vec_pretty(outcome).context("failed to encode a check's result")?;
    crate::util::fs::write_atomically_in_place(
        &track_dir(state_dir, track).join(RESULT_FILE),
        &text,
    )
}

/// One run of a check.
pub(crate) struct Run<'a> {
    /// The shell command (`done_when`).
    pub command: &'a str,
    /// Where it runs: the worktree (or a checkout of the commit to land).
    pub dir: &'a Path,
    /// The track's environment, over pk's own.
    pub env: &'a [(String, String)],
    /// Where its output goes (replaced).
    pub log: &'a Path,
}

/// Runs a check to its end: `sh -c COMMAND` in `dir`, stdin closed, stdout and stderr into the
/// log after a line that names the command. Returns whether it passed and its exit code; an
/// error only when it could not be started.
pub(crate) fn run(r: &Run<'_>) -> Result<(bool, u8)> {
    use std::io::Write;
    if let Some(dir) = r.log.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
    }
    let mut log = std::fs::File::create(r.log)
        .with_context(|| format!("failed to write {}", r.log.display()))?;
    let started = Timestamp(crate::util::clock::now_ms()).to_rfc3339();
    let _ = writeln!(log, "$ {}    (pk: done_when, {started})", r.command);
    let err = log
        .try_clone()
        .with_context(|| format!("failed to write {}", r.log.display()))?;
    let status = Command::new("sh")
        .arg("-c")
        .arg(r.command)
        .current_dir(r.dir)
        .envs(r.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone().context("failed to write the check's log")?)
        .stderr(err)
        .status()
        .with_context(|| format!("failed to run done_when `{}`", r.command))?;
    let code = crate::sys::procs::exit_code(status);
    let _ = writeln!(log, "pk: exit {code}");
    Ok((status.success(), code))
}

/// A fingerprint of a worktree's tree as an agent left it: its commit, what `git status`
/// says, and the size and modification time of every file it names (a second edit of a
/// file already changed shows there). Cheap: no file is read, nothing is written.
pub(crate) fn tree(head: Option<&str>, status_raw: &[u8], worktree: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let mut h = pk_status::Fnv1a::new()
        .write(head.unwrap_or("-").as_bytes())
        .write(b"\0")
        .write(status_raw);
    for path in crate::sys::git::changed_paths_of_status(status_raw) {
        let stamp = std::fs::symlink_metadata(worktree.join(&path))
            .map(|m| format!("{}:{}.{}", m.size(), m.mtime(), m.mtime_nsec()))
            .unwrap_or_else(|_| "gone".to_string());
        h = h.write(stamp.as_bytes()).write(b"\0");
    }
    format!("{:016x}", h.finish())
}

/// What is shown of a track's check: running (since when), else the last result, stale when
/// `tree_now` is known and differs from the tree it ran on.
pub(crate) fn shown(
    last: Option<&Outcome>,
    running_since: Option<Timestamp>,
    tree_now: Option<&str>,
    log: &Path,
) -> Check {
    let log = Some(log.to_path_buf());
    if let Some(since) = running_since {
        return Check {
            state: CheckState::Running,
            at: Some(since),
            log,
        };
    }
    match last {
        None => Check {
            state: CheckState::None,
            at: None,
            log: None,
        },
        Some(o) => Check {
            state: match (o.passed, tree_now) {
                (_, Some(now)) if now != o.tree => CheckState::Stale,
                (true, _) => CheckState::Pass,
                (false, _) => CheckState::Fail,
            },
            at: Some(o.at),
            log,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_logs_both_streams_and_says_how_it_ended() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("t/check.log");
        let env = vec![("WHO".to_string(), "api".to_string())];
        let run1 = Run {
            command: "echo out $WHO; echo err >&2; test -f marker",
            dir: dir.path(),
            env: &env,
            log: &log,
        };
        assert_eq!(run(&run1).unwrap(), (false, 1));
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.starts_with("$ echo out $WHO;"), "{text}");
        assert!(text.contains("out api\nerr\n"), "{text}");
        assert!(text.ends_with("pk: exit 1\n"), "{text}");
        std::fs::write(dir.path().join("marker"), "").unwrap();
        assert_eq!(run(&run1).unwrap(), (true, 0));
        assert!(
            !std::fs::read_to_string(&log)
                .unwrap()
                .contains("err\npk: exit 1")
        );
    }

    #[test]
    fn a_result_is_stale_once_the_tree_changes() {
        let log = Path::new("/s/check.log");
        let o = Outcome {
            command: "true".into(),
            passed: false,
            code: 1,
            at: Timestamp(5),
            tree: "aa".into(),
        };
        assert_eq!(shown(None, None, None, log).state, CheckState::None);
        assert_eq!(
            shown(Some(&o), None, Some("aa"), log).state,
            CheckState::Fail
        );
        assert_eq!(shown(Some(&o), None, None, log).state, CheckState::Fail);
        assert_eq!(
            shown(Some(&o), None, Some("bb"), log).state,
            CheckState::Stale
        );
        let running = shown(Some(&o), Some(Timestamp(9)), Some("bb"), log);
        assert_eq!(
            (running.state, running.at),
            (CheckState::Running, Some(Timestamp(9)))
        );
        let pass = Outcome { passed: true, ..o };
        assert_eq!(
            shown(Some(&pass), None, Some("aa"), log).state,
            CheckState::Pass
        );
    }

    #[test]
    fn the_tree_changes_with_a_second_edit_of_a_changed_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.rs"), "1").unwrap();
        let raw = b" M a.rs\0";
        let one = tree(Some("c1"), raw, dir.path());
        assert_eq!(one, tree(Some("c1"), raw, dir.path()));
        assert_ne!(one, tree(Some("c2"), raw, dir.path()));
        std::fs::write(dir.path().join("a.rs"), "12").unwrap();
        assert_ne!(one, tree(Some("c1"), raw, dir.path()));
    }
}
