//! `pk down` without pk's record of the session (issue 10, case 6): the plan renamed the
//! session while it was up (the record is under the old name), or the record was damaged and
//! moved aside. What pk made is then found from what git and the multiplexer show, said, and
//! torn down with the usual care; `pk down` never exits 0 while pk's things are still there.

use super::{Leaving, Target, is_own_copy, refusal, save_keep_and_summarise};
use crate::ctx::Ctx;
use crate::error::{Context, Error, Result};
use crate::output::Style;
use crate::session::hidden_work::Hidden;
use crate::session::lock::SessionLock;
use crate::session::ports;
use crate::session::state::State;
use crate::sys::git::{Dirt, Git, Removal};
use crate::util::fs::canonical;
use std::path::{Path, PathBuf};

/// The sessions pk's records say were set up from the plan file at `plan` (canonical).
pub(super) fn records_of(git: &Git, plan: &Path) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(git.common_dir().join("pk")) {
        for entry in entries.flatten() {
            if let Ok(Some(state)) = State::load(&entry.path())
                && canonical(&state.plan) == plan
            {
                found.push((state.session, entry.path()));
            }
        }
    }
    found.sort();
    found
}

/// The session pk set up from this plan under another name than the plan's now, if pk's
/// records hold one (warned about); an error when they hold several.
pub(super) fn renamed(ctx: &Ctx, target: &Target) -> Result<Option<Target>> {
    let Some(plan) = &target.plan else {
        return Ok(None);
    };
    let found: Vec<_> = records_of(&target.git, &canonical(&plan.path))
        .into_iter()
        .filter(|(_, dir)| *dir != target.state_dir)
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [(session, dir)] => {
            ctx.out.warn(&format!(
                "the plan names session `{}`, but pk set this plan up as session `{session}`: tearing that down",
                target.session
            ));
            Ok(Some(Target {
                git: target.git.clone(),
                session: session.clone(),
                state_dir: dir.clone(),
                plan: None,
            }))
        }
        several => {
            let names: Vec<String> = several.iter().map(|(s, _)| format!("`{s}`")).collect();
            Err(Error::failure(format!(
                "pk set this plan up as several sessions ({}), none named `{}` as the plan now does",
                names.join(", "),
                target.session
            ))
            .hint("set `name` in the plan's [session] to one of them, run `pk down`, then the next"))
        }
    }
}

/// One worktree found that pk made.
struct Found {
    track: String,
    path: PathBuf,
    /// The branch it is on (the track's, or one the agent switched to), else the track's.
    branch: String,
    /// The branch it is on when that is not the track's: what was found says so.
    switched: Option<String>,
    /// The plan's `copy` for the track: pk's copies, when identical to their source.
    copy: Vec<PathBuf>,
}

