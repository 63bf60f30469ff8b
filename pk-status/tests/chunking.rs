//! Property-style tests: how the bytes arrive never changes the result, and no input panics.
//!
//! A small deterministic generator (xorshift) stands in for a property-testing crate: the
//! same seeds run every time, so a failure reproduces.

use pk_status::{Checkpoint, Format, LineBuffer, TrackStatus, Tracker};

const NOW: i64 = 1_800_000_000_000;

const FIXTURES: &[(Format, &[u8])] = &[
    (
        Format::ClaudeStream,
        include_bytes!("fixtures/claude-stream-success.ndjson"),
    ),
    (
        Format::ClaudeStream,
        include_bytes!("fixtures/claude-stream-error-max-turns.ndjson"),
    ),
    (
        Format::ClaudeStream,
        include_bytes!("fixtures/claude-stream-waiting-permission.ndjson"),
    ),
    (
        Format::ClaudeStream,
        include_bytes!("fixtures/claude-stream-waiting-permission-stdin.ndjson"),
    ),
    (
        Format::ClaudeSession,
        include_bytes!("fixtures/claude-session-basic.jsonl"),
    ),
    (
        Format::ClaudeSession,
        include_bytes!("fixtures/claude-session-partial-tail.jsonl"),
    ),
    (
        Format::ClaudeHooks,
        include_bytes!("fixtures/claude-hooks-permission.jsonl"),
    ),
    (
        Format::CodexExec,
        include_bytes!("fixtures/codex-exec-success.jsonl"),
    ),
    (
        Format::CodexExec,
        include_bytes!("fixtures/codex-exec-failed.jsonl"),
    ),
    (
        Format::CodexRollout,
        include_bytes!("fixtures/codex-rollout-sample.jsonl"),
    ),
    (
        Format::GeminiStream,
        include_bytes!("fixtures/gemini-stream-sample.jsonl"),
    ),
    (
        Format::GeminiChat,
        include_bytes!("fixtures/gemini-chat-session.jsonl"),
    ),
];

/// xorshift64*: deterministic, good enough to pick offsets and bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// What must not depend on chunking: the status and the count of skipped lines.
fn run(format: Format, chunks: &[&[u8]]) -> (TrackStatus, u64) {
    let mut t = Tracker::new(format);
    for c in chunks {
        t.feed(c, NOW);
    }
    check_clean(t.status());
    (t.status().clone(), t.skipped_lines())
}

fn split_at<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for &c in cuts {
        out.push(&bytes[start..c]);
        start = c;
    }
    out.push(&bytes[start..]);
    out
}

fn random_cuts(rng: &mut Rng, len: usize, n: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = (0..n).map(|_| rng.below(len + 1)).collect();
    cuts.sort_unstable();
    cuts
}

/// Text handed out is printable and the figures are sane, whatever came in.
fn check_clean(s: &TrackStatus) {
    for text in [&s.last_tool, &s.last_error, &s.model]
        .into_iter()
        .flatten()
    {
        assert!(
            !text.chars().any(|c| c.is_control()
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)),
            "unclean text {text:?}"
        );
    }
    assert!(
        s.cost_usd.is_finite() && s.cost_usd >= 0.0,
        "{}",
        s.cost_usd
    );
}

/// The lines a [`LineBuffer`] hands out for `chunks`, plus its torn tail.
fn lines_of(chunks: &[&[u8]]) -> (Vec<String>, Option<String>, u64) {
    let mut b = LineBuffer::default();
    let mut lines = Vec::new();
    for c in chunks {
        lines.extend(b.feed(c));
    }
    let dropped = b.dropped_lines();
    (lines, b.finish(), dropped)
}

/// The parser only ever sees the lines, so identical lines for every split point means an
/// identical status for every split point. Splitting the lines at every offset is cheap;
/// running the whole tracker at every offset is done around every newline, where the torn-line
/// handling matters, and at random offsets below.
#[test]
fn every_split_point_gives_the_same_lines() {
    for &(format, bytes) in FIXTURES {
        let whole = lines_of(&[bytes]);
        for i in 0..=bytes.len() {
            assert_eq!(
                lines_of(&split_at(bytes, &[i])),
                whole,
                "{format} split at {i}"
            );
        }
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(lines_of(&bytewise), whole, "{format} byte by byte");
    }
}

