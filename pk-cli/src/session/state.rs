//! What pk created, recorded under the repository's git directory
//! (`.git/pk/<session>/state.json`), so that `pk up` can continue and `pk down` removes exactly
//! that and nothing else.
//!
//! Every change is written atomically (a temporary file renamed over the old one) *before* the
//! step it describes runs: after a crash at any point the record names everything that may exist,
//! and `pk down` checks each thing against reality before it touches it.

use crate::error::{Context, Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of the state file format.
const VERSION: u32 = 1;

/// Where a session's state lives: `<git common dir>/pk/<session>/`.
pub(crate) fn session_dir(common_dir: &Path, session: &str) -> PathBuf {
    common_dir.join("pk").join(session)
}

/// The state of one session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct State {
    /// Format version.
    pub version: u32,
    /// Session name.
    pub session: String,
    /// The plan file the session was started from.
    pub plan: PathBuf,
    /// The main checkout.
    pub repo_root: PathBuf,
    /// `tmux` or `zellij`.
    pub multiplexer: String,
    /// The private tmux server (`--socket`) the session runs on, if any.
    pub socket: Option<String>,
    /// pk created the folder that holds the worktrees (so it removes it when empty).
    pub worktrees_dir: Option<PathBuf>,
    /// pk created the demo repository this session runs in (`pk demo`): `pk down` removes it.
    #[serde(default)]
    pub demo_root: Option<PathBuf>,
    /// After this many seconds without activity a working track is shown `idle` (the plan's
    /// `idle_after`, for the watcher, which reads no plan).
    #[serde(default = "default_idle_after")]
    pub idle_after_secs: u64,
    /// The plan's `keep` globs at `pk up`, for a `pk down` that runs when the plan no longer
    /// loads (one that loads gives its own: the user's latest word). `None` in states written
    /// before `keep` existed: the default then.
    #[serde(default)]
    pub keep: Option<Vec<String>>,
    /// The plan's `[session] budget_usd` at the last `pk up`, for the watcher (design §10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd: Option<f64>,
    /// One record per track pk set up, in the order they were added.
    pub tracks: Vec<TrackRecord>,
    /// The tracks `pk land` landed, the latest landing of each (design §9). A landed track
    /// whose worktree went with its landing has no record in `tracks`: `pk up` does not start
    /// it again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub landed: Vec<Landed>,
    /// The hosts the session's remote tracks run on, as the plan named them at `pk up`, for
    /// the panes, the watcher and a `pk down` whose plan no longer loads (design §11).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostRecord>,
}

/// A host of the session, and how pk reaches it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct HostRecord {
    /// The plan's `[hosts.NAME]`.
    #[serde(flatten)]
    pub host: crate::plan::Host,
    /// `PK_SSH_COMMAND` at `pk up`, for the panes and the watcher, which may run where it is
    /// not set (a tmux server started earlier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_command: Option<String>,
}

/// One landing of `pk land`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Landed {
    /// The track.
    pub track: String,
    /// The base it landed on (as the plan names it).
    pub base: String,
    /// The commit the base moved to.
    pub commit: String,
    /// The track's commit that landed: a track whose tip is still this one has nothing new.
    pub head: String,
    /// When (Unix milliseconds).
    pub at_ms: i64,
}

fn default_idle_after() -> u64 {
    600
}

fn yes() -> bool {
    true
}

