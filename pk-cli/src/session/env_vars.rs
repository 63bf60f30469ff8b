//! Every environment variable pk sets for a track (design §4), in one place.

/// The track's name.
pub(crate) const PK_TRACK: &str = "PK_TRACK";
/// The track's branch.
pub(crate) const PK_BRANCH: &str = "PK_BRANCH";
/// The track's worktree (absolute).
pub(crate) const PK_WORKTREE: &str = "PK_WORKTREE";
/// The session's name.
pub(crate) const PK_SESSION: &str = "PK_SESSION";
/// The main checkout (absolute).
pub(crate) const PK_ROOT: &str = "PK_ROOT";
/// The track's first port.
pub(crate) const PK_PORT: &str = "PK_PORT";
/// Prefix of the named ports: `PK_PORT_WEB` for a port named `web`.
pub(crate) const PK_PORT_PREFIX: &str = "PK_PORT_";
/// The track's initial prompt, for custom commands that want it. Left out when the prompt is
/// longer than 100 KiB (Linux refuses a variable of 128 KiB or more): [`PK_PROMPT_FILE`] names
/// the file that holds it then (see [`crate::plan::prompt`]).
pub(crate) const PK_PROMPT: &str = "PK_PROMPT";
/// Set instead of [`PK_PROMPT`] for a prompt longer than 100 KiB: the file that holds it.
pub(crate) const PK_PROMPT_FILE: &str = "PK_PROMPT_FILE";
/// Where pk expects the track's transcript (for custom commands and the replay agent).
pub(crate) const PK_TRANSCRIPT: &str = "PK_TRANSCRIPT";
/// The file of hook events of the track.
pub(crate) const PK_EVENTS: &str = "PK_EVENTS";
/// Set by `pk agent-run` for `setup` and the agent: the id of this start of the track's pane.
/// `pk down` ends every process that carries it (defined by `sys::procs`, which reads it).
pub(crate) use crate::sys::procs::PK_RUN_ID;
/// Selects a private tmux server, like `--socket`.
pub(crate) const PK_TMUX_SOCKET: &str = "PK_TMUX_SOCKET";

/// The variable of a named port: `web` → `PK_PORT_WEB`.
pub(crate) fn port_var(name: &str) -> String {
    format!("{PK_PORT_PREFIX}{}", name.to_ascii_uppercase())
}
