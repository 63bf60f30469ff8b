//! The real agent CLIs, pinned, as `scripts/agents.sh` installs them: where they are, and
//! whether a test that needs one runs.
//!
//! `scripts/agents.sh` installs them from npm into `PK_AGENTS_DIR` (default
//! `~/.cache/pk/agents`), one folder per CLI and version, and `scripts/test.sh` runs it before
//! the tests. A test that needs a CLI that is not there is skipped with a message, except under
//! CI (or `PK_REQUIRE_AGENTS=1`), where that is a failure.

use std::path::PathBuf;

/// One of the agent CLIs pk has presets for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cli {
    Claude,
    Codex,
    Gemini,
}

impl Cli {
    /// The command name the presets run.
    pub fn command(self) -> &'static str {
        match self {
            Cli::Claude => "claude",
            Cli::Codex => "codex",
            Cli::Gemini => "gemini",
        }
    }

    /// The version the tests pin (and the README names); `scripts/agents.sh` has the same.
    pub fn version(self) -> &'static str {
        match self {
            Cli::Claude => "2.1.328",
            Cli::Codex => "0.169.0",
            Cli::Gemini => "0.61.0",
        }
    }

    /// Where `scripts/agents.sh` puts the program, relative to its folder of this CLI and
    /// version. Claude Code's npm package wants node 22 and a postinstall step; its native
    /// binary in the platform package runs as it is.
    fn program(self) -> &'static str {
        match self {
            Cli::Claude => "node_modules/@anthropic-ai/claude-code-linux-x64/claude",
            Cli::Codex => "node_modules/.bin/codex",
            Cli::Gemini => "node_modules/.bin/gemini",
        }
    }
}

/// The folder `scripts/agents.sh` installs into.
pub fn agents_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PK_AGENTS_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache/pk/agents")
}

/// The installed program of `cli`, if there.
pub fn installed(cli: Cli) -> Option<PathBuf> {
    let path = agents_dir()
        .join(format!("{}-{}", cli.command(), cli.version()))
        .join(cli.program());
    path.is_file().then_some(path)
}

/// The program of `cli` for a test that needs it, or `None` (the test returns) when it is not
/// installed and neither CI nor `PK_REQUIRE_AGENTS` is set; then the test says it was skipped.
pub fn require(cli: Cli) -> Option<PathBuf> {
    let found = installed(cli);
    if found.is_none() {
        let required =
            std::env::var_os("CI").is_some() || std::env::var_os("PK_REQUIRE_AGENTS").is_some();
        assert!(
            !required,
            "{} {} is required (CI or PK_REQUIRE_AGENTS is set) but not in {}: run scripts/agents.sh",
            cli.command(),
            cli.version(),
            agents_dir().display()
        );
        eprintln!(
            "skipped: {} {} is not installed (scripts/agents.sh installs it)",
            cli.command(),
            cli.version()
        );
    }
    found
}

/// ccusage, the tool users run today for Claude Code's costs, as `scripts/agents.sh` installs it
/// for the status bench; `None` when it is not there.
pub fn ccusage() -> Option<PathBuf> {
    let path = agents_dir().join("ccusage-18.0.11/node_modules/.bin/ccusage");
    path.is_file().then_some(path)
}
