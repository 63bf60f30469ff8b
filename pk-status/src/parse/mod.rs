//! One parser per transcript format (design §6), all feeding the same [`Ctx`].
//!
//! Each parser takes one JSON record at a time. Records are read as `serde_json::Value`
//! rather than typed structs: every field may be missing, `null` or of another type in some
//! release, and a typed struct would throw the whole line away for that. Unknown types and
//! fields are ignored; nothing here panics on any input. Records are read with [`json`], which
//! passes over what the parsers of Claude's formats never read: most of their bytes.

mod claude;
mod claude_hooks;
mod claude_session;
mod claude_stream;
mod codex_exec;
mod codex_rollout;
mod gemini_chat;
mod gemini_stream;
mod json;
mod lines;
mod tools;

pub(crate) use claude_hooks::set_own_thread;

use crate::ledger::{Ledger, Usage};
use crate::sanitize::{clean, truncate, truncate_owned};
use crate::state::TrackState;
use crate::status::{Tokens, TrackStatus};
use crate::time::Timestamp;
use json::Value;
use serde::{Deserialize, Serialize};
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
    /// Interactive Gemini CLI's chat files under `~/.gemini/tmp/<project>/chats/`.
    GeminiChat,
    /// Any text: every line is activity, nothing more.
    Lines,
}

impl Format {
    /// Every format, in the order of design §6.
    pub const ALL: [Format; 8] = [
        Format::ClaudeStream,
        Format::ClaudeSession,
        Format::ClaudeHooks,
        Format::CodexExec,
        Format::CodexRollout,
        Format::GeminiStream,
        Format::GeminiChat,
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
            Format::GeminiChat => "gemini-chat",
            Format::Lines => "lines",
        }
    }

    /// The model assumed for pricing when the transcript does not name one: the agent's default
    /// model, or "" (not priced) for Codex, whose default changes with its releases: `codex exec
    /// --json` never names its model, so the watcher finds it ([`crate::Tracker::with_model`]).
    pub fn assumed_model(self) -> &'static str {
        match self {
            Format::CodexExec | Format::CodexRollout => "",
            Format::GeminiStream | Format::GeminiChat => "gemini-2.5-pro",
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

    /// The agent waits for an instruction without being in a turn (a session starts, a prompt
    /// has been idle): `done` once it has worked, but a track that has not worked yet is still
    /// `starting`. Interactive Claude's `SessionStart` comes before its first prompt is even
    /// submitted; shown as `done`, it rang the bell for a track that had done nothing.
    pub fn set_ready(&mut self, at: i64) {
        if self.status.state == TrackState::Starting {
            self.touch(at);
        } else {
            self.set_state(TrackState::Done, at);
        }
    }

    /// Sets the last tool from a tool name and its input, `prefix` marking a sub-agent's call.
    pub fn set_tool(&mut self, prefix: &str, name: &str, input: Option<&Value>) {
        let mut text = tools::describe(name, input, self.cwd.as_deref());
        if !prefix.is_empty() {
            text.insert_str(0, prefix);
        }
        self.status.last_tool = Some(truncate_owned(text, TOOL_MAX));
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
        // Most records repeat the model already shown (which is clean and short).
        if self.status.model.as_deref() == Some(model) {
            return;
        }
        let m = clean(model);
        if !m.is_empty() && m != "<synthetic>" {
            self.status.model = Some(truncate(&m, TOOL_MAX));
        }
    }

    pub fn set_cwd(&mut self, cwd: &str) {
        let cwd = cwd.trim_end_matches('/');
        if !cwd.is_empty() && self.cwd.as_deref() != Some(cwd) {
            self.cwd = Some(cwd.to_string());
        }
    }

    /// Copies the accounts into the status. The parsers leave it to [`crate::Tracker`], once per
    /// chunk fed: until then `status`'s tokens and cost are stale (ask the ledger).
    pub fn refresh_totals(&mut self) {
        let (tokens, cost, reported) = self.ledger.totals();
        self.status.tokens = tokens;
        self.status.cost_usd = cost;
        self.status.cost_is_reported = reported;
        self.status.unpriced = !reported && self.ledger.unpriced();
    }

    /// The model to price usage with: see [`pricing_model`].
    pub fn pricing_model(&self, record_model: Option<&str>) -> String {
        pricing_model(&self.status.model, record_model).to_string()
    }
}

/// The model to price usage with: the record's, else the one last seen (`shown`, the status's),
/// else "" (the ledger's fallback).
pub(crate) fn pricing_model<'a>(
    shown: &'a Option<String>,
    record_model: Option<&'a str>,
) -> &'a str {
    record_model
        .filter(|m| !m.is_empty())
        .or(shown.as_deref())
        .unwrap_or_default()
}

