//! `cargo xtask release`: cut a release, or check that one could be cut.
//!
//! - `cargo xtask release VERSION` bumps `[workspace.package] version` and the
//!   version of every path dependency in `[workspace.dependencies]` of the root
//!   `Cargo.toml`, moves what `## [Unreleased]` of `CHANGELOG.md` holds under a
//!   new `## [VERSION] - YYYY-MM-DD` below it (Keep a Changelog's form; the
//!   commit subjects since the last `release:` commit when it holds nothing),
//!   leaving `[Unreleased]` on top and empty, regenerates
//!   the generated files (the OpenAPI document carries the version), and runs
//!   `cargo publish --workspace --dry-run`. It commits, tags and publishes
//!   nothing: it prints those commands for a person to run.
//! - `cargo xtask release --check [VERSION]` changes nothing: every published
//!   crate has the workspace version, every path dependency asks for it,
//!   `CHANGELOG.md` exists, VERSION (if given) is above the current one, and
//!   `cargo package --workspace --no-verify` can package every published crate
//!   (`publish = false` crates such as xtask are excluded: `cargo publish`
//!   skips them, `cargo package` would not).
//!
//! The root `Cargo.toml` is edited with `toml_edit`, so its layout and
//! comments stay as they are; versions are `semver` versions. The reading,
//! editing and rendering are pure functions with unit tests below.

use std::fmt;
use std::fs;
use std::ops::Range;
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, anyhow, bail};
use semver::Version;
use toml_edit::{Document, Item, Value};

use crate::{cargo, project_root, run_command, show};

/// The first lines of a new `CHANGELOG.md`, in the form of Keep a Changelog.
const CHANGELOG_HEADER: &str = "\
# Changelog

