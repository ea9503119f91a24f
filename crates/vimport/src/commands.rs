//! The client commands: upload, job, jobs, videos, wait, retry, cancel,
//! report, integrations, verify.

use std::time::Duration;

use futures::TryStreamExt;
use import_async::{
    Client, Error, FailureCode, ImportJob, ImportJobId, ImportOutcome, ImportRequest,
    IntegrationId, JobListRequest, JobStatus, PageRequest, Provider, VideoId, ViewSet, WaitOptions,
};
use import_core::VideoStatus;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::cli::{
    AddCommand, ApiArgs, Command, FoldersCommand, IntegrationsCommand, JobsArgs, ProviderArg,
    UploadArgs,
};
use crate::config;
use crate::output::{Exit, fail, json, usage};

/// Run a client command.
pub(crate) async fn run(command: Command) -> Exit {
    match command {
        Command::Upload(a) => upload(a).await,
        Command::Job(a) => with_client(&a.api, |c| job(c, a.id.clone(), a.api.json)).await,
        Command::Videos(a) => {
            let json_out = a.api.json;
            with_client(&a.api, |c| {
                videos(c, a.id.clone(), a.limit, a.cursor.clone(), a.all, json_out)
            })
            .await
        }
        Command::Wait(a) => {
            let options = WaitOptions {
                poll_interval: Duration::from_secs(a.poll.max(1)),
                timeout: Duration::from_secs(a.timeout),
                ..WaitOptions::default()
            };
            with_client(&a.api, |c| wait(c, a.id.clone(), options, a.api.json)).await
        }
        Command::Retry(a) => {
            with_client(&a.api, |c| {
                retry(c, a.id.clone(), a.video_ids.clone(), a.api.json)
            })
            .await
        }
        Command::Verify(a) => with_client(&a.api, |c| verify(c, a.api.json)).await,
        Command::Jobs(a) => {
            let query = match jobs_query(&a) {
                Ok(q) => q,
                Err(exit) => return exit,
            };
            with_client(&a.api, |c| jobs(c, query, a.all, a.api.json)).await
        }
        Command::Health(a) => health(a).await,
        Command::Cancel(a) => with_client(&a.api, |c| cancel(c, a.id.clone(), a.api.json)).await,
        Command::Report(a) => {
            with_client(&a.api, |c| report(c, a.id.clone(), a.failed, a.api.json)).await
        }
        Command::Integrations(cmd) => integrations(cmd).await,
        Command::Folders(cmd) => folders(cmd).await,
        Command::Serve(_) | Command::Keys(_) | Command::Demo(_) => Exit::Usage,
    }
}

async fn folders(cmd: FoldersCommand) -> Exit {
    let (create, a) = match cmd {
        FoldersCommand::Get(a) => (false, a),
        FoldersCommand::Create(a) => (true, a),
    };
    with_client(&a.api, |c| async move {
        let found = if create {
            c.create_folder(&a.name, a.scope, a.description.as_deref())
                .await
        } else {
            c.get_folder(&a.name, a.scope).await
        };
        match found {
            Ok(folder) if a.api.json => {
                json(&folder);
                Exit::Ok
            }
            Ok(folder) => {
                say!(
                    "{}  {}  {}  {}",
                    folder.id,
                    folder.scope.as_str(),
                    folder.name,
                    folder.created_at
                );
                Exit::Ok
            }
            Err(e) => fail(&e),
        }
    })
    .await
}

async fn with_client<F, Fut>(api: &ApiArgs, f: F) -> Exit
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Exit>,
{
    match config::client(api) {
        Ok(client) => f(client).await,
        Err(message) => usage(message),
    }
}

fn parse_id<T: std::str::FromStr<Err = import_core::Error>>(value: &str) -> Result<T, Exit> {
    value.parse().map_err(|e: import_core::Error| usage(e))
}

