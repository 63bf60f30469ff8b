//! Work in a worktree that `git status` does not show and `git worktree remove` deletes
//! (issue 10): ignored files that are the user's (`[session] keep`), commits no ref holds
//! (made on a detached HEAD, or left only in the worktree's HEAD reflog, which dies with it),
//! and nested repositories and submodules (whose history and files git removes as a folder).
//!
//! `pk down` scans for it beside the changed and untracked files, refuses (exit 3) when there is
//! any, and with `--force` keeps it: kept ignored files go into the saved commit, commits get a
//! ref each under `refs/pk/saved/`, nested repositories are moved aside whole. Every other
//! ignored file pk is about to delete is summarised, one line per top folder.

use crate::error::{Context, Error, Result};
use crate::plan::keep::glob;
use crate::sys::git::{Dirt, Git};
use globset::{GlobSet, GlobSetBuilder};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;

/// Most commits listed per worktree in a refusal; the rest are counted.
const LISTED_COMMITS: usize = 20;

/// Folders of dependencies and build output: files in them are not the user's, whatever their
/// name.
const DEPENDENCY_DIRS: [&str; 13] = [
    "node_modules",
    "target",
    ".venv",
    "venv",
    "vendor",
    "dist",
    "build",
    "__pycache__",
    ".git",
    ".tox",
    ".gradle",
    ".next",
    ".cache",
];

/// The `keep` globs, compiled.
#[derive(Debug, Clone)]
pub(crate) struct Keep(GlobSet);

impl Keep {
    /// Compiles the globs (checked when the plan loaded; one recorded in pk's state by an
    /// older plan may still be wrong, and fails here).
    pub(crate) fn new(patterns: &[String]) -> Result<Keep> {
        let mut set = GlobSetBuilder::new();
        for p in patterns {
            set.add(glob(p).with_context(|| format!("`keep` glob `{p}` is not valid"))?);
        }
        Ok(Keep(
            set.build().context("failed to compile the `keep` globs")?,
        ))
    }

    /// The default globs.
    pub(crate) fn default_globs() -> Vec<String> {
        crate::plan::keep::default_globs()
    }

    /// An ignored file git lists by itself: its path or its name matches (`*.db` keeps
    /// `data/app.db`).
    fn keeps_file(&self, rel: &str) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        self.0.is_match(rel) || self.0.is_match(name)
    }

    /// A file inside a folder ignored as a whole: its path or, outside dependency and build
    /// trees, its name matches. A local database in an ignored `instance/` or `data/` is the
    /// user's (`*.sqlite*` keeps `instance/app.sqlite`); under `node_modules/` or `target/`
    /// such names are some package's fixtures, kept only by a glob naming their path
    /// (`data/**`), else every `.env.example` of every package would keep `node_modules/` from
    /// going.
    fn keeps_path(&self, rel: &str) -> bool {
        if self.0.is_match(rel) {
            return true;
        }
        let mut parts: Vec<&str> = rel.split('/').collect();
        let name = parts.pop().unwrap_or(rel);
        !parts.iter().any(|p| DEPENDENCY_DIRS.contains(p)) && self.0.is_match(name)
    }
}

/// What [`scan`] found beyond the changed and untracked files.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hidden {
    /// Ignored files that match `keep`: the user's work.
    pub(crate) kept: Vec<String>,
    /// The other ignored files, per top folder (or top-level file): name, bytes, files.
    pub(crate) disposable: Vec<(String, u64, u64)>,
    /// Commits no ref holds, newest first.
    pub(crate) commits: Vec<Commit>,
    /// Those of [`Hidden::commits`] no other of them descends from: a ref on each keeps all.
    pub(crate) tips: Vec<String>,
    /// Nested repositories and submodules with work, which only moving them aside keeps.
    pub(crate) nested: Vec<Nested>,
    /// The worktree holds an initialised submodule: git removes it only with `--force`.
    pub(crate) has_submodules: bool,
}

/// A commit, for a message.
#[derive(Debug, Clone)]
pub(crate) struct Commit {
    /// Full id.
    pub(crate) id: String,
    /// Abbreviated id.
    pub(crate) short: String,
    /// First line of its message.
    pub(crate) subject: String,
}

