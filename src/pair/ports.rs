//! The port block of a pair: `base + 10 × slot`, with +0 for the Codex
//! app-server, +1 for the OpenCode server (the optional third peer; bound
//! only once `abg opencode` runs) and +2 for the daemon's control plane and
//! web UI.
//! New slots are probed before they are handed out so a foreign listener is
//! named in an error instead of being silently stepped around.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};

use serde::Serialize;

use super::PairError;

/// Default first port of slot 0.
pub const DEFAULT_BASE: u16 = 4500;

/// The three ports of one pair slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ports {
    /// Codex app-server websocket listener.
    pub app: u16,
    /// The OpenCode server (`opencode serve`), once `abg opencode` ran.
    pub reserved: u16,
    /// Daemon control plane and web UI.
    pub control: u16,
}

impl Ports {
    /// Ports of `slot` for `base`, or `None` when they would pass 65535.
    pub fn for_slot(base: u16, slot: u32) -> Option<Self> {
        let app = u32::from(base).checked_add(slot.checked_mul(10)?)?;
        if app + 2 > u32::from(u16::MAX) {
            return None;
        }
        let app = u16::try_from(app).ok()?;
        Some(Self {
            app,
            reserved: app + 1,
            control: app + 2,
        })
    }

    fn roles(&self) -> [(u16, &'static str); 3] {
        [
            (self.app, "codex app-server"),
            (self.reserved, "opencode server"),
            (self.control, "control plane"),
        ]
    }

    /// Check that every port of the block can be bound on 127.0.0.1.
    pub fn probe_free(&self, slot: u32) -> Result<(), PairError> {
        for (port, role) in self.roles() {
            if TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_err() {
                return Err(PairError::PortBusy {
                    port,
                    slot,
                    role,
                    owner: describe_owner(port),
                });
            }
        }
        Ok(())
    }
}

/// " by pid N (name)" when the listening process can be found, else "".
pub fn describe_owner(port: u16) -> String {
    match owner_of(port) {
        Some((pid, name)) => format!(" by pid {pid} ({name})"),
        None => String::new(),
    }
}

/// The process listening on `port`, where the OS lets us see it.
pub fn owner_of(port: u16) -> Option<(u32, String)> {
    let p = listeners::get_process_by_port(port, listeners::Protocol::TCP).ok()?;
    Some((p.pid, p.name))
}

/// Whether process `pid`, or one of its process group (a wrapper such as
/// npm's `codex` runs the real server as a child in the group abg started),
/// holds the listening socket on `port`. Every process that holds that
/// socket counts (a listening socket can be shared with a child), so the
/// check asks "does the recorded process hold it", not "which one process
/// is reported first". `Err` describes a holder otherwise: " by pid N
/// (name)", or "" when no holder can be seen.
pub fn held_by(port: u16, pid: u32) -> Result<(), String> {
    // The common case, cheaply: the recorded process itself holds the
    // socket (only its own fds are read, not every process's).
    if holds_listener(port, pid) {
        return Ok(());
    }
    let holders = holders_of(port);
    let Some((first, name)) = holders.first() else {
        return Err(String::new());
    };
    let in_group = |holder: u32| {
        i32::try_from(holder)
            .ok()
            .and_then(|h| nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(h))).ok())
            .and_then(|g| u32::try_from(g.as_raw()).ok())
            == Some(pid)
    };
    if holders.iter().any(|(h, _)| *h == pid || in_group(*h)) {
        Ok(())
    } else {
        Err(format!(" by pid {first} ({name})"))
    }
}

/// Whether process `pid` has a listening TCP socket on `port` among its
/// open files (`/proc/net/tcp{,6}` for the socket, `/proc/PID/fd` for it).
fn holds_listener(port: u16, pid: u32) -> bool {
    let inodes: Vec<u64> = [procfs::net::tcp(), procfs::net::tcp6()]
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.state == procfs::net::TcpState::Listen && e.local_address.port() == port)
        .map(|e| e.inode)
        .collect();
    if inodes.is_empty() {
        return false;
    }
    let Ok(process) = i32::try_from(pid)
        .map_err(|_| ())
        .and_then(|p| procfs::process::Process::new(p).map_err(|_| ()))
    else {
        return false;
    };
    process.fd().is_ok_and(|fds| {
        fds.flatten().any(|fd| {
            matches!(fd.target, procfs::process::FDTarget::Socket(inode) if inodes.contains(&inode))
        })
    })
}

/// Every process holding a listening TCP socket on `port` (where the OS
/// lets us see it), lowest pid first.
fn holders_of(port: u16) -> Vec<(u32, String)> {
    let mut found: Vec<(u32, String)> = listeners::get_all()
        .map(|all| {
            all.into_iter()
                .filter(|l| {
                    l.socket.port() == port
                        && l.protocol == listeners::Protocol::TCP
                        && l.state == listeners::SocketState::Listen
                })
                .map(|l| (l.process.pid, l.process.name))
                .collect()
        })
        .unwrap_or_default();
    if found.is_empty() {
        // Fall back to the one-process lookup (its own error handling).
        found.extend(owner_of(port));
    }
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_map_to_blocks_of_ten() {
        let p = Ports::for_slot(4500, 0).expect("slot 0");
        assert_eq!((p.app, p.reserved, p.control), (4500, 4501, 4502));
        let p = Ports::for_slot(4500, 3).expect("slot 3");
        assert_eq!((p.app, p.reserved, p.control), (4530, 4531, 4532));
        assert!(Ports::for_slot(65530, 0).is_some());
        assert!(Ports::for_slot(65534, 0).is_none());
        assert!(Ports::for_slot(4500, u32::MAX).is_none());
    }

    #[test]
    fn holder_is_checked_against_the_expected_pid() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let me = std::process::id();
        assert_eq!(held_by(port, me), Ok(()));
        let other = held_by(port, 1).expect_err("not pid 1's");
        assert!(other.contains(&format!("pid {me}")), "{other}");
        drop(l);
        assert_eq!(held_by(port, me), Err(String::new()), "nobody holds it");
    }

    #[test]
    fn busy_port_is_named() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let ports = Ports {
            app: port,
            reserved: port,
            control: port,
        };
        let err = ports.probe_free(7).expect_err("busy").to_string();
        assert!(err.contains(&format!("port {port}")), "{err}");
        assert!(err.contains("slot 7"), "{err}");
    }
}
