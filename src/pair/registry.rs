//! The registry of pairs: one JSON file under the user state dir listing
//! every pair with its slot. Every change happens under an exclusive file
//! lock and is published by atomic rename, so racing `abg` processes never
//! hand out one slot twice and readers never see a half-written file.
//!
//! The file is data, not trusted paths: an entry whose id is not
//! `<pair name>-<8 lowercase hex>`, whose root is not absolute, whose name
//! is not a pair name or whose slot has no ports is reported
//! ([`Invalid`]) and never turned into a directory to use or delete. Every
//! pair handed out has had its directory re-checked (owner, mode).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::Flock;
use serde::{Deserialize, Serialize};

use super::{Pair, PairError, PairName, Ports, pair_id};
use crate::clock::now_ms;
use crate::{lockfile, paths};

const FORMAT_VERSION: u32 = 1;
const LOCK_DEADLINE: Duration = Duration::from_secs(15);

/// One registry row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub name: String,
    pub root: PathBuf,
    pub slot: u32,
    pub created_ms: i64,
}

/// The registry file's content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RegistryFile {
    pub version: u32,
    pub pairs: Vec<Entry>,
}

impl RegistryFile {
    /// Parse the text of the registry file at `path` (named in errors):
    /// corrupt JSON and a format newer than this build are errors.
    pub fn parse(path: &Path, text: &str) -> Result<RegistryFile, PairError> {
        let file: RegistryFile = serde_json::from_str(text).map_err(|e| PairError::Corrupt {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        if file.version > FORMAT_VERSION {
            return Err(PairError::TooNew {
                path: path.to_path_buf(),
                found: file.version,
            });
        }
        Ok(file)
    }

    /// The text written to the registry file.
    pub fn render(&self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec_pretty(self)
    }
}

/// Handle on the registry for one state base and port base.
#[derive(Debug, Clone)]
pub struct Registry {
    base: PathBuf,
    port_base: u16,
}

/// A registry entry abg will not use, and why. It stays in the file
/// untouched; nothing derives a path or port from it.
#[derive(Debug, Clone)]
pub struct Invalid {
    pub entry: Entry,
    pub why: String,
    /// The registry file, for the fix.
    pub file: PathBuf,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ignoring pair {:?} (id {:?}, root {}) in {}: {}; abg leaves it and its files alone (remove the entry by hand if you do not know it)",
            self.entry.name,
            self.entry.id,
            self.entry.root.display(),
            self.file.display(),
            self.why
        )
    }
}

/// Every registry entry, sorted by slot: the usable pairs and the entries
/// that were refused.
#[derive(Debug, Default)]
pub struct Listing {
    pub pairs: Vec<Pair>,
    pub invalid: Vec<Invalid>,
}

/// Why `id` is not `<pair name>-<8 lowercase hex>` (what [`pair_id`]
/// makes), if it is not.
fn id_problem(id: &str) -> Option<&'static str> {
    let Some((name, hash)) = id.rsplit_once('-') else {
        return Some("its id is not <name>-<8 hex digits>");
    };
    if hash.len() != 8 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Some("its id does not end in - and 8 lowercase hex digits");
    }
    if PairName::new(name).is_err() {
        return Some("its id does not start with a pair name (A-Z a-z 0-9 . _ -)");
    }
    None
}

/// The exclusive registry lock; released on drop.
struct Locked {
    _lock: Flock<File>,
}

impl Registry {
    pub fn new(state_base: &Path, port_base: u16) -> Self {
        Self {
            base: state_base.to_path_buf(),
            port_base,
        }
    }

    /// `<state>/pairs`, the parent of every pair directory.
    pub fn pairs_dir(&self) -> PathBuf {
        self.base.join("pairs")
    }

    fn file(&self) -> PathBuf {
        self.pairs_dir().join("registry.json")
    }

