//! Reading the tracks' transcripts and event files as they grow, and the status file the watcher
//! writes (`.git/pk/<session>/status.json`).
//!
//! The parsing itself is pk-status's ([`Tracker`], [`FileCursor`]): this module does the I/O it
//! leaves out. A [`Follower`] reads only the bytes appended to one file since its last look; a
//! [`TrackFeed`] follows both files of a track, finds a transcript that appears later (or
//! changes, after Claude's `/clear`) and combines the two into one [`TrackStatus`]. `pk watch`
//! keeps them alive and reads on every change ([`refresh_all`]: long backlogs, as on its first
//! look at big transcripts, on several threads); `pk status`, when no watcher runs, reads each
//! file once.
//!
//! Neither reads a transcript twice: the watcher saves each feed's state now and then in a
//! checkpoint (`.git/pk/<session>/checkpoints/<track>.json`: the trackers at a line boundary,
//! where each file was read to, and a hash of the bytes just before), and a restarted watcher or
//! a `pk status` without one resumes from it, reading only what the files gained since. A file
//! that is not the one the checkpoint read (another inode, shorter, other bytes before the
//! offset) is read from its start.

pub(crate) mod dirt;
pub mod render;
pub(crate) mod status;
pub mod watch;

use crate::error::{Context, Error, Result};
use crate::session::state::TrackRecord;
use crate::session::transcript::{self, Source};
use pk_status::{
    Checkpoint, FileChange, FileCursor, Format, Timestamp, Tokens, TrackStatus, Tracker,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The status file's name in the session's state folder (named in `session::state`, which
/// `pk down` uses to clean the folder).
pub use crate::session::state::STATUS_FILE;

/// Version of the status file format.
pub(crate) const STATUS_VERSION: u32 = 1;

/// Bytes read per `read` call: big transcripts are fed in pieces, never held whole. Small
/// enough for the piece to stay in the core's cache while it is parsed (1 MB pieces took about
/// 8% more CPU time).
const CHUNK: usize = 256 << 10;

/// Bytes waiting to be read, in all files together, from which they are read on several
/// threads.
const PARALLEL_FROM: u64 = 8 << 20;

/// Most threads used for reading.
const THREADS_MAX: usize = 4;

/// Session files older than the agent's start by more than this are someone else's (clock
/// granularity and a slow start leave some slack).
const START_SLACK: Duration = Duration::from_secs(5);

/// The folder of the tracks' checkpoints in the session's state folder (named in
/// `session::state`).
pub use crate::session::state::CHECKPOINT_DIR;

/// Version of the checkpoint files' layout: a file of another version, or whose trackers are of
/// another [`Checkpoint::VERSION`], or written by another version of pk, is not read: the files
/// are read from their start instead.
const CHECKPOINT_VERSION: u32 = 1;

/// Bytes before a checkpoint's offset whose hash must match for the file to be the one read.
const CHECKPOINT_TAIL: u64 = 4096;

/// Largest checkpoint file read: real ones are a few KB to about 60 KB (two trackers); a
/// bigger file is not pk's.
const CHECKPOINT_MAX: u64 = 1 << 20;

/// At its old path for the benches; the clock is [`crate::util::clock::now_ms`].
pub use crate::util::clock::now_ms;

/// Follows one file: a cursor and a tracker.
#[derive(Debug, Clone)]
pub struct Follower {
    path: PathBuf,
    cursor: FileCursor,
    tracker: Tracker,
    /// The bytes the last [`Follower::poll`] read, for `pk -v status`.
    last_read: Option<(u64, u64)>,
}

/// A follower as a checkpoint holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedFollower {
    path: PathBuf,
    /// The file's inode.
    id: Option<u64>,
    /// [`tail_hash`] at the checkpoint's offset.
    tail: u64,
    checkpoint: Checkpoint,
}

impl Follower {
    /// A follower of `path` read as `format`, from its start.
    pub fn new(path: PathBuf, format: Format) -> Follower {
        Follower {
            path,
            cursor: FileCursor::default(),
            tracker: Tracker::new(format),
            last_read: None,
        }
    }

    /// The follower a checkpoint saved, when the file at `path` is still the one it read
    /// (same inode, at least as long, the same bytes before the offset); else a new one.
    fn resume(path: PathBuf, format: Format, saved: Option<SavedFollower>) -> Follower {
        let Some(saved) = saved.filter(|s| s.path == path && s.checkpoint.format() == format)
        else {
            return Follower::new(path, format);
        };
        let offset = saved.checkpoint.offset;
        if tail_hash(&path, offset, saved.id) != Some(saved.tail) {
            return Follower::new(path, format);
        }
        Follower {
            path,
            cursor: FileCursor {
                offset,
                len_seen: offset,
                id: saved.id,
            },
            tracker: Tracker::resume(saved.checkpoint),
            last_read: None,
        }
    }

    /// The follower's state for a checkpoint; `None` when its file is gone or changed since
    /// it was read.
    fn save(&self) -> Option<SavedFollower> {
        let checkpoint = self.tracker.checkpoint(self.cursor.offset);
        let tail = tail_hash(&self.path, checkpoint.offset, self.cursor.id)?;
        Some(SavedFollower {
            path: self.path.clone(),
            id: self.cursor.id,
            tail,
            checkpoint,
        })
    }

    /// Where a checkpoint of the follower would resume: the bytes read, but an unfinished last
    /// line.
    fn checkpoint_offset(&self) -> u64 {
        self.cursor.offset - self.tracker.pending_len() as u64
    }

    /// The bytes read by the last [`Follower::poll`] that read any, as `(from, to)`.
    pub fn last_read(&self) -> Option<(u64, u64)> {
        self.last_read
    }

    /// The file followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where reading stands.
    pub fn cursor(&self) -> FileCursor {
        self.cursor
    }

    /// The parser of the file.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// The status read so far.
    pub fn status(&self) -> &TrackStatus {
        self.tracker.status()
    }

    /// Reads what was appended since the last call (or everything again after a truncation or
    /// replacement). Returns true when something was read. A missing file is not an error: it
    /// may appear later.
    pub fn poll(&mut self, now_ms: i64) -> bool {
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return false;
        };
        if !meta.is_file() {
            return false;
        }
        let (from, to) = match self.cursor.observe(meta.len(), Some(meta.ino())) {
            FileChange::Unchanged => return false,
            FileChange::Grew { from, to } => (from, to),
            FileChange::Restart { len } => {
                self.tracker.reset();
                (0, len)
            }
        };
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return false;
        };
        if file.seek(SeekFrom::Start(from)).is_err() {
            return false;
        }
        let mut left = to - from;
        let mut buf = vec![0; CHUNK.min(left as usize)];
        while left > 0 {
            let want = buf.len().min(left as usize);
            match file.read(&mut buf[..want]) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    self.tracker.feed(&buf[..n], now_ms);
                    self.cursor.advance(n as u64);
                    left -= n as u64;
                }
            }
        }
        self.last_read = Some((from, self.cursor.offset));
        true
    }

    /// Parses an unterminated last line: the writer is gone.
    pub fn finish(&mut self, now_ms: i64) {
        self.tracker.finish(now_ms);
    }

    /// Bytes of the file not read yet (an estimate: a replaced file is read whole).
    pub fn backlog(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len().saturating_sub(self.cursor.offset))
    }
}

