//! `pk watch`: find the session's state folder and run the watcher ([`crate::live::watch`]).

use crate::cli::PlanArg;
use crate::ctx::Ctx;
use crate::error::Result;
use crate::live::watch;
use crate::session::workspace::Workspace;
use clap::Args;
use std::path::PathBuf;

/// Keep the tmux status bar up to date with what every agent does.
///
/// Follows every track's transcript and hook events and shows, in the session's status line,
/// which agent works, waits for you, is done or failed, and what each has cost. A track that
/// starts waiting, finishes or fails rings the bell and shows a message. Also writes
/// .git/pk/<session>/status.json, which `pk status` reads.
///
/// `pk up` starts it in the session's pk-watch window (and again if it died); it stops when
/// the session ends. Only one watcher runs per session.
///
/// Examples:
///   pk watch                   # in the foreground, for the plan here
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct WatchArgs {
    #[command(flatten)]
    pub plan: PlanArg,
    /// The session's state folder (`.git/pk/<session>`), instead of finding it from the plan.
    #[arg(long, hide = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// Runs `pk watch`.
pub fn run(ctx: &Ctx, args: &WatchArgs) -> Result<()> {
    let state_dir = match &args.state_dir {
        Some(dir) => dir.clone(),
        None => Workspace::open(ctx, args.plan.plan.as_deref())?.state_dir,
    };
    crate::session::user_prices::install(ctx);
    watch::watch(ctx, state_dir)
}
