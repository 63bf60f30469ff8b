//! `pk`: run a small team of AI coding agents in parallel on one repository.
//!
//! The binary is a thin `main.rs` over [`run`]; each subcommand lives in its own module under
//! [`commands`]. External programs each have one typed wrapper ([`git`], [`tmux`]); the plan is
//! read strictly ([`plan`]) and everything pk creates is recorded in [`state`]. Live status:
//! [`transcript`] says where each track's transcript is, [`hooks`] gets Claude's hook events
//! into a file, [`live`] reads both as they grow and `pk watch` pushes the result into tmux.
//! A shared plan's commands run only once the user approved them ([`approval`]).

pub(crate) mod cli;
pub mod commands;
pub mod ctx;
pub mod diag;
pub mod error;
pub mod fault;
pub mod layout;
pub mod live;
pub mod output;
pub mod plan;
pub mod session;
pub mod sys;
pub mod util;

use clap::Parser;
use std::ffi::OsString;
use std::process::ExitCode;

pub use ctx::Ctx;
pub use error::{Error, Result};

/// The context of a run, from the global options.
fn ctx_from_args(global: &cli::GlobalArgs) -> Result<Ctx> {
    use error::Context;
    let cwd = std::env::current_dir().context("failed to read the current folder")?;
    Ok(Ctx {
        socket: global.socket.clone().filter(|s| !s.is_empty()),
        verbose: global.verbose > 0,
        cwd,
        out: output::Output::from_env(),
    })
}

/// Parses the arguments, runs the command and turns the outcome into an exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                error::exit::USAGE
            } else {
                error::exit::SUCCESS
            });
        }
    };
    let result = ctx_from_args(&cli.global).and_then(|ctx| commands::dispatch(&ctx, cli.command));
    match result {
        Ok(code) => ExitCode::from(code),
        // Whoever read the output has all they wanted (`pk man | head`), as with ripgrep.
        Err(err) if err.kind == error::ErrorKind::StdoutClosed => ExitCode::SUCCESS,
        Err(err) => {
            output::Output::from_env().error(&err);
            ExitCode::from(err.kind.exit_code())
        }
    }
}
