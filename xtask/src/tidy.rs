//! The tidy test: conventions of the workspace checked as ordinary `#[test]`s,
//! in the manner of rust-analyzer's `xtask` tidy.
//!
//! "One rule, one place": the wire strings of the contract live in
//! `import-core`. Outside it, in code that ships (the `src/` folders of the
//! other crates and of xtask, `#[cfg(test)]` items left out), a string literal
//! must not
//!
//! - spell a route of the API (`"/api/..."`, also inside a longer text such as
//!   `"{base}/api/..."`): use the route table `import_core::routes` (or the
//!   request constructors of `import_core::api`);
//! - equal an API header name, in any case: use the core's header constants;
//! - name a video status (`PENDING`, ...), also as a word inside SQL or a
//!   message: use `import_core::VideoStatus`.
//!
//! Tests, benches and examples may spell wire strings: they look at the
//! contract from outside, as a foreign client would, and spelling it there is
//! what checks it. [`ALLOWED`] lists the justified exceptions, each with its
//! reason. And every `.rs` file of the workspace starts with a `//!` module
//! doc.
//!
//! Each check is a pure function of a file's path and text ([`check_file`]);
//! the `workspace_is_tidy` test runs them over the workspace and prints every
//! violation as `path:line: what; use ... instead`.

use std::fmt;

use import_core::VideoStatus;
use import_core::api::{
    API_KEY_HEADER, IDEMPOTENCY_KEY_HEADER, RATE_LIMIT_LIMIT_HEADER, RATE_LIMIT_REMAINING_HEADER,
    RATE_LIMIT_RESET_HEADER, REPLAYED_HEADER, REQUEST_ID_HEADER, RETRY_AFTER_HEADER,
};

/// What a check looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// A route of the API in a string literal.
    ApiPath,
    /// An API header name as a string literal.
    Header,
    /// A video status in a string literal.
    Status,
    /// A file without a `//!` module doc at its top.
    ModuleDoc,
}

/// A justified exception: literals containing `literal` (empty: any) that
/// one of `checks` finds in the file `path` are allowed.
pub(crate) struct Allowed {
    path: &'static str,
    checks: &'static [Check],
    literal: &'static str,
    reason: &'static str,
}

/// The justified exceptions. Keep this list short: every entry is a place
/// where a wire string is written a second time.
pub(crate) const ALLOWED: &[Allowed] = &[
    Allowed {
        path: "crates/import-providers/src/hf.rs",
        checks: &[Check::ApiPath],
        literal: "/api/buckets/",
        reason: "a route of the Hugging Face Hub's API, not of ours",
    },
    Allowed {
        path: "crates/import-testkit/src/hf.rs",
        checks: &[Check::ApiPath],
        literal: "/api/buckets/",
        reason: "the local stand-in serves the Hugging Face Hub's API, not ours",
    },
    Allowed {
        path: "crates/import-testkit/src/clients.rs",
        checks: &[Check::ApiPath, Check::Header],
        literal: "",
        reason: "the clients' shared end-to-end suite (test code, in src/ only so both \
                 clients' tests can run it) checks the bytes on the wire against the \
                 contract spelled out, as a foreign client would see them",
    },
    Allowed {
        path: "xtask/src/openapi.rs",
        checks: &[Check::Status],
        literal: "",
        reason: "the OpenAPI document's prose names the statuses for its readers",
    },
    Allowed {
        path: "xtask/src/tidy.rs",
        checks: &[Check::ApiPath],
        literal: "",
        reason: "the check spells the pattern it looks for",
    },
];

/// The header names of the API, each with the item to use instead.
const HEADERS: [(&str, &str); 8] = [
    (API_KEY_HEADER, "`import_core::api::API_KEY_HEADER`"),
    (
        IDEMPOTENCY_KEY_HEADER,
        "`import_core::api::IDEMPOTENCY_KEY_HEADER`",
    ),
    (REQUEST_ID_HEADER, "`import_core::api::REQUEST_ID_HEADER`"),
    (REPLAYED_HEADER, "`import_core::api::REPLAYED_HEADER`"),
    (
        RATE_LIMIT_LIMIT_HEADER,
        "`import_core::api::RATE_LIMIT_LIMIT_HEADER`",
    ),
    (
        RATE_LIMIT_REMAINING_HEADER,
        "`import_core::api::RATE_LIMIT_REMAINING_HEADER`",
    ),
    (
        RATE_LIMIT_RESET_HEADER,
        "`import_core::api::RATE_LIMIT_RESET_HEADER`",
    ),
    (RETRY_AFTER_HEADER, "`import_core::api::RETRY_AFTER_HEADER`"),
];

