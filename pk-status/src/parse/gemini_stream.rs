//! `gemini-stream`: `gemini -p --output-format stream-json` stdout (formats notes §5).
//!
//! States: `starting` until `init`; `working` from it and on `message`, `tool_use`,
//! `tool_result`; `done` on `result` with `status: "success"`; `error` on any other `result`
//! (its `error.message` becomes `last_error`). An `error` event of severity `error` sets
//! `last_error` without ending the run; warnings are ignored. There is no permission wait in
//! `-p` mode.
//!
//! Tokens: `result.stats` per run, per model when `stats.models` is given; `input_tokens`
//! includes `cached`, so the uncached part (`input`) is `input` and `cached` is `cache_read`.
//! `output_tokens` leaves out the thinking tokens, which are billed as output; `total_tokens`
//! counts them (Gemini CLI 0.61 sums the API's `totalTokenCount`), so the output is what the
//! total has beyond the input. (The total would also hold tool-use prompt tokens, which Gemini
//! CLI's own tools never cause.)

use super::json::Value;
use super::{Ctx, count, text};
use crate::ledger::Usage;
use crate::state::TrackState;
use crate::status::Tokens;

pub(crate) fn record(ctx: &mut Ctx, v: &Value, at: i64) {
    match text(v, "type").unwrap_or_default() {
        "init" => {
            if let Some(m) = text(v, "model") {
                ctx.set_model(m);
            }
            ctx.set_state(TrackState::Working, at);
        }
        "message" | "tool_result" => ctx.set_state(TrackState::Working, at),
        "tool_use" => {
            let name = text(v, "tool_name").unwrap_or("tool");
            ctx.set_tool("", name, v.get("parameters"));
            ctx.set_state(TrackState::Working, at);
        }
        "error" => {
            if text(v, "severity") != Some("warning") {
                ctx.set_error(text(v, "message").unwrap_or("error"));
            }
            ctx.touch(at);
        }
        "result" => result(ctx, v, at),
        "" => {}
        _ => ctx.touch(at),
    }
}

fn result(ctx: &mut Ctx, v: &Value, at: i64) {
    if let Some(stats) = v.get("stats").filter(|s| s.is_object()) {
        match stats.get("models").and_then(Value::as_object) {
            Some(models) if !models.is_empty() => {
                for (model, u) in models {
                    ctx.ledger.add(model, gemini_usage(u));
                }
            }
            _ => {
                let model = ctx.pricing_model(None);
                ctx.ledger.add(&model, gemini_usage(stats));
            }
        }
    }
    ctx.status.turns = ctx.status.turns.saturating_add(1);
    if text(v, "status") == Some("success") {
        ctx.set_state(TrackState::Done, at);
    } else {
        let error = v.get("error");
        let message = error
            .and_then(|e| text(e, "message"))
            .or_else(|| error.and_then(Value::as_str))
            .unwrap_or("the run failed");
        ctx.set_error(message);
        ctx.set_state(TrackState::Error, at);
    }
}

fn gemini_usage(u: &Value) -> Usage {
    let cached = count(u, "cached");
    let input = if u.get("input").is_some() {
        count(u, "input")
    } else {
        count(u, "input_tokens").saturating_sub(cached)
    };
    Usage {
        tokens: Tokens {
            input,
            output: count(u, "output_tokens")
                .max(count(u, "total_tokens").saturating_sub(count(u, "input_tokens"))),
            cache_read: cached,
            cache_write: 0,
        },
        write_1h: 0,
    }
}

#[cfg(test)]
mod tests {
    use crate::{Format, TrackState, Tracker};

    #[test]
    fn failed_runs_and_plain_stats() {
        let mut t = Tracker::new(Format::GeminiStream);
        t.feed_line(
            r#"{"type":"error","severity":"warning","message":"slow"}"#,
            0,
        );
        assert_eq!(t.status().last_error, None);
        t.feed_line(r#"{"type":"result","status":"error","error":{"type":"x","message":"quota exceeded"},"stats":{"input_tokens":100,"cached":40,"output_tokens":5}}"#, 0);
        let s = t.status();
        assert_eq!(
            (s.state, s.last_error.as_deref()),
            (TrackState::Error, Some("quota exceeded"))
        );
        assert_eq!(
            (s.tokens.input, s.tokens.cache_read, s.tokens.output),
            (60, 40, 5)
        );
    }

    /// As Gemini CLI 0.61 wrote it for two responses of 1000 prompt tokens (200 cached), 50
    /// candidate and 30 thinking tokens each: `output_tokens` is 100, the total 2160.
    #[test]
    fn thinking_tokens_count_as_output() {
        let mut t = Tracker::new(Format::GeminiStream);
        t.feed_line(r#"{"type":"init","timestamp":"2026-12-04T09:07:09.338Z","session_id":"9","model":"gemini-2.5-pro"}"#, 0);
        t.feed_line(r#"{"type":"result","timestamp":"2026-12-04T09:07:09.485Z","status":"success","stats":{"total_tokens":2160,"input_tokens":2000,"output_tokens":100,"cached":400,"input":1600,"duration_ms":148,"tool_calls":1,"models":{"gemini-2.5-pro":{"total_tokens":2160,"input_tokens":2000,"output_tokens":100,"cached":400,"input":1600}}}}"#, 0);
        let s = t.status();
        assert_eq!(
            (s.tokens.input, s.tokens.cache_read, s.tokens.output),
            (1600, 400, 160)
        );
        // gemini-2.5-pro: $1.25 input, $0.125 cached, $10 output per million tokens.
        let cost = (1600.0 * 1.25 + 400.0 * 0.125 + 160.0 * 10.0) / 1e6;
        assert!((s.cost_usd - cost).abs() < 1e-12, "{}", s.cost_usd);
    }
}
