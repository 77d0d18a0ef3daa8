//! The registry's distrust of its own file and of pair directories: bad
//! entries are reported and never used as paths, and an existing pair
//! directory is re-checked every time a pair is handed out.

use std::os::unix::fs::PermissionsExt;

use super::*;

fn free_base() -> u16 {
    crate::test_ports::free_block(40)
}

fn entry(id: &str) -> Entry {
    Entry {
        id: id.into(),
        name: "main".into(),
        root: "/gone/project".into(),
        slot: 5,
        created_ms: 0,
    }
}

#[test]
fn world_writable_pair_dir_is_refused_on_the_fast_path() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let reg = Registry::new(tmp.path(), free_base());
    let main = PairName::default();
    let root = Path::new("/p/a");
    let (pair, _) = reg.find_or_create(root, &main).expect("create");
    for mode in [0o777, 0o775, 0o733] {
        std::fs::set_permissions(&pair.dir, std::fs::Permissions::from_mode(mode)).expect("chmod");
        for err in [
            reg.find_or_create(root, &main)
                .expect_err("fast path")
                .to_string(),
            reg.find(root, &main).expect_err("find").to_string(),
        ] {
            assert!(
                err.contains(&pair.dir.display().to_string()) && err.contains("chmod 700"),
                "{err}"
            );
        }
        let listing = reg.list_checked().expect("list");
        assert!(listing.pairs.is_empty());
        assert_eq!(listing.invalid.len(), 1);
        // Refused, not silently tightened: the user decides after a look.
        let now = std::fs::metadata(&pair.dir)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(now, mode);
    }
    // Readable by others only: nothing can have been planted; tightened.
    std::fs::set_permissions(&pair.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    reg.find_or_create(root, &main).expect("fast path");
    let now = std::fs::metadata(&pair.dir)
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(now, 0o700);
    // The log dir is checked too.
    std::fs::set_permissions(pair.log_dir(), std::fs::Permissions::from_mode(0o777))
        .expect("chmod");
    let err = reg.find(root, &main).expect_err("logs").to_string();
    assert!(err.contains("logs"), "{err}");
}

#[test]
fn state_dirs_writable_by_others_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let reg = Registry::new(tmp.path(), free_base());
    let main = PairName::default();
    reg.find_or_create(Path::new("/p/a"), &main)
        .expect("create");
    std::fs::set_permissions(reg.pairs_dir(), std::fs::Permissions::from_mode(0o777))
        .expect("chmod");
    let err = reg
        .find(Path::new("/p/a"), &main)
        .expect_err("pairs dir")
        .to_string();
    assert!(err.contains("chmod 700"), "{err}");
    assert!(reg.list().is_err());
}

#[test]
fn bad_entries_are_reported_and_never_used_as_paths() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state = tmp.path().join("state");
    let base = free_base();
    let reg = Registry::new(&state, base);
    let (good, _) = reg
        .find_or_create(Path::new("/p/a"), &PairName::default())
        .expect("create");
    // Victims: an absolute path, one reached by `..`, and a sibling of a
    // pair dir named like a pair with a bad hash.
    let victim = tmp.path().join("victim");
    std::fs::create_dir_all(&victim).expect("victim");
    std::fs::write(victim.join("keep"), "precious").expect("keep");
    let dotdot = state.join("victim2");
    std::fs::create_dir_all(&dotdot).expect("victim2");
    let xyz = reg.pairs_dir().join("main-XYZ");
    std::fs::create_dir_all(&xyz).expect("main-XYZ");
    let mut bad_root = entry("main-0123abcd");
    bad_root.root = "relative/root".into();
    let mut bad_slot = entry("main-0123abce");
    bad_slot.slot = u32::MAX;
    let mut bad_name = entry("main-0123abcf");
    bad_name.name = "a/b".into();
    let bad = vec![
        entry(&victim.display().to_string()),
        entry("../victim2"),
        entry("../../victim"),
        entry("main-XYZ"),
        entry("main-0123ABCD"),
        entry("main-0123abc"),
        entry("-0123abcd"),
        entry(""),
        bad_root,
        bad_slot,
        bad_name,
    ];
    let mut file = reg.read().expect("read");
    file.pairs.extend(bad.iter().cloned());
    let json = serde_json::to_vec(&file).expect("json");
    std::fs::write(reg.file(), json).expect("write");

    let listing = reg.list_checked().expect("list");
    assert_eq!(
        listing
            .pairs
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>(),
        [good.id.as_str()]
    );
    assert_eq!(listing.invalid.len(), bad.len());
    for invalid in &listing.invalid {
        let text = invalid.to_string();
        assert!(
            text.contains(&format!("{:?}", invalid.entry.id)) && text.contains("leaves it"),
            "{text}"
        );
    }
    for e in &bad {
        let err = reg.remove(&e.id).expect_err(&e.id).to_string();
        assert!(err.contains("ignoring pair"), "{err}");
    }
    assert!(victim.join("keep").exists());
    assert!(dotdot.exists() && xyz.exists());
    // The entries stay in the file, untouched, across other writes.
    reg.find_or_create(Path::new("/p/b"), &PairName::default())
        .expect("create b");
    let after = reg.read().expect("read").pairs;
    for e in &bad {
        assert!(after.contains(e), "{e:?} was dropped");
    }
    // And the good pair is still removable.
    reg.remove(&good.id).expect("rm good");
    assert!(!good.dir.exists());
}

#[test]
fn ids_follow_the_grammar() {
    let main = PairName::default();
    assert_eq!(id_problem(&pair_id(Path::new("/x"), &main)), None);
    assert_eq!(id_problem("Feature.1_x-0123abcd"), None);
    for bad in [
        "/tmp/victim",
        "../../victim",
        "main-XYZ",
        "main-0123abc",
        "main-0123abcde",
        "main-0123ABCD",
        "-0123abcd",
        "a/b-0123abcd",
        "..",
        "",
    ] {
        assert!(id_problem(bad).is_some(), "{bad}");
    }
}
