//! Hostile input end to end (design §7): a plan is shared, a transcript is written by a model and
//! whatever its tools met. No name, template, path or value of a plan reaches outside the
//! worktrees folder, injects a tmux or zellij command or runs shell code the user did not write
//! as a command: each is refused (exit 2, naming line and column, nothing made) or accepted and
//! provably harmless. No transcript content reaches the status bar, `pk status` or the
//! watcher's messages as a control character, an escape sequence or a bidi override.

use pk_tests::{TestEnv, position};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Control characters (C0 but line breaks and tabs, DEL, C1) and bidi controls.
fn hostile_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn assert_inert(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|&c| hostile_char(c)) {
        panic!("{what} holds {c:?}:\n{text}");
    }
}

/// `s` as a TOML basic string, every control character escaped.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A plan: `top` after the session's name (more keys or sections), one track made of `track`
/// (with the name `api` unless it names itself).
fn plan(top: &str, track: &str) -> String {
    let name = if track.contains("name =") {
        ""
    } else {
        "name = \"api\"\n"
    };
    format!("[session]\nname = \"shop\"\n{top}\n\n[[track]]\n{name}{track}\n")
}

/// A hostile plan: (top, track, the value as written where the error points, what the error
/// says).
type Case = (String, String, String, &'static str);

/// The world the hostile plans are tried in: a link inside the repository to a file outside it.
fn hostile_world() -> TestEnv {
    let env = TestEnv::new();
    std::os::unix::fs::symlink("/etc/passwd", env.repo.join("leak.md")).unwrap();
    env
}

/// Every hostile plan, track cases then session names.
fn hostile_cases() -> Vec<Case> {
    let long = "x".repeat(300);
    let long_folder = format!("../{}", "w".repeat(300));
    let s = toml_str;
    // (top, track, the value as written where the error points, what the error says)
    let mut cases: Vec<Case> = vec![
        // Track names: folders, branches, pane titles.
        (
            "".into(),
            format!("name = {}", s("../evil")),
            s("../evil"),
            "track name",
        ),
        (
            "".into(),
            format!("name = {}", s("/etc")),
            s("/etc"),
            "track name",
        ),
        (
            "".into(),
            format!("name = {}", s("a;b")),
            s("a;b"),
            "track name",
        ),
        (
            "".into(),
            format!("name = {}", s("$(touch x)")),
            s("$(touch x)"),
            "track name",
        ),
        (
            "".into(),
            format!("name = {}", s("`touch x`")),
            s("`touch x`"),
            "track name",
        ),
        (
            "".into(),
            format!("name = {}", s("a\nb")),
            s("a\nb"),
            "track name",
        ),
        (
            "".into(),
            format!("name = {}", s("#{pane_id}")),
            s("#{pane_id}"),
            "track name",
        ),
        (
            "".into(),
            format!("name = {}", s("x;")),
            s("x;"),
            "track name",
        ),
        (
            "".into(),
            format!("name = {}", s("a\"}b")),
            s("a\"}b"),
            "track name",
        ),
        (
            "".into(),
            format!("name = {}", s(&long)),
            s(&long),
            "longer than 40",
        ),
        ("".into(), format!("name = {}", s("a\0b")), s("a\0b"), "NUL"),
        (
            "".into(),
            format!("name = {}", s("\x1b]0;pwned\x07")),
            s("\x1b]0;pwned\x07"),
            "track name",
        ),
        (
            "".into(),
            format!("name = {}", s("api\u{202e}")),
            s("api\u{202e}"),
            "track name",
        ),
        (
            "".into(),
            format!("name = {}", s("api\u{9b}31m")),
            s("api\u{9b}31m"),
            "track name",
        ),
        // Branch templates: git arguments, pane borders.
        (
            format!("branch = {}", s("../{track}")),
            "".into(),
            s("../{track}"),
            "`branch`",
        ),
        (
            format!("branch = {}", s("pk/{track} ; rm -rf ~")),
            "".into(),
            s("pk/{track} ; rm -rf ~"),
            "`branch`",
        ),
        (
            format!("branch = {}", s("pk/{track}\n")),
            "".into(),
            s("pk/{track}\n"),
            "`branch`",
        ),
        (
            format!("branch = {}", s("--upload-pack={track}")),
            "".into(),
            s("--upload-pack={track}"),
            "`branch`",
        ),
        (
            format!("branch = {}", s("{track}:main")),
            "".into(),
            s("{track}:main"),
            "`branch`",
        ),
        (
            format!("branch = {}", s("pk/{{track}}")),
            "".into(),
            s("pk/{{track}}"),
            "does not contain",
        ),
        // Worktrees folders: where pk makes folders.
        (
            format!("worktrees = {}", s("../wt\x1b[2J")),
            "".into(),
            s("../wt\x1b[2J"),
            "control character",
        ),
        (
            format!("worktrees = {}", s("../wt\0")),
            "".into(),
            s("../wt\0"),
            "NUL",
        ),
        (
            format!("worktrees = {}", s(".")),
            "".into(),
            s("."),
            "inside the main checkout",
        ),
        (
            format!("worktrees = {}", s("sub/../../shop/x")),
            "".into(),
            s("sub/../../shop/x"),
            "inside the main checkout",
        ),
        (
            format!("worktrees = {}", s(&long_folder)),
            "".into(),
            s(&long_folder),
            "longer than 255",
        ),
        (
            format!("worktrees = {}", s("../{home}")),
            "".into(),
            "{home}".into(),
            "unknown placeholder",
        ),
        // Environment: names and values.
        (
            format!("[env]\n{} = \"1\"", s("A;B")),
            "".into(),
            s("A;B"),
            "not a valid variable name",
        ),
        (
            format!("[env]\n{} = \"1\"", s("LD_PRELOAD=x")),
            "".into(),
            s("LD_PRELOAD=x"),
            "not a valid variable name",
        ),
        (
            "[env]\nPK_TRACK = \"evil\"".into(),
            "".into(),
            "PK_TRACK".into(),
            "reserved",
        ),
        (
            format!("[env]\nA = {}", s("x\0y")),
            "".into(),
            s("x\0y"),
            "NUL",
        ),
        (
            format!("[env]\nA = {}", s("{HOME}")),
            "".into(),
            "{HOME}".into(),
            "unknown placeholder",
        ),
        // Files pk copies or reads for a track.
        (
            "".into(),
            format!("copy = [{}]", s("../../.ssh/id_rsa")),
            s("../../.ssh/id_rsa"),
            "leaves the repository",
        ),
        (
            "".into(),
            format!("copy = [{}]", s("/etc/passwd")),
            s("/etc/passwd"),
            "is absolute",
        ),
        (
            "".into(),
            format!("copy = [{}]", s(".env\n")),
            s(".env\n"),
            "control character",
        ),
        (
            "".into(),
            format!("prompt_file = {}", s("/etc/passwd")),
            s("/etc/passwd"),
            "is absolute",
        ),
        (
            "".into(),
            format!("prompt_file = {}", s("../../../../etc/passwd")),
            s("../../../../etc/passwd"),
            "leaves the repository",
        ),
        (
            "".into(),
            format!("prompt_file = {}", s("leak.md")),
            s("leak.md"),
            "through a symbolic link",
        ),
        (
            "".into(),
            format!("prompt_file = {}", s("/dev/zero")),
            s("/dev/zero"),
            "is absolute",
        ),
        (
            format!("layout = {}", s("/etc/passwd")),
            "".into(),
            s("/etc/passwd"),
            "is absolute",
        ),
        (
            format!("layout = {}", s("../../x/layout.toml")),
            "".into(),
            s("../../x/layout.toml"),
            "leaves the repository",
        ),
        // Values handed to processes.
        (
            "".into(),
            format!("prompt = {}", s("go\0")),
            s("go\0"),
            "NUL",
        ),
        (
            "".into(),
            format!("command = [\"sh\", {}]", s("-c\0")),
            s("-c\0"),
            "NUL",
        ),
        (
            "".into(),
            format!("setup = [{}]", s("make\0")),
            s("make\0"),
            "NUL",
        ),
        (
            format!("editor = {}", s("vi\0")),
            "".into(),
            s("vi\0"),
            "NUL",
        ),
        (
            "".into(),
            format!(
                "command = [\"x\"]\ntranscript = {{ path = {}, format = \"lines\" }}",
                s("t\x1b[8m")
            ),
            s("t\x1b[8m"),
            "control character",
        ),
        (
            "".into(),
            format!("base = {}", s("--upload-pack=touch x")),
            s("--upload-pack=touch x"),
            "does not exist",
        ),
        (
            "".into(),
            format!("depends_on = [{}]", s("../x")),
            s("../x"),
            "unknown track",
        ),
        (
            "".into(),
            format!("ports = [{}]", s("a;b")),
            s("a;b"),
            "port name",
        ),
        (
            "".into(),
            format!("agent = {}", s("claude; rm -rf ~")),
            s("claude; rm -rf ~"),
            "unknown agent",
        ),
    ];
    // Session names: tmux and zellij targets.
    let session_cases: Vec<Case> = [
        "shop;kill-server",
        "#{session_name}",
        "shop\"}",
        "=shop",
        "shop:0",
        "",
    ]
    .iter()
    .map(|n| (n.to_string(), String::new(), s(n), "session name"))
    .collect();
    cases.extend(session_cases);
    cases
}

/// What is wrong with how pk refused case `n` (numbered from 0), or `None`: exit 2, the file,
/// line and column of the value, what the error says, nothing hostile in the diagnostic,
/// nothing on stdout, no state made.
fn hostile_case_failure(env: &TestEnv, n: usize, case: &Case) -> Option<String> {
    let (top, track, needle, says) = case;
    let text = if *says == "session name" {
        format!("[session]\nname = {needle}\n\n[[track]]\nname = \"api\"\n")
    } else {
        plan(top, track)
    };
    env.write_plan(&text);
    let run = env.pk(&["up", "--detach"]);
    let at = format!("parallel.toml:{}\n", position(&text, needle));
    let wrong = if run.code != 2 {
        format!("exit {} where 2 was wanted", run.code)
    } else if !run.stderr.contains(&at) {
        format!("wanted {at:?}")
    } else if !run.stderr.contains(says) {
        format!("wanted {says:?}")
    } else if run.stderr.chars().any(hostile_char) {
        "a control or bidi character in the diagnostic".to_string()
    } else if !run.stdout.is_empty() {
        "something on stdout".to_string()
    } else if env.repo.join(".git/pk").exists() {
        "pk's state was made".to_string()
    } else {
        return None;
    };
    Some(format!(
        "case {n} ({says}: {needle}): {wrong}, for\n{text}\n{run}"
    ))
}

/// One test per hostile plan, each in its own world, so a failure names its case.
macro_rules! hostile_plan_tests {
    ($($name:ident = $n:literal,)*) => {
        $(
            #[test]
            fn $name() {
                let env = hostile_world();
                let case = &hostile_cases()[$n];
                if let Some(failure) = hostile_case_failure(&env, $n, case) {
                    panic!("{failure}");
                }
            }
        )*
        /// Every case has its test.
        #[test]
        fn hostile_plan_cases_each_have_a_test() {
            assert_eq!(hostile_cases().len(), [$($n),*].len());
        }
    };
}

hostile_plan_tests! {
    hostile_plan_00 = 0, hostile_plan_01 = 1, hostile_plan_02 = 2, hostile_plan_03 = 3,
    hostile_plan_04 = 4, hostile_plan_05 = 5, hostile_plan_06 = 6, hostile_plan_07 = 7,
    hostile_plan_08 = 8, hostile_plan_09 = 9, hostile_plan_10 = 10, hostile_plan_11 = 11,
    hostile_plan_12 = 12, hostile_plan_13 = 13, hostile_plan_14 = 14, hostile_plan_15 = 15,
    hostile_plan_16 = 16, hostile_plan_17 = 17, hostile_plan_18 = 18, hostile_plan_19 = 19,
    hostile_plan_20 = 20, hostile_plan_21 = 21, hostile_plan_22 = 22, hostile_plan_23 = 23,
    hostile_plan_24 = 24, hostile_plan_25 = 25, hostile_plan_26 = 26, hostile_plan_27 = 27,
    hostile_plan_28 = 28, hostile_plan_29 = 29, hostile_plan_30 = 30, hostile_plan_31 = 31,
    hostile_plan_32 = 32, hostile_plan_33 = 33, hostile_plan_34 = 34, hostile_plan_35 = 35,
    hostile_plan_36 = 36, hostile_plan_37 = 37, hostile_plan_38 = 38, hostile_plan_39 = 39,
    hostile_plan_40 = 40, hostile_plan_41 = 41, hostile_plan_42 = 42, hostile_plan_43 = 43,
    hostile_plan_44 = 44, hostile_plan_45 = 45, hostile_plan_46 = 46, hostile_plan_47 = 47,
    hostile_plan_48 = 48, hostile_plan_49 = 49, hostile_plan_50 = 50, hostile_plan_51 = 51,
    hostile_plan_52 = 52, hostile_plan_53 = 53, hostile_plan_54 = 54,
}

/// All cases one after another in one world, as a user fixing a plan would meet them: each
/// is refused, and in the end nothing at all was made (no worktrees, branch or tmux server).
#[test]
fn hostile_plans_are_refused_at_their_line_and_column_and_nothing_is_made() {
    let env = hostile_world();
    let cases = hostile_cases();
    // Every case runs; a failure lists each case that failed by its number, what its error
    // should say and the value, not just the first one.
    let tried = cases.len();
    let failures: Vec<String> = cases
        .iter()
        .enumerate()
        .filter_map(|(n, case)| hostile_case_failure(&env, n, case))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {tried} hostile plans failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    eprintln!("{tried} hostile plans refused");
    // Nothing was made: no state, no worktrees folder, no tmux server, no branch.
    env.assert_nothing_made();
}

/// Marker files that only a command the plan smuggled in would create.
fn markers(env: &TestEnv) -> Vec<PathBuf> {
    (1..=12).map(|i| env.root().join(format!("m{i}"))).collect()
}

fn assert_no_marker(env: &TestEnv) {
    for m in markers(env) {
        assert!(
            !m.exists(),
            "{} was created: a value ran as code",
            m.display()
        );
    }
}

#[test]
fn hostile_values_that_are_accepted_stay_literal_and_run_nothing() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let m: Vec<String> = markers(&env)
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    // Worktrees under a folder with tmux formats, a tmux command separator, zellij KDL quotes
    // and braces, a shell substitution and spaces in its name.
    let wt_name = format!(
        "wt #(touch {}) #{{session_name}} \"q\" }}x; $(touch {})",
        m[0], m[1]
    );
    let worktrees = format!("../{}", wt_name.replace('{', "{{").replace('}', "}}"));
    // A branch that is a valid git ref and a tmux format that would write a file.
    let branch = format!("pk/{{track}}#(>{})", m[2]);
    // A value with shell and tmux syntax, a newline and an escape sequence.
    let evil = format!(
        "$(touch {}) `touch {}`; touch {} #(touch {}) #{{pane_id}}\nline 2 \x1b[31mred\x1b[0m",
        m[3], m[4], m[5], m[6]
    );
    let evil_toml = toml_str(&evil.replace('{', "{{").replace('}', "}}"));
    // Prompts: shell syntax arrives as one argument; an option of the agent's CLI stays a prompt.
    let settings = format!(
        r#"--settings={{"hooks":{{"SessionStart":[{{"hooks":[{{"type":"command","command":"touch {}"}}]}}]}}}}"#,
        m[7]
    );
    let shell_prompt = format!(
        "; rm -rf \"$HOME\" $(touch {}) `touch {}` #(touch {})\nsecond line",
        m[8], m[9], m[10]
    );
    let path = env.fake_program(
        "claude",
        "#!/bin/sh\nprintf '%s\\0' \"$@\" > \"$OUT/$PK_TRACK.args.tmp\"\nmv \"$OUT/$PK_TRACK.args.tmp\" \"$OUT/$PK_TRACK.args\"\nexec sleep 600\n",
    );
    let recorder = r#"command = ["sh", "-c", "printf '%s' \"$EVIL\" > \"$OUT/$PK_TRACK.evil\"; pwd -P > \"$OUT/$PK_TRACK.pwd\"; exec sleep 600"]"#;
    let text = format!(
        "[session]\nname = \"shop\"\nworktrees = {wt}\nbranch = {branch}\n\n[ports]\nbase = 19100\n\n[env]\nOUT = {out}\nPATH = {path}\nEVIL = {evil_toml}\n\n[[track]]\nname = \"api\"\n{recorder}\n\n[[track]]\nname = \"web\"\nagent = \"claude\"\nprompt = {settings}\n\n[[track]]\nname = \"docs\"\nagent = \"claude\"\nprompt = {shell_prompt}\n",
        wt = toml_str(&worktrees),
        branch = toml_str(&branch),
        out = toml_str(&env.out().to_string_lossy()),
        path = toml_str(&path),
        settings = toml_str(&settings),
        shell_prompt = toml_str(&shell_prompt),
    );
    let up = env.up_detached(&text);
    assert_inert("pk up's output", &format!("{}{}", up.stdout, up.stderr));

    let folder = env.root().join(&wt_name);
    // The env value arrives whole, as written.
    let evil_file = env.out().join("api.evil");
    env.wait_for("the api pane to record its env", 20, || evil_file.exists());
    assert_eq!(std::fs::read_to_string(&evil_file).unwrap(), evil);
    // The worktree is where the plan says, literally.
    let pwd = std::fs::read_to_string(env.out().join("api.pwd")).unwrap();
    assert_eq!(
        Path::new(pwd.trim()),
        std::fs::canonicalize(folder.join("api")).unwrap()
    );
    let branches = env.git(&["branch", "--list", "--format=%(refname:short)"]);
    assert!(
        branches.contains(&format!("pk/api#(>{})", m[2])),
        "{branches}"
    );
    // Each prompt is one argument, after `--` when it looks like an option.
    let args = |track: &str| -> Vec<String> {
        let file = env.out().join(format!("{track}.args"));
        env.wait_for(&format!("{track}'s claude to start"), 20, || file.exists());
        let text = std::fs::read_to_string(file).unwrap();
        text.split('\0')
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect()
    };
    let web = args("web");
    assert_eq!(
        web[web.len() - 2..],
        ["--".to_string(), settings.clone()],
        "{web:?}"
    );
    let docs = args("docs");
    assert_eq!(docs.last(), Some(&shell_prompt), "{docs:?}");
    assert!(!docs.contains(&"--".to_string()), "{docs:?}");

    // A client draws the status line and the pane borders (where tmux would expand formats).
    let screen = env.attach_screen("shop");
    env.wait_for("the screen to show the session", 10, || {
        screen.text().contains("shop")
    });
    let layout = env.pk_ok(&["layout", "--zellij"]);
    let kdl: kdl::KdlDocument = layout.stdout.parse().expect("the zellij layout reads back");
    let mut cwds = Vec::new();
    collect_cwds(&kdl, &mut cwds);
    let api = folder.join("api").to_string_lossy().into_owned();
    assert!(cwds.contains(&api), "{api:?} not in {cwds:?}");
    let tmux_layout = env.pk_ok(&["layout", "--tmux"]);
    assert!(tmux_layout.stdout.contains("##(touch"), "{tmux_layout}");
    let status = env.pk_ok(&["status"]);
    assert_inert("pk status", &status.stdout);
    // Nothing to wait for: checked throughout, as long as tmux takes to redraw a few times.
    pk_tests::holds_for(
        Duration::from_millis(1500),
        "no value running as code",
        || markers(&env).iter().all(|m| !m.exists()),
    );
    assert_no_marker(&env);
    drop(screen);

    env.pk_ok(&["down", "--force"]);
    assert!(!folder.join("api").exists());
    assert_no_marker(&env);
}

