//! The conflict forecast (design §9): which tracks' work would collide, with each other and
//! with their base's tip, before anyone merges.
//!
//! Every pair of tracks and every track against its base is merged in memory
//! ([`crate::sys::git::merge`]): the merge base of the two commits, and each side's tree with
//! its worktree's uncommitted work laid over it (tracked and untracked, not ignored files, as
//! `git status` lists them). Nothing is written to the repository.
//!
//! A [`Forecaster`] remembers each verdict by the commits and trees of both sides, so a round
//! where nothing changed merges nothing, and a track's new commit or edit re-merges only the
//! pairs it is in (with 8 tracks: its 7 pairs and its base). The tree of uncommitted work is
//! remembered by the worktree's `HEAD`, its `git status` and the size, time and inode of each
//! changed file: files are read again only when one of those moved, or when a merge needs the
//! tree and this round's in-memory store does not have it yet. A probe that fails is
//! "unknown", never "clean".
//!
//! `pk status` (without a watcher), the watcher, and later `pk land` and `pk diff` use it.

use crate::error::Result;
use crate::sys::git::Git;
use crate::sys::git::merge::{Merge, Scratch, stat_of, worktree_head};
use git2::Oid;
use pk_status::forecast::{BASE, Conflict, Forecast};
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A track as the forecast sees it.
#[derive(Debug, Clone)]
pub struct TrackInput {
    /// Track name.
    pub name: String,
    /// The ref it lands into.
    pub base: String,
    /// Its branch (read when the worktree is gone).
    pub branch: String,
    /// Its worktree.
    pub worktree: PathBuf,
    /// The worktree's `git status --porcelain=v1 -z` when the caller has it (the watcher's
    /// count); `None`: asked here.
    pub status: Option<Vec<u8>>,
}

/// One side of a merge: a commit and the tree that stands for it (the commit's own, or with
/// the worktree's uncommitted work over it).
type Side = (Oid, Oid);

/// The verdict of one merge.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Clean,
    Conflicts(Vec<String>),
    Unknown(String),
}

/// What makes a worktree's tree of uncommitted work: its `HEAD`, the hash of its status and
/// the stat of each changed path.
type Signature = (Oid, u64, Vec<Option<(u64, i64, i64, u64)>>);

/// What one track is in a round: its side, or why it has none.
struct Resolved {
    side: std::result::Result<Side, String>,
    /// Changed paths of the worktree (rename sources included), when dirty.
    dirty: Vec<Vec<u8>>,
    /// Its tree is in this round's memory (or needs none: a clean worktree).
    present: bool,
    base_tip: std::result::Result<Side, String>,
    /// Neither its worktree nor its branch exists (a track not started): it takes no part.
    absent: bool,
}

/// Counts of the work a [`Forecaster`] did, for tests and the bench.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Merges run.
    pub merges: usize,
    /// Trees of uncommitted work built (changed files read and hashed).
    pub trees: usize,
    /// `git status` runs (for worktrees the caller gave no status of).
    pub statuses: usize,
}

/// The forecast, with what it remembers between rounds.
#[derive(Default)]
pub struct Forecaster {
    /// Verdicts by their two sides (the lesser first: a merge is symmetric in its conflicts).
    verdicts: HashMap<(Side, Side), Verdict>,
    /// Ahead, behind and changed paths by the track's side and its base's tip.
    summaries: HashMap<(Side, Oid), Summary>,
    /// The tree of each worktree's uncommitted work, by its signature.
    trees: HashMap<String, (Signature, Oid)>,
    /// The work of the last round.
    last: Work,
}

#[derive(Debug, Clone)]
struct Summary {
    ahead: Option<usize>,
    behind: Option<usize>,
    changed: Vec<String>,
}

impl Forecaster {
    /// A forecaster that remembers nothing yet.
    pub fn new() -> Forecaster {
        Forecaster::default()
    }