All notable changes to this project are documented in this file. The format is based on
[Keep a Changelog](https://keepachangelog.com/en/1.1.0/), and versions follow
[Semantic Versioning](https://semver.org/spec/v2.0.0.html).

## [Unreleased]
";

/// The heading of the changes not yet released, which stays on top.
const UNRELEASED_HEADING: &str = "## [Unreleased]";

/// Commit subjects that start with this mark a release; the changelog of the
/// next one starts after the newest of them.
const RELEASE_COMMIT_PREFIX: &str = "release:";

/// `cargo xtask release VERSION`.
pub(crate) fn release(version: &str) -> anyhow::Result<()> {
    let root = project_root();
    let manifest_path = root.join("Cargo.toml");
    let manifest = read(&manifest_path)?;
    let new = parse_version(version)?;
    let Preflight { current, .. } = preflight(&manifest, Some(&new))?;

    let log = capture(Command::new("git").args(["log", "--no-merges", "--format=%s"]))?;
    let subjects = subjects_since_release(&log);
    let changelog_path = root.join("CHANGELOG.md");
    let old_changelog = match fs::read_to_string(&changelog_path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).context("could not read CHANGELOG.md"),
    };
    let section = changelog_section(&new, &today_utc(), &subjects);
    let changelog = add_changelog_section(old_changelog.as_deref(), &new, &today_utc(), &section)?;
    let bumped = bump_manifest(&manifest, &new)?;

    fs::write(&manifest_path, bumped).context("could not write Cargo.toml")?;
    println!("updated Cargo.toml: {current} -> {new}");
    fs::write(&changelog_path, changelog).context("could not write CHANGELOG.md")?;
    println!(
        "updated CHANGELOG.md: {} commit(s) under `## {new}`",
        subjects.len()
    );

    let undo = "Cargo.toml, Cargo.lock and CHANGELOG.md already carry the new version; \
                `git diff` shows the changes, `git checkout` undoes them";
    // A new process: the OpenAPI document embeds the version the code was
    // compiled with, so this xtask binary would still write the old one.
    run_command(cargo().args(["xtask", "codegen"])).context(undo)?;
    run_command(cargo().args(["publish", "--workspace", "--dry-run", "--allow-dirty"]))
        .context(undo)?;

    println!(
        "\nrelease {new} is ready. Review the changes and CHANGELOG.md, then:\n\
         \x20 git add Cargo.toml Cargo.lock CHANGELOG.md docs\n\
         \x20 git commit -m \"{RELEASE_COMMIT_PREFIX} {new}\"\n\
         \x20 git tag v{new}\n\
         \x20 cargo publish --workspace"
    );
    Ok(())
}

/// `cargo xtask release --check [VERSION]`.
pub(crate) fn check(version: Option<&str>) -> anyhow::Result<()> {
    let root = project_root();
    let manifest = read(&root.join("Cargo.toml"))?;
    let new = version.map(parse_version).transpose()?;
    let Preflight {
        current,
        unpublished,
    } = preflight(&manifest, new.as_ref())?;
    if !root.join("CHANGELOG.md").is_file() {
        bail!("CHANGELOG.md is missing: create it (`cargo xtask release VERSION` writes one)");
    }
    let mut package = cargo();
    package.args(["package", "--workspace", "--no-verify", "--allow-dirty"]);
    for name in &unpublished {
        package.args(["--exclude", name]);
    }
    run_command(&mut package)?;
    match new {
        Some(new) => println!("release check passed: {current} is consistent; {new} can follow"),
        None => println!("release check passed: {current} is consistent"),
    }
    Ok(())
}

/// What [`preflight`] found.
struct Preflight {
    /// `[workspace.package] version`.
    current: Version,
    /// The workspace crates with `publish = false`.
    unpublished: Vec<String>,
}

/// What both commands check before anything runs: the root manifest and
/// `cargo metadata` agree on one version, and `new` (if any) is above it.
fn preflight(manifest: &str, new: Option<&Version>) -> anyhow::Result<Preflight> {
    let current = workspace_version(manifest)?;
    if let Some(new) = new
        && *new <= current
    {
        bail!("{new} is not above the current version {current}");
    }
    let mut problems = manifest_problems(manifest, &current)?;
    let metadata = capture(cargo().args(["metadata", "--format-version", "1", "--no-deps"]))?;
    let metadata: serde_json::Value =
        serde_json::from_str(&metadata).context("could not parse `cargo metadata` output")?;
    problems.extend(metadata_problems(&metadata, &current));
    if !problems.is_empty() {
        bail!(
            "the versions are not consistent:\n  - {}",
            problems.join("\n  - ")
        );
    }
    let unpublished = members(&metadata)
        .filter(|p| !is_published(p))
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    Ok(Preflight {
        current,
        unpublished,
    })
}

fn read(path: &std::path::Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("could not read `{}`", path.display()))
}