/// A repository inside the worktree that holds work.
#[derive(Debug, Clone)]
pub(crate) struct Nested {
    /// Path relative to the worktree, without a trailing `/`.
    pub(crate) path: String,
    /// `nested repository` or `submodule`.
    pub(crate) kind: &'static str,
    /// What in it is work, for the user.
    pub(crate) why: String,
}

impl Hidden {
    /// True when something here would be lost with the worktree.
    pub(crate) fn is_work(&self) -> bool {
        !self.kept.is_empty() || !self.commits.is_empty() || !self.nested.is_empty()
    }

    /// Lines for a refusal, in the style of its `changed:` and `untracked:` lines.
    pub(crate) fn describe(&self, msg: &mut String) {
        for f in &self.kept {
            msg.push_str(&format!("\n    ignored:   {f} (matches `keep`)"));
        }
        for c in self.commits.iter().take(LISTED_COMMITS) {
            msg.push_str(&format!(
                "\n    commit:    {} {} (on no branch)",
                c.short,
                shown(&c.subject)
            ));
        }
        if self.commits.len() > LISTED_COMMITS {
            msg.push_str(&format!(
                "\n    commit:    ... and {} more",
                self.commits.len() - LISTED_COMMITS
            ));
        }
        for n in &self.nested {
            msg.push_str(&format!("\n    {}: {} ({})", n.kind, n.path, n.why));
        }
    }
}

/// Scans the worktree at `worktree`: its changed and untracked files (as [`Git::dirt`], less
/// the nested repositories, which are reported apart) and its hidden work. `is_pks` tells
/// pk's own unchanged `copy` files, which are neither work nor worth a word.
///
/// One `git status` lists both the untracked and the ignored entries: with
/// `--ignored=matching` a folder ignored as a whole (`target/`) is one entry, not walked by git
/// (it is walked once here, for its size).
pub(crate) fn scan(
    git: &Git,
    worktree: &Path,
    branch: &str,
    keep: &Keep,
    is_pks: &dyn Fn(&Path) -> bool,
) -> Result<(Dirt, Hidden)> {
    let mut cmd = git.command_in(worktree);
    cmd.args(crate::sys::git::STATUS_ARGS)
        .arg("--ignored=matching");
    let raw = git.stdout_of(cmd, None).map_err(|e| {
        e.wrap(format!(
            "failed to read the status of {}",
            worktree.display()
        ))
    })?;
    let mut dirt = crate::sys::git::parse_status(&raw);
    let mut hidden = Hidden::default();

    // With `-uall` git lists untracked files one by one; an untracked entry that is a folder
    // is a repository of its own, which git never looks into.
    let (nested, untracked): (Vec<String>, Vec<String>) = std::mem::take(&mut dirt.untracked)
        .into_iter()
        .partition(|f| f.ends_with('/') && is_repo(&worktree.join(f)));
    dirt.untracked = untracked;
    for path in nested {
        hidden.nested.push(Nested {
            path: path.trim_end_matches('/').to_string(),
            kind: "nested repository",
            why: "a repository of its own, history and files".to_string(),
        });
    }

    let mut totals: Vec<(String, u64, u64)> = Vec::new();
    for entry in ignored_entries(&raw) {
        if let Some(dir) = entry.strip_suffix('/') {
            walk_ignored(worktree, dir, keep, is_pks, &mut hidden, &mut totals);
        } else if is_pks(Path::new(&entry)) {
            continue;
        } else if keep.keeps_file(&entry) {
            hidden.kept.push(entry);
        } else {
            let size = std::fs::symlink_metadata(worktree.join(&entry)).map_or(0, |m| m.len());
            add_total(&mut totals, &entry, false, size, 1);
        }
    }
    hidden.disposable = totals;

    let (commits, tips) = lost_commits(git, worktree, branch)?;
    hidden.commits = commits;
    hidden.tips = tips;
    submodules(git, worktree, keep, &mut hidden)?;
    Ok((dirt, hidden))
}

/// The `!!` entries of `git status --porcelain=v1 -z` output.
fn ignored_entries(raw: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut fields = raw.split(|b| *b == 0);
    while let Some(field) = fields.next() {
        if field.len() < 4 {
            continue;
        }
        match &field[..2] {
            b"!!" => out.push(String::from_utf8_lossy(&field[3..]).into_owned()),
            [b'R' | b'C', _] => {
                fields.next();
            }
            _ => {}
        }
    }
    out
}

