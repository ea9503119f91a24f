//! Name resolution that cannot stall other tenants: an organisation whose
//! integration names a host that a name server never answers for waits on
//! the server's own async resolver, bounded in time, while another
//! organisation's import runs to its end.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::*;
use import_testkit::api::{ApiClient, s3_integration_body};

/// A name server on 127.0.0.1 (UDP and TCP on one port) that takes every
/// question and never answers; the names it was asked.
fn silent_name_server() -> (SocketAddr, std::sync::mpsc::Receiver<String>) {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let addr = socket.local_addr().unwrap();
    let tcp = std::net::TcpListener::bind(addr).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in tcp.incoming().take(1_000) {
            held.push(conn);
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        // Bounded: 10,000 questions or a minute of silence.
        for _ in 0..10_000 {
            let Ok(n) = socket.recv(&mut buf) else { return };
            // The first question's name: labels after the 12-byte header.
            let (mut labels, mut at) = (Vec::new(), 12);
            while let Some(&len) = buf[..n].get(at) {
                if len == 0 {
                    break;
                }
                let end = (at + 1 + len as usize).min(n);
                labels.push(String::from_utf8_lossy(&buf[at + 1..end]).into_owned());
                at = end;
            }
            if tx.send(labels.join(".")).is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_server_that_never_answers_stalls_no_other_organisation() {
    let (name_server, asked) = silent_name_server();
    let stalled_host = "cameras.stall.test:9000";
    let env = env_with(|c| {
        c.source_name_servers = vec![name_server];
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
    let first = asked
        .recv_timeout(Duration::from_secs(10))
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
