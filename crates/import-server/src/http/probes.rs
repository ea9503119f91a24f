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
use crate::clock::now_ms;
use crate::metrics::{RequestLabels, RouteLabel};
use crate::state::{AppState, MEDIA_CHECK_EVERY};

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

/// Why the server cannot serve and import now, if it cannot.
async fn not_ready(st: &AppState) -> Option<String> {
    match tokio::time::timeout(CHECK_TIMEOUT, st.store.ready()).await {
        Err(_) => {
            return Some(format!(
                "the database did not answer within {} s",
                CHECK_TIMEOUT.as_secs()
            ));
        }
        Ok(Err(e)) => return Some(format!("the database does not answer: {e}")),
        Ok(Ok(Err(reason))) => return Some(reason),
        Ok(Ok(Ok(()))) => {}
    }
    let mut last = st.media_check.lock().await;
    if let Some((at, result)) = last.as_ref()
        && at.elapsed() < MEDIA_CHECK_EVERY
    {
        return result.clone().err();
    }
    let result = match tokio::time::timeout(CHECK_TIMEOUT, media_takes_a_write(st)).await {
        Err(_) => Err(format!(
            "the media store did not take a write within {} s",
            CHECK_TIMEOUT.as_secs()
        )),
        Ok(result) => result,
    };
    *last = Some((Instant::now(), result.clone()));
    result.err()
}

async fn media_takes_a_write(st: &AppState) -> Result<(), String> {
    let path = StorePath::from(READY_OBJECT);
    st.media
        .put(&path, bytes::Bytes::from_static(b"ready").into())
        .await
        .map_err(|e| format!("the media store refuses a write: {e}"))?;
    st.media
        .delete(&path)
        .await
        .map_err(|e| format!("the media store refuses a delete: {e}"))?;
    Ok(())
}

pub(crate) async fn metrics(State(st): St) -> Response {
    let gauges =
        match tokio::time::timeout(CHECK_TIMEOUT, st.store.queue().row_gauges(now_ms())).await {
            Ok(Ok(g)) => g,
            Ok(Err(e)) => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the database does not answer: {e}\n"),
                )
                    .into_response();
            }
            Err(_) => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database did not answer in time\n",
                )
                    .into_response();
            }
        };
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        st.metrics.render(&gauges),
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
    let method = req.method().as_str().to_owned();
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
