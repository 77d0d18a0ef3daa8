//! What doctor's checks look at, behind one trait so tests can fake it:
//! environment variables, files, running a binary with a deadline, and the
//! state of a local port. [`System`] is the real implementation.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a probed command printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// It exited with status 0.
    pub success: bool,
    /// stdout, then stderr.
    pub text: String,
}

/// The outside world as doctor's checks see it.
pub trait Probes {
    /// An environment variable (`None` when unset or empty).
    fn var(&self, key: &str) -> Option<String>;
    /// A file's text (`None` when absent or unreadable).
    fn read(&self, path: &Path) -> Option<String>;
    /// Whether `path` is an executable regular file.
    fn is_executable(&self, path: &Path) -> bool;
    /// Run `program args` (stdin closed, with a deadline).
    fn run(&self, program: &Path, args: &[&str]) -> Result<Output, String>;
    /// Whether 127.0.0.1:`port` can be bound right now.
    fn port_free(&self, port: u16) -> bool;
    /// The process listening on `port`, where the OS shows it.
    fn port_owner(&self, port: u16) -> Option<(u32, String)>;
}

/// Find `binary` like a shell would: a path (with `/`) as is, else the
/// first executable match in `$PATH`.
pub fn which(p: &dyn Probes, binary: &str) -> Option<PathBuf> {
    if binary.contains('/') {
        let path = PathBuf::from(binary);
        return p.is_executable(&path).then_some(path);
    }
    let path = p.var("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(binary))
        .find(|candidate| p.is_executable(candidate))
}

/// A value that turns a Claude Code switch on ("1", "true", …).
pub fn truthy(value: Option<String>) -> bool {
    value.is_some_and(|v| {
        let v = v.trim().to_ascii_lowercase();
        !(v.is_empty() || v == "0" || v == "false" || v == "no" || v == "off")
    })
}

/// The real machine.
#[derive(Debug, Clone)]
pub struct System {
    /// Deadline for each probed command.
    pub timeout: Duration,
}

impl Default for System {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
        }
    }
}

impl Probes for System {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }

    fn read(&self, path: &Path) -> Option<String> {
        // Settings files, some of them the repository's: bounded read.
        let bytes = crate::paths::read_bounded_regular_file(path, crate::paths::FILE_CAP).ok()?;
        String::from_utf8(bytes).ok()
    }

    fn is_executable(&self, path: &Path) -> bool {
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }

    fn run(&self, program: &Path, args: &[&str]) -> Result<Output, String> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let readers: Vec<_> = [
            child
                .stdout
                .take()
                .map(|r| Box::new(r) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|r| Box::new(r) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        .map(|mut r| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = r.read_to_end(&mut buf);
                buf
            })
        })
        .collect();
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait().map_err(|e| e.to_string())? {
                Some(status) => break status,
                None if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("timed out after {:?}", self.timeout));
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let mut text = String::new();
        for reader in readers {
            let bytes = reader.join().unwrap_or_default();
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
        Ok(Output {
            success: status.success(),
            text,
        })
    }

    fn port_free(&self, port: u16) -> bool {
        TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_ok()
    }

    fn port_owner(&self, port: u16) -> Option<(u32, String)> {
        crate::pair::ports::owner_of(port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_runs_and_times_out() {
        let sys = System {
            timeout: Duration::from_millis(300),
        };
        let out = sys
            .run(
                Path::new("/bin/sh"),
                &["-c", "echo out; echo err >&2; exit 3"],
            )
            .expect("run");
        assert!(!out.success);
        assert_eq!(out.text, "out\nerr\n");
        let err = sys
            .run(Path::new("/bin/sh"), &["-c", "sleep 5"])
            .expect_err("deadline");
        assert!(err.contains("timed out"), "{err}");
        assert!(sys.run(Path::new("/nonexistent/x"), &[]).is_err());
    }

    #[test]
    fn truthy_values() {
        for v in ["1", "true", "YES", "on"] {
            assert!(truthy(Some(v.into())), "{v}");
        }
        for v in ["", "0", "false", "Off", "no"] {
            assert!(!truthy(Some(v.into())), "{v}");
        }
        assert!(!truthy(None));
    }
}
