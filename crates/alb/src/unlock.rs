//! Removing Activation Lock: the operator's workflow around [`escrow_client`].
//!
//! The order is the rule this module owns: the device's own code first, then the code the
//! server created, moving on only when Apple answers `404`; every attempt reported. Everything
//! about the request itself (its shape, how a status maps to an outcome) lives in
//! `escrow-client`.

use core::time::Duration;
use std::{
    io::{self, Write},
    path::{Path, PathBuf},
};

use bypass_code::BypassCode;
use code_store::{
    AttemptOutcome, Change, CodeKind, CodeStore, DeviceRecord, StoreError, Timestamp, Udid,
};
use escrow_client::{
    AttemptReport, AttemptResult, CodeSource, ConfigError, EscrowClient, EscrowConfig, Field,
    Identity, IdentityError, RequestError, RetryPolicy, StatusClass, TrustRoots, UnlockOutcome,
    UnlockRequest, Verdict, check_typed_imei,
};
use printable::Escaped;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::write_json_line;

/// Why `alb unlock` could not try to unlock at all (a refused unlock is an [`UnlockOutcome`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnlockError {
    /// The client identity could not be loaded.
    #[error("identity {path}: {source}")]
    Identity {
        /// The file given.
        path: PathBuf,
        /// Why.
        source: IdentityError,
    },
    /// A PKCS#12 identity needs a password, read from an environment variable.
    #[error(
        "identity {path} is PKCS#12: name the environment variable holding its password with --identity-password-env"
    )]
    PasswordNeeded {
        /// The file given.
        path: PathBuf,
    },
    /// The environment variable named for the password is not set (or not UTF-8).
    #[error("environment variable {var} (the PKCS#12 password) is not set or not UTF-8")]
    PasswordVariable {
        /// Its name.
        var: String,
    },
    /// The client configuration is not usable (endpoint, CA file, settings).
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The device or requester fields are not valid.
    #[error("invalid request: {0}")]
    Request(#[from] RequestError),
    /// A code given on the command line is not valid (the code is not repeated).
    #[error("code #{index}: {source}")]
    Code {
        /// Its position among the codes given, from 1.
        index: usize,
        /// What is wrong.
        source: bypass_code::CodeError,
    },
    /// Neither the options nor a store give the device's serial and product type.
    #[error("no device to unlock: give --serial and --product-type")]
    NoDevice,
    /// The store has no record of the device named, and the options do not describe it.
    #[error("the store has no record of {device}: give --serial, --product-type and --code")]
    UnknownDevice {
        /// The UDID or serial number given.
        device: String,
    },
    /// More codes came on standard input than are ever tried.
    #[error("--code-stdin: more than {limit} codes")]
    TooManyCodes {
        /// The most codes read.
        limit: usize,
    },
    /// Neither the options nor a store give a code to try.
    #[error("no code to try: give --code (device code first)")]
    NoCodes,
    /// A time limit given is not a positive number of seconds.
    #[error("{option}: expected a positive number of seconds")]
    Duration {
        /// The option.
        option: &'static str,
    },
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Several records match the UDID or serial number given.
    #[error("{count} devices match {device}; give the UDID")]
    AmbiguousDevice {
        /// What was given.
        device: String,
        /// How many records match.
        count: usize,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(io::Error),
}

/// Loads the MDM server's APNs identity from a file: PEM (certificate and key), or PKCS#12
/// whose password is read from the environment variable `password_env` (never from the
/// command line, where other users could see it).
///
/// # Errors
/// The file cannot be read or parsed, the password variable is missing, or the key does not
/// match the certificate.
pub fn load_identity(path: &Path, password_env: Option<&str>) -> Result<Identity, UnlockError> {
    let password = match password_env {
        Some(var) => Some(Zeroizing::new(std::env::var(var).map_err(|_| {
            UnlockError::PasswordVariable {
                var: var.to_owned(),
            }
        })?)),
        None => None,
    };
    Identity::from_file(path, password.as_deref().map(String::as_str)).map_err(
        |source| match source {
            IdentityError::PasswordRequired => UnlockError::PasswordNeeded {
                path: path.to_owned(),
            },
            source => UnlockError::Identity {
                path: path.to_owned(),
                source,
            },
        },
    )
}

/// Parses codes given by the operator, in order, labelled `code #1`, `code #2`...
///
/// # Errors
/// The first code that is not a canonical bypass code (by position, never by value).
pub fn parse_codes(
    codes: &[impl AsRef<str>],
) -> Result<Vec<(CodeSource, BypassCode)>, UnlockError> {
    codes
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let code = text
                .as_ref()
                .trim()
                .parse::<BypassCode>()
                .map_err(|source| UnlockError::Code {
                    index: i + 1,
                    source,
                })?;
            let label = u32::try_from(i + 1).unwrap_or(u32::MAX);
            Ok((CodeSource::Supplied(label), code))
        })
        .collect()
}

