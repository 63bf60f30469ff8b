//! What pk knows about one track, and the pure functions that refine it with what only the
//! watcher knows: a second source (hook events), the pane's exit, the passing of time.

use crate::state::TrackState;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Token counts of a track. The four counters are additive (no counter includes another), as
/// in Claude's usage: `input` is the uncached input, so for Codex and Gemini, whose input
/// counts include cached tokens, the cached part is moved to `cache_read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Tokens {
    /// Uncached input tokens.
    pub input: u64,
    /// Output tokens (reasoning included).
    pub output: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read: u64,
    /// Input tokens written to the prompt cache.
    pub cache_write: u64,
}

impl Tokens {
    /// Sum of the four counters.
    pub fn total(&self) -> u64 {
        self.input
            .saturating_add(self.output)
            .saturating_add(self.cache_read)
            .saturating_add(self.cache_write)
    }

    /// Counter-wise sum.
    pub fn plus(&self, o: &Tokens) -> Tokens {
        Tokens {
            input: self.input.saturating_add(o.input),
            output: self.output.saturating_add(o.output),
            cache_read: self.cache_read.saturating_add(o.cache_read),
            cache_write: self.cache_write.saturating_add(o.cache_write),
        }
    }
}

/// The state of one track as derived from one source (a transcript or an event file), or from
/// several after [`combine`].
///
/// Serialized with these field names into `pk status --json` and the zellij plugin's status
/// file; times as RFC 3339. Every text field has been through [`crate::sanitize::clean`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackStatus {
    /// What the agent is doing.
    pub state: TrackState,
    /// When the evidence for `state` was recorded (the record's own time, else when it was
    /// read). [`combine`] uses it to let the most recent evidence win.
    pub state_at: Option<Timestamp>,
    /// The most recent activity in the source.
    pub last_activity: Option<Timestamp>,
    /// The last tool call with a short target, e.g. `Edit src/api.rs`, `Bash cargo test`.
    pub last_tool: Option<String>,
    /// Model round trips where the format shows them (Claude: distinct API responses of the
    /// main conversation, or the agent's own `num_turns`; Codex rollout: changes of the token
    /// total), else completed agent turns (Codex exec: `turn.completed`/`turn.failed`; Gemini:
    /// `result`). Hook events count none.
    pub turns: u32,
    /// Tokens used, deduplicated.
    pub tokens: Tokens,
    /// Cost in US dollars: the agent's own figure when it reports one, else priced with
    /// [`crate::prices`].
    pub cost_usd: f64,
    /// True when `cost_usd` is exactly what the agent reported (Claude's
    /// `result.total_cost_usd`), false when pk priced some or all of the tokens.
    pub cost_is_reported: bool,
    /// True when some of `tokens` are of a model pk has no price for (not in its table nor in
    /// the user's `prices.toml`): `cost_usd` leaves them out and the cost shows as unknown.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unpriced: bool,
    /// The most recent error the agent reported (a failed run or turn, an API error, a denied
    /// permission). Kept after the agent recovers, as a hint.
    pub last_error: Option<String>,
    /// The model of the main conversation, when the source names it.
    pub model: Option<String>,
    /// The exit code of the agent's process, once the pane is dead (see [`apply_exit`]).
    pub exit_code: Option<i32>,
    /// The budget that binds the track most, when it has one (see
    /// [`crate::budget::apply_budgets`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::budget::BudgetUse>,
}

impl TrackStatus {
    /// True when the status has any token or cost information to show.
    pub fn has_cost(&self) -> bool {
        self.cost_usd > 0.0 || self.tokens.total() > 0
    }
}