/// Tears down what pk made for the plan's session without a record of it: its session (a
/// session of that name whose panes are pk's), the worktrees at the plan's places (on whatever
/// branch), the processes its panes recorded, its port blocks. Anything else in the worktrees
/// folder is listed and left alone, and then pk exits 1.
pub(super) fn tear_down(
    ctx: &Ctx,
    args: &super::Down,
    target: &Target,
    lock: SessionLock,
) -> Result<()> {
    let git = &target.git;
    let session = &target.session;
    let mut ours: Vec<Found> = Vec::new();
    let mut strangers: Vec<PathBuf> = Vec::new();
    let mut pk_session = false;
    let mux = target
        .plan
        .as_ref()
        .map(|plan| crate::sys::mux::Mux::of(ctx, None, plan.session.multiplexer));
    if let Some(plan) = &target.plan {
        let folder = canonical(&plan.session.worktrees);
        for w in git.worktrees()?.into_iter().skip(1) {
            let path = canonical(&w.path);
            if !path.starts_with(&folder) {
                continue;
            }
            // pk's: exactly where the plan puts a track's worktree, whatever branch it is on
            // (an agent may have run `git switch -c`): its commits are on that branch, and the
            // usual checks find what else it holds.
            let track = plan.tracks.iter().find(|t| canonical(&t.worktree) == path);
            match track {
                Some(t) if !w.prunable => {
                    let on = w
                        .branch
                        .as_deref()
                        .map(|b| b.strip_prefix("refs/heads/").unwrap_or(b).to_string());
                    ours.push(Found {
                        track: t.name.clone(),
                        path: t.worktree.clone(),
                        branch: on.clone().unwrap_or_else(|| t.branch.clone()),
                        switched: match on {
                            Some(b) if b == t.branch => None,
                            Some(b) => Some(b),
                            None => Some("no branch (detached HEAD)".to_string()),
                        },
                        copy: t.copy.clone(),
                    });
                }
                _ => strangers.push(w.path.clone()),
            }
        }
        // pk marks each pane it makes with its role or track: a session of that name without
        // such a pane is someone else's, and left alone.
        pk_session = mux
            .as_ref()
            .and_then(|m| m.session_panes(session))
            .is_some_and(|panes| {
                panes
                    .iter()
                    .any(|p| !p.role.is_empty() || !p.track.is_empty())
            });
    }
    let has_runs = !crate::sys::procs::runs(&target.state_dir).is_empty();

    if ours.is_empty() && !pk_session && strangers.is_empty() && !has_runs {
        // What a killed `pk up` or `pk down` can leave without a record: port blocks taken just
        // before the first record, pk's own folder half removed.
        release_and_clean(ctx, target)?;
        lock.remove()?;
        ctx.out.step(&format!(
            "nothing to tear down: pk has not set up session `{session}` here"
        ));
        return Ok(());
    }

    let mux_name = mux.as_ref().map_or("tmux", |m| m.name());
    let mut said = format!(
        "pk has no record of session `{session}` ({} is missing); found what it made from git and {mux_name}:",
        target
            .state_dir
            .join(crate::session::state::STATE_FILE)
            .display()
    );
    if pk_session {
        said.push_str(&format!("\n  {mux_name} session {session}"));
    }
    for f in &ours {
        match &f.switched {
            None => said.push_str(&format!(
                "\n  worktree {} ({}) on branch {}",
                f.track,
                f.path.display(),
                f.branch
            )),
            Some(on) => said.push_str(&format!(
                "\n  worktree {} ({}) on {}{on} (switched from the plan's branch)",
                f.track,
                f.path.display(),
                if f.branch == *on { "branch " } else { "" },
            )),
        }
    }
    ctx.out.warn(&said);

    // Look before touching anything, as with a record: the same work counts (ignored files
    // matching `keep`, commits on no ref, nested repositories); pk's copies are the plan's
    // `copy` files still identical to their source.
    let keep = crate::session::hidden_work::Keep::new(
        &target
            .plan
            .as_ref()
            .map_or_else(crate::session::hidden_work::Keep::default_globs, |p| {
                p.session.keep.clone()
            }),
    )?;
    let checked = crate::util::parallel::in_parallel(&ours, |f| -> Result<(Dirt, Hidden)> {
        let said = |s: &str| ctx.out.warn(s);
        super::repair::checked(git, &f.path, &f.track, said, || {
            let is_pks = |file: &Path| is_own_copy(git.root(), &f.path, &f.copy, file);
            let (mut dirt, hidden) =
                crate::session::hidden_work::scan(git, &f.path, &f.branch, &keep, &is_pks)?;
            dirt.untracked.retain(|file| !is_pks(Path::new(file)));
            Ok((dirt, hidden))
        })
    });
    let mut dirty: Vec<(String, PathBuf, Dirt, Hidden)> = Vec::new();
    let mut hidden_of: Vec<Hidden> = Vec::new();
    for (f, found) in ours.iter().zip(checked) {
        let (dirt, hidden) = found?;
        if !dirt.is_clean() || hidden.is_work() {
            dirty.push((f.track.clone(), f.path.clone(), dirt, hidden.clone()));
        }
        hidden_of.push(hidden);
    }
    if !dirty.is_empty() && !args.force {
        return Err(refusal(&dirty));
    }

    if pk_session && let Some(mux) = &mux {
        mux.kill_session(session)?;
        ctx.out.step(&format!(
            "  {} {} session {session}",
            ctx.out.paint(Style::Red, "-"),
            mux.name()
        ));
    }
    let ended = crate::sys::procs::end_all(&target.state_dir);
    if ended > 0 {
        ctx.out.step(&format!(
            "  {} {ended} process(es) the tracks left running",
            ctx.out.paint(Style::Red, "-"),
        ));
    }
    let mut removals = Vec::new();
    for (f, hidden) in ours.iter().zip(&hidden_of) {
        let dirt = dirty.iter().find(|(n, _, _, _)| *n == f.track);
        let leaving = Leaving {
            track: &f.track,
            worktree: &f.path,
            branch: &f.branch,
        };
        save_keep_and_summarise(
            ctx,
            git,
            session,
            &leaving,
            dirt.map(|(_, _, d, h)| (d, h)),
            Some(hidden),
        )?;
        if dirt.is_none() {
            // Clean but for pk's copies: deleted so that git removes the worktree without
            // `--force`.
            remove_copies(git.root(), f)?;
        }
        removals.push(Removal {
            path: f.path.clone(),
            // Saved work, or submodules (checked above), which git removes only with --force.
            saved: dirt.is_some() || hidden.has_submodules,
        });
    }
    let mut failure = None;
    for (f, result) in ours.iter().zip(git.remove_worktrees(&removals)) {
        match result {
            Ok(()) => ctx.out.step(&format!(
                "  {} worktree {} ({})",
                ctx.out.paint(Style::Red, "-"),
                f.track,
                f.path.display()
            )),
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(plan) = &target.plan {
        // Only if empty: anything else in it is not pk's.
        let _ = std::fs::remove_dir(&plan.session.worktrees);
    }
    release_and_clean(ctx, target)?;

    if !strangers.is_empty() {
        let list: Vec<String> = strangers.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::failure(format!(
            "left alone {} worktree(s) in pk's worktrees folder that are not where the plan puts a track:\n  {}",
            list.len(),
            list.join("\n  ")
        ))
        .hint("check them, then remove them with `git worktree remove <path>`"));
    }
    if args.delete_branches && !ours.is_empty() {
        ctx.out.warn(
            "branches kept: without its record pk cannot tell which it made (delete them with `git branch -d`)",
        );
    }
    lock.remove()?;
    ctx.out.step(&format!(
        "session {} is down",
        ctx.out.paint(Style::Bold, session)
    ));
    Ok(())
}

/// Deletes the plan's `copy` files of a worktree found clean but for them: pk's copies, still
/// identical to their source.
fn remove_copies(root: &Path, f: &Found) -> Result<()> {
    for file in &f.copy {
        let path = f.path.join(file);
        if is_own_copy(root, &f.path, &f.copy, file) {
            std::fs::remove_file(&path)
                .with_context(|| format!("failed to remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// What pk writes into a session's folder (besides temporary files starting with `.`).
/// (The zellij layout and watcher log are named in `session/provision/zellij.rs`, the watcher's
/// lock in `session/lock.rs`.)
const PK_FILES: [&str; 7] = [
    crate::session::state::STATE_FILE,
    "tracks",
    crate::session::state::STATUS_FILE,
    crate::session::state::CHECKPOINT_DIR,
    "zellij-layout.kdl",
    "watch.log",
    "watch.lock",
];

/// Releases the session's port blocks and removes pk's files from its folder; anything else
/// there (a damaged record moved aside) is kept, and said.
fn release_and_clean(ctx: &Ctx, target: &Target) -> Result<()> {
    if ports::registry_dir().join("ports.json").exists() {
        ports::release(&target.state_dir, None)?;
    }
    let dir = &target.state_dir;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut kept = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !PK_FILES.contains(&name.as_ref()) && !name.starts_with('.') {
            kept.push(name.into_owned());
            continue;
        }
        let path = entry.path();
        let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.with_context(|| format!("failed to remove {}", path.display()))?;
    }
    if kept.is_empty() {
        std::fs::remove_dir(dir).with_context(|| format!("failed to remove {}", dir.display()))?;
    } else {
        ctx.out.warn(&format!(
            "kept {}: it holds files pk did not write ({})",
            dir.display(),
            kept.join(", ")
        ));
    }
    Ok(())
}
