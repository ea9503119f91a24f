//! `cargo xtask release`: cut a release, or check that one could be cut.
//!
//! - `cargo xtask release VERSION` bumps `[workspace.package] version` and the
//!   version of every path dependency in `[workspace.dependencies]` of the root
//!   `Cargo.toml`, adds a `## VERSION - YYYY-MM-DD` section listing the commit
//!   subjects since the last `release:` commit to `CHANGELOG.md`, regenerates
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
//! The root `Cargo.toml` is edited as text, line by line, so its layout and
//! comments stay as they are; the parsing and rendering are pure functions
//! with unit tests below.

use std::cmp::Ordering;
use std::fmt;
use std::fs;
use std::ops::Range;
use std::process::Command;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use crate::{cargo, project_root, run_command, show};

/// The first lines of a new `CHANGELOG.md`.
const CHANGELOG_HEADER: &str = "\
# Changelog

Newest first. `cargo xtask release VERSION` adds each section with the
subjects of the commits since the previous release; edit them as you like
before committing the release.
";

/// Commit subjects that start with this mark a release; the changelog of the
/// next one starts after the newest of them.
const RELEASE_COMMIT_PREFIX: &str = "release:";

/// `cargo xtask release VERSION`.
pub(crate) fn release(version: &str) -> anyhow::Result<()> {
    let root = project_root();
    let manifest_path = root.join("Cargo.toml");
    let manifest = read(&manifest_path)?;
    let new: Version = version.parse()?;
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
    let changelog = add_changelog_section(old_changelog.as_deref(), &new, &section)?;
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
    let new = version.map(str::parse::<Version>).transpose()?;
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
/// Ordered by semver precedence: `1.0.0-rc.1 < 1.0.0 < 1.0.1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    /// Empty for a release.
    pre: Vec<PreId>,
}

/// One dot-separated identifier of a pre-release. Numeric identifiers sort
/// below alphanumeric ones, which the variant order gives to the derived `Ord`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum PreId {
    Numeric(u64),
    Alphanumeric(String),
}

impl FromStr for Version {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        let invalid = |why: &str| {
            anyhow::anyhow!(
                "`{s}` is not a release version ({why}): expected MAJOR.MINOR.PATCH or \
                 MAJOR.MINOR.PATCH-PRE, for example 0.2.0 or 0.2.0-rc.1"
            )
        };
        if s.contains('+') {
            return Err(invalid("build metadata is not allowed"));
        }
        let (core, pre) = match s.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (s, None),
        };
        let numbers = core
            .split('.')
            .map(|part| {
                number(part).ok_or_else(|| invalid("each number is digits, no leading zero"))
            })
            .collect::<anyhow::Result<Vec<u64>>>()?;
        let [major, minor, patch] = numbers[..] else {
            return Err(invalid("three numbers"));
        };
        let pre = match pre {
            None => Vec::new(),
            Some(pre) => pre
                .split('.')
                .map(|id| {
                    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    {
                        Err(invalid("pre-release identifiers are [0-9A-Za-z-]+"))
                    } else if id.bytes().all(|b| b.is_ascii_digit()) {
                        number(id)
                            .map(PreId::Numeric)
                            .ok_or_else(|| invalid("numeric identifiers have no leading zero"))
                    } else {
                        Ok(PreId::Alphanumeric(id.to_owned()))
                    }
                })
                .collect::<anyhow::Result<_>>()?,
        };
        Ok(Self {
            major,
            minor,
            patch,
            pre,
        })
    }
}

