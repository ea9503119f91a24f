//! The store on SQLite and on PostgreSQL: statements with optional
//! parameters bound NULL, then a value, then NULL again on one pooled
//! connection (a prepared statement reused with other parameter types must
//! still work), and who sees which folder and job.

use import_core::wire::{VideoMetadata, VideoStatus};
use import_core::{FailureCode, FolderId, ImportJobId, PageRequest, Provider, Scope, VideoId};
use import_server::store::{
    FinishedRow, FolderRecord, IdemAnswer, IdemBegin, IdemKey, InstanceId, InstanceRecord,
    JobRecord, LeaseOwner, NewVideo, Principal, Released, RowOutcome, SqlStore, Store,
};
use import_testkit::postgres;

fn video(i: usize) -> NewVideo {
    NewVideo {
        id: VideoId::new(format!("vi_{i:04}")).unwrap(),
        set_id: None,
        role: None,
        object: format!("cam/{i}.mp4"),
        source_uri: format!("s3://bkt/cam/{i}.mp4"),
    }
}

fn job(id: &ImportJobId, total: usize) -> JobRecord {
    JobRecord {
        id: id.clone(),
        org_id: "org".into(),
        user_id: "ada".into(),
        scope: Scope::User,
        source: Provider::S3,
        bucket: "bkt".into(),
        prefix: None,
        folder_id: None,
        folder_name: None,
        collection: "videos".into(),
        integration_id: None,
        multi_view: false,
        total: total as i64,
        uploaded: 0,
        failed: 0,
        created_at: 1,
        updated_at: 1,
        completed_at: None,
        cancelled_at: None,
    }
}

fn metadata() -> VideoMetadata {
    VideoMetadata {
        size_bytes: Some(1_000),
        sha256: Some("ab".repeat(32)),
        // Not exact in 15 digits, as SQLite writes a REAL into JSON.
        duration_s: Some(7007.0 / 600.0),
        width: Some(640),
        height: Some(480),
        codec: Some("avc1".into()),
        verified_checksum: Some(import_core::ChecksumAlgorithm::Crc32c),
        xet_hash: Some("ab".repeat(32)),
    }
}

/// Claim and finish rows alternating NULL and present metadata (and a retry
/// in between, which binds NULL again), then check every row and the job.
async fn nulls_then_values_then_nulls(store: &SqlStore) {
    let id: ImportJobId = "ij_optional".parse().unwrap();
    let videos: Vec<NewVideo> = (0..6).map(video).collect();
    store
        .jobs()
        .create_job(job(&id, videos.len()), videos, None)
        .await
        .unwrap();
    let outcomes = [
        RowOutcome::Failed(FailureCode::NotMp4, "not an MP4".into()),
        RowOutcome::Uploaded(metadata()),
        RowOutcome::RetryLater {
            not_before: 0,
            error: "busy".into(),
        },
        RowOutcome::Uploaded(metadata()),
        RowOutcome::Failed(FailureCode::NotMp4, "missing".into()),
        RowOutcome::Uploaded(metadata()),
    ];
    let mut finished = 0;
    for (round, outcome) in outcomes.into_iter().enumerate() {
        let row = store
            .queue()
            .claim(
                &LeaseOwner::from("wk_test"),
                &InstanceId::from("in_test"),
                10 + round as i64,
                1_000_000,
            )
            .await
            .unwrap()
            .expect("a row to claim");
        assert!(
            store
                .queue()
                .finish(&row.id, &LeaseOwner::from("wk_test"), outcome, 20)
                .await
                .unwrap(),
            "round {round}: the row was finished"
        );
        finished += 1;
    }
    // The row sent back by RetryLater is claimed again and fails.
    while let Some(row) = store
        .queue()
        .claim(
            &LeaseOwner::from("wk_test"),
            &InstanceId::from("in_test"),
            100,
            1_000_000,
        )
        .await
        .unwrap()
    {
        let outcome = RowOutcome::Failed(FailureCode::NotMp4, "still busy".into());
        assert!(
            store
                .queue()
                .finish(&row.id, &LeaseOwner::from("wk_test"), outcome, 101)
                .await
                .unwrap()
        );
        finished += 1;
    }
    assert_eq!(finished, 7);
    let who = Principal {
        user_id: "ada".into(),
        org_id: "org".into(),
        display_name: None,
    };
    let job = store.jobs().job(&who, &id).await.unwrap().expect("the job");
    assert_eq!((job.uploaded, job.failed), (3, 3));
    assert!(job.completed_at.is_some());
    let rows = store
        .jobs()
        .list_rows(&job, &PageRequest::new(10, None, None).unwrap())
        .await
        .unwrap();
    assert_eq!(rows.len(), 6);
    for row in &rows {
        match row.status {
            VideoStatus::Uploaded => assert_eq!(row.metadata, metadata(), "{}", row.id),
            VideoStatus::UploadingFailed => {
                assert_eq!(row.metadata, VideoMetadata::default(), "{}", row.id);
            }
            ref other => panic!("{} ended {other}", row.id),
        }
    }
    // A retry binds NULL metadata again; the next finish binds values.
    let retried = store.jobs().retry_rows(&job, None, 200).await.unwrap();
    assert_eq!(retried.len(), 3);
    let row = store
        .queue()
        .claim(
            &LeaseOwner::from("wk_test"),
            &InstanceId::from("in_test"),
            300,
            1_000_000,
        )
        .await
        .unwrap()
        .unwrap();
    let outcome = RowOutcome::Uploaded(metadata());
    assert!(
        store
            .queue()
            .finish(&row.id, &LeaseOwner::from("wk_test"), outcome, 301)
            .await
            .unwrap()
    );
    let row = store
        .queue()
        .claim(
            &LeaseOwner::from("wk_test"),
            &InstanceId::from("in_test"),
            302,
            1_000_000,
        )
        .await
        .unwrap()
        .unwrap();
    let outcome = RowOutcome::Failed(FailureCode::NotMp4, "gone".into());
    assert!(
        store
            .queue()
            .finish(&row.id, &LeaseOwner::from("wk_test"), outcome, 303)
            .await
            .unwrap()
    );
}

