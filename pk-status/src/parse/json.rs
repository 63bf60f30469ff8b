//! The JSON reader of the parsers: records are read into a [`Value`] that borrows from the line,
//! leaving out what the format's parser never reads.
//!
//! Why not `serde_json::Value`: the first look at a Claude session of hundreds of megabytes
//! must run at a good fraction of disk speed (issue 3), and building a `serde_json::Value` of
//! every record, every key and string allocated and every byte unescaped, ran at about
//! 100 MB/s. Most of a Claude transcript's bytes are text no status needs: tool results (there
//! twice, in the message and again in `toolUseResult`), files written or read, thinking and
//! its signature, pasted images, file-history snapshots. So a format can give a [`Policy`]:
//! the values of some keys are passed over without being read (at any depth), other strings
//! are cut to their first bytes ([`Policy::keep`]; more for the values that name a tool's
//! target, of which the parsers look at the first 512 characters, [`super::tools`]). Finding
//! where a string ends is a search for its closing quote, 64 bytes at a time over long strings
//! ([`string_end`]), so text passed over costs little more than reading it. Strings and keys
//! are kept as written and decoded only when read: most strings kept are never read (the
//! parsers look at a few fields of each record).
//!
//! What is kept is checked as strictly as serde_json does (the grammar, escapes, surrogate
//! pairs, no raw control characters in strings), as the record is read; what is passed over or
//! cut off is only followed (its strings and brackets), not checked. A string that is not UTF-8 reads with
//! U+FFFD in place of the bad bytes. Objects keep their keys in order; [`Value::get`] finds the
//! last of duplicate keys and [`Object::iter`] goes in key order, as serde_json's map does.

use memchr::memchr;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;
use std::ops::Deref;

/// A JSON value read from a record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    Number(Number<'a>),
    String(Str<'a>),
    Array(Vec<Value<'a>>),
    Object(Object<'a>),
}

/// A number, as written (checked against JSON's grammar: ASCII).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Number<'a>(Cow<'a, [u8]>);

/// A string's content, as written (escapes checked) and decoded when first read.
#[derive(Clone)]
pub(crate) struct Str<'a> {
    raw: &'a [u8],
    text: OnceCell<Cow<'a, str>>,
}

/// A key: its text, borrowed from the line when it is ASCII without escapes (as keys are),
/// else decoded. Always UTF-8.
type Key<'a> = Cow<'a, [u8]>;

/// An object's members, in the order written.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Object<'a>(Vec<(Key<'a>, Value<'a>)>);

impl<'a> Str<'a> {
    /// `raw`: the content of a string as written, checked by [`check`].
    fn new(raw: &'a [u8]) -> Self {
        Str {
            raw,
            text: OnceCell::new(),
        }
    }

    pub fn as_str(&self) -> &str {
        self.text.get_or_init(|| {
            // Most strings read are short: a loop without early exit, not `memchr`.
            if !self.raw.iter().fold(false, |e, &b| e | (b == b'\\')) {
                match std::str::from_utf8(self.raw) {
                    Ok(text) => Cow::Borrowed(text),
                    Err(_) => String::from_utf8_lossy(self.raw),
                }
            } else {
                // Checked when read: unescaping cannot fail.
                Cow::Owned(unescape(self.raw).unwrap_or_default())
            }
        })
    }
}

impl From<String> for Str<'_> {
    fn from(s: String) -> Self {
        Str {
            raw: b"",
            text: OnceCell::from(Cow::Owned(s)),
        }
    }
}

impl Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str<'_> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Str<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<'a> Value<'a> {
    /// `self[key]` when `self` is an object that has `key`.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(o) => o.get(key),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value<'a>>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl Number<'_> {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The value when it is an integer from 0 to `u64::MAX` (as serde_json).
    pub fn as_u64(&self) -> Option<u64> {
        let digits = &*self.0;
        if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // Twenty digits can exceed `u64::MAX`.
        digits.iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
    }

    pub fn as_f64(&self) -> Option<f64> {
        self.text().parse().ok()
    }
}