    /// What the last [`Forecaster::forecast`] did.
    pub fn work(&self) -> Work {
        self.last
    }

    /// [`Forecaster::forecast`] in the repository that contains `dir` (for the bench).
    pub fn forecast_in(&mut self, dir: &Path, tracks: &[TrackInput]) -> Result<Vec<Forecast>> {
        self.forecast(&Git::discover(dir)?, tracks)
    }

    /// The forecast of every track, in the order given; merges only what changed since the
    /// last round. `git` runs `git status` in worktrees the input has no status of.
    pub(crate) fn forecast(&mut self, git: &Git, tracks: &[TrackInput]) -> Result<Vec<Forecast>> {
        let scratch = Scratch::open(git.root())?;
        let mut work = Work::default();
        let mut resolved: Vec<Resolved> = tracks
            .iter()
            .map(|t| self.resolve(git, &scratch, t, &mut work))
            .collect();
        let mut used_verdicts = HashSet::new();
        let mut used_summaries = HashSet::new();
        let mut verdicts: Vec<Vec<(String, Verdict)>> = vec![Vec::new(); tracks.len()];
        // Each track against its base's tip: the base is "ours", as when it is landed.
        for i in 0..tracks.len() {
            if resolved[i].absent {
                continue;
            }
            let verdict = match (&resolved[i].base_tip, &resolved[i].side) {
                (Err(e), _) | (Ok(_), Err(e)) => Verdict::Unknown(e.clone()),
                (Ok(base), Ok(side)) => {
                    let key = ordered(*base, *side);
                    used_verdicts.insert(key);
                    match self.verdicts.get(&key) {
                        Some(v) => v.clone(),
                        None => {
                            let v = self.probe(&scratch, tracks, &mut resolved, None, i, &mut work);
                            self.verdicts.insert(key, v.clone());
                            v
                        }
                    }
                }
            };
            verdicts[i].push((BASE.to_string(), verdict));
        }
        for i in 0..tracks.len() {
            for j in i + 1..tracks.len() {
                if resolved[i].absent || resolved[j].absent {
                    continue;
                }
                let verdict = match (&resolved[i].side, &resolved[j].side) {
                    (Err(e), _) | (Ok(_), Err(e)) => Verdict::Unknown(e.clone()),
                    (Ok(a), Ok(b)) => {
                        let key = ordered(*a, *b);
                        used_verdicts.insert(key);
                        match self.verdicts.get(&key) {
                            Some(v) => v.clone(),
                            None => {
                                let v = self.probe(
                                    &scratch,
                                    tracks,
                                    &mut resolved,
                                    Some(i),
                                    j,
                                    &mut work,
                                );
                                self.verdicts.insert(key, v.clone());
                                v
                            }
                        }
                    }
                };
                verdicts[i].push((tracks[j].name.clone(), verdict.clone()));
                verdicts[j].push((tracks[i].name.clone(), verdict));
            }
        }
        let mut out = Vec::with_capacity(tracks.len());
        for (i, list) in verdicts.into_iter().enumerate() {
            let summary = match (&resolved[i].side, &resolved[i].base_tip) {
                (Ok(side), Ok(base)) => {
                    let key = (*side, base.0);
                    used_summaries.insert(key);
                    match self.summaries.get(&key) {
                        Some(s) => s.clone(),
                        None => {
                            let s = self.summarize(&scratch, tracks, &mut resolved, i, &mut work);
                            self.summaries.insert(key, s.clone());
                            s
                        }
                    }
                }
                _ => Summary {
                    ahead: None,
                    behind: None,
                    changed: Vec::new(),
                },
            };
            let conflicts = list
                .into_iter()
                .filter_map(|(with, v)| match v {
                    Verdict::Clean => None,
                    Verdict::Conflicts(files) => Some(Conflict {
                        with,
                        files,
                        unknown: None,
                    }),
                    Verdict::Unknown(reason) => Some(Conflict {
                        with,
                        files: Vec::new(),
                        unknown: Some(reason),
                    }),
                })
                .collect();
            out.push(Forecast {
                ahead: summary.ahead,
                behind: summary.behind,
                changed: summary.changed,
                conflicts,
            });
        }
        // Only what this round used is kept: memory stays bounded by the pairs of the plan.
        self.verdicts.retain(|k, _| used_verdicts.contains(k));
        self.summaries.retain(|k, _| used_summaries.contains(k));
        self.trees
            .retain(|name, _| tracks.iter().any(|t| &t.name == name));
        self.last = work;
        Ok(out)
    }

