//! Each track's conversation as its agent CLI knows it (issue 16): the CLI's own session id and
//! the transcript it belongs to. The watcher records it as soon as the transcript appears (and
//! again when the agent moves to another, after `/clear`), in `tracks/<track>/conversation.json`
//! under the state folder, so that `pk up` can resume it after the session is gone
//! ([`crate::session::resume`]).

use crate::error::{Context, Result};
use pk_status::Format;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file, in a track's folder, that names its conversation.
pub(crate) const FILE: &str = "conversation.json";

/// A track's conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Conversation {
    /// The CLI's session id: what `claude --resume` and `codex resume` take.
    pub id: String,
    /// The transcript it is written to.
    pub transcript: PathBuf,
}

/// The conversation whose transcript is `path`, read as `format`: the session id the CLI named
/// the file after (interactive Claude Code and Codex). `None` for other formats: a headless
/// agent's conversation is recorded by `pk agent-run` from its stream as it passes
/// ([`id_in_line`]), the last one winning, which reading the file's start would not give.
pub(crate) fn of(format: Format, path: &Path) -> Option<Conversation> {
    let stem = path.file_stem()?.to_str()?;
    let id = match format {
        // `~/.claude/projects/<folder>/<session id>.jsonl`
        Format::ClaudeSession => stem,
        // `~/.codex/sessions/YYYY/MM/DD/rollout-<time>-<thread id>.jsonl`
        Format::CodexRollout => stem.get(stem.len().checked_sub(36)?..)?,
        _ => return None,
    };
    is_uuid(id).then(|| Conversation {
        id: id.to_string(),
        transcript: path.to_path_buf(),
    })
}

