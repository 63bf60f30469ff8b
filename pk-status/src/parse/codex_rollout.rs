//! `codex-rollout`: interactive Codex's session file,
//! `~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`, records `{timestamp, type, payload}`
//! (formats notes §4.2).
//!
//! States: `starting` until `session_meta`; `working` from it, on `task_started`, user and
//! agent messages and every response item (tool calls and their output); `done` on
//! `task_complete` and on a `turn_aborted` for an interrupt; `error` on another `turn_aborted`.
//! Approval requests are not persisted in rollouts, so `waiting` never comes from here (Codex
//! hooks would be needed).
//!
//! Tokens: `token_count.info.total_token_usage` is the session's cumulative total: only its
//! increase counts, priced with the model of the latest `turn_context`; each increase is one
//! model round trip (`turns`). A `token_count` with only `last_token_usage` adds that, skipping
//! an exact repeat of the previous one.

use super::json::Value;
use super::tools::{files_summary, patch_files};
use super::{Ctx, openai_usage, text};
use crate::ledger::Usage;
use crate::state::TrackState;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct State {
    last_usage: Option<Usage>,
    /// The session's thread id (`session_meta`): the thread whose `notify` turn ends are the
    /// track's ([`crate::Tracker::thread_id`]).
    pub(crate) thread: Option<String>,
}

pub(crate) fn record(s: &mut State, ctx: &mut Ctx, v: &Value, at: i64) {
    let payload = v.get("payload").unwrap_or(&Value::Null);
    match text(v, "type").unwrap_or_default() {
        "session_meta" => {
            if let Some(id) = text(payload, "id").filter(|id| !id.is_empty()) {
                s.thread = Some(id.to_string());
            }
            if let Some(cwd) = text(payload, "cwd") {
                ctx.set_cwd(cwd);
            }
            ctx.set_state(TrackState::Working, at);
        }
        "turn_context" => {
            if let Some(cwd) = text(payload, "cwd") {
                ctx.set_cwd(cwd);
            }
            if let Some(m) = text(payload, "model") {
                ctx.set_model(m);
            }
            ctx.touch(at);
        }
        "event_msg" => event(s, ctx, payload, at),
        "response_item" => response(ctx, payload, at),
        "" => {}
        _ => ctx.touch(at),
    }
}

fn event(s: &mut State, ctx: &mut Ctx, p: &Value, at: i64) {
    match text(p, "type").unwrap_or_default() {
        "task_started"
        | "turn_started"
        | "user_message"
        | "agent_message"
        | "agent_reasoning"
        | "agent_reasoning_raw_content" => ctx.set_state(TrackState::Working, at),
        "task_complete" | "turn_complete" => ctx.set_state(TrackState::Done, at),
        "turn_aborted" => match text(p, "reason").unwrap_or_default() {
            "interrupted" | "replaced" => ctx.set_state(TrackState::Done, at),
            reason => {
                let reason = if reason.is_empty() { "unknown" } else { reason };
                ctx.set_error(&format!("turn aborted: {reason}"));
                ctx.set_state(TrackState::Error, at);
            }
        },
        "token_count" => {
            token_count(s, ctx, p);
            ctx.touch(at);
        }
        "error" | "stream_error" => {
            ctx.set_error(text(p, "message").unwrap_or("error"));
            ctx.touch(at);
        }
        _ => ctx.touch(at),
    }
}

fn token_count(s: &mut State, ctx: &mut Ctx, p: &Value) {
    let Some(info) = p.get("info").filter(|i| i.is_object()) else {
        return;
    };
    let model = ctx.pricing_model(None);
    let counted = if let Some(total) = info.get("total_token_usage").filter(|u| u.is_object()) {
        ctx.ledger
            .add_cumulative("session", &model, openai_usage(total))
    } else if let Some(last) = info.get("last_token_usage").filter(|u| u.is_object()) {
        let last = openai_usage(last);
        let new = s.last_usage != Some(last);
        if new {
            ctx.ledger.add(&model, last);
        }
        s.last_usage = Some(last);
        new
    } else {
        false
    };
    if counted {
        ctx.status.turns = ctx.status.turns.saturating_add(1);
    }
}

fn response(ctx: &mut Ctx, p: &Value, at: i64) {
    match text(p, "type").unwrap_or_default() {
        "function_call" => {
            let name = text(p, "name").unwrap_or("tool");
            ctx.set_tool("", name, p.get("arguments"));
        }
        "custom_tool_call" => {
            let name = text(p, "name").unwrap_or("tool");
            match p.get("input") {
                Some(Value::String(patch)) if name == "apply_patch" => {
                    let files = patch_files(patch);
                    match files_summary(&files, ctx.cwd.as_deref()) {
                        Some(f) => ctx.set_tool_text(&format!("{name} {f}")),
                        None => ctx.set_tool_text(name),
                    }
                }
                input => ctx.set_tool("", name, input),
            }
        }
        "local_shell_call" => ctx.set_tool("", "shell", p.get("action")),
        "web_search_call" => ctx.set_tool("", "web_search", p.get("action")),
        "message" | "reasoning" | "function_call_output" | "custom_tool_call_output" => {}
        _ => {
            ctx.touch(at);
            return;
        }
    }
    ctx.set_state(TrackState::Working, at);
}

#[cfg(test)]
mod tests {
    use crate::{Format, TrackState, Tracker};

    #[test]
    fn aborted_turns() {
        let mut t = Tracker::new(Format::CodexRollout);
        t.feed_line(
            r#"{"type":"event_msg","payload":{"type":"turn_aborted","reason":"interrupted"}}"#,
            0,
        );
        assert_eq!(t.status().state, TrackState::Done);
        t.feed_line(
            r#"{"type":"event_msg","payload":{"type":"turn_aborted","reason":"review_failed"}}"#,
            0,
        );
        assert_eq!(t.status().state, TrackState::Error);
        assert_eq!(
            t.status().last_error.as_deref(),
            Some("turn aborted: review_failed")
        );
    }

    #[test]
    fn last_usage_only_counts_each_call_once() {
        let mut t = Tracker::new(Format::CodexRollout);
        let tc = r#"{"type":"event_msg","payload":{"type":"token_count","info":{"last_token_usage":{"input_tokens":10,"cached_input_tokens":4,"output_tokens":2}}}}"#;
        t.feed_line(tc, 0);
        t.feed_line(tc, 0);
        assert_eq!(t.status().tokens.total(), 12);
        assert_eq!(t.status().turns, 1);
        // Rate-limit-only token_count events carry no info.
        t.feed_line(
            r#"{"type":"event_msg","payload":{"type":"token_count","info":null}}"#,
            0,
        );
        assert_eq!(t.status().turns, 1);
    }
}
