//! The HTTP layer: routes of the contract, authentication, idempotency, limits.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{MethodFilter, MethodRouter};
use import_core::routes::{self as table, Route};

use crate::error::ApiError;
use crate::state::AppState;

mod body;
mod convert;
mod folders;
mod guard;
mod integrations;
mod jobs;
mod keys;
mod probes;
mod rate;
mod serve;
mod uploads;

pub(crate) use rate::{AuthFailures, RateLimits};
pub(crate) use serve::{Bounds, Peer, serve};

/// The shared state, as handlers extract it.
type St = axum::extract::State<Arc<AppState>>;

/// An id from a path segment; one that cannot be an id names nothing, so it
/// is `404` like an unknown one.
fn path_id<T: std::str::FromStr>(segment: &str, what: &str) -> Result<T, ApiError> {
    segment.parse().map_err(|_| ApiError::not_found(what))
}

/// Query parameters, form-decoded (`+` is a space).
fn query_map(raw: Option<&str>) -> std::collections::BTreeMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// The handler of a route of the core's table, on the route's own method;
/// `None` for a route this server does not serve (a test keeps that from
/// happening).
fn handler(route: &Route) -> Option<MethodRouter<Arc<AppState>>> {
    use table::*;
    let filter = MethodFilter::try_from(route.method()).ok()?;
    macro_rules! on {
        ($handler:expr) => {
            Some(axum::routing::on(filter, $handler))
        };
    }
    match *route {
        VERIFY_AUTH => on!(keys::verify),
        CREATE_OR_GET_FOLDER => on!(folders::create_or_get_folder),
        CREATE_FOLDER => on!(folders::create_folder),
        GET_FOLDER => on!(folders::get_folder),
        LIST_INTEGRATIONS => on!(integrations::list_integrations),
        ADD_GCS_INTEGRATION => on!(integrations::add_gcs),
        ADD_S3_INTEGRATION => on!(integrations::add_s3),
        ADD_HF_INTEGRATION => on!(integrations::add_hf),
        DELETE_INTEGRATION => on!(integrations::delete_integration),
        UPLOAD_GCS => on!(uploads::upload_gcs),
        UPLOAD_S3 => on!(uploads::upload_s3),
        UPLOAD_HF_BUCKET => on!(uploads::upload_hf),
        GET_IMPORT_JOB => on!(jobs::get_job),
        GET_IMPORT_JOB_VIDEOS => on!(jobs::get_job_videos),
        RETRY_IMPORT_JOB => on!(jobs::retry_job),
        GET_VIDEO_STATUS => on!(jobs::video_status),
        LIST_IMPORT_JOBS => on!(jobs::list_jobs),
        CANCEL_IMPORT_JOB => on!(jobs::cancel_job),
        HEALTHZ => on!(probes::healthz),
        READYZ => on!(probes::readyz),
        METRICS => on!(probes::metrics),
        _ => None,
    }
}

/// The router of every route of the contract: the core's route table, each
/// template registered once with its handler.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.body_limit;
    // The API behind the guard (key, body limit, idempotency); the probes
    // and the metrics without it.
    let mut api = Router::new();
    let mut public = Router::new();
    for route in table::ALL {
        let handler = handler(route).unwrap_or_else(|| axum::routing::any(not_implemented));
        if route.public {
            public = public.route(route.template, handler);
        } else {
            api = api.route(route.template, handler);
        }
    }
    let api = api
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Inside the guard, so a panic's 500 still carries the request id
        // and forgets its idempotency reservation.
        .layer(catch_panics())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .layer(DefaultBodyLimit::max(limit));
    public
        .method_not_allowed_fallback(method_not_allowed)
        .merge(api)
        .layer(catch_panics())
        .layer(axum::middleware::from_fn(refuse_long_targets))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            probes::record_request,
        ))
        .with_state(state)
}

/// A request target (path and query) over
/// [`MAX_URI_BYTES`](import_core::fields::MAX_URI_BYTES) is `414`, before
/// any route, key or body is looked at.
async fn refuse_long_targets(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > import_core::fields::MAX_URI_BYTES {
        return axum::response::IntoResponse::into_response(ApiError::new(
            axum::http::StatusCode::URI_TOO_LONG,
            format!(
                "the request's path and query are {target} bytes, more than the {} this server reads: send long lists in a POST body",
                import_core::fields::MAX_URI_BYTES
            ),
        ));
    }
    next.run(req).await
}

