//! The probes and the metrics, answered without an API key: `GET /healthz`,
//! `GET /readyz`, `GET /metrics`; and the middleware that counts every request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use import_core::wire::{Probe, ProbeStatus};
use object_store::ObjectStoreExt;
use object_store::path::Path as StorePath;

use super::St;
use crate::metrics::{RequestLabels, RouteLabel};
use crate::state::AppState;

/// Longest time one readiness check (the database, the media store) may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The object a readiness check writes and deletes in the media store.
const READY_OBJECT: &str = "probes/readyz";

/// The content type of the Prometheus text format.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(crate) async fn healthz() -> Json<Probe> {
    Json(Probe {
        status: ProbeStatus::Ok,
        reason: None,
    })
}

pub(crate) async fn readyz(State(st): St) -> Response {
    match not_ready(&st).await {
        None => Json(Probe {
            status: ProbeStatus::Ready,
            reason: None,
        })
        .into_response(),
        Some(reason) => {
            tracing::warn!(%reason, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Probe {
                    status: ProbeStatus::NotReady,
                    reason: Some(reason),
                }),
            )
                .into_response()
        }
    }
}

/// Why the server cannot serve and import now, if it cannot. Each check is
/// reused for its period (the database's 1 s, the media store's 30 s), so
/// anonymous probes cost a bounded amount; the reason says what failed and
/// leaves the raw error to the server's log (one line per check).
async fn not_ready(st: &AppState) -> Option<String> {
    let store = st
        .store_check
        .get_or(|| async {
            match tokio::time::timeout(CHECK_TIMEOUT, st.store.ready()).await {
                Err(_) => Err(format!(
                    "the database did not answer within {} s",
                    CHECK_TIMEOUT.as_secs()
                )),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "readiness: the database does not answer");
                    Err("the database does not answer (the server's log says why)".to_owned())
                }
                Ok(Ok(result)) => result,
            }
        })
        .await;
    if let Err(reason) = store {
        return Some(reason);
    }
    st.media_check
        .get_or(|| async {
            match tokio::time::timeout(CHECK_TIMEOUT, media_takes_a_write(st)).await {
                Err(_) => Err(format!(
                    "the media store did not take a write within {} s",
                    CHECK_TIMEOUT.as_secs()
                )),
                Ok(result) => result,
            }
        })
        .await
        .err()
}

async fn media_takes_a_write(st: &AppState) -> Result<(), String> {
    let path = StorePath::from(READY_OBJECT);
    let failed = |what: &str, e: object_store::Error| {
        tracing::warn!(error = %e, "readiness: the media store refuses a {what}");
        format!("the media store refuses a {what} (the server's log says why)")
    };
    st.media
        .put(&path, bytes::Bytes::from_static(b"ready").into())
        .await
        .map_err(|e| failed("write", e))?;
    st.media
        .delete(&path)
        .await
        .map_err(|e| failed("delete", e))?;
    Ok(())
}

/// The metrics. Always `200`: the process's own counters are worth a scrape
/// even when the database is away; `vimport_store_up` says whether the row
/// gauges are fresh (they are read at most every 5 s, however often the
/// metrics are scraped).
pub(crate) async fn metrics(State(st): St) -> Response {
    let gauges = st
        .gauges
        .get_or(|| async {
            match tokio::time::timeout(CHECK_TIMEOUT, st.store.queue().row_gauges(st.now_ms()))
                .await
            {
                Ok(Ok(g)) => Some(g),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "metrics: the database does not answer");
                    None
                }
                Err(_) => {
                    tracing::warn!("metrics: the database did not answer in time");
                    None
                }
            }
        })
        .await;
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        st.metrics.render(gauges.as_ref()),
    )
        .into_response()
}

/// Count every request by route, method and status, and time it by route.
pub(crate) async fn record_request(
    State(st): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    // A fixed set of labels, whatever a client sends.
    let method = import_core::routes::method_label(req.method()).to_owned();
    let res = next.run(req).await;
    st.metrics
        .requests
        .get_or_create(&RequestLabels {
            route: route.clone(),
            method,
            status: res.status().as_u16(),
        })
        .inc();
    st.metrics
        .request_seconds
        .get_or_create(&RouteLabel { route })
        .observe(started.elapsed().as_secs_f64());
    res
}