impl<'a> Object<'a> {
    /// The value of `key`; the last one when the key is repeated.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        let key = key.as_bytes();
        self.0
            .iter()
            .rev()
            .find(|(k, _)| same(k, key))
            .map(|(_, v)| v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The members in key order, the last of a repeated key only.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        let mut members: Vec<(&str, &Value<'a>)> = self
            .0
            .iter()
            .rev()
            .map(|(k, v)| (std::str::from_utf8(k).unwrap_or_default(), v))
            .collect();
        // Stable: of equal keys the last written comes first, and is kept.
        members.sort_by(|a, b| a.0.cmp(b.0));
        members.dedup_by(|later, kept| later.0 == kept.0);
        members.into_iter()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &Value<'a>> {
        self.iter().map(|(_, v)| v)
    }
}

impl<'o, 'a> IntoIterator for &'o Object<'a> {
    type Item = (&'o str, &'o Value<'a>);
    type IntoIter = std::vec::IntoIter<(&'o str, &'o Value<'a>)>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter().collect::<Vec<_>>().into_iter()
    }
}

/// What to pass over and what to cut in the records of a format.
#[derive(Debug)]
pub(crate) struct Policy {
    /// What becomes of a key's value, wherever the key is (the key as written, escapes and
    /// all).
    pub keys: &'static Keys,
    /// Bytes kept of a string under a [`Keep::Short`] key: an error message is shown to 200
    /// characters, a prompt is classified by its first few.
    pub keep: usize,
    /// Bytes kept of a string under a [`Keep::Long`] key.
    pub keep_long: usize,
}

/// What becomes of the value of a key (of its strings, also in arrays and objects under it,
/// unless their own keys say otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// Passed over: no parser reads it.
    Drop,
    /// Strings cut to [`Policy::keep`] bytes.
    Short,
    /// Strings cut to [`Policy::keep_long`] bytes: paths, commands and other targets of tool
    /// calls.
    Long,
}

/// Keys and what becomes of their values, the other keys' [`Keys::other`]. A policy is asked
/// about every key of every record: one probe of a small table, most often.
#[derive(Debug)]
pub(crate) struct Keys {
    slots: [Option<(&'static str, Keep)>; SLOTS],
    other: Keep,
}

/// Slots of a [`Keys`] table: a few times more than keys, so that probes end early.
const SLOTS: usize = 256;

impl Keys {
    /// `lists`: keys and what becomes of them (a key listed twice keeps its first entry).
    pub const fn new(lists: &[(Keep, &[&'static str])], other: Keep) -> Keys {
        let mut slots = [None; SLOTS];
        let mut l = 0;
        while l < lists.len() {
            let (keep, keys) = lists[l];
            let mut k = 0;
            while k < keys.len() {
                let mut i = slot(keys[k].as_bytes());
                loop {
                    match slots[i] {
                        None => {
                            slots[i] = Some((keys[k], keep));
                            break;
                        }
                        Some((known, _)) if eq(known.as_bytes(), keys[k].as_bytes()) => break,
                        Some(_) => i = (i + 1) % SLOTS,
                    }
                }
                k += 1;
            }
            l += 1;
        }
        Keys { slots, other }
    }

    pub fn get(&self, key: &[u8]) -> Keep {
        let mut i = slot(key);
        loop {
            match self.slots[i] {
                None => return self.other,
                Some((known, keep)) if same(known.as_bytes(), key) => return keep,
                Some(_) => i = (i + 1) % SLOTS,
            }
        }
    }
}

/// `a == b`, for keys: without a call to `memcmp` when short.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word =
        |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or_default());
    match n {
        0..8 => a.iter().zip(b).fold(0, |d, (x, y)| d | (x ^ y)) == 0,
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// A key's first slot: from its length and three of its bytes.
const fn slot(key: &[u8]) -> usize {
    let n = key.len();
    if n == 0 {
        return 0;
    }
    let h = n
        .wrapping_mul(0x9e37)
        .wrapping_add((key[0] as usize) << 5)
        .wrapping_add((key[n / 2] as usize) << 2)
        .wrapping_add((key[n - 1] as usize).wrapping_mul(7));
    (h ^ (h >> 8)) % SLOTS
}

const fn eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Deepest nesting read (serde_json's own limit).
const MAX_DEPTH: usize = 128;

/// Reads `src`, one JSON value with nothing but whitespace around it, as `policy` says (or
/// whole). `None` when it is not JSON (or nests too deep).
pub(crate) fn parse<'a>(src: &'a [u8], policy: Option<&Policy>) -> Option<Value<'a>> {
    let mut r = Reader { src, i: 0, policy };
    r.ws();
    let v = r.value(0, usize::MAX)?;
    r.ws();
    (r.i == src.len()).then_some(v)
}

struct Reader<'a, 'p> {
    src: &'a [u8],
    i: usize,
    policy: Option<&'p Policy>,
}

impl<'a> Reader<'a, '_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// Reads the value at the cursor; its strings keep `keep` bytes.
    fn value(&mut self, depth: usize, keep: usize) -> Option<Value<'a>> {
        match self.peek()? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1, keep),
            b'"' => {
                let raw = self.string_raw()?;
                let raw = if raw.len() > keep {
                    &raw[..cut_point(raw, keep)]
                } else {
                    raw
                };
                check(raw).then(|| Value::String(Str::new(raw)))
            }
            b't' => self.literal(b"true", Value::Bool(true)),
            b'f' => self.literal(b"false", Value::Bool(false)),
            b'n' => self.literal(b"null", Value::Null),
            _ => self.number(),
        }
    }

