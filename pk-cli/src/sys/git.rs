//! The one wrapper around git: the `git` command for what must honour hooks, filters and sparse
//! checkout (creating worktrees, removing them), `git2` for fast read-only queries (refs, status,
//! ahead/behind, merges).
//!
//! Why the git command for worktrees: libgit2's worktree checkout runs no hooks or smudge
//! filters (Git LFS files stay pointers), ignores sparse checkout, and measured 2-6x slower than
//! `git worktree add` on a 30k-file repository (notes/apis.md §4.4). And plain concurrent
//! `git worktree add` races on `.git/worktrees`, so pk adds the worktrees' metadata one after
//! another with `--no-checkout` and then fills the working trees in parallel. Removing does not
//! race, so `pk down` removes them all at once ([`Git::remove_worktrees`]).

mod changes;
pub(crate) mod land;
pub(crate) mod merge;
mod post_checkout;
pub(crate) use changes::{changed_paths_of_status, clear_stale_lock, gitdir_of};
pub(crate) use post_checkout::PostCheckout;

use crate::error::{Context, Error, Result};
use crate::util::fs::canonical;
use crate::util::parallel::in_parallel;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Variables that would point git at another repository than the one pk chose.
const SCRUBBED_VARS: [&str; 8] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
];

/// A repository's main checkout.
#[derive(Debug, Clone)]
pub(crate) struct Git {
    root: PathBuf,
    common_dir: PathBuf,
    verbose: bool,
}

/// One entry of `git worktree list --porcelain -z`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorktreeEntry {
    /// Absolute path of the working tree.
    pub path: PathBuf,
    /// `refs/heads/…` checked out, if any.
    pub branch: Option<String>,
    /// The working tree's folder is gone (`prunable`).
    pub prunable: bool,
    /// The main checkout is the first entry; this marks the bare/main one.
    pub bare: bool,
}

/// What `git status` says of a worktree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Dirt {
    /// Tracked files with changes (staged or not).
    pub changed: Vec<String>,
    /// Untracked files that are not ignored.
    pub untracked: Vec<String>,
}

impl Dirt {
    /// True when nothing would be lost by removing the worktree.
    pub(crate) fn is_clean(&self) -> bool {
        self.changed.is_empty() && self.untracked.is_empty()
    }

    /// Number of changed and untracked files.
    pub(crate) fn count(&self) -> usize {
        self.changed.len() + self.untracked.len()
    }
}

impl Git {
    /// Finds the repository that contains `dir` and returns its main checkout.
    pub(crate) fn discover(dir: &Path) -> Result<Git> {
        let repo = git2::Repository::discover(dir)
            .map_err(|e| {
                Error::usage(format!("{} is not inside a git repository", dir.display()))
                    .wrap_cause(e.message())
            })
            .map_err(|e| {
                e.hint("run pk inside the repository the plan is for, or `git init` one")
            })?;
        let common_dir = canonical(repo.commondir());
        // The main checkout is the parent of the common .git dir (for a linked worktree too).
        let root = if repo.is_bare() {
            return Err(
                Error::usage(format!("{} is a bare repository", common_dir.display()))
                    .hint("pk needs a checkout: run it in a non-bare clone"),
            );
        } else {
            common_dir
                .parent()
                .map(Path::to_path_buf)
                .ok_or_else(|| Error::failure("the git directory has no parent folder"))?
        };
        Ok(Git {
            root,
            common_dir,
            verbose: false,
        })
    }

    /// Prints every git command pk runs to stderr (`-v`).
    pub(crate) fn set_verbose(&mut self, verbose: bool) {
        self.verbose = verbose;
    }

    /// The main checkout's root folder.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The repository's common git directory (`.git` of the main checkout).
    pub(crate) fn common_dir(&self) -> &Path {
        &self.common_dir
    }

    fn open(&self) -> Result<git2::Repository> {
        git2::Repository::open(&self.root)
            .with_context(|| format!("failed to open the repository at {}", self.root.display()))
    }

    /// A `git` command run in `dir`, with a clean environment: no inherited `GIT_DIR` and the
    /// like, C locale for parseable messages, no pager, no prompts, stdin closed.
    pub(crate) fn command_in(&self, dir: &Path) -> Command {
        command_in(dir)
    }

