//! The checks the fuzz targets share: what must hold for any input, however hostile.
//!
//! A transcript is written by an agent, its tools and whatever text they met: nothing it holds
//! may reach a status bar, a table or a message as a control character, an escape sequence or
//! a bidi override, and how the bytes arrive (in one read or split anywhere) must not change
//! what pk makes of them. A plan is written by someone else on the team: it is either refused
//! with diagnostics that cannot drive the terminal, or gives names, branches and paths that
//! stay where they belong.

use pk_status::{Format, TrackStatus, Tracker};

/// A time for records without their own: 2026-03-02T09:14:05Z.
const NOW_MS: i64 = 1_772_442_845_000;

/// Control characters (C0, DEL, C1) and bidi embeddings, overrides and isolates: what must never
/// reach a terminal from untrusted text.
pub fn is_hostile(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Panics when `text` (shown as `what`) holds a hostile character.
pub fn assert_inert(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|&c| is_hostile(c)) {
        panic!("{what} holds {c:?}: {text:?}");
    }
}

/// Reads `data` as a transcript in `format`:
/// - whole, and split at two offsets (three chunks): the status is the same;
/// - every text of the status (`last_tool`, `last_error`, `model`) is inert and short;
/// - the tmux status line and the zellij bar drawn from it carry no control characters but
///   the bar's own colours, and every `#` of the content is escaped for tmux;
/// - the watcher's message about it and the pane's rendering of each line are inert; the JSON
///   of `pk status` round-trips.
pub fn transcript(format: Format, data: &[u8]) {
    let mut whole = Tracker::new(format);
    whole.feed(data, NOW_MS);
    let mut split = Tracker::new(format);
    // Where to split, from the input itself, so that plain transcript files work as seeds.
    let h = pk_status::fnv1a(data);
    let len = data.len() as u64;
    let a = (h % (len + 1)) as usize;
    let b = a + ((h >> 32) % (len - a as u64 + 1)) as usize;
    split.feed(&data[..a], NOW_MS);
    split.feed(&data[a..b], NOW_MS);
    split.feed(&data[b..], NOW_MS);
    assert_eq!(
        format!("{:?}", whole.status()),
        format!("{:?}", split.status()),
        "split at {a} and {b} of {len}"
    );
    // Saved after the first chunk through its JSON, resumed, fed the rest from its offset:
    // what a restarted watcher or `pk status` does.
    let mut first = Tracker::new(format);
    first.feed(&data[..a], NOW_MS);
    let saved = serde_json::to_string(&first.checkpoint(a as u64)).expect("checkpoint encodes");
    let saved: pk_status::Checkpoint = serde_json::from_str(&saved).expect("checkpoint decodes");
    let mut resumed = Tracker::resume(saved.clone());
    resumed.feed(&data[saved.offset as usize..], NOW_MS);
    assert_eq!(
        format!("{:?}", whole.status()),
        format!("{:?}", resumed.status()),
        "resumed at {} (cut at {a}) of {len}",
        saved.offset
    );
    whole.finish(NOW_MS);
    split.finish(NOW_MS);
    assert_eq!(
        format!("{:?}", whole.status()),
        format!("{:?}", split.status())
    );
    let status = whole.status();
    check_status(status);
    // What the watcher derives: the pane died, time passed, hook events merged in.
    let exited = pk_status::apply_exit(status, Some(1), NOW_MS + 1);
    let idle = pk_status::apply_idle(status, NOW_MS + 3_600_000, 600_000);
    let combined = pk_status::combine(status, &exited);
    for s in [&exited, &idle, &combined] {
        check_status(s);
    }
    check_bars(&[("api", status), ("web", &exited), ("docs", &combined)]);
    let message = pk_cli::live::watch::alert_text("api", status);
    assert_inert("the watcher's message", &message);
    // What a headless agent's pane shows of each line (`pk agent-run`).
    for line in data.split(|&b| b == b'\n') {
        if let Some(shown) = pk_cli::live::render::show_line(&String::from_utf8_lossy(line)) {
            for part in shown.split('\n') {
                assert_inert("the pane's rendering", part);
            }
        }
    }
}

