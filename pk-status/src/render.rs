//! The one-line status bar, shared by tmux (a format string pk pushes into the session) and
//! the zellij plugin (styled segments it colours itself).
//!
//! Each track shows a state mark, its name, the state in words and its cost, then the total:
//!
//! ```text
//! ● api working $0.42 │ ? web waiting $0.10 │ ✓ docs done $0.03 │ Σ $0.55
//! ```
//!
//! A track at 80% of its budget gets a `!` beside its cost (`$0.85!`); one whose budget is spent
//! shows `⊘ api over-budget $1.02`. A track's check (`done_when`) shows after its name, `✓`
//! passed or `✗` failed, and `⚑` marks a track that changed files outside its `owns` (or inside
//! another track's):
//!
//! ```text
//! ● api ✗ working $0.42 │ ✓ web ✓⚑ done $0.10
//! ```
//!
//! Waiting tracks are drawn in reverse video (black on yellow): they are the ones that need
//! the human. When the width is short, detail goes first (state words, costs, separators,
//! name length, the total) and tracks last, least urgent first (exited, done, idle, starting,
//! working, error, waiting), replaced by `+N`.

use crate::sanitize::clean;
use crate::state::TrackState;
use crate::status::{TrackStatus, total_cost};
use crate::status_file::CheckState;

/// What the bar shows of a track beside its state: its check and whether it strays from its
/// `owns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Marks {
    /// The track's check.
    pub check: CheckState,
    /// It changed files outside its `owns`, or inside another track's.
    pub outside_owns: bool,
    /// It runs on another host that cannot be reached now: its state is the last one known.
    pub unreachable: bool,
}

impl Marks {
    /// The marks of a status.json entry.
    pub fn of(entry: &crate::status_file::TrackEntry) -> Marks {
        Marks {
            check: entry.check.as_ref().map_or(CheckState::None, |c| c.state),
            outside_owns: !entry.outside_owns.is_empty(),
            unreachable: entry.unreachable,
        }
    }
}

/// Beside the name of a track on a host that cannot be reached.
pub const UNREACHABLE_MARK: &str = "↯";

/// How a segment should look; the zellij plugin maps these to its colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Style {
    /// Ordinary text (track names).
    Text,
    /// Secondary text: separators, state words, costs.
    Dim,
    /// A state mark, coloured by state.
    Mark(TrackState),
    /// Everything of a waiting track: must stand out.
    Alert,
    /// The total cost.
    Total,
    /// The mark of a track near its budget.
    Warn,
}

/// A piece of the status line with its style. The text is clean (no control characters) and
/// not escaped for any target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// What to print.
    pub text: String,
    /// How to print it.
    pub style: Style,
    /// The index of the track it belongs to (for clicks), if any.
    pub track: Option<usize>,
}

/// The mark shown for a state.
pub fn mark(state: TrackState) -> &'static str {
    match state {
        TrackState::Starting => "…",
        TrackState::Working => "●",
        TrackState::Waiting => "?",
        TrackState::Done => "✓",
        TrackState::Error => "✗",
        TrackState::Idle => "z",
        TrackState::Exited => "■",
        TrackState::OverBudget => "⊘",
    }
}

/// The mark beside the cost of a track at 80% or more of its budget.
pub const BUDGET_MARK: &str = "!";

/// `$0.42`; whole dollars from $100 on.
pub fn format_cost(usd: f64) -> String {
    let usd = if usd.is_finite() && usd > 0.0 {
        usd
    } else {
        0.0
    };
    if usd >= 100.0 {
        format!("${usd:.0}")
    } else {
        format!("${usd:.2}")
    }
}

/// A track's cost as shown: [`format_cost`], with `+?` when some of its tokens are of a model
/// pk has no price for (`$?` when none could be priced).
pub fn format_status_cost(status: &TrackStatus) -> String {
    format_cost_of(status.cost_usd, status.unpriced)
}

