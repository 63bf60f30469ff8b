//! `pk host`: the hosts a plan's tracks run on (design §11).

use crate::cli::PlanOpt;
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::output::outln;
use crate::session::workspace::Workspace;
use crate::sys::ssh::{PK_SSH_COMMAND, Ssh};
use clap::{Args, Subcommand};

/// Set up the hosts of the plan's `[hosts.NAME]` tables.
///
/// pk drives a host with the system `ssh` (one connection per host) and needs pk, git, tmux
/// and a clone of the repository there. `pk check` says what a host lacks.
///
/// Examples:
///   pk host install box       # copy this pk to box's ~/.local/bin
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct HostArgs {
    #[command(subcommand)]
    pub op: HostOp,
}

/// What to do with a host.
#[derive(Debug, Subcommand)]
pub enum HostOp {
    /// Copy this pk to the host's ~/.local/bin, when the host runs the same system and machine.
    Install {
        /// The host's name in the plan.
        name: String,
        #[command(flatten)]
        plan: PlanOpt,
    },
}

/// Runs `pk host`.
pub fn run(ctx: &Ctx, args: &HostArgs) -> Result<()> {
    match &args.op {
        HostOp::Install { name, plan } => {
            let ws = Workspace::open(ctx, plan.plan.as_deref())?;
            let host = ws.plan.host(name).ok_or_else(|| {
                let known: Vec<&str> = ws.plan.hosts.iter().map(|h| h.name.as_str()).collect();
                Error::usage(format!("no host `{name}` in the plan")).hint(if known.is_empty() {
                    "add a [hosts.NAME] table with `ssh` and `repo`".to_string()
                } else {
                    format!("hosts: {}", known.join(", "))
                })
            })?;
            let ssh = Ssh::new(
                &host.ssh,
                &ws.state_dir.join("ssh"),
                std::env::var(PK_SSH_COMMAND).ok(),
                ctx.verbose,
            );
            let version = crate::session::remote::install(&ssh, name)?;
            outln!(
                "host {name} ({}): installed {version} in ~/.local/bin/pk",
                host.ssh
            )?;
            Ok(())
        }
    }
}
