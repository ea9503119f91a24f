//! What the handlers answer is what the contract lists: every route of the
//! core's table driven to each answer its table lists (`Route::answers`),
//! and every answer seen is one the OpenAPI document lists for that route
//! (its own or a [`routes::common_answers`] one). A status a handler learns
//! to answer fails here until the table (and so the document) lists it, and
//! a listed one no scenario reaches fails too.

use std::collections::{BTreeMap, BTreeSet};

use import_core::routes::{self, Route};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

/// One request and the answer it must get.
struct Case {
    route: Route,
    path: String,
    body: Option<Value>,
    want: u16,
}

fn case(route: Route, path: impl Into<String>, body: Option<Value>, want: u16) -> Case {
    Case {
        route,
        path: path.into(),
        body,
        want,
    }
}

/// A service-account key whose endpoints are the S3 stand-in's (an allowed
/// address), with OAuth off, so it saves without reaching Google.
fn gcs_key(env: &Env) -> Value {
    json!({
        "type": "service_account",
        "project_id": "p",
        "private_key_id": "k",
        "private_key": "-----BEGIN PRIVATE KEY-----\nZHVtbXk=\n-----END PRIVATE KEY-----\n",
        "client_email": "x@p.iam.gserviceaccount.com",
        "gcs_base_url": format!("http://{}", env.s3.addr()),
        "disable_oauth": true,
    })
}