    /// A track's side this round: its worktree's `HEAD` (or its branch when the worktree is
    /// gone) and the tree of its uncommitted work, from memory when its signature did not
    /// change.
    fn resolve(
        &mut self,
        git: &Git,
        scratch: &Scratch,
        t: &TrackInput,
        work: &mut Work,
    ) -> Resolved {
        let base_tip = scratch
            .commit(&t.base)
            .and_then(|c| Ok((c, scratch.tree_of(c)?)))
            .map_err(|e| e.to_string());
        let mut r = Resolved {
            side: Err(String::new()),
            dirty: Vec::new(),
            present: true,
            base_tip,
            absent: false,
        };
        let exists = t.worktree.join(".git").exists();
        let head = if exists {
            worktree_head(&t.worktree)
        } else {
            scratch.commit(&format!("refs/heads/{}", t.branch))
        };
        let head = match head {
            Ok(h) => h,
            Err(e) => {
                r.absent = !exists && !git.branch_exists(&t.branch);
                r.side = Err(e.to_string());
                return r;
            }
        };
        let status = match (&t.status, exists) {
            (_, false) => Vec::new(),
            (Some(s), true) => s.clone(),
            (None, true) => {
                work.statuses += 1;
                match git.status_raw(&t.worktree) {
                    Ok(s) => s,
                    Err(e) => {
                        r.side = Err(e.to_string());
                        return r;
                    }
                }
            }
        };
        r.dirty = status_paths(&status);
        if r.dirty.is_empty() {
            r.side = scratch
                .tree_of(head)
                .map(|tree| (head, tree))
                .map_err(|e| e.to_string());
            self.trees.remove(&t.name);
            return r;
        }
        let signature: Signature = (
            head,
            pk_status::fnv1a(&status),
            r.dirty
                .iter()
                .map(|p| stat_of(&t.worktree.join(Path::new(OsStr::from_bytes(p)))))
                .collect(),
        );
        if let Some((sig, tree)) = self.trees.get(&t.name)
            && *sig == signature
        {
            r.side = Ok((head, *tree));
            r.present = false;
            return r;
        }
        work.trees += 1;
        r.side = scratch
            .overlay(head, &t.worktree, &r.dirty)
            .map(|tree| (head, tree))
            .map_err(|e| e.to_string());
        if let Ok((_, tree)) = r.side {
            self.trees.insert(t.name.clone(), (signature, tree));
        }
        r
    }

    /// Makes sure track `i`'s tree is in this round's memory; its tree id, or why not.
    fn materialize(
        scratch: &Scratch,
        tracks: &[TrackInput],
        resolved: &mut [Resolved],
        i: usize,
        work: &mut Work,
    ) -> std::result::Result<Side, String> {
        let r = &mut resolved[i];
        let side = r.side.clone()?;
        if r.present {
            return Ok(side);
        }
        work.trees += 1;
        let tree = scratch
            .overlay(side.0, &tracks[i].worktree, &r.dirty)
            .map_err(|e| e.to_string())?;
        r.present = true;
        // Files that changed under the same stat would give another tree: the verdict is of
        // what is on disk now, and the remembered id is what it is filed under until the
        // next change of stat makes a new one.
        Ok((side.0, tree))
    }

