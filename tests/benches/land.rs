//! `pk land` of 5 tracks against the same landings done by hand with git (issue 13).
//!
//! Run with `cargo bench -p pk-tests --bench land`. Env: `PK_BENCH_FILES` (default 1500),
//! `PK_BENCH_ROUNDS` (default 7); `PK_BENCH_QUICK=1` makes 2 rounds (for CI). Figures are
//! printed, never asserted: the exit code is non-zero only when a command or a check fails.
//!
//! Method. Each measurement gets a world of its own, made untimed and alike: a repository of
//! `PK_BENCH_FILES` text files on `main` (packed, as in a clone), checked out in the main
//! checkout; a plan of 5 tracks (`sleep 600`, no `done_when`) brought up with `pk up --detach`
//! on a private tmux socket (isolated as the end-to-end tests are); in each track's worktree 3
//! commits of files of its own, so every landing is clean. Then, timed:
//!
//! * **A** `pk land --keep`: the 5 tracks squashed onto `main` in order, the main checkout's
//!   files following.
//! * **B** by hand, what a lead types in the main checkout per track: `git merge --squash
//!   pk/tN`, `git commit -m …`.
//! * **C** `pk land`: as A, and each landed track's pane, worktree and branch removed.
//! * **D** by hand: B, then per track `git worktree remove` and `git branch -D`.
//!
//! The four are interleaved round by round, the order rotating; medians are reported with the
//! ratios A/B and C/D (target ≤ 1.3). After each, `main` must hold the 5 landings (5 new commits,
//! every track's files in the main checkout, a clean checkout) and, for C and D, no worktree or
//! branch of the tracks.

use pk_tests::bench::{env_or, median};
use pk_tests::{hermetic_env, pk_bin, run, write_git_config};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const TRACKS: usize = 5;
const COMMITS: usize = 3;

struct World {
    dir: tempfile::TempDir,
    repo: PathBuf,
    socket: String,
}

impl World {
    /// A repository of `files` files, its 5 tracks up and with their commits.
    fn new(files: usize, n: usize) -> World {
        let dir = tempfile::Builder::new()
            .prefix("pk-bench-land")
            .tempdir()
            .expect("temp dir");
        for sub in ["home", "state", "tmux"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        write_git_config(dir.path());
        let repo = dir.path().join("repo");
        write_files(&repo, files);
        let w = World {
            repo,
            socket: format!("pk-bench-land-{}-{n}", std::process::id()),
            dir,
        };
        w.git(&w.repo, &["init", "-q", "-b", "main"]);
        // The plan is the team's: committed, so the main checkout is clean.
        std::fs::write(w.repo.join("parallel.toml"), plan()).expect("plan");
        w.git(&w.repo, &["add", "-A"]);
        w.git(&w.repo, &["commit", "-q", "-m", "initial"]);
        w.git(&w.repo, &["repack", "-a", "-d", "-q"]);
        w.pk(&["up", "--detach", "--yes"]);
        for t in 1..=TRACKS {
            let wt = w.worktree(t);
            for c in 1..=COMMITS {
                let file = format!("track_{t}/part_{c}.txt");
                std::fs::create_dir_all(wt.join(format!("track_{t}"))).expect("mkdir");
                std::fs::write(wt.join(&file), format!("track {t}, part {c}\n")).expect("write");
                w.git(&wt, &["add", &file]);
                w.git(&wt, &["commit", "-q", "-m", &format!("t{t}: part {c}")]);
            }
        }
        w
    }

    fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        hermetic_env(&mut cmd, self.dir.path());
        cmd.current_dir(&self.repo);
        cmd
    }

    fn git(&self, dir: &Path, args: &[&str]) -> String {
        let mut cmd = self.cmd("git");
        cmd.arg("-C").arg(dir).args(args);
        run(&mut cmd)
    }

    fn pk(&self, args: &[&str]) -> String {
        run(self
            .cmd(pk_bin())
            .args(["--socket", &self.socket])
            .args(args))
    }

    fn worktree(&self, t: usize) -> PathBuf {
        self.dir.path().join("wt").join(format!("t{t}"))
    }

