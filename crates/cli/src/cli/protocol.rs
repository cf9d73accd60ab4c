//! `alb command | parse`: MDM commands and the device's property lists (`mdm-protocol`).

use std::{
    fs::File,
    io::{self, Write},
    path::{Path, PathBuf},
    process::ExitCode,
};

use alb_cli::{Error, MessageReport, ProtocolError, encode_command, read_message};
use alb_workflow::input;
use clap::Subcommand;
use mdm_protocol::{
    CertificateList, ClearPasscode, Command as MdmCommand, CommandBuilder, CommandRequest,
    CommandType, DeviceInformation, Limits, Password, RequestType, SetFirmwarePassword,
    UnlockToken, UnlockUserAccount, VerifyFirmwarePassword,
};
use zeroize::Zeroizing;

/// Subcommands about MDM property lists.
// Parsed once per process from the command line: the size of the variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print an MDM command's property list (XML, or binary with `--binary`): any of Apple's
    /// request types, its keys from `--set KEY=VALUE` or `--payload FILE`, checked against
    /// Apple's schema. `--list` shows every request type with its availability.
    #[command(name = "command")]
    MdmCommand {
        /// The request type, e.g. `ActivationLockBypassCode`, `DeviceLock`, `Settings`.
        #[arg(required_unless_present = "list")]
        request_type: Option<String>,
        /// List every request type of Apple's schema, with where it is available.
        #[arg(long, conflicts_with = "request_type")]
        list: bool,
        /// Set a key of the command: `KEY=VALUE`, the key path joined by `.` (`Settings.0.Item`,
        /// array items numbered from 0), the value read as the schema's type (JSON for arrays
        /// and dictionaries, base64 or `hex:` for data). Unknown keys and wrong types are refused
        /// with the key path.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// The command's keys from a file: a JSON object or a property-list dictionary (checked
        /// like `--set`, applied before it).
        #[arg(long, value_name = "FILE")]
        payload: Option<PathBuf>,
        /// The `CommandUUID` (a fresh random UUID when absent).
        #[arg(long)]
        uuid: Option<String>,
        /// Write a binary property list (`bplist00`) instead of XML.
        #[arg(long)]
        binary: bool,
        /// `ClearPasscode`: file holding the device's unlock token (raw bytes, as received).
        #[arg(long, value_name = "FILE", conflicts_with = "device")]
        unlock_token_file: Option<PathBuf>,
        /// `ClearPasscode`: the device (UDID or serial number) whose unlock token the store holds
        /// (`--store`): nobody handles the token. Refused when the store has none, or the
        /// device's platform does not run the command.
        #[arg(long, value_name = "UDID|SERIAL")]
        device: Option<String>,
        /// `DeviceInformation`: keys to query (default: what an Activation Lock unlock needs).
        #[arg(long = "query", value_name = "KEY", num_args = 1..)]
        queries: Vec<String>,
        /// `CertificateList`: only certificates MDM installed.
        #[arg(long)]
        managed_only: bool,
        /// `UnlockUserAccount`: the local account's short name.
        #[arg(long)]
        user_name: Option<String>,
        /// `VerifyFirmwarePassword` / `SetFirmwarePassword`: file holding the (new) password.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// `SetFirmwarePassword`: file holding the current password.
        #[arg(long, value_name = "FILE")]
        current_password_file: Option<PathBuf>,
        /// `SetFirmwarePassword`: allow option ROMs.
        #[arg(long)]
        allow_oroms: bool,
    },
    /// Read MDM property lists (XML or binary) and print what each one is.
    Parse {
        /// Files to read; `-` (the default) is standard input.
        #[arg(value_name = "FILE|-")]
        inputs: Vec<String>,
        /// One JSON object per input.
        #[arg(long)]
        json: bool,
        /// Print secret values (bypass codes, unlock tokens, passwords) instead of `<redacted>`.
        #[arg(long)]
        reveal: bool,
        /// Largest accepted input in bytes.
        #[arg(long, default_value_t = Limits::DEFAULT.max_bytes)]
        max_bytes: usize,
    },
}