    fn run(&self, mut cmd: Command) -> Result<Output> {
        // git's failures say why on stderr; its stdout is data, not a reason.
        crate::sys::shell::run_captured(&mut cmd, "git", self.verbose)
    }

    /// The output of a git command made with [`Git::command_in`], run as pk runs every git
    /// (shown under `-v`, a typed error naming the command and what git said), with `input`
    /// on its standard input when given.
    pub(crate) fn stdout_of(&self, mut cmd: Command, input: Option<&[u8]>) -> Result<Vec<u8>> {
        crate::sys::shell::run_captured_with_input(&mut cmd, "git", self.verbose, input)
            .map(|out| out.stdout)
    }

    /// The best common ancestor of `a` and `b`, as seen from `dir`.
    pub(crate) fn merge_base(&self, dir: &Path, a: &str, b: &str) -> Result<String> {
        let mut cmd = self.command_in(dir);
        cmd.args(["merge-base", a, b]);
        let out = self.run(cmd)?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The index file of the checkout at `dir` (a linked worktree has its own).
    pub(crate) fn index_path(&self, dir: &Path) -> Result<PathBuf> {
        let mut cmd = self.command_in(dir);
        cmd.args(["rev-parse", "--path-format=absolute", "--git-path", "index"]);
        let out = self.run(cmd)?;
        Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    }

    /// Stages everything of `dir`'s work tree (new files too, ignored ones not) into the index
    /// file `index`, which is not the checkout's own: the checkout's index stays as it was.
    pub(crate) fn stage_all_into(&self, dir: &Path, index: &Path) -> Result<()> {
        let mut cmd = self.command_in(dir);
        cmd.env("GIT_INDEX_FILE", index).args(["add", "-A"]);
        self.run(cmd).map(drop)
    }

    /// True when `name` resolves to a commit (a branch, tag, or any revision).
    pub(crate) fn commit_exists(&self, name: &str) -> bool {
        let Ok(repo) = self.open() else { return false };
        repo.revparse_single(name)
            .and_then(|o| o.peel_to_commit())
            .is_ok()
    }

    /// The installed git's version (`2.39.5`), or an error when git cannot run.
    pub(crate) fn version() -> Result<String> {
        let out =
            crate::sys::shell::run_captured(Command::new("git").arg("--version"), "git", false)?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text
            .trim()
            .strip_prefix("git version ")
            .unwrap_or(text.trim())
            .to_string())
    }

    /// The commit `name` resolves to (a branch, tag, or any revision), if any.
    pub(crate) fn commit_id(&self, name: &str) -> Option<String> {
        let repo = self.open().ok()?;
        let commit = repo.revparse_single(name).ok()?.peel_to_commit().ok()?;
        Some(commit.id().to_string())
    }

    /// The branch the main checkout is on, if any (not detached, not unborn).
    pub(crate) fn current_branch(&self) -> Option<String> {
        let repo = self.open().ok()?;
        let head = repo.head().ok()?;
        if !head.is_branch() {
            return None;
        }
        head.shorthand().ok().map(str::to_owned)
    }

    /// True when the local branch exists.
    pub(crate) fn branch_exists(&self, branch: &str) -> bool {
        let Ok(repo) = self.open() else { return false };
        repo.find_branch(branch, git2::BranchType::Local).is_ok()
    }

    /// Creates `branch` at `base`. Fails if it exists.
    pub(crate) fn create_branch(&self, branch: &str, base: &str) -> Result<()> {
        let repo = self.open()?;
        let commit = repo
            .revparse_single(base)
            .and_then(|o| o.peel_to_commit())
            .with_context(|| format!("failed to find base `{base}`"))?;
        repo.branch(branch, &commit, false)
            .with_context(|| format!("failed to create branch `{branch}` at `{base}`"))?;
        Ok(())
    }

    /// Registers a worktree at `path` on the existing `branch` without checking files out
    /// (fast, and safe to run one after another; see [`Git::checkout_worktrees`]).
    pub(crate) fn add_worktree_metadata(&self, path: &Path, branch: &str) -> Result<()> {
        let mut cmd = self.command_in(&self.root);
        cmd.args(["worktree", "add", "--no-checkout", "--quiet"])
            .arg(path)
            .arg(branch);
        self.run(cmd).map(drop)
    }