/// How to reach the service: the command line's view of [`EscrowConfig`].
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// The endpoint (default: Apple's).
    pub endpoint: Option<String>,
    /// A CA file to trust instead of the public roots (tests, proxies).
    pub ca_file: Option<PathBuf>,
    /// Per-exchange time limit.
    pub attempt_timeout: Duration,
    /// Overall time limit.
    pub deadline: Duration,
    /// Tries per code.
    pub max_tries: u32,
}

impl ClientSettings {
    /// The client configuration; an `http://` endpoint is refused here.
    ///
    /// # Errors
    /// A bad endpoint, an unreadable or empty CA file, or an invalid setting.
    pub fn config(&self) -> Result<EscrowConfig, UnlockError> {
        let mut config = EscrowConfig {
            attempt_timeout: self.attempt_timeout,
            deadline: self.deadline,
            retry: RetryPolicy {
                max_tries: self.max_tries,
                ..RetryPolicy::default()
            },
            ..EscrowConfig::default()
        };
        if let Some(endpoint) = &self.endpoint {
            config.endpoint = endpoint.parse()?;
        }
        if let Some(ca_file) = &self.ca_file {
            config.roots = TrustRoots::from_pem_file(ca_file)?;
        }
        config.validate()?;
        Ok(config)
    }
}

/// Tries the codes in order over one client; see [`EscrowClient::unlock_with_fallback`].
pub async fn unlock_device(
    client: &EscrowClient,
    request: &UnlockRequest,
    codes: &[(CodeSource, BypassCode)],
) -> UnlockOutcome {
    let borrowed: Vec<(CodeSource, &BypassCode)> =
        codes.iter().map(|(source, code)| (*source, code)).collect();
    client.unlock_with_fallback(request, &borrowed).await
}

/// What the options say about the device and the requester; any device field given replaces
/// the stored one.
#[derive(Debug, Clone, Default)]
pub struct DeviceOptions {
    /// `--serial`.
    pub serial: Option<String>,
    /// `--product-type`.
    pub product_type: Option<String>,
    /// `--imei`.
    pub imei: Option<String>,
    /// `--imei2`.
    pub imei2: Option<String>,
    /// `--meid`.
    pub meid: Option<String>,
    /// `--org-name`.
    pub org_name: String,
    /// `--guid`.
    pub guid: String,
}

/// Finds the one record for a UDID or serial number; `None` when there is none.
///
/// # Errors
/// The store fails, or several devices share the serial number.
pub async fn find_record(
    store: &impl CodeStore,
    udid_or_serial: &str,
) -> Result<Option<DeviceRecord>, UnlockError> {
    let mut found = store.find(udid_or_serial).await?;
    match found.len() {
        0 | 1 => Ok(found.pop()),
        count => Err(UnlockError::AmbiguousDevice {
            device: udid_or_serial.to_owned(),
            count,
        }),
    }
}

