//! The remote tests' host itself ([`pk_tests::ssh_host::SshHost`]): a real sshd on 127.0.0.1
//! that lands in the host's own world, cannot read the local one where the tests run as root,
//! and drops, stops and restarts as the remote tests need. If these fail, the remote tests'
//! failures say nothing about pk.

use pk_tests::ssh_host::SshHost;
use pk_tests::{Run, TestEnv, var, wait_until};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn is_root() -> bool {
    pk_tests::run(Command::new("id").arg("-u")).trim() == "0"
}

/// A world with tmux and a host, or `None` (the test returns) where either is missing.
fn world() -> Option<(TestEnv, SshHost)> {
    let env = TestEnv::with_tmux()?;
    let host = SshHost::start(&env)?;
    Some((env, host))
}

/// `ssh_command` with `extra` options, run as pk runs it: `sh -c '<command> "$@"' sh args`.
fn ssh(host: &SshHost, extra: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{} {extra} \"$@\"", host.ssh_command()))
        .arg("sh")
        .args(args)
        .stdin(Stdio::null());
    cmd
}

/// The port sshd listens on, from `ssh_command`'s `-p`.
fn port(host: &SshHost) -> u16 {
    let command = host.ssh_command();
    let mut words = command.split_whitespace();
    words.find(|w| *w == "-p");
    words.next().unwrap().parse().unwrap()
}

/// A connection held open on the host (a remote `sleep`), once it is up; killed on drop if the
/// test did not see it end.
struct Held {
    ssh: Child,
    /// The remote `sleep`'s process id.
    remote: u32,
}

