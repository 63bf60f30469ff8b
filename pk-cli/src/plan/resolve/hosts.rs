//! `[hosts.NAME]` tables and a track's `host` (design §11): names like a track's, an `ssh`
//! destination that cannot be read as an option, a clone path, and tracks that name a host the
//! plan has.

use super::{Resolver, check, shown};
use crate::plan::Host;
use crate::plan::raw::{RawHost, Str};
use std::collections::BTreeMap;
use toml::Spanned;

type RawHosts = Spanned<BTreeMap<Str, Spanned<RawHost>>>;

impl Resolver<'_> {
    pub(super) fn hosts(&mut self, raw: Option<&RawHosts>) -> Vec<Host> {
        let Some(raw) = raw else {
            return Vec::new();
        };
        let mut hosts = Vec::new();
        for (name, table) in raw.get_ref() {
            if let Err(why) = check::track_name(name.get_ref()) {
                let msg = format!("host name `{}` {why}", shown(name.get_ref()));
                self.report(self.at(name.span(), msg).hint(check::TRACK_NAME_RULE));
            }
            let t = table.get_ref();
            let ssh = self.required(t.ssh.as_ref(), table, "ssh", "ssh = \"dev@box\"");
            if let Some(ssh) = &t.ssh
                && let Err(why) = ssh_destination(ssh.get_ref())
            {
                let msg = format!("`ssh` `{}` {why}", shown(ssh.get_ref()));
                self.report(self.at(ssh.span(), msg).hint(
                    "give what you would type after `ssh`: `user@host`, or a Host alias of ~/.ssh/config (options go there, or in PK_SSH_COMMAND)",
                ));
            }
            let repo = self.required(t.repo.as_ref(), table, "repo", "repo = \"~/src/shop\"");
            if let Some(repo) = &t.repo
                && repo.get_ref().chars().any(char::is_control)
            {
                let msg = format!(
                    "`repo` `{}` contains a control character",
                    shown(repo.get_ref())
                );
                self.report(self.at(repo.span(), msg));
            }
            hosts.push(Host {
                name: name.get_ref().clone(),
                ssh,
                repo,
            });
        }
        hosts
    }

    /// A host's `key`, reported at the table when it is missing or empty.
    fn required(
        &mut self,
        value: Option<&Str>,
        table: &Spanned<RawHost>,
        key: &str,
        example: &str,
    ) -> String {
        match value {
            Some(v) if !v.get_ref().trim().is_empty() => v.get_ref().clone(),
            Some(v) => {
                let diag = self.at(v.span(), format!("`{key}` is empty"));
                self.report(diag.hint(format!("for example `{example}`")));
                String::new()
            }
            None => {
                let diag = self.at(table.span(), format!("the host has no `{key}`"));
                self.report(diag.hint(format!("add `{example}`")));
                String::new()
            }
        }
    }

    /// A track's `host`: one of the plan's `[hosts.NAME]`.
    pub(super) fn track_host(&mut self, value: Option<&Str>, hosts: &[Host]) -> Option<String> {
        let value = value?;
        let name = value.get_ref();
        if hosts.iter().any(|h| h.name == *name) {
            return Some(name.clone());
        }
        let msg = format!("`host` names an unknown host `{}`", shown(name));
        let hint = if hosts.is_empty() {
            format!(
                "add a `[hosts.{}]` table with `ssh` and `repo`",
                shown(name)
            )
        } else {
            let known: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
            match check::did_you_mean(name, known.iter().copied()) {
                Some(near) => format!("did you mean `{near}`? hosts: {}", known.join(", ")),
                None => format!("hosts: {}", known.join(", ")),
            }
        };
        self.report(self.at(value.span(), msg).hint(hint));
        None
    }
}

/// An `ssh` destination: not empty, no option (`-oProxyCommand=…` from a shared plan would run
/// a command here), no whitespace or control characters.
fn ssh_destination(value: &str) -> Result<(), &'static str> {
    if value.starts_with('-') {
        Err("starts with `-`, which ssh reads as an option")
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err("contains a space or a control character")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::ssh_destination;

    #[test]
    fn destinations_cannot_be_options() {
        assert!(ssh_destination("dev@box").is_ok());
        assert!(ssh_destination("box-alias").is_ok());
        assert!(ssh_destination("-oProxyCommand=touch /tmp/x").is_err());
        assert!(ssh_destination("dev@box rm").is_err());
        assert!(ssh_destination("dev@box\n").is_err());
    }
}