/// Every status `VideoStatus` knows by name.
const VIDEO_STATUSES: [VideoStatus; 4] = [
    VideoStatus::Pending,
    VideoStatus::Uploading,
    VideoStatus::Uploaded,
    VideoStatus::UploadingFailed,
];

/// Whether `status` is in [`VIDEO_STATUSES`]. The match has no wildcard, so a
/// new variant of `VideoStatus` does not compile here until it is listed
/// there (a test checks the list against this function).
fn is_listed(status: &VideoStatus) -> bool {
    match status {
        VideoStatus::Pending
        | VideoStatus::Uploading
        | VideoStatus::Uploaded
        | VideoStatus::UploadingFailed => true,
        VideoStatus::Unknown(_) => false,
    }
}

/// One broken convention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// The file, relative to the workspace root, with `/` separators.
    pub(crate) path: String,
    /// 1-based.
    pub(crate) line: usize,
    /// Which convention.
    pub(crate) check: Check,
    /// What was found and what to do instead.
    pub(crate) message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.message)
    }
}

/// Whether the wire-string checks apply to `path` (relative, `/`-separated):
/// the `src/` folders of the crates other than `import-core`, and xtask's.
fn wire_strings_checked(path: &str) -> bool {
    let mut parts = path.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("crates"), Some(name), Some("src")) => name != "import-core",
        (Some("xtask"), Some("src"), _) => true,
        _ => false,
    }
}

/// Every violation in the file `path` (relative to the workspace root, `/`
/// separators) whose text is `text`, minus the [`ALLOWED`] ones.
pub(crate) fn check_file(path: &str, text: &str) -> Vec<Violation> {
    let mut found = Vec::new();
    if !has_module_doc(text) {
        found.push(Violation {
            path: path.to_owned(),
            line: 1,
            check: Check::ModuleDoc,
            message: "the file does not start with a `//!` module doc; add one".to_owned(),
        });
    }
    if wire_strings_checked(path) {
        for literal in string_literals(text) {
            for (check, message) in literal_problems(&literal.text) {
                let allowed = ALLOWED.iter().any(|a| {
                    a.path == path && a.checks.contains(&check) && literal.text.contains(a.literal)
                });
                if !allowed {
                    found.push(Violation {
                        path: path.to_owned(),
                        line: literal.line,
                        check,
                        message,
                    });
                }
            }
        }
    }
    found
}

/// Whether the first line that is not blank is a `//!` comment.
fn has_module_doc(text: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .find(|line| !line.is_empty())
        .is_some_and(|line| line.starts_with("//!"))
}

/// What the wire-string checks find in one literal (its text as written
/// between the quotes).
fn literal_problems(text: &str) -> Vec<(Check, String)> {
    let mut problems = Vec::new();
    if let Some(route) = api_path(text) {
        problems.push((
            Check::ApiPath,
            format!("the route `{route}`; use `import_core::routes` instead"),
        ));
    }
    if let Some((_, instead)) = HEADERS
        .iter()
        .find(|(name, _)| text.eq_ignore_ascii_case(name))
    {
        problems.push((
            Check::Header,
            format!("the header name `{text}`; use {instead} instead"),
        ));
    }
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    for status in &VIDEO_STATUSES {
        let status = status.as_str();
        if words.contains(&status) {
            problems.push((
                Check::Status,
                format!(
                    "the video status `{status}`; use `import_core::VideoStatus` \
                     (`as_str`, `from_wire`) instead"
                ),
            ));
        }
    }
    problems
}

/// The route `text` spells, if any: `/api/...` at its start or after a
/// character that cannot be part of a host or a folder name (so
/// `"{base}/api/keys"` counts, `"docs/api/openapi.json"` does not), up to the
/// next space, closing bracket or quote.
fn api_path(text: &str) -> Option<&str> {
    if text == "/api" {
        return Some(text);
    }
    let (at, _) = text.match_indices("/api/").find(|&(at, _)| {
        text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || "-_.".contains(c)))
    })?;
    let route = &text[at..];
    let end = route
        .find(|c: char| c.is_whitespace() || ")>]`'\\\",".contains(c))
        .unwrap_or(route.len());
    Some(&route[..end])
}

/// A string literal of a Rust file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Literal {
    /// The 1-based line of its opening quote.
    line: usize,
    /// Its text as written between the quotes (escapes left as they are).
    text: String,
}

