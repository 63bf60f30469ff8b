//! What the Claude stream and the Claude session transcript have in common: `assistant` and
//! `user` records carrying an Anthropic API message (formats notes §1.4, §1.5, §2.2, §2.3).

use super::json::Value;
use super::{Ctx, count, flag, pricing_model, text};
use crate::ledger::{Added, Usage};
use crate::state::TrackState;
use crate::status::Tokens;
use serde::{Deserialize, Serialize};

/// Shown before a sub-agent's tool calls, so they do not pass for the main agent's.
pub(crate) const SUBAGENT: &str = "Agent › ";

/// Turn counting shared by both Claude parsers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Claude {
    /// Main-conversation API responses seen since the agent's last report.
    responses: u32,
    /// The agent's own turn count (`result.num_turns`) at its last report.
    reported_turns: u32,
}

/// What a `user` record was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UserKind {
    /// The human (or pk) gave an instruction: a turn starts.
    Prompt,
    /// The human interrupted the turn (Esc): the agent waits for input.
    Interrupt,
    /// Results of these tool calls came back.
    ToolResults(Vec<String>),
    /// Bookkeeping (meta lines, slash-command echoes, local shell output): not agent work.
    Meta,
}

impl Claude {
    pub fn turns(&self) -> u32 {
        self.reported_turns.saturating_add(self.responses)
    }

    /// The agent reported its own turn count; responses seen later add to it.
    pub fn report_turns(&mut self, num_turns: Option<u64>) {
        if let Some(n) = num_turns {
            self.reported_turns = u32::try_from(n).unwrap_or(u32::MAX);
            self.responses = 0;
        }
    }

    /// Handles an `assistant` record: usage, model, tool calls, API errors. Sets `working`, or
    /// `error` for an API error of the main conversation. Returns true when this response ends
    /// the main conversation's turn (`stop_reason: "end_turn"`).
    pub fn assistant(
        &mut self,
        ctx: &mut Ctx,
        v: &Value,
        at: i64,
        request_id: Option<&str>,
        sidechain: bool,
    ) -> bool {
        let Some(msg) = v.get("message").filter(|m| m.is_object()) else {
            ctx.touch(at);
            return false;
        };
        let model = text(msg, "model");
        let error_code = text(v, "error");
        if model == Some("<synthetic>") || flag(v, "isApiErrorMessage") || error_code.is_some() {
            let message = first_text(msg).or(error_code).unwrap_or("API error");
            ctx.set_error(message);
            if sidechain {
                ctx.touch(at);
            } else {
                ctx.set_state(TrackState::Error, at);
            }
            return false;
        }
        if !sidechain && let Some(m) = model {
            ctx.set_model(m);
        }
        if let Some(u) = msg.get("usage").filter(|u| u.is_object()) {
            let pricing = pricing_model(&ctx.status.model, model);
            let usage = claude_usage(u);
            match text(msg, "id").filter(|id| !id.is_empty()) {
                Some(id) => {
                    let added = ctx
                        .ledger
                        .add_dedup(id, request_id, pricing, usage, sidechain);
                    if added == Added::New && !sidechain {
                        self.responses = self.responses.saturating_add(1);
                    }
                }
                None => ctx.ledger.add(pricing, usage),
            }
        }
        let prefix = if sidechain { SUBAGENT } else { "" };
        for block in blocks(msg) {
            if matches!(text(block, "type"), Some("tool_use" | "server_tool_use")) {
                ctx.set_tool(
                    prefix,
                    text(block, "name").unwrap_or("tool"),
                    block.get("input"),
                );
            }
        }
        ctx.status.turns = self.turns();
        ctx.set_state(TrackState::Working, at);
        !sidechain && text(msg, "stop_reason") == Some("end_turn")
    }
}

