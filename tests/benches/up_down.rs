//! `pk up --detach` + `pk down` for 8 tracks, against two ways of doing the same by hand.
//!
//! Run with `cargo bench -p pk-tests --bench up_down` (env: `PK_BENCH_FILES=1500,20000`,
//! `PK_BENCH_ROUNDS=N`; by default 1,500 files × 5 rounds and 20,000 files × 3 rounds).
//! `PK_BENCH_QUICK=1` is the check CI runs (`scripts/test.sh`): 1,500 files, 1 round, 5 status
//! runs, the same checks and the same printed ratios, in well under a minute; one round on a
//! shared machine is noisy, so its ratios are a smoke test, not a measurement.
//!
//! Method. For each repository size a fresh temporary world is made, isolated like the
//! end-to-end tests (the shared world of `tests/src/`): a private tmux socket (`pk --socket`, `tmux -L`),
//! `TMUX`/`TMUX_PANE` unset (the environment is cleared), `TMUX_TMPDIR`, `HOME` and
//! `XDG_STATE_HOME` inside the temporary folder, a temporary `GIT_CONFIG_GLOBAL` and
//! `GIT_CONFIG_NOSYSTEM=1`; raw tmux calls also pass `-f /dev/null`. The repository has one
//! commit on `main` (packed, as in a clone) of N text files of 1–8 KB in nested folders
//! (`src/mod_*/pkg_*/unit_*/`). The world lives in the temporary folder (`TMPDIR`). On ext4
//! without a journal (some VMs) inode allocation slows down for minutes after mass deletions
//! (`recently_deleted()` in the kernel), which swamps what is measured: there, run with
//! `TMPDIR=/dev/shm`.
//! Every pane, agent or editor, runs `sleep 600`. Three ways are timed:
//!
//! * **pk**: `pk up --detach`, then `pk down --delete-branches` (so branches go, as below).
//! * **(a) script way**: `git worktree add -b BRANCH PATH main` per track, one after another;
//!   one tmux process per pane (`new-session`, `split-window` per further agent, the editor
//!   split). Down: `tmux kill-session`, `git worktree remove` per track, one `git branch -D`.
//! * **(b) lower bound**: `git worktree add --no-checkout -b …` per track one after another
//!   (concurrent `worktree add` races on `.git/worktrees`), the 8 checkouts
//!   (`git -C PATH reset --hard -q`) on 8 threads at once, and the whole layout in ONE tmux
//!   process (commands joined with `;`). Down: the same as (a).
//!
//! The ways are interleaved round by round, and the order rotates each round (pk a b, a b pk,
//! b pk a, …) so that machine noise and the disk's background writeback after a teardown hit
//! all three alike. Up and down are timed separately; medians of up, down and up+down (per
//! round) are reported, with the CPU time of up + down ([`children_cpu_ms`]). In the first round each way is checked once: 8 worktrees registered and
//! checked out, 9+ panes, and nothing left after down. After the rounds, pk's session is brought
//! up once more to time `pk status --json`, right after `pk up` and then once settled (median
//! of 20 runs; see [`time_status`]). Timings are printed, never asserted:
//! the exit code is non-zero only when a command fails (its stderr is printed).
//!
//! pk's layout is two windows of 4 agents plus an editor each (10 panes, with pane options);
//! (a) and (b) make one window of 8 agents and an editor (9 panes): a little less work for them.

use pk_tests::bench::median;
use pk_tests::{hermetic_env, pk_bin, run, write_git_config};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const TRACKS: usize = 8;
const PANE_CMD: [&str; 2] = ["sleep", "600"];

/// One repository size's temporary world.
struct World {
    dir: tempfile::TempDir,
    repo: PathBuf,
    socket: String,
    /// A file every worktree must have once checked out.
    sample: PathBuf,
}