/// What pk made for one track.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct TrackRecord {
    /// Track name.
    pub name: String,
    /// Branch name.
    pub branch: String,
    /// Ref the branch started from (for `--delete-branches`: merged into this).
    pub base: String,
    /// pk created the branch (it did not exist before).
    pub branch_created: bool,
    /// Absolute worktree path.
    pub worktree: PathBuf,
    /// pk registered (or was about to register) a worktree at `worktree`.
    pub worktree_created: bool,
    /// The worktree pk made is complete: its files are checked out and the `copy` files are
    /// in. False from the moment pk records that it will make the worktree until both are done,
    /// so that a `pk up` after a crash finishes the job (states written before this field
    /// existed only recorded complete worktrees).
    #[serde(default = "yes")]
    pub worktree_ready: bool,
    /// `pk down` is removing the worktree: set before `git worktree remove` runs, so that what
    /// a killed removal leaves (a folder that is no longer a worktree) is known to be pk's.
    #[serde(default)]
    pub worktree_removing: bool,
    /// First port of the track's block.
    pub port_block: u16,
    /// Size of the block.
    pub port_count: u16,
    /// Named ports, in plan order (`PK_PORT_<NAME>`). Empty when the track names none.
    pub ports: Vec<(String, u16)>,
    /// Files pk copied in from the main checkout (`copy`), relative to the worktree. Untracked
    /// copies still identical to their source are pk's, not the user's work.
    #[serde(default)]
    pub copied: Vec<PathBuf>,
    /// tmux pane id (`%12`) of the agent pane, once made.
    pub pane: Option<String>,
    /// How the agent pane starts the agent.
    pub launch: Launch,
    /// Where the agent's transcript is, or how to find it (design §6); none for a shell or a
    /// custom command without `transcript`.
    #[serde(default)]
    pub transcript: Option<crate::session::transcript::Source>,
    /// The track's hook event file (`claude-hooks`), under the session's state folder.
    #[serde(default)]
    pub events: Option<PathBuf>,
    /// When pk last started the agent's pane (unix milliseconds): session files older than
    /// that belong to an earlier agent.
    #[serde(default)]
    pub agent_started_ms: Option<i64>,
    /// The track's `budget_usd` at the last `pk up`, for the watcher: raising it in the plan
    /// and running `pk up` lets a stopped track go on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd: Option<f64>,
    /// The track's `owns` globs at `pk up`, for the watcher, which reads no plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owns: Vec<String>,
    /// The conversation the agent's pane resumes (issue 16), decided when `pk up` last made
    /// the pane; `None`: it started from its prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed: Option<crate::live::conversation::Conversation>,
    /// A headless agent that had finished its run when its pane was made again: the pane
    /// says so and does not run it again (`pk up --fresh` does).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub finished_before: bool,
    /// The host the track runs on (`[hosts.NAME]`); `None` here. A remote track's worktree,
    /// branch and ports are the host's: pk makes and removes nothing of them here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// Everything `pk agent-run` needs to start a track's agent, decided by `pk up`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub(crate) struct Launch {
    /// Environment, in order (design §4: `PK_*`, then `[env]`, then the track's `env`).
    pub env: Vec<(String, String)>,
    /// Shell commands run before the agent.
    pub setup: Vec<String>,
    /// The agent's argv (not a shell string).
    pub argv: Vec<String>,
    /// For an agent pk can resume: its argv without a prompt, to which the resume arguments
    /// are added ([`crate::session::agent::resume_argv`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_base: Option<Vec<String>>,
    /// A short label of the agent, for the pane header (`claude`, `command`).
    pub agent: String,
    /// For a headless agent: where `pk agent-run` keeps its standard output (the raw event
    /// stream) while showing it readably.
    #[serde(default)]
    pub tee: Option<Tee>,
    /// A prompt too long for the command line, for an agent that reads it on standard input:
    /// the file that holds it, opened as the agent's stdin ([`crate::plan::prompt`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<PathBuf>,
    /// The track's `done_when`, which the watcher runs with [`Launch::env`] when a turn ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_when: Option<String>,
}

/// A headless agent's stream, kept as its transcript.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Tee {
    /// The transcript file (appended to).
    pub path: PathBuf,
    /// The stream's format, to show it readably.
    pub format: pk_status::Format,
}

impl TrackRecord {
    /// The track's first port (`PK_PORT`).
    pub(crate) fn port(&self) -> u16 {
        self.ports.first().map_or(self.port_block, |(_, p)| *p)
    }
}

impl State {
    /// A fresh record for a session.
    pub(crate) fn new(session: &str, plan: &Path, repo_root: &Path, socket: Option<&str>) -> State {
        State {
            version: VERSION,
            session: session.to_string(),
            plan: plan.to_path_buf(),
            repo_root: repo_root.to_path_buf(),
            multiplexer: "tmux".to_string(),
            socket: socket.map(str::to_owned),
            worktrees_dir: None,
            demo_root: None,
            idle_after_secs: default_idle_after(),
            keep: None,
            budget_usd: None,
            tracks: Vec::new(),
            landed: Vec::new(),
            hosts: Vec::new(),
        }
    }

    /// The host `name` of the session.
    pub(crate) fn host(&self, name: &str) -> Option<&HostRecord> {
        self.hosts.iter().find(|h| h.host.name == name)
    }

    /// The record of a track.
    pub(crate) fn track(&self, name: &str) -> Option<&TrackRecord> {
        self.tracks.iter().find(|t| t.name == name)
    }

