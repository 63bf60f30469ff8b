//! `pk completions SHELL` and `pk man`: generated from the CLI definition.

use crate::cli::Cli;
use crate::error::{Context, Result};
use clap::{Args, CommandFactory};

/// Print shell completions.
///
/// Examples:
///   pk completions bash > ~/.local/share/bash-completion/completions/pk
///   pk completions zsh > ~/.zfunc/_pk
///   pk completions fish > ~/.config/fish/completions/pk.fish
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

/// Print the man page (roff).
///
/// Examples:
///   pk man > ~/.local/share/man/man1/pk.1
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ManArgs {}

/// Runs `pk completions`.
pub fn run(args: &CompletionsArgs) -> Result<()> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "pk", &mut std::io::stdout());
    Ok(())
}

/// Runs `pk man`.
pub fn man(_args: &ManArgs) -> Result<()> {
    clap_mangen::Man::new(Cli::command())
        .render(&mut std::io::stdout())
        .context("failed to write the man page")
}
