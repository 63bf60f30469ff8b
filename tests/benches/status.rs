//! Live status, speed and memory (issue 3): the first scan of big Claude session files against
//! `wc -l`, the cost of an append, the watcher's memory with many tracks, the time from a
//! transcript write to the tmux status line, and `pk status` without a watcher (resumed from
//! the checkpoints against reading every transcript whole).
//!
//! Run with `cargo bench -p pk-tests --bench status`. Env: `PK_BENCH_MB` (total size of the
//! generated session files, default 512), `PK_BENCH_TRACKS` (default 16), `PK_BENCH_TRACK_MB`
//! (transcript size per track for the watcher, default 4), `PK_BENCH_APPENDS` (default 50),
//! `PK_BENCH_WRITES` (latency samples, default 40), `PK_BENCH_ROUNDS` (scan rounds, default 3),
//! `PK_BENCH_STATUSES` (runs of `pk status` without a watcher, each way, default 10),
//! `PK_BENCH_VIEW_MB` (the transcripts of the user's view, over `PK_BENCH_TRACKS`, default 512).
//! `PK_BENCH_QUICK=1` sets small defaults (32 MB, 4 tracks of 1 MB, 20 appends, 15 writes, 1
//! round, 5 runs, 32 MB for the view) for CI: it runs in well under a minute.
//!
//! Method. Everything is generated in a temporary folder (`TMPDIR`). Figures are printed,
//! never asserted: the exit code is non-zero only when something fails (a command, or a
//! check that the work was really done).
//!
//! 1. **First scan.** Eight `claude-session` files totalling `PK_BENCH_MB`, of unequal sizes,
//!    made like real interactive Claude Code transcripts (see [`Gen`]): prompts; assistant
//!    responses written as several lines per message (thinking with signature, text, tool
//!    calls) repeating the usage; tool results whose text is there twice (`content` and
//!    `toolUseResult`) — file reads numbered with `→`, command output, edits with the original
//!    file, writes with their content; hook attachments, turn summaries, file-history
//!    snapshots; and now and then a line of 1–3 MB (a big file read, a pasted image). There is
//!    a `"` every 55 bytes or so (this repository's sources have one every 50–200). The files
//!    are read once untimed (page cache warm for both), then per round `wc -l` on the 8 files
//!    (one process), pk's scan and pk's scan on one thread are timed, one after the other. The
//!    scan is what the watcher does with transcripts it has not read yet: `live::Follower::poll`
//!    from offset 0 (stat, read in chunks, `pk_status::Tracker`), the files spread over
//!    threads by `live::each_in_parallel` as `live::refresh_all` does (up to 4, as many as
//!    there are cores); on one thread, one file after another, like `wc`. Medians of the
//!    rounds; the ratio is pk's throughput over `wc -l`'s. The CPU times of `wc -l` (its
//!    shell's waited children) and of pk's scan on one thread are printed too (from
//!    `/proc/.../stat`, 10 ms ticks): on a loaded machine they say what each did, where the
//!    times also say how long each waited for a core.
//! 2. **Append.** The 8 files concatenated into one (`PK_BENCH_MB`, 512 MB by default) and a
//!    small session file (one turn, a few hundred KB) are each scanned once, then `PK_BENCH_APPENDS` times a
//!    1 KB assistant line is appended and `Follower::poll` + `status()` timed (the write is
//!    not). Median and 95th percentile per file, and big over small.
//! 3. **Watcher memory.** A hermetic world like the end-to-end tests' (a private tmux socket
//!    with `-L`/`--socket`, `TMUX` unset by clearing the environment, `HOME`, `XDG_STATE_HOME`,
//!    `TMUX_TMPDIR` and `GIT_CONFIG_GLOBAL` in the temporary folder, `GIT_CONFIG_NOSYSTEM=1`):
//!    a one-commit repository whose plan has `PK_BENCH_TRACKS` tracks running `sleep 600`,
//!    each with a `claude-session` transcript of `PK_BENCH_TRACK_MB` written beforehand.
//!    `pk up --detach --yes` starts the real `pk watch`; once its status.json shows every
//!    transcript read to the end (and one more tick), `VmRSS` and `VmHWM` are read from
//!    `/proc/<pid>/status` of the watcher.
//! 4. **Write to bar.** In the same session, `PK_BENCH_WRITES` times: a line that changes a
//!    track's state (a prompt: working; a response ending the turn: done) is appended to one
//!    track's transcript (tracks in turn), and the session's `status-right` is polled with
//!    `tmux show-options` until it changes. The time runs from just before the write to the
//!    return of the poll that saw the change (so it includes up to one poll, a tmux process
//!    of a few ms). Writes are 100–300 ms apart. Median and 95th percentile.
//! 5. **`pk status` without a watcher.** In the same session, the pk-watch window is killed and
//!    `pk -v status --json` run until it reads the files itself (it says so on stderr). Then
//!    `PK_BENCH_STATUSES` rounds, each (a) a 1 KB assistant line appended to one track's
//!    transcript (tracks in turn) and `pk status --json` timed: it resumes every track from its
//!    checkpoint and reads the 1 KB; (b) every checkpoint removed and `pk status --json` timed:
//!    it reads every transcript whole (and writes the checkpoints again, for the next (a)). The
//!    two alternate so that both see the same load. Both are the whole command (a process,
//!    tmux asked for the panes, `git status` in each worktree), as a user sees it. Once before
//!    the rounds, each way is run with `-v` and what it says it read is checked: the appended
//!    bytes only, from the transcript's former end; every transcript from byte 0. Median and
//!    95th percentile of each, and (a) over (b).
//! 6. **The user's view.** A new world whose `PK_BENCH_TRACKS` tracks' transcripts total
//!    `PK_BENCH_VIEW_MB`; each track's exact totals are computed in process first (untimed).
//!    `wc -l` on the transcripts (page cache warm; median of at least 3). Then `pk up --detach
//!    --yes`, and from its return `pk status --json` run again and again until every track shows
//!    its exact tokens: that time, as a user lives it, over `wc -l`'s.
//! 7. **ccusage beside pk.** On the same files (hard links where ccusage looks, under
//!    `CLAUDE_CONFIG_DIR/projects/`), with the watcher stopped: `pk status --json` with no
//!    checkpoint (every transcript read whole, as a first scan) against `ccusage session --json
//!    --offline` (18.0.11, the tool users run today for Claude Code's costs; installed by
//!    `scripts/agents.sh`), per round; medians, and each one's peak `VmHWM` (sampled every 2 ms).

use pk_cli::live::Follower;
use pk_status::{Format, Timestamp, TrackState};
use pk_tests::bench::percentile;
use pk_tests::{hermetic_env, pk_bin, run, run_with_stderr, tmux_available, write_git_config};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Settings, from the environment.
struct Config {
    total_mb: usize,
    tracks: usize,
    track_mb: usize,
    appends: usize,
    writes: usize,
    rounds: usize,
    statuses: usize,
    view_mb: usize,
}

impl Config {
    fn from_env() -> Config {
        let quick = std::env::var_os("PK_BENCH_QUICK").is_some_and(|v| v != "0" && !v.is_empty());
        let get = |name: &str, full: usize, fast: usize| -> usize {
            match std::env::var(name) {
                Ok(v) => v
                    .trim()
                    .replace('_', "")
                    .parse()
                    .unwrap_or_else(|e| panic!("{name}={v}: {e}")),
                Err(_) if quick => fast,
                Err(_) => full,
            }
        };
        Config {
            total_mb: get("PK_BENCH_MB", 512, 32).max(1),
            tracks: get("PK_BENCH_TRACKS", 16, 4).max(1),
            track_mb: get("PK_BENCH_TRACK_MB", 4, 1),
            appends: get("PK_BENCH_APPENDS", 50, 20).max(1),
            writes: get("PK_BENCH_WRITES", 40, 15).max(1),
            rounds: get("PK_BENCH_ROUNDS", 3, 1).max(1),
            statuses: get("PK_BENCH_STATUSES", 10, 5).max(1),
            view_mb: get("PK_BENCH_VIEW_MB", 512, 32).max(1),
        }
    }
}

