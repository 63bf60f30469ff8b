//! `pk approve`: show the commands a plan runs and record the user's approval, or take it back.

use crate::cli::PlanArg;
use crate::ctx::Ctx;
use crate::error::Result;
use crate::session::approval::{self, Commands, Status};
use crate::session::workspace::Workspace;
use clap::Args;

/// Show the commands a plan runs and approve them, so `pk up` runs them without asking.
///
/// A plan is shared with the team, and its commands run on your machine: each track's setup
/// and agent, the plan's editor and env. `pk up` asks before running commands you have not
/// approved (and again when they change); this approves them ahead, for example before a run
/// without a terminal. Approvals are kept outside the repository, in
/// $XDG_STATE_HOME/pk/approvals.json (default ~/.local/state/pk/), per plan file.
///
/// Examples:
///   pk approve                 # ./parallel.toml (or the nearest one above)
///   pk approve --revoke        # `pk up` asks again
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ApproveArgs {
    #[command(flatten)]
    pub plan: PlanArg,
    /// Forget the approval instead.
    #[arg(long)]
    pub revoke: bool,
}

/// Runs `pk approve`.
pub fn run(ctx: &Ctx, args: &ApproveArgs) -> Result<()> {
    let ws = Workspace::open(ctx, args.plan.plan.as_deref())?;
    let plan = &ws.plan;
    let path = plan.path.display();
    if args.revoke {
        if approval::revoke(&plan.path)? {
            ctx.out.step(&format!(
                "revoked: `pk up` asks again before running {path}"
            ));
        } else {
            ctx.out.step(&format!("{path} was not approved"));
        }
        return Ok(());
    }
    let commands = Commands::of(plan);
    let status = approval::status(plan, &commands);
    let before = match &status {
        Status::Nothing => {
            ctx.out.step(&format!(
                "{path} runs no commands of its own (only your shell): nothing to approve"
            ));
            return Ok(());
        }
        Status::Changed(entry) => Some(&entry.commands),
        Status::Approved(_) | Status::New => None,
    };
    let list = approval::render(&commands, before, &ctx.out);
    ctx.out
        .step(&format!("{}\n{list}", approval::header(plan, &status)));
    if let Status::Approved(at) = status {
        ctx.out
            .step(&format!("already approved ({})", approval::when(at)));
        return Ok(());
    }
    approval::approve(&plan.path, &commands)?;
    ctx.out
        .step("approved: `pk up` runs these commands without asking until they change");
    Ok(())
}