/// The file at `path`, if it is at most `max` bytes.
fn read_capped(path: &Path, max: u64) -> Option<Vec<u8>> {
    let mut text = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(max + 1)
        .read_to_end(&mut text)
        .ok()?;
    (text.len() as u64 <= max).then_some(text)
}

/// FNV-1a of the up to [`CHECKPOINT_TAIL`] bytes of the file at `path` before `offset`; `None`
/// when the file is not there, is another one than `id`, or is shorter than `offset`.
fn tail_hash(path: &Path, offset: u64, id: Option<u64>) -> Option<u64> {
    let file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if id.is_some_and(|id| id != meta.ino()) || meta.len() < offset {
        return None;
    }
    let from = offset.saturating_sub(CHECKPOINT_TAIL);
    let mut buf = vec![0; (offset - from) as usize];
    file.read_exact_at(&mut buf, from).ok()?;
    Some(pk_status::fnv1a(&buf))
}

/// Runs `work` on every item; on several threads when the items have much to read together
/// (`backlog`, in bytes, from [`PARALLEL_FROM`]), the biggest first (see
/// [`crate::util::parallel::each_in_parallel`]).
pub fn each_in_parallel<T: Send>(
    items: &mut [T],
    backlog: impl Fn(&T) -> u64,
    work: impl Fn(&mut T) + Sync,
) {
    crate::util::parallel::each_in_parallel(items, backlog, PARALLEL_FROM, THREADS_MAX, work);
}

/// Reads what is new for every track (see [`TrackFeed::refresh`]): the event files and where
/// the transcripts are first, then the transcripts, in parallel when there is much to read.
pub(crate) fn refresh_all(feeds: &mut [TrackFeed], now_ms: i64) {
    for feed in feeds.iter_mut() {
        feed.follow(now_ms);
    }
    each_in_parallel(feeds, TrackFeed::backlog, |feed| {
        feed.read_transcript(now_ms);
    });
}

