//! One [`Tracker`] per transcript or event file: bytes in, [`TrackStatus`] out.

use crate::parse::{Ctx, Format, Parser};
use crate::reader::LineBuffer;
use crate::status::TrackStatus;
use serde::{Deserialize, Serialize};

/// Follows one transcript or event file of one track.
///
/// Feed it the file's bytes as they are appended, in chunks of any size; it parses each
/// complete line and keeps the status up to date. Records that carry their own time date the
/// activity; the others are dated with the `now_ms` given to [`Tracker::feed`]. The result does
/// not depend on how the bytes were chunked.
///
/// ```
/// use pk_status::{Format, TrackState, Tracker};
/// let mut t = Tracker::new(Format::CodexExec);
/// t.feed(b"{\"type\":\"thread.started\",\"thread_id\":\"t\"}\n{\"type\":\"turn.com", 1_000);
/// assert_eq!(t.status().state, TrackState::Working);
/// t.feed(b"pleted\",\"usage\":{\"input_tokens\":10,\"output_tokens\":2}}\n", 2_000);
/// assert_eq!(t.status().state, TrackState::Done);
/// assert_eq!(t.status().tokens.output, 2);
/// ```
#[derive(Debug, Clone)]
pub struct Tracker {
    format: Format,
    model_hint: Option<String>,
    lines: LineBuffer,
    parser: Parser,
    ctx: Ctx,
    skipped: u64,
}

impl Tracker {
    /// A tracker for a file in `format`, with the default line limit
    /// ([`LineBuffer::DEFAULT_MAX_LINE`]).
    pub fn new(format: Format) -> Self {
        Tracker {
            format,
            model_hint: None,
            lines: LineBuffer::default(),
            parser: Parser::new(format),
            ctx: Ctx::new(format, None),
            skipped: 0,
        }
    }

    /// Names the model the agent was started with (e.g. from its `--model` flag), for formats
    /// whose transcript does not (`codex-exec`): it is shown as the model until the transcript
    /// names one, and prices usage of unnamed models. Resets the tracker.
    pub fn with_model(mut self, model: &str) -> Self {
        self.model_hint = Some(model.to_string());
        self.reset();
        self
    }

