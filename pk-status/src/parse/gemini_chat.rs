//! `gemini-chat`: interactive Gemini CLI's chat files, `~/.gemini/tmp/<project>/chats/
//! session-<time>-<id>.jsonl` (as Gemini CLI 0.61 writes them).
//!
//! The file is a log of changes to one conversation: a header (`sessionId`, `startTime`), then
//! messages (`id`, `timestamp`, `type`: `user`, `gemini`, `info`, `warning`, `error`), and
//! `{"$set": {…}}` records that replace fields of the conversation (`lastUpdated`, or the whole
//! `messages` list when a session is resumed). A message that changes (its tokens arrive, its
//! tool calls finish) is appended again whole with the same `id`.
//!
//! States: `working` on a user message and on a `gemini` message with tool calls or without
//! text (thinking only); `done` on a `gemini` message with text and no tool calls (the turn's
//! answer); an `error` message sets `last_error`. The file cannot show a tool waiting for
//! approval (Gemini writes the tool calls once they ran), and a response with text and a tool
//! call is first written like an answer: with Gemini's hooks (README) the bar shows `waiting`
//! then, as their events come later.
//!
//! Tokens: a `gemini` message's `tokens` (`input` includes `cached`; `thoughts`, billed as
//! output, are apart from `output`; `tool` is prompt tokens of tool use), deduplicated by
//! message id: the copy with the most tokens counts, once.

use super::json::Value;
use super::{Ctx, count, text};
use crate::ledger::Usage;
use crate::state::TrackState;
use crate::status::Tokens;

pub(crate) fn record(ctx: &mut Ctx, v: &Value, at: i64) {
    if let Some(set) = v.get("$set") {
        // A resume writes the whole conversation again: its messages are known by their ids
        // (tokens never counted twice), and they say nothing new about the state.
        if let Some(messages) = set.get("messages").and_then(Value::as_array) {
            for m in messages {
                usage(ctx, m);
            }
        }
        return;
    }
    match text(v, "type").unwrap_or_default() {
        "user" => {
            // A tool's result goes back to the model as a user message: still the same turn.
            ctx.set_state(TrackState::Working, at);
        }
        "gemini" => gemini(ctx, v, at),
        "error" => {
            let message = text(v, "content").unwrap_or("error");
            ctx.set_error(message);
            ctx.touch(at);
        }
        "" => {}
        _ => ctx.touch(at),
    }
}

fn gemini(ctx: &mut Ctx, v: &Value, at: i64) {
    if let Some(model) = text(v, "model") {
        ctx.set_model(model);
    }
    usage(ctx, v);
    let calls = v
        .get("toolCalls")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty());
    if let Some(last) = calls.and_then(|c| c.last()) {
        let name = text(last, "name").unwrap_or("tool");
        ctx.set_tool("", name, last.get("args"));
    }
    let answered = text(v, "content").is_some_and(|t| !t.trim().is_empty());
    let state = if answered && calls.is_none() {
        TrackState::Done
    } else {
        TrackState::Working
    };
    ctx.set_state(state, at);
}

/// Counts a message's tokens once per message id (the largest copy).
fn usage(ctx: &mut Ctx, m: &Value) {
    let (Some(id), Some(t)) = (text(m, "id"), m.get("tokens").filter(|t| t.is_object())) else {
        return;
    };
    let cached = count(t, "cached");
    let usage = Usage {
        tokens: Tokens {
            input: count(t, "input")
                .saturating_sub(cached)
                .saturating_add(count(t, "tool")),
            output: count(t, "output").saturating_add(count(t, "thoughts")),
            cache_read: cached,
            cache_write: 0,
        },
        write_1h: 0,
    };
    let model = ctx.pricing_model(text(m, "model"));
    ctx.ledger.add_dedup(id, None, &model, usage, false);
}

#[cfg(test)]
mod tests {
    use crate::{Format, TrackState, Tracker};