    fn object(&mut self, depth: usize) -> Option<Value<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        // Records' objects have a few to a dozen members: one allocation, not four.
        let mut members = Vec::with_capacity(12);
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(Value::Object(Object(members)));
        }
        loop {
            self.ws();
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string_raw()?;
            self.ws();
            if self.peek()? != b':' {
                return None;
            }
            self.i += 1;
            self.ws();
            let keep = match self.policy {
                None => Some(usize::MAX),
                Some(p) => match p.keys.get(key) {
                    Keep::Drop => None,
                    Keep::Short => Some(p.keep),
                    Keep::Long => Some(p.keep_long),
                },
            };
            match keep {
                Some(keep) => {
                    let key = read_key(key)?;
                    let value = self.value(depth, keep)?;
                    members.push((key, value));
                }
                None => self.skip(depth)?,
            }
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(Value::Object(Object(members)));
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: usize, keep: usize) -> Option<Value<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        let mut items = Vec::with_capacity(4);
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(Value::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth, keep)?);
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(Value::Array(items));
                }
                _ => return None,
            }
        }
    }

    /// The content of the string at the cursor, still escaped; moves past it.
    fn string_raw(&mut self) -> Option<&'a [u8]> {
        let start = self.i + 1;
        let end = string_end(self.src, start)?;
        self.i = end + 1;
        Some(&self.src[start..end])
    }

    fn literal(&mut self, word: &[u8], value: Value<'a>) -> Option<Value<'a>> {
        if self.src.get(self.i..self.i + word.len())? != word {
            return None;
        }
        self.i += word.len();
        Some(value)
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<Value<'a>> {
        let start = self.i;
        let digits = |r: &mut Self| {
            let from = r.i;
            while r.peek().is_some_and(|b| b.is_ascii_digit()) {
                r.i += 1;
            }
            r.i > from
        };
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                digits(self);
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !digits(self) {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        Some(Value::Number(Number(Cow::Borrowed(
            &self.src[start..self.i],
        ))))
    }

    /// Passes over the value at the cursor: follows its strings and brackets only.
    fn skip(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.string_raw()?;
            }
            b'{' | b'[' => {
                let mut open = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string_raw()?;
                            continue;
                        }
                        b'{' | b'[' => {
                            open += 1;
                            if depth + open > MAX_DEPTH {
                                return None;
                            }
                        }
                        b'}' | b']' => {
                            open -= 1;
                            if open == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                let start = self.i;
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.i += 1;
                }
                if self.i == start {
                    return None;
                }
            }
        }
        Some(())
    }
}

