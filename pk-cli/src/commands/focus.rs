//! `pk focus TRACK`: jump to a track's agent pane.

use crate::cli::PlanOpt;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::session::workspace::Workspace;
use clap::Args;
use std::io::IsTerminal;

/// Jump to a track's agent pane.
///
/// Selects its window and pane, then switches the client (inside tmux) or attaches (outside)
/// when stdin is a terminal.
///
/// Examples:
///   pk focus api
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct FocusArgs {
    /// The track.
    pub track: String,
    #[command(flatten)]
    pub plan: PlanOpt,
    /// Only select the pane; do not attach or switch the client.
    #[arg(long, short)]
    pub detach: bool,
}

/// Runs `pk focus`.
pub fn run(ctx: &Ctx, args: &FocusArgs) -> Result<()> {
    let ws = Workspace::open(ctx, args.plan.plan.as_deref())?;
    let state = ws.state()?;
    let mux = ws.mux(ctx, state.as_ref());
    let session = &ws.plan.session.name;
    let Some(panes) = state.as_ref().and_then(|_| mux.session_panes(session)) else {
        return Err(
            Error::usage(format!("session `{session}` is not up")).hint("run `pk up` first")
        );
    };
    let pane = panes
        .into_iter()
        .find(|p| p.track == args.track)
        .ok_or_else(|| {
            Error::usage(format!(
                "track `{}` has no pane in session `{session}`",
                args.track
            ))
            .hint("run `pk up` to add it")
        })?;
    mux.focus(session, &pane)?;
    if !args.detach && std::io::stdin().is_terminal() {
        mux.attach(session)?;
    }
    Ok(())
}
