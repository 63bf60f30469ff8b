//! Processes a track started end with the session (issue 5): `pk down` leaves no dev server of
//! `setup` and no child of an agent running, however they were started, and nothing else.

use crate::faults::{World, leftover_processes};
use pk_tests::{TestEnv, tmux_available};
use std::os::unix::process::CommandExt;
use std::process::Stdio;

#[test]
fn down_ends_every_process_the_tracks_started_and_nothing_else() {
    if !tmux_available() {
        return;
    }
    let env = World(TestEnv::new());
    // One program per way of starting something in the background; each runs a `sleep` as
    // its child, so the command line of the program names the test's folder.
    // The ones the tracks start, and `mine`, the user's.
    let started = [
        "setup-bg",
        "setup-nohup",
        "setup-setsid",
        "agent-bg",
        "agent-nohup",
        "agent-sub",
    ];
    let mut path = String::new();
    for name in started.into_iter().chain(["mine"]) {
        path = env.fake_program(name, "#!/bin/sh\nsleep 3600\n");
    }
    env.up_detached(&format!(
        "[ports]\nbase = 18800\n[env]\nPATH = \"{path}\"\n\
         [[track]]\nname = \"a\"\n\
         setup = [\"setup-bg &\", \"nohup setup-nohup >/dev/null 2>&1 &\", \"setsid setup-setsid >/dev/null 2>&1 &\"]\n\
         command = [\"sh\", \"-c\", \"agent-bg & nohup agent-nohup >/dev/null 2>&1 & (agent-sub &); exec sleep 600\"]\n\
         [[track]]\nname = \"b\"\nagent = \"shell\"\n"
    ));
    env.wait_for("the tracks' processes", 20, || {
        let procs = leftover_processes(&env);
        started
            .iter()
            .all(|p| procs.iter().any(|l| l.contains(&format!("/bin/{p}"))))
    });
    // The user's own process with the track's environment (`pk exec`), not started by a pane.
    let mut mine = env
        .pk_cmd(&["exec", "a", "--", "mine"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    env.wait_for("the user's process", 20, || {
        leftover_processes(&env)
            .iter()
            .any(|l| l.contains("/bin/mine"))
    });

    let run = env.pk_ok(&["down"]);
    assert!(
        run.stderr.contains("process(es) the tracks left running"),
        "{run}"
    );
    env.wait_for("the processes the tracks started to end", 10, || {
        leftover_processes(&env)
            .iter()
            .all(|l| l.contains("/bin/mine"))
    });
    let left = leftover_processes(&env);
    assert!(
        left.iter().all(|l| l.contains("/bin/mine")),
        "processes the tracks started are left: {left:#?}"
    );
    assert!(
        mine.try_wait().unwrap().is_none(),
        "pk down ended a process it did not start"
    );
    let group = format!("-{}", mine.id());
    let killed = std::process::Command::new("kill")
        .args(["-KILL", "--", &group])
        .status()
        .unwrap();
    assert!(killed.success());
    mine.wait().unwrap();
}
