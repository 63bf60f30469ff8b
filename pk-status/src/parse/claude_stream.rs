//! `claude-stream`: `claude -p --output-format stream-json --verbose` stdout (formats notes §1).
//!
//! States: `starting` until `system/init`; `working` on init and on any assistant, user,
//! stream or retry event; `waiting` while a `control_request` `can_use_tool` (or
//! `elicitation`) is open, or after `session_state_changed: requires_action`; `done` on a
//! successful `result` (or `session_state_changed: idle`); `error` on a `result` with
//! `is_error` or an error subtype (`errors[]` becomes `last_error`), or on an API error
//! message. The request stays open until a `tool_result` for its tool, a `control_response`
//! naming it (pk may append its own answers to the transcript), a `control_cancel_request`, a
//! `session_state_changed: running` or the `result`.
//!
//! Tokens and cost: assistant usage deduplicated by `message.id` while running; each `result`
//! replaces them with the agent's running totals (`total_cost_usd`, and the tokens of
//! `modelUsage`, else `usage`); `num_turns` becomes the turn count.

use super::claude::{Claude, UserKind, user_kind};
use super::json::Value;
use super::{Ctx, count, flag, text};
use crate::ledger::Figures;
use crate::state::TrackState;
use crate::status::Tokens;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct State {
    claude: Claude,
    /// Open permission (or elicitation) requests: request id → tool_use id ("" if none).
    open: BTreeMap<String, String>,
    session_id: Option<String>,
}

pub(crate) fn record(s: &mut State, ctx: &mut Ctx, v: &Value, at: i64) {
    let sidechain = v.get("parent_tool_use_id").is_some_and(|p| !p.is_null());
    match text(v, "type").unwrap_or_default() {
        "system" => system(s, ctx, v, at),
        "assistant" => {
            s.claude.assistant(ctx, v, at, None, sidechain);
        }
        "user" => match user_kind(v) {
            UserKind::ToolResults(ids) => {
                s.open
                    .retain(|_, tool| !tool.is_empty() && !ids.contains(tool));
                ctx.set_state(TrackState::Working, at);
            }
            UserKind::Meta => ctx.touch(at),
            _ => ctx.set_state(TrackState::Working, at),
        },
        "result" => result(s, ctx, v, at),
        "control_request" => {
            let req = v.get("request").unwrap_or(&Value::Null);
            let id = text(v, "request_id").unwrap_or_default().to_string();
            match text(req, "subtype") {
                Some("can_use_tool") => {
                    let tool = text(req, "tool_use_id").unwrap_or_default().to_string();
                    s.open.insert(id, tool);
                    let name = text(req, "tool_name").unwrap_or("tool");
                    ctx.set_tool("", name, req.get("input"));
                    ctx.set_state(TrackState::Waiting, at);
                }
                Some("elicitation") => {
                    s.open.insert(id, String::new());
                    ctx.set_state(TrackState::Waiting, at);
                }
                _ => ctx.touch(at),
            }
        }
        "control_cancel_request" => {
            if let Some(id) = text(v, "request_id") {
                s.open.remove(id);
            }
            ctx.set_state(TrackState::Working, at);
        }
        "control_response" => {
            let id = v.get("response").and_then(|r| text(r, "request_id"));
            if id.is_some_and(|id| s.open.remove(id).is_some()) {
                ctx.set_state(TrackState::Working, at);
            } else {
                ctx.touch(at);
            }
        }
        "stream_event" | "tool_progress" | "tool_use_summary" => {
            ctx.set_state(TrackState::Working, at)
        }
        "" => {}
        _ => ctx.touch(at),
    }
    // Whatever else streams in (a sub-agent, partial messages), an open request still blocks.
    if !s.open.is_empty() && ctx.status.state == TrackState::Working {
        ctx.status.state = TrackState::Waiting;
    }
}

fn system(s: &mut State, ctx: &mut Ctx, v: &Value, at: i64) {
    match text(v, "subtype").unwrap_or_default() {
        "init" => {
            let session = text(v, "session_id").map(str::to_string);
            if s.session_id.is_some() && session.is_some() && s.session_id != session {
                ctx.ledger.new_process();
            }
            s.session_id = session.or(s.session_id.take());
            if let Some(cwd) = text(v, "cwd") {
                ctx.set_cwd(cwd);
            }
            if let Some(m) = text(v, "model") {
                ctx.set_model(m);
            }
            ctx.set_state(TrackState::Working, at);
        }
        "session_state_changed" => match text(v, "state") {
            Some("running") => {
                s.open.clear();
                ctx.set_state(TrackState::Working, at);
            }
            Some("requires_action") => ctx.set_state(TrackState::Waiting, at),
            Some("idle") => {
                s.open.clear();
                ctx.set_ready(at);
            }
            _ => ctx.touch(at),
        },
        "permission_denied" => {
            let tool = text(v, "tool_name").unwrap_or("a tool");
            match text(v, "message") {
                Some(m) => ctx.set_error(m),
                None => ctx.set_error(&format!("permission denied: {tool}")),
            }
            ctx.set_state(TrackState::Working, at);
        }
        "api_retry" | "compact_boundary" => ctx.set_state(TrackState::Working, at),
        _ => ctx.touch(at),
    }
}