#[test]
fn every_split_around_a_newline_gives_the_same_status() {
    for &(format, bytes) in FIXTURES {
        let whole = run(format, &[bytes]);
        let newlines = bytes.iter().enumerate().filter(|(_, b)| **b == b'\n');
        let mut offsets: Vec<usize> = newlines
            .flat_map(|(i, _)| i.saturating_sub(2)..i + 3)
            .collect();
        offsets.extend([0, 1, bytes.len()]);
        offsets.retain(|&i| i <= bytes.len());
        for i in offsets {
            assert_eq!(
                run(format, &split_at(bytes, &[i])),
                whole,
                "{format} split at {i}"
            );
        }
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(run(format, &bytewise), whole, "{format} byte by byte");
    }
}

#[test]
fn random_chunkings_give_the_same_status() {
    let mut rng = Rng(0x5eed_0001);
    for &(format, bytes) in FIXTURES {
        let whole = run(format, &[bytes]);
        for _ in 0..100 {
            let n = 1 + rng.below(20);
            let cuts = random_cuts(&mut rng, bytes.len(), n);
            assert_eq!(
                run(format, &split_at(bytes, &cuts)),
                whole,
                "{format} cuts {cuts:?}"
            );
        }
    }
}

#[test]
fn every_fixture_in_every_format_is_harmless() {
    let mut rng = Rng(0x5eed_0002);
    for &(_, bytes) in FIXTURES {
        for format in Format::ALL {
            let whole = run(format, &[bytes]);
            let cuts = random_cuts(&mut rng, bytes.len(), 8);
            assert_eq!(run(format, &split_at(bytes, &cuts)), whole, "{format}");
        }
    }
}

/// Random documents made of fixture lines, mangled fixture lines and raw junk: invalid UTF-8,
/// NUL runs, CRLF, escape sequences, numbers where strings belong.
fn garbage(rng: &mut Rng) -> Vec<u8> {
    const JUNK: &[&[u8]] = &[
        b"\0\0\0\0\0\0\0\0",
        b"\xff\xfe\xc3\x28\xe2\x82",
        b"\r\n",
        b"\n",
        b"{",
        b"}",
        b"\"",
        b"\x1b]0;pwned\x07",
        b"\\u001b[31m",
        b"\\ud83c",
        b"\xe2\x80\xae",
        b"{\"type\":\"result\",\"total_cost_usd\":1e308,\"num_turns\":-1}\n",
        b"{\"type\":\"assistant\",\"message\":{\"id\":7,\"usage\":{\"output_tokens\":1.5e30}}}\n",
        b"{\"type\":\"event_msg\",\"payload\":{\"type\":\"token_count\",\"info\":{\"total_token_usage\":{\"input_tokens\":1,\"cached_input_tokens\":99}}}}\n",
        b"{\"type\":\"control_request\",\"request\":null}\n",
        b"{\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"\\u001b]0;x\\u0007Bash\\u202e\",\"tool_input\":{\"command\":[1,{}]}}\n",
        b"{\"timestamp\":\"9999-99-99T99:99:99Z\",\"type\":\"user\"}\n",
        b"{\"timestamp\":-1e300,\"type\":\"init\"}\n",
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n",
    ];
    let lines: Vec<&[u8]> = FIXTURES
        .iter()
        .flat_map(|(_, b)| b.split(|&c| c == b'\n'))
        .collect();
    let mut out = Vec::new();
    for _ in 0..(5 + rng.below(40)) {
        match rng.below(4) {
            0 => {
                out.extend_from_slice(lines[rng.below(lines.len())]);
                out.push(b'\n');
            }
            1 => {
                // A fixture line with a few bytes replaced or cut short.
                let mut l = lines[rng.below(lines.len())].to_vec();
                for _ in 0..rng.below(4) {
                    if !l.is_empty() {
                        let i = rng.below(l.len());
                        l[i] = rng.next() as u8;
                    }
                }
                l.truncate(rng.below(l.len() + 1) + l.len() / 2);
                out.extend_from_slice(&l);
                if rng.below(2) == 0 {
                    out.push(b'\n');
                }
            }
            2 => out.extend_from_slice(JUNK[rng.below(JUNK.len())]),
            _ => {
                for _ in 0..rng.below(64) {
                    out.push(rng.next() as u8);
                }
            }
        }
    }
    out
}