/// Both files of one track, and what it takes to find its transcript.
#[derive(Debug)]
pub struct TrackFeed {
    name: String,
    source: Option<Source>,
    events: Follower,
    transcript: Option<Follower>,
    /// Tokens and cost of the track's earlier transcripts (interactive sessions replaced by
    /// `/clear`): the track's figures are their sum.
    carried: (Tokens, f64),
    started: Option<i64>,
    not_before: Option<SystemTime>,
    codex_seen: HashMap<PathBuf, bool>,
    finished: bool,
    /// Where reading stood at the last checkpoint written or read.
    saved: Option<Progress>,
}

/// Where a feed's checkpoint would stand: the event file's offset, the transcript and its
/// offset (each before an unfinished last line). A checkpoint is written when it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Progress(u64, Option<(PathBuf, u64)>);

/// A feed as its checkpoint file holds it.
#[derive(Debug, Serialize, Deserialize)]
struct SavedFeed {
    version: u32,
    /// [`Checkpoint::VERSION`] of the trackers in it.
    engine: u32,
    /// The version of pk that wrote it.
    pk: String,
    name: String,
    /// What the feed was made for: the checkpoint is read only for the same.
    source: Option<Source>,
    events_path: PathBuf,
    started: Option<i64>,
    events: Option<SavedFollower>,
    transcript: Option<SavedFollower>,
    carried: (Tokens, f64),
}

impl TrackFeed {
    /// The feed of a track as `pk up` recorded it in the state in `state_dir`.
    pub fn new(rec: &TrackRecord, state_dir: &Path) -> TrackFeed {
        let events = rec
            .events
            .clone()
            .unwrap_or_else(|| transcript::events_path(state_dir, &rec.name));
        let not_before = rec
            .agent_started_ms
            .and_then(|ms| u64::try_from(ms).ok())
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
            .map(|t| t.checked_sub(START_SLACK).unwrap_or(t));
        TrackFeed {
            name: rec.name.clone(),
            source: rec.transcript.clone(),
            events: Follower::new(events, Format::ClaudeHooks),
            transcript: None,
            carried: (Tokens::default(), 0.0),
            started: rec.agent_started_ms,
            not_before,
            codex_seen: HashMap::new(),
            finished: false,
            saved: None,
        }
    }

    /// The feed of a track, from its checkpoint in `state_dir` when there is one for the same
    /// files: it then reads only what they gained since (see the module's doc).
    pub fn resume(rec: &TrackRecord, state_dir: &Path) -> TrackFeed {
        let mut feed = TrackFeed::new(rec, state_dir);
        let Some(saved) = read_capped(&checkpoint_path(state_dir, &rec.name), CHECKPOINT_MAX)
            .and_then(|text| serde_json::from_slice::<SavedFeed>(&text).ok())
        else {
            return feed;
        };
        let same = saved.version == CHECKPOINT_VERSION
            && saved.engine == Checkpoint::VERSION
            && saved.pk == env!("CARGO_PKG_VERSION")
            && saved.name == feed.name
            && saved.source == feed.source
            && saved.events_path == feed.events.path()
            && saved.started == feed.started;
        if !same {
            return feed;
        }
        let events_path = feed.events.path().to_path_buf();
        feed.events = Follower::resume(events_path, Format::ClaudeHooks, saved.events);
        if let Some(t) = saved.transcript {
            let format = feed.source.as_ref().map_or(Format::Lines, Source::format);
            feed.transcript = Some(Follower::resume(t.path.clone(), format, Some(t)));
        }
        // Not `finished`: the watcher sees again whether the agent ended, and a resumed tracker
        // has nothing pending to finish if it did.
        feed.carried = saved.carried;
        feed.saved = Some(feed.progress());
        feed
    }