fn result(s: &mut State, ctx: &mut Ctx, v: &Value, at: i64) {
    s.open.clear();
    let cost = ["total_cost_usd", "cost_usd", "total_cost"]
        .iter()
        .find_map(|k| v.get(k).and_then(Value::as_f64))
        // A run's cost, in dollars: anything past a billion is not one (and adding such
        // figures up would overflow to infinity).
        .filter(|c| c.is_finite() && (0.0..1e9).contains(c));
    if let Some(cost) = cost {
        let tokens = model_usage_tokens(v, ctx)
            .or_else(|| {
                v.get("usage")
                    .filter(|u| u.is_object())
                    .map(|u| super::claude::claude_usage(u).tokens)
            })
            .unwrap_or_else(|| ctx.ledger.totals().0);
        ctx.ledger.report(Figures { tokens, cost });
    }
    s.claude
        .report_turns(v.get("num_turns").and_then(Value::as_u64));
    ctx.status.turns = s.claude.turns();
    let subtype = text(v, "subtype");
    if flag(v, "is_error") || subtype.is_some_and(|t| t != "success") {
        let errors: Vec<&str> = v
            .get("errors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let message = if !errors.is_empty() {
            errors.join("; ")
        } else {
            text(v, "result")
                .or(subtype)
                .unwrap_or("the run failed")
                .to_string()
        };
        ctx.set_error(&message);
        ctx.set_state(TrackState::Error, at);
    } else {
        ctx.set_state(TrackState::Done, at);
    }
}

/// The sum of `modelUsage`'s per-model counters, the process's running totals. Also takes the
/// model from it when init named none.
fn model_usage_tokens(v: &Value, ctx: &mut Ctx) -> Option<Tokens> {
    let models = v.get("modelUsage")?.as_object().filter(|m| !m.is_empty())?;
    if ctx.status.model.is_none()
        && let Some(name) = models.keys().next()
    {
        ctx.set_model(name);
    }
    Some(models.values().fold(Tokens::default(), |t, m| {
        t.plus(&Tokens {
            input: count(m, "inputTokens"),
            output: count(m, "outputTokens"),
            cache_read: count(m, "cacheReadInputTokens"),
            cache_write: count(m, "cacheCreationInputTokens"),
        })
    }))
}

#[cfg(test)]
mod tests {
    use crate::{Format, TrackState, Tracker};

    fn run(lines: &[&str]) -> crate::TrackStatus {
        let mut t = Tracker::new(Format::ClaudeStream);
        for l in lines {
            t.feed_line(l, 1_000);
        }
        t.status().clone()
    }

    const ASK: &str = r#"{"type":"control_request","request_id":"r1","request":{"subtype":"can_use_tool","tool_name":"Bash","input":{"command":"rm -rf build"},"tool_use_id":"t1"}}"#;

    #[test]
    fn absurd_reported_costs_are_not_costs() {
        let mut t = crate::Tracker::new(crate::Format::ClaudeStream);
        let r = "{\"type\":\"result\",\"subtype\":\"success\",\"total_cost_usd\":1e308}\n";
        t.feed(r.as_bytes(), 0);
        t.feed(
            b"{\"type\":\"result\",\"subtype\":\"success\",\"total_cost_usd\":2}\n",
            0,
        );
        t.feed(r.as_bytes(), 0);
        assert_eq!(t.status().cost_usd, 2.0);
    }