/// The texts of a status are inert, bounded, and its numbers sane; it survives JSON.
fn check_status(s: &TrackStatus) {
    for (what, text, max) in [
        ("last_tool", &s.last_tool, 60),
        ("last_error", &s.last_error, 200),
        ("model", &s.model, 60),
    ] {
        if let Some(text) = text {
            assert_inert(what, text);
            assert!(text.chars().count() <= max, "{what} is too long: {text:?}");
        }
    }
    assert!(
        s.cost_usd.is_finite() && s.cost_usd >= 0.0,
        "cost {}",
        s.cost_usd
    );
    // Through `status.json` and back (the watcher writes it, `pk status` and the bar read it):
    // the same, but for the last bits of the cost (serde_json's float parsing is not exact).
    let json = serde_json::to_string(s).expect("a status is JSON");
    let back: TrackStatus = serde_json::from_str(&json).expect("its JSON reads back");
    let tolerance = 1e-12 * s.cost_usd.abs().max(1.0);
    assert!((back.cost_usd - s.cost_usd).abs() <= tolerance, "{json}");
    let same = TrackStatus {
        cost_usd: s.cost_usd,
        ..back
    };
    assert_eq!(format!("{same:?}"), format!("{s:?}"), "{json}");
}

/// The tmux status line and the zellij bar of `tracks`, at several widths.
pub fn check_bars(tracks: &[(&str, &TrackStatus)]) {
    for width in [0, 9, 45, 200] {
        let line = pk_status::render::tmux(tracks, width);
        assert_inert("the tmux status line", &line);
        assert_tmux_literal(&line);
        for seg in pk_status::render::segments(tracks, width) {
            assert_inert("a status bar segment", &seg.text);
        }
    }
    // The status file as the watcher writes it, read back as the bar reads it.
    let file = pk_status::StatusFile {
        version: pk_status::status_file::VERSION,
        session: "shop".into(),
        updated: pk_status::Timestamp(NOW_MS),
        pid: 1,
        total_cost_usd: pk_status::total_cost(tracks.iter().map(|(_, s)| *s)),
        tracks: tracks
            .iter()
            .map(|(name, status)| pk_status::TrackEntry {
                name: (*name).to_string(),
                status: (*status).clone(),
                transcript: None,
                events: None,
                transcript_cursor: None,
                events_cursor: None,
                pane: None,
                changed_files: None,
                forecast: None,
                check: None,
                outside_owns: Vec::new(),
        unreachable: false,
            })
            .collect(),
    };
    let text = serde_json::to_vec(&file).expect("a status file encodes");
    let snapshot =
        pk_status::StatusFile::parse(&text).expect("a status file the watcher writes reads back");
    check_zellij_bar(&snapshot);
}

/// The zellij bar of a status file, whatever it holds.
pub fn check_zellij_bar(snapshot: &pk_status::StatusFile) {
    for cols in [0, 10, 80, 200] {
        let line = pk_status::bar::line(Some(snapshot), "shop", cols);
        assert_inert("the zellij bar", &line.plain);
        assert_inert("the zellij bar", &strip_sgr(&line.ansi));
    }
}

/// `text` without the SGR sequences (`ESC [ digits ; … m`) the zellij bar colours with.
fn strip_sgr(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("\x1b[") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(after.len());
        if after[end..].starts_with('m') {
            rest = &after[end + 1..];
        } else {
            out.push('\x1b');
            rest = &rest[i + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// A tmux status format where every `#` is either pk's own style (`#[…]`) or escaped (`##`):
/// the content can neither run a command (`#(…)`) nor read a variable (`#{…}`, `#S`).
pub fn assert_tmux_literal(line: &str) {
    let mut rest = line;
    while let Some(i) = rest.find('#') {
        let after = &rest[i + 1..];
        if let Some(next) = after.strip_prefix('#') {
            rest = next;
        } else if after.starts_with('[') {
            let end = after.find(']').expect("a style is closed");
            let style = &after[1..end];
            assert!(
                style
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '=' || c == ','),
                "not one of pk's styles: #[{style}] in {line:?}"
            );
            rest = &after[end + 1..];
        } else {
            panic!("an unescaped `#` in the tmux status line: {line:?}");
        }
    }
}
