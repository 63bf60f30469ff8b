//! Incremental reading of append-only transcript files, without doing the I/O.
//!
//! The native watcher (pk-cli) stats and reads files; this module holds the pure logic it needs
//! so that it can be tested byte by byte: [`FileCursor`] says which bytes to read and when to
//! start over, [`LineBuffer`] turns arbitrary chunks into complete lines.
//!
//! Why the care: agents append to their transcripts while we read them, so a read can end in
//! the middle of a line (it must wait for its newline); crashes leave NUL padding and torn
//! lines; a single line can be hundreds of megabytes (images, file snapshots) and must never be
//! held whole; and files get truncated or replaced (Gemini rewrites through a rename).

use serde::{Deserialize, Serialize};

/// Splits a stream of byte chunks into lines, whatever the chunk boundaries.
///
/// Lines end with `\n`; a `\r` before it is dropped. Bytes that are not UTF-8 are replaced with
/// U+FFFD. A line longer than the limit is dropped without being stored: once the pending bytes
/// exceed it the buffer is emptied and the rest of the line is skipped until its newline. The
/// bytes after the last newline wait for the next chunk; [`LineBuffer::finish`] hands them out
/// when the writer is known to be gone.
#[derive(Debug, Clone)]
pub struct LineBuffer {
    pending: Vec<u8>,
    max_line: usize,
    skipping: bool,
    dropped: u64,
}

impl Default for LineBuffer {
    fn default() -> Self {
        LineBuffer::new(LineBuffer::DEFAULT_MAX_LINE)
    }
}

impl LineBuffer {
    /// Default longest line kept: 4 MiB. Claude's own SDK stops at 1 MiB and real lines exceed
    /// it (a `Write` of a big file is one assistant line, and its usage counts toward the cost),
    /// while the lines beyond a few MiB are images and file snapshots that carry nothing a
    /// status bar needs.
    pub const DEFAULT_MAX_LINE: usize = 4 << 20;

    /// A buffer that drops lines longer than `max_line` bytes (not counting the newline).
    pub fn new(max_line: usize) -> Self {
        LineBuffer {
            pending: Vec::new(),
            max_line,
            skipping: false,
            dropped: 0,
        }
    }

    /// Feeds a chunk and returns the lines it completed.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        self.feed_each(bytes, |l| lines.push(l.to_string()));
        lines
    }

    /// Feeds a chunk and calls `f` with each line it completed, without copying lines that lie
    /// entirely within the chunk and are valid UTF-8.
    pub fn feed_each(&mut self, bytes: &[u8], mut f: impl FnMut(&str)) {
        self.feed_each_bytes(bytes, |line| emit(line, &mut f));
    }

    /// Like [`LineBuffer::feed_each`], with each line's bytes as they are (no `\r` either):
    /// not checked for UTF-8, for a caller that looks at a part of the line only.
    pub fn feed_each_bytes(&mut self, bytes: &[u8], mut f: impl FnMut(&[u8])) {
        let mut rest = bytes;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            let part = &rest[..nl];
            rest = &rest[nl + 1..];
            if self.skipping {
                self.skipping = false;
            } else if self.pending.is_empty() {
                if part.len() <= self.max_line {
                    f(strip_cr(part));
                } else {
                    self.dropped = self.dropped.saturating_add(1);
                }
            } else if self.pending.len() + part.len() > self.max_line {
                self.dropped = self.dropped.saturating_add(1);
                self.release();
            } else {
                self.pending.extend_from_slice(part);
                f(strip_cr(&self.pending));
                self.release();
            }
        }
        if self.skipping || rest.is_empty() {
            return;
        }
        if self.pending.len() + rest.len() > self.max_line {
            self.dropped = self.dropped.saturating_add(1);
            self.pending = Vec::new();
            self.skipping = true;
        } else {
            self.pending.extend_from_slice(rest);
        }
    }

    /// Empties the pending bytes; a buffer grown big by one long line is let go, so that a
    /// watcher of many files does not keep megabytes per file for lines long gone.
    fn release(&mut self) {
        if self.pending.capacity() > PENDING_KEEP {
            self.pending = Vec::new();
        } else {
            self.pending.clear();
        }
    }

    /// Takes the unterminated last line, if any. Call it when the writer has exited: a producer
    /// may omit the final newline only then.
    pub fn finish(&mut self) -> Option<String> {
        self.skipping = false;
        if self.pending.is_empty() {
            return None;
        }
        let mut line = None;
        emit(&std::mem::take(&mut self.pending), &mut |l: &str| {
            line = Some(l.to_string())
        });
        line
    }

    /// A buffer with nothing pending, as a [`crate::Checkpoint`] saved it: `skipping` when the
    /// checkpoint was inside a line over the limit.
    pub(crate) fn resumed(max_line: usize, skipping: bool, dropped: u64) -> Self {
        LineBuffer {
            pending: Vec::new(),
            max_line,
            skipping,
            dropped,
        }
    }

    /// The longest line kept.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// True inside a line over the limit, whose rest is skipped up to its newline.
    pub fn is_skipping(&self) -> bool {
        self.skipping
    }

    /// Number of bytes waiting for their newline.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Number of lines dropped for being longer than the limit.
    pub fn dropped_lines(&self) -> u64 {
        self.dropped
    }

    /// Forgets everything, for a file read again from its start.
    pub fn reset(&mut self) {
        *self = LineBuffer::new(self.max_line);
    }
}