/// Print a command, run it in the workspace root, and answer its standard
/// output; fail with its standard error otherwise.
fn capture(cmd: &mut Command) -> anyhow::Result<String> {
    cmd.current_dir(project_root());
    let shown = show(cmd);
    println!("$ {shown}");
    let output = cmd
        .output()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !output.status.success() {
        bail!(
            "`{shown}` failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
    }
    String::from_utf8(output.stdout).with_context(|| format!("`{shown}` printed invalid UTF-8"))
}

// ---------------------------------------------------------------------------
// Versions

/// A release version: `MAJOR.MINOR.PATCH` with an optional `-PRE` part, as
/// semantic versioning defines them (build metadata, `+...`, is refused).
/// `semver` orders them by precedence: `1.0.0-rc.1 < 1.0.0 < 1.0.1`.
fn parse_version(s: &str) -> anyhow::Result<Version> {
    let invalid = |why: &dyn fmt::Display| {
        anyhow!(
            "`{s}` is not a release version ({why}): expected MAJOR.MINOR.PATCH or \
             MAJOR.MINOR.PATCH-PRE, for example 0.2.0 or 0.2.0-rc.1"
        )
    };
    let version = Version::parse(s).map_err(|e| invalid(&e))?;
    if !version.build.is_empty() {
        return Err(invalid(&"build metadata is not allowed"));
    }
    Ok(version)
}

// ---------------------------------------------------------------------------
// The root Cargo.toml

/// Where a version string sits in the root manifest.
#[derive(Debug, PartialEq, Eq)]
enum VersionSite {
    /// `[workspace.package] version = "..."`.
    Workspace,
    /// `name = { path = "...", version = "..." }` in `[workspace.dependencies]`
    /// (or a `[workspace.dependencies.name]` table).
    PathDependency(String),
}

/// One version string of the root manifest: what it belongs to, and its value.
#[derive(Debug)]
struct Site {
    kind: VersionSite,
    value: String,
}

/// The root manifest, parsed with the byte spans kept (for line numbers in
/// messages); `into_mut` makes it editable with every other byte kept.
fn parse_manifest(manifest: &str) -> anyhow::Result<Document<&str>> {
    Document::parse(manifest).map_err(|e| anyhow!("Cargo.toml is not valid TOML: {e}"))
}

/// `Cargo.toml:LINE` for an item that came from `manifest`.
fn location(manifest: &str, span: Option<Range<usize>>) -> String {
    match span {
        Some(span) => {
            let line = manifest
                .get(..span.start)
                .unwrap_or(manifest)
                .lines()
                .count()
                + 1;
            format!("Cargo.toml:{line}")
        }
        None => "Cargo.toml".to_owned(),
    }
}

/// `key` of the table (or inline table) `item`, if both exist.
fn table<'a>(item: Option<&'a Item>, key: &str) -> Option<&'a Item> {
    item.and_then(Item::as_table_like)
        .and_then(|table| table.get(key))
}

/// Every version string the release touches, plus the path dependencies that
/// have none (as problems). Fails on a version that is not a string and on
/// `[workspace.dependencies]` that is not a table.
fn version_sites(doc: &Document<&str>) -> anyhow::Result<(Vec<Site>, Vec<String>)> {
    let manifest = doc.raw();
    let mut sites = Vec::new();
    let mut problems = Vec::new();
    let workspace = doc.get("workspace");
    if let Some(version) = table(workspace, "package").and_then(|p| table(Some(p), "version")) {
        let value = version.as_str().with_context(|| {
            format!(
                "{}: `[workspace.package] version` is not a string",
                location(manifest, version.span())
            )
        })?;
        sites.push(Site {
            kind: VersionSite::Workspace,
            value: value.to_owned(),
        });
    }
    let Some(dependencies) = table(workspace, "dependencies") else {
        return Ok((sites, problems));
    };
    let dependencies = dependencies.as_table_like().with_context(|| {
        format!(
            "{}: `[workspace.dependencies]` is not a table",
            location(manifest, dependencies.span())
        )
    })?;
    for (key, dependency) in dependencies.iter() {
        let Some(entries) = dependency.as_table_like() else {
            continue;
        };
        if !entries.contains_key("path") {
            continue;
        }
        let at = location(
            manifest,
            dependencies
                .get_key_value(key)
                .and_then(|(key, _)| key.span()),
        );
        match entries.get("version") {
            Some(version) => {
                let value = version
                    .as_str()
                    .with_context(|| format!("{at}: the version of `{key}` is not a string"))?;
                sites.push(Site {
                    kind: VersionSite::PathDependency(key.to_owned()),
                    value: value.to_owned(),
                });
            }
            None => problems.push(format!(
                "{at}: the path dependency `{key}` has no `version` \
                 (a published crate needs one)"
            )),
        }
    }
    Ok((sites, problems))
}

/// `[workspace.package] version` of the root manifest.
fn workspace_version(manifest: &str) -> anyhow::Result<Version> {
    let (sites, _) = version_sites(&parse_manifest(manifest)?)?;
    let site = sites
        .iter()
        .find(|s| s.kind == VersionSite::Workspace)
        .context("Cargo.toml has no `version` in `[workspace.package]`")?;
    parse_version(&site.value).context("Cargo.toml: `[workspace.package] version`")
}