/// Build the import request of `vimport upload` (exit code 2 when invalid).
fn upload_request(a: &UploadArgs) -> Result<ImportRequest, Exit> {
    let mut builder = ImportRequest::builder().scope(a.scope);
    match (a.uris.is_empty(), a.views.is_empty()) {
        (true, true) => {
            return Err(usage(
                "name at least one object URI, or a view set with --view front=URI",
            ));
        }
        (false, false) => {
            return Err(usage(
                "give either object URIs or --view ROLE=URI views, not both",
            ));
        }
        (false, true) => builder = builder.uris(&a.uris),
        (true, false) => {
            let mut pairs = Vec::new();
            for view in &a.views {
                let Some((role, uri)) = view.split_once('=') else {
                    return Err(usage(format!(
                        "`--view {view}` must be ROLE=URI, for example --view front=s3://bucket/t/front.mp4"
                    )));
                };
                pairs.push((role.to_owned(), uri.to_owned()));
            }
            builder = builder.view_set(ViewSet::from_pairs(pairs).map_err(usage)?);
        }
    }
    if let Some(id) = &a.integration {
        builder = builder.integration_id(parse_id::<IntegrationId>(id)?);
    }
    builder.build().map_err(usage)
}

/// Most URIs `vimport upload --from-file` reads.
const MAX_FROM_FILE_URIS: usize = 1_000_000;

/// The URIs of a `--from-file` list: one per line, blank lines and `#`
/// comments skipped.
fn uris_from_text(text: &str) -> Result<Vec<String>, String> {
    let uris: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    if uris.len() > MAX_FROM_FILE_URIS {
        return Err(format!(
            "the list has {} URIs, more than the {MAX_FROM_FILE_URIS} one upload reads; split it into several files",
            uris.len()
        ));
    }
    Ok(uris)
}

/// Read `--from-file` (`-` for standard input), bounded in size.
fn read_uri_list(path: &std::path::Path) -> Result<Vec<String>, String> {
    use std::io::Read;
    // 1,000,000 URIs of up to ~1 KiB each, and some comments.
    const MAX_BYTES: u64 = 1 << 30;
    let shown = path.display();
    let mut text = String::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_BYTES + 1)
            .read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_BYTES + 1).read_to_string(&mut text))
    };
    read.map_err(|e| format!("cannot read {shown}: {e}"))?;
    if text.len() as u64 > MAX_BYTES {
        return Err(format!(
            "{shown} is larger than 1 GiB; split it into several files"
        ));
    }
    uris_from_text(&text)
}

async fn upload(a: UploadArgs) -> Exit {
    let mut a = a;
    if let Some(path) = a.from_file.clone() {
        match read_uri_list(&path) {
            Ok(found) if found.is_empty() => {
                return usage(format!("{} names no object URI", path.display()));
            }
            Ok(found) => a.uris.extend(found),
            Err(message) => return usage(message),
        }
    }
    if let Some(prefix) = a.expand.clone() {
        match crate::buckets::expand(&a, &prefix).await {
            Ok(found) => {
                // What was left out is counted, and named on standard error
                // (each with why) — never dropped without a word.
                let left = found.left_out_count();
                let why: Vec<String> = found
                    .left_out
                    .iter()
                    .map(|(reason, n)| format!("{n} {reason}"))
                    .collect();
                let left_text = if left == 0 {
                    String::new()
                } else {
                    format!("; {left} left out ({})", why.join(", "))
                };
                if found.uris.is_empty() {
                    return usage(format!(
                        "no `.mp4` object under {prefix} matches{left_text}; check the prefix and --glob"
                    ));
                }
                eprintln!(
                    "{} objects found under {prefix}{left_text}",
                    found.uris.len()
                );
                for (name, reason) in found.left_out_named.iter().take(LEFT_OUT_SHOWN) {
                    eprintln!("  left out: {name} ({})", reason.as_str());
                }
                if left > LEFT_OUT_SHOWN {
                    eprintln!("  ... and {} more", left - LEFT_OUT_SHOWN);
                }
                a.uris.extend(found.uris.iter().map(ToString::to_string));
            }
            Err(message) => return usage(format!("cannot expand {prefix}: {message}")),
        }
    }
    let client = match config::client(&a.api) {
        Ok(c) => c,
        Err(message) => return usage(message),
    };
    // Several requests when an expansion names more objects than one takes.
    // An empty list still makes one request, whose check names the problem.
    let chunks: Vec<Vec<String>> = if a.uris.is_empty() {
        vec![Vec::new()]
    } else {
        import_core::split_requests(a.uris.clone(), import_core::DEFAULT_MAX_OBJECTS)
    };
    let mut exit = Exit::Ok;
    for uris in chunks {
        let part = UploadArgs { uris, ..a.clone() };
        let request = match upload_request(&part) {
            Ok(r) => r,
            Err(exit) => return exit,
        };
        let request = if a.preflight {
            match checked(&client, &a, request).await {
                Ok(r) => r,
                Err(exit) => return exit,
            }
        } else {
            request
        };
        let one = upload_one(&client, &a, &request).await;
        if one != Exit::Ok {
            exit = one;
        }
        if matches!(one, Exit::Error | Exit::Usage | Exit::TimedOut) {
            return one;
        }
    }
    exit
}

