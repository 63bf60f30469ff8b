//! Tracks on other hosts (issue 14, design §11), end to end: a real OpenSSH server on 127.0.0.1
//! ([`pk_tests::ssh_host::SshHost`]; the host side is another user where the tests run as root),
//! the real `ssh` client, a real tmux on both sides, and pk itself on the host.

use crate::live::state_of;
use pk_tests::ssh_host::SshHost;
use pk_tests::{Run, TestEnv};
use std::time::{Duration, Instant};

/// `s` quoted for the host's shell, for the tests' own commands there.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// pk in the world with `PK_SSH_COMMAND` set to reach `host`.
fn pk(env: &TestEnv, host: &SshHost, args: &[&str]) -> Run {
    let mut cmd = env.pk_cmd(args);
    cmd.env("PK_SSH_COMMAND", host.ssh_command());
    Run::from(cmd.output().unwrap())
}

#[track_caller]
fn pk_ok(env: &TestEnv, host: &SshHost, args: &[&str]) -> Run {
    let run = pk(env, host, args);
    assert_eq!(run.code, 0, "pk {args:?}:\n{run}");
    run
}

/// Where the host's agent of `track` writes its transcript (in the host's home, so that the
/// worktree stays clean).
fn host_transcript(host: &SshHost, track: &str) -> String {
    host.home()
        .join(format!("{track}.ndjson"))
        .to_string_lossy()
        .into_owned()
}

/// A plan of two tracks: `api` here (the recording agent) and `web` on host `box`, a replayed
/// Claude that ends waiting for a permission (Enter in its pane answers it), with the clone
/// at `repo` on the host.
fn plan(env: &TestEnv, host: &SshHost, repo: &str, base: u16) -> String {
    format!(
        "[session]\nname = \"shop\"\n\n[ports]\nbase = {base}\n\n[env]\nOUT = {out:?}\n\n\
         [hosts.box]\nssh = {target:?}\nrepo = {repo:?}\n\n\
         [[track]]\nname = \"api\"\n{agent}\n\n\
         [[track]]\nname = \"web\"\nhost = \"box\"\n\
         command = [\"pk\", \"replay\", \"claude-stream-waiting-permission\", \"--delay\", \"0.2\"]\n\
         transcript = {{ path = {tr:?}, format = \"claude-stream\" }}\n",
        out = env.out().to_string_lossy(),
        target = host.target(),
        agent = env.recording_agent(),
        tr = host_transcript(host, "web"),
    )
}

/// A world with a host that has pk and a clone of the repository at `~/src/shop`, and the
/// plan of [`plan`] written; `None` where tmux or sshd is missing (outside CI).
fn world(base: u16) -> Option<(TestEnv, SshHost)> {
    let env = TestEnv::with_tmux()?;
    let host = SshHost::start(&env)?;
    host.clone_repo(&env, "shop");
    host.install_pk();
    env.write_plan(&plan(&env, &host, "~/src/shop", base));
    Some((env, host))
}

/// Waits up to 30 s for `f`; on a timeout, fails with what both sides show.
#[track_caller]
fn wait_remote(env: &TestEnv, host: &SshHost, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let watcher = env.tmux(&["capture-pane", "-p", "-t", "=shop:pk-watch"]);
    let panes = env.tmux(&[
        "list-panes",
        "-s",
        "-t",
        "=shop",
        "-F",
        "#{@pk_track} #{pane_id}",
    ]);
    let shown: Vec<String> = panes
        .stdout
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(t, p)| {
            format!(
                "--- {t}:\n{}",
                env.tmux(&["capture-pane", "-p", "-t", p]).stdout
            )
        })
        .collect();
    let watcher = format!("{watcher}\n{}", shown.join("\n"));
    let there = host.sh(&format!(
        "cd ~/src/shop && pk --socket {} status; tmux -L {} capture-pane -p -t =shop:pk-watch",
        env.socket, env.socket
    ));
    panic!(
        "timed out waiting for {what}\nbar: {}\nlocal status: {}\nlocal watcher: {watcher}\nhost: {there}",
        env.bar_text(),
        env.pk(&["status"]),
    );
}