/// `$0.42`, `$0.42+?` when `unpriced` tokens are left out of it, `$?` when it is all unknown.
pub fn format_cost_of(usd: f64, unpriced: bool) -> String {
    match (unpriced, usd.is_finite() && usd > 0.0) {
        (false, _) => format_cost(usd),
        (true, false) => "$?".to_string(),
        (true, true) => format!("{}+?", format_cost(usd)),
    }
}

/// The status line for `tracks` (name, status), fitted into `width` terminal columns.
pub fn segments(tracks: &[(&str, &TrackStatus)], width: usize) -> Vec<Segment> {
    segments_marked(tracks, &[], width)
}

/// [`segments`] with each track's [`Marks`] (by index; a track without one has none).
pub fn segments_marked(
    tracks: &[(&str, &TrackStatus)],
    marks: &[Marks],
    width: usize,
) -> Vec<Segment> {
    if width == 0 {
        return Vec::new();
    }
    let total = total_cost(tracks.iter().map(|(_, s)| *s));
    let show_total = tracks.iter().any(|(_, s)| s.has_cost());
    let total = format_cost_of(total, tracks.iter().any(|(_, s)| s.unpriced));
    let mut shown: Vec<usize> = (0..tracks.len()).collect();
    let ladder = [
        Detail::FULL,
        Detail {
            words: false,
            ..Detail::FULL
        },
        Detail {
            words: false,
            costs: false,
            ..Detail::FULL
        },
        Detail::COMPACT,
        Detail {
            name_max: 8,
            ..Detail::COMPACT
        },
        Detail {
            name_max: 5,
            ..Detail::COMPACT
        },
        Detail {
            name_max: 3,
            ..Detail::COMPACT
        },
        Detail {
            name_max: 1,
            ..Detail::COMPACT
        },
    ];
    for d in ladder {
        let line = layout(
            tracks,
            marks,
            &shown,
            d,
            show_total.then_some(total.as_str()),
        );
        if line_width(&line) <= width {
            return line;
        }
    }
    let tiny = Detail {
        name_max: 1,
        ..Detail::COMPACT
    };
    // Without the total, then without the least urgent tracks.
    let mut order = shown.clone();
    order.sort_by_key(|&i| (urgency(tracks[i].1.state), std::cmp::Reverse(i)));
    let mut line = layout(tracks, marks, &shown, tiny, None);
    // The most urgent track always stays, cut if need be.
    for drop in order.into_iter().take(tracks.len().saturating_sub(1)) {
        if line_width(&line) <= width {
            return line;
        }
        shown.retain(|&i| i != drop);
        line = layout(tracks, marks, &shown, tiny, None);
        let hidden = tracks.len() - shown.len();
        let gap = if shown.is_empty() { "" } else { " " };
        line.push(seg(format!("{gap}+{hidden}"), Style::Dim));
    }
    cut(line, width)
}

/// [`segments`] followed by `warning` (the forecast's `⚠ api×web`, when not empty), which
/// keeps its room: the tracks are fitted into what it leaves, and it shrinks to `⚠N` (N pairs)
/// only when the tracks would get fewer than 20 columns.
pub fn segments_with(
    tracks: &[(&str, &TrackStatus)],
    marks: &[Marks],
    warning: &str,
    pairs: usize,
    width: usize,
) -> Vec<Segment> {
    if warning.is_empty() {
        return segments_marked(tracks, marks, width);
    }
    let short = format!("⚠{pairs}");
    let text = if width.saturating_sub(crate::render::width(warning) + 1) >= 20 {
        warning.to_string()
    } else {
        short
    };
    let room = width.saturating_sub(crate::render::width(&text) + 1);
    let mut line = segments_marked(tracks, marks, room);
    line.push(seg(" ".to_string(), Style::Dim));
    line.push(seg(text, Style::Alert));
    cut(line, width)
}

