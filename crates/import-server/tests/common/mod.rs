//! The harness of the server's tests: a real server on 127.0.0.1:0 with a
//! temporary SQLite file and media folder, and an s3s-fs bucket with SigV4.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use import_server::{Server, ServerConfig};
use import_testkit::S3StandIn;
use import_testkit::mp4::{Mp4Spec, sample_mp4};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const AK: &str = "AKIDTEST";
pub const SK: &str = "secret-test-key-9f8e7d";
pub const BUCKET: &str = "fleet-videos";

pub struct Env {
    pub server: Server,
    pub s3: S3StandIn,
    pub key: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

/// With `VIMPORT_TEST_STORE=postgres` (as `cargo xtask test` runs the suite a
/// second time), every server of the suite gets a fresh PostgreSQL database
/// on `VIMPORT_TEST_POSTGRES_URL`; otherwise a SQLite file in `dir`.
pub fn database_url() -> Option<String> {
    if std::env::var("VIMPORT_TEST_STORE").as_deref() != Ok("postgres") {
        return None;
    }
    let admin = std::env::var("VIMPORT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("vimport_test_{}", uuid_like());
    let create = admin.clone();
    let db = name.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::postgres::PgConnection::connect(&create)
                .await
                .expect("PostgreSQL answers");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
                .execute(&mut conn)
                .await
                .unwrap();
        });
    })
    .join()
    .unwrap();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Some(format!("{base}/{name}"))
}

fn uuid_like() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    format!("{:016x}", h.finish())
}

pub fn config(dir: &std::path::Path, allow: &[String]) -> ServerConfig {
    let mut c = ServerConfig::new(dir);
    c.database_url = database_url();
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.allow_endpoints = allow.to_vec();
    c.workers = 2;
    c.lease = Duration::from_secs(10);
    c.retry_base = Duration::from_millis(50);
    c.max_attempts = 3;
    c
}

pub async fn env() -> Env {
    env_with(|_| {}).await
}

pub async fn env_with(tune: impl FnOnce(&mut ServerConfig)) -> Env {
    let s3 = S3StandIn::start(AK, SK).await.unwrap();
    s3.create_bucket(BUCKET).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), &[s3.addr().to_string()]);
    tune(&mut c);
    let server = Server::start(c).await.unwrap();
    let key = server
        .create_api_key("user_ada", "org_acme", Some("Ada"))
        .await
        .unwrap();
    Env {
        server,
        s3,
        key,
        http: reqwest::Client::new(),
        dir,
    }
}

/// A real MP4 of the given size class.
pub fn mp4(width: u16, height: u16, duration_ms: u32) -> Vec<u8> {
    sample_mp4(&Mp4Spec {
        width,
        height,
        duration_ms,
        ..Mp4Spec::default()
    })
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    pub async fn call_as(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .header("X-API-Key", key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(&self.key, method, path, body).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Save an R2-style S3 integration for the stand-in bucket.
    pub async fn s3_integration(&self, secret: &str, prefix: Option<&str>) -> String {
        let (status, body) = self
            .post(
                "/api/cloud-integrations/s3",
                json!({"name": "local R2", "type": "s3", "access_key_id": AK, "secret_access_key": secret,
                       "session_token": null, "region": null, "endpoint_url": self.s3.endpoint(),
                       "bucket": BUCKET, "prefix": prefix}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Poll a job until it is terminal.
    pub async fn wait_job(&self, job: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, body) = self.get(&format!("/api/import-jobs/{job}")).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if body["terminal"] == json!(true) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "job {job} not terminal in time: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every row of a job, by cursor pages of `limit`.
    pub async fn rows(&self, job: &str, limit: u32) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/import-jobs/{job}/videos?limit={limit}&cursor={c}"),
                None => format!("/api/import-jobs/{job}/videos?limit={limit}"),
            };
            let (status, page) = self.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            out.extend(page["videos"].as_array().unwrap().iter().cloned());
            if page["has_more"] != json!(true) {
                return out;
            }
            cursor = Some(page["next_cursor"].as_str().unwrap().to_owned());
        }
    }
}