/// Walks a folder git ignores as a whole, without following links: its size for the summary,
/// files a `keep` glob names by path, and repositories inside it (never disposable).
fn walk_ignored(
    worktree: &Path,
    dir: &str,
    keep: &Keep,
    is_pks: &dyn Fn(&Path) -> bool,
    hidden: &mut Hidden,
    totals: &mut Vec<(String, u64, u64)>,
) {
    let mut stack = vec![dir.to_string()];
    while let Some(rel) = stack.pop() {
        let abs = worktree.join(&rel);
        if is_repo(&abs) {
            hidden.nested.push(Nested {
                path: rel,
                kind: "nested repository",
                why: "a repository of its own, in an ignored folder".to_string(),
            });
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&abs) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let child = format!("{rel}/{}", name.to_string_lossy());
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(child);
            } else if is_pks(Path::new(&child)) {
                continue;
            } else if keep.keeps_path(&child) {
                hidden.kept.push(child);
            } else {
                add_total(totals, dir, true, meta.len(), 1);
            }
        }
    }
    // An ignored folder with nothing disposable in it still says it goes.
    add_total(totals, dir, true, 0, 0);
}

/// Adds `files` files of `size` bytes in all to the total of the top folder of `path` (a
/// folder when `in_dir`).
fn add_total(
    totals: &mut Vec<(String, u64, u64)>,
    path: &str,
    in_dir: bool,
    size: u64,
    files: u64,
) {
    let top = match path.split_once('/') {
        Some((top, _)) => format!("{top}/"),
        None if in_dir => format!("{path}/"),
        None => path.to_string(),
    };
    match totals.iter_mut().find(|(name, _, _)| *name == top) {
        Some(t) => {
            t.1 += size;
            t.2 += files;
        }
        None => totals.push((top, size, files)),
    }
}

/// The summary lines of the ignored files pk is about to delete: one per top folder.
pub(crate) fn summary(hidden: &Hidden) -> Vec<String> {
    hidden
        .disposable
        .iter()
        .map(|(name, bytes, files)| {
            if name.ends_with('/') {
                let s = if *files == 1 { "" } else { "s" };
                format!("{name} ({}, {files} file{s})", human_size(*bytes))
            } else {
                format!("{name} ({})", human_size(*bytes))
            }
        })
        .collect()
}

/// `2.9 KiB`.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    #[allow(clippy::cast_precision_loss)]
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A folder that is a repository of its own (a `.git` folder or file in it).
fn is_repo(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir.join(".git")).is_ok()
}