    /// Merges track `j` with track `i`, or with its base's tip when `i` is `None`.
    fn probe(
        &self,
        scratch: &Scratch,
        tracks: &[TrackInput],
        resolved: &mut [Resolved],
        i: Option<usize>,
        j: usize,
        work: &mut Work,
    ) -> Verdict {
        let ours = match i {
            Some(i) => Self::materialize(scratch, tracks, resolved, i, work),
            None => resolved[j].base_tip.clone(),
        };
        let theirs = Self::materialize(scratch, tracks, resolved, j, work);
        let (ours, theirs) = match (ours, theirs) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return Verdict::Unknown(e),
        };
        work.merges += 1;
        let merged = scratch.merge_base(ours.0, theirs.0).and_then(|base| {
            let ancestor = match base {
                Some(b) => scratch.tree_of(b)?,
                None => {
                    return Err(crate::error::Error::failure(
                        "the two have no commit in common",
                    ));
                }
            };
            scratch.merge_trees(Some(ancestor), ours.1, theirs.1)
        });
        match merged {
            Ok(Merge::Clean) => Verdict::Clean,
            Ok(Merge::Conflicts(files)) => Verdict::Conflicts(files),
            Err(e) => Verdict::Unknown(e.to_string()),
        }
    }

    /// Ahead, behind and the paths changed since the merge base with the base's tip.
    fn summarize(
        &self,
        scratch: &Scratch,
        tracks: &[TrackInput],
        resolved: &mut [Resolved],
        i: usize,
        work: &mut Work,
    ) -> Summary {
        let mut s = Summary {
            ahead: None,
            behind: None,
            changed: Vec::new(),
        };
        let (Ok(side), Ok(base)) = (resolved[i].side.clone(), resolved[i].base_tip.clone()) else {
            return s;
        };
        if let Ok((ahead, behind)) = scratch.ahead_behind(side.0, base.0) {
            s.ahead = Some(ahead);
            s.behind = Some(behind);
        }
        let Ok(Some(mb)) = scratch.merge_base(side.0, base.0) else {
            return s;
        };
        let tree = match Self::materialize(scratch, tracks, resolved, i, work) {
            Ok(side) => side.1,
            Err(_) => return s,
        };
        if let Ok(from) = scratch.tree_of(mb) {
            s.changed = scratch.changed_paths(from, tree).unwrap_or_default();
        }
        s
    }
}

/// The two sides in a fixed order, so that (a, b) and (b, a) are one merge.
fn ordered(a: Side, b: Side) -> (Side, Side) {
    if a <= b { (a, b) } else { (b, a) }
}

