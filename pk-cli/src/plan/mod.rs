//! The plan: `parallel.toml` read strictly into raw structs (`raw`), then resolved and validated
//! into a [`Plan`] that the rest of pk works from. Nothing after this module sees the raw structs.
//!
//! Every error names the file, line and column, with a caret under the spot and a hint
//! (`diag`), and exits 2. Loading a plan never changes anything on disk.

pub(crate) mod keep;
pub(crate) mod prompt;
mod raw;
mod resolve;

pub use crate::diag::PlanError;
pub use resolve::{Repo, resolve_source};
pub(crate) use resolve::{find_plan, load};

use std::path::PathBuf;

/// The name of a plan file pk looks for when none is given.
pub(crate) const PLAN_FILE: &str = "parallel.toml";

/// A validated plan, with every default filled in and every path absolute.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Absolute path of the plan file.
    pub path: PathBuf,
    /// The main checkout's root (absolute).
    pub repo_root: PathBuf,
    /// `[session]`.
    pub session: Session,
    /// `[ports]`.
    pub ports: Ports,
    /// `[env]`: for every track, in file order. Values are templates (see [`expand_template`]).
    pub env: Vec<(String, String)>,
    /// `[[track]]`, in file order.
    pub tracks: Vec<Track>,
    /// `[land] strategy` (default squash).
    pub land_strategy: Strategy,
    /// `[hosts.NAME]`, by name (design §11).
    pub hosts: Vec<Host>,
}

/// `[hosts.NAME]`: a machine tracks may run on, reached with the system `ssh`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Host {
    /// The name tracks use (`host = "NAME"`), like a track's name.
    pub name: String,
    /// What `ssh` is given as its destination: `user@host` or a `~/.ssh/config` alias. Never
    /// starts with `-`, so it cannot be read as an option.
    pub ssh: String,
    /// The clone of the repository on the host, as written (`~/` is the host user's home).
    pub repo: String,
}

impl Plan {
    /// The host `name` of the plan.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }
}

/// How `pk land` puts a track's work on its base (design §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// One new commit on the base with the track's whole change.
    #[default]
    Squash,
    /// A merge commit whose second parent is the track's branch.
    Merge,
    /// The track's commits replayed on the base, one by one (a fast-forward when they are on
    /// it already).
    Rebase,
}

impl Strategy {
    /// The name in the plan, on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Squash => "squash",
            Strategy::Merge => "merge",
            Strategy::Rebase => "rebase",
        }
    }
}

/// `[session]`, resolved.
#[derive(Debug, Clone)]
pub struct Session {
    /// tmux/zellij session name: `[A-Za-z0-9_-]+`; default: the repository folder's name.
    pub name: String,
    /// Ref new branches start from; default: the current branch.
    pub base: String,
    /// Which terminal multiplexer.
    pub multiplexer: Multiplexer,
    /// The layout (a preset or the team's own file).
    pub layout: crate::layout::Shape,
    /// Editor command (a shell string the user wrote); default `$VISUAL`, `$EDITOR`, `vi`.
    pub editor: String,
    /// The plan sets `editor`: a command from the plan, which needs the user's approval
    /// ([`crate::session::approval`]). False when it comes from `$VISUAL`, `$EDITOR` or is `vi`.
    pub editor_in_plan: bool,
    /// Default agent of the tracks.
    pub agent: AgentPreset,
    /// Absolute folder that holds the worktrees (`worktrees` with `{repo}` expanded, relative to
    /// the repository root).
    pub worktrees: PathBuf,
    /// Branch name template (`{track}`), as written.
    pub branch_template: String,
    /// After this long without activity a track is `idle` (`idle_after`, seconds; default 600).
    pub idle_after_secs: u64,
    /// `keep`: globs of the ignored files in a worktree that are the user's work, which `pk
    /// down` refuses to delete (and `--force` saves). Replaces the default
    /// ([`keep::DEFAULT_KEEP`]) when set, so a plan can drop a default as well as
    /// add a glob; `keep = []` keeps no ignored file.
    pub keep: Vec<String>,
    /// `budget_usd`: what the whole session may spend (US dollars, finite, >= 0), if limited.
    pub budget_usd: Option<f64>,
    /// `push`: whether agents may `git push` from their tracks (default false: pk makes git
    /// refuse it in the tracks' worktrees, [`crate::session::push_guard`]).
    pub push: bool,
}

/// `[ports]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// First port pk may hand out (1024..=65535).
    pub base: u16,
    /// Size of each track's block (>= 1, and >= the number of named ports of any track).
    pub per_track: u16,
}

