//! Name resolution that cannot stall other tenants: an organisation whose
//! integration names a host that a name server never answers for waits on
//! the server's own async resolver, bounded in time, while another
//! organisation's import runs to its end.

use std::time::{Duration, Instant};

use crate::common::*;
use import_testkit::api::{ApiClient, s3_integration_body};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_server_that_never_answers_stalls_no_other_organisation() {
    let silent = import_testkit::dns::SilentNameServer::start().unwrap();
    let stalled_host = "cameras.stall.test:9000";
    let env = env_with(|c| {
        c.source_name_servers = vec![silent.addr()];
        c.allow_endpoints.push(stalled_host.to_owned());
        c.max_in_flight = 8;
        c.max_attempts = 1;
    })
    .await;
    // Another organisation, whose bucket endpoint is a name nobody answers for.
    let other_key = env
        .server
        .create_api_key("user_eve", "org_stalled", None)
        .await
        .unwrap();
    let other = ApiClient::new(env.server.base_url(), other_key);
    let mut body = s3_integration_body(&env.s3, BUCKET);
    body.name = "stalled".to_owned();
    body.endpoint_url = Some(format!("http://{stalled_host}"));
    let stalled_ci = other.s3_integration(&body).await;
    let keys: Vec<String> = (0..4).map(|i| format!("stalled/{i}.mp4")).collect();
    let stalled_job = other.upload_s3_keys(BUCKET, &keys, &stalled_ci).await;
    // Its copies are asking the silent name server.
    let first = silent
        .next_asked(Duration::from_secs(10))
        .expect("the server's resolver asked the name server it was given");
    assert_eq!(first, "cameras.stall.test");
    // Meanwhile this organisation imports from an address, to its end.
    let video = mp4(320, 240, 1_000);
    env.s3.put(BUCKET, "trips/a.mp4", &video).unwrap();
    env.s3.put(BUCKET, "trips/b.mp4", &video).unwrap();
    let ci = env.s3_integration(SK, None).await;
    let started = Instant::now();
    let job = env
        .upload_s3_keys(BUCKET, &["trips/a.mp4".into(), "trips/b.mp4".into()], &ci)
        .await;
    let done = env.wait_job(&job).await;
    let took = started.elapsed();
    assert_eq!(done["counts"]["uploaded"], 2, "{done}");
    let (_, stalled_now) = other.get(&format!("/api/import-jobs/{stalled_job}")).await;
    println!(
        "while another organisation's names went unanswered, an import of 2 videos took {:.0} ms (the stalled job: {})",
        took.as_secs_f64() * 1000.0,
        stalled_now["status"]
    );
    assert!(
        stalled_now["counts"]["failed"] != 4,
        "the stalled rows ended before the other import did: {stalled_now}"
    );
    // The stalled rows end within the resolver's bound, saying why.
    let ended = other.wait_job(&stalled_job).await;
    assert_eq!(ended["counts"]["failed"], 4, "{ended}");
    for row in other.rows(&stalled_job, 10).await {
        let reason = row["error"].as_str().unwrap_or_default();
        assert!(reason.contains("cameras.stall.test"), "{reason}");
    }
}
