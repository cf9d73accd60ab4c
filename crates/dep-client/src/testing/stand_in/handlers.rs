//! The stand-in's answers: routing, the OAuth check of `GET /session`, sessions and their
//! rotation, and first-lock-wins activation locks.

use alloc::collections::VecDeque;
use core::convert::Infallible;
use std::time::SystemTime;

use http_body_util::{BodyExt as _, Full, Limited, combinators::BoxBody};
use hyper::{
    Request, Response, StatusCode,
    body::{Bytes, Incoming},
    header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER},
};
use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use super::{
    ACTIVATION_LOCK_PATH, ErrorStyle, Lock, MAX_RECORDED, MAX_REQUEST_BODY, RecordedRequest,
    Scripted, Shared, State, random_hex,
};
use crate::{
    client::{SESSION_HEADER, SESSION_PATH},
    oauth,
    testing::RepeatBody,
};

type Reply = Response<BoxBody<Bytes, Infallible>>;

pub(super) async fn handle(shared: &Shared, request: Request<Incoming>) -> Reply {
    let (parts, body) = request.into_parts();
    let Ok(body) = Limited::new(body, MAX_REQUEST_BODY).collect().await else {
        return text(413, "REQUEST_TOO_LARGE");
    };
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_bytes().to_vec(),
        received_at: tokio::time::Instant::now(),
    };
    {
        let mut state = shared.lock();
        state.request_count += 1;
        if state.requests.len() < MAX_RECORDED {
            state.requests.push(recorded.clone());
        }
    }
    let agent = recorded
        .header("user-agent")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if agent.is_empty() {
        return error(shared, 400, "USER_AGENT_MISSING");
    }
    let refused = shared
        .lock()
        .rejected_agents
        .iter()
        .any(|prefix| agent.starts_with(prefix.as_str()));
    if refused {
        return error(shared, 400, "USER_AGENT_INVALID");
    }
    let scripted = shared
        .lock()
        .scripts
        .get_mut(&recorded.path)
        .and_then(VecDeque::pop_front);
    if let Some(scripted) = scripted {
        return play(scripted).await;
    }
    let host = recorded.header("host").unwrap_or_default().to_owned();
    match (recorded.method.as_str(), recorded.path.as_str()) {
        ("GET", SESSION_PATH) => session(shared, &recorded, &host),
        (_, SESSION_PATH) => error(shared, 405, "METHOD_NOT_ALLOWED"),
        (method, ACTIVATION_LOCK_PATH) => {
            let (session_reply, rotated) = match check_session(shared, &recorded) {
                Ok(rotated) => (None, rotated),
                Err(reply) => (Some(*reply), None),
            };
            if let Some(reply) = session_reply {
                return reply;
            }
            let mut reply = if method == "POST" {
                activation_lock(shared, &recorded)
            } else {
                error(shared, 405, "METHOD_NOT_ALLOWED")
            };
            if let Some(rotated) = rotated
                && let Ok(value) = HeaderValue::from_str(&rotated)
            {
                reply.headers_mut().insert(SESSION_HEADER, value);
            }
            reply
        }
        _ => error(shared, 404, "NOT_FOUND"),
    }
}

async fn play(scripted: Scripted) -> Reply {
    if scripted.hang {
        core::future::pending::<()>().await;
    }
    if let Some(delay) = scripted.delay {
        tokio::time::sleep(delay).await;
    }
    let body = match scripted.chunked_len {
        Some(len) => RepeatBody::new(len).boxed(),
        None => Full::new(Bytes::from(scripted.body)).boxed(),
    };
    let mut reply = Response::new(body);
    *reply.status_mut() = StatusCode::from_u16(scripted.status).unwrap_or(StatusCode::OK);
    if let Some(value) = scripted
        .retry_after
        .and_then(|v| HeaderValue::from_str(&v).ok())
    {
        reply.headers_mut().insert(RETRY_AFTER, value);
    }
    if let Some(value) = scripted
        .session
        .and_then(|v| HeaderValue::from_str(&v).ok())
    {
        reply.headers_mut().insert(SESSION_HEADER, value);
    }
    reply
}

fn text(status: u16, body: &str) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body.to_owned())).boxed());
    *reply.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    reply
}

fn json(value: &serde_json::Value) -> Reply {
    let mut reply = text(200, &value.to_string());
    reply.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF8"),
    );
    reply
}

/// An error code in the configured style.
fn error(shared: &Shared, status: u16, code: &str) -> Reply {
    let style = shared.lock().error_style;
    let body = match style {
        ErrorStyle::Bare => code.to_owned(),
        ErrorStyle::JsonString => format!("\"{code}\""),
        ErrorStyle::JsonObject => {
            serde_json::json!({"code": code, "message": "stand-in error"}).to_string()
        }
    };
    text(status, &body)
}

/// `GET /session`: verify OAuth, then issue a session.
fn session(shared: &Shared, request: &RecordedRequest, host: &str) -> Reply {
    if let Err(reason) = verify_oauth(shared, request, host) {
        shared.lock().oauth_rejections.push(reason.clone());
        return text(401, &format!("oauth: {reason}"));
    }
    let (reject, terms, denied) = {
        let state = shared.lock();
        (
            state.reject_tokens,
            state.terms_not_signed,
            state.access_denied,
        )
    };
    if reject {
        return text(401, "UNAUTHORIZED");
    }
    if terms {
        return error(shared, 403, "T_C_NOT_SIGNED");
    }
    if denied {
        return error(shared, 403, "ACCESS_DENIED");
    }
    let mut state = shared.lock();
    state.authentications += 1;
    let token = new_session(&mut state, &shared.session_prefix);
    drop(state);
    json(&serde_json::json!({ "auth_session_token": token }))
}

