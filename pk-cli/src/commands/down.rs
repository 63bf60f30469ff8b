//! `pk down`: tear the session down (see [`crate::session::teardown`]).

use crate::cli::PlanArg;
use crate::ctx::Ctx;
use crate::error::Result;
use crate::session::teardown::{self, Down};
use clap::Args;

/// Tear the session down and remove the worktrees pk created, never losing work.
///
/// Refuses (exit 3), listing every changed and untracked file, when a worktree holds work
/// that is not committed, unless --force; with --force that work is first saved as a commit on
/// `refs/pk/saved/<track>/<time>` and pk prints the command that brings it back. Work git
/// status does not show counts too: ignored files matching `[session] keep` (saved with the
/// rest), commits on no branch (kept on refs/pk/saved/), nested repositories and submodules
/// with work (moved whole under .git/pk-saved/). Other ignored files go, summarised per top
/// folder. Branches are kept; --delete-branches deletes those merged into their base and
/// lists the others.
///
/// Examples:
///   pk down
///   pk down --delete-branches
///   pk down --force            # save uncommitted work on a ref, then remove
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct DownArgs {
    #[command(flatten)]
    pub plan: PlanArg,
    /// Remove worktrees with uncommitted or untracked files (saved on a ref first, nested
    /// repositories moved aside).
    #[arg(long)]
    pub force: bool,
    /// Also delete the branches pk created that are merged into their base.
    #[arg(long)]
    pub delete_branches: bool,
}

/// Runs `pk down`.
pub fn run(ctx: &Ctx, args: &DownArgs) -> Result<()> {
    let down = Down {
        plan: args.plan.plan.clone(),
        force: args.force,
        delete_branches: args.delete_branches,
    };
    teardown::down(ctx, &down)
}
