//! Every fixture transcript parses to the state, tokens and cost computed by hand.
//!
//! The fixtures are copies of `shared/fixtures/transcripts/` (their costs follow Sonnet 4.5
//! list prices: $3 in, $15 out, $3.75 cache write, $0.30 cache read per million tokens), plus
//! `claude-hooks-permission.jsonl`, written for this crate: the hook payloads Claude Code would
//! send for the session of `claude-session-partial-tail.jsonl`.

use pk_status::{Format, Timestamp, Tokens, TrackState, TrackStatus, Tracker, apply_exit, combine};

const NOW: i64 = 1_800_000_000_000;

fn parse(format: Format, bytes: &[u8]) -> Tracker {
    let mut t = Tracker::new(format);
    t.feed(bytes, NOW);
    t
}

fn tokens(input: u64, output: u64, cache_read: u64, cache_write: u64) -> Tokens {
    Tokens {
        input,
        output,
        cache_read,
        cache_write,
    }
}

fn time(s: &str) -> Option<Timestamp> {
    Some(Timestamp::parse_rfc3339(s).unwrap())
}

/// Dollars from per-million-token prices.
fn priced(t: Tokens, input: f64, output: f64, cache_read: f64, cache_write: f64) -> f64 {
    (t.input as f64 * input
        + t.output as f64 * output
        + t.cache_read as f64 * cache_read
        + t.cache_write as f64 * cache_write)
        / 1e6
}

fn assert_cost(s: &TrackStatus, expected: f64) {
    assert!(
        (s.cost_usd - expected).abs() < 1e-12,
        "cost {} != {expected}",
        s.cost_usd
    );
}

const SONNET: &str = "claude-sonnet-4-5-20250929";

#[test]
fn claude_stream_success() {
    let t = parse(
        Format::ClaudeStream,
        include_bytes!("fixtures/claude-stream-success.ndjson"),
    );
    let s = t.status();
    assert_eq!(s.state, TrackState::Done);
    // The result's own figures: usage and total_cost_usd.
    assert_eq!(s.tokens, tokens(24, 1187, 69_600, 9412));
    assert_eq!(s.cost_usd, 0.074052);
    assert!(s.cost_is_reported);
    // They agree with the four deduplicated responses priced at Sonnet 4.5:
    // 24×3 + 1187×15 + 69600×0.30 + 9412×3.75 = 74052 µ$.
    assert_cost(s, priced(s.tokens, 3.0, 15.0, 0.30, 3.75));
    assert_eq!(s.turns, 4);
    assert_eq!(
        s.last_tool.as_deref(),
        Some("Bash cargo test -q invoice_total")
    );
    assert_eq!(s.model.as_deref(), Some(SONNET));
    assert_eq!(s.last_error, None);
    // Stream lines carry no time: activity is when they were read.
    assert_eq!(s.last_activity, Some(Timestamp(NOW)));
    assert_eq!(t.skipped_lines(), 0);
}

