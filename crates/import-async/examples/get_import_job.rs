//! Read an import job: where it imports from, how many objects, and, from a
//! server with the job extensions, its status, counts and whether it is
//! terminal.
//!
//! ```text
//! VIMPORT_API_KEY=... VIMPORT_BASE_URL=http://127.0.0.1:8080 \
//!   cargo run -p import-async --example get_import_job -- ij_...
//! ```
//!
//! The job id is the first argument, else `IMPORT_JOB_ID`.

use import_async::{Client, Error, ImportJobId};

/// The job id from the command line or `IMPORT_JOB_ID`, or a placeholder.
fn job_id() -> String {
    std::env::args()
        .nth(1)
        .or_else(|| std::env::var("IMPORT_JOB_ID").ok())
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "ij_your_import_job_id".to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let client = Client::from_env()?;
    let id: ImportJobId = job_id().parse()?;

    let job = client.get_import_job(&id).await?;
    println!("job       {}", job.job_id);
    println!("source    {} bucket {}", job.source.wire_name(), job.bucket);
    println!("prefix    {}", job.prefix.as_deref().unwrap_or("-"));
    println!(
        "folder    {} ({})",
        job.folder_name.as_deref().unwrap_or("-"),
        job.folder_id.as_ref().map_or("-", |f| f.as_str())
    );
    println!("total     {}", job.total);
    println!("created   {}", job.created_at);
    println!("updated   {}", job.updated_at.as_deref().unwrap_or("-"));
    println!("completed {}", job.completed_at.as_deref().unwrap_or("-"));

    // The extensions: one request tells whether the job is done.
    match (job.status, job.terminal, job.counts) {
        (Some(status), Some(terminal), Some(counts)) => {
            println!("status    {status} (terminal: {terminal})");
            println!(
                "counts    {} uploaded, {} failed, {} pending",
                counts.uploaded, counts.failed, counts.pending
            );
            if let Some(secs) = job.poll_after_seconds.filter(|_| !terminal) {
                println!("poll again in {secs} s");
            }
            if job.multi_view == Some(true) {
                println!("multi-view: the total counts view sets");
            }
        }
        _ => println!(
            "no status or counts from this server: page through the rows (cursor_loop.rs) \
             or use wait_for_import"
        ),
    }
    Ok(())
}