    #[test]
    fn permission_requests_wait_until_answered() {
        assert_eq!(run(&[ASK]).state, TrackState::Waiting);
        assert_eq!(run(&[ASK]).last_tool.as_deref(), Some("Bash rm -rf build"));
        // A sub-agent streaming meanwhile does not end the wait.
        let sub =
            r#"{"type":"assistant","parent_tool_use_id":"t0","message":{"id":"m9","content":[]}}"#;
        assert_eq!(run(&[ASK, sub]).state, TrackState::Waiting);
        let answered = r#"{"type":"control_response","response":{"subtype":"success","request_id":"r1","response":{"behavior":"allow"}}}"#;
        assert_eq!(run(&[ASK, answered]).state, TrackState::Working);
        let result = r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}}"#;
        assert_eq!(run(&[ASK, result]).state, TrackState::Working);
        let cancel = r#"{"type":"control_cancel_request","request_id":"r1"}"#;
        assert_eq!(run(&[ASK, cancel]).state, TrackState::Working);
    }

    #[test]
    fn results_are_the_agents_figures() {
        let r1 = r#"{"type":"result","subtype":"success","is_error":false,"num_turns":2,"total_cost_usd":0.5,"usage":{"input_tokens":10,"output_tokens":20}}"#;
        let s = run(&[r1]);
        assert_eq!(
            (s.state, s.cost_usd, s.cost_is_reported, s.turns),
            (TrackState::Done, 0.5, true, 2)
        );
        assert_eq!(s.tokens.output, 20);
        // Success subtype but is_error: an API error ended the run.
        let r2 = r#"{"type":"result","subtype":"success","is_error":true,"result":"API Error: 500","total_cost_usd":0.1}"#;
        let s = run(&[r2]);
        assert_eq!(
            (s.state, s.last_error.as_deref()),
            (TrackState::Error, Some("API Error: 500"))
        );
        // A corrupted resume: a lone error result without figures.
        let s = run(&[r#"{"type":"result","subtype":"error_during_execution","duration_ms":0}"#]);
        assert_eq!(
            (s.state, s.last_error.as_deref()),
            (TrackState::Error, Some("error_during_execution"))
        );
        assert!(!s.cost_is_reported);
    }

    #[test]
    fn a_second_run_in_the_same_file_adds_up() {
        let init = |id: &str| {
            format!(
                r#"{{"type":"system","subtype":"init","session_id":"{id}","model":"claude-sonnet-4-5"}}"#
            )
        };
        let res = r#"{"type":"result","subtype":"success","total_cost_usd":0.25,"usage":{"output_tokens":7}}"#;
        let (a, b) = (init("a"), init("b"));
        let s = run(&[&a, res, &b, res]);
        assert_eq!((s.cost_usd, s.tokens.output), (0.5, 14));
    }

    /// Claude Code 2.1.328 `-p` writes one `assistant` record per content block, each with the
    /// usage of the message's start (`output_tokens: 1`); only `result` has the final counts.
    #[test]
    fn one_record_per_block_counts_the_message_once_until_the_result() {
        let block = |text: &str, output: u64| {
            format!(
                r#"{{"type":"assistant","message":{{"id":"msg_01","model":"claude-sonnet-4-5-20250929","content":[{{"type":"text","text":"{text}"}}],"usage":{{"input_tokens":1000,"output_tokens":{output},"cache_read_input_tokens":3000,"cache_creation_input_tokens":500}}}}}}"#
            )
        };
        let (a, b) = (block("First.", 1), block("Second.", 1));
        let s = run(&[&a, &b]);
        assert_eq!(
            (
                s.tokens.input,
                s.tokens.output,
                s.tokens.cache_read,
                s.tokens.cache_write
            ),
            (1000, 1, 3000, 500)
        );
        // A copy with more output (a later writer's final usage) replaces it; a smaller one not.
        let s = run(&[&a, &block("Third.", 200), &b]);
        assert_eq!((s.tokens.input, s.tokens.output), (1000, 200));
        let result = r#"{"type":"result","subtype":"success","total_cost_usd":0.00879,"usage":{"input_tokens":1000,"output_tokens":200,"cache_read_input_tokens":3000,"cache_creation_input_tokens":500}}"#;
        let s = run(&[&a, &b, result]);
        assert_eq!(
            (s.tokens.output, s.cost_usd, s.cost_is_reported),
            (200, 0.00879, true)
        );
    }

    #[test]
    fn state_events_and_denials() {
        let idle = r#"{"type":"system","subtype":"session_state_changed","state":"idle"}"#;
        assert_eq!(run(&[idle]).state, TrackState::Starting);
        let init = r#"{"type":"system","subtype":"init","session_id":"s"}"#;
        assert_eq!(run(&[init, idle]).state, TrackState::Done);
        let denied = r#"{"type":"system","subtype":"permission_denied","tool_name":"Bash"}"#;
        let s = run(&[denied]);
        assert_eq!(
            (s.state, s.last_error.as_deref()),
            (TrackState::Working, Some("permission denied: Bash"))
        );
    }
}
