//! In-memory merges for the conflict forecast (design §9): libgit2's `merge_trees` on a
//! repository whose only writable object store is in memory.
//!
//! A probe writes objects: the tree of a worktree's uncommitted state (its changed files'
//! blobs and the trees above them) and, inside libgit2's merge, the blob of every file it
//! merges line by line. Written to the repository, they would stay there as loose garbage
//! until a `git gc` (worktrunk's probes grew repositories by 20 MB a run, its issue #3883).
//! Here libgit2's mempack backend is added with the highest priority: every write goes to it,
//! every read looks there first and then at the repository's own objects, and it is dropped
//! with the [`Scratch`]. The repository's object count does not change.

use crate::error::{Context, Error, Result};
use git2::{FileMode, ObjectType, Oid, Repository};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// Priority of the in-memory store: above the loose (1) and packed (2) backends of libgit2.
const MEMPACK_PRIORITY: i32 = 1000;

/// A repository opened for probes: objects it writes stay in memory.
pub(crate) struct Scratch {
    repo: Repository,
}

/// What a three-way merge of trees says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Merge {
    /// It applies without a conflict.
    Clean,
    /// The paths with a conflict (both sides of a rename included), sorted.
    Conflicts(Vec<String>),
}

impl Scratch {
    /// Opens the repository at `root` with a fresh in-memory store for writes.
    pub(crate) fn open(root: &Path) -> Result<Scratch> {
        open_repo(root, true).map(|repo| Scratch { repo })
    }

    /// The commit `rev` names (a branch, `HEAD`, an id).
    pub(crate) fn commit(&self, rev: &str) -> Result<Oid> {
        commit_of(&self.repo, rev)
    }

    /// The tree of a commit.
    pub(crate) fn tree_of(&self, commit: Oid) -> Result<Oid> {
        tree_of(&self.repo, commit)
    }

    /// The best common ancestor of two commits; `None` for unrelated histories.
    pub(crate) fn merge_base(&self, a: Oid, b: Oid) -> Result<Option<Oid>> {
        match self.repo.merge_base(a, b) {
            Ok(oid) => Ok(Some(oid)),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(
                Error::failure(format!("failed to find the merge base of {a} and {b}"))
                    .wrap_cause(e.message()),
            ),
        }
    }

    /// Commits of `a` not in `b`, and of `b` not in `a`.
    pub(crate) fn ahead_behind(&self, a: Oid, b: Oid) -> Result<(usize, usize)> {
        self.repo
            .graph_ahead_behind(a, b)
            .context("failed to count commits")
    }