/// The commits of the worktree's HEAD and HEAD reflog that no ref holds (any ref under
/// `refs/`: branches, tags, remotes, `refs/pk/saved`, the stash), less those whose change
/// `branch` has, and their tips.
fn lost_commits(git: &Git, worktree: &Path, branch: &str) -> Result<(Vec<Commit>, Vec<String>)> {
    // HEAD itself (absent from the reflog when reflogs are off); unborn, it is skipped.
    let mut starts: Vec<String> = vec!["HEAD".to_string()];
    // No reflog (turned off, or none yet) is no error: there is nothing in it to lose.
    let mut cmd = git.command_in(worktree);
    cmd.args(["log", "-g", "--format=%H", "HEAD", "--"]);
    if let Ok(out) = cmd.output()
        && out.status.success()
    {
        starts.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned),
        );
    }
    let mut cmd = git.command_in(worktree);
    // Commits only, tags peeled: a ref to a tree or blob (git's own repository tags a blob)
    // would make `git log` fail.
    cmd.args([
        "for-each-ref",
        "--format=%(objecttype) %(objectname) %(*objecttype) %(*objectname)",
    ]);
    let refs = git
        .stdout_of(cmd, None)
        .map_err(|e| e.wrap(format!("failed to list the refs of {}", worktree.display())))?;
    let mut input = String::new();
    starts.sort();
    starts.dedup();
    for s in &starts {
        input.push_str(s);
        input.push('\n');
    }
    for r in String::from_utf8_lossy(&refs).lines() {
        let commit = match r.split(' ').collect::<Vec<_>>()[..] {
            ["commit", id, ..] | ["tag", _, "commit", id] => id,
            _ => continue,
        };
        input.push('^');
        input.push_str(commit);
        input.push('\n');
    }
    let mut cmd = git.command_in(worktree);
    // `--ignore-missing`: a reflog may name commits gc already pruned.
    cmd.args([
        "log",
        "--stdin",
        "--ignore-missing",
        "--format=%H%x00%h%x00%P%x00%s",
    ]);
    let out = git.stdout_of(cmd, Some(input.as_bytes())).map_err(|e| {
        e.wrap(format!(
            "failed to list the commits of {}",
            worktree.display()
        ))
    })?;
    let text = String::from_utf8_lossy(&out);
    let mut commits = Vec::new();
    let mut parents: HashMap<String, Vec<String>> = HashMap::new();
    for line in text.lines() {
        let mut f = line.splitn(4, '\0');
        let (Some(id), Some(short), Some(ps), subject) = (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        parents.insert(id.to_string(), ps.split(' ').map(str::to_owned).collect());
        commits.push(Commit {
            id: id.to_string(),
            short: short.to_string(),
            subject: subject.unwrap_or("").to_string(),
        });
    }
    if commits.is_empty() {
        return Ok((commits, Vec::new()));
    }
    let rewritten = rewritten_into(git, worktree, branch, &tips_of(&commits, &parents));
    commits.retain(|c| !rewritten.contains(&c.id));
    let tips = tips_of(&commits, &parents);
    Ok((commits, tips))
}

/// Those of `commits` no other of them has as a parent.
fn tips_of(commits: &[Commit], parents: &HashMap<String, Vec<String>>) -> Vec<String> {
    let inner: HashSet<&String> = commits
        .iter()
        .filter_map(|c| parents.get(&c.id))
        .flatten()
        .collect();
    commits
        .iter()
        .filter(|c| !inner.contains(&c.id))
        .map(|c| c.id.clone())
        .collect()
}

/// The commits below `tips` whose change the track's branch already has (`git cherry`: the
/// same patch): what a rebase or an amend of the message only left behind in the reflog. Their
/// change is not lost, so they are not work; a commit whose change differs (an amend that
/// changed files, a rebase that resolved a conflict) stays work. None when the branch is gone.
fn rewritten_into(git: &Git, worktree: &Path, branch: &str, tips: &[String]) -> HashSet<String> {
    let mut out = HashSet::new();
    for tip in tips {
        let mut cmd = git.command_in(worktree);
        cmd.args(["cherry", &format!("refs/heads/{branch}"), tip]);
        let Ok(o) = cmd.output() else { continue };
        if !o.status.success() {
            continue;
        }
        for line in String::from_utf8_lossy(&o.stdout).lines() {
            if let Some(id) = line.strip_prefix("- ") {
                out.insert(id.trim().to_string());
            }
        }
    }
    out
}

