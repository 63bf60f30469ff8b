//! Ports and paths that must hold whatever the timing or the file system (issue 10, cases 7-11):
//! two `pk up` at the same instant never share a port block; a port held on IPv6 only is not
//! handed out; a damaged port registry is refused, never read as empty; a `worktrees` folder or
//! a `copy` entry that reaches through a symbolic link into the checkout or out of the
//! repository is refused at its line and column; a `copy` never leaves a link in a worktree.

use pk_tests::{Run, TestEnv, position, tmux_available};
use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `pk args` in `env`, with the port registry in `registry` (shared by several worlds, as on
/// one machine).
fn pk_with(env: &TestEnv, registry: &Path, args: &[&str]) -> Command {
    let mut cmd = env.pk_cmd(args);
    cmd.env("XDG_STATE_HOME", registry);
    cmd
}

fn run_with(env: &TestEnv, registry: &Path, args: &[&str]) -> Run {
    Run::from(pk_with(env, registry, args).output().unwrap())
}

/// A plan of `tracks` shell tracks with ports from `base`, `per_track` each.
fn ports_plan(base: u16, per_track: u16, tracks: &[&str]) -> String {
    let mut plan =
        format!("[session]\nname = \"shop\"\n\n[ports]\nbase = {base}\nper_track = {per_track}\n");
    for t in tracks {
        plan.push_str(&format!("\n[[track]]\nname = \"{t}\"\nagent = \"shell\"\n"));
    }
    plan
}

/// The port blocks of the session's state: track -> (first port, count).
fn state_blocks(env: &TestEnv) -> HashMap<String, (u64, u64)> {
    let text = std::fs::read_to_string(env.repo.join(".git/pk/shop/state.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&text).unwrap();
    state["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                (
                    t["port_block"].as_u64().unwrap(),
                    t["port_count"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

/// The registry's blocks: (state folder, first port, count).
fn registry_blocks(registry: &Path) -> Vec<(PathBuf, u64, u64)> {
    let text = std::fs::read_to_string(registry.join("pk/ports.json")).unwrap();
    let reg: serde_json::Value = serde_json::from_str(&text).unwrap();
    reg["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                PathBuf::from(b["state_dir"].as_str().unwrap()),
                b["start"].as_u64().unwrap(),
                b["len"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn overlap((a, n): (u64, u64), (b, m): (u64, u64)) -> bool {
    a < b + m && b < a + n
}

fn assert_disjoint(one: &HashMap<String, (u64, u64)>, two: &HashMap<String, (u64, u64)>) {
    for (ta, a) in one {
        for (tb, b) in two {
            assert!(
                !overlap(*a, *b),
                "`{ta}` {a:?} and `{tb}` {b:?} share ports"
            );
        }
    }
}

#[test]
fn two_pk_up_started_together_never_share_a_port_block() {
    if !tmux_available() {
        return;
    }
    let registry = tempfile::tempdir().unwrap();
    for round in 0..6 {
        let (one, two) = (TestEnv::new(), TestEnv::new());
        let plan = ports_plan(21400, 10, &["api", "web"]);
        one.write_plan(&plan);
        two.write_plan(&plan);
        let start = |env: &TestEnv| {
            pk_with(env, registry.path(), &["up", "--detach"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (start(&one), start(&two));
        for child in [a, b] {
            let up = Run::from(child.wait_with_output().unwrap());
            assert_eq!(up.code, 0, "round {round}: {up}");
        }
        let (blocks_one, blocks_two) = (state_blocks(&one), state_blocks(&two));
        assert_eq!(blocks_one.len() + blocks_two.len(), 4);
        assert_disjoint(&blocks_one, &blocks_two);
        assert_eq!(registry_blocks(registry.path()).len(), 4, "round {round}");
        for env in [&one, &two] {
            let down = run_with(env, registry.path(), &["down"]);
            assert_eq!(down.code, 0, "{down}");
        }
        assert!(registry_blocks(registry.path()).is_empty());
    }
}

/// The moment between taking the ports and writing the state, made to last: the first `pk up`
/// dies right there. Its blocks stay its own until `pk down`.
#[test]
fn a_pk_up_stopped_once_it_has_its_ports_keeps_them_from_the_next_one() {
    if !tmux_available() {
        return;
    }
    let registry = tempfile::tempdir().unwrap();
    let (one, two) = (TestEnv::new(), TestEnv::new());
    let plan = ports_plan(21600, 10, &["api", "web"]);
    one.write_plan(&plan);
    two.write_plan(&plan);
    let killed = Run::from(
        pk_with(&one, registry.path(), &["up", "--detach"])
            .env("PK_FAULT_AT", "up:ports-allocated")
            .output()
            .unwrap(),
    );
    assert!(
        killed
            .stderr
            .contains("fault injected at up:ports-allocated"),
        "{killed}"
    );
    let held: HashMap<String, (u64, u64)> = registry_blocks(registry.path())
        .into_iter()
        .enumerate()
        .map(|(i, (_, start, len))| (format!("first#{i}"), (start, len)))
        .collect();
    assert_eq!(held.len(), 2);
    let up = run_with(&two, registry.path(), &["up", "--detach"]);
    assert_eq!(up.code, 0, "{up}");
    assert_disjoint(&held, &state_blocks(&two));
    // The stopped session gives its blocks back with `pk down`, and only its own.
    let down = run_with(&one, registry.path(), &["down"]);
    assert_eq!(down.code, 0, "{down}");
    assert_eq!(registry_blocks(registry.path()).len(), 2);
    let down = run_with(&two, registry.path(), &["down"]);
    assert_eq!(down.code, 0, "{down}");
    assert!(registry_blocks(registry.path()).is_empty());
}

/// The first port pk shows for track `api` in `pk check`.
fn checked_port(run: &Run) -> u16 {
    let line = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("api ") && l.contains(" ports "))
        .unwrap_or_else(|| panic!("no port line:\n{run}"));
    let range = line.rsplit(" ports ").next().unwrap();
    range.split('-').next().unwrap().trim().parse().unwrap()
}

#[test]
fn a_port_held_on_ipv6_loopback_only_is_not_handed_out() {
    // Many dev servers listen on `localhost` as `[::1]` alone: IPv4 is free there.
    let Ok(held) = TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    };
    let port = held.local_addr().unwrap().port();
    if port > 65000 || TcpListener::bind(("127.0.0.1", port)).is_err() {
        eprintln!("skipped: port {port} does not suit the test");
        return;
    }
    let env = TestEnv::new();
    env.write_plan(&ports_plan(port, 1, &["api"]));
    let check = env.pk_ok(&["check"]);
    assert_ne!(checked_port(&check), port, "{check}");
    if tmux_available() {
        env.pk_ok(&["up", "--detach"]);
        let (start, _) = state_blocks(&env)["api"];
        assert_ne!(start, u64::from(port));
        env.pk_ok(&["down"]);
    }
    drop(held);
}

#[test]
fn a_damaged_port_registry_is_refused_never_read_as_empty() {
    if !tmux_available() {
        return;
    }
    let registry = tempfile::tempdir().unwrap();
    let (one, two) = (TestEnv::new(), TestEnv::new());
    let plan = ports_plan(21800, 10, &["api"]);
    one.write_plan(&plan);
    two.write_plan(&plan);
    let up = run_with(&one, registry.path(), &["up", "--detach"]);
    assert_eq!(up.code, 0, "{up}");
    let held = state_blocks(&one);
    // Cut short, as by a full disk or a hand edit.
    let file = registry.path().join("pk/ports.json");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, &text[..text.len() / 2]).unwrap();
    for args in [&["up", "--detach"][..], &["check"]] {
        let run = run_with(&two, registry.path(), args);
        assert_eq!(run.code, 1, "{args:?}\n{run}");
        assert!(
            run.stderr.contains(&file.display().to_string()) && run.stderr.contains("damaged"),
            "{run}"
        );
        assert!(run.stderr.contains("move it aside"), "{run}");
    }
    // Nothing was made for the refused session, and the file is as it was.
    assert!(!two.repo.join(".git/pk/shop").exists());
    assert_eq!(two.worktree_list().len(), 1);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text[..text.len() / 2]
    );
    // Doing what the hint says: the running session records its block again, the new one gets
    // another.
    std::fs::rename(&file, registry.path().join("pk/ports.json.damaged")).unwrap();
    let up = run_with(&one, registry.path(), &["up", "--detach"]);
    assert_eq!(up.code, 0, "{up}");
    assert_eq!(state_blocks(&one), held);
    let up = run_with(&two, registry.path(), &["up", "--detach"]);
    assert_eq!(up.code, 0, "{up}");
    assert_disjoint(&held, &state_blocks(&two));
    for env in [&one, &two] {
        let down = run_with(env, registry.path(), &["down"]);
        assert_eq!(down.code, 0, "{down}");
    }
}

#[test]
fn pk_down_works_with_a_damaged_port_registry() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(&ports_plan(21900, 10, &["api"]));
    let file = env.root().join("state/pk/ports.json");
    std::fs::write(&file, "{\"blocks\": [").unwrap();
    env.pk_ok(&["down"]);
    assert_eq!(env.worktree_list().len(), 1);
    // The file is left for the next `pk up` to report.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{\"blocks\": [");
}

/// Runs `pk check` and `pk up` on `text`: both refuse with exit 2 at `needle`'s line and
/// column, saying `says`.
fn assert_refused_at(env: &TestEnv, text: &str, needle: &str, says: &str) {
    env.write_plan(text);
    for args in [&["check"][..], &["up", "--detach"]] {
        let run = env.pk(args);
        assert_eq!(run.code, 2, "{args:?}\n{text}\n{run}");
        let at = format!("parallel.toml:{}\n", position(text, needle));
        assert!(run.stderr.contains(&at), "wanted {at:?} for\n{text}\n{run}");
        assert!(run.stderr.contains(says), "wanted {says:?}\n{run}");
    }
}

#[test]
fn worktrees_through_a_link_into_the_checkout_are_refused_at_their_line_and_column() {
    let env = TestEnv::new();
    // Beside the repository, links to the main checkout and into its `.git`.
    std::os::unix::fs::symlink(&env.repo, env.root().join("link")).unwrap();
    std::os::unix::fs::symlink(env.repo.join(".git"), env.root().join("gitlink")).unwrap();
    std::os::unix::fs::symlink(env.repo.join("src"), env.root().join("srclink")).unwrap();
    for value in [
        "\"../link/sub\"",
        "\"../link\"",
        "\"../gitlink/wt\"",
        "\"../srclink/deeper/still\"",
    ] {
        let text = format!(
            "[session]\nname = \"shop\"\nworktrees = {value}\n\n[[track]]\nname = \"api\"\nagent = \"shell\"\n"
        );
        assert_refused_at(
            &env,
            &text,
            value,
            "is inside the main checkout (through a symbolic link, at",
        );
    }
    env.assert_nothing_made();
    assert!(!env.repo.join("sub").exists() && !env.repo.join(".git/wt").exists());
    assert!(!env.repo.join("src/deeper").exists());
}

#[test]
fn copy_through_a_link_out_of_the_repository_is_refused_at_its_line_and_column() {
    let env = TestEnv::new();
    let outside = env.outside_dir();
    std::fs::write(outside.join("secret"), "TOKEN=hunter2\n").unwrap();
    // In the main checkout: a folder link and a file link leading out of it.
    std::os::unix::fs::symlink(&outside, env.repo.join("conf")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), env.repo.join("leak.env")).unwrap();
    for value in ["\"conf/secret\"", "\"leak.env\"", "\"conf\""] {
        let text = format!(
            "[session]\nname = \"shop\"\n\n[[track]]\nname = \"api\"\nagent = \"shell\"\ncopy = [\"README.md\", {value}]\n"
        );
        assert_refused_at(
            &env,
            &text,
            value,
            "leads out of the repository through a symbolic link",
        );
    }
    env.assert_nothing_made();
}

/// Every symbolic link under `dir`.
fn links_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.file_type().is_symlink() {
            out.push(path);
        } else if meta.is_dir() {
            out.extend(links_under(&path));
        }
    }
    out
}

#[test]
fn copy_of_a_link_copies_what_it_points_to_and_never_makes_a_link() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let outside = env.outside_dir();
    std::fs::write(outside.join("secret"), "TOKEN=hunter2\n").unwrap();
    // The main checkout's untracked files: `.env` links to a file of the repository; `conf`
    // holds a file, a link inside the repository, one out of it, one to nothing and one to a
    // folder.
    std::fs::create_dir_all(env.repo.join("config")).unwrap();
    std::fs::write(env.repo.join("config/dev.env"), "PORT=1\n").unwrap();
    std::os::unix::fs::symlink("config/dev.env", env.repo.join(".env")).unwrap();
    let conf = env.repo.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(conf.join("a.env"), "A=1\n").unwrap();
    std::os::unix::fs::symlink("../config/dev.env", conf.join("inner.env")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), conf.join("out.env")).unwrap();
    std::os::unix::fs::symlink("nowhere", conf.join("dangling")).unwrap();
    std::os::unix::fs::symlink("../config", conf.join("sub")).unwrap();
    // An entry that is a link to a folder of the repository: that folder's files.
    std::os::unix::fs::symlink("config", env.repo.join("settings")).unwrap();
    let up = env.up_detached(
        "[session]\nname = \"shop\"\n\n[ports]\nbase = 22000\n\n[[track]]\nname = \"api\"\nagent = \"shell\"\ncopy = [\".env\", \"conf\", \"settings\"]\n",
    );
    let wt = env.worktrees().join("api");
    assert_eq!(links_under(&wt), Vec::<PathBuf>::new(), "{up}");
    assert_eq!(
        std::fs::read_to_string(wt.join(".env")).unwrap(),
        "PORT=1\n"
    );
    assert_eq!(
        std::fs::read_to_string(wt.join("conf/inner.env")).unwrap(),
        "PORT=1\n"
    );
    assert_eq!(
        std::fs::read_to_string(wt.join("conf/a.env")).unwrap(),
        "A=1\n"
    );
    assert_eq!(
        std::fs::read_to_string(wt.join("settings/dev.env")).unwrap(),
        "PORT=1\n"
    );
    for (name, why) in [
        ("out.env", "leads out of the repository"),
        ("dangling", "to nothing"),
        ("sub", "to a folder"),
    ] {
        assert!(!wt.join("conf").join(name).exists(), "{name}");
        let warning = format!("`conf/{name}` in the main checkout is a symbolic link");
        assert!(
            up.stderr.contains(&warning) && up.stderr.contains(why),
            "{name}: {up}"
        );
    }
    // pk's copies are its own: `pk down` removes the worktree without `--force`.
    env.pk_ok(&["down"]);
    assert!(!wt.exists());
    assert_eq!(env.worktree_list().len(), 1);
}
