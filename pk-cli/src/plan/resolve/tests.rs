//! Loading plans against a real git repository: the fixtures under the workspace's `tests/fixtures/plans/`
//! (every `valid/*.toml` loads, every `invalid/*.toml` fails at the line, column and message
//! its first line announces), the examples, and the defaults.

use super::{find_plan, load};
use crate::error::ErrorKind;
use crate::plan::{Agent, AgentPreset, Multiplexer, Plan, PlanError};
use crate::sys::git::Git;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A temporary repository `<tmp>/shop` on `main` with one commit, made with hermetic git.
struct TestRepo {
    tmp: tempfile::TempDir,
    root: PathBuf,
}

impl TestRepo {
    fn new() -> TestRepo {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap().join("shop");
        std::fs::create_dir(&root).unwrap();
        let repo = TestRepo { tmp, root };
        repo.git(&["init", "--quiet", "-b", "main"]);
        repo.git(&["commit", "--quiet", "--allow-empty", "-m", "initial"]);
        std::fs::create_dir(repo.root.join("prompts")).unwrap();
        std::fs::write(repo.root.join("prompts/api.md"), "Build the API.\n").unwrap();
        std::fs::write(repo.root.join("prompts/latin1.md"), b"caf\xe9\n").unwrap();
        repo
    }

