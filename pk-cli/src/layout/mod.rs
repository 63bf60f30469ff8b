//! Layouts: the shape of a session, shared by tmux and zellij.
//!
//! A layout file (`layouts/*.toml`, or a team's own file named by `layout = "path"` in the plan)
//! says how many agents share a window, how wide their column is and where the editor opens.
//! [`Shape::windows`] turns it and the tracks into [`Window`]s; [`tmux`] makes tmux commands of
//! them and [`zellij`] a KDL layout, so one file gives the same shape in both.
//!
//! Pure: nothing here runs a program or touches a file except [`Shape::load`].

pub mod tmux;
pub mod zellij;

use crate::diag::{Diagnostic, PlanError, syntax_diagnostic};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

pub use tmux::new_session;
pub(crate) use tmux::{
    DETACHED_SIZE, WATCH_ROLE, WATCH_WINDOW, add_agent, even_heights, new_window, status_left,
    status_right, watch_window, window_target,
};

/// The presets that ship with pk: name and file text (the files in `layouts/`).
pub(crate) const PRESETS: [(&str, &str); 2] = [
    (
        "agents-left",
        include_str!("../../../layouts/agents-left.toml"),
    ),
    (
        "track-tabs",
        include_str!("../../../layouts/track-tabs.toml"),
    ),
];

/// The preset a plan without `layout` gets.
pub(crate) const DEFAULT_PRESET: &str = "agents-left";

/// Where a window's editor opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EditorAt {
    /// On the worktrees folder (all tracks).
    Worktrees,
    /// On the worktree of the window's first track.
    Track,
    /// No editor pane.
    None,
}

/// A validated layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The preset's name, or the file's path as written in the plan.
    pub name: String,
    /// What it looks like, in a few words.
    pub description: String,
    /// At most this many agents share a window (1 to 8).
    pub agents_per_window: usize,
    /// Width of the agents' column, in percent of the window (20 to 90; 100 without editor).
    pub agents_width: u32,
    /// Where the editor opens.
    pub editor: EditorAt,
}

/// A layout file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShape {
    description: Option<String>,
    agents_per_window: Option<Spanned<i64>>,
    agents_width: Option<Spanned<i64>>,
    editor: Option<Spanned<String>>,
}

impl Shape {
    /// The preset called `name`, if pk has one.
    pub fn preset(name: &str) -> Option<Shape> {
        let (name, text) = PRESETS.iter().find(|(n, _)| *n == name)?;
        let shape = Shape::parse(Path::new(name), text)
            .unwrap_or_else(|e| panic!("the built-in layout `{name}` is invalid:\n{e}"));
        Some(Shape {
            name: (*name).to_string(),
            ..shape
        })
    }

    /// The names of the presets, quoted for a hint.
    pub fn preset_names() -> String {
        PRESETS
            .iter()
            .map(|(n, _)| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Reads and validates the layout file at `path`; errors name the file, line and column.
    pub fn load(path: &Path) -> Result<Shape, PlanError> {
        let fail = |d: Diagnostic| PlanError::new(path, vec![d]);
        let text = std::fs::read(path).map_err(|e| {
            fail(Diagnostic::whole_file(format!(
                "failed to read the layout: {e}"
            )))
        })?;
        let text = String::from_utf8(text).map_err(|_| {
            fail(Diagnostic::whole_file("the layout is not UTF-8 text").hint("save it as UTF-8"))
        })?;
        Shape::parse(path, &text)
    }

    /// Validates the text of a layout file; `path` is only for messages.
    pub fn parse(path: &Path, text: &str) -> Result<Shape, PlanError> {
        let raw: RawShape = toml::from_str(text)
            .map_err(|e| PlanError::new(path, vec![syntax_diagnostic(text, &e)]))?;
        let mut diags = Vec::new();
        let mut int = |v: &Option<Spanned<i64>>, default: i64, range: (i64, i64), what: &str| {
            let Some(v) = v else { return default };
            if (range.0..=range.1).contains(v.get_ref()) {
                return *v.get_ref();
            }
            diags.push(
                Diagnostic::at(text, v.span(), format!("`{what}` is out of range"))
                    .hint(format!("use a number from {} to {}", range.0, range.1)),
            );
            default
        };
        let agents_per_window = int(&raw.agents_per_window, 4, (1, 8), "agents_per_window");
        let agents_width = int(&raw.agents_width, 60, (20, 90), "agents_width");
        let editor = match &raw.editor {
            None => EditorAt::Worktrees,
            Some(e) => match e.get_ref().as_str() {
                "worktrees" => EditorAt::Worktrees,
                "track" => EditorAt::Track,
                "none" => EditorAt::None,
                other => {
                    diags.push(
                        Diagnostic::at(text, e.span(), format!("unknown editor place `{other}`"))
                            .hint("use \"worktrees\", \"track\" or \"none\""),
                    );
                    EditorAt::Worktrees
                }
            },
        };
        if !diags.is_empty() {
            return Err(PlanError::new(path, diags));
        }
        Ok(Shape {
            name: path.to_string_lossy().into_owned(),
            description: raw.description.unwrap_or_default(),
            agents_per_window: agents_per_window as usize,
            agents_width: if editor == EditorAt::None {
                100
            } else {
                agents_width as u32
            },
            editor,
        })
    }

    /// The windows (tabs) of a session with these agents: in order, at most
    /// `agents_per_window` each, each with its editor. `editor` is the user's editor command.
    pub fn windows(&self, agents: &[AgentPane], editor: &str, worktrees: &Path) -> Vec<Window> {
        agents
            .chunks(self.agents_per_window)
            .enumerate()
            .map(|(index, chunk)| Window {
                index,
                name: window_name(index),
                agents: chunk.to_vec(),
                editor: self.editor_of(chunk, editor, worktrees),
            })
            .collect()
    }

    /// The editor of a window whose agents are `agents`.
    pub fn editor_of(
        &self,
        agents: &[AgentPane],
        editor: &str,
        worktrees: &Path,
    ) -> Option<EditorPane> {
        match self.editor {
            EditorAt::Worktrees => Some(EditorPane::new(editor, worktrees)),
            EditorAt::Track => agents.first().map(|a| EditorPane::new(editor, &a.cwd)),
            EditorAt::None => None,
        }
    }
}

/// The name of the `index`-th (0-based) agents window or tab.
pub(crate) fn window_name(index: usize) -> String {
    if index == 0 {
        "agents".to_string()
    } else {
        format!("agents-{}", index + 1)
    }
}

/// One window (tmux) or tab (zellij).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// 0-based position among the agents windows.
    pub index: usize,
    /// [`window_name`] of the index.
    pub name: String,
    /// Its agents, top to bottom (at least one).
    pub agents: Vec<AgentPane>,
    /// Its editor, on the right.
    pub editor: Option<EditorPane>,
}

/// One agent pane to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentPane {
    /// Track name.
    pub track: String,
    /// Branch, shown in the pane border.
    pub branch: String,
    /// First port, shown in the pane border.
    pub port: u16,
    /// The pane's folder: the track's worktree.
    pub cwd: PathBuf,
    /// What the pane runs (`pk agent-run …`).
    pub argv: Vec<String>,
}

