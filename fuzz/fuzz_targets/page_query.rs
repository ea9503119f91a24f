//! Query strings of the paged routes, decoded as the server decodes them,
//! through `PageRequest` and `JobListRequest`: no input panics, and what is
//! accepted stays within the documented limits.
#![no_main]

use std::collections::BTreeMap;

use import_core::{JobListRequest, MAX_JOB_PAGE_LIMIT, MAX_PAGE_LIMIT, PageRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let q: BTreeMap<String, String> = form_urlencoded::parse(data).into_owned().collect();
    let get = |k: &str| q.get(k).map(String::as_str);
    if let Ok(page) = PageRequest::from_query(get("limit"), get("cursor"), get("offset")) {
        assert!((1..=MAX_PAGE_LIMIT).contains(&page.limit()));
    }
    if let Ok(jobs) = JobListRequest::from_query(
        get("limit"),
        get("cursor"),
        get("status"),
        get("folder_id"),
        get("created_after"),
    ) {
        assert!((1..=MAX_JOB_PAGE_LIMIT).contains(&jobs.limit()));
    }
});