/// The session id a line of a headless stream names, when it opens a conversation: `claude
/// -p`'s `system` `init` (`session_id`), `codex exec --json`'s `thread.started` (`thread_id`),
/// `gemini -p`'s `init` (`session_id`). Other lines are passed over without parsing them.
pub(crate) fn id_in_line(line: &[u8]) -> Option<String> {
    const OPENERS: [&[u8]; 3] = [b"\"system\"", b"\"thread.started\"", b"\"init\""];
    let head = &line[..line.len().min(64)];
    if !OPENERS
        .iter()
        .any(|o| head.windows(o.len()).any(|w| w == *o))
    {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    let id = match v["type"].as_str()? {
        "system" if v["subtype"] == "init" => v["session_id"].as_str()?,
        "init" => v["session_id"].as_str()?,
        "thread.started" => v["thread_id"].as_str()?,
        _ => return None,
    };
    is_uuid(id).then(|| id.to_string())
}

/// `8-4-4-4-12` hexadecimal digits: the form of both CLIs' ids. Checked so that a file named
/// otherwise is never handed to a CLI as an id (too small a need for a crate).
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn path(state_dir: &Path, track: &str) -> PathBuf {
    crate::session::transcript::track_dir(state_dir, track).join(FILE)
}

/// The recorded conversation of `track`, if any (a damaged file is none).
pub(crate) fn load(state_dir: &Path, track: &str) -> Option<Conversation> {
    serde_json::from_slice(&std::fs::read(path(state_dir, track)).ok()?).ok()
}

/// Records `c` as the conversation of the track whose folder is `track_dir` (`pk agent-run`).
pub(crate) fn save_in(track_dir: &Path, c: &Conversation) -> Result<()> {
    let text = serde_json::to_vec_pretty(c).context("failed to encode a conversation")?;
    crate::util::fs::write_atomically_in_place(&track_dir.join(FILE), &text)
}

/// Records `c` as `track`'s conversation. Not when the state folder is gone (torn down).
pub(crate) fn save(state_dir: &Path, track: &str, c: &Conversation) -> Result<()> {
    let text = serde_json::to_vec_pretty(c).context("failed to encode a conversation")?;
    crate::util::fs::write_atomically_in_place(&path(state_dir, track), &text)
}

/// Forgets `track`'s conversation: its agent starts a new one.
pub(crate) fn forget(state_dir: &Path, track: &str) {
    let _ = std::fs::remove_file(path(state_dir, track));
    let _ = std::fs::remove_file(refused_path(state_dir, track));
}

/// The file, in a track's folder, that says its CLI refused to resume its conversation.
fn refused_path(state_dir: &Path, track: &str) -> PathBuf {
    crate::session::transcript::track_dir(state_dir, track).join("resume-refused.txt")
}

/// Records that `track`'s CLI refused to resume (`pk agent-run` then started it from its
/// prompt), with what it said, for `pk status`; and forgets the conversation.
pub(crate) fn record_refusal(state_dir: &Path, track: &str, why: &str) {
    let _ = std::fs::remove_file(path(state_dir, track));
    let _ = crate::util::fs::write_atomically(&refused_path(state_dir, track), why.as_bytes());
}

/// Forgets an earlier refusal: a new pane tries again.
pub(crate) fn forget_refusal(state_dir: &Path, track: &str) {
    let _ = std::fs::remove_file(refused_path(state_dir, track));
}

/// Why `track`'s CLI refused to resume, if it did since its pane was last made.
pub(crate) fn refusal(state_dir: &Path, track: &str) -> Option<String> {
    std::fs::read_to_string(refused_path(state_dir, track)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0f6c3a52-9d1e-4b7a-8c2d-3e4f5a6b7c8d";

    #[test]
    fn the_id_is_the_one_the_cli_named_its_file_after() {
        let claude = PathBuf::from(format!("/h/.claude/projects/-w-api/{ID}.jsonl"));
        assert_eq!(
            of(Format::ClaudeSession, &claude),
            Some(Conversation {
                id: ID.into(),
                transcript: claude.clone()
            })
        );
        let codex = PathBuf::from(format!(
            "/h/.codex/sessions/2026/12/04/rollout-2026-12-04T10-11-12-{ID}.jsonl"
        ));
        assert_eq!(of(Format::CodexRollout, &codex).unwrap().id, ID);
    }

    #[test]
    fn a_headless_stream_names_its_id_in_its_opening_record() {
        let line = |s: String| id_in_line(s.as_bytes());
        assert_eq!(
            line(format!(
                r#"{{"type":"system","subtype":"init","cwd":"/w","session_id":"{ID}"}}"#
            )),
            Some(ID.into())
        );
        assert_eq!(
            line(format!(r#"{{"type":"thread.started","thread_id":"{ID}"}}"#)),
            Some(ID.into())
        );
        assert_eq!(
            line(format!(
                r#"{{"type":"init","timestamp":"t","session_id":"{ID}"}}"#
            )),
            Some(ID.into())
        );
        assert_eq!(
            line(format!(r#"{{"type":"user","session_id":"{ID}"}}"#)),
            None
        );
        assert_eq!(
            line(r#"{"type":"system","subtype":"init","session_id":"default"}"#.into()),
            None
        );
        assert_eq!(
            line(r#"{"type":"thread.started""#.into()),
            None,
            "half a line"
        );
    }

    #[test]
    fn no_id_is_made_up() {
        for (format, path) in [
            (Format::ClaudeSession, "/p/notes.jsonl"),
            (
                Format::ClaudeSession,
                "/p/0f6c3a52-9d1e-4b7a-8c2d-3e4f5a6b7c8.jsonl",
            ),
            (Format::CodexRollout, "/s/rollout-short.jsonl"),
            (
                Format::CodexRollout,
                "/s/rollout-2026-12-04T10-11-12-zf6c3a52-9d1e-4b7a-8c2d-3e4f5a6b7c8d.jsonl",
            ),
            (Format::ClaudeStream, "/t/transcript.ndjson"),
            (Format::GeminiChat, "/t/transcript.ndjson"),
        ] {
            assert_eq!(of(format, Path::new(path)), None, "{path}");
        }
    }

    #[test]
    fn a_record_survives_a_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tracks/api")).unwrap();
        let c = Conversation {
            id: ID.into(),
            transcript: "/t.jsonl".into(),
        };
        save(dir.path(), "api", &c).unwrap();
        assert_eq!(load(dir.path(), "api"), Some(c));
        assert_eq!(load(dir.path(), "web"), None);
    }
}