    /// Writes the feed's checkpoint into `state_dir` when reading went on since the last one.
    /// Returns whether it wrote. The folder is not made when it is gone (the session was torn
    /// down).
    pub fn save(&mut self, state_dir: &Path) -> Result<bool> {
        let progress = self.progress();
        if self.saved.as_ref() == Some(&progress) || !state_dir.is_dir() {
            return Ok(false);
        }
        let saved = SavedFeed {
            version: CHECKPOINT_VERSION,
            engine: Checkpoint::VERSION,
            pk: env!("CARGO_PKG_VERSION").to_string(),
            name: self.name.clone(),
            source: self.source.clone(),
            events_path: self.events.path().to_path_buf(),
            started: self.started,
            events: self.events.save(),
            transcript: self.transcript.as_ref().and_then(Follower::save),
            carried: self.carried,
        };
        // A file that was there but could not be saved (gone or replaced since it was read) is
        // saved once it has been read again.
        let complete = (saved.events.is_some() || self.events.cursor.offset == 0)
            && saved.transcript.is_some() == self.transcript.is_some();
        let text = serde_json::to_vec(&saved).context("failed to encode a checkpoint")?;
        let path = checkpoint_path(state_dir, &self.name);
        if let Some(dir) = path.parent()
            && let Err(e) = std::fs::create_dir(dir)
            && e.kind() != std::io::ErrorKind::AlreadyExists
        {
            return Err(
                Error::failure(format!("failed to create {}", dir.display()))
                    .wrap_cause(e.to_string()),
            );
        }
        crate::util::fs::write_atomically_in_place(&path, &text)?;
        if !state_dir.join(crate::session::state::STATE_FILE).exists() {
            // `pk down` removed the session meanwhile: leave it nothing to trip on.
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_dir(path.parent().unwrap_or(state_dir));
            return Ok(false);
        }
        if complete {
            self.saved = Some(progress);
        }
        Ok(true)
    }

    fn progress(&self) -> Progress {
        Progress(
            self.events.checkpoint_offset(),
            self.transcript
                .as_ref()
                .map(|t| (t.path.clone(), t.checkpoint_offset())),
        )
    }

    /// True when both feeds read the same files the same way (a reloaded state left the track
    /// as it was).
    pub fn same_files(&self, other: &TrackFeed) -> bool {
        self.source == other.source
            && self.events.path() == other.events.path()
            && self.started == other.started
    }

    /// The track's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The transcript read now, if one was found.
    pub fn transcript(&self) -> Option<&Follower> {
        self.transcript.as_ref()
    }

    /// The event file's follower.
    pub fn events(&self) -> &Follower {
        &self.events
    }

    /// Reads what is new in both files, switching to another transcript when the source now
    /// points elsewhere. Returns true when anything was read.
    pub fn refresh(&mut self, now_ms: i64) -> bool {
        let followed = self.follow(now_ms);
        self.read_transcript(now_ms) || followed
    }

    /// The first half of [`TrackFeed::refresh`]: reads the hook events and finds the
    /// transcript. Returns true when anything was read or the transcript changed.
    pub fn follow(&mut self, now_ms: i64) -> bool {
        let mut changed = self.events.poll(now_ms);
        let want = self.locate(now_ms);
        let current = self.transcript.as_ref().map(|f| f.path().to_path_buf());
        if let Some(path) = want
            && current.as_ref() != Some(&path)
        {
            if let Some(old) = self.transcript.take() {
                let s = old.status();
                self.carried = (self.carried.0.plus(&s.tokens), self.carried.1 + s.cost_usd);
            }
            let format = self.source.as_ref().map_or(Format::Lines, Source::format);
            self.transcript = Some(Follower::new(path, format));
            changed = true;
        }
        changed
    }

    /// The second half of [`TrackFeed::refresh`]: reads what is new in the transcript.
    pub fn read_transcript(&mut self, now_ms: i64) -> bool {
        self.transcript.as_mut().is_some_and(|t| t.poll(now_ms))
    }

    /// Bytes of the transcript not read yet.
    pub fn backlog(&self) -> u64 {
        self.transcript.as_ref().map_or(0, Follower::backlog)
    }

    /// Where the transcript is now.
    fn locate(&mut self, now_ms: i64) -> Option<PathBuf> {
        match self.source.as_ref()? {
            Source::File { path, .. } => Some(path.clone()),
            Source::ClaudeProject { dir } => {
                // The hooks name the session file, also after /clear; the folder is the
                // fallback for when they are off.
                if let Some(p) = self.events.tracker().transcript_path()
                    && Path::new(p).is_absolute()
                {
                    return Some(PathBuf::from(p));
                }
                let dir = transcript::resolve_claude_dir(dir)?;
                transcript::newest_jsonl(&dir, self.not_before)
            }
            Source::CodexRollouts { root, cwd } => {
                let (root, cwd) = (root.clone(), cwd.clone());
                transcript::codex_rollout(
                    &root,
                    &cwd,
                    now_ms,
                    self.not_before,
                    &mut self.codex_seen,
                )
                .or_else(|| self.transcript.as_ref().map(|f| f.path().to_path_buf()))
            }
        }
    }

    /// The agent's process ended: a last line without a newline is complete now.
    pub fn finish(&mut self, now_ms: i64) {
        if !self.finished {
            self.finished = true;
            self.events.finish(now_ms);
            if let Some(t) = &mut self.transcript {
                t.finish(now_ms);
            }
        }
    }

