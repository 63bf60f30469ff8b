//! The changed files of every worktree, kept by `pk watch` so that `pk status` need not run
//! `git status` in each worktree (8 of them cost 60-100 ms of CPU at 1,500 files, and 0.7 s at
//! 20,000: the design's 50 ms cannot be had that way).
//!
//! The count stays exact: the watcher watches every folder git would look at and counts again
//! with `git status` once a worktree has been quiet for [`QUIET`]. Between an event and that
//! count the worktree is *pending* and has no count in status.json, so `pk status` asks git for
//! that worktree itself. What is watched, per worktree:
//!
//! - every folder that holds a tracked file (from `git ls-files`, again whenever the index
//!   changes) or an untracked, not ignored one (from the count itself). Ignored folders
//!   (`target/`, `node_modules/`) are never watched: a build does not wake the watcher, and
//!   a big dependency tree costs no inotify watches. A new folder shows as an event in its
//!   parent, and the count that follows watches it;
//! - the worktree's git folder (`.git/worktrees/<name>`: index, `HEAD`) and its `logs`
//!   (a commit or reset moves the reflog even when the index stays).
//!
//! A worktree some folder of which cannot be watched (no inotify watches left) has no count:
//! `pk status` asks git, as without a watcher.

use crate::sys::git::Git;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A worktree is counted again once no event came for this long...
pub(crate) const QUIET: Duration = Duration::from_millis(300);
/// ...or once it has been pending this long, so that a worktree that never rests (a watch
/// mode rewriting a tracked file) still gets a count now and then.
pub(crate) const MAX_PENDING: Duration = Duration::from_secs(5);

/// What the watcher knows of one track's worktree.
#[derive(Debug)]
pub struct Worktree {
    /// The track.
    pub track: String,
    /// The worktree's folder.
    pub root: PathBuf,
    /// Its git folder (`.git/worktrees/<name>`), from its `.git` file.
    gitdir: Option<PathBuf>,
    /// Folders of tracked files, relative (`""` is the root).
    tracked_dirs: BTreeSet<PathBuf>,
    /// Folders of untracked files, relative.
    untracked_dirs: BTreeSet<PathBuf>,
    /// The tracked folders are to be listed again (first count, index changed).
    relist: bool,
    /// Changed and untracked files at the last count.
    count: Option<usize>,
    /// The `git status` of the last count, for the forecast.
    raw: Option<Vec<u8>>,
    /// Since when events are waiting for a count, and the last of them.
    pending: Option<(Instant, Instant)>,
    /// A folder could not be watched: no count is given.
    blind: bool,
    /// The ref its branch started from, to list what its commits changed (`owns`).
    pub base: Option<String>,
    /// The fingerprint of its tree at the last count ([`crate::session::check::tree`]).
    tree: Option<String>,
    /// The paths changed since the merge base with `base`, committed or not, at the last count.
    changed: Vec<String>,
    /// The paths its commits changed, for the commit they were listed at (listed again only
    /// when the commit moves).
    committed: Option<(String, Vec<String>)>,
}

impl Worktree {
    /// A worktree not counted yet.
    pub fn new(track: &str, root: &Path) -> Worktree {
        let now = Instant::now();
        Worktree {
            track: track.to_string(),
            gitdir: crate::sys::git::gitdir_of(root),
            root: root.to_path_buf(),
            tracked_dirs: BTreeSet::new(),
            untracked_dirs: BTreeSet::new(),
            relist: true,
            count: None,
            raw: None,
            pending: Some((now, now)),
            blind: false,
            base: None,
            tree: None,
            changed: Vec::new(),
            committed: None,
        }
    }

    /// The fingerprint of the tree, when the count is current.
    pub fn tree(&self) -> Option<&str> {
        self.count().and(self.tree.as_deref())
    }

    /// The paths changed since the merge base, committed or not, at the last count (kept while
    /// a new count is pending, so that a warning does not flicker).
    pub fn changed(&self) -> &[String] {
        &self.changed
    }

