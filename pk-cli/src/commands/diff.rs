//! `pk diff TRACK [-- ARGS]`: what a track changed against the merge base with its base,
//! committed and not, through the user's git pager (design §9).

use crate::cli::PlanOpt;
use crate::ctx::Ctx;
use crate::error::{Context, Error, Result};
use crate::session::review::{Changes, Show};
use crate::session::workspace::Workspace;
use clap::Args;

/// Show a track's changes against its base: commits, edits and new files.
///
/// Through your git pager and diff settings; the track's own index is not touched.
///
/// Examples:
///   pk diff api
///   pk diff api --stat
///   pk diff api -- src/            # only what changed under src/
///   pk diff web --tool             # git difftool -d, with your configured tool
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct DiffArgs {
    /// The track.
    pub track: String,
    #[command(flatten)]
    pub plan: PlanOpt,
    /// Only the files and how much each changed (`git diff --stat`).
    #[arg(long, conflicts_with = "tool")]
    pub stat: bool,
    /// Open your difftool on the whole change (`git difftool -d`).
    #[arg(long)]
    pub tool: bool,
    /// More arguments for git (paths, `--word-diff`, …).
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

/// Runs `pk diff`.
pub fn run(ctx: &Ctx, args: &DiffArgs) -> Result<u8> {
    let ws = Workspace::open(ctx, args.plan.plan.as_deref())?;
    let track = ws
        .plan
        .tracks
        .iter()
        .find(|t| t.name == args.track)
        .ok_or_else(|| {
            let known: Vec<_> = ws.plan.tracks.iter().map(|t| t.name.as_str()).collect();
            Error::usage(format!("no track `{}` in the plan", args.track))
                .hint(format!("tracks: {}", known.join(", ")))
        })?;
    if track.host.is_some() {
        let state = ws.state()?;
        let rec = state
            .as_ref()
            .and_then(|s| s.track(&track.name))
            .ok_or_else(|| {
                Error::usage(format!("track `{}` is not up", track.name)).hint("run `pk up` first")
            })?;
        if args.tool {
            return Err(Error::usage(format!(
                "track `{}` runs on host `{}`: its difftool would open there",
                track.name,
                track.host.as_deref().unwrap_or_default()
            ))
            .hint("use `pk diff` or `pk diff --stat`, or run the difftool on the host"));
        }
        let mut op = vec!["diff", track.name.as_str()];
        if args.stat {
            op.push("--stat");
        }
        let state = state.as_ref().expect("checked above");
        return crate::session::remote::passthrough(
            ctx,
            &ws.state_dir,
            state,
            rec,
            &op,
            &args.args,
        );
    }
    if !track.worktree.join(".git").exists() {
        return Err(Error::usage(format!(
            "track `{}` has no worktree ({})",
            track.name,
            track.worktree.display()
        ))
        .hint("run `pk up` first"));
    }
    let show = match (args.stat, args.tool) {
        (true, _) => Show::Stat,
        (_, true) => Show::Tool,
        _ => Show::Patch,
    };
    let changes = Changes::of(&ws.git, &track.worktree, &track.base)?;
    let status = changes
        .command(show, &args.args)
        .status()
        .context("failed to run git")?;
    Ok(crate::sys::procs::exit_code(status))
}
