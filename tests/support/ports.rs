//! Free blocks of loopback ports for tests that start abg daemons.
//!
//! Why it exists: a pair's daemon listens on fixed ports derived from a base
//! (`ABG_BASE_PORT` + 10 × slot), so a test must pick a base whose ports
//! nobody else takes between the pick and the daemon's bind. Two things took
//! them before: other tests' outgoing connections (the kernel hands those
//! ports from its ephemeral range, so a base chosen there can be stolen at
//! any moment) and other tests picking the same base. So blocks come only
//! from below the ephemeral range, and each pick is reserved with a lock
//! file that this process holds until it exits, so concurrent test processes
//! never share a block. The one copy is included by the unit tests, the
//! foundation tests and every e2e support module.

use std::fs::File;
use std::net::TcpListener;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::fcntl::{Flock, FlockArg};

/// Lowest base handed out.
const FLOOR: u16 = 20_000;

/// Reservations held for the life of the test process.
static HELD: Mutex<Vec<Flock<File>>> = Mutex::new(Vec::new());
static NEXT: AtomicU32 = AtomicU32::new(0);

/// The first port of the kernel's ephemeral range (where outgoing
/// connections get their local port), 32768 when it cannot be read.
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// A base port, a multiple of ten, whose `width` ports bind right now, lie
/// below the ephemeral range and are reserved for this process.
pub fn free_block(width: u16) -> u16 {
    let top = ephemeral_low().max(FLOOR + 1000);
    let blocks = u32::from((top - FLOOR - width) / 10);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let start = std::process::id().wrapping_mul(2_654_435_761) ^ nanos;
    let dir = std::env::temp_dir().join("abg-test-ports");
    let _ = std::fs::create_dir_all(&dir);
    for _ in 0..2000 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let k = start.wrapping_add(n.wrapping_mul(7919)) % blocks;
        let base = FLOOR + u16::try_from(k).unwrap_or(0) * 10;
        let Ok(file) = File::create(dir.join(format!("{base}.lock"))) else {
            continue;
        };
        let Ok(file) = Flock::lock(file, FlockArg::LockExclusiveNonblock) else {
            continue;
        };
        if (0..width).all(|p| TcpListener::bind(("127.0.0.1", base + p)).is_ok()) {
            if let Ok(mut held) = HELD.lock() {
                held.push(file);
            }
            return base;
        }
    }
    panic!("no free block of {width} loopback ports below {top}");
}