    /// A session recorded from Gemini CLI 0.61 against a fake model (1000 prompt tokens of
    /// which 200 cached, 50 output, 30 thinking per response): a tool call approved, the
    /// answer, then `--resume` and one more answer.
    const SESSION: &str = include_str!("../../tests/fixtures/gemini-chat-session.jsonl");

    fn price(responses: u64) -> f64 {
        // gemini-2.5-pro: $1.25 input, $0.125 cached, $10 output per million tokens.
        responses as f64 * (800.0 * 1.25 + 200.0 * 0.125 + 80.0 * 10.0) / 1e6
    }

    #[test]
    fn reads_a_real_session_counting_each_response_once() {
        let mut t = Tracker::new(Format::GeminiChat);
        let lines: Vec<&str> = SESSION.lines().collect();
        // Up to the first answer: three responses' worth of records, two of them written twice.
        let first_answer = lines.iter().position(|l| l.contains("All done.")).unwrap();
        for l in &lines[..=first_answer] {
            t.feed_line(l, 0);
        }
        let s = t.status();
        assert_eq!(s.state, TrackState::Done);
        assert_eq!(s.model.as_deref(), Some("gemini-2.5-pro"));
        assert_eq!(s.last_tool.as_deref(), Some("write_file notes.txt"));
        assert_eq!(
            (s.tokens.input, s.tokens.cache_read, s.tokens.output),
            (1600, 400, 160)
        );
        assert!((s.cost_usd - price(2)).abs() < 1e-12, "{}", s.cost_usd);
        // The resume writes every message again, without tokens; then a new turn.
        for l in &lines[first_answer + 1..] {
            t.feed_line(l, 0);
        }
        let s = t.status();
        assert_eq!(s.state, TrackState::Done);
        assert_eq!(
            (s.tokens.input, s.tokens.cache_read, s.tokens.output),
            (2400, 600, 240)
        );
        assert!((s.cost_usd - price(3)).abs() < 1e-12, "{}", s.cost_usd);
    }

    #[test]
    fn states_as_a_turn_goes_and_errors() {
        let mut t = Tracker::new(Format::GeminiChat);
        t.feed_line(r#"{"id":"u1","timestamp":"2026-12-04T09:07:21.068Z","type":"user","content":[{"text":"write notes"}]}"#, 0);
        assert_eq!(t.status().state, TrackState::Working);
        // Thinking only, then the same message with its tool calls.
        t.feed_line(r#"{"id":"g1","timestamp":"2026-12-04T09:07:21.204Z","type":"gemini","content":"","tokens":{"input":10,"output":5,"cached":0,"thoughts":0,"tool":0,"total":15},"model":"gemini-2.5-flash"}"#, 0);
        assert_eq!(t.status().state, TrackState::Working);
        t.feed_line(r#"{"id":"g1","timestamp":"2026-12-04T09:07:21.204Z","type":"gemini","content":"","tokens":{"input":10,"output":5,"cached":0,"thoughts":0,"tool":0,"total":15},"model":"gemini-2.5-flash","toolCalls":[{"id":"c","name":"run_shell_command","args":{"command":"cargo test"},"status":"success"}]}"#, 0);
        let s = t.status();
        assert_eq!(s.state, TrackState::Working);
        assert_eq!(s.last_tool.as_deref(), Some("run_shell_command cargo test"));
        assert_eq!((s.tokens.input, s.tokens.output), (10, 5));
        t.feed_line(r#"{"id":"e1","timestamp":"2026-12-04T09:07:22.000Z","type":"error","content":"[API Error: quota exceeded]"}"#, 0);
        assert_eq!(
            t.status().last_error.as_deref(),
            Some("[API Error: quota exceeded]")
        );
        t.feed_line(r#"{"$set":{"lastUpdated":"2026-12-04T09:07:35.309Z"}}"#, 0);
        t.feed_line(r#"{"id":"g2","timestamp":"2026-12-04T09:07:35.382Z","type":"gemini","content":"Tests pass.","thoughts":[],"model":"gemini-2.5-flash"}"#, 0);
        assert_eq!(t.status().state, TrackState::Done);
    }
}