/// Pre-flight checks; answers the request to send (the good objects only with
/// --skip-bad) or the exit code when problems stop the upload.
async fn checked(
    client: &Client,
    a: &UploadArgs,
    request: ImportRequest,
) -> Result<ImportRequest, Exit> {
    let prefix = match request.integration_id() {
        Some(id) => match client.cloud_integrations().list(None).await {
            Ok(list) => list
                .into_iter()
                .find(|i| &i.id == id)
                .and_then(|i| i.prefix),
            Err(e) => return Err(fail(&e)),
        },
        None => None,
    };
    let report = crate::buckets::preflight(a, &request, prefix.as_deref())
        .await
        .map_err(usage)?;
    if a.api.json && (!report.is_ok() && !a.skip_bad) {
        json(&report);
    } else if !report.is_ok() {
        eprintln!("{report}");
    } else if !a.api.json {
        eprintln!(
            "pre-flight: all {} objects are ready",
            request.object_count()
        );
    }
    if report.is_ok() {
        return Ok(request);
    }
    if !a.skip_bad || request.is_multi_view() {
        return Err(usage(
            "pre-flight found problems; fix them, or pass --skip-bad to import only the good objects",
        ));
    }
    let good: Vec<String> = report.ready().map(ToString::to_string).collect();
    if good.is_empty() {
        return Err(usage("pre-flight found no object ready to import"));
    }
    let retained = UploadArgs {
        uris: good,
        ..a.clone()
    };
    upload_request(&retained)
}