/// The string literals (plain, raw, byte and C strings) of `source` outside
/// comments and outside items marked `#[cfg(test)]`.
///
/// A small lexer, not a parser: it knows comments (nested block comments
/// too), string and character literals, lifetimes, raw identifiers and
/// bracket depth, which is all it takes to find literals and the extent of a
/// `#[cfg(test)]` item (up to its `;` or `,`, or its closing brace).
fn string_literals(source: &str) -> Vec<Literal> {
    let bytes = source.as_bytes();
    let line_at = |at: usize| source[..at].matches('\n').count() + 1;
    let mut literals = Vec::new();
    let mut depth = 0usize;
    // The depth at which a `#[cfg(test)]` item started, while inside it.
    let mut test_item: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let after_ident = i > 0 && is_ident_byte(bytes[i - 1]);
        match b {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = source[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = block_comment_end(bytes, i);
            }
            b'"' => {
                let end = plain_string_end(bytes, i + 1);
                if test_item.is_none() {
                    literals.push(Literal {
                        line: line_at(i),
                        text: source[i + 1..end.saturating_sub(1).max(i + 1)].to_owned(),
                    });
                }
                i = end;
            }
            b'r' | b'b' | b'c' if !after_ident => {
                // `r"..."`, `r#"..."#`, `b"..."`, `br"..."`, `c"..."`, `cr#"..."#`.
                let mut j = i + 1;
                if b != b'r' && bytes.get(j) == Some(&b'r') {
                    j += 1;
                }
                let raw = bytes[i..j].contains(&b'r');
                let hashes = bytes[j..].iter().take_while(|&&c| c == b'#').count();
                if bytes.get(j + hashes) == Some(&b'"') && (raw || hashes == 0) {
                    let open = j + hashes + 1;
                    let (text_end, end) = if raw {
                        raw_string_end(source, open, hashes)
                    } else {
                        let end = plain_string_end(bytes, open);
                        (end.saturating_sub(1).max(open), end)
                    };
                    if test_item.is_none() {
                        literals.push(Literal {
                            line: line_at(i),
                            text: source[open..text_end].to_owned(),
                        });
                    }
                    i = end;
                } else {
                    i = ident_end(bytes, i);
                }
            }
            b'\'' => i = char_or_lifetime_end(source, i),
            b'#' if test_item.is_none() && is_cfg_test(source, i) => {
                test_item = Some(depth);
                i = source[i..].find(']').map_or(bytes.len(), |n| i + n + 1);
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                i += 1;
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if let Some(start) = test_item
                    && (depth < start || (depth == start && b == b'}'))
                {
                    test_item = None;
                }
                i += 1;
            }
            b';' | b',' => {
                if test_item.is_some_and(|start| depth <= start) {
                    test_item = None;
                }
                i += 1;
            }
            _ if is_ident_byte(b) => i = ident_end(bytes, i),
            _ => i += 1,
        }
    }
    literals
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn ident_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    // A raw identifier, `r#type`.
    if bytes.get(i) == Some(&b'r') && bytes.get(i + 1) == Some(&b'#') {
        i += 2;
    }
    while i < bytes.len() && is_ident_byte(bytes[i]) {
        i += 1;
    }
    i.max(start + 1)
}

