//! From the raw file to a [`Plan`]: find the file, read it, fill in every default and check
//! every value, collecting all the independent problems (a TOML syntax error stops at that
//! one). Nothing is written: the only side effects are reads (the plan, prompt files, git refs).

mod check;

pub(crate) use check::expand;
mod hosts;
mod track;

#[cfg(test)]
mod tests;

use super::raw::{self, EnvTable, RawPlan, RawPorts, RawSession, Str};
use super::{AgentPreset, Multiplexer, PLAN_FILE, Plan, PlanError, Ports, Session};
use crate::diag::{Diagnostic, syntax_diagnostic};
use crate::error::Error;
use crate::layout::{DEFAULT_PRESET, Shape};
use crate::sys::git::Git;
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Defaults of the plan (design §2).
const DEFAULT_WORKTREES: &str = "../{repo}.pk";
const DEFAULT_BRANCH: &str = "pk/{track}";
const DEFAULT_PORT_BASE: i64 = 4100;
const DEFAULT_PER_TRACK: i64 = 10;
const DEFAULT_IDLE_AFTER: i64 = 600;

/// The plan to use: `explicit` (which must exist), else `parallel.toml` in `cwd` or its nearest
/// parent folder. A relative `explicit` path is taken relative to `cwd`.
pub(crate) fn find_plan(explicit: Option<&Path>, cwd: &Path) -> Result<PathBuf, Error> {
    if let Some(path) = explicit {
        let path = cwd.join(path);
        return match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(path),
            Ok(_) => Err(Error::usage(format!(
                "plan {} is not a file",
                path.display()
            ))),
            Err(e) => Err(
                Error::usage(format!("plan {} cannot be read", path.display()))
                    .wrap_cause(e.to_string()),
            ),
        };
    }
    for dir in cwd.ancestors() {
        let candidate = dir.join(PLAN_FILE);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(Error::usage(format!(
        "no {PLAN_FILE} in {} or any parent folder",
        cwd.display()
    ))
    .hint("run `pk demo` to try pk, or write a parallel.toml (see examples/ in pk's repository)"))
}

/// What resolving a plan asks of its repository: a real [`Git`], or a stand-in for tests and
/// the fuzzer (`fuzz/fuzz_targets/plan.rs`), so that [`resolve_source`] needs no repository.
pub trait Repo {
    /// The main checkout's root (absolute).
    fn root(&self) -> &Path;
    /// True when `name` resolves to a commit.
    fn commit_exists(&self, name: &str) -> bool;
    /// The branch the main checkout is on, if any.
    fn current_branch(&self) -> Option<String>;
}

impl Repo for Git {
    fn root(&self) -> &Path {
        Git::root(self)
    }
    fn commit_exists(&self, name: &str) -> bool {
        Git::commit_exists(self, name)
    }
    fn current_branch(&self) -> Option<String> {
        Git::current_branch(self)
    }
}

/// Reads, parses and resolves the plan at `path` for the repository of `git`. `env` reads
/// environment variables (`$VISUAL`, `$EDITOR`), so tests can inject them.
pub(crate) fn load(
    path: &Path,
    git: &Git,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, PlanError> {
    let fail = |d: Diagnostic| PlanError::new(path, vec![d]);
    let source = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
            fail(Diagnostic::whole_file("the plan is not UTF-8 text").hint("save it as UTF-8"))
        })?,
        Err(e) => {
            return Err(fail(Diagnostic::whole_file(format!(
                "failed to read the plan: {e}"
            ))));
        }
    };
    resolve_source(&source, path, git, env)
}

