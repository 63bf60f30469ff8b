//! The zellij status bar's model: what the plugin reads (the watcher's `status.json`, a
//! [`StatusFile`]) and what it prints (one line of text with ANSI colours), and which track a click lands on. Kept here,
//! beside the tmux rendering, so both bars say the same and all of it is tested on the host;
//! the plugin itself only reads a file on a timer and prints.

use crate::render::{self, Segment, Style};
use crate::state::TrackState;
use crate::status::TrackStatus;
use crate::status_file::StatusFile;

/// A rendered bar: the line to print and, per column range, the track drawn there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Text with ANSI SGR colours, exactly `cols` columns wide (padded), no line break.
    pub ansi: String,
    /// The same without colours.
    pub plain: String,
    /// `(first column, end column, track index)` of each track drawn.
    pub spans: Vec<(usize, usize, usize)>,
}

impl Line {
    /// The track drawn at column `col` (0-based), if any.
    pub fn track_at(&self, col: usize) -> Option<usize> {
        self.spans
            .iter()
            .find(|(start, end, _)| (*start..*end).contains(&col))
            .map(|(_, _, i)| *i)
    }
}

/// The bar for `snapshot` in `cols` columns: ` pk SESSION ` then the tracks as in tmux. With
/// no snapshot yet, says that it waits for the watcher.
pub fn line(snapshot: Option<&StatusFile>, session: &str, cols: usize) -> Line {
    let session = match snapshot {
        Some(s) if !s.session.is_empty() => s.session.as_str(),
        _ => session,
    };
    let head = format!(" pk {} ", crate::sanitize::clean(session));
    let mut segments = vec![Segment {
        text: head,
        style: Style::Total,
        track: None,
    }];
    let used = render::width(&segments[0].text);
    match snapshot {
        Some(s) => {
            let tracks: Vec<(&str, &TrackStatus)> = s
                .tracks
                .iter()
                .map(|t| (t.name.as_str(), &t.status))
                .collect();
            let marks: Vec<render::Marks> = s.tracks.iter().map(render::Marks::of).collect();
            let forecasts: Vec<(&str, Option<&crate::forecast::Forecast>)> = s
                .tracks
                .iter()
                .map(|t| (t.name.as_str(), t.forecast.as_ref()))
                .collect();
            let pairs = crate::forecast::conflict_pairs(&forecasts);
            segments.extend(render::segments_with(
                &tracks,
                &marks,
                &crate::forecast::conflicts_text(&pairs),
                pairs.len(),
                cols.saturating_sub(used),
            ));
        }
        None => segments.push(Segment {
            text: "waiting for pk watch…".into(),
            style: Style::Dim,
            track: None,
        }),
    }
    draw(&segments, cols)
}

fn draw(segments: &[Segment], cols: usize) -> Line {
    let mut ansi = String::new();
    let mut plain = String::new();
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    let mut col = 0;
    for s in segments {
        let w = render::width(&s.text);
        if col + w > cols {
            break;
        }
        ansi.push_str(sgr(s.style));
        ansi.push_str(&s.text);
        ansi.push_str("\x1b[0m");
        plain.push_str(&s.text);
        if let Some(track) = s.track {
            match spans.last_mut() {
                Some(last) if last.2 == track && last.1 == col => last.1 = col + w,
                _ => spans.push((col, col + w, track)),
            }
        }
        col += w;
    }
    let pad = " ".repeat(cols - col);
    ansi.push_str(&pad);
    plain.push_str(&pad);
    Line { ansi, plain, spans }
}