const MB: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Generating Claude session files.

/// xorshift64: fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    /// True with probability `percent` / 100.
    fn percent(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.next() as usize % items.len()]
    }

    fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            write!(s, "{:016x}", self.next()).unwrap();
        }
        s.truncate(n);
        s
    }

    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    fn base62(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| A[self.next() as usize % A.len()] as char)
            .collect()
    }
}

/// Appends `s` to `out` as the inside of a JSON string.
fn esc(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).unwrap(),
            c => out.push(c),
        }
    }
}

const WORDS: &[&str] = &[
    "the",
    "invoice",
    "total",
    "rounds",
    "cents",
    "before",
    "the",
    "cast",
    "so",
    "that",
    "test",
    "passes",
    "now",
    "let",
    "me",
    "check",
    "whether",
    "handler",
    "returns",
    "an",
    "error",
    "when",
    "the",
    "request",
    "is",
    "missing",
    "its",
    "token",
    "I",
    "will",
    "run",
    "cargo",
    "test",
    "and",
    "look",
    "at",
    "failing",
    "assertion",
    "first",
    "rate",
    "limit",
    "middleware",
    "should",
    "keep",
    "a",
    "window",
    "per",
    "client",
    "which",
    "means",
    "storing",
    "timestamps",
    "in",
    "map",
    "keyed",
    "by",
    "address",
    "then",
    "pruning",
    "old",
    "entries",
    "on",
    "each",
    "call",
    "this",
    "function",
    "reads",
    "config",
    "file",
    "parses",
    "it",
    "with",
    "serde",
    "and",
    "validates",
    "ports",
    "are",
    "free",
    "done",
    "fixed",
    "edge",
    "case",
    "für",
    "naïve",
    "→",
    "✓",
];

const TYPES: &[&str] = &[
    "Result<u64, Error>",
    "Vec<String>",
    "Option<&str>",
    "bool",
    "()",
];

