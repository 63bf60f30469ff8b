//! What the machine does to pk, end to end: a prompt longer than the kernel takes in one
//! argument, the repository's `post-checkout` hook, a reader that closes pk's output early, and
//! `pk demo` run inside a tmux pane that no terminal shows.

use pk_tests::{Run, TestEnv, tmux_available};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A prompt of about 1 MB: numbered lines, so that a cut or a reordering shows.
fn big_prompt() -> String {
    (0..21_000)
        .map(|i| format!("line {i:05}: add rate limiting to every endpoint\n"))
        .collect()
}

/// A fake agent, installed as `name`, that records what it was given, by track: its arguments
/// (one per line) in `out/<track>.args`, its environment in `out/<track>.env`, and its standard
/// input, when that is not a terminal, in `out/<track>.stdin`. Returns the PATH for the plan.
fn recording_agent(env: &TestEnv, name: &str) -> String {
    env.fake_program(
        name,
        "#!/bin/sh\nf=\"$OUT/$PK_TRACK\"\n\
         [ -t 0 ] || cat > \"$f.stdin\"\n\
         env > \"$f.env\"\n\
         for a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$f.args.tmp\"\n\
         mv \"$f.args.tmp\" \"$f.args\"\n\
         exec sleep 600\n",
    )
}

fn recorded(env: &TestEnv, track: &str, what: &str) -> String {
    let args = env.out().join(format!("{track}.args"));
    env.wait_for(&format!("the agent of {track}"), 30, || args.exists());
    std::fs::read_to_string(env.out().join(format!("{track}.{what}"))).unwrap_or_default()
}

fn var<'a>(env_text: &'a str, name: &str) -> Option<&'a str> {
    env_text
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
}

#[test]
fn long_prompts_reach_the_agents_that_read_stdin_whole_and_argv_keeps_the_rest() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let path = recording_agent(&env, "claude");
    recording_agent(&env, "codex");
    recording_agent(&env, "gemini");
    let big = big_prompt();
    assert!(big.len() > 1_000_000);
    // The longest prompt that still goes on the command line (100 KiB), one line.
    let edge = format!("{}END", "y".repeat(100 * 1024 - 3));
    std::fs::create_dir_all(env.repo.join("tasks")).unwrap();
    std::fs::write(env.repo.join("tasks/big.md"), &big).unwrap();
    std::fs::write(env.repo.join("tasks/edge.md"), &edge).unwrap();
    let track = |name: &str, agent: &str, file: &str| {
        format!("[[track]]\nname = \"{name}\"\nagent = \"{agent}\"\nprompt_file = \"{file}\"\n\n")
    };
    env.write_plan(&format!(
        "[session]\nname = \"shop\"\n\n[ports]\nbase = 19600\n\n[env]\nOUT = {out:?}\nPATH = {path:?}\n\n{}{}{}{}{}",
        track("ch", "claude-headless", "tasks/big.md"),
        track("cx", "codex-exec", "tasks/big.md"),
        track("ge", "gemini", "tasks/big.md"),
        track("sh", "shell", "tasks/big.md"),
        track("cl", "claude", "tasks/edge.md"),
        out = env.out().to_string_lossy(),
    ));
    env.pk_ok(&["check"]);
    env.pk_ok(&["up", "--detach"]);

    let state = env.repo.join(".git/pk/shop/tracks");
    for (t, argv) in [
        ("ch", "-p\n--output-format\nstream-json\n--verbose\n"),
        ("cx", "exec\n--json\n-\n"),
        ("ge", "--skip-trust\n--output-format\nstream-json\n"),
    ] {
        assert_eq!(recorded(&env, t, "args"), argv, "the arguments of {t}");
        let stdin = recorded(&env, t, "stdin");
        assert!(
            stdin == big,
            "{t} read {} bytes, not the prompt",
            stdin.len()
        );
        let vars = recorded(&env, t, "env");
        let file = state.join(t).join("prompt.md");
        assert_eq!(var(&vars, "PK_PROMPT_FILE"), file.to_str(), "{t}");
        assert_eq!(var(&vars, "PK_PROMPT"), None, "{t}");
    }
    // The interactive agent at the limit: the prompt as its last argument and in PK_PROMPT.
    let args = recorded(&env, "cl", "args");
    assert_eq!(args.lines().last(), Some(edge.as_str()));
    let vars = recorded(&env, "cl", "env");
    assert_eq!(var(&vars, "PK_PROMPT"), Some(edge.as_str()));
    assert_eq!(var(&vars, "PK_PROMPT_FILE"), None);
    // A shell takes no prompt: its pane says where the task is, and the shell starts.
    let file = state.join("sh/prompt.md");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), big);
    env.wait_for("the shell pane's task line", 20, || {
        let panes = env.panes("#{pane_id}");
        panes.stdout.lines().any(|p| {
            let text = env.tmux(&["capture-pane", "-p", "-J", "-t", p]).stdout;
            text.contains(&format!("task: in {}", file.display()))
        })
    });
    // `pk exec` runs with the track's environment too.
    let run = env.pk_ok(&["exec", "ch", "--", "sh", "-c", "echo \"[$PK_PROMPT]\""]);
    assert_eq!(run.stdout.trim(), "[]", "{run}");
}

