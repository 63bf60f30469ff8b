//! Making untrusted text safe to show in a status bar or a table.
//!
//! Transcripts contain whatever the model, the tools and the repository produced: a tool
//! command or an error message may carry escape sequences that would recolour, retitle or
//! scramble the user's terminal (or, through tmux, run format expansions), and bidi overrides
//! that make text read differently from what it is. Everything this crate hands out passes
//! through [`clean`] first; tmux `#` escaping is the renderer's job ([`crate::render`]).

use std::iter::Peekable;
use std::str::Chars;

const ESC: char = '\u{1b}';
const BEL: char = '\u{07}';
/// The 8-bit String Terminator.
const ST: char = '\u{9c}';

/// Returns `text` without control characters, escape sequences and bidi overrides.
///
/// - whole ANSI/VT escape sequences are removed: CSI (`ESC [` … final byte), OSC (`ESC ]` …
///   `BEL` or `ESC \`), DCS / SOS / PM / APC strings (`ESC P|X|^|_` … `ESC \`), two- and
///   three-character `ESC` sequences, and their 8-bit C1 forms; an unterminated string
///   sequence swallows the rest of the text rather than leak its payload;
/// - a run of whitespace that contains a control (`\t \n \r \v \f`) becomes one space, and
///   none is produced at the start or the end (plain runs of spaces are left alone);
/// - every other C0 control, DEL and every C1 control are removed;
/// - the bidi embedding, override and isolate characters U+202A–U+202E and U+2066–U+2069 are
///   removed.
pub fn clean(text: &str) -> String {
    // Most text is printable ASCII, which comes out as it went in.
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut it = text.chars().peekable();
    let mut space = false;
    while let Some(c) = it.next() {
        match c {
            ESC => skip_escape(&mut it),
            '\u{9b}' => skip_csi(&mut it),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => {
                if skip_string(&mut it) {
                    skip_escape(&mut it);
                }
            }
            '\t' | '\n' | '\r' | '\u{0b}' | '\u{0c}' => {
                space = true;
                while out.ends_with(' ') {
                    out.pop();
                }
            }
            ' ' if space => {}
            c if is_dropped(c) => {}
            c => {
                if space && !out.is_empty() {
                    out.push(' ');
                }
                space = false;
                out.push(c);
            }
        }
    }
    out
}

/// Shortens `s` to at most `max_chars` characters, ending with "…" when something was cut.
pub fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().nth(max_chars).is_none() {
        return s.to_string();
    }
    if max_chars == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max_chars - 1).collect();
    out.push('…');
    out
}

/// [`truncate`], reusing `s` when it is short enough.
pub(crate) fn truncate_owned(s: String, max_chars: usize) -> String {
    if s.chars().nth(max_chars).is_none() {
        s
    } else {
        truncate(&s, max_chars)
    }
}