/// Capacity of the pending buffer kept between lines.
const PENDING_KEEP: usize = 64 << 10;

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn emit(line: &[u8], f: &mut impl FnMut(&str)) {
    f(&String::from_utf8_lossy(strip_cr(line)));
}

/// Where reading of one file stands, persisted by the watcher between reads.
///
/// `id` is whatever identity the caller can get for the file (the inode on unix, a file index
/// elsewhere); `None` when it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FileCursor {
    /// Bytes consumed so far (fed to a [`LineBuffer`]).
    pub offset: u64,
    /// File length at the last [`FileCursor::observe`].
    pub len_seen: u64,
    /// Identity of the file read so far.
    pub id: Option<u64>,
}

/// What to do after looking at a file, as decided by [`FileCursor::observe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileChange {
    /// Nothing new to read.
    Unchanged,
    /// Read bytes `from..to` and feed them, then call [`FileCursor::advance`].
    Grew {
        /// First byte to read (the cursor's offset).
        from: u64,
        /// The file's current length.
        to: u64,
    },
    /// The file was truncated or replaced: reset the parser (and its line buffer) and read from
    /// byte 0 up to `len`. The cursor is already back at 0.
    Restart {
        /// The file's current length.
        len: u64,
    },
}

impl FileCursor {
    /// Compares the file's current length and identity with what was read so far.
    ///
    /// A replaced file (another identity) or a shrunk one (shorter than what was read, or than
    /// it was at the last look) is read again from the start: its content is not the one the
    /// offset refers to. A file that does not exist any more should simply be forgotten by the
    /// caller.
    pub fn observe(&mut self, len: u64, id: Option<u64>) -> FileChange {
        let replaced = self.id.is_some() && id.is_some() && self.id != id;
        let shrunk = len < self.offset || len < self.len_seen;
        if replaced || shrunk {
            *self = FileCursor {
                offset: 0,
                len_seen: len,
                id,
            };
            return FileChange::Restart { len };
        }
        self.id = id.or(self.id);
        self.len_seen = len;
        if len > self.offset {
            FileChange::Grew {
                from: self.offset,
                to: len,
            }
        } else {
            FileChange::Unchanged
        }
    }