/// The status line as a tmux format string, fitted into `width` columns. Every `#` of the
/// content is doubled so tmux never reads names or text as formats or styles.
pub fn tmux(tracks: &[(&str, &TrackStatus)], width: usize) -> String {
    tmux_with(tracks, &[], "", 0, width)
}

/// [`tmux`] with each track's [`Marks`] and the forecast's warning ([`segments_with`]).
pub fn tmux_with(
    tracks: &[(&str, &TrackStatus)],
    marks: &[Marks],
    warning: &str,
    pairs: usize,
    width: usize,
) -> String {
    let mut out = String::new();
    let mut current = Style::Text;
    for s in segments_with(tracks, marks, warning, pairs, width) {
        if s.style != current {
            out.push_str("#[default]");
            if let Some(style) = tmux_style(s.style) {
                out.push_str("#[");
                out.push_str(style);
                out.push(']');
            }
            current = s.style;
        }
        out.push_str(&s.text.replace('#', "##"));
    }
    if current != Style::Text {
        out.push_str("#[default]");
    }
    out
}

/// The segments' text without styles.
pub fn plain(segments: &[Segment]) -> String {
    segments.iter().map(|s| s.text.as_str()).collect()
}

/// Approximate terminal width of `s`: wide East Asian characters and emoji count 2, combining
/// marks and zero-width characters 0, everything else 1. Enough to fit a status line; exact
/// widths would need the Unicode tables of a dependency.
pub fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    match c as u32 {
        0x0300..=0x036F | 0x200B..=0x200F | 0xFE00..=0xFE0F | 0x20D0..=0x20FF => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

fn tmux_style(style: Style) -> Option<&'static str> {
    Some(match style {
        Style::Text => return None,
        Style::Dim => "fg=colour244",
        Style::Alert | Style::Mark(TrackState::Waiting) => "fg=black,bg=yellow,bold",
        Style::Mark(TrackState::Working) => "fg=cyan",
        Style::Mark(TrackState::Done) => "fg=green",
        Style::Mark(TrackState::Error | TrackState::OverBudget) => "fg=red,bold",
        Style::Warn => "fg=yellow,bold",
        Style::Mark(TrackState::Starting | TrackState::Idle | TrackState::Exited) => "fg=colour244",
        Style::Total => "bold",
    })
}

/// How much to show per track.
#[derive(Debug, Clone, Copy)]
struct Detail {
    words: bool,
    costs: bool,
    /// ` │ ` between tracks and a space after the mark; else a single space and none.
    wide: bool,
    name_max: usize,
}

impl Detail {
    const FULL: Detail = Detail {
        words: true,
        costs: true,
        wide: true,
        name_max: usize::MAX,
    };
    const COMPACT: Detail = Detail {
        words: false,
        costs: false,
        wide: false,
        name_max: usize::MAX,
    };
}

/// Lower is dropped first.
fn urgency(state: TrackState) -> u8 {
    match state {
        TrackState::Exited => 0,
        TrackState::Done => 1,
        TrackState::Idle => 2,
        TrackState::Starting => 3,
        TrackState::Working => 4,
        TrackState::Error | TrackState::OverBudget => 5,
        TrackState::Waiting => 6,
    }
}

fn seg(text: impl Into<String>, style: Style) -> Segment {
    Segment {
        text: text.into(),
        style,
        track: None,
    }
}

fn track_seg(text: impl Into<String>, style: Style, track: usize) -> Segment {
    Segment {
        track: Some(track),
        ..seg(text, style)
    }
}

