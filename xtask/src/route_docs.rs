//! The prose of each route, read from the doc comments of the route table in
//! `import-core/src/routes.rs`, so the OpenAPI document and the core's
//! rustdoc say the same thing from one place.
//!
//! The first line of a route constant's doc is the operation's summary (its
//! final period dropped); the paragraphs after it are the description. The
//! doc of `routes::upload` adds its paragraphs after it to the description of
//! every upload route.

use std::collections::BTreeMap;

/// The source of the route table, read when `xtask` is built.
const ROUTES_SOURCE: &str = include_str!("../../crates/import-core/src/routes.rs");

/// The prose of one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteDoc {
    /// One line, without a final period.
    pub(crate) summary: String,
    /// The paragraphs after the summary, each joined into one line, or `None`.
    pub(crate) description: Option<String>,
}

/// The doc comment of every public item of the route table, by its name
/// (`VERIFY_AUTH`, `upload`, ...), as its paragraphs, each joined into one line.
fn item_docs(source: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut doc: Vec<&str> = Vec::new();
    for line in source.lines() {
        let line = line.trim_start();
        if let Some(text) = line.strip_prefix("///") {
            doc.push(text.strip_prefix(' ').unwrap_or(text));
            continue;
        }
        let name = line
            .strip_prefix("pub const ")
            .or_else(|| line.strip_prefix("pub fn "))
            .and_then(|rest| rest.split([':', '(', '<']).next());
        if let Some(name) = name
            && !doc.is_empty()
        {
            out.insert(name.trim().to_owned(), paragraphs(&doc));
        }
        doc.clear();
    }
    out
}

/// Lines joined into paragraphs at the blank lines; a doctest ends the prose.
fn paragraphs(lines: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in lines {
        if line.starts_with("```") {
            break;
        }
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(line.trim());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The operation id of each route constant: the second string literal of its
/// definition, after the template.
fn operation_ids(source: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("pub const ") else {
            continue;
        };
        let Some((name, ty)) = rest.split_once(':') else {
            continue;
        };
        if !ty.trim_start().starts_with("Route =") {
            continue;
        }
        let mut definition = line.to_owned();
        while !definition.trim_end().ends_with(';') {
            match lines.next() {
                Some(next) => definition.push_str(next),
                None => break,
            }
        }
        if let Some(id) = definition.split('"').nth(3) {
            out.insert(id.to_owned(), name.trim().to_owned());
        }
    }
    out
}

/// The prose of the route with this operation id.
///
/// # Panics
///
/// When the route constant has no doc comment: every route is described.
pub(crate) fn route_doc(operation_id: &str, bulk: bool) -> RouteDoc {
    let docs = item_docs(ROUTES_SOURCE);
    let ids = operation_ids(ROUTES_SOURCE);
    let name = ids
        .get(operation_id)
        .unwrap_or_else(|| panic!("no route constant defines `{operation_id}`"));
    let mut paragraphs = docs
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("routes::{name} has no doc comment"))
        .into_iter();
    let summary = paragraphs
        .next()
        .unwrap_or_else(|| panic!("routes::{name} has an empty doc comment"));
    let mut rest: Vec<String> = paragraphs.collect();
    if bulk {
        rest.extend(docs.get("upload").into_iter().flatten().skip(1).cloned());
    }
    RouteDoc {
        summary: summary.trim_end_matches('.').to_owned(),
        description: (!rest.is_empty()).then(|| rest.join("\n\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_a_summary_and_every_extension_a_description() {
        for route in import_core::routes::ALL {
            let doc = route_doc(route.operation_id, route.bulk);
            assert!(!doc.summary.is_empty(), "{}", route.operation_id);
            assert!(
                !doc.summary.contains('`'),
                "{}: the summary is plain words, the description holds the details",
                route.operation_id
            );
            assert!(
                doc.description.is_some() || !route.extension,
                "{} is an extension: describe it in its doc comment",
                route.operation_id
            );
        }
    }

    #[test]
    fn paragraphs_stop_at_a_doctest_and_join_lines() {
        let source = "/// First line.\n///\n/// Two\n/// lines.\n///\n/// ```\n/// code\n/// ```\npub fn upload(x: u8) {}\n";
        assert_eq!(
            item_docs(source)["upload"],
            ["First line.".to_owned(), "Two lines.".to_owned()]
        );
    }

    #[test]
    fn the_operation_id_is_the_second_literal_across_lines() {
        let source = "pub const A: Route = Route::new(\n    Verb::Get,\n    \"/a\",\n    \"get_a\",\n)\n.extension();\npub const B: &[Route] = &[];\n";
        let ids = operation_ids(source);
        assert_eq!(ids.get("get_a").map(String::as_str), Some("A"));
        assert_eq!(ids.len(), 1);
    }

    #[test]
    fn uploads_end_with_the_common_paragraph() {
        let doc = route_doc(import_core::routes::UPLOAD_S3.operation_id, true);
        let description = doc.description.unwrap_or_default();
        assert!(
            description.starts_with("Single-view: `keys`"),
            "{description}"
        );
        assert!(description.ends_with("never a 4xx."), "{description}");
    }
}