/// Text from outside (a NUL, which PostgreSQL refuses in `TEXT`; a reason of
/// 10 KB) in every text an outcome writes: each row is finished (never a
/// write the database refuses) and keeps the text escaped and bounded.
/// Every claim of a row counts, a retry included, so each claim is a token
/// of its own: after a cancel and an immediate retry the new claim is the
/// second, knows the multipart upload the first left and which claim
/// started it, and the first claim's finish changes nothing.
async fn claims_are_fencing_tokens(store: &SqlStore) {
    let id: ImportJobId = "ij_tokens".parse().unwrap();
    store
        .jobs()
        .create_job(job(&id, 1), vec![video(1)], None)
        .await
        .unwrap();
    let instance = InstanceId::from("in_test");
    let (old, new) = (LeaseOwner::from("wk_old"), LeaseOwner::from("wk_new"));
    let first = store
        .queue()
        .claim(&old, &instance, 10, 1_000_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.claim, first.upload_claim), (1, None));
    assert!(
        store
            .queue()
            .set_upload_id(&first.id, &old, Some("upload-1"))
            .await
            .unwrap()
    );
    let who = principal("ada", "org");
    store
        .jobs()
        .cancel_job(&who, &id, "stop", 20)
        .await
        .unwrap()
        .unwrap();
    let rec = store.jobs().job_by_id(&id).await.unwrap().unwrap();
    store.jobs().retry_rows(&rec, None, 30).await.unwrap();
    let second = store
        .queue()
        .claim(&new, &instance, 40, 1_000_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.claim, 2, "a retry does not start the claims again");
    assert_eq!(second.attempts, 1, "it starts the attempts again");
    assert_eq!(second.upload_id.as_deref(), Some("upload-1"));
    assert_eq!(second.upload_claim, Some(1));
    let late = store
        .queue()
        .finish(&first.id, &old, RowOutcome::Uploaded(metadata()), 50)
        .await
        .unwrap();
    assert!(!late, "the first claim's finish changes nothing");
    assert!(
        store
            .queue()
            .finish(&second.id, &new, RowOutcome::Uploaded(metadata()), 60)
            .await
            .unwrap()
    );
}