/// The index of the quote that ends the string whose content starts at `from`.
fn string_end(src: &[u8], from: usize) -> Option<usize> {
    // Short strings (keys, most values) and the first bytes of long ones: eight bytes at a time.
    let near = (from + NEAR).min(src.len());
    let mut at = from;
    while let Some(n) = find_quote(&src[at..near]) {
        let quote = at + n;
        if ends_string(src, from, quote) {
            return Some(quote);
        }
        at = quote + 1;
    }
    at = near;
    // Long strings: 64 bytes at a time, passing over the quotes escaped by one backslash
    // without stopping at each (source code in tool results has one every 50 bytes or so).
    while let Some(block) = at.checked_sub(2).and_then(|s| src.get(s..at + BLOCK)) {
        if may_end(block) {
            let mut k = at;
            while let Some(n) = find_quote(&src[k..at + BLOCK]) {
                let quote = k + n;
                if ends_string(src, from, quote) {
                    return Some(quote);
                }
                k = quote + 1;
            }
        }
        at += BLOCK;
    }
    // The last bytes of the line.
    while let Some(n) = find_quote(src.get(at..)?) {
        let quote = at + n;
        if ends_string(src, from, quote) {
            return Some(quote);
        }
        at = quote + 1;
    }
    None
}

/// Bytes of a string looked at eight at a time before going by blocks.
const NEAR: usize = 32;

/// Bytes of a block of [`may_end`].
const BLOCK: usize = 64;

/// Whether the quote at `quote` ends the string whose content starts at `from`: it does
/// unless an odd number of backslashes comes before it.
fn ends_string(src: &[u8], from: usize, quote: usize) -> bool {
    quote == from
        || src[quote - 1] != b'\\'
        || src[from..quote]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count()
            % 2
            == 0
}

/// Whether the [`BLOCK`] bytes that follow the first two of `block` hold a quote that may end a
/// string: one that comes after anything but a single backslash. Without early exits, the loop
/// is vectorized: a few instructions per 16 bytes.
fn may_end(block: &[u8]) -> bool {
    let Ok(b) = <&[u8; BLOCK + 2]>::try_from(block) else {
        return true;
    };
    let mut any = 0u8;
    for j in 0..BLOCK {
        let quote = u8::from(b[j + 2] == b'"');
        let escaped = u8::from(b[j + 1] == b'\\') & u8::from(b[j] != b'\\');
        any |= quote & !escaped;
    }
    any != 0
}

/// The first `"` in `s`.
fn find_quote(s: &[u8]) -> Option<usize> {
    find_byte(b'"', s)
}

/// The first `byte` in `s`, eight bytes at a time.
#[inline]
fn find_byte(byte: u8, s: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let pattern = u64::from_ne_bytes([byte; 8]);
    let mut words = s.chunks_exact(8);
    for (k, word) in words.by_ref().enumerate() {
        let x = u64::from_le_bytes(word.try_into().ok()?) ^ pattern;
        // The lowest byte flagged is the first zero byte of `x`: the first `byte`.
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return Some(k * 8 + found.trailing_zeros() as usize / 8);
        }
    }
    let rest = words.remainder();
    let at = s.len() - rest.len();
    rest.iter().position(|&b| b == byte).map(|n| at + n)
}

/// Whether a string's content (as written) is JSON: no raw control characters, only valid
/// escapes. Bytes that are not UTF-8 are fine (they read as U+FFFD).
fn check(raw: &[u8]) -> bool {
    // Without early exits, this loop is vectorized.
    let (control, escape) = raw.iter().fold((false, false), |(c, e), &b| {
        (c | (b < 0x20), e | (b == b'\\'))
    });
    if control {
        return false;
    }
    if !escape {
        return true;
    }
    let mut i = 0;
    // Escapes come every few dozen bytes in source code: `memchr`'s dispatch would cost more
    // than the search.
    while let Some(n) = find_byte(b'\\', &raw[i..]) {
        let at = i + n;
        i = match raw.get(at + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => at + 2,
            Some(b'u') => match unicode_escape(&raw[at..]) {
                Some((_, len)) => at + len,
                None => return false,
            },
            _ => return false,
        };
    }
    true
}

/// A key's text, checked as [`check`] does; `None` when it is not JSON.
fn read_key(raw: &[u8]) -> Option<Key<'_>> {
    // Keys are short, and ASCII without escapes: borrowed.
    if raw.iter().all(|&b| (0x20..0x80).contains(&b) && b != b'\\') {
        return Some(Cow::Borrowed(raw));
    }
    if !check(raw) {
        return None;
    }
    let text = if memchr(b'\\', raw).is_some() {
        unescape(raw)?
    } else {
        String::from_utf8_lossy(raw).into_owned()
    };
    Some(Cow::Owned(text.into_bytes()))
}