    /// The tree of `commit` with `paths` (relative to `root`, a worktree) as they are on disk:
    /// a file or symbolic link is taken as it is, a path that is gone is removed, a folder (a
    /// nested repository) is left as the commit has it. What `git add -A` + `git write-tree`
    /// would make of a worktree whose `git status` lists `paths`, without an index, written to
    /// memory only.
    pub(crate) fn overlay(&self, commit: Oid, root: &Path, paths: &[Vec<u8>]) -> Result<Oid> {
        let base = self
            .repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .with_context(|| format!("failed to read commit {commit}"))?;
        if paths.is_empty() {
            return Ok(base.id());
        }
        let mut update = git2::build::TreeUpdateBuilder::new();
        for path in paths {
            let full = root.join(Path::new(OsStr::from_bytes(path)));
            match std::fs::symlink_metadata(&full) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    let target = std::fs::read_link(&full)
                        .with_context(|| format!("failed to read {}", full.display()))?;
                    let blob = self.blob(target.as_os_str().as_bytes())?;
                    update.upsert(path.clone(), blob, FileMode::Link);
                }
                Ok(meta) if meta.is_file() => {
                    let bytes = std::fs::read(&full)
                        .with_context(|| format!("failed to read {}", full.display()))?;
                    // git's rule: executable when the owner may execute it.
                    let mode = if meta.permissions().mode() & 0o100 != 0 {
                        FileMode::BlobExecutable
                    } else {
                        FileMode::Blob
                    };
                    update.upsert(path.clone(), self.blob(&bytes)?, mode);
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    update.remove(path.clone());
                }
                Err(e) => {
                    return Err(Error::failure(format!("failed to read {}", full.display()))
                        .wrap_cause(e.to_string()));
                }
            }
        }
        update
            .create_updated(&self.repo, &base)
            .with_context(|| format!("failed to make the tree of {}", root.display()))
    }

    fn blob(&self, bytes: &[u8]) -> Result<Oid> {
        self.repo
            .blob(bytes)
            .context("failed to write a blob in memory")
    }

    /// Merges `ours` and `theirs` (trees) over `ancestor` (a tree; `None`: the empty tree) in
    /// memory, renames detected as git does by default.
    pub(crate) fn merge_trees(
        &self,
        ancestor: Option<Oid>,
        ours: Oid,
        theirs: Oid,
    ) -> Result<Merge> {
        let find = |oid: Oid| {
            self.repo
                .find_tree(oid)
                .with_context(|| format!("failed to read tree {oid}"))
        };
        let empty;
        let ancestor = match ancestor {
            Some(oid) => find(oid)?,
            None => {
                empty = self
                    .repo
                    .treebuilder(None)
                    .and_then(|b| b.write())
                    .context("failed to make the empty tree")?;
                find(empty)?
            }
        };
        let (ours, theirs) = (find(ours)?, find(theirs)?);
        let index = self
            .repo
            .merge_trees(&ancestor, &ours, &theirs, None)
            .context("failed to merge in memory")?;
        if !index.has_conflicts() {
            return Ok(Merge::Clean);
        }
        conflict_paths(&index).map(Merge::Conflicts)
    }

    /// The paths that differ between two trees (both sides of a rename: no rename detection).
    pub(crate) fn changed_paths(&self, from: Oid, to: Oid) -> Result<Vec<String>> {
        if from == to {
            return Ok(Vec::new());
        }
        let (from, to) = (
            self.repo.find_tree(from).context("failed to read a tree")?,
            self.repo.find_tree(to).context("failed to read a tree")?,
        );
        let diff = self
            .repo
            .diff_tree_to_tree(Some(&from), Some(&to), None)
            .context("failed to compare trees")?;
        let mut paths: Vec<String> = diff
            .deltas()
            .flat_map(|d| [d.old_file().path_bytes(), d.new_file().path_bytes()])
            .flatten()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        paths.sort();
        paths.dedup();
        Ok(paths)
    }
}

/// Opens the repository at `root`; with `in_memory`, libgit2's mempack backend is added above
/// the repository's own stores, so every object written goes to memory and goes with it.
pub(super) fn open_repo(root: &Path, in_memory: bool) -> Result<Repository> {
    let repo = Repository::open(root)
        .with_context(|| format!("failed to open the repository at {}", root.display()))?;
    if in_memory {
        // The odb keeps the backend; these handles only borrow it.
        let odb = repo.odb().context("failed to open the object database")?;
        odb.add_new_mempack_backend(MEMPACK_PRIORITY)
            .context("failed to add an in-memory object store")?;
    }
    Ok(repo)
}

/// The commit `rev` names (a branch, `HEAD`, an id).
pub(super) fn commit_of(repo: &Repository, rev: &str) -> Result<Oid> {
    repo.revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map(|c| c.id())
        .with_context(|| format!("failed to find `{rev}`"))
}

/// The tree of a commit.
pub(super) fn tree_of(repo: &Repository, commit: Oid) -> Result<Oid> {
    repo.find_commit(commit)
        .map(|c| c.tree_id())
        .with_context(|| format!("failed to read commit {commit}"))
}

/// The paths of an index's conflicts (both sides of a rename), sorted, once each.
pub(super) fn conflict_paths(index: &git2::Index) -> Result<Vec<String>> {
    let mut paths = Vec::new();
    for conflict in index.conflicts().context("failed to list the conflicts")? {
        let conflict = conflict.context("failed to read a conflict")?;
        for entry in [conflict.ancestor, conflict.our, conflict.their]
            .into_iter()
            .flatten()
        {
            paths.push(String::from_utf8_lossy(&entry.path).into_owned());
        }
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// The commit checked out in the worktree at `path` (its `HEAD`), read without a git process.
pub(crate) fn worktree_head(path: &Path) -> Result<Oid> {
    let repo = Repository::open(path)
        .with_context(|| format!("failed to open the worktree {}", path.display()))?;
    repo.head()
        .and_then(|h| h.peel(ObjectType::Commit))
        .map(|c| c.id())
        .with_context(|| format!("failed to read HEAD of {}", path.display()))
}

/// Size, modification time and inode of a worktree file: what says it changed without
/// reading it (`None` when it is gone).
pub(crate) fn stat_of(path: &Path) -> Option<(u64, i64, i64, u64)> {
    let m = std::fs::symlink_metadata(path).ok()?;
    Some((m.size(), m.mtime(), m.mtime_nsec(), m.ino()))
}
