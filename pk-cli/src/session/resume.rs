//! Resume (issue 16): when `pk up` makes an agent's pane again (the session is gone after a
//! reboot or a killed tmux server, or the pane is), an agent that had a conversation resumes it
//! the way its CLI does (`claude --resume ID`, `codex resume ID`) rather than starting over from
//! its prompt, so an hour of context is not lost.
//!
//! The conversation is the one the watcher recorded ([`crate::live::conversation`]), taken only
//! when its transcript is still there and belongs to this track's worktree: a conversation of
//! another folder (another track's, the user's own) is never resumed. Anything else starts
//! fresh and says why. The track's event file, kept stream and start time are kept, so the bar
//! and `pk status` go on from the watcher's checkpoint: tokens and cost continue.

use crate::live::conversation::{self, Conversation};
use crate::session::state::TrackRecord;
use crate::session::transcript::Source;
use pk_status::TrackState;
use std::path::Path;

/// How a track's agent starts in a new pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Start {
    /// From its prompt; why, when it had a conversation pk does not resume.
    Fresh(Option<String>),
    /// Resuming this conversation.
    Resume(Conversation),
    /// Not at all: a headless agent that had finished its run (it is shown as it ended).
    Finished,
}

/// Decides how `rec`'s agent starts: `fresh` when the user asked to start it over.
pub(crate) fn decide(state_dir: &Path, rec: &TrackRecord, fresh: bool) -> Start {
    // An agent never started has nothing to resume, and nothing to explain.
    if rec.agent_started_ms.is_none() {
        return Start::Fresh(None);
    }
    let recorded = conversation::load(state_dir, &rec.name);
    let why = |s: String| Start::Fresh(Some(s));
    let Some(c) = recorded else {
        return match rec.launch.resume_base {
            Some(_) if !fresh => why("no conversation of its agent was recorded".into()),
            _ => Start::Fresh(None),
        };
    };
    if fresh {
        return why("`pk up --fresh`".into());
    }
    if rec.launch.resume_base.is_none() {
        return why(format!(
            "pk resumes claude, codex and gemini only; {} starts from its prompt",
            rec.launch.agent
        ));
    }
    if !c.transcript.is_file() {
        return why(format!("its transcript {} is gone", c.transcript.display()));
    }
    let ours = match &rec.transcript {
        // A headless agent's stream, which pk keeps in the track's own folder.
        Some(Source::File { path, .. })
            if rec.launch.tee.as_ref().is_some_and(|t| t.path == *path) =>
        {
            c.transcript == *path
        }
        Some(Source::ClaudeProject { dir }) => {
            let dir = crate::session::transcript::resolve_claude_dir(dir);
            dir.is_some() && c.transcript.parent() == dir.as_deref()
        }
        Some(Source::CodexRollouts { cwd, .. }) => {
            crate::session::transcript::rollout_is_of(&c.transcript, cwd)
        }
        _ => false,
    };
    if !ours {
        return why(format!(
            "its transcript {} is not of this worktree",
            c.transcript.display()
        ));
    }
    if rec.launch.tee.is_some() && last_state(state_dir, &rec.name) == Some(TrackState::Done) {
        return Start::Finished;
    }
    Start::Resume(c)
}

/// The state the watcher showed last for `track` (its `status.json` outlives the session).
fn last_state(state_dir: &Path, track: &str) -> Option<TrackState> {
    crate::live::status_file::load(state_dir)?
        .tracks
        .into_iter()
        .find(|e| e.name == track)
        .map(|e| e.status.state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::state::Launch;
    use std::path::PathBuf;

    const ID: &str = "0f6c3a52-9d1e-4b7a-8c2d-3e4f5a6b7c8d";

    struct World {
        _tmp: tempfile::TempDir,
        state: PathBuf,
        project: PathBuf,
    }

    fn world() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let project = tmp.path().join("claude/projects/-w-api");
        std::fs::create_dir_all(state.join("tracks/api")).unwrap();
        std::fs::create_dir_all(&project).unwrap();
        World {
            _tmp: tmp,
            state,
            project,
        }
    }

    fn rec(w: &World, started: bool) -> TrackRecord {
        let mut r: TrackRecord = serde_json::from_value(serde_json::json!({
            "name": "api", "branch": "pk/api", "base": "main", "branch_created": true,
            "worktree": "/w/api", "worktree_created": true, "port_block": 4100,
            "port_count": 10, "ports": [], "pane": null,
            "launch": {"env": [], "setup": [], "argv": ["claude"], "agent": "claude"}
        }))
        .unwrap();
        r.launch = Launch {
            resume_base: Some(vec!["claude".into()]),
            agent: "claude".into(),
            ..Launch::default()
        };
        r.transcript = Some(Source::ClaudeProject {
            dir: w.project.clone(),
        });
        r.agent_started_ms = started.then_some(1);
        r
    }

    fn record(w: &World, transcript: &Path) {
        let c = Conversation {
            id: ID.into(),
            transcript: transcript.to_path_buf(),
        };
        conversation::save(&w.state, "api", &c).unwrap();
    }

    #[test]
    fn a_recorded_conversation_of_this_worktree_is_resumed() {
        let w = world();
        let t = w.project.join(format!("{ID}.jsonl"));
        std::fs::write(&t, "{}\n").unwrap();
        record(&w, &t);
        assert_eq!(
            decide(&w.state, &rec(&w, true), false),
            Start::Resume(Conversation {
                id: ID.into(),
                transcript: t
            })
        );
    }

    #[test]
    fn otherwise_it_starts_fresh_and_says_why() {
        let w = world();
        let r = rec(&w, true);
        assert_eq!(decide(&w.state, &rec(&w, false), false), Start::Fresh(None));
        let said = |s: Start| match s {
            Start::Fresh(Some(why)) => why,
            other => panic!("{other:?}"),
        };
        assert!(said(decide(&w.state, &r, false)).contains("no conversation"));
        let t = w.project.join(format!("{ID}.jsonl"));
        record(&w, &t);
        assert!(said(decide(&w.state, &r, false)).contains("is gone"));
        std::fs::write(&t, "{}\n").unwrap();
        assert!(said(decide(&w.state, &r, true)).contains("--fresh"));
        // Another folder's conversation (another track's project folder).
        let other = w.project.parent().unwrap().join("-w-web");
        std::fs::create_dir_all(&other).unwrap();
        let theirs = other.join(format!("{ID}.jsonl"));
        std::fs::write(&theirs, "{}\n").unwrap();
        record(&w, &theirs);
        assert!(said(decide(&w.state, &r, false)).contains("not of this worktree"));
        // A preset pk does not resume.
        let mut headless = r.clone();
        headless.launch.resume_base = None;
        headless.launch.agent = "claude-headless".into();
        assert!(
            said(decide(&w.state, &headless, false))
                .contains("claude-headless starts from its prompt")
        );
    }
}