    /// Changes the longest line kept (longer lines are skipped). Resets the tracker.
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.lines = LineBuffer::new(max_line);
        self.reset();
        self
    }

    /// The model named to the tracker ([`Tracker::with_model`], [`Tracker::name_model`]).
    pub fn model_hint(&self) -> Option<&str> {
        self.model_hint.as_deref()
    }

    /// The format this tracker reads.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Feeds bytes appended to the file, read at `now_ms` (unix milliseconds).
    pub fn feed(&mut self, bytes: &[u8], now_ms: i64) {
        let Tracker {
            lines,
            parser,
            ctx,
            skipped,
            ..
        } = self;
        lines.feed_each_bytes(bytes, |line| {
            if !parser.line(ctx, line, now_ms) {
                *skipped = skipped.saturating_add(1);
            }
        });
        ctx.refresh_totals();
    }

    /// Feeds one complete line (without its newline), for callers that already split lines.
    pub fn feed_line(&mut self, line: &str, now_ms: i64) {
        if !self.parser.line(&mut self.ctx, line.as_bytes(), now_ms) {
            self.skipped = self.skipped.saturating_add(1);
        }
        self.ctx.refresh_totals();
    }

    /// Parses the last line even though it has no newline yet. Call it only once the writer
    /// has exited (a producer may omit the final newline only then); a truncated line is
    /// skipped like any bad line.
    pub fn finish(&mut self, now_ms: i64) {
        if let Some(tail) = self.lines.finish() {
            self.feed_line(&tail, now_ms);
        }
    }

    /// The status so far.
    pub fn status(&self) -> &TrackStatus {
        &self.ctx.status
    }

    /// Forgets everything, for a file that is read again from its start (truncated or
    /// replaced, see [`crate::FileCursor::observe`]).
    pub fn reset(&mut self) {
        self.lines.reset();
        self.parser = Parser::new(self.format);
        self.ctx = Ctx::new(self.format, self.model_hint.as_deref());
        self.skipped = 0;
    }

    /// The transcript file named by the latest Claude hook payload (`claude-hooks` only): where
    /// the interactive session writes its transcript, including after `/clear`. A raw path, for
    /// opening, never for display.
    pub fn transcript_path(&self) -> Option<&str> {
        self.ctx.transcript_path.as_deref()
    }

    /// The Codex thread of a rollout (`codex-rollout`) or of `codex exec`'s stream, once read.
    pub fn thread_id(&self) -> Option<&str> {
        match &self.parser {
            Parser::CodexRollout(s) => s.thread.as_deref(),
            Parser::CodexExec(s) => Some(s.thread.as_str()).filter(|t| !t.is_empty()),
            _ => None,
        }
    }

    /// Names the model, found after reading began (`codex exec`'s, in its thread's rollout),
    /// without reading again: like [`Tracker::with_model`], it prices usage of unnamed models
    /// and is shown until the transcript names one.
    pub fn name_model(&mut self, model: &str) {
        self.model_hint = Some(model.to_string());
        self.ctx.ledger.set_fallback_model(model);
        if self.ctx.status.model.is_none() {
            self.ctx.set_model(model);
        }
        self.ctx.refresh_totals();
    }

    /// Names the track's own Codex thread (`claude-hooks` only; the [`Tracker::thread_id`] of
    /// its rollout): Codex's `notify` turn ends of other threads (the title's) are not the
    /// track's. Turn ends held until now count if of this thread.
    pub fn set_own_thread(&mut self, thread: &str) {
        if let Parser::ClaudeHooks(s) = &mut self.parser {
            crate::parse::set_own_thread(s, &mut self.ctx, thread);
        }
    }

    /// Saves the state, `consumed` being the bytes of the file fed so far, so that reading can
    /// go on later, in another process, from [`Checkpoint::offset`] ([`Tracker::resume`]).
    /// The bytes of an unfinished last line are not saved: the checkpoint's offset is before
    /// them, and the resumed tracker reads them again from the file.
    pub fn checkpoint(&self, consumed: u64) -> Checkpoint {
        let pending = self.pending_len() as u64;
        Checkpoint {
            offset: consumed.saturating_sub(pending),
            format: self.format,
            model_hint: self.model_hint.clone(),
            max_line: self.lines.max_line(),
            skipping: self.lines.is_skipping(),
            dropped: self.lines.dropped_lines(),
            skipped: self.skipped,
            parser: self.parser.clone(),
            ctx: self.ctx.clone(),
        }
    }

    /// Bytes fed that wait for their newline: a [`Tracker::checkpoint`] leaves them out.
    pub fn pending_len(&self) -> usize {
        self.lines.pending_len()
    }

    /// The tracker a checkpoint saved, to be fed the file from [`Checkpoint::offset`] on: its
    /// status is then the same as if it had read the whole file.
    pub fn resume(c: Checkpoint) -> Tracker {
        Tracker {
            format: c.format,
            model_hint: c.model_hint,
            lines: LineBuffer::resumed(c.max_line, c.skipping, c.dropped),
            parser: c.parser,
            ctx: c.ctx,
            skipped: c.skipped,
        }
    }

    /// Lines skipped as not records of the format (not JSON, torn, or over the line limit).
    /// Records of unknown types are not counted: skipping them is normal.
    pub fn skipped_lines(&self) -> u64 {
        self.skipped.saturating_add(self.lines.dropped_lines())
    }
}

/// A [`Tracker`] saved at a line boundary ([`Tracker::checkpoint`]), for `pk status` and a
/// restarted watcher to read only what the file gained since, however big it is.
///
/// Its size does not grow with the file's: a few kilobytes, up to about 30 KB for a Claude
/// session with hundreds of responses ([`crate::ledger`] remembers the last 512).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Bytes of the file the saved state covers: reading goes on from here.
    pub offset: u64,
    format: Format,
    model_hint: Option<String>,
    max_line: usize,
    /// Inside a line over the limit, whose rest is skipped up to its newline.
    skipping: bool,
    dropped: u64,
    skipped: u64,
    parser: Parser,
    ctx: Ctx,
}

impl Checkpoint {
    /// Version of what a checkpoint holds. Saved checkpoints of another version must not be
    /// resumed: bump it whenever the saved state changes shape or meaning (the test
    /// `checkpoint_shape_is_versioned` fails then, as a reminder).
    pub const VERSION: u32 = 2;

    /// The format of the file read.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The model the tracker was started with ([`Tracker::with_model`]).
    pub fn model_hint(&self) -> Option<&str> {
        self.model_hint.as_deref()
    }

