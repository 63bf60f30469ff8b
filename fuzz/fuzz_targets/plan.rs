//! `parallel.toml`, parsed and resolved against a stand-in repository (no git, no files: the
//! repository's folder does not exist). Either the plan is refused, with diagnostics that
//! cannot drive the terminal, or everything pk would make from it stays where it belongs:
//! valid track and session names, valid branch names, each worktree a folder of its own in
//! the worktrees folder (outside the checkout), no NUL anywhere, tmux commands whose folders
//! are never formats and whose arguments never end a command, a zellij layout that reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pk_cli::layout::AgentPane;
use pk_cli::plan::{Plan, Repo, resolve_source};
use std::path::{Component, Path, PathBuf};

const ROOT: &str = "/nonexistent-pk-fuzz/shop";

struct FakeRepo(PathBuf);

impl Repo for FakeRepo {
    fn root(&self) -> &Path {
        &self.0
    }
    fn commit_exists(&self, name: &str) -> bool {
        matches!(name, "main" | "dev" | "v1.0")
    }
    fn current_branch(&self) -> Option<String> {
        Some("main".to_string())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let repo = FakeRepo(PathBuf::from(ROOT));
    let env = |key: &str| (key == "EDITOR").then(|| "vi".to_string());
    let path = Path::new(ROOT).join("parallel.toml");
    match resolve_source(source, &path, &repo, &env) {
        Ok(plan) => check_plan(&plan),
        Err(e) => {
            assert!(!e.diagnostics.is_empty());
            let text = e.render();
            if let Some(c) = text
                .chars()
                .find(|&c| pk_fuzz::is_hostile(c) && c != '\n' && c != '\t')
            {
                panic!("a diagnostic holds {c:?}: {text:?}");
            }
        }
    }
});

fn check_plan(plan: &Plan) {
    let s = &plan.session;
    assert!(!s.name.is_empty() && s.name.len() <= 64);
    assert!(
        s.name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        "session {:?}",
        s.name
    );
    assert!(!s.worktrees.starts_with(ROOT), "{:?}", s.worktrees);
    assert!(s.worktrees.is_absolute());
    let worktrees = s.worktrees.to_string_lossy();
    assert!(!worktrees.chars().any(|c| c.is_control()), "{worktrees:?}");
    let ports_end =
        u32::from(plan.ports.base) + u32::from(plan.ports.per_track) * plan.tracks.len() as u32;
    assert!(ports_end <= 65536, "{:?}", plan.ports);
    assert!(!plan.tracks.is_empty());
    for t in &plan.tracks {
        let n = &t.name;
        assert!(!n.is_empty() && n.chars().count() <= 40, "{n:?}");
        assert!(!n.starts_with('-'), "{n:?}");
        assert!(
            n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{n:?}"
        );
        assert_eq!(t.worktree.parent(), Some(s.worktrees.as_path()));
        assert_eq!(
            t.worktree.file_name().and_then(|f| f.to_str()),
            Some(n.as_str())
        );
        check_branch(&t.branch);
        for p in &t.copy {
            assert!(
                p.components().all(|c| matches!(c, Component::Normal(_))),
                "copy {p:?}"
            );
        }
        let strings = t
            .env
            .iter()
            .chain(&plan.env)
            .flat_map(|(k, v)| [k, v])
            .chain(&t.setup)
            .chain(t.prompt.iter())
            .chain(&t.owns)
            .chain(std::iter::once(&s.editor));
        for text in strings {
            assert!(!text.contains('\0'), "{text:?}");
        }
        if let pk_cli::plan::Agent::Command(argv) = &t.agent {
            assert!(argv.iter().all(|a| !a.contains('\0') && !a.is_empty()));
        }
    }
    check_layouts(plan);
}

/// What `git check-ref-format --branch` refuses.
fn check_branch(b: &str) {
    let bad = b.is_empty()
        || b.starts_with('-')
        || b.starts_with('/')
        || b.ends_with('/')
        || b.ends_with('.')
        || b.contains("..")
        || b.contains("//")
        || b.contains("@{")
        || b == "@"
        || b.chars()
            .any(|c| c.is_ascii_control() || " ~^:?*[\\".contains(c))
        || b.split('/')
            .any(|p| p.starts_with('.') || p.ends_with(".lock"));
    assert!(!bad, "branch {b:?}");
}

fn check_layouts(plan: &Plan) {
    let agents: Vec<AgentPane> = plan
        .tracks
        .iter()
        .enumerate()
        .map(|(i, t)| AgentPane {
            track: t.name.clone(),
            branch: t.branch.clone(),
            port: plan.ports.base.saturating_add(i as u16),
            cwd: t.worktree.clone(),
            argv: vec![
                "/usr/bin/pk".into(),
                "agent-run".into(),
                "--state-dir".into(),
                format!("{ROOT}/.git/pk/{}", plan.session.name),
                t.name.clone(),
            ],
        })
        .collect();
    let shape = &plan.session.layout;
    let windows = shape.windows(&agents, &plan.session.editor, &plan.session.worktrees);
    let mut folders: Vec<String> = plan
        .tracks
        .iter()
        .map(|t| t.worktree.to_string_lossy().into_owned())
        .collect();
    folders.push(plan.session.worktrees.to_string_lossy().into_owned());
    let cmds = pk_cli::layout::new_session(&plan.session.name, &windows, shape.agents_width);
    for cmd in &cmds {
        let argv = cmd.argv();
        // tmux's own `-c` (the start folder) comes before the pane's argv (`sh -c …`).
        let start_dir = argv.iter().position(|a| a == "-c").map(|i| i + 1);
        for (i, arg) in argv.iter().enumerate() {
            // tmux ends a command at an argument that ends in an unescaped `;`.
            if arg.ends_with(';') {
                assert!(arg.ends_with("\\;"), "{argv:?}");
            }
            if Some(i) == start_dir {
                let literal = arg.replace("##", "");
                assert!(!literal.contains('#'), "a format in a folder: {argv:?}");
                let folder = arg.replace("##", "#");
                let folder = folder
                    .strip_suffix("\\;")
                    .map_or(folder.clone(), |f| f.to_owned() + ";");
                assert!(folders.contains(&folder), "{folder:?} not in {folders:?}");
            }
        }
    }
    let wasm = Path::new("/usr/share/pk/pk-zellij-plugin.wasm");
    let state_dir = Path::new(ROOT).join(".git/pk").join(&plan.session.name);
    let bar = pk_cli::layout::zellij::Bar {
        wasm,
        state_dir: &state_dir,
        session: &plan.session.name,
    };
    let kdl = pk_cli::layout::zellij::session_layout(&windows, shape.agents_width, &bar);
    let text = kdl.to_string();
    let back: kdl::KdlDocument = text.parse().unwrap_or_else(|e| panic!("{e}: {text}"));
    let mut cwds = Vec::new();
    collect_cwds(&back, &mut cwds);
    assert!(!cwds.is_empty());
    for cwd in cwds {
        assert!(folders.contains(&cwd), "{cwd:?} not in {folders:?}");
    }
}

fn collect_cwds(doc: &kdl::KdlDocument, out: &mut Vec<String>) {
    for node in doc.nodes() {
        if node.name().value() == "pane"
            && let Some(cwd) = node.get("cwd").and_then(|e| e.value().as_string())
        {
            out.push(cwd.to_string());
        }
        if let Some(children) = node.children() {
            collect_cwds(children, out);
        }
    }
}
