//! What `pk down` does to a worktree git cannot read as it is (issue 10, cases 4 and 5), so
//! that it can check it for work and remove it whatever state `pk up` stopped in: a worktree
//! whose checkout failed (a filter that fails) and so has no index, or whose index is damaged
//! (a killed git's 0-byte index). Neither touches a file of the working tree.

use crate::error::{Error, Result};
use crate::session::state::TrackRecord;
use crate::sys::git::Git;
use std::path::Path;

/// Fills a worktree pk has not finished making (its record is not `worktree_ready`) before it is
/// checked for work, else every file would look deleted; when its checkout fails again, gives
/// it an index only. Returns what it could not do, to say.
pub(super) fn fill(git: &Git, rec: &TrackRecord) -> Result<Option<String>> {
    let worktree = &rec.worktree;
    if !rec.worktree_ready
        && let Err(e) = crate::session::recover::finish_checkout(git, worktree, false)
    {
        // The checkout that failed for `pk up` fails again (a filter's program is missing):
        // only the index is made, from the branch; the files never checked out are then
        // missing, which is not work (the worktree was never handed over).
        index_from_head(git, worktree).map_err(|e2| e2.wrap_cause(e.to_string()))?;
        return Ok(Some(format!(
            "could not check out the worktree of `{}` ({}); checked only the files that are there",
            rec.name,
            e.causes.first().map_or(e.message.as_str(), String::as_str)
        )));
    }
    Ok(None)
}

/// Checks the worktree of track `name` for work with `check`; when that fails because git
/// cannot read the worktree's index, rebuilds the index and checks again. `said` gets what was
/// repaired. (Asked only after a failure: the usual `pk down` runs no more git.)
pub(super) fn checked<T>(
    git: &Git,
    worktree: &Path,
    name: &str,
    said: impl Fn(&str),
    check: impl Fn() -> Result<T>,
) -> Result<T> {
    let err = match check() {
        Ok(found) => return Ok(found),
        Err(e) => e,
    };
    if !index_damaged(git, worktree) {
        return Err(err);
    }
    index_from_head(git, worktree).map_err(|e| e.wrap_cause(err.to_string()))?;
    said(&format!(
        "the index of worktree `{name}` was damaged; rebuilt it from its branch (its files are untouched)"
    ));
    check()
}

/// True when git says the worktree's index is damaged (cut short, as a killed git leaves it,
/// or with a bad checksum). Not for an index git cannot read for another reason, such as one
/// written by a newer git with an extension this one does not know: rebuilding that one would
/// throw away what the user staged.
fn index_damaged(git: &Git, worktree: &Path) -> bool {
    let mut cmd = git.command_in(worktree);
    cmd.args(["--no-optional-locks", "ls-files", "--cached", "-z"])
        .stdout(std::process::Stdio::null());
    let Ok(out) = cmd.output() else {
        return false;
    };
    !out.status.success() && is_damaged_index_message(&String::from_utf8_lossy(&out.stderr))
}

/// What git (in the C locale, as pk runs it) says of an index it found damaged.
fn is_damaged_index_message(stderr: &str) -> bool {
    let newer_git =
        stderr.contains("which we do not understand") || stderr.contains("bad index version");
    let damaged = [
        "index file smaller than expected",
        "bad signature",
        "bad index file sha1 signature",
        "index file corrupt",
    ];
    !newer_git && damaged.iter().any(|m| stderr.contains(m))
}

/// Writes the worktree's index afresh from its HEAD, without reading the old one and without
/// touching the files: `git status` then compares the files with the branch.
fn index_from_head(git: &Git, worktree: &Path) -> Result<()> {
    let mut cmd = git.command_in(worktree);
    cmd.args(["read-tree", "HEAD"]);
    crate::sys::shell::run_captured(&mut cmd, "git", false)
        .map(drop)
        .map_err(|e| {
            e.wrap(format!(
                "failed to rebuild the index of {}",
                worktree.display()
            ))
        })
        .map_err(|e: Error| e.hint("check the worktree with `git status` there"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_damaged_index_is_rebuilt() {
        // git 2.47's words for a 0-byte index and a garbled one; then a newer git's index.
        assert!(is_damaged_index_message(
            "error: index file smaller than expected\nfatal: index file corrupt"
        ));
        assert!(is_damaged_index_message(
            "error: bad signature 0x00000000\nfatal: index file corrupt"
        ));
        assert!(!is_damaged_index_message(
            "error: index uses abcd extension, which we do not understand\nfatal: index file corrupt"
        ));
        assert!(!is_damaged_index_message(
            "error: bad index version 9\nfatal: index file corrupt"
        ));
        assert!(!is_damaged_index_message("fatal: not a git repository"));
    }
}
