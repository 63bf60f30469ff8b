//! `pk exec TRACK -- CMD…`: run a command in a track's worktree with the track's environment.

use crate::cli::PlanOpt;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::session::workspace::Workspace;
use clap::Args;

/// Run a command in a track's worktree with the track's environment.
///
/// The environment is the one the track's pane has (PK_PORT, PK_TRACK, the plan's env…).
/// Exits with the command's exit code.
///
/// Examples:
///   pk exec api -- cargo test
///   pk exec web -- sh -c 'npm run dev -- --port "$PK_PORT"'
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ExecArgs {
    /// The track.
    pub track: String,
    #[command(flatten)]
    pub plan: PlanOpt,
    /// The command and its arguments (not run through a shell).
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Runs `pk exec`.
pub fn run(ctx: &Ctx, args: &ExecArgs) -> Result<u8> {
    let ws = Workspace::open(ctx, args.plan.plan.as_deref())?;
    let state = ws.state()?;
    let rec = state
        .as_ref()
        .and_then(|s| s.track(&args.track))
        .ok_or_else(|| {
            let known: Vec<_> = ws.plan.tracks.iter().map(|t| t.name.as_str()).collect();
            if known.contains(&args.track.as_str()) {
                Error::usage(format!("track `{}` is not up", args.track)).hint("run `pk up` first")
            } else {
                Error::usage(format!("no track `{}` in the plan", args.track))
                    .hint(format!("tracks: {}", known.join(", ")))
            }
        })?;
    if rec.host.is_some() {
        let state = state.as_ref().expect("the track is in the state");
        return crate::session::remote::passthrough(
            ctx,
            &ws.state_dir,
            state,
            rec,
            &["exec", &rec.name],
            &args.command,
        );
    }
    crate::session::exec::in_track(rec, &args.command)
}