/// The index after a block comment that opens at `start` (nested ones too).
fn block_comment_end(bytes: &[u8], start: usize) -> usize {
    let mut nesting = 0usize;
    let mut i = start;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                nesting += 1;
                i += 2;
            }
            (b'*', b'/') => {
                nesting -= 1;
                i += 2;
                if nesting == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The index after the closing quote of a string whose text starts at
/// `open`, backslash escapes skipped.
fn plain_string_end(bytes: &[u8], open: usize) -> usize {
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The end of the text and the index after the closing `"###` of a raw
/// string whose text starts at `open`.
fn raw_string_end(source: &str, open: usize, hashes: usize) -> (usize, usize) {
    let close = format!("\"{}", "#".repeat(hashes));
    match source[open..].find(&close) {
        Some(n) => (open + n, open + n + close.len()),
        None => (source.len(), source.len()),
    }
}

/// The index after a character literal (`'x'`, `'\n'`, `'\u{1F600}'`) or
/// after the quote of a lifetime or label (`'a`) that starts at `start`.
fn char_or_lifetime_end(source: &str, start: usize) -> usize {
    let rest = &source[start + 1..];
    if let Some(escaped) = rest.strip_prefix('\\') {
        // The escaped character may itself be a quote: `'\''`.
        let first = escaped.chars().next().map_or(0, char::len_utf8);
        return match escaped[first..].find('\'') {
            Some(n) => start + 2 + first + n + 1,
            None => source.len(),
        };
    }
    let mut chars = rest.chars();
    match (chars.next(), chars.next()) {
        (Some(c), Some('\'')) => start + 1 + c.len_utf8() + 1,
        _ => start + 1,
    }
}

/// Whether an attribute `#[cfg(test)]` (whitespace aside) starts at `start`.
fn is_cfg_test(source: &str, start: usize) -> bool {
    let Some(len) = source[start..].find(']') else {
        return false;
    };
    let attribute: String = source[start..start + len + 1]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    attribute == "#[cfg(test)]"
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::*;
    use crate::project_root;

    const SERVER_FILE: &str = "crates/import-server/src/http/mod.rs";

    const CLEAN_SERVER: &str = r#"//! The router.

use import_core::api;

/// The router.
pub(crate) fn router() -> Router {
    let base = "http://127.0.0.1";
    Router::new().route(api::ROUTES[0].path, post(verify))
}

async fn not_found() -> ApiError {
    ApiError::new(404, "no such route; see docs/api/openapi.json")
}

#[cfg(test)]
mod tests {
    #[test]
    fn routes() {
        assert_eq!(call("/api/import-jobs/{id}"), "PENDING");
        let _ = headers.get("x-api-key");
    }
}
"#;

    fn checks(path: &str, text: &str) -> Vec<(usize, Check)> {
        check_file(path, text)
            .into_iter()
            .map(|v| (v.line, v.check))
            .collect()
    }

    #[test]
    fn clean_server_code_passes() {
        assert_eq!(check_file(SERVER_FILE, CLEAN_SERVER), []);
    }

    #[test]
    fn a_route_literal_in_a_server_file_fails() {
        let text = CLEAN_SERVER.replace(
            "post(verify))",
            "post(verify))\n        .route(\"/api/import-jobs/{id}\", get(get_job))",
        );
        let found = check_file(SERVER_FILE, &text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].check, Check::ApiPath);
        assert_eq!(
            found[0].to_string(),
            "crates/import-server/src/http/mod.rs:9: the route `/api/import-jobs/{id}`; \
             use `import_core::routes` instead"
        );
        // The same literal in a test of the server, or in the core, is fine.
        assert_eq!(check_file("crates/import-server/tests/api.rs", &text), []);
        assert_eq!(check_file("crates/import-core/src/api.rs", &text), []);
    }

    #[test]
    fn routes_inside_longer_texts_count_but_folder_names_do_not() {
        for text in [
            "/api",
            "/api/s3/upload",
            "{base}/api/import-jobs/{job}",
            "use POST /api/folders/create-or-get to reuse it",
            "</api/keys/verify>",
        ] {
            assert!(api_path(text).is_some(), "{text}");
        }
        for text in [
            "docs/api/openapi.json",
            "https://hub.example/api/buckets/a/b/tree",
            "/apis/x",
            "api",
        ] {
            assert_eq!(api_path(text), None, "{text}");
        }
    }

    #[test]
    fn a_route_is_named_without_the_text_around_it() {
        assert_eq!(
            api_path("use POST /api/folders/create-or-get to reuse it"),
            Some("/api/folders/create-or-get")
        );
        assert_eq!(
            api_path("(POST /api/cloud-integrations/gcs) and"),
            Some("/api/cloud-integrations/gcs")
        );
        assert_eq!(
            api_path("{base}/api/import-jobs/{job}/videos?limit=500"),
            Some("/api/import-jobs/{job}/videos?limit=500")
        );
        assert_eq!(api_path("say \\\"/api/four\\\""), Some("/api/four"));
    }

    #[test]
    fn header_names_fail_in_any_case() {
        let text = "//! Guard.\nfn f() { h.get(\"X-Request-ID\"); h.get(\"Idempotency-Key\"); \
                    h.get(\"x-api-key-2\"); }\n";
        assert_eq!(
            checks("crates/import-server/src/http/guard.rs", text),
            [(2, Check::Header), (2, Check::Header)]
        );
        let found = check_file("crates/import-server/src/http/guard.rs", text);
        assert!(
            found[0].message.starts_with(
                "the header name `X-Request-ID`; use `import_core::api::REQUEST_ID_HEADER`"
            ),
            "{}",
            found[0]
        );
    }

    #[test]
    fn statuses_fail_as_literals_and_as_words_inside_sql() {
        let text = r#"//! Store.
fn f() {
    q.bind("PENDING");
    q.sql("UPDATE videos SET status = 'UPLOADING_FAILED' WHERE id = $1");
    q.sql(r"SELECT count(*) FROM videos WHERE status='UPLOADED'");
    log("pending rows", "PENDING_REVIEW", "NOT_UPLOADED");
}
"#;
        assert_eq!(
            checks("crates/import-server/src/store/sql.rs", text),
            [(3, Check::Status), (4, Check::Status), (5, Check::Status)]
        );
    }

    #[test]
    fn every_file_needs_a_module_doc() {
        let text = "use std::fs;\n";
        assert_eq!(
            checks("crates/import-core/src/new.rs", text),
            [(1, Check::ModuleDoc)]
        );
        assert_eq!(
            checks("crates/vimport/tests/new.rs", "// a comment\n//! late\n"),
            [(1, Check::ModuleDoc)]
        );
        assert_eq!(checks("crates/vimport/tests/new.rs", "\n//! Doc.\n"), []);
    }

    #[test]
    fn the_lexer_skips_comments_chars_and_test_items() {
        let text = r####"//! "/api/doc" in a doc comment.
// "/api/comment"
/* "/api/block" /* nested "/api/nested" */ still "/api/comment" */
fn f<'a>(x: &'a str) -> char {
    let quote = '"';
    let escaped = '\'';
    let r#type = "/api/one";
    let raw = r#"a "quoted" /api/two"#;
    let bytes = br"/api/three";
    let escaped_quote = "say \"/api/four\"";
    '\u{1F600}'
}
#[cfg(test)]
fn helper() -> &'static str { "/api/test-fn" }
#[cfg(test)]
use foo::BAR;
const AFTER: &str = "/api/five";
struct S {
    #[cfg(test)]
    field: [u8; 2],
    name: &'static str,
}
const LAST: &str = "/api/six";
"####;
        let literals: Vec<(usize, String)> = string_literals(text)
            .into_iter()
            .map(|l| (l.line, l.text))
            .collect();
        assert_eq!(
            literals,
            [
                (7, "/api/one".to_owned()),
                (8, "a \"quoted\" /api/two".to_owned()),
                (9, "/api/three".to_owned()),
                (10, "say \\\"/api/four\\\"".to_owned()),
                (17, "/api/five".to_owned()),
                (23, "/api/six".to_owned()),
            ]
        );
    }

    #[test]
    fn allowed_exceptions_name_a_file_and_a_reason() {
        for allowed in ALLOWED {
            assert!(
                project_root().join(allowed.path).is_file(),
                "{} does not exist",
                allowed.path
            );
            assert!(!allowed.reason.is_empty());
        }
        // An allowed literal passes; our own routes in the same file do not.
        let text = "//! HF.\nconst A: &str = \"/api/buckets/{ns}\";\nconst B: &str = \"/api/s3/upload\";\n";
        assert_eq!(
            checks("crates/import-providers/src/hf.rs", text),
            [(3, Check::ApiPath)]
        );
    }

    #[test]
    fn every_video_status_is_listed() {
        assert!(VIDEO_STATUSES.iter().all(is_listed));
        assert!(!is_listed(&VideoStatus::from_wire("TRANSCODING")));
        for status in &VIDEO_STATUSES {
            assert_eq!(&VideoStatus::from_wire(status.as_str()), status);
        }
    }

    /// Every `.rs` file of the workspace: `crates/*/{src,tests,benches,examples}`
    /// and `xtask/src`, relative to the root with `/` separators.
    fn workspace_files() -> Vec<String> {
        let root = project_root();
        let mut dirs = vec![root.join("xtask/src")];
        let mut crates: Vec<_> = fs::read_dir(root.join("crates"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        crates.sort();
        for krate in crates {
            for sub in ["src", "tests", "benches", "examples"] {
                dirs.push(krate.join(sub));
            }
        }
        let mut files = Vec::new();
        for dir in dirs {
            collect_rs(&dir, &mut files);
        }
        files
            .into_iter()
            .map(|f| {
                f.strip_prefix(&root)
                    .unwrap()
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect()
    }

    fn collect_rs(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                collect_rs(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn workspace_is_tidy() {
        let files = workspace_files();
        assert!(files.len() > 50, "{files:?}");
        assert!(
            files
                .iter()
                .any(|f| f == "crates/import-server/src/http/mod.rs")
        );
        let root = project_root();
        let violations: Vec<Violation> = files
            .iter()
            .flat_map(|f| check_file(f, &fs::read_to_string(root.join(f)).unwrap()))
            .collect();
        if !violations.is_empty() {
            let list: Vec<String> = violations.iter().map(Violation::to_string).collect();
            panic!(
                "{} violation(s) of the tidy rules (see xtask/src/tidy.rs):\n{}\n",
                violations.len(),
                list.join("\n")
            );
        }
    }
}
