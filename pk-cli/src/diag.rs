//! Plan diagnostics: where in `parallel.toml` something is wrong, rendered like rustc and uv:
//!
//! ```text
//! error: track name `Api` is invalid
//!   --> parallel.toml:12:8
//!    |
//! 12 | name = "Api"
//!    |        ^^^^^
//!    = hint: use lowercase letters, digits and `-`, …
//! ```
//!
//! Lines and columns are 1-based; columns count characters, not bytes. A span over several lines
//! is underlined on its first line. Rendering is a pure function of the diagnostics.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Where a diagnostic points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Number of characters to underline (at least 1), on this line only.
    pub len: usize,
    /// The text of the line (without its line break).
    pub source_line: String,
}

impl Location {
    /// The location of the byte range `span` of `source`. Out-of-range spans are clamped.
    pub fn from_span(source: &str, span: Range<usize>) -> Location {
        let start = floor_boundary(source, span.start.min(source.len()));
        let end = floor_boundary(source, span.end.clamp(start, source.len()));
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let source_line = source[line_start..line_end].trim_end_matches('\r');
        let column = source[line_start..start].chars().count() + 1;
        let len = source[start..end.min(line_end)].chars().count().max(1);
        Location {
            line: source[..start].matches('\n').count() + 1,
            column,
            len,
            source_line: source_line.to_string(),
        }
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One problem in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where, when the problem has a place in the file.
    pub location: Option<Location>,
    /// What is wrong (a lowercase fragment).
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A problem at `span` of `source`.
    pub fn at(source: &str, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            location: Some(Location::from_span(source, span)),
            message: message.into(),
            hint: None,
        }
    }

    /// A problem of the file as a whole (it cannot be read, …).
    pub fn whole_file(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            location: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds the hint.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }
}

/// Why a plan could not be loaded: one or more diagnostics about one file. Converts into a
/// usage error (exit 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    /// The plan file, as it was given to `load`.
    pub path: PathBuf,
    /// The problems, in the order of the file (at least one).
    pub diagnostics: Vec<Diagnostic>,
}

impl PlanError {
    /// An error with these diagnostics.
    pub fn new(path: &Path, diagnostics: Vec<Diagnostic>) -> PlanError {
        PlanError {
            path: path.to_path_buf(),
            diagnostics,
        }
    }