/// Per-format parser state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Parser {
    ClaudeStream(claude_stream::State),
    ClaudeSession(claude::Claude),
    ClaudeHooks(claude_hooks::State),
    CodexExec(codex_exec::State),
    CodexRollout(codex_rollout::State),
    GeminiStream,
    GeminiChat,
    Lines,
}

impl Parser {
    pub fn new(format: Format) -> Self {
        match format {
            Format::ClaudeStream => Parser::ClaudeStream(Default::default()),
            Format::ClaudeSession => Parser::ClaudeSession(Default::default()),
            Format::ClaudeHooks => Parser::ClaudeHooks(Default::default()),
            Format::CodexExec => Parser::CodexExec(Default::default()),
            Format::CodexRollout => Parser::CodexRollout(Default::default()),
            Format::GeminiStream => Parser::GeminiStream,
            Format::GeminiChat => Parser::GeminiChat,
            Format::Lines => Parser::Lines,
        }
    }

    /// What to pass over in this format's records ([`json`]).
    fn policy(&self) -> Option<&'static json::Policy> {
        match self {
            Parser::ClaudeSession(_) => Some(&CLAUDE_SESSION),
            Parser::ClaudeStream(_) | Parser::ClaudeHooks(_) => Some(&CLAUDE),
            _ => None,
        }
    }

    /// Handles one line (without its newline; bytes that are not UTF-8 read as U+FFFD).
    /// Returns false when the line was skipped as not a record of the format (not JSON, not an
    /// object); records of unknown types count as handled.
    pub fn line(&mut self, ctx: &mut Ctx, line: &[u8], now: i64) -> bool {
        self.line_as(ctx, line, now, self.policy())
    }

    fn line_as(
        &mut self,
        ctx: &mut Ctx,
        line: &[u8],
        now: i64,
        policy: Option<&json::Policy>,
    ) -> bool {
        if let Parser::Lines = self {
            lines::line(ctx, now);
            return true;
        }
        let mut trimmed = trim_bytes(line);
        let unicode;
        if trimmed.first().is_some_and(|&b| b != b'{') {
            // Unicode blanks around it are fine too.
            unicode = String::from_utf8_lossy(line);
            trimmed = unicode
                .trim_matches(|c: char| c.is_whitespace() || c == '\0')
                .as_bytes();
        }
        if trimmed.is_empty() {
            return true;
        }
        if trimmed[0] != b'{' {
            return false;
        }
        match json::parse(trimmed, policy) {
            Some(v) => self.record(ctx, v, now),
            None => false,
        }
    }

    /// Handles one parsed record.
    fn record(&mut self, ctx: &mut Ctx, v: Value, now: i64) -> bool {
        if !v.is_object() {
            return false;
        }
        let at = record_time(&v).unwrap_or(now);
        match self {
            Parser::ClaudeStream(s) => claude_stream::record(s, ctx, &v, at),
            Parser::ClaudeSession(s) => claude_session::record(s, ctx, &v, at),
            Parser::ClaudeHooks(s) => claude_hooks::record(s, ctx, &v, at),
            Parser::CodexExec(s) => codex_exec::record(s, ctx, &v, at),
            Parser::CodexRollout(s) => codex_rollout::record(s, ctx, &v, at),
            Parser::GeminiStream => gemini_stream::record(ctx, &v, at),
            Parser::GeminiChat => gemini_chat::record(ctx, &v, at),
            Parser::Lines => {}
        }
        true
    }
}

/// `line` without ASCII whitespace and NULs (crash padding) at either end.
fn trim_bytes(line: &[u8]) -> &[u8] {
    let blank = |b: &u8| b.is_ascii_whitespace() || *b == 0;
    let start = line.iter().position(|b| !blank(b)).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |i| i + 1);
    &line[start..end]
}

/// Claude records (stream, hooks): what no parser of them reads is left out, and the strings
/// read further than the first 512 bytes are the tool targets of [`tools`] and paths.
static CLAUDE: json::Policy = json::Policy {
    keys: &CLAUDE_KEYS,
    keep: 512,
    keep_long: 4096,
};

static CLAUDE_KEYS: json::Keys = json::Keys::new(
    &[
        (
            json::Keep::Drop,
            &[
                // Tool results again, file snapshots, thinking: the bulk of a session file.
                "toolUseResult",
                "tool_use_result",
                "tool_response",
                "snapshot",
                "thinking",
                "signature",
                "data",
                "originalFile",
                "structuredPatch",
                // Bookkeeping on every line.
                "parentUuid",
                "logicalParentUuid",
                "leafUuid",
                "uuid",
                "userType",
                "entrypoint",
                "sessionId",
                "version",
                "gitBranch",
                "slug",
                "hookInfos",
            ],
        ),
        (json::Keep::Long, &tools::TARGET_KEYS),
        (json::Keep::Long, &PATH_KEYS),
    ],
    json::Keep::Short,
);