/// Text pools and the state of the session being written.
struct Gen {
    rng: Rng,
    /// Lines of source code, JSON-escaped, without their newline.
    code: Vec<String>,
    session: String,
    cwd: String,
    branch: String,
    parent: Option<String>,
    /// The time of the next record (unix ms).
    t: i64,
    msgs: u64,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        let mut rng = Rng(seed | 1);
        let mut code = Vec::new();
        for i in 0..4096 {
            let w = |rng: &mut Rng| rng.pick(WORDS);
            let id = |rng: &mut Rng| format!("{}_{}", rng.pick(WORDS), rng.range(0, 99));
            let raw = match rng.range(0, 15) {
                0 => format!(
                    "pub fn {}(&self, {}: &str) -> {} {{",
                    id(&mut rng),
                    id(&mut rng),
                    rng.pick(TYPES)
                ),
                1 => format!(
                    "        let {} = self.{}.get({}).unwrap_or(&{});",
                    id(&mut rng),
                    id(&mut rng),
                    id(&mut rng),
                    rng.range(0, 9999)
                ),
                2 => format!(
                    "    // {} {} {} {} {} {}",
                    w(&mut rng),
                    w(&mut rng),
                    w(&mut rng),
                    w(&mut rng),
                    w(&mut rng),
                    w(&mut rng)
                ),
                3 => format!(
                    "        assert_eq!({}, \"{} {}\");",
                    id(&mut rng),
                    w(&mut rng),
                    w(&mut rng)
                ),
                4 => "    }".to_string(),
                5 => String::new(),
                6 => format!("        if {} > {} {{", id(&mut rng), rng.range(0, 500)),
                7 => format!(
                    "            return Err(Error::new(\"{} {}\"));",
                    w(&mut rng),
                    w(&mut rng)
                ),
                8 => format!("use crate::{}::{{{}, {}}};", w(&mut rng), id(&mut rng), i),
                9 => format!("        {}.push({}.clone());", id(&mut rng), id(&mut rng)),
                10 => format!(
                    "        let {}: Vec<{}> = {}.iter().map(|x| x.{}()).collect();",
                    id(&mut rng),
                    rng.pick(TYPES),
                    id(&mut rng),
                    id(&mut rng)
                ),
                11 => "        }".to_string(),
                12 => format!(
                    "    /// {} {} {} {} {} {} {}",
                    w(&mut rng),
                    w(&mut rng),
                    w(&mut rng),
                    w(&mut rng),
                    w(&mut rng),
                    w(&mut rng),
                    w(&mut rng)
                ),
                13 => format!("        match {} {{", id(&mut rng)),
                14 => format!(
                    "            Some({}) => {}.{}({}),",
                    id(&mut rng),
                    id(&mut rng),
                    id(&mut rng),
                    rng.range(0, 99)
                ),
                _ => format!(
                    "        tracing::debug!(\"{} {{}}\", {});",
                    w(&mut rng),
                    id(&mut rng)
                ),
            };
            let mut e = String::new();
            esc(&mut e, &raw);
            code.push(e);
        }
        Gen {
            rng,
            code,
            session: String::new(),
            cwd: String::new(),
            branch: String::new(),
            parent: None,
            t: 0,
            msgs: 0,
        }
    }

    /// Starts a new session file.
    fn start(&mut self, n: usize, t: i64) {
        self.session = self.rng.uuid();
        self.cwd = format!("/home/dev/src/shop.pk/track-{n}");
        self.branch = format!("pk/track-{n}");
        self.parent = None;
        self.t = t;
    }

    /// Escaped prose of about `len` bytes.
    fn prose(&mut self, out: &mut String, len: usize) {
        let end = out.len() + len;
        while out.len() < end {
            out.push_str(self.rng.pick(WORDS));
            out.push(if self.rng.percent(8) { '.' } else { ' ' });
        }
    }

    /// Escaped source code, not numbered, of a length drawn between `lo` and `hi` bytes.
    fn some_code(&mut self, lo: usize, hi: usize) -> String {
        let mut text = String::new();
        let n = self.rng.range(lo, hi);
        self.code_text(&mut text, n, false);
        text
    }

    /// Escaped source code of about `len` bytes, `\n`-separated; numbered like Claude's Read
    /// tool output (`     1→…`) when `numbered`.
    fn code_text(&mut self, out: &mut String, len: usize, numbered: bool) {
        let end = out.len() + len;
        let mut i = self.rng.range(0, self.code.len() - 1);
        let mut n = 1;
        while out.len() < end {
            if numbered {
                write!(out, "{n:>6}→").unwrap();
                n += 1;
            }
            out.push_str(&self.code[i]);
            out.push_str("\\n");
            i = (i + 1) % self.code.len();
        }
    }

    fn base64(&mut self, out: &mut String, len: usize) {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        out.reserve(len);
        for _ in 0..len / 8 {
            let x = self.rng.next();
            for k in 0..8 {
                out.push(A[((x >> (k * 6)) & 63) as usize] as char);
            }
        }
    }

    fn stamp(&mut self) -> String {
        self.t += self.rng.range(20, 4000) as i64;
        Timestamp(self.t).to_rfc3339()
    }

    /// The common fields of a conversation record, up to and including the comma after them.
    fn head(&mut self, out: &mut String) {
        match &self.parent {
            Some(p) => write!(out, "{{\"parentUuid\":\"{p}\",").unwrap(),
            None => out.push_str("{\"parentUuid\":null,"),
        }
        write!(
            out,
            "\"isSidechain\":false,\"userType\":\"external\",\"entrypoint\":\"cli\",\"cwd\":\"{}\",\"sessionId\":\"{}\",\"version\":\"2.1.140\",\"gitBranch\":\"{}\",",
            self.cwd, self.session, self.branch
        )
        .unwrap();
    }

    /// `"uuid":…,"timestamp":…` and the end of the line (after `extra`, which may be empty or
    /// start with a comma).
    fn tail(&mut self, out: &mut String, extra: &str) {
        let uuid = self.rng.uuid();
        let ts = self.stamp();
        writeln!(out, ",\"uuid\":\"{uuid}\",\"timestamp\":\"{ts}\"{extra}}}").unwrap();
        self.parent = Some(uuid);
    }

    fn prompt(&mut self, out: &mut String, len: usize) {
        self.head(out);
        out.push_str("\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":\"");
        self.prose(out, len);
        out.push_str("\"}");
        self.tail(out, "");
    }

    fn image_prompt(&mut self, out: &mut String, len: usize) {
        self.head(out);
        out.push_str("\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"");
        self.prose(out, 200);
        out.push_str("\"},{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"");
        self.base64(out, len);
        out.push_str("\"}}]}");
        self.tail(out, "");
    }

    /// One line of an assistant message: `block` is the content block, `last` whether this
    /// line carries the final usage and stop reason.
    fn assistant_line(
        &mut self,
        out: &mut String,
        id: &str,
        block: &str,
        stop: Option<&str>,
        out_tokens: u64,
    ) {
        self.head(out);
        let stop = stop.map_or("null".to_string(), |s| format!("\"{s}\""));
        let cache_write = self.rng.range(0, 8000);
        let cache_read = self.rng.range(10_000, 120_000);
        write!(
            out,
            "\"message\":{{\"model\":\"claude-sonnet-4-5-20250929\",\"id\":\"msg_{id}\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{block}],\"stop_reason\":{stop},\"stop_sequence\":null,\"usage\":{{\"input_tokens\":{},\"cache_creation_input_tokens\":{cache_write},\"cache_read_input_tokens\":{cache_read},\"cache_creation\":{{\"ephemeral_5m_input_tokens\":{cache_write},\"ephemeral_1h_input_tokens\":0}},\"output_tokens\":{out_tokens},\"service_tier\":\"standard\"}}}},\"requestId\":\"req_{id}\",\"type\":\"assistant\"",
            self.rng.range(1, 12)
        )
        .unwrap();
        self.tail(out, "");
    }

    fn message_id(&mut self) -> String {
        self.msgs += 1;
        format!("01{}{:06}", self.rng.base62(16), self.msgs % 1_000_000)
    }

    /// A response: maybe thinking, maybe text, then a tool call (or the end of the turn).
    fn response(&mut self, out: &mut String, tool: Option<(&str, &str)>) {
        let id = self.message_id();
        let out_tokens = self.rng.range(20, 3000) as u64;
        if self.rng.percent(60) {
            let mut b = String::from("{\"type\":\"thinking\",\"thinking\":\"");
            let n = self.rng.range(200, 3000);
            self.prose(&mut b, n);
            b.push_str("\",\"signature\":\"");
            let n = self.rng.range(300, 1500);
            self.base64(&mut b, n);
            b.push_str("\"}");
            self.assistant_line(out, &id, &b, None, 9);
        }
        let end = tool.is_none();
        if end || self.rng.percent(50) {
            let mut b = String::from("{\"type\":\"text\",\"text\":\"");
            let n = self.rng.range(40, if end { 1500 } else { 400 });
            self.prose(&mut b, n);
            b.push_str("\"}");
            let stop = end.then_some("end_turn");
            let tokens = if end { out_tokens } else { 9 };
            self.assistant_line(out, &id, &b, stop, tokens);
        }
        if let Some((name, input)) = tool {
            let b = format!(
                "{{\"type\":\"tool_use\",\"id\":\"toolu_{id}\",\"name\":\"{name}\",\"input\":{input}}}"
            );
            self.assistant_line(out, &id, &b, Some("tool_use"), out_tokens);
        }
    }

    /// A tool result line: `content` is the escaped text the model sees, `result` the
    /// `toolUseResult` JSON value.
    fn tool_result(&mut self, out: &mut String, content: &str, result: &str) {
        let id = format!("toolu_{}", self.rng.base62(24));
        self.head(out);
        write!(
            out,
            "\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":[{{\"tool_use_id\":\"{id}\",\"type\":\"tool_result\",\"content\":\"{content}\",\"is_error\":false}}]}}"
        )
        .unwrap();
        self.tail(out, &format!(",\"toolUseResult\":{result}"));
    }

    fn path(&mut self) -> String {
        format!(
            "{}/src/{}/{}.rs",
            self.cwd,
            self.rng.pick(WORDS),
            self.rng.pick(WORDS)
        )
    }

    /// A tool call and its result.
    fn tool_cycle(&mut self, out: &mut String, huge: bool) {
        let path = self.path();
        match self.rng.range(0, 19) {
            // Read: the numbered file, in the result and again in toolUseResult.
            0..=5 => {
                let len = if huge {
                    self.rng.range(MB / 2, 3 * MB / 2)
                } else {
                    self.rng.range(1000, 40_000)
                };
                let mut text = String::new();
                self.code_text(&mut text, len, true);
                let lines = text.matches("\\n").count();
                let input = format!("{{\"file_path\":\"{path}\"}}");
                self.response(out, Some(("Read", &input)));
                let result = format!(
                    "{{\"type\":\"text\",\"file\":{{\"filePath\":\"{path}\",\"content\":\"{text}\",\"numLines\":{lines},\"startLine\":1,\"totalLines\":{lines}}}}}"
                );
                self.tool_result(out, &text, &result);
            }
            // Bash: command output, twice.
            6..=10 => {
                let mut cmd = String::from("cargo test -p ");
                cmd.push_str(self.rng.pick(WORDS));
                let input = format!(
                    "{{\"command\":\"{cmd}\",\"description\":\"Run the tests\",\"timeout\":120000}}"
                );
                self.response(out, Some(("Bash", &input)));
                let text = self.some_code(100, 8000);
                let result = format!(
                    "{{\"stdout\":\"{text}\",\"stderr\":\"\",\"interrupted\":false,\"isImage\":false}}"
                );
                self.tool_result(out, &text, &result);
            }
            // Edit: small input, the whole original file in the result.
            11..=14 => {
                let old = self.some_code(100, 2000);
                let new = self.some_code(100, 2000);
                let input = format!(
                    "{{\"file_path\":\"{path}\",\"old_string\":\"{old}\",\"new_string\":\"{new}\"}}"
                );
                self.response(out, Some(("Edit", &input)));
                let original = self.some_code(2000, 30_000);
                let content = format!("The file {path} has been updated successfully.");
                let result = format!(
                    "{{\"filePath\":\"{path}\",\"oldString\":\"{old}\",\"newString\":\"{new}\",\"originalFile\":\"{original}\",\"structuredPatch\":[{{\"oldStart\":10,\"oldLines\":3,\"newStart\":10,\"newLines\":4,\"lines\":[\" a\",\"-b\",\"+c\",\"+d\"]}}],\"userModified\":false,\"replaceAll\":false}}"
                );
                self.tool_result(out, &content, &result);
            }
            // Write: the content in the call and in the result.
            15..=16 => {
                let content = self.some_code(1000, 20_000);
                let input = format!("{{\"file_path\":\"{path}\",\"content\":\"{content}\"}}");
                self.response(out, Some(("Write", &input)));
                let result = format!(
                    "{{\"type\":\"create\",\"filePath\":\"{path}\",\"content\":\"{content}\",\"structuredPatch\":[]}}"
                );
                let msg = format!("File created successfully at: {path}");
                self.tool_result(out, &msg, &result);
            }
            // Grep / Glob: lists of matches.
            _ => {
                let pattern = format!("fn {}", self.rng.pick(WORDS));
                let input = format!("{{\"pattern\":\"{pattern}\",\"output_mode\":\"content\"}}");
                self.response(out, Some(("Grep", &input)));
                let text = self.some_code(200, 6000);
                let result = format!(
                    "{{\"mode\":\"content\",\"numFiles\":3,\"filenames\":[],\"content\":\"{text}\",\"numLines\":40}}"
                );
                self.tool_result(out, &text, &result);
            }
        }
        if self.rng.percent(30) {
            self.head(out);
            out.push_str("\"type\":\"attachment\",\"attachment\":{\"type\":\"hook_success\",\"hookName\":\"PostToolUse\",\"hookEvent\":\"PostToolUse\",\"content\":\"\",\"stdout\":\"\",\"stderr\":\"\",\"exitCode\":0,\"command\":\"pk hook claude\",\"durationMs\":38}");
            self.tail(out, "");
        }
    }

    /// One turn: a prompt, tool calls, the final answer and the turn's bookkeeping.
    fn turn(&mut self, out: &mut String) {
        if self.rng.percent(2) {
            let n = self.rng.range(MB / 2, 3 * MB / 2);
            self.image_prompt(out, n);
        } else {
            let n = self.rng.range(60, 2000);
            self.prompt(out, n);
        }
        let snapshot = self.rng.uuid();
        writeln!(
            out,
            "{{\"type\":\"file-history-snapshot\",\"messageId\":\"{snapshot}\",\"snapshot\":{{\"messageId\":\"{snapshot}\",\"trackedFileBackups\":{{\"src/lib.rs\":{{\"backupFileName\":\"{}@v2\",\"version\":2,\"backupTime\":\"{}\"}}}},\"timestamp\":\"{}\"}},\"isSnapshotUpdate\":false}}",
            self.rng.hex(16),
            Timestamp(self.t).to_rfc3339(),
            Timestamp(self.t).to_rfc3339()
        )
        .unwrap();
        let cycles = self.rng.range(3, 15);
        let huge_at = if self.rng.percent(3) {
            self.rng.range(0, cycles - 1)
        } else {
            usize::MAX
        };
        for k in 0..cycles {
            self.tool_cycle(out, k == huge_at);
        }
        self.response(out, None);
        self.head(out);
        out.push_str("\"type\":\"system\",\"subtype\":\"stop_hook_summary\",\"hookCount\":1,\"hookInfos\":[{\"command\":\"pk hook claude\",\"durationMs\":41}],\"hookErrors\":[],\"preventedContinuation\":false,\"stopReason\":\"\",\"hasOutput\":false,\"level\":\"suggestion\"");
        self.tail(out, "");
        self.head(out);
        let ms = self.rng.range(2000, 90_000);
        write!(
            out,
            "\"type\":\"system\",\"subtype\":\"turn_duration\",\"durationMs\":{ms},\"messageCount\":{cycles},\"isMeta\":false"
        )
        .unwrap();
        self.tail(out, "");
    }

    /// Writes a session file of about `size` bytes (whole turns; the last one ends it).
    fn write_file(&mut self, path: &Path, size: usize) -> u64 {
        let file = std::fs::File::create(path).expect("create session file");
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        let mut written = 0;
        let mut out = String::with_capacity(4 << 20);
        out.push_str(&format!(
            "{{\"type\":\"permission-mode\",\"permissionMode\":\"default\",\"sessionId\":\"{}\"}}\n",
            self.session
        ));
        while written < size {
            self.turn(&mut out);
            w.write_all(out.as_bytes()).expect("write session file");
            written += out.len();
            out.clear();
        }
        w.flush().expect("flush session file");
        written as u64
    }

    /// An assistant line of exactly `size` bytes with its newline, dated `now_ms`: a new
    /// response (new message id), so the accounts change.
    fn append_line(&mut self, size: usize, now_ms: i64, stop: Option<&str>) -> String {
        self.t = now_ms;
        let id = self.message_id();
        let mut line = String::new();
        let block = "{\"type\":\"text\",\"text\":\"PAD\"}";
        self.assistant_line(&mut line, &id, block, stop, 77);
        // The stamp moved the time on: put it back to `now_ms`.
        let ts = Timestamp(self.t).to_rfc3339();
        let line = line.replace(&ts, &Timestamp(now_ms).to_rfc3339());
        let pad = size.saturating_sub(line.len() - 3);
        let text: String = "lorem ipsum ".chars().cycle().take(pad).collect();
        line.replacen("PAD", &text, 1)
    }

    /// A prompt line dated `now_ms`.
    fn prompt_line(&mut self, now_ms: i64) -> String {
        let mut line = String::new();
        self.prompt(&mut line, 80);
        let ts = Timestamp(self.t).to_rfc3339();
        line.replace(&ts, &Timestamp(now_ms).to_rfc3339())
    }
}

/// 2026-11-21T08:00:00Z: when the generated sessions start.
fn start_time() -> i64 {
    Timestamp::parse_rfc3339("2026-11-21T08:00:00Z")
        .expect("time")
        .millis()
}

/// Writes 8 session files totalling about `total` bytes, of unequal sizes.
fn make_files(dir: &Path, total: usize) -> Vec<PathBuf> {
    const SHARES: [usize; 8] = [22, 18, 15, 12, 11, 9, 7, 6];
    let mut g = Gen::new(0x5eed_1234_abcd_0001);
    let t0 = start_time();
    SHARES
        .iter()
        .enumerate()
        .map(|(i, share)| {
            let path = dir.join(format!("session-{}.jsonl", i + 1));
            g.start(i + 1, t0);
            g.write_file(&path, total * share / 100);
            path
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Measuring.

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(values: &[f64]) -> f64 {
    percentile(values, 50.0)
}

fn size_of(paths: &[PathBuf]) -> u64 {
    paths
        .iter()
        .map(|p| std::fs::metadata(p).expect("stat").len())
        .sum()
}

/// Runs `wc -l` on the files; returns the time and the total line count.
fn wc_lines(paths: &[PathBuf]) -> (Duration, u64) {
    let start = Instant::now();
    let out = Command::new("wc")
        .arg("-l")
        .args(paths)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .expect("run wc");
    let took = start.elapsed();
    assert!(out.status.success(), "wc -l failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    let lines = last
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("wc output");
    (took, lines)
}

/// CPU time (user and system) of `wc -l` on the files, in ms: the CPU time of a shell's waited
/// children (`/proc/<shell>/stat`, in ticks of 10 ms).
fn wc_cpu_ms(paths: &[PathBuf]) -> f64 {
    let out = Command::new("sh")
        .arg("-c")
        .arg("LC_ALL=C wc -l \"$@\" > /dev/null && cat /proc/$$/stat; true")
        .arg("sh")
        .args(paths)
        .stdin(Stdio::null())
        .output()
        .expect("run sh");
    assert!(out.status.success(), "sh -c 'wc -l' failed");
    // cutime and cstime: the 16th and 17th fields.
    stat_ticks(&String::from_utf8_lossy(&out.stdout), 16) * 10.0
}

/// CPU time (user and system) of this process so far, in ms (all threads).
fn self_cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // utime and stime: the 14th and 15th fields.
    stat_ticks(&stat, 14) * 10.0
}

/// The sum of the `first`th field (counted from 1) of a `/proc/<pid>/stat` line and the next,
/// in clock ticks.
fn stat_ticks(stat: &str, first: usize) -> f64 {
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| -> f64 {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("bad /proc stat line: {stat}"))
    };
    // The command name (2nd field) may hold spaces: count from the 3rd, after it.
    tick(first - 3) + tick(first - 2)
}

/// pk's first scan of the files, as the watcher does it (on several threads when
/// `parallel`, as `live::refresh_all` does); returns the time and the followers.
fn pk_scan(paths: &[PathBuf], parallel: bool) -> (Duration, Vec<Follower>) {
    let now = pk_cli::live::now_ms();
    let start = Instant::now();
    let mut followers: Vec<Follower> = paths
        .iter()
        .map(|p| Follower::new(p.clone(), Format::ClaudeSession))
        .collect();
    if parallel {
        pk_cli::live::each_in_parallel(&mut followers, Follower::backlog, |f| {
            f.poll(now);
        });
    } else {
        for f in &mut followers {
            f.poll(now);
        }
    }
    (start.elapsed(), followers)
}

struct ScanReport {
    bytes: u64,
    lines: u64,
    wc: f64,
    pk: f64,
    pk_one_thread: f64,
    /// CPU times: on a loaded machine, what each did rather than how long it waited.
    wc_cpu: f64,
    pk_one_thread_cpu: f64,
}

fn bench_scan(paths: &[PathBuf], rounds: usize) -> ScanReport {
    let bytes = size_of(paths);
    // Warm the page cache for both (and count the lines).
    let (_, lines) = wc_lines(paths);
    let (mut wc, mut pk, mut one) = (Vec::new(), Vec::new(), Vec::new());
    let (mut wc_cpu, mut one_cpu) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let (t, _) = wc_lines(paths);
        wc.push(ms(t));
        wc_cpu.push(wc_cpu_ms(paths));
        let (t, followers) = pk_scan(paths, true);
        pk.push(ms(t));
        let cpu = self_cpu_ms();
        let (t, single) = pk_scan(paths, false);
        one_cpu.push(self_cpu_ms() - cpu);
        one.push(ms(t));
        if round == 0 {
            for (f, g) in followers.iter().zip(&single) {
                let len = std::fs::metadata(f.path()).expect("stat").len();
                assert_eq!(
                    f.cursor().offset,
                    len,
                    "{} not read to the end",
                    f.path().display()
                );
                assert_eq!(
                    f.tracker().skipped_lines(),
                    0,
                    "{}: lines skipped",
                    f.path().display()
                );
                let s = f.status();
                assert_eq!(s.state, TrackState::Done, "{}", f.path().display());
                assert!(s.cost_usd > 0.0 && s.tokens.output > 0, "{s:?}");
                assert_eq!(s, g.status(), "one thread or several: the same");
            }
        }
        eprintln!(
            "  scan round {}: wc -l {:.0} ms ({:.0} ms CPU), pk {:.0} ms, pk on one thread {:.0} ms ({:.0} ms CPU)",
            round + 1,
            wc[round],
            wc_cpu[round],
            pk[round],
            one[round],
            one_cpu[round]
        );
    }
    ScanReport {
        bytes,
        lines,
        wc: median(&wc),
        pk: median(&pk),
        pk_one_thread: median(&one),
        wc_cpu: median(&wc_cpu),
        pk_one_thread_cpu: median(&one_cpu),
    }
}

struct AppendReport {
    size: u64,
    scan_ms: f64,
    median_ms: f64,
    p95_ms: f64,
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(text.as_bytes()).expect("append");
}

/// Scans `path` once, then times the update after each of `n` appends of 1 KB.
fn bench_append(path: &Path, n: usize, g: &mut Gen) -> AppendReport {
    let size = std::fs::metadata(path).expect("stat").len();
    let mut f = Follower::new(path.to_path_buf(), Format::ClaudeSession);
    let start = Instant::now();
    f.poll(pk_cli::live::now_ms());
    let scan_ms = ms(start.elapsed());
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let now = pk_cli::live::now_ms();
        let line = g.append_line(1024, now, None);
        assert_eq!(line.len(), 1024);
        let before = f.status().tokens.output;
        append(path, &line);
        let start = Instant::now();
        let read = f.poll(now);
        let status = f.status().clone();
        times.push(ms(start.elapsed()));
        assert!(
            read && status.tokens.output == before + 77,
            "append not seen"
        );
    }
    AppendReport {
        size,
        scan_ms,
        median_ms: median(&times),
        p95_ms: percentile(&times, 95.0),
    }
}

// ---------------------------------------------------------------------------------------------
// The watcher in a hermetic world.

/// A temporary repository with its own git config, HOME, state and tmux folders, and a private
/// tmux server.
struct World {
    root: PathBuf,
    repo: PathBuf,
    socket: String,
}

impl World {
    fn new(root: &Path) -> World {
        for sub in ["home", "state", "tmux", "transcripts"] {
            std::fs::create_dir_all(root.join(sub)).expect("mkdir");
        }
        write_git_config(root);
        let repo = root.join("shop");
        std::fs::create_dir_all(&repo).expect("mkdir repo");
        std::fs::write(repo.join("README.md"), "# shop\n").expect("readme");
        let world = World {
            root: root.to_path_buf(),
            repo,
            socket: format!("pk-bench-status-{}", std::process::id()),
        };
        run(world.cmd("git").args(["init", "-q", "-b", "main"]));
        run(world.cmd("git").args(["add", "-A"]));
        run(world.cmd("git").args(["commit", "-q", "-m", "first"]));
        world
    }

    /// A command with the shared hermetic environment, in the repository.
    fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        hermetic_env(&mut cmd, &self.root);
        cmd.current_dir(&self.repo);
        cmd
    }

    fn pk(&self, args: &[&str]) -> String {
        self.pk_with_stderr(args).0
    }

    /// `pk args`: its stdout and its stderr (where `pk -v` says what it read).
    fn pk_with_stderr(&self, args: &[&str]) -> (String, String) {
        run_with_stderr(
            self.cmd(pk_bin())
                .args(["--socket", &self.socket])
                .args(args),
        )
    }

    /// `tmux -f /dev/null -L SOCKET args`.
    fn tmux(&self, args: &[&str]) -> String {
        run(self
            .cmd("tmux")
            .args(["-f", "/dev/null", "-L", &self.socket])
            .args(args))
    }

    fn transcript(&self, track: usize) -> PathBuf {
        self.root.join(format!("transcripts/t{track:02}.jsonl"))
    }

    fn state_dir(&self) -> PathBuf {
        self.repo.join(".git/pk/shop")
    }

    fn status_right(&self) -> String {
        self.tmux(&["show-options", "-v", "-t", "=shop:", "status-right"])
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self
            .cmd("tmux")
            .args(["-f", "/dev/null", "-L", &self.socket, "kill-server"])
            .output();
    }
}

fn plan(world: &World, tracks: usize) -> String {
    let mut plan = String::from(
        "[session]\nname = \"shop\"\nbase = \"main\"\nworktrees = \"../wt\"\neditor = \"sleep 600 #\"\n\n[ports]\nbase = 27300\nper_track = 2\n",
    );
    for i in 1..=tracks {
        write!(
            plan,
            "\n[[track]]\nname = \"t{i:02}\"\ncommand = [\"sleep\", \"600\"]\ntranscript = {{ path = {:?}, format = \"claude-session\" }}\n",
            world.transcript(i).to_string_lossy()
        )
        .unwrap();
    }
    plan
}

/// The watcher's process id: the process of the pk-watch window's pane.
fn watcher_pid(world: &World) -> u32 {
    let panes = world.tmux(&[
        "list-panes",
        "-s",
        "-t",
        "=shop",
        "-F",
        "#{window_name} #{pane_pid}",
    ]);
    let pid = panes
        .lines()
        .find_map(|l| l.strip_prefix("pk-watch "))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pk-watch pane in\n{panes}"));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("watch"),
        "pane {pid} is not pk watch: {:?}",
        String::from_utf8_lossy(&cmdline)
    );
    pid
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Whether the watcher's status.json shows every transcript read to its end.
fn all_read(world: &World, tracks: usize) -> bool {
    let Ok(text) = std::fs::read_to_string(world.state_dir().join("status.json")) else {
        return false;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    let Some(entries) = v["tracks"].as_array() else {
        return false;
    };
    entries.len() == tracks
        && (1..=tracks).all(|i| {
            let len = std::fs::metadata(world.transcript(i)).map_or(0, |m| m.len());
            entries.iter().any(|e| {
                e["transcript"].as_str() == Some(&*world.transcript(i).to_string_lossy())
                    && e["transcript_cursor"]["offset"].as_u64() == Some(len)
            })
        })
}

struct WatchReport {
    tracks: usize,
    transcript_bytes: u64,
    read_ms: f64,
    rss_kib: u64,
    hwm_kib: u64,
    latencies: Vec<f64>,
    timeouts: usize,
    no_watcher: NoWatcherReport,
}

fn bench_watch(root: &Path, cfg: &Config) -> WatchReport {
    let world = World::new(root);
    let mut g = Gen::new(0x5eed_9876_0002);
    let t0 = pk_cli::live::now_ms() - 3_600_000;
    for i in 1..=cfg.tracks {
        g.start(100 + i, t0);
        g.write_file(&world.transcript(i), cfg.track_mb * MB);
    }
    let transcript_bytes = (1..=cfg.tracks)
        .map(|i| std::fs::metadata(world.transcript(i)).expect("stat").len())
        .sum();
    std::fs::write(world.repo.join("parallel.toml"), plan(&world, cfg.tracks)).expect("plan");
    let start = Instant::now();
    world.pk(&["up", "--detach", "--yes"]);
    let deadline = Instant::now() + Duration::from_secs(300);
    while !all_read(&world, cfg.tracks) {
        assert!(
            Instant::now() < deadline,
            "the watcher did not read the transcripts in 5 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let read_ms = ms(start.elapsed());
    let pid = watcher_pid(&world);
    // One more tick of the watcher (tmux asked, idleness re-rendered) before looking.
    std::thread::sleep(pk_cli::live::watch::TICK + Duration::from_millis(500));
    let (rss_kib, hwm_kib) = memory_kib(pid);
    eprintln!(
        "  watcher: {} tracks, {:.0} MB of transcripts read in {read_ms:.0} ms (from pk up); VmRSS {rss_kib} KiB, VmHWM {hwm_kib} KiB",
        cfg.tracks,
        transcript_bytes as f64 / MB as f64
    );

    // Write to bar.
    let mut latencies = Vec::with_capacity(cfg.writes);
    let mut timeouts = 0;
    // Every generated transcript ends with a finished turn: the next line is a prompt.
    let mut working = vec![false; cfg.tracks + 1];
    let mut rng = Rng(0xfeed_0003);
    for k in 0..cfg.writes {
        let track = 1 + k % cfg.tracks;
        let now = pk_cli::live::now_ms();
        let line = if working[track] {
            g.append_line(600, now, Some("end_turn"))
        } else {
            g.prompt_line(now)
        };
        working[track] = !working[track];
        let before = world.status_right();
        let start = Instant::now();
        append(&world.transcript(track), &line);
        let limit = Duration::from_secs(5);
        loop {
            if world.status_right() != before {
                latencies.push(ms(start.elapsed()));
                break;
            }
            if start.elapsed() > limit {
                timeouts += 1;
                latencies.push(ms(limit));
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(rng.range(100, 300) as u64));
    }
    assert!(
        memory_kib(pid).0 > 0,
        "the watcher is gone after the writes"
    );
    let no_watcher = bench_no_watcher(&world, &mut g, cfg);
    WatchReport {
        tracks: cfg.tracks,
        transcript_bytes,
        read_ms,
        rss_kib,
        hwm_kib,
        latencies,
        timeouts,
        no_watcher,
    }
}

// ---------------------------------------------------------------------------------------------
// `pk status` without a watcher.

/// `pk status --json` without a watcher, in ms per run.
struct NoWatcherReport {
    /// The transcripts' total size after the rounds.
    transcript_bytes: u64,
    /// (a) After a 1 KB append: every track resumed from its checkpoint.
    resumed: Vec<f64>,
    /// (b) With no checkpoint: every transcript read whole.
    whole: Vec<f64>,
}

/// Stops the watcher and measures `pk status` resumed from the checkpoints against reading
/// every transcript whole, in alternation (see the module's doc, 5).
fn bench_no_watcher(world: &World, g: &mut Gen, cfg: &Config) -> NoWatcherReport {
    stop_watcher(world);
    check_resumes(world, g, 1);
    let mut tokens = output_tokens(&check_reads_whole(world, cfg.tracks));
    let mut resumed = Vec::with_capacity(cfg.statuses);
    let mut whole = Vec::with_capacity(cfg.statuses);
    for k in 0..cfg.statuses {
        let track = 1 + k % cfg.tracks;
        let line = g.append_line(1024, pk_cli::live::now_ms(), None);
        append(&world.transcript(track), &line);
        let (t, out) = time_status(world);
        resumed.push(t);
        // The appended response's 77 output tokens: the line was read, once.
        tokens += 77;
        assert_eq!(output_tokens(&out), tokens, "resumed: the append not seen");
        remove_checkpoints(world, cfg.tracks);
        let (t, out) = time_status(world);
        whole.push(t);
        assert_eq!(output_tokens(&out), tokens, "read whole: not the same");
        eprintln!(
            "  pk status without a watcher, round {}: {:.0} ms resumed after a 1 KB append, {:.0} ms reading every transcript whole",
            k + 1,
            resumed[k],
            whole[k]
        );
    }
    let transcript_bytes = (1..=cfg.tracks)
        .map(|i| std::fs::metadata(world.transcript(i)).expect("stat").len())
        .sum();
    NoWatcherReport {
        transcript_bytes,
        resumed,
        whole,
    }
}

/// Kills the pk-watch window and waits until `pk status` reads the files itself: while the
/// watcher's lock is held it reads only status.json, which would measure nothing here.
fn stop_watcher(world: &World) {
    world.tmux(&["kill-window", "-t", "=shop:=pk-watch"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, stderr) = world.pk_with_stderr(&["-v", "status", "--json"]);
        if reads_files(&stderr) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pk status still reads the watcher's status.json 10 s after its window was killed:\n{stderr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `pk -v status` read the tracks' files itself (it says so only then).
fn reads_files(stderr: &str) -> bool {
    stderr
        .lines()
        .any(|l| l.starts_with("pk: read ") || l.starts_with("pk: nothing new in "))
}

/// What `pk -v status` says it read of `path`: the bytes and the byte it read from; `None`
/// when it read nothing of it.
fn read_of(stderr: &str, path: &Path) -> Option<(u64, u64)> {
    let path = path.display().to_string();
    stderr.lines().find_map(|l| {
        let (bytes, rest) = l.strip_prefix("pk: read ")?.split_once(" bytes of ")?;
        let (file, from) = rest.rsplit_once(" from byte ")?;
        if file != path {
            return None;
        }
        Some((bytes.parse().ok()?, from.parse().ok()?))
    })
}

/// Appends a 1 KB line to `track`'s transcript and checks that `pk -v status` resumes from the
/// checkpoint: it reads that line only, from the transcript's former end.
fn check_resumes(world: &World, g: &mut Gen, track: usize) {
    let path = world.transcript(track);
    let end = std::fs::metadata(&path).expect("stat").len();
    let line = g.append_line(1024, pk_cli::live::now_ms(), None);
    append(&path, &line);
    let (_, stderr) = world.pk_with_stderr(&["-v", "status", "--json"]);
    assert_eq!(
        read_of(&stderr, &path),
        Some((line.len() as u64, end)),
        "pk status did not resume {} from its checkpoint:\n{stderr}",
        path.display()
    );
}

/// Removes every checkpoint and checks that `pk -v status` then reads every transcript from
/// byte 0 to its end. Returns its stdout, what it made of them, for the timed runs to match.
fn check_reads_whole(world: &World, tracks: usize) -> String {
    remove_checkpoints(world, tracks);
    let (stdout, stderr) = world.pk_with_stderr(&["-v", "status", "--json"]);
    for i in 1..=tracks {
        let path = world.transcript(i);
        let len = std::fs::metadata(&path).expect("stat").len();
        assert_eq!(
            read_of(&stderr, &path),
            Some((len, 0)),
            "pk status did not read {} whole:\n{stderr}",
            path.display()
        );
    }
    stdout
}

/// Removes every file of the checkpoints folder, checking that each track had one there (the
/// last `pk status` wrote or kept them) and nothing else was: else (b) would not be the full
/// read it claims to be, nor (a) a resume.
fn remove_checkpoints(world: &World, tracks: usize) {
    let state_dir = world.state_dir();
    for i in 1..=tracks {
        let path = pk_cli::live::checkpoint_path(&state_dir, &format!("t{i:02}"));
        std::fs::remove_file(&path)
            .unwrap_or_else(|e| panic!("remove the checkpoint {}: {e}", path.display()));
    }
    let dir = state_dir.join(pk_cli::live::CHECKPOINT_DIR);
    let left: Vec<_> = std::fs::read_dir(&dir)
        .expect("read the checkpoints folder")
        .map(|e| e.expect("checkpoints folder entry").file_name())
        .collect();
    assert!(
        left.is_empty(),
        "other files in {}: {left:?}",
        dir.display()
    );
}

/// Times one `pk status --json` (the whole process, as a user runs it); returns the time in ms
/// and its stdout.
fn time_status(world: &World) -> (f64, String) {
    let start = Instant::now();
    let out = world.pk(&["status", "--json"]);
    (ms(start.elapsed()), out)
}

/// The output tokens of all tracks in `pk status --json`'s report.
fn output_tokens(json: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(json).expect("pk status --json is JSON");
    v["tracks"]
        .as_array()
        .expect("tracks in pk status --json")
        .iter()
        .map(|t| t["tokens"]["output"].as_u64().expect("output tokens"))
        .sum()
}

// ---------------------------------------------------------------------------------------------
// The user's view, and ccusage beside pk.

/// Runs `cmd` to its end, sampling its `VmHWM` every 2 ms; returns the wall time in ms, the
/// largest `VmHWM` seen (KiB; the growth of its last 2 ms can be missed) and its stdout.
fn run_sampled(cmd: &mut Command) -> (f64, u64, String) {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the measured command");
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut out).map(|_| out)
    });
    let mut peak = 0;
    while child.try_wait().expect("wait").is_none() {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0);
            peak = peak.max(hwm);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let elapsed = ms(start.elapsed());
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (elapsed, peak, reader.join().unwrap().expect("read stdout"))
}

/// Each track's four token counters in `pk status --json`, by track name.
fn tokens_by_track(json: &str) -> Vec<(String, [u64; 4])> {
    let v: serde_json::Value = serde_json::from_str(json).expect("pk status --json is JSON");
    let mut tracks: Vec<_> = v["tracks"]
        .as_array()
        .expect("tracks in pk status --json")
        .iter()
        .map(|t| {
            let n = |k: &str| t["tokens"][k].as_u64().unwrap_or(0);
            (
                t["name"].as_str().unwrap_or_default().to_string(),
                [n("input"), n("output"), n("cache_read"), n("cache_write")],
            )
        })
        .collect();
    tracks.sort();
    tracks
}

struct ViewReport {
    tracks: usize,
    bytes: u64,
    wc: f64,
    /// From `pk up` returning to `pk status --json` showing every track's exact totals.
    view: f64,
    /// How long `pk up` took to return.
    up: f64,
    /// `pk status --json` without a watcher or checkpoints (every transcript read whole).
    pk_whole: f64,
    pk_whole_kib: u64,
    /// `ccusage session --json --offline` on the same files, if installed.
    ccusage: Option<(f64, u64)>,
}

/// 6 and 7 of the module's doc: a world whose tracks' transcripts total `PK_BENCH_VIEW_MB`.
fn bench_user_view(root: &Path, cfg: &Config) -> ViewReport {
    let world = World::new(root);
    let mut g = Gen::new(0x5eed_9876_0007);
    let t0 = pk_cli::live::now_ms() - 3_600_000;
    let per_track = cfg.view_mb * MB / cfg.tracks;
    let mut expected = Vec::new();
    for i in 1..=cfg.tracks {
        g.start(200 + i, t0);
        g.write_file(&world.transcript(i), per_track);
        // What the totals must be, read in process before anything is timed.
        let mut tracker = pk_status::Tracker::new(Format::ClaudeSession);
        tracker.feed(&std::fs::read(world.transcript(i)).expect("read"), t0);
        let t = tracker.status().tokens;
        expected.push((
            format!("t{i:02}"),
            [t.input, t.output, t.cache_read, t.cache_write],
        ));
    }
    let paths: Vec<_> = (1..=cfg.tracks).map(|i| world.transcript(i)).collect();
    let bytes = size_of(&paths);
    // Warm the page cache for everyone, then time `wc -l`.
    wc_lines(&paths);
    let wc = median(
        &(0..cfg.rounds.max(3))
            .map(|_| ms(wc_lines(&paths).0))
            .collect::<Vec<_>>(),
    );
    std::fs::write(world.repo.join("parallel.toml"), plan(&world, cfg.tracks)).expect("plan");
    let start = Instant::now();
    world.pk(&["up", "--detach", "--yes"]);
    let up = ms(start.elapsed());
    let start = Instant::now();
    let deadline = start + Duration::from_secs(600);
    loop {
        if tokens_by_track(&world.pk(&["status", "--json"])) == expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pk status did not show the exact totals in 10 minutes"
        );
    }
    let view = ms(start.elapsed());
    eprintln!(
        "  user's view: {} tracks, {:.0} MB: pk up returned in {up:.0} ms, exact totals {view:.0} ms later; wc -l {wc:.0} ms",
        cfg.tracks,
        bytes as f64 / MB as f64
    );

    // pk's first scan as a command, and ccusage's, on the same files.
    stop_watcher(&world);
    let mut pk_times = Vec::new();
    let mut pk_kib = 0;
    for _ in 0..cfg.rounds {
        remove_checkpoints(&world, cfg.tracks);
        let (t, kib, out) =
            run_sampled(
                world
                    .cmd(pk_bin())
                    .args(["--socket", &world.socket, "status", "--json"]),
            );
        assert_eq!(tokens_by_track(&out), expected, "pk status read whole");
        pk_times.push(t);
        pk_kib = pk_kib.max(kib);
    }
    let ccusage = pk_tests::agents::ccusage().map(|ccusage| {
        // Where ccusage looks: `$CLAUDE_CONFIG_DIR/projects/<project>/<session>.jsonl`.
        let config = root.join("ccusage");
        for (i, path) in paths.iter().enumerate() {
            let dir = config.join(format!("projects/-shop-t{:02}", i + 1));
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::hard_link(path, dir.join(format!("{:08}-0000-4000-8000-000000000000.jsonl", i + 1)))
                .expect("link a transcript for ccusage");
        }
        let mut times = Vec::new();
        let mut peak = 0;
        let mut counted = 0;
        for _ in 0..cfg.rounds {
            let (t, kib, out) = run_sampled(
                world
                    .cmd(&ccusage)
                    .args(["session", "--json", "--offline"])
                    .env("CLAUDE_CONFIG_DIR", &config)
                    .env("TZ", "UTC"),
            );
            let v: serde_json::Value = serde_json::from_str(&out).expect("ccusage --json");
            counted = v["totals"]["outputTokens"].as_u64().unwrap_or(0);
            assert!(counted > 0, "ccusage read nothing:\n{out}");
            times.push(t);
            peak = peak.max(kib);
        }
        let ours: u64 = expected.iter().map(|(_, t)| t[1]).sum();
        if counted != ours {
            // ccusage keeps the first record of each message, whose usage is that of the
            // message's start; pk keeps the largest (the final) usage.
            eprintln!(
                "  note: ccusage counts {counted} output tokens, pk {ours} (ccusage keeps each message's first usage record)"
            );
        }
        (median(&times), peak)
    });
    if ccusage.is_none() {
        assert!(
            std::env::var_os("PK_REQUIRE_AGENTS").is_none(),
            "ccusage is required (PK_REQUIRE_AGENTS) but not installed: run scripts/agents.sh"
        );
        eprintln!("  ccusage is not installed (scripts/agents.sh): not measured");
    }
    ViewReport {
        tracks: cfg.tracks,
        bytes,
        wc,
        view,
        up,
        pk_whole: median(&pk_times),
        pk_whole_kib: pk_kib,
        ccusage,
    }
}

fn print_view(r: &ViewReport, met: impl Fn(bool) -> &'static str) {
    let mbs = |ms: f64| r.bytes as f64 / MB as f64 / (ms / 1000.0);
    println!();
    println!(
        "The user's view: {} tracks, {:.0} MB of claude-session transcripts",
        r.tracks,
        r.bytes as f64 / MB as f64
    );
    println!(
        "  wc -l                                   {:>8.0} ms  {:>7.0} MB/s",
        r.wc,
        mbs(r.wc)
    );
    println!(
        "  pk up returning -> pk status exact      {:>8.0} ms  {:>7.0} MB/s  (pk up itself {:.0} ms)",
        r.view,
        mbs(r.view),
        r.up
    );
    let ratio = r.wc / r.view;
    println!(
        "  user's view / wc -l throughput = {ratio:.2} (target >= 0.25, {})",
        met(ratio >= 0.25)
    );
    println!(
        "  pk status, every transcript read whole {:>8.0} ms  {:>7.0} MB/s  peak RSS {:.1} MB",
        r.pk_whole,
        mbs(r.pk_whole),
        r.pk_whole_kib as f64 / 1024.0
    );
    if let Some((t, kib)) = r.ccusage {
        println!(
            "  ccusage session --json --offline       {:>8.0} ms  {:>7.0} MB/s  peak RSS {:.1} MB",
            t,
            mbs(t),
            kib as f64 / 1024.0
        );
        let speed = t / r.pk_whole;
        println!(
            "  pk / ccusage throughput = {speed:.2} (target >= 3.5, {}); memory {:.2} of ccusage's (target <= 1, {})",
            met(speed >= 3.5),
            r.pk_whole_kib as f64 / kib as f64,
            met(r.pk_whole_kib <= kib)
        );
    }
}

fn main() {
    // Built (or found built) before anything is timed: the first call runs cargo.
    pk_bin();
    let cfg = Config::from_env();
    let dir = tempfile::Builder::new()
        .prefix("pk-bench-status")
        .tempdir()
        .expect("temp dir");
    let total = cfg.total_mb * MB;

    let start = Instant::now();
    let files = make_files(dir.path(), total);
    let bytes = size_of(&files);
    eprintln!(
        "8 session files, {:.0} MB, generated in {:.0} ms in {}",
        bytes as f64 / MB as f64,
        ms(start.elapsed()),
        dir.path().display()
    );
    let scan = bench_scan(&files, cfg.rounds);

    // One file of the whole size, and a small one.
    let big = dir.path().join("big.jsonl");
    {
        let mut out = std::fs::File::create(&big).expect("create big file");
        for f in &files {
            std::io::copy(&mut std::fs::File::open(f).expect("open"), &mut out).expect("copy");
        }
    }
    for f in &files {
        std::fs::remove_file(f).expect("remove");
    }
    let small = dir.path().join("small.jsonl");
    let mut g = Gen::new(0x5eed_4321_0003);
    g.start(9, start_time());
    g.write_file(&small, 64 << 10);
    let big_append = bench_append(&big, cfg.appends, &mut g);
    let small_append = bench_append(&small, cfg.appends, &mut g);
    std::fs::remove_file(&big).expect("remove");

    let (watch, view) = if tmux_available() {
        (
            Some(bench_watch(&dir.path().join("world"), &cfg)),
            Some(bench_user_view(&dir.path().join("view"), &cfg)),
        )
    } else {
        eprintln!("tmux is not installed: the watcher is not measured");
        (None, None)
    };

    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    let mbs = |ms: f64| scan.bytes as f64 / MB as f64 / (ms / 1000.0);
    let ratio = scan.wc / scan.pk;
    println!();
    println!(
        "First scan: 8 claude-session files, {:.0} MB, {} lines, median of {} rounds",
        scan.bytes as f64 / MB as f64,
        scan.lines,
        cfg.rounds
    );
    println!(
        "  wc -l               {:>8.0} ms  {:>7.0} MB/s",
        scan.wc,
        mbs(scan.wc)
    );
    println!(
        "  pk watch            {:>8.0} ms  {:>7.0} MB/s",
        scan.pk,
        mbs(scan.pk)
    );
    println!(
        "  pk on one thread    {:>8.0} ms  {:>7.0} MB/s  ({:.2} of wc -l)",
        scan.pk_one_thread,
        mbs(scan.pk_one_thread),
        scan.wc / scan.pk_one_thread
    );
    println!(
        "  CPU time: wc -l {:.0} ms, pk on one thread {:.0} ms ({:.2} of wc -l)",
        scan.wc_cpu,
        scan.pk_one_thread_cpu,
        scan.wc_cpu / scan.pk_one_thread_cpu
    );
    println!(
        "  pk watch / wc -l throughput = {ratio:.2} (target >= 0.25, {})",
        met(ratio >= 0.25)
    );
    println!();
    println!(
        "Append of 1 KB, then update ({} appends per file)",
        cfg.appends
    );
    for (name, r) in [("big", &big_append), ("small", &small_append)] {
        println!(
            "  {name:<5} file {:>9.1} MB (first scan {:>6.0} ms): median {:.3} ms, p95 {:.3} ms",
            r.size as f64 / MB as f64,
            r.scan_ms,
            r.median_ms,
            r.p95_ms
        );
    }
    let grows = big_append.median_ms / small_append.median_ms;
    println!(
        "  big / small = {grows:.2}; p95 {:.3} ms (target <= 5 ms, {})",
        big_append.p95_ms.max(small_append.p95_ms),
        met(big_append.p95_ms <= 5.0 && small_append.p95_ms <= 5.0)
    );
    if let Some(w) = &watch {
        println!();
        println!(
            "pk watch with {} tracks ({:.0} MB of transcripts, read in {:.0} ms after pk up)",
            w.tracks,
            w.transcript_bytes as f64 / MB as f64,
            w.read_ms
        );
        let rss = w.rss_kib as f64 / 1024.0;
        println!(
            "  VmRSS {rss:.1} MB (target <= 20 MB, {}), VmHWM {:.1} MB",
            met(rss <= 20.0),
            w.hwm_kib as f64 / 1024.0
        );
        let (p50, p95) = (median(&w.latencies), percentile(&w.latencies, 95.0));
        println!(
            "  write to status line: p50 {p50:.0} ms, p95 {p95:.0} ms, max {:.0} ms over {} writes{} (target p95 <= 250 ms, {})",
            percentile(&w.latencies, 100.0),
            w.latencies.len(),
            if w.timeouts > 0 {
                format!(", {} timed out", w.timeouts)
            } else {
                String::new()
            },
            met(p95 <= 250.0)
        );
        print_no_watcher(&w.no_watcher);
    }
    if let Some(v) = &view {
        print_view(v, met);
    }
}

fn print_no_watcher(r: &NoWatcherReport) {
    let (a50, a95) = (median(&r.resumed), percentile(&r.resumed, 95.0));
    let (b50, b95) = (median(&r.whole), percentile(&r.whole, 95.0));
    println!();
    println!(
        "pk status without a watcher ({:.1} MB of transcripts, {} runs each, alternating)",
        r.transcript_bytes as f64 / MB as f64,
        r.resumed.len()
    );
    println!("  resumed from checkpoints, 1 KB appended: median {a50:>6.1} ms, p95 {a95:>6.1} ms");
    println!("  every transcript read whole:             median {b50:>6.1} ms, p95 {b95:>6.1} ms");
    println!(
        "  resumed / whole = {:.2} (the rest of both is the same: starting pk, tmux, one git status per worktree)",
        a50 / b50
    );
}
