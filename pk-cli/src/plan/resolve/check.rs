//! Pure checks of the names and values of a plan: no files, no git, no processes. Each returns
//! `Err(reason)` with a lowercase fragment that `resolve` turns into a diagnostic.

pub(crate) use crate::diag::did_you_mean;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

/// Longest track name (it becomes a folder, a branch component and a pane title).
pub(crate) const MAX_TRACK_NAME: usize = 40;
/// Longest session name.
pub(crate) const MAX_SESSION_NAME: usize = 64;

/// What a track name may look like, for hints.
pub(crate) const TRACK_NAME_RULE: &str = "use lowercase letters, digits and `-`, starting with a letter or digit (at most 40 characters)";
/// What a session name may look like, for hints.
pub(crate) const SESSION_NAME_RULE: &str =
    "use letters, digits, `_` and `-` (at most 64 characters): it becomes a tmux/zellij target";

/// `[a-z0-9][a-z0-9-]*`, at most [`MAX_TRACK_NAME`] characters.
pub(crate) fn track_name(name: &str) -> Result<(), String> {
    let ok_first = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok_rest = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if name.is_empty() {
        Err("is empty".into())
    } else if !ok_first || !ok_rest {
        Err("is invalid".into())
    } else if name.chars().count() > MAX_TRACK_NAME {
        Err(format!("is longer than {MAX_TRACK_NAME} characters"))
    } else {
        Ok(())
    }
}

/// `[A-Za-z0-9_-]+`, at most [`MAX_SESSION_NAME`] characters.
pub(crate) fn session_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("is empty".into())
    } else if !name.chars().all(is_session_char) {
        Err("is invalid".into())
    } else if name.chars().count() > MAX_SESSION_NAME {
        Err(format!("is longer than {MAX_SESSION_NAME} characters"))
    } else {
        Ok(())
    }
}

fn is_session_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// A session name made from a folder name: other characters become `-`, at most
/// [`MAX_SESSION_NAME`] characters, `pk` when nothing is left.
pub(crate) fn sanitize_session_name(folder: &str) -> String {
    let name: String = folder
        .chars()
        .map(|c| if is_session_char(c) { c } else { '-' })
        .take(MAX_SESSION_NAME)
        .collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        "pk".to_string()
    } else {
        name.to_string()
    }
}

/// A branch name as `git check-ref-format --branch` accepts it.
pub(crate) fn branch_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(why.to_string());
    if name.is_empty() {
        return bad("is empty");
    }
    if name == "@" {
        return bad("cannot be `@`");
    }
    if name.starts_with('-') {
        return bad("cannot start with `-`");
    }
    if name.starts_with('/') || name.ends_with('/') {
        return bad("cannot start or end with `/`");
    }
    if name.ends_with('.') {
        return bad("cannot end with `.`");
    }
    if name.contains("..") {
        return bad("cannot contain `..`");
    }
    if name.contains("//") {
        return bad("cannot contain `//`");
    }
    if name.contains("@{") {
        return bad("cannot contain `@{`");
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_ascii_control() || " ~^:?*[\\".contains(*c))
    {
        return Err(format!("cannot contain {}", describe_char(c)));
    }
    for part in name.split('/') {
        if part.starts_with('.') {
            return bad("has a part that starts with `.`");
        }
        if part.ends_with(".lock") {
            return bad("has a part that ends with `.lock`");
        }
    }
    Ok(())
}

fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_string(),
        c if c.is_control() => format!("the control character {c:?}"),
        c => format!("`{c}`"),
    }
}

