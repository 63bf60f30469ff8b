//! `pk check`: validate the plan and the machine without changing anything.

use crate::Ctx;
use crate::cli::PlanArg;
use crate::error::Result;
use crate::ports;
use crate::tmux::Tmux;
use crate::workspace::Workspace;
use clap::Args;

/// Validate the plan and the machine without changing anything.
///
/// Checks git, tmux 3.2 or newer and free ports. Exits 2 on an invalid plan, 1 when the
/// machine lacks something.
///
/// Examples:
///   pk check
///   pk check examples/realistic.toml
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct CheckArgs {
    #[command(flatten)]
    pub plan: PlanArg,
}

/// Runs `pk check`.
pub fn run(ctx: &Ctx, args: &CheckArgs) -> Result<()> {
    let ws = Workspace::open(ctx, args.plan.plan.as_deref())?;
    let plan = &ws.plan;
    let state = ws.state()?;
    println!(
        "plan {}: session `{}`, {} track(s), worktrees in {}",
        plan.path.display(),
        plan.session.name,
        plan.tracks.len(),
        plan.session.worktrees.display()
    );
    let (major, minor) = Tmux::require_version()?;
    println!("tmux {major}.{minor}: ok");
    let requests = ws.port_requests(state.as_ref());
    let blocks = ports::preview(&ws.state_dir, &requests)?;
    for (t, start) in plan.tracks.iter().zip(blocks) {
        println!(
            "  {:<12} {:<24} ports {}-{}",
            t.name,
            t.branch,
            start,
            u32::from(start) + u32::from(plan.ports.per_track) - 1
        );
    }
    println!("ok: `pk up` would work");
    Ok(())
}