    /// Fills the working trees of freshly added worktrees, all at once (one `git reset --hard`
    /// per worktree, in parallel; each touches only its own index and files, so they do not
    /// race the way concurrent `worktree add` does). Returns one result per path, in order.
    pub(crate) fn checkout_worktrees(&self, paths: &[PathBuf]) -> Vec<Result<()>> {
        in_parallel(paths, |path| {
            let mut cmd = self.command_in(path);
            cmd.args(["reset", "--hard", "--quiet"]);
            self.run(cmd).map(drop)
        })
    }

    /// The worktrees git knows of, the main checkout first.
    pub(crate) fn worktrees(&self) -> Result<Vec<WorktreeEntry>> {
        let mut cmd = self.command_in(&self.root);
        cmd.args(["worktree", "list", "--porcelain", "-z"]);
        let out = self.run(cmd)?;
        Ok(parse_worktree_list(&out.stdout))
    }

    /// Removes worktrees, all at once: one `git worktree remove` per worktree, in parallel.
    /// Each deletes only its own working tree and its own `.git/worktrees/<id>` folder (and
    /// tries `rmdir .git/worktrees`, which fails harmlessly while others remain). Rarely, one
    /// reads the list of the others while another's folder goes ("Invalid path
    /// '.git/worktrees/a'", seen once in CI): a removal that failed while its worktree is still
    /// there is tried once more, alone, after the others.
    /// Never `--force` for a clean one: git itself then refuses when the worktree has changes,
    /// a second guard behind pk's own check; only a [`Removal::saved`] one gets `--force`.
    /// Returns one result per removal, in order.
    pub(crate) fn remove_worktrees(&self, removals: &[Removal]) -> Vec<Result<()>> {
        let remove = |r: &Removal| {
            let mut cmd = self.command_in(&self.root);
            cmd.args(["worktree", "remove"]);
            if r.saved {
                cmd.arg("--force");
            }
            cmd.arg(&r.path);
            self.run(cmd).map(drop)
        };
        in_parallel(removals, |r| remove(r))
            .into_iter()
            .zip(removals)
            .map(|(result, r)| match result {
                Err(_) if removals.len() > 1 && r.path.join(".git").exists() => remove(r),
                other => other,
            })
            .collect()
    }

    /// `git status` of a worktree, raw (parsed by [`parse_status`]), without the optional
    /// index lock, so that it does not touch the worktree's git folder, which `pk watch`
    /// watches.
    ///
    /// Asks the git command, not libgit2: measured 2-3x faster per worktree on a 20,000-file
    /// repository (it uses the untracked cache and fsmonitor when configured), and it honours
    /// sparse checkout, where libgit2 reports every out-of-cone file as deleted.
    pub(crate) fn status_raw(&self, path: &Path) -> Result<Vec<u8>> {
        self.status(path, &["--no-optional-locks"])
    }

    /// The tracked files with changes in the checkout at `path` (staged or not; untracked files
    /// are not looked for, which on a large checkout is most of `git status`'s time).
    pub(crate) fn tracked_changes(&self, path: &Path) -> Result<Vec<String>> {
        let mut cmd = self.command_in(path);
        cmd.args(["--no-optional-locks", "status", "--porcelain=v1", "-z"])
            .args(["--untracked-files=no", "--ignore-submodules=none"]);
        let out = self
            .run(cmd)
            .map_err(|e| e.wrap(format!("failed to read the status of {}", path.display())))?;
        Ok(parse_status(&out.stdout).changed)
    }

    /// The commit the local branch `branch` points at, if it exists.
    pub(crate) fn branch_tip(&self, branch: &str) -> Option<String> {
        let repo = self.open().ok()?;
        let r = repo.find_reference(&format!("refs/heads/{branch}")).ok()?;
        r.peel_to_commit().ok().map(|c| c.id().to_string())
    }

    /// Deletes the ref `name`; nothing when it is not there.
    pub(crate) fn delete_ref(&self, name: &str) -> Result<()> {
        let repo = self.open()?;
        match repo.find_reference(name) {
            Ok(mut r) => r
                .delete()
                .with_context(|| format!("failed to delete the ref {name}")),
            Err(_) => Ok(()),
        }
    }

