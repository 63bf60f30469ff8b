//! `claude-session`: interactive Claude Code's transcript,
//! `~/.claude/projects/<sanitized cwd>/<session id>.jsonl` (formats notes §2).
//!
//! States: `starting` until the first conversation record; `working` from a prompt, a tool
//! result or an assistant response; `done` when a response ends its turn (`end_turn`), on
//! `system/turn_duration`, or on an interrupt (`[Request interrupted by user…]`); `error` on
//! an API error message (`isApiErrorMessage`, model `<synthetic>`), until the next prompt.
//! The transcript cannot show a permission prompt: a pending `tool_use` is `working`. The hook
//! events ([`super::claude_hooks`]) fill that gap, merged with [`crate::combine`].
//!
//! Metadata records (`permission-mode`, `file-history-snapshot`, `ai-title`, `last-prompt`, …)
//! carry no time and no agent activity; they are skipped. Usage is deduplicated by
//! `(message.id, requestId)`.

use super::claude::{Claude, UserKind, user_kind};
use super::json::Value;
use super::{Ctx, flag, text};
use crate::state::TrackState;

pub(crate) fn record(c: &mut Claude, ctx: &mut Ctx, v: &Value, at: i64) {
    let kind = text(v, "type").unwrap_or_default();
    let chained = matches!(
        kind,
        "user" | "assistant" | "system" | "attachment" | "progress"
    );
    if chained && let Some(cwd) = text(v, "cwd") {
        ctx.set_cwd(cwd);
    }
    let sidechain = flag(v, "isSidechain");
    match kind {
        "assistant" => {
            let ended_turn = c.assistant(ctx, v, at, text(v, "requestId"), sidechain);
            if ended_turn {
                ctx.set_state(TrackState::Done, at);
            }
        }
        "user" => match user_kind(v) {
            UserKind::Interrupt if !sidechain => ctx.set_state(TrackState::Done, at),
            UserKind::Meta => ctx.touch(at),
            _ => ctx.set_state(TrackState::Working, at),
        },
        "system" => match text(v, "subtype") {
            Some("turn_duration") => ctx.set_state(TrackState::Done, at),
            _ => ctx.touch(at),
        },
        "attachment" | "progress" => ctx.touch(at),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::{Format, TrackState, Tracker};

    fn run(lines: &[&str]) -> crate::TrackStatus {
        let mut t = Tracker::new(Format::ClaudeSession);
        for l in lines {
            t.feed_line(l, 0);
        }
        t.status().clone()
    }

    #[test]
    fn interrupt_ends_the_turn_and_a_prompt_starts_one() {
        let prompt =
            r#"{"type":"user","timestamp":"2026-03-02T09:00:00Z","message":{"content":"go"}}"#;
        let stop = r#"{"type":"user","timestamp":"2026-03-02T09:00:05Z","message":{"content":[{"type":"text","text":"[Request interrupted by user for tool use]"}]}}"#;
        assert_eq!(run(&[prompt]).state, TrackState::Working);
        assert_eq!(run(&[prompt, stop]).state, TrackState::Done);
        assert_eq!(run(&[prompt, stop, prompt]).state, TrackState::Working);
    }

    #[test]
    fn api_errors_are_errors_until_the_next_prompt() {
        let err = r#"{"type":"assistant","isApiErrorMessage":true,"timestamp":"2026-03-02T09:00:01Z","message":{"id":"x","model":"<synthetic>","content":[{"type":"text","text":"API Error: 529 \u001b[31moverloaded"}],"usage":{"input_tokens":0,"output_tokens":0}}}"#;
        let s = run(&[err]);
        assert_eq!(s.state, TrackState::Error);
        assert_eq!(s.last_error.as_deref(), Some("API Error: 529 overloaded"));
        assert_eq!(s.model, None);
        let prompt = r#"{"type":"user","message":{"content":"retry"}}"#;
        assert_eq!(run(&[err, prompt]).state, TrackState::Working);
    }

    #[test]
    fn metadata_is_not_activity() {
        let s = run(&[
            r#"{"type":"ai-title","aiTitle":"x"}"#,
            r#"{"type":"permission-mode"}"#,
        ]);
        assert_eq!(s.state, TrackState::Starting);
        assert_eq!(s.last_activity, None);
    }
}
