//! One module per subcommand: `XxxArgs` (its doc comment is the help text) and `run`.

pub mod agent_run;
pub mod approve;
pub mod check;
pub mod completions;
pub mod demo;
pub mod down;
pub mod exec;
pub mod focus;
pub mod hook;
pub mod layout;
pub mod replay;
pub mod status;
pub mod up;
pub mod watch;

use crate::Ctx;
use crate::cli::Command;
use crate::error::Result;

/// Runs a subcommand; returns the exit code on success (`pk exec` passes its child's through).
pub fn dispatch(ctx: &Ctx, command: Command) -> Result<u8> {
    match command {
        Command::Up(args) => up::run(ctx, &args).map(|()| 0),
        Command::Down(args) => down::run(ctx, &args).map(|()| 0),
        Command::Status(args) => status::run(ctx, &args).map(|()| 0),
        Command::Check(args) => check::run(ctx, &args).map(|()| 0),
        Command::Approve(args) => approve::run(ctx, &args).map(|()| 0),
        Command::Exec(args) => exec::run(ctx, &args),
        Command::Focus(args) => focus::run(ctx, &args).map(|()| 0),
        Command::Layout(args) => layout::run(ctx, &args).map(|()| 0),
        Command::Watch(args) => watch::run(ctx, &args).map(|()| 0),
        Command::Demo(args) => demo::run(ctx, &args).map(|()| 0),
        Command::Completions(args) => completions::run(&args).map(|()| 0),
        Command::Man(args) => completions::man(&args).map(|()| 0),
        Command::AgentRun(args) => agent_run::run(ctx, &args),
        Command::Replay(args) => replay::run(&args),
        Command::Hook(args) => Ok(hook::run(&args)),
    }
}