    /// The count to publish: none while events wait for a count, or when blind.
    pub fn count(&self) -> Option<usize> {
        match (self.pending, self.blind) {
            (None, false) => self.count,
            _ => None,
        }
    }

    /// The `git status --porcelain=v1 -z` of the last count, if one succeeded.
    pub fn status_raw(&self) -> Option<&[u8]> {
        self.raw.as_deref()
    }

    /// Not counted yet, and a count is coming (the forecast waits for it rather than run its
    /// own `git status`).
    pub fn first_count_pending(&self) -> bool {
        self.raw.is_none() && self.pending.is_some() && self.root.join(".git").exists()
    }

    /// The folders to watch for this worktree.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .tracked_dirs
            .iter()
            .chain(&self.untracked_dirs)
            .map(|d| self.root.join(d))
            .collect();
        dirs.push(self.root.clone());
        if let Some(g) = &self.gitdir {
            dirs.push(g.clone());
            dirs.push(g.join("logs"));
        }
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// Whether `path` (of a file event) is this worktree's business: in one of its watched
    /// folders, or the folder itself.
    pub fn owns(&self, path: &Path) -> bool {
        if let Some(g) = &self.gitdir
            && path.starts_with(g)
        {
            return true;
        }
        path.starts_with(&self.root)
    }

    /// Records an event at `now`; one in the git folder's index means the tracked folders may
    /// have changed.
    pub fn touch(&mut self, path: Option<&Path>, now: Instant) {
        if path.is_none_or(|p| self.gitdir.as_ref().is_some_and(|g| p.starts_with(g))) {
            self.relist = true;
        }
        self.pending = Some(match self.pending {
            Some((since, _)) => (since, now),
            None => (now, now),
        });
    }

    /// Whether a count should be tried again without an event: the last one found no
    /// worktree (not made yet when the watcher started) or a folder could not be watched.
    pub fn wants_retry(&self) -> bool {
        self.pending.is_none() && (self.count.is_none() || self.blind)
    }

    /// When the pending count is due, if one is.
    pub fn due_at(&self) -> Option<Instant> {
        let (since, last) = self.pending?;
        Some((last + QUIET).min(since + MAX_PENDING))
    }

    /// Counts with git; events that come meanwhile leave it pending.
    pub fn recount(&mut self, git: &Git) {
        let started = Instant::now();
        if self.gitdir.is_none() {
            self.gitdir = crate::sys::git::gitdir_of(&self.root);
        }
        if !self.root.join(".git").exists() {
            // Deleted by hand: nothing to count, and no folder to watch.
            self.count = None;
            self.raw = None;
            self.tracked_dirs.clear();
            self.untracked_dirs.clear();
            self.settle(started);
            return;
        }
        if self.relist {
            match git.tracked_files_raw(&self.root) {
                Ok(raw) => {
                    self.tracked_dirs = dirs_of(raw.split(|b| *b == 0));
                    self.relist = false;
                }
                Err(e) => eprintln!("pk watch: {e}"),
            }
        }
        match git.status_raw(&self.root) {
            Ok(raw) => {
                let dirt = crate::sys::git::parse_status(&raw);
                self.count = Some(dirt.count());
                self.untracked_dirs = dirs_of(untracked_paths(&raw));
                self.changes(git, &raw);
                self.raw = Some(raw);
            }
            Err(e) => {
                eprintln!("pk watch: {e}");
                self.count = None;
                self.raw = None;
            }
        }
        self.settle(started);
    }

    /// The tree's fingerprint and the changed paths, from the count's `git status` and, when
    /// the commit moved, `git diff base...HEAD`.
    fn changes(&mut self, git: &Git, status_raw: &[u8]) {
        let head = git.head_of(&self.root);
        self.tree = Some(crate::session::check::tree(
            head.as_deref(),
            status_raw,
            &self.root,
        ));
        let mut changed = crate::sys::git::changed_paths_of_status(status_raw);
        if let (Some(head), Some(base)) = (head, &self.base) {
            if self.committed.as_ref().is_none_or(|(at, _)| *at != head) {
                match git.committed_paths(&self.root, base) {
                    Ok(paths) => self.committed = Some((head, paths)),
                    Err(e) => {
                        eprintln!("pk watch: {e}");
                        self.committed = None;
                    }
                }
            }
            if let Some((_, paths)) = &self.committed {
                changed.extend(paths.iter().cloned());
            }
        }
        changed.sort();
        changed.dedup();
        self.changed = changed;
    }

