//! The merges of `pk land` (design §9), in process with libgit2: the commit a track lands as on
//! its base's tip (squash, merge or rebase), and the base's ref moved by compare-and-swap.
//!
//! The merge engine is the forecast's ([`super::merge`]): what `pk land` finds is what the bar
//! predicted. A dry run writes its objects to memory only (the forecast's mempack), so it can
//! chain the landings it simulates and still leave the repository as it was.

use super::merge::conflict_paths;
use crate::error::{Context, Error, Result};
use crate::plan::Strategy;
use git2::{Oid, Repository, Signature};
use std::path::Path;

/// A repository opened for landing.
pub(crate) struct Lander {
    repo: Repository,
}

/// What landing a track on its base's tip gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Landing {
    /// The commit the base moves to.
    Commit(Oid),
    /// The base has all of the track's change already: there is nothing to land.
    Nothing,
    /// The change does not apply: the paths in conflict, and for a rebase the track's commit
    /// that does not apply.
    Conflicts {
        /// Sorted, both sides of a rename.
        paths: Vec<String>,
        /// The track's commit that conflicts (rebase only).
        at: Option<Oid>,
    },
}

/// What a landed commit says and who made it.
pub(crate) struct Message<'a> {
    /// The first line (the track's name and its prompt's first line).
    pub subject: &'a str,
    /// The track's branch, named in the body.
    pub branch: &'a str,
}

impl Lander {
    /// Opens the repository at `root`; with `in_memory`, every object it writes stays in
    /// memory and goes with it.
    pub(crate) fn open(root: &Path, in_memory: bool) -> Result<Lander> {
        // The trees pk land writes are merges of trees already in the repository: libgit2's
        // check that every entry's object exists (a lookup per file, most of a squash's time
        // on a 1,500-file tree) can only find what the merge just read.
        git2::opts::strict_object_creation(false);
        super::merge::open_repo(root, in_memory).map(|repo| Lander { repo })
    }

    /// The full name of the local branch `base` names (`main` → `refs/heads/main`), or `None`
    /// when it is something else (a remote-tracking branch, a tag, a commit).
    pub(crate) fn local_branch(&self, base: &str) -> Option<String> {
        let full = if base.starts_with("refs/heads/") {
            base.to_string()
        } else {
            format!("refs/heads/{base}")
        };
        self.repo.find_reference(&full).ok().map(|_| full)
    }

    /// The checkout that has the local branch `branch_ref` checked out: the main checkout or a
    /// linked worktree (read in process, as `git worktree list` would say it).
    pub(crate) fn checkout_of(&self, branch_ref: &str) -> Option<std::path::PathBuf> {
        let on = |repo: &Repository| {
            repo.head()
                .ok()
                .is_some_and(|h| h.name().ok() == Some(branch_ref))
        };
        if !self.repo.is_bare() && on(&self.repo) {
            return self.repo.workdir().map(Path::to_path_buf);
        }
        let names = self.repo.worktrees().ok()?;
        names.iter().find_map(|name| {
            let wt = self.repo.find_worktree(name.ok()??).ok()?;
            let repo = Repository::open_from_worktree(&wt).ok()?;
            (wt.path().is_dir() && on(&repo)).then(|| wt.path().to_path_buf())
        })
    }

    /// The commit a ref (or any revision) points at.
    pub(crate) fn commit(&self, rev: &str) -> Result<Oid> {
        super::merge::commit_of(&self.repo, rev)
    }

    /// The tree of a commit.
    pub(crate) fn tree_of(&self, commit: Oid) -> Result<Oid> {
        super::merge::tree_of(&self.repo, commit)
    }

    /// True when `head`'s commits since its merge base with `base` change nothing, taken
    /// together (made and then undone): such a track has nothing to land.
    pub(crate) fn changes_nothing(&self, base: Oid, head: Oid) -> Result<bool> {
        let Ok(mb) = self.repo.merge_base(base, head) else {
            return Ok(false);
        };
        Ok(self.tree_of(mb)? == self.tree_of(head)?)
    }

    /// True when `ancestor` is `commit` or one of its ancestors.
    pub(crate) fn contains(&self, commit: Oid, ancestor: Oid) -> bool {
        commit == ancestor
            || self
                .repo
                .graph_descendant_of(commit, ancestor)
                .unwrap_or(false)
    }