/// Classifies a `user` record.
pub(crate) fn user_kind(v: &Value) -> UserKind {
    if flag(v, "isMeta") || flag(v, "isCompactSummary") {
        return UserKind::Meta;
    }
    let Some(content) = v.get("message").and_then(|m| m.get("content")) else {
        return UserKind::Meta;
    };
    let mut results = Vec::new();
    let mut kind = UserKind::Meta;
    let classify = |t: &str| {
        let t = t.trim_start();
        if t.starts_with("[Request interrupted by user") {
            UserKind::Interrupt
        } else if t.is_empty() || is_command_echo(t) {
            UserKind::Meta
        } else {
            UserKind::Prompt
        }
    };
    match content {
        Value::String(s) => kind = classify(s),
        Value::Array(items) => {
            for b in items {
                match text(b, "type") {
                    Some("tool_result") => {
                        results.push(text(b, "tool_use_id").unwrap_or_default().to_string())
                    }
                    Some("text") => match classify(text(b, "text").unwrap_or_default()) {
                        UserKind::Interrupt => return UserKind::Interrupt,
                        UserKind::Prompt => kind = UserKind::Prompt,
                        _ => {}
                    },
                    Some("image" | "document") => kind = UserKind::Prompt,
                    _ => {}
                }
            }
        }
        _ => {}
    }
    if !results.is_empty() {
        return UserKind::ToolResults(results);
    }
    kind
}

/// Text that Claude Code writes as a user line without the agent working on it: slash-command
/// echoes, local command output, `!` shell mode.
fn is_command_echo(t: &str) -> bool {
    [
        "<command-name>",
        "<command-message>",
        "<local-command-",
        "<bash-input>",
        "<bash-stdout>",
        "<bash-stderr>",
        "<user-memory-input>",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

fn blocks<'v, 'a>(msg: &'v Value<'a>) -> impl Iterator<Item = &'v Value<'a>> {
    msg.get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn first_text<'v>(msg: &'v Value) -> Option<&'v str> {
    match msg.get("content")? {
        Value::String(s) => Some(s.as_ref()),
        _ => blocks(msg).find_map(|b| text(b, "text")),
    }
}

/// Anthropic usage (`input_tokens` excludes the cache counters).
pub(crate) fn claude_usage(u: &Value) -> Usage {
    let cache_write = count(u, "cache_creation_input_tokens");
    let write_1h = u
        .get("cache_creation")
        .map_or(0, |c| count(c, "ephemeral_1h_input_tokens"))
        .min(cache_write);
    Usage {
        tokens: Tokens {
            input: count(u, "input_tokens"),
            output: count(u, "output_tokens"),
            cache_read: count(u, "cache_read_input_tokens"),
            cache_write,
        },
        write_1h,
    }
}

#[cfg(test)]
mod tests {
    use super::super::json::json;
    use super::*;

    fn kind(content: serde_json::Value) -> UserKind {
        user_kind(&json!({"type": "user", "message": {"role": "user", "content": content}}))
    }

    #[test]
    fn classifies_user_records() {
        assert_eq!(kind(serde_json::json!("fix the bug")), UserKind::Prompt);
        assert_eq!(
            kind(serde_json::json!("[Request interrupted by user]")),
            UserKind::Interrupt
        );
        assert_eq!(
            kind(
                serde_json::json!([{"type": "text", "text": "[Request interrupted by user for tool use]"}])
            ),
            UserKind::Interrupt
        );
        assert_eq!(
            kind(
                serde_json::json!([{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}])
            ),
            UserKind::ToolResults(vec!["t1".into()])
        );
        assert_eq!(
            kind(serde_json::json!("<command-name>/cost</command-name>")),
            UserKind::Meta
        );
        assert_eq!(
            kind(serde_json::json!(
                "<local-command-stdout>$0.12</local-command-stdout>"
            )),
            UserKind::Meta
        );
        assert_eq!(
            kind(serde_json::json!("<b>bold</b> request")),
            UserKind::Prompt
        );
        assert_eq!(kind(serde_json::json!(42)), UserKind::Meta);
        let meta = json!({"type": "user", "isMeta": true, "message": {"content": "x"}});
        assert_eq!(user_kind(&meta), UserKind::Meta);
    }

    #[test]
    fn reads_usage_with_one_hour_writes() {
        let u = claude_usage(&json!({
            "input_tokens": 3, "output_tokens": 9, "cache_read_input_tokens": 11,
            "cache_creation_input_tokens": 100,
            "cache_creation": {"ephemeral_5m_input_tokens": 60, "ephemeral_1h_input_tokens": 400}
        }));
        assert_eq!(u.tokens.total(), 123);
        assert_eq!(u.write_1h, 100);
    }
}
