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
    // Made in memory, then written: clap_complete panics when a write fails.
    let mut text = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "pk", &mut text);
    crate::output::print(text)
}

/// Runs `pk man`.
pub(crate) fn man(_args: &ManArgs) -> Result<()> {
    let mut text = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut text)
        .context("failed to make the man page")?;
    crate::output::print(text)
}