fn layout(
    tracks: &[(&str, &TrackStatus)],
    marks: &[Marks],
    shown: &[usize],
    d: Detail,
    total: Option<&str>,
) -> Vec<Segment> {
    let sep = if d.wide { " │ " } else { " " };
    let mut out = Vec::new();
    for (n, &i) in shown.iter().enumerate() {
        let (name, status) = tracks[i];
        if n > 0 {
            out.push(seg(sep, Style::Dim));
        }
        let waiting = status.state == TrackState::Waiting;
        let pick = |normal| if waiting { Style::Alert } else { normal };
        let name: String = clean(name).chars().take(d.name_max).collect();
        let gap = if d.wide { " " } else { "" };
        out.push(track_seg(
            mark(status.state),
            pick(Style::Mark(status.state)),
            i,
        ));
        out.push(track_seg(format!("{gap}{name}"), pick(Style::Text), i));
        let m = marks.get(i).copied().unwrap_or_default();
        let check = match m.check {
            CheckState::Pass => Some(("✓", Style::Mark(TrackState::Done))),
            CheckState::Fail => Some(("✗", Style::Mark(TrackState::Error))),
            _ => None,
        };
        let mut sep = gap;
        if let Some((text, style)) = check {
            out.push(track_seg(format!("{sep}{text}"), pick(style), i));
            sep = "";
        }
        if m.outside_owns {
            out.push(track_seg(format!("{sep}⚑"), pick(Style::Dim), i));
            sep = "";
        }
        if m.unreachable {
            out.push(track_seg(
                format!("{sep}{UNREACHABLE_MARK}"),
                pick(Style::Warn),
                i,
            ));
        }
        if d.words {
            out.push(track_seg(format!(" {}", status.state), pick(Style::Dim), i));
        }
        if d.costs && status.has_cost() {
            out.push(track_seg(
                format!(" {}", format_status_cost(status)),
                pick(Style::Dim),
                i,
            ));
        }
        // Beside the cost, or the name when costs do not fit: the mark must not go first.
        if status.budget.is_some_and(|b| b.near()) {
            out.push(track_seg(BUDGET_MARK, pick(Style::Warn), i));
        }
    }
    if let Some(total) = total {
        if !out.is_empty() {
            out.push(seg(sep, Style::Dim));
        }
        out.push(seg(
            format!("Σ{}{total}", if d.wide { " " } else { "" }),
            Style::Total,
        ));
    }
    out
}

fn line_width(line: &[Segment]) -> usize {
    line.iter().map(|s| width(&s.text)).sum()
}

