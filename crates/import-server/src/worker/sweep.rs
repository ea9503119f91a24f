//! The sweep of staging files: the local media store stages an upload as
//! `videos/ID.mp4#N` and renames it on completion; a process that dies while
//! copying leaves the staging file behind. The sweep removes those whose row
//! is not under a live lease, on every store: at start and every
//! `ServerConfig::staging_sweep` from the reaper.

use std::path::{Path, PathBuf};

use import_core::VideoId;

use crate::state::AppState;
use crate::store::ClaimedRow;

/// Most staging files one sweep looks at (the rest wait for the next one).
const MAX_PER_SWEEP: usize = 100_000;

/// Staging suffixes (`#1`, `#2`, ...) cleared when a row is claimed: the
/// local store numbers an upload's staging file from 1 up, and each claim
/// clears what came before, so a row has one or two at most.
const STAGED_PER_ROW: u32 = 16;

/// Remove what the row's previous claim left staged (a process that died
/// copying it): its files have a name of that claim's own, so they never
/// collide with this claim's; older ones are left to the sweep.
pub(crate) async fn clear_row_staging(state: &AppState, row: &ClaimedRow) {
    let Some(folder) = &state.media_folder else {
        return;
    };
    let id = &row.id;
    let previous = row.claim.checked_sub(1).filter(|c| *c >= 1);
    let base = crate::media::video_file(folder, id, previous);
    // One trip to the blocking pool for all the names: this runs for every
    // claimed row, and almost always finds nothing.
    let removed = tokio::task::spawn_blocking(move || {
        let mut removed = Vec::new();
        for n in 1..=STAGED_PER_ROW {
            let mut path = base.clone().into_os_string();
            path.push(format!("#{n}"));
            // A lookup first: it takes no lock, where an unlink takes the
            // folder's lock even for a name that is not there, and every
            // copy's lookups then wait on each other.
            if !Path::new(&path).try_exists().unwrap_or(true) {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => removed.push(Ok(())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => removed.push(Err(e)),
            }
        }
        removed
    })
    .await
    .unwrap_or_default();
    for outcome in removed {
        match outcome {
            Ok(()) => {
                tracing::info!(video = %id, "removed a staging file left by an interrupted copy")
            }
            Err(e) => {
                tracing::warn!(video = %id, error = %e, "removing a stale staging file failed")
            }
        }
    }
}

/// Remove the stale staging files of the local media folder, if the media
/// store is a folder; answers how many were removed.
///
/// The folder is listed before the leases are read: a staging file is only
/// created by a worker that holds its row's lease, so a file listed first
/// whose row is then not under a live lease belongs to a worker that died or
/// lost the row (a file renamed in between is simply gone).
pub(crate) async fn sweep_staging(state: &AppState) -> usize {
    let Some(folder) = state.media_folder.clone() else {
        return 0;
    };
    let dir = crate::media::videos_folder(&folder);
    let listed = tokio::task::spawn_blocking(move || staging_files(&dir))
        .await
        .unwrap_or_default();
    if listed.is_empty() {
        return 0;
    }
    let ids: Vec<VideoId> = listed.iter().filter_map(|(id, _)| id.clone()).collect();
    let leased = match state.store.queue().leased_among(&ids, state.now_ms()).await {
        Ok(leased) => leased,
        Err(e) => {
            tracing::warn!(error = %e, "reading leases for the staging sweep failed; nothing removed");
            return 0;
        }
    };
    let mut removed = 0;
    for (id, path) in listed {
        if id.as_ref().is_some_and(|id| leased.contains(id)) {
            continue;
        }
        match tokio::fs::remove_file(&path).await {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "removing a stale staging file failed");
            }
        }
    }
    if removed > 0 {
        tracing::info!(
            files = removed,
            "removed staging files left by interrupted copies"
        );
    }
    removed
}

/// The staging files of `dir` (`NAME#N`), with the video id of their name
/// when it is one (a file with another name is removed regardless: nothing
/// else stages there).
fn staging_files(dir: &Path) -> Vec<(Option<VideoId>, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let name = name.to_str()?;
            let (base, _) = name.split_once('#')?;
            let id = crate::media::video_of_file(base).map(|(id, _)| id);
            Some((id, entry.path()))
        })
        .take(MAX_PER_SWEEP)
        .collect()
}