    /// `main` holds the 5 landings and the main checkout is clean; with `removed`, no track's
    /// worktree or branch is left.
    fn check(&self, way: &str, removed: bool) {
        let count = self.git(&self.repo, &["rev-list", "--count", "main"]);
        assert_eq!(
            count.trim(),
            (1 + TRACKS).to_string(),
            "{way}: commits on main"
        );
        for t in 1..=TRACKS {
            for c in 1..=COMMITS {
                let f = self.repo.join(format!("track_{t}/part_{c}.txt"));
                assert!(f.is_file(), "{way}: {} in the main checkout", f.display());
            }
        }
        let status = self.git(
            &self.repo,
            &["status", "--porcelain", "--untracked-files=no"],
        );
        assert!(
            status.is_empty(),
            "{way}: the main checkout is not clean:\n{status}"
        );
        if removed {
            let list = self.git(&self.repo, &["worktree", "list", "--porcelain"]);
            assert_eq!(
                list.matches("worktree ").count(),
                1,
                "{way}: worktrees left:\n{list}"
            );
            let branches = self.git(&self.repo, &["branch", "--list", "pk/*"]);
            assert!(branches.is_empty(), "{way}: branches left: {branches}");
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let mut cmd = self.cmd("tmux");
        cmd.args(["-f", "/dev/null", "-L", &self.socket, "kill-server"]);
        let _ = cmd.output();
    }
}

fn plan() -> String {
    let mut plan = String::from(
        "[session]\nname = \"bench\"\nbase = \"main\"\nworktrees = \"../wt\"\neditor = \"sleep 600 #\"\n\n\
         [ports]\nbase = 27600\nper_track = 4\n",
    );
    for t in 1..=TRACKS {
        plan.push_str(&format!(
            "\n[[track]]\nname = \"t{t}\"\nprompt = \"Part {t}.\"\ncommand = [\"sleep\", \"600\"]\n"
        ));
    }
    plan
}

/// `files` text files of about 2 KB in nested folders.
fn write_files(repo: &Path, files: usize) {
    std::fs::create_dir_all(repo).expect("mkdir repo");
    for i in 0..files {
        let rel = format!(
            "src/mod_{}/pkg_{}/file_{:02}.rs",
            i / 256,
            (i / 16) % 16,
            i % 16
        );
        let path = repo.join(&rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let text: String = (0..40)
            .map(|l| format!("// {rel} line {l}: fn item_{i}_{l}() {{}}\n"))
            .collect();
        std::fs::write(&path, text).expect("write file");
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    PkKeep,
    Hand,
    Pk,
    HandRemove,
}

const WAYS: [Way; 4] = [Way::PkKeep, Way::Hand, Way::Pk, Way::HandRemove];

impl Way {
    fn label(self) -> &'static str {
        match self {
            Way::PkKeep => "A pk land --keep",
            Way::Hand => "B by hand: merge --squash + commit",
            Way::Pk => "C pk land",
            Way::HandRemove => "D by hand, and worktree remove + branch -D",
        }
    }

    /// Lands the 5 tracks; returns the wall time in milliseconds.
    fn run(self, w: &World) -> f64 {
        let start = Instant::now();
        match self {
            Way::PkKeep => {
                w.pk(&["land", "--keep"]);
            }
            Way::Pk => {
                w.pk(&["land"]);
            }
            Way::Hand | Way::HandRemove => {
                for t in 1..=TRACKS {
                    w.git(&w.repo, &["merge", "--squash", "-q", &format!("pk/t{t}")]);
                    w.git(
                        &w.repo,
                        &["commit", "-q", "-m", &format!("t{t}: Part {t}.")],
                    );
                }
                if self == Way::HandRemove {
                    for t in 1..=TRACKS {
                        let wt = w.worktree(t);
                        w.git(&w.repo, &["worktree", "remove", &wt.to_string_lossy()]);
                        w.git(&w.repo, &["branch", "-D", "-q", &format!("pk/t{t}")]);
                    }
                }
            }
        }
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        w.check(self.label(), matches!(self, Way::Pk | Way::HandRemove));
        ms
    }
}

fn main() {
    pk_bin();
    let files = env_or("PK_BENCH_FILES", 1500);
    let quick = std::env::var("PK_BENCH_QUICK").is_ok_and(|v| v == "1");
    let rounds = if quick {
        2
    } else {
        env_or("PK_BENCH_ROUNDS", 7)
    };
    println!(
        "pk land: {TRACKS} tracks of {COMMITS} commits each, {files} files, {rounds} round(s)"
    );
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); WAYS.len()];
    let mut n = 0;
    for round in 0..rounds {
        for k in 0..WAYS.len() {
            let i = (k + round) % WAYS.len();
            n += 1;
            let world = World::new(files, n);
            times[i].push(WAYS[i].run(&world));
        }
    }
    for (way, t) in WAYS.iter().zip(&times) {
        println!(
            "  {:<46} median {:>7.1} ms  ({:?})",
            way.label(),
            median(t),
            t.iter().map(|x| x.round()).collect::<Vec<_>>()
        );
    }
    let m = |w: Way| median(&times[WAYS.iter().position(|x| *x == w).expect("a way")]);
    println!(
        "  ratio A/B (pk land --keep / by hand): {:.2}   ratio C/D (pk land / by hand with removal): {:.2}   (target <= 1.3)",
        m(Way::PkKeep) / m(Way::Hand),
        m(Way::Pk) / m(Way::HandRemove)
    );
}