#[test]
fn garbage_never_panics_and_chunking_does_not_matter() {
    let mut rng = Rng(0x5eed_0003);
    for round in 0..150 {
        let doc = garbage(&mut rng);
        let format = Format::ALL[round % Format::ALL.len()];
        let whole = run(format, &[&doc]);
        for _ in 0..10 {
            let n = 1 + rng.below(30);
            let cuts = random_cuts(&mut rng, doc.len(), n);
            assert_eq!(
                run(format, &split_at(&doc, &cuts)),
                whole,
                "{format} round {round}"
            );
        }
        let mut t = Tracker::new(format);
        t.feed(&doc, NOW);
        t.finish(NOW);
        check_clean(t.status());
    }
}

#[test]
fn lines_of_several_megabytes() {
    let (format, fixture) = FIXTURES[0];
    let expected = run(format, &[fixture]).0;
    // A 5 MiB line (over the 4 MiB limit) of a real record type is dropped, never stored
    // whole, whatever the chunking; what follows parses normally.
    let mut huge = b"{\"type\":\"user\",\"message\":{\"content\":\"".to_vec();
    huge.resize(5 << 20, b'x');
    huge.extend_from_slice(b"\"}}\n");
    let doc = [huge.as_slice(), fixture].concat();
    for chunk in [doc.len(), 1 << 20, 65_536, 4096] {
        let chunks: Vec<&[u8]> = doc.chunks(chunk).collect();
        let (status, skipped) = run(format, &chunks);
        assert_eq!(status, expected, "chunk {chunk}");
        assert_eq!(skipped, 1);
    }

    // A 3 MiB line under the limit is parsed: a big Write still counts its usage.
    let mut big = br#"{"type":"assistant","message":{"id":"msg_big","model":"claude-sonnet-4-5","content":[{"type":"tool_use","name":"Write","input":{"file_path":"/w/big.txt","content":""#.to_vec();
    big.resize(3 << 20, b'a');
    big.extend_from_slice(br#""}}],"usage":{"input_tokens":1,"output_tokens":2}}}"#);
    big.push(b'\n');
    let whole = run(Format::ClaudeStream, &[&big]);
    assert_eq!(whole.0.tokens.output, 2);
    assert_eq!(whole.0.last_tool.as_deref(), Some("Write /w/big.txt"));
    let chunks: Vec<&[u8]> = big.chunks(100_000).collect();
    assert_eq!(run(Format::ClaudeStream, &chunks), whole);
}

#[test]
fn invalid_utf8_inside_records_is_tolerated() {
    let doc = b"{\"type\":\"system\",\"subtype\":\"init\",\"model\":\"claude-\xffsonnet\"}\n\0\0\0\0\n{\"type\":\"assistant\",\"message\":{\"id\":\"m\",\"content\":[{\"type\":\"tool_use\",\"name\":\"Bash\",\"input\":{\"command\":\"echo \xe2\x82\"}}]}}\n";
    let (s, skipped) = run(Format::ClaudeStream, &[doc]);
    assert_eq!(s.model.as_deref(), Some("claude-\u{fffd}sonnet"));
    assert_eq!(s.last_tool.as_deref(), Some("Bash echo \u{fffd}"));
    assert_eq!(skipped, 0);
}

/// Reads `doc` up to `cut`, saves a checkpoint through its JSON, resumes from it and reads the
/// rest from the checkpoint's offset: what a restarted watcher or `pk status` does.
fn run_resumed(format: Format, doc: &[u8], cut: usize, max_line: usize) -> (TrackStatus, u64) {
    let mut first = Tracker::new(format).with_max_line(max_line);
    first.feed(&doc[..cut], NOW);
    let saved = first.checkpoint(cut as u64);
    assert!(
        saved.offset <= cut as u64,
        "{format}: offset past what was read"
    );
    let text = serde_json::to_string(&saved).expect("a checkpoint encodes");
    let back: Checkpoint = serde_json::from_str(&text).expect("a checkpoint decodes");
    assert_eq!(back, saved, "{format} cut at {cut}: {text}");
    let mut t = Tracker::resume(back);
    t.feed(&doc[saved.offset as usize..], NOW);
    (t.status().clone(), t.skipped_lines())
}

fn run_with_max_line(format: Format, doc: &[u8], max_line: usize) -> (TrackStatus, u64) {
    let mut t = Tracker::new(format).with_max_line(max_line);
    t.feed(doc, NOW);
    (t.status().clone(), t.skipped_lines())
}

#[test]
fn resuming_from_a_checkpoint_anywhere_gives_the_same_status() {
    for &(format, bytes) in FIXTURES {
        // 300 bytes: some fixture lines are longer, so the checkpoint is taken inside a
        // skipped line too.
        for max_line in [LineBuffer::DEFAULT_MAX_LINE, 300] {
            let whole = run_with_max_line(format, bytes, max_line);
            // Around every newline, where the torn-line handling matters, and every 97th byte.
            let mut cuts: Vec<usize> = (0..=bytes.len()).step_by(97).collect();
            for (i, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'\n') {
                cuts.extend(i.saturating_sub(1)..(i + 2).min(bytes.len() + 1));
            }
            for cut in cuts {
                assert_eq!(
                    run_resumed(format, bytes, cut, max_line),
                    whole,
                    "{format} max {max_line} cut at {cut}"
                );
            }
        }
    }
}

#[test]
fn resuming_garbage_from_a_checkpoint_gives_the_same_status() {
    let mut rng = Rng(0x5eed_0004);
    for round in 0..150 {
        let doc = garbage(&mut rng);
        let format = Format::ALL[round % Format::ALL.len()];
        let max_line = [LineBuffer::DEFAULT_MAX_LINE, 40][round % 2];
        let whole = run_with_max_line(format, &doc, max_line);
        for _ in 0..10 {
            let cut = rng.below(doc.len() + 1);
            assert_eq!(
                run_resumed(format, &doc, cut, max_line),
                whole,
                "{format} round {round} cut {cut}"
            );
        }
    }
}

#[test]
fn a_checkpoint_stays_small_however_long_the_session() {
    let mut t = Tracker::new(Format::ClaudeSession);
    let mut size_at = Vec::new();
    for n in [1_000, 10_000] {
        while t.status().turns < n {
            let i = t.status().turns;
            let line = format!(
                "{{\"type\":\"assistant\",\"requestId\":\"req_{i:024}\",\"message\":{{\"id\":\"msg_{i:024}\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"usage\":{{\"input_tokens\":3,\"output_tokens\":{i}}}}}}}\n"
            );
            t.feed(line.as_bytes(), NOW);
        }
        size_at.push(serde_json::to_vec(&t.checkpoint(0)).unwrap().len());
    }
    assert!(size_at[1] < 40_000, "{size_at:?}");
    // Ten times the responses, not more than the digits of bigger counts.
    assert!(size_at[1] < size_at[0] + size_at[0] / 10, "{size_at:?}");
}

#[test]
fn far_times_survive_a_checkpoint() {
    for t in ["9e14", "-9e14", "-62135596800001", "253402300800000"] {
        let doc = format!("{{\"type\":\"system\",\"subtype\":\"init\",\"timestamp\":{t}}}\n");
        let whole = run_with_max_line(Format::ClaudeStream, doc.as_bytes(), 1 << 20);
        assert!(whole.0.last_activity.is_some(), "{t}");
        assert_eq!(
            run_resumed(Format::ClaudeStream, doc.as_bytes(), doc.len(), 1 << 20),
            whole,
            "{t}"
        );
    }
}