/// Replaces the escapes of a string's content.
fn unescape(raw: &[u8]) -> Option<String> {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let run = memchr(b'\\', &raw[i..]).map_or(raw.len(), |n| i + n);
        out.extend_from_slice(&raw[i..run]);
        if run == raw.len() {
            break;
        }
        let c = match *raw.get(run + 1)? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let (c, len) = unicode_escape(&raw[run..])?;
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                i = run + len;
                continue;
            }
            _ => return None,
        };
        out.push(c);
        i = run + 2;
    }
    Some(match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// The character of a `\uXXXX` escape (two for a surrogate pair) at the start of `s`, and the
/// bytes it takes. Lone surrogates are errors, as in serde_json.
fn unicode_escape(s: &[u8]) -> Option<(char, usize)> {
    let hex = |at: usize| -> Option<u32> {
        let digits = std::str::from_utf8(s.get(at..at + 4)?).ok()?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(digits, 16).ok()
    };
    let n = hex(2)?;
    match n {
        0xD800..=0xDBFF => {
            if s.get(6..8)? != b"\\u" {
                return None;
            }
            let low = hex(8)?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return None;
            }
            let c = 0x10000 + ((n - 0xD800) << 10) + (low - 0xDC00);
            Some((char::from_u32(c)?, 12))
        }
        0xDC00..=0xDFFF => None,
        _ => Some((char::from_u32(n)?, 6)),
    }
}