    /// The track's status from its files: the transcript's, merged with the hook events'.
    pub fn status(&self) -> TrackStatus {
        let mut t = self
            .transcript
            .as_ref()
            .map(|f| f.status().clone())
            .unwrap_or_default();
        let (tokens, cost) = self.carried;
        if cost > 0.0 || tokens.total() > 0 {
            t.tokens = t.tokens.plus(&tokens);
            t.cost_usd += cost;
            t.cost_is_reported = false;
        }
        pk_status::combine(&t, self.events.status())
    }

    /// The folders whose changes may concern this track: the files' folders, or the nearest
    /// existing folder above one that does not exist yet (its creation shows there).
    pub fn watch_dirs(&self, now_ms: i64) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        let mut add = |p: &Path| {
            if let Some(d) = transcript::nearest_existing(p)
                && !dirs.contains(&d)
            {
                dirs.push(d);
            }
        };
        if let Some(parent) = self.events.path().parent() {
            add(parent);
        }
        if let Some(parent) = self.transcript.as_ref().and_then(|t| t.path().parent()) {
            add(parent);
        }
        match &self.source {
            Some(Source::File { path, .. }) => {
                if let Some(parent) = path.parent() {
                    add(parent);
                }
            }
            Some(Source::ClaudeProject { dir }) => {
                add(&transcript::resolve_claude_dir(dir).unwrap_or_else(|| dir.clone()))
            }
            Some(Source::CodexRollouts { root, .. }) => {
                for day in transcript::codex_day_dirs(root, now_ms) {
                    add(&day);
                }
            }
            None => {}
        }
        dirs
    }
}

/// Where the checkpoint of `track` is kept.
pub fn checkpoint_path(state_dir: &Path, track: &str) -> PathBuf {
    state_dir.join(CHECKPOINT_DIR).join(format!("{track}.json"))
}

/// What the watcher knows, written atomically to `status.json` on every change: for
/// `pk status` (fast at any transcript size) and the zellij plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusFile {
    /// Format version ([`STATUS_VERSION`]).
    pub version: u32,
    /// Session name.
    pub session: String,
    /// When it was written.
    pub updated: Timestamp,
    /// The watcher's process id.
    pub pid: u32,
    /// Sum of the tracks' costs.
    pub total_cost_usd: f64,
    /// One entry per track, in the state's order.
    pub tracks: Vec<TrackEntry>,
}

/// One track in `status.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackEntry {
    /// Track name.
    pub name: String,
    /// The status as shown (pane exit and idleness applied).
    pub status: TrackStatus,
    /// The transcript read, if any.
    pub transcript: Option<PathBuf>,
    /// The hook event file.
    pub events: Option<PathBuf>,
    /// Where reading of the transcript stands.
    pub transcript_cursor: Option<pk_status::FileCursor>,
    /// Where reading of the event file stands.
    pub events_cursor: Option<pk_status::FileCursor>,
    /// The pane of the track's agent (`%3` in tmux, `terminal_2` in zellij), when it has one:
    /// the zellij plugin focuses it on a click.
    #[serde(default)]
    pub pane: Option<String>,
    /// Changed and untracked files of the worktree, when the watcher's count is current
    /// ([`crate::live::dirt`]); `pk status` asks git when it is not.
    #[serde(default)]
    pub changed_files: Option<usize>,
}

impl TrackEntry {
    /// The entry of a feed with its shown status.
    pub fn of(feed: &TrackFeed, status: TrackStatus, pane: Option<String>) -> TrackEntry {
        TrackEntry {
            name: feed.name().to_string(),
            status,
            transcript: feed.transcript().map(|t| t.path().to_path_buf()),
            events: Some(feed.events().path().to_path_buf()),
            transcript_cursor: feed.transcript().map(Follower::cursor),
            events_cursor: Some(feed.events().cursor()),
            pane,
            changed_files: None,
        }
    }
}

impl StatusFile {
    /// Reads `status.json` in `state_dir`, if there is a readable one of this version.
    pub fn load(state_dir: &Path) -> Option<StatusFile> {
        let text = std::fs::read(state_dir.join(STATUS_FILE)).ok()?;
        serde_json::from_slice::<StatusFile>(&text)
            .ok()
            .filter(|s| s.version == STATUS_VERSION)
    }