/// Merges the status from a transcript with the status from a hook-event file of the same
/// track (interactive Claude).
///
/// The state is taken from whichever source has the more recent state evidence; on a tie, or
/// when the transcript has none, the hook events win, since they see what the transcript
/// cannot (permission prompts). Tokens, cost, turns and the model come from the transcript
/// (hooks carry none); the last tool from the transcript when it has one (it is written in
/// order with the results), else from the events.
pub fn combine(transcript: &TrackStatus, events: &TrackStatus) -> TrackStatus {
    let events_win = events.state_at.is_some()
        && (transcript.state_at.is_none() || events.state_at >= transcript.state_at);
    let (winner, other) = if events_win {
        (events, transcript)
    } else {
        (transcript, events)
    };
    TrackStatus {
        state: winner.state,
        state_at: winner.state_at,
        last_activity: transcript.last_activity.max(events.last_activity),
        last_tool: transcript
            .last_tool
            .clone()
            .or_else(|| events.last_tool.clone()),
        turns: transcript.turns,
        tokens: transcript.tokens,
        cost_usd: transcript.cost_usd,
        cost_is_reported: transcript.cost_is_reported,
        unpriced: transcript.unpriced,
        last_error: winner
            .last_error
            .clone()
            .or_else(|| other.last_error.clone()),
        model: transcript.model.clone().or_else(|| events.model.clone()),
        exit_code: transcript.exit_code.or(events.exit_code),
        budget: None,
    }
}

/// Marks a working track idle when nothing happened for `idle_after_ms`.
///
/// Only `working` turns `idle`: a waiting, done or failed track keeps telling the user what it
/// needs however long it waits, and a starting track has no activity to measure from. The
/// watcher applies this at render time; the next activity makes the track working again.
pub fn apply_idle(status: &TrackStatus, now_ms: i64, idle_after_ms: i64) -> TrackStatus {
    let mut s = status.clone();
    if let (TrackState::Working, Some(last)) = (s.state, s.last_activity)
        && now_ms.saturating_sub(last.millis()) >= idle_after_ms
    {
        s.state = TrackState::Idle;
    }
    s
}

/// Accounts for the agent's process having ended (the pane is dead), with its exit code when
/// known (`None`: killed by a signal, or unknown).
///
/// - a failed track stays `error`, and one pk stopped for its budget `over-budget`;
/// - a track that finished its run (`done`) and exited with 0 stays `done`: that is how a
///   headless run ends;
/// - a non-zero exit is an `error` (Claude, Codex and Gemini exit non-zero on failure), with
///   `exited with status N` as its error unless the transcript gave one;
/// - anything else is `exited`.
pub fn apply_exit(status: &TrackStatus, exit_code: Option<i32>, now_ms: i64) -> TrackStatus {
    let mut s = status.clone();
    s.exit_code = exit_code;
    let state = match (s.state, exit_code) {
        (TrackState::Error | TrackState::OverBudget, _) => return s,
        // A run the agent itself reported finished stays done when its process ends cleanly,
        // or when the exit code is not known (yet): nothing says it failed.
        (TrackState::Done, Some(0) | None) => return s,
        (_, Some(code)) if code != 0 => {
            if s.last_error.is_none() {
                s.last_error = Some(format!("exited with status {code}"));
            }
            TrackState::Error
        }
        _ => TrackState::Exited,
    };
    s.state = state;
    s.state_at = Some(Timestamp(now_ms));
    s
}

/// Like [`apply_exit`], with the last lines the agent left on its terminal (`output`: its
/// pane's text): an agent that failed without saying why in its transcript (Gemini CLI in a
/// folder it does not trust prints its reason and exits 55) gets the last meaningful line of
/// its output as `last_error`, in place of `exited with status N`; so does one that ended
/// unfinished with an exit status the multiplexer lost.
pub fn apply_exit_output(
    status: &TrackStatus,
    exit_code: Option<i32>,
    now_ms: i64,
    output: Option<&str>,
) -> TrackStatus {
    let mut s = apply_exit(status, exit_code, now_ms);
    // Also when tmux lost the exit status (3.3a does, at times): the agent ended unfinished.
    let failed = match (s.state, exit_code) {
        (TrackState::Error, Some(code)) => code != 0,
        (TrackState::Exited, None) => true,
        _ => false,
    };
    if failed
        && status.last_error.is_none()
        && let Some(line) = output.and_then(last_meaningful_line)
    {
        s.last_error = Some(line);
    }
    s
}

/// Longest line of output kept as an error, in characters.
const OUTPUT_LINE_MAX: usize = 200;