/// `pk status --json`'s entry of `track`.
fn status_of(env: &TestEnv, host: &SshHost, track: &str) -> serde_json::Value {
    let run = pk_ok(env, host, &["status", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    json["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == track)
        .cloned()
        .unwrap_or_else(|| panic!("no {track} in {json}"))
}

/// The process id of the host's agent pane of `track` (its tmux on the host).
fn host_agent_pid(env: &TestEnv, host: &SshHost, track: &str) -> String {
    let run = host.sh(&format!(
        "tmux -L {} list-panes -s -t =shop -F '#{{@pk_track}} #{{pane_pid}}'",
        env.socket
    ));
    assert_eq!(run.code, 0, "{run}");
    run.stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{track} ")))
        .unwrap_or_else(|| panic!("no pane of {track} on the host: {run}"))
        .to_string()
}

#[test]
fn a_track_on_a_host_comes_up_over_ssh_beside_a_local_one_and_its_status_reaches_the_bar() {
    let Some((env, host)) = world(4610) else {
        return;
    };
    let up = pk_ok(&env, &host, &["up", "--detach"]);
    assert!(up.stderr.contains("host box"), "{up}");

    // The host made web's worktree and branch in its own clone; nothing of web is here.
    let branch = host.sh("git -C ~/src/shop.pk/web rev-parse --abbrev-ref HEAD");
    assert_eq!(branch.stdout.trim(), "pk/web", "{branch}");
    assert!(!env.worktrees().join("web").exists());
    assert!(env.worktrees().join("api").is_dir());
    assert!(
        env.git(&["branch", "--list", "pk/web"]).trim().is_empty(),
        "web's branch is the host's"
    );

    // One layout: both agents have a pane in the local session, web's showing the host's agent.
    let web = env.pane_of("web");
    env.pane_of("api");
    env.wait_for("web's pane to show the host's agent", 20, || {
        env.tmux(&["capture-pane", "-p", "-t", &web])
            .stdout
            .contains("pk track web")
    });

    // The host's transcript drives the local bar: the replay ends waiting for a permission.
    let started = Instant::now();
    wait_remote(&env, &host, "the local bar to show web waiting", || {
        state_of(&env.bar_text(), "web") == Some("waiting")
    });
    eprintln!("web waiting on the local bar after {:?}", started.elapsed());
    let web_status = status_of(&env, &host, "web");
    assert_eq!(web_status["host"], "box");
    assert_eq!(web_status["state"], "waiting");
    assert!(
        web_status["worktree"]
            .as_str()
            .unwrap()
            .starts_with(host.home().to_str().unwrap()),
        "{web_status}"
    );
    let table = pk_ok(&env, &host, &["status"]);
    assert!(table.stdout.contains("HOST"), "{table}");
    assert_eq!(
        status_of(&env, &host, "api")["host"],
        serde_json::Value::Null
    );

    // Enter in the local pane reaches the host's agent: it answers and finishes.
    assert_eq!(env.tmux(&["send-keys", "-t", &web, "Enter"]).code, 0);
    wait_remote(&env, &host, "the local bar to show web done", || {
        state_of(&env.bar_text(), "web") == Some("done")
    });

    // pk exec and pk diff run there.
    let exec = pk(
        &env,
        &host,
        &[
            "exec",
            "web",
            "--",
            "sh",
            "-c",
            "echo \"$PK_TRACK in $PWD\"; exit 5",
        ],
    );
    assert_eq!(exec.code, 5, "{exec}");
    assert!(
        exec.stdout.contains("web in ") && exec.stdout.contains("shop.pk/web"),
        "{exec}"
    );

    pk_ok(&env, &host, &["down"]);
    let gone = host.sh("test -e ~/src/shop.pk/web; echo $?");
    assert_eq!(
        gone.stdout.trim(),
        "1",
        "the host's worktree is removed: {gone}"
    );
    assert!(!env.has_session("shop"));
}

#[test]
fn a_dropped_connection_leaves_the_agent_running_and_the_pane_reconnects() {
    let Some((env, host)) = world(4620) else {
        return;
    };
    pk_ok(&env, &host, &["up", "--detach"]);
    let web = env.pane_of("web");
    env.wait_for("web waiting", 30, || {
        state_of(&env.bar_text(), "web") == Some("waiting")
    });
    let pid = host_agent_pid(&env, &host, "web");

    host.drop_connections();
    // The pane says the connection is down, then comes back by itself, saying so.
    env.wait_for("the pane to say it reconnected", 30, || {
        let text = env.tmux(&["capture-pane", "-p", "-t", &web]).stdout;
        text.contains("reconnected to host box")
    });
    assert_eq!(host_agent_pid(&env, &host, "web"), pid, "the agent ran on");
    env.wait_for("web's status to come back", 30, || {
        status_of(&env, &host, "web")["last_error"].is_null()
    });
    // Still the same agent: Enter answers its permission.
    assert_eq!(env.tmux(&["send-keys", "-t", &web, "Enter"]).code, 0);
    env.wait_for("web done", 30, || {
        state_of(&env.bar_text(), "web") == Some("done")
    });
}

#[test]
fn a_host_whose_sshd_stopped_is_marked_and_the_local_tracks_go_on() {
    let Some((env, mut host)) = world(4630) else {
        return;
    };
    pk_ok(&env, &host, &["up", "--detach"]);
    env.wait_for("web waiting", 30, || {
        state_of(&env.bar_text(), "web") == Some("waiting")
    });

    host.stop();
    env.wait_for("pk status to mark web's host", 30, || {
        status_of(&env, &host, "web")["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("host box cannot be reached"))
    });
    let table = pk_ok(&env, &host, &["status"]);
    assert!(table.stdout.contains("cannot be reached"), "{table}");
    assert_eq!(status_of(&env, &host, "web")["unreachable"], true);
    // The bar marks it beside its name, its last state kept.
    wait_remote(
        &env,
        &host,
        "the bar to mark web, its last state kept",
        || env.bar_text().contains("web ↯ waiting"),
    );
    // The local track is untouched.
    assert_eq!(status_of(&env, &host, "api")["alive"], true);
    let exec = pk_ok(&env, &host, &["exec", "api", "--", "true"]);
    assert_eq!(exec.code, 0);
    // `pk up` says which host and what to do, and leaves the rest as it was.
    let up = pk(&env, &host, &["up", "--detach"]);
    assert_eq!(up.code, 1, "{up}");
    assert!(up.stderr.contains("cannot reach host `box`"), "{up}");
    assert!(env.has_session("shop"));
    // `pk down` refuses while it cannot look at the host's worktrees.
    let down = pk(&env, &host, &["down"]);
    assert_ne!(down.code, 0, "{down}");
    assert!(env.has_session("shop"), "nothing torn down: {down}");

    host.restart();
    env.wait_for("web's status to come back", 30, || {
        status_of(&env, &host, "web")["last_error"].is_null()
    });
    pk_ok(&env, &host, &["down"]);
}

#[test]
fn pk_down_refuses_a_dirty_remote_worktree_and_force_saves_it_there() {
    let Some((env, host)) = world(4640) else {
        return;
    };
    pk_ok(&env, &host, &["up", "--detach"]);
    let dirty = host.sh("printf 'remote work\\n' > ~/src/shop.pk/web/notes.txt");
    assert_eq!(dirty.code, 0, "{dirty}");

    let refused = pk(&env, &host, &["down"]);
    assert_eq!(refused.code, 3, "{refused}");
    assert!(refused.stderr.contains("notes.txt"), "{refused}");
    assert!(refused.stderr.contains("box"), "{refused}");
    // Nothing was torn down, here or there.
    assert!(env.has_session("shop"));
    assert!(env.worktrees().join("api").is_dir());
    let there = host.sh("cat ~/src/shop.pk/web/notes.txt");
    assert_eq!(there.stdout, "remote work\n");

    let forced = pk_ok(&env, &host, &["down", "--force"]);
    assert!(forced.stderr.contains("refs/pk/saved/web/"), "{forced}");
    let saved = host.sh(
        "cd ~/src/shop && git show $(git for-each-ref --format='%(refname)' refs/pk/saved/web/):notes.txt",
    );
    assert_eq!(saved.stdout, "remote work\n", "{saved}");
    assert!(!env.has_session("shop"));
    let session = host.sh(&format!("tmux -L {} has-session -t =shop", env.socket));
    assert_ne!(session.code, 0, "the host's session is gone");
}

#[test]
fn hostile_values_reach_the_host_intact_and_inert() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(host) = SshHost::start(&env) else {
        return;
    };
    // A clone whose path holds quotes, spaces and a command substitution.
    let odd = "it's a $(touch PWNED) `id` shop";
    let clone = host.clone_repo(&env, odd);
    host.install_pk();
    let value = "a'b\"c $(touch PWNED) `touch PWNED` ; rm -rf / & | \\ $HOME";
    let prompt = "Fix it's \"quoting\" $(touch PWNED) `touch PWNED`\nsecond line; exit 1";
    env.write_plan(&format!(
        "[session]\nname = \"shop\"\n\n[ports]\nbase = 4650\n\n[env]\nODD = {value:?}\n\n\
         [hosts.box]\nssh = {target:?}\nrepo = {repo:?}\n\n\
         [[track]]\nname = \"web\"\nhost = \"box\"\nprompt = {prompt:?}\n\
         command = [\"sh\", \"-c\", \"printf '%s' \\\"$ODD\\\" > ../odd.out; printf '%s' \\\"$PK_PROMPT\\\" > ../prompt.out; pwd -P > ../pwd.out; exec sleep 600\"]\n",
        target = host.target(),
        repo = format!("~/src/{odd}"),
    ));
    pk_ok(&env, &host, &["up", "--detach"]);
    let worktrees = clone.parent().unwrap().join(format!("{odd}.pk"));
    let read = |name: &str| {
        let path = worktrees.join(name);
        let run = host.sh(&format!("cat {}", sh_quote(&path.to_string_lossy())));
        (run.code == 0).then_some(run.stdout)
    };
    env.wait_for("the host's agent to record what it got", 30, || {
        read("odd.out").is_some()
    });
    assert_eq!(read("odd.out").unwrap(), value);
    assert_eq!(read("prompt.out").unwrap(), prompt);
    assert!(
        read("pwd.out")
            .unwrap()
            .trim_end()
            .ends_with(&format!("{odd}.pk/web"))
    );
    let pwned = host.sh("find ~ / -maxdepth 4 -name PWNED 2>/dev/null | head -1");
    assert_eq!(
        pwned.stdout.trim(),
        "",
        "a value ran as a command on the host"
    );
    assert!(!env.repo.join("PWNED").exists() && !env.root().join("PWNED").exists());
    pk_ok(&env, &host, &["down"]);
}

#[test]
fn pk_check_says_what_a_host_lacks_and_pk_host_install_puts_pk_there() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(host) = SshHost::start(&env) else {
        return;
    };
    env.write_plan(&plan(&env, &host, "~/src/shop", 4660));
    // No clone and no pk there yet.
    let check = pk(&env, &host, &["check"]);
    assert_eq!(check.code, 1, "{check}");
    assert!(
        check.stdout.contains("host box: pk is not installed"),
        "{check}"
    );

    let install = pk_ok(&env, &host, &["host", "install", "box"]);
    assert!(install.stdout.contains("installed"), "{install}");
    let check = pk(&env, &host, &["check"]);
    assert_eq!(check.code, 1, "{check}");
    assert!(
        check.stdout.contains("no clone of the repository"),
        "{check}"
    );

    host.clone_repo(&env, "shop");
    // A base commit the host's clone lacks is named.
    env.commit_file_in(&env.repo, "new.txt", "x\n", "only here");
    let check = pk(&env, &host, &["check"]);
    assert!(check.stdout.contains("is not in the clone"), "{check}");

    // An unknown host name is a usage error naming the hosts.
    let unknown = pk(&env, &host, &["host", "install", "nope"]);
    assert_eq!(unknown.code, 2, "{unknown}");
    assert!(unknown.stderr.contains("hosts: box"), "{unknown}");
}

#[test]
fn pk_up_of_four_tracks_on_one_host_makes_one_connection() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let Some(host) = SshHost::start(&env) else {
        return;
    };
    host.clone_repo(&env, "shop");
    host.install_pk();
    let mut plan = format!(
        "[session]\nname = \"shop\"\n\n[ports]\nbase = 4670\n\n[hosts.box]\nssh = {:?}\nrepo = \"~/src/shop\"\n",
        host.target()
    );
    for t in ["a", "b", "c", "d"] {
        plan.push_str(&format!(
            "\n[[track]]\nname = \"{t}\"\nhost = \"box\"\ncommand = [\"sleep\", \"600\"]\n"
        ));
    }
    env.write_plan(&plan);
    // Every ssh pk runs, counted by a wrapper; connections by the server's log.
    let log = env.root().join("ssh-calls");
    let wrapper = format!(
        "sh -c 'echo \"$*\" >> {log}; exec \"$0\" \"$@\"' {}",
        host.ssh_command(),
        log = log.display()
    );
    let mut cmd = env.pk_cmd(&["up", "--detach"]);
    cmd.env("PK_SSH_COMMAND", &wrapper);
    let up = Run::from(cmd.output().unwrap());
    assert_eq!(up.code, 0, "{up}");
    // What pk up asked the host, apart from the panes' attaches and the watcher's stream,
    // which it starts and which run on after it.
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    let asked: Vec<&str> = calls
        .lines()
        .filter(|l| !l.ends_with(" stream") && !l.contains(" attach "))
        .collect();
    assert_eq!(asked.len(), 1, "pk up asks the host once: {calls}");
    assert!(asked[0].ends_with(" up"), "{calls}");
    // The panes and the watcher's stream share that connection.
    for t in ["a", "b", "c", "d"] {
        let pane = env.pane_of(t);
        env.wait_for("the pane to show the host's agent", 20, || {
            env.tmux(&["capture-pane", "-p", "-t", &pane])
                .stdout
                .contains(&format!("pk track {t}"))
        });
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(host.connections(), 1, "one ssh connection to the host");
    pk_ok(&env, &host, &["down"]);
}