/// Cuts the line to `max` columns, ending with "…".
fn cut(line: Vec<Segment>, max: usize) -> Vec<Segment> {
    if line_width(&line) <= max {
        return line;
    }
    let mut out = Vec::new();
    let mut used = 0;
    for s in line {
        let w = width(&s.text);
        if used + w < max {
            used += w;
            out.push(s);
            continue;
        }
        let mut text = String::new();
        for c in s.text.chars() {
            if used + char_width(c) + 1 > max {
                break;
            }
            used += char_width(c);
            text.push(c);
        }
        text.push('…');
        out.push(Segment { text, ..s });
        break;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Tokens;

    fn st(state: TrackState, cost: f64) -> TrackStatus {
        TrackStatus {
            state,
            cost_usd: cost,
            tokens: Tokens {
                output: (cost * 1000.0) as u64,
                ..Tokens::default()
            },
            ..TrackStatus::default()
        }
    }

    fn line(tracks: &[(&str, &TrackStatus)], w: usize) -> String {
        plain(&segments(tracks, w))
    }

    #[test]
    fn the_forecast_warning_keeps_its_room_and_shrinks_last() {
        let (a, b) = (st(TrackState::Working, 0.42), st(TrackState::Done, 0.1));
        let tracks = [("api", &a), ("web", &b)];
        let warn = "⚠ api×web";
        assert_eq!(
            plain(&segments_with(&tracks, &[], warn, 1, 200)),
            "● api working $0.42 │ ✓ web done $0.10 │ Σ $0.52 ⚠ api×web"
        );
        let narrow = plain(&segments_with(&tracks, &[], warn, 1, 30));
        assert!(narrow.ends_with(" ⚠ api×web"), "{narrow}");
        assert!(width(&narrow) <= 30, "{narrow}");
        let tiny = plain(&segments_with(&tracks, &[], warn, 1, 24));
        assert!(tiny.ends_with(" ⚠1"), "{tiny}");
        assert_eq!(
            segments_with(&tracks, &[], "", 0, 200),
            segments(&tracks, 200)
        );
        assert!(tmux_with(&tracks, &[], warn, 1, 200).contains("⚠ api×web#[default]"));
    }

    #[test]
    fn full_line() {
        let (a, b, c) = (
            st(TrackState::Working, 0.42),
            st(TrackState::Waiting, 0.1),
            st(TrackState::Done, 0.03),
        );
        let tracks = [("api", &a), ("web", &b), ("docs", &c)];
        assert_eq!(
            line(&tracks, 200),
            "● api working $0.42 │ ? web waiting $0.10 │ ✓ docs done $0.03 │ Σ $0.55"
        );
        let segs = segments(&tracks, 200);
        assert!(
            segs.iter()
                .filter(|s| s.text.contains("web"))
                .all(|s| s.style == Style::Alert)
        );
        assert_eq!(segs[0].style, Style::Mark(TrackState::Working));
    }

    #[test]
    fn detail_goes_before_tracks() {
        let (a, b, c) = (
            st(TrackState::Done, 1.0),
            st(TrackState::Waiting, 2.0),
            st(TrackState::Working, 123.4),
        );
        let tracks = [("alpha", &a), ("bravo", &b), ("charlie", &c)];
        let mut last = usize::MAX;
        for w in (0..=80).rev() {
            let l = line(&tracks, w);
            assert!(width(&l) <= w, "{w}: {l:?}");
            assert!(width(&l) <= last);
            last = width(&l);
        }
        assert_eq!(
            line(&tracks, 75),
            "✓ alpha $1.00 │ ? bravo $2.00 │ ● charlie $123 │ Σ $126"
        );
        assert_eq!(line(&tracks, 54), "✓ alpha │ ? bravo │ ● charlie │ Σ $126");
        assert_eq!(line(&tracks, 37), "✓alpha ?bravo ●charlie Σ$126");
        assert_eq!(line(&tracks, 27), "✓alpha ?bravo ●charl Σ$126");
        assert_eq!(line(&tracks, 19), "✓a ?b ●c Σ$126");
        assert_eq!(line(&tracks, 13), "✓a ?b ●c");
        // Then tracks go, the done one first, the waiting one never.
        assert_eq!(line(&tracks, 8), "✓a ?b ●c");
        assert_eq!(line(&tracks, 7), "?b +2");
        assert_eq!(line(&tracks, 4), "?b …");
        assert_eq!(line(&tracks, 1), "…");
        assert_eq!(line(&tracks, 0), "");
    }

    #[test]
    fn budget_marks() {
        use crate::budget::apply_budgets;
        let mut s = [
            st(TrackState::Working, 0.85),
            st(TrackState::Working, 1.02),
            st(TrackState::Done, 0.10),
        ];
        for t in &mut s {
            t.model = Some("claude-sonnet-4-5".into());
        }
        apply_budgets(
            &mut s,
            &[Some(1.0), Some(1.0), Some(1.0)],
            &[false; 3],
            None,
        );
        let tracks = [("api", &s[0]), ("web", &s[1]), ("docs", &s[2])];
        assert_eq!(
            line(&tracks, 200),
            "● api working $0.85! │ ⊘ web over-budget $1.02 │ ✓ docs done $0.10 │ Σ $1.97"
        );
        let segs = segments(&tracks, 200);
        assert!(segs.iter().any(|x| x.text == "!" && x.style == Style::Warn));
        assert!(segs.contains(&Segment {
            text: "⊘".into(),
            style: Style::Mark(TrackState::OverBudget),
            track: Some(1)
        }));
        // Without room for costs, the mark stays beside the name.
        assert_eq!(line(&tracks, 24), "●api! ⊘web ✓docs Σ$1.97");
        assert!(tmux(&tracks, 200).contains("#[fg=yellow,bold]!"));
    }

    #[test]
    fn tmux_escapes_content() {
        let a = st(TrackState::Error, 0.0);
        let out = tmux(&[("x#[fg=red]#(rm -rf ~)", &a)], 100);
        assert!(out.contains("x##[fg=red]##(rm -rf ~)"), "{out}");
        assert!(
            out.starts_with("#[default]#[fg=red,bold]✗#[default]"),
            "{out}"
        );
        assert!(out.ends_with("#[default]"));
        // Control characters in names never reach tmux.
        let out = tmux(&[("a\u{1b}]0;t\u{7}b\n", &a)], 100);
        assert!(
            out.contains("ab") && !out.contains('\u{1b}') && !out.contains('\n'),
            "{out}"
        );
    }

    #[test]
    fn no_cost_no_total() {
        let s = st(TrackState::Idle, 0.0);
        assert_eq!(line(&[("sh", &s)], 80), "z sh idle");
        assert_eq!(line(&[], 80), "");
    }

    #[test]
    fn costs_format() {
        assert_eq!(format_cost(0.0), "$0.00");
        assert_eq!(format_cost(0.004), "$0.00");
        assert_eq!(format_cost(12.345), "$12.35");
        assert_eq!(format_cost(1234.5), "$1234");
        assert_eq!(format_cost(f64::NAN), "$0.00");
        assert_eq!(format_cost(-1.0), "$0.00");
        assert_eq!(format_cost_of(0.0, true), "$?");
        assert_eq!(format_cost_of(0.031, true), "$0.03+?");
        assert_eq!(format_cost_of(0.031, false), "$0.03");
    }

    #[test]
    fn unknown_costs_are_not_guessed() {
        let priced = st(TrackState::Working, 0.5);
        let mut unknown = st(TrackState::Done, 0.0);
        unknown.unpriced = true;
        unknown.tokens.input = 1200;
        assert_eq!(
            line(&[("api", &priced), ("web", &unknown)], 80),
            "● api working $0.50 │ ✓ web done $? │ Σ $0.50+?"
        );
    }

    #[test]
    fn checks_and_strays_show_beside_the_name() {
        let (a, b) = (st(TrackState::Working, 0.42), st(TrackState::Done, 0.1));
        let marks = [
            Marks {
                check: CheckState::Fail,
                outside_owns: false,
                unreachable: false,
            },
            Marks {
                check: CheckState::Pass,
                outside_owns: true,
                unreachable: true,
            },
        ];
        let tracks = [("api", &a), ("web", &b)];
        let l = |w| plain(&segments_marked(&tracks, &marks, w));
        assert_eq!(
            l(200),
            "● api ✗ working $0.42 │ ✓ web ✓⚑↯ done $0.10 │ Σ $0.52"
        );
        assert_eq!(l(20), "●api✗ ✓web✓⚑↯ Σ$0.52");
        let segs = segments_marked(&tracks, &marks, 200);
        let fail = segs.iter().find(|s| s.text == " ✗").unwrap();
        assert_eq!(fail.style, Style::Mark(TrackState::Error));
        assert_eq!(fail.track, Some(0));
        // Running, stale and no check show nothing: only a result on the tree as it is.
        for check in [CheckState::Running, CheckState::Stale, CheckState::None] {
            let m = [Marks {
                check,
                outside_owns: false,
                unreachable: false,
            }];
            assert_eq!(
                plain(&segments_marked(&[("api", &a)], &m, 200)),
                "● api working $0.42 │ Σ $0.42"
            );
        }
    }

    #[test]
    fn widths() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("日本"), 4);
        assert_eq!(width("e\u{301}"), 1);
        assert_eq!(width("✓●…"), 3);
    }
}
