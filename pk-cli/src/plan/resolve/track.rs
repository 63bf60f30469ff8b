//! `[[track]]` tables: each on its own, then across tracks (unique names and branches,
//! `depends_on` naming tracks that exist, without cycles).

use super::{Resolver, check, shown};
use crate::diag::{Diagnostic, Location};
use crate::plan::raw::{RawTrack, RawTranscript, Str, StrList};
use crate::plan::{Agent, Ports, Session, TRANSCRIPT_FORMATS, Track, Transcript};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

impl Resolver<'_> {
    pub(super) fn tracks(
        &mut self,
        raw: &[Spanned<RawTrack>],
        session: &Session,
        ports: Ports,
        repo_root: &Path,
        hosts: &[crate::plan::Host],
    ) -> Vec<Track> {
        let current = self.git.current_branch();
        let tracks: Vec<Track> = raw
            .iter()
            .map(|t| {
                let mut track = self.track(t, session, ports, repo_root, current.as_deref());
                track.host = self.track_host(t.get_ref().host.as_ref(), hosts);
                track
            })
            .collect();

        // Unique names: report the second occurrence, point at the first.
        let named: Vec<&Str> = raw
            .iter()
            .filter_map(|t| t.get_ref().name.as_ref())
            .collect();
        for (dup, first) in check::duplicates(named.iter().map(|n| n.get_ref().as_str())) {
            let msg = format!("track name `{}` is used twice", shown(named[dup].get_ref()));
            let hint = format!(
                "it is first used on line {}; track names must be unique",
                self.line_of(named[first])
            );
            self.report(self.at(named[dup].span(), msg).hint(hint));
        }

        // Unique branches (distinct names give distinct branches with a `{track}` template,
        // so this is a guard; tracks with the same name were reported above).
        for (dup, first) in check::duplicates(tracks.iter().map(|t| t.branch.as_str())) {
            if tracks[dup].name != tracks[first].name
                && let Some(name) = &raw[dup].get_ref().name
            {
                let msg = format!(
                    "track `{}` has the same branch `{}` as track `{}`",
                    tracks[dup].name, tracks[dup].branch, tracks[first].name
                );
                self.report(self.at(name.span(), msg));
            }
        }

        self.dependencies(raw);
        tracks
    }

    fn line_of<T>(&self, value: &Spanned<T>) -> usize {
        Location::from_span(self.src, value.span()).line
    }

    fn track(
        &mut self,
        raw: &Spanned<RawTrack>,
        session: &Session,
        ports: Ports,
        repo_root: &Path,
        current_branch: Option<&str>,
    ) -> Track {
        let t = raw.get_ref();
        let name = match &t.name {
            Some(name) => {
                if let Err(why) = check::track_name(name.get_ref()) {
                    let msg = format!("track name `{}` {why}", shown(name.get_ref()));
                    self.report(self.at(name.span(), msg).hint(check::TRACK_NAME_RULE));
                }
                name.get_ref().clone()
            }
            None => {
                let diag = self.at(raw.span(), "track has no `name`");
                self.report(diag.hint("add `name = \"…\"`: it names the branch, folder and pane"));
                String::new()
            }
        };
        let valid_name = check::track_name(&name).is_ok();

        let branch = check::expand(&session.branch_template, &[("track", &name)]);
        let worktree = session.worktrees.join(&name);
        if valid_name && let Some(name_span) = t.name.as_ref().map(Spanned::span) {
            let template_ok =
                check::branch_name(&check::expand(&session.branch_template, &[("track", "x")]));
            if template_ok.is_ok()
                && let Err(why) = check::branch_name(&branch)
            {
                let msg = format!("branch `{}` of track `{name}` {why}", shown(&branch));
                self.report(self.at(name_span.clone(), msg));
            }
            if current_branch == Some(branch.as_str()) {
                let msg = format!(
                    "branch `{branch}` of track `{name}` is checked out in the main checkout"
                );
                let diag = self.at(name_span.clone(), msg);
                self.report(diag.hint("rename the track or change `branch` in [session]"));
            }
            if repo_root.starts_with(&worktree) {
                let msg = format!(
                    "the worktree of track `{name}` would be {}, which holds the main checkout",
                    worktree.display()
                );
                let diag = self.at(name_span, msg);
                self.report(diag.hint("rename the track or change `worktrees` in [session]"));
            }
        }

        let base = match &t.base {
            Some(base) => {
                self.check_base(base);
                base.get_ref().clone()
            }
            None => session.base.clone(),
        };

        let agent = match (&t.agent, &t.command) {
            (Some(_), Some(command)) => {
                let diag = self.at(command.span(), "use either `agent` or `command`, not both");
                self.report(
                    diag.hint("`agent` picks a preset; `command` runs any other program as given"),
                );
                Agent::Preset(session.agent)
            }
            (Some(agent), None) => Agent::Preset(self.preset(agent)),
            (None, Some(command)) => Agent::Command(self.command(command)),
            (None, None) => Agent::Preset(session.agent),
        };
        let transcript = t
            .transcript
            .as_ref()
            .and_then(|tr| self.transcript(tr, t.command.is_some()));

        let prompt = self.prompt(t.prompt.as_ref(), t.prompt_file.as_ref());
        // A prompt the agent cannot be given fails here, at `pk check`, not in its pane.
        if let (Some(text), Some(at)) = (&prompt, t.prompt.as_ref().or(t.prompt_file.as_ref()))
            && let Some((msg, hint)) = crate::plan::prompt::refusal(&agent, &name, text)
        {
            self.report(self.at(at.span(), msg).hint(hint));
        }
        let port_names = self.port_names(t.ports.as_ref(), ports, &name);
        let env = self.env_table(t.env.as_ref());
        let copy = self.copies(t.copy.as_ref());
        let setup = self.strings(t.setup.as_ref(), "`setup` command");
        let owns = self.owns(t.owns.as_ref());
        let done_when = t.done_when.as_ref().map(|cmd| {
            if cmd.get_ref().trim().is_empty() {
                let diag = self.at(cmd.span(), "`done_when` is empty");
                self.report(diag.hint(
                    "give the command that passes when the track is done, such as \"cargo test\"",
                ));
            }
            cmd.get_ref().clone()
        });
        let depends_on = t.depends_on.as_ref().map_or_else(Vec::new, |list| {
            list.get_ref().iter().map(|d| d.get_ref().clone()).collect()
        });

        Track {
            name,
            branch,
            worktree,
            base,
            agent,
            prompt,
            port_names,
            env,
            copy,
            setup,
            owns,
            depends_on,
            transcript,
            budget_usd: self.budget(t.budget_usd.as_ref()),
            done_when,
            host: None,
        }
    }

    /// `owns`: globs [`crate::session::owns`] can compile, each reported at its place.
    fn owns(&mut self, list: Option<&StrList>) -> Vec<String> {
        for entry in list.map_or(&[][..], |l| l.get_ref().as_slice()) {
            let pattern = entry.get_ref();
            let why = if pattern.trim().is_empty() {
                Some("is empty".to_string())
            } else {
                crate::plan::keep::glob(pattern)
                    .err()
                    .map(|e| format!("is not a valid glob: {}", e.kind()))
            };
            if let Some(why) = why {
                let msg = format!("`owns` glob `{}` {why}", shown(pattern));
                let diag = self.at(entry.span(), msg).hint(
                    "an `owns` glob is a path from the repository root: `src/api/**`, `docs/*.md`",
                );
                self.report(diag);
            }
        }
        list.map_or_else(Vec::new, |l| {
            l.get_ref().iter().map(|e| e.get_ref().clone()).collect()
        })
    }

    fn command(&mut self, command: &StrList) -> Vec<String> {
        if command.get_ref().is_empty() {
            let diag = self.at(command.span(), "`command` is empty");
            self.report(
                diag.hint("give the program and its arguments: [\"my-agent\", \"--flag\"]"),
            );
        }
        for arg in command.get_ref() {
            if arg.get_ref().is_empty() {
                self.report(self.at(arg.span(), "`command` has an empty argument"));
            }
        }
        command
            .get_ref()
            .iter()
            .map(|a| a.get_ref().clone())
            .collect()
    }

    fn transcript(
        &mut self,
        raw: &Spanned<RawTranscript>,
        has_command: bool,
    ) -> Option<Transcript> {
        let tr = raw.get_ref();
        if !has_command {
            let diag = self.at(raw.span(), "`transcript` is only for a custom `command`");
            self.report(diag.hint("agent presets know where their transcript is: remove it"));
            return None;
        }
        if tr.path.get_ref().trim().is_empty() {
            self.report(self.at(tr.path.span(), "transcript `path` is empty"));
        } else if tr.path.get_ref().chars().any(char::is_control) {
            let diag = self.at(
                tr.path.span(),
                "transcript `path` contains a control character",
            );
            self.report(diag);
        }
        let format = tr.format.get_ref();
        if !TRANSCRIPT_FORMATS.contains(&format.as_str()) {
            let msg = format!("unknown transcript format `{}`", shown(format));
            let diag = self.at(tr.format.span(), msg);
            self.report(diag.hint(format!("use one of {}", TRANSCRIPT_FORMATS.join(", "))));
        }
        Some(Transcript {
            path: PathBuf::from(tr.path.get_ref()),
            format: format.clone(),
        })
    }

    fn prompt(&mut self, prompt: Option<&Str>, file: Option<&Str>) -> Option<String> {
        let file = match (prompt, file) {
            (Some(_), Some(file)) => {
                let diag = self.at(
                    file.span(),
                    "use either `prompt` or `prompt_file`, not both",
                );
                self.report(diag);
                return None;
            }
            (Some(prompt), None) => return Some(prompt.get_ref().clone()),
            (None, None) => return None,
            (None, Some(file)) => file,
        };
        let path = self.inside_repo(file, "prompt file")?;
        let problem = match std::fs::metadata(&path) {
            Ok(meta) if !meta.is_file() => "is not a file".to_string(),
            Ok(_) => match std::fs::read(&path) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => return Some(text),
                    Err(_) => "is not UTF-8 text".to_string(),
                },
                Err(e) => format!("cannot be read: {e}"),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist".to_string(),
            Err(e) => format!("cannot be read: {e}"),
        };
        let msg = format!("prompt file `{}` {problem}", shown(file.get_ref()));
        let hint = format!(
            "looked at {}; `prompt_file` is relative to the plan's folder",
            path.display()
        );
        self.report(self.at(file.span(), msg).hint(hint));
        None
    }

    fn port_names(&mut self, list: Option<&StrList>, ports: Ports, track: &str) -> Vec<String> {
        let Some(list) = list else {
            return Vec::new();
        };
        let names = list.get_ref();
        for name in names {
            if let Err(why) = check::port_name(name.get_ref()) {
                let msg = format!("port name `{}` {why}", shown(name.get_ref()));
                let diag = self.at(name.span(), msg).hint(
                    "use lowercase letters, digits and `_`, starting with a letter: \
                     the port is exported as PK_PORT_<NAME>",
                );
                self.report(diag);
            }
        }
        for (dup, _) in check::duplicates(names.iter().map(|n| n.get_ref().as_str())) {
            let msg = format!("port `{}` is named twice", shown(names[dup].get_ref()));
            self.report(self.at(names[dup].span(), msg));
        }
        if names.len() > usize::from(ports.per_track) {
            let msg = format!(
                "track `{track}` names {} ports, but each track has a block of {}",
                names.len(),
                ports.per_track
            );
            let diag = self.at(list.span(), msg);
            self.report(diag.hint("raise `per_track` in [ports], or name fewer ports"));
        }
        names.iter().map(|n| n.get_ref().clone()).collect()
    }

    fn copies(&mut self, list: Option<&StrList>) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in list.map_or(&[][..], |l| l.get_ref().as_slice()) {
            // Through a link in the main checkout (`conf -> /home/me/.config`), an entry would
            // copy a file from outside the repository into the worktree, where an agent reads it.
            let through_link = |path: &PathBuf| {
                let root = super::resolved(self.git.root());
                !super::resolved(&self.git.root().join(path)).starts_with(root)
            };
            match check::copy_path(entry.get_ref()) {
                Ok(path) if through_link(&path) => {
                    let msg = format!(
                        "`copy` entry `{}` leads out of the repository through a symbolic link",
                        shown(entry.get_ref())
                    );
                    let diag = self
                        .at(entry.span(), msg)
                        .hint("`copy` takes paths relative to the repository root, inside it");
                    self.report(diag);
                }
                Ok(path) => out.push(path),
                Err(why) => {
                    let msg = format!("`copy` entry `{}` {why}", shown(entry.get_ref()));
                    let diag = self
                        .at(entry.span(), msg)
                        .hint("`copy` takes paths relative to the repository root, inside it");
                    self.report(diag);
                }
            }
        }
        out
    }

    fn strings(&mut self, list: Option<&StrList>, what: &str) -> Vec<String> {
        let mut out = Vec::new();
        for entry in list.map_or(&[][..], |l| l.get_ref().as_slice()) {
            if entry.get_ref().trim().is_empty() {
                self.report(self.at(entry.span(), format!("{what} is empty")));
            }
            out.push(entry.get_ref().clone());
        }
        out
    }

    /// `depends_on`: entries name other tracks, once each, and the graph has no cycle.
    fn dependencies(&mut self, raw: &[Spanned<RawTrack>]) {
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, t) in raw.iter().enumerate() {
            if let Some(name) = &t.get_ref().name {
                index.entry(name.get_ref().as_str()).or_insert(i);
            }
        }
        let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); raw.len()];
        for (i, t) in raw.iter().enumerate() {
            let t = t.get_ref();
            let Some(list) = &t.depends_on else { continue };
            let own = t.name.as_ref().map(|n| n.get_ref().as_str());
            let deps = list.get_ref();
            let dups = check::duplicates(deps.iter().map(|d| d.get_ref().as_str()));
            for (j, dep) in deps.iter().enumerate() {
                let name = dep.get_ref().as_str();
                let diag = if own == Some(name) {
                    let msg = format!("track `{}` depends on itself", shown(name));
                    self.at(dep.span(), msg).hint("remove it from `depends_on`")
                } else if dups.iter().any(|(d, _)| *d == j) {
                    let msg = format!("`{}` is listed twice in `depends_on`", shown(name));
                    self.at(dep.span(), msg)
                } else if let Some(&to) = index.get(name) {
                    edges[i].push((to, j));
                    continue;
                } else {
                    let msg = format!("`depends_on` names an unknown track `{}`", shown(name));
                    self.at(dep.span(), msg)
                        .hint(unknown_track_hint(name, &index))
                };
                self.report(diag);
            }
        }
        for (cycle, (from, entry)) in check::find_cycles(&edges) {
            let names: Vec<String> = cycle
                .iter()
                .map(|&n| raw[n].get_ref().name.as_ref().map_or("?", |s| s.get_ref()))
                .map(shown)
                .collect();
            let dep = raw[from]
                .get_ref()
                .depends_on
                .as_ref()
                .map(|l| &l.get_ref()[entry]);
            let msg = format!("`depends_on` has a cycle: {}", names.join(" -> "));
            let diag = match dep {
                Some(dep) => self.at(dep.span(), msg),
                None => Diagnostic::whole_file(msg),
            };
            self.report(diag.hint("tracks are merged in dependency order: remove one of these"));
        }
    }
}

fn unknown_track_hint(name: &str, index: &HashMap<&str, usize>) -> String {
    let mut names: Vec<&str> = index.keys().copied().collect();
    names.sort_unstable();
    match check::did_you_mean(name, names.iter().copied()) {
        Some(similar) => format!("did you mean `{similar}`?"),
        None => format!("the tracks are: {}", names.join(", ")),
    }
}