/// The worktree's gitlinks whose folder is a repository (initialised submodules, or a nested
/// repository added as a gitlink): each with work in it is reported.
fn submodules(git: &Git, worktree: &Path, keep: &Keep, hidden: &mut Hidden) -> Result<()> {
    let repo = git2::Repository::open(worktree)
        .with_context(|| format!("failed to open the worktree {}", worktree.display()))?;
    let index = repo
        .index()
        .with_context(|| format!("failed to read the index of {}", worktree.display()))?;
    let links: Vec<String> = index
        .iter()
        .filter(|e| e.mode == 0o160_000)
        .map(|e| String::from_utf8_lossy(&e.path).into_owned())
        .filter(|p| is_repo(&worktree.join(p)))
        .collect();
    for path in links {
        hidden.has_submodules = true;
        let dir = worktree.join(&path);
        let mut why = Vec::new();
        let mut cmd = git.command_in(&dir);
        cmd.args(crate::sys::git::STATUS_ARGS)
            .arg("--ignored=matching");
        match git
            .stdout_of(cmd, None)
            .map_err(|e| e.wrap(format!("failed to read the status of {}", dir.display())))
        {
            Ok(raw) => {
                let dirt = crate::sys::git::parse_status(&raw);
                if !dirt.is_clean() {
                    why.push(format!("{} changed or untracked file(s)", dirt.count()));
                }
                let kept = ignored_entries(&raw)
                    .into_iter()
                    .filter(|f| !f.ends_with('/') && keep.keeps_file(f))
                    .count();
                if kept > 0 {
                    why.push(format!("{kept} ignored file(s) matching `keep`"));
                }
            }
            Err(e) => why.push(format!("its status cannot be read: {e}")),
        }
        // What its own remote does not have: commits of its branches, tags, HEAD and reflogs
        // (counted up to a bound: a submodule without remote refs would list all its history).
        let mut cmd = git.command_in(&dir);
        cmd.args([
            "log",
            "--ignore-missing",
            "--max-count=1000",
            "--format=%h %s",
            "HEAD",
            "--all",
            "--reflog",
            "--not",
            "--remotes",
        ]);
        match git
            .stdout_of(cmd, None)
            .map_err(|e| e.wrap(format!("failed to read the history of {}", dir.display())))
        {
            Ok(out) => {
                let text = String::from_utf8_lossy(&out);
                let lines: Vec<&str> = text.lines().collect();
                if let Some(first) = lines.first() {
                    let more = if lines.len() >= 1000 { " or more" } else { "" };
                    why.push(format!(
                        "{}{more} commit(s) not on its remote: {}{}",
                        lines.len(),
                        shown(first),
                        if lines.len() > 1 { ", ..." } else { "" }
                    ));
                }
            }
            Err(e) => why.push(format!("its history cannot be read: {e}")),
        }
        if !why.is_empty() {
            hidden.nested.push(Nested {
                path,
                kind: "submodule",
                why: why.join("; "),
            });
        }
    }
    Ok(())
}

/// Keeps the commits and nested repositories of a worktree before `pk down --force` removes
/// it; the ignored files it keeps went into the saved commit already. Returns what to print.
///
/// Nested repositories are moved aside whole, to
/// `<git dir>/pk-saved/<session>/<track>/<time>/<path>` (beside `.git/pk/<session>`, which `pk
/// down` removes): a rename, which keeps everything (uncommitted and ignored files, every ref,
/// stash and reflog, its config) where fetching its refs into the main repository would keep
/// only commits. A submodule's git folder lives in the worktree's own git folder and would go
/// with it, so it moves into the moved folder as its `.git`.
pub(crate) fn keep_hidden(
    git: &Git,
    session: &str,
    track: &str,
    worktree: &Path,
    hidden: &Hidden,
) -> Result<Vec<String>> {
    let mut said = Vec::new();
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for tip in &hidden.tips {
        let name = format!(
            "refs/pk/saved/{track}/{secs}-commit-{}",
            &tip[..12.min(tip.len())]
        );
        let mut cmd = git.command_in(git.root());
        cmd.args(["update-ref", &name, tip]);
        git.stdout_of(cmd, None)
            .map_err(|e| e.wrap(format!("failed to keep commit {tip} of track `{track}`")))?;
        said.push(name);
    }
    if !hidden.tips.is_empty() {
        said = vec![format!(
            "kept {} commit(s) of {track} that no branch holds, on {}",
            hidden.commits.len(),
            said.join(", ")
        )];
    }
    if hidden.nested.is_empty() {
        return Ok(said);
    }
    let base = git.common_dir().join("pk-saved").join(session).join(track);
    let mut dest_root = base.join(secs.to_string());
    let mut n = 1;
    while dest_root.exists() {
        n += 1;
        dest_root = base.join(format!("{secs}-{n}"));
    }
    let own_gitdir = crate::sys::git::gitdir_of(worktree);
    for nested in &hidden.nested {
        let from = worktree.join(&nested.path);
        let to = dest_root.join(&nested.path);
        move_aside(git, &from, &to, own_gitdir.as_deref())?;
        // A submodule comes back as an empty folder with the worktree: `mv` would move the
        // repository into it.
        let (to_q, from_q) = (
            crate::sys::shell::quote(&to.to_string_lossy()),
            crate::sys::shell::quote(&from.to_string_lossy()),
        );
        said.push(format!(
            "moved {} {} of {track} to {}\n    bring it back, once the worktree is back, with:\n      rmdir {from_q} 2>/dev/null; mv {to_q} {from_q}",
            nested.kind,
            nested.path,
            to.display(),
        ));
    }
    Ok(said)
}