    /// Points the ref `name` at what `target` names (made, or moved if it exists).
    pub(crate) fn set_ref(&self, name: &str, target: &str, why: &str) -> Result<()> {
        let repo = self.open()?;
        let oid = repo
            .revparse_single(target)
            .map(|o| o.id())
            .with_context(|| format!("failed to find `{target}`"))?;
        repo.reference(name, oid, true, why)
            .map(drop)
            .with_context(|| format!("failed to write the ref {name}"))
    }

    /// `git <before> status` as [`STATUS_ARGS`] asks it, raw.
    fn status(&self, path: &Path, before: &[&str]) -> Result<Vec<u8>> {
        let mut cmd = self.command_in(path);
        cmd.args(before).args(STATUS_ARGS);
        let out = self
            .run(cmd)
            .map_err(|e| e.wrap(format!("failed to read the status of {}", path.display())))?;
        Ok(out.stdout)
    }

    /// The tracked files of a worktree (`git ls-files -z`: the index only, no folder walk).
    pub(crate) fn tracked_files_raw(&self, path: &Path) -> Result<Vec<u8>> {
        let mut cmd = self.command_in(path);
        cmd.args(["--no-optional-locks", "ls-files", "-z"]);
        let out = self
            .run(cmd)
            .map_err(|e| e.wrap(format!("failed to list the files of {}", path.display())))?;
        Ok(out.stdout)
    }

    /// True when every commit of `branch` is already in `base`: fast-forward or merge commit,
    /// or a squash merge (merging the branch into base would change nothing).
    pub(crate) fn is_merged(&self, branch: &str, base: &str) -> Result<bool> {
        let repo = self.open()?;
        let tip = repo
            .find_branch(branch, git2::BranchType::Local)
            .and_then(|b| b.get().peel_to_commit())
            .with_context(|| format!("failed to find branch `{branch}`"))?;
        let base_commit = repo
            .revparse_single(base)
            .and_then(|o| o.peel_to_commit())
            .with_context(|| format!("failed to find base `{base}`"))?;
        let (ahead, _) = repo
            .graph_ahead_behind(tip.id(), base_commit.id())
            .context("failed to compare branches")?;
        if ahead == 0 {
            return Ok(true);
        }
        let mut index = repo
            .merge_commits(&base_commit, &tip, None)
            .context("failed to test-merge the branch")?;
        if index.has_conflicts() {
            return Ok(false);
        }
        let tree = index
            .write_tree_to(&repo)
            .context("failed to test-merge the branch")?;
        Ok(tree == base_commit.tree_id())
    }

    /// Deletes a local branch (only called after [`Git::is_merged`] said yes).
    pub(crate) fn delete_branch(&self, branch: &str) -> Result<()> {
        let repo = self.open()?;
        let mut b = repo
            .find_branch(branch, git2::BranchType::Local)
            .with_context(|| format!("failed to find branch `{branch}`"))?;
        b.delete()
            .with_context(|| format!("failed to delete branch `{branch}`"))
    }
}

/// One worktree for [`Git::remove_worktrees`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Removal {
    /// The working tree.
    pub path: PathBuf,
    /// Its changes were just saved on a ref (`pk down --force`): the one case pk passes
    /// `--force` to git, on the user's explicit request.
    pub saved: bool,
}

/// A git command run in `dir`, with the environment every git command of pk gets.
fn command_in(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir);
    for var in SCRUBBED_VARS {
        cmd.env_remove(var);
    }
    cmd.env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PAGER", "cat")
        .stdin(Stdio::null());
    crate::sys::children::end_with_pk(&mut cmd);
    cmd
}

/// A `git` command for the user to see, in `dir`: with their pager, colours and terminal (stdin,
/// stdout, stderr inherited), only git's own variables that would point it elsewhere removed.
/// For `pk diff`.
pub(crate) fn user_command_in(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir);
    for var in SCRUBBED_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `git <args>` in `dir`, which need not be a repository yet (`git init`): for `pk demo`,
