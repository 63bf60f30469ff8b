//! The conflict forecast's speed (issue 13): 8 tracks on a 1,500-file repository, each with a
//! few commits.
//!
//! Run with `cargo bench -p pk-tests --bench forecast`. Env: `PK_BENCH_FILES` (default 1500),
//! `PK_BENCH_ROUNDS` (default 9). `PK_BENCH_QUICK=1` makes 3 rounds (for CI). Figures are
//! printed, never asserted: the exit code is non-zero only when something fails (a command, or
//! a check that the work was really done).
//!
//! Method. A repository of `PK_BENCH_FILES` text files (40 lines each, in 30 folders) in a
//! temporary folder, packed; 8 worktrees made with `git worktree add`, each with 3 commits: a
//! few files of its own, and `shared.txt`, where tracks 1 and 2 change the same line (a
//! conflict) and the others other lines (clean). Worktrees are clean, so their `git status`
//! (read once, untimed, as the watcher has it from its counts) is empty.
//!
//! 1. **Full forecast** (36 merges: 28 pairs and 8 tracks against `main`): a new
//!    `pk_cli::live::Forecaster` per round, so nothing is cached. Against **the naive way**: 36
//!    `git merge-tree --write-tree --name-only` runs one after another, in a fresh copy of the
//!    repository's git folder per round (copied untimed: merge-tree writes objects, and the
//!    real repository must not grow). Medians; the ratio is pk over naive (target ≤ 0.5). Both
//!    must find the same conflicting pair.
//! 2. **Nothing changed**: the same forecaster again with the same statuses: its work counts
//!    (merges, trees built, `git status` runs) must be 0, and it starts no process; time shown.
//! 3. **One new commit**: one track commits a file, and the forecaster that knows the rest runs
//!    again: at most that track's 8 merges (7 pairs and its base); time, and over the full one.

use pk_cli::live::{Forecaster, TrackInput};
use pk_tests::bench::env_or;
use pk_tests::{hermetic_env, run};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const TRACKS: usize = 8;

struct World {
    dir: tempfile::TempDir,
    repo: PathBuf,
}

impl World {
    fn git(&self, dir: &Path, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        hermetic_env(&mut cmd, self.dir.path());
        cmd.arg("-C").arg(dir).args(args);
        run(&mut cmd)
    }

    fn worktree(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("t{i}"))
    }

    fn inputs(&self) -> Vec<TrackInput> {
        (1..=TRACKS)
            .map(|i| TrackInput {
                name: format!("t{i}"),
                base: "main".into(),
                branch: format!("pk/t{i}"),
                worktree: self.worktree(i),
                status: Some(
                    self.git(
                        &self.worktree(i),
                        &["status", "--porcelain=v1", "-z", "--untracked-files=all"],
                    )
                    .into_bytes(),
                ),
            })
            .collect()
    }
}

fn lines(seed: usize) -> String {
    (0..40)
        .map(|l| format!("file {seed} line {l}: some text to merge\n"))
        .collect()
}

fn make_world(files: usize) -> World {
    let dir = tempfile::tempdir().expect("temp dir");
    pk_tests::write_git_config(dir.path());
    let repo = dir.path().join("repo");
    for f in 0..files {
        let path = repo.join(format!("d{}/f{f}.txt", f % 30));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, lines(f)).unwrap();
    }
    std::fs::write(repo.join("shared.txt"), lines(999_999)).unwrap();
    let world = World { dir, repo };
    let repo = world.repo.clone();
    world.git(&repo, &["init", "-q", "-b", "main"]);
    world.git(&repo, &["add", "-A"]);
    world.git(&repo, &["commit", "-q", "-m", "init"]);
    world.git(&repo, &["repack", "-a", "-d", "-q"]);
    for i in 1..=TRACKS {
        let wt = world.worktree(i);
        let branch = format!("pk/t{i}");
        world.git(
            &repo,
            &["worktree", "add", "-q", "-b", &branch, wt.to_str().unwrap()],
        );
        for c in 0..3 {
            for k in 0..3 {
                let f = (i * 97 + c * 13 + k * 7) % files;
                let path = wt.join(format!("d{}/f{f}.txt", f % 30));
                let body = std::fs::read_to_string(&path).unwrap();
                std::fs::write(&path, format!("{body}t{i} commit {c}\n")).unwrap();
            }
            if c == 0 {
                // t1 and t2: the same line; the others: a line of their own.
                let line = if i <= 2 { 20 } else { 24 + (i - 3) * 3 };
                let body: String = lines(999_999)
                    .lines()
                    .enumerate()
                    .map(|(n, l)| {
                        if n == line {
                            format!("t{i} was here\n")
                        } else {
                            format!("{l}\n")
                        }
                    })
                    .collect();
                std::fs::write(wt.join("shared.txt"), body).unwrap();
            }
            world.git(&wt, &["add", "-A"]);
            world.git(&wt, &["commit", "-q", "-m", &format!("t{i} {c}")]);
        }
    }
    world
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The 36 merges the naive way, in `git_dir` (a copy): the conflicting pairs.
fn naive(world: &World, git_dir: &Path) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut sides: Vec<String> = vec!["main".into()];
    sides.extend((1..=TRACKS).map(|i| format!("pk/t{i}")));
    for a in 0..sides.len() {
        for b in a + 1..sides.len() {
            let mut cmd = Command::new("git");
            hermetic_env(&mut cmd, world.dir.path());
            cmd.arg("--git-dir").arg(git_dir).args([
                "merge-tree",
                "--write-tree",
                "--name-only",
                "--no-messages",
                &sides[a],
                &sides[b],
            ]);
            let out = cmd.output().expect("git merge-tree");
            match out.status.code() {
                Some(0) => {}
                Some(1) => pairs.push((sides[a].clone(), sides[b].clone())),
                _ => panic!("git merge-tree failed: {out:?}"),
            }
        }
    }
    pairs
}

