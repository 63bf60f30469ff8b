//! `claude-hooks`: one Claude Code hook payload per line, exactly the JSON Claude writes to a
//! hook's standard input (formats notes §3). pk's hook command appends them to the track's
//! event file; it may add a `timestamp` (RFC 3339 or unix milliseconds), which is then used
//! as the event's time instead of the time the line was read.
//!
//! States: `done` on `SessionStart` (the agent is ready for an instruction; not after a
//! compaction), `Stop`, `SessionEnd` and `Notification(idle_prompt)`, but `SessionStart` and
//! `idle_prompt` before any work leave the track `starting` ([`Ctx::set_ready`]); `working` on
//! `UserPromptSubmit`, `PreToolUse`, `PostToolUse`, `PostToolUseFailure`, `PostToolBatch`,
//! `SubagentStart`/`Stop`, `PermissionDenied`, `ElicitationResult`; `waiting` on
//! `PermissionRequest`, `Notification(permission_prompt | elicitation_dialog)` and
//! `Elicitation`; `error` on `StopFailure`. There is no "answered" event: the next tool or
//! stop event ends the wait. Hooks carry no tokens: those come from the transcript, merged with
//! [`crate::combine`]. The payload's `transcript_path` is kept for the watcher
//! ([`crate::Tracker::transcript_path`]): it follows `/clear` to the new session file.
//!
//! Codex's hooks use Claude's names, and pk writes Codex's `notify` (`agent-turn-complete`) as a
//! `Stop` with `source: "codex-notify"` and the thread's id as `session_id`. Codex 0.169 also
//! notifies the end of the turns of its own side threads (the one that writes the thread's
//! title runs while the real turn does): only the track's own thread ends its turn. That thread
//! is the one of its rollout, which the watcher tells ([`crate::Tracker::set_own_thread`]), else
//! the session of the first hook event Codex sent (side threads run no hooks); until it is
//! known, notifications wait (a few, the newest). Gemini CLI's hooks (0.61) send the same payload shape with
//! names of their own: `BeforeAgent` (a prompt) and `AfterTool` mean `working`; `BeforeTool`
//! too, though it comes before the permission prompt, which follows as
//! `Notification(ToolPermission)`: `waiting`; `AfterAgent` ends the turn (also when the human
//! cancelled it): `done`.

use super::claude::SUBAGENT;
use super::json::Value;
use super::{Ctx, text};
use crate::state::TrackState;
use serde::{Deserialize, Serialize};

/// Notifications of threads not known yet to be the track's, kept at most.
const HELD_MAX: usize = 8;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct State {
    /// The Codex thread whose turn ends are the track's.
    own_thread: Option<String>,
    /// True when the watcher named `own_thread` (from the rollout): hook events do not change
    /// it then.
    told: bool,
    /// Turn ends (`thread`, time) notified before the track's thread was known.
    held: Vec<(String, i64)>,
}

/// The watcher names the track's own Codex thread: held turn ends of it count now (unless newer
/// evidence came since), the others never will.
pub(crate) fn set_own_thread(s: &mut State, ctx: &mut Ctx, thread: &str) {
    if s.told && s.own_thread.as_deref() == Some(thread) {
        return;
    }
    s.own_thread = Some(thread.to_string());
    s.told = true;
    release(s, ctx);
}

fn release(s: &mut State, ctx: &mut Ctx) {
    let own = s.own_thread.clone();
    for (thread, at) in std::mem::take(&mut s.held) {
        let newer = ctx.status.state_at.is_some_and(|t| t.0 > at);
        if own.as_deref() == Some(thread.as_str()) && !newer {
            ctx.set_state(TrackState::Done, at);
        }
    }
}

/// A Codex `notify` turn end: the track's only when of its own thread.
fn codex_turn_end(s: &mut State, ctx: &mut Ctx, v: &Value, at: i64) {
    let thread = text(v, "session_id").unwrap_or_default();
    match s.own_thread.as_deref() {
        Some(own) if own == thread => ctx.set_state(TrackState::Done, at),
        Some(_) => {}
        None => {
            if s.held.len() == HELD_MAX {
                s.held.remove(0);
            }
            s.held.push((thread.to_string(), at));
        }
    }
}