    /// The commit that lands `head` (a track's tip) on `base` (its base's tip) as `strategy`
    /// says, written to the repository (to memory in a dry run).
    pub(crate) fn land(
        &self,
        strategy: Strategy,
        base: Oid,
        head: Oid,
        message: &Message<'_>,
        me: &Signature<'_>,
    ) -> Result<Landing> {
        if self.contains(base, head) {
            return Ok(Landing::Nothing);
        }
        match strategy {
            Strategy::Squash | Strategy::Merge => {
                let tree = match self.merged_tree(base, head)? {
                    Ok(tree) => tree,
                    Err(paths) => return Ok(Landing::Conflicts { paths, at: None }),
                };
                let squash = strategy == Strategy::Squash;
                if squash && tree == self.tree_of(base)? {
                    return Ok(Landing::Nothing);
                }
                let text = if squash {
                    self.squash_message(base, head, message)?
                } else {
                    format!(
                        "{}\n\nMerge branch '{}' (landed by pk)\n",
                        message.subject, message.branch
                    )
                };
                let parents: &[Oid] = if squash { &[base] } else { &[base, head] };
                self.write_commit(me, me, &text, tree, parents)
                    .map(Landing::Commit)
            }
            Strategy::Rebase => self.rebase(base, head, me),
        }
    }

    /// `ours` and `theirs` merged over their merge base: the tree, or the paths in conflict.
    fn merged_tree(&self, ours: Oid, theirs: Oid) -> Result<std::result::Result<Oid, Vec<String>>> {
        let find = |oid: Oid| {
            self.repo
                .find_commit(oid)
                .with_context(|| format!("failed to read commit {oid}"))
        };
        let mut index = self
            .repo
            .merge_commits(&find(ours)?, &find(theirs)?, None)
            .context("failed to merge")?;
        if index.has_conflicts() {
            return Ok(Err(conflict_paths(&index)?));
        }
        index
            .write_tree_to(&self.repo)
            .map(Ok)
            .context("failed to write the merged tree")
    }

    /// The track's commits after the merge base, replayed on `base` one by one (their authors,
    /// dates and messages kept; a commit whose change `base` has already is dropped, as `git
    /// rebase` does). A fast-forward when `head` is on `base` already.
    fn rebase(&self, base: Oid, head: Oid, me: &Signature<'_>) -> Result<Landing> {
        if self.contains(head, base) {
            return Ok(Landing::Commit(head));
        }
        let mut walk = self.repo.revwalk().context("failed to walk the history")?;
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
            .context("failed to walk the history")?;
        walk.push(head).context("failed to walk the history")?;
        walk.hide(base).context("failed to walk the history")?;
        let mut tip = base;
        for oid in walk {
            let oid = oid.context("failed to walk the history")?;
            let commit = self
                .repo
                .find_commit(oid)
                .with_context(|| format!("failed to read commit {oid}"))?;
            // A merge commit inside the track is replayed as its change from its first parent.
            let parent_tree = match commit.parent(0) {
                Ok(p) => p.tree().context("failed to read a tree")?,
                Err(_) => {
                    let empty = self
                        .repo
                        .treebuilder(None)
                        .and_then(|b| b.write())
                        .context("failed to make the empty tree")?;
                    self.repo
                        .find_tree(empty)
                        .context("failed to read a tree")?
                }
            };
            let ours = self
                .repo
                .find_commit(tip)
                .and_then(|c| c.tree())
                .context("failed to read a tree")?;
            let theirs = commit.tree().context("failed to read a tree")?;
            let mut index = self
                .repo
                .merge_trees(&parent_tree, &ours, &theirs, None)
                .context("failed to replay a commit")?;
            if index.has_conflicts() {
                return Ok(Landing::Conflicts {
                    paths: conflict_paths(&index)?,
                    at: Some(oid),
                });
            }
            let tree = index
                .write_tree_to(&self.repo)
                .context("failed to write a replayed tree")?;
            if tree == ours.id() {
                continue;
            }
            let message = commit.message_raw().unwrap_or("(no message)").to_string();
            tip = self.write_commit(&commit.author(), me, &message, tree, &[tip])?;
        }
        Ok(if tip == base {
            Landing::Nothing
        } else {
            Landing::Commit(tip)
        })
    }

    /// The subject, then the subjects of the commits it squashes (as `git merge --squash`
    /// lists them), at most 50.
    fn squash_message(&self, base: Oid, head: Oid, message: &Message<'_>) -> Result<String> {
        let mut walk = self.repo.revwalk().context("failed to walk the history")?;
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
            .context("failed to walk the history")?;
        walk.push(head).context("failed to walk the history")?;
        walk.hide(base).context("failed to walk the history")?;
        let subjects: Vec<String> = walk
            .filter_map(|oid| oid.ok())
            .filter_map(|oid| self.repo.find_commit(oid).ok())
            .filter_map(|c| c.summary().ok().flatten().map(str::to_string))
            .collect();
        let mut text = format!(
            "{}\n\nSquashed from branch '{}' by pk land ({} commit(s)):\n",
            message.subject,
            message.branch,
            subjects.len()
        );
        for s in subjects.iter().take(50) {
            text.push_str(&format!("\n* {s}"));
        }
        if subjects.len() > 50 {
            text.push_str(&format!("\n* … and {} more", subjects.len() - 50));
        }
        text.push('\n');
        Ok(text)
    }