/// Keys of paths read further than the first bytes, besides [`tools::TARGET_KEYS`].
const PATH_KEYS: [&str; 2] = ["cwd", "transcript_path"];

/// Claude session files, the biggest: only the keys that [`claude_session`] and [`claude`]
/// read are kept (with [`record_time`]'s and the tool targets).
static CLAUDE_SESSION: json::Policy = json::Policy {
    keys: &CLAUDE_SESSION_KEYS,
    ..CLAUDE
};

static CLAUDE_SESSION_KEYS: json::Keys = json::Keys::new(
    &[
        (
            json::Keep::Short,
            &[
                "type",
                "subtype",
                "timestamp",
                "isSidechain",
                "isMeta",
                "isCompactSummary",
                "isApiErrorMessage",
                "error",
                "requestId",
                "message",
                "model",
                "id",
                "content",
                "text",
                "name",
                "input",
                "stop_reason",
                "usage",
                "input_tokens",
                "output_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
                "cache_creation",
                "ephemeral_1h_input_tokens",
                "tool_use_id",
            ],
        ),
        (json::Keep::Long, &tools::TARGET_KEYS),
        (json::Keep::Long, &PATH_KEYS),
    ],
    json::Keep::Drop,
);

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
        let v = json::json!({"timestamp": "2026-03-02T09:14:05.102Z"});
        assert_eq!(record_time(&v), Some(1_772_442_845_102));
        assert_eq!(
            record_time(&json::json!({"timestamp": 1_772_442_845_102_i64})),
            Some(1_772_442_845_102)
        );
        assert_eq!(
            record_time(&json::json!({"timestamp": 1_772_442_845})),
            Some(1_772_442_845_000)
        );
        assert_eq!(record_time(&json::json!({"timestamp": "soon"})), None);
        assert_eq!(record_time(&json::json!({"timestamp": 1e300})), None);
        assert_eq!(record_time(&json::json!({})), None);
    }

    /// Parses `lines` both ways, with the format's policy and whole, and checks the statuses
    /// stay equal.
    fn same_both_ways(format: Format, lines: &[&str]) {
        let (mut p1, mut c1) = (Parser::new(format), Ctx::new(format, None));
        let (mut p2, mut c2) = (Parser::new(format), Ctx::new(format, None));
        assert!(p1.policy().is_some());
        for line in lines {
            let handled = p1.line(&mut c1, line.as_bytes(), 7);
            let whole = p2.line_as(&mut c2, line.as_bytes(), 7, None);
            assert_eq!(handled, whole, "{format}: {line}");
            c1.refresh_totals();
            c2.refresh_totals();
            assert_eq!(c1.status, c2.status, "{format}: {line}");
            assert_eq!(c1.transcript_path, c2.transcript_path, "{format}: {line}");
        }
    }

    #[test]
    fn every_fixture_reads_as_serde_json_reads_it() {
        let fixtures = [
            include_str!("../../tests/fixtures/claude-session-basic.jsonl"),
            include_str!("../../tests/fixtures/claude-session-partial-tail.jsonl"),
            include_str!("../../tests/fixtures/claude-stream-success.ndjson"),
            include_str!("../../tests/fixtures/claude-stream-error-max-turns.ndjson"),
            include_str!("../../tests/fixtures/claude-stream-waiting-permission.ndjson"),
            include_str!("../../tests/fixtures/claude-stream-waiting-permission-stdin.ndjson"),
            include_str!("../../tests/fixtures/claude-hooks-permission.jsonl"),
            include_str!("../../tests/fixtures/codex-exec-failed.jsonl"),
            include_str!("../../tests/fixtures/codex-exec-success.jsonl"),
            include_str!("../../tests/fixtures/codex-rollout-sample.jsonl"),
            include_str!("../../tests/fixtures/gemini-stream-sample.jsonl"),
            include_str!("../../tests/fixtures/gemini-chat-session.jsonl"),
        ];
        for format in Format::ALL.into_iter().filter(|f| *f != Format::Lines) {
            for text in fixtures {
                let (mut p1, mut c1) = (Parser::new(format), Ctx::new(format, None));
                let (mut p2, mut c2) = (Parser::new(format), Ctx::new(format, None));
                for line in text.lines() {
                    p1.line(&mut c1, line.as_bytes(), 7);
                    match serde_json::from_str::<serde_json::Value>(line.trim()) {
                        Ok(v) if v.is_object() => {
                            p2.record(&mut c2, json::from_serde(v), 7);
                        }
                        _ => {}
                    }
                    c1.refresh_totals();
                    c2.refresh_totals();
                    assert_eq!(c1.status, c2.status, "{format}: {line}");
                }
            }
        }
    }

    #[test]
    fn passing_over_what_claude_parsers_do_not_read_changes_nothing() {
        let fixtures = [
            (
                Format::ClaudeSession,
                include_str!("../../tests/fixtures/claude-session-basic.jsonl"),
            ),
            (
                Format::ClaudeSession,
                include_str!("../../tests/fixtures/claude-session-partial-tail.jsonl"),
            ),
            (
                Format::ClaudeStream,
                include_str!("../../tests/fixtures/claude-stream-success.ndjson"),
            ),
            (
                Format::ClaudeStream,
                include_str!("../../tests/fixtures/claude-stream-error-max-turns.ndjson"),
            ),
            (
                Format::ClaudeStream,
                include_str!("../../tests/fixtures/claude-stream-waiting-permission.ndjson"),
            ),
            (
                Format::ClaudeStream,
                include_str!("../../tests/fixtures/claude-stream-waiting-permission-stdin.ndjson"),
            ),
            (
                Format::ClaudeHooks,
                include_str!("../../tests/fixtures/claude-hooks-permission.jsonl"),
            ),
        ];
        for (format, text) in fixtures {
            same_both_ways(format, &text.lines().collect::<Vec<_>>());
        }
        // Long strings: a tool's target, an error, a prompt, results, in odd places.
        let long = "é\\\"x\\n".repeat(3000);
        let lines = [
            format!(
                r#"{{"type":"assistant","timestamp":"2026-03-02T09:00:00Z","requestId":"r","message":{{"id":"m","model":"claude-opus-4-1","content":[{{"type":"thinking","thinking":"{long}","signature":"{long}"}},{{"type":"tool_use","id":"t","name":"Bash","input":{{"command":"bash -lc '{long}'","description":"{long}"}}}}],"usage":{{"input_tokens":5,"output_tokens":7}}}}}}"#
            ),
            format!(
                r#"{{"type":"user","message":{{"content":[{{"type":"tool_result","tool_use_id":"t","content":"{long}"}}]}},"toolUseResult":{{"stdout":"{long}"}}}}"#
            ),
            format!(r#"{{"type":"user","message":{{"content":"  {long}"}}}}"#),
            format!(
                r#"{{"type":"assistant","isApiErrorMessage":true,"message":{{"id":"x","model":"<synthetic>","content":[{{"type":"text","text":"API Error: {long}"}}]}}}}"#
            ),
            format!(
                r#"{{"type":"result","subtype":"error_during_execution","is_error":true,"errors":["{long}"],"total_cost_usd":0.5}}"#
            ),
            format!(
                r#"{{"hook_event_name":"PreToolUse","tool_name":"Write","tool_input":{{"file_path":"/w/{long}","content":"{long}"}},"transcript_path":"/p/s.jsonl","tool_response":{{"x":[{long:?}]}}}}"#
            ),
            // Broken lines are skipped both ways.
            format!(r#"{{"type":"user","message":{{"content":"{long}"#),
            r#"{"type":"user" "message":1}"#.to_string(),
            " \0{\"type\":\"system\",\"subtype\":\"init\",\"model\":\"claude-sonnet-4-5\"}\0 "
                .to_string(),
            "\u{a0}{\"type\":\"system\",\"subtype\":\"init\"}".to_string(),
            "[1]".to_string(),
            String::new(),
        ];
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        for format in [
            Format::ClaudeSession,
            Format::ClaudeStream,
            Format::ClaudeHooks,
        ] {
            same_both_ways(format, &lines);
        }
    }

    #[test]
    fn claude_policy_keeps_every_tool_target_long() {
        for key in tools::TARGET_KEYS.iter().chain(&["cwd", "transcript_path"]) {
            for policy in [&CLAUDE, &CLAUDE_SESSION] {
                assert_eq!(policy.keys.get(key.as_bytes()), json::Keep::Long, "{key}");
            }
        }
        assert_eq!(CLAUDE_KEYS.get(b"toolUseResult"), json::Keep::Drop);
        assert_eq!(CLAUDE_KEYS.get(b"anything"), json::Keep::Short);
        assert_eq!(CLAUDE_SESSION_KEYS.get(b"usage"), json::Keep::Short);
        assert_eq!(CLAUDE_SESSION_KEYS.get(b"anything"), json::Keep::Drop);
    }

    #[test]
    fn counts_are_lenient() {
        let v = json::json!({"a": 5, "b": 2.9, "c": -3, "d": "7", "e": null});
        assert_eq!(
            ["a", "b", "c", "d", "e", "f"].map(|k| count(&v, k)),
            [5, 2, 0, 0, 0, 0]
        );
    }
}
