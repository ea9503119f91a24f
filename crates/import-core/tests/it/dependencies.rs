//! The core stays pure: its normal dependencies are an allow-list of crates that
//! do no I/O and start no runtime.

use std::process::Command;

const ALLOWED: &[&str] = &[
    "serde",
    "serde_json",
    "thiserror",
    "http",
    "httpdate",
    // RFC 3339 times (`created_after` of the job list): pure formatting and parsing.
    "humantime",
];
/// Allowed only as optional dependencies behind a feature.
const OPTIONAL: &[&str] = &["utoipa"];

#[test]
fn normal_dependencies_stay_on_the_allow_list() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let core = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "import-core")
        .expect("import-core in the workspace");
    let mut checked = 0;
    for dep in core["dependencies"].as_array().unwrap() {
        if !dep["kind"].is_null() {
            continue; // dev- and build-dependencies
        }
        let name = dep["name"].as_str().unwrap();
        let optional = dep["optional"].as_bool().unwrap_or(false);
        assert!(
            ALLOWED.contains(&name) || (optional && OPTIONAL.contains(&name)),
            "import-core must stay pure, but depends on `{name}`; move I/O to a driver crate"
        );
        checked += 1;
    }
    assert!(
        checked >= ALLOWED.len(),
        "found only {checked} normal dependencies"
    );
}