/// Builds the request and the ordered codes from the options and, when there is one, the
/// device's record: option fields win over stored ones; codes given on the command line are
/// tried in their order, else the stored device code first, then the stored server code.
/// A code given that equals a stored one is labelled as that one (so the history says which).
///
/// # Errors
/// No serial or product type anywhere, invalid fields, or no code anywhere.
pub fn plan(
    record: Option<&DeviceRecord>,
    options: &DeviceOptions,
    given: Vec<(CodeSource, BypassCode)>,
) -> Result<(UnlockRequest, Vec<(CodeSource, BypassCode)>), UnlockError> {
    let stored = record.map(|r| &r.identity);
    let pick = |option: &Option<String>, stored: Option<&Option<String>>| {
        option.clone().or_else(|| stored.cloned().flatten())
    };
    let serial = pick(&options.serial, stored.map(|s| &s.serial_number));
    let product_type = pick(&options.product_type, stored.map(|s| &s.product_type));
    let (Some(serial), Some(product_type)) = (serial, product_type) else {
        return Err(UnlockError::NoDevice);
    };
    let mut builder = UnlockRequest::builder()
        .serial(serial)
        .product_type(product_type)
        .org_name(&options.org_name)
        .guid(&options.guid);
    // An IMEI typed on the command line is checked (a mistyped digit fails its Luhn check);
    // one the device reported is sent as it came (the request removes the spaces).
    for (field, typed) in [(Field::Imei, &options.imei), (Field::Imei2, &options.imei2)] {
        if let Some(typed) = typed {
            check_typed_imei(field, typed)?;
        }
    }
    if let Some(imei) = pick(&options.imei, stored.map(|s| &s.imei)) {
        builder = builder.imei(imei);
    }
    if let Some(imei2) = pick(&options.imei2, stored.map(|s| &s.imei2)) {
        builder = builder.imei2(imei2);
    }
    if let Some(meid) = pick(&options.meid, stored.map(|s| &s.meid)) {
        builder = builder.meid(meid);
    }
    let request = builder.build()?;

    let stored_device = record.and_then(|r| r.device_code.as_ref()).map(|d| &d.code);
    let stored_server = record.and_then(|r| r.server_code.as_ref()).map(|s| &s.code);
    let codes: Vec<(CodeSource, BypassCode)> = if given.is_empty() {
        stored_device
            .map(|code| (CodeSource::Device, code.clone()))
            .into_iter()
            .chain(stored_server.map(|code| (CodeSource::Server, code.clone())))
            .collect()
    } else {
        given
            .into_iter()
            .map(|(source, code)| {
                if stored_device == Some(&code) {
                    (CodeSource::Device, code)
                } else if stored_server == Some(&code) {
                    (CodeSource::Server, code)
                } else {
                    (source, code)
                }
            })
            .collect()
    };
    if codes.is_empty() {
        return Err(UnlockError::NoCodes);
    }
    Ok((request, codes))
}

/// Appends one attempt to the device's history when it used a stored code: unlocked
/// ([`StatusClass::Unlocked`]), rejected ([`StatusClass::NotFound`]) or failed (anything
/// else). Returns whether it was recorded
/// (attempts with codes the store does not hold are not: its history is about its own codes).
///
/// # Errors
/// The store fails.
pub async fn record_attempt(
    store: &impl CodeStore,
    udid: &Udid,
    attempt: &AttemptReport,
) -> Result<bool, UnlockError> {
    let code = match attempt.code {
        CodeSource::Device => CodeKind::Device,
        CodeSource::Server => CodeKind::Server,
        _ => return Ok(false),
    };
    let how = match &attempt.result {
        AttemptResult::Response {
            class: StatusClass::Unlocked,
            ..
        } => AttemptOutcome::Unlocked,
        AttemptResult::Response {
            class: StatusClass::NotFound,
            ..
        } => AttemptOutcome::Rejected,
        _ => AttemptOutcome::Failed,
    };
    store
        .apply(
            udid,
            Change::UnlockAttempt { code, outcome: how },
            Timestamp::now(),
        )
        .await?;
    Ok(true)
}