async fn send(env: &Env, c: &Case) -> (u16, Value) {
    let (status, body) = env.call(c.route.method(), &c.path, c.body.clone()).await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn every_route_answers_what_the_contract_lists_and_nothing_else() {
    // Three objects may wait per organisation, so a fourth is the
    // handler's own 429.
    let env = env_with(|c| c.max_pending_rows_per_org = 3).await;
    env.s3.put(BUCKET, "a.mp4", &mp4(320, 240, 1000)).unwrap();
    let s3_ci = env.s3_integration(SK, None).await;
    let (_, gcs) = env
        .post(
            routes::ADD_GCS_INTEGRATION.template,
            json!({"name": "g", "type": "gcs", "service_account": gcs_key(&env), "bucket": "drive-archive"}),
        )
        .await;
    let gcs_ci = gcs["id"].as_str().unwrap_or_default().to_owned();
    let (_, hf) = env
        .post(
            routes::ADD_HF_INTEGRATION.template,
            json!({"name": "h", "type": "hf_bucket", "token": "hf_x", "bucket": "acme/cams"}),
        )
        .await;
    let hf_ci = hf["id"].as_str().unwrap_or_default().to_owned();
    let job = env
        .upload_s3_keys(BUCKET, &["a.mp4".to_owned()], &s3_ci)
        .await;
    env.wait_job(&job).await;
    let video = env.rows(&job, 10).await[0]["video_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, victim) = env
        .post(
            routes::ADD_S3_INTEGRATION.template,
            json!({"name": "gone", "type": "s3", "access_key_id": AK, "secret_access_key": SK,
                   "endpoint_url": format!("http://{}", env.s3.addr()), "bucket": BUCKET}),
        )
        .await;
    let victim = routes::DELETE_INTEGRATION.fill(victim["id"].as_str().unwrap());
    let folder = json!({"name": "fleet", "scope": "org"});
    let forbidden_s3 = json!({"name": "x", "type": "s3", "access_key_id": "a", "secret_access_key": "b",
                              "endpoint_url": "http://127.0.0.1:9", "bucket": BUCKET});
    let mut forbidden_gcs = gcs_key(&env);
    forbidden_gcs["gcs_base_url"] = json!("https://169.254.169.254");
    let nope_job = "ij_00000000000000000000000000";
    let (videos, retry, cancel) = (
        routes::GET_IMPORT_JOB_VIDEOS.fill(&job),
        routes::RETRY_IMPORT_JOB.fill(&job),
        routes::CANCEL_IMPORT_JOB.fill(&job),
    );
    let four: Vec<String> = (0..4).map(|i| format!("n{i}.mp4")).collect();

    use routes::*;
    let cases = [
        case(VERIFY_AUTH, VERIFY_AUTH.template, None, 200),
        case(
            CREATE_OR_GET_FOLDER,
            CREATE_OR_GET_FOLDER.template,
            Some(folder.clone()),
            200,
        ),
        case(
            CREATE_OR_GET_FOLDER,
            CREATE_OR_GET_FOLDER.template,
            Some(json!({"name": "", "scope": "org"})),
            422,
        ),
        case(
            CREATE_FOLDER,
            CREATE_FOLDER.template,
            Some(json!({"name": "new", "scope": "org"})),
            201,
        ),
        case(
            CREATE_FOLDER,
            CREATE_FOLDER.template,
            Some(folder.clone()),
            409,
        ),
        case(
            CREATE_FOLDER,
            CREATE_FOLDER.template,
            Some(json!({"name": "", "scope": "org"})),
            422,
        ),
        case(
            GET_FOLDER,
            "/api/folders/get?name=fleet&scope=org",
            None,
            200,
        ),
        case(
            GET_FOLDER,
            "/api/folders/get?name=none&scope=org",
            None,
            404,
        ),
        case(
            GET_FOLDER,
            "/api/folders/get?name=fleet&scope=nowhere",
            None,
            422,
        ),
        case(LIST_INTEGRATIONS, LIST_INTEGRATIONS.template, None, 200),
        case(
            ADD_GCS_INTEGRATION,
            ADD_GCS_INTEGRATION.template,
            Some(
                json!({"name": "g", "type": "gcs", "service_account": gcs_key(&env), "bucket": "drive-archive"}),
            ),
            200,
        ),
        case(
            ADD_GCS_INTEGRATION,
            ADD_GCS_INTEGRATION.template,
            Some(
                json!({"name": "g", "type": "gcs", "service_account": forbidden_gcs, "bucket": "drive-archive"}),
            ),
            400,
        ),
        case(
            ADD_GCS_INTEGRATION,
            ADD_GCS_INTEGRATION.template,
            Some(
                json!({"name": "g", "type": "gcs", "service_account": "not an object", "bucket": "drive-archive"}),
            ),
            422,
        ),
        case(
            ADD_S3_INTEGRATION,
            ADD_S3_INTEGRATION.template,
            Some(
                json!({"name": "s", "type": "s3", "access_key_id": AK, "secret_access_key": SK,
                         "endpoint_url": format!("http://{}", env.s3.addr()), "bucket": BUCKET}),
            ),
            200,
        ),
        case(
            ADD_S3_INTEGRATION,
            ADD_S3_INTEGRATION.template,
            Some(forbidden_s3),
            400,
        ),
        case(
            ADD_S3_INTEGRATION,
            ADD_S3_INTEGRATION.template,
            Some(
                json!({"name": "s", "type": "s3", "access_key_id": AK, "secret_access_key": SK, "bucket": "Not A Bucket!"}),
            ),
            422,
        ),
        case(
            ADD_HF_INTEGRATION,
            ADD_HF_INTEGRATION.template,
            Some(json!({"name": "h", "type": "hf_bucket", "token": "hf_y", "bucket": "acme/cams"})),
            200,
        ),
        case(
            ADD_HF_INTEGRATION,
            ADD_HF_INTEGRATION.template,
            Some(json!({"name": "h", "type": "hf_bucket", "token": "hf_y", "bucket": "no-slash"})),
            422,
        ),
        case(DELETE_INTEGRATION, victim.clone(), None, 204),
        case(DELETE_INTEGRATION, victim, None, 404),
        case(
            UPLOAD_S3,
            UPLOAD_S3.template,
            Some(json!({"keys": ["a.mp4"], "bucket": BUCKET, "integration_id": s3_ci})),
            200,
        ),
        case(
            UPLOAD_S3,
            UPLOAD_S3.template,
            Some(json!({"keys": ["a.mp4"], "bucket": BUCKET, "integration_id": gcs_ci})),
            400,
        ),
        case(
            UPLOAD_S3,
            UPLOAD_S3.template,
            Some(json!({"keys": ["a.mp4"], "bucket": BUCKET, "integration_id": "ci_nope"})),
            404,
        ),
        case(
            UPLOAD_S3,
            UPLOAD_S3.template,
            Some(json!({"keys": [], "bucket": BUCKET})),
            422,
        ),
        case(
            UPLOAD_S3,
            UPLOAD_S3.template,
            Some(json!({"keys": four, "bucket": BUCKET})),
            429,
        ),
        case(
            UPLOAD_GCS,
            UPLOAD_GCS.template,
            Some(json!({"files": ["a.mp4"], "integration_id": gcs_ci})),
            200,
        ),
        case(
            UPLOAD_GCS,
            UPLOAD_GCS.template,
            Some(json!({"files": ["a.mp4"], "integration_id": s3_ci})),
            400,
        ),
        case(
            UPLOAD_GCS,
            UPLOAD_GCS.template,
            Some(json!({"files": ["a.mp4"], "integration_id": "ci_nope"})),
            404,
        ),
        case(
            UPLOAD_GCS,
            UPLOAD_GCS.template,
            Some(json!({"files": [], "integration_id": gcs_ci})),
            422,
        ),
        case(
            UPLOAD_GCS,
            UPLOAD_GCS.template,
            Some(json!({"files": four, "integration_id": gcs_ci})),
            429,
        ),
        case(
            UPLOAD_HF_BUCKET,
            UPLOAD_HF_BUCKET.template,
            Some(json!({"files": ["a.mp4"], "bucket": "acme/cams", "integration_id": hf_ci})),
            200,
        ),
        case(
            UPLOAD_HF_BUCKET,
            UPLOAD_HF_BUCKET.template,
            Some(json!({"files": ["a.mp4"], "bucket": "acme/cams", "integration_id": s3_ci})),
            400,
        ),
        case(
            UPLOAD_HF_BUCKET,
            UPLOAD_HF_BUCKET.template,
            Some(json!({"files": ["a.mp4"], "bucket": "acme/cams", "integration_id": "ci_nope"})),
            404,
        ),
        case(
            UPLOAD_HF_BUCKET,
            UPLOAD_HF_BUCKET.template,
            Some(json!({"files": [], "bucket": "acme/cams"})),
            422,
        ),
        case(
            UPLOAD_HF_BUCKET,
            UPLOAD_HF_BUCKET.template,
            Some(json!({"files": four, "bucket": "acme/cams"})),
            429,
        ),
        case(GET_IMPORT_JOB, GET_IMPORT_JOB.fill(&job), None, 200),
        case(GET_IMPORT_JOB, GET_IMPORT_JOB.fill(nope_job), None, 404),
        case(GET_IMPORT_JOB_VIDEOS, videos.clone(), None, 200),
        case(
            GET_IMPORT_JOB_VIDEOS,
            format!("{videos}?cursor={video}&offset=1"),
            None,
            400,
        ),
        case(
            GET_IMPORT_JOB_VIDEOS,
            GET_IMPORT_JOB_VIDEOS.fill(nope_job),
            None,
            404,
        ),
        case(
            GET_IMPORT_JOB_VIDEOS,
            format!("{videos}?limit=0"),
            None,
            422,
        ),
        case(
            RETRY_IMPORT_JOB,
            retry,
            Some(json!({"video_ids": null})),
            200,
        ),
        case(
            RETRY_IMPORT_JOB,
            RETRY_IMPORT_JOB.fill(nope_job),
            Some(json!({"video_ids": null})),
            404,
        ),
        case(
            RETRY_IMPORT_JOB,
            RETRY_IMPORT_JOB.fill(&job),
            Some(json!({"video_ids": "all"})),
            422,
        ),
        case(GET_VIDEO_STATUS, GET_VIDEO_STATUS.fill(&video), None, 200),
        case(
            GET_VIDEO_STATUS,
            GET_VIDEO_STATUS.fill("vi_00000000000000000000000000"),
            None,
            404,
        ),
        case(LIST_IMPORT_JOBS, LIST_IMPORT_JOBS.template, None, 200),
        case(LIST_IMPORT_JOBS, "/api/import-jobs?limit=0", None, 422),
        case(CANCEL_IMPORT_JOB, cancel, None, 200),
        case(
            CANCEL_IMPORT_JOB,
            CANCEL_IMPORT_JOB.fill(nope_job),
            None,
            404,
        ),
        case(HEALTHZ, HEALTHZ.template, None, 200),
        case(READYZ, READYZ.template, None, 200),
        case(METRICS, METRICS.template, None, 200),
    ];

    let mut reached: BTreeMap<&str, BTreeSet<u16>> = BTreeMap::new();
    for c in &cases {
        let (status, body) = send(&env, c).await;
        let what = format!("{} {}", c.route.method(), c.path);
        assert_eq!(status, c.want, "{what}: {body}");
        assert!(
            c.route.may_answer(status, c.body.is_some()),
            "{what} answered {status}, which the contract does not list for {}: add it to the route's answers",
            c.route.operation_id
        );
        reached
            .entry(c.route.operation_id)
            .or_default()
            .insert(status);
    }

    // The one answer that needs a broken server: /readyz's 503, on a server
    // whose media folder is a file (checked before anything asked it).
    let broken = env_with(|_| {}).await;
    let media = broken.dir.path().join("media");
    std::fs::remove_dir_all(&media).unwrap();
    std::fs::write(&media, b"not a folder").unwrap();
    let (status, _, body) = get_plain(&broken, READYZ.template).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    reached.entry(READYZ.operation_id).or_default().insert(503);

    for route in ALL {
        let listed: BTreeSet<u16> = route.answers.iter().map(|a| a.status).collect();
        let seen = reached.remove(route.operation_id).unwrap_or_default();
        assert_eq!(
            seen,
            listed,
            "{} {}: the scenarios reach these answers, the table lists those",
            route.method(),
            route.template
        );
    }
}
