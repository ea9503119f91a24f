//! Every request passes here: request id, API key, body limit and idempotency.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use import_core::api::{
    API_KEY_HEADER, IDEMPOTENCY_KEY_HEADER, REPLAYED_HEADER, REQUEST_ID_HEADER,
};
use import_core::routes::takes_idempotency_key;

use crate::crypto::{hash_api_key, sha256_hex_of};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{IdemBegin, IdemKey, Principal, Store};

/// How often a key's last use is recorded, at most (ms).
const LAST_USED_EVERY_MS: i64 = 60_000;

fn api_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(k) = headers.get(API_KEY_HEADER).and_then(|v| v.to_str().ok()) {
        let k = k.trim();
        if !k.is_empty() {
            return Some(k);
        }
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = auth.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Authenticate, buffer the body within the limit, apply idempotency, log.
pub(crate) async fn guard(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    // What the log line quotes of the client's words: the method from a
    // fixed set, the path escaped and cut to a few hundred bytes.
    let method = import_core::routes::method_label(req.method());
    let path =
        import_core::quote::outside(req.uri().path(), import_core::quote::MAX_LOGGED_TEXT_BYTES)
            .into_owned();
    let request_id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        // A request without one gets one, answered and logged alike.
        .unwrap_or_else(|| {
            format!(
                "rq_{}",
                crate::crypto::hex(&crate::crypto::random_bytes::<8>())
            )
        });
    let mut res = match handle(&state, req, next).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    tracing::info!(
        method,
        path,
        status = res.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        request_id = request_id.as_str(),
        "request"
    );
    res
}

/// The key of a request (the hash of the one it sent), if it is known, not
/// revoked and not expired at `now`; a `401` that says which otherwise.
async fn authenticate(
    state: &AppState,
    key_hash: Option<&str>,
    now: i64,
) -> Result<crate::store::ApiKeyRecord, ApiError> {
    let Some(key_hash) = key_hash else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing API key: send it in the X-API-Key header (or Authorization: Bearer)",
        ));
    };
    let Some(grant) = state.store.keys().principal_for_key(key_hash).await? else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid API key: check the key, or create one with `vimport keys create`",
        ));
    };
    if grant.revoked_at.is_some() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "API key `{}` was revoked: ask your operator for a new one (`vimport keys create`)",
                grant.id
            ),
        ));
    }
    if let Some(expired) = grant.expires_at.filter(|&at| at <= now) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "API key `{}` expired at {}: ask your operator for a new one (`vimport keys create`)",
                grant.id,
                crate::clock::rfc3339(expired)
            ),
        ));
    }
    Ok(grant)
}

async fn handle(state: &AppState, req: Request, next: Next) -> Result<Response, ApiError> {
    // A peer over its failed authentications is refused before any key is
    // looked up (made-up keys cost no database read past the limit), but for
    // a key that authenticated lately: a colleague behind the same address
    // is not locked out by someone else's flood.
    let peer = req.extensions().get::<super::Peer>().map(|p| p.0.ip());
    let key_hash = api_key(req.headers()).map(hash_api_key);
    let failures = state.auth_failures.as_ref().zip(peer);
    if let Some((failures, ip)) = failures
        && let Some(wait) = failures.refused(ip)
        && !key_hash.as_deref().is_some_and(|h| failures.known_good(h))
    {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many requests with a missing or wrong API key from your address (--max-failed-auth-per-minute); check the key, then retry in {wait} s"
            ),
        )
        .with_retry_after(wait));
    }
    let now = state.now_ms();
    let grant = match authenticate(state, key_hash.as_deref(), now).await {
        Ok(grant) => {
            if let (Some((failures, _)), Some(hash)) = (failures, &key_hash) {
                failures.good(hash);
            }
            grant
        }
        Err(e) => {
            if e.status() == StatusCode::UNAUTHORIZED
                && let Some((failures, ip)) = failures
            {
                failures.failed(ip);
            }
            return Err(e);
        }
    };
    // The last use, recorded at most once a minute per key and never on the
    // request's path.
    if grant
        .last_used_at
        .is_none_or(|at| now - at >= LAST_USED_EVERY_MS)
    {
        let (store, id) = (state.store.clone(), grant.id.clone());
        tokio::spawn(async move {
            if let Err(e) = store.keys().touch_api_key(&id, now).await {
                tracing::debug!(error = %e, "recording an API key's last use failed");
            }
        });
    }
    let principal = grant.principal;
    // The key's rate limit, before any body is read.
    let rate = state.rate.as_ref().map(|r| r.check(&grant.id));
    if let Some(rate) = rate
        && let Some(wait) = rate.retry_after
    {
        let mut res = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "this API key made more than its {} requests a minute; retry in {wait} s",
                state.config.requests_per_minute
            ),
        )
        .with_retry_after(wait)
        .into_response();
        rate.write(res.headers_mut());
        return Ok(res);
    }
    let mut res = handle_authorized(state, req, next, principal).await?;
    if let Some(rate) = rate {
        rate.write(res.headers_mut());
    }
    Ok(res)
}