async fn outside_text_is_stored_escaped(store: &SqlStore) {
    use import_core::quote::MAX_STORED_TEXT_BYTES;
    let id: ImportJobId = "ij_outside".parse().unwrap();
    let videos: Vec<NewVideo> = (0..3).map(video).collect();
    store
        .jobs()
        .create_job(job(&id, videos.len()), videos, None)
        .await
        .unwrap();
    let nul_meta = VideoMetadata {
        codec: Some("\0\0\0\0".into()),
        xet_hash: Some("x\0".into()),
        ..metadata()
    };
    let long = format!("box \0 {}", "é".repeat(5_000));
    let outcomes = [
        RowOutcome::Failed(FailureCode::InvalidVideo, "the `\0\0\0\0` box".into()),
        RowOutcome::Uploaded(nul_meta),
        RowOutcome::Failed(FailureCode::InvalidVideo, long),
    ];
    let worker = LeaseOwner::from("wk_test");
    for (round, outcome) in outcomes.into_iter().enumerate() {
        let row = store
            .queue()
            .claim(&worker, &InstanceId::from("in_test"), 10, 1_000_000)
            .await
            .unwrap()
            .expect("a row to claim");
        assert!(
            store
                .queue()
                .finish(&row.id, &worker, outcome, 20)
                .await
                .unwrap(),
            "round {round}"
        );
    }
    let who = principal("ada", "org");
    let job = store.jobs().job(&who, &id).await.unwrap().unwrap();
    assert_eq!((job.uploaded, job.failed), (1, 2));
    let rows = store
        .jobs()
        .list_rows(&job, &PageRequest::new(10, None, None).unwrap())
        .await
        .unwrap();
    let errors: Vec<String> = rows.iter().filter_map(|r| r.error.clone()).collect();
    assert_eq!(errors[0], "the `\\0\\0\\0\\0` box");
    assert!(errors[1].starts_with("box \\0 éé"), "{}", errors[1]);
    assert!(errors[1].len() <= MAX_STORED_TEXT_BYTES + '…'.len_utf8());
    assert!(errors[1].ends_with('…'));
    let uploaded = rows
        .iter()
        .find(|r| r.status == VideoStatus::Uploaded)
        .unwrap();
    assert_eq!(uploaded.metadata.codec.as_deref(), Some("\\0\\0\\0\\0"));
    assert_eq!(uploaded.metadata.xet_hash.as_deref(), Some("x\\0"));
}

fn principal(user: &str, org: &str) -> Principal {
    Principal {
        user_id: user.into(),
        org_id: org.into(),
        display_name: None,
    }
}

/// A `user` folder and job are their owner's; an `org` one is every member's;
/// nothing is seen from another organisation.
async fn visibility(store: &SqlStore) {
    let ada = principal("ada", "acme");
    let bob = principal("bob", "acme");
    let eve = principal("eve", "evil");
    for (id, scope, owner) in [("fo_user", Scope::User, "ada"), ("fo_org", Scope::Org, "")] {
        let folder = FolderRecord {
            id: FolderId::new(id).unwrap(),
            org_id: "acme".into(),
            scope,
            owner_id: owner.into(),
            name: id.into(),
            description: None,
            created_by: "ada".into(),
            created_at: 1,
        };
        assert!(
            store
                .folders()
                .insert_folder(folder)
                .await
                .unwrap()
                .is_some()
        );
    }
    let user_folder = FolderId::new("fo_user").unwrap();
    let org_folder = FolderId::new("fo_org").unwrap();
    for (who, folder, seen) in [
        (&ada, &user_folder, true),
        (&bob, &user_folder, false),
        (&eve, &user_folder, false),
        (&ada, &org_folder, true),
        (&bob, &org_folder, true),
        (&eve, &org_folder, false),
    ] {
        let found = store.folders().folder_by_id(who, folder).await.unwrap();
        assert_eq!(found.is_some(), seen, "{} sees {folder}", who.user_id);
    }

    for (id, scope) in [("ij_user", Scope::User), ("ij_org", Scope::Org)] {
        let mut record = job(&id.parse().unwrap(), 1);
        record.org_id = "acme".into();
        record.scope = scope;
        let row = NewVideo {
            id: VideoId::new(format!("vi_{id}")).unwrap(),
            ..video(0)
        };
        store
            .jobs()
            .create_job(record, vec![row], None)
            .await
            .unwrap();
    }
    let user_job: ImportJobId = "ij_user".parse().unwrap();
    let org_job: ImportJobId = "ij_org".parse().unwrap();
    assert!(store.jobs().job(&ada, &user_job).await.unwrap().is_some());
    assert!(store.jobs().job(&bob, &user_job).await.unwrap().is_none());
    assert!(store.jobs().job(&bob, &org_job).await.unwrap().is_some());
    assert!(store.jobs().job(&eve, &org_job).await.unwrap().is_none());
}