    /// The full rendering (see [`render`]).
    pub fn render(&self) -> String {
        render(&self.path, &self.diagnostics)
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for PlanError {}

impl From<PlanError> for crate::error::Error {
    fn from(err: PlanError) -> Self {
        crate::error::Error::plan(err)
    }
}

/// Renders diagnostics about the file at `path`, separated by blank lines, without a trailing
/// line break. Control characters of the file are shown as `�` so a plan cannot drive the
/// terminal; tabs are kept so that the caret line stays aligned.
pub fn render(path: &Path, diagnostics: &[Diagnostic]) -> String {
    let blocks: Vec<String> = diagnostics.iter().map(|d| render_one(path, d)).collect();
    blocks.join("\n\n")
}

/// Bidi embeddings, overrides and isolates: they make text read differently from what it is.
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with control and bidi characters (but line breaks) written as escapes (`\u{1b}`), so
/// that no value quoted in a message (a key, a path, a value) can drive the terminal.
fn inert(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if (c.is_control() && c != '\n') || is_bidi(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

fn render_one(path: &Path, diag: &Diagnostic) -> String {
    use std::fmt::Write as _;
    let mut out = format!("error: {}\n", inert(&diag.message));
    let path = inert(&path.display().to_string());
    let width = diag
        .location
        .as_ref()
        .map_or(1, |l| l.line.to_string().len());
    let pad = " ".repeat(width);
    // Writing to a String cannot fail.
    match &diag.location {
        Some(loc) => {
            let line: String = loc
                .source_line
                .chars()
                .map(|c| {
                    if (c.is_control() && c != '\t') || is_bidi(c) {
                        '\u{fffd}'
                    } else {
                        c
                    }
                })
                .collect();
            let indent: String = line
                .chars()
                .take(loc.column - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let gap = if line.is_empty() { "" } else { " " };
            let carets = "^".repeat(loc.len);
            let (n, col) = (loc.line, loc.column);
            let _ = writeln!(out, "{pad}--> {path}:{n}:{col}");
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{n} |{gap}{line}");
            let _ = write!(out, "{pad} | {indent}{carets}");
        }
        None => {
            let _ = write!(out, "{pad}--> {path}");
        }
    }
    if let Some(hint) = &diag.hint {
        let _ = write!(out, "\n{pad} = hint: {}", inert(hint));
    }
    out
}

/// A TOML or schema error from the `toml` crate, in pk's words where it helps.
pub(crate) fn syntax_diagnostic(src: &str, err: &toml::de::Error) -> Diagnostic {
    let message = err.message().trim_end();
    let (message, hint) = match message.strip_prefix("unknown field ") {
        Some(rest) => match rest.split_once(", expected ") {
            Some((key, expected)) => {
                let known = expected.split('`').skip(1).step_by(2);
                let typo = did_you_mean(key.trim_matches('`'), known);
                let hint = match typo {
                    Some(similar) => format!("did you mean `{similar}`? (expected {expected})"),
                    None => format!("expected {expected}"),
                };
                (format!("unknown key {key}"), Some(hint))
            }
            None => (format!("unknown key {rest}"), None),
        },
        None => (
            message
                .replace("expected i64", "expected an integer")
                .replace("expected a sequence", "expected an array"),
            None,
        ),
    };
    let diag = match err.span() {
        Some(span) => Diagnostic::at(src, span, message),
        None => Diagnostic::whole_file(message),
    };
    match hint {
        Some(hint) => diag.hint(hint),
        None => diag,
    }
}

/// The candidate closest to `word` (by edit distance), if it is close enough to be a typo.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance where swapping two neighbouring characters counts as one edit (optimal
/// string alignment), so `nmae` is one edit from `name`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "[session]\nname = \"x\"\n\n[[track]]\nname = \"Api\"\n";

    fn span_of(src: &str, needle: &str) -> Range<usize> {
        let i = src.find(needle).unwrap();
        i..i + needle.len()
    }

    #[test]
    fn locates_lines_and_character_columns() {
        let loc = Location::from_span(SRC, span_of(SRC, "\"Api\""));
        assert_eq!((loc.line, loc.column, loc.len), (5, 8, 5));
        assert_eq!(loc.source_line, "name = \"Api\"");

        let src = "name = \"été\" # ünïcode\nx";
        let loc = Location::from_span(src, span_of(src, "# ü"));
        assert_eq!((loc.line, loc.column, loc.len), (1, 14, 3));
    }

    #[test]
    fn multi_line_spans_underline_the_first_line() {
        let src = "a = [\n  1,\n]\n";
        let loc = Location::from_span(src, 4..src.len() - 1);
        assert_eq!((loc.line, loc.column, loc.len), (1, 5, 1));
    }

    #[test]
    fn empty_and_end_of_file_spans_get_one_caret() {
        let loc = Location::from_span(SRC, SRC.len()..SRC.len());
        assert_eq!((loc.line, loc.column, loc.len), (6, 1, 1));
        assert_eq!(loc.source_line, "");
        let loc = Location::from_span("abc", 10..20);
        assert_eq!((loc.line, loc.column, loc.len), (1, 4, 1));
    }

    #[test]
    fn renders_like_rustc() {
        let mut src = String::from("#\n").repeat(7);
        src.push_str("[[track]]\nname = \"x\"\n\n[[track]]\nname = \"Api\"\n");
        let diag = Diagnostic::at(
            &src,
            span_of(&src, "\"Api\""),
            "track name `Api` is invalid",
        )
        .hint("use lowercase letters");
        let text = render(Path::new("dir/parallel.toml"), &[diag]);
        assert_eq!(
            text,
            "error: track name `Api` is invalid\n  --> dir/parallel.toml:12:8\n   |\n\
             12 | name = \"Api\"\n   |        ^^^^^\n   = hint: use lowercase letters"
        );
    }

    #[test]
    fn renders_several_and_whole_file_diagnostics() {
        let a = Diagnostic::at(SRC, span_of(SRC, "\"x\""), "first");
        let b = Diagnostic::whole_file("cannot read").hint("check it");
        let text = render(Path::new("p.toml"), &[a, b]);
        assert_eq!(
            text,
            "error: first\n --> p.toml:2:8\n  |\n2 | name = \"x\"\n  |        ^^^\n\n\
             error: cannot read\n --> p.toml\n  = hint: check it"
        );
    }

    #[test]
    fn keeps_tabs_aligned_and_hides_control_characters() {
        let src = "\tname = \"a\u{1b}b\"";
        let diag = Diagnostic::at(src, span_of(src, "\"a"), "bad");
        let text = render(Path::new("p"), &[diag]);
        assert!(
            text.contains("1 | \tname = \"a\u{fffd}b\"\n  | \t       ^^"),
            "{text}"
        );
    }

    #[test]
    fn messages_and_hints_cannot_drive_the_terminal() {
        let src = "a = \"\u{202e}x\"";
        let diag = Diagnostic::at(src, 4..src.len(), "key `\u{1b}]52;c;eA==\u{7}` \u{9b}31m")
            .hint("path \u{202e}txt.exe");
        let text = render(Path::new("p\u{1b}[2J"), &[diag]);
        assert!(
            !text
                .chars()
                .any(|c| (c.is_control() && c != '\n') || is_bidi(c)),
            "{text:?}"
        );
        assert!(text.contains("key `\\u{1b}]52;c;eA==\\u{7}`"), "{text}");
    }

    #[test]
    fn converts_to_a_usage_error() {
        let err = PlanError::new(Path::new("p"), vec![Diagnostic::whole_file("gone")]);
        let err: crate::error::Error = err.into();
        assert_eq!(err.kind, crate::error::ErrorKind::Plan);
        assert_eq!(err.message, "error: gone\n --> p");
    }

    #[test]
    fn suggestions_and_duplicates() {
        assert_eq!(did_you_mean("shema", ["api", "schema"]), Some("schema"));
        assert_eq!(did_you_mean("zzz", ["api", "schema"]), None);
        assert_eq!(did_you_mean("nmae", ["base", "name"]), Some("name"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
