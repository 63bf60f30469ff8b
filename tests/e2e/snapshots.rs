//! What users read, as snapshots (insta): `pk --help`, `pk down --help`, a plan diagnostic and
//! the `pk status` table. A change shows as a diff to review (`cargo insta review`, or rename
//! the `.snap.new`); CI never accepts one: insta fails the test on a mismatch or a missing
//! snapshot, and under `CI` it writes nothing (`scripts/test.sh` also sets `INSTA_UPDATE=no`).

use pk_tests::{Run, TestEnv};

/// Filters for what changes from run to run: the world's temporary folder, the private tmux
/// socket's name, times and ports.
fn settings(env: &TestEnv) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    let root = std::fs::canonicalize(env.root()).unwrap();
    settings.add_filter(&regex_escape(&root.to_string_lossy()), "[TMP]");
    settings.add_filter(&regex_escape(&env.root().to_string_lossy()), "[TMP]");
    settings.add_filter(&regex_escape(&env.socket), "[SOCKET]");
    settings.add_filter(r"\b\d{2}:\d{2}:\d{2}\b", "[TIME]");
    settings.add_filter(r"\b\d+(ms|s|m|h|d)( ago)?\b", "[AGE]");
    settings.add_filter(r"\b(1[0-9]{4}|[2-6][0-9]{4})\b", "[PORT]");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == ' ' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// One run as a snapshot shows it: the exit code, then stdout and stderr.
fn shown(run: &Run) -> String {
    run.to_string()
}

#[test]
fn help_snapshot() {
    let env = TestEnv::new();
    let run = env.pk_ok(&["--help"]);
    settings(&env).bind(|| insta::assert_snapshot!("pk_help", shown(&run)));
}

#[test]
fn down_help_snapshot() {
    let env = TestEnv::new();
    let run = env.pk_ok(&["down", "--help"]);
    settings(&env).bind(|| insta::assert_snapshot!("pk_down_help", shown(&run)));
}

#[test]
fn plan_diagnostic_snapshot() {
    let env = TestEnv::new();
    // A cycle in depends_on: the diagnostic names the file, line and column, and a hint.
    env.write_plan(
        "[session]\nname = \"shop\"\n\n[[track]]\nname = \"a\"\ndepends_on = [\"b\"]\n\n[[track]]\nname = \"b\"\ndepends_on = [\"a\"]\n",
    );
    let run = env.pk_exits(2, &["up", "--detach"]);
    settings(&env).bind(|| insta::assert_snapshot!("plan_diagnostic_cycle", shown(&run)));
}

#[test]
fn status_table_snapshot() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    env.up_detached(
        "[session]\nname = \"shop\"\nbase = \"main\"\n\n[ports]\nbase = 17300\n\n[[track]]\nname = \"api\"\ncommand = [\"sleep\", \"600\"]\n\n[[track]]\nname = \"web\"\ncommand = [\"sh\", \"-c\", \"exit 5\"]\n",
    );
    env.wait_for("web to exit", 10, || {
        env.status_json()["tracks"][1]["state"] == "error"
    });
    let run = env.pk_ok(&["status"]);
    settings(&env).bind(|| insta::assert_snapshot!("pk_status_table", shown(&run)));
    env.pk_ok(&["down"]);
}