/// Characters removed without a trace: C0 (the whitespace ones are handled before), DEL, C1,
/// bidi embeddings/overrides/isolates.
fn is_dropped(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Skips what follows an `ESC`. Loops instead of recursing so that `ESC ] ESC ] ESC ] …`
/// cannot exhaust the stack.
fn skip_escape(it: &mut Peekable<Chars<'_>>) {
    loop {
        let Some(&c) = it.peek() else { return };
        match c {
            '[' => {
                it.next();
                skip_csi(it);
                return;
            }
            ']' | 'P' | 'X' | '^' | '_' => {
                it.next();
                if !skip_string(it) {
                    return;
                }
            }
            '\u{20}'..='\u{2f}' => {
                // nF sequence: intermediates, then one final byte (e.g. `ESC ( B`).
                while it.next_if(|c| ('\u{20}'..='\u{2f}').contains(c)).is_some() {}
                it.next_if(|c| ('\u{30}'..='\u{7e}').contains(c));
                return;
            }
            '\u{30}'..='\u{7e}' => {
                it.next();
                return;
            }
            // A lone ESC: drop it and show what follows.
            _ => return,
        }
    }
}

/// Skips a CSI body: parameter and intermediate bytes up to a final byte. A character that
/// cannot belong to a CSI ends it without being consumed.
fn skip_csi(it: &mut Peekable<Chars<'_>>) {
    while let Some(&c) = it.peek() {
        match c {
            '\u{40}'..='\u{7e}' => {
                it.next();
                return;
            }
            '\u{20}'..='\u{3f}' => {
                it.next();
            }
            _ => return,
        }
    }
}

/// Skips a control string (OSC, DCS, SOS, PM, APC) up to its terminator. Returns true when it
/// was ended by an `ESC` that starts another sequence (the caller then skips that one).
fn skip_string(it: &mut Peekable<Chars<'_>>) -> bool {
    while let Some(c) = it.next() {
        match c {
            BEL | ST => return false,
            ESC => {
                return it.next_if_eq(&'\\').is_none();
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plain_text() {
        assert_eq!(clean("Edit src/api.rs"), "Edit src/api.rs");
        assert_eq!(
            clean("naïve 日本語 🚀 #[fg=red]"),
            "naïve 日本語 🚀 #[fg=red]"
        );
        assert_eq!(clean(""), "");
    }

    #[test]
    fn whitespace_controls_become_one_space() {
        assert_eq!(clean("a\n\n\tb"), "a b");
        assert_eq!(clean("\r\nlead and trail\n\n"), "lead and trail");
        assert_eq!(clean("a \n b"), "a b");
        assert_eq!(clean("  \n x \t"), "x");
        assert_eq!(clean("keep   spaces"), "keep   spaces");
        assert_eq!(clean("x\r\n\u{0b}\u{0c}y"), "x y");
    }

    #[test]
    fn removes_other_controls() {
        assert_eq!(clean("a\u{0}\u{7}\u{8}b\u{7f}c"), "abc");
        assert_eq!(clean("a\u{85}b\u{9c}c"), "abc");
    }

    #[test]
    fn removes_csi_sequences() {
        assert_eq!(clean("\u{1b}[1;31mred\u{1b}[0m"), "red");
        assert_eq!(clean("\u{1b}[?1049h\u{1b}[2J\u{1b}[Hscreen"), "screen");
        assert_eq!(clean("\u{9b}31mc1\u{9b}0m"), "c1");
        // A CSI cut short by a non-CSI character does not eat that character.
        assert_eq!(clean("\u{1b}[12é"), "é");
        assert_eq!(clean("tail\u{1b}[12"), "tail");
    }

    #[test]
    fn removes_string_sequences() {
        assert_eq!(clean("\u{1b}]0;evil title\u{7}ok"), "ok");
        assert_eq!(
            clean("\u{1b}]8;;https://x\u{1b}\\link\u{1b}]8;;\u{1b}\\"),
            "link"
        );
        assert_eq!(clean("\u{1b}Pq#0;2;0;0;0\u{1b}\\after"), "after");
        assert_eq!(
            clean("\u{1b}_apc\u{1b}\\a\u{1b}^pm\u{9c}b\u{1b}Xsos\u{1b}\\c"),
            "abc"
        );
        assert_eq!(clean("\u{9d}0;osc8bit\u{9c}x"), "x");
        // An OSC ended by the start of another sequence: both go.
        assert_eq!(clean("\u{1b}]0;t\u{1b}[31mred"), "red");
        // Unterminated: the payload never leaks.
        assert_eq!(clean("ok\u{1b}]52;c;c2VjcmV0"), "ok");
    }

    #[test]
    fn removes_short_escapes() {
        assert_eq!(clean("\u{1b}7saved\u{1b}8"), "saved");
        assert_eq!(clean("\u{1b}(Bascii\u{1b})0"), "ascii");
        assert_eq!(clean("\u{1b}c"), "");
        assert_eq!(clean("a\u{1b}"), "a");
        assert_eq!(clean("\u{1b}\u{1b}[31mx"), "x");
        assert_eq!(clean("\u{1b}é"), "é");
    }

    #[test]
    fn nested_starts_do_not_recurse() {
        let evil = "\u{1b}]".repeat(100_000) + "x";
        assert_eq!(clean(&evil), "");
        let evil = "\u{1b}]\u{1b}".repeat(100_000);
        assert_eq!(clean(&evil), "");
    }

    #[test]
    fn removes_bidi_overrides() {
        assert_eq!(clean("a\u{202e}b\u{2066}c\u{2069}d\u{202a}"), "abcd");
        // Other invisible characters are not bidi controls and stay.
        assert_eq!(clean("a\u{200b}b"), "a\u{200b}b");
    }

    #[test]
    fn truncates_with_ellipsis() {
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("日本語テキスト", 3), "日本…");
        assert_eq!(truncate("abc", 1), "…");
        assert_eq!(truncate("abc", 0), "");
        assert_eq!(truncate("", 0), "");
    }
}
