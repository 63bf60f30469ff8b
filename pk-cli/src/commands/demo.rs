//! `pk demo`: make the demo repository, start it, tell the user what they see.

use crate::ctx::Ctx;
use crate::error::Result;
use crate::output::Style;
use crate::session::workspace::Workspace;
use crate::session::{approval, demo, provision};
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Try pk on a throwaway repository with three fake agents (no AI account needed).
///
/// Makes a small git repository in a new temporary folder, writes a plan with three tracks
/// whose agents replay recorded sessions, and runs `pk up`. `pk down` in that repository
/// removes everything the demo made.
///
/// Examples:
///   pk demo
///   pk demo --detach --dir /tmp/pk-demo
///   pk demo --zellij
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct DemoArgs {
    /// Where to make the demo (must not exist) [default: a new folder under $TMPDIR].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Do not attach to the session.
    #[arg(long, short)]
    pub detach: bool,
    /// Show the demo in zellij (0.45) instead of tmux.
    #[arg(long)]
    pub zellij: bool,
}

/// Runs `pk demo`.
pub fn run(ctx: &Ctx, args: &DemoArgs) -> Result<()> {
    let multiplexer = if args.zellij {
        crate::plan::Multiplexer::Zellij
    } else {
        crate::plan::Multiplexer::Tmux
    };
    let (root, repo) = demo::make(args.dir.as_deref(), multiplexer, ctx.verbose)?;

    let demo_ctx = Ctx {
        cwd: repo.clone(),
        ..ctx.clone()
    };
    let ws = Workspace::open(&demo_ctx, None)?;
    // pk wrote this plan itself: its commands are approved.
    let commands = approval::Commands::of(&ws.plan);
    approval::approve(&ws.plan.path, &commands)?;
    let mut up = provision::up(
        &demo_ctx,
        &ws,
        ws.plan.session.multiplexer,
        &provision::Fresh::None,
    )?;
    up.state.demo_root = Some(root.clone());
    up.state.save(&ws.state_dir)?;
    let socket = ctx
        .socket
        .as_ref()
        .map(|s| format!(" --socket {s}"))
        .unwrap_or_default();
    ctx.out.step(&format!(
        "\n{} the demo runs in {}\n  the status bar shows three fake agents: api finishes, web waits for your\n  permission (press Enter in its pane), docs fails\n  watch it:     pk{socket} status   (in {})\n  tear it down: cd {} && pk{socket} down   (removes {})",
        ctx.out.paint(Style::Green, "ok:"),
        ctx.out.paint(Style::Bold, &ws.plan.session.name),
        repo.display(),
        repo.display(),
        root.display()
    ));
    if !args.detach && std::io::stdin().is_terminal() {
        up.mux.attach(&ws.plan.session.name)?;
    }
    Ok(())
}
