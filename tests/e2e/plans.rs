//! Malformed plans: each exits 2 naming the file, line and column, and creates nothing.

use pk_tests::{TestEnv, tmux_available};
use std::path::PathBuf;

fn fixtures() -> Vec<PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/plans/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_malformed_plan_exits_2_at_its_line_and_column_and_creates_nothing() {
    if !tmux_available() {
        return;
    }
    let files = fixtures();
    assert!(
        files.len() >= 15,
        "at least 15 malformed plans, found {}",
        files.len()
    );
    let env = TestEnv::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no `# expect:` line", file.display()));
        let (pos, message) = expect.split_once(' ').unwrap_or((expect, ""));
        env.write_plan(&text);
        for args in [&["up", "--detach"][..], &["check"][..]] {
            let run = env.pk(args);
            let name = file.file_name().unwrap().to_string_lossy();
            assert_eq!(run.code, 2, "{name}: pk {args:?}\n{run}");
            assert!(
                run.stderr.contains(&format!("parallel.toml:{pos}")),
                "{name}: expected parallel.toml:{pos}\n{run}"
            );
            assert!(
                run.stderr.contains(message),
                "{name}: expected `{message}`\n{run}"
            );
            assert!(
                run.stderr.contains('^'),
                "{name}: a caret under the spot\n{run}"
            );
        }
        assert!(
            !env.repo.join(".git/pk").exists(),
            "{}: no state",
            file.display()
        );
        assert!(
            !env.worktrees().exists(),
            "{}: no worktrees",
            file.display()
        );
        assert_eq!(env.worktree_list().len(), 1);
        assert_ne!(
            env.tmux(&["has-session"]).code,
            0,
            "{}: no tmux session",
            file.display()
        );
    }
}