fn new_session(state: &mut State, prefix: &str) -> String {
    state.next_session += 1;
    let token = format!("{prefix}-{:06}-{}", state.next_session, random_hex(8));
    state.sessions.insert(token.clone(), 0);
    token
}

fn verify_oauth(shared: &Shared, request: &RecordedRequest, host: &str) -> Result<(), String> {
    let header = request
        .header("authorization")
        .ok_or("no Authorization header")?;
    let params = oauth::parse_authorization(header).map_err(|error| error.to_string())?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    if get("realm") != Some(oauth::REALM) {
        return Err(format!("realm {:?}", get("realm")));
    }
    if get("oauth_signature_method") != Some(oauth::SIGNATURE_METHOD) {
        return Err("signature method is not HMAC-SHA1".to_owned());
    }
    if get("oauth_version").is_some_and(|v| v != "1.0") {
        return Err("version is not 1.0".to_owned());
    }
    let token = &shared.token;
    let key_ok = get("oauth_consumer_key").is_some_and(|k| k == token.consumer_key());
    let token_ok = get("oauth_token")
        .is_some_and(|t| bool::from(t.as_bytes().ct_eq(token.access_token().expose().as_bytes())));
    if !(key_ok && token_ok) {
        return Err("unknown consumer key or token".to_owned());
    }
    let timestamp: i64 = get("oauth_timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or("no timestamp")?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let window = i64::try_from(shared.lock().window.as_secs()).unwrap_or(i64::MAX);
    if now.abs_diff(timestamp) > window.unsigned_abs() {
        return Err("timestamp outside the window".to_owned());
    }
    let nonce = get("oauth_nonce")
        .filter(|n| !n.is_empty())
        .ok_or("empty nonce")?;
    let nonce_key = format!("{timestamp}:{nonce}");
    if shared.lock().nonces.contains(&nonce_key) {
        return Err("nonce reused".to_owned());
    }
    let uri: hyper::Uri = format!("https://{host}{}", request.path)
        .parse()
        .map_err(|_| "bad Host header")?;
    let signed: Vec<(&str, &str)> = params
        .iter()
        .filter(|(name, _)| name != "realm" && name != "oauth_signature")
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let base = oauth::signature_base_string(&request.method, &uri, &signed);
    let expected = oauth::hmac_sha1_signature(
        &base,
        token.consumer_secret().expose(),
        token.access_secret().expose(),
    );
    let given = get("oauth_signature").unwrap_or_default();
    if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        return Err("bad signature".to_owned());
    }
    shared.lock().nonces.insert(nonce_key);
    Ok(())
}

/// Checks the session of a call; `Ok(Some(new))` when it rotated.
fn check_session(shared: &Shared, request: &RecordedRequest) -> Result<Option<String>, Box<Reply>> {
    let mut state = shared.lock();
    if state.terms_not_signed {
        drop(state);
        return Err(Box::new(error(shared, 403, "T_C_NOT_SIGNED")));
    }
    let token = request
        .header(SESSION_HEADER)
        .unwrap_or_default()
        .to_owned();
    let rotate_every = state.rotate_every;
    let known = !state.reject_tokens && state.sessions.contains_key(&token);
    if token.is_empty() || !known {
        drop(state);
        return Err(Box::new(text(401, "UNAUTHORIZED")));
    }
    let count = state.sessions.get_mut(&token).map_or(0, |count| {
        *count += 1;
        *count
    });
    if let Some(every) = rotate_every
        && count.is_multiple_of(every)
    {
        state.sessions.remove(&token);
        return Ok(Some(new_session(&mut state, &shared.session_prefix)));
    }
    Ok(None)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LockBody {
    device: String,
    escrow_key: Option<String>,
    lost_message: Option<String>,
}

/// `POST /device/activationlock`: first lock wins; a per-serial status overrides.
fn activation_lock(shared: &Shared, request: &RecordedRequest) -> Reply {
    let json_type = request
        .header("content-type")
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/json"));
    let Ok(body) = serde_json::from_slice::<LockBody>(&request.body) else {
        return error(shared, 400, "MALFORMED_REQUEST_BODY");
    };
    let hex_key = body
        .escrow_key
        .as_deref()
        .is_none_or(|k| k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit()));
    if !json_type || body.device.is_empty() || !hex_key || body.lost_message.as_deref() == Some("")
    {
        return error(shared, 400, "MALFORMED_REQUEST_BODY");
    }
    let mut state = shared.lock();
    if let Some(key) = &body.escrow_key {
        state
            .escrow_keys
            .entry(body.device.clone())
            .or_default()
            .push(key.clone());
    }
    let status = match state.statuses.get(&body.device) {
        Some(status) => status.clone(),
        None => {
            let wanted = body
                .escrow_key
                .clone()
                .map_or(Lock::WithoutEscrowKey, Lock::EscrowKey);
            match state.locks.get(&body.device) {
                Some(existing) if *existing == wanted => "SUCCESS".to_owned(),
                Some(_) => "DEVICE_ALREADY_LOCKED".to_owned(),
                None => {
                    state.locks.insert(body.device.clone(), wanted);
                    "SUCCESS".to_owned()
                }
            }
        }
    };
    drop(state);
    json(&serde_json::json!({ "serial_number": body.device, "response_status": status }))
}