/// Appends every attempt of an outcome made with a stored code, in order; see
/// [`record_attempt`]. Returns how many were recorded.
///
/// # Errors
/// The store fails.
pub async fn record_attempts(
    store: &impl CodeStore,
    udid: &Udid,
    outcome: &UnlockOutcome,
) -> Result<usize, UnlockError> {
    let mut recorded = 0;
    for attempt in &outcome.attempts {
        if record_attempt(store, udid, attempt).await? {
            recorded += 1;
        }
    }
    Ok(recorded)
}

/// Tries the codes in order and, when the device has a record, writes each attempt to its
/// history **as soon as the attempt ends** (so the trail survives a crash mid-way). The
/// outcome is returned even when recording failed; the first recording error comes with it.
pub async fn unlock_and_record<S: CodeStore>(
    client: &EscrowClient,
    request: &UnlockRequest,
    codes: &[(CodeSource, BypassCode)],
    history: Option<(&S, &Udid)>,
) -> (UnlockOutcome, Result<usize, UnlockError>) {
    let borrowed: Vec<(CodeSource, &BypassCode)> =
        codes.iter().map(|(source, code)| (*source, code)).collect();
    let Some((store, udid)) = history else {
        return (client.unlock_with_fallback(request, &borrowed).await, Ok(0));
    };
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<AttemptReport>();
    let unlocking = async move {
        client
            .unlock_with_observer(request, &borrowed, |attempt| {
                // The receiver lives until the sender is dropped, unless recording failed.
                let _ = sender.send(attempt.clone());
            })
            .await
    };
    let recording = async {
        let mut recorded = 0;
        while let Some(attempt) = receiver.recv().await {
            if record_attempt(store, udid, &attempt).await? {
                recorded += 1;
            }
        }
        Ok(recorded)
    };
    tokio::join!(unlocking, recording)
}

/// A short, stable name for a code's source in JSON: `device`, `server`, `supplied-N`.
#[must_use]
pub fn source_name(source: CodeSource) -> String {
    match source {
        CodeSource::Device => "device".to_owned(),
        CodeSource::Server => "server".to_owned(),
        CodeSource::Supplied(n) => format!("supplied-{n}"),
        other => other.to_string(),
    }
}

/// What `alb unlock` prints about an outcome: one line per attempt, each code's verdict and
/// the overall verdict, or one JSON object. Codes are named by source, never printed.
#[derive(Debug, Serialize)]
pub struct UnlockReport {
    unlocked: bool,
    /// The code that worked, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    verdict: String,
    /// Each code tried, in order, with its own verdict.
    codes: Vec<CodeLine>,
    attempts: Vec<AttemptLine>,
}

#[derive(Debug, Serialize)]
struct CodeLine {
    code: String,
    verdict: String,
}

#[derive(Debug, Serialize)]
struct AttemptLine {
    code: String,
    #[serde(rename = "try")]
    try_number: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    result: String,
    duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "core::ops::Not::not")]
    body_truncated: bool,
    #[serde(skip)]
    label: String,
}

impl UnlockReport {
    /// The report of an outcome.
    #[must_use]
    pub fn new(outcome: &UnlockOutcome) -> Self {
        let code = match outcome.verdict {
            Verdict::Unlocked { code } => Some(source_name(code)),
            _ => None,
        };
        let attempts = outcome
            .attempts
            .iter()
            .map(|attempt| {
                let (body, body_truncated) = match &attempt.result {
                    AttemptResult::Response { body, .. } if !body.is_empty() => {
                        (Some(body.to_text()), body.is_truncated())
                    }
                    _ => (None, false),
                };
                AttemptLine {
                    code: source_name(attempt.code),
                    try_number: attempt.try_number,
                    status: attempt.result.status(),
                    result: attempt.result.to_string(),
                    duration_ms: u64::try_from(attempt.duration.as_millis()).unwrap_or(u64::MAX),
                    body,
                    body_truncated,
                    label: attempt.code.to_string(),
                }
            })
            .collect();
        let codes = outcome
            .codes
            .iter()
            .map(|c| CodeLine {
                code: source_name(c.code),
                verdict: c.verdict.to_string(),
            })
            .collect();
        Self {
            unlocked: outcome.is_unlocked(),
            code,
            verdict: outcome.verdict.to_string(),
            codes,
            attempts,
        }
    }