/// The last line of `text` that says something, cleaned of control sequences and trimmed: blank
/// lines, lines of box drawing only (a TUI's frame) and tmux's own `Pane is dead (…)` are
/// skipped; the frame around a line (`│ … │`) is taken off.
pub fn last_meaningful_line(text: &str) -> Option<String> {
    let frame = |c: char| {
        c.is_whitespace() || ('\u{2500}'..='\u{259F}').contains(&c) || matches!(c, '|' | '+')
    };
    text.lines().rev().find_map(|line| {
        let line = crate::sanitize::clean(line);
        let line = line.trim_matches(frame);
        let says = line.chars().any(char::is_alphanumeric) && !line.starts_with("Pane is dead (");
        says.then(|| crate::sanitize::truncate(line, OUTPUT_LINE_MAX))
    })
}

/// The sum of the tracks' costs, for the status bar's and `pk status --json`'s total.
pub fn total_cost<'a>(statuses: impl IntoIterator<Item = &'a TrackStatus>) -> f64 {
    statuses.into_iter().map(|s| s.cost_usd).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(state: TrackState, at: Option<i64>) -> TrackStatus {
        TrackStatus {
            state,
            state_at: at.map(Timestamp),
            last_activity: at.map(Timestamp),
            ..TrackStatus::default()
        }
    }

    #[test]
    fn serializes_with_the_contract_names() {
        let s = TrackStatus {
            state: TrackState::Working,
            last_activity: Some(Timestamp(1_772_442_845_102)),
            tokens: Tokens {
                input: 1,
                output: 2,
                cache_read: 3,
                cache_write: 4,
            },
            cost_usd: 0.5,
            ..TrackStatus::default()
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["state"], "working");
        assert_eq!(v["last_activity"], "2026-03-02T09:14:05.102Z");
        assert_eq!(v["last_tool"], serde_json::Value::Null);
        assert_eq!(
            v["tokens"],
            serde_json::json!({"input": 1, "output": 2, "cache_read": 3, "cache_write": 4})
        );
        assert_eq!(v["cost_usd"], 0.5);
        let back: TrackStatus = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
        // Older or newer writers: missing and unknown fields are fine.
        let partial: TrackStatus = serde_json::from_str(r#"{"state":"done","x":1}"#).unwrap();
        assert_eq!(partial.state, TrackState::Done);
    }

    #[test]
    fn combine_takes_the_newest_state_evidence() {
        let mut transcript = st(TrackState::Working, Some(100));
        transcript.tokens.output = 5;
        transcript.cost_usd = 0.25;
        transcript.last_tool = Some("Bash npm test".into());
        let events = st(TrackState::Waiting, Some(200));
        let c = combine(&transcript, &events);
        assert_eq!(c.state, TrackState::Waiting);
        assert_eq!(c.tokens.output, 5);
        assert_eq!(c.cost_usd, 0.25);
        assert_eq!(c.last_tool.as_deref(), Some("Bash npm test"));
        assert_eq!(c.last_activity, Some(Timestamp(200)));

        // The transcript shows an interrupt the hooks never reported.
        let transcript = st(TrackState::Done, Some(300));
        assert_eq!(combine(&transcript, &events).state, TrackState::Done);
        // Ties go to the hooks.
        let transcript = st(TrackState::Working, Some(200));
        assert_eq!(combine(&transcript, &events).state, TrackState::Waiting);
        // No hook evidence: the transcript decides.
        let none = TrackStatus::default();
        assert_eq!(combine(&transcript, &none).state, TrackState::Working);
        // No transcript yet: the hooks decide.
        assert_eq!(combine(&none, &events).state, TrackState::Waiting);
    }

    #[test]
    fn idle_only_after_the_delay_and_only_when_working() {
        let s = st(TrackState::Working, Some(1_000));
        assert_eq!(apply_idle(&s, 5_999, 5_000).state, TrackState::Working);
        assert_eq!(apply_idle(&s, 6_000, 5_000).state, TrackState::Idle);
        for state in [TrackState::Waiting, TrackState::Done, TrackState::Error] {
            assert_eq!(apply_idle(&st(state, Some(0)), i64::MAX, 1).state, state);
        }
        let starting = st(TrackState::Starting, None);
        assert_eq!(
            apply_idle(&starting, i64::MAX, 1).state,
            TrackState::Starting
        );
        // Clock skew (activity in the future) never panics nor idles.
        assert_eq!(apply_idle(&s, i64::MIN, 5_000).state, TrackState::Working);
    }

    #[test]
    fn exit_maps_to_done_error_or_exited() {
        let done = st(TrackState::Done, Some(1));
        assert_eq!(apply_exit(&done, Some(0), 9).state, TrackState::Done);
        assert_eq!(apply_exit(&done, Some(0), 9).exit_code, Some(0));
        // An exit whose code tmux did not report does not turn a finished run into `exited`.
        assert_eq!(apply_exit(&done, None, 9).state, TrackState::Done);
        let failed = apply_exit(&done, Some(2), 9);
        assert_eq!(failed.state, TrackState::Error);
        assert_eq!(failed.last_error.as_deref(), Some("exited with status 2"));
        let mut err = st(TrackState::Error, Some(1));
        err.last_error = Some("max turns".into());
        let e = apply_exit(&err, Some(1), 9);
        assert_eq!(
            (e.state, e.last_error.as_deref()),
            (TrackState::Error, Some("max turns"))
        );
        let working = st(TrackState::Working, Some(1));
        let x = apply_exit(&working, Some(0), 9);
        assert_eq!(
            (x.state, x.state_at),
            (TrackState::Exited, Some(Timestamp(9)))
        );
        assert_eq!(apply_exit(&working, None, 9).state, TrackState::Exited);
        // An agent pk interrupted for its budget exits 130: still why it stopped.
        let over = st(TrackState::OverBudget, Some(1));
        assert_eq!(
            apply_exit(&over, Some(130), 9).state,
            TrackState::OverBudget
        );
    }

    #[test]
    fn total_adds_costs() {
        let a = TrackStatus {
            cost_usd: 0.5,
            ..TrackStatus::default()
        };
        let b = TrackStatus {
            cost_usd: 0.25,
            ..TrackStatus::default()
        };
        assert_eq!(total_cost([&a, &b]), 0.75);
        assert!(!TrackStatus::default().has_cost());
        assert!(a.has_cost());
    }

    #[test]
    fn a_failed_exit_says_the_last_line_the_agent_printed() {
        let screen = "pk track api · branch pk/api · port 4100 · gemini\n\u{1b}[31mGemini CLI is not running in a trusted directory.\u{1b}[0m\n\n╭────╮\n│    │\n\nPane is dead (status 55, Fri Dec  4 09:09:34 2026)\n\n";
        let working = st(TrackState::Working, Some(5));
        let s = apply_exit_output(&working, Some(55), 9, Some(screen));
        assert_eq!(s.state, TrackState::Error);
        assert_eq!(
            s.last_error.as_deref(),
            Some("Gemini CLI is not running in a trusted directory.")
        );
        // The transcript's own error wins; a clean exit or no output changes nothing.
        let mut reported = working.clone();
        reported.last_error = Some("quota exceeded".into());
        let s = apply_exit_output(&reported, Some(1), 9, Some(screen));
        assert_eq!(s.last_error.as_deref(), Some("quota exceeded"));
        assert_eq!(
            apply_exit_output(&working, Some(0), 9, Some(screen)).last_error,
            None
        );
        // An exit whose status is not known: the line as a hint, the state `exited`.
        let s = apply_exit_output(&working, None, 9, Some(screen));
        assert_eq!(s.state, TrackState::Exited);
        assert!(s.last_error.is_some_and(|e| e.starts_with("Gemini CLI")));
        assert_eq!(
            apply_exit_output(&working, Some(2), 9, Some("\n  \n"))
                .last_error
                .as_deref(),
            Some("exited with status 2")
        );
        assert_eq!(
            last_meaningful_line("│ ✗ Error: it broke │\n╰──────╯").as_deref(),
            Some("✗ Error: it broke")
        );
    }
}