    /// The status at the checkpoint.
    pub fn status(&self) -> &TrackStatus {
        &self.ctx.status
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::TrackState;

    #[test]
    fn a_model_named_later_prices_what_was_counted() {
        let mut t = Tracker::new(Format::CodexExec);
        t.feed(
            b"{\"type\":\"thread.started\",\"thread_id\":\"th\"}\n{\"type\":\"turn.completed\",\"usage\":{\"output_tokens\":1000000}}\n",
            0,
        );
        assert_eq!(t.thread_id(), Some("th"));
        assert!(t.status().unpriced);
        t.name_model("gpt-5-mini");
        assert_eq!(t.status().cost_usd, 2.0);
        assert!(!t.status().unpriced);
        assert_eq!(t.status().model.as_deref(), Some("gpt-5-mini"));
        assert_eq!(t.checkpoint(0).model_hint(), Some("gpt-5-mini"));
    }

    #[test]
    fn reset_starts_over_but_keeps_the_hint() {
        let mut t = Tracker::new(Format::CodexExec).with_model("gpt-5-mini");
        t.feed(
            b"{\"type\":\"turn.completed\",\"usage\":{\"output_tokens\":1000000}}\n",
            0,
        );
        assert_eq!(t.status().cost_usd, 2.0);
        t.feed(b"{\"type\":\"turn.sta", 0);
        t.reset();
        assert_eq!(t.status().state, TrackState::Starting);
        assert_eq!(t.status().model.as_deref(), Some("gpt-5-mini"));
        t.feed(b"rted\"}\n", 0);
        assert_eq!(t.status().state, TrackState::Starting);
        assert_eq!(t.skipped_lines(), 1);
    }

    #[test]
    fn finish_parses_a_complete_tail() {
        let mut t = Tracker::new(Format::GeminiStream);
        t.feed(b"{\"type\":\"result\",\"status\":\"success\"}", 0);
        assert_eq!(t.status().state, TrackState::Starting);
        t.finish(0);
        assert_eq!(t.status().state, TrackState::Done);
    }

    #[test]
    fn non_json_lines_are_skipped_and_counted() {
        let mut t = Tracker::new(Format::ClaudeStream);
        t.feed(b"[SandboxDebug] hello\n\n\0\0\0\n[1,2]\n{\"type\":\n", 5);
        assert_eq!(t.skipped_lines(), 3);
        assert_eq!(t.status().last_activity, None);
        // NUL padding before a record does not lose the record.
        t.feed(b"\0\0{\"type\":\"system\",\"subtype\":\"init\"}\n", 5);
        assert_eq!(t.status().state, TrackState::Working);
    }

    #[test]
    fn lines_format_is_activity_only() {
        let mut t = Tracker::new(Format::Lines);
        t.feed(b"compiling...\n", 42);
        assert_eq!(t.status().state, TrackState::Working);
        assert_eq!(t.status().last_activity, Some(crate::Timestamp(42)));
        assert_eq!(t.status().tokens.total(), 0);
    }

    #[test]
    fn checkpoint_shape_is_versioned() {
        let mut t = Tracker::new(Format::ClaudeStream);
        t.feed(
            br#"{"type":"assistant","message":{"id":"m","model":"claude-sonnet-4-5","content":[{"type":"tool_use","id":"t","name":"Bash","input":{"command":"ls"}}],"usage":{"input_tokens":3,"output_tokens":5}}}
{"type":"user","mess"#,
            1_772_442_845_000,
        );
        let saved = serde_json::to_string(&t.checkpoint(200)).unwrap();
        // When this changes, bump Checkpoint::VERSION, then update the text here.
        assert_eq!(Checkpoint::VERSION, 2);
        // The 20 bytes of the torn line are not saved: the offset is before them.
        let expected = concat!(
            r#"{"offset":180,"format":"claude-stream","model_hint":null,"max_line":4194304,"skipping":false,"dropped":0,"skipped":0,"parser":{"ClaudeStream":{"claude":{"responses":1,"reported_turns":0},"open":{},"session_id":null}},"ctx":{"status":{"state":"working","state_at":"2026-03-02T09:14:05.000Z","last_activity":"2026-03-0"#,
            r#"2T09:14:05.000Z","last_tool":"Bash ls","turns":1,"tokens":{"input":3,"output":5,"cache_read":0,"cache_write":0},"cost_usd":0.000084,"cost_is_reported":false,"last_error":null,"model":"claude-sonnet-4-5","exit_code":null},"ledger":{"fallback_model":"claude-sonnet-4-5","carried":{"tokens":{"input":0,"output":0,"cache_"#,
            r#"read":0,"cache_write":0},"cost":0.0},"carried_priced":false,"reported":null,"live":{"claude-sonnet-4-5":{"tokens":{"input":3,"output":5,"cache_read":0,"cache_write":0},"write_1h":0}},"seen":[[12638191598602154840,"claude-sonnet-4-5",[3,5,0,0,0],false,0]],"epoch":0,"cumulative":{}},"cwd":null,"transcript_path":null}}"#,
        );
        assert_eq!(saved, expected);
    }
}