/// A semver number: ASCII digits, no leading zero (but `0` itself).
fn number(s: &str) -> Option<u64> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                // A pre-release comes before its release.
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                // Identifier by identifier; a longer list wins a tie.
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        for (i, id) in self.pre.iter().enumerate() {
            f.write_str(if i == 0 { "-" } else { "." })?;
            match id {
                PreId::Numeric(n) => write!(f, "{n}")?,
                PreId::Alphanumeric(s) => f.write_str(s)?,
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The root Cargo.toml, as lines

/// Where a version string sits in the root manifest.
#[derive(Debug, PartialEq, Eq)]
enum VersionSite {
    /// `[workspace.package] version = "..."`.
    Workspace,
    /// `name = { path = "...", version = "..." }` in `[workspace.dependencies]`.
    PathDependency(String),
}

/// One version string of the root manifest: what it belongs to, and the byte
/// range of its value (inside the quotes) in the manifest.
#[derive(Debug)]
struct Site {
    kind: VersionSite,
    value: Range<usize>,
}

/// Every version string the release touches, plus the path dependencies that
/// have none (as problems). Fails on what this line reader cannot follow.
fn version_sites(manifest: &str) -> anyhow::Result<(Vec<Site>, Vec<String>)> {
    let mut sites = Vec::new();
    let mut problems = Vec::new();
    let mut section = String::new();
    let mut offset = 0;
    for (index, line) in manifest.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim();
        let number = index + 1;
        if let Some(header) = trimmed.strip_prefix('[')
            && !trimmed.starts_with("[[")
        {
            section = header
                .split(']')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned();
            if section.starts_with("workspace.dependencies.") {
                bail!(
                    "Cargo.toml:{number}: `[{section}]`: write workspace dependencies as \
                     one-line inline tables (`name = {{ path = \"...\", version = \"...\" }}`)"
                );
            }
            continue;
        }
        let Some((key, value)) = key_value(line) else {
            continue;
        };
        match section.as_str() {
            "workspace.package" if key == "version" => {
                let value = string_value(line, value).with_context(|| {
                    format!("Cargo.toml:{number}: `[workspace.package] version` is not a string")
                })?;
                sites.push(Site {
                    kind: VersionSite::Workspace,
                    value: start + value.start..start + value.end,
                });
            }
            "workspace.dependencies" if line[value.clone()].starts_with('{') => {
                let entries = inline_table(line, value.start).with_context(|| {
                    format!(
                        "Cargo.toml:{number}: the inline table of `{key}` does not close on its line"
                    )
                })?;
                if !entries.iter().any(|(k, _)| *k == "path") {
                    continue;
                }
                match entries.iter().find(|(k, _)| *k == "version") {
                    Some((_, range)) => {
                        let value = string_value(line, range.clone()).with_context(|| {
                            format!("Cargo.toml:{number}: the version of `{key}` is not a string")
                        })?;
                        sites.push(Site {
                            kind: VersionSite::PathDependency(key.to_owned()),
                            value: start + value.start..start + value.end,
                        });
                    }
                    None => problems.push(format!(
                        "Cargo.toml:{number}: the path dependency `{key}` has no `version` \
                         (a published crate needs one)"
                    )),
                }
            }
            _ => {}
        }
    }
    Ok((sites, problems))
}

/// `key = value` on one line: the bare key and the byte range of the value
/// (trimmed, a trailing comment excluded only for inline tables and strings,
/// which is all this reader looks at).
fn key_value(line: &str) -> Option<(&str, Range<usize>)> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') {
        return None;
    }
    let eq = line.find('=')?;
    let key = line[..eq].trim();
    let key = key.trim_matches('"');
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return None;
    }
    let rest = &line[eq + 1..];
    let value_start = eq + 1 + (rest.len() - rest.trim_start().len());
    let value_end = eq + 1 + rest.trim_end().len();
    Some((key, value_start..value_end.max(value_start)))
}

/// The range inside the quotes of a basic string that starts `value`.
fn string_value(line: &str, value: Range<usize>) -> Option<Range<usize>> {
    let text = &line[value.clone()];
    let inner = text.strip_prefix('"')?;
    let close = inner.find('"')?;
    Some(value.start + 1..value.start + 1 + close)
}

