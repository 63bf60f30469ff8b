//! The command line: one `Args` struct per subcommand, whose doc comments are the help text.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Run a small team of AI coding agents in parallel on one repository.
///
/// A committed `parallel.toml` lists the tracks. `pk up` gives each track its own git worktree,
/// branch, ports and environment, and one tmux layout: agents stacked on the left, an editor on
/// the right. `pk down` tears it all down without losing work.
#[derive(Debug, Parser)]
#[command(name = "pk", version, propagate_version = true, max_term_width = 100)]
#[command(
    after_help = "Examples:\n  pk demo                 try pk on a throwaway repository\n  pk up                   start the plan in ./parallel.toml\n  pk status               what every agent is doing\n  pk down                 tear it all down (refuses if work would be lost)\n\nExit codes: 0 success, 1 failure, 2 invalid plan or usage, 3 refused (work at risk, or commands not approved)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Use a private tmux server (`tmux -L NAME`) instead of the default one.
    #[arg(long, global = true, env = crate::session::env_vars::PK_TMUX_SOCKET, value_name = "NAME")]
    pub socket: Option<String>,
    /// Print the git and tmux commands pk runs.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    Up(crate::commands::UpArgs),
    Down(crate::commands::DownArgs),
    Status(crate::commands::StatusArgs),
    Check(crate::commands::CheckArgs),
    Approve(crate::commands::ApproveArgs),
    Diff(crate::commands::DiffArgs),
    Land(crate::commands::LandArgs),
    Exec(crate::commands::ExecArgs),
    Focus(crate::commands::FocusArgs),
    Layout(crate::commands::LayoutArgs),
    Host(crate::commands::HostArgs),
    Serve(crate::commands::ServeArgs),
    Watch(crate::commands::WatchArgs),
    Demo(crate::commands::DemoArgs),
    Completions(crate::commands::CompletionsArgs),
    Man(crate::commands::ManArgs),
    #[command(hide = true)]
    AgentRun(crate::commands::AgentRunArgs),
    #[command(hide = true)]
    Replay(crate::commands::ReplayArgs),
    #[command(hide = true)]
    Hook(crate::commands::HookArgs),
    #[command(hide = true)]
    PushRefused(crate::commands::PushRefusedArgs),
    #[command(hide = true)]
    OnHost(crate::commands::OnHostArgs),
}

/// The plan argument shared by the commands that act on a whole plan.
#[derive(Debug, Clone, Args)]
pub struct PlanArg {
    /// The plan file [default: parallel.toml in this folder or the nearest parent].
    #[arg(value_name = "PLAN")]
    pub plan: Option<PathBuf>,
}

/// The plan option of the commands that take a track as their argument.
#[derive(Debug, Clone, Args)]
pub struct PlanOpt {
    /// The plan file [default: parallel.toml in this folder or the nearest parent].
    #[arg(long, value_name = "PLAN")]
    pub plan: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