/// Rows whose object names need escaping in every list encoding (quotes,
/// backslashes, commas, braces, the word NULL, an empty-looking name,
/// non-ASCII), more than one list chunk of them, and view sets, come back as
/// written; the id lists of retries and of view lookups find exactly theirs.
async fn lists_round_trip(store: &SqlStore) {
    const AWKWARD: &[&str] = &[
        r#"cam/"quoted".mp4"#,
        r"cam\back\slash.mp4",
        "cam/a,b{c}d.mp4",
        "NULL",
        "cam/ünï cødé 視頻.mp4",
        "cam/'single'.mp4",
        " ",
    ];
    const ROWS: usize = 10_000 * 2 + 7;
    let id: ImportJobId = "ij_lists".parse().unwrap();
    let mut videos: Vec<NewVideo> = (0..ROWS)
        .map(|i| {
            let object = match AWKWARD.get(i % 1000) {
                Some(name) if i < 7_000 => (*name).to_owned(),
                _ => format!("cam/{i}.mp4"),
            };
            NewVideo {
                id: VideoId::new(format!("vi_l{i:06}")).unwrap(),
                set_id: None,
                role: None,
                source_uri: format!("s3://bkt/{object}"),
                object,
            }
        })
        .collect();
    // The last three rows are one view set: front and two views.
    let set = videos[ROWS - 3].id.clone();
    for (offset, role) in [(3, "front"), (2, "left"), (1, "rear")] {
        let row = &mut videos[ROWS - offset];
        row.set_id = Some(set.clone());
        row.role = Some(role.parse().unwrap());
    }
    let written: Vec<(String, String)> = videos
        .iter()
        .map(|v| (v.id.to_string(), v.object.clone()))
        .collect();
    store
        .jobs()
        .create_job(job(&id, ROWS - 2), videos, None)
        .await
        .unwrap();
    let who = principal("ada", "org");
    let record = store.jobs().job(&who, &id).await.unwrap().unwrap();
    let mut read = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .jobs()
            .list_rows(&record, &PageRequest::new(1000, cursor, None).unwrap())
            .await
            .unwrap();
        let more = page.len() > 1000;
        read.extend(page.into_iter().take(1000));
        if !more {
            break;
        }
        cursor = Some(read.last().unwrap().id.to_string().parse().unwrap());
    }
    // Views other than the front are not listed.
    assert_eq!(read.len(), ROWS - 2);
    let listed: Vec<(String, String)> = read
        .iter()
        .map(|r| (r.id.to_string(), r.object.clone()))
        .collect();
    let expected: Vec<(String, String)> = written[..ROWS - 2].to_vec();
    assert_eq!(listed, expected);
    let views = store
        .jobs()
        .set_views(&id, std::slice::from_ref(&set))
        .await
        .unwrap();
    assert_eq!(views.len(), 3);

    // Fail three rows, among them awkward ones, then retry two by id.
    // (Rows left pending by earlier tests of this store are claimed first.)
    let mut failed = Vec::new();
    while failed.len() < 3 {
        let row = store
            .queue()
            .claim(
                &LeaseOwner::from("wk_test"),
                &InstanceId::from("in_test"),
                10,
                1_000_000,
            )
            .await
            .unwrap()
            .unwrap();
        let outcome = RowOutcome::Failed(FailureCode::NotMp4, "no".into());
        assert!(
            store
                .queue()
                .finish(&row.id, &LeaseOwner::from("wk_test"), outcome, 11)
                .await
                .unwrap()
        );
        if row.job_id == id {
            failed.push(row.id);
        }
    }
    let unknown = VideoId::new("vi_not_in_this_job").unwrap();
    let asked = [failed[0].clone(), failed[2].clone(), unknown];
    let mut retried = store
        .jobs()
        .retry_rows(&record, Some(&asked), 12)
        .await
        .unwrap();
    retried.sort();
    assert_eq!(retried, vec![failed[0].clone(), failed[2].clone()]);
}

fn idem(org: &str, user: &str, key: &str) -> IdemKey {
    IdemKey {
        org_id: org.into(),
        user_id: user.into(),
        key: key.into(),
    }
}

fn instance(id: &InstanceId, heartbeat_at: i64) -> InstanceRecord {
    InstanceRecord {
        id: id.clone(),
        host: "test".into(),
        pid: 1,
        started_at: 1,
        heartbeat_at,
        lock_key: 42,
    }
}