    /// Writes it into `state_dir` atomically. Unlike the state, the folder is not created: when
    /// it is gone, the session was torn down and the watcher must not bring it back.
    pub fn save(&self, state_dir: &Path) -> Result<()> {
        if !state_dir.is_dir() {
            return Err(Error::failure(format!(
                "{} is gone (the session was torn down)",
                state_dir.display()
            )));
        }
        let text = serde_json::to_vec_pretty(self).context("failed to encode status.json")?;
        crate::util::fs::write_atomically_in_place(&state_dir.join(STATUS_FILE), &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::state::{Launch, TrackRecord};
    use pk_status::TrackState;
    use std::io::Write;

    fn record(source: Option<Source>, events: &Path) -> TrackRecord {
        TrackRecord {
            name: "api".into(),
            branch: "pk/api".into(),
            base: "main".into(),
            branch_created: true,
            worktree: "/w".into(),
            worktree_created: true,
            worktree_ready: true,
            worktree_removing: false,
            port_block: 4100,
            port_count: 10,
            ports: vec![],
            copied: vec![],
            pane: None,
            launch: Launch::default(),
            transcript: source,
            events: Some(events.to_path_buf()),
            agent_started_ms: None,
        }
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn follower_reads_only_appended_bytes_and_restarts_on_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let mut f = Follower::new(path.clone(), Format::CodexExec);
        assert!(!f.poll(1), "missing file");
        append(&path, "{\"type\":\"turn.started\"}\n{\"type\":\"turn.comp");
        assert!(f.poll(1));
        assert_eq!(f.status().state, TrackState::Working);
        assert!(!f.poll(2), "nothing new");
        append(&path, "leted\",\"usage\":{\"output_tokens\":5}}\n");
        assert!(f.poll(3));
        assert_eq!(f.status().state, TrackState::Done);
        assert_eq!(f.status().tokens.output, 5);
        assert_eq!(f.cursor().offset, std::fs::metadata(&path).unwrap().len());
        std::fs::write(&path, "{\"type\":\"turn.started\"}\n").unwrap();
        assert!(f.poll(4));
        assert_eq!(f.status().state, TrackState::Working);
        assert_eq!(f.status().tokens.output, 0);
    }

    #[test]
    fn every_item_is_worked_on_once_in_parallel_or_not() {
        for backlog in [0, PARALLEL_FROM] {
            let mut items: Vec<(u64, u32)> = (0..9).map(|i| (i, 0)).collect();
            each_in_parallel(&mut items, |_| backlog, |item| item.1 += 1);
            assert!(items.iter().all(|(_, n)| *n == 1), "{items:?}");
        }
    }

    #[test]
    fn refresh_all_reads_every_track() {
        let dir = tempfile::tempdir().unwrap();
        let mut feeds: Vec<TrackFeed> = (0..3)
            .map(|i| {
                let tr = dir.path().join(format!("t{i}.jsonl"));
                append(&tr, "{\"type\":\"turn.started\"}\n");
                let mut rec = record(
                    Some(Source::File {
                        path: tr,
                        format: Format::CodexExec,
                    }),
                    &dir.path().join(format!("e{i}")),
                );
                rec.name = format!("t{i}");
                TrackFeed::new(&rec, dir.path())
            })
            .collect();
        refresh_all(&mut feeds, 1);
        for f in &feeds {
            assert_eq!(f.status().state, TrackState::Working, "{}", f.name());
            assert_eq!(f.backlog(), 0);
        }
    }

    #[test]
    fn feed_combines_transcript_and_events() {
        let dir = tempfile::tempdir().unwrap();
        let tr = dir.path().join("t.ndjson");
        let ev = dir.path().join("events.ndjson");
        let mut feed = TrackFeed::new(
            &record(
                Some(Source::File {
                    path: tr.clone(),
                    format: Format::ClaudeStream,
                }),
                &ev,
            ),
            dir.path(),
        );
        assert!(!feed.refresh(1) || feed.status().state == TrackState::Starting);
        append(&tr, "{\"type\":\"system\",\"subtype\":\"init\"}\n");
        assert!(feed.refresh(1_000));
        assert_eq!(feed.status().state, TrackState::Working);
        append(
            &ev,
            "{\"hook_event_name\":\"PermissionRequest\",\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"ls\"},\"timestamp\":\"1970-01-01T00:00:02Z\"}\n",
        );
        assert!(feed.refresh(2_100));
        assert_eq!(feed.status().state, TrackState::Waiting);
        append(
            &tr,
            "{\"type\":\"result\",\"subtype\":\"success\",\"total_cost_usd\":0.5}\n",
        );
        feed.refresh(3_000);
        let s = feed.status();
        assert_eq!((s.state, s.cost_usd), (TrackState::Done, 0.5));
        assert!(
            feed.watch_dirs(0).contains(&dir.path().to_path_buf()),
            "{:?}",
            feed.watch_dirs(0)
        );
    }

    #[test]
    fn claude_sessions_follow_the_hooks_and_carry_the_cost_over() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("projects/-w");
        std::fs::create_dir_all(&project).unwrap();
        let ev = dir.path().join("events.ndjson");
        let mut feed = TrackFeed::new(
            &record(
                Some(Source::ClaudeProject {
                    dir: project.clone(),
                }),
                &ev,
            ),
            dir.path(),
        );
        feed.refresh(0);
        assert!(feed.transcript().is_none());
        let usage = |id: &str, t: &str| {
            format!(
                "{{\"type\":\"assistant\",\"timestamp\":\"{t}\",\"requestId\":\"r{id}\",\"message\":{{\"id\":\"{id}\",\"model\":\"claude-sonnet-4-5\",\"role\":\"assistant\",\"content\":[{{\"type\":\"text\",\"text\":\"hi\"}}],\"usage\":{{\"input_tokens\":0,\"output_tokens\":1000000}}}}}}\n"
            )
        };
        // Found in the folder before any hook fired.
        let first = project.join("s1.jsonl");
        append(&first, &usage("m1", "2026-03-02T09:00:00Z"));
        feed.refresh(1);
        assert_eq!(feed.transcript().unwrap().path(), first);
        let one = feed.status().cost_usd;
        assert!(one > 0.0);
        // /clear: the hooks name the new session's file.
        let second = dir.path().join("elsewhere/s2.jsonl");
        std::fs::create_dir_all(second.parent().unwrap()).unwrap();
        append(&second, &usage("m2", "2026-03-02T09:01:00Z"));
        append(
            &ev,
            &format!(
                "{{\"hook_event_name\":\"SessionStart\",\"source\":\"clear\",\"transcript_path\":\"{}\"}}\n",
                second.display()
            ),
        );
        feed.refresh(2);
        assert_eq!(feed.transcript().unwrap().path(), second);
        assert!((feed.status().cost_usd - 2.0 * one).abs() < 1e-9);
        assert!(!feed.status().cost_is_reported);
    }

    #[test]
    fn status_file_round_trips_and_never_makes_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let feed = TrackFeed::new(&record(None, &dir.path().join("e")), dir.path());
        let file = StatusFile {
            version: STATUS_VERSION,
            session: "shop".into(),
            updated: Timestamp(5),
            pid: 1,
            total_cost_usd: 0.0,
            tracks: vec![TrackEntry::of(&feed, TrackStatus::default(), None)],
        };
        file.save(dir.path()).unwrap();
        assert_eq!(StatusFile::load(dir.path()), Some(file.clone()));
        let gone = dir.path().join("gone");
        assert!(file.save(&gone).is_err());
        assert!(!gone.exists());
    }

