//! What every command gets: the global options and the world it runs in. A leaf, so the domain
//! can take it without reaching up to the command line.

use crate::output;

/// What every command gets: the global options and the world it runs in.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `--socket`: a private tmux server.
    pub socket: Option<String>,
    /// `-v`: print the commands pk runs.
    pub verbose: bool,
    /// The folder pk was started in.
    pub cwd: std::path::PathBuf,
    /// Styled output for people.
    pub out: output::Output,
}