impl Held {
    fn open(host: &SshHost) -> Held {
        let mut child = ssh(host, "", &[&host.target(), "echo $$; exec sleep 600"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let remote = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the held connection did not come up: {line:?}"));
        Held { ssh: child, remote }
    }

    /// Waits (10 s at most) for the connection to end; returns ssh's exit code.
    fn ended(&mut self) -> i32 {
        let mut code = None;
        wait_until(
            Duration::from_secs(10),
            "the held connection to end",
            || {
                code = self.ssh.try_wait().unwrap().map(|s| s.code().unwrap_or(-1));
                code.is_some()
            },
        );
        code.unwrap()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.ssh.kill();
        let _ = self.ssh.wait();
    }
}

/// The process id of the host's tmux server on `socket`.
fn tmux_pid(host: &SshHost, socket: &str) -> u32 {
    let run = host.sh(&format!("tmux -L {socket} display-message -p '#{{pid}}'"));
    assert_eq!(run.code, 0, "{run}");
    run.stdout.trim().parse().unwrap()
}

/// Whether `pid` runs (a zombie does not: it waits for an init that reaps slowly here).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

#[test]
fn remote_harness_ssh_lands_as_the_host_user_in_the_host_world() {
    let Some((env, host)) = world() else {
        return;
    };
    let user = host.target().split('@').next().unwrap().to_string();
    let home = host.home().to_path_buf();
    if is_root() {
        assert_eq!(user, "pk-host");
    }
    assert_eq!(host.target(), format!("{user}@127.0.0.1"));
    assert!(!home.starts_with(env.root()), "the host's home is its own");

    let run = host.sh("id -un; echo; env");
    assert_eq!(run.code, 0, "{run}");
    let (who, env_text) = run.stdout.split_once("\n\n").unwrap();
    assert_eq!(who, user, "{run}");
    let vars: Vec<(String, String)> = env_text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let h = home.display();
    let path = format!(
        "{h}/.local/bin:{}",
        std::env::var("PATH").unwrap_or_default()
    );
    for (key, want) in [
        ("HOME", h.to_string()),
        ("TMUX_TMPDIR", format!("{h}/tmux")),
        ("XDG_STATE_HOME", format!("{h}/.local/state")),
        ("GIT_CONFIG_GLOBAL", format!("{h}/.gitconfig")),
        ("GIT_CONFIG_NOSYSTEM", "1".to_string()),
        ("PATH", path),
        ("NO_COLOR", "1".to_string()),
        ("LANG", "C.UTF-8".to_string()),
        ("SHELL", "/bin/sh".to_string()),
        ("USER", user.clone()),
    ] {
        assert_eq!(var(&vars, key), Some(want.as_str()), "{key}:\n{run}");
    }
    assert_eq!(var(&vars, "TMUX"), None, "{run}");
    // SetEnv sets HOME, not where a session starts: sshd starts it in the passwd home (`/` for
    // pk-host), so pk must name its folders on the host itself (`~/...`, `cd`).
    if is_root() {
        assert_eq!(host.sh("pwd").stdout, "/\n");
    }
    // The folders SetEnv names are there, and the host's own git identity is the global one.
    let run = host.sh(
        "test -d \"$TMUX_TMPDIR\" && test -d \"$XDG_STATE_HOME\" && test -d ~/.local/bin \
         && cd && pwd -P && git config --global user.name",
    );
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(
        run.stdout,
        format!("{}\npk host\n", home.canonicalize().unwrap().display()),
        "{run}"
    );
    // The host's tmux is the host's own: its socket in the host's TMUX_TMPDIR.
    let run = host.sh("tmux -L probe -f /dev/null new-session -d 'sleep 600' && tmux -L probe ls -F '#{socket_path}'");
    assert_eq!(run.code, 0, "{run}");
    assert!(
        run.stdout.trim().starts_with(&format!("{h}/tmux/tmux-")),
        "{run}"
    );
    // Nothing the harness writes is in the local repository.
    assert_eq!(env.git(&["status", "--porcelain", "--ignored"]), "");
}

#[test]
fn remote_harness_root_host_cannot_read_the_local_world() {
    let Some((env, host)) = world() else {
        return;
    };
    if !is_root() {
        eprintln!("skipped: the host is this user when the tests do not run as root");
        return;
    }
    let repo = env.repo.display();
    let key = env.root().join("ssh/id_ed25519");
    let run = host.sh(&format!("ls {repo}"));
    assert_ne!(run.code, 0, "the host read the local repository: {run}");
    assert!(run.stderr.contains("Permission denied"), "{run}");
    let run = host.sh(&format!("cat {}", key.display()));
    assert_ne!(run.code, 0, "the host read the local key: {run}");
    // Its own home is its alone.
    let run = host.sh("stat -c '%U %a' ~");
    assert_eq!(run.stdout.trim(), "pk-host 700", "{run}");
}

#[test]
fn remote_harness_clone_and_pk_belong_to_the_host_user() {
    let Some((env, host)) = world() else {
        return;
    };
    let clone = host.clone_repo(&env, "shop");
    assert_eq!(clone, host.home().join("src/shop"));
    host.install_pk();
    let user = host.target().split('@').next().unwrap().to_string();

    let run = host.sh(&format!(
        "cd ~/src/shop && git status --porcelain && git log --format=%s && \
         find ~/src ~/.local/bin ! -user {user} && command -v pk && pk --version >/dev/null"
    ));
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(
        run.stdout,
        format!("first\n{}/.local/bin/pk\n", host.home().display()),
        "{run}"
    );
    assert!(!run.stderr.contains("safe.directory"), "{run}");
    // The host commits in its clone under its own identity; the local repository is untouched.
    let run = host.sh(
        "cd ~/src/shop && echo x > x && git add x && git commit -qm there && git log -1 --format=%an",
    );
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.stdout.trim(), "pk host", "{run}");
    assert_eq!(env.git(&["log", "--format=%s"]).trim(), "first");
    // No object is shared with the local repository (no hard links).
    let shared = Run::from(
        Command::new("find")
            .arg(clone.join(".git/objects"))
            .args(["-type", "f", "-links", "+1"])
            .output()
            .unwrap(),
    );
    assert_eq!(shared.stdout, "", "{shared}");
}

#[test]
fn remote_harness_dropped_connections_end_but_a_tmux_server_started_over_ssh_lives_on() {
    let Some((_env, host)) = world() else {
        return;
    };
    let run = host.sh("tmux -L kept -f /dev/null new-session -d -s kept 'sleep 600'");
    assert_eq!(run.code, 0, "{run}");
    let server = tmux_pid(&host, "kept");
    let mut held = Held::open(&host);
    assert!(host.connections() >= 1);

    host.drop_connections();
    assert_eq!(held.ended(), 255, "ssh says the connection was lost");
    wait_until(Duration::from_secs(10), "no connection left", || {
        host.connections() == 0
    });
    // A new connection finds the tmux server and its session as they were.
    let run = host.sh("tmux -L kept ls -F '#{session_name}'");
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.stdout.trim(), "kept", "{run}");
    assert_eq!(tmux_pid(&host, "kept"), server);
}