/// What a panic answers.
type PanicAnswer = fn(Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response;

/// Any panic left in a handler becomes a `500` that says it was logged, with
/// one log line: defence in depth, no request may drop its connection.
fn catch_panics() -> tower_http::catch_panic::CatchPanicLayer<PanicAnswer> {
    tower_http::catch_panic::CatchPanicLayer::custom(panic_answer as PanicAnswer)
}

fn panic_answer(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    let what: String = what.chars().take(200).collect();
    tracing::error!(panic = %what, "a request handler panicked; it was answered 500");
    axum::response::IntoResponse::into_response(ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; it has been logged",
    ))
}

#[cfg(test)]
mod panic_tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_not_a_dropped_connection() {
        async fn boom() -> &'static str {
            panic!("a bug")
        }
        let app = Router::new()
            .route("/boom", axum::routing::get(boom))
            .layer(catch_panics());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let res = reqwest::get(format!("http://{addr}/boom")).await.unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::INTERNAL_SERVER_ERROR);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["detail"], "internal error; it has been logged");
    }
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such route; see docs/api/openapi.json for the routes of the API",
    )
}

async fn not_implemented() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "this server does not implement this route yet",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this route does not take that method",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract document lists, for every route of the table, each
    /// answer the server's layers give in front of its handler (the core's
    /// `routes::common_answers`: the guard's 401, 429 and 503, a store
    /// failure's 500, the body limits' 400, 408, 413 and 422, the
    /// idempotency layer's 409), and the headers they set: `RateLimit-*` on
    /// every answer to a key, `Idempotent-Replayed` on a replayable one.
    #[test]
    fn the_contract_lists_every_answer_and_header_of_the_layers() {
        let document: serde_json::Value =
            serde_json::from_str(include_str!("../../../../docs/api/openapi.json")).unwrap();
        let resolve = |v: &serde_json::Value| -> serde_json::Value {
            match v["$ref"].as_str() {
                Some(r) => document["components"]["responses"]
                    [r.rsplit('/').next().unwrap_or_default()]
                .clone(),
                None => v.clone(),
            }
        };
        for route in table::ALL {
            let method = route.method().as_str().to_ascii_lowercase();
            let op = &document["paths"][route.template][&method];
            assert!(op.is_object(), "{method} {} is documented", route.template);
            let has_body = op["requestBody"].is_object();
            let responses = op["responses"].as_object().unwrap();
            for answer in table::common_answers(route, has_body) {
                let listed = responses.get(&answer.status.to_string());
                assert!(
                    listed.is_some(),
                    "{method} {} lacks its {}",
                    route.template,
                    answer.status
                );
                if answer.retry_after {
                    assert!(
                        resolve(listed.unwrap())["headers"][import_core::api::display_header(
                            import_core::api::RETRY_AFTER_HEADER
                        )]
                        .is_object(),
                        "{method} {}: {} carries Retry-After",
                        route.template,
                        answer.status
                    );
                }
            }
            let (_, ok) = responses
                .iter()
                .find(|(status, _)| status.starts_with('2'))
                .unwrap();
            for header in [
                import_core::api::RATE_LIMIT_LIMIT_HEADER,
                import_core::api::RATE_LIMIT_REMAINING_HEADER,
                import_core::api::RATE_LIMIT_RESET_HEADER,
            ] {
                assert_eq!(
                    ok["headers"][import_core::api::display_header(header)].is_object(),
                    !route.public,
                    "{method} {}: {header}",
                    route.template
                );
            }
            assert_eq!(
                ok["headers"][import_core::api::display_header(import_core::api::REPLAYED_HEADER)]
                    .is_object(),
                route.takes_idempotency_key(),
                "{method} {}: the replay header",
                route.template
            );
        }
    }

    /// The router and the core's route table cannot differ: every route of
    /// the table has its handler, on its own method.
    #[test]
    fn every_route_of_the_table_has_a_handler() {
        for route in table::ALL {
            assert!(
                handler(route).is_some(),
                "{} {} has no handler",
                route.method(),
                route.template
            );
        }
    }
}