impl World {
    fn new(files: usize) -> World {
        let dir = tempfile::Builder::new()
            .prefix("pk-bench")
            .tempdir()
            .expect("temp dir");
        for sub in ["home", "state", "tmux"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        write_git_config(dir.path());
        let repo = dir.path().join("repo");
        let sample = write_files(&repo, files);
        let world = World {
            repo,
            socket: format!("pk-bench-{}-{files}", std::process::id()),
            sample,
            dir,
        };
        world.git(&world.repo, &["init", "-q", "-b", "main"]);
        world.git(&world.repo, &["add", "-A"]);
        world.git(&world.repo, &["commit", "-q", "-m", "initial"]);
        // Packed, as in a clone: checkouts read one pack, not N loose objects.
        world.git(&world.repo, &["repack", "-a", "-d", "-q"]);
        std::fs::write(world.repo.join("parallel.toml"), pk_plan()).expect("plan");
        world
    }

    /// A command with the shared hermetic environment, in the repository.
    fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        hermetic_env(&mut cmd, self.dir.path());
        cmd.current_dir(&self.repo);
        cmd
    }

    /// `git -C REPO`.
    fn git_cmd(&self) -> Command {
        self.git_in(&self.repo)
    }

    fn git_in(&self, dir: &Path) -> Command {
        let mut cmd = self.cmd("git");
        cmd.arg("-C").arg(dir);
        cmd
    }

    fn git(&self, dir: &Path, args: &[&str]) -> String {
        run(self.git_in(dir).args(args))
    }

    /// `tmux -f /dev/null -L SOCKET args`.
    fn tmux_cmd(&self) -> Command {
        let mut cmd = self.cmd("tmux");
        cmd.args(["-f", "/dev/null", "-L", &self.socket]);
        cmd
    }

    fn pk(&self, args: &[&str]) -> String {
        run(self
            .cmd(pk_bin())
            .args(["--socket", &self.socket])
            .args(args))
    }

    /// `<tmp>/<session>/t1` … (pk's plan sets `worktrees = "../pk"`).
    fn worktrees_of(&self, way: Way) -> Vec<PathBuf> {
        let folder = self.dir.path().join(way.session());
        (1..=TRACKS).map(|i| folder.join(format!("t{i}"))).collect()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.tmux_cmd().arg("kill-server").output();
    }
}

