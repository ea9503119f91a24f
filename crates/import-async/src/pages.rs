//! Every row of a job as a stream that follows the cursor.

use futures::Stream;
use import_core::Pager;

use crate::{Client, ImportJobId, Result, VideoRow};

/// The rows of a job, page by page; from [`Client::videos`].
pub fn video_rows<'a>(
    client: &'a Client,
    job: &ImportJobId,
    limit: u32,
) -> Result<impl Stream<Item = Result<VideoRow>> + 'a> {
    let pager = Pager::cursor(job.clone(), limit)?;
    let pages = futures::stream::try_unfold(pager, move |mut pager| async move {
        let Some(req) = pager.poll_request() else {
            return Ok::<_, crate::Error>(None);
        };
        let page = client.send(req).await?;
        let rows = pager.handle_page(page)?;
        Ok(Some((
            futures::stream::iter(rows.into_iter().map(Ok)),
            pager,
        )))
    });
    Ok(futures::TryStreamExt::try_flatten(pages))
}
