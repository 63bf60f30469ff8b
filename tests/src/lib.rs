//! The one hermetic world of pk's end-to-end tests (`e2e/`) and benchmarks (`benches/`): a
//! temporary git repository with its own git config, a private tmux server (`--socket`, `TMUX`
//! unset, its own `TMUX_TMPDIR`), its own HOME and port registry. Never the user's tmux server,
//! git config or home.

pub mod agents;
pub mod bench;
mod bin;
pub mod browser;
pub mod fake_model;
mod hermetic;
pub mod ssh_host;
mod wait;

pub use bin::{pk_bin, pk_cli_dir};
pub use hermetic::{hermetic_env, output_with_stdin, run, run_with_stderr, write_git_config};
pub use wait::{holds_for, poll_until, wait_until};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// One test's world.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub repo: PathBuf,
    pub socket: String,
}

/// True when tmux is there; when it is not, the test is skipped with a message, except under
/// CI (or `PK_REQUIRE_TMUX=1`), where a missing tmux is a failure.
pub fn tmux_available() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let required =
            std::env::var_os("CI").is_some() || std::env::var_os("PK_REQUIRE_TMUX").is_some();
        assert!(
            !required,
            "tmux is required (CI or PK_REQUIRE_TMUX is set) but not installed"
        );
        eprintln!("skipped: tmux is not installed");
    }
    ok
}

/// True when zellij is there; like [`tmux_available`], required under CI (or
/// `PK_REQUIRE_ZELLIJ=1`).
pub fn zellij_available() -> bool {
    let ok = Command::new("zellij")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let required =
            std::env::var_os("CI").is_some() || std::env::var_os("PK_REQUIRE_ZELLIJ").is_some();
        assert!(
            !required,
            "zellij is required (CI or PK_REQUIRE_ZELLIJ is set) but not installed"
        );
        eprintln!("skipped: zellij is not installed");
    }
    ok
}

impl Default for TestEnv {
    fn default() -> TestEnv {
        TestEnv::new()
    }
}

impl TestEnv {
    /// A new world for a test that needs tmux, or `None` (the test returns) where tmux is not
    /// there ([`tmux_available`]).
    pub fn with_tmux() -> Option<TestEnv> {
        tmux_available().then(TestEnv::new)
    }

