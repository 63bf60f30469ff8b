//! Inputs the fuzzer (`fuzz/`, `scripts/fuzz.sh`) found, kept as regression tests: every file
//! under `tests/fuzz_regressions/<target>/` is read as its fuzz target reads it (`claude_stream`
//! as a `claude-stream` transcript, …; `status_file` as the zellij bar's status file) and must
//! give what the target asserts: no panic, the same status however the bytes are split, and
//! nothing shown that holds a control character or a bidi override.

use pk_status::{Format, TrackStatus, Tracker};
use std::path::Path;

fn hostile(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn assert_inert(what: &str, text: &str) {
    assert!(!text.chars().any(hostile), "{what}: {text:?}");
}

fn check_shown(tracks: &[(&str, &TrackStatus)]) {
    for width in [0, 1, 20, 80, 200] {
        assert_inert("tmux line", &pk_status::render::tmux(tracks, width));
    }
}

fn check_transcript(format: Format, data: &[u8]) {
    let mut whole = Tracker::new(format);
    whole.feed(data, 0);
    for cut in [
        0,
        1,
        data.len() / 3,
        data.len() / 2,
        data.len().saturating_sub(1),
    ] {
        let cut = cut.min(data.len());
        let mut split = Tracker::new(format);
        split.feed(&data[..cut], 0);
        split.feed(&data[cut..], 0);
        assert_eq!(
            format!("{:?}", split.status()),
            format!("{:?}", whole.status()),
            "split at {cut}"
        );
    }
    whole.finish(0);
    let s = whole.status();
    for text in [&s.last_tool, &s.last_error, &s.model]
        .into_iter()
        .flatten()
    {
        assert_inert("status text", text);
    }
    assert!(
        s.cost_usd.is_finite() && s.cost_usd >= 0.0,
        "{}",
        s.cost_usd
    );
    // Through the watcher's status.json and back: the same, to the last bits of the cost.
    let json = serde_json::to_string(s).unwrap();
    let back: TrackStatus = serde_json::from_str(&json).unwrap();
    assert!((back.cost_usd - s.cost_usd).abs() <= 1e-12 * s.cost_usd.max(1.0));
    let back = TrackStatus {
        cost_usd: s.cost_usd,
        ..back
    };
    assert_eq!(&back, s, "{json}");
    check_shown(&[("api", s)]);
}

#[test]
fn every_kept_input_reads_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut count = 0;
    for dir in std::fs::read_dir(&root).unwrap().flatten() {
        let target = dir.file_name().to_string_lossy().into_owned();
        if !dir.path().is_dir() {
            continue;
        }
        for file in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let data = std::fs::read(file.path()).unwrap();
            count += 1;
            if target == "status_file" {
                if let Some(snapshot) = pk_status::StatusFile::parse(&data) {
                    for cols in [0, 10, 80] {
                        let line = pk_status::bar::line(Some(&snapshot), "shop", cols);
                        assert_inert("zellij bar", &line.plain);
                    }
                }
                continue;
            }
            let format = Format::from_name(&target.replace('_', "-"))
                .unwrap_or_else(|| panic!("{target} is not a fuzz target"));
            check_transcript(format, &data);
        }
    }
    eprintln!("{count} kept fuzz inputs");
}