fn main() {
    let quick = std::env::var_os("PK_BENCH_QUICK").is_some();
    let files = env_or("PK_BENCH_FILES", 1500);
    let rounds = env_or("PK_BENCH_ROUNDS", if quick { 3 } else { 9 }).max(1);
    println!("forecast bench: {TRACKS} tracks, {files} files, {rounds} rounds");
    let world = make_world(files);
    let inputs = world.inputs();
    let objects = world.git(&world.repo, &["count-objects", "-v"]);

    // 1. Full forecast against the naive way, alternating.
    let (mut pk_times, mut naive_times) = (Vec::new(), Vec::new());
    let mut forecaster = Forecaster::new();
    for _ in 0..rounds {
        let copy = world.dir.path().join("copy.git");
        let _ = std::fs::remove_dir_all(&copy);
        let mut cp = Command::new("cp");
        cp.arg("-a").arg(world.repo.join(".git")).arg(&copy);
        run(&mut cp);
        let start = Instant::now();
        let pairs = naive(&world, &copy);
        naive_times.push(start.elapsed());
        assert_eq!(
            pairs,
            [("pk/t1".to_string(), "pk/t2".to_string())],
            "the naive way's conflicts"
        );

        forecaster = Forecaster::new();
        let start = Instant::now();
        let got = forecaster
            .forecast_in(&world.repo, &inputs)
            .expect("forecast");
        pk_times.push(start.elapsed());
        assert_eq!(forecaster.work().merges, 36, "every pair merged");
        let with: Vec<Vec<&str>> = got
            .iter()
            .map(|f| f.conflicts.iter().map(|c| c.with.as_str()).collect())
            .collect();
        assert_eq!(with[0], ["t2"], "{with:?}");
        assert_eq!(with[1], ["t1"], "{with:?}");
        assert!(with[2..].iter().all(Vec::is_empty), "{with:?}");
    }
    assert_eq!(
        world.git(&world.repo, &["count-objects", "-v"]),
        objects,
        "the forecast wrote objects into the repository"
    );
    let (pk_full, naive_full) = (median(pk_times), median(naive_times));
    println!(
        "full forecast (36 merges): pk {}, naive 36 x git merge-tree {}: ratio {:.2} (target <= 0.5)",
        ms(pk_full),
        ms(naive_full),
        pk_full.as_secs_f64() / naive_full.as_secs_f64()
    );

    // 2. Nothing changed.
    let mut idle = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        forecaster
            .forecast_in(&world.repo, &inputs)
            .expect("forecast");
        idle.push(start.elapsed());
        let w = forecaster.work();
        assert_eq!(
            (w.merges, w.trees, w.statuses),
            (0, 0, 0),
            "nothing changed, nothing done"
        );
    }
    println!(
        "nothing changed: {} (0 merges, 0 trees, 0 git processes)",
        ms(median(idle))
    );

    // 3. One track's new commit.
    let mut one = Vec::new();
    let mut merges = 0;
    for r in 0..rounds {
        let wt = world.worktree(4);
        std::fs::write(wt.join(format!("new{r}.txt")), "new\n").unwrap();
        world.git(&wt, &["add", "-A"]);
        world.git(&wt, &["commit", "-q", "-m", "one more"]);
        let start = Instant::now();
        forecaster
            .forecast_in(&world.repo, &inputs)
            .expect("forecast");
        one.push(start.elapsed());
        merges = merges.max(forecaster.work().merges);
    }
    assert!(merges <= 8, "one commit re-merged {merges} pairs");
    let one = median(one);
    println!(
        "one track's new commit: {} ({merges} merges; {:.2} of the full forecast)",
        ms(one),
        one.as_secs_f64() / pk_full.as_secs_f64()
    );
}