    /// A repository with one commit on `main`.
    pub fn new() -> TestEnv {
        let dir = tempfile::Builder::new().prefix("pk-t").tempdir().unwrap();
        for sub in [
            "home", "state", "tmux", "out", "zs", "zcfg", "cache", "data", "cfgh", "tmp",
        ] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        write_git_config(dir.path());
        let repo = dir.path().join("shop");
        std::fs::create_dir_all(repo.join("src")).unwrap();
        std::fs::write(repo.join("README.md"), "# shop\n").unwrap();
        std::fs::write(repo.join("src/lib.rs"), "pub fn f() {}\n").unwrap();
        std::fs::write(repo.join(".gitignore"), ".env\n").unwrap();
        let env = TestEnv {
            repo: repo.clone(),
            socket: format!(
                "pk-test-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst)
            ),
            dir,
        };
        env.git(&["init", "-q", "-b", "main"]);
        env.git(&["add", "-A"]);
        env.git(&["commit", "-q", "-m", "first"]);
        env
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A folder `outside` in the world, beside the repository and out of it (made), for links
    /// that reach out of the repository to point at.
    pub fn outside_dir(&self) -> PathBuf {
        let dir = self.root().join("outside");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Where fake agents write what they see (outside every worktree).
    pub fn out(&self) -> PathBuf {
        self.root().join("out")
    }

    /// The hermetic environment ([`hermetic_env`]) plus zellij's, the other XDG folders,
    /// `TMPDIR` and an `EDITOR`, all inside the world.
    pub fn apply_env(&self, cmd: &mut Command) {
        hermetic_env(cmd, self.root());
        // zellij's sessions, config, caches (plugin permissions, resurrection) and logs.
        cmd.env("ZELLIJ_SOCKET_DIR", self.root().join("zs"))
            .env("ZELLIJ_CONFIG_DIR", self.root().join("zcfg"))
            .env("XDG_CACHE_HOME", self.root().join("cache"))
            .env("XDG_DATA_HOME", self.root().join("data"))
            .env("XDG_CONFIG_HOME", self.root().join("cfgh"))
            .env("TMPDIR", self.root().join("tmp"))
            .env("EDITOR", "cat");
    }

    /// `git -C <repo> args`, asserting success; returns stdout.
    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.repo, args)
    }

    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(dir).args(args);
        self.apply_env(&mut cmd);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The `pk` command, in the repository, on the private socket. `pk up` gets `--yes`: each
    /// test wrote its plan, so it approves its commands (approval itself: [`Self::pk_cmd_asking`]).
    pub fn pk_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.pk_cmd_asking(args);
        if args.first() == Some(&"up") {
            cmd.arg("--yes");
        }
        cmd
    }

    /// The `pk` command as typed, without an approving `--yes`.
    pub fn pk_cmd_asking(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(pk_bin());
        self.apply_env(&mut cmd);
        cmd.current_dir(&self.repo)
            .arg("--socket")
            .arg(&self.socket)
            .args(args);
        cmd
    }

    /// Runs pk and returns what it did.
    pub fn pk(&self, args: &[&str]) -> Run {
        Run::from(self.pk_cmd(args).output().unwrap())
    }

    /// Runs pk, asserting exit 0.
    pub fn pk_ok(&self, args: &[&str]) -> Run {
        let run = self.pk(args);
        assert_eq!(run.code, 0, "pk {args:?} failed:\n{run}");
        run
    }

    /// Session `shop`'s status bar as a client draws it: its `status-right` read by a UTF-8
    /// client (else tmux prints `_` for the marks), without tmux's style marks (`#[fg=green]`).
    pub fn bar_text(&self) -> String {
        let mut cmd = Command::new("tmux");
        self.apply_env(&mut cmd);
        cmd.env("LANG", "C.UTF-8")
            .arg("-L")
            .arg(&self.socket)
            .args(["show-options", "-v", "-t", "=shop:", "status-right"]);
        let raw = Run::from(cmd.output().unwrap()).stdout;
        let mut shown = String::new();
        let mut rest = raw.as_str();
        while let Some(i) = rest.find("#[") {
            shown.push_str(&rest[..i]);
            rest = rest[i..].find(']').map_or("", |j| &rest[i + j + 1..]);
        }
        shown.push_str(rest);
        shown
    }

    /// `tmux -L <socket> args` on the test's private server.
    pub fn tmux(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new("tmux");
        self.apply_env(&mut cmd);
        cmd.arg("-L").arg(&self.socket).args(args);
        Run::from(cmd.output().unwrap())
    }

    /// Asserts pk made nothing: no state, no worktrees folder or worktree, no branch but
    /// `main`, and (where tmux is there) no session `shop`.
    #[track_caller]
    pub fn assert_nothing_made(&self) {
        assert!(!self.repo.join(".git/pk").exists());
        assert!(!self.worktrees().exists());
        assert_eq!(self.worktree_list().len(), 1);
        assert_eq!(self.git(&["branch", "--list"]).lines().count(), 1);
        if tmux_available() {
            assert!(!self.has_session("shop"));
        }
    }

    /// `tmux list-panes` of every window of session `shop`, a line a pane in `format`.
    pub fn panes(&self, format: &str) -> Run {
        self.tmux(&["list-panes", "-s", "-t", "=shop", "-F", format])
    }

    /// The tmux pane id (`%N`) of `track`'s pane in session `shop`.
    pub fn pane_of(&self, track: &str) -> String {
        let panes = self.panes("#{@pk_track} #{pane_id}");
        panes
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{track} ")))
            .unwrap_or_else(|| panic!("no pane for {track}: {panes}"))
            .to_string()
    }

    /// `zellij args` in the test's private zellij world.
    pub fn zellij(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new("zellij");
        self.apply_env(&mut cmd);
        cmd.args(args);
        Run::from(cmd.output().unwrap())
    }

    pub fn write_plan(&self, text: &str) {
        std::fs::write(self.repo.join("parallel.toml"), text).unwrap();
    }

    /// Writes `plan` and brings it up with `pk up --detach`, asserting exit 0.
    pub fn up_detached(&self, plan: &str) -> Run {
        self.write_plan(plan);
        self.pk_ok(&["up", "--detach"])
    }

    /// Runs pk, asserting it exits with `code` (3: a refusal, 2: an invalid plan).
    #[track_caller]
    pub fn pk_exits(&self, code: i32, args: &[&str]) -> Run {
        let run = self.pk(args);
        assert_eq!(run.code, code, "pk {args:?}:\n{run}");
        run
    }

    /// Writes `file` (folders made) in the repository or worktree `dir`, commits it with
    /// `message` and returns the new commit's hash.
    pub fn commit_file_in(&self, dir: &Path, file: &str, text: &str, message: &str) -> String {
        write_file(&dir.join(file), text);
        self.git_in(dir, &["add", file]);
        self.git_in(dir, &["commit", "-q", "-m", message]);
        self.git_in(dir, &["rev-parse", "HEAD"]).trim().to_string()
    }

    /// Runs, in the world's environment, the first line of `stderr` that starts with `git -C`
    /// (`pk down --force`'s "bring them back" command), asserting it succeeds.
    pub fn run_printed_restore(&self, stderr: &str) {
        let line = stderr
            .lines()
            .find(|l| l.trim_start().starts_with("git -C"))
            .unwrap_or_else(|| panic!("no restore command in:\n{stderr}"))
            .trim()
            .to_string();
        let mut sh = Command::new("sh");
        self.apply_env(&mut sh);
        sh.arg("-c").arg(&line);
        assert!(sh.status().unwrap().success(), "{line}");
    }

    /// Whether the test's tmux server has the session `name`.
    pub fn has_session(&self, name: &str) -> bool {
        self.tmux(&["has-session", "-t", &format!("={name}")]).code == 0
    }

    /// The default worktrees folder.
    pub fn worktrees(&self) -> PathBuf {
        self.root().join("shop.pk")
    }

    /// Paths of `git worktree list`, main checkout first.
    pub fn worktree_list(&self) -> Vec<PathBuf> {
        self.git(&["worktree", "list", "--porcelain"])
            .lines()
            .filter_map(|l| l.strip_prefix("worktree "))
            .map(PathBuf::from)
            .collect()
    }

    /// `pk status --json`, parsed.
    pub fn status_json(&self) -> serde_json::Value {
        let run = self.pk_ok(&["status", "--json"]);
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{run}"))
    }

    /// A fake agent command that records, from inside its pane, its environment and folder
    /// into `out/<track>.env` and `out/<track>.pwd`, then stays alive.
    pub fn recording_agent(&self) -> String {
        r#"command = ["sh", "-c", "env > \"$OUT/$PK_TRACK.env.tmp\" && mv \"$OUT/$PK_TRACK.env.tmp\" \"$OUT/$PK_TRACK.env\"; pwd -P > \"$OUT/$PK_TRACK.pwd\"; exec sleep 600"]"#
            .to_string()
    }

    /// A plan for `session`: ports from `base`, `OUT` set to [`Self::out`], and a track a name
    /// of `tracks`, each running [`Self::recording_agent`].
    pub fn recording_plan(&self, session: &str, base: u16, tracks: &[&str]) -> String {
        let mut plan = format!(
            "[session]\nname = \"{session}\"\n\n[ports]\nbase = {base}\n\n[env]\nOUT = {:?}\n",
            self.out().to_string_lossy()
        );
        for t in tracks {
            plan.push_str(&format!(
                "\n[[track]]\nname = \"{t}\"\n{}\n",
                self.recording_agent()
            ));
        }
        plan
    }

    /// Puts the real `cli` (installed by `scripts/agents.sh`) in the test's own bin folder under
    /// its command name and returns a PATH with that folder first, for a plan's `[env] PATH`;
    /// `None` (the test returns) where it is not installed ([`agents::require`]).
    pub fn real_agent(&self, cli: agents::Cli) -> Option<String> {
        let program = agents::require(cli)?;
        let bin = self.root().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let link = bin.join(cli.command());
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&program, &link).unwrap();
        Some(format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        ))
    }

    /// Installs a fake program `name` (a shell script) in the test's own bin folder and returns
    /// a PATH with that folder first, for a plan's `[env] PATH`.
    pub fn fake_program(&self, name: &str, script: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        let bin = self.root().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let fake = bin.join(name);
        std::fs::write(&fake, script).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// Installs a fake interactive agent `name` that records its arguments, one per line, in
    /// `out/<name>.args`, then stays up; returns the PATH for the plan's `[env]` (which must
    /// also set `OUT`).
    pub fn fake_agent_recording_args(&self, name: &str) -> String {
        self.fake_program(
            name,
            &format!(
                "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$OUT/{name}.args.tmp\"\nmv \"$OUT/{name}.args.tmp\" \"$OUT/{name}.args\"\nexec sleep 600\n"
            ),
        )
    }

    /// The arguments [`TestEnv::fake_agent_recording_args`]'s agent `name` was started with,
    /// waiting for it to start.
    pub fn recorded_args(&self, name: &str) -> Vec<String> {
        let file = self.out().join(format!("{name}.args"));
        self.wait_for(&format!("{name} to start"), 20, || file.exists());
        std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    /// Waits until `f` is true (polling), or fails after `secs` naming `what`
    /// ([`wait_until`]).
    #[track_caller]
    pub fn wait_for(&self, what: &str, secs: u64, f: impl FnMut() -> bool) {
        wait_until(Duration::from_secs(secs), what, f);
    }

    /// The environment a track's pane recorded.
    pub fn pane_env(&self, track: &str) -> Vec<(String, String)> {
        let path = self.out().join(format!("{track}.env"));
        self.wait_for(&format!("{} to exist", path.display()), 20, || {
            path.exists()
        });
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// A terminal attached to a session, as a user sees it: a tmux client of the test's server,
/// running inside a pane of a second private server (`<socket>-outer`, same `TMUX_TMPDIR`)
/// whose screen can be captured. Killed on drop.
pub struct Screen {
    outer: String,
    tmpdir: PathBuf,
}

impl TestEnv {
    /// Attaches a 200x30 client to `session`.
    pub fn attach_screen(&self, session: &str) -> Screen {
        let client = format!(
            "env -u TMUX tmux -u -L {} attach-session -t ={session}",
            self.socket
        );
        self.screen_running(&client)
    }

    /// Writes the world's zellij config so that no first-run tips or release notes cover the
    /// layout a test looks at.
    pub fn quiet_zellij(&self) {
        std::fs::write(
            self.root().join("zcfg/config.kdl"),
            "show_startup_tips false\nshow_release_notes false\n",
        )
        .unwrap();
    }

    /// Attaches a 200x30 zellij client to `session`.
    pub fn attach_zellij_screen(&self, session: &str) -> Screen {
        self.screen_running(&format!("env -u TMUX zellij attach {session}"))
    }

    /// A 200x30 terminal running `client` (a shell command).
    fn screen_running(&self, client: &str) -> Screen {
        let outer = format!("{}-outer", self.socket);
        let mut cmd = Command::new("tmux");
        self.apply_env(&mut cmd);
        cmd.args([
            "-L",
            &outer,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            "200",
            "-y",
            "30",
            client,
        ]);
        let run = Run::from(cmd.output().unwrap());
        assert_eq!(run.code, 0, "outer tmux: {run}");
        Screen {
            outer,
            tmpdir: self.root().join("tmux"),
        }
    }
}

impl Screen {
    fn tmux(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new("tmux");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TMUX_TMPDIR", &self.tmpdir)
            .arg("-L")
            .arg(&self.outer)
            .args(args)
            .stdin(Stdio::null());
        Run::from(cmd.output().unwrap())
    }

    /// The whole screen.
    pub fn text(&self) -> String {
        self.tmux(&["capture-pane", "-p"]).stdout
    }

    /// A left click at 1-based `col` on the last row (an SGR mouse press and release, as a
    /// terminal sends them).
    pub fn click_last_row(&self, col: usize) {
        let rows = 30;
        let keys = format!("\x1b[<0;{col};{rows}M\x1b[<0;{col};{rows}m");
        let run = self.tmux(&["send-keys", "-l", &keys]);
        assert_eq!(run.code, 0, "{run}");
    }

    /// The status line: the client's last row.
    pub fn status_line(&self) -> String {
        self.text()
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
        if std::fs::read_dir(self.root().join("zs")).is_ok_and(|mut d| d.next().is_some()) {
            let _ = self.zellij(&["kill-all-sessions", "--yes"]);
            let _ = self.zellij(&["delete-all-sessions", "--yes", "--force"]);
        }
    }
}

/// What one command did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code: {}\n----- stdout -----\n{}\n----- stderr -----\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Writes `text` to `path`, making its folders.
pub fn write_file(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The text of `path`, which must be there.
#[track_caller]
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `LINE:COLUMN` (1-based, characters) of the first `needle` in `text`.
pub fn position(text: &str, needle: &str) -> String {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in {text}"));
    let line = text[..at].matches('\n').count() + 1;
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let column = text[start..at].chars().count() + 1;
    format!("{line}:{column}")
}

/// Looks a variable up in a recorded environment.
pub fn var<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
    env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}
