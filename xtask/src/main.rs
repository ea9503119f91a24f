//! Project tasks, run as `cargo xtask <task>` (an alias in `.cargo/config.toml`).
//!
//! - `cargo xtask codegen [--check]`: write the generated files (the OpenAPI
//!   document `docs/api/openapi.json`, the CLI reference `docs/cli.md`); with
//!   `--check`, fail if one is stale.
//! - `cargo xtask test`: run every test of the workspace, the ignored ones and
//!   the doctests included.
//! - `cargo xtask release VERSION`: bump the version, write the changelog
//!   section, regenerate, and dry-run the publication; `cargo xtask release
//!   --check [VERSION]`: check that a release could be cut, changing nothing.
//!
//! The tidy test (`cargo test -p xtask`, module `tidy`) checks conventions of
//! the whole workspace: no wire string of the contract outside `import-core`,
//! a module doc on every file.
//!
//! Plain `std::process::Command` and `anyhow`: nothing to install first.

mod codegen;
mod openapi;
mod release;
mod route_docs;
mod suite;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  codegen [--check]   write the generated files; with --check, fail if one is stale
  test                run the whole test suite (ignored tests and doctests included)
  release VERSION     bump to VERSION (MAJOR.MINOR.PATCH[-PRE]), add its CHANGELOG.md section,
                      regenerate, and dry-run `cargo publish --workspace`; commits nothing
  release --check [VERSION]
                      change nothing: check the versions, CHANGELOG.md and that every crate
                      packages (and that VERSION, if given, is above the current one)
  help                print this message";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> anyhow::Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["codegen"] => codegen::run(codegen::Mode::Write),
        ["codegen", "--check"] => codegen::run(codegen::Mode::Check),
        ["test"] => suite::run(),
        ["release", "--check"] => release::check(None),
        ["release", "--check", version] | ["release", version, "--check"] => {
            release::check(Some(version))
        }
        ["release", version] if !version.starts_with('-') => release::release(version),
        [] | ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => bail!("unknown arguments `{}`\n\n{USAGE}", args.join(" ")),
    }
}

/// The workspace root (the parent of `xtask/`).
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The `cargo` that runs us (`$CARGO`), or the one on `PATH`.
fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(project_root());
    cmd
}

/// Print a command, run it, and fail with a clear message unless it succeeds.
fn run_command(cmd: &mut Command) -> anyhow::Result<()> {
    let shown = show(cmd);
    println!("$ {shown}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// A command as one would type it (`cargo test --workspace`).
fn show(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or(cmd.get_program())
        .to_string_lossy()
        .into_owned();
    std::iter::once(program)
        .chain(cmd.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}