pub(crate) fn record(s: &mut State, ctx: &mut Ctx, v: &Value, at: i64) {
    let codex_notify = text(v, "source") == Some("codex-notify");
    if !codex_notify
        && s.own_thread.is_none()
        && let Some(id) = text(v, "session_id").filter(|id| !id.is_empty())
    {
        s.own_thread = Some(id.to_string());
        release(s, ctx);
    }
    if let Some(cwd) = text(v, "cwd") {
        ctx.set_cwd(cwd);
    }
    if let Some(path) = text(v, "transcript_path").filter(|p| !p.is_empty()) {
        ctx.transcript_path = Some(path.to_string());
    }
    let sub = v.get("agent_id").is_some_and(|a| !a.is_null());
    let prefix = if sub { SUBAGENT } else { "" };
    let tool = |ctx: &mut Ctx| {
        let name = text(v, "tool_name").unwrap_or("tool");
        ctx.set_tool(prefix, name, v.get("tool_input"));
    };
    match text(v, "hook_event_name").unwrap_or_default() {
        "SessionStart" => {
            if let Some(m) = model_name(v) {
                ctx.set_model(m);
            }
            if text(v, "source") == Some("compact") {
                ctx.touch(at);
            } else {
                ctx.set_ready(at);
            }
        }
        "UserPromptSubmit" | "PostToolUse" | "PostToolUseFailure" | "PostToolBatch"
        | "SubagentStart" | "SubagentStop" | "PermissionDenied" | "ElicitationResult"
        | "BeforeAgent" | "AfterTool" => ctx.set_state(TrackState::Working, at),
        "PreToolUse" | "BeforeTool" => {
            tool(ctx);
            ctx.set_state(TrackState::Working, at);
        }
        "PermissionRequest" => {
            tool(ctx);
            ctx.set_state(TrackState::Waiting, at);
        }
        "Elicitation" => ctx.set_state(TrackState::Waiting, at),
        "Notification" => match text(v, "notification_type") {
            Some("permission_prompt" | "elicitation_dialog" | "ToolPermission") => {
                ctx.set_state(TrackState::Waiting, at)
            }
            // The prompt has been idle a minute; a pending permission dialog still wins.
            Some("idle_prompt") if ctx.status.state != TrackState::Waiting => ctx.set_ready(at),
            _ => ctx.touch(at),
        },
        "Stop" if codex_notify => codex_turn_end(s, ctx, v, at),
        "Stop" | "AfterAgent" if !sub => ctx.set_state(TrackState::Done, at),
        "StopFailure" => {
            let error = text(v, "error")
                .or_else(|| text(v, "message"))
                .unwrap_or("the turn failed");
            ctx.set_error(error);
            ctx.set_state(TrackState::Error, at);
        }
        "SessionEnd" => ctx.set_state(TrackState::Done, at),
        "" => {}
        _ => ctx.touch(at),
    }
}

/// `model` is a string in some payloads and `{id, display_name}` in others.
fn model_name<'v>(v: &'v Value) -> Option<&'v str> {
    match v.get("model")? {
        Value::String(s) => Some(s),
        m => text(m, "id"),
    }
}

#[cfg(test)]
mod tests {
    use crate::{Format, TrackState, Tracker};

    fn hook(event: &str, extra: &str) -> String {
        format!(
            r#"{{"session_id":"s","transcript_path":"/h/.claude/projects/-w/s.jsonl","cwd":"/w","hook_event_name":"{event}"{extra}}}"#
        )
    }

    fn run(lines: &[String]) -> Tracker {
        let mut t = Tracker::new(Format::ClaudeHooks);
        for (i, l) in lines.iter().enumerate() {
            t.feed_line(l, 1_000 * i as i64);
        }
        t
    }

