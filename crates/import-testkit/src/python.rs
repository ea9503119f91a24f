//! Which Python the tests run: the interpreter in [`PYTHON_VAR`] when it is
//! set (`cargo xtask test` points it at its virtual environment under
//! `target/`, where the official SDK and fake-gcs-server are installed),
//! else `python3` on `PATH`.

use std::ffi::OsString;

/// The variable that names the Python interpreter of the tests.
pub const PYTHON_VAR: &str = "PYTHON";

/// The Python interpreter the tests and benchmarks run.
///
/// ```
/// std::process::Command::new(import_testkit::python::interpreter());
/// ```
pub fn interpreter() -> OsString {
    std::env::var_os(PYTHON_VAR)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".into())
}