async fn upload_one(client: &Client, a: &UploadArgs, request: &ImportRequest) -> Exit {
    let started = match client.upload(request, a.folder.as_deref()).await {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if !a.wait {
        if a.api.json {
            json(&started);
        } else {
            say!(
                "import job {} started: {} objects from {}; follow it with `vimport wait {}`",
                started.import_job_id,
                request.object_count(),
                request.bucket(),
                started.import_job_id
            );
        }
        return Exit::Ok;
    }
    if !a.api.json {
        eprintln!(
            "import job {} started: {} objects",
            started.import_job_id,
            request.object_count()
        );
    }
    let options = WaitOptions {
        timeout: Duration::from_secs(a.timeout),
        ..WaitOptions::default()
    };
    wait(
        client.clone(),
        started.import_job_id.to_string(),
        options,
        a.api.json,
    )
    .await
}

/// A progress bar on standard error (hidden when it is not a terminal).
pub(crate) fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Wait with a progress bar and print the outcome (`print` is false when the
/// caller prints it itself).
pub(crate) async fn wait_and_report(
    client: &Client,
    job: &ImportJobId,
    options: &WaitOptions,
    json_out: bool,
    print: bool,
) -> Result<ImportOutcome, Exit> {
    let bar = progress_bar();
    let result = client
        .wait_for_import(job, options, |p| {
            bar.set_length(p.total);
            bar.set_position(p.uploaded + p.failed);
            bar.set_message(format!(
                "uploaded {}, failed {}, pending {}",
                p.uploaded, p.failed, p.pending
            ));
        })
        .await;
    bar.finish_and_clear();
    match result {
        Ok(outcome) => {
            if !print {
                // The caller reports.
            } else if json_out {
                json(
                    &json!({"import_job_id": job, "uploaded": outcome.uploaded, "failed": outcome.failed,
                             "incomplete_sets": outcome.incomplete_sets}),
                );
            } else {
                let incomplete = match outcome.incomplete_sets.len() {
                    0 => String::new(),
                    n => format!(", {n} sets with a failed view"),
                };
                say!(
                    "import job {job} is ready: {} uploaded, {} failed{incomplete}",
                    outcome.uploaded.len(),
                    outcome.failed.len()
                );
                // Each uploaded video with its source: one more walk of the
                // rows (the outcome keeps the ids only); the ids alone if it fails.
                let sources = uploaded_sources(client, job).await;
                for id in &outcome.uploaded {
                    say!(
                        "{}  {id}  {}",
                        VideoStatus::Uploaded.as_str(),
                        sources.get(id).map_or("-", String::as_str)
                    );
                }
                for f in &outcome.failed {
                    say!(
                        "{}  {}  {}  {}",
                        VideoStatus::UploadingFailed.as_str(),
                        f.video_id,
                        f.import_source_uri.as_deref().unwrap_or("-"),
                        f.error.as_deref().unwrap_or("no reason given")
                    );
                }
                print_incomplete_sets(&outcome.incomplete_sets);
            }
            Ok(outcome)
        }
        Err(e) => Err(fail(&e)),
    }
}

/// Each set whose front uploaded but another view failed: the set, then
/// each failed view's role, id, source and reason.
fn print_incomplete_sets(sets: &[import_core::FailedVideo]) {
    for set in sets {
        say!(
            "INCOMPLETE_SET  {}  {}",
            set.video_id,
            set.import_source_uri.as_deref().unwrap_or("-")
        );
        for view in &set.failed_views {
            say!(
                "  {}  {}  {}  {}  {}",
                view.role,
                view.status.as_str(),
                view.video_id,
                view.import_source_uri.as_deref().unwrap_or("-"),
                view.error.as_deref().unwrap_or("no reason given")
            );
        }
    }
}

/// The sets of a multi-view job's rows that have a failed view.
fn incomplete_sets(rows: &[import_async::VideoRow]) -> usize {
    rows.iter()
        .filter(|r| r.failed_views.as_ref().is_some_and(|v| !v.is_empty()))
        .count()
}

/// Every row of a job (its sets' views included), or the exit of the error.
async fn all_rows(client: &Client, job: &ImportJobId) -> Result<Vec<import_async::VideoRow>, Exit> {
    let stream = client
        .videos(job, import_core::MAX_PAGE_LIMIT)
        .map_err(|e| fail(&e))?;
    stream.try_collect().await.map_err(|e| fail(&e))
}

/// The source URI of every uploaded row of a job (empty if the walk fails).
async fn uploaded_sources(
    client: &Client,
    job: &ImportJobId,
) -> std::collections::HashMap<VideoId, String> {
    let Ok(stream) = client.videos(job, import_core::MAX_PAGE_LIMIT) else {
        return Default::default();
    };
    let rows: Vec<_> = stream.try_collect().await.unwrap_or_default();
    rows.into_iter()
        .filter(|r| r.status == VideoStatus::Uploaded)
        .filter_map(|r| Some((r.video_id, r.import_source_uri?)))
        .collect()
}

async fn wait(client: Client, id: String, options: WaitOptions, json_out: bool) -> Exit {
    let job: ImportJobId = match parse_id(&id) {
        Ok(j) => j,
        Err(exit) => return exit,
    };
    match wait_and_report(&client, &job, &options, json_out, true).await {
        // A set with a failed view is no success either.
        Ok(outcome) if outcome.failed.is_empty() && outcome.incomplete_sets.is_empty() => Exit::Ok,
        Ok(_) => Exit::Failed,
        Err(exit) => exit,
    }
}

async fn job(client: Client, id: String, json_out: bool) -> Exit {
    let job: ImportJobId = match parse_id(&id) {
        Ok(j) => j,
        Err(exit) => return exit,
    };
    match client.get_import_job(&job).await {
        Ok(j) if json_out => {
            json(&j);
            Exit::Ok
        }
        Ok(j) => {
            say!("import job   {}", j.job_id);
            say!("source       {}://{}", j.source.wire_name(), j.bucket);
            if let Some(p) = &j.prefix {
                say!("prefix       {p}");
            }
            if let Some(f) = &j.folder_name {
                say!("folder       {f}");
            }
            say!("total        {}", j.total);
            if let Some(c) = j.counts {
                say!(
                    "uploaded     {}\nfailed       {}\npending      {}",
                    c.uploaded,
                    c.failed,
                    c.pending
                );
            }
            if j.multi_view == Some(true) {
                match all_rows(&client, &job).await {
                    Ok(rows) => say!(
                        "incomplete   {} sets with a failed view",
                        incomplete_sets(&rows)
                    ),
                    Err(exit) => return exit,
                }
            }
            if let Some(s) = &j.status {
                say!("status       {s}");
            }
            say!("created      {}", j.created_at);
            if let Some(t) = &j.completed_at {
                say!("completed    {t}");
            }
            Exit::Ok
        }
        Err(e) => fail(&e),
    }
}

/// Objects left out of an expansion that `upload --expand` names on
/// standard error (all are counted).
const LEFT_OUT_SHOWN: usize = 20;

/// The query of `vimport jobs` (exit code 2 when invalid).
fn jobs_query(a: &JobsArgs) -> Result<JobListRequest, Exit> {
    let mut q = JobListRequest::new().with_limit(a.limit).map_err(usage)?;
    if let Some(status) = &a.status {
        q = q.with_status(status.clone()).map_err(usage)?;
    }
    if let Some(folder) = &a.folder_id {
        // A name where an id belongs would list nothing, silently.
        if !folder.starts_with("fo_") {
            return Err(usage(format!(
                "`{folder}` is not a folder id (they start with `fo_`); find a folder's id by its name with `vimport folders get {folder}` (add `--scope org` for an organisation folder)"
            )));
        }
        q = q.with_folder(parse_id(folder)?);
    }
    if let Some(after) = &a.created_after {
        // The core's parser, as the server runs it.
        let parsed =
            JobListRequest::from_query(None, None, None, None, Some(after)).map_err(usage)?;
        if let Some(ms) = parsed.created_after_ms() {
            q = q.with_created_after_ms(ms);
        }
    }
    if let Some(cursor) = &a.cursor {
        q = q.with_cursor(parse_id(cursor)?);
    }
    Ok(q)
}

fn print_job_line(j: &ImportJob) {
    let counts = j.counts.unwrap_or_default();
    let status = j
        .status
        .as_ref()
        .map_or_else(|| "-".to_owned(), ToString::to_string);
    say!(
        "{}  {:<21}  {:>7}  {:>8}  {:>6}  {:>7}  {}  {}{}/{}",
        j.job_id,
        status,
        j.total,
        counts.uploaded,
        counts.failed,
        counts.pending,
        j.created_at,
        j.source.uri_prefix(),
        j.bucket,
        j.prefix.as_deref().unwrap_or("")
    );
}

async fn jobs(client: Client, query: JobListRequest, all: bool, json_out: bool) -> Exit {
    let mut query = query;
    let mut listed = Vec::new();
    let mut first = true;
    loop {
        let page = match client.list_import_jobs(&query).await {
            Ok(p) => p,
            Err(e) => return fail(&e),
        };
        // The header once the first page is in: nothing on standard
        // output before an error.
        if !json_out && std::mem::take(&mut first) {
            say!(
                "{:<29}  {:<21}  {:>7}  {:>8}  {:>6}  {:>7}  {:<24}  SOURCE",
                "JOB",
                "STATUS",
                "TOTAL",
                "DONE",
                "FAILED",
                "WAITING",
                "CREATED"
            );
        }
        if !json_out {
            page.jobs.iter().for_each(print_job_line);
        }
        let next = page.next_cursor.clone().filter(|_| page.has_more);
        if json_out && !all {
            json(&page);
            return Exit::Ok;
        }
        listed.extend(page.jobs);
        match next {
            Some(cursor) if all => query = query.with_cursor(cursor),
            Some(cursor) => {
                eprintln!("more jobs follow: --cursor {cursor}, or --all");
                break;
            }
            None => break,
        }
    }
    if json_out {
        // The shape of one page, whatever the flags: every page's jobs.
        json(&import_core::wire::ImportJobList {
            jobs: listed,
            has_more: false,
            next_cursor: None,
        });
    }
    Exit::Ok
}

async fn health(a: crate::cli::HealthArgs) -> Exit {
    // The probes take no API key: without one, a placeholder satisfies the
    // client (the server does not look at it on these routes).
    let client = match config::client(&a.api) {
        Ok(c) => c,
        Err(_) => {
            let mut api = a.api.clone();
            api.api_key = Some("no-key-needed".to_owned());
            match config::client(&api) {
                Ok(c) => c,
                Err(message) => return usage(message),
            }
        }
    };
    let alive = match client.health().await {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    match client.readiness().await {
        Ok(ready) if a.api.json => {
            json(&json!({"health": alive, "readiness": ready}));
            Exit::Ok
        }
        Ok(ready) => {
            say!("alive: {}; {}", alive.status, ready.status);
            Exit::Ok
        }
        Err(e) => fail(&e),
    }
}

async fn cancel(client: Client, id: String, json_out: bool) -> Exit {
    let job: ImportJobId = match parse_id(&id) {
        Ok(j) => j,
        Err(exit) => return exit,
    };
    match client.cancel_import_job(&job).await {
        Ok(j) if json_out => {
            json(&j);
            Exit::Ok
        }
        Ok(j) => {
            let cancelled = j
                .failure_summary
                .iter()
                .flatten()
                .find(|line| line.code == FailureCode::Cancelled)
                .map_or(0, |line| line.count);
            match j.status {
                Some(JobStatus::Cancelled) => say!(
                    "import job {} is cancelled: {cancelled} videos not uploaded failed as `cancelled`; `vimport retry {}` imports them after all",
                    j.job_id,
                    j.job_id
                ),
                Some(other) => say!(
                    "import job {} had already ended ({other}); nothing was cancelled",
                    j.job_id
                ),
                None => say!("import job {} cancelled", j.job_id),
            }
            Exit::Ok
        }
        Err(e) => fail(&e),
    }
}

async fn report(client: Client, id: String, failed_only: bool, json_out: bool) -> Exit {
    let job: ImportJobId = match parse_id(&id) {
        Ok(j) => j,
        Err(exit) => return exit,
    };
    if !failed_only {
        return match client.get_import_job(&job).await {
            Ok(j) if json_out => {
                json(&j.failure_summary.unwrap_or_default());
                Exit::Ok
            }
            Ok(j) => {
                let summary = j.failure_summary.unwrap_or_default();
                let incomplete = if j.multi_view == Some(true) {
                    match all_rows(&client, &job).await {
                        Ok(rows) => incomplete_sets(&rows),
                        Err(exit) => return exit,
                    }
                } else {
                    0
                };
                if summary.is_empty() && incomplete == 0 {
                    say!("import job {job}: no video failed");
                }
                if incomplete > 0 {
                    say!(
                        "{incomplete} sets with a failed view (their views are below; `vimport report {job} --failed` lists the failed views' sources)"
                    );
                }
                for line in summary {
                    say!("{:<20} {:>7}", line.code, line.count);
                    for example in line.examples {
                        say!("    {example}");
                    }
                }
                Exit::Ok
            }
            Err(e) => fail(&e),
        };
    }
    let rows = match all_rows(&client, &job).await {
        Ok(rows) => rows,
        Err(exit) => return exit,
    };
    // Failed rows, and the failed views of sets whose front uploaded: each
    // with its source, so that the list feeds `vimport upload --from-file`.
    let mut failed: Vec<serde_json::Value> = Vec::new();
    for r in &rows {
        if r.status == VideoStatus::UploadingFailed {
            failed.push(
                json!({"video_id": r.video_id, "import_source_uri": r.import_source_uri,
                               "error_code": r.error_code, "error": r.error}),
            );
        }
        if r.status == VideoStatus::UploadingFailed || r.status == VideoStatus::Uploaded {
            for view in r.failed_views.iter().flatten() {
                if view.video_id == r.video_id {
                    continue;
                }
                failed.push(
                    json!({"video_id": view.video_id, "set_video_id": r.video_id,
                                   "role": view.role, "import_source_uri": view.import_source_uri,
                                   "error_code": view.error_code, "error": view.error}),
                );
            }
        }
    }
    if json_out {
        json(&failed);
    } else {
        for f in &failed {
            if let Some(uri) = f["import_source_uri"].as_str() {
                say!("{uri}");
            }
        }
    }
    Exit::Ok
}

/// One row; a set's views under it (role, status, id, source, reason), so
/// that a set shows every camera, not only its front.
fn print_row(row: &import_async::VideoRow) {
    // A failed row's reason, or why a waiting row's last attempt failed.
    let reason = match (&row.error, &row.last_error) {
        (Some(e), _) => format!("  {e}"),
        (None, Some(e)) => format!("  (last attempt: {e})"),
        (None, None) => String::new(),
    };
    say!(
        "{}  {:<16}  {}{reason}",
        row.video_id,
        row.status,
        row.import_source_uri.as_deref().unwrap_or("-"),
    );
    for (role, view) in row.views.iter().flatten() {
        if view.video_id == row.video_id {
            continue;
        }
        let reason = row
            .failed_views
            .iter()
            .flatten()
            .find(|f| f.video_id == view.video_id)
            .and_then(|f| f.error.as_deref())
            .map(|e| format!("  {e}"))
            .unwrap_or_default();
        say!(
            "  {role:<8} {:<16}  {}  {}{reason}",
            view.status,
            view.video_id,
            view.import_source_uri.as_deref().unwrap_or("-")
        );
    }
}

async fn videos(
    client: Client,
    id: String,
    limit: u32,
    cursor: Option<String>,
    all: bool,
    json_out: bool,
) -> Exit {
    let job: ImportJobId = match parse_id(&id) {
        Ok(j) => j,
        Err(exit) => return exit,
    };
    if all {
        let stream = match client.videos(&job, limit) {
            Ok(s) => s,
            Err(e) => return fail(&e),
        };
        let rows: Result<Vec<_>, Error> = stream.try_collect().await;
        return match rows {
            Ok(rows) if json_out => {
                // The shape of one page, whatever the flags: every row.
                json(&import_core::wire::VideosPage {
                    import_job_id: job,
                    total: rows.len() as u64,
                    limit,
                    cursor: None,
                    has_more: false,
                    next_cursor: None,
                    video_count: Some(rows.len() as u64),
                    videos: rows,
                });
                Exit::Ok
            }
            Ok(rows) => {
                rows.iter().for_each(print_row);
                Exit::Ok
            }
            Err(e) => fail(&e),
        };
    }
    let cursor = match cursor.as_deref().map(parse_id::<VideoId>).transpose() {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let page = match PageRequest::new(limit, cursor, None) {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    match client.get_import_job_videos(&job, &page).await {
        Ok(page) if json_out => {
            json(&page);
            Exit::Ok
        }
        Ok(page) => {
            page.videos.iter().for_each(print_row);
            if let Some(next) = &page.next_cursor {
                eprintln!("more rows follow: --cursor {next}");
            }
            Exit::Ok
        }
        Err(e) => fail(&e),
    }
}

async fn retry(client: Client, id: String, video_ids: Vec<String>, json_out: bool) -> Exit {
    let job: ImportJobId = match parse_id(&id) {
        Ok(j) => j,
        Err(exit) => return exit,
    };
    let mut ids = Vec::new();
    for v in &video_ids {
        match parse_id::<VideoId>(v) {
            Ok(id) => ids.push(id),
            Err(exit) => return exit,
        }
    }
    let asked = ids.clone();
    let ids = (!ids.is_empty()).then_some(ids);
    match client.retry_import_job(&job, ids.as_deref()).await {
        Ok(r) => {
            if json_out {
                json(&r);
            } else {
                say!(
                    "{} failed videos of {} are queued again; follow with `vimport wait {}`",
                    r.retried,
                    r.import_job_id,
                    r.import_job_id
                );
            }
            // Ids named but not queued again are an error, each named.
            let missed: Vec<&VideoId> = asked
                .iter()
                .filter(|id| !r.video_ids.contains(id))
                .collect();
            for id in &missed {
                eprintln!(
                    "error: {id} was not queued again: it is not a failed row of import job {job} (not in it, or not failed); list the failed rows with `vimport report {job} --failed --json`"
                );
            }
            if missed.is_empty() {
                Exit::Ok
            } else {
                Exit::Error
            }
        }
        Err(e) => fail(&e),
    }
}

async fn verify(client: Client, json_out: bool) -> Exit {
    match client.verify_auth().await {
        Ok(v) if json_out => {
            json(&v);
            Exit::Ok
        }
        Ok(v) => {
            say!(
                "the API key is valid: user {} of org {}",
                v.user_id,
                v.org_id
            );
            Exit::Ok
        }
        Err(e) => fail(&e),
    }
}

async fn integrations(cmd: IntegrationsCommand) -> Exit {
    match cmd {
        IntegrationsCommand::List(a) => {
            let kind = a.kind.map(|k| match k {
                ProviderArg::Gcs => Provider::Gcs,
                ProviderArg::S3 => Provider::S3,
                ProviderArg::Hf => Provider::HfBucket,
            });
            let json_out = a.api.json;
            with_client(&a.api, |c| async move {
                match c.cloud_integrations().list(kind).await {
                    Ok(list) if json_out => {
                        json(&list);
                        Exit::Ok
                    }
                    Ok(list) => {
                        for i in &list {
                            say!(
                                "{}  {:<9}  {}{}  {}",
                                i.id,
                                i.kind.wire_name(),
                                i.bucket,
                                i.prefix
                                    .as_deref()
                                    .map(|p| format!("/{p}"))
                                    .unwrap_or_default(),
                                i.name
                            );
                        }
                        Exit::Ok
                    }
                    Err(e) => fail(&e),
                }
            })
            .await
        }
        IntegrationsCommand::Remove(a) => {
            let id: IntegrationId = match parse_id(&a.id) {
                Ok(i) => i,
                Err(exit) => return exit,
            };
            with_client(&a.api, |c| async move {
                match c.cloud_integrations().delete(&id).await {
                    Ok(()) => {
                        say!("integration {id} deleted");
                        Exit::Ok
                    }
                    Err(e) => fail(&e),
                }
            })
            .await
        }
        IntegrationsCommand::Add(add) => {
            let (common, result) = match add {
                AddCommand::Gcs(g) => {
                    let c = g.common;
                    let r = match config::client(&c.api) {
                        Ok(client) => Some(
                            client
                                .cloud_integrations()
                                .add_gcs(
                                    &c.name,
                                    &c.bucket,
                                    g.key_file.as_path(),
                                    c.prefix.as_deref(),
                                )
                                .await,
                        ),
                        Err(m) => return usage(m),
                    };
                    (c.api.json, r)
                }
                AddCommand::S3(s) => {
                    let c = s.common;
                    let creds = json!({"access_key_id": s.access_key_id, "secret_access_key": s.secret_access_key,
                                       "session_token": s.session_token});
                    let r = match config::client(&c.api) {
                        Ok(client) => Some(
                            client
                                .cloud_integrations()
                                .add_s3(
                                    &c.name,
                                    &c.bucket,
                                    &creds,
                                    s.region.as_deref(),
                                    s.endpoint_url.as_deref(),
                                    c.prefix.as_deref(),
                                )
                                .await,
                        ),
                        Err(m) => return usage(m),
                    };
                    (c.api.json, r)
                }
                AddCommand::Hf(h) => {
                    let c = h.common;
                    let r = match config::client(&c.api) {
                        Ok(client) => Some(
                            client
                                .cloud_integrations()
                                .add_hf_bucket(&c.name, &c.bucket, &h.token, c.prefix.as_deref())
                                .await,
                        ),
                        Err(m) => return usage(m),
                    };
                    (c.api.json, r)
                }
            };
            match result {
                Some(Ok(i)) if common => {
                    json(&i);
                    Exit::Ok
                }
                Some(Ok(i)) => {
                    say!(
                        "integration {} saved: {} bucket {}",
                        i.id,
                        i.kind.wire_name(),
                        i.bucket
                    );
                    Exit::Ok
                }
                Some(Err(e)) => fail(&e),
                None => Exit::Error,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_list_skips_blank_lines_and_comments() {
        let text = "# cameras\n\n s3://b/a.mp4 \n#s3://b/skipped.mp4\n\ts3://b/c.mp4\r\n";
        assert_eq!(
            uris_from_text(text).unwrap(),
            vec!["s3://b/a.mp4", "s3://b/c.mp4"]
        );
        assert!(uris_from_text("# nothing\n").unwrap().is_empty());
        let many = "s3://b/a.mp4\n".repeat(MAX_FROM_FILE_URIS + 1);
        assert!(uris_from_text(&many).unwrap_err().contains("split it"));
    }
}