    fn git(&self, args: &[&str]) {
        let status = Command::new("git")
            .args([
                "-c",
                "user.name=pk test",
                "-c",
                "user.email=pk@example.invalid",
            ])
            .args([
                "-c",
                "commit.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(&self.root)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?} failed");
    }

    fn load_text(&self, text: &str) -> Result<Plan, PlanError> {
        self.load_with(text, &|_| None)
    }

    fn load_with(
        &self,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Plan, PlanError> {
        let path = self.root.join("parallel.toml");
        std::fs::write(&path, text).unwrap();
        let git = Git::discover(&self.root).unwrap();
        load(&path, &git, env)
    }
}

fn fixtures(kind: &str) -> Vec<PathBuf> {
    // Shared with the end-to-end tests, in the workspace's tests/.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/plans")
        .join(kind);
    toml_files(&dir)
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// Every file below `dir` but the plan, with its size, to show that loading wrote nothing.
fn listing(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            out.extend(listing(&entry.path()));
        } else if entry.file_name() != "parallel.toml" {
            out.push((entry.path(), meta.len()));
        }
    }
    out.sort();
    out
}

#[test]
fn valid_fixtures_and_examples_load() {
    let repo = TestRepo::new();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let files: Vec<PathBuf> = fixtures("valid")
        .into_iter()
        .chain(toml_files(&examples))
        .collect();
    assert!(files.len() >= 5, "too few valid plans: {files:?}");
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        if let Err(e) = repo.load_text(&text) {
            failures.push(format!("{}:\n{e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn invalid_fixtures_fail_where_they_say() {
    let repo = TestRepo::new();
    let files = fixtures("invalid");
    assert!(files.len() >= 20, "too few invalid plans: {}", files.len());
    let before = listing(repo.tmp.path());
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} lacks `# expect: LINE:COL text`", file.display()));
        let (position, needle) = expect.split_once(' ').expect("LINE:COL text");
        match repo.load_text(&text) {
            Ok(_) => failures.push(format!("{}: loaded", file.display())),
            Err(e) => {
                let rendered = e.render();
                if std::env::var_os("PK_SHOW_DIAGNOSTICS").is_some() {
                    eprintln!("== {}\n{rendered}\n", file.display());
                }
                let at = format!("parallel.toml:{position}\n");
                if !rendered.contains(&at) || !rendered.contains(needle) {
                    failures.push(format!(
                        "{}: wanted {at:?} and {needle:?}, got:\n{rendered}",
                        file.display()
                    ));
                }
                let err: crate::error::Error = e.into();
                assert_eq!(err.kind, ErrorKind::Plan);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Nothing but the plan itself was written.
    assert_eq!(listing(repo.tmp.path()), before);
}

#[test]
fn defaults() {
    let repo = TestRepo::new();
    let plan = repo
        .load_text("[[track]]\nname = \"api\"\nprompt = \"go\"\n")
        .unwrap();
    let s = &plan.session;
    assert_eq!(s.name, "shop");
    assert_eq!(s.base, "main");
    assert_eq!(s.multiplexer, Multiplexer::Tmux);
    assert_eq!(s.editor, "vi");
    assert_eq!(s.agent, AgentPreset::Claude);
    assert_eq!(s.worktrees, repo.root.parent().unwrap().join("shop.pk"));
    assert_eq!(s.branch_template, "pk/{track}");
    assert_eq!(s.idle_after_secs, 600);
    assert_eq!(s.budget_usd, None);
    assert_eq!(s.keep, crate::plan::keep::DEFAULT_KEEP);
    assert_eq!((plan.ports.base, plan.ports.per_track), (4100, 10));
    assert_eq!(plan.repo_root, repo.root);
    assert_eq!(plan.path, repo.root.join("parallel.toml"));
    let t = &plan.tracks[0];
    assert_eq!(t.branch, "pk/api");
    assert_eq!(t.worktree, repo.root.parent().unwrap().join("shop.pk/api"));
    assert_eq!(t.base, "main");
    assert_eq!(t.agent, Agent::Preset(AgentPreset::Claude));
    assert_eq!(t.prompt.as_deref(), Some("go"));
}

#[test]
fn editor_comes_from_visual_then_editor() {
    let repo = TestRepo::new();
    let text = "[[track]]\nname = \"api\"\n";
    let env = |k: &str| match k {
        "VISUAL" => Some(" ".to_string()),
        "EDITOR" => Some("nano".to_string()),
        _ => None,
    };
    assert_eq!(repo.load_with(text, &env).unwrap().session.editor, "nano");
    let env = |k: &str| (k == "VISUAL").then(|| "hx".to_string());
    assert_eq!(repo.load_with(text, &env).unwrap().session.editor, "hx");
}

#[test]
fn resolves_every_key() {
    let repo = TestRepo::new();
    let plan = repo
        .load_text(
            r#"
[session]
name = "my_shop"
worktrees = "../wt/{session}-{repo}"
branch = "agents/{track}/work"
idle_after = 30
keep = ["data/**"]
budget_usd = 12.5
[ports]
base = 20000
per_track = 3
[env]
Z_LAST = "a"
A_FIRST = "{{x}} {track}"
[[track]]
name = "api"
prompt_file = "prompts/api.md"
ports = ["web", "debug_2"]
copy = ["./config/../.env"]
budget_usd = 3
[[track]]
name = "cli"
command = ["./fake", "--json"]
transcript = { path = "out.jsonl", format = "claude-stream" }
depends_on = ["api"]
[land]
strategy = "rebase"
"#,
        )
        .unwrap();
    assert_eq!(plan.land_strategy, crate::plan::Strategy::Rebase);
    assert_eq!(
        plan.session.worktrees,
        repo.root.parent().unwrap().join("wt/my_shop-shop")
    );
    assert_eq!(plan.session.idle_after_secs, 30);
    assert_eq!(plan.session.keep, ["data/**"], "it replaces the default");
    assert_eq!(plan.session.budget_usd, Some(12.5));
    assert_eq!(plan.env[0].0, "Z_LAST");
    assert_eq!(plan.env[1], ("A_FIRST".into(), "{{x}} {track}".into()));
    let api = &plan.tracks[0];
    assert_eq!(api.branch, "agents/api/work");
    assert_eq!(api.prompt.as_deref(), Some("Build the API.\n"));
    assert_eq!(api.port_names, ["web", "debug_2"]);
    assert_eq!(api.copy, [PathBuf::from(".env")]);
    assert_eq!(api.budget_usd, Some(3.0), "an integer is dollars too");
    let cli = &plan.tracks[1];
    assert_eq!(
        cli.agent,
        Agent::Command(vec!["./fake".into(), "--json".into()])
    );
    assert_eq!(cli.transcript.as_ref().unwrap().format, "claude-stream");
    assert_eq!(cli.depends_on, ["api"]);
}

#[test]
fn reports_every_independent_problem_in_file_order() {
    let repo = TestRepo::new();
    let err = repo
        .load_text(
            "[env]\nPK_X = \"1\"\n[[track]]\nname = \"Web\"\n[[track]]\nname = \"-api\"\n\
             depends_on = [\"nope\"]\n",
        )
        .unwrap_err();
    let lines: Vec<usize> = err
        .diagnostics
        .iter()
        .map(|d| d.location.as_ref().unwrap().line)
        .collect();
    assert_eq!(lines, [2, 4, 6, 7], "{err}");
}

#[test]
fn prompt_file_must_be_utf8() {
    let repo = TestRepo::new();
    let err = repo
        .load_text("[[track]]\nname = \"a\"\nprompt_file = \"prompts/latin1.md\"\n")
        .unwrap_err();
    assert!(err.render().contains("is not UTF-8 text"), "{err}");
}

#[test]
fn no_current_branch_needs_an_explicit_base() {
    let repo = TestRepo::new();
    repo.git(&["checkout", "--quiet", "--detach"]);
    let err = repo.load_text("[[track]]\nname = \"a\"\n").unwrap_err();
    assert!(err.render().contains("no current branch"), "{err}");
    let plan = repo.load_text("[session]\nbase = \"main\"\n[[track]]\nname = \"a\"\n");
    assert_eq!(plan.unwrap().tracks[0].base, "main");
}

#[test]
fn track_branch_cannot_be_the_checked_out_branch() {
    let repo = TestRepo::new();
    let err = repo
        .load_text("[session]\nbranch = \"{track}\"\n[[track]]\nname = \"main\"\n")
        .unwrap_err();
    assert!(
        err.render().contains("checked out in the main checkout"),
        "{err}"
    );
}

#[test]
fn unreadable_plan_is_a_usage_error() {
    let repo = TestRepo::new();
    let git = Git::discover(&repo.root).unwrap();
    let err = load(&repo.root.join("missing.toml"), &git, &|_| None).unwrap_err();
    assert!(
        err.render().starts_with("error: failed to read the plan"),
        "{err}"
    );
    let err: crate::error::Error = err.into();
    assert_eq!(err.kind.exit_code(), 2);
}

#[test]
fn finds_the_nearest_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let deep = root.join("a/b");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(root.join("parallel.toml"), "").unwrap();
    assert_eq!(find_plan(None, &deep).unwrap(), root.join("parallel.toml"));
    std::fs::write(root.join("a/parallel.toml"), "").unwrap();
    assert_eq!(
        find_plan(None, &deep).unwrap(),
        root.join("a/parallel.toml")
    );
    std::fs::write(deep.join("other.toml"), "").unwrap();
    let explicit = find_plan(Some(Path::new("other.toml")), &deep).unwrap();
    assert_eq!(explicit, deep.join("other.toml"));

    let err = find_plan(Some(Path::new("nope.toml")), &deep).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Usage);
    assert!(err.to_string().contains("nope.toml"), "{err}");
    let err = find_plan(Some(Path::new("..")), &deep).unwrap_err();
    assert!(err.to_string().contains("is not a file"), "{err}");
}

#[test]
fn missing_plan_hints_at_demo_and_examples() {
    // `/` has no parallel.toml on any sane machine; a temp dir's ancestors might, so look in a
    // fresh folder whose parents are checked too.
    let tmp = tempfile::tempdir().unwrap();
    match find_plan(None, tmp.path()) {
        Ok(found) => assert!(!found.starts_with(tmp.path())),
        Err(err) => {
            assert_eq!(err.kind, ErrorKind::Usage);
            let text = err.to_string();
            assert!(
                text.contains("pk demo") && text.contains("examples/"),
                "{text}"
            );
        }
    }
}

#[test]
fn shown_escapes_control_characters_only() {
    assert_eq!(super::shown("it's \u{1b}[31m`x`"), "it's \\u{1b}[31m'x'");
    assert_eq!(
        super::shown(&"a".repeat(70)),
        format!("{}…", "a".repeat(60))
    );
}