#[test]
fn long_prompts_are_refused_at_their_line_where_the_agent_takes_only_an_argument() {
    let env = TestEnv::new();
    let big = big_prompt();
    std::fs::write(env.repo.join("big.md"), &big).unwrap();
    let inline = format!("prompt = \"\"\"\n{big}\"\"\"");
    // (the agent lines of the track, the prompt's key and value, what the error names)
    let cases = [
        (
            "agent = \"claude\"\n",
            "prompt_file = \"big.md\"",
            "too long for `claude`",
        ),
        (
            "agent = \"codex\"\n",
            "prompt_file = \"big.md\"",
            "too long for `codex`",
        ),
        ("", "prompt_file = \"big.md\"", "too long for `claude`"),
        (
            "command = [\"my-agent\"]\n",
            "prompt_file = \"big.md\"",
            "too long for `PK_PROMPT`",
        ),
        ("agent = \"codex\"\n", inline.as_str(), "codex-exec"),
    ];
    for (agent, prompt, says) in cases {
        let text = format!(
            "[session]\nname = \"shop\"\n\n[[track]]\nname = \"ok\"\nprompt = \"short\"\n\n[[track]]\nname = \"api\"\n{agent}{prompt}\n"
        );
        env.write_plan(&text);
        let value = prompt.split_once(" = ").unwrap().1;
        let at = text.find(value).unwrap();
        let line = text[..at].matches('\n').count() + 1;
        let column = at - text[..at].rfind('\n').unwrap();
        let where_ = format!("parallel.toml:{line}:{column}\n");
        for args in [&["check"][..], &["up", "--detach"]] {
            let run = env.pk(args);
            assert_eq!(run.code, 2, "{args:?} {agent}{}\n{run}", &prompt[..20]);
            assert!(run.stderr.contains(&where_), "wanted {where_:?}:\n{run}");
            assert!(run.stderr.contains(says), "wanted {says:?}:\n{run}");
            assert!(run.stderr.contains("128 KiB"), "{run}");
            assert!(run.stdout.is_empty(), "{run}");
        }
    }
    // Nothing was made.
    assert!(!env.repo.join(".git/pk").exists());
    assert!(!env.worktrees().exists());
    assert_eq!(env.git(&["branch", "--list"]).lines().count(), 1);
}

/// A `post-checkout` hook at `path` that appends, to `out/hook.log`, its arguments, its folder
/// and whether `GIT_DIR` or `GIT_WORK_TREE` was set, then exits with `code`.
fn install_hook(env: &TestEnv, path: &Path, code: u8) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let script = format!(
        "#!/bin/sh\necho \"$* | $(pwd -P) | GIT_DIR=${{GIT_DIR-unset}} GIT_WORK_TREE=${{GIT_WORK_TREE-unset}} | $(git rev-parse --abbrev-ref HEAD)\" >> {log:?}\necho 'hook says no' >&2\nexit {code}\n",
        log = env.out().join("hook.log"),
    );
    std::fs::write(path, script).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn hook_log(env: &TestEnv) -> Vec<String> {
    std::fs::read_to_string(env.out().join("hook.log"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn two_tracks(env: &TestEnv, base: u16) {
    env.write_plan(&format!(
        "[session]\nname = \"shop\"\n\n[ports]\nbase = {base}\n\n[[track]]\nname = \"api\"\nagent = \"shell\"\n\n[[track]]\nname = \"web\"\nagent = \"shell\"\n"
    ));
}

#[test]
fn the_post_checkout_hook_runs_in_each_new_worktree_as_git_worktree_add_runs_it() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    install_hook(&env, &env.repo.join(".git/hooks/post-checkout"), 0);
    two_tracks(&env, 19650);
    let run = env.pk_ok(&["up", "--detach"]);
    assert!(!run.stderr.contains("hook says no"), "{run}");
    let head = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    let mut log = hook_log(&env);
    log.sort();
    let wt = |t: &str| std::fs::canonicalize(env.worktrees().join(t)).unwrap();
    let zero = "0".repeat(40);
    assert_eq!(
        log,
        ["api", "web"]
            .map(|t| format!(
                "{zero} {head} 1 | {} | GIT_DIR=unset GIT_WORK_TREE=unset | pk/{t}",
                wt(t).display()
            ))
            .to_vec()
    );
    // Nothing new checked out, the hook does not run again.
    env.pk_ok(&["up", "--detach"]);
    assert_eq!(hook_log(&env).len(), 2);
}

#[test]
fn a_hooks_path_hook_that_fails_is_a_warning_and_the_worktree_stays() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    // A hooks folder committed in the repository, relative as husky sets it: each worktree
    // runs its own copy.
    install_hook(&env, &env.repo.join(".githooks/post-checkout"), 1);
    env.git(&["add", ".githooks"]);
    env.git(&["commit", "-q", "-m", "hooks"]);
    env.git(&["config", "core.hooksPath", ".githooks"]);
    two_tracks(&env, 19700);
    let run = env.pk_ok(&["up", "--detach"]);
    assert_eq!(hook_log(&env).len(), 2, "{run}");
    for t in ["api", "web"] {
        let hook = env.worktrees().join(t).join(".githooks/post-checkout");
        assert!(
            run.stderr
                .contains(&format!("the post-checkout hook {} failed", hook.display())),
            "{run}"
        );
        assert!(env.worktrees().join(t).join("src/lib.rs").is_file());
    }
    assert!(run.stderr.contains("hook says no"), "{run}");
    assert!(
        run.stderr.contains("the worktree is checked out and kept"),
        "{run}"
    );
    assert_eq!(env.worktree_list().len(), 3);
    assert!(env.has_session("shop"));
}

/// Runs pk with its standard output a pipe whose reader is already gone.
fn pk_into_a_closed_pipe(env: &TestEnv, args: &[&str]) -> Run {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = env
        .pk_cmd(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    Run::from(out)
}

#[test]
fn a_reader_that_closes_the_pipe_ends_pk_quietly() {
    let env = TestEnv::new();
    env.write_plan("[session]\nname = \"shop\"\n\n[[track]]\nname = \"api\"\n");
    let mut cases: Vec<&[&str]> = vec![
        &["man"],
        &["completions", "bash"],
        &["completions", "zsh"],
        &["layout"],
        &["layout", "--zellij"],
        &["status"],
        &["status", "--json"],
        &["--help"],
    ];
    if tmux_available() {
        cases.push(&["check"]);
    }
    for args in cases {
        let run = pk_into_a_closed_pipe(&env, args);
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "pk {args:?}");
    }
    // Other failures to write still fail.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = env.pk_cmd(&["man"]).stdout(full).output().unwrap();
    let run = Run::from(out);
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stderr.contains("failed to write to standard output"),
        "{run}"
    );
}

