//! The shipped binary without the test kit: `cargo install vimport
//! --no-default-features` builds a CLI that links neither the test kit nor
//! s3s; the default build keeps `vimport demo` and its in-process bucket.

use std::process::Command;

/// The normal dependencies of `vimport`, all the way down, with the given
/// feature arguments (`cargo tree` reads the lock file; nothing is built).
fn tree(features: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "--offline", "-p", "vimport", "-e", "normal"])
        .args(["--prefix", "none", "--format", "{p}"])
        .args(features)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("cargo tree prints UTF-8")
}

fn has(tree: &str, name: &str) -> bool {
    tree.lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

#[test]
fn without_default_features_the_cli_links_no_test_kit() {
    let lean = tree(&["--no-default-features"]);
    assert!(has(&lean, "import-server"), "the server stays: {lean}");
    for name in ["import-testkit", "s3s", "s3s-fs"] {
        assert!(!has(&lean, name), "`{name}` is linked without `demo`");
    }
    let full = tree(&[]);
    assert!(has(&full, "import-testkit"), "the demo needs the test kit");
    assert!(has(&full, "s3s-fs"), "the demo's bucket is s3s-fs");
}
