//! Recovery: what a `pk up` or `pk down` killed at any step (design §7), or the git it ran
//! killed with it, leaves where pk was making or removing a worktree, and how the next run
//! finishes the job or removes it. Each helper acts only where pk's record says pk was at work,
//! and under the session lock (no other pk is at work there).

use crate::error::{Context, Error, Result};
use crate::session::state::TrackRecord;
use crate::sys::git::Git;
use std::path::{Path, PathBuf};

/// Removes what a killed pk, or a git it ran and that was killed with it, left where it was
/// making or removing the worktree of `rec`, so that the worktree can be made again or is
/// gone. Only pk was at work there (the record says so), and only its own leftovers go:
/// - git's unfinished `worktree add` (its folder in `.git/worktrees` still locked
///   `initializing`, which git removes last) while the worktree holds nothing but its `.git`;
/// - an empty folder pk was about to make its worktree in;
/// - what a killed `git worktree remove` left of a worktree `pk down` was removing (checked
///   clean, or its work saved, just before);
/// - the start of git's folder for the worktree in `.git/worktrees` (named after the
///   worktree's folder, with a number when taken), when git was killed before it wrote which
///   worktree the folder is for; or its end, when git was killed removing it.
///
/// Returns true when it removed something.
pub(crate) fn remove_remains(git: &Git, rec: &TrackRecord) -> Result<bool> {
    let path = &rec.worktree;
    if !rec.worktree_created {
        return Ok(false);
    }
    let mut removed = false;
    if !rec.worktree_ready || rec.worktree_removing {
        removed |= remove_unlinked_admin(git, path)?;
    }
    if !path.exists() {
        return Ok(removed);
    }
    let remove = |what: &Path| -> Result<()> {
        std::fs::remove_dir_all(what)
            .with_context(|| format!("failed to remove {}", what.display()))
    };
    if path.join(".git").exists() {
        if rec.worktree_ready {
            return Ok(removed);
        }
        let admin = worktree_git_dir(path).filter(|a| a.is_dir());
        let locked = admin
            .as_ref()
            .and_then(|a| std::fs::read_to_string(a.join("locked")).ok())
            .unwrap_or_default();
        let only_git = std::fs::read_dir(path)
            .with_context(|| format!("failed to read {}", path.display()))?
            .flatten()
            .all(|e| e.file_name() == ".git");
        // git's add did not finish: its folder is still locked `initializing`, or the `.git`
        // file does not lead to one yet (git was killed writing it).
        if only_git && (admin.is_none() || locked.trim() == "initializing") {
            if let Some(admin) = admin.filter(|a| a.starts_with(git.common_dir().join("worktrees")))
            {
                remove(&admin)?;
            }
            remove(path)?;
            remove_stale_metadata(git, path)?;
            return Ok(true);
        }
        let Some(admin) = admin else {
            return Ok(removed);
        };
        // A worktree pk is still making, in which only pk's git ran: a lock left there (the
        // index, HEAD) or on its branch is that of a git that ran for a killed pk. Removed only
        // once that git is gone (see `crate::sys::children`).
        let mut locks: Vec<PathBuf> = std::fs::read_dir(&admin)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        locks.retain(|p| p.extension().is_some_and(|e| e == "lock") && p.is_file());
        if !locks.is_empty() {
            ensure_no_holder(&admin, path)?;
        }
        for lock in locks {
            std::fs::remove_file(&lock)
                .with_context(|| format!("failed to remove {}", lock.display()))?;
            removed = true;
        }
        remove_stale_ref_lock(git, &rec.branch)?;
        return Ok(removed);
    }
    if rec.worktree_removing || (!rec.worktree_ready && is_empty_dir(path)) {
        remove(path)?;
        remove_stale_metadata(git, path)?;
        return Ok(true);
    }
    Ok(removed)
}

/// How long the git of a killed pk gets to end (its parent-death signal) before pk refuses.
const HOLDER_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Refuses (exit 3) while a live process holds a file in the worktree's git folder `admin` or
/// works in the worktree: the git a killed pk started, still at work (where there is no
/// parent-death signal, or a git started by an older pk), or someone else's.
fn ensure_no_holder(admin: &Path, worktree: &Path) -> Result<()> {
    let holders = crate::sys::children::holders_after(admin, worktree, HOLDER_PATIENCE);
    if holders.is_empty() {
        return Ok(());
    }
    let mut msg = format!(
        "the worktree {} is still in use by a process an interrupted pk may have started:",
        worktree.display()
    );
    for h in &holders {
        msg.push_str(&format!(
            "\n  pid {} ({}): {}",
            h.pid,
            h.name,
            h.what.display()
        ));
    }
    Err(Error::refused(msg)
        .hint("wait for it to finish (or end it), then run this again")
        .hint("pk removes git's lock files there only once no process holds them"))
}

