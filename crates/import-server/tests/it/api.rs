//! Every route of the contract against a real server: status codes, error
//! bodies, tenancy, idempotency and limits.

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn detail(v: &Value) -> String {
    v["detail"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| v["detail"].to_string())
}

#[tokio::test]
async fn verify_and_authentication() {
    let env = env().await;
    let (status, body) = env.post("/api/keys/verify", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"valid": true, "user_id": "user_ada", "org_id": "org_acme"})
    );

    // Bearer works too; an empty POST body is fine.
    let res = env
        .http
        .post(env.url("/api/keys/verify"))
        .header("Authorization", format!("Bearer {}", env.key))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let res = env
        .http
        .post(env.url("/api/keys/verify"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = res.json().await.unwrap();
    assert!(detail(&body).contains("missing API key"), "{body}");

    let (status, body) = env
        .call_as("vk_wrong", Method::POST, "/api/keys/verify", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(detail(&body).contains("invalid API key"), "{body}");

    let (status, body) = env.get("/api/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(detail(&body).contains("no such route"), "{body}");
    let (status, _) = env.call(Method::DELETE, "/api/keys/verify", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn folders() {
    let env = env().await;
    let (s1, a) = env
        .post(
            "/api/folders/create-or-get",
            json!({"name": "fleet_uploads", "scope": "org"}),
        )
        .await;
    let (s2, b) = env
        .post(
            "/api/folders/create-or-get",
            json!({"name": " fleet_uploads ", "scope": "org"}),
        )
        .await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(a["id"], b["id"]);
    assert_eq!(a["scope"], "org");
    assert!(a["id"].as_str().unwrap().starts_with("fo_"));

    let (status, _) = env
        .post("/api/folders", json!({"name": "trips", "scope": "user"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = env
        .post("/api/folders", json!({"name": "trips", "scope": "user"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(detail(&body).contains("already exists"), "{body}");

    // `+` in a query is a space.
    env.post(
        "/api/folders",
        json!({"name": "night drives", "scope": "org"}),
    )
    .await;
    let (status, body) = env
        .get("/api/folders/get?name=night+drives&scope=org")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "night drives");
    let (status, _) = env.get("/api/folders/get?name=nothing&scope=org").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = env.get("/api/folders/get?scope=org").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = env.get("/api/folders/get?name=x&scope=team").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Bad bodies: malformed JSON 400, missing field 422, blank name 422.
    let res = env
        .http
        .post(env.url("/api/folders"))
        .header("X-API-Key", &env.key)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (status, _) = env.post("/api/folders", json!({"scope": "org"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = env.post("/api/folders", json!({"name": "  "})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(detail(&body).contains("not a folder name"), "{body}");

    // Tenancy: org folders are shared in the org, user folders are not.
    let bob = env
        .server
        .create_api_key("user_bob", "org_acme", None)
        .await
        .unwrap();
    let (status, _) = env
        .call_as(
            &bob,
            Method::GET,
            "/api/folders/get?name=fleet_uploads&scope=org",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = env
        .call_as(
            &bob,
            Method::GET,
            "/api/folders/get?name=trips&scope=user",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let eve = env
        .server
        .create_api_key("user_eve", "org_other", None)
        .await
        .unwrap();
    let (status, _) = env
        .call_as(
            &eve,
            Method::GET,
            "/api/folders/get?name=fleet_uploads&scope=org",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn integrations_never_return_secrets() {
    let env = env().await;
    let id = env.s3_integration(SK, Some("raw/")).await;
    let (status, list) = env.get("/api/cloud-integrations").await;
    assert_eq!(status, StatusCode::OK);
    let text = list.to_string();
    assert!(!text.contains(SK), "secret leaked: {text}");
    let item = &list[0];
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["type"], "s3");
    assert_eq!(item["region"], "auto");
    assert_eq!(item["prefix"], "raw/");
    assert_eq!(item["is_owner"], true);
    assert_eq!(item["created_by"], "user_ada");
    assert_eq!(item["created_by_display_name"], "Ada");
    assert_eq!(item["endpoint_url"], env.s3.endpoint());

    // Amazon S3 without a region.
    let (status, body) = env
        .post("/api/cloud-integrations/s3", json!({"name": "x", "type": "s3", "access_key_id": "a", "secret_access_key": "b", "bucket": BUCKET}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(detail(&body).contains("`region` is required"), "{body}");
    // A bucket name S3 would refuse.
    let (status, body) = env
        .post("/api/cloud-integrations/s3", json!({"name": "x", "type": "s3", "access_key_id": "a", "secret_access_key": "b", "region": "eu-west-1", "bucket": "Bad_Bucket"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(detail(&body).contains("invalid `bucket`"), "{body}");
    // HF and GCS integrations.
    let (status, hf) = env
        .post("/api/cloud-integrations/hf-bucket", json!({"name": "hf", "type": "hf_bucket", "token": "hf_supersecret", "bucket": "acme/cams", "prefix": null}))
        .await;
    assert_eq!(status, StatusCode::OK, "{hf}");
    assert!(!hf.to_string().contains("hf_supersecret"));
    let (status, body) = env
        .post("/api/cloud-integrations/gcs", json!({"name": "g", "type": "gcs", "service_account": "not an object", "bucket": "drive-archive"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Another org sees nothing and cannot delete; a colleague sees but cannot delete.
    let eve = env
        .server
        .create_api_key("user_eve", "org_other", None)
        .await
        .unwrap();
    let (_, list) = env
        .call_as(&eve, Method::GET, "/api/cloud-integrations", None)
        .await;
    assert_eq!(list, json!([]));
    let (status, _) = env
        .call_as(
            &eve,
            Method::DELETE,
            &format!("/api/cloud-integrations/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let bob = env
        .server
        .create_api_key("user_bob", "org_acme", None)
        .await
        .unwrap();
    let (_, list) = env
        .call_as(&bob, Method::GET, "/api/cloud-integrations", None)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[1]["is_owner"], false);
    let (status, _) = env
        .call_as(
            &bob,
            Method::DELETE,
            &format!("/api/cloud-integrations/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = env
        .call(
            Method::DELETE,
            &format!("/api/cloud-integrations/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = env.get("/api/cloud-integrations").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn server_side_request_forgery_is_refused() {
    let env = env().await;
    for endpoint in [
        "http://127.0.0.1:9",
        "https://127.0.0.1:9",
        "https://169.254.169.254",
        "https://10.1.2.3",
        "https://[::1]:443",
        "https://100.64.0.1",
        "https://0.0.0.0",
        "https://localhost:8443",
    ] {
        let (status, body) = env
            .post(
                "/api/cloud-integrations/s3",
                json!({"name": "x", "type": "s3", "access_key_id": "a", "secret_access_key": "b", "endpoint_url": endpoint, "bucket": BUCKET}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{endpoint}: {body}");
        assert!(
            detail(&body).contains("--allow-endpoint"),
            "{endpoint}: {body}"
        );
    }
    let mut key = json!({"type": "service_account", "client_email": "x@y.iam.gserviceaccount.com",
                         "private_key": "-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----\n",
                         "private_key_id": "k1", "token_uri": "https://169.254.169.254/token"});
    let (status, body) = env
        .post(
            "/api/cloud-integrations/gcs",
            json!({"name": "g", "type": "gcs", "service_account": key, "bucket": "drive-archive"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    key["token_uri"] = json!("http://10.0.0.1/token");
    key["gcs_base_url"] = json!("https://storage.googleapis.com");
    let (status, _) = env
        .post(
            "/api/cloud-integrations/gcs",
            json!({"name": "g", "type": "gcs", "service_account": key, "bucket": "drive-archive"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn upload_validation_answers_at_once() {
    let env = env_with(|c| c.max_objects = 5).await;
    let ci = env.s3_integration(SK, None).await;
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"keys": [], "bucket": BUCKET}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "names no object",
        ),
        (
            json!({"bucket": BUCKET}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "`keys` is required",
        ),
        (
            json!({"keys": ["a.mov"], "bucket": BUCKET}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "only `.mp4` files",
        ),
        (
            json!({"keys": ["a.mcap"], "bucket": BUCKET}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "MCAP",
        ),
        (
            json!({"keys": ["*.mp4"], "bucket": BUCKET}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "wildcards",
        ),
        (
            json!({"keys": ["a.mp4"], "bucket": "Bad_Bucket"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not valid for S3",
        ),
        (
            json!({"keys": (0..6).map(|i| format!("{i}.mp4")).collect::<Vec<_>>(), "bucket": BUCKET}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "at most 5",
        ),
        (
            json!({"keys": ["a.mp4"], "bucket": BUCKET, "integration_id": "ci_nope"}),
            StatusCode::NOT_FOUND,
            "integration not found",
        ),
        (
            json!({"keys": ["a.mp4"], "bucket": "other-bucket", "integration_id": ci}),
            StatusCode::BAD_REQUEST,
            "for bucket `fleet-videos`",
        ),
        (
            json!({"keys": ["a.mp4"], "bucket": BUCKET, "folder_id": "fo_nope"}),
            StatusCode::NOT_FOUND,
            "folder not found",
        ),
        (
            json!({"keys": ["a.mp4"], "bucket": BUCKET, "scope": "sample"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid scope",
        ),
        (
            json!({"sets": [{"views": {"left": format!("s3://{BUCKET}/l.mp4")}}], "bucket": BUCKET}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "no `front` view",
        ),
        (
            json!({"sets": [{"views": {"front": format!("s3://{BUCKET}/f.mp4"), "Bad-Role": format!("s3://{BUCKET}/l.mp4")}}], "bucket": BUCKET}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid view role",
        ),
    ];
    for (body, status, needle) in cases {
        let (got, answer) = env.post("/api/s3/upload", body.clone()).await;
        assert_eq!(got, status, "{body} -> {answer}");
        assert!(detail(&answer).contains(needle), "{body} -> {answer}");
    }
    // GCS needs an integration, and an S3 integration is not a GCS one.
    let (status, body) = env
        .post("/api/gcs/upload", json!({"files": ["a.mp4"]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        detail(&body).contains("`integration_id` is required"),
        "{body}"
    );
    let (status, body) = env
        .post(
            "/api/gcs/upload",
            json!({"files": ["a.mp4"], "integration_id": ci}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(detail(&body).contains("is a `s3` integration"), "{body}");
    // HF takes no view sets.
    let (status, _) = env
        .post(
            "/api/hf-buckets/upload",
            json!({"sets": [{"views": {"front": "hf://buckets/a/b/f.mp4"}}], "bucket": "a/b"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn body_limit_is_413() {
    let env = env_with(|c| c.body_limit = 1024).await;
    let keys: Vec<String> = (0..200)
        .map(|i| format!("some/long/prefix/{i:05}.mp4"))
        .collect();
    let (status, body) = env
        .post("/api/s3/upload", json!({"keys": keys, "bucket": BUCKET}))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(detail(&body).contains("larger than 1024 bytes"), "{body}");
}

#[tokio::test]
async fn idempotent_replay() {
    let env = env().await;
    let ci = env.s3_integration(SK, None).await;
    env.s3.put(BUCKET, "a.mp4", &mp4(320, 240, 1000)).unwrap();
    let body = json!({"keys": ["a.mp4"], "bucket": BUCKET, "integration_id": ci});
    let send = |b: Value, key: &'static str| {
        env.http
            .post(env.url("/api/s3/upload"))
            .header("X-API-Key", &env.key)
            .header("Idempotency-Key", key)
            .json(&b)
            .send()
    };
    let first = send(body.clone(), "idem-1").await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert!(
        first
            .headers()
            .get(import_server::REPLAYED_HEADER)
            .is_none()
    );
    let first: Value = first.json().await.unwrap();
    let again = send(body.clone(), "idem-1").await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()[import_server::REPLAYED_HEADER], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first, again);
    let other = send(json!({"keys": ["b.mp4"], "bucket": BUCKET}), "idem-1")
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::CONFLICT);
    // One job only.
    let job = first["import_job_id"].as_str().unwrap();
    assert_eq!(env.wait_job(job).await["total"], 1);
    // A bad key is refused.
    let res = env
        .http
        .post(env.url("/api/keys/verify"))
        .header("X-API-Key", &env.key)
        .header("Idempotency-Key", "x".repeat(200))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// An organisation-wide import cannot go into a folder private to one user
/// (its name would show to the whole organisation); a user import can.
#[tokio::test]
async fn an_org_import_into_a_private_folder_is_refused() {
    let env = env().await;
    let (_, mine) = env
        .post(
            "/api/folders/create-or-get",
            json!({"name": "my drafts", "scope": "user"}),
        )
        .await;
    let folder = mine["id"].as_str().unwrap();
    let (status, body) = env
        .post(
            "/api/s3/upload",
            json!({"keys": ["a.mp4"], "bucket": BUCKET, "folder_id": folder, "scope": "org"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        detail(&body).contains("private to its user") && detail(&body).contains("org-scope folder"),
        "{body}"
    );
    let (status, body) = env
        .post(
            "/api/s3/upload",
            json!({"keys": ["a.mp4"], "bucket": BUCKET, "folder_id": folder, "scope": "user"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Names that share the first byte of different characters (`é`, `è`) once
/// panicked the server (the connection dropped, the key stayed reserved).
#[tokio::test]
async fn unicode_names_that_share_a_first_byte_are_served() {
    let env = env().await;
    let res = env
        .http
        .post(env.url("/api/s3/upload"))
        .header("X-API-Key", &env.key)
        .header("Idempotency-Key", "unicode-1")
        .json(&json!({"keys": ["a/é.mp4", "a/è.mp4"], "bucket": BUCKET}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The key was answered, so a replay gets the same job.
    let again = env
        .http
        .post(env.url("/api/s3/upload"))
        .header("X-API-Key", &env.key)
        .header("Idempotency-Key", "unicode-1")
        .json(&json!({"keys": ["a/é.mp4", "a/è.mp4"], "bucket": BUCKET}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.headers()[import_server::REPLAYED_HEADER], "true");
}

/// The same `Idempotency-Key` from users of the same name in two
/// organisations names two requests: each gets its own job.
#[tokio::test]
async fn idempotency_keys_belong_to_their_organisation() {
    let env = env().await;
    let one = env
        .server
        .create_api_key("admin", "org_one", None)
        .await
        .unwrap();
    let two = env
        .server
        .create_api_key("admin", "org_two", None)
        .await
        .unwrap();
    let body = json!({"keys": ["a.mp4"], "bucket": BUCKET});
    let mut jobs = Vec::new();
    for key in [&one, &two] {
        let res = env
            .http
            .post(env.url("/api/s3/upload"))
            .header("X-API-Key", key)
            .header("Idempotency-Key", "same-key")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().get(import_server::REPLAYED_HEADER).is_none());
        let answer: Value = res.json().await.unwrap();
        jobs.push(answer["import_job_id"].as_str().unwrap().to_owned());
    }
    assert_ne!(jobs[0], jobs[1]);
}

/// Duplicates of a request sent while it is being served never make a
/// second job: each answers the first one's job, or `409` with `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_make_one_job() {
    let env = env_with(|c| c.max_in_flight = 0).await;
    // A big body, so that the first request is served for a while.
    let keys: Vec<String> = (0..20_000).map(|i| format!("many/{i:05}.mp4")).collect();
    let body = json!({"keys": keys, "bucket": BUCKET});
    let send = || {
        env.http
            .post(env.url("/api/s3/upload"))
            .header("X-API-Key", &env.key)
            .header("Idempotency-Key", "one-big-batch")
            .json(&body)
            .send()
    };
    let answers = futures::future::join_all((0..8).map(|_| send())).await;
    let mut job_ids = std::collections::BTreeSet::new();
    let mut conflicts = 0;
    for res in answers {
        let res = res.unwrap();
        match res.status() {
            StatusCode::OK => {
                let answer: Value = res.json().await.unwrap();
                job_ids.insert(answer["import_job_id"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => {
                assert!(res.headers().get("retry-after").is_some());
                conflicts += 1;
            }
            other => panic!("a duplicate answered {other}"),
        }
    }
    assert_eq!(job_ids.len(), 1, "{job_ids:?}");
    let (status, list) = env.get("/api/import-jobs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["jobs"].as_array().unwrap().len(), 1, "{list}");
    println!("8 concurrent duplicates: one job, {conflicts} answered 409 while it was served");
}

#[tokio::test]
async fn paging_errors_and_tenancy_of_jobs() {
    let env = env().await;
    env.s3.put(BUCKET, "a.mp4", &mp4(320, 240, 1000)).unwrap();
    let ci = env.s3_integration(SK, None).await;
    let (_, up) = env
        .post(
            "/api/s3/upload",
            json!({"keys": ["a.mp4"], "bucket": BUCKET, "integration_id": ci}),
        )
        .await;
    let job = up["import_job_id"].as_str().unwrap().to_owned();
    for (q, status) in [
        ("limit=0", StatusCode::UNPROCESSABLE_ENTITY),
        ("limit=1001", StatusCode::UNPROCESSABLE_ENTITY),
        ("limit=abc", StatusCode::UNPROCESSABLE_ENTITY),
        ("offset=-1", StatusCode::UNPROCESSABLE_ENTITY),
        ("cursor=vi_1&offset=0", StatusCode::BAD_REQUEST),
        ("limit=1000&offset=0", StatusCode::OK),
        ("cursor=a%2Fb", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (got, body) = env.get(&format!("/api/import-jobs/{job}/videos?{q}")).await;
        assert_eq!(got, status, "{q}: {body}");
    }
    let (status, _) = env.get("/api/import-jobs/ij_missing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let eve = env
        .server
        .create_api_key("user_eve", "org_other", None)
        .await
        .unwrap();
    for path in [
        format!("/api/import-jobs/{job}"),
        format!("/api/import-jobs/{job}/videos"),
    ] {
        let (status, _) = env.call_as(&eve, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = env
        .call_as(
            &eve,
            Method::POST,
            &format!("/api/import-jobs/{job}/retry"),
            Some(json!({"video_ids": null})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A colleague sees `user` scope jobs? No: only `org` scope ones.
    let bob = env
        .server
        .create_api_key("user_bob", "org_acme", None)
        .await
        .unwrap();
    let (status, _) = env
        .call_as(&bob, Method::GET, &format!("/api/import-jobs/{job}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let done = env.wait_job(&job).await;
    let rows = env.rows(&job, 10).await;
    let vid = rows[0]["video_id"].as_str().unwrap();
    let (status, _) = env
        .call_as(&eve, Method::GET, &format!("/api/video/{vid}/status"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(done["status"], "completed");
}

/// Every text field is bounded and refuses control characters with a 422
/// that names the field and the limit, the same on SQLite and PostgreSQL
/// (PostgreSQL would answer 500 to a NUL reaching a TEXT column).
#[tokio::test]
async fn every_field_is_bounded_and_refuses_control_characters() {
    let env = env().await;
    let s3 = |f: &dyn Fn(&mut Value)| {
        let mut body = json!({"name": "cams", "type": "s3", "access_key_id": "a", "secret_access_key": "b",
            "endpoint_url": env.s3.endpoint(), "bucket": BUCKET, "prefix": "raw/"});
        f(&mut body);
        body
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            s3(&|b| b["name"] = json!("cams\u{0}")),
            "`name` contains the control character U+0000",
        ),
        (
            s3(&|b| b["name"] = json!("é".repeat(256))),
            "`name` is 256 characters long; use at most 255",
        ),
        (
            s3(&|b| b["name"] = json!("x".repeat(5_000))),
            "`name` is 5000 characters long",
        ),
        (
            s3(&|b| b["prefix"] = json!("raw\u{0}/")),
            "`prefix` contains the control character U+0000",
        ),
        (
            s3(&|b| b["prefix"] = json!("p/".repeat(513))),
            "`prefix` is 1026 bytes long; use at most 1024",
        ),
        (
            s3(&|b| b["access_key_id"] = json!("a\nb")),
            "`access_key_id` contains the control character U+000A",
        ),
        (
            s3(&|b| b["secret_access_key"] = json!("k".repeat(8193))),
            "`secret_access_key` is 8193 bytes long",
        ),
        (
            s3(&|b| b["session_token"] = json!("t\u{7f}")),
            "`session_token` contains the control character U+007F",
        ),
        (
            s3(&|b| b["region"] = json!("EU West")),
            "`region` `EU West` is not a region",
        ),
        (
            s3(&|b| b["endpoint_url"] = json!("ftp://x")),
            "`endpoint_url` `ftp://x` must start with https://",
        ),
        (
            s3(&|b| b["endpoint_url"] = json!("https://u:p@x")),
            "must not carry a user name or password",
        ),
    ];
    for (body, want) in &cases {
        let (status, answer) = env.post("/api/cloud-integrations/s3", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(detail(&answer).contains(want), "{want}: {answer}");
    }
    let (status, answer) = env
        .post(
            "/api/cloud-integrations/hf-bucket",
            json!({"name": "hf", "type": "hf_bucket", "token": "hf\u{0}x", "bucket": "acme/cams"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(
        detail(&answer).contains("`token` contains the control character U+0000"),
        "{answer}"
    );
    let big_key = json!({"type": "service_account", "private_key": "k".repeat(17 * 1024)});
    let (status, answer) = env
        .post("/api/cloud-integrations/gcs", json!({"name": "g", "type": "gcs", "service_account": big_key, "bucket": "fleet_videos"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(detail(&answer).contains("use at most 16384"), "{answer}");
    // Folders: name and description.
    for (body, want) in [
        (
            json!({"name": "a\u{0}b", "scope": "org"}),
            "is not a folder name",
        ),
        (
            json!({"name": "n".repeat(256), "scope": "org"}),
            "is not a folder name",
        ),
        (
            json!({"name": "ok", "scope": "org", "description": "d\u{1b}[2J"}),
            "`description` contains the control character U+001B",
        ),
        (
            json!({"name": "ok", "scope": "org", "description": "d".repeat(256)}),
            "`description` is 256 characters long; use at most 255",
        ),
    ] {
        let (status, answer) = env.post("/api/folders", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(detail(&answer).contains(want), "{want}: {answer}");
    }
    let (status, answer) = env.get("/api/folders/get?name=a%00b&scope=org").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    // Limits are inclusive: 255 characters of a name are fine.
    let (status, answer) = env
        .post(
            "/api/folders",
            json!({"name": "é".repeat(255), "scope": "org", "description": "d".repeat(255)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    // Nothing of the refused bodies was stored.
    let (_, list) = env.get("/api/cloud-integrations").await;
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
}

/// Integration and folder routes take 64 KiB; uploads keep the bulk limit;
/// the object cap is checked before any name is parsed.
#[tokio::test]
async fn small_routes_take_small_bodies_and_the_object_cap_comes_first() {
    let env = env_with(|c| c.max_objects = 10).await;
    let (status, answer) = env
        .post(
            "/api/folders",
            json!({"name": "ok", "scope": "org", "pad": "x".repeat(70 * 1024)}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert!(
        detail(&answer).contains("larger than 65536 bytes"),
        "{answer}"
    );
    // An upload body of 1 MiB is fine for the upload route (it fails on its
    // names, not its size).
    let keys: Vec<String> = (0..10).map(|i| format!("{i}.mp4")).collect();
    let (status, answer) = env
        .post(
            "/api/s3/upload",
            json!({"keys": keys, "bucket": BUCKET, "pad": "x".repeat(1 << 20)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // Eleven entries, one of them not even a string: the cap answers, not
    // the parse of the names.
    let mut keys: Vec<Value> = (0..10).map(|i| json!(format!("{i}.mp4"))).collect();
    keys.push(json!(42));
    let (status, answer) = env
        .post("/api/s3/upload", json!({"keys": keys, "bucket": BUCKET}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(
        detail(&answer).contains("names 11 objects but at most 10"),
        "{answer}"
    );
    let sets: Vec<Value> = (0..4)
        .map(|i| json!({"views": {"front": format!("s3://{BUCKET}/{i}f.mp4"), "left": format!("s3://{BUCKET}/{i}l.mp4"), "right": format!("s3://{BUCKET}/{i}r.mp4")}}))
        .collect();
    let (status, answer) = env.post("/api/s3/upload", json!({"sets": sets})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(
        detail(&answer).contains("names 12 objects but at most 10"),
        "{answer}"
    );
}

/// Whether the server closed this connection: it reads end-of-file (or an
/// error) within `wait`, after whatever the server said last.
async fn closed_within(stream: &mut tokio::net::TcpStream, wait: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// Half a header on 300 connections: each is closed once the header
/// timeout passes, none is left open.
#[tokio::test]
async fn half_headers_are_closed_after_the_header_timeout() {
    use tokio::io::AsyncWriteExt;
    let env = env_with(|c| {
        c.header_timeout = std::time::Duration::from_secs(1);
        c.idle_timeout = std::time::Duration::from_secs(60);
    })
    .await;
    let addr = env.server.addr();
    let mut conns = Vec::new();
    for _ in 0..300 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /api/import-jobs HTTP/1.1\r\nHost: x\r\nX-API-Key: ")
            .await
            .unwrap();
        conns.push(s);
    }
    let started = std::time::Instant::now();
    // Still open well inside the timeout.
    assert!(!closed_within(&mut conns[0], std::time::Duration::from_millis(300)).await);
    let mut open = 0;
    for s in &mut conns {
        if !closed_within(s, std::time::Duration::from_secs(3)).await {
            open += 1;
        }
    }
    println!(
        "half-open connections left after the header timeout (1 s): {open} of 300, all checked within {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(open, 0);
    // The server still serves.
    let (status, _) = env.post("/api/keys/verify", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
}

/// A kept-alive connection that stays silent is closed after the idle
/// timeout; one that keeps sending requests stays open; a body that does not
/// arrive in time is `408`.
#[tokio::test]
async fn idle_connections_close_and_slow_bodies_are_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = env_with(|c| {
        c.idle_timeout = std::time::Duration::from_secs(1);
        c.body_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    let addr = env.server.addr();
    let request = format!(
        "POST /api/keys/verify HTTP/1.1\r\nHost: x\r\nX-API-Key: {}\r\nContent-Length: 0\r\n\r\n",
        env.key
    );
    async fn ask(s: &mut tokio::net::TcpStream, request: &str) -> String {
        s.write_all(request.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
    let mut busy = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut quiet = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(ask(&mut quiet, &request).await.starts_with("HTTP/1.1 200"));
    // The busy one asks every 400 ms for 2 s: never idle for a second.
    for _ in 0..5 {
        assert!(ask(&mut busy, &request).await.starts_with("HTTP/1.1 200"));
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    }
    assert!(closed_within(&mut quiet, std::time::Duration::from_millis(100)).await);
    assert!(ask(&mut busy, &request).await.starts_with("HTTP/1.1 200"));

    // A body of 100 bytes of which 10 arrive.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/folders HTTP/1.1\r\nHost: x\r\nX-API-Key: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\": \"",
        env.key
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), slow.read(&mut buf))
        .await
        .expect("answered within 5 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("--body-timeout"), "{answer}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
}

/// Beyond `--max-connections` a new connection is answered `503` at once and
/// closed; when one closes, the next is served.
#[tokio::test]
async fn connections_beyond_the_cap_are_refused_quickly() {
    use tokio::io::AsyncReadExt;
    // Every connection here comes from 127.0.0.1: the per-peer share is
    // off so that the whole cap is what is tested (abuse.rs tests the share).
    let env = env_with(|c| {
        c.max_connections = 5;
        c.max_connections_per_peer = Some(0);
    })
    .await;
    let addr = env.server.addr();
    let mut held = Vec::new();
    for _ in 0..5 {
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        // An answer on the connection: the server has accepted it and holds
        // one of its five places (kept alive, it goes on holding it).
        let ask = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        tokio::io::AsyncWriteExt::write_all(&mut conn, ask.as_bytes())
            .await
            .unwrap();
        let mut buf = vec![0u8; 1024];
        let n = conn.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(conn);
    }
    let started = std::time::Instant::now();
    let mut extra = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(2),
        extra.read_to_string(&mut answer),
    )
    .await
    .expect("the refusal comes at once")
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("--max-connections"), "{answer}");
    // A well-formed answer: its body is as long as it says.
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let declared: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(declared, body.len(), "{answer}");
    let parsed: Value = serde_json::from_str(body).unwrap();
    assert!(detail(&parsed).contains("--max-connections"));
    println!(
        "a connection over the cap was refused in {:?}",
        started.elapsed()
    );
    drop(held.pop());
    // The freed place is taken by the next connection (the server sees the
    // close within a moment).
    let mut served = false;
    for _ in 0..50 {
        let res = reqwest::Client::new()
            .post(env.url("/api/keys/verify"))
            .header("X-API-Key", &env.key)
            .send()
            .await;
        if matches!(&res, Ok(r) if r.status() == StatusCode::OK) {
            served = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(served, "a freed place was never given to a new connection");
    drop(held);
    let (_, _, metrics) = get_plain(&env, "/metrics").await;
    assert!(
        metrics.contains("vimport_refused_connections_total"),
        "{metrics}"
    );
}

/// A key past its expiry is refused with a 401 that says so; a revoked one
/// too; neither answer carries the key.
#[tokio::test]
async fn expired_and_revoked_keys_are_refused() {
    let env = env().await;
    let config = env.server.config().clone();
    let lasting = import_server::create_api_key_expiring(
        &config,
        "user_bo",
        "org_acme",
        None,
        Some(std::time::Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    let (status, _) = env
        .call_as(&lasting, Method::POST, "/api/keys/verify", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    // A key whose expiry is its creation: expired by the time it is used
    // (no waiting for time to pass).
    let short = import_server::create_api_key_expiring(
        &config,
        "user_bo",
        "org_acme",
        None,
        Some(std::time::Duration::ZERO),
    )
    .await
    .unwrap();
    let (status, body) = env
        .call_as(&short, Method::POST, "/api/keys/verify", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(detail(&body).contains("expired at"), "{body}");
    assert!(!body.to_string().contains(&short));

    let keys = import_server::list_api_keys(&config).await.unwrap();
    let ada = keys
        .iter()
        .find(|k| k.principal.user_id == "user_ada")
        .unwrap();
    assert_eq!(
        import_server::revoke_api_key(&config, &ada.id)
            .await
            .unwrap(),
        import_server::Revoked::Now
    );
    let (status, body) = env.post("/api/keys/verify", Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(detail(&body).contains("was revoked"), "{body}");
    assert_eq!(
        import_server::revoke_api_key(&config, &ada.id)
            .await
            .unwrap(),
        import_server::Revoked::Already
    );
    assert_eq!(
        import_server::revoke_api_key(&config, "ak_nope")
            .await
            .unwrap(),
        import_server::Revoked::Unknown
    );
}

/// `--max-pending-rows-per-org`: an upload that would take the
/// organisation's waiting rows past the cap is a 429 naming it; another
/// organisation is not affected.
#[tokio::test]
async fn the_pending_rows_of_an_organisation_are_capped() {
    let env = env_with(|c| {
        c.max_in_flight = 0;
        c.max_pending_rows_per_org = 5;
    })
    .await;
    let keys = |from: usize, n: usize| -> Vec<String> {
        (from..from + n).map(|i| format!("cap/{i}.mp4")).collect()
    };
    let (status, body) = env
        .post(
            "/api/s3/upload",
            json!({"keys": keys(0, 3), "bucket": BUCKET}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = env
        .post(
            "/api/s3/upload",
            json!({"keys": keys(3, 3), "bucket": BUCKET}),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(detail(&body).contains("3 videos waiting"), "{body}");
    assert!(
        detail(&body).contains("--max-pending-rows-per-org"),
        "{body}"
    );
    let (status, body) = env
        .post(
            "/api/s3/upload",
            json!({"keys": keys(3, 2), "bucket": BUCKET}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let other = env
        .server
        .create_api_key("user_cy", "org_other", None)
        .await
        .unwrap();
    let (status, body) = env
        .call_as(
            &other,
            Method::POST,
            "/api/s3/upload",
            Some(json!({"keys": keys(0, 5), "bucket": BUCKET})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Time made to pass by the server's clock (`ServerConfig::clock`): a key
/// that lasts an hour is refused two hours on, and an `Idempotency-Key`
/// is answered again within its 24 hours but is a new request after them.
#[tokio::test]
async fn expiries_and_the_idempotency_retention_follow_the_servers_clock() {
    let clock = import_server::Clock::default();
    let env = env_with(|c| c.clock = clock.clone()).await;
    let hour = import_server::create_api_key_expiring(
        env.server.config(),
        "user_bo",
        "org_acme",
        None,
        Some(std::time::Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    let verify = |key: String| {
        let env = &env;
        async move {
            env.call_as(&key, Method::POST, "/api/keys/verify", None)
                .await
        }
    };
    assert_eq!(verify(hour.clone()).await.0, StatusCode::OK);
    let folder = |name: &str, key: &str| {
        env.http
            .post(env.url(import_core::routes::CREATE_FOLDER.template))
            .header("X-API-Key", &env.key)
            .header("Idempotency-Key", key)
            .json(&json!({"name": name, "scope": "user"}))
            .send()
    };
    let first = folder("day-1", "same-key").await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let again = folder("day-2", "same-key").await.unwrap();
    assert_eq!(
        again.status(),
        StatusCode::CONFLICT,
        "another body, within 24 h"
    );
    // Two hours on: the hour-long key has expired.
    clock.advance(std::time::Duration::from_secs(2 * 3600));
    let (status, body) = verify(hour).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(detail(&body).contains("expired at"), "{body}");
    // A day on: the key's record is gone once the reaper has run (every
    // third of a lease), and the same key with another body is a new request.
    clock.advance(import_core::fields::IDEMPOTENCY_RETENTION);
    let mut fresh = None;
    for _ in 0..100 {
        let res = folder("day-2", "same-key").await.unwrap();
        if res.status() == StatusCode::CREATED {
            fresh = Some(res);
            break;
        }
        assert_eq!(res.status(), StatusCode::CONFLICT);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let fresh = fresh.expect("the key's record outlived its retention");
    assert!(!fresh.headers().contains_key("idempotent-replayed"));
}

/// Every answer of the API carries an `X-Request-ID`: the client's (the
/// Rust clients send one per request), else one the server made, logged
/// alike.
#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let env = env().await;
    let verify = || {
        env.http
            .post(env.url(import_core::routes::VERIFY_AUTH.template))
            .header("X-API-Key", &env.key)
    };
    let res = verify().send().await.unwrap();
    let made = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(made.starts_with("rq_") && made.len() == 19, "{made}");
    let res = verify()
        .header("X-Request-ID", "trip-42-upload")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trip-42-upload");
}