    fn write_commit(
        &self,
        author: &Signature<'_>,
        committer: &Signature<'_>,
        message: &str,
        tree: Oid,
        parents: &[Oid],
    ) -> Result<Oid> {
        let tree = self.repo.find_tree(tree).context("failed to read a tree")?;
        let parents: Vec<git2::Commit<'_>> = parents
            .iter()
            .map(|p| self.repo.find_commit(*p))
            .collect::<std::result::Result<_, _>>()
            .context("failed to read a parent commit")?;
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        self.repo
            .commit(None, author, committer, message, &tree, &parents)
            .context("failed to write the commit")
    }

    /// Moves the ref `name` from `old` to `new`, only if it still points at `old`: someone
    /// who moved it meanwhile is never overwritten.
    pub(crate) fn move_ref(&self, name: &str, new: Oid, old: Oid, why: &str) -> Result<()> {
        self.repo
            .reference_matching(name, new, true, old, why)
            .map(drop)
            .map_err(|e| {
                Error::refused(format!(
                    "{name} moved while pk was landing on it; it was left as it is"
                ))
                .wrap_cause(e.message().to_string())
                .hint("run `pk land` again: it lands on the new tip")
            })
    }
}

/// Who lands, as git itself says (`git var GIT_COMMITTER_IDENT`: `GIT_COMMITTER_NAME` and
/// the like, `user.name`, `user.email`, `EMAIL`, from every configuration file git reads), so a
/// landed commit is the user's as a `git commit` would be. Asked of git, not read with libgit2:
/// libgit2 does not read `GIT_CONFIG_GLOBAL`, or conditional includes as git does.
pub(crate) fn identity(git: &super::Git) -> Result<Signature<'static>> {
    let mut cmd = git.command_in(git.root());
    cmd.args(["var", "GIT_COMMITTER_IDENT"]);
    let missing = |cause: String| {
        Error::failure("git does not know who you are: `pk land` makes commits in your name")
            .wrap_cause(cause)
            .hint("set them with `git config --global user.name \"Your Name\"` and `git config --global user.email you@example.com`")
    };
    let out = git
        .stdout_of(cmd, None)
        .map_err(|e| missing(e.to_string()))?;
    let text = String::from_utf8_lossy(&out);
    parse_ident(text.trim()).ok_or_else(|| missing(format!("git said `{}`", text.trim())))
}

/// `Name <email> 1733300000 +0100` → a signature of that name and email, now.
fn parse_ident(text: &str) -> Option<Signature<'static>> {
    let (name, rest) = text.split_once(" <")?;
    let (email, _) = rest.split_once('>')?;
    Signature::now(name.trim(), email.trim()).ok()
}

