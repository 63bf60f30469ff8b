//! Crash consistency (design §7, issue 5): `pk up` or `pk down` killed at any step leaves a state
//! from which a new `pk up` finishes the job and `pk down` removes everything pk made.
//!
//! pk dies at each of its fault points in turn (`PK_FAULT_AT=K`, see `pk_cli::fault`), and at
//! random moments (SIGKILL after 0–300 ms; the seed is printed, `PK_FAULT_SEED` replays it).
//! Each time the same checks: no worktree left, no stale git worktree metadata, no tmux session,
//! no branch pk made unless it holds commits, no process a track started, and every file of the
//! user's still there (in the main checkout, committed in a track, or saved by `--force`).

use pk_tests::{Run, TestEnv, tmux_available};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TRACKS: [&str; 3] = ["a", "b", "c"];
/// `pk down` as the tests run it: the work of track `b` is saved on a ref, merged branches go.
const DOWN: [&str; 3] = ["down", "--force", "--delete-branches"];

/// A test's world that, when a test fails half way, does not leave the fake dev servers
/// running: they outlive the tmux server.
pub struct World(pub TestEnv);

impl std::ops::Deref for World {
    type Target = TestEnv;

    fn deref(&self) -> &TestEnv {
        &self.0
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let pids: Vec<String> = leftover_processes(self)
            .iter()
            .filter_map(|l| l.split(':').next().map(str::to_owned))
            .collect();
        if pids.is_empty() {
            return;
        }
        // Their children too (the `sleep` of each fake server).
        let mut all = pids.clone();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let ppid = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_owned));
            if ppid.is_some_and(|p| pids.contains(&p)) {
                all.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        let _ = Command::new("kill").arg("-KILL").args(&all).status();
    }
}

/// A repository with a plan of three tracks, each with a `copy` file, a dev server started by
/// `setup` under `nohup` and an agent that leaves a child of its own behind; and the user's own
/// untracked and ignored files in the main checkout.
pub fn world() -> World {
    let env = TestEnv::new();
    let path = env.fake_program("devserver", "#!/bin/sh\nsleep 3600\n");
    std::fs::write(env.repo.join(".env"), "SECRET=1\n").unwrap();
    std::fs::write(env.repo.join("notes.txt"), "mine\n").unwrap();
    // Copied into each track: one ignored file, one that is not (an untracked file of pk's).
    std::fs::write(env.repo.join("local.cfg"), "port=1\n").unwrap();
    let mut plan = format!("[ports]\nbase = 18700\n[env]\nPATH = \"{path}\"\n");
    for t in TRACKS {
        plan.push_str(&format!(
            "[[track]]\nname = \"{t}\"\ncopy = [\".env\", \"local.cfg\"]\n\
             setup = [\"nohup devserver >/dev/null 2>&1 &\"]\n\
             command = [\"sh\", \"-c\", \"nohup devserver >/dev/null 2>&1 & exec sleep 600\"]\n"
        ));
    }
    env.write_plan(&plan);
    World(env)
}

/// What each point a run died at said, for the failure messages.
fn died_at(run: &Run) -> String {
    run.stderr
        .lines()
        .find_map(|l| l.strip_prefix("pk: fault injected at "))
        .and_then(|l| l.split(" (point ").next())
        .unwrap_or("?")
        .to_string()
}

/// Runs pk with `PK_FAULT_AT=k`: `Some(point)` when it died there, `None` when it finished (it
/// reached fewer than `k` points).
fn pk_faulting(env: &TestEnv, args: &[&str], k: usize) -> Option<String> {
    let out = env
        .pk_cmd(args)
        .env("PK_FAULT_AT", k.to_string())
        .output()
        .unwrap();
    let signal = out.status.signal();
    let run = Run::from(out);
    if run.code == 0 {
        return None;
    }
    assert_eq!(
        signal,
        Some(6),
        "pk {args:?} with fault {k} did not abort:\n{run}"
    );
    Some(died_at(&run))
}