/// with the same environment and error reporting as every other git command of pk.
pub(crate) fn run_in(dir: &Path, args: &[&str], verbose: bool) -> Result<Vec<u8>> {
    let mut cmd = command_in(dir);
    cmd.args(args);
    Ok(crate::sys::shell::run_captured(&mut cmd, "git", verbose)?.stdout)
}

/// How pk asks `git status`: machine-readable, every untracked file, submodules' changes too.
pub(crate) const STATUS_ARGS: [&str; 5] = [
    "status",
    "--porcelain=v1",
    "-z",
    "--untracked-files=all",
    "--ignore-submodules=none",
];

/// Parses `git status --porcelain=v1 -z`: `XY path` entries, NUL-terminated; a rename or copy
/// (`R`/`C` in X) is followed by one more field, the original path.
pub(crate) fn parse_status(bytes: &[u8]) -> Dirt {
    let mut dirt = Dirt::default();
    let mut fields = bytes.split(|b| *b == 0).filter(|f| !f.is_empty());
    while let Some(field) = fields.next() {
        if field.len() < 4 {
            continue;
        }
        let (xy, file) = (
            &field[..2],
            String::from_utf8_lossy(&field[3..]).into_owned(),
        );
        match xy {
            b"??" => dirt.untracked.push(file),
            b"!!" => {}
            _ => {
                if matches!(xy[0], b'R' | b'C') {
                    fields.next();
                }
                dirt.changed.push(file);
            }
        }
    }
    dirt
}

/// Parses `git worktree list --porcelain -z`: records separated by an empty field, each field
/// NUL-terminated (`worktree <path>`, `HEAD <sha>`, `branch <ref>`, `bare`, `detached`,
/// `locked [reason]`, `prunable [reason]`).
pub(crate) fn parse_worktree_list(bytes: &[u8]) -> Vec<WorktreeEntry> {
    let mut out = Vec::new();
    let mut current: Option<WorktreeEntry> = None;
    for field in bytes.split(|b| *b == 0) {
        if field.is_empty() {
            out.extend(current.take());
            continue;
        }
        let text = String::from_utf8_lossy(field);
        let (key, value) = text.split_once(' ').unwrap_or((&text, ""));
        match (key, current.as_mut()) {
            ("worktree", _) => {
                out.extend(current.take());
                current = Some(WorktreeEntry {
                    path: path_from_bytes(&field[b"worktree ".len()..]),
                    branch: None,
                    prunable: false,
                    bare: false,
                });
            }
            ("branch", Some(w)) => w.branch = Some(value.to_string()),
            ("prunable", Some(w)) => w.prunable = true,
            ("bare", Some(w)) => w.bare = true,
            _ => {}
        }
    }
    out.extend(current);
    out
}

fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(OsStr::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_z() {
        let raw = b" M src/a.rs\0?? new file.txt\0R  to.rs\0from.rs\0A  added.rs\0!! ignored\0";
        let dirt = parse_status(raw);
        assert_eq!(dirt.changed, ["src/a.rs", "to.rs", "added.rs"]);
        assert_eq!(dirt.untracked, ["new file.txt"]);
        assert!(parse_status(b"").is_clean());
    }

    #[test]
    fn parses_porcelain_z() {
        let raw = b"worktree /repo\0HEAD 1111\0branch refs/heads/main\0\0\
worktree /repo.pk/api\0HEAD 2222\0branch refs/heads/pk/api\0locked\0\0\
worktree /gone\0HEAD 3333\0detached\0prunable gitdir file points to non-existent location\0\0";
        let list = parse_worktree_list(raw);
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].path, PathBuf::from("/repo"));
        assert_eq!(list[0].branch.as_deref(), Some("refs/heads/main"));
        assert_eq!(list[1].branch.as_deref(), Some("refs/heads/pk/api"));
        assert!(!list[1].prunable);
        assert_eq!(list[2].branch, None);
        assert!(list[2].prunable);
    }

    #[test]
    fn parses_paths_with_spaces_and_newlines() {
        let raw = b"worktree /a b\nc\0HEAD 1\0bare\0\0";
        let list = parse_worktree_list(raw);
        assert_eq!(list[0].path, PathBuf::from("/a b\nc"));
        assert!(list[0].bare);
    }
}
