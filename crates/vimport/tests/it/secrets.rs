//! Secrets off the command line and out of every message: `vimport serve`
//! and `vimport keys` refused a database they cannot open print nothing of a
//! password however the URL gives it (userinfo, `password=`, `sslpassword=`,
//! `passfile=`), nor a media store's secret, at the most verbose log level;
//! and the URL and media settings can come from files instead.

use std::process::Command;

use crate::common::BIN;

/// A password no message may hold.
const SECRET: &str = "hunter2-sekrit-9f8e";

/// Run `vimport ARGS` at debug logging; answers its exit code and everything
/// it wrote (standard output and standard error).
fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("VIMPORT_LOG", "debug")
        .env_remove("VIMPORT_DATABASE_URL")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn a_database_password_is_never_printed_however_the_url_gives_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    // Port 1 on loopback: nothing listens, so each fails to connect.
    let urls = [
        format!("postgres://someone:{SECRET}@127.0.0.1:1/db"),
        format!("postgres://someone@127.0.0.1:1/db?password={SECRET}"),
        format!("postgres://someone@127.0.0.1:1/db?sslmode=disable&sslpassword={SECRET}"),
        format!("postgres://someone@127.0.0.1:1/db?passfile=/nowhere/{SECRET}"),
        format!("postgres://someone:{SECRET}@[::1/db"),
    ];
    for url in &urls {
        for command in [
            vec!["serve", "--listen", "127.0.0.1:0"],
            vec!["keys", "list"],
        ] {
            let mut args = command.clone();
            args.extend(["--data-dir", data, "--database-url", url.as_str()]);
            let (code, text) = run(&args);
            assert_ne!(code, Some(0), "{args:?}: {text}");
            assert!(
                !text.contains(SECRET),
                "{args:?} printed the password: {text}"
            );
            assert!(text.contains("error"), "{args:?} says what failed: {text}");
        }
    }
}

#[test]
fn a_media_stores_secret_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let secret_option = format!("aws_secret_access_key={SECRET}");
    let (code, text) = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--media-url",
        "s3://media-bucket/videos",
        "--media-option",
        "aws_endpoint=http://127.0.0.1:1",
        "--media-option",
        &secret_option,
        "--media-option",
        "not-a-pair",
    ]);
    assert_ne!(code, Some(0), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(text.contains("media option #3"), "{text}");
}

#[test]
fn the_database_url_and_media_settings_come_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = dir.path().join("elsewhere.db");
    let url_file = dir.path().join("database-url");
    std::fs::write(&url_file, format!("sqlite://{}\n", db.display())).unwrap();
    let url_arg = url_file.to_str().unwrap();
    let (code, text) = run(&[
        "keys",
        "create",
        "--user",
        "u",
        "--org",
        "o",
        "--data-dir",
        data.to_str().unwrap(),
        "--database-url-file",
        url_arg,
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(db.is_file(), "the URL of the file was used: {text}");
    let (code, text) = run(&[
        "keys",
        "list",
        "--data-dir",
        data.to_str().unwrap(),
        "--database-url-file",
        url_arg,
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("u"), "{text}");

    // A file that cannot serve is named, its contents never shown.
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let (code, text) = run(&[
        "keys",
        "list",
        "--database-url-file",
        empty.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("the file is empty"), "{text}");
    let big = dir.path().join("big");
    std::fs::write(&big, SECRET.repeat(10_000)).unwrap();
    let (code, text) = run(&["keys", "list", "--database-url-file", big.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("larger than 64 KiB") && !text.contains(SECRET),
        "{text}"
    );
    let (code, text) = run(&[
        "keys",
        "list",
        "--database-url-file",
        url_arg,
        "--database-url",
        "sqlite://x.db",
    ]);
    assert_eq!(code, Some(2), "both at once is a usage error: {text}");

    // Media settings from a file, the secret never printed; a line without
    // `=` is named by its number.
    let options = dir.path().join("media-options");
    std::fs::write(
        &options,
        format!("# the media bucket\naws_endpoint=http://127.0.0.1:1\n\naws_secret_access_key={SECRET}\nbroken-line\n"),
    )
    .unwrap();
    let (code, text) = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--media-url",
        "s3://media-bucket/videos",
        "--media-option-file",
        options.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("media option #3"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
}