/// Moves the repository at `from` to `to`, with its git folder when that lives in the
/// worktree's own git folder (`own_gitdir`), which goes with the worktree.
fn move_aside(git: &Git, from: &Path, to: &Path, own_gitdir: Option<&Path>) -> Result<()> {
    let gitdir = crate::sys::git::gitdir_of(from);
    rename_or_copy(from, to)?;
    let Some(gitdir) = gitdir else {
        return Ok(());
    };
    if own_gitdir.is_some_and(|own| gitdir.starts_with(own)) {
        let dot_git = to.join(".git");
        std::fs::remove_file(&dot_git)
            .with_context(|| format!("failed to remove {}", dot_git.display()))?;
        rename_or_copy(&gitdir, &dot_git)?;
        // A submodule's git folder names its working tree: now the folder it sits in.
        // Edited as a file, from elsewhere: git run in the folder would first go to the old
        // working tree, and fail.
        let mut cmd = git.command_in(git.root());
        cmd.args(["config", "--file"])
            .arg(dot_git.join("config"))
            .args(["--unset", "core.worktree"]);
        let _ = cmd.output();
    } else {
        // Elsewhere it stays; a relative `gitdir:` would no longer lead there.
        std::fs::write(to.join(".git"), format!("gitdir: {}\n", gitdir.display()))
            .with_context(|| format!("failed to write {}", to.join(".git").display()))?;
    }
    Ok(())
}

/// A rename; across file systems, a copy (`cp -a`): the original goes with the worktree.
fn rename_or_copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("failed to create {}", parent.display()))?;
    }
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    let out = std::process::Command::new("cp")
        .arg("-a")
        .arg("--")
        .arg(from)
        .arg(to)
        .stdin(Stdio::null())
        .output()
        .context("failed to run cp")?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::failure(format!(
            "failed to move {} to {}",
            from.display(),
            to.display()
        ))
        .wrap_cause(String::from_utf8_lossy(&out.stderr).trim().to_string()))
    }
}

/// A subject or path for a message: control and invisible characters escaped.
fn shown(text: &str) -> String {
    crate::util::text::visible(text, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_matches_names_of_listed_files_and_paths_inside_ignored_folders() {
        let keep = Keep::new(&Keep::default_globs()).unwrap();
        assert!(keep.keeps_file(".env.local"));
        assert!(keep.keeps_file("data/app.db"));
        assert!(keep.keeps_file("config/settings.local.toml"));
        assert!(keep.keeps_file("db.sqlite3"));
        assert!(!keep.keeps_file("debug.log"));
        assert!(
            !keep.keeps_path("node_modules/pkg/.env.example"),
            "a package's files are not the user's"
        );
        assert!(keep.keeps_path("instance/app.sqlite"));
        assert!(keep.keeps_path("data/app.db"));
        assert!(!keep.keeps_path("node_modules/pkg/x.db"));
        assert!(!keep.keeps_path("instance/.venv/lib/x.db"));
        let keep = Keep::new(&["data/**".to_string()]).unwrap();
        assert!(keep.keeps_path("data/deep/x.bin"));
        assert!(
            !keep.keeps_file(".env.local"),
            "a plan's keep replaces the default"
        );
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(3000), "2.9 KiB");
        assert_eq!(human_size(20 * 1024), "20.0 KiB");
        assert_eq!(human_size(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }

    #[test]
    fn totals_per_top_folder() {
        let mut totals = Vec::new();
        add_total(&mut totals, "target", true, 10, 1);
        add_total(&mut totals, "target", true, 5, 1);
        add_total(&mut totals, "target", true, 0, 0);
        add_total(&mut totals, "a/b/target", true, 7, 1);
        add_total(&mut totals, "debug.log", false, 3, 1);
        assert_eq!(
            totals,
            [
                ("target/".to_string(), 15, 2),
                ("a/".to_string(), 7, 1),
                ("debug.log".to_string(), 3, 1)
            ]
        );
    }
}