    /// Whether Activation Lock was removed.
    #[must_use]
    pub const fn unlocked(&self) -> bool {
        self.unlocked
    }

    /// The verdict, as one line of text.
    #[must_use]
    pub fn verdict(&self) -> &str {
        &self.verdict
    }

    /// Writes the report: one JSON object on one line, or one line per attempt and the verdict.
    ///
    /// # Errors
    /// When writing fails.
    pub fn write(&self, out: &mut impl Write, json: bool) -> io::Result<()> {
        if json {
            return write_json_line(out, self);
        }
        // Results and bodies quote the server: escaped for the terminal.
        for attempt in &self.attempts {
            write!(
                out,
                "{} (try {}): {} in {} ms",
                attempt.label,
                attempt.try_number,
                Escaped(&attempt.result),
                attempt.duration_ms
            )?;
            match &attempt.body {
                Some(body) => writeln!(out, ": {}", Escaped(body))?,
                None => writeln!(out)?,
            }
        }
        if self.codes.len() > 1 {
            for code in &self.codes {
                writeln!(out, "{}: {}", code.code, Escaped(&code.verdict))?;
            }
        }
        writeln!(out, "{}", Escaped(&self.verdict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_parsed_in_order_and_errors_do_not_repeat_them() {
        let codes = parse_codes(&[
            "A8QK7-GFG21-6RHT-V0U9-756P-L7E3",
            " A8QK7-GFG21-6RHT-V0U9-756P-L7E3 ",
        ])
        .unwrap();
        assert_eq!(codes[0].0, CodeSource::Supplied(1));
        assert_eq!(codes[1].0, CodeSource::Supplied(2));
        let error = parse_codes(&[
            "A8QK7-GFG21-6RHT-V0U9-756P-L7E3",
            "A8QK7-GFB21-6RHT-V0U9-756P-L7E3",
        ])
        .unwrap_err();
        assert!(matches!(error, UnlockError::Code { index: 2, .. }));
        assert!(!error.to_string().contains("A8QK7"));
    }

    #[test]
    fn http_endpoints_are_refused_by_the_settings() {
        let settings = ClientSettings {
            endpoint: Some("http://127.0.0.1:9/escrowKeyUnlock".to_owned()),
            ca_file: None,
            attempt_timeout: Duration::from_secs(1),
            deadline: Duration::from_secs(1),
            max_tries: 1,
        };
        assert!(matches!(
            settings.config(),
            Err(UnlockError::Config(ConfigError::InsecureEndpoint { .. }))
        ));
    }

    fn options() -> DeviceOptions {
        DeviceOptions {
            org_name: "Example".to_owned(),
            guid: "ops@example.com".to_owned(),
            ..DeviceOptions::default()
        }
    }

    fn stored_record() -> DeviceRecord {
        let mut record = DeviceRecord::new(
            Udid::new("00008030-001A2B3C4D5E6F70").unwrap(),
            Timestamp::now(),
        );
        record.identity.serial_number = Some("DMPXK0ABCD12".to_owned());
        record.identity.product_type = Some("iPad4,1".to_owned());
        record.identity.imei = Some("490154203237518".to_owned());
        record
    }

    #[test]
    fn plan_takes_the_device_code_first_then_the_server_code() {
        let mut record = stored_record();
        let device: BypassCode = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3".parse().unwrap();
        let server = BypassCode::from([7; 16]);
        record.apply(
            Change::ServerCode {
                code: server.clone(),
                escrow_key: server.escrow_key(),
            },
            Timestamp::now(),
        );
        record.apply(Change::DeviceCode(Some(device.clone())), Timestamp::now());
        let (request, codes) = plan(Some(&record), &options(), Vec::new()).unwrap();
        assert_eq!(request.serial(), "DMPXK0ABCD12");
        assert_eq!(request.imei(), Some("490154203237518"));
        assert_eq!(
            codes,
            vec![
                (CodeSource::Device, device.clone()),
                (CodeSource::Server, server.clone())
            ]
        );

        // Codes given are tried in their order, labelled when the store knows them.
        let other = BypassCode::from([9; 16]);
        let given = vec![
            (CodeSource::Supplied(1), server.clone()),
            (CodeSource::Supplied(2), other.clone()),
        ];
        let (_, codes) = plan(Some(&record), &options(), given).unwrap();
        assert_eq!(
            codes,
            vec![
                (CodeSource::Server, server),
                (CodeSource::Supplied(2), other)
            ]
        );

        // Options win over stored fields.
        let overriding = DeviceOptions {
            product_type: Some("iPad5,1".to_owned()),
            ..options()
        };
        let (request, _) = plan(Some(&record), &overriding, Vec::new()).unwrap();
        assert_eq!(request.product_type(), "iPad5,1");
    }

    #[test]
    fn plan_without_record_needs_options() {
        assert!(matches!(
            plan(None, &options(), Vec::new()),
            Err(UnlockError::NoDevice)
        ));
        let device = DeviceOptions {
            serial: Some("DMPXK0ABCD12".to_owned()),
            product_type: Some("iPad4,1".to_owned()),
            ..options()
        };
        assert!(matches!(
            plan(None, &device, Vec::new()),
            Err(UnlockError::NoCodes)
        ));
        assert!(matches!(
            plan(Some(&stored_record()), &options(), Vec::new()),
            Err(UnlockError::NoCodes)
        ));
    }

    #[tokio::test]
    async fn attempts_with_stored_codes_go_to_the_history() {
        use escrow_client::{AttemptReport, BodyExcerpt};
        let store = code_store::MemoryStore::new(code_store::Protection::Cleartext);
        let record = stored_record();
        store
            .apply(
                &record.udid,
                Change::Identity(record.identity.clone()),
                Timestamp::now(),
            )
            .await
            .unwrap();
        let attempt = |code, status| AttemptReport {
            code,
            try_number: 1,
            result: AttemptResult::from_response(status, BodyExcerpt::new(0)),
            duration: Duration::from_millis(5),
        };
        let outcome = UnlockOutcome {
            verdict: Verdict::Unlocked {
                code: CodeSource::Server,
            },
            codes: Vec::new(),
            attempts: vec![
                attempt(CodeSource::Device, 404),
                attempt(CodeSource::Supplied(3), 404),
                attempt(CodeSource::Server, 500),
                attempt(CodeSource::Server, 200),
            ],
        };
        assert_eq!(
            record_attempts(&store, &record.udid, &outcome)
                .await
                .unwrap(),
            3
        );
        let stored = find_record(&store, "DMPXK0ABCD12").await.unwrap().unwrap();
        let last = stored.last_unlock.unwrap();
        assert_eq!(
            (last.code, last.outcome),
            (CodeKind::Server, AttemptOutcome::Unlocked)
        );
        let attempts: Vec<_> = store
            .history(&record.udid)
            .await
            .unwrap()
            .into_iter()
            .filter(|entry| format!("{entry:?}").contains("UnlockAttempted"))
            .collect();
        assert_eq!(attempts.len(), 3);
    }

    #[test]
    fn source_names_are_stable() {
        assert_eq!(source_name(CodeSource::Device), "device");
        assert_eq!(source_name(CodeSource::Server), "server");
        assert_eq!(source_name(CodeSource::Supplied(3)), "supplied-3");
    }
}
