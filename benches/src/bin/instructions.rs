//! The fixed workloads whose instructions `cargo xtask bench --instructions` counts under
//! callgrind: `instructions PATH` runs one path's workload once inside [`measured`], the only
//! function callgrind counts (`--toggle-collect`), so start-up and input set-up are left out.
//!
//! Every input is fixed (no randomness, one thread), so a path's count is the same run to run.
//! `instructions --list` prints the paths; `instructions --engine` the escrow-key engine this
//! CPU selects (its counts differ from another engine's, so baselines are kept per engine).

use core::hint::black_box;
use std::process::ExitCode;

use bypass_code::{BypassCode, EscrowKey, kdf};
use escrow_client::UnlockRequest;
use mdm_protocol::{CommandResponse, Identity, Limits, RequestType, ResponsePayload, Status};

/// A path: its name, and how many times one run does its unit of work.
const PATHS: [(&str, usize); 7] = [
    ("escrow_key/one", 1),
    ("escrow_key/batch-one-core", 1),
    ("codec/encode", 10_000),
    ("codec/decode", 10_000),
    ("plist/parse-xml", 1_000),
    ("plist/parse-binary", 1_000),
    ("request/build", 10_000),
];

/// The inputs, made before the count starts.
struct Inputs {
    codes: Vec<BypassCode>,
    texts: Vec<String>,
    xml: Vec<u8>,
    binary: Vec<u8>,
}

fn code(i: usize) -> BypassCode {
    let mut bytes = *b"\x52\x2f\x23\xbd\xcf\x10\x4d\x88\x67\x60\xd2\x4e\x53\x5a\x67\x6b";
    let [lo, hi, ..] = i.to_le_bytes();
    bytes[14] ^= hi;
    bytes[15] ^= lo;
    BypassCode::from_bytes(bytes)
}

fn inputs(batch: usize) -> Inputs {
    let codes: Vec<BypassCode> = (0..batch.max(10_000)).map(code).collect();
    let texts = codes.iter().map(ToString::to_string).collect();
    let response = CommandResponse {
        identity: Identity {
            udid: Some("00008101-001A2B3C4D5E6F70".into()),
            ..Identity::default()
        },
        payload: ResponsePayload::ActivationLockBypassCode {
            code: Some(code(7)),
        },
        ..CommandResponse::new(
            Some("3F1C9A52-7B1E-4E0D-8C55-0A9D2B6E4F11".into()),
            Status::Acknowledged,
        )
    };
    Inputs {
        codes,
        texts,
        xml: response.to_xml().unwrap_or_default(),
        binary: response.to_binary().unwrap_or_default(),
    }
}

/// Runs `path`'s workload `times` times; returns a value derived from the results (so nothing
/// is optimised away). The only function callgrind counts.
#[inline(never)]
fn measured(path: &str, times: usize, inputs: &Inputs) -> usize {
    let mut sum = 0_usize;
    match path {
        "escrow_key/one" => {
            for code in inputs.codes.iter().take(times) {
                sum += usize::from(kdf::escrow_key(black_box(code)).as_bytes()[0]);
            }
        }
        "escrow_key/batch-one-core" => {
            let width = kdf::batch_width();
            let mut keys = vec![EscrowKey::from_bytes([0; 32]); width];
            for _ in 0..times {
                if kdf::escrow_keys(black_box(&inputs.codes[..width]), &mut keys).is_ok() {
                    sum += keys
                        .iter()
                        .map(|k| usize::from(k.as_bytes()[0]))
                        .sum::<usize>();
                }
            }
        }
        "codec/encode" => {
            for code in inputs.codes.iter().take(times) {
                sum += black_box(code).to_string().len();
            }
        }
        "codec/decode" => {
            for text in inputs.texts.iter().take(times) {
                sum += usize::from(black_box(text).parse::<BypassCode>().is_ok());
            }
        }
        "plist/parse-xml" | "plist/parse-binary" => {
            let bytes = if path.ends_with("xml") {
                &inputs.xml
            } else {
                &inputs.binary
            };
            for _ in 0..times {
                let parsed = CommandResponse::parse_for(
                    black_box(bytes),
                    RequestType::ActivationLockBypassCode,
                    &Limits::DEFAULT,
                );
                sum += usize::from(parsed.is_ok());
            }
        }
        "request/build" => {
            for code in inputs.codes.iter().take(times) {
                let request = UnlockRequest::builder()
                    .serial("DMPXK0ABCD12")
                    .product_type("iPhone10,3")
                    .imei("35 735005 003432 4")
                    .org_name("Example & Sons, Ltd.")
                    .guid("j.doe+mdm@example.com")
                    .build();
                if let Ok(request) = request {
                    sum += request.query().len() + request.form_body(black_box(code)).len();
                }
            }
        }
        _ => {}
    }
    sum
}

/// The escrow-key engine this CPU selects: what the batch width says.
fn engine() -> &'static str {
    match kdf::batch_width() {
        w if w == kdf::AVX512_LANES => "avx512",
        w if w == kdf::SHA_NI_LANES && kdf::sha_ni(&code(0)).is_some() => "sha-ni",
        _ => "portable",
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--list") => {
            for (path, _) in PATHS {
                println!("{path}");
            }
            ExitCode::SUCCESS
        }
        Some("--engine") => {
            println!("{}", engine());
            ExitCode::SUCCESS
        }
        Some(path) => {
            let Some(&(_, times)) = PATHS.iter().find(|(name, _)| *name == path) else {
                eprintln!("instructions: no path {path:?} (see --list)");
                return ExitCode::from(2);
            };
            let inputs = inputs(kdf::batch_width());
            let sum = measured(path, times, &inputs);
            // Checked, so a broken path cannot pass for a fast one.
            if sum == 0 {
                eprintln!("instructions: {path} did no work");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("usage: instructions PATH | --list | --engine");
            ExitCode::from(2)
        }
    }
}