/// The user does some work: a commit in track `a`, an untracked file in track `b`.
fn work(env: &TestEnv) {
    let a = env.worktrees().join("a");
    std::fs::write(a.join("feature.txt"), "done\n").unwrap();
    env.git_in(&a, &["add", "feature.txt"]);
    env.git_in(&a, &["commit", "-q", "-m", "feature"]);
    std::fs::write(env.worktrees().join("b").join("wip.txt"), "wip\n").unwrap();
}

/// Everything `pk up` makes is there and complete.
fn assert_up(env: &TestEnv, ctx: &str) {
    assert_eq!(env.worktree_list().len(), 1 + TRACKS.len(), "{ctx}");
    let panes = env.panes("#{@pk_track}");
    for t in TRACKS {
        let wt = env.worktrees().join(t);
        assert_eq!(
            std::fs::read_to_string(wt.join("README.md")).unwrap_or_default(),
            "# shop\n",
            "{ctx}: track {t} is checked out: {}",
            debug_worktree(env, &wt)
        );
        assert_eq!(
            std::fs::read_to_string(wt.join(".env")).unwrap_or_default(),
            "SECRET=1\n",
            "{ctx}: track {t} got its copy"
        );
        assert!(
            panes.stdout.lines().any(|l| l == t),
            "{ctx}: track {t} has a pane: {panes}"
        );
        assert!(
            env.git(&["branch", "--list", &format!("pk/{t}")])
                .contains(&format!("pk/{t}")),
            "{ctx}: branch pk/{t}"
        );
        // What a track holds is clean but for pk's own copy.
        assert_eq!(
            env.git_in(&wt, &["status", "--porcelain", "--untracked-files=all"]),
            "?? local.cfg\n",
            "{ctx}: worktree {t} is clean"
        );
        assert_eq!(
            std::fs::read_to_string(wt.join("local.cfg")).unwrap_or_default(),
            "port=1\n",
            "{ctx}: track {t} got its copy"
        );
    }
}

fn debug_worktree(env: &TestEnv, wt: &std::path::Path) -> String {
    let mut sh = Command::new("sh");
    env.apply_env(&mut sh);
    let out = sh
        .arg("-c")
        .arg(format!(
            "ls -la {0}; cat {0}/.git; ls -la {1}/.git/worktrees/*; cat {1}/.git/worktrees/*/locked; git -C {0} status; cat {1}/.git/pk/shop/state.json",
            wt.display(),
            env.repo.display()
        ))
        .output()
        .unwrap();
    format!("{}", Run::from(out))
}

/// Processes whose command line names this test's folder (the fake dev servers), but zombies.
pub fn leftover_processes(env: &TestEnv) -> Vec<String> {
    let root = env.root().to_string_lossy().into_owned();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        if stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'))
        {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(&root) {
            out.push(format!("{}: {cmdline}", name.to_string_lossy()));
        }
    }
    out
}

