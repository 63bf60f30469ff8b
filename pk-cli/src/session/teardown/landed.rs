//! A landed track goes the safe way of `pk down` (design §9), while the rest of the session
//! runs on: its pane and processes end, its worktree is removed without `--force` (git itself
//! refuses one with changes), its push guard and ports go, and its branch is deleted once its
//! tip is kept on `refs/pk/landed/<track>/<time>` (a squash or a rebase leaves the track's own
//! commits out of the base's history; they stay reachable). Each step looks before it acts,
//! so a `pk land` killed half way through finishes it on its next run.

use super::{is_worktree, remove_own_copies};
use crate::ctx::Ctx;
use crate::error::Result;
use crate::fault;
use crate::output::Style;
use crate::session::state::State;
use crate::sys::git::{Git, Removal};
use crate::sys::mux::Mux;
use std::path::Path;

/// Removes what pk made for the landed track `name`, and its record; true when it did. The
/// worktree was found clean (less pk's own copies) before the track landed. A track whose
/// branch got commits after the commit that landed is kept: they have not landed.
pub(crate) fn remove(
    ctx: &Ctx,
    git: &Git,
    mux: &Mux,
    state_dir: &Path,
    state: &mut State,
    name: &str,
) -> Result<bool> {
    let Some(rec) = state.track(name).cloned() else {
        return Ok(false);
    };
    let landed_head = state.landed(name).map(|l| l.head.clone());
    let tip = git.branch_tip(&rec.branch);
    if rec.branch_created && tip.is_some() && tip != landed_head {
        ctx.out.warn(&format!(
            "{name} got commits after the one that landed: kept (`pk land {name}` lands them)"
        ));
        return Ok(false);
    }
    if let (Mux::Tmux(tmux), Some(pane)) = (mux, &rec.pane) {
        // Gone already (the agent's pane closed, or a run killed after this): nothing to do.
        let _ = tmux.run(vec![
            crate::sys::tmux::Cmd::new("kill-pane").opt("-t", pane),
        ]);
    }
    crate::sys::procs::end_track(&crate::session::transcript::track_dir(state_dir, name));
    fault::point(&format!("land:pane-closed:{name}"));

    if rec.worktree_created && is_worktree(&rec.worktree) {
        if let Some(r) = state.track_mut(name) {
            r.worktree_removing = true;
        }
        state.save(state_dir)?;
        remove_own_copies(&state.repo_root, &rec)?;
        let removal = Removal {
            path: rec.worktree.clone(),
            saved: false,
        };
        git.remove_worktrees(std::slice::from_ref(&removal))
            .into_iter()
            .next()
            .expect("one result per removal")
            .map_err(|e| {
                e.wrap(format!(
                    "the worktree of landed track `{name}` was not removed"
                ))
                .hint("it changed after it was checked; see `git -C <worktree> status`, then run `pk land` again")
            })?;
        ctx.out.step(&format!(
            "  {} worktree {name} ({})",
            ctx.out.paint(Style::Red, "-"),
            rec.worktree.display()
        ));
    } else if rec.worktree_created {
        crate::session::recover::remove_stale_metadata(git, &rec.worktree)?;
    }
    fault::point(&format!("land:worktree-removed:{name}"));
    crate::session::push_guard::remove(git, state_dir, name)?;

    if rec.branch_created && git.branch_exists(&rec.branch) {
        let kept = keep_tip(git, name, &rec.branch)?;
        git.delete_branch(&rec.branch)?;
        ctx.out.step(&format!(
            "  {} branch {} (its commits stay on {kept})",
            ctx.out.paint(Style::Red, "-"),
            rec.branch
        ));
    }
    fault::point(&format!("land:branch-deleted:{name}"));
    git.delete_ref(&crate::session::land::checked_ref(name))?;
    crate::session::ports::release(state_dir, Some(&[name.to_string()]))?;
    state.tracks.retain(|r| r.name != name);
    state.save(state_dir)?;
    Ok(true)
}

/// Points `refs/pk/landed/<track>/<unix seconds>` at the branch's tip; returns the ref.
fn keep_tip(git: &Git, track: &str, branch: &str) -> Result<String> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = format!("refs/pk/landed/{track}/{secs}");
    crate::sys::git::clear_stale_lock(&git.common_dir().join(&name))?;
    git.set_ref(
        &name,
        &format!("refs/heads/{branch}"),
        "pk land: the landed track's commits",
    )?;
    Ok(name)
}
