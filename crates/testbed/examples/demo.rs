//! The whole Activation Lock flow on one machine, step by step, in the order an administrator
//! meets it: a temporary encrypted SQLite store, one simulated supervised iPhone, and a
//! stand-in for Apple's escrow-key unlock service on loopback HTTPS (client certificate
//! required).
//!
//! ```text
//! cargo run -p alb-testbed --example demo
//! ```
//!
//! Every step calls the same `alb` library functions as the `alb` command named next to it.
//! The codes printed are made for this run and thrown away with it.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::{error::Error, time::Duration};

use alb_cli::UnlockReport;
use alb_testbed::{EscrowService, Fleet, SimulatedDevice};
use alb_workflow::{
    device_report::{self, Ingested},
    server_code::{self, IssueError},
    store_setup,
    unlock::{self, Requester},
};
use code_store::{
    AnyStore, CodeStore as _, DeviceIdentity, Event, KeyRing, Protection, ServerCodeTarget,
    StoreKey, Timestamp, Udid,
};
use escrow_client::{EscrowClient, EscrowConfig, Identity, RetryPolicy, TrustRoots};
use mdm_protocol::{Command, CommandRequest, DeviceInformation};

type Result<T> = core::result::Result<T, Box<dyn Error>>;

fn step(number: u32, title: &str, command: &str) {
    println!("\n== {number}. {title}");
    println!("   (alb: {command})");
}

fn show(ingested: &Ingested) {
    for line in ingested.describe() {
        println!("   {}: {line}", ingested.message);
    }
}

/// The server sends a command; the device answers; the answer is ingested.
async fn command(
    store: &AnyStore,
    fleet: &Fleet,
    serial: &str,
    request: CommandRequest,
) -> Result<Ingested> {
    let bytes = alb_cli::encode_command(&Command::new(request), false)?;
    let answer = fleet
        .with_device(serial, |device| device.respond(&bytes))
        .ok_or("no such device")??;
    Ok(device_report::ingest(store, &answer, Timestamp::now()).await?)
}