/// Writes `files` text files of 1–8 KB under nested folders, plus a README; returns the
/// relative path of the last one.
fn write_files(repo: &Path, files: usize) -> PathBuf {
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64 ^ files as u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    std::fs::create_dir_all(repo).expect("mkdir repo");
    std::fs::write(repo.join("README.md"), "# bench\n").expect("readme");
    let mut last = PathBuf::new();
    for i in 0..files {
        let leaf = i / 16;
        let rel = PathBuf::from(format!(
            "src/mod_{}/pkg_{}/unit_{}/file_{:02}.rs",
            leaf / 64,
            (leaf / 8) % 8,
            leaf % 8,
            i % 16
        ));
        let size = 1024 + (next() % (7 * 1024 + 1)) as usize;
        let mut text = String::with_capacity(size + 100);
        let mut line = 0;
        while text.len() < size {
            line += 1;
            text.push_str(&format!(
                "// {} line {line}: fn item_{i}_{line}() -> u64 {{ {} }}\n",
                rel.display(),
                next() % 100_000
            ));
        }
        let path = repo.join(&rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write file");
        last = rel;
    }
    last
}

fn pk_plan() -> String {
    let mut plan = String::from(
        "[session]\nname = \"pk\"\nbase = \"main\"\nworktrees = \"../pk\"\neditor = \"sleep 600 #\"\n\n\
         [ports]\nbase = 27100\nper_track = 10\n",
    );
    for i in 1..=TRACKS {
        plan.push_str(&format!(
            "\n[[track]]\nname = \"t{i}\"\ncommand = [\"sleep\", \"600\"]\n"
        ));
    }
    plan
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Pk,
    Script,
    Lower,
}

const WAYS: [Way; 3] = [Way::Pk, Way::Script, Way::Lower];

impl Way {
    fn label(self) -> &'static str {
        match self {
            Way::Pk => "pk up + down",
            Way::Script => "(a) script way",
            Way::Lower => "(b) lower bound",
        }
    }

    fn session(self) -> &'static str {
        match self {
            Way::Pk => "pk",
            Way::Script => "script",
            Way::Lower => "lower",
        }
    }

    fn branch(self, i: usize) -> String {
        format!("{}/t{}", self.session(), i + 1)
    }

    fn up(self, w: &World) {
        match self {
            Way::Pk => {
                w.pk(&["up", "--detach", "--yes"]);
            }
            Way::Script => {
                let paths = w.worktrees_of(self);
                for (i, path) in paths.iter().enumerate() {
                    let branch = self.branch(i);
                    let args = ["worktree", "add", "-q", "-b", &branch];
                    run(w.git_cmd().args(args).arg(path).arg("main"));
                }
                for cmd in layout(self.session(), &paths, w.dir.path()) {
                    run(w.tmux_cmd().args(cmd));
                }
            }
            Way::Lower => {
                let paths = w.worktrees_of(self);
                for (i, path) in paths.iter().enumerate() {
                    let branch = self.branch(i);
                    let args = ["worktree", "add", "--no-checkout", "-q", "-b", &branch];
                    run(w.git_cmd().args(args).arg(path).arg("main"));
                }
                std::thread::scope(|s| {
                    for path in &paths {
                        s.spawn(move || w.git(path, &["reset", "--hard", "-q"]));
                    }
                });
                let cmds = layout(self.session(), &paths, w.dir.path());
                run(w.tmux_cmd().args(cmds.join(&";".to_string())));
            }
        }
    }

    fn down(self, w: &World) {
        if self == Way::Pk {
            w.pk(&["down", "--delete-branches"]);
            return;
        }
        run(w
            .tmux_cmd()
            .args(["kill-session", "-t", &format!("={}", self.session())]));
        for path in w.worktrees_of(self) {
            run(w.git_cmd().args(["worktree", "remove"]).arg(path));
        }
        let branches: Vec<String> = (0..TRACKS).map(|i| self.branch(i)).collect();
        run(w.git_cmd().args(["branch", "-D", "-q"]).args(&branches));
    }

    /// Once per way: the work really was done, and undone.
    fn check_up(self, w: &World) {
        let list = w.git(&w.repo, &["worktree", "list", "--porcelain"]);
        let registered = list.lines().filter(|l| l.starts_with("worktree ")).count();
        assert_eq!(
            registered,
            TRACKS + 1,
            "{}: worktrees\n{list}",
            self.label()
        );
        for path in w.worktrees_of(self) {
            assert!(
                path.join(&w.sample).is_file(),
                "{}: {} is not checked out",
                self.label(),
                path.display()
            );
        }
        let panes = run(w.tmux_cmd().args([
            "list-panes",
            "-s",
            "-t",
            &format!("={}", self.session()),
            "-F",
            "#{pane_id}",
        ]));
        assert!(
            panes.lines().count() > TRACKS,
            "{}: only {} panes",
            self.label(),
            panes.lines().count()
        );
    }

    fn check_down(self, w: &World) {
        let list = w.git(&w.repo, &["worktree", "list", "--porcelain"]);
        let registered = list.lines().filter(|l| l.starts_with("worktree ")).count();
        assert_eq!(registered, 1, "{}: worktrees left\n{list}", self.label());
        let pattern = format!("{}/*", self.session());
        let left = w.git(&w.repo, &["branch", "--list", &pattern]);
        assert!(
            left.trim().is_empty(),
            "{}: branches left: {left}",
            self.label()
        );
    }
}

