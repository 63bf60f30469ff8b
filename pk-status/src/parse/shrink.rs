//! Making a record small before parsing it.
//!
//! Most of a Claude transcript's bytes are text no status needs: tool results (there twice, in
//! the message and again in `toolUseResult`), files written or read, thinking and its
//! signature, pasted images, file-history snapshots. Building a `serde_json::Value` of all of
//! it, every string allocated and unescaped, ran at about 100 MB/s; the watcher must read a
//! session of hundreds of megabytes at a useful fraction of disk speed (issue 3).
//!
//! So for the Claude formats each line is first copied without what the parsers never read:
//! the values of some keys are left out (at any depth), and every other string is cut to its
//! first [`Policy::keep`] bytes, or [`Policy::keep_long`] for the values that name a tool's
//! target (the parsers look at the first 512 characters of those, [`super::tools`]). The copy
//! is a few hundred bytes to a few KB whatever the line's size; finding where a string ends is
//! a `memchr` for its closing quote, so long text costs little more than reading it.
//!
//! Only the structure outside strings and the parts kept are checked here; what is left out of
//! a long string is not (an invalid escape or a control character there goes unnoticed). A
//! line the copier cannot follow is parsed whole, as before.

use memchr::memchr;

/// What to leave out of, and cut in, the records of a format.
#[derive(Debug)]
pub(crate) struct Policy {
    /// What becomes of a key's value, wherever the key is.
    pub key: fn(&[u8]) -> Keep,
    /// Bytes kept of a string under a [`Keep::Short`] key: an error message is shown to 200
    /// characters, a prompt is classified by its first few.
    pub keep: usize,
    /// Bytes kept of a string under a [`Keep::Long`] key.
    pub keep_long: usize,
}

/// What becomes of the value of a key (its strings, also in arrays and objects under it,
/// unless their own keys say otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Left out: no parser reads it.
    Drop,
    /// Strings cut to [`Policy::keep`] bytes.
    Short,
    /// Strings cut to [`Policy::keep_long`] bytes: paths, commands and other targets of tool
    /// calls.
    Long,
}

/// Deepest nesting followed (serde_json's own limit).
const MAX_DEPTH: usize = 128;

/// Copies the JSON object `src` into `out` as `policy` says. False when `src` is not one
/// complete JSON object (or nests too deep): then parse it whole.
pub(crate) fn shrink(src: &[u8], policy: &Policy, out: &mut Vec<u8>) -> bool {
    out.clear();
    let mut s = Shrinker {
        src,
        i: 0,
        out,
        policy,
    };
    s.ws();
    if s.peek() != Some(b'{') || !s.value(0, policy.keep) {
        return false;
    }
    s.ws();
    s.i == src.len()
}

struct Shrinker<'a, 'o> {
    src: &'a [u8],
    i: usize,
    out: &'o mut Vec<u8>,
    policy: &'a Policy,
}