    fn lock(&self) -> Result<Locked, PairError> {
        paths::ensure_private_dir(&self.base)?;
        paths::ensure_private_dir(&self.pairs_dir())?;
        let path = self.pairs_dir().join("registry.lock");
        let locked = lockfile::lock_within(&path, LOCK_DEADLINE, Duration::from_millis(50))
            .map_err(|source| PairError::Io {
                path: path.clone(),
                source,
            })?;
        match locked {
            Some(mut lock) => {
                // Best effort: note who holds the lock, for the timeout message.
                let _ = lock.set_len(0);
                let _ = write!(lock, "{}", std::process::id());
                Ok(Locked { _lock: lock })
            }
            None => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                Err(PairError::LockTimeout { path, holder })
            }
        }
    }

    fn read(&self) -> Result<RegistryFile, PairError> {
        let path = self.file();
        if !paths::check_private_dir(&self.base)? || !paths::check_private_dir(&self.pairs_dir())? {
            return Ok(RegistryFile {
                version: FORMAT_VERSION,
                pairs: Vec::new(),
            });
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(RegistryFile {
                    version: FORMAT_VERSION,
                    pairs: Vec::new(),
                });
            }
            Err(source) => return Err(PairError::Io { path, source }),
        };
        RegistryFile::parse(&path, &text)
    }

    fn write(&self, file: &RegistryFile, _locked: &Locked) -> Result<(), PairError> {
        let json = file.render().map_err(|e| PairError::Corrupt {
            path: self.file(),
            detail: e.to_string(),
        })?;
        paths::write_private_file(&self.file(), &json)?;
        Ok(())
    }

    /// Turn a registry row into a pair with ports and state dir.
    pub fn pair(&self, entry: &Entry) -> Pair {
        let ports = Ports::for_slot(self.port_base, entry.slot).unwrap_or(Ports {
            app: 0,
            reserved: 0,
            control: 0,
        });
        Pair {
            id: entry.id.clone(),
            name: entry.name.clone(),
            root: entry.root.clone(),
            slot: entry.slot,
            ports,
            dir: self.pairs_dir().join(&entry.id),
            created_ms: entry.created_ms,
        }
    }

    /// Why abg will not use `entry`'s fields as a path or ports, if so.
    fn entry_problem(&self, entry: &Entry) -> Option<String> {
        if let Some(why) = id_problem(&entry.id) {
            return Some(why.to_string());
        }
        let dir = self.pairs_dir().join(&entry.id);
        if dir.parent() != Some(self.pairs_dir().as_path())
            || dir.file_name() != Some(std::ffi::OsStr::new(&entry.id))
        {
            return Some("its id does not name a directory inside the pairs folder".into());
        }
        if PairName::new(&entry.name).is_err() {
            return Some("its name is not a pair name (1 to 64 of A-Z a-z 0-9 . _ -)".into());
        }
        if !entry.root.is_absolute() {
            return Some("its project root is not an absolute path".into());
        }
        if Ports::for_slot(self.port_base, entry.slot).is_none() {
            return Some(format!(
                "its slot {} has no ports below 65535 with base port {}",
                entry.slot, self.port_base
            ));
        }
        None
    }

    /// `entry` as a pair whose directory (when it exists) passed the
    /// owner and mode checks, or why it cannot be used.
    fn open(&self, entry: &Entry) -> Result<Pair, String> {
        if let Some(why) = self.entry_problem(entry) {
            return Err(why);
        }
        let pair = self.pair(entry);
        check_pair_dir(&pair).map_err(|e| e.to_string())?;
        Ok(pair)
    }

    fn invalid(&self, entry: &Entry, why: String) -> Invalid {
        Invalid {
            entry: entry.clone(),
            why,
            file: self.file(),
        }
    }

    /// Every registry entry in slot order: the usable pairs, and the
    /// entries refused (bad fields, or a directory others can write to or
    /// someone else owns) for the caller to report.
    pub fn list_checked(&self) -> Result<Listing, PairError> {
        let mut entries = self.read()?.pairs;
        entries.sort_by_key(|e| e.slot);
        let mut out = Listing::default();
        for entry in &entries {
            match self.open(entry) {
                Ok(pair) => out.pairs.push(pair),
                Err(why) => out.invalid.push(self.invalid(entry, why)),
            }
        }
        Ok(out)
    }

    /// Every usable registered pair, in slot order (see [`Self::list_checked`]).
    pub fn list(&self) -> Result<Vec<Pair>, PairError> {
        Ok(self.list_checked()?.pairs)
    }

    /// The pair for (root, name), if registered. Its directory, when it
    /// exists, has been checked (ours, not writable by others).
    pub fn find(&self, root: &Path, name: &PairName) -> Result<Option<Pair>, PairError> {
        let id = pair_id(root, name);
        let file = self.read()?;
        let Some(entry) = file.pairs.iter().find(|e| e.id == id) else {
            return Ok(None);
        };
        if let Some(why) = self.entry_problem(entry) {
            return Err(PairError::InvalidEntry(Box::new(self.invalid(entry, why))));
        }
        let pair = self.pair(entry);
        check_pair_dir(&pair)?;
        Ok(Some(pair))
    }

    /// The pair for (root, name), creating it (lowest free slot, state dir,
    /// secret) when absent. Returns whether it was created.
    pub fn find_or_create(&self, root: &Path, name: &PairName) -> Result<(Pair, bool), PairError> {
        if let Some(pair) = self.find(root, name)?
            && pair.secret_path().exists()
        {
            return Ok((pair, false));
        }
        let locked = self.lock()?;
        let mut file = self.read()?;
        let id = pair_id(root, name);
        if let Some(entry) = file.pairs.iter().find(|e| e.id == id) {
            if let Some(why) = self.entry_problem(entry) {
                return Err(PairError::InvalidEntry(Box::new(self.invalid(entry, why))));
            }
            let pair = self.pair(entry);
            ensure_pair_dir(&pair)?;
            return Ok((pair, false));
        }
        let slot = (0u32..)
            .find(|s| !file.pairs.iter().any(|e| e.slot == *s))
            .unwrap_or(0);
        let ports = Ports::for_slot(self.port_base, slot).ok_or(PairError::NoSlot {
            base: self.port_base,
        })?;
        ports.probe_free(slot)?;
        let entry = Entry {
            id,
            name: name.as_str().to_string(),
            root: root.to_path_buf(),
            slot,
            created_ms: now_ms(),
        };
        let pair = self.pair(&entry);
        ensure_pair_dir(&pair)?;
        file.pairs.push(entry);
        self.write(&file, &locked)?;
        Ok((pair, true))
    }

    /// Remove a pair's registry row and its state directory. An entry that
    /// fails the checks of [`Self::list_checked`] is refused, never removed.
    pub fn remove(&self, id: &str) -> Result<Option<Pair>, PairError> {
        let locked = self.lock()?;
        let mut file = self.read()?;
        let Some(pos) = file.pairs.iter().position(|e| e.id == id) else {
            return Ok(None);
        };
        if let Some(why) = self.entry_problem(&file.pairs[pos]) {
            let invalid = self.invalid(&file.pairs[pos], why);
            return Err(PairError::InvalidEntry(Box::new(invalid)));
        }
        let entry = file.pairs.remove(pos);
        self.write(&file, &locked)?;
        let pair = self.pair(&entry);
        if let Err(source) = std::fs::remove_dir_all(&pair.dir)
            && source.kind() != std::io::ErrorKind::NotFound
        {
            return Err(PairError::Io {
                path: pair.dir.clone(),
                source,
            });
        }
        Ok(Some(pair))
    }
}

