//! Unit tests of private dirs, the private-file writer, secret checks and
//! the bounded reader.

use super::*;

#[test]
fn private_dir_is_0700_and_tightened() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("a/b");
    ensure_private_dir(&dir).expect("create");
    let mode = fs::metadata(&dir).expect("meta").mode() & 0o777;
    assert_eq!(mode, 0o700);
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
    ensure_private_dir(&dir).expect("tighten");
    assert_eq!(fs::metadata(&dir).expect("meta").mode() & 0o777, 0o700);
}

#[test]
fn writable_by_others_dir_is_refused_not_tightened() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("d");
    ensure_private_dir(&dir).expect("create");
    for mode in [0o777, 0o770, 0o702] {
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).expect("chmod");
        for err in [
            ensure_private_dir(&dir).expect_err("ensure"),
            check_private_dir(&dir).expect_err("check"),
            write_private_file(&dir.join("f"), b"x").expect_err("write"),
        ] {
            let text = err.to_string();
            assert!(matches!(err, PathsError::OpenToOthers { .. }), "{text}");
            assert!(text.contains("chmod 700"), "{text}");
        }
        assert_eq!(fs::metadata(&dir).expect("meta").mode() & 0o777, mode);
        assert!(!dir.join("f").exists());
    }
    assert!(!check_private_dir(&tmp.path().join("missing")).expect("missing"));
}

#[test]
fn symlinked_dir_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let real = tmp.path().join("real");
    fs::create_dir(&real).expect("mkdir");
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    assert!(matches!(
        ensure_private_dir(&link),
        Err(PathsError::Symlink(_))
    ));
}

#[test]
fn secret_files_are_0600_and_checked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("secret");
    let secret = new_secret();
    write_private_file(&file, secret.as_bytes()).expect("write");
    assert_eq!(fs::metadata(&file).expect("meta").mode() & 0o777, 0o600);
    assert_eq!(read_secret_file(&file).expect("read"), secret);
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).expect("chmod");
    assert!(matches!(
        read_secret_file(&file),
        Err(PathsError::WrongMode { .. })
    ));
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&file, &link).expect("symlink");
    assert!(matches!(
        read_secret_file(&link),
        Err(PathsError::Symlink(_))
    ));
    assert!(matches!(
        write_private_file(&link, b"x"),
        Err(PathsError::Symlink(_))
    ));
}

#[test]
fn secrets_are_random_hex() {
    let a = new_secret();
    assert_eq!(a.len(), SECRET_LEN);
    assert!(secret_problem(a.as_bytes()).is_none());
    assert_ne!(a, new_secret());
}

#[test]
fn malformed_secrets_are_refused_with_the_fix() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("secret");
    let good = new_secret();
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "empty"),
        (" \n\t\n".into(), "empty"),
        ("abc".into(), "3 bytes"),
        (format!("{good}\n"), "longer"),
        (format!("{good}{good}"), "longer"),
        (good.to_ascii_uppercase(), "0-9 a-f"),
        (format!("{}zz", &good[..62]), "0-9 a-f"),
        (format!(" {}", &good[..63]), "0-9 a-f"),
    ];
    for (content, why) in cases {
        write_private_file(&file, content.as_bytes()).expect("write");
        let err = read_secret_file(&file).expect_err(&content);
        let text = err.to_string();
        assert!(
            matches!(err, PathsError::InvalidSecret { .. }),
            "{content:?}: {text}"
        );
        assert!(text.contains(why), "{content:?}: {text}");
        assert!(text.contains(&format!("rm {}", file.display())), "{text}");
    }
}

#[test]
fn no_planted_temp_name_is_followed() {
    // Whatever name the writer picks, a symlink planted there is never
    // followed: plant one at every name an attacker could predict (the old
    // `<target>.tmp`, and `.<target>.tmp.<pid>.*`) and at the target's
    // extension-swapped name, then check the victim is untouched.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("d");
    ensure_private_dir(&dir).expect("dir");
    let victim = tmp.path().join("victim");
    fs::write(&victim, "precious").expect("victim");
    let target = dir.join("codex.token");
    for name in [
        "codex.tmp".to_string(),
        "codex.token.tmp".to_string(),
        format!(".codex.token.tmp.{}", std::process::id()),
        format!(".codex.token.tmp.{}.0", std::process::id()),
    ] {
        std::os::unix::fs::symlink(&victim, dir.join(name)).expect("plant");
    }
    for _ in 0..50 {
        write_private_file(&target, b"token").expect("write");
    }
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious");
    let meta = fs::symlink_metadata(&target).expect("target");
    assert!(meta.is_file());
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(fs::read(&target).expect("read"), b"token");
}

#[test]
fn taken_temp_name_is_never_reused() {
    // O_EXCL|O_NOFOLLOW: an existing file or symlink at the temp name makes
    // the open fail instead of writing through it.
    let tmp = tempfile::tempdir().expect("tempdir");
    let victim = tmp.path().join("victim");
    fs::write(&victim, "precious").expect("victim");
    let planted = tmp.path().join(".t.tmp.planted");
    std::os::unix::fs::symlink(&victim, &planted).expect("plant");
    let opened = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&planted);
    assert!(opened.is_err());
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious");
}

#[test]
fn bounded_reader_takes_regular_files_under_the_cap() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("config.toml");
    fs::write(&file, "a = 1\n").expect("write");
    assert_eq!(
        read_bounded_regular_file(&file, FILE_CAP).expect("read"),
        b"a = 1\n"
    );
    let link = tmp.path().join("link.toml");
    std::os::unix::fs::symlink(&file, &link).expect("symlink");
    assert_eq!(
        read_bounded_regular_file(&link, FILE_CAP).expect("through a symlink"),
        b"a = 1\n"
    );
    let missing = read_bounded_regular_file(&tmp.path().join("none"), FILE_CAP).expect_err("none");
    assert!(missing.is_not_found(), "{missing}");
}

#[test]
fn bounded_reader_refuses_devices_fifos_dirs_and_big_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let zero = tmp.path().join("zero.toml");
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
    let fifo = tmp.path().join("fifo.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let dir = tmp.path().join("dir.toml");
    fs::create_dir(&dir).expect("dir");
    let started = std::time::Instant::now();
    for (path, what) in [
        (&zero, "character device"),
        (&fifo, "FIFO"),
        (&dir, "directory"),
    ] {
        let err = read_bounded_regular_file(path, FILE_CAP).expect_err(what);
        let text = err.to_string();
        assert!(matches!(err, PathsError::NotRegularFile { .. }), "{text}");
        assert!(
            text.contains(what) && text.contains(&*path.to_string_lossy()),
            "{text}"
        );
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let big = tmp.path().join("big.toml");
    fs::write(&big, vec![b'#'; 2 << 20]).expect("big");
    let text = read_bounded_regular_file(&big, FILE_CAP)
        .expect_err("big")
        .to_string();
    assert!(text.contains("1048576 bytes"), "{text}");
}
