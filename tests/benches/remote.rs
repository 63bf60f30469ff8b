//! Remote tracks (issue 14): how long a status change on a host takes to reach the local bar,
//! over a real ssh connection on loopback, beside the same change on a local track.
//!
//! Run with `cargo bench -p pk-tests --bench remote`. Env: `PK_BENCH_WRITES` (changes per
//! track, default 40; `PK_BENCH_QUICK=1`: 10).
//!
//! Method. A hermetic world (private tmux socket, throwaway HOME) and a real sshd on
//! 127.0.0.1 ([`pk_tests::ssh_host::SshHost`], another user where this runs as root) with pk
//! and a clone on the host. The plan has two tracks running `sleep`: `here` on this machine,
//! `there` on the host; `pk up --detach`. Then, in turns, a hook event that changes a track's
//! state (`UserPromptSubmit`: working; `Stop`: done) is appended to that track's event file,
//! locally with a file write, on the host through a shell that one ssh connection keeps open
//! (so the time is not a new connection's). The time runs from just before the write to the
//! return of the `tmux show-options` poll of the local session's `status-right` that shows the
//! new state (polled every 10 ms). Changes are 100-200 ms apart. Median and 95th percentile of
//! each, and remote over local. Target: p95 of the remote change at most 2 s.

use pk_tests::bench::{env_or, median, percentile};
use pk_tests::ssh_host::SshHost;
use pk_tests::{Run, TestEnv};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let quick = std::env::var_os("PK_BENCH_QUICK").is_some();
    let writes = env_or("PK_BENCH_WRITES", if quick { 10 } else { 40 });
    let env = TestEnv::with_tmux().expect("tmux is installed");
    let host = SshHost::start(&env).expect("sshd is installed");
    host.clone_repo(&env, "shop");
    host.install_pk();
    env.write_plan(&format!(
        "[session]\nname = \"shop\"\n\n[ports]\nbase = 4900\n\n[hosts.box]\nssh = {:?}\nrepo = \"~/src/shop\"\n\n\
         [[track]]\nname = \"here\"\ncommand = [\"sleep\", \"600\"]\n\n\
         [[track]]\nname = \"there\"\nhost = \"box\"\ncommand = [\"sleep\", \"600\"]\n",
        host.target()
    ));
    let mut up = env.pk_cmd(&["up", "--detach"]);
    up.env("PK_SSH_COMMAND", host.ssh_command());
    let run = Run::from(up.output().unwrap());
    assert_eq!(run.code, 0, "pk up: {run}");

    let local_events = env.repo.join(".git/pk/shop/tracks/here/events.ndjson");
    let remote_events: PathBuf = host
        .home()
        .join("src/shop/.git/pk/shop/tracks/there/events.ndjson");
    // One shell on the host, over one connection, reading commands from its stdin.
    let mut shell = Command::new("sh")
        .arg("-c")
        .arg(format!("{} \"$@\"", host.ssh_command()))
        .arg("ssh")
        .arg(host.target())
        .arg("sh")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("ssh starts");
    let mut remote_in = shell.stdin.take().unwrap();
    wait_for(&env, "there", "starting", Duration::from_secs(30));

    let mut local = Vec::new();
    let mut remote = Vec::new();
    for i in 0..writes {
        let (event, state) = if i % 2 == 0 {
            ("UserPromptSubmit", "working")
        } else {
            ("Stop", "done")
        };
        let line = format!("{{\"hook_event_name\":\"{event}\",\"n\":{i}}}");
        let started = Instant::now();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&local_events)
            .unwrap();
        writeln!(f, "{line}").unwrap();
        drop(f);
        wait_for(&env, "here", state, Duration::from_secs(10));
        local.push(started.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(150));

        let started = Instant::now();
        writeln!(
            remote_in,
            "printf '%s\\n' '{line}' >> '{}'",
            remote_events.display()
        )
        .unwrap();
        remote_in.flush().unwrap();
        wait_for(&env, "there", state, Duration::from_secs(10));
        remote.push(started.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(150));
    }
    drop(remote_in);
    let _ = shell.wait();
    let mut down = env.pk_cmd(&["down"]);
    down.env("PK_SSH_COMMAND", host.ssh_command());
    let run = Run::from(down.output().unwrap());
    assert_eq!(run.code, 0, "pk down: {run}");

    let (lm, lp) = (median(&local), percentile(&local, 95.0));
    let (rm, rp) = (median(&remote), percentile(&remote, 95.0));
    println!("status change to the local bar, {writes} changes per track (ms):");
    println!("  local track   median {lm:>7.1}  p95 {lp:>7.1}");
    println!("  remote track  median {rm:>7.1}  p95 {rp:>7.1}  (over ssh on loopback)");
    println!(
        "  remote / local: median {:.2}x, p95 {:.2}x",
        rm / lm,
        rp / lp
    );
    println!(
        "  target: remote p95 <= 2000 ms: {}",
        if rp <= 2000.0 { "met" } else { "NOT met" }
    );
}

/// Polls the local bar every 10 ms until `track` shows `state`; returns how long it took.
fn wait_for(env: &TestEnv, track: &str, state: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let bar = env.bar_text();
        if bar.contains(&format!(" {track} {state}")) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "{track} did not turn {state} within {limit:?}: {bar}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
