//! A [`TrackFeed`]: both files of a track followed together, the transcript found when it
//! appears (or changes), and every track read at once ([`refresh_all`]).

use super::{checkpoint::*, follower::*};
use crate::error::{Context, Error, Result};
use crate::session::state::TrackRecord;
use crate::session::transcript::{self, Source};
use pk_status::{Checkpoint, Format, Tokens, TrackStatus};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bytes waiting to be read, in all files together, from which they are read on several
/// threads.
pub(super) const PARALLEL_FROM: u64 = 8 << 20;

/// Most threads used for reading.
pub(super) const THREADS_MAX: usize = 4;

/// Session files older than the agent's start by more than this are someone else's (clock
/// granularity and a slow start leave some slack).
pub(super) const START_SLACK: Duration = Duration::from_secs(5);

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
/// The feeds are owned (the watcher's) or borrowed (those `pk status` reads itself).
pub(crate) fn refresh_all<F>(feeds: &mut [F], now_ms: i64)
where
    F: std::borrow::BorrowMut<TrackFeed> + Send,
{
    for feed in feeds.iter_mut() {
        feed.borrow_mut().follow(now_ms);
    }
    each_in_parallel(
        feeds,
        |f| f.borrow().backlog(),
        |feed| {
            feed.borrow_mut().read_transcript(now_ms);
        },
    );
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
    /// The model of a `codex exec` track, whose stream names none
    /// ([`crate::session::codex_model`]).
    model: Option<String>,
    /// For a `codex exec` track whose model nothing named: `CODEX_HOME/sessions`, where the
    /// thread's rollout names it.
    codex_sessions: Option<PathBuf>,
    finished: bool,
    /// Where reading stood at the last checkpoint written or read.
    saved: Option<Progress>,
}

/// Where a feed's checkpoint would stand: the event file's offset, the transcript and its
/// offset (each before an unfinished last line). A checkpoint is written when it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Progress(u64, Option<(PathBuf, u64)>);

/// A feed as its checkpoint file holds it.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct SavedFeed {
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
    pub(crate) fn new(rec: &TrackRecord, state_dir: &Path) -> TrackFeed {
        let events = rec
            .events
            .clone()
            .unwrap_or_else(|| transcript::events_path(state_dir, &rec.name));
        let not_before = rec
            .agent_started_ms
            .and_then(|ms| u64::try_from(ms).ok())
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
            .map(|t| t.checked_sub(START_SLACK).unwrap_or(t));
        let track_env = |k: &str| {
            let own = rec.launch.env.iter().rev().find(|(n, _)| n == k);
            own.map(|(_, v)| v.clone())
                .or_else(|| std::env::var(k).ok())
        };
        let codex_exec = rec
            .transcript
            .as_ref()
            .is_some_and(|s| s.format() == Format::CodexExec);
        let model = codex_exec
            .then(|| crate::session::codex_model::codex_exec_model(&rec.launch.argv, &track_env))
            .flatten();
        let codex_sessions = (codex_exec && model.is_none())
            .then(|| transcript::codex_root(&track_env))
            .flatten()
            .map(|root| root.join("sessions"));
        TrackFeed {
            name: rec.name.clone(),
            source: rec.transcript.clone(),
            events: Follower::new(events, Format::ClaudeHooks),
            transcript: None,
            carried: (Tokens::default(), 0.0),
            started: rec.agent_started_ms,
            not_before,
            codex_seen: HashMap::new(),
            model,
            codex_sessions,
            finished: false,
            saved: None,
        }
    }

    /// The feed of a track, from its checkpoint in `state_dir` when there is one for the same
    /// files: it then reads only what they gained since (see the module's doc).
    pub(crate) fn resume(rec: &TrackRecord, state_dir: &Path) -> TrackFeed {
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
        feed.events = Follower::resume(events_path, Format::ClaudeHooks, None, saved.events);
        if let Some(t) = saved.transcript {
            let format = feed.source.as_ref().map_or(Format::Lines, Source::format);
            let model = feed.model.as_deref();
            feed.transcript = Some(Follower::resume(t.path.clone(), format, model, Some(t)));
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

    /// The agent's conversation, once its transcript is found (see
    /// [`crate::live::conversation`]).
    pub(crate) fn conversation(&self) -> Option<crate::live::conversation::Conversation> {
        let format = self.source.as_ref()?.format();
        crate::live::conversation::of(format, self.transcript.as_ref()?.path())
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
            self.transcript = Some(Follower::with_model(path, format, self.model.as_deref()));
            changed = true;
        }
        self.tell_own_thread();
        changed
    }

    /// The second half of [`TrackFeed::refresh`]: reads what is new in the transcript.
    pub fn read_transcript(&mut self, now_ms: i64) -> bool {
        let read = self.transcript.as_mut().is_some_and(|t| t.poll(now_ms));
        self.tell_own_thread();
        if read {
            self.find_codex_model(now_ms);
        }
        read
    }

    /// `codex exec` with a model nothing named: its thread's rollout names it.
    fn find_codex_model(&mut self, now_ms: i64) {
        let (Some(sessions), Some(t)) = (&self.codex_sessions, &mut self.transcript) else {
            return;
        };
        if self.model.is_some() || t.tracker().model_hint().is_some() {
            return;
        }
        let Some(thread) = t.tracker().thread_id() else {
            return;
        };
        if let Some(model) = crate::session::codex_model::model_in_rollout(sessions, thread, now_ms)
        {
            t.name_model(&model);
        }
    }

    /// Interactive Codex: only the turn ends its `notify` reports of the rollout's thread are
    /// the track's (its title is written on a thread of its own, whose end comes first).
    fn tell_own_thread(&mut self) {
        if let Some(thread) = self
            .transcript
            .as_ref()
            .and_then(|t| t.tracker().thread_id())
        {
            self.events.set_own_thread(thread);
        }
    }

    /// Bytes of the transcript not read yet.
    pub fn backlog(&self) -> u64 {
        self.transcript.as_ref().map_or(0, Follower::backlog)
    }

    /// Where the transcript is now.
    fn locate(&mut self, now_ms: i64) -> Option<PathBuf> {
        match self.source.as_ref()? {
            // A folder (interactive Gemini's `chats/`): the session file written last.
            Source::File { path, .. } if path.is_dir() => {
                transcript::newest_jsonl(path, self.not_before)
            }
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
                if path.is_dir() {
                    add(path);
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
