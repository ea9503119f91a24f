//! Read every per-video row of an import job: first with a hand-written
//! cursor loop over `get_import_job_videos`, then with the auto-paging
//! stream `videos`.
//!
//! Rows come in ascending `video_id` order; each page's `next_cursor` is the
//! cursor of the next request. A page costs the same however deep into the job
//! it is.
//!
//! ```text
//! VIMPORT_API_KEY=... VIMPORT_BASE_URL=http://127.0.0.1:8080 \
//!   cargo run -p import-async --example cursor_loop -- ij_...
//! ```
//!
//! The job id is the first argument, else `IMPORT_JOB_ID`.

use futures::TryStreamExt;
use import_async::{Client, Error, ImportJobId, PageRequest, VideoRow};

/// Rows per page (1 to 1000).
const PAGE_LIMIT: u32 = 100;

/// The job id from the command line or `IMPORT_JOB_ID`, or a placeholder.
fn job_id() -> String {
    std::env::args()
        .nth(1)
        .or_else(|| std::env::var("IMPORT_JOB_ID").ok())
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "ij_your_import_job_id".to_owned())
}

/// One line per row.
fn show(row: &VideoRow) {
    println!(
        "  {} {:<16} {} {}",
        row.video_id,
        row.status.as_str(),
        row.import_source_uri.as_deref().unwrap_or("-"),
        row.error.as_deref().unwrap_or("")
    );
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let client = Client::from_env()?;
    let job: ImportJobId = job_id().parse()?;

    // By hand: ask for a page, then for the rows after its last id.
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = client
            .get_import_job_videos(&job, &PageRequest::new(PAGE_LIMIT, cursor, None)?)
            .await?;
        pages += 1;
        println!(
            "page {pages}: {} row(s) of {}, has_more={}",
            page.videos.len(),
            page.total,
            page.has_more
        );
        page.videos.iter().for_each(show);
        cursor = page.next_cursor;
        if !page.has_more || cursor.is_none() {
            break;
        }
    }

    // The stream follows the cursor for you.
    let (mut rows, mut terminal) = (0, 0);
    let mut stream = std::pin::pin!(client.videos(&job, PAGE_LIMIT)?);
    while let Some(row) = stream.try_next().await? {
        rows += 1;
        if row.status.is_terminal() {
            terminal += 1;
        }
    }
    println!("{rows} row(s), {terminal} terminal (UPLOADED or UPLOADING_FAILED)");
    Ok(())
}