/// Runs `pk demo` in the pane of a session `outer` on the test's server, as typed there (TMUX
/// and TMUX_PANE set, stdin a terminal), once `wait` (a shell command) returns. Returns the
/// demo's folder, exit code and stderr.
fn demo_in_a_pane(env: &TestEnv, wait: &str) -> (PathBuf, String, String) {
    let dir = env.root().join("demo");
    let r = env.out().join("demo");
    let script = format!(
        "{wait}; {pk:?} --socket {socket} demo --dir {dir:?} > {r:?}.out 2> {r:?}.err; echo $? > {r:?}.tmp; mv {r:?}.tmp {r:?}.rc; sleep 600",
        pk = pk_tests::pk_bin().to_str().unwrap(),
        socket = env.socket,
    );
    let run = env.tmux(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "outer",
        &script,
    ]);
    assert_eq!(run.code, 0, "{run}");
    let rc = PathBuf::from(format!("{}.rc", r.display()));
    env.wait_for("pk demo to end", 60, || rc.exists());
    let read = |ext: &str| std::fs::read_to_string(format!("{}.{ext}", r.display())).unwrap();
    (dir, read("rc").trim().to_string(), read("err"))
}

fn demo_down(env: &TestEnv, dir: &Path) {
    let mut down = Command::new(pk_tests::pk_bin().to_str().unwrap());
    env.apply_env(&mut down);
    let out = down
        .current_dir(dir.join("shop"))
        .args(["--socket", &env.socket, "down"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", Run::from(out));
}

#[test]
fn demo_in_a_tmux_pane_that_no_client_shows_succeeds_and_says_how_to_attach() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    // A detached session: no client is attached to it.
    let (dir, rc, err) = demo_in_a_pane(&env, "true");
    assert_eq!(rc, "0", "{err}");
    assert!(err.contains("the demo runs in pk-demo"), "{err}");
    let attach = format!(
        "attach with `tmux -L {} attach-session -t =pk-demo`",
        env.socket
    );
    assert!(err.contains(&attach), "wanted {attach:?}:\n{err}");
    assert!(!err.contains("error"), "{err}");
    // What it says works.
    let _screen = env.attach_screen("pk-demo");
    env.wait_for("a client on the demo", 20, || {
        !env.tmux(&["list-clients", "-t", "=pk-demo"])
            .stdout
            .is_empty()
    });
    demo_down(&env, &dir);
}

#[test]
fn demo_in_a_tmux_pane_that_a_client_shows_switches_that_client_to_the_demo() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let wait = format!(
        "until [ -n \"$(tmux -L {} list-clients -t =outer)\" ]; do sleep 0.1; done",
        env.socket
    );
    std::thread::scope(|s| {
        let demo = s.spawn(|| demo_in_a_pane(&env, &wait));
        env.wait_for("the outer session", 20, || {
            env.tmux(&["has-session", "-t", "=outer"]).code == 0
        });
        let _screen = env.attach_screen("outer");
        let (dir, rc, err) = demo.join().unwrap();
        assert_eq!(rc, "0", "{err}");
        assert!(!err.contains("attach with"), "{err}");
        let clients = env.tmux(&["list-clients", "-F", "#{client_session}"]);
        assert_eq!(clients.stdout.trim(), "pk-demo", "{clients}");
        demo_down(&env, &dir);
    });
}
