//! Advisory lock files (`flock`) in one place: the file is private (0600),
//! opened without following a link, and locked exclusively without
//! blocking; [`lock_within`] retries with a short back-off until a deadline.
//! Used by the registry, the daemon's startup lock and `abg claude`'s lock.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

/// First wait between two attempts of [`lock_within`]; it doubles up to the
/// caller's cap.
const FIRST_DELAY: Duration = Duration::from_millis(2);

/// Open (creating it 0600, never through a symlink) the lock file at `path`.
pub fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
}

/// Lock `path` now, or `None` when another process holds it.
pub fn try_lock(path: &Path) -> std::io::Result<Option<Flock<File>>> {
    let file = open(path)?;
    Ok(Flock::lock(file, FlockArg::LockExclusiveNonblock).ok())
}

/// Lock `path`, retrying (2 ms, doubling up to `max_delay`) until `deadline`
/// has passed; `None` when it is still held then. Blocks the thread.
pub fn lock_within(
    path: &Path,
    deadline: Duration,
    max_delay: Duration,
) -> std::io::Result<Option<Flock<File>>> {
    let end = Instant::now() + deadline;
    let mut delay = FIRST_DELAY;
    loop {
        if let Some(lock) = try_lock(path)? {
            return Ok(Some(lock));
        }
        if Instant::now() >= end {
            return Ok(None);
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(max_delay);
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_held_lock_times_out_and_a_released_one_is_taken() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("x.lock");
        let held = try_lock(&path).expect("open").expect("free");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(try_lock(&path).expect("open").is_none());
        let started = Instant::now();
        let again = lock_within(&path, Duration::from_millis(30), Duration::from_millis(5));
        assert!(again.expect("open").is_none());
        assert!(started.elapsed() >= Duration::from_millis(30));
        drop(held);
        assert!(
            lock_within(&path, Duration::from_millis(30), Duration::from_millis(5))
                .expect("open")
                .is_some()
        );
    }

    #[test]
    fn a_symlink_is_not_followed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let target = tmp.path().join("target");
        let link = tmp.path().join("x.lock");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        assert!(try_lock(&link).is_err());
        assert!(!target.exists());
    }
}