/// Parses and resolves `source`, the text of the plan at `path`, for `repo`. Reads no file but
/// those the plan names (`prompt_file`, a layout file), relative to `path`'s folder.
pub fn resolve_source(
    source: &str,
    path: &Path,
    repo: &dyn Repo,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, PlanError> {
    let fail = |d: Diagnostic| PlanError::new(path, vec![d]);
    let raw = raw::parse(source).map_err(|e| fail(syntax_diagnostic(source, &e)))?;
    let abs_path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut r = Resolver {
        src: source,
        diags: Vec::new(),
        git: repo,
        env,
        plan_dir: abs_path.parent().map(Path::to_path_buf).unwrap_or_default(),
        exists: HashMap::new(),
        layout_error: None,
    };
    for span in nul_strings(source) {
        let diag = r.at(span, "the value contains a NUL character (`\\u0000`)");
        r.report(diag.hint("remove it: no path, argument or environment variable can hold one"));
    }
    let plan = r.plan(raw, abs_path);
    if r.diags.is_empty() {
        match r.layout_error {
            Some(e) => Err(e),
            None => Ok(plan),
        }
    } else {
        let mut diags = r.diags;
        diags.sort_by_key(|d| d.location.as_ref().map(|l| (l.line, l.column)));
        Err(PlanError::new(path, diags))
    }
}

/// The spans of the string values that hold a NUL character (only the escapes `\u0000` and
/// `\U00000000` can write one): no path, argument or environment variable can hold it, so such a
/// value is refused at its place rather than failing later, half-way through `pk up`.
fn nul_strings(source: &str) -> Vec<Range<usize>> {
    use toml::de::{DeTable, DeValue};
    fn walk(value: &Spanned<DeValue<'_>>, out: &mut Vec<Range<usize>>) {
        match value.get_ref() {
            DeValue::String(s) if s.contains('\0') => out.push(value.span()),
            DeValue::Array(items) => items.iter().for_each(|v| walk(v, out)),
            DeValue::Table(table) => table.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if !(source.contains("u0000") || source.contains("U00000000")) {
        return out;
    }
    if let Ok(doc) = DeTable::parse(source) {
        doc.get_ref().values().for_each(|v| walk(v, &mut out));
    }
    out
}

/// A value for a message: control characters escaped (a plan cannot drive the terminal), long
/// values cut, backticks replaced so the quoting of the message stays readable.
fn shown(value: &str) -> String {
    let cut: String = value
        .chars()
        .take(60)
        .map(|c| if c == '`' { '\'' } else { c })
        .collect();
    let mut out = crate::util::text::visible(&cut, false);
    if value.chars().count() > 60 {
        out.push('…');
    }
    out
}

struct Resolver<'a> {
    src: &'a str,
    diags: Vec<Diagnostic>,
    git: &'a dyn Repo,
    env: &'a dyn Fn(&str) -> Option<String>,
    plan_dir: PathBuf,
    exists: HashMap<String, bool>,
    /// Errors of the layout file the plan names (about that file, not the plan).
    layout_error: Option<PlanError>,
}

impl Resolver<'_> {
    fn at(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(self.src, span, message)
    }

    fn report(&mut self, diag: Diagnostic) {
        self.diags.push(diag);
    }

    /// The span of the placeholder at byte `offset` of a string value, when the value is
    /// written plainly between quotes (no escapes); else the whole value.
    fn inner_span(&self, value: &Str, offset: usize) -> Range<usize> {
        let span = value.span();
        let text = value.get_ref();
        let len = text[offset..].find('}').map_or(1, |i| i + 1);
        let body = span.start + 1;
        let plain = matches!(self.src.get(span.start..body), Some("\"" | "'"))
            && self.src.get(body..body + text.len()) == Some(text.as_str());
        if plain {
            body + offset..body + offset + len
        } else {
            span
        }
    }

    /// A file the plan names for pk to read (`prompt_file`, a layout file): a path relative to
    /// the plan's folder that stays inside the repository, also through symbolic links. A plan
    /// is shared, and what pk reads for it goes to an agent (a prompt) or onto the screen, so it
    /// cannot name `~/.ssh/id_rsa` or `/dev/zero`. Reports and returns `None` otherwise.
    fn inside_repo(&mut self, value: &Str, what: &str) -> Option<PathBuf> {
        let text = value.get_ref();
        let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        let root = real(self.git.root());
        let path = check::normalize(&real(&self.plan_dir).join(text));
        let why = if text.chars().any(char::is_control) {
            "contains a control character"
        } else if text.trim().is_empty() {
            "is empty"
        } else if Path::new(text).is_absolute() {
            "is absolute"
        } else if !path.starts_with(&root) {
            "leaves the repository"
        } else if !real(&path).starts_with(&root) {
            "leads out of the repository through a symbolic link"
        } else {
            return Some(path);
        };
        let diag = self.at(value.span(), format!("{what} `{}` {why}", shown(text)));
        self.report(diag.hint(format!(
            "a {what} is a path relative to the plan's folder, inside the repository"
        )));
        None
    }

    fn commit_exists(&mut self, name: &str) -> bool {
        if let Some(&known) = self.exists.get(name) {
            return known;
        }
        let exists = self.git.commit_exists(name);
        self.exists.insert(name.to_string(), exists);
        exists
    }

    /// Checks that `base` names a commit; reports at its span otherwise.
    fn check_base(&mut self, base: &Str) {
        let name = base.get_ref();
        if name.is_empty() {
            self.report(self.at(base.span(), "`base` is empty"));
        } else if name.starts_with('-') || !self.commit_exists(name) {
            let diag = self.at(
                base.span(),
                format!("base `{}` does not exist in the repository", shown(name)),
            );
            self.report(diag.hint("create it or change `base`"));
        }
    }

    fn plan(&mut self, raw: RawPlan, path: PathBuf) -> Plan {
        let repo_root = self.git.root().to_path_buf();
        let tracks_len = raw.track.as_ref().map_or(0, |t| t.get_ref().len());
        let session = self.session(raw.session.as_ref(), &repo_root);
        let ports = self.ports(raw.ports.as_ref(), tracks_len);
        let env = self.env_table(raw.env.as_ref());
        let hosts = self.hosts(raw.hosts.as_ref());
        let tracks = match &raw.track {
            Some(tracks) if !tracks.get_ref().is_empty() => {
                self.tracks(tracks.get_ref(), &session, ports, &repo_root, &hosts)
            }
            other => {
                let span = other
                    .as_ref()
                    .map_or(self.src.len()..self.src.len(), Spanned::span);
                let diag = self.at(span, "the plan has no tracks");
                self.report(diag.hint(
                    "add at least one `[[track]]` with a `name` and a `prompt` (see the examples)",
                ));
                Vec::new()
            }
        };
        let land_strategy = self.land(raw.land.as_ref());
        Plan {
            path,
            repo_root,
            session,
            ports,
            env,
            tracks,
            land_strategy,
            hosts,
        }
    }

    /// `[land] strategy`.
    fn land(&mut self, raw: Option<&Spanned<super::raw::RawLand>>) -> super::Strategy {
        use super::Strategy;
        let Some(s) = raw.and_then(|l| l.get_ref().strategy.as_ref()) else {
            return Strategy::default();
        };
        match s.get_ref().as_str() {
            "squash" => Strategy::Squash,
            "merge" => Strategy::Merge,
            "rebase" => Strategy::Rebase,
            other => {
                let msg = format!("unknown land strategy `{}`", shown(other));
                let diag = self
                    .at(s.span(), msg)
                    .hint("use \"squash\", \"merge\" or \"rebase\"");
                self.report(diag);
                Strategy::default()
            }
        }
    }

    fn session(&mut self, raw: Option<&Spanned<RawSession>>, repo_root: &Path) -> Session {
        let s = raw.map(Spanned::get_ref);
        let field = |f: fn(&RawSession) -> &Option<Str>| s.and_then(|s| f(s).as_ref());
        let repo_name = repo_root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "repo".to_string());

        let name = match field(|s| &s.name) {
            Some(name) => {
                if let Err(why) = check::session_name(name.get_ref()) {
                    let msg = format!("session name `{}` {why}", shown(name.get_ref()));
                    let diag = self.at(name.span(), msg).hint(check::SESSION_NAME_RULE);
                    self.report(diag);
                }
                name.get_ref().clone()
            }
            None => check::sanitize_session_name(&repo_name),
        };

        let base = match field(|s| &s.base) {
            Some(base) => {
                self.check_base(base);
                base.get_ref().clone()
            }
            None => match self.git.current_branch() {
                Some(branch) => branch,
                None => {
                    let msg = "the repository has no current branch (detached HEAD, or no \
                               commit yet), so `base` has no default";
                    let diag = match raw {
                        Some(session) => self.at(session.span(), msg),
                        None => Diagnostic::whole_file(msg),
                    };
                    self.report(diag.hint(
                        "set `base` in [session] (for example base = \"main\"), or check out a branch",
                    ));
                    String::new()
                }
            },
        };

        let multiplexer = match field(|s| &s.multiplexer) {
            None => Multiplexer::Tmux,
            Some(m) => match m.get_ref().as_str() {
                "tmux" => Multiplexer::Tmux,
                "zellij" => Multiplexer::Zellij,
                other => {
                    let msg = format!("unknown multiplexer `{}`", shown(other));
                    let diag = self.at(m.span(), msg).hint("use \"tmux\" or \"zellij\"");
                    self.report(diag);
                    Multiplexer::Tmux
                }
            },
        };

        let layout = match field(|s| &s.layout) {
            Some(layout) => self.layout(layout),
            None => Shape::preset(DEFAULT_PRESET).expect("the default preset exists"),
        };

        let editor_in_plan = field(|s| &s.editor).is_some();
        let editor = match field(|s| &s.editor) {
            Some(editor) => {
                if editor.get_ref().trim().is_empty() {
                    let diag = self.at(editor.span(), "`editor` is empty");
                    self.report(diag.hint(
                        "name an editor command, or remove the key to use $VISUAL, $EDITOR or vi",
                    ));
                }
                editor.get_ref().clone()
            }
            None => ["VISUAL", "EDITOR"]
                .iter()
                .filter_map(|var| (self.env)(var))
                .find(|v| !v.trim().is_empty())
                .unwrap_or_else(|| "vi".to_string()),
        };

        let agent = match field(|s| &s.agent) {
            Some(agent) => self.preset(agent),
            None => AgentPreset::Claude,
        };

        let worktrees = self.worktrees(field(|s| &s.worktrees), repo_root, &repo_name, &name);

        let branch_template = match field(|s| &s.branch) {
            Some(template) => {
                self.check_branch_template(template);
                template.get_ref().clone()
            }
            None => DEFAULT_BRANCH.to_string(),
        };

        let idle_after = s.and_then(|s| s.idle_after.as_ref());
        let idle_after_secs = match idle_after {
            Some(v) if *v.get_ref() < 1 => {
                let diag = self.at(v.span(), "`idle_after` must be at least 1 (seconds)");
                self.report(diag);
                DEFAULT_IDLE_AFTER
            }
            Some(v) => *v.get_ref(),
            None => DEFAULT_IDLE_AFTER,
        };

        let keep = self.keep(s.and_then(|s| s.keep.as_ref()));
        let budget_usd = self.budget(s.and_then(|s| s.budget_usd.as_ref()));
        let push = s
            .and_then(|s| s.push.as_ref())
            .is_some_and(|p| *p.get_ref());

        Session {
            name,
            base,
            multiplexer,
            layout,
            editor,
            editor_in_plan,
            agent,
            worktrees,
            branch_template,
            idle_after_secs: idle_after_secs.unsigned_abs(),
            keep,
            budget_usd,
            push,
        }
    }

    /// `budget_usd`: a finite number of dollars, 0 or more (`nan`, `inf` and negatives are
    /// TOML floats too).
    fn budget(&mut self, value: Option<&Spanned<f64>>) -> Option<f64> {
        let v = value?;
        let usd = *v.get_ref();
        if usd.is_finite() && usd >= 0.0 {
            return Some(usd);
        }
        let diag = self.at(
            v.span(),
            "`budget_usd` must be a number of US dollars, 0 or more",
        );
        self.report(diag.hint("for example `budget_usd = 5` or `budget_usd = 2.50`"));
        None
    }

    /// `keep`: globs `pk down` can compile, each reported at its place otherwise.
    fn keep(&mut self, list: Option<&raw::StrList>) -> Vec<String> {
        let Some(list) = list else {
            return super::keep::default_globs();
        };
        for entry in list.get_ref() {
            let pattern = entry.get_ref();
            let why = if pattern.trim().is_empty() {
                Some("is empty".to_string())
            } else {
                super::keep::glob(pattern)
                    .err()
                    .map(|e| format!("is not a valid glob: {}", e.kind()))
            };
            if let Some(why) = why {
                let diag = self.at(
                    entry.span(),
                    format!("`keep` glob `{}` {why}", shown(pattern)),
                );
                self.report(
                    diag.hint(
                        "a `keep` glob is like a .gitignore line: `*.db`, `.env*`, `data/**`",
                    ),
                );
            }
        }
        list.get_ref().iter().map(|e| e.get_ref().clone()).collect()
    }

    /// `layout`: a preset name, or a layout file relative to the plan. A file's own errors are
    /// kept for [`load`] to report about that file; the default preset stands in meanwhile.
    fn layout(&mut self, layout: &Str) -> Shape {
        let value = layout.get_ref();
        let fallback = || Shape::preset(DEFAULT_PRESET).expect("the default preset exists");
        if let Some(preset) = Shape::preset(value) {
            return preset;
        }
        if !(value.contains('/') || value.ends_with(".toml")) {
            let diag = self.at(layout.span(), format!("unknown layout `{}`", shown(value)));
            self.report(diag.hint(format!(
                "use a preset ({}) or a layout file such as \"layouts/ours.toml\"",
                Shape::preset_names()
            )));
            return fallback();
        }
        let Some(path) = self.inside_repo(layout, "layout file") else {
            return fallback();
        };
        if !path.is_file() {
            let diag = self.at(
                layout.span(),
                format!("layout file `{}` does not exist", shown(value)),
            );
            self.report(diag.hint(format!(
                "paths are relative to the plan's folder; presets: {}",
                Shape::preset_names()
            )));
            return fallback();
        }
        match Shape::load(&path) {
            Ok(shape) => Shape {
                name: value.clone(),
                ..shape
            },
            Err(e) => {
                self.layout_error = Some(e);
                fallback()
            }
        }
    }

    /// An agent preset name; reports and falls back to `claude` when unknown.
    fn preset(&mut self, agent: &Str) -> AgentPreset {
        AgentPreset::from_name(agent.get_ref()).unwrap_or_else(|| {
            let names: Vec<&str> = AgentPreset::ALL.iter().map(|(n, _)| *n).collect();
            let msg = format!("unknown agent `{}`", shown(agent.get_ref()));
            let diag = self.at(agent.span(), msg).hint(format!(
                "use one of {}, or `command = [...]` in a track for any other program",
                names.join(", ")
            ));
            self.report(diag);
            AgentPreset::Claude
        })
    }

    fn worktrees(
        &mut self,
        raw: Option<&Str>,
        repo_root: &Path,
        repo_name: &str,
        session: &str,
    ) -> PathBuf {
        let template = raw.map_or(DEFAULT_WORKTREES, |t| t.get_ref().as_str());
        let span = raw.map(Spanned::span);
        if let Err((at, why)) = check::placeholders(template, &["repo", "session"]) {
            if let Some(value) = raw {
                let diag = self.at(self.inner_span(value, at), format!("`worktrees` {why}"));
                self.report(diag.hint("the placeholders are `{repo}` and `{session}`"));
            }
            return repo_root.join("..");
        }
        if template.trim().is_empty() {
            if let Some(span) = span {
                self.report(self.at(span, "`worktrees` is empty"));
            }
            return repo_root.join("..");
        }
        if let Some(c) = template.chars().find(|c| c.is_control()) {
            if let Some(span) = span {
                let msg = format!("`worktrees` contains the control character {c:?}");
                let diag = self.at(span, msg);
                self.report(diag.hint("a folder name holds printable characters only"));
            }
            return repo_root.join("..");
        }
        let expanded = check::expand(template, &[("repo", repo_name), ("session", session)]);
        let folder = check::normalize(&repo_root.join(expanded));
        if let Some(span) = span.clone()
            && folder.components().any(|c| c.as_os_str().len() > 255)
        {
            let diag = self.at(span, "`worktrees` has a folder name longer than 255 bytes");
            self.report(diag.hint("file systems refuse longer names: shorten it"));
            return repo_root.join("..");
        }
        // Where the folder lands once made: through a link on the way (`../link/sub`, `link`
        // pointing at the checkout or into its `.git`) as much as lexically.
        let real = resolved(&folder);
        let linked = !folder.starts_with(repo_root) && real.starts_with(resolved(repo_root));
        if (folder.starts_with(repo_root) || linked)
            && let Some(span) = span
        {
            let through = if linked {
                format!(" (through a symbolic link, at {})", real.display())
            } else {
                String::new()
            };
            let msg = format!(
                "the worktrees folder {} is inside the main checkout{through}",
                folder.display()
            );
            let diag = self
                .at(span, msg)
                .hint("use a folder outside the repository, such as the default \"../{repo}.pk\"");
            self.report(diag);
        }
        folder
    }

    fn check_branch_template(&mut self, template: &Str) {
        let value = template.get_ref();
        if let Err((at, why)) = check::placeholders(value, &["track"]) {
            let diag = self.at(self.inner_span(template, at), format!("`branch` {why}"));
            self.report(diag.hint("the only placeholder is `{track}`"));
        } else if check::expand(value, &[("track", "a")]) == check::expand(value, &[("track", "b")])
        {
            let diag = self.at(template.span(), "`branch` does not contain `{track}`");
            self.report(
                diag.hint(
                    "every track needs its own branch: use a template such as \"pk/{track}\"",
                ),
            );
        } else if let Err(why) = check::branch_name(&check::expand(value, &[("track", "track")])) {
            let msg = format!("`branch` template gives invalid branch names: it {why}");
            let diag = self.at(template.span(), msg);
            self.report(diag.hint("branch names follow `git check-ref-format --branch`"));
        }
    }

    fn ports(&mut self, raw: Option<&Spanned<RawPorts>>, tracks: usize) -> Ports {
        let p = raw.map(Spanned::get_ref);
        let base_raw = p.and_then(|p| p.base.as_ref());
        let per_raw = p.and_then(|p| p.per_track.as_ref());
        let mut base = base_raw.map_or(DEFAULT_PORT_BASE, |b| *b.get_ref());
        let mut per_track = per_raw.map_or(DEFAULT_PER_TRACK, |b| *b.get_ref());
        if let Some(b) = base_raw
            && !(1024..=65535).contains(&base)
        {
            let diag = self.at(b.span(), format!("port base {base} is out of range"));
            self.report(diag.hint("use a port from 1024 to 65535 (ports below 1024 need root)"));
            base = DEFAULT_PORT_BASE;
        }
        if let Some(n) = per_raw
            && !(1..=65535).contains(&per_track)
        {
            let msg = format!("`per_track` must be from 1 to 65535, not {per_track}");
            let diag = self.at(n.span(), msg);
            self.report(diag.hint("each track needs a block of at least 1 port"));
            per_track = DEFAULT_PER_TRACK;
        } else if base + per_track - 1 > 65535 {
            let span = per_raw.or(base_raw).map_or(0..0, Spanned::span);
            let msg = format!("a block of {per_track} ports from {base} goes past 65535");
            self.report(self.at(span, msg).hint("lower `base` or `per_track`"));
        } else if tracks > 0
            && base + per_track * i64::try_from(tracks).unwrap_or(i64::MAX / 65536) - 1 > 65535
        {
            let span = base_raw.or(per_raw).map_or(0..0, Spanned::span);
            let msg = format!("{tracks} tracks of {per_track} ports from {base} go past 65535");
            self.report(self.at(span, msg).hint("lower `base` or `per_track`"));
        }
        Ports {
            base: u16::try_from(base).unwrap_or(4100),
            per_track: u16::try_from(per_track).unwrap_or(10),
        }
    }

    /// An `[env]` or track `env` table: names checked, placeholders of values checked.
    fn env_table(&mut self, table: Option<&Spanned<EnvTable>>) -> Vec<(String, String)> {
        let Some(table) = table else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in &table.get_ref().0 {
            if let Err(why) = check::env_key(key.get_ref()) {
                let msg = format!("environment variable `{}` {why}", shown(key.get_ref()));
                let hint = if key.get_ref().starts_with("PK_") {
                    "pick another name; PK_TRACK, PK_PORT, PK_BRANCH, … are set for every track"
                } else {
                    "use letters, digits and `_`, not starting with a digit"
                };
                self.report(self.at(key.span(), msg).hint(hint));
            }
            if let Err((at, why)) = check::placeholders(value.get_ref(), &super::ENV_PLACEHOLDERS) {
                let msg = format!("value of `{}` {why}", shown(key.get_ref()));
                let hint = format!(
                    "the placeholders are {}; write `{{{{` and `}}}}` for literal braces",
                    check::list_placeholders(&super::ENV_PLACEHOLDERS)
                );
                let diag = self.at(self.inner_span(value, at), msg).hint(hint);
                self.report(diag);
            }
            out.push((key.get_ref().clone(), value.get_ref().clone()));
        }
        out
    }
}

/// Where `path` is once followed through every symbolic link on the way, also when it does not
/// exist yet: the nearest existing folder above it resolved, the rest appended as written
/// (what `create_dir_all` or a copy would reach).
pub(crate) fn resolved(path: &Path) -> PathBuf {
    for above in path.ancestors() {
        if let Ok(real) = above.canonicalize() {
            let rest = path.strip_prefix(above).unwrap_or(Path::new(""));
            return if rest.as_os_str().is_empty() {
                real
            } else {
                real.join(rest)
            };
        }
    }
    path.to_path_buf()
}