impl Shrinker<'_, '_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// Copies the value at the cursor; its strings keep `keep` bytes.
    fn value(&mut self, depth: usize, keep: usize) -> bool {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1, keep),
            Some(b'"') => self.string(keep),
            Some(_) => self.scalar(true),
            None => false,
        }
    }

    fn object(&mut self, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        self.i += 1;
        self.out.push(b'{');
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            self.out.push(b'}');
            return true;
        }
        let mut first = true;
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return false;
            }
            let start = self.i;
            let Some(end) = string_end(self.src, start + 1) else {
                return false;
            };
            let key = &self.src[start + 1..end];
            self.i = end + 1;
            self.ws();
            if self.peek() != Some(b':') {
                return false;
            }
            self.i += 1;
            self.ws();
            let keep = match (self.policy.key)(key) {
                Keep::Drop => None,
                Keep::Short => Some(self.policy.keep),
                Keep::Long => Some(self.policy.keep_long),
            };
            if let Some(keep) = keep {
                if !first {
                    self.out.push(b',');
                }
                first = false;
                self.out.extend_from_slice(&self.src[start..=end]);
                self.out.push(b':');
                if !self.value(depth, keep) {
                    return false;
                }
            } else if !self.skip(depth) {
                return false;
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    self.out.push(b'}');
                    return true;
                }
                _ => return false,
            }
        }
    }

    fn array(&mut self, depth: usize, keep: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        self.i += 1;
        self.out.push(b'[');
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            self.out.push(b']');
            return true;
        }
        loop {
            self.ws();
            if !self.value(depth, keep) {
                return false;
            }
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    self.out.push(b',');
                }
                Some(b']') => {
                    self.i += 1;
                    self.out.push(b']');
                    return true;
                }
                _ => return false,
            }
        }
    }

    /// Copies the string at the cursor, cut to about `keep` bytes.
    fn string(&mut self, keep: usize) -> bool {
        let start = self.i;
        let Some(end) = string_end(self.src, start + 1) else {
            return false;
        };
        let body = &self.src[start + 1..end];
        if body.len() <= keep {
            self.out.extend_from_slice(&self.src[start..=end]);
        } else {
            self.out.push(b'"');
            self.out.extend_from_slice(&body[..cut_point(body, keep)]);
            self.out.push(b'"');
        }
        self.i = end + 1;
        true
    }

    /// A number, `true`, `false` or `null`: up to the next delimiter (serde_json checks it).
    fn scalar(&mut self, copy: bool) -> bool {
        let start = self.i;
        while let Some(c) = self.peek() {
            if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.i += 1;
        }
        if copy {
            self.out.extend_from_slice(&self.src[start..self.i]);
        }
        self.i > start
    }

    /// Passes over the value at the cursor without copying it.
    fn skip(&mut self, depth: usize) -> bool {
        match self.peek() {
            Some(b'"') => match string_end(self.src, self.i + 1) {
                Some(end) => {
                    self.i = end + 1;
                    true
                }
                None => false,
            },
            Some(b'{' | b'[') => {
                let mut open = 0usize;
                while let Some(c) = self.peek() {
                    match c {
                        b'"' => match string_end(self.src, self.i + 1) {
                            Some(end) => self.i = end,
                            None => return false,
                        },
                        b'{' | b'[' => {
                            open += 1;
                            if depth + open > MAX_DEPTH {
                                return false;
                            }
                        }
                        b'}' | b']' => {
                            open -= 1;
                            if open == 0 {
                                self.i += 1;
                                return true;
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
                false
            }
            Some(_) => self.scalar(false),
            None => false,
        }
    }
}

/// The index of the quote that ends the string whose content starts at `from`.
fn string_end(src: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let quote = at + find_quote(src.get(at..)?)?;
        // Escaped when an odd number of backslashes comes before it.
        let backslashes = src[from..quote]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if backslashes % 2 == 0 {
            return Some(quote);
        }
        at = quote + 1;
    }
}

/// The first `"` in `s`: byte by byte over the first bytes (keys and most values are short),
/// then `memchr`.
fn find_quote(s: &[u8]) -> Option<usize> {
    const NEAR: usize = 24;
    let near = s.len().min(NEAR);
    match s[..near].iter().position(|&b| b == b'"') {
        Some(i) => Some(i),
        None => memchr(b'"', &s[near..]).map(|i| i + near),
    }
}

/// Where to cut the content of a string (still escaped) to keep about `keep` bytes: never
/// inside an escape sequence, between the two halves of a surrogate pair, or inside a UTF-8
/// character.
fn cut_point(body: &[u8], keep: usize) -> usize {
    let mut i = 0;
    while i < keep && i < body.len() {
        i += match (body[i], body.get(i + 1)) {
            (b'\\', Some(b'u')) if is_high_surrogate(body.get(i + 2..i + 6)) => {
                if body.get(i + 6..i + 8) == Some(b"\\u") {
                    12
                } else {
                    6
                }
            }
            (b'\\', Some(b'u')) => 6,
            (b'\\', _) => 2,
            _ => 1,
        };
    }
    let mut i = i.min(body.len());
    while i < body.len() && body[i] & 0xC0 == 0x80 {
        i += 1;
    }
    i
}

/// Whether four hex digits are a UTF-16 high surrogate (`D800`–`DBFF`).
fn is_high_surrogate(hex: Option<&[u8]>) -> bool {
    match hex {
        Some([d, x, _, _]) => {
            d.eq_ignore_ascii_case(&b'd') && matches!(x, b'8' | b'9' | b'a' | b'b' | b'A' | b'B')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(key: &[u8]) -> Keep {
        match key {
            b"big" | b"gone" => Keep::Drop,
            b"command" => Keep::Long,
            _ => Keep::Short,
        }
    }

    const P: Policy = Policy {
        key,
        keep: 4,
        keep_long: 8,
    };

    fn run(src: &str) -> Option<String> {
        let mut out = Vec::new();
        shrink(src.as_bytes(), &P, &mut out).then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn drops_keys_at_any_depth_and_keeps_the_commas_right() {
        assert_eq!(
            run(r#" { "big" : {"a":[1,"}]"]}, "a":1,"b":{"gone":"x","c":[true,null]},"gone":2 } "#)
                .as_deref(),
            Some(r#"{"a":1,"b":{"c":[true,null]}}"#)
        );
        assert_eq!(run(r#"{"big":1}"#).as_deref(), Some("{}"));
        assert_eq!(
            run(r#"{"a":{},"b":[],"c":-1.5e3}"#).as_deref(),
            Some(r#"{"a":{},"b":[],"c":-1.5e3}"#)
        );
    }

    #[test]
    fn keeps_only_the_keys_asked_for() {
        fn only_a_b(key: &[u8]) -> Keep {
            match key {
                b"a" | b"b" => Keep::Short,
                _ => Keep::Drop,
            }
        }
        let p = Policy { key: only_a_b, ..P };
        let mut out = Vec::new();
        assert!(shrink(
            br#"{"x":{"a":1},"a":{"b":[{"a":2,"y":3}],"z":4},"b":5}"#,
            &p,
            &mut out
        ));
        assert_eq!(out, br#"{"a":{"b":[{"a":2}]},"b":5}"#);
    }

    #[test]
    fn cuts_long_strings_where_it_is_safe() {
        assert_eq!(
            run(r#"{"t":"abcdefgh","command":"abcdefghij","u":["abcdef"]}"#).as_deref(),
            Some(r#"{"t":"abcd","command":"abcdefgh","u":["abcd"]}"#)
        );
        // Not inside an escape, a surrogate pair or a UTF-8 character.
        assert_eq!(
            run(r#"{"t":"abc\"def"}"#).as_deref(),
            Some(r#"{"t":"abc\""}"#)
        );
        assert_eq!(
            run(r#"{"t":"ab\u00e9xyz"}"#).as_deref(),
            Some(r#"{"t":"ab\u00e9"}"#)
        );
        assert_eq!(
            run(r#"{"t":"a\ud83e\udd80xyz"}"#).as_deref(),
            Some(r#"{"t":"a\ud83e\udd80"}"#)
        );
        assert_eq!(run(r#"{"t":"abc€€"}"#).as_deref(), Some(r#"{"t":"abc€"}"#));
        assert_eq!(
            run(r#"{"t":"a\\\\\"bcdef"}"#).as_deref(),
            Some(r#"{"t":"a\\\\"}"#)
        );
        // Every cut parses.
        for s in [
            r#"{"t":"\\\\\\\\\\"}"#,
            r#"{"t":"\n\n\n\n\n\n"}"#,
            r#"{"t":"ééééé"}"#,
        ] {
            let out = run(s).unwrap();
            serde_json::from_str::<serde_json::Value>(&out).unwrap();
        }
    }

    #[test]
    fn refuses_what_is_not_one_object() {
        for bad in [
            r#"{"a":"open"#,
            r#"{"a" 1}"#,
            r#"{"a":1,}"#,
            r#"{"a":1} x"#,
            r#"{"a":[1,2}"#,
            r#"{"big":{"a":"}"#,
            r#"[1]"#,
            r#"{"a":1"#,
            "",
        ] {
            assert_eq!(run(bad), None, "{bad}");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert_eq!(run(&deep), None);
        let deep = format!("{{\"big\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert_eq!(run(&deep), None);
    }
}