    /// The latest landing of a track, if `pk land` landed it.
    pub(crate) fn landed(&self, name: &str) -> Option<&Landed> {
        self.landed.iter().find(|l| l.track == name)
    }

    /// The record of a track, to change it.
    pub(crate) fn track_mut(&mut self, name: &str) -> Option<&mut TrackRecord> {
        self.tracks.iter_mut().find(|t| t.name == name)
    }

    /// Reads the state in `dir`, if there is one.
    pub(crate) fn load(dir: &Path) -> Result<Option<State>> {
        let path = dir.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::failure(format!("failed to read {}", path.display()))
                    .wrap_cause(e.to_string()));
            }
        };
        let state: State = serde_json::from_str(&text)
            .with_context(|| format!("failed to read pk's state in {}", path.display()))
            .map_err(|e| {
                e.hint("the file is damaged; move it aside and check `git worktree list` by hand")
                    .hint(
                        "without it, `pk down` finds pk's session and worktrees from tmux and git",
                    )
            })?;
        if state.version != VERSION {
            return Err(Error::failure(format!(
                "{} was written by another version of pk (format {}, this pk reads {VERSION})",
                path.display(),
                state.version
            )));
        }
        Ok(Some(state))
    }

    /// What the multiplexer needs of the record: its name and the tmux socket.
    pub(crate) fn mux_record(&self) -> (&str, Option<&str>) {
        (&self.multiplexer, self.socket.as_deref())
    }

    /// Writes the state into `dir` atomically.
    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).context("failed to encode pk's state")?;
        crate::util::fs::write_atomically(&dir.join(STATE_FILE), text.as_bytes())
    }
}

/// The state's file name in the session's state folder.
pub(crate) const STATE_FILE: &str = "state.json";

/// The status file the watcher writes in the session's state folder.
pub const STATUS_FILE: &str = pk_status::STATUS_FILE;

/// The folder of the tracks' checkpoints (the watcher's) in the session's state folder.
pub const CHECKPOINT_DIR: &str = "checkpoints";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_writes_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::new("shop", Path::new("/r/parallel.toml"), Path::new("/r"), None);
        state.tracks.push(TrackRecord {
            name: "api".into(),
            branch: "pk/api".into(),
            base: "main".into(),
            branch_created: true,
            worktree: "/r.pk/api".into(),
            worktree_created: true,
            worktree_ready: true,
            worktree_removing: false,
            port_block: 4100,
            port_count: 10,
            ports: vec![("web".into(), 4100)],
            copied: vec![".env".into()],
            pane: Some("%3".into()),
            launch: Launch::default(),
            transcript: Some(crate::session::transcript::Source::ClaudeProject {
                dir: "/h/.claude/projects/-r-pk-api".into(),
            }),
            events: Some("/r/.git/pk/shop/tracks/api/events.ndjson".into()),
            agent_started_ms: Some(1),
            budget_usd: None,
            owns: vec!["src/api/**".into()],
            resumed: None,
            finished_before: false,
            host: None,
        });
        state.save(dir.path()).unwrap();
        assert_eq!(State::load(dir.path()).unwrap(), Some(state));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn states_written_before_live_status_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let mut v =
            serde_json::to_value(State::new("s", Path::new("/p"), Path::new("/r"), None)).unwrap();
        v.as_object_mut().unwrap().remove("idle_after_secs");
        v["tracks"] = serde_json::json!([{
            "name": "api", "branch": "pk/api", "base": "main", "branch_created": true,
            "worktree": "/w", "worktree_created": true, "port_block": 4100, "port_count": 10,
            "ports": [], "pane": null,
            "launch": {"env": [], "setup": [], "argv": ["sh"], "agent": "shell"}
        }]);
        std::fs::write(dir.path().join("state.json"), v.to_string()).unwrap();
        let state = State::load(dir.path()).unwrap().unwrap();
        assert_eq!(state.idle_after_secs, 600);
        let rec = &state.tracks[0];
        assert_eq!((rec.transcript.as_ref(), rec.events.as_ref()), (None, None));
        assert_eq!(rec.launch.tee, None);
        assert!(
            rec.worktree_ready,
            "older states only recorded complete worktrees"
        );
    }

    #[test]
    fn missing_state_is_none_and_damaged_state_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(State::load(dir.path()).unwrap(), None);
        std::fs::write(dir.path().join("state.json"), "{not json").unwrap();
        let err = State::load(dir.path()).unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
    }
}