/// Where to cut the content of a string (still escaped, longer than `keep`) to keep about
/// `keep` bytes: never inside an escape sequence, between the two halves of a surrogate pair,
/// or inside a UTF-8 character.
fn cut_point(body: &[u8], keep: usize) -> usize {
    let keep = keep.min(body.len());
    let mut i = 0;
    while i < keep {
        match memchr(b'\\', &body[i..keep]) {
            None => i = keep,
            Some(n) => {
                let at = i + n;
                i = at
                    + match body.get(at + 1) {
                        Some(b'u') if is_high_surrogate(body.get(at + 2..at + 6)) => {
                            if body.get(at + 6..at + 8) == Some(b"\\u") {
                                12
                            } else {
                                6
                            }
                        }
                        Some(b'u') => 6,
                        _ => 2,
                    };
            }
        }
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

/// `serde_json::json!`, read as a [`Value`]: for tests.
#[cfg(test)]
macro_rules! json {
    ($($json:tt)+) => {
        $crate::parse::json::from_serde(serde_json::json!($($json)+))
    };
}
#[cfg(test)]
pub(crate) use json;

/// A `serde_json::Value` as a [`Value`], for tests written with `serde_json::json!`.
#[cfg(test)]
pub(crate) fn from_serde(v: serde_json::Value) -> Value<'static> {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => {
            Value::Number(Number(Cow::Owned(n.to_string().into_bytes())))
        }
        serde_json::Value::String(s) => Value::String(Str::from(s)),
        serde_json::Value::Array(a) => Value::Array(a.into_iter().map(from_serde).collect()),
        serde_json::Value::Object(o) => Value::Object(Object(
            o.into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_bytes()), from_serde(v)))
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static KEYS: Keys = Keys::new(
        &[(Keep::Drop, &["big", "gone"]), (Keep::Long, &["command"])],
        Keep::Short,
    );

    const P: Policy = Policy {
        keys: &KEYS,
        keep: 4,
        keep_long: 8,
    };

    #[test]
    fn finds_string_ends_as_reading_byte_by_byte_does() {
        // Escapes take two bytes; the first quote outside one ends the string.
        fn reference(src: &[u8], from: usize) -> Option<usize> {
            let mut i = from;
            while i < src.len() {
                match src[i] {
                    b'\\' => i += 2,
                    b'"' => return Some(i),
                    _ => i += 1,
                }
            }
            None
        }
        let pieces: [&[u8]; 8] = [
            b"\\\"",
            b"\\\\\"",
            b"\\\\\\\"",
            b"\\\\",
            b"x",
            b"\"",
            b"\\",
            br"\u00e9",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..300 {
            // Plain bytes, so that quotes and backslashes fall on every position of the words
            // and blocks, then a run of pieces.
            let mut src = vec![b'a'; (next() % 150) as usize];
            for _ in 0..next() % 60 {
                src.extend_from_slice(pieces[(next() % 8) as usize]);
                src.extend(std::iter::repeat_n(b'b', (next() % 4 == 0) as usize * 40));
            }
            for from in 0..=src.len() {
                assert_eq!(
                    string_end(&src, from),
                    reference(&src, from),
                    "{from} in {}",
                    String::from_utf8_lossy(&src)
                );
            }
        }
    }

    #[test]
    fn compares_keys() {
        let keys = [
            "",
            "a",
            "ab",
            "type",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "input_tokens",
        ];
        let keys = keys
            .iter()
            .chain(&["cache_creation_input_tokens", "abcdefghijklmnop"]);
        let keys: Vec<&str> = keys.copied().collect();
        for a in &keys {
            for b in &keys {
                assert_eq!(same(a.as_bytes(), b.as_bytes()), a == b, "{a} {b}");
            }
            // One byte off, anywhere.
            for i in 0..a.len() {
                let mut c = a.as_bytes().to_vec();
                c[i] ^= 1;
                assert!(!same(a.as_bytes(), &c), "{a} {i}");
            }
        }
    }

    #[test]
    fn key_tables_find_their_keys_only() {
        let lists: &[(Keep, &[&str])] = &[
            (Keep::Drop, &["a", "b", "ab", "ba", "type", "typf", "uype"]),
            (Keep::Long, &["", "command", "commanc", "b"]),
        ];
        let keys = Keys::new(lists, Keep::Short);
        for (keep, list) in lists {
            for k in *list {
                let expected = if *k == "b" { Keep::Drop } else { *keep };
                assert_eq!(keys.get(k.as_bytes()), expected, "{k}");
            }
        }
        for other in ["c", "types", "comman", "\\u0061", "commanD"] {
            assert_eq!(keys.get(other.as_bytes()), Keep::Short, "{other}");
        }
        // Full of keys in one place: probes go round.
        let many: Vec<String> = (0..200).map(|i| format!("k{i}")).collect();
        let many: &'static [&'static str] =
            Vec::leak(many.into_iter().map(|k| &*String::leak(k)).collect());
        let lists: &'static [(Keep, &'static [&'static str])] = Vec::leak(vec![(Keep::Drop, many)]);
        let keys = Keys::new(lists, Keep::Long);
        assert!(many.iter().all(|k| keys.get(k.as_bytes()) == Keep::Drop));
        assert_eq!(keys.get(b"k200"), Keep::Long);
    }

    /// `src` read with `P`, written back as serde_json would.
    fn run(src: &str) -> Option<String> {
        parse(src.as_bytes(), Some(&P)).map(|v| to_serde(&v).to_string())
    }

    fn to_serde(v: &Value) -> serde_json::Value {
        match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Number(n) => serde_json::from_str(n.text()).unwrap(),
            Value::String(s) => s.to_string().into(),
            Value::Array(a) => a.iter().map(to_serde).collect(),
            Value::Object(o) => serde_json::Value::Object(
                o.0.iter()
                    .map(|(k, v)| (String::from_utf8(k.to_vec()).unwrap(), to_serde(v)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn reads_what_serde_json_reads() {
        let samples = [
            r#"{"a":1,"b":[true,false,null],"c":{"d":"e"},"f":-1.5e3,"g":0,"h":"","i":{},"j":[]}"#,
            r#" { "a" : "x\"y\\z\/\b\f\n\r\t\u00e9\ud83e\udd80" , "b" : [ 1 , 2 ] } "#,
            r#"{"a":"é€🦀","b":1E+2,"c":-0.0,"d":12345678901234567890123}"#,
            r#"[1,"two",{"three":3}]"#,
            r#""just a string""#,
        ];
        for s in samples {
            let ours = parse(s.as_bytes(), None).map(|v| to_serde(&v));
            let theirs: Option<serde_json::Value> = serde_json::from_str(s).ok();
            assert_eq!(ours, theirs, "{s}");
        }
        let bad = [
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":-}"#,
            r#"{"a":1e}"#,
            r#"{"a":tru}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12"}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\udc00"}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":1} x"#,
            r#"{"a":[1,2}"#,
            r#"{"a":"open"#,
            r#"{a:1}"#,
            "",
        ];
        for s in bad {
            assert_eq!(parse(s.as_bytes(), None), None, "{s}");
            assert!(serde_json::from_str::<serde_json::Value>(s).is_err(), "{s}");
        }
    }

    #[test]
    fn numbers_read_as_serde_json_reads_them() {
        fn n(s: &str) -> Value<'_> {
            parse(s.as_bytes(), None).unwrap()
        }
        assert_eq!(n("5").as_u64(), Some(5));
        assert_eq!(n("5").as_f64(), Some(5.0));
        assert_eq!(n("-3").as_u64(), None);
        assert_eq!(n("2.9").as_u64(), None);
        assert_eq!(n("2.9").as_f64(), Some(2.9));
        assert_eq!(n("1e3").as_u64(), None);
        assert_eq!(n("18446744073709551616").as_u64(), None);
        assert_eq!(n("\"5\"").as_u64(), None);
    }

    #[test]
    fn objects_behave_like_serde_json_maps() {
        let v = parse(br#"{"b":1,"a":2,"b":3}"#, None).unwrap();
        assert_eq!(v.get("b").and_then(Value::as_u64), Some(3));
        let o = v.as_object().unwrap();
        assert_eq!(o.keys().collect::<Vec<_>>(), ["a", "b"]);
        let values: Vec<u64> = o.values().filter_map(Value::as_u64).collect();
        assert_eq!(values, [2, 3]);
        assert_eq!(v.get("c"), None);
        assert_eq!(parse(b"[1]", None).unwrap().get("a"), None);
    }

    #[test]
    fn bad_utf8_in_strings_reads_as_replacement_characters() {
        let v = parse(b"{\"a\":\"x\xffy\",\"b\":\"\\n\xfe\"}", None).unwrap();
        assert_eq!(v.get("a").and_then(Value::as_str), Some("x\u{fffd}y"));
        assert_eq!(v.get("b").and_then(Value::as_str), Some("\n\u{fffd}"));
    }

    #[test]
    fn passes_over_keys_at_any_depth() {
        assert_eq!(
            run(r#" { "big" : {"a":[1,"}]"]}, "a":1,"b":{"gone":"x","c":[true,null]},"gone":2 } "#)
                .as_deref(),
            Some(r#"{"a":1,"b":{"c":[true,null]}}"#)
        );
        assert_eq!(run(r#"{"big":1}"#).as_deref(), Some("{}"));
        // What is passed over is not checked.
        assert_eq!(
            run(r#"{"big":[01, "\x"],"a":1}"#).as_deref(),
            Some(r#"{"a":1}"#)
        );
    }

    #[test]
    fn cuts_long_strings_where_it_is_safe() {
        assert_eq!(
            run(r#"{"t":"abcdefgh","command":"abcdefghij","u":["abcdef"]}"#).as_deref(),
            Some(r#"{"command":"abcdefgh","t":"abcd","u":["abcd"]}"#)
        );
        // Not inside an escape, a surrogate pair or a UTF-8 character.
        let cut = |s: &str| {
            parse(s.as_bytes(), Some(&P))
                .and_then(|v| v.get("t").and_then(Value::as_str).map(str::to_string))
        };
        assert_eq!(cut(r#"{"t":"abc\"def"}"#).as_deref(), Some("abc\""));
        assert_eq!(cut(r#"{"t":"ab\u00e9xyz"}"#).as_deref(), Some("abé"));
        assert_eq!(cut(r#"{"t":"a\ud83e\udd80xyz"}"#).as_deref(), Some("a🦀"));
        assert_eq!(cut(r#"{"t":"abc€€"}"#).as_deref(), Some("abc€"));
        assert_eq!(cut(r#"{"t":"a\\\\\"bcdef"}"#).as_deref(), Some("a\\\\"));
        assert_eq!(cut(r#"{"t":"\\\\\\\\\\"}"#).as_deref(), Some("\\\\"));
        // What is cut off is not checked.
        assert_eq!(cut("{\"t\":\"abcd\\x\t\"}").as_deref(), Some("abcd"));
    }

    #[test]
    fn refuses_what_nests_too_deep() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert_eq!(parse(deep.as_bytes(), None), None);
        let deep = format!("{{\"big\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert_eq!(parse(deep.as_bytes(), Some(&P)), None);
        let fine = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(parse(fine.as_bytes(), None).is_some());
    }
}