/// One `[[track]]`, resolved.
#[derive(Debug, Clone)]
pub struct Track {
    /// `[a-z0-9][a-z0-9-]*`, at most 40 characters, unique.
    pub name: String,
    /// Branch name (template expanded), a valid git ref name, unique.
    pub branch: String,
    /// Absolute worktree path (`<worktrees>/<name>`).
    pub worktree: PathBuf,
    /// Ref the branch starts from (exists in the repository).
    pub base: String,
    /// What runs in the track's pane.
    pub agent: Agent,
    /// The initial prompt (`prompt`, or the contents of `prompt_file`).
    pub prompt: Option<String>,
    /// Named ports, as written (lowercase); `PK_PORT_<NAME uppercased>`. May be empty.
    pub port_names: Vec<String>,
    /// The track's own `env`, templates, in file order (applied after `[env]`).
    pub env: Vec<(String, String)>,
    /// Files copied from the main checkout, relative paths that stay inside the checkout.
    pub copy: Vec<PathBuf>,
    /// Shell commands run in the worktree, in the pane, before the agent.
    pub setup: Vec<String>,
    /// Globs of the files this track is meant to change.
    pub owns: Vec<String>,
    /// Tracks to merge before this one (names that exist; no cycles).
    pub depends_on: Vec<String>,
    /// `done_when`: the track's success criterion, a shell command the watcher runs in the
    /// worktree when a turn ends ([`crate::session::check`]). Needs approval, like `setup`.
    pub done_when: Option<String>,
    /// Where the agent's transcript is, for a custom command.
    pub transcript: Option<Transcript>,
    /// `budget_usd`: what the track may spend (US dollars, finite, >= 0), if limited.
    pub budget_usd: Option<f64>,
    /// `host`: the `[hosts.NAME]` the track runs on; `None` on this machine.
    pub host: Option<String>,
}

/// What runs in a track's pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agent {
    /// A known agent CLI.
    Preset(AgentPreset),
    /// An explicit argv (`command = [...]`), not run through a shell.
    Command(Vec<String>),
}

/// The agent presets of the design (§2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentPreset {
    /// Interactive Claude Code.
    Claude,
    /// `claude -p --output-format stream-json --verbose`.
    ClaudeHeadless,
    /// Interactive Codex.
    Codex,
    /// `codex exec --json`.
    CodexExec,
    /// `gemini -p --output-format stream-json`.
    Gemini,
    /// The user's shell.
    Shell,
}

impl AgentPreset {
    /// Every preset, with the name used in the plan.
    pub const ALL: [(&'static str, AgentPreset); 6] = [
        ("claude", AgentPreset::Claude),
        ("claude-headless", AgentPreset::ClaudeHeadless),
        ("codex", AgentPreset::Codex),
        ("codex-exec", AgentPreset::CodexExec),
        ("gemini", AgentPreset::Gemini),
        ("shell", AgentPreset::Shell),
    ];

    /// The name used in the plan.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, p)| *p == self)
            .map(|(n, _)| *n)
            .unwrap_or("shell")
    }

    /// The preset with this plan name.
    pub fn from_name(name: &str) -> Option<AgentPreset> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }
}

pub use crate::sys::mux::Multiplexer;

/// `transcript = { path, format }` of a custom command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// Absolute, or relative to the track's worktree.
    pub path: PathBuf,
    /// One of the format names of the design (§6).
    pub format: String,
}

/// The transcript formats a custom command may declare (design §6).
pub(crate) const TRANSCRIPT_FORMATS: [&str; 8] = [
    "claude-stream",
    "claude-session",
    "claude-hooks",
    "codex-exec",
    "codex-rollout",
    "gemini-stream",
    "gemini-chat",
    "lines",
];

/// The placeholders an `env` value may use, and their values for one track.
#[derive(Debug, Clone, Copy)]
pub struct TemplateVars<'a> {
    /// `{track}`.
    pub track: &'a str,
    /// `{port}`: the track's first port.
    pub port: u16,
    /// `{branch}`.
    pub branch: &'a str,
}

/// The names accepted inside `{…}` in `env` values.
pub(crate) const ENV_PLACEHOLDERS: [&str; 3] = ["track", "port", "branch"];

/// Expands `{track}`, `{port}` and `{branch}` in an env value. `{{` and `}}` stand for literal
/// braces. Unknown placeholders were rejected when the plan was loaded, so they cannot occur
/// here; should one slip through it is left as written. The one expander of the plan's
/// templates ([`resolve::expand`]) does the work.
pub(crate) fn expand_template(template: &str, vars: TemplateVars<'_>) -> String {
    let port = vars.port.to_string();
    resolve::expand(
        template,
        &[
            ("track", vars.track),
            ("port", &port),
            ("branch", vars.branch),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_placeholders_and_escapes() {
        let vars = TemplateVars {
            track: "api",
            port: 4110,
            branch: "pk/api",
        };
        assert_eq!(
            expand_template("postgres://localhost/shop_{track}:{port}", vars),
            "postgres://localhost/shop_api:4110"
        );
        assert_eq!(
            expand_template("{{literal}} {branch}", vars),
            "{literal} pk/api"
        );
        assert_eq!(expand_template("no braces", vars), "no braces");
        assert_eq!(expand_template("{unknown}", vars), "{unknown}");
        assert_eq!(expand_template("dangling {", vars), "dangling {");
    }

    #[test]
    fn a_plan_accepts_every_format_pk_reads() {
        let names: Vec<&str> = pk_status::Format::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(TRANSCRIPT_FORMATS.to_vec(), names);
    }
}