/// The tmux commands of (a) and (b): 8 agents stacked in one window (equal heights, as pk
/// splits), then the editor on the right, full height.
fn layout(session: &str, paths: &[PathBuf], editor_dir: &Path) -> Vec<Vec<String>> {
    let pane = |head: String, dir: &Path| -> Vec<String> {
        let mut cmd: Vec<String> = head.split(' ').map(String::from).collect();
        cmd.extend(["-c".into(), dir.to_string_lossy().into_owned()]);
        cmd.extend(PANE_CMD.map(String::from));
        cmd
    };
    let mut cmds = vec![pane(
        format!("new-session -d -s {session} -x 200 -y 50"),
        &paths[0],
    )];
    for (k, path) in paths.iter().enumerate().skip(1) {
        let rest = paths.len() - k + 1;
        let percent = (100 * (rest - 1)).div_ceil(rest);
        let head = format!("split-window -v -l {percent}% -t ={session}:");
        cmds.push(pane(head, path));
    }
    let head = format!("split-window -h -f -l 40% -t ={session}:");
    cmds.push(pane(head, editor_dir));
    cmds
}

/// Milliseconds per round of one way: up, down, and their sum.
#[derive(Default)]
struct Times {
    up: Vec<f64>,
    down: Vec<f64>,
    total: Vec<f64>,
    /// CPU time of up + down (see [`children_cpu_ms`]).
    cpu: Vec<f64>,
}

/// User + system CPU time, in milliseconds, of every child process this bench has waited for
/// and of their waited-for descendants (`cutime` + `cstime` of `/proc/self/stat`, 10 ms ticks):
/// pk or git and the tmux clients, not the tmux server, which all three ways use alike. On a
/// loaded machine wall time measures the load as much as the work; CPU time measures the work.
/// NaN where `/proc` is missing.
fn children_cpu_ms() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the `(comm)` one, which may hold spaces: state is field 3, cutime 16.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (tick(13), tick(14)) {
        // USER_HZ is 100 on every Linux architecture pk runs on.
        (Some(user), Some(system)) => (user + system) * 10.0,
        _ => f64::NAN,
    }
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// `pk status --json` timings, in milliseconds.
struct StatusTimes {
    /// The first run, right after `pk up`.
    first: f64,
    /// Median of the runs once the worktrees' indexes have settled.
    settled: f64,
    /// Mean CPU time of those runs (pk and its git processes).
    cpu: f64,
}

/// Times `pk status --json` while pk's session is up, and checks that it reports 8 live tracks
/// with no changed files.
///
/// Two figures. Right after a checkout, git's index cannot yet vouch for files written in the
/// same second as itself ("racily clean", git's timestamps here are whole seconds), so every
/// `git status` in that second re-reads them; the first run after the second has passed
/// writes an index that vouches for all. `first` is the run right after `pk up`; `settled` is
/// the median of `runs` runs after that, which is what `pk status` costs from then on.
fn time_status(w: &World, runs: usize) -> StatusTimes {
    let start = Instant::now();
    let json = w.pk(&["status", "--json"]);
    let first = ms(start);
    let value: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("bad status JSON ({e}):\n{json}"));
    let tracks = value["tracks"].as_array().expect("tracks array");
    let alive = tracks.iter().filter(|t| t["alive"] == true).count();
    let changed: u64 = tracks
        .iter()
        .map(|t| t["changed_files"].as_u64().expect("changed_files"))
        .sum();
    assert_eq!(
        (tracks.len(), alive, changed),
        (TRACKS, TRACKS, 0),
        "pk status: tracks, alive, changed files"
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    w.pk(&["status", "--json"]);
    let cpu_before = children_cpu_ms();
    let times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            w.pk(&["status", "--json"]);
            ms(start)
        })
        .collect();
    StatusTimes {
        first,
        settled: median(&times),
        cpu: (children_cpu_ms() - cpu_before) / runs as f64,
    }
}

struct Report {
    files: usize,
    rounds: usize,
    times: [Times; 3],
    status: StatusTimes,
}