/// `[a-z][a-z0-9_]*`: a named port, so that `PK_PORT_<NAME>` is a valid variable.
pub(crate) fn port_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if first && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        Ok(())
    } else {
        Err("is invalid".into())
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`, not starting with `PK_` (pk's own variables).
pub(crate) fn env_key(key: &str) -> Result<(), String> {
    let mut chars = key.chars();
    let first = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err("is not a valid variable name".into());
    }
    if key.starts_with("PK_") {
        return Err("is reserved: pk sets the `PK_` variables itself".into());
    }
    Ok(())
}

/// Checks the `{…}` placeholders of a template against `allowed`; `{{` and `}}` are literal
/// braces. On error returns the byte offset of the bad placeholder in `template` and why.
pub(crate) fn placeholders(template: &str, allowed: &[&str]) -> Result<(), (usize, String)> {
    let mut i = 0;
    let bytes = template.as_bytes();
    while i < bytes.len() {
        match bytes[i] {
            b'{' if bytes.get(i + 1) == Some(&b'{') => i += 2,
            b'}' if bytes.get(i + 1) == Some(&b'}') => i += 2,
            b'{' => {
                let Some(len) = template[i..].find('}') else {
                    return Err((i, "has a `{` that is not closed".into()));
                };
                let key = &template[i + 1..i + len];
                if !allowed.contains(&key) {
                    return Err((i, format!("uses the unknown placeholder `{{{key}}}`")));
                }
                i += len + 1;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Expands the `{key}` placeholders of a template whose placeholders [`placeholders`] checked;
/// `{{` and `}}` stand for literal braces, as the check reads them.
pub(crate) fn expand(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        let known = tail.starts_with('{').then(|| {
            values
                .iter()
                .find(|(k, _)| tail[1..].starts_with(k) && tail[1 + k.len()..].starts_with('}'))
        });
        match known.flatten() {
            Some((key, value)) => {
                out.push_str(value);
                rest = &tail[key.len() + 2..];
            }
            None => {
                out.push_str(&tail[..1]);
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The allowed placeholders, for hints: "`{track}`, `{port}`, `{branch}`".
pub(crate) fn list_placeholders(allowed: &[&str]) -> String {
    let names: Vec<String> = allowed.iter().map(|p| format!("`{{{p}}}`")).collect();
    names.join(", ")
}

/// Lexically normalized absolute path: `.` dropped, `..` removes the previous part (never
/// above the root). No file system access.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A `copy` entry: a relative path that stays inside the checkout, normalized.
pub(crate) fn copy_path(entry: &str) -> Result<PathBuf, String> {
    let path = Path::new(entry);
    if entry.trim().is_empty() {
        return Err("is empty".into());
    }
    if let Some(c) = entry.chars().find(|c| c.is_control()) {
        return Err(format!("contains the control character {c:?}"));
    }
    if path.is_absolute() {
        return Err("is absolute: give a path relative to the repository root".into());
    }
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return Err("leaves the repository (`..`)".into());
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err("is absolute: give a path relative to the repository root".into());
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err("names the repository root itself: name files or folders in it".into());
    }
    Ok(out)
}

/// The cycles a depth-first walk finds in a dependency graph. `edges[i]` lists, for node `i`,
/// `(node it depends on, index of that entry in its depends_on)`. Each cycle comes as its nodes,
/// starting and ending with the same node (`a -> b -> a`), with the edge that closes it as
/// `(node, entry index)`.
pub(crate) fn find_cycles(edges: &[Vec<(usize, usize)>]) -> Vec<(Vec<usize>, (usize, usize))> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: usize,
        edges: &[Vec<(usize, usize)>],
        marks: &mut [Mark],
        stack: &mut Vec<usize>,
        found: &mut Vec<(Vec<usize>, (usize, usize))>,
    ) {
        marks[node] = Mark::Open;
        stack.push(node);
        for &(to, entry) in &edges[node] {
            match marks[to] {
                Mark::New => visit(to, edges, marks, stack, found),
                Mark::Open => {
                    let start = stack.iter().position(|&n| n == to).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(to);
                    found.push((cycle, (node, entry)));
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks[node] = Mark::Done;
    }
    let mut marks = vec![Mark::New; edges.len()];
    let mut found = Vec::new();
    for node in 0..edges.len() {
        if marks[node] == Mark::New {
            visit(node, edges, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    found
}

/// Indices of the entries whose key already occurred, with the index of the first occurrence.
pub(crate) fn duplicates<'a>(keys: impl IntoIterator<Item = &'a str>) -> Vec<(usize, usize)> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, key) in keys.into_iter().enumerate() {
        match seen.get(key) {
            Some(&first) => out.push((i, first)),
            None => {
                seen.insert(key, i);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_names() {
        for ok in ["api", "a", "0", "web-2", &"a".repeat(40)] {
            assert_eq!(track_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "Api",
            "-api",
            "a_b",
            "a.b",
            "a/b",
            "ä",
            " a",
            &"a".repeat(41),
        ] {
            assert!(track_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn session_names() {
        assert_eq!(session_name("My_shop-2"), Ok(()));
        for bad in ["", "a.b", "a:b", "a b", &"s".repeat(65)] {
            assert!(session_name(bad).is_err(), "{bad}");
        }
        assert_eq!(sanitize_session_name("my.repo"), "my-repo");
        assert_eq!(sanitize_session_name("..."), "pk");
        assert_eq!(sanitize_session_name("shop"), "shop");
        assert_eq!(sanitize_session_name(&"x".repeat(80)).len(), 64);
    }

    #[test]
    fn branch_names_follow_check_ref_format() {
        for ok in ["pk/api", "feature/x-1", "a", "a.b", "pk@x", "x/y.z"] {
            assert_eq!(branch_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "@",
            "-x",
            "/x",
            "x/",
            "x.",
            "a..b",
            "a//b",
            "a@{b",
            "a b",
            "a~b",
            "a^b",
            "a:b",
            "a?b",
            "a*b",
            "a[b",
            "a\\b",
            "a\u{7f}b",
            "a\tb",
            "x/.hidden",
            ".x",
            "x.lock",
            "x.lock/y",
        ] {
            assert!(branch_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn port_and_env_names() {
        assert_eq!(port_name("web"), Ok(()));
        assert_eq!(port_name("debug_2"), Ok(()));
        for bad in ["", "Web", "2x", "a-b", "_a"] {
            assert!(port_name(bad).is_err(), "{bad}");
        }
        assert_eq!(env_key("DATABASE_URL"), Ok(()));
        assert_eq!(env_key("_x1"), Ok(()));
        for bad in ["", "1A", "A-B", "A B", "PK_PORT"] {
            assert!(env_key(bad).is_err(), "{bad}");
        }
        assert!(env_key("PK_X").unwrap_err().contains("reserved"));
    }

    #[test]
    fn placeholder_checks() {
        let allowed = ["track", "port", "branch"];
        assert_eq!(placeholders("db_{track}:{port} {branch}", &allowed), Ok(()));
        assert_eq!(placeholders("{{not}} a }} {{", &allowed), Ok(()));
        assert_eq!(placeholders("lone } is literal", &allowed), Ok(()));
        let (at, why) = placeholders("x{trak}", &allowed).unwrap_err();
        assert_eq!(at, 1);
        assert!(why.contains("`{trak}`"), "{why}");
        let (at, why) = placeholders("ab{track", &allowed).unwrap_err();
        assert_eq!(at, 2);
        assert!(why.contains("not closed"));
        assert_eq!(
            list_placeholders(&allowed),
            "`{track}`, `{port}`, `{branch}`"
        );
    }

    #[test]
    fn templates_expand_placeholders_and_double_braces() {
        let v = [("repo", "shop"), ("session", "s")];
        assert_eq!(expand("../{repo}.pk/{session}", &v), "../shop.pk/s");
        assert_eq!(expand("a{{repo}}b}}c{x}", &v), "a{repo}b}c{x}");
        assert_eq!(expand("}{", &v), "}{");
    }

    #[test]
    fn paths() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(normalize(Path::new("/../x")), PathBuf::from("/x"));
        assert_eq!(copy_path(".env"), Ok(PathBuf::from(".env")));
        assert_eq!(copy_path("./a/../b/c"), Ok(PathBuf::from("b/c")));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            ".",
            "a/..",
            "a\nb",
            "\u{1b}x",
        ] {
            assert!(copy_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cycles() {
        // 0 -> 1 -> 2 -> 0, 3 -> 3 is not given (self loops are rejected earlier), 4 -> 0.
        let edges = vec![
            vec![(1, 0)],
            vec![(2, 0)],
            vec![(0, 1)],
            vec![],
            vec![(0, 0)],
        ];
        let found = find_cycles(&edges);
        assert_eq!(found, vec![(vec![0, 1, 2, 0], (2, 1))]);
        assert!(find_cycles(&[vec![(1, 0)], vec![]]).is_empty());
    }

    #[test]
    fn duplicates_point_at_the_first() {
        assert_eq!(duplicates(["a", "b", "a", "a"]), vec![(2, 0), (3, 0)]);
    }
}
