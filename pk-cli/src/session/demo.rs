//! The demo's repository, made and removed (`pk demo`): a throwaway repository, a sample plan and three replaying fake agents, so a
//! newcomer sees the whole thing in seconds with no AI CLI or account: the status bar shows
//! them working, then `api` done, `web` waiting for a permission until Enter is pressed in its
//! pane, and `docs` failed. `pk down` in the demo repository removes everything it made.

use crate::ctx::Ctx;
use crate::error::{Context, Error, Result};
use std::path::{Path, PathBuf};

/// The file that marks a folder as made by `pk demo` (and so safe for `pk down` to remove).
const MARKER: &str = ".pk-demo";

/// Makes the demo folder (`dir`, which must not exist, or a new one under $TMPDIR) with its
/// marker and the `shop` repository with its plan; returns the folder and the repository.
pub(crate) fn make(
    dir: Option<&Path>,
    multiplexer: crate::plan::Multiplexer,
    verbose: bool,
) -> Result<(PathBuf, PathBuf)> {
    let root = match dir {
        Some(dir) => {
            if dir.exists() {
                return Err(Error::usage(format!("{} already exists", dir.display()))
                    .hint("pick a folder that does not exist yet"));
            }
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
            crate::util::fs::canonical(dir)
        }
        None => {
            let base = std::env::temp_dir();
            let dir = (0..1000)
                .map(|i| base.join(format!("pk-demo-{}-{i}", std::process::id())))
                .find(|d| std::fs::create_dir(d).is_ok())
                .ok_or_else(|| Error::failure("failed to create a demo folder"))?;
            crate::util::fs::canonical(&dir)
        }
    };
    std::fs::write(
        root.join(MARKER),
        "made by pk demo; `pk down` in shop/ removes this folder\n",
    )
    .context("failed to write the demo marker")?;
    let repo = root.join("shop");
    make_repo(&repo, &root, multiplexer, verbose)?;
    Ok((root, repo))
}

/// Runs git in the demo's repository as the demo's author, through pk's git wrapper.
fn git(dir: &Path, args: &[&str], verbose: bool) -> Result<()> {
    let author = [
        "-c",
        "user.name=pk demo",
        "-c",
        "user.email=demo@pk.invalid",
        "-c",
        "commit.gpgsign=false",
    ];
    let argv: Vec<&str> = author.iter().chain(args).copied().collect();
    crate::sys::git::run_in(dir, &argv, verbose).map(drop)
}

fn make_repo(
    repo: &Path,
    root: &Path,
    multiplexer: crate::plan::Multiplexer,
    verbose: bool,
) -> Result<()> {
    let files: [(&str, &str); 5] = [
        (
            "README.md",
            "# shop\n\nA tiny web shop used by `pk demo`.\n",
        ),
        (
            "src/api.rs",
            "pub fn login(user: &str) -> bool {\n    !user.is_empty()\n}\n",
        ),
        ("web/app.ts", "export const title = \"shop\";\n"),
        ("docs/index.md", "# Docs\n"),
        (".gitignore", "/target\n.env\n"),
    ];
    for (path, text) in files {
        let p = repo.join(path);
        std::fs::create_dir_all(p.parent().expect("has a parent"))
            .with_context(|| format!("failed to create {}", p.display()))?;
        std::fs::write(&p, text).with_context(|| format!("failed to write {}", p.display()))?;
    }
    std::fs::write(repo.join(".env"), "SECRET=demo\n").context("failed to write .env")?;
    let exe = std::env::current_exe().context("failed to find the pk executable")?;
    let exe = exe.to_string_lossy();
    let transcripts = root.join("transcripts");
    let track = |name: &str, fixture: &str, prompt: &str| {
        let out = transcripts.join(format!("{name}.ndjson"));
        format!(
            "[[track]]\nname = \"{name}\"\nprompt = \"{prompt}\"\ncommand = [{exe:?}, \"replay\", \"{fixture}\", \"--out\", {out:?}, \"--delay\", \"2\"]\ntranscript = {{ path = {out:?}, format = \"claude-stream\" }}\nports = [\"web\"]\ncopy = [\".env\"]\n\n",
            out = out.to_string_lossy(),
        )
    };
    let mut plan = format!(
        "# A demo plan made by `pk demo`: three fake agents replay recorded sessions.\n\n[session]\nname = \"pk-demo\"\nmultiplexer = \"{multiplexer}\"\n\n[ports]\nbase = 4700\nper_track = 10\n\n[env]\nAPP_URL = \"http://localhost:{{port}}\"\n\n",
        multiplexer = multiplexer.name(),
    );
    plan.push_str(&track(
        "api",
        "claude-stream-success",
        "Add rate limiting to /login.",
    ));
    plan.push_str(&track(
        "web",
        "claude-stream-waiting-permission",
        "Show the cart count in the header.",
    ));
    plan.push_str(&track(
        "docs",
        "claude-stream-error-max-turns",
        "Document the login API.",
    ));
    std::fs::write(repo.join(crate::plan::PLAN_FILE), plan)
        .context("failed to write the demo plan")?;
    git(repo, &["init", "-q", "-b", "main"], verbose)?;
    git(repo, &["add", "-A"], verbose)?;
    git(repo, &["commit", "-q", "-m", "shop: first commit"], verbose)?;
    Ok(())
}

/// Removes the demo folder `root`, only if it carries the demo marker.
pub(crate) fn remove_demo(ctx: &Ctx, root: &Path) -> Result<()> {
    if !root.join(MARKER).is_file() {
        ctx.out.warn(&format!(
            "{} has no {MARKER} marker; not removing it",
            root.display()
        ));
        return Ok(());
    }
    std::fs::remove_dir_all(root)
        .with_context(|| format!("failed to remove {}", root.display()))?;
    ctx.out
        .step(&format!("removed the demo folder {}", root.display()));
    Ok(())
}