/// True when the worktree at `path` is on no branch (a detached `HEAD`).
pub(crate) fn is_detached(path: &Path) -> bool {
    Repository::open(path).is_ok_and(|r| r.head_detached().unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A repository on `main` with `a.txt` (10 lines), made with hermetic git.
    struct Repo {
        _tmp: tempfile::TempDir,
        root: std::path::PathBuf,
    }

    impl Repo {
        fn new() -> Repo {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().to_path_buf();
            let repo = Repo { _tmp: tmp, root };
            repo.git(&["init", "-q", "-b", "main"]);
            let lines: String = (1..=10).map(|i| format!("line {i}\n")).collect();
            repo.commit("a.txt", &lines, "start");
            repo
        }

        fn git(&self, args: &[&str]) -> String {
            let out = Command::new("git")
                .args(["-c", "user.name=T", "-c", "user.email=t@example.invalid"])
                .args(["-c", "commit.gpgsign=false"])
                .args(args)
                .current_dir(&self.root)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .output()
                .unwrap();
            assert!(out.status.success(), "git {args:?}: {:?}", out);
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        }

        fn commit(&self, file: &str, text: &str, message: &str) -> String {
            std::fs::write(self.root.join(file), text).unwrap();
            self.git(&["add", "-A"]);
            self.git(&["commit", "-qm", message]);
            self.git(&["rev-parse", "HEAD"])
        }

        /// `a.txt` with line `n` replaced.
        fn edit_line(&self, n: usize, with: &str) -> String {
            (1..=10)
                .map(|i| {
                    if i == n {
                        format!("{with}\n")
                    } else {
                        format!("line {i}\n")
                    }
                })
                .collect()
        }

        fn lander(&self) -> Lander {
            Lander::open(&self.root, false).unwrap()
        }

        fn file_at(&self, commit: Oid, file: &str) -> String {
            self.git(&["show", &format!("{commit}:{file}")])
        }
    }

    fn me() -> Signature<'static> {
        Signature::now("Lead", "lead@example.invalid").unwrap()
    }

    const MSG: Message<'static> = Message {
        subject: "api: build the API",
        branch: "pk/api",
    };

    /// main and a track `pk/api` that both moved on: api edits line 2 in two commits, main
    /// line 9.
    fn diverged() -> (Repo, Oid, Oid) {
        let r = Repo::new();
        r.git(&["checkout", "-qb", "pk/api"]);
        r.commit("a.txt", &r.edit_line(2, "api one"), "api: first");
        r.commit("b.txt", "new\n", "api: second");
        r.git(&["checkout", "-q", "main"]);
        r.commit("a.txt", &r.edit_line(9, "main nine"), "main moves");
        let l = r.lander();
        let (base, head) = (l.commit("main").unwrap(), l.commit("pk/api").unwrap());
        (r, base, head)
    }

    #[test]
    fn squash_makes_one_commit_on_the_base_with_both_changes() {
        let (r, base, head) = diverged();
        let l = r.lander();
        let Landing::Commit(c) = l.land(Strategy::Squash, base, head, &MSG, &me()).unwrap() else {
            panic!("expected a commit");
        };
        assert_eq!(r.git(&["rev-parse", &format!("{c}^")]), base.to_string());
        let text = r.file_at(c, "a.txt");
        assert!(
            text.contains("api one") && text.contains("main nine"),
            "{text}"
        );
        assert_eq!(r.file_at(c, "b.txt"), "new");
        let message = r.git(&["log", "-1", "--format=%B", &c.to_string()]);
        assert!(message.starts_with("api: build the API\n"), "{message}");
        assert!(message.contains("* api: first\n* api: second"), "{message}");
        assert_eq!(
            r.git(&["log", "-1", "--format=%an", &c.to_string()]),
            "Lead"
        );
        // One parent: the track's own commits are not in the base's history.
        assert_eq!(
            r.git(&["rev-list", "--parents", "-1", &c.to_string()])
                .split(' ')
                .count(),
            2
        );
    }

    #[test]
    fn merge_makes_a_merge_commit_with_the_track_as_second_parent() {
        let (r, base, head) = diverged();
        let Landing::Commit(c) = r
            .lander()
            .land(Strategy::Merge, base, head, &MSG, &me())
            .unwrap()
        else {
            panic!("expected a commit");
        };
        let parents = r.git(&["rev-list", "--parents", "-1", &c.to_string()]);
        assert_eq!(parents, format!("{c} {base} {head}"));
    }

    #[test]
    fn rebase_replays_each_commit_with_its_author_and_message() {
        let (r, base, head) = diverged();
        let Landing::Commit(c) = r
            .lander()
            .land(Strategy::Rebase, base, head, &MSG, &me())
            .unwrap()
        else {
            panic!("expected a commit");
        };
        let log = r.git(&["log", "--format=%s|%an", &format!("{base}..{c}")]);
        assert_eq!(log, "api: second|T\napi: first|T");
        assert!(r.lander().contains(c, base));
        assert!(r.file_at(c, "a.txt").contains("main nine"));
    }

    #[test]
    fn rebase_of_a_track_on_the_tip_is_a_fast_forward() {
        let r = Repo::new();
        r.git(&["checkout", "-qb", "pk/api"]);
        r.commit("b.txt", "x\n", "api");
        let l = r.lander();
        let (base, head) = (l.commit("main").unwrap(), l.commit("pk/api").unwrap());
        assert_eq!(
            l.land(Strategy::Rebase, base, head, &MSG, &me()).unwrap(),
            Landing::Commit(head)
        );
    }

    #[test]
    fn the_same_lines_conflict_and_name_the_file() {
        let r = Repo::new();
        r.git(&["checkout", "-qb", "pk/api"]);
        r.commit("a.txt", &r.edit_line(5, "api five"), "api");
        r.git(&["checkout", "-q", "main"]);
        r.commit("a.txt", &r.edit_line(5, "main five"), "main");
        let l = r.lander();
        let (base, head) = (l.commit("main").unwrap(), l.commit("pk/api").unwrap());
        for s in [Strategy::Squash, Strategy::Merge] {
            assert_eq!(
                l.land(s, base, head, &MSG, &me()).unwrap(),
                Landing::Conflicts {
                    paths: vec!["a.txt".into()],
                    at: None
                }
            );
        }
        assert_eq!(
            l.land(Strategy::Rebase, base, head, &MSG, &me()).unwrap(),
            Landing::Conflicts {
                paths: vec!["a.txt".into()],
                at: Some(head)
            }
        );
    }

    #[test]
    fn a_track_already_in_the_base_has_nothing_to_land() {
        let (r, base, head) = diverged();
        let l = r.lander();
        let Landing::Commit(c) = l.land(Strategy::Squash, base, head, &MSG, &me()).unwrap() else {
            panic!()
        };
        // Landed once (squashed): landing it again on the new tip changes nothing.
        for s in [Strategy::Squash, Strategy::Rebase] {
            assert_eq!(
                l.land(s, c, head, &MSG, &me()).unwrap(),
                Landing::Nothing,
                "{s:?}"
            );
        }
        // Merged: the track is in the base's history.
        let Landing::Commit(m) = l.land(Strategy::Merge, base, head, &MSG, &me()).unwrap() else {
            panic!()
        };
        assert_eq!(
            l.land(Strategy::Merge, m, head, &MSG, &me()).unwrap(),
            Landing::Nothing
        );
    }

    #[test]
    fn the_ref_moves_only_from_where_pk_saw_it() {
        let (r, base, head) = diverged();
        let l = r.lander();
        let Landing::Commit(c) = l.land(Strategy::Squash, base, head, &MSG, &me()).unwrap() else {
            panic!()
        };
        // Someone moved main meanwhile: refused, main kept.
        let moved = r.commit("c.txt", "user\n", "the user commits");
        let err = l
            .move_ref("refs/heads/main", c, base, "pk land")
            .unwrap_err();
        assert_eq!(err.kind.exit_code(), 3, "{err}");
        assert_eq!(r.git(&["rev-parse", "main"]), moved);
        let now = l.commit("main").unwrap();
        let Landing::Commit(c2) = l.land(Strategy::Squash, now, head, &MSG, &me()).unwrap() else {
            panic!()
        };
        l.move_ref("refs/heads/main", c2, now, "pk land: api")
            .unwrap();
        assert_eq!(r.git(&["rev-parse", "main"]), c2.to_string());
    }

    #[test]
    fn a_dry_run_writes_no_object_to_the_repository() {
        let (r, base, head) = diverged();
        let count = || r.git(&["count-objects"]);
        let before = count();
        let l = Lander::open(&r.root, true).unwrap();
        let Landing::Commit(c) = l.land(Strategy::Squash, base, head, &MSG, &me()).unwrap() else {
            panic!()
        };
        // Chained: the next landing builds on the simulated one.
        assert!(l.contains(c, base));
        drop(l);
        assert_eq!(count(), before);
        let exists = Command::new("git")
            .args(["cat-file", "-e", &c.to_string()])
            .current_dir(&r.root)
            .status()
            .unwrap();
        assert!(
            !exists.success(),
            "the simulated commit is not in the repository"
        );
    }

    #[test]
    fn an_identity_is_read_as_git_prints_it() {
        let s = parse_ident("Ada Lovelace <ada@example.org> 1733300000 +0100").unwrap();
        assert_eq!(
            (s.name().ok(), s.email().ok()),
            (Some("Ada Lovelace"), Some("ada@example.org"))
        );
        assert!(parse_ident("no email here").is_none());
    }

    #[test]
    fn the_checkout_of_a_branch_is_found() {
        let r = Repo::new();
        r.git(&["branch", "side"]);
        let wt = r.root.join("wt-side");
        r.git(&["worktree", "add", "-q", &wt.to_string_lossy(), "side"]);
        let l = r.lander();
        let canon = |p: &Path| std::fs::canonicalize(p).unwrap();
        assert_eq!(
            l.checkout_of("refs/heads/main").map(|p| canon(&p)),
            Some(canon(&r.root))
        );
        assert_eq!(
            l.checkout_of("refs/heads/side").map(|p| canon(&p)),
            Some(canon(&wt))
        );
        r.git(&["branch", "free"]);
        assert_eq!(l.checkout_of("refs/heads/free"), None);
    }

    #[test]
    fn only_local_branches_are_landed_on() {
        let r = Repo::new();
        r.git(&["tag", "v1"]);
        let l = r.lander();
        assert_eq!(l.local_branch("main").as_deref(), Some("refs/heads/main"));
        assert_eq!(l.local_branch("v1"), None);
        assert_eq!(l.local_branch("nope"), None);
    }
}
