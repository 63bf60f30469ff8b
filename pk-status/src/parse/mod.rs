//! One parser per transcript format (design §6), all feeding the same [`Ctx`].
//!
//! Each parser takes one JSON record at a time. Records are read as `serde_json::Value`
//! rather than typed structs: every field may be missing, `null` or of another type in some
//! release, and a typed struct would throw the whole line away for that. Unknown types and
//! fields are ignored; nothing here panics on any input.

mod claude;
mod claude_hooks;
mod claude_session;
mod claude_stream;
mod codex_exec;
mod codex_rollout;
mod gemini_stream;
mod lines;
mod tools;

use crate::ledger::{Ledger, Usage};
use crate::sanitize::{clean, truncate};
use crate::state::TrackState;
use crate::status::{Tokens, TrackStatus};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// How to read a transcript: the names of design §6, used in plans
/// (`transcript = { path = "…", format = "claude-stream" }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `claude -p --output-format stream-json --verbose` stdout.
    ClaudeStream,
    /// Interactive Claude Code's session JSONL under `~/.claude/projects/`.
    ClaudeSession,
    /// Claude Code hook payloads, one JSON object per line (pk's event file).
    ClaudeHooks,
    /// `codex exec --json` stdout.
    CodexExec,
    /// Codex rollout files under `~/.codex/sessions/`.
    CodexRollout,
    /// `gemini -p --output-format stream-json` stdout.
    GeminiStream,
    /// Any text: every line is activity, nothing more.
    Lines,
}

impl Format {
    /// Every format, in the order of design §6.
    pub const ALL: [Format; 7] = [
        Format::ClaudeStream,
        Format::ClaudeSession,
        Format::ClaudeHooks,
        Format::CodexExec,
        Format::CodexRollout,
        Format::GeminiStream,
        Format::Lines,
    ];

    /// The format called `name` (exactly one of the names of design §6).
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The format's name, as written in plans.
    pub fn name(self) -> &'static str {
        match self {
            Format::ClaudeStream => "claude-stream",
            Format::ClaudeSession => "claude-session",
            Format::ClaudeHooks => "claude-hooks",
            Format::CodexExec => "codex-exec",
            Format::CodexRollout => "codex-rollout",
            Format::GeminiStream => "gemini-stream",
            Format::Lines => "lines",
        }
    }

    /// The model assumed for pricing when the transcript does not name one (`codex exec --json`
    /// never does): the agent's default model.
    pub fn assumed_model(self) -> &'static str {
        match self {
            Format::CodexExec | Format::CodexRollout => "gpt-5-codex",
            Format::GeminiStream => "gemini-2.5-pro",
            _ => "claude-sonnet-4-5",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Format::from_name(s).ok_or_else(|| {
            let names: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
            format!(
                "unknown transcript format {s:?} (expected one of {})",
                names.join(", ")
            )
        })
    }
}

/// Longest `last_tool` / `last_error` text kept, in characters.
pub(crate) const TOOL_MAX: usize = 60;
const ERROR_MAX: usize = 200;

/// What every parser updates: the status, the accounts, and a few facts that help describe
/// tool calls.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub status: TrackStatus,
    pub ledger: Ledger,
    /// The agent's working folder, to show file paths relative to it.
    pub cwd: Option<String>,
    /// The transcript path named by hook payloads.
    pub transcript_path: Option<String>,
}

impl Ctx {
    pub fn new(format: Format, model_hint: Option<&str>) -> Self {
        Ctx {
            status: TrackStatus {
                model: model_hint.map(clean),
                ..TrackStatus::default()
            },
            ledger: Ledger::new(model_hint.unwrap_or(format.assumed_model())),
            cwd: None,
            transcript_path: None,
        }
    }

    /// Notes activity at `at`.
    pub fn touch(&mut self, at: i64) {
        let at = Some(Timestamp(at));
        self.status.last_activity = self.status.last_activity.max(at);
    }

    /// Sets the state on evidence recorded at `at` (also activity).
    pub fn set_state(&mut self, state: TrackState, at: i64) {
        self.touch(at);
        self.status.state = state;
        self.status.state_at = Some(Timestamp(at));
    }

    /// Sets the last tool from a tool name and its input, `prefix` marking a sub-agent's call.
    pub fn set_tool(&mut self, prefix: &str, name: &str, input: Option<&Value>) {
        let text = tools::describe(name, input, self.cwd.as_deref());
        self.status.last_tool = Some(truncate(&format!("{prefix}{text}"), TOOL_MAX));
    }

    /// Sets the last tool from an already described text.
    pub fn set_tool_text(&mut self, text: &str) {
        self.status.last_tool = Some(truncate(&clean(text), TOOL_MAX));
    }

    /// Records an error message.
    pub fn set_error(&mut self, message: &str) {
        let m = clean(message);
        if !m.is_empty() {
            self.status.last_error = Some(truncate(&m, ERROR_MAX));
        }
    }

    pub fn set_model(&mut self, model: &str) {
        let m = clean(model);
        if !m.is_empty() && m != "<synthetic>" {
            self.status.model = Some(truncate(&m, TOOL_MAX));
        }
    }

    pub fn set_cwd(&mut self, cwd: &str) {
        if !cwd.is_empty() {
            self.cwd = Some(cwd.trim_end_matches('/').to_string());
        }
    }

    /// Copies the accounts into the status.
    pub fn refresh_totals(&mut self) {
        let (tokens, cost, reported) = self.ledger.totals();
        self.status.tokens = tokens;
        self.status.cost_usd = cost;
        self.status.cost_is_reported = reported;
    }

