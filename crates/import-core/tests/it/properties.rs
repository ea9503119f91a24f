//! Property tests: URIs round-trip, the parser never panics, requests survive the
//! wire, and the readiness tracker says ready exactly when the contract holds.

use std::collections::BTreeMap;

use import_core::{
    CloudUri, ImportJob, ImportRequest, Next, Provider, ReadinessTracker, VideoRow, VideoStatus,
    VideosPage, api,
};
use proptest::prelude::*;

/// Object names: no control characters, no wildcards, ending in `.mp4` in any case.
fn object_name() -> impl Strategy<Value = String> {
    (
        "[^\\x00-\\x1f\\x7f-\\x9f*?\\[]{0,40}",
        prop::sample::select(vec![".mp4", ".MP4", ".Mp4"]),
    )
        .prop_map(|(stem, ext)| format!("{stem}{ext}"))
}

fn valid_uri() -> impl Strategy<Value = CloudUri> {
    let gcs = ("[a-z0-9][a-z0-9_-]{1,30}[a-z0-9]", object_name())
        .prop_map(|(b, o)| CloudUri::from_parts(Provider::Gcs, &b, &o));
    let s3 = ("[a-z0-9][a-z0-9-]{1,30}[a-z0-9]", object_name())
        .prop_map(|(b, o)| CloudUri::from_parts(Provider::S3, &b, &o));
    let hf = (
        "[A-Za-z0-9_.-]{1,20}",
        "[A-Za-z0-9_.-]{1,20}",
        object_name(),
    )
        .prop_map(|(ns, n, o)| CloudUri::from_parts(Provider::HfBucket, &format!("{ns}/{n}"), &o));
    prop_oneof![gcs, s3, hf].prop_map(|r| r.expect("generated URIs are valid"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_uris_round_trip(uri in valid_uri(), upper in any::<bool>(), pad in "[ \t]{0,2}") {
        let text = uri.to_string();
        prop_assert_eq!(CloudUri::parse(&text)?, uri.clone());
        // Scheme case and surrounding whitespace do not matter.
        let (scheme, rest) = text.split_once("://").unwrap();
        let scheme = if upper { scheme.to_ascii_uppercase() } else { scheme.to_owned() };
        let noisy = format!("{pad}{scheme}://{rest}{pad}");
        prop_assert_eq!(CloudUri::parse(&noisy)?, uri);
    }

    #[test]
    fn parser_never_panics(input in any::<String>()) {
        let _ = CloudUri::parse(&input);
    }

    #[test]
    fn parser_never_panics_after_a_scheme(
        scheme in prop::sample::select(vec!["gs://", "s3://", "hf://", "hf://buckets/", "S3://"]),
        rest in any::<String>(),
    ) {
        if let Ok(uri) = CloudUri::parse(&format!("{scheme}{rest}")) {
            prop_assert_eq!(CloudUri::parse(&uri.to_string())?, uri);
        }
    }

    #[test]
    fn requests_survive_the_wire(
        bucket in "[a-z0-9][a-z0-9-]{1,20}[a-z0-9]",
        names in prop::collection::vec(object_name(), 1..20),
    ) {
        let uris: Vec<String> = names.iter().map(|n| format!("s3://{bucket}/{n}")).collect();
        let req = ImportRequest::builder().uris(uris).build()?;
        let http = api::upload(&req)?;
        let body = serde_json::from_slice(http.body().unwrap()).unwrap();
        let back = ImportRequest::from_upload_body(Provider::S3, &body, None, 100_000)?;
        prop_assert_eq!(back, req);
    }
}

fn status() -> impl Strategy<Value = VideoStatus> {
    prop_oneof![
        4 => Just(VideoStatus::Uploaded),
        3 => Just(VideoStatus::UploadingFailed),
        1 => Just(VideoStatus::Pending),
        1 => Just(VideoStatus::Uploading),
        1 => Just(VideoStatus::Unknown("TRANSCODING".into())),
    ]
}

fn row(id: usize, status: &VideoStatus) -> VideoRow {
    VideoRow {
        video_id: format!("vi_{id:05}").parse().unwrap(),
        status: status.clone(),
        import_source_uri: None,
        error: None,
        error_code: None,
        set_video_id: None,
        views: None,
        failed_views: None,
        last_error: None,
    }
}

fn job(total: u64) -> ImportJob {
    serde_json::from_value(serde_json::json!({
        "job_id": "ij_p", "source": "s3", "bucket": "b", "total": total, "created_at": "t"
    }))
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Pages in any order, with rows repeated across pages, and rows possibly
    /// missing: after the walk the tracker is ready exactly when the distinct ids
    /// reach `total` and every row is terminal.
    #[test]
    fn tracker_ready_exactly_when_contract_holds(
        statuses in prop::collection::vec(status(), 0..40),
        missing in 0u64..3,
        chunks in prop::collection::vec(1usize..6, 1..20),
        dupes in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        seed in any::<u64>(),
    ) {
        let total = statuses.len() as u64 + missing;
        let mut rows: Vec<VideoRow> = statuses.iter().enumerate().map(|(i, s)| row(i, s)).collect();
        // Duplicates: rows seen again on other pages.
        for d in &dupes {
            if !statuses.is_empty() {
                let i = d.index(statuses.len());
                rows.push(row(i, &statuses[i]));
            }
        }
        // Any order: a seeded shuffle.
        let mut state = seed | 1;
        for i in (1..rows.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            rows.swap(i, (state as usize) % (i + 1));
        }
        // Cut into pages of the generated sizes; the last one ends the walk.
        let mut pages = Vec::new();
        let mut at = 0;
        let mut sizes = chunks.iter().cycle();
        loop {
            let n = *sizes.next().unwrap();
            let end = (at + n).min(rows.len());
            pages.push(rows[at..end].to_vec());
            at = end;
            if at >= rows.len() { break; }
        }
        let mut tracker = ReadinessTracker::new("ij_p".parse().unwrap());
        prop_assert!(matches!(tracker.poll(), Next::FetchJob(_)));
        tracker.handle_job(job(total));
        let last = pages.len() - 1;
        for (i, videos) in pages.into_iter().enumerate() {
            prop_assert!(matches!(tracker.poll(), Next::FetchPage(_)));
            let page = VideosPage {
                import_job_id: "ij_p".parse().unwrap(),
                total,
                limit: 1000,
                cursor: None,
                has_more: i != last,
                next_cursor: Some(format!("c{i}").parse().unwrap()),
                video_count: None,
                videos,
            };
            tracker.handle_page(page)?;
        }
        let distinct: BTreeMap<usize, &VideoStatus> = statuses.iter().enumerate().collect();
        let contract = distinct.len() as u64 >= total && distinct.values().all(|s| s.is_terminal());
        prop_assert_eq!(tracker.is_ready(), contract);
        prop_assert_eq!(matches!(tracker.poll(), Next::Ready), contract);
        if contract {
            let out = tracker.outcome().unwrap();
            let uploaded = statuses.iter().filter(|s| **s == VideoStatus::Uploaded).count();
            prop_assert_eq!(out.uploaded.len(), uploaded);
            prop_assert_eq!(out.failed.len(), statuses.len() - uploaded);
        } else {
            prop_assert!(tracker.outcome().is_none());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The common folder of any Unicode names (the request's upload prefix)
    /// never panics, is a folder (`/`-terminated) and starts every name.
    #[test]
    fn common_prefix_of_any_names(names in prop::collection::vec(
        ("[a-zéèêü/]{0,6}", object_name()).prop_map(|(dir, name)| format!("{dir}/{name}")),
        1..6,
    )) {
        let uris: Vec<String> = names.iter().map(|n| format!("s3://bkt/{n}")).collect();
        let Ok(request) = ImportRequest::builder().uris(uris.iter().map(String::as_str)).build() else {
            return Ok(());
        };
        if let Some(prefix) = request.common_prefix() {
            prop_assert!(prefix.ends_with('/'));
            for uri in request.uris() {
                prop_assert!(uri.object().starts_with(&prefix));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Arbitrary Unicode (any character, control characters and multi-byte
    /// ones included) as object names, prefixes and text fields: every
    /// parser and check answers, none panics, and what is accepted keeps
    /// the rules it promises.
    #[test]
    fn any_unicode_names_and_prefixes_are_answered(
        text in prop_oneof![any::<String>(), "a/[éèêü]{1,3}"],
        other in prop_oneof![any::<String>(), "a/[éèêü]{1,3}"],
    ) {
        for scheme in ["s3://bkt/", "gs://bkt/", "hf://buckets/ns/name/"] {
            if let Ok(uri) = CloudUri::parse(&format!("{scheme}{text}")) {
                prop_assert!(!uri.object().chars().any(char::is_control));
            }
            let _ = import_core::PrefixUri::parse(&format!("{scheme}{text}"));
        }
        let _ = import_core::check_object_name(&text);
        if let Ok(Some(prefix)) = import_core::integration_prefix(Some(&text)) {
            prop_assert!(prefix.len() <= import_core::fields::MAX_PREFIX_BYTES);
            prop_assert!(!prefix.starts_with('/'));
        }
        if let Ok(name) = import_core::FolderName::parse(&text) {
            prop_assert!(name.as_str().chars().count() <= import_core::fields::MAX_NAME_CHARS);
        }
        // Two names that share their first bytes but not their first
        // character (the `a/é.mp4`, `a/è.mp4` panic) and anything else.
        let uris = [format!("s3://bkt/{text}.mp4"), format!("s3://bkt/{other}.mp4")];
        if let Ok(request) = ImportRequest::builder().uris(uris.iter().map(String::as_str)).build()
            && let Some(prefix) = request.common_prefix()
        {
            for uri in request.uris() {
                prop_assert!(uri.object().starts_with(&prefix));
            }
        }
    }
}
