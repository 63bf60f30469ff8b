//! What the page shows, made from what the bar shows: the watcher's `status.json`, the
//! session's state and the last lines of each agent pane. Every string is the sanitized text
//! the bar shows (no control characters, escape sequences or invisible formatting); the page
//! puts it in as text, never as markup.

use pk_status::TrackState;
use pk_status::sanitize::clean;
use pk_status::status_file::{CheckState, StatusFile};
use serde::Serialize;

/// How many lines of each agent pane the page shows.
pub(crate) const TAIL_LINES: usize = 14;

/// The page's data, sent whole on every change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct View {
    /// The session.
    pub(crate) session: String,
    /// Its total cost, as the bar writes it (`$1.20`), if any.
    pub(crate) total: Option<String>,
    /// One card per track, in the plan's order.
    pub(crate) tracks: Vec<Card>,
}

/// One track.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Card {
    /// The track.
    pub(crate) name: String,
    /// The host it runs on, if another.
    pub(crate) host: Option<String>,
    /// Its state word (`working`, `waiting`…).
    pub(crate) state: String,
    /// Whether it waits for its human: the page offers to answer.
    pub(crate) waiting: bool,
    /// Its last activity (Unix ms), if any.
    pub(crate) activity_ms: Option<i64>,
    /// What it waits for or does (the last tool, as the bar shows it).
    pub(crate) last_tool: Option<String>,
    /// Why it failed, or that its host cannot be reached.
    pub(crate) error: Option<String>,
    /// Its cost (`$0.42`), if it has one.
    pub(crate) cost: Option<String>,
    /// Near or over its budget, if so.
    pub(crate) budget: Option<String>,
    /// Its check: `pass`, `fail`, `running`, `stale`, or none.
    pub(crate) check: Option<String>,
    /// Changed files in its worktree, when counted.
    pub(crate) changed: Option<usize>,
    /// Paths it changed outside its `owns`.
    pub(crate) outside_owns: Vec<String>,
    /// The last lines of its agent pane.
    pub(crate) tail: Vec<String>,
}

/// One track of the state, for [`view`].
#[derive(Debug, Clone)]
pub(crate) struct TrackIn {
    /// The track.
    pub(crate) name: String,
    /// Its host, if another.
    pub(crate) host: Option<String>,
    /// What its pane shows now, if it has one.
    pub(crate) screen: Option<String>,
}

/// The view of `tracks` with the watcher's `file` (if it wrote one yet).
pub(crate) fn view(session: &str, tracks: &[TrackIn], file: Option<&StatusFile>) -> View {
    let cards: Vec<Card> = tracks
        .iter()
        .map(|t| {
            let entry = file.and_then(|f| f.tracks.iter().find(|e| e.name == t.name));
            let status = entry.map(|e| e.status.clone()).unwrap_or_default();
            Card {
                name: clean(&t.name),
                host: t.host.as_deref().map(clean),
                state: status.state.to_string(),
                waiting: status.state == TrackState::Waiting,
                activity_ms: status.last_activity.map(|a| a.millis()),
                last_tool: status.last_tool.as_deref().map(clean),
                error: status.last_error.as_deref().map(clean),
                cost: status
                    .has_cost()
                    .then(|| pk_status::render::format_status_cost(&status)),
                budget: status.budget.as_ref().and_then(|b| {
                    if b.over() {
                        Some("over budget".to_string())
                    } else if b.near() {
                        Some("near its budget".to_string())
                    } else {
                        None
                    }
                }),
                check: entry
                    .and_then(|e| e.check.as_ref())
                    .and_then(|c| match c.state {
                        CheckState::None => None,
                        other => Some(format!("{other:?}").to_lowercase()),
                    }),
                changed: entry.and_then(|e| e.changed_files),
                outside_owns: entry
                    .map(|e| e.outside_owns.iter().map(|p| clean(p)).collect())
                    .unwrap_or_default(),
                tail: t.screen.as_deref().map(tail).unwrap_or_default(),
            }
        })
        .collect();
    let total = file
        .map(|f| f.total_cost_usd)
        .filter(|c| *c > 0.0)
        .map(pk_status::render::format_cost);
    View {
        session: clean(session),
        total,
        tracks: cards,
    }
}

/// The last [`TAIL_LINES`] lines of a screen with text, cleaned, without trailing blank lines.
pub(crate) fn tail(screen: &str) -> Vec<String> {
    let lines: Vec<String> = screen
        .lines()
        .map(|l| clean(l).trim_end().to_string())
        .collect();
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(0, |i| i + 1);
    let start = end.saturating_sub(TAIL_LINES);
    lines[start..end].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_are_clean_and_end_at_the_last_text() {
        let screen = "a\n\x1b[31mred\x1b[0m <b>\u{202e}x\n\n\n";
        assert_eq!(tail(screen), ["a", "red <b>x"]);
        let long: String = (0..40).map(|i| format!("line {i}\n")).collect();
        let t = tail(&long);
        assert_eq!(t.len(), TAIL_LINES);
        assert_eq!(t.last().unwrap(), "line 39");
    }

    #[test]
    fn a_track_the_watcher_has_not_seen_is_starting() {
        let v = view(
            "shop",
            &[TrackIn {
                name: "api".into(),
                host: None,
                screen: Some("hello\n".into()),
            }],
            None,
        );
        assert_eq!(v.tracks[0].state, "starting");
        assert_eq!(v.tracks[0].tail, ["hello"]);
        assert!(!v.tracks[0].waiting);
        assert_eq!(v.total, None);
    }
}