fn collect_cwds(doc: &kdl::KdlDocument, out: &mut Vec<String>) {
    for node in doc.nodes() {
        if let Some(cwd) = node.get("cwd").and_then(|e| e.value().as_string()) {
            out.push(cwd.to_string());
        }
        if let Some(children) = node.children() {
            collect_cwds(children, out);
        }
    }
}

#[test]
fn copy_never_writes_through_a_link_the_branch_has() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let outside = env.outside_dir();
    // Branch `evil`: `.env` is a link to a file that does not exist yet outside the worktree,
    // `conf` a link to a folder outside it.
    env.git(&["checkout", "-q", "-b", "evil"]);
    std::os::unix::fs::symlink(outside.join("pwned"), env.repo.join(".env")).unwrap();
    std::os::unix::fs::symlink(&outside, env.repo.join("conf")).unwrap();
    env.git(&["add", "-f", ".env", "conf"]);
    env.git(&["commit", "-q", "-m", "links"]);
    env.git(&["checkout", "-q", "main"]);
    // The main checkout has the real files the plan copies.
    std::fs::write(env.repo.join(".env"), "SECRET=1\n").unwrap();
    std::fs::create_dir_all(env.repo.join("conf")).unwrap();
    std::fs::write(env.repo.join("conf/app.env"), "X=1\n").unwrap();
    let run = env.up_detached(
        "[session]\nname = \"shop\"\n\n[ports]\nbase = 19200\n\n[[track]]\nname = \"api\"\nagent = \"shell\"\nbase = \"evil\"\ncopy = [\".env\", \"conf/app.env\"]\n",
    );
    assert!(
        std::fs::read_dir(&outside).unwrap().next().is_none(),
        "pk wrote outside the worktree: {run}"
    );
    assert!(run.stderr.contains("symbolic link, not copied"), "{run}");
    // The links the branch has are still links, and pointed at nothing pk wrote.
    let wt = env.worktrees().join("api");
    assert!(
        std::fs::symlink_metadata(wt.join(".env"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    env.pk_ok(&["down", "--force"]);
}

/// A tmux status format without its `#[…]` styles.
fn unstyled(format: &str) -> String {
    let mut out = String::new();
    let mut rest = format;
    while let Some(i) = rest.find("#[") {
        out.push_str(&rest[..i]);
        rest = rest[i..].split_once(']').map_or("", |(_, r)| r);
    }
    out + rest
}

/// A transcript whose tool names, errors and model carry escape sequences (CSI, OSC 52 that
/// would set the clipboard, OSC 0 that would retitle, DCS), BEL, C1 controls, bidi overrides
/// and tmux formats.
fn hostile_transcript() -> String {
    let lines = [
        r#"{"type":"system","subtype":"init","session_id":"s1","model":"claude\u001b]52;c;ZXZpbA==\u0007-sonnet-4-5\u202e","cwd":"/w"}"#.to_string(),
        format!(
            r#"{{"type":"assistant","message":{{"id":"m1","model":"claude-sonnet-4-5","role":"assistant","content":[{{"type":"tool_use","id":"t1","name":"Bash\u001b[2J\u001b]0;owned\u0007","input":{{"command":"echo {c1}31m hi #(touch /tmp/pk-x) #{{session_name}} \u001bP1$qm\u001b\\ {bidi}evil"}}}}],"usage":{{"input_tokens":10,"output_tokens":5}}}},"parent_tool_use_id":null,"session_id":"s1"}}"#,
            c1 = '\u{9b}',
            bidi = '\u{202e}',
        ),
        r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":"boom \u001b]52;c;c2VjcmV0\u0007 \u0007\u0007"}]},"parent_tool_use_id":null,"session_id":"s1"}"#.to_string(),
        format!(
            r#"{{"type":"result","subtype":"error_during_execution","is_error":true,"errors":["failed {c1}2J \u001b]8;;http://evil\u001b\\link\u001b]8;;\u001b\\ {bidi}gnp.exe ##[fg=red] #(reboot)"],"total_cost_usd":0.01,"usage":{{"input_tokens":10,"output_tokens":5}},"session_id":"s1"}}"#,
            c1 = '\u{9d}',
            bidi = '\u{2066}',
        ),
    ];
    lines.join("\n") + "\n"
}

#[test]
fn transcript_escapes_never_reach_the_bar_the_table_or_messages() {
    let Some(env) = TestEnv::with_tmux() else {
        return;
    };
    let fixture = env.out().join("hostile.ndjson");
    std::fs::write(&fixture, hostile_transcript()).unwrap();
    let transcript = env.out().join("evil.ndjson");
    env.up_detached(&format!(
        "[session]\nname = \"shop\"\n\n[ports]\nbase = 19300\n\n[[track]]\nname = \"evil\"\ncommand = [{pk}, \"replay\", {fixture}, \"--delay\", \"1\"]\ntranscript = {{ path = {out}, format = \"claude-stream\" }}\n",
        pk = toml_str(pk_tests::pk_bin().to_str().unwrap()),
        fixture = toml_str(&fixture.to_string_lossy()),
        out = toml_str(&transcript.to_string_lossy()),
    ));
    // A client, for the watcher's messages to go to.
    let screen = env.attach_screen("shop");
    // The raw bytes the watcher and the agent's pane print, as the terminal would get them.
    let watch_log = env.out().join("watch.raw");
    let pane_log = env.out().join("pane.raw");
    let agent_pane = env.pane_of("evil");
    for (target, log) in [
        ("=shop:=pk-watch", &watch_log),
        (agent_pane.as_str(), &pane_log),
    ] {
        let pipe = format!("cat > '{}'", log.display());
        let run = env.tmux(&["pipe-pane", "-t", target, &pipe]);
        assert_eq!(run.code, 0, "{run}");
    }
    env.wait_for("the track to fail", 30, || {
        env.status_json()["tracks"][0]["state"] == "error"
    });
    let status = env.status_json();
    let track = &status["tracks"][0];
    // The content got through, cleaned.
    assert!(
        track["last_tool"].as_str().unwrap().starts_with("Bash"),
        "{status}"
    );
    assert!(
        track["last_error"].as_str().unwrap().contains("failed"),
        "{status}"
    );
    let json = env.pk_ok(&["status", "--json"]).stdout;
    assert_inert("pk status --json", &json);
    assert!(
        !json.contains("\\u001b") && !json.contains("\\u0007"),
        "{json}"
    );
    let table = env.pk_ok(&["status"]).stdout;
    assert_inert("pk status", &table);

    // The status line tmux draws: no control characters, every `#` of the content escaped.
    env.wait_for("the bar to show the failure", 10, || {
        let bar = env.tmux(&["show-options", "-v", "-t", "=shop:", "status-right"]);
        unstyled(&bar.stdout).contains("evil error")
    });
    let bar = env
        .tmux(&["show-options", "-v", "-t", "=shop:", "status-right"])
        .stdout;
    assert_inert("the status line", bar.trim_end());
    let content = bar.replace("##", "");
    for (i, _) in content.match_indices('#') {
        assert!(
            content[i..].starts_with("#["),
            "an unescaped `#` in {bar:?}"
        );
    }
    // The watcher's message on the clients, its log and the agent's pane.
    env.wait_for("the watcher's message on the clients", 10, || {
        env.tmux(&["show-messages"])
            .stdout
            .contains("pk: evil error")
    });
    let messages = env.tmux(&["show-messages"]).stdout;
    assert!(messages.contains("pk: evil error"), "{messages}");
    assert_inert("tmux messages", &messages);
    let seen = screen.text();
    assert!(seen.contains("evil"), "{seen}");
    assert_inert("the screen", &seen);
    for log in [&watch_log, &pane_log] {
        let raw = String::from_utf8_lossy(&std::fs::read(log).unwrap()).into_owned();
        assert!(!raw.is_empty(), "{} is empty", log.display());
        // The watcher rings the bell itself; colours are pk's own (NO_COLOR is set).
        let raw = raw.replace('\x07', "");
        assert_inert(&log.display().to_string(), &raw.replace('\r', ""));
    }
    for text in [&json, &table, &bar, &messages, &seen] {
        for payload in ["ZXZpbA==", "c2VjcmV0", "owned", "http://evil", "1$qm"] {
            assert!(!text.contains(payload), "{payload} leaked into {text}");
        }
    }
    assert!(!Path::new("/tmp/pk-x").exists());
}