    /// Records that `n` more bytes were read and fed. Reading less than offered (a cap per
    /// read) is fine: the next [`FileCursor::observe`] offers the rest.
    pub fn advance(&mut self, n: u64) {
        self.offset = self.offset.saturating_add(n);
        self.len_seen = self.len_seen.max(self.offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_keeps_the_torn_tail() {
        let mut b = LineBuffer::default();
        assert_eq!(b.feed(b"one\ntw"), vec!["one"]);
        assert_eq!(b.pending_len(), 2);
        assert_eq!(b.feed(b"o\r\n\nthree"), vec!["two", ""]);
        assert_eq!(b.finish().as_deref(), Some("three"));
        assert_eq!(b.finish(), None);
    }

    #[test]
    fn only_newline_ends_a_line() {
        let mut b = LineBuffer::default();
        let lines = b.feed("a\u{2028}b\rc\n".as_bytes());
        assert_eq!(lines, vec!["a\u{2028}b\rc"]);
    }

    #[test]
    fn invalid_utf8_and_nuls_are_tolerated() {
        let mut b = LineBuffer::default();
        let lines = b.feed(b"\xff\xfeok\n\0\0\0\n{\"a\":\"\xe2\x82\"}\n");
        assert_eq!(
            lines,
            vec!["\u{fffd}\u{fffd}ok", "\0\0\0", "{\"a\":\"\u{fffd}\"}"]
        );
        // A multi-byte character split across chunks survives.
        assert_eq!(b.feed(b"\xe2\x82"), Vec::<String>::new());
        assert_eq!(b.feed(b"\xac\n"), vec!["€"]);
    }

    #[test]
    fn long_lines_are_dropped_whatever_the_chunking() {
        for chunk in [1, 3, 7, 10, 11, 100] {
            let mut b = LineBuffer::new(10);
            let input = b"short\n0123456789\n0123456789A\nxxxxxxxxxxxxxxxxxxxxxxxxxx\nend\n";
            let mut lines = Vec::new();
            for c in input.chunks(chunk) {
                lines.extend(b.feed(c));
                assert!(b.pending_len() <= 10);
            }
            assert_eq!(lines, vec!["short", "0123456789", "end"], "chunk {chunk}");
            assert_eq!(b.dropped_lines(), 2, "chunk {chunk}");
        }
    }

    #[test]
    fn a_long_unterminated_tail_is_not_kept() {
        let mut b = LineBuffer::new(4);
        assert!(b.feed(b"123456").is_empty());
        assert_eq!(b.pending_len(), 0);
        assert_eq!(b.finish(), None);
        assert_eq!(b.feed(b"ok\n"), vec!["ok"]);
    }

    #[test]
    fn reset_forgets_the_tail() {
        let mut b = LineBuffer::default();
        b.feed(b"half");
        b.reset();
        assert_eq!(b.feed(b"new\n"), vec!["new"]);
    }

    #[test]
    fn cursor_reads_appended_bytes() {
        let mut c = FileCursor::default();
        assert_eq!(c.observe(0, Some(7)), FileChange::Unchanged);
        assert_eq!(
            c.observe(100, Some(7)),
            FileChange::Grew { from: 0, to: 100 }
        );
        c.advance(60);
        assert_eq!(
            c.observe(100, Some(7)),
            FileChange::Grew { from: 60, to: 100 }
        );
        c.advance(40);
        assert_eq!(c.observe(100, Some(7)), FileChange::Unchanged);
        assert_eq!(
            c.observe(150, None),
            FileChange::Grew { from: 100, to: 150 }
        );
        assert_eq!(c.id, Some(7));
    }

    #[test]
    fn cursor_restarts_on_truncation_or_replacement() {
        let mut c = FileCursor::default();
        c.observe(100, Some(1));
        c.advance(100);
        assert_eq!(c.observe(40, Some(1)), FileChange::Restart { len: 40 });
        assert_eq!(c.offset, 0);
        c.advance(40);
        assert_eq!(c.observe(500, Some(2)), FileChange::Restart { len: 500 });
        assert_eq!(c.id, Some(2));
        // Shrunk below what was seen, though not below what was read: content changed.
        c.advance(10);
        assert_eq!(c.observe(300, Some(2)), FileChange::Restart { len: 300 });
    }
}