#[test]
fn remote_harness_stop_makes_ssh_fail_with_255_and_restart_brings_it_back() {
    let Some((_env, mut host)) = world() else {
        return;
    };
    let before = host.ssh_command();
    let mut held = Held::open(&host);

    host.stop();
    assert_eq!(held.ended(), 255);
    let run = host.sh("echo here");
    assert_eq!(run.code, 255, "{run}");
    assert!(run.stderr.contains("Connection refused"), "{run}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port(&host))).is_err());

    host.restart();
    assert_eq!(host.ssh_command(), before, "same port, key and known hosts");
    let run = host.sh("echo here");
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(run.stdout, "here\n");
}

#[test]
fn remote_harness_a_control_master_is_shared_by_two_commands() {
    let Some((env, host)) = world() else {
        return;
    };
    let target = host.target();
    let master = format!(
        "-o ControlMaster=auto -o ControlPath={}/cm-%C -o ControlPersist=60",
        env.root().display()
    );
    let check = |what: &str| -> u32 {
        let run = Run::from(
            ssh(&host, &master, &["-O", "check", &target])
                .output()
                .unwrap(),
        );
        assert_eq!(run.code, 0, "{what}: {run}");
        let pid = run
            .stderr
            .split("pid=")
            .nth(1)
            .and_then(|s| s.split(')').next())
            .unwrap_or_else(|| panic!("{what}: no master pid: {run}"));
        pid.parse().unwrap()
    };

    // `output()` returns: the master that ControlPersist leaves behind holds none of its pipes.
    let one = Run::from(
        ssh(&host, &master, &[&target, "echo one"])
            .output()
            .unwrap(),
    );
    assert_eq!((one.code, one.stdout.as_str()), (0, "one\n"), "{one}");
    let pid = check("after the first command");
    let two = Run::from(
        ssh(&host, &master, &[&target, "echo two"])
            .output()
            .unwrap(),
    );
    assert_eq!((two.code, two.stdout.as_str()), (0, "two\n"), "{two}");
    assert_eq!(check("after the second command"), pid, "one master");
    assert_eq!(
        host.connections(),
        1,
        "both commands went over one connection"
    );

    // A dropped connection ends the master too; the next command makes a new one.
    host.drop_connections();
    wait_until(Duration::from_secs(10), "the master to end", || !alive(pid));
    let three = Run::from(
        ssh(&host, &master, &[&target, "echo three"])
            .output()
            .unwrap(),
    );
    assert_eq!(three.code, 0, "{three}");
    let exit = Run::from(
        ssh(&host, &master, &["-O", "exit", &target])
            .output()
            .unwrap(),
    );
    assert_eq!(exit.code, 0, "{exit}");
}

#[test]
fn remote_harness_drop_kills_the_host_tmux_servers_and_sshd_and_removes_the_home() {
    let Some((_env, host)) = world() else {
        return;
    };
    let mut servers = Vec::new();
    for socket in ["one", "two"] {
        let run = host.sh(&format!(
            "tmux -L {socket} -f /dev/null new-session -d 'sleep 600'"
        ));
        assert_eq!(run.code, 0, "{run}");
        servers.push(tmux_pid(&host, socket));
    }
    // A dropped connection leaves its remote `sleep` behind, running: it neither reads nor
    // writes, so nothing tells it.
    let mut held = Held::open(&host);
    host.drop_connections();
    assert_eq!(held.ended(), 255);
    assert!(alive(held.remote), "the remote sleep ran on");
    let home: PathBuf = host.home().to_path_buf();
    let port = port(&host);

    drop(host);
    wait_until(
        Duration::from_secs(10),
        "the left-behind sleep to end",
        || !alive(held.remote),
    );
    wait_until(
        Duration::from_secs(10),
        "the host's tmux servers to end",
        || !servers.iter().any(|p| alive(*p)),
    );
    assert!(!home.exists(), "{} is left", home.display());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}