/// An editor pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditorPane {
    /// Its folder, also the path it opens.
    pub cwd: PathBuf,
    /// What it runs.
    pub argv: Vec<String>,
}

impl EditorPane {
    /// The user's editor command (a shell string they wrote) on `dir`, passed as `$1` so the
    /// path is never parsed by the shell.
    pub fn new(editor: &str, dir: &Path) -> EditorPane {
        EditorPane {
            cwd: dir.to_path_buf(),
            argv: vec![
                "sh".into(),
                "-c".into(),
                format!("{editor} \"$1\""),
                "pk-editor".into(),
                dir.to_string_lossy().into_owned(),
            ],
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn agent(name: &str, port: u16) -> AgentPane {
        AgentPane {
            track: name.into(),
            branch: format!("pk/{name}"),
            port,
            cwd: PathBuf::from(format!("/r.pk/{name}")),
            argv: vec!["/bin/pk".into(), "agent-run".into(), name.into()],
        }
    }

    fn repo_dir(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
    }

    #[test]
    fn every_file_in_layouts_is_valid_and_a_preset() {
        let mut seen = Vec::new();
        for entry in std::fs::read_dir(repo_dir("layouts")).unwrap() {
            let path = entry.unwrap().path();
            let shape = Shape::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            assert_eq!(
                Shape::preset(&stem).map(|p| p.agents_per_window),
                Some(shape.agents_per_window),
                "{} must be a built-in preset",
                path.display()
            );
            seen.push(stem);
        }
        seen.sort();
        let mut presets: Vec<_> = PRESETS.iter().map(|(n, _)| n.to_string()).collect();
        presets.sort();
        assert_eq!(seen, presets, "layouts/ and the presets differ");
    }

    #[test]
    fn presets_have_the_documented_shapes() {
        let left = Shape::preset("agents-left").unwrap();
        assert_eq!(
            (left.agents_per_window, left.agents_width, left.editor),
            (4, 60, EditorAt::Worktrees)
        );
        let tabs = Shape::preset("track-tabs").unwrap();
        assert_eq!(
            (tabs.agents_per_window, tabs.agents_width, tabs.editor),
            (1, 50, EditorAt::Track)
        );
    }

    #[test]
    fn bad_layout_files_name_line_and_column() {
        let cases = [
            (
                "agents_per_window = 0\n",
                "layout.toml:1:21",
                "out of range",
            ),
            ("agents_width = 10\n", "layout.toml:1:16", "out of range"),
            (
                "editor = \"left\"\n",
                "layout.toml:1:10",
                "unknown editor place",
            ),
            ("windows = 3\n", "layout.toml:1:1", "unknown key"),
            (
                "agents_per_window = \"4\"\n",
                "layout.toml:1:21",
                "expected an integer",
            ),
        ];
        for (text, at, what) in cases {
            let err = Shape::parse(Path::new("layout.toml"), text).unwrap_err();
            let shown = err.render();
            assert!(shown.contains(at), "{text:?}: {shown}");
            assert!(shown.contains(what), "{text:?}: {shown}");
        }
    }

    #[test]
    fn windows_take_the_shape_and_their_editors() {
        let agents: Vec<_> = (0..5).map(|i| agent(&format!("t{i}"), 4100)).collect();
        let wt = Path::new("/r.pk");
        let left = Shape::preset("agents-left")
            .unwrap()
            .windows(&agents, "vi", wt);
        assert_eq!(left.len(), 2);
        assert_eq!(left[1].name, "agents-2");
        assert_eq!(left[1].agents[0].track, "t4");
        assert_eq!(left[1].editor.as_ref().unwrap().cwd, wt);
        let tabs = Shape::preset("track-tabs")
            .unwrap()
            .windows(&agents, "vi", wt);
        assert_eq!(tabs.len(), 5);
        assert_eq!(tabs[3].editor.as_ref().unwrap().cwd, Path::new("/r.pk/t3"));
        assert_eq!(
            tabs[3].editor.as_ref().unwrap().argv[2..],
            ["vi \"$1\"", "pk-editor", "/r.pk/t3"]
        );
    }
}