/// Nothing pk made is left, and nothing of the user's is lost.
fn assert_clean(env: &TestEnv, ctx: &str) {
    assert_eq!(env.worktree_list(), vec![env.repo.clone()], "{ctx}");
    let mut prune = Command::new("git");
    env.apply_env(&mut prune);
    let prune = Run::from(
        prune
            .arg("-C")
            .arg(&env.repo)
            .args(["worktree", "prune", "--dry-run", "-v"])
            .output()
            .unwrap(),
    );
    assert_eq!(
        (prune.stdout.as_str(), prune.stderr.as_str()),
        ("", ""),
        "{ctx}: stale worktree metadata"
    );
    assert!(!env.worktrees().exists(), "{ctx}: the worktrees folder");
    let sessions = env.tmux(&["list-sessions", "-F", "#{session_name}"]);
    assert_eq!(sessions.stdout, "", "{ctx}: tmux sessions left");
    for branch in env
        .git(&["branch", "--list", "--format=%(refname:short)", "pk/*"])
        .lines()
    {
        let ahead = env.git(&["rev-list", "--count", &format!("main..{branch}")]);
        assert_ne!(
            ahead.trim(),
            "0",
            "{ctx}: branch {branch} is left and holds nothing"
        );
    }
    assert!(
        !env.repo.join(".git/pk/shop").exists(),
        "{ctx}: pk's state is gone"
    );
    let registry =
        std::fs::read_to_string(env.root().join("state/pk/ports.json")).unwrap_or_default();
    assert!(
        !registry.contains(".git/pk/shop"),
        "{ctx}: port blocks released: {registry}"
    );
    // The user's files.
    assert_eq!(env.git(&["show", "HEAD:README.md"]), "# shop\n", "{ctx}");
    for (file, text) in [
        ("README.md", "# shop\n"),
        ("src/lib.rs", "pub fn f() {}\n"),
        ("notes.txt", "mine\n"),
        ("local.cfg", "port=1\n"),
        (".env", "SECRET=1\n"),
    ] {
        assert_eq!(
            std::fs::read_to_string(env.repo.join(file)).unwrap_or_default(),
            text,
            "{ctx}: {file} of the main checkout"
        );
    }
    pk_tests::poll_until(Duration::from_secs(5), || {
        leftover_processes(env).is_empty()
    });
    assert_eq!(
        leftover_processes(env),
        Vec::<String>::new(),
        "{ctx}: processes the tracks started"
    );
}

/// The work [`work`] did survived: the commit on its branch, the untracked file on a ref.
fn assert_work_kept(env: &TestEnv, ctx: &str) {
    assert_eq!(
        env.git(&["show", "pk/a:feature.txt"]),
        "done\n",
        "{ctx}: the commit of track a"
    );
    let refs = env.git(&["for-each-ref", "--format=%(refname)", "refs/pk/saved/b/"]);
    let saved = refs.lines().next().unwrap_or_else(|| {
        panic!("{ctx}: the work of track b was saved on a ref");
    });
    assert_eq!(
        env.git(&["show", &format!("{saved}:wip.txt")]),
        "wip\n",
        "{ctx}"
    );
}

/// Up completes, the user works, down completes: the whole cycle after a crash.
fn finish_and_tear_down(env: &TestEnv, ctx: &str) {
    let run = env.pk(&["up", "--detach"]);
    assert_eq!(run.code, 0, "{ctx}: pk up after the crash:\n{run}");
    assert_up(env, ctx);
    work(env);
    let run = env.pk(&DOWN);
    assert_eq!(run.code, 0, "{ctx}: pk down:\n{run}");
    assert_clean(env, ctx);
    assert_work_kept(env, ctx);
}

#[test]
fn up_killed_at_every_step_is_finished_by_up_and_undone_by_down() {
    if !tmux_available() {
        return;
    }
    let start = Instant::now();
    let mut points = Vec::new();
    for k in 1.. {
        assert!(k < 100, "pk up has too many fault points");
        let env = world();
        let Some(point) = pk_faulting(&env, &["up", "--detach"], k) else {
            break;
        };
        let ctx = format!("pk up killed at {point}");
        finish_and_tear_down(&env, &ctx);
        // And straight down, without finishing first.
        let env = world();
        assert_eq!(
            pk_faulting(&env, &["up", "--detach"], k),
            Some(point.clone())
        );
        let run = env.pk(&DOWN);
        assert_eq!(run.code, 0, "{ctx}, then pk down:\n{run}");
        assert_clean(&env, &format!("{ctx}, then pk down"));
        points.push(point);
    }
    eprintln!(
        "pk up: {} fault points in {:.1?}: {points:?}",
        points.len(),
        start.elapsed()
    );
    assert!(points.len() >= 20, "{points:?}");
    for t in TRACKS {
        for step in [
            "branch-created",
            "worktree-added",
            "copies-recorded",
            "copied",
        ] {
            let want = format!("up:{step}:{t}");
            assert!(points.contains(&want), "no point {want}: {points:?}");
        }
    }
}