fn device<R>(fleet: &Fleet, serial: &str, f: impl FnOnce(&mut SimulatedDevice) -> R) -> Result<R> {
    Ok(fleet.with_device(serial, f).ok_or("no such device")?)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let dir = tempfile::tempdir()?;

    step(
        1,
        "Set up the store: a key for the secrets, then the database",
        "alb keygen --output store.key; alb --store sqlite:... --key-file store.key ...",
    );
    let url = format!("sqlite:{}", dir.path().join("store.sqlite3").display());
    let key = StoreKey::generate()?;
    println!(
        "   store key {} (kept in a 0600 file, never in the database)",
        key.id()
    );
    let store = store_setup::open_store(&url, Protection::encrypted(KeyRing::new(key))).await?;
    println!("   store: {url}");

    step(
        2,
        "Apple's escrow service and the server's APNs identity",
        "alb unlock --identity apns.pem [--endpoint URL --ca-file CA.pem]",
    );
    let service = EscrowService::start(Fleet::new()).await?;
    let fleet = service.fleet().clone();
    let (identity_file, ca_file) = service.write_client_files(dir.path())?;
    println!("   stand-in for Apple at {}", service.url());
    println!("   client identity {}", identity_file.display());

    step(
        3,
        "A supervised iPhone enrols: Authenticate and TokenUpdate check-ins",
        "alb ingest authenticate.plist token-update.plist",
    );
    let serial = fleet.add(SimulatedDevice::new(3));
    let udid = Udid::new(&device(&fleet, &serial, |d| d.udid.clone())?)?;
    println!("   device {udid}, serial {serial}");
    for message in [
        device(&fleet, &serial, |d| d.authenticate())?,
        device(&fleet, &serial, |d| d.token_update())?,
    ] {
        show(&device_report::ingest(&store, &message, Timestamp::now()).await?);
    }
    let missing = store.missing(Timestamp::now()).await?;
    for device in &missing {
        println!(
            "   alb missing: {} has no device code yet; {} days left to ask for it",
            device.record.udid,
            device.days_left.unwrap_or_default()
        );
    }

    step(
        4,
        "Before Activation Lock: ask the device for its bypass code and its identifiers",
        "alb command ActivationLockBypassCode; alb command DeviceInformation; alb ingest FILE...",
    );
    show(
        &command(
            &store,
            &fleet,
            &serial,
            CommandRequest::ActivationLockBypassCode,
        )
        .await?,
    );
    show(
        &command(
            &store,
            &fleet,
            &serial,
            CommandRequest::DeviceInformation(DeviceInformation::for_unlock()),
        )
        .await?,
    );
    let first_device_code = device(&fleet, &serial, |d| d.active_code().cloned())?;

    step(
        5,
        "The server makes its own code and registers its escrow key (hash) with Apple",
        &format!("alb generate --serial {serial} --udid {udid}"),
    );
    let target = ServerCodeTarget::new(&serial, Some(udid.as_str()))?;
    let mut issued = None;
    server_code::issue_server_codes(&store, &[target], |code| {
        issued = Some(code);
        Ok::<(), IssueError>(())
    })
    .await?;
    let issued = issued.ok_or("no code issued")?;
    println!(
        "   server code {} stored (durably) before it is shown",
        issued.code
    );
    println!(
        "   escrow key  {} sent to Apple, never the code",
        issued.escrow_key
    );
    fleet.register_escrow_key(&serial, issued.escrow_key.clone());

    println!("   two codes kept: the device's own, and this one; only one of them is active");
    step(
        6,
        "The user signs in to Find My: Activation Lock is on",
        "(nothing: the server is not told)",
    );
    device(&fleet, &serial, SimulatedDevice::lock)?;
    println!("   locked: {}", device(&fleet, &serial, |d| d.is_locked())?);

    step(
        7,
        "The device is erased: it makes a new code, so the stored device code is stale",
        "(nothing: the server is not told)",
    );
    device(&fleet, &serial, SimulatedDevice::erase)?;
    let now_active = device(&fleet, &serial, |d| d.active_code().cloned())?;
    println!(
        "   device code changed: {}",
        now_active.is_some() && now_active != first_device_code
    );

    step(
        8,
        "Remove Activation Lock: the device code first; on 404, the server code",
        &format!("alb unlock {udid} --identity apns.pem --org-name ORG --guid WHO"),
    );
    let config = EscrowConfig {
        endpoint: service.url().parse()?,
        roots: TrustRoots::from_pem_file(&ca_file)?,
        attempt_timeout: Duration::from_secs(10),
        deadline: Duration::from_secs(60),
        retry: RetryPolicy {
            max_tries: 3,
            ..RetryPolicy::default()
        },
        ..EscrowConfig::default()
    };
    let client = EscrowClient::new(config, &Identity::from_file(&identity_file, None)?)?;
    let requester = Requester {
        org_name: "Example School District".to_owned(),
        guid: "it-ops@example.edu".to_owned(),
    };
    let plan = unlock::plan_for(
        &store,
        udid.as_str(),
        &DeviceIdentity::default(),
        &requester,
        Vec::new(),
    )
    .await?;
    let unlocked = unlock::unlock(&client, &plan, Some(&store)).await;
    unlocked.recorded?;
    let outcome = unlocked.outcome;
    let mut text = Vec::new();
    UnlockReport::new(&outcome).write(&mut text, false)?;
    for line in String::from_utf8(text)?.lines() {
        println!("   {line}");
    }
    println!("   locked: {}", device(&fleet, &serial, |d| d.is_locked())?);

    step(
        9,
        "The device reports its new code at the next check: the store keeps both codes",
        "alb ingest response.plist; alb show DEVICE",
    );
    show(
        &command(
            &store,
            &fleet,
            &serial,
            CommandRequest::ActivationLockBypassCode,
        )
        .await?,
    );
    let record = store.record(&udid).await?.ok_or("no record")?;
    println!(
        "   device code: {}, server code: {}",
        if record.device_code.is_some() {
            "stored"
        } else {
            "none"
        },
        if record.server_code.is_some() {
            "stored"
        } else {
            "none"
        },
    );

    step(
        10,
        "What happened, as the history shows it",
        &format!("alb history {udid}"),
    );
    for entry in store.history(&udid).await? {
        let detail = match &entry.event {
            Event::DeviceCodeStored { replaced: true, .. } => {
                " (replaced a different code)".to_owned()
            }
            Event::UnlockAttempted { code, outcome } => {
                format!(" ({} code: {})", code.as_str(), outcome.as_str())
            }
            _ => String::new(),
        };
        println!(
            "   #{:<3} {}  {}{detail}",
            entry.seq,
            entry.at,
            entry.event.name()
        );
    }
    println!("\nDone: every step above used the alb library on a throw-away store.");
    Ok(())
}
