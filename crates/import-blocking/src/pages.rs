//! Every row of a job as an iterator that follows the cursor.

use std::collections::VecDeque;

use import_core::Pager;

use crate::{Client, ImportJobId, Result, VideoRow};

/// The rows of a job, page by page; from [`Client::videos`].
#[derive(Debug)]
pub struct VideoRows<'a> {
    client: &'a Client,
    pager: Pager,
    buffer: VecDeque<VideoRow>,
    failed: bool,
}

impl<'a> VideoRows<'a> {
    pub(crate) fn new(client: &'a Client, job: &ImportJobId, limit: u32) -> Result<Self> {
        Ok(VideoRows {
            client,
            pager: Pager::cursor(job.clone(), limit)?,
            buffer: VecDeque::new(),
            failed: false,
        })
    }
}

impl Iterator for VideoRows<'_> {
    type Item = Result<VideoRow>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(row) = self.buffer.pop_front() {
                return Some(Ok(row));
            }
            if self.failed {
                return None;
            }
            let req = self.pager.poll_request()?;
            let page = match self.client.send(req) {
                Ok(page) => page,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            };
            match self.pager.handle_page(page) {
                Ok(rows) => self.buffer.extend(rows),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e.into()));
                }
            }
        }
    }
}
