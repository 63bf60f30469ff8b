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
            output: count(u, "output_tokens"),
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
}