/// What is wrong with the root manifest's versions: path dependencies without
/// a version, or with another one than `current`.
fn manifest_problems(manifest: &str, current: &Version) -> anyhow::Result<Vec<String>> {
    let (sites, mut problems) = version_sites(&parse_manifest(manifest)?)?;
    for site in &sites {
        if let VersionSite::PathDependency(name) = &site.kind
            && site.value != current.to_string()
        {
            problems.push(format!(
                "Cargo.toml: `[workspace.dependencies] {name}` asks for version {}, \
                 the workspace is {current}",
                site.value
            ));
        }
    }
    Ok(problems)
}

/// The root manifest with `new` as the workspace version and as the version
/// of every path dependency in `[workspace.dependencies]`; every other byte
/// (layout, comments, the decoration around each value) as it was.
fn bump_manifest(manifest: &str, new: &Version) -> anyhow::Result<String> {
    let doc = parse_manifest(manifest)?;
    let (sites, problems) = version_sites(&doc)?;
    if let Some(problem) = problems.first() {
        bail!("{problem}");
    }
    if !sites.iter().any(|s| s.kind == VersionSite::Workspace) {
        bail!("Cargo.toml has no `version` in `[workspace.package]`");
    }
    let new = new.to_string();
    let mut doc = doc.into_mut();
    for site in &sites {
        let path: &[&str] = match &site.kind {
            VersionSite::Workspace => &["workspace", "package", "version"],
            VersionSite::PathDependency(name) => &["workspace", "dependencies", name, "version"],
        };
        let mut item = doc.as_item_mut();
        for key in path {
            item = item
                .as_table_like_mut()
                .and_then(|table| table.get_mut(key))
                .with_context(|| format!("Cargo.toml: `{}` went missing", path.join(".")))?;
        }
        let value = item
            .as_value_mut()
            .with_context(|| format!("Cargo.toml: `{}` is not a value", path.join(".")))?;
        let decor = value.decor().clone();
        *value = Value::from(new.as_str());
        *value.decor_mut() = decor;
    }
    Ok(doc.to_string())
}

/// The workspace's own packages in `cargo metadata` output.
fn members(metadata: &serde_json::Value) -> impl Iterator<Item = &serde_json::Value> {
    let ids: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str())
        .collect();
    metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |p| p["id"].as_str().is_some_and(|id| ids.contains(&id)))
}

/// Whether a package may be published: its `publish` is `null` (any
/// registry) or a non-empty list (`publish = false` gives `[]`).
fn is_published(package: &serde_json::Value) -> bool {
    package["publish"]
        .as_array()
        .is_none_or(|registries| !registries.is_empty())
}

