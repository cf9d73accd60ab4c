//! The harness every scenario shares: a store (SQLite or a throw-away PostgreSQL), the escrow
//! stand-in with its fleet of simulated devices, and the MDM server's side of the flow driven
//! through the `alb` library (the functions the `alb` commands call).

use std::{path::PathBuf, time::Duration};

use alb_test_support::TempPostgres;
use alb_testbed::{EscrowService, Fleet, SimulatedDevice};
use alb_workflow::{
    device_report::{self, IngestError, Ingested},
    server_code::{self, IssueError, IssuedCode},
    store_setup,
    unlock::{self, Requester, UnlockError},
};
use code_store::{
    AnyStore, CodeStore, DeviceIdentity, DeviceRecord, KeyRing, Protection, ServerCodeTarget,
    StoreKey, Timestamp, Udid,
};
use escrow_client::{EscrowClient, EscrowConfig, Identity, RetryPolicy, TrustRoots, UnlockOutcome};
use mdm_protocol::{Command, CommandRequest};
use tempfile::TempDir;

/// Which database a scenario runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `scenario` on SQLite, then on PostgreSQL (unless `ALB_SKIP_POSTGRES=1`).
macro_rules! on_both_backends {
    ($name:ident, $scenario:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $scenario($crate::common::Harness::new($crate::common::Backend::Sqlite).await)
                    .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if alb_test_support::skip_requested() {
                    eprintln!("ALB_SKIP_POSTGRES=1: PostgreSQL scenario skipped");
                    return;
                }
                $scenario($crate::common::Harness::new($crate::common::Backend::Postgres).await)
                    .await;
            }
        }
    };
}
pub(crate) use on_both_backends;

/// One MDM server's world: its store, Apple's escrow stand-in, the devices.
pub struct Harness {
    pub backend: Backend,
    pub store: AnyStore,
    pub service: EscrowService,
    pub identity: PathBuf,
    pub ca: PathBuf,
    pub postgres: Option<TempPostgres>,
    /// The SQLite file, the client identity and CA files live here.
    pub _dir: TempDir,
}

impl Harness {
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (url, postgres) = match backend {
            Backend::Sqlite => (
                format!("sqlite:{}", dir.path().join("store.sqlite3").display()),
                None,
            ),
            Backend::Postgres => {
                let server = TempPostgres::start().unwrap();
                (server.create_database("e2e").await.unwrap(), Some(server))
            }
        };
        // Encrypted, as in production: `alb keygen` makes such a key.
        let protection = Protection::encrypted(KeyRing::new(StoreKey::generate().unwrap()));
        let store = store_setup::open_store(&url, protection).await.unwrap();
        let service = EscrowService::start(Fleet::new()).await.unwrap();
        let (identity, ca) = service.write_client_files(dir.path()).unwrap();
        Self {
            backend,
            store,
            service,
            identity,
            ca,
            postgres,
            _dir: dir,
        }
    }

    pub fn fleet(&self) -> &Fleet {
        self.service.fleet()
    }

    /// A new simulated device numbered `n`, added to the fleet; returns its serial number.
    pub fn add_device(&self, n: u64) -> String {
        self.fleet().add(SimulatedDevice::new(n))
    }

    /// Runs `f` on a device of the fleet.
    pub fn device<R>(&self, serial: &str, f: impl FnOnce(&mut SimulatedDevice) -> R) -> R {
        self.fleet().with_device(serial, f).unwrap()
    }

    pub fn udid_of(&self, device: &SimulatedDevice) -> Udid {
        Udid::new(&device.udid).unwrap()
    }

    pub fn udid(&self, serial: &str) -> Udid {
        Udid::new(&self.device(serial, |d| d.udid.clone())).unwrap()
    }

    /// The server receives a message from a device (`alb ingest`).
    pub async fn ingest(&self, message: &[u8]) -> Result<Ingested, IngestError> {
        device_report::ingest(&self.store, message, Timestamp::now()).await
    }

    /// The device enrols: `Authenticate` then `TokenUpdate` check-ins.
    pub async fn enroll(&self, serial: &str) {
        let authenticate = self.device(serial, |d| d.authenticate());
        let token_update = self.device(serial, |d| d.token_update());
        self.ingest(&authenticate).await.unwrap();
        self.ingest(&token_update).await.unwrap();
    }

    /// The server sends `request` to the device and ingests its answer.
    pub async fn command(&self, serial: &str, request: CommandRequest) -> Ingested {
        let command = alb_cli::encode_command(&Command::new(request), false).unwrap();
        let answer = self.device(serial, |d| d.respond(&command)).unwrap();
        self.ingest(&answer).await.unwrap()
    }

    /// `alb generate` for one device: the server-code journey (a fresh code, its escrow key,
    /// committed to the store before it is handed back).
    pub async fn generate(&self, serial: &str, udid: Option<&Udid>) -> IssuedCode {
        let target = ServerCodeTarget::new(serial, udid.map(Udid::as_str)).unwrap();
        let mut issued = None;
        server_code::issue_server_codes(&self.store, &[target], |code| {
            issued = Some(code);
            Ok::<(), IssueError>(())
        })
        .await
        .unwrap();
        issued.unwrap()
    }

    pub async fn record(&self, udid: &Udid) -> DeviceRecord {
        self.store.record(udid).await.unwrap().unwrap()
    }

    /// History event names of `udid`, oldest first.
    pub async fn history(&self, udid: &Udid) -> Vec<&'static str> {
        self.store
            .history(udid)
            .await
            .unwrap()
            .iter()
            .map(|entry| entry.event.name())
            .collect()
    }

    /// The client configuration `alb unlock --endpoint ... --ca-file ...` makes for the
    /// stand-in.
    pub fn settings(&self, attempt_timeout: Duration, max_tries: u32) -> EscrowConfig {
        EscrowConfig {
            endpoint: self.service.url().parse().unwrap(),
            roots: TrustRoots::from_pem_file(&self.ca).unwrap(),
            attempt_timeout,
            deadline: Duration::from_secs(60),
            retry: RetryPolicy {
                max_tries,
                ..RetryPolicy::default()
            },
            ..EscrowConfig::default()
        }
    }

    /// `alb unlock DEVICE` with the stored codes: the unlock journey (look the device up, plan
    /// device code then server code, try, record every attempt in the store's history).
    pub async fn unlock(&self, device: &str) -> UnlockOutcome {
        self.unlock_with(device, &self.settings(Duration::from_secs(10), 3))
            .await
            .unwrap()
    }

    pub async fn unlock_with(
        &self,
        device: &str,
        config: &EscrowConfig,
    ) -> Result<UnlockOutcome, UnlockError> {
        let identity = Identity::from_file(&self.identity, None).unwrap();
        let requester = Requester {
            org_name: "Example School District".to_owned(),
            guid: "it-ops@example.edu".to_owned(),
        };
        let plan = unlock::plan_for(
            &self.store,
            device,
            &DeviceIdentity::default(),
            &requester,
            Vec::new(),
        )
        .await?;
        let client = EscrowClient::new(config.clone(), &identity).unwrap();
        let unlocked = unlock::unlock(&client, &plan, Some(&self.store)).await;
        unlocked.recorded?;
        Ok(unlocked.outcome)
    }
}