#[test]
fn down_killed_at_every_step_is_finished_by_down_or_up() {
    if !tmux_available() {
        return;
    }
    let start = Instant::now();
    let mut points = Vec::new();
    for k in 1.. {
        assert!(k < 100, "pk down has too many fault points");
        let env = world();
        env.pk_ok(&["up", "--detach"]);
        work(&env);
        let Some(point) = pk_faulting(&env, &DOWN, k) else {
            assert_clean(&env, "pk down without a fault");
            break;
        };
        let ctx = format!("pk down killed at {point}");
        if k % 2 == 0 {
            // Up again first: it makes again what down had removed, then down removes it all.
            let run = env.pk(&["up", "--detach"]);
            assert_eq!(run.code, 0, "{ctx}: pk up after the crash:\n{run}");
        }
        let run = env.pk(&DOWN);
        assert_eq!(run.code, 0, "{ctx}: pk down:\n{run}");
        assert_clean(&env, &ctx);
        assert_work_kept(&env, &ctx);
        points.push(point);
    }
    eprintln!(
        "pk down: {} fault points in {:.1?}: {points:?}",
        points.len(),
        start.elapsed()
    );
    assert!(points.len() >= 10, "{points:?}");
}

/// A small generator for the random moments (xorshift), seeded from the clock unless
/// `PK_FAULT_SEED` is set.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("PK_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("random kills: PK_FAULT_SEED={seed}");
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// True while a process of the group `pgid` lives (not counting zombies).
fn group_alive(pgid: u32) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        stat.rsplit_once(") ").is_some_and(|(_, rest)| {
            let f: Vec<&str> = rest.split_whitespace().collect();
            f.first() != Some(&"Z") && f.get(2) == Some(&pgid.to_string().as_str())
        })
    })
}

/// Runs pk in a process group of its own and after `delay` SIGKILLs it: it alone, as the OOM
/// killer would (what it started, git or tmux, then finishes), or its whole group, as a
/// `kill -9` of a job does (git dies mid-way too). Returns whether pk was still running.
fn pk_killed_after(env: &TestEnv, args: &[&str], delay: Duration, group: bool) -> bool {
    let mut child = env
        .pk_cmd(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let killed = child.try_wait().unwrap().is_none();
    if group {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(20);
    while group_alive(child.id()) {
        assert!(Instant::now() < deadline, "pk's children did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    killed
}

#[test]
fn up_and_down_killed_at_random_moments() {
    if !tmux_available() {
        return;
    }
    let mut rng = Rng::new();
    for round in 0..8 {
        let env = world();
        let delay = Duration::from_millis(rng.below(300));
        let group = round % 4 >= 2;
        let whom = if group { "with its children" } else { "alone" };
        if round % 2 == 0 {
            let killed = pk_killed_after(&env, &["up", "--detach"], delay, group);
            let ctx = format!("pk up killed {whom} after {delay:?} (was running: {killed})");
            eprintln!("{ctx}");
            finish_and_tear_down(&env, &ctx);
        } else {
            env.pk_ok(&["up", "--detach"]);
            work(&env);
            let killed = pk_killed_after(&env, &DOWN, delay, group);
            let ctx = format!("pk down killed {whom} after {delay:?} (was running: {killed})");
            eprintln!("{ctx}");
            let run = env.pk(&DOWN);
            assert_eq!(run.code, 0, "{ctx}: pk down:\n{run}");
            assert_clean(&env, &ctx);
            assert_work_kept(&env, &ctx);
        }
    }
}

/// The fault switch is for tests: it is not in any help.
#[test]
fn the_fault_switch_is_not_in_the_help() {
    let env = TestEnv::new();
    for args in [&["--help"][..], &["up", "--help"], &["down", "--help"]] {
        let run = env.pk(args);
        assert!(!run.stdout.contains("FAULT"), "{run}");
    }
}
