//! Text from outside (a plan, a path, a commit subject) made safe to quote in a message for
//! people: what could drive the terminal or hide from the reader is written as an escape.
//! (pk-status's `sanitize::clean` removes such characters instead: the status bar has no room
//! for escapes and must never show a half sequence.)

/// `s` with control characters and invisible formatting characters (bidi overrides, zero-width
/// spaces, the soft hyphen, the byte-order mark) escaped: `\t`, `\r`, `\u{1b}`, `\u{202e}`.
/// Line breaks stay when `newlines` is true (a block of commands), else become `\n` (a value
/// quoted inside one line).
pub(crate) fn visible(s: &str, newlines: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let invisible = matches!(c,
            '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
        if c == '\n' && newlines {
            out.push(c);
        } else if c.is_control() {
            out.extend(c.escape_default());
        } else if invisible {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_invisible_characters_are_escaped() {
        assert_eq!(visible("a\tb\u{1b}[31m\n", true), "a\\tb\\u{1b}[31m\n");
        assert_eq!(visible("a\nb", false), "a\\nb");
        assert_eq!(visible("x\u{202e}y\u{200b}", false), "x\\u{202e}y\\u{200b}");
        assert_eq!(visible("café", false), "café");
    }
}
