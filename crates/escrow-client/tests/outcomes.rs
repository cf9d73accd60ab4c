//! Fallback, retries, time limits and bounded bodies, against scripted answers.

use alb_test_support::{RecordingServer, Reply, TestPki};
use std::time::{Duration, Instant};

use escrow_client::{
    AttemptResult, CodeSource, EscrowClient, RetryPolicy, StatusClass, TransportFailure,
    UnlockOutcome, Verdict,
};

use crate::common::{DEVICE_CODE, client, device_code, fast_config, request, server_code};

/// The usual fallback: the device code, then the server-created one.
async fn device_then_server(client: &EscrowClient) -> UnlockOutcome {
    let (device, server_side) = (device_code(), server_code());
    client
        .unlock_with_fallback(
            &request(),
            &[
                (CodeSource::Device, &device),
                (CodeSource::Server, &server_side),
            ],
        )
        .await
}

fn statuses(outcome: &UnlockOutcome) -> Vec<(CodeSource, u32, Option<u16>)> {
    outcome
        .attempts
        .iter()
        .map(|a| (a.code, a.try_number, a.result.status()))
        .collect()
}

#[tokio::test]
async fn falls_back_to_the_server_code_after_404() {
    let pki = TestPki::new();
    let server = RecordingServer::start(&pki, [Reply::status(404), Reply::status(200)])
        .await
        .unwrap();
    let client = client(&pki, fast_config(&pki, &server));
    let outcome = device_then_server(&client).await;

    assert_eq!(
        outcome.verdict,
        Verdict::Unlocked {
            code: CodeSource::Server
        }
    );
    assert_eq!(
        statuses(&outcome),
        [
            (CodeSource::Device, 1, Some(404)),
            (CodeSource::Server, 1, Some(200))
        ]
    );
    let bodies: Vec<String> = server
        .requests()
        .iter()
        .map(|r| String::from_utf8(r.body.clone()).unwrap())
        .collect();
    assert!(bodies[0].ends_with(&format!("escrowKey={DEVICE_CODE}")));
    assert!(bodies[1].ends_with(&format!("escrowKey={}", server_code())));
    assert_eq!(
        server.connections(),
        1,
        "the second code reuses the connection"
    );
}

#[tokio::test]
async fn the_observer_sees_each_attempt_as_it_ends() {
    let pki = TestPki::new();
    let script = [Reply::status(404), Reply::status(500), Reply::status(200)];
    let server = RecordingServer::start(&pki, script).await.unwrap();
    let client = client(&pki, fast_config(&pki, &server));
    let (device, server_side) = (device_code(), server_code());
    let mut seen = Vec::new();
    let outcome = client
        .unlock_with_observer(
            &request(),
            &[
                (CodeSource::Device, &device),
                (CodeSource::Server, &server_side),
            ],
            |attempt| seen.push((attempt.code, attempt.try_number, server.requests().len())),
        )
        .await;
    assert!(outcome.is_unlocked());
    // Called once per exchange, right after it (the server has seen exactly that many).
    assert_eq!(
        seen,
        [
            (CodeSource::Device, 1, 1),
            (CodeSource::Server, 1, 2),
            (CodeSource::Server, 2, 3)
        ]
    );
}

#[tokio::test]
async fn every_code_refused_is_not_found() {
    let pki = TestPki::new();
    let server = RecordingServer::start(&pki, [Reply::status(404), Reply::status(404)])
        .await
        .unwrap();
    let client = client(&pki, fast_config(&pki, &server));
    let outcome = device_then_server(&client).await;
    assert_eq!(outcome.verdict, Verdict::NotFound);
    assert_eq!(outcome.attempts.len(), 2);
    assert!(!outcome.is_unlocked());
}