/// The entries of a one-line inline table that opens at byte `open` of
/// `line`: each key with the byte range of its value. `None` when the table
/// does not close on the line.
fn inline_table(line: &str, open: usize) -> Option<Vec<(&str, Range<usize>)>> {
    let mut entries = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut entry_start = open + 1;
    for (i, c) in line[open..].char_indices().map(|(i, c)| (open + i, c)) {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            ',' if depth == 1 => {
                entries.extend(entry(line, entry_start..i));
                entry_start = i + 1;
            }
            '}' | ']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    entries.extend(entry(line, entry_start..i));
                    return Some(entries);
                }
            }
            _ => {}
        }
    }
    None
}

/// `key = value` inside an inline table, with the value's range in `line`.
fn entry(line: &str, range: Range<usize>) -> Option<(&str, Range<usize>)> {
    let text = &line[range.clone()];
    let eq = text.find('=')?;
    let key = text[..eq].trim().trim_matches('"');
    let rest = &text[eq + 1..];
    let start = range.start + eq + 1 + (rest.len() - rest.trim_start().len());
    let end = range.start + eq + 1 + rest.trim_end().len();
    Some((key, start..end.max(start)))
}

/// `[workspace.package] version` of the root manifest.
fn workspace_version(manifest: &str) -> anyhow::Result<Version> {
    let (sites, _) = version_sites(manifest)?;
    let site = sites
        .iter()
        .find(|s| s.kind == VersionSite::Workspace)
        .context("Cargo.toml has no `version` in `[workspace.package]`")?;
    manifest[site.value.clone()]
        .parse()
        .context("Cargo.toml: `[workspace.package] version`")
}

/// What is wrong with the root manifest's versions: path dependencies without
/// a version, or with another one than `current`.
fn manifest_problems(manifest: &str, current: &Version) -> anyhow::Result<Vec<String>> {
    let (sites, mut problems) = version_sites(manifest)?;
    for site in &sites {
        if let VersionSite::PathDependency(name) = &site.kind {
            let found = &manifest[site.value.clone()];
            if found != current.to_string() {
                problems.push(format!(
                    "Cargo.toml: `[workspace.dependencies] {name}` asks for version {found}, \
                     the workspace is {current}"
                ));
            }
        }
    }
    Ok(problems)
}

/// The root manifest with `new` as the workspace version and as the version
/// of every path dependency in `[workspace.dependencies]`; every other byte
/// as it was.
fn bump_manifest(manifest: &str, new: &Version) -> anyhow::Result<String> {
    let (sites, problems) = version_sites(manifest)?;
    if let Some(problem) = problems.first() {
        bail!("{problem}");
    }
    if !sites.iter().any(|s| s.kind == VersionSite::Workspace) {
        bail!("Cargo.toml has no `version` in `[workspace.package]`");
    }
    let new = new.to_string();
    let mut out = String::with_capacity(manifest.len());
    let mut copied = 0;
    for site in &sites {
        out.push_str(&manifest[copied..site.value.start]);
        out.push_str(&new);
        copied = site.value.end;
    }
    out.push_str(&manifest[copied..]);
    Ok(out)
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

/// `## VERSION - DATE` and one bullet per commit subject.
fn changelog_section(version: &Version, date: &str, subjects: &[&str]) -> String {
    let mut out = format!("## {version} - {date}\n\n");
    if subjects.is_empty() {
        out.push_str("- No changes since the previous release.\n");
    }
    for subject in subjects {
        out.push_str(&format!("- {subject}\n"));
    }
    out
}

/// The changelog with `section` above the newest release (after the header);
/// a new changelog when there is none. Refuses a version that already has a
/// section.
fn add_changelog_section(
    existing: Option<&str>,
    version: &Version,
    section: &str,
) -> anyhow::Result<String> {
    let existing = existing.unwrap_or(CHANGELOG_HEADER);
    let heading = format!("## {version} ");
    if existing
        .lines()
        .any(|l| l.starts_with(&heading) || l.trim_end() == heading.trim_end())
    {
        bail!("CHANGELOG.md already has a section for {version}");
    }
    let at = existing
        .match_indices("## ")
        .map(|(i, _)| i)
        .find(|&i| i == 0 || existing[..i].ends_with('\n'));
    Ok(match at {
        Some(i) => format!("{}{section}\n{}", &existing[..i], &existing[i..]),
        None => format!("{}\n\n{section}", existing.trim_end()),
    })
}

/// Today's date in UTC, `YYYY-MM-DD`.
fn today_utc() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    date_of(secs / 86_400)
}

