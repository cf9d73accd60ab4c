//! [`EscrowService`]: a stand-in for Apple's escrow-key unlock service, on loopback HTTPS with
//! client certificates required, deciding from a [`Fleet`] of simulated devices.

use std::{io, path::Path, path::PathBuf};

use alb_test_support::{RecordedRequest, RecordingServer, Reply, TestPki, UNLOCK_PATH};
use bypass_code::BypassCode;
use percent_encoding::percent_decode_str;

use crate::Fleet;

pub use alb_test_support::Reply as Fault;

/// The stand-in for `POST /deviceservicesworkers/escrowKeyUnlock` (SPEC.md §5).
///
/// It is [`alb_test_support::RecordingServer`] (real TLS, a client certificate signed by
/// its [`TestPki`]'s client CA required, every request recorded) with a responder that acts as
/// Apple does:
///
/// * `200` when the query's `serial` names a device of the fleet and the form's `escrowKey` is
///   that device's active code, or the code whose escrow key the server registered
///   ([`Fleet::register_escrow_key`]) — the device is then unlocked;
/// * `404` for any other code or serial number;
/// * `400` for a request that is not a well-formed unlock request (wrong path or method, no
///   serial number or product type, no `escrowKey`).
///
/// Faults queued with [`inject`](Self::inject) answer the next requests first, in order:
/// `Fault::status(500)`, [`Fault::Hang`], [`Fault::Reset`], [`Fault::delayed`]. Stops when
/// dropped.
#[derive(Debug)]
pub struct EscrowService {
    pki: TestPki,
    server: RecordingServer,
    fleet: Fleet,
}

impl EscrowService {
    /// Starts on `127.0.0.1` (a free port) with a fresh PKI, answering for `fleet`.
    ///
    /// # Errors
    /// The listener cannot be bound.
    pub async fn start(fleet: Fleet) -> io::Result<Self> {
        let pki = TestPki::new();
        let server = RecordingServer::start(&pki, []).await?;
        let answering = fleet.clone();
        server.set_responder(move |request| answer(&answering, request));
        Ok(Self { pki, server, fleet })
    }

    /// The endpoint URL (`https://127.0.0.1:PORT/deviceservicesworkers/escrowKeyUnlock`).
    #[must_use]
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The devices it answers for.
    #[must_use]
    pub const fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// The PKI: the server's CA (what a client must trust) and a client certificate the
    /// service accepts (the stand-in for the MDM server's APNs identity).
    #[must_use]
    pub const fn pki(&self) -> &TestPki {
        &self.pki
    }

    /// Queues faults answering the next requests, in front of the service's own answers.
    pub fn inject(&self, faults: impl IntoIterator<Item = Reply>) {
        self.server.push_replies(faults);
    }

    /// Every request read so far, in order.
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// How many requests were read so far.
    #[must_use]
    pub fn request_count(&self) -> usize {
        self.server.request_count()
    }

    /// TLS handshakes refused (no or an untrusted client certificate).
    #[must_use]
    pub fn handshake_failures(&self) -> usize {
        self.server.handshake_failures()
    }

    /// Writes the client identity (certificate and key, PEM, mode 0600) and the server's CA
    /// (PEM) into `dir`, as an administrator would hold them: what `alb unlock --identity` and
    /// `--ca-file` read. Returns `(identity, ca)`.
    ///
    /// # Errors
    /// The files cannot be written.
    pub fn write_client_files(&self, dir: &Path) -> io::Result<(PathBuf, PathBuf)> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let identity = dir.join("apns-identity.pem");
        let ca = dir.join("escrow-ca.pem");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&identity)?;
        io::Write::write_all(&mut file, self.pki.client.identity_pem().as_bytes())?;
        std::fs::write(&ca, &self.pki.server_ca.cert_pem)?;
        Ok((identity, ca))
    }
}

/// Apple's answer to one request.
fn answer(fleet: &Fleet, request: &RecordedRequest) -> Reply {
    if request.method != "POST" || request.path != UNLOCK_PATH {
        return Reply::with_body(400, "not an escrow-key unlock request");
    }
    let query = request.query.as_deref().unwrap_or_default();
    let (Some(serial), Some(_product_type)) = (field(query, "serial"), field(query, "productType"))
    else {
        return Reply::with_body(400, "serial and productType are required");
    };
    let body = String::from_utf8_lossy(&request.body);
    let Some(code) = field(&body, "escrowKey") else {
        return Reply::with_body(400, "escrowKey is required");
    };
    // Apple matches the code as given; a code that does not parse matches no device.
    match code.parse::<BypassCode>() {
        Ok(code) if fleet.try_unlock(&serial, &code) => Reply::with_body(200, "{}"),
        _ => Reply::with_body(404, "device not found or escrow key not valid"),
    }
}

/// The percent-decoded value of `name` in a form or query string.
fn field(pairs: &str, name: &str) -> Option<String> {
    pairs
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .and_then(|(_, value)| {
            percent_decode_str(&value.replace('+', " "))
                .decode_utf8()
                .ok()
                .map(|value| value.into_owned())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_percent_decoded() {
        let form = "orgName=Example%20%26%20Sons&guid=a+b&escrowKey=A8QK7-GFG21";
        assert_eq!(field(form, "orgName").as_deref(), Some("Example & Sons"));
        assert_eq!(field(form, "guid").as_deref(), Some("a b"));
        assert_eq!(field(form, "escrowKey").as_deref(), Some("A8QK7-GFG21"));
        assert_eq!(field(form, "serial"), None);
    }
}
