//! One module per subcommand: `XxxArgs` (its doc comment is the help text) and `run`.

mod agent_run;
mod approve;
mod check;
mod completions;
mod demo;
mod diff;
mod down;
mod exec;
mod focus;
mod hook;
mod host;
mod land;
mod layout;
mod on_host;
mod push_refused;
mod replay;
mod serve;
mod status;
mod up;
// Public only for `watch::TICK`, which the benches still import from here.
pub mod watch;

pub(crate) use agent_run::AgentRunArgs;
pub(crate) use approve::ApproveArgs;
pub(crate) use check::CheckArgs;
pub(crate) use completions::CompletionsArgs;
pub(crate) use completions::ManArgs;
pub(crate) use demo::DemoArgs;
pub(crate) use diff::DiffArgs;
pub(crate) use down::DownArgs;
pub(crate) use exec::ExecArgs;
pub(crate) use focus::FocusArgs;
pub(crate) use hook::HookArgs;
pub(crate) use host::HostArgs;
pub(crate) use land::LandArgs;
pub(crate) use layout::LayoutArgs;
pub(crate) use on_host::OnHostArgs;
pub(crate) use push_refused::PushRefusedArgs;
pub(crate) use replay::ReplayArgs;
pub(crate) use serve::ServeArgs;
pub(crate) use status::StatusArgs;
pub(crate) use up::UpArgs;
pub(crate) use watch::WatchArgs;

use crate::cli::Command;
use crate::ctx::Ctx;
use crate::error::Result;

/// Runs a subcommand; returns the exit code on success (`pk exec` passes its child's through).
pub(crate) fn dispatch(ctx: &Ctx, command: Command) -> Result<u8> {
    match command {
        Command::Up(args) => up::run(ctx, &args).map(|()| 0),
        Command::Down(args) => down::run(ctx, &args).map(|()| 0),
        Command::Status(args) => status::run(ctx, &args).map(|()| 0),
        Command::Check(args) => check::run(ctx, &args).map(|()| 0),
        Command::Approve(args) => approve::run(ctx, &args).map(|()| 0),
        Command::Diff(args) => diff::run(ctx, &args),
        Command::Land(args) => land::run(ctx, &args),
        Command::Exec(args) => exec::run(ctx, &args),
        Command::Focus(args) => focus::run(ctx, &args).map(|()| 0),
        Command::Layout(args) => layout::run(ctx, &args).map(|()| 0),
        Command::Host(args) => host::run(ctx, &args).map(|()| 0),
        Command::Serve(args) => serve::run(ctx, &args).map(|()| 0),
        Command::OnHost(args) => on_host::run(ctx, &args),
        Command::Watch(args) => watch::run(ctx, &args).map(|()| 0),
        Command::Demo(args) => demo::run(ctx, &args).map(|()| 0),
        Command::Completions(args) => completions::run(&args).map(|()| 0),
        Command::Man(args) => completions::man(&args).map(|()| 0),
        Command::AgentRun(args) => agent_run::run(ctx, &args),
        Command::Replay(args) => replay::run(&args),
        Command::Hook(args) => Ok(hook::run(&args)),
        Command::PushRefused(args) => Ok(push_refused::run(&args)),
    }
}