/// Runs `alb command` or `alb parse`.
pub fn run(command: Command, store: &super::store::StoreArgs) -> Result<ExitCode, Error> {
    match command {
        Command::MdmCommand { list: true, .. } => {
            list_request_types()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::MdmCommand {
            request_type,
            list: _,
            sets,
            payload,
            uuid,
            binary,
            unlock_token_file,
            device,
            queries,
            managed_only,
            user_name,
            password_file,
            current_password_file,
            allow_oroms,
        } => {
            if let Some(device) = device {
                return clear_passcode_of(
                    &request_type.unwrap_or_default(),
                    &device,
                    uuid,
                    binary,
                    store,
                );
            }
            let options = CommandOptions {
                unlock_token_file,
                queries,
                managed_only,
                user_name,
                password_file,
                current_password_file,
                allow_oroms,
            };
            let request_type = request_type.unwrap_or_default();
            let hand_written = request_type.parse::<RequestType>().ok();
            let command = if sets.is_empty() && payload.is_none() && hand_written.is_some() {
                let request = build_request(&request_type, options)?;
                match uuid {
                    Some(uuid) => MdmCommand::with_uuid(uuid, request),
                    None => MdmCommand::new(request),
                }
            } else {
                build_from_schema(&request_type, &sets, payload.as_deref(), uuid)?
            };
            let bytes = Zeroizing::new(encode_command(&command, binary)?);
            let mut out = io::stdout().lock();
            out.write_all(&bytes)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Parse {
            inputs,
            json,
            reveal,
            max_bytes,
        } => parse(inputs, json, reveal, max_bytes),
    }
}

/// `alb command ClearPasscode --device ID`: the command with the token the store holds.
fn clear_passcode_of(
    request_type: &str,
    device: &str,
    uuid: Option<String>,
    binary: bool,
    store: &super::store::StoreArgs,
) -> Result<ExitCode, Error> {
    if request_type != "ClearPasscode" {
        return Err(usage(format!(
            "--device is for ClearPasscode (the store's unlock token), not {:?}",
            printable::Escaped(request_type).to_string()
        )));
    }
    let runtime = super::store::runtime()?;
    let store = store.open(&runtime)?;
    let record = runtime
        .block_on(alb_workflow::unlock::find_record(&store, device))?
        .ok_or_else(|| {
            usage(format!(
                "no device with UDID or serial number {:?}",
                printable::Escaped(device).to_string()
            ))
        })?;
    let uuid = uuid.unwrap_or_else(|| uuid::Uuid::new_v4().to_string().to_uppercase());
    let command = alb_workflow::clear_passcode::command_for(&record, uuid)
        .map_err(|e| usage(e.to_string()))?;
    let bytes = Zeroizing::new(encode_command(&command, binary)?);
    let mut out = io::stdout().lock();
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

struct CommandOptions {
    unlock_token_file: Option<PathBuf>,
    queries: Vec<String>,
    managed_only: bool,
    user_name: Option<String>,
    password_file: Option<PathBuf>,
    current_password_file: Option<PathBuf>,
    allow_oroms: bool,
}

/// Prints every request type of Apple's schema: its name, title and availability.
fn list_request_types() -> Result<(), Error> {
    let mut out = io::stdout().lock();
    for command_type in CommandType::ALL {
        writeln!(
            out,
            "{:<40} {}: {}",
            command_type.as_str(),
            command_type.title(),
            command_type.availability()
        )?;
    }
    Ok(())
}

/// The largest `--payload` file read.
const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// A command of any request type from `--payload` and `--set`, checked against the schema.
fn build_from_schema(
    request_type: &str,
    sets: &[String],
    payload: Option<&Path>,
    uuid: Option<String>,
) -> Result<MdmCommand, Error> {
    let mut builder = CommandBuilder::for_request_type(request_type).map_err(schema_error)?;
    if let Some(path) = payload {
        let name = format!("payload file {}", path.display());
        let bytes = input::read_file(path, &name, MAX_PAYLOAD_BYTES)?;
        if bytes.trim_ascii_start().starts_with(b"{") {
            builder
                .set_json(input::utf8(&name, &bytes)?)
                .map_err(schema_error)?;
        } else {
            let value = mdm_protocol::plist::Value::from_reader(io::Cursor::new(&bytes[..]))
                .map_err(|e| usage(format!("{name}: not JSON or a property list: {e}")))?;
            let dict = value
                .as_dictionary()
                .ok_or_else(|| usage(format!("{name}: the property list is not a dictionary")))?;
            builder.set_plist(dict).map_err(schema_error)?;
        }
    }
    for assignment in sets {
        builder.set_assignment(assignment).map_err(schema_error)?;
    }
    if let Some(uuid) = uuid {
        builder.uuid(uuid);
    }
    builder.build().map_err(schema_error)
}

fn schema_error(error: mdm_protocol::BuildError) -> Error {
    if let mdm_protocol::BuildError::UnknownRequestType { .. } = &error {
        let names: Vec<&str> = CommandType::ALL.iter().map(|t| t.as_str()).collect();
        return usage(format!(
            "{error}; known (alb command --list): {}",
            names.join(", ")
        ));
    }
    usage(error.to_string())
}

fn usage(message: String) -> Error {
    Error::Protocol(ProtocolError::Command(message))
}

/// Reads a secret file, at most [`input::MAX_SECRET_FILE_BYTES`].
fn read_secret_file(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let name = format!("{what} file {}", path.display());
    Ok(input::read_file(path, &name, input::MAX_SECRET_FILE_BYTES)?)
}

/// A password file's first line (without its line ending).
fn read_password(path: &Path) -> Result<Password, Error> {
    let bytes = read_secret_file(path, "password")?;
    let name = format!("password file {}", path.display());
    let text = input::utf8(&name, &bytes)?;
    Ok(Password::from(text.lines().next().unwrap_or("")))
}

fn build_request(request_type: &str, o: CommandOptions) -> Result<CommandRequest, Error> {
    let known: RequestType = request_type.parse().map_err(|_| {
        let names: Vec<&str> = RequestType::ALL.iter().map(|t| t.as_str()).collect();
        usage(format!(
            "unknown request type {request_type:?}; known: {}",
            names.join(", ")
        ))
    })?;
    Ok(match known {
        RequestType::ActivationLockBypassCode => CommandRequest::ActivationLockBypassCode,
        RequestType::ClearActivationLockBypassCode => CommandRequest::ClearActivationLockBypassCode,
        RequestType::SecurityInfo => CommandRequest::SecurityInfo,
        RequestType::ClearRestrictionsPassword => CommandRequest::ClearRestrictionsPassword,
        RequestType::ClearPasscode => {
            let path = o
                .unlock_token_file
                .ok_or_else(|| usage("ClearPasscode needs --unlock-token-file FILE".into()))?;
            let token = read_secret_file(&path, "unlock token")?;
            if token.is_empty() {
                return Err(usage(format!(
                    "unlock token file {} is empty",
                    path.display()
                )));
            }
            CommandRequest::ClearPasscode(ClearPasscode {
                unlock_token: UnlockToken::new(token.to_vec()),
            })
        }
        RequestType::DeviceInformation => {
            CommandRequest::DeviceInformation(if o.queries.is_empty() {
                DeviceInformation::for_unlock()
            } else {
                DeviceInformation {
                    queries: o.queries,
                    device_attestation_nonce: None,
                }
            })
        }
        RequestType::CertificateList => CommandRequest::CertificateList(CertificateList {
            managed_only: o.managed_only.then_some(true),
        }),
        RequestType::UnlockUserAccount => CommandRequest::UnlockUserAccount(UnlockUserAccount {
            user_name: o
                .user_name
                .ok_or_else(|| usage("UnlockUserAccount needs --user-name NAME".into()))?,
        }),
        RequestType::VerifyFirmwarePassword => {
            let path = o
                .password_file
                .ok_or_else(|| usage("VerifyFirmwarePassword needs --password-file FILE".into()))?;
            CommandRequest::VerifyFirmwarePassword(VerifyFirmwarePassword {
                password: read_password(&path)?,
            })
        }
        RequestType::SetFirmwarePassword => {
            let path = o
                .password_file
                .ok_or_else(|| usage("SetFirmwarePassword needs --password-file FILE".into()))?;
            CommandRequest::SetFirmwarePassword(SetFirmwarePassword {
                current_password: o
                    .current_password_file
                    .as_deref()
                    .map(read_password)
                    .transpose()?,
                new_password: read_password(&path)?,
                allow_oroms: o.allow_oroms.then_some(true),
            })
        }
        RequestType::RotateFileVaultKey | RequestType::SetAutoAdminPassword => {
            return Err(usage(format!(
                "{known} carries keys and certificates `alb command` does not take; build it with \
                 the mdm-protocol library"
            )));
        }
    })
}

fn parse(
    inputs: Vec<String>,
    json: bool,
    reveal: bool,
    max_bytes: usize,
) -> Result<ExitCode, Error> {
    let limits = Limits {
        max_bytes,
        ..Limits::DEFAULT
    };
    let inputs = if inputs.is_empty() {
        vec!["-".to_owned()]
    } else {
        inputs
    };
    let mut failures = 0usize;
    let stdout = io::stdout();
    for name in &inputs {
        let read = if name == "-" {
            read_message(name, io::stdin().lock(), &limits)
        } else {
            match File::open(name) {
                Ok(file) => read_message(name, file, &limits),
                Err(error) => Err(ProtocolError::Read {
                    source_name: name.clone(),
                    error,
                }),
            }
        };
        match read {
            Ok((message, format)) => {
                let mut out = stdout.lock();
                MessageReport::new(name, format, &message, reveal).write(&mut out, json)?;
                out.flush()?;
            }
            Err(error) => {
                failures += 1;
                alb_cli::diagnostic(&error);
            }
        }
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
