//! `pk`: run a small team of AI coding agents in parallel on one repository.
//!
//! The binary is a thin `main.rs` over [`run`]. The folders show the flow, and a module only
//! uses the ones below it (checked from the `use crate::` lines):
//!
//! | part | what | may use |
//! | --- | --- | --- |
//! | `cli`, `commands/` | one module per subcommand: parse its args, call the domain, print; no command calls another | everything below |
//! | [`web`] | `pk serve`: the page, its token, its data; answers typed into agent panes | live, session, plan, sys, util, leaves |
//! | [`live`] | the watcher: followers and checkpoints, the watch loop, the status assembly, change counts, rendering of agents' streams | session, plan, layout, sys, util, leaves |
//! | [`session`] | what pk makes and unmakes: provisioning, recovery, teardown (with the work `pk down` must never lose), state, locks, ports, approvals, the demo's repository, agent presets, transcript locations, hooks, env, tracks on other hosts (both halves) | plan, layout, sys, util, leaves |
//! | [`plan`] | `parallel.toml` read strictly into a `Plan` | layout (its `Shape`), sys, leaves |
//! | [`layout`] | the tmux and zellij layouts of a plan | sys, leaves |
//! | [`sys`] | one wrapper per program: git, tmux, zellij, the multiplexer enum over both, ssh, the shell, processes | util, leaves |
//! | [`util`] | clock, atomic writes, one locked JSON store, parallel maps | `error` only |
//! | leaves: [`error`], [`output`], [`ctx`], [`diag`], [`fault`] | errors, styled output, the context of a run, plan diagnostics, fault injection | each other only (`ctx` → `output` → `error`) |
//!
//! A shared plan's commands run only once the user approved them ([`session::approval`]).

pub(crate) mod cli;
mod commands;
pub(crate) mod ctx;
pub mod diag;
pub mod error;
pub mod fault;
pub mod layout;
pub mod live;
pub(crate) mod output;
pub mod plan;
pub(crate) mod session;
pub(crate) mod sys;
pub(crate) mod util;
pub(crate) mod web;

use clap::Parser;
use std::ffi::OsString;
use std::process::ExitCode;

pub(crate) use ctx::Ctx;
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