    /// The model to price usage with: the record's, else the one last seen, else "" (the
    /// ledger's fallback).
    pub fn pricing_model(&self, record_model: Option<&str>) -> String {
        record_model
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .or_else(|| self.status.model.clone())
            .unwrap_or_default()
    }
}

/// Per-format parser state.
#[derive(Debug, Clone)]
pub(crate) enum Parser {
    ClaudeStream(claude_stream::State),
    ClaudeSession(claude::Claude),
    ClaudeHooks,
    CodexExec(codex_exec::State),
    CodexRollout(codex_rollout::State),
    GeminiStream,
    Lines,
}

impl Parser {
    pub fn new(format: Format) -> Self {
        match format {
            Format::ClaudeStream => Parser::ClaudeStream(Default::default()),
            Format::ClaudeSession => Parser::ClaudeSession(Default::default()),
            Format::ClaudeHooks => Parser::ClaudeHooks,
            Format::CodexExec => Parser::CodexExec(Default::default()),
            Format::CodexRollout => Parser::CodexRollout(Default::default()),
            Format::GeminiStream => Parser::GeminiStream,
            Format::Lines => Parser::Lines,
        }
    }

    /// Handles one line. Returns false when the line was skipped as not a record of the format
    /// (not JSON, not an object); records of unknown types count as handled.
    pub fn line(&mut self, ctx: &mut Ctx, line: &str, now: i64) -> bool {
        if let Parser::Lines = self {
            lines::line(ctx, line, now);
            return true;
        }
        let trimmed = line.trim_matches(|c: char| c.is_whitespace() || c == '\0');
        if trimmed.is_empty() {
            return true;
        }
        if !trimmed.starts_with('{') {
            return false;
        }
        let Ok(v) = serde_json::from_str::<Value>(trimmed) else {
            return false;
        };
        if !v.is_object() {
            return false;
        }
        let at = record_time(&v).unwrap_or(now);
        match self {
            Parser::ClaudeStream(s) => claude_stream::record(s, ctx, &v, at),
            Parser::ClaudeSession(s) => claude_session::record(s, ctx, &v, at),
            Parser::ClaudeHooks => claude_hooks::record(ctx, &v, at),
            Parser::CodexExec(s) => codex_exec::record(s, ctx, &v, at),
            Parser::CodexRollout(s) => codex_rollout::record(s, ctx, &v, at),
            Parser::GeminiStream => gemini_stream::record(ctx, &v, at),
            Parser::Lines => {}
        }
        ctx.refresh_totals();
        true
    }
}

/// The record's own time: an RFC 3339 `timestamp`, or a number of milliseconds (seconds when
/// too small to be milliseconds).
fn record_time(v: &Value) -> Option<i64> {
    match v.get("timestamp")? {
        Value::String(s) => Timestamp::parse_rfc3339(s).map(Timestamp::millis),
        Value::Number(n) => {
            let x = n.as_f64()?;
            if !x.is_finite() || x.abs() > 1e15 {
                return None;
            }
            let ms = if x.abs() < 1e11 { x * 1000.0 } else { x };
            Some(ms as i64)
        }
        _ => None,
    }
}

/// `v[key]` as a string.
pub(crate) fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?.as_str()
}

/// `v[key]` as a count: a non-negative integer, or a float rounded down; anything else is 0.
pub(crate) fn count(v: &Value, key: &str) -> u64 {
    match v.get(key) {
        Some(Value::Number(n)) => n.as_u64().unwrap_or_else(|| {
            n.as_f64()
                .filter(|x| x.is_finite() && *x > 0.0)
                .map_or(0, |x| x as u64)
        }),
        _ => 0,
    }
}

/// `v[key]` as a boolean (missing or not a boolean: false).
pub(crate) fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// Usage in OpenAI's shape (`input_tokens` includes `cached_input_tokens`).
pub(crate) fn openai_usage(u: &Value) -> Usage {
    let input = count(u, "input_tokens");
    let cached = count(u, "cached_input_tokens").min(input);
    Usage {
        tokens: Tokens {
            input: input - cached,
            output: count(u, "output_tokens"),
            cache_read: cached,
            cache_write: 0,
        },
        write_1h: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.name()), Some(f));
            assert_eq!(f.name().parse::<Format>(), Ok(f));
            assert_eq!(
                serde_json::to_string(&f).unwrap(),
                format!("\"{}\"", f.name())
            );
        }
        assert_eq!(Format::from_name("claude"), None);
        assert_eq!(Format::from_name("Claude-Stream"), None);
        assert!("x".parse::<Format>().unwrap_err().contains("claude-stream"));
    }

    #[test]
    fn record_times() {
        let v: Value = serde_json::json!({"timestamp": "2026-03-02T09:14:05.102Z"});
        assert_eq!(record_time(&v), Some(1_772_442_845_102));
        assert_eq!(
            record_time(&serde_json::json!({"timestamp": 1_772_442_845_102_i64})),
            Some(1_772_442_845_102)
        );
        assert_eq!(
            record_time(&serde_json::json!({"timestamp": 1_772_442_845})),
            Some(1_772_442_845_000)
        );
        assert_eq!(record_time(&serde_json::json!({"timestamp": "soon"})), None);
        assert_eq!(record_time(&serde_json::json!({"timestamp": 1e300})), None);
        assert_eq!(record_time(&serde_json::json!({})), None);
    }

    #[test]
    fn counts_are_lenient() {
        let v = serde_json::json!({"a": 5, "b": 2.9, "c": -3, "d": "7", "e": null});
        assert_eq!(
            ["a", "b", "c", "d", "e", "f"].map(|k| count(&v, k)),
            [5, 2, 0, 0, 0, 0]
        );
    }
}