    /// Marks whether every folder of [`Worktree::dirs`] is watched.
    pub fn set_blind(&mut self, blind: bool) {
        self.blind = blind;
    }

    /// Done counting: pending again only if an event came after the count began.
    fn settle(&mut self, started: Instant) {
        self.pending = match self.pending {
            Some((_, last)) if last > started => Some((last, last)),
            _ => None,
        };
    }
}

/// The folders (relative, without the root's `""`) that hold the given relative file paths,
/// with all their ancestors.
pub(crate) fn dirs_of<'a>(paths: impl Iterator<Item = &'a [u8]>) -> BTreeSet<PathBuf> {
    let mut dirs = BTreeSet::new();
    for path in paths {
        let mut dir = Path::new(OsStr::from_bytes(path)).parent();
        while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            if !dirs.insert(d.to_path_buf()) {
                break;
            }
            dir = d.parent();
        }
    }
    dirs
}

/// The untracked paths (`?? path`) of `git status --porcelain=v1 -z` output, as bytes.
pub(crate) fn untracked_paths(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut fields = raw.split(|b| *b == 0);
    std::iter::from_fn(move || {
        loop {
            let field = fields.next()?;
            if field.len() < 4 {
                continue;
            }
            match &field[..2] {
                b"??" => return Some(&field[3..]),
                // A rename or copy is followed by its source path.
                [b'R' | b'C', _] => {
                    fields.next();
                }
                _ => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_files_with_their_ancestors() {
        let paths: [&[u8]; 4] = [b"a/b/c.rs", b"a/d.rs", b"top.rs", b"x/y/z/w.txt"];
        let dirs: Vec<PathBuf> = dirs_of(paths.into_iter()).into_iter().collect();
        let want: Vec<PathBuf> = ["a", "a/b", "x", "x/y", "x/y/z"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(dirs, want);
    }

    #[test]
    fn untracked_paths_skip_rename_sources() {
        let raw = b"?? new/a.rs\0R  to.rs\0from.rs\0 M m.rs\0?? b\xffc/d\0";
        let got: Vec<&[u8]> = untracked_paths(raw).collect();
        assert_eq!(got, [&b"new/a.rs"[..], &b"b\xffc/d"[..]]);
    }

    #[test]
    fn pending_until_counted_and_quiet_or_too_long() {
        let mut w = Worktree::new("api", Path::new("/nowhere"));
        assert_eq!(w.count(), None, "not counted yet");
        w.pending = None;
        w.count = Some(3);
        assert_eq!(w.count(), Some(3));
        let t0 = Instant::now();
        w.touch(Some(Path::new("/nowhere/src/a.rs")), t0);
        assert_eq!(w.count(), None, "an event makes it pending");
        assert_eq!(w.due_at(), Some(t0 + QUIET));
        // Events every 100 ms: due after MAX_PENDING at the latest.
        let mut t = t0;
        for _ in 0..100 {
            t += Duration::from_millis(100);
            w.touch(None, t);
        }
        assert_eq!(w.due_at(), Some(t0 + MAX_PENDING));
        // A count that began before the last event leaves it pending.
        w.settle(t - Duration::from_millis(1));
        assert!(w.pending.is_some());
        w.settle(t + Duration::from_millis(1));
        assert_eq!(w.count(), Some(3));
        assert!(!w.wants_retry());
        w.set_blind(true);
        assert_eq!(w.count(), None);
        assert!(w.wants_retry(), "blind: tried again on the next tick");
    }
}
