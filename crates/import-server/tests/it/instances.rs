//! Processes that know who is alive, by their heartbeat: a process whose
//! heartbeat is older than `--instance-timeout` is dead even while its lock
//! looks held (a machine cut off the network), and its rows are queued
//! again; a process that beats keeps its rows. On SQLite and PostgreSQL.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use import_server::store::{InstanceRecord, SqlStore, Store};
use serde_json::json;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_without_a_heartbeat_is_dead_and_one_that_beats_is_not() {
    let url: Arc<Mutex<Option<String>>> = Arc::default();
    let seen = url.clone();
    let env = env_with(move |c| {
        c.max_in_flight = 0;
        c.instance_timeout = Duration::from_secs(3);
        *seen.lock().unwrap() = Some(c.database_url());
    })
    .await;
    let url = url.lock().unwrap().clone().unwrap();
    let store = Arc::new(SqlStore::open(&url).await.unwrap());
    let (status, up) = env
        .post(
            "/api/s3/upload",
            json!({"keys": ["a.mp4", "b.mp4"], "bucket": BUCKET}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{up}");
    let job = up["import_job_id"].as_str().unwrap().to_owned();

    // Two processes that hold their locks (the lock file on SQLite, the
    // advisory lock on PostgreSQL): one whose heartbeat stopped a minute ago,
    // one that beats.
    let mut held_files = Vec::new();
    let mut held_locks = Vec::new();
    for (id, key, beat) in [
        ("in_stale", 7001, now_ms() - 60_000),
        ("in_alive", 7002, now_ms()),
    ] {
        if let Some(file) = url.strip_prefix("sqlite://") {
            let dir =
                std::path::PathBuf::from(format!("{}-instances", file.split('?').next().unwrap()));
            std::fs::create_dir_all(&dir).unwrap();
            let lock = std::fs::File::create(dir.join(format!("{id}.lock"))).unwrap();
            lock.try_lock().unwrap();
            held_files.push(lock);
        } else {
            held_locks.push(store.instances().hold_instance_lock(key).await.unwrap());
        }
        store
            .instances()
            .register_instance(&InstanceRecord {
                id: id.into(),
                host: "elsewhere".into(),
                pid: 1,
                started_at: beat,
                heartbeat_at: beat,
                lock_key: key,
            })
            .await
            .unwrap();
        let far = now_ms() + 3_600_000;
        store
            .queue()
            .claim(&format!("wk_{id}").into(), &id.into(), now_ms(), far)
            .await
            .unwrap()
            .expect("a row to claim");
    }
    let beating = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let beater = tokio::spawn({
        let (store, beating) = (store.clone(), beating.clone());
        async move {
            while beating.load(std::sync::atomic::Ordering::SeqCst) {
                store
                    .instances()
                    .beat_instance(&"in_alive".into(), now_ms())
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    });
    let statuses = || async {
        let mut s: Vec<String> = env
            .rows(&job, 10)
            .await
            .iter()
            .map(|r| r["status"].as_str().unwrap().to_owned())
            .collect();
        s.sort();
        s
    };
    // The stale one is released within a beat; the beating one keeps its row.
    let deadline = Instant::now() + Duration::from_secs(10);
    while statuses().await != ["PENDING", "UPLOADING"] {
        assert!(Instant::now() < deadline, "{:?}", statuses().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        statuses().await,
        ["PENDING", "UPLOADING"],
        "a live process lost its row"
    );
    // It stops beating: dead after the timeout, its row queued again.
    beating.store(false, std::sync::atomic::Ordering::SeqCst);
    beater.await.unwrap();
    let stopped = Instant::now();
    while statuses().await != ["PENDING", "PENDING"] {
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "{:?}",
            statuses().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "a process that stopped beating was released {:.1} s later (timeout 3 s)",
        stopped.elapsed().as_secs_f64()
    );
    drop((held_files, held_locks));
}