    #[test]
    fn a_turn_with_a_permission_prompt() {
        let mut lines = vec![hook(
            "SessionStart",
            r#","source":"startup","model":"claude-opus-4-5""#,
        )];
        let t = run(&lines);
        // Claude Code 2.1 starts its session before it submits the first prompt: nothing done
        // yet, so no `done` (nor its bell).
        assert_eq!(t.status().state, TrackState::Starting);
        assert_eq!(t.status().state_at, None);
        assert!(t.status().last_activity.is_some());
        assert_eq!(t.status().model.as_deref(), Some("claude-opus-4-5"));
        assert_eq!(t.transcript_path(), Some("/h/.claude/projects/-w/s.jsonl"));
        lines.push(hook("UserPromptSubmit", r#","prompt":"bump axios""#));
        assert_eq!(run(&lines).status().state, TrackState::Working);
        let input = r#","tool_name":"Bash","tool_input":{"command":"npm install axios@^1"}"#;
        lines.push(hook("PreToolUse", input));
        lines.push(hook("PermissionRequest", input));
        let t = run(&lines);
        assert_eq!(t.status().state, TrackState::Waiting);
        assert_eq!(
            t.status().last_tool.as_deref(),
            Some("Bash npm install axios@^1")
        );
        assert_eq!(t.status().state_at, Some(crate::Timestamp(3_000)));
        lines.push(hook(
            "Notification",
            r#","notification_type":"idle_prompt""#,
        ));
        assert_eq!(run(&lines).status().state, TrackState::Waiting);
        lines.push(hook("PostToolUse", input));
        assert_eq!(run(&lines).status().state, TrackState::Working);
        lines.push(hook("Stop", r#","stop_hook_active":false"#));
        assert_eq!(run(&lines).status().state, TrackState::Done);
        // After work, a new session (`/clear`) and an idle prompt are `done`.
        let mut after = lines.clone();
        after.push(hook("UserPromptSubmit", ""));
        after.push(hook("SessionStart", r#","source":"clear""#));
        assert_eq!(run(&after).status().state, TrackState::Done);
        lines.push(hook("StopFailure", r#","error":"rate_limit""#));
        let t = run(&lines);
        assert_eq!(t.status().state, TrackState::Error);
        assert_eq!(t.status().last_error.as_deref(), Some("rate_limit"));
        assert_eq!(t.status().tokens.total(), 0);
    }

    #[test]
    fn idle_before_any_work_is_still_starting() {
        let idle = hook("Notification", r#","notification_type":"idle_prompt""#);
        let start = hook("SessionStart", r#","source":"startup""#);
        let t = run(&[start.clone(), idle.clone()]);
        assert_eq!(t.status().state, TrackState::Starting);
        let t = run(&[start, hook("UserPromptSubmit", ""), idle]);
        assert_eq!(t.status().state, TrackState::Done);
    }

    #[test]
    fn notifications_and_subagents() {
        let t = run(&[hook(
            "Notification",
            r#","notification_type":"permission_prompt","message":"Claude needs your permission to use Bash""#,
        )]);
        assert_eq!(t.status().state, TrackState::Waiting);
        let t = run(&[hook(
            "Notification",
            r#","notification_type":"auth_success""#,
        )]);
        assert_eq!(t.status().state, TrackState::Starting);
        let t = run(&[
            hook("UserPromptSubmit", ""),
            hook("Stop", r#","agent_id":"a1""#),
        ]);
        assert_eq!(t.status().state, TrackState::Working);
        let t = run(&[hook(
            "PreToolUse",
            r#","agent_id":"a1","tool_name":"Grep","tool_input":{"pattern":"TODO"}"#,
        )]);
        assert_eq!(t.status().last_tool.as_deref(), Some("Agent › Grep TODO"));
    }

    /// Codex 0.169's title thread ends its turn first, while the real turn runs: as pk's
    /// `notify` writes them.
    #[test]
    fn only_the_tracks_own_codex_thread_ends_its_turn() {
        let notify = |thread: &str, at: u32| {
            format!(
                r#"{{"hook_event_name":"Stop","source":"codex-notify","session_id":"{thread}","turn_id":"u","timestamp":"2026-03-02T09:14:0{at}.000Z"}}"#
            )
        };
        let hook = |event: &str, thread: &str, at: u32| {
            format!(
                r#"{{"hook_event_name":"{event}","session_id":"{thread}","tool_name":"Bash","tool_input":{{"command":"touch x"}},"timestamp":"2026-03-02T09:14:0{at}.000Z"}}"#
            )
        };
        // No hooks: the title's turn end waits until the rollout names the track's thread.
        let mut t = Tracker::new(Format::ClaudeHooks);
        t.feed_line(&notify("title", 1), 0);
        assert_eq!(t.status().state, TrackState::Starting);
        t.set_own_thread("main");
        assert_eq!(t.status().state, TrackState::Starting);
        t.feed_line(&notify("main", 5), 0);
        assert_eq!(t.status().state, TrackState::Done);
        // The real turn's end, notified before the rollout was read, counts once it is.
        let mut t = Tracker::new(Format::ClaudeHooks);
        t.feed_line(&notify("title", 1), 0);
        t.feed_line(&notify("main", 5), 0);
        t.set_own_thread("main");
        assert_eq!(t.status().state, TrackState::Done);
        assert_eq!(
            t.status().state_at.unwrap().to_rfc3339(),
            "2026-03-02T09:14:05.000Z"
        );
        // With the user's hooks: the first hook's session is the track's thread, and the
        // title's end does not replace the wait for an approval.
        let t = run(&[
            hook("UserPromptSubmit", "main", 0),
            hook("PermissionRequest", "main", 1),
            notify("title", 2),
        ]);
        assert_eq!(t.status().state, TrackState::Waiting);
        let t = run(&[
            notify("title", 0),
            hook("UserPromptSubmit", "main", 1),
            notify("main", 3),
        ]);
        assert_eq!(t.status().state, TrackState::Done);
        // Claude's own Stop (no `source`) is not filtered.
        let t = run(&[hook("UserPromptSubmit", "a", 0), hook("Stop", "b", 1)]);
        assert_eq!(t.status().state, TrackState::Done);
    }

    #[test]
    fn a_timestamp_added_by_pk_wins_over_now() {
        let t = run(&[hook("Stop", r#","timestamp":"2026-03-02T09:14:05.102Z""#)]);
        assert_eq!(
            t.status().state_at,
            Some(crate::Timestamp(1_772_442_845_102))
        );
    }

    /// The order Gemini CLI 0.61 sent them in, around a shell command that needed approval
    /// (payloads as captured, cut short).
    #[test]
    fn gemini_hooks_give_the_same_states() {
        let gemini = |event: &str, extra: &str| {
            format!(
                r#"{{"session_id":"g","transcript_path":"/h/.gemini/tmp/w/chats/session-2026-11-21T06-21-92354e4b.jsonl","cwd":"/w","hook_event_name":"{event}","timestamp":"2026-11-21T06:21:00.000Z"{extra}}}"#
            )
        };
        let shell =
            r#","tool_name":"run_shell_command","tool_input":{"command":"echo hi > out.txt"}"#;
        let steps = [
            (
                gemini("SessionStart", r#","source":"startup""#),
                TrackState::Starting,
            ),
            (
                gemini("BeforeAgent", r#","prompt":"write hi""#),
                TrackState::Working,
            ),
            (gemini("BeforeModel", ""), TrackState::Working),
            (gemini("BeforeTool", shell), TrackState::Working),
            (
                gemini(
                    "Notification",
                    r#","notification_type":"ToolPermission","message":"Tool Confirm Shell Command requires execution","details":{"type":"exec","command":"echo hi > out.txt"}"#,
                ),
                TrackState::Waiting,
            ),
            (gemini("AfterTool", shell), TrackState::Working),
            (
                gemini("AfterAgent", r#","prompt_response":"done""#),
                TrackState::Done,
            ),
            (
                gemini("SessionEnd", r#","reason":"exit""#),
                TrackState::Done,
            ),
        ];
        let mut lines = Vec::new();
        for (line, state) in steps {
            lines.push(line);
            let t = run(&lines);
            assert_eq!(t.status().state, state, "after {}", lines.last().unwrap());
        }
        assert_eq!(
            run(&lines).status().last_tool.as_deref(),
            Some("run_shell_command echo hi > out.txt")
        );
    }
}