    /// A Claude stream transcript with one response per line, `n` of them from `first`.
    fn responses(first: usize, n: usize) -> String {
        (first..first + n)
            .map(|i| {
                format!(
                    "{{\"type\":\"assistant\",\"message\":{{\"id\":\"m{i}\",\"model\":\"claude-sonnet-4-5\",\"content\":[{{\"type\":\"tool_use\",\"id\":\"t{i}\",\"name\":\"Bash\",\"input\":{{\"command\":\"step {i}\"}}}}],\"usage\":{{\"input_tokens\":10,\"output_tokens\":{i}}}}}}}\n"
                )
            })
            .collect()
    }

    /// A track reading a Claude stream, in a state folder `dir` (with a state file: a session
    /// that is up).
    fn stream_feed(dir: &Path) -> (TrackRecord, PathBuf, PathBuf) {
        std::fs::write(dir.join(crate::session::state::STATE_FILE), "{}").unwrap();
        let tr = dir.join("t.ndjson");
        let ev = dir.join("events.ndjson");
        let mut rec = record(
            Some(Source::File {
                path: tr.clone(),
                format: Format::ClaudeStream,
            }),
            &ev,
        );
        rec.agent_started_ms = Some(1);
        (rec, tr, ev)
    }

    /// What a feed that reads both files whole makes of them.
    fn read_whole(rec: &TrackRecord, dir: &Path) -> TrackStatus {
        let mut feed = TrackFeed::new(rec, dir);
        feed.refresh(9);
        feed.status()
    }

    #[test]
    fn a_resumed_feed_reads_only_what_came_since_its_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let (rec, tr, ev) = stream_feed(dir.path());
        append(&tr, &responses(0, 300));
        // A torn last line: the checkpoint stops before it.
        let torn_at = std::fs::metadata(&tr).unwrap().len();
        append(&tr, "{\"type\":\"assistant\",\"mess");
        append(&ev, "{\"hook_event_name\":\"UserPromptSubmit\"}\n");
        let mut feed = TrackFeed::resume(&rec, dir.path());
        feed.refresh(9);
        assert!(feed.save(dir.path()).unwrap());
        assert!(
            !feed.save(dir.path()).unwrap(),
            "nothing new: not written again"
        );
        append(&tr, "age\":{\"id\":\"x\"}}\n");
        append(&tr, &responses(300, 2));