#[tokio::test]
async fn no_codes_sends_nothing() {
    let pki = TestPki::new();
    let server = RecordingServer::start(&pki, []).await.unwrap();
    let client = client(&pki, fast_config(&pki, &server));
    let outcome = client.unlock_with_fallback(&request(), &[]).await;
    assert_eq!(outcome.verdict, Verdict::NoCodes);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let pki = TestPki::new();
    let script = [Reply::status(500), Reply::status(503), Reply::status(200)];
    let server = RecordingServer::start(&pki, script).await.unwrap();
    let client = client(&pki, fast_config(&pki, &server));
    let outcome = client.unlock(&request(), &device_code()).await;
    assert_eq!(
        outcome.verdict,
        Verdict::Unlocked {
            code: CodeSource::Supplied(1)
        }
    );
    let one = CodeSource::Supplied(1);
    assert_eq!(
        statuses(&outcome),
        [
            (one, 1, Some(500)),
            (one, 2, Some(503)),
            (one, 3, Some(200))
        ]
    );
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn server_errors_give_up_after_the_policy_allows() {
    let pki = TestPki::new();
    let script = [
        Reply::status(500),
        Reply::status(500),
        Reply::status(500),
        Reply::status(200),
    ];
    let server = RecordingServer::start(&pki, script).await.unwrap();
    let client = client(&pki, fast_config(&pki, &server));
    let outcome = client.unlock(&request(), &device_code()).await;
    assert_eq!(
        outcome.verdict,
        Verdict::Unavailable {
            code: CodeSource::Supplied(1)
        }
    );
    assert_eq!(outcome.attempts.len(), 3);
    assert_eq!(
        server.requests().len(),
        3,
        "the fourth answer is never asked for"
    );
    assert!(outcome.attempts.iter().all(|a| matches!(
        &a.result,
        AttemptResult::Response {
            class: StatusClass::Retryable,
            ..
        }
    )));
}

/// Each code's verdict, in order.
fn code_verdicts(outcome: &UnlockOutcome) -> Vec<Verdict> {
    outcome.codes.iter().map(|c| c.verdict).collect()
}

#[tokio::test]
async fn bad_request_is_not_retried_and_the_other_code_is_tried() {
    let pki = TestPki::new();
    let server = RecordingServer::start(&pki, [Reply::status(400), Reply::status(200)])
        .await
        .unwrap();
    let client = client(&pki, fast_config(&pki, &server));
    let outcome = device_then_server(&client).await;
    assert_eq!(
        outcome.verdict,
        Verdict::Unlocked {
            code: CodeSource::Server
        }
    );
    assert_eq!(
        code_verdicts(&outcome),
        [
            Verdict::BadRequest {
                code: CodeSource::Device
            },
            Verdict::Unlocked {
                code: CodeSource::Server
            }
        ]
    );
    assert_eq!(
        statuses(&outcome),
        [
            (CodeSource::Device, 1, Some(400)),
            (CodeSource::Server, 1, Some(200))
        ]
    );
}

/// "Try the other code if the first one fails": a code that ends without unlocking for any
/// reason — the service unavailable after every retry, an unexpected status, no answer in
/// time — leads to the other code; each keeps its own verdict.
#[tokio::test]
async fn any_failure_of_the_first_code_moves_on_to_the_other() {
    let pki = TestPki::new();
    let script = [
        Reply::status(503),
        Reply::status(500),
        Reply::status(502),
        Reply::status(200),
    ];
    let server = RecordingServer::start(&pki, script).await.unwrap();
    let client = client(&pki, fast_config(&pki, &server));
    let outcome = device_then_server(&client).await;
    assert_eq!(
        code_verdicts(&outcome),
        [
            Verdict::Unavailable {
                code: CodeSource::Device
            },
            Verdict::Unlocked {
                code: CodeSource::Server
            }
        ]
    );
    assert_eq!(outcome.attempts.len(), 4);

    let server = RecordingServer::start(&pki, [Reply::status(403), Reply::status(404)])
        .await
        .unwrap();
    let client = super::common::client(&pki, fast_config(&pki, &server));
    let outcome = device_then_server(&client).await;
    assert_eq!(
        code_verdicts(&outcome),
        [
            Verdict::UnexpectedStatus {
                code: CodeSource::Device,
                status: 403
            },
            Verdict::Rejected {
                code: CodeSource::Server
            }
        ]
    );
    // Not every code was refused: the overall verdict names the code that could not be checked.
    assert_eq!(
        outcome.verdict,
        Verdict::UnexpectedStatus {
            code: CodeSource::Device,
            status: 403
        }
    );
    assert!(!outcome.is_unlocked());
}

/// A code whose tries time out cannot take the time of the code after it: the overall deadline
/// is shared, so the server code is still tried (and unlocks) within it.
#[tokio::test]
async fn a_hanging_first_code_leaves_time_for_the_other() {
    let pki = TestPki::new();
    let server = RecordingServer::start(&pki, [Reply::Hang, Reply::status(200)])
        .await
        .unwrap();
    let mut config = fast_config(&pki, &server);
    config.attempt_timeout = Duration::from_secs(10);
    config.deadline = Duration::from_millis(1200);
    let client = client(&pki, config);
    let outcome = device_then_server(&client).await;
    assert_eq!(
        outcome.verdict,
        Verdict::Unlocked {
            code: CodeSource::Server
        }
    );
    assert!(matches!(
        outcome.codes[0].verdict,
        Verdict::DeadlineExceeded {
            code: CodeSource::Device
        }
    ));
    assert!(matches!(
        outcome.attempts[0].result,
        AttemptResult::TimedOut { limit } if limit <= Duration::from_millis(600)
    ));
}

/// No `Duration` a caller passes can overflow the clock (a deadline of `1e19` seconds from a
/// command line, or `Duration::MAX` from a library caller): it means "no limit".
#[tokio::test]
async fn huge_time_limits_do_not_overflow() {
    let pki = TestPki::new();
    let server = RecordingServer::start(&pki, [Reply::status(404), Reply::status(200)])
        .await
        .unwrap();
    let mut config = fast_config(&pki, &server);
    config.attempt_timeout = Duration::MAX;
    config.deadline = Duration::MAX;
    config.retry.max_backoff = Duration::MAX;
    let client = client(&pki, config);
    let outcome = device_then_server(&client).await;
    assert!(outcome.is_unlocked());

    let mut config = fast_config(&pki, &server);
    config.deadline = Duration::from_secs_f64(1e19);
    let client = super::common::client(&pki, config);
    server.push_replies([Reply::status(200)]);
    assert!(
        client
            .unlock(&request(), &device_code())
            .await
            .is_unlocked()
    );
}

#[tokio::test]
async fn unexpected_status_is_reported_not_retried() {
    let pki = TestPki::new();
    let server = RecordingServer::start(&pki, [Reply::status(403)])
        .await
        .unwrap();
    let client = client(&pki, fast_config(&pki, &server));
    let outcome = client.unlock(&request(), &device_code()).await;
    assert_eq!(
        outcome.verdict,
        Verdict::UnexpectedStatus {
            code: CodeSource::Supplied(1),
            status: 403
        }
    );
    assert_eq!(outcome.attempts.len(), 1);
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_bound() {
    let pki = TestPki::new();
    let server = RecordingServer::start(&pki, [Reply::Hang, Reply::Hang])
        .await
        .unwrap();
    let mut config = fast_config(&pki, &server);
    config.attempt_timeout = Duration::from_millis(250);
    config.retry.max_tries = 2;
    let client = client(&pki, config);

    let started = Instant::now();
    let outcome = client.unlock(&request(), &device_code()).await;
    let elapsed = started.elapsed();

    assert_eq!(
        outcome.verdict,
        Verdict::Unavailable {
            code: CodeSource::Supplied(1)
        }
    );
    assert_eq!(outcome.attempts.len(), 2);
    for attempt in &outcome.attempts {
        assert_eq!(
            attempt.result,
            AttemptResult::TimedOut {
                limit: Duration::from_millis(250)
            }
        );
        assert!(attempt.duration >= Duration::from_millis(250));
    }
    // Two tries of 250 ms and one wait of at most 40 ms: well under two seconds.
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn the_overall_deadline_bounds_everything() {
    let pki = TestPki::new();
    let server = RecordingServer::start(&pki, [Reply::Hang]).await.unwrap();
    let mut config = fast_config(&pki, &server);
    config.attempt_timeout = Duration::from_secs(10);
    config.deadline = Duration::from_millis(300);
    let client = client(&pki, config);

    let started = Instant::now();
    let outcome = client.unlock(&request(), &device_code()).await;
    let elapsed = started.elapsed();

    assert_eq!(
        outcome.verdict,
        Verdict::DeadlineExceeded {
            code: CodeSource::Supplied(1)
        }
    );
    assert_eq!(outcome.attempts.len(), 1);
    assert!(
        matches!(outcome.attempts[0].result, AttemptResult::TimedOut { limit } if limit <= Duration::from_millis(300))
    );
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

#[tokio::test]
async fn a_reset_connection_is_retried() {
    let pki = TestPki::new();
    let server = RecordingServer::start(&pki, [Reply::Reset, Reply::status(200)])
        .await
        .unwrap();
    let client = client(&pki, fast_config(&pki, &server));
    let outcome = client.unlock(&request(), &device_code()).await;
    assert_eq!(
        outcome.verdict,
        Verdict::Unlocked {
            code: CodeSource::Supplied(1)
        }
    );
    assert_eq!(outcome.attempts.len(), 2);
    assert!(matches!(
        outcome.attempts[0].result,
        AttemptResult::Transport {
            failure: TransportFailure::Connection,
            ..
        }
    ));
    assert_eq!(server.requests().len(), 2);
    assert_eq!(
        server.connections(),
        2,
        "a fresh connection after the reset"
    );
}

#[tokio::test]
async fn bodies_are_bounded_and_echoed_codes_redacted() {
    let pki = TestPki::new();
    let huge = vec![b'x'; 200_000];
    let echo = format!("escrowKey {DEVICE_CODE} not valid");
    let server = RecordingServer::start(
        &pki,
        [Reply::with_body(503, huge), Reply::with_body(404, echo)],
    )
    .await
    .unwrap();
    let mut config = fast_config(&pki, &server);
    config.max_body_bytes = 64;
    config.retry = RetryPolicy {
        max_tries: 2,
        ..config.retry
    };
    let client = client(&pki, config);
    let outcome = client.unlock(&request(), &device_code()).await;
    assert_eq!(outcome.verdict, Verdict::NotFound);
    let bodies: Vec<_> = outcome
        .attempts
        .iter()
        .map(|a| match &a.result {
            AttemptResult::Response { body, .. } => body.clone(),
            other => panic!("expected a response, got {other:?}"),
        })
        .collect();
    assert_eq!(bodies[0].as_bytes().len(), 64);
    assert!(bodies[0].is_truncated());
    assert_eq!(bodies[1].to_text(), "escrowKey [redacted] not valid");
    assert!(!format!("{outcome:?}").contains(DEVICE_CODE));
}

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary, from the first call on, at every level.
///
/// A process-wide subscriber, not a thread's default: `tracing` caches per call site whether
/// anyone listens, and a call site first reached by another test's thread while only a
/// thread-local subscriber existed elsewhere could be cached as unheard (a flaky test). Other
/// tests' lines land here too; they must not hold a secret either.
fn captured_logs() -> &'static Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
        captured
    })
}

#[tokio::test]
async fn logs_name_codes_by_source_only() {
    let captured = captured_logs();

    let pki = TestPki::new();
    let echo = format!("bad {DEVICE_CODE}");
    let server = RecordingServer::start(
        &pki,
        [
            Reply::with_body(404, echo),
            Reply::Reset,
            Reply::status(200),
        ],
    )
    .await
    .unwrap();
    let client = client(&pki, fast_config(&pki, &server));
    let outcome = device_then_server(&client).await;
    assert!(outcome.is_unlocked());

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("device code"), "{logs}");
    assert!(logs.contains("server code"), "{logs}");
    assert!(!logs.contains(DEVICE_CODE), "{logs}");
    assert!(!logs.contains(&server_code().to_string()), "{logs}");
    assert!(!logs.contains(&pki.client.key_pem.lines().nth(1).unwrap().to_owned()));
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    let pki = TestPki::new();
    let server = RecordingServer::start(&pki, []).await.unwrap();
    let mut config = fast_config(&pki, &server);
    // A port nobody listens on any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    config.endpoint = format!("https://127.0.0.1:{port}/deviceservicesworkers/escrowKeyUnlock")
        .parse()
        .unwrap();
    let client = client(&pki, config);
    let outcome = client.unlock(&request(), &device_code()).await;
    assert_eq!(
        outcome.verdict,
        Verdict::Unavailable {
            code: CodeSource::Supplied(1)
        }
    );
    assert_eq!(outcome.attempts.len(), 3);
    for attempt in &outcome.attempts {
        assert!(
            matches!(
                &attempt.result,
                AttemptResult::Transport {
                    failure: TransportFailure::Connection,
                    ..
                }
            ),
            "{attempt:?}"
        );
    }
}

#[tokio::test]
async fn throttling_is_retried() {
    let pki = TestPki::new();
    let script = [Reply::status(429), Reply::status(408), Reply::status(200)];
    let server = RecordingServer::start(&pki, script).await.unwrap();
    let client = client(&pki, fast_config(&pki, &server));
    let outcome = client.unlock(&request(), &device_code()).await;
    assert!(outcome.is_unlocked());
    assert_eq!(outcome.attempts.len(), 3);
}
