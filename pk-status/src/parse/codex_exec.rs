//! `codex-exec`: `codex exec --json` stdout (formats notes §4.1).
//!
//! States: `starting` until `thread.started`; `working` from it and on `turn.started` and
//! every `item.*`; `done` on `turn.completed`; `error` on `turn.failed` (its message becomes
//! `last_error`); `waiting` on `request_user_input` (builds with that tool; `codex exec` asks no
//! approvals). A top-level `error` event is not terminal: it only sets `last_error`. Error
//! *items* are configuration and deprecation warnings and are ignored. A killed run writes no
//! terminal event: the pane's exit ([`crate::apply_exit`]) tells.
//!
//! Tokens: `turn.completed.usage` is the thread's cumulative total; only its increase counts,
//! and its `cached_input_tokens` (part of `input_tokens`) are moved to `cache_read`. The stream
//! names no model: cost uses the model hint given to the tracker (or named later, from the
//! thread's rollout: [`crate::Tracker::name_model`]), else it is unknown.

use super::json::Value;
use super::tools::files_summary;
use super::{Ctx, openai_usage, text};
use crate::state::TrackState;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct State {
    /// The thread's id (`thread.started`): its rollout file is named after it.
    pub(crate) thread: String,
}

pub(crate) fn record(s: &mut State, ctx: &mut Ctx, v: &Value, at: i64) {
    match text(v, "type").unwrap_or_default() {
        "thread.started" => {
            s.thread = text(v, "thread_id").unwrap_or_default().to_string();
            ctx.set_state(TrackState::Working, at);
        }
        "turn.started" => ctx.set_state(TrackState::Working, at),
        "item.started" | "item.updated" | "item.completed" => {
            match v.get("item").filter(|i| i.is_object()) {
                Some(item) => item_record(ctx, item, at),
                None => ctx.touch(at),
            }
        }
        "turn.completed" => {
            if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                let model = ctx.pricing_model(None);
                ctx.ledger
                    .add_cumulative(&s.thread, &model, openai_usage(u));
            }
            ctx.status.turns = ctx.status.turns.saturating_add(1);
            ctx.set_state(TrackState::Done, at);
        }
        "turn.failed" => {
            let message = v.get("error").and_then(|e| text(e, "message"));
            ctx.set_error(message.unwrap_or("the turn failed"));
            ctx.status.turns = ctx.status.turns.saturating_add(1);
            ctx.set_state(TrackState::Error, at);
        }
        "error" => {
            ctx.set_error(text(v, "message").unwrap_or("error"));
            ctx.touch(at);
        }
        "request_user_input" => ctx.set_state(TrackState::Waiting, at),
        "" => {}
        _ => ctx.touch(at),
    }
}

fn item_record(ctx: &mut Ctx, item: &Value, at: i64) {
    match text(item, "type").unwrap_or_default() {
        "command_execution" => ctx.set_tool("", "shell", Some(item)),
        "file_change" => {
            let paths: Vec<&str> = item
                .get("changes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| text(c, "path"))
                .collect();
            match files_summary(&paths, ctx.cwd.as_deref()) {
                Some(files) => ctx.set_tool_text(&format!("apply_patch {files}")),
                None => ctx.set_tool_text("apply_patch"),
            }
        }
        "mcp_tool_call" => {
            let server = text(item, "server").unwrap_or("mcp");
            let tool = text(item, "tool").unwrap_or("tool");
            ctx.set_tool("", &format!("{server}.{tool}"), item.get("arguments"));
        }
        "web_search" => ctx.set_tool("", "web_search", Some(item)),
        "error" => {
            ctx.touch(at);
            return;
        }
        _ => {}
    }
    ctx.set_state(TrackState::Working, at);
}

#[cfg(test)]
mod tests {
    use crate::{Format, TrackState, Tracker};

    #[test]
    fn resumed_threads_are_not_double_counted() {
        let mut t = Tracker::new(Format::CodexExec).with_model("gpt-5");
        for l in [
            r#"{"type":"thread.started","thread_id":"th"}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":1000,"cached_input_tokens":400,"output_tokens":10}}"#,
            r#"{"type":"thread.started","thread_id":"th"}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":3000,"cached_input_tokens":2400,"output_tokens":30}}"#,
        ] {
            t.feed_line(l, 0);
        }
        let s = t.status();
        assert_eq!(
            (s.tokens.input, s.tokens.cache_read, s.tokens.output),
            (600, 2400, 30)
        );
        assert_eq!(s.turns, 2);
        assert_eq!(s.model.as_deref(), Some("gpt-5"));
        let cost = (600.0 * 1.25 + 2400.0 * 0.125 + 30.0 * 10.0) / 1e6;
        assert!((s.cost_usd - cost).abs() < 1e-12);
    }

    #[test]
    fn items_describe_tools() {
        let mut t = Tracker::new(Format::CodexExec);
        t.feed_line(r#"{"type":"item.started","item":{"type":"mcp_tool_call","server":"gh","tool":"search","arguments":{"query":"rate limit"}}}"#, 0);
        assert_eq!(
            t.status().last_tool.as_deref(),
            Some("gh.search rate limit")
        );
        t.feed_line(
            r#"{"type":"item.completed","item":{"type":"file_change","changes":[]}}"#,
            0,
        );
        assert_eq!(t.status().last_tool.as_deref(), Some("apply_patch"));
        t.feed_line(r#"{"type":"request_user_input","id":"q"}"#, 0);
        assert_eq!(t.status().state, TrackState::Waiting);
    }
}
