//! What the service's tests share: a running service on loopback, and a small HTTP client.

use std::sync::Arc;

use alb_serve::{Access, ApiKeys, Metrics, Service, ServiceConfig};
use code_store::CodeStore;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use tokio::sync::oneshot;

pub const WRITER: &str = "writer-key-0123456789";
pub const READER: &str = "reader-key-0123456789";
pub const REVEALER: &str = "reveal-key-0123456789";

pub fn keys() -> ApiKeys {
    ApiKeys::new([
        (WRITER.to_owned(), Access::ReadWrite),
        (READER.to_owned(), Access::ReadOnly),
        (REVEALER.to_owned(), Access::Reveal),
    ])
}

/// A service running on `127.0.0.1`, stopped (gracefully) by [`Running::stop`].
pub struct Running {
    pub url: String,
    pub metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    pub async fn start<S: CodeStore + 'static>(store: Arc<S>, config: ServiceConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let service: Service<S> = Service::new(store, config);
        let metrics = service.metrics();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(service.run(listener, None, async {
            let _ = stopped.await;
        }));
        Self {
            url,
            metrics,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the service and waits until it has committed everything and returned.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

/// One request on a fresh connection: the status and the body as JSON (`Null` when the body is
/// not JSON).
pub async fn call(
    method: &str,
    url: &str,
    authorization: Option<String>,
    body: impl Into<Vec<u8>>,
) -> (u16, serde_json::Value) {
    let (status, bytes) = call_raw(method, url, authorization, body).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

pub async fn call_raw(
    method: &str,
    url: &str,
    authorization: Option<String>,
    body: impl Into<Vec<u8>>,
) -> (u16, Vec<u8>) {
    let uri: hyper::Uri = url.parse().unwrap();
    let authority = uri.authority().unwrap().as_str().to_owned();
    let stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header("host", authority)
        .header("content-type", "application/json; charset=utf-8");
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let request = request.body(Full::new(Bytes::from(body.into()))).unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, bytes.to_vec())
}

pub fn bearer(key: &str) -> Option<String> {
    Some(format!("Bearer {key}"))
}

/// A webhook body in NanoMDM's shape for a check-in.
pub fn checkin_event(topic: &str, udid: &str, payload: &[u8], tally: Option<u64>) -> Vec<u8> {
    use base64::Engine as _;
    let mut checkin = serde_json::json!({
        "udid": udid,
        "url_params": null,
        "raw_payload": base64::engine::general_purpose::STANDARD.encode(payload),
    });
    if let Some(tally) = tally {
        checkin["token_update_tally"] = tally.into();
    }
    serde_json::to_vec(&serde_json::json!({
        "topic": topic,
        "event_id": "",
        "created_at": "2026-12-02T04:40:00.123456789Z",
        "checkin_event": checkin,
    }))
    .unwrap()
}

/// A webhook body in NanoMDM's shape for a command result.
pub fn connect_event(udid: &str, status: &str, uuid: &str, payload: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    serde_json::to_vec(&serde_json::json!({
        "topic": "mdm.Connect",
        "event_id": "",
        "created_at": "2026-12-02T04:41:00.5Z",
        "acknowledge_event": {
            "udid": udid,
            "status": status,
            "command_uuid": uuid,
            "url_params": null,
            "raw_payload": base64::engine::general_purpose::STANDARD.encode(payload),
        },
    }))
    .unwrap()
}

pub fn bypass_code_response(udid: &str, uuid: &str, code: Option<&str>) -> Vec<u8> {
    let code = code.map_or(String::new(), |c| {
        format!("<key>ActivationLockBypassCode</key><string>{c}</string>")
    });
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><plist version=\"1.0\"><dict>\
         <key>UDID</key><string>{udid}</string><key>CommandUUID</key><string>{uuid}</string>\
         <key>Status</key><string>Acknowledged</string>{code}</dict></plist>"
    )
    .into_bytes()
}

pub fn authenticate(udid: &str, serial: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><plist version=\"1.0\"><dict>\
         <key>MessageType</key><string>Authenticate</string><key>UDID</key><string>{udid}</string>\
         <key>SerialNumber</key><string>{serial}</string><key>Topic</key><string>com.apple.mgmt.x</string>\
         </dict></plist>"
    )
    .into_bytes()
}

/// A webhook relay that delivers every event to each of several services at once (two NanoMDM
/// instances, or a retrying proxy, do that): answers 200 only when every service did.
pub async fn fan_out(targets: Vec<String>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    let targets = Arc::new(targets);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let targets = targets.clone();
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| {
                    let targets = targets.clone();
                    async move {
                        let auth = request
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let body = request
                            .into_body()
                            .collect()
                            .await
                            .unwrap()
                            .to_bytes()
                            .to_vec();
                        let calls = targets.iter().cloned().map(|t| {
                            let (auth, body) = (auth.clone(), body.clone());
                            async move { call_raw("POST", &t, auth, body).await }
                        });
                        let statuses: Vec<u16> = futures_join_all(calls).await;
                        let status = if statuses.iter().all(|s| *s == 200) {
                            200
                        } else {
                            502
                        };
                        let mut response = hyper::Response::new(Full::new(Bytes::new()));
                        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                        Ok::<_, core::convert::Infallible>(response)
                    }
                },
            );
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    url
}

async fn futures_join_all(
    calls: impl Iterator<Item = impl Future<Output = (u16, Vec<u8>)> + Send + 'static>,
) -> Vec<u16> {
    let tasks: Vec<_> = calls.map(tokio::spawn).collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap().0);
    }
    statuses
}

/// Waits until `check` holds (the asker runs in the background).
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(core::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}