/// What `cargo metadata --no-deps` says is inconsistent: a published
/// workspace crate with another version than `current`, or depending on a
/// path crate without asking for `current`. `publish = false` crates are
/// never packaged, so they are skipped.
fn metadata_problems(metadata: &serde_json::Value, current: &Version) -> Vec<String> {
    let current = current.to_string();
    let mut problems = Vec::new();
    for package in members(metadata).filter(|p| is_published(p)) {
        let name = package["name"].as_str().unwrap_or("?");
        let version = package["version"].as_str().unwrap_or("?");
        if version != current {
            problems.push(format!(
                "crate `{name}` has version {version}, the workspace is {current} \
                 (use `version.workspace = true`)"
            ));
        }
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            if dep["path"].is_null() {
                continue;
            }
            let dep_name = dep["name"].as_str().unwrap_or("?");
            let req = dep["req"].as_str().unwrap_or("*");
            let dev = dep["kind"].as_str() == Some("dev");
            if req == "*" {
                // cargo drops a dev-dependency without a version when packaging.
                if !dev {
                    problems.push(format!(
                        "crate `{name}` depends on `{dep_name}` by path without a version"
                    ));
                }
            } else if req != format!("^{current}") && req != format!("={current}") {
                problems.push(format!(
                    "crate `{name}` asks for `{dep_name}` {req}, the workspace is {current}"
                ));
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------
// The changelog

/// The subjects of `git log --format=%s` (newest first) down to the newest
/// `release:` commit, which is left out; all of them if there is none.
fn subjects_since_release(log: &str) -> Vec<&str> {
    log.lines()
        .map(str::trim)
        .take_while(|s| !s.starts_with(RELEASE_COMMIT_PREFIX))
        .filter(|s| !s.is_empty())
        .collect()
}

/// `## [VERSION] - DATE` and one bullet per commit subject, for a release
/// whose `[Unreleased]` section says nothing.
fn changelog_section(version: &Version, date: &str, subjects: &[&str]) -> String {
    let mut out = format!("{}\n\n", release_heading(version, date));
    if subjects.is_empty() {
        out.push_str("- No changes since the previous release.\n");
    }
    for subject in subjects {
        out.push_str(&format!("- {subject}\n"));
    }
    out
}

/// `## [VERSION] - DATE`.
fn release_heading(version: &Version, date: &str) -> String {
    format!("## [{version}] - {date}")
}

/// The changelog with `version` released: what `## [Unreleased]` held moves
/// under a new `## [VERSION] - DATE` below it, and the `[Unreleased]` heading
/// stays on top, empty. When `[Unreleased]` holds nothing, the release's
/// section is `fallback` (the commit subjects). A changelog without that
/// heading gets one; a missing changelog is created. Refuses a version that
/// already has a section.
fn add_changelog_section(
    existing: Option<&str>,
    version: &Version,
    date: &str,
    fallback: &str,
) -> anyhow::Result<String> {
    let existing = existing.unwrap_or(CHANGELOG_HEADER);
    let taken = |l: &str| {
        let l = l.trim_end();
        l.starts_with(&format!("## [{version}]"))
            || l.starts_with(&format!("## {version} "))
            || l == format!("## {version}")
    };
    if existing.lines().any(taken) {
        bail!("CHANGELOG.md already has a section for {version}");
    }
    // Headings start a line: the offset of each `## ` that does.
    let headings: Vec<usize> = existing
        .match_indices("## ")
        .map(|(i, _)| i)
        .filter(|&i| i == 0 || existing[..i].ends_with('\n'))
        .collect();
    let unreleased = headings
        .iter()
        .position(|&i| existing[i..].lines().next().map(str::trim_end) == Some(UNRELEASED_HEADING));
    let (before, body, after) = match unreleased {
        Some(n) => {
            let start = headings[n];
            let body_start = existing[start..]
                .find('\n')
                .map_or(existing.len(), |j| start + j + 1);
            let end = headings.get(n + 1).copied().unwrap_or(existing.len());
            (
                &existing[..start],
                &existing[body_start..end],
                &existing[end..],
            )
        }
        None => match headings.first() {
            Some(&first) => (&existing[..first], "", &existing[first..]),
            None => (existing, "", ""),
        },
    };
    let section = match body.trim() {
        "" => fallback.trim_end().to_owned(),
        held => format!("{}\n\n{held}", release_heading(version, date)),
    };
    let before = before.trim_end();
    let mut out = format!("{before}\n\n{UNRELEASED_HEADING}\n\n{section}\n");
    if !after.is_empty() {
        out.push('\n');
        out.push_str(after);
    }
    Ok(out)
}

/// Today's date in UTC, `YYYY-MM-DD`.
fn today_utc() -> String {
    date_of(SystemTime::now())
}

/// The UTC date of `time`, `YYYY-MM-DD`: the date part of its RFC 3339 form.
fn date_of(time: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_seconds(time).to_string();
    match stamp.split_once('T') {
        Some((date, _)) => date.to_owned(),
        None => stamp,
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn v(s: &str) -> Version {
        parse_version(s).unwrap()
    }

    #[test]
    fn versions_parse_and_print_back() {
        for s in [
            "0.1.0",
            "1.20.300",
            "0.2.0-rc.1",
            "1.0.0-alpha-2.x.0",
            "0.0.0",
        ] {
            assert_eq!(v(s).to_string(), s);
        }
    }

    #[test]
    fn malformed_versions_are_refused_with_the_expected_form() {
        for s in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "v1.2.3",
            "01.2.3",
            "1.02.3",
            "1.2.3-",
            "1.2.3-rc..1",
            "1.2.3-rc.01",
            "1.2.3-ü",
            "1.2.3+build",
            " 1.2.3",
            "1.2.x",
        ] {
            let err = parse_version(s).unwrap_err().to_string();
            assert!(err.contains("MAJOR.MINOR.PATCH"), "{s:?}: {err}");
        }
    }

    #[test]
    fn versions_sort_by_semver_precedence() {
        let ordered = [
            "0.1.0",
            "0.1.1",
            "0.2.0-alpha",
            "0.2.0-alpha.1",
            "0.2.0-alpha.beta",
            "0.2.0-beta",
            "0.2.0-beta.2",
            "0.2.0-beta.11",
            "0.2.0-rc.1",
            "0.2.0",
            "0.10.0",
            "1.0.0",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0.0").cmp(&v("1.0.0")), Ordering::Equal);
    }

    const MANIFEST: &str = r#"[workspace]
members = ["crates/*", "xtask"]

[workspace.package]
version = "0.1.0"   # the release version
edition = "2024"

[workspace.dependencies]
import-core = { path = "crates/import-core", version = "0.1.0" }
serde = { version = "1", default-features = false, features = ["std", "derive"] }
"import-server" = { version = "0.1.0", path = "crates/import-server", features = ["a,b"] }
# version = "0.1.0" in a comment stays
tokio = "1"

[profile.release]
debug = "line-tables-only"
"#;

    #[test]
    fn the_workspace_version_is_read() {
        assert_eq!(workspace_version(MANIFEST).unwrap(), v("0.1.0"));
    }

    #[test]
    fn a_bump_changes_the_workspace_and_path_dependency_versions_only() {
        let bumped = bump_manifest(MANIFEST, &v("0.2.0-rc.1")).unwrap();
        let expected = MANIFEST
            .replace("version = \"0.1.0\"   #", "version = \"0.2.0-rc.1\"   #")
            .replace(
                "import-core\", version = \"0.1.0\"",
                "import-core\", version = \"0.2.0-rc.1\"",
            )
            .replace(
                "{ version = \"0.1.0\", path",
                "{ version = \"0.2.0-rc.1\", path",
            );
        assert_eq!(bumped, expected);
        assert_eq!(workspace_version(&bumped).unwrap(), v("0.2.0-rc.1"));
        assert!(
            manifest_problems(&bumped, &v("0.2.0-rc.1"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn the_real_manifest_can_be_bumped() {
        let manifest = fs::read_to_string(project_root().join("Cargo.toml")).unwrap();
        let current = workspace_version(&manifest).unwrap();
        assert!(manifest_problems(&manifest, &current).unwrap().is_empty());
        let bumped = bump_manifest(&manifest, &v("99.0.0")).unwrap();
        assert_eq!(workspace_version(&bumped).unwrap(), v("99.0.0"));
        let changed = manifest
            .lines()
            .zip(bumped.lines())
            .filter(|(a, b)| a != b)
            .count();
        let path_deps = manifest
            .lines()
            .filter(|l| l.contains("path = \"crates/"))
            .count();
        assert_eq!(changed, 1 + path_deps);
    }

    #[test]
    fn mismatched_or_missing_path_dependency_versions_are_problems() {
        let manifest = MANIFEST
            .replace(
                "import-core\", version = \"0.1.0\"",
                "import-core\", version = \"0.0.9\"",
            )
            .replace(
                "tokio = \"1\"",
                "import-testkit = { path = \"crates/import-testkit\" }",
            );
        let problems = manifest_problems(&manifest, &v("0.1.0")).unwrap();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("`import-testkit` has no `version`"));
        assert!(problems[1].contains("import-core` asks for version 0.0.9"));
        assert!(bump_manifest(&manifest, &v("0.2.0")).is_err());
    }

    #[test]
    fn a_dependency_table_of_its_own_is_bumped_too() {
        let dotted = format!(
            "{MANIFEST}\n[workspace.dependencies.foo]\npath = \"x\"  # foo\nversion = \"0.1.0\"\n"
        );
        let bumped = bump_manifest(&dotted, &v("0.2.0")).unwrap();
        assert!(
            bumped.ends_with("path = \"x\"  # foo\nversion = \"0.2.0\"\n"),
            "{bumped}"
        );
        assert!(manifest_problems(&bumped, &v("0.2.0")).unwrap().is_empty());
    }

    #[test]
    fn what_toml_edit_refuses_is_an_error() {
        let open = MANIFEST.replace(
            "import-core = { path = \"crates/import-core\", version = \"0.1.0\" }",
            "import-core = { path = \"crates/import-core\",",
        );
        let err = bump_manifest(&open, &v("0.2.0")).unwrap_err().to_string();
        assert!(err.contains("Cargo.toml is not valid TOML"), "{err}");
        assert!(workspace_version(&open).is_err());

        let number = MANIFEST.replace(
            "import-core\", version = \"0.1.0\"",
            "import-core\", version = 1",
        );
        let err = bump_manifest(&number, &v("0.2.0")).unwrap_err().to_string();
        assert!(
            err.contains("Cargo.toml:9: the version of `import-core` is not a string"),
            "{err}"
        );

        let none = "[workspace]\nmembers = []\n";
        assert!(workspace_version(none).is_err());
        assert!(bump_manifest(none, &v("0.2.0")).is_err());
    }

    fn metadata(publish: &str, version: &str, req: &str, kind: &str) -> serde_json::Value {
        serde_json::from_str(&format!(
            r#"{{
              "workspace_members": ["a-id", "x-id"],
              "packages": [
                {{ "id": "a-id", "name": "a", "version": "{version}", "publish": {publish},
                   "dependencies": [
                     {{ "name": "core", "req": "{req}", "kind": {kind}, "path": "/w/crates/core" }},
                     {{ "name": "serde", "req": "^1", "kind": null }}
                   ] }},
                {{ "id": "x-id", "name": "xtask", "version": "0.0.1", "publish": [],
                   "dependencies": [ {{ "name": "a", "req": "*", "kind": null, "path": "/w/a" }} ] }}
              ]
            }}"#
        ))
        .unwrap()
    }

    #[test]
    fn published_crates_must_carry_the_workspace_version() {
        let current = v("0.1.0");
        assert!(
            metadata_problems(&metadata("null", "0.1.0", "^0.1.0", "null"), &current).is_empty()
        );
        // A dev-dependency without a version is dropped by cargo: fine.
        assert!(metadata_problems(&metadata("null", "0.1.0", "*", "\"dev\""), &current).is_empty());

        let problems = metadata_problems(&metadata("null", "0.1.1", "^0.0.9", "null"), &current);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("`a` has version 0.1.1"));
        assert!(problems[1].contains("asks for `core` ^0.0.9"));

        let problems = metadata_problems(&metadata("null", "0.1.0", "*", "null"), &current);
        assert!(
            problems[0].contains("by path without a version"),
            "{problems:?}"
        );

        // `publish = false`: never packaged, never checked.
        let unpublished = metadata("[]", "9.9.9", "*", "null");
        assert!(metadata_problems(&unpublished, &current).is_empty());
        let names: Vec<_> = members(&unpublished)
            .filter(|p| !is_published(p))
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a", "xtask"]);
    }

    #[test]
    fn the_changelog_lists_the_subjects_since_the_last_release() {
        let log = "fix paging\n\nadd retries\nrelease: 0.1.0\nolder\n";
        assert_eq!(subjects_since_release(log), ["fix paging", "add retries"]);
        assert_eq!(subjects_since_release("a\nb\n"), ["a", "b"]);
        assert!(subjects_since_release("release: 0.1.0\na\n").is_empty());

        let section = changelog_section(&v("0.2.0"), "2026-05-04", &["fix paging", "add retries"]);
        assert_eq!(
            section,
            "## [0.2.0] - 2026-05-04\n\n- fix paging\n- add retries\n"
        );
        assert!(changelog_section(&v("0.2.0"), "2026-05-04", &[]).contains("No changes"));
    }

    #[test]
    fn a_release_takes_what_unreleased_holds_and_leaves_it_on_top() {
        let fallback = |v: &str| format!("## [{v}] - d\n\n- subject\n");
        // A new changelog: the commit subjects, under an empty [Unreleased].
        let first = add_changelog_section(None, &v("0.1.0"), "d", &fallback("0.1.0")).unwrap();
        assert!(
            first.ends_with("## [Unreleased]\n\n## [0.1.0] - d\n\n- subject\n"),
            "{first}"
        );
        assert!(first.starts_with("# Changelog\n"), "{first}");

        // Notes under [Unreleased] become the release's, the subjects unused.
        let noted = first.replace(
            "## [Unreleased]\n",
            "## [Unreleased]\n\n### Added\n\n- webhooks\n",
        );
        let second =
            add_changelog_section(Some(&noted), &v("0.2.0"), "2027-01-02", &fallback("0.2.0"))
                .unwrap();
        let top = second.find("## [Unreleased]").unwrap();
        let new = second.find("## [0.2.0] - 2027-01-02").unwrap();
        let old = second.find("## [0.1.0] - d").unwrap();
        assert!(top < new && new < old, "{second}");
        assert!(
            second.contains("## [0.2.0] - 2027-01-02\n\n### Added\n\n- webhooks\n\n## [0.1.0]"),
            "{second}"
        );
        assert!(!second.contains("- subject\n\n## [0.1.0]"), "{second}");
        assert_eq!(second.matches("## [Unreleased]").count(), 1);

        let err = add_changelog_section(Some(&second), &v("0.2.0"), "x", &fallback("0.2.0"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("already has a section for 0.2.0"), "{err}");
        // `0.2.0` is not mistaken for `0.2.0-rc.1`.
        assert!(
            add_changelog_section(
                Some(&second),
                &v("0.2.0-rc.1"),
                "x",
                &fallback("0.2.0-rc.1")
            )
            .is_ok()
        );
        // A changelog of the older form, without [Unreleased], gets one.
        let old_form = "# Changelog\n\n## 0.1.0 - d\n\n- a\n";
        let third =
            add_changelog_section(Some(old_form), &v("0.2.0"), "e", &fallback("0.2.0")).unwrap();
        assert_eq!(
            third,
            "# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - d\n\n- subject\n\n## 0.1.0 - d\n\n- a\n"
        );
    }

    #[test]
    fn dates_are_computed_in_utc() {
        let date_of = |days: u64| date_of(UNIX_EPOCH + Duration::from_secs(days * 86_400));
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(31), "1970-02-01");
        assert_eq!(date_of(365 + 365 + 31 + 28), "1972-02-29");
        assert_eq!(date_of(10_957), "2000-01-01");
        assert_eq!(date_of(11_016), "2000-02-29");
        assert_eq!(date_of(20_454), "2026-01-01");
        assert_eq!(date_of(20_512), "2026-02-28");
        assert_eq!(date_of(20_513), "2026-03-01");
        assert_eq!(date_of(20_818), "2026-12-31");
        // The last second of a day is still that day.
        assert_eq!(
            super::date_of(UNIX_EPOCH + Duration::from_secs(86_400 - 1)),
            "1970-01-01"
        );
    }
}