/// Every path of `git status --porcelain=v1 -z` output, rename and copy sources included (a
/// renamed file's old path is gone from the worktree: the tree must lose it too).
pub(crate) fn status_paths(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut fields = raw.split(|b| *b == 0);
    while let Some(field) = fields.next() {
        if field.len() < 4 {
            continue;
        }
        let (xy, path) = (&field[..2], &field[3..]);
        if xy == b"!!" {
            continue;
        }
        out.push(path.to_vec());
        if matches!(xy[0], b'R' | b'C')
            && let Some(source) = fields.next()
        {
            out.push(source.to_vec());
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::git::run_in;

    #[test]
    fn status_paths_keep_rename_sources() {
        let raw = b" M src/a.rs\0?? new file.txt\0R  to.rs\0from.rs\0!! ignored\0";
        let want: Vec<Vec<u8>> = [&b"from.rs"[..], b"new file.txt", b"src/a.rs", b"to.rs"]
            .iter()
            .map(|p| p.to_vec())
            .collect();
        assert_eq!(status_paths(raw), want);
        assert!(status_paths(b"").is_empty());
    }

    /// A repository on `main` with `lines.txt` (20 numbered lines), `other.txt` and
    /// `move.txt`, and the worktrees of `tracks` (branch `pk/<name>` from main).
    struct Repo {
        _dir: tempfile::TempDir,
        root: PathBuf,
        git: Git,
    }

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = run_in(dir, args, false).unwrap_or_else(|e| panic!("git {args:?}: {e}"));
        String::from_utf8_lossy(&out).into_owned()
    }

    fn numbered(n: usize) -> String {
        (1..=n).map(|i| format!("line {i}\n")).collect()
    }

    impl Repo {
        fn new(tracks: &[&str]) -> Repo {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("repo");
            std::fs::create_dir(&root).unwrap();
            git(&root, &["init", "-q", "-b", "main"]);
            git(&root, &["config", "user.email", "t@example.com"]);
            git(&root, &["config", "user.name", "t"]);
            std::fs::write(root.join("lines.txt"), numbered(20)).unwrap();
            std::fs::write(root.join("other.txt"), "other\n").unwrap();
            std::fs::write(root.join("move.txt"), numbered(30)).unwrap();
            git(&root, &["add", "-A"]);
            git(&root, &["commit", "-q", "-m", "init"]);
            for t in tracks {
                let wt = dir.path().join(t);
                let branch = format!("pk/{t}");
                git(
                    &root,
                    &["worktree", "add", "-q", "-b", &branch, wt.to_str().unwrap()],
                );
            }
            let git = Git::discover(&root).unwrap();
            Repo {
                _dir: dir,
                root,
                git,
            }
        }

        fn wt(&self, t: &str) -> PathBuf {
            self.root.parent().unwrap().join(t)
        }

        fn inputs(&self, tracks: &[&str]) -> Vec<TrackInput> {
            tracks
                .iter()
                .map(|t| TrackInput {
                    name: t.to_string(),
                    base: "main".into(),
                    branch: format!("pk/{t}"),
                    worktree: self.wt(t),
                    status: None,
                })
                .collect()
        }

        /// Replaces line `n` of `file` in the worktree of `t` (or the main checkout).
        fn edit(&self, t: &str, file: &str, n: usize, text: &str) {
            let dir = if t == "main" {
                self.root.clone()
            } else {
                self.wt(t)
            };
            let body = std::fs::read_to_string(dir.join(file)).unwrap();
            let body: String = body
                .lines()
                .enumerate()
                .map(|(i, l)| {
                    if i + 1 == n {
                        format!("{text}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            std::fs::write(dir.join(file), body).unwrap();
        }

        fn commit(&self, t: &str) {
            let dir = if t == "main" {
                self.root.clone()
            } else {
                self.wt(t)
            };
            git(&dir, &["add", "-A"]);
            git(&dir, &["commit", "-q", "-m", "work"]);
        }

        fn objects(&self) -> String {
            git(&self.root, &["count-objects", "-v"])
        }

        /// What `git merge-tree --write-tree --name-only` says of two commits: the conflicting
        /// paths, or none. Run with a throwaway object folder.
        fn merge_tree(&self, a: &str, b: &str) -> Vec<String> {
            let tmp = tempfile::tempdir().unwrap();
            let mut cmd = self.git.command_in(&self.root);
            cmd.env("GIT_OBJECT_DIRECTORY", tmp.path())
                .env(
                    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                    self.git.common_dir().join("objects"),
                )
                .args([
                    "merge-tree",
                    "--write-tree",
                    "--name-only",
                    "--no-messages",
                    a,
                    b,
                ]);
            let out = cmd.output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let mut paths: Vec<String> = text.lines().skip(1).map(str::to_string).collect();
            paths.sort();
            assert_eq!(out.status.code() == Some(1), !paths.is_empty(), "{text}");
            paths
        }
    }

    fn conflicts_of(f: &Forecast) -> Vec<(String, Vec<String>)> {
        f.conflicts
            .iter()
            .map(|c| {
                assert_eq!(c.unknown, None, "{c:?}");
                (c.with.clone(), c.files.clone())
            })
            .collect()
    }

    fn pair(with: &str, files: &[&str]) -> (String, Vec<String>) {
        (
            with.to_string(),
            files.iter().map(|f| f.to_string()).collect(),
        )
    }

    /// Each kind of change of two tracks, committed: the forecast lists what git's own
    /// merge-tree lists, for both tracks.
    #[test]
    fn committed_pairs_agree_with_git_merge_tree() {
        type Setup = fn(&Repo);
        let cases: [(&str, Setup, &[&str]); 6] = [
            (
                "disjoint files",
                |r| {
                    r.edit("a", "lines.txt", 3, "a");
                    r.edit("b", "other.txt", 1, "b");
                },
                &[],
            ),
            (
                "same lines",
                |r| {
                    r.edit("a", "lines.txt", 10, "from a");
                    r.edit("b", "lines.txt", 10, "from b");
                },
                &["lines.txt"],
            ),
            (
                "same file, other places",
                |r| {
                    r.edit("a", "lines.txt", 2, "from a");
                    r.edit("b", "lines.txt", 18, "from b");
                },
                &[],
            ),
            (
                "rename against an edit (git follows the rename)",
                |r| {
                    std::fs::rename(r.wt("a").join("move.txt"), r.wt("a").join("moved.txt"))
                        .unwrap();
                    r.edit("b", "move.txt", 5, "from b");
                },
                &[],
            ),
            (
                "rename and edit against an edit of the same line",
                |r| {
                    r.edit("a", "move.txt", 5, "from a");
                    std::fs::rename(r.wt("a").join("move.txt"), r.wt("a").join("moved.txt"))
                        .unwrap();
                    r.edit("b", "move.txt", 5, "from b");
                },
                &["move.txt", "moved.txt"],
            ),
            (
                "delete against an edit",
                |r| {
                    std::fs::remove_file(r.wt("a").join("lines.txt")).unwrap();
                    r.edit("b", "lines.txt", 4, "from b");
                },
                &["lines.txt"],
            ),
        ];
        for (what, setup, want) in cases {
            let r = Repo::new(&["a", "b"]);
            setup(&r);
            r.commit("a");
            r.commit("b");
            let got = Forecaster::new()
                .forecast(&r.git, &r.inputs(&["a", "b"]))
                .unwrap();
            let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
            let git_says = r.merge_tree("pk/a", "pk/b");
            // merge-tree names a rename's conflict by its new path only.
            assert!(
                git_says.iter().all(|p| want.contains(p)) && git_says.is_empty() == want.is_empty(),
                "{what}: git says {git_says:?}"
            );
            let expect = |with: &str| {
                if want.is_empty() {
                    vec![]
                } else {
                    vec![(with.to_string(), want.clone())]
                }
            };
            assert_eq!(conflicts_of(&got[0]), expect("b"), "{what}: a");
            assert_eq!(conflicts_of(&got[1]), expect("a"), "{what}: b");
            assert_eq!(got[0].ahead, Some(1), "{what}");
            assert_eq!(got[0].behind, Some(0), "{what}");
        }
    }

    /// Uncommitted edits only (one of them an untracked file) collide, a track collides with
    /// its base that moved, and the repository gains no object from it.
    #[test]
    fn uncommitted_work_and_a_moved_base_without_writing_objects() {
        let r = Repo::new(&["a", "b", "c"]);
        r.edit("a", "lines.txt", 7, "a, not committed");
        r.edit("b", "lines.txt", 7, "b, not committed");
        std::fs::write(r.wt("b").join("new.txt"), "b's\n").unwrap();
        std::fs::write(r.wt("c").join("new.txt"), "c's\n").unwrap();
        r.edit("c", "other.txt", 1, "c");
        r.commit("c");
        r.edit("main", "other.txt", 1, "main moved on");
        r.commit("main");
        let before = r.objects();
        let mut f = Forecaster::new();
        let got = f.forecast(&r.git, &r.inputs(&["a", "b", "c"])).unwrap();
        assert_eq!(conflicts_of(&got[0]), [pair("b", &["lines.txt"])]);
        assert_eq!(
            conflicts_of(&got[1]),
            [pair("a", &["lines.txt"]), pair("c", &["new.txt"])]
        );
        assert_eq!(
            conflicts_of(&got[2]),
            [pair("base", &["other.txt"]), pair("b", &["new.txt"])]
        );
        assert_eq!((got[2].ahead, got[2].behind), (Some(1), Some(1)));
        assert_eq!(got[1].changed, ["lines.txt", "new.txt"]);
        assert_eq!(got[0].ahead, Some(0));
        assert_eq!(r.objects(), before, "forecasting wrote no object");
    }

    /// A round where nothing changed merges nothing; one track's new commit re-merges its pairs
    /// and its base only; an edit of uncommitted work is seen by its stat.
    #[test]
    fn only_what_changed_is_merged_again() {
        let names = ["a", "b", "c", "d"];
        let r = Repo::new(&names);
        r.edit("a", "lines.txt", 1, "a");
        r.edit("b", "lines.txt", 20, "b");
        r.edit("d", "other.txt", 1, "d, not committed");
        r.commit("a");
        r.commit("b");
        let mut f = Forecaster::new();
        let mut inputs = r.inputs(&names);
        f.forecast(&r.git, &inputs).unwrap();
        // c has no work yet: it is its base, and its merges are its base's (a, b and d's
        // against the base): 4 bases and 6 pairs are 7 merges.
        assert_eq!(f.work().merges, 7);
        assert_eq!(f.work().statuses, 4);
        // The caller's statuses, as the watcher gives them: no git process at all.
        for t in &mut inputs {
            t.status = Some(r.git.status_raw(&t.worktree).unwrap());
        }
        let again = f.forecast(&r.git, &inputs).unwrap();
        assert_eq!(f.work(), Work::default(), "nothing changed: nothing done");
        assert!(again.iter().all(|x| x.conflicts.is_empty()));
        r.edit("c", "lines.txt", 20, "c");
        r.commit("c");
        let got = f.forecast(&r.git, &inputs).unwrap();
        assert_eq!(f.work().merges, 4, "c's 3 pairs and its base");
        assert_eq!(
            f.work().trees,
            1,
            "d's uncommitted tree, for the merge with c"
        );
        assert_eq!(conflicts_of(&got[2]), [pair("b", &["lines.txt"])]);
        // d's uncommitted file changes again (same status): its 3 pairs and its base.
        std::thread::sleep(std::time::Duration::from_millis(20));
        r.edit("d", "other.txt", 1, "d, changed again, longer");
        f.forecast(&r.git, &inputs).unwrap();
        assert_eq!(f.work().merges, 4);
    }

    /// A probe that cannot run is unknown, never clean; a track not started takes no part.
    #[test]
    fn a_failed_probe_is_unknown() {
        let r = Repo::new(&["a"]);
        let mut inputs = r.inputs(&["a"]);
        // Its worktree is gone, its branch points at a missing object.
        git(&r.root, &["branch", "pk/gone"]);
        let packed = r.git.common_dir().join("refs/heads/pk/gone");
        std::fs::write(&packed, format!("{}\n", "1".repeat(40))).unwrap();
        for name in ["gone", "unborn"] {
            inputs.push(TrackInput {
                name: name.into(),
                base: "main".into(),
                branch: format!("pk/{name}"),
                worktree: r.wt(name),
                status: None,
            });
        }
        inputs[0].base = "no-such-base".into();
        let got = Forecaster::new().forecast(&r.git, &inputs).unwrap();
        let unknown: Vec<&str> = got[0]
            .conflicts
            .iter()
            .map(|c| {
                assert!(c.files.is_empty() && c.unknown.is_some(), "{c:?}");
                c.with.as_str()
            })
            .collect();
        assert_eq!(unknown, ["base", "gone"]);
        assert_eq!(got[1].ahead, None);
        assert_eq!(got[2], Forecast::default(), "not started: no forecast");
    }
}
