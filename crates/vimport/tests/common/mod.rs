//! Driving `vimport` child processes (keys, servers), shared by the crash and
//! replica tests and the benchmarks. The API calls are
//! [`import_testkit::api::ApiClient`]'s; fresh databases come from
//! [`import_testkit::postgres`].
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub use import_testkit::api::{ApiClient, is_terminal, s3_integration_body};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_vimport");

/// `vimport keys create ARGS...`; answers the key (the last line).
pub fn keys_create(args: &[&str], envs: &[(&str, &str)]) -> String {
    let out = Command::new(BIN)
        .args(["keys", "create", "--user", "user_1", "--org", "org_1"])
        .args(args)
        .envs(envs.iter().copied())
        .env("VIMPORT_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned()
}

/// `vimport serve --listen 127.0.0.1:0 ARGS...`; answers the child and its base URL.
pub fn serve(args: &[&str], envs: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .envs(envs.iter().copied())
        .env("VIMPORT_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "unexpected first line: {line}"
    );
    (child, url)
}

/// Stop a child with SIGKILL.
pub fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The stored videos of a local media folder, leaving out staging files (`NAME#N`).
pub fn stored_videos(media: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(media.join("videos"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.contains('#'))
        .collect()
}