/// The SGR sequence of a style: the same colours as the tmux bar.
fn sgr(style: Style) -> &'static str {
    match style {
        Style::Text => "\x1b[0m",
        Style::Dim => "\x1b[0;38;5;244m",
        Style::Alert | Style::Mark(TrackState::Waiting) => "\x1b[0;1;30;43m",
        Style::Mark(TrackState::Working) => "\x1b[0;36m",
        Style::Mark(TrackState::Done) => "\x1b[0;32m",
        Style::Mark(TrackState::Error | TrackState::OverBudget) => "\x1b[0;1;31m",
        Style::Warn => "\x1b[0;1;33m",
        Style::Mark(TrackState::Starting | TrackState::Idle | TrackState::Exited) => {
            "\x1b[0;38;5;244m"
        }
        Style::Total => "\x1b[0;1m",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{
      "version": 1, "session": "shop", "updated": "2026-11-21T10:00:00Z", "pid": 7,
      "total_cost_usd": 0.52,
      "tracks": [
        {"name": "api", "status": {"state": "working", "cost_usd": 0.42, "tokens": {"input": 5}},
         "pane": "terminal_1", "transcript": "/x", "events": null,
         "transcript_cursor": null, "events_cursor": null},
        {"name": "web", "status": {"state": "waiting", "cost_usd": 0.10, "tokens": {"input": 5}},
         "pane": "terminal_2", "transcript": null, "events": null,
         "transcript_cursor": null, "events_cursor": null},
        {"name": "docs", "status": {"state": "done"}, "transcript": null, "events": null,
         "transcript_cursor": null, "events_cursor": null}
      ]
    }"#;

    #[test]
    fn reads_the_watchers_file_and_ignores_what_it_does_not_know() {
        let s = StatusFile::parse(FILE.as_bytes()).unwrap();
        assert_eq!(s.session, "shop");
        assert_eq!(s.tracks.len(), 3);
        assert_eq!(s.tracks[1].status.state, TrackState::Waiting);
        assert_eq!(s.pane_id(1), Some(2));
        assert_eq!(s.pane_id(2), None);
        assert_eq!(StatusFile::parse(b"{\"tracks\": 3"), None);
        let other = FILE.replace("\"version\": 1", "\"version\": 2");
        assert_eq!(StatusFile::parse(other.as_bytes()), None, "another version");
        assert_eq!(StatusFile::parse(b""), None);
    }

    #[test]
    fn the_zellij_bar_shows_checks_and_strays_as_tmux_does() {
        let file = FILE.replace(
            r#""pane": "terminal_1","#,
            r#""pane": "terminal_1", "check": {"state": "fail", "at": null, "log": "/l"},
               "outside_owns": ["README.md"],"#,
        );
        let s = StatusFile::parse(file.as_bytes()).unwrap();
        let l = line(Some(&s), "x", 100);
        assert!(
            l.plain.starts_with(" pk shop ● api ✗⚑ working $0.42 │"),
            "{:?}",
            l.plain
        );
        // A file of a watcher without these fields reads as none.
        let old = StatusFile::parse(FILE.as_bytes()).unwrap();
        assert_eq!(old.tracks[0].check, None);
        assert!(old.tracks[0].outside_owns.is_empty());
    }

    #[test]
    fn the_line_shows_every_track_and_the_total() {
        let s = StatusFile::parse(FILE.as_bytes()).unwrap();
        let line = line(Some(&s), "x", 100);
        assert_eq!(
            line.plain.trim_end(),
            " pk shop ● api working $0.42 │ ? web waiting $0.10 │ ✓ docs done │ Σ $0.52"
        );
        assert_eq!(render::width(&line.plain), 100, "padded to the width");
        // The waiting track stands out: black on yellow, bold.
        assert!(line.ansi.contains("\x1b[0;1;30;43m web"));
    }

    #[test]
    fn the_zellij_line_marks_the_forecasts_conflicts() {
        let mut s = StatusFile::parse(FILE.as_bytes()).unwrap();
        s.tracks[0].forecast = Some(crate::forecast::Forecast {
            conflicts: vec![crate::forecast::Conflict {
                with: "docs".into(),
                files: vec!["src/lib.rs".into()],
                unknown: None,
            }],
            ..Default::default()
        });
        let line = line(Some(&s), "x", 100);
        assert!(
            line.plain.trim_end().ends_with("Σ $0.52 ⚠ api×docs"),
            "{}",
            line.plain
        );
    }

    #[test]
    fn clicks_land_on_tracks() {
        let s = StatusFile::parse(FILE.as_bytes()).unwrap();
        let line = line(Some(&s), "x", 100);
        let col = |needle: &str| line.plain.find(needle).unwrap();
        assert_eq!(line.track_at(col("api")), Some(0));
        assert_eq!(line.track_at(col("waiting")), Some(1));
        assert_eq!(line.track_at(col("docs")), Some(2));
        assert_eq!(line.track_at(1), None, "the session name");
        assert_eq!(line.track_at(99), None, "the padding");
    }

    #[test]
    fn narrow_bars_keep_the_waiting_track() {
        let s = StatusFile::parse(FILE.as_bytes()).unwrap();
        let line = line(Some(&s), "x", 20);
        assert_eq!(render::width(&line.plain), 20);
        assert!(line.plain.contains("?w"), "{:?}", line.plain);
    }

    #[test]
    fn before_the_watcher_it_says_so() {
        let line = line(None, "shop", 40);
        assert_eq!(line.plain.trim_end(), " pk shop waiting for pk watch…");
    }

    #[test]
    fn text_from_the_file_cannot_drive_the_terminal() {
        let file = r#"{"version": 1, "session": "s\u001b[2J", "updated": 0, "pid": 1,
            "total_cost_usd": 0, "tracks": [{"name": "a\u001b]0;x\u0007b",
            "status": {"state": "working"}, "transcript": null, "events": null,
            "transcript_cursor": null, "events_cursor": null}]}"#;
        let s = StatusFile::parse(file.as_bytes()).unwrap();
        let line = line(Some(&s), "x", 60);
        assert!(!line.plain.contains('\x1b'), "{:?}", line.plain);
        assert!(!line.plain.contains('\x07'), "{:?}", line.plain);
    }
}