/// Removes the folders in `.git/worktrees` that a killed `git worktree add` of `worktree` began
/// and did not link to it, or a killed `git worktree remove` had begun to delete: named after
/// it (`api`, `api1`, …), with no `gitdir` file, and not locked for another reason than git's
/// own `initializing`.
fn remove_unlinked_admin(git: &Git, worktree: &Path) -> Result<bool> {
    let Some(base) = worktree.file_name().and_then(|n| n.to_str()) else {
        return Ok(false);
    };
    let Ok(entries) = std::fs::read_dir(git.common_dir().join("worktrees")) else {
        return Ok(false);
    };
    let mut removed = false;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(suffix) = name.to_str().and_then(|n| n.strip_prefix(base)) else {
            continue;
        };
        let dir = entry.path();
        let unlocked_or_git_s = std::fs::read_to_string(dir.join("locked"))
            .map_or(true, |reason| reason.trim() == "initializing");
        if suffix.bytes().all(|b| b.is_ascii_digit())
            && dir.is_dir()
            && !dir.join("gitdir").exists()
            && unlocked_or_git_s
        {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("failed to remove {}", dir.display()))?;
            removed = true;
        }
    }
    Ok(removed)
}

/// Removes the lock file a killed pk can leave on a branch it was making or deleting: git's
/// library writes `refs/heads/<branch>.lock` and renames it into place, and a pk killed in
/// between leaves the lock, after which the branch can be neither made nor deleted. Called only
/// for a branch pk's record says pk made, or checked out in a worktree pk has not finished
/// making, under the session lock (no other pk is at work on it).
pub(crate) fn remove_stale_ref_lock(git: &Git, branch: &str) -> Result<()> {
    let lock = git
        .common_dir()
        .join("refs/heads")
        .join(format!("{branch}.lock"));
    match std::fs::remove_file(&lock) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(
            Error::failure(format!("failed to remove {}", lock.display()))
                .wrap_cause(e.to_string()),
        ),
    }
}

pub(crate) fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}

/// The git folder of a linked worktree (`.git/worktrees/<id>`), from its `.git` file.
fn worktree_git_dir(worktree: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(worktree.join(".git")).ok()?;
    let dir = text.trim().strip_prefix("gitdir:")?.trim();
    Some(worktree.join(dir))
}

/// Fills a worktree pk is still making (its record is not `worktree_ready`) that a crash kept
/// from being checked out: it has no index. Checked out as usual, over whatever a killed
/// checkout wrote (only pk's git has written there; the worktree was never handed over).
/// With `restore`, the files a killed `pk down` had begun to delete come back: only the
/// missing ones (`checkout-index` never overwrites a file that is there). True when it checked
/// the files out from scratch (as a new worktree is).
pub(crate) fn finish_checkout(git: &Git, worktree: &Path, restore: bool) -> Result<bool> {
    let Some(dir) = worktree_git_dir(worktree) else {
        return Ok(false);
    };
    let args: &[&str] = if !dir.join("index").exists() {
        &["reset", "--hard", "--quiet"]
    } else if restore {
        &["checkout-index", "--all", "--quiet"]
    } else {
        return Ok(false);
    };
    let out = git
        .command_in(worktree)
        .args(args)
        .output()
        .context("failed to run git")?;
    // `checkout-index` fails for the files that are there: that is the point.
    if !out.status.success() && args[0] != "checkout-index" {
        return Err(Error::failure(format!(
            "`git {}` failed in {}",
            args.join(" "),
            worktree.display()
        ))
        .wrap_cause(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    Ok(args[0] == "reset")
}

/// Drops git's record of our worktree at `path` whose folder is gone: only the admin folder
/// whose `gitdir` points there, never another worktree's (unlike `git worktree prune`).
pub(crate) fn remove_stale_metadata(git: &Git, path: &Path) -> Result<()> {
    let admin = git.common_dir().join("worktrees");
    let Ok(entries) = std::fs::read_dir(&admin) else {
        return Ok(());
    };
    let want = path.join(".git");
    for entry in entries.flatten() {
        let gitdir = std::fs::read_to_string(entry.path().join("gitdir")).unwrap_or_default();
        if Path::new(gitdir.trim()) == want {
            std::fs::remove_dir_all(entry.path())
                .with_context(|| format!("failed to remove {}", entry.path().display()))?;
        }
    }
    Ok(())
}
