//! A host for the remote-track tests: a real OpenSSH server on 127.0.0.1, started per test with
//! a throwaway host key, user key and config, never the machine's own sshd, `~/.ssh` or known
//! hosts. Where the tests run as root (CI), the host side is another user (`pk-host`) with its
//! own home and clone, which cannot read the local world: pk cannot reach the host through the
//! file system. Elsewhere it is this user, with a home of its own.
//!
//! sshd's `SetEnv` gives every session the host's own world (HOME, `TMUX_TMPDIR`, git config,
//! PATH with the host's `~/.local/bin`): OpenSSH applies it after its defaults, so it replaces
//! HOME too.

use crate::{Run, TestEnv};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The user the host side runs as when the tests run as root.
const HOST_USER: &str = "pk-host";

/// One test's host.
pub struct SshHost {
    /// The harness's folder: keys, config, log (the local world's side).
    dir: tempfile::TempDir,
    /// The host user's home (readable by that user only where it is another).
    home: tempfile::TempDir,
    /// The local world's private key.
    key: PathBuf,
    port: u16,
    user: String,
    sshd: Option<Child>,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn sshd_program() -> Option<PathBuf> {
    ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Runs `cmd`, asserting success; returns stdout.
fn run(cmd: &mut Command) -> String {
    crate::run(cmd)
}

/// Makes the host user once per machine; several test processes may race to.
fn ensure_host_user() {
    let exists = || {
        Command::new("getent")
            .args(["passwd", HOST_USER])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !exists() {
        let _ = Command::new("useradd")
            .args([
                "--system",
                "--shell",
                "/bin/sh",
                "--home-dir",
                "/",
                "--no-create-home",
                HOST_USER,
            ])
            .stderr(Stdio::null())
            .status();
    }
    assert!(exists(), "could not create the user {HOST_USER}");
    // Not locked (`!`), which sshd refuses without PAM (`*` still takes no password), and a
    // home sshd can enter (the sessions' HOME is each test's, from `SetEnv`).
    let ready = || {
        let field = |db: &str, n: usize| {
            let out = Command::new("getent").args([db, HOST_USER]).output().ok()?;
            let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
            line.split(':').nth(n).map(str::to_string)
        };
        field("shadow", 1).as_deref() == Some("*") && field("passwd", 5).as_deref() == Some("/")
    };
    // Tests in parallel may change it at once: usermod then fails on the lock; tried again.
    for _ in 0..20 {
        if ready() {
            return;
        }
        let _ = Command::new("usermod")
            .args(["-p", "*", "-d", "/", HOST_USER])
            .stderr(Stdio::null())
            .status();
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("could not unlock the user {HOST_USER} for sshd");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

impl SshHost {
    /// Starts the host for `env`, or `None` (the test returns) where sshd is not installed,
    /// except under CI (or `PK_REQUIRE_SSHD=1`), where that is a failure.
    pub fn start(env: &TestEnv) -> Option<SshHost> {
        let Some(sshd) = sshd_program() else {
            let required =
                std::env::var_os("CI").is_some() || std::env::var_os("PK_REQUIRE_SSHD").is_some();
            assert!(
                !required,
                "sshd is required (CI or PK_REQUIRE_SSHD is set) but not installed"
            );
            eprintln!("skipped: sshd is not installed");
            return None;
        };
        let root = is_root();
        let user = if root {
            ensure_host_user();
            HOST_USER.to_string()
        } else {
            run(Command::new("id").arg("-un")).trim().to_string()
        };
        let dir = tempfile::Builder::new()
            .prefix("pk-sshd")
            .tempdir()
            .unwrap();
        let home = tempfile::Builder::new()
            .prefix("pk-host")
            .tempdir()
            .unwrap();
        for sub in ["tmux", ".local/bin", ".local/state", "src"] {
            std::fs::create_dir_all(home.path().join(sub)).unwrap();
        }
        std::fs::write(
            home.path().join(".gitconfig"),
            "[user]\n\tname = pk host\n\temail = host@pk.invalid\n[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n",
        )
        .unwrap();
        let d = dir.path();
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(d.join("host_key")));
        // The user's key is the local world's.
        let ssh_dir = env.root().join("ssh");
        std::fs::create_dir_all(&ssh_dir).unwrap();
        let key = ssh_dir.join("id_ed25519");
        if !key.exists() {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(&key));
        }
        std::fs::copy(ssh_dir.join("id_ed25519.pub"), d.join("authorized_keys")).unwrap();
        if root {
            // sshd reads the host key as root (`authorized_keys` as the host user: the
            // harness's folder stays open); the host user's home is its own, 0700. The local
            // world is closed to it (tempfile makes it 0755): pk must reach the host through
            // ssh, not through the file system.
            std::fs::create_dir_all("/run/sshd").unwrap();
            run(Command::new("chown").arg("-R").arg(&user).arg(home.path()));
            for private in [home.path(), env.root()] {
                std::fs::set_permissions(private, std::fs::Permissions::from_mode(0o700)).unwrap();
            }
        }
        let mut host = SshHost {
            dir,
            home,
            key,
            port: 0,
            user,
            sshd: None,
        };
        host.write_config();
        host.launch(&sshd, false);
        Some(host)
    }

    fn write_config(&mut self) {
        let d = self.dir.path();
        let h = self.home.path();
        let path = format!(
            "{}:{}",
            h.join(".local/bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        self.port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nPubkeyAuthentication yes\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
             AllowUsers {user}\nPermitRootLogin prohibit-password\nPrintMotd no\nPrintLastLog no\n\
             MaxSessions 100\nMaxStartups 100:30:200\nLogLevel VERBOSE\n\
             SetEnv HOME={h} TMUX_TMPDIR={h}/tmux XDG_STATE_HOME={h}/.local/state \
             GIT_CONFIG_GLOBAL={h}/.gitconfig GIT_CONFIG_NOSYSTEM=1 PATH={path} NO_COLOR=1 \
             LANG=C.UTF-8 SHELL=/bin/sh\n",
            port = self.port,
            d = d.display(),
            h = h.display(),
            user = self.user,
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let pub_key = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{} {pub_key}", self.port),
        )
        .unwrap();
    }

    /// Starts sshd and waits for its port; where the port was taken meanwhile, tries again on
    /// another, or (`keep_port`, a restart) on the same.
    fn launch(&mut self, sshd: &Path, keep_port: bool) {
        let d = self.dir.path().to_path_buf();
        for attempt in 0..5 {
            let child = Command::new(sshd)
                .arg("-D")
                .arg("-f")
                .arg(d.join("sshd_config"))
                .arg("-E")
                .arg(d.join("sshd.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("sshd starts");
            self.sshd = Some(child);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                    return;
                }
                if let Some(Ok(Some(_))) = self.sshd.as_mut().map(Child::try_wait) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // The port was taken meanwhile (or sshd failed): another port, or a moment.
            self.kill();
            assert!(
                attempt < 4,
                "sshd did not start: {}",
                std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
            );
            if keep_port {
                std::thread::sleep(Duration::from_millis(200));
            } else {
                self.write_config();
            }
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.sshd.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The value for `PK_SSH_COMMAND`: ssh with this host's key, port and known hosts, and no
    /// config of the user's.
    pub fn ssh_command(&self) -> String {
        let d = self.dir.path();
        format!(
            "ssh -F /dev/null -i {key} -p {port} -o IdentitiesOnly=yes -o BatchMode=yes \
             -o StrictHostKeyChecking=yes -o UserKnownHostsFile={d}/known_hosts -o LogLevel=ERROR",
            key = self.key.display(),
            port = self.port,
            d = d.display(),
        )
    }

    /// `user@127.0.0.1`: a plan's `ssh`.
    pub fn target(&self) -> String {
        format!("{}@127.0.0.1", self.user)
    }

    /// The host user's home.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Runs `script` on the host through ssh (as the host user, in its world).
    pub fn sh(&self, script: &str) -> Run {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("{} \"$@\"", self.ssh_command()))
            .arg("ssh")
            .arg(self.target())
            .arg(script)
            .stdin(Stdio::null());
        Run::from(cmd.output().unwrap())
    }

    /// Clones the local world's repository to `~/src/<name>` on the host, owned by the host
    /// user (no hard links: nothing shared with the local repository); returns its path.
    pub fn clone_repo(&self, env: &TestEnv, name: &str) -> PathBuf {
        let dest = self.home().join("src").join(name);
        let mut cmd = Command::new("git");
        env.apply_env(&mut cmd);
        run(cmd
            .arg("clone")
            .arg("-q")
            .arg("--no-hardlinks")
            .arg(&env.repo)
            .arg(&dest));
        self.own(&dest);
        dest
    }

    /// Copies the pk under test to `~/.local/bin/pk` on the host.
    pub fn install_pk(&self) {
        let to = self.home().join(".local/bin/pk");
        std::fs::copy(crate::pk_bin(), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
        self.own(&to);
    }

    /// Gives `path` (and what is in it) to the host user.
    fn own(&self, path: &Path) {
        if is_root() {
            run(Command::new("chown").arg("-R").arg(&self.user).arg(path));
        }
    }

    /// Stops sshd: the listener and every connection.
    pub fn stop(&mut self) {
        self.drop_connections();
        self.kill();
    }

    /// Starts sshd again, on the same port with the same keys.
    pub fn restart(&mut self) {
        let sshd = sshd_program().expect("sshd is installed");
        self.launch(&sshd, true);
    }

    /// The open connections: the listener's children (one per connection).
    pub fn connections(&self) -> usize {
        self.children().len()
    }

    fn children(&self) -> Vec<u32> {
        let Some(child) = &self.sshd else {
            return Vec::new();
        };
        let out = Command::new("pgrep")
            .arg("-P")
            .arg(child.id().to_string())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Drops every connection (as a network that goes away would), keeping the listener:
    /// what the connections started on the host and left running (a tmux server) lives on.
    pub fn drop_connections(&self) {
        for pid in self.children() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

impl SshHost {
    /// The processes started through this host's sshd and still running, wherever they went
    /// (a tmux server, or what a dropped connection left behind, as a remote `sleep`): those
    /// whose environment has this host's HOME (`SetEnv`), which no other world shares.
    fn world_processes(&self) -> Vec<u32> {
        let home = format!("HOME={}", self.home.path().display());
        let me = std::process::id();
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| *pid != me)
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == home.as_bytes()))
            })
            .collect()
    }
}

impl Drop for SshHost {
    fn drop(&mut self) {
        // sshd first (no new sessions), then the host's tmux servers (one per socket the tests
        // used), then whatever else the sessions left running; the home goes with `self.home`.
        self.stop();
        let tmux = self.home.path().join("tmux");
        let sockets: Vec<PathBuf> = std::fs::read_dir(&tmux)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
            .map(|e| e.path())
            .collect();
        for socket in sockets {
            let _ = Command::new("tmux")
                .arg("-S")
                .arg(&socket)
                .arg("kill-server")
                .stderr(Stdio::null())
                .status();
        }
        for pid in self.world_processes() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}