        let mut again = TrackFeed::resume(&rec, dir.path());
        assert_eq!(again.status().turns, 300, "the checkpoint's status");
        again.refresh(9);
        let len = std::fs::metadata(&tr).unwrap().len();
        assert_eq!(
            again.transcript().unwrap().last_read(),
            Some((torn_at, len))
        );
        assert_eq!(again.events().last_read(), None, "no new events");
        assert_eq!(again.status(), read_whole(&rec, dir.path()));
        assert_eq!(again.status().turns, 302);
        assert_eq!(again.status().last_tool.as_deref(), Some("Bash step 301"));
    }

    #[test]
    fn a_checkpoint_of_other_files_or_content_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let (rec, tr, _) = stream_feed(dir.path());
        append(&tr, &responses(0, 50));
        let mut feed = TrackFeed::resume(&rec, dir.path());
        feed.refresh(9);
        feed.save(dir.path()).unwrap();
        let resumed_from = |rec: &TrackRecord| {
            let mut f = TrackFeed::resume(rec, dir.path());
            f.refresh(9);
            let from = f.transcript().unwrap().last_read().map(|r| r.0);
            assert_eq!(f.status(), read_whole(rec, dir.path()));
            from
        };
        append(&tr, &responses(50, 1));
        assert!(resumed_from(&rec) > Some(0));

        // Another agent run of the track: its files are not the checkpoint's.
        let mut restarted = rec.clone();
        restarted.agent_started_ms = Some(2);
        assert_eq!(resumed_from(&restarted), Some(0));

        // The same file, rewritten in place (same inode, longer): other bytes before the
        // checkpoint's offset.
        let text = std::fs::read_to_string(&tr)
            .unwrap()
            .replace("step 4", "step X");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&tr)
            .unwrap()
            .write_all(format!("{text}{}", responses(60, 1)).as_bytes())
            .unwrap();
        assert_eq!(resumed_from(&rec), Some(0));

        // Replaced by another file with the same bytes and more (renamed over it while the old
        // one is still open, so the inode differs): only the inode tells.
        feed.refresh(9);
        feed.save(dir.path()).unwrap();
        let _old = std::fs::File::open(&tr).unwrap();
        let copy = dir.path().join("copy.ndjson");
        std::fs::copy(&tr, &copy).unwrap();
        append(&copy, &responses(70, 1));
        std::fs::rename(&copy, &tr).unwrap();
        assert_eq!(resumed_from(&rec), Some(0));
        // A damaged checkpoint.
        std::fs::write(checkpoint_path(dir.path(), "api"), "{\"version\":1,").unwrap();
        assert_eq!(resumed_from(&rec), Some(0));
    }

    #[test]
    fn an_unfinished_last_line_is_read_again_but_not_saved_again() {
        let dir = tempfile::tempdir().unwrap();
        let (rec, tr, _) = stream_feed(dir.path());
        append(&tr, &responses(0, 3));
        append(
            &tr,
            "{\"type\":\"result\",\"subtype\":\"success\",\"total_cost_usd\":0.5}",
        );
        let mut feed = TrackFeed::resume(&rec, dir.path());
        feed.refresh(9);
        assert!(feed.save(dir.path()).unwrap());
        let mut again = TrackFeed::resume(&rec, dir.path());
        again.refresh(9);
        assert!(
            again.transcript().unwrap().last_read().is_some(),
            "the tail, again"
        );
        assert!(!again.save(dir.path()).unwrap(), "no progress: not written");
        // The agent died: the tail is a complete line, and the same whichever way it was read.
        again.finish(9);
        feed.finish(9);
        assert_eq!(again.status().cost_usd, 0.5);
        assert_eq!(again.status(), feed.status());
    }

    #[test]
    fn a_checkpoint_never_makes_the_state_folder_again() {
        let dir = tempfile::tempdir().unwrap();
        let (rec, tr, _) = stream_feed(dir.path());
        append(&tr, &responses(0, 1));
        let gone = dir.path().join("gone");
        let mut feed = TrackFeed::resume(&rec, &gone);
        feed.refresh(9);
        assert!(!feed.save(&gone).unwrap());
        assert!(!gone.exists());
        // Torn down while the checkpoint was written: the folder is left empty.
        std::fs::remove_file(dir.path().join(crate::session::state::STATE_FILE)).unwrap();
        assert!(!feed.save(dir.path()).unwrap());
        assert!(!dir.path().join(CHECKPOINT_DIR).exists());
    }
}