/// The date `days` days after 1970-01-01, `YYYY-MM-DD`.
fn date_of(mut days: u64) -> String {
    let leap = |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let mut year = 1970;
    loop {
        let length = if leap(year) { 366 } else { 365 };
        if days < length {
            break;
        }
        days -= length;
        year += 1;
    }
    let february = if leap(year) { 29 } else { 28 };
    let months = [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 1;
    for length in months {
        if days < length {
            break;
        }
        days -= length;
        month += 1;
    }
    format!("{year:04}-{month:02}-{:02}", days + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
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
            let err = s.parse::<Version>().unwrap_err().to_string();
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
    fn what_the_line_reader_cannot_follow_is_an_error() {
        let dotted = format!("{MANIFEST}\n[workspace.dependencies.foo]\npath = \"x\"\n");
        let err = bump_manifest(&dotted, &v("0.2.0")).unwrap_err().to_string();
        assert!(err.contains("one-line inline tables"), "{err}");
        let open = MANIFEST.replace(
            "import-core = { path = \"crates/import-core\", version = \"0.1.0\" }",
            "import-core = { path = \"crates/import-core\",",
        );
        let err = bump_manifest(&open, &v("0.2.0")).unwrap_err().to_string();
        assert!(err.contains("does not close"), "{err}");
        let none = "[workspace]\nmembers = []\n";
        assert!(workspace_version(none).is_err());
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
            "## 0.2.0 - 2026-05-04\n\n- fix paging\n- add retries\n"
        );
        assert!(changelog_section(&v("0.2.0"), "2026-05-04", &[]).contains("No changes"));
    }

    #[test]
    fn a_section_goes_above_the_newest_release() {
        let first =
            add_changelog_section(None, &v("0.1.0"), "## 0.1.0 - 2026-01-01\n\n- a\n").unwrap();
        assert_eq!(
            first,
            format!("{CHANGELOG_HEADER}\n## 0.1.0 - 2026-01-01\n\n- a\n")
        );

        let second =
            add_changelog_section(Some(&first), &v("0.2.0"), "## 0.2.0 - 2026-02-01\n\n- b\n")
                .unwrap();
        assert_eq!(
            second,
            format!(
                "{CHANGELOG_HEADER}\n## 0.2.0 - 2026-02-01\n\n- b\n\n## 0.1.0 - 2026-01-01\n\n- a\n"
            )
        );

        let err = add_changelog_section(Some(&second), &v("0.2.0"), "## 0.2.0 - x\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("already has a section for 0.2.0"), "{err}");
        // `0.2.0` is not mistaken for `0.2.0-rc.1`.
        assert!(
            add_changelog_section(Some(&second), &v("0.2.0-rc.1"), "## 0.2.0-rc.1 - x\n").is_ok()
        );
    }

    #[test]
    fn dates_are_computed_in_utc() {
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(31), "1970-02-01");
        assert_eq!(date_of(365 + 365 + 31 + 28), "1972-02-29");
        assert_eq!(date_of(10_957), "2000-01-01");
        assert_eq!(date_of(11_016), "2000-02-29");
        assert_eq!(date_of(20_454), "2026-01-01");
        assert_eq!(date_of(20_512), "2026-02-28");
        assert_eq!(date_of(20_513), "2026-03-01");
        assert_eq!(date_of(20_818), "2026-12-31");
    }
}