/// A request whose key passed: its body within the route's limit, then
/// idempotency.
async fn handle_authorized(
    state: &AppState,
    req: Request,
    next: Next,
    principal: Principal,
) -> Result<Response, ApiError> {
    // Each route's own limit: uploads take the server's bulk limit, every
    // other route 64 KiB (the core's route table says which is which).
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .and_then(|p| import_core::routes::find(req.method(), p.as_str()));
    let limit = match route {
        Some(route) => route.body_limit(state.config.body_limit),
        None => import_core::routes::SMALL_BODY_LIMIT.min(state.config.body_limit),
    };
    let (mut parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let bounds = super::body::BodyBounds {
        limit,
        bulk: route.is_some_and(|r| r.bulk),
        timeout: state.config.body_timeout,
        memory: &state.body_memory,
        wait: state.config.body_memory_wait,
    };
    // The body's memory is held until the answer is made.
    let (bytes, _held) = super::body::read(body, declared, &bounds).await?;
    parts.extensions.insert(principal.clone());
    let idem_key = parts
        .headers
        .get(IDEMPOTENCY_KEY_HEADER)
        .map(|v| v.to_str().map(str::to_owned));
    let mutating = takes_idempotency_key(&parts.method);
    let idem_key = match idem_key {
        Some(Ok(k)) if mutating => {
            import_core::check_idempotency_key(&k)?;
            Some(k)
        }
        Some(Err(_)) if mutating => {
            return Err(ApiError::unprocessable(
                "the Idempotency-Key header must be 1 to 128 printable ASCII characters",
            ));
        }
        _ => None,
    };
    let Some(idem_key) = idem_key else {
        return Ok(next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await);
    };
    // A digest of the request, never a copy of its body.
    let fingerprint = sha256_hex_of(&[
        parts.method.as_str().as_bytes(),
        b" ",
        parts.uri.path().as_bytes(),
        b"\n",
        &bytes,
    ]);
    let key = IdemKey {
        org_id: principal.org_id.clone(),
        user_id: principal.user_id.clone(),
        key: idem_key,
    };
    let now = state.now_ms();
    let me = &state.instance;
    match state
        .store
        .idempotency()
        .idem_begin(&key, &fingerprint, now, &me.id)
        .await?
    {
        IdemBegin::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut res = (status, body).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            res.headers_mut()
                .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
            return Ok(res);
        }
        IdemBegin::Conflict => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "this Idempotency-Key was already used with a different request; use a new key for a new request",
            ));
        }
        IdemBegin::Reserved { instance_id } => {
            let serving = me
                .serving(
                    state.store.as_ref(),
                    instance_id.as_ref(),
                    state.config.instance_timeout,
                )
                .await?;
            if let Some(wait) = serving {
                // Really being served: by this process, or by a live one
                // (which answers, or is seen dead, within `wait`).
                let secs = wait.as_secs().max(1);
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "a request with this Idempotency-Key is still being served; retry in {secs} s to get its answer"
                    ),
                )
                .with_retry_after(secs));
            }
            // Its process died before the answer: no job of it was committed
            // (a job commits with its answer), so this request serves it.
            if !state
                .store
                .idempotency()
                .idem_take_over(&key, instance_id.as_ref(), &me.id, now)
                .await?
            {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "a request with this Idempotency-Key is being served; retry in a moment to get its answer",
                )
                .with_retry_after(1));
            }
        }
        IdemBegin::Fresh => {}
    }
    // The reservation is this request's: forgotten if the request ends
    // without an answer (its future dropped when the client went away).
    let mut reservation = Reservation {
        store: state.store.clone(),
        key: Some(key.clone()),
    };
    parts.extensions.insert(IdemSlot(key.clone()));
    let res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = res.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    reservation.key = None;
    // Bookkeeping after the work is done never fails the request: a job's
    // answer was already recorded with it, and any other answer unrecorded
    // only means a retry is served again.
    let recorded = if parts.status.is_server_error() {
        state.store.idempotency().idem_abort(&key).await
    } else {
        state
            .store
            .idempotency()
            .idem_finish(&key, parts.status.as_u16(), &body)
            .await
    };
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "recording an Idempotency-Key's answer failed");
        if let Err(e) = state.store.idempotency().idem_abort(&key).await {
            tracing::warn!(error = %e, "forgetting an Idempotency-Key's reservation failed");
        }
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// The caller, set by the guard.
pub(crate) type Caller = axum::Extension<Principal>;

/// The idempotency key a request is served under, for handlers that record
/// their answer in their own transaction (job creation).
#[derive(Debug, Clone)]
pub(crate) struct IdemSlot(pub(crate) IdemKey);

/// An idempotency reservation, forgotten if dropped while still armed.
struct Reservation {
    store: Arc<dyn Store>,
    key: Option<IdemKey>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let store = self.store.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = store.idempotency().idem_abort(&key).await {
                    tracing::warn!(error = %e, "forgetting an abandoned Idempotency-Key reservation failed");
                }
            });
        }
    }
}