/// Re-check an existing pair directory and its log dir (a missing one is
/// fine: it is created when needed).
fn check_pair_dir(pair: &Pair) -> Result<(), PairError> {
    if paths::check_private_dir(&pair.dir)? {
        paths::check_private_dir(&pair.log_dir())?;
    }
    Ok(())
}

fn ensure_pair_dir(pair: &Pair) -> Result<(), PairError> {
    paths::ensure_private_dir(&pair.dir)?;
    paths::ensure_private_dir(&pair.log_dir())?;
    if !pair.secret_path().exists() {
        paths::write_private_file(&pair.secret_path(), paths::new_secret().as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_ports::free_block;

    fn free_base() -> u16 {
        free_block(40)
    }

    #[test]
    fn slots_are_lowest_free_and_stable() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let reg = Registry::new(tmp.path(), free_base());
        let main = PairName::default();
        let (a, created) = reg
            .find_or_create(Path::new("/p/a"), &main)
            .expect("create a");
        assert!(created);
        assert_eq!(a.slot, 0);
        let (b, _) = reg
            .find_or_create(Path::new("/p/b"), &main)
            .expect("create b");
        assert_eq!(b.slot, 1);
        let (again, created) = reg.find_or_create(Path::new("/p/a"), &main).expect("find");
        assert!(!created);
        assert_eq!(again.id, a.id);
        reg.remove(&a.id).expect("rm");
        assert!(!a.dir.exists());
        let (c, _) = reg
            .find_or_create(Path::new("/p/c"), &main)
            .expect("create c");
        assert_eq!(c.slot, 0, "freed slot is reused");
        assert_eq!(reg.list().expect("list").len(), 2);
        let secret = c.secret().expect("secret");
        assert_eq!(secret.len(), 64);
    }

    #[test]
    fn corrupt_registry_is_reported_not_overwritten() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let reg = Registry::new(tmp.path(), free_base());
        paths::ensure_private_dir(&reg.pairs_dir()).expect("dir");
        std::fs::write(reg.file(), "{not json").expect("write");
        let err = reg
            .find_or_create(Path::new("/p/a"), &PairName::default())
            .expect_err("corrupt")
            .to_string();
        assert!(err.contains("corrupt") && err.contains("mv "), "{err}");
        assert_eq!(
            std::fs::read_to_string(reg.file()).expect("read"),
            "{not json"
        );
    }

    #[test]
    fn busy_port_fails_without_moving_slot() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let base = free_base();
        let squat = std::net::TcpListener::bind(("127.0.0.1", base + 2)).expect("squat");
        let reg = Registry::new(tmp.path(), base);
        let err = reg
            .find_or_create(Path::new("/p/a"), &PairName::default())
            .expect_err("busy")
            .to_string();
        assert!(err.contains(&format!("port {}", base + 2)), "{err}");
        assert!(reg.list().expect("list").is_empty());
        drop(squat);
    }
}

#[cfg(test)]
mod checks;
