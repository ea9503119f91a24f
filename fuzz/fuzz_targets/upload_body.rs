//! Upload bodies as the server reads them: the object cap counted first,
//! then the JSON body, then the core's `ImportRequest` rules for each
//! provider. No input panics; an accepted request names at most the cap.
#![no_main]

use import_core::{ImportRequest, Provider, UploadBody, check_upload_count};
use libfuzzer_sys::fuzz_target;

const CAP: usize = 64;

fuzz_target!(|data: &[u8]| {
    if check_upload_count(data, CAP).is_err() {
        return;
    }
    let Ok(body) = serde_json::from_slice::<UploadBody>(data) else {
        return;
    };
    for provider in [Provider::S3, Provider::Gcs, Provider::HfBucket] {
        if let Ok(request) = ImportRequest::from_upload_body(provider, &body, None, CAP) {
            assert!(request.object_count() <= CAP);
            let _ = request.upload_body();
        }
    }
});