fn bench(files: usize, rounds: usize, status_runs: usize) -> Report {
    let start = Instant::now();
    let w = World::new(files);
    eprintln!(
        "{files} files: repository made in {:.0} ms in {}; {rounds} rounds",
        ms(start),
        w.dir.path().display()
    );
    let mut times: [Times; 3] = Default::default();
    for round in 0..rounds {
        for k in 0..WAYS.len() {
            let way_index = (round + k) % WAYS.len();
            let way = WAYS[way_index];
            let cpu_before = children_cpu_ms();
            let start = Instant::now();
            way.up(&w);
            let up = ms(start);
            let mut cpu = children_cpu_ms() - cpu_before;
            if round == 0 {
                way.check_up(&w);
            }
            let cpu_before = children_cpu_ms();
            let start = Instant::now();
            way.down(&w);
            let down = ms(start);
            cpu += children_cpu_ms() - cpu_before;
            if round == 0 {
                way.check_down(&w);
            }
            let t = &mut times[way_index];
            t.up.push(up);
            t.down.push(down);
            t.total.push(up + down);
            t.cpu.push(cpu);
            eprintln!(
                "  round {} {:<16} up {up:7.0} ms  down {down:7.0} ms  cpu {cpu:6.0} ms",
                round + 1,
                way.label()
            );
        }
    }
    // `pk status` in a session of its own, after the timed rounds: its first run settles the
    // worktrees' indexes, which would make the `pk down` that follows cheaper than in a round.
    Way::Pk.up(&w);
    let status = time_status(&w, status_runs);
    Way::Pk.down(&w);
    Report {
        files,
        rounds,
        times,
        status,
    }
}

fn env_list(name: &str) -> Option<Vec<usize>> {
    let text = std::env::var(name).ok()?;
    let values = text
        .split(',')
        .map(|v| v.trim().replace('_', "").parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("{name}={text}: {e}"));
    Some(values)
}

fn main() {
    // Built (or found built) before anything is timed: the first call runs cargo.
    pk_bin();
    let quick = std::env::var_os("PK_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0");
    let sizes = env_list("PK_BENCH_FILES").unwrap_or_else(|| {
        if quick {
            vec![1500]
        } else {
            vec![1500, 20_000]
        }
    });
    let rounds = env_list("PK_BENCH_ROUNDS").map(|r| r[0].max(1));
    let status_runs = if quick { 5 } else { 20 };
    let reports: Vec<Report> = sizes
        .iter()
        .map(|&files| {
            let default_rounds = match (quick, files > 5000) {
                (true, _) => 1,
                (false, true) => 3,
                (false, false) => 5,
            };
            bench(files, rounds.unwrap_or(default_rounds), status_runs)
        })
        .collect();

    println!(
        "\n{:<6} {:<18} {:>8} {:>10} {:>11} {:>9}  {:>11}",
        "files", "way", "up (ms)", "down (ms)", "total (ms)", "cpu (ms)", "total / (b)"
    );
    for r in &reports {
        let lower = median(&r.times[2].total);
        for (way, t) in WAYS.iter().zip(&r.times) {
            let total = median(&t.total);
            println!(
                "{:<6} {:<18} {:>8.0} {:>10.0} {:>11.0} {:>9.0}  {:>10.2}x",
                r.files,
                way.label(),
                median(&t.up),
                median(&t.down),
                total,
                median(&t.cpu),
                total / lower
            );
        }
    }
    println!();
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    for r in &reports {
        let [pk, a, b] = [0, 1, 2].map(|i| median(&r.times[i].total));
        let (vs_b, vs_a) = (pk / b, pk / a);
        let cpu_vs_b = median(&r.times[0].cpu) / median(&r.times[2].cpu);
        println!(
            "{} files, {} rounds: pk/(b) = {vs_b:.2} (target <= 1.15, {}), pk/(a) = {vs_a:.2} (target < 0.7, {}), \
             CPU time pk/(b) = {cpu_vs_b:.2}; pk status ({TRACKS} tracks) = {:.0} ms once settled (target < 50 ms, {}; \
             {:.0} ms of CPU), {:.0} ms right after pk up",
            r.files,
            r.rounds,
            met(vs_b <= 1.15),
            met(vs_a < 0.7),
            r.status.settled,
            met(r.status.settled < 50.0),
            r.status.cpu,
            r.status.first,
        );
    }
}