#[test]
fn claude_stream_live_figures_match_the_result() {
    // Everything before the result: usage deduplicated by message.id and priced by pk.
    let all = include_str!("fixtures/claude-stream-success.ndjson");
    let before_result: String = all
        .lines()
        .filter(|l| !l.contains("\"type\":\"result\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let t = parse(Format::ClaudeStream, before_result.as_bytes());
    let s = t.status();
    assert_eq!(s.state, TrackState::Working);
    assert_eq!(s.tokens, tokens(24, 1187, 69_600, 9412));
    assert_cost(s, 0.074052);
    assert!(!s.cost_is_reported);
    assert_eq!(s.turns, 4);
}

#[test]
fn claude_stream_error_max_turns() {
    let t = parse(
        Format::ClaudeStream,
        include_bytes!("fixtures/claude-stream-error-max-turns.ndjson"),
    );
    let s = t.status();
    assert_eq!(s.state, TrackState::Error);
    assert_eq!(
        s.last_error.as_deref(),
        Some("Reached maximum number of turns (2)")
    );
    assert_eq!(s.tokens, tokens(10, 209, 29_514, 6532));
    assert_eq!(s.cost_usd, 0.036514);
    assert!(s.cost_is_reported);
    assert_eq!(s.turns, 3);
    assert_eq!(
        s.last_tool.as_deref(),
        Some("Bash cargo test -q settle_batch -- --nocapture")
    );
    // The run failed and the CLI exits 1: still an error, with its reason.
    let exited = apply_exit(s, Some(1), NOW + 1);
    assert_eq!(exited.state, TrackState::Error);
    assert_eq!(
        exited.last_error.as_deref(),
        Some("Reached maximum number of turns (2)")
    );
}

#[test]
fn claude_stream_waiting_permission() {
    let t = parse(
        Format::ClaudeStream,
        include_bytes!("fixtures/claude-stream-waiting-permission.ndjson"),
    );
    let s = t.status();
    assert_eq!(s.state, TrackState::Waiting);
    assert_eq!(
        s.last_tool.as_deref(),
        Some("Bash npm install axios@^1 && npm test")
    );
    // One response (msg_01Wm6…) written twice; no result yet, so pk prices it:
    // 3×3 + 152×15 + 11842×0.30 + 7044×3.75 = 32256.6 µ$.
    assert_eq!(s.tokens, tokens(3, 152, 11_842, 7044));
    assert_cost(s, 0.032_256_6);
    assert!(!s.cost_is_reported);
    assert_eq!(s.turns, 1);
    assert_eq!(s.model.as_deref(), Some(SONNET));
}

#[test]
fn claude_stream_stdin_side() {
    // What pk writes to the CLI: an initialize request (not a permission) and the prompt.
    let t = parse(
        Format::ClaudeStream,
        include_bytes!("fixtures/claude-stream-waiting-permission-stdin.ndjson"),
    );
    let s = t.status();
    assert_eq!(s.state, TrackState::Working);
    assert_eq!(s.tokens, Tokens::default());
    assert_eq!(s.cost_usd, 0.0);
}

#[test]
fn claude_session_basic() {
    let t = parse(
        Format::ClaudeSession,
        include_bytes!("fixtures/claude-session-basic.jsonl"),
    );
    let s = t.status();
    assert_eq!(s.state, TrackState::Done);
    // msg_01GfR2… written three times with output 9, 9, 187: the largest copy counts.
    // (3+6+8, 187+301+74, 11842+17962+19442, 6120+1480+640)
    assert_eq!(s.tokens, tokens(17, 562, 49_246, 8240));
    // 17×3 + 562×15 + 49246×0.30 + 8240×3.75 = 54154.8 µ$.
    assert_cost(s, 0.054_154_8);
    assert!(!s.cost_is_reported);
    assert_eq!(s.turns, 3);
    assert_eq!(s.last_tool.as_deref(), Some("Edit src/money.rs"));
    assert_eq!(s.model.as_deref(), Some(SONNET));
    assert_eq!(s.last_error, None);
    // system/turn_duration ended the turn; the metadata lines after it carry no time.
    assert_eq!(s.last_activity, time("2026-03-02T09:14:31.709Z"));
    assert_eq!(s.state_at, time("2026-03-02T09:14:31.709Z"));
}

#[test]
fn claude_session_partial_tail() {
    let bytes = include_bytes!("fixtures/claude-session-partial-tail.jsonl");
    let mut t = parse(Format::ClaudeSession, bytes);
    let s = t.status().clone();
    // A tool_use without its result: running or waiting for approval, the file cannot tell.
    assert_eq!(s.state, TrackState::Working);
    assert_eq!(
        s.last_tool.as_deref(),
        Some("Bash npm install axios@^1 && npm test")
    );
    // The duplicate line counts once.
    assert_eq!(s.tokens, tokens(3, 152, 11_842, 7044));
    assert_cost(&s, 0.032_256_6);
    assert_eq!(s.turns, 1);
    assert_eq!(s.last_activity, time("2026-03-04T11:20:04.771Z"));
    // The unknown record is skipped silently; the torn line waits for its newline.
    assert_eq!(t.skipped_lines(), 0);
    // When the writer is gone, the torn line is tried and skipped.
    t.finish(NOW);
    assert_eq!(t.status(), &s);
    assert_eq!(t.skipped_lines(), 1);
}

#[test]
fn claude_hooks_and_transcript_combined() {
    let hooks = parse(
        Format::ClaudeHooks,
        include_bytes!("fixtures/claude-hooks-permission.jsonl"),
    );
    let h = hooks.status();
    assert_eq!(h.state, TrackState::Waiting);
    assert_eq!(
        h.last_tool.as_deref(),
        Some("Bash npm install axios@^1 && npm test")
    );
    assert_eq!(h.model.as_deref(), Some(SONNET));
    assert_eq!(h.tokens, Tokens::default());
    assert_eq!(
        hooks.transcript_path(),
        Some(
            "/home/dev/.claude/projects/-home-dev-src-web-admin/e3a9d5c7-2b4f-4816-9c0e-7f1b3d8a6e24.jsonl"
        )
    );

    let transcript = parse(
        Format::ClaudeSession,
        include_bytes!("fixtures/claude-session-partial-tail.jsonl"),
    );
    let c = combine(transcript.status(), h);
    assert_eq!(c.state, TrackState::Waiting);
    assert_eq!(c.tokens, tokens(3, 152, 11_842, 7044));
    assert_cost(&c, 0.032_256_6);
    assert_eq!(c.turns, 1);
    assert_eq!(c.last_activity, Some(Timestamp(NOW)));
}

#[test]
fn codex_exec_success() {
    let t = parse(
        Format::CodexExec,
        include_bytes!("fixtures/codex-exec-success.jsonl"),
    );
    let s = t.status();
    assert_eq!(s.state, TrackState::Done);
    // input 48213 of which 39936 cached.
    assert_eq!(s.tokens, tokens(8277, 1877, 39_936, 0));
    // No model in the stream, none given: the tokens count, the cost is unknown, not guessed.
    assert_cost(s, 0.0);
    assert!(s.unpriced);
    // With the model the watcher found (`-m`, config.toml): GPT-5-Codex prices, $1.25 in /
    // $10 out / $0.125 cached: 8277×1.25 + 1877×10 + 39936×0.125 = 34108.25 µ$.
    let mut t = Tracker::new(Format::CodexExec).with_model("gpt-5-codex");
    t.feed(include_bytes!("fixtures/codex-exec-success.jsonl"), 0);
    assert_cost(t.status(), 0.034_108_25);
    assert!(!t.status().unpriced);
    assert_eq!(s.turns, 1);
    assert_eq!(s.last_tool.as_deref(), Some("shell cargo test -q"));
    assert_eq!(s.model, None);
    assert_eq!(s.last_error, None);
}

#[test]
fn codex_exec_failed() {
    let t = parse(
        Format::CodexExec,
        include_bytes!("fixtures/codex-exec-failed.jsonl"),
    );
    let s = t.status();
    assert_eq!(s.state, TrackState::Error);
    assert_eq!(
        s.last_error.as_deref(),
        Some(
            "stream disconnected before completion: error sending request for url (https://api.openai.com/v1/responses)"
        )
    );
    assert_eq!(s.tokens, Tokens::default());
    assert_eq!(s.cost_usd, 0.0);
    assert_eq!(s.turns, 1);
    assert_eq!(
        s.last_tool.as_deref(),
        Some("shell ./scripts/migrate.sh --dry-run")
    );
}

#[test]
fn codex_rollout_sample() {
    let t = parse(
        Format::CodexRollout,
        include_bytes!("fixtures/codex-rollout-sample.jsonl"),
    );
    let s = t.status();
    assert_eq!(s.state, TrackState::Done);
    // The last cumulative total, same as codex-exec-success.jsonl.
    assert_eq!(s.tokens, tokens(8277, 1877, 39_936, 0));
    assert_cost(s, 0.034_108_25);
    // Three token_count totals, three model calls.
    assert_eq!(s.turns, 3);
    assert_eq!(s.last_tool.as_deref(), Some("apply_patch src/client.rs"));
    assert_eq!(s.model.as_deref(), Some("gpt-5-codex"));
    assert_eq!(s.last_activity, time("2026-03-05T08:41:39.570Z"));
}

#[test]
fn gemini_stream_sample() {
    let t = parse(
        Format::GeminiStream,
        include_bytes!("fixtures/gemini-stream-sample.jsonl"),
    );
    let s = t.status();
    assert_eq!(s.state, TrackState::Done);
    // input_tokens 9204 = 6144 cached + 3060 uncached.
    assert_eq!(s.tokens, tokens(3060, 107, 6144, 0));
    // Gemini 2.5 Pro: $1.25 in / $10 out / $0.125 cached: 3825 + 1070 + 768 = 5663 µ$.
    assert_cost(s, 0.005_663);
    assert_eq!(s.turns, 1);
    assert_eq!(s.last_tool.as_deref(), Some("search_file_content TODO"));
    assert_eq!(s.model.as_deref(), Some("gemini-2.5-pro"));
    assert_eq!(s.last_activity, time("2026-03-06T10:00:04.201Z"));
}

#[test]
fn status_json_has_the_contract_fields() {
    let t = parse(
        Format::ClaudeSession,
        include_bytes!("fixtures/claude-session-basic.jsonl"),
    );
    let v = serde_json::to_value(t.status()).unwrap();
    assert_eq!(v["state"], "done");
    assert_eq!(v["last_activity"], "2026-03-02T09:14:31.709Z");
    assert_eq!(v["last_tool"], "Edit src/money.rs");
    assert_eq!(v["tokens"]["cache_read"], 49_246);
    assert_eq!(v["tokens"]["cache_write"], 8240);
}