/// Idempotency keys are per organisation and user; a reservation belongs to
/// its process and moves only from the process named; a job's answer
/// commits with the job; a dead process's rows are queued again (or failed
/// at the attempt cap) and its unfinished reservations dropped; a stopping
/// process hands its rows back without spending their attempt.
async fn processes_and_idempotency(store: &SqlStore) {
    // The same key from two organisations: two requests.
    let a = idem("org_a", "admin", "k1");
    let b = idem("org_b", "admin", "k1");
    assert_eq!(
        store
            .idempotency()
            .idem_begin(&a, "fp", 1, &InstanceId::from("in_x"))
            .await
            .unwrap(),
        IdemBegin::Fresh
    );
    assert_eq!(
        store
            .idempotency()
            .idem_begin(&b, "fp", 1, &InstanceId::from("in_y"))
            .await
            .unwrap(),
        IdemBegin::Fresh
    );
    assert_eq!(
        store
            .idempotency()
            .idem_begin(&a, "fp", 2, &InstanceId::from("in_y"))
            .await
            .unwrap(),
        IdemBegin::Reserved {
            instance_id: Some("in_x".into())
        }
    );
    assert_eq!(
        store
            .idempotency()
            .idem_begin(&a, "other", 2, &InstanceId::from("in_y"))
            .await
            .unwrap(),
        IdemBegin::Conflict
    );
    // Taken over from the process named only, once.
    assert!(
        !store
            .idempotency()
            .idem_take_over(
                &a,
                Some(&InstanceId::from("in_z")),
                &InstanceId::from("in_y"),
                3
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .idempotency()
            .idem_take_over(
                &a,
                Some(&InstanceId::from("in_x")),
                &InstanceId::from("in_y"),
                3
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .idempotency()
            .idem_take_over(
                &a,
                Some(&InstanceId::from("in_x")),
                &InstanceId::from("in_y"),
                3
            )
            .await
            .unwrap()
    );
    // The answer commits with the job.
    let id: ImportJobId = "ij_idem".parse().unwrap();
    let answer = IdemAnswer {
        key: a.clone(),
        status: 200,
        body: b"{\"import_job_id\":\"ij_idem\"}".to_vec(),
    };
    store
        .jobs()
        .create_job(
            job(&id, 2),
            vec![video(7000), video(7001)],
            Some(answer.clone()),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .idempotency()
            .idem_begin(&a, "fp", 4, &InstanceId::from("in_z"))
            .await
            .unwrap(),
        IdemBegin::Replay {
            status: 200,
            body: answer.body.clone()
        }
    );
    // A job whose reservation is gone (taken over, or dropped) is not made.
    let lost = IdemAnswer {
        key: idem("org_a", "admin", "never"),
        ..answer.clone()
    };
    let other: ImportJobId = "ij_idem_lost".parse().unwrap();
    assert!(
        store
            .jobs()
            .create_job(job(&other, 1), vec![video(7100)], Some(lost))
            .await
            .is_err()
    );
    assert!(
        store
            .jobs()
            .job(&principal("ada", "org"), &other)
            .await
            .unwrap()
            .is_none()
    );

    // A dead process: one row under the cap, one at it, one reservation.
    store
        .instances()
        .register_instance(&instance(&InstanceId::from("in_dead"), 5))
        .await
        .unwrap();
    assert!(
        store
            .instances()
            .beat_instance(&InstanceId::from("in_dead"), 6)
            .await
            .unwrap()
    );
    let first = store
        .queue()
        .claim(
            &LeaseOwner::from("wk_1"),
            &InstanceId::from("in_dead"),
            10,
            1_000_000,
        )
        .await
        .unwrap()
        .unwrap();
    let second = store
        .queue()
        .claim(
            &LeaseOwner::from("wk_2"),
            &InstanceId::from("in_dead"),
            10,
            1_000_000,
        )
        .await
        .unwrap()
        .unwrap();
    let reserved = idem("org_a", "admin", "k2");
    assert_eq!(
        store
            .idempotency()
            .idem_begin(&reserved, "fp", 10, &InstanceId::from("in_dead"))
            .await
            .unwrap(),
        IdemBegin::Fresh
    );
    // With a cap of 1 both used theirs: both fail as interrupted.
    let released = store
        .instances()
        .release_instance(&InstanceId::from("in_dead"), 20, 1)
        .await
        .unwrap();
    assert_eq!(
        released,
        Released {
            requeued: 0,
            failed: 2
        }
    );
    assert!(
        store
            .instances()
            .list_instances()
            .await
            .unwrap()
            .iter()
            .all(|i| i.id != InstanceId::from("in_dead"))
    );
    assert_eq!(
        store
            .idempotency()
            .idem_begin(&reserved, "fp", 21, &InstanceId::from("in_live"))
            .await
            .unwrap(),
        IdemBegin::Fresh
    );
    assert!(
        !store
            .instances()
            .beat_instance(&InstanceId::from("in_dead"), 22)
            .await
            .unwrap(),
        "its registration is gone"
    );
    let record = store
        .jobs()
        .job(&principal("ada", "org"), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((record.uploaded, record.failed), (0, 2));
    let _ = (first, second);

    // Under the cap the rows are queued again at once.
    let again: ImportJobId = "ij_dead_again".parse().unwrap();
    store
        .jobs()
        .create_job(job(&again, 1), vec![video(7200)], None)
        .await
        .unwrap();
    store
        .instances()
        .register_instance(&instance(&InstanceId::from("in_dead2"), 30))
        .await
        .unwrap();
    store
        .queue()
        .claim(
            &LeaseOwner::from("wk_3"),
            &InstanceId::from("in_dead2"),
            30,
            1_000_000,
        )
        .await
        .unwrap()
        .unwrap();
    let released = store
        .instances()
        .release_instance(&InstanceId::from("in_dead2"), 31, 5)
        .await
        .unwrap();
    assert_eq!(
        released,
        Released {
            requeued: 1,
            failed: 0
        }
    );
    // A stopping process hands its row back without spending the attempt.
    store
        .instances()
        .register_instance(&instance(&InstanceId::from("in_stopping"), 40))
        .await
        .unwrap();
    let row = store
        .queue()
        .claim(
            &LeaseOwner::from("wk_4"),
            &InstanceId::from("in_stopping"),
            40,
            1_000_000,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.attempts, 2);
    assert_eq!(
        store
            .instances()
            .hand_back_instance(&InstanceId::from("in_stopping"), 41)
            .await
            .unwrap(),
        1
    );
    let row = store
        .queue()
        .claim(
            &LeaseOwner::from("wk_5"),
            &InstanceId::from("in_live"),
            42,
            1_000_000,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.attempts, 2, "the handed-back claim was not counted");
}

/// A row whose lease expires on every attempt (its worker keeps dying) is
/// queued again until it was claimed `max_attempts` times, then fails as
/// `interrupted`, counted in its job, and is never claimed again.
async fn interrupted_on_every_attempt(store: &SqlStore) {
    let id: ImportJobId = "ij_interrupted".parse().unwrap();
    store
        .jobs()
        .create_job(job(&id, 1), vec![video(9000)], None)
        .await
        .unwrap();
    let row = store
        .queue()
        .claim(
            &LeaseOwner::from("wk_dead"),
            &InstanceId::from("in_test"),
            10,
            20,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.attempts, 1);
    let released = store.queue().release_expired(30, 2).await.unwrap();
    assert_eq!(
        released,
        Released {
            requeued: 1,
            failed: 0
        }
    );
    let row = store
        .queue()
        .claim(
            &LeaseOwner::from("wk_dead"),
            &InstanceId::from("in_test"),
            40,
            50,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.attempts, 2);
    let released = store.queue().release_expired(60, 2).await.unwrap();
    assert_eq!(
        released,
        Released {
            requeued: 0,
            failed: 1
        }
    );
    assert!(
        store
            .queue()
            .claim(
                &LeaseOwner::from("wk_live"),
                &InstanceId::from("in_test"),
                70,
                80
            )
            .await
            .unwrap()
            .is_none()
    );
    let record = store
        .jobs()
        .job(&principal("ada", "org"), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((record.uploaded, record.failed), (0, 1));
    assert!(record.completed_at.is_some(), "the job is complete");
    let rows = store
        .jobs()
        .list_rows(&record, &PageRequest::first(10).unwrap())
        .await
        .unwrap();
    assert_eq!(rows[0].status, VideoStatus::UploadingFailed);
    assert_eq!(rows[0].error_code, Some(FailureCode::Interrupted));
    assert!(
        rows[0]
            .error
            .as_deref()
            .unwrap()
            .contains("interrupted on every attempt")
    );
    let summaries = store
        .jobs()
        .failure_summaries(std::slice::from_ref(&id))
        .await
        .unwrap();
    assert_eq!(summaries[&id].len(), 1);
    assert_eq!(summaries[&id][0].code, FailureCode::Interrupted);
    assert_eq!(summaries[&id][0].count, 1);
    assert_eq!(summaries[&id][0].examples, vec![rows[0].source_uri.clone()]);
}

/// Claims and finishes in batches: one statement claims up to its limit in
/// queue order and never a row twice; one transaction finishes uploaded,
/// failed, retried and lost rows of two jobs, and counts each job once per
/// row (failure summaries included).
async fn batches(store: &SqlStore) {
    let a: ImportJobId = "ij_batch_a".parse().unwrap();
    let b: ImportJobId = "ij_batch_b".parse().unwrap();
    store
        .jobs()
        .create_job(job(&a, 5), (100..105).map(video).collect(), None)
        .await
        .unwrap();
    store
        .jobs()
        .create_job(job(&b, 3), (200..203).map(video).collect(), None)
        .await
        .unwrap();
    let first = store
        .queue()
        .claim_many(
            &LeaseOwner::from("wk_batch1"),
            &InstanceId::from("in_test"),
            1_000,
            2_000_000,
            6,
        )
        .await
        .unwrap();
    assert_eq!(first.len(), 6, "six of the eight rows");
    let second = store
        .queue()
        .claim_many(
            &LeaseOwner::from("wk_batch2"),
            &InstanceId::from("in_test"),
            1_000,
            2_000_000,
            6,
        )
        .await
        .unwrap();
    assert_eq!(second.len(), 2, "the two left");
    let mut ids: Vec<&VideoId> = first.iter().chain(&second).map(|r| &r.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "no row claimed twice");
    assert!(
        store
            .queue()
            .claim_many(
                &LeaseOwner::from("wk_batch3"),
                &InstanceId::from("in_test"),
                1_000,
                2_000_000,
                6
            )
            .await
            .unwrap()
            .is_empty()
    );
    let outcome = |i: usize| match i % 3 {
        0 => RowOutcome::Uploaded(metadata()),
        1 => RowOutcome::Failed(FailureCode::NotFound, format!("gone {i}")),
        _ => RowOutcome::RetryLater {
            not_before: 0,
            error: "busy".into(),
        },
    };
    let mut rows: Vec<FinishedRow> = first
        .iter()
        .enumerate()
        .map(|(i, row)| FinishedRow {
            id: row.id.clone(),
            worker: "wk_batch1".into(),
            outcome: outcome(i),
        })
        .collect();
    // A row of the other claim, under the wrong owner: not ours, unchanged.
    rows.push(FinishedRow {
        id: second[0].id.clone(),
        worker: "wk_batch1".into(),
        outcome: RowOutcome::Uploaded(metadata()),
    });
    let done = store.queue().finish_many(&rows, 1_500).await.unwrap();
    assert_eq!(done, vec![true, true, true, true, true, true, false]);
    let done = store
        .queue()
        .finish_many(
            &second
                .iter()
                .map(|row| FinishedRow {
                    id: row.id.clone(),
                    worker: "wk_batch2".into(),
                    outcome: RowOutcome::Failed(FailureCode::NotFound, "gone".into()),
                })
                .collect::<Vec<_>>(),
            1_600,
        )
        .await
        .unwrap();
    assert_eq!(done, vec![true, true]);
    let who = principal("ada", "org");
    let mut uploaded = 0;
    let mut failed = 0;
    for id in [&a, &b] {
        let record = store.jobs().job(&who, id).await.unwrap().unwrap();
        let rows = store
            .jobs()
            .list_rows(&record, &PageRequest::first(10).unwrap())
            .await
            .unwrap();
        let count = |status: VideoStatus| rows.iter().filter(|r| r.status == status).count() as i64;
        assert_eq!(record.uploaded, count(VideoStatus::Uploaded), "{id}");
        assert_eq!(record.failed, count(VideoStatus::UploadingFailed), "{id}");
        let summaries = store
            .jobs()
            .failure_summaries(std::slice::from_ref(id))
            .await
            .unwrap();
        let summed: u64 = summaries
            .get(id)
            .map(|s| s.iter().map(|f| f.count).sum())
            .unwrap_or(0);
        assert_eq!(summed as i64, record.failed, "{id}");
        uploaded += record.uploaded;
        failed += record.failed;
    }
    // Six finished by the first claim (two uploaded, two failed, two
    // queued again), two failed by the second.
    assert_eq!((uploaded, failed), (2, 4));
    let again = store
        .queue()
        .claim_many(
            &LeaseOwner::from("wk_batch4"),
            &InstanceId::from("in_test"),
            2_000,
            2_000_000,
            10,
        )
        .await
        .unwrap();
    assert_eq!(again.len(), 2, "the two retried rows are queued again");
    // Nothing left in flight for the tests that follow on this store.
    let last: Vec<FinishedRow> = again
        .iter()
        .map(|row| FinishedRow {
            id: row.id.clone(),
            worker: "wk_batch4".into(),
            outcome: RowOutcome::Uploaded(metadata()),
        })
        .collect();
    assert_eq!(
        store.queue().finish_many(&last, 2_100).await.unwrap(),
        vec![true, true]
    );
}

/// The job list's status filter (SQL) agrees with the core's rule of a
/// job's status (`JobStatus::of_job`): every job is listed under its own
/// status and no other.
async fn status_filter_agrees_with_the_core(store: &SqlStore) {
    use import_core::{Counts, JobStatus};
    use import_server::store::JobQuery;
    let who = principal("ada", "org");
    // (total, uploaded, failed, complete): importing, done, with errors, failed.
    let shapes = [
        (3, 1, 0, false),
        (2, 2, 0, true),
        (3, 2, 1, true),
        (2, 0, 2, true),
    ];
    for (i, (total, uploaded, failed, complete)) in shapes.into_iter().enumerate() {
        let id: ImportJobId = format!("ij_status_{i}").parse().unwrap();
        let mut rec = job(&id, total);
        rec.uploaded = uploaded;
        rec.failed = failed;
        rec.completed_at = complete.then_some(5);
        store
            .jobs()
            .create_job(rec, Vec::new(), None)
            .await
            .unwrap();
    }
    let cancelled: ImportJobId = "ij_status_cancel".parse().unwrap();
    store
        .jobs()
        .create_job(job(&cancelled, 1), vec![video(900)], None)
        .await
        .unwrap();
    store
        .jobs()
        .cancel_job(&who, &cancelled, "stop", 6)
        .await
        .unwrap()
        .unwrap();
    let status_of = |j: &JobRecord| {
        JobStatus::of_job(
            &Counts::from_totals(j.total, j.uploaded, j.failed),
            j.completed_at.is_some(),
            j.cancelled_at.is_some(),
        )
    };
    let all = store
        .jobs()
        .list_jobs(
            &who,
            &JobQuery {
                limit: 100,
                ..JobQuery::default()
            },
        )
        .await
        .unwrap();
    let mine: Vec<&JobRecord> = all
        .iter()
        .filter(|j| j.id.as_str().starts_with("ij_status_"))
        .collect();
    assert_eq!(mine.len(), 5);
    for status in JobStatus::KNOWN {
        let listed = store
            .jobs()
            .list_jobs(
                &who,
                &JobQuery {
                    limit: 100,
                    status: Some(status.clone()),
                    ..JobQuery::default()
                },
            )
            .await
            .unwrap();
        let listed: Vec<&ImportJobId> = listed
            .iter()
            .filter(|j| j.id.as_str().starts_with("ij_status_"))
            .map(|j| &j.id)
            .collect();
        let expected: Vec<&ImportJobId> = mine
            .iter()
            .filter(|j| status_of(j) == *status)
            .map(|j| &j.id)
            .collect();
        assert_eq!(listed, expected, "jobs listed as {status}");
        assert_eq!(expected.len(), 1, "one job of each status: {status}");
    }
}

/// A fresh SQLite file (with one pooled connection, so that every statement
/// reuses the prepared ones).
async fn sqlite_store() -> (SqlStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = SqlStore::open_with_connections(&url, Some(1))
        .await
        .unwrap();
    (store, dir)
}

/// A fresh PostgreSQL database of the suite's server, one pooled connection.
async fn postgres_store() -> SqlStore {
    let url = postgres::fresh_database(&postgres::unique_name("vimport_test_")).await;
    SqlStore::open_with_connections(&url, Some(1))
        .await
        .unwrap()
}

/// One test per scenario per database, so that one failure hides no other:
/// `on_sqlite::NAME` and `on_postgres::NAME` (ignored outside `cargo xtask test`).
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, _dir) = super::sqlite_store().await;
                    super::$name(&store).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                #[ignore = "needs PostgreSQL; run cargo xtask test"]
                async fn $name() {
                    super::$name(&super::postgres_store().await).await;
                }
            )*
        }
    };
}

scenarios!(
    batches,
    interrupted_on_every_attempt,
    processes_and_idempotency,
    nulls_then_values_then_nulls,
    lists_round_trip,
    visibility,
    status_filter_agrees_with_the_core,
    outside_text_is_stored_escaped,
    claims_are_fencing_tokens,
);
