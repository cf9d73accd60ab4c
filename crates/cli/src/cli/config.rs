//! The configuration file: `$XDG_CONFIG_HOME/alb/config.toml` (else `~/.config/alb/config.toml`),
//! or the file `--config FILE` or `ALB_CONFIG` names; and `alb config`, which shows where each
//! setting comes from.
//!
//! Every option an administrator repeats has an `ALB_*` environment variable (declared on the
//! option itself, with clap's `env`), and the same options are the keys of the file, spelled as
//! the long option (`org-name = "Example School"`; `org_name` is read the same). The file's
//! values become the options' defaults, so clap's own order gives the precedence: a flag, then
//! the environment, then the file, then the built-in default.

use core::fmt;
use std::{
    collections::HashMap,
    ffi::OsString,
    fs,
    io::{self, Read as _},
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Arg, ArgMatches, Args};
use serde::Serialize;

use alb_cli::{Error, write_json_line};

/// The environment variable naming the configuration file.
pub const CONFIG_VARIABLE: &str = "ALB_CONFIG";

/// The largest configuration file read: a few hundred bytes are usual.
const MAX_CONFIG_LEN: u64 = 64 * 1024;

/// The global `--config FILE` option.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The configuration file (TOML; keys are long options such as `store`, `org-name`).
    /// Default: `$XDG_CONFIG_HOME/alb/config.toml`, else `~/.config/alb/config.toml`, read when
    /// it exists. Flags win over `ALB_*` variables, which win over the file.
    #[arg(long, global = true, value_name = "FILE", env = CONFIG_VARIABLE)]
    pub config: Option<PathBuf>,
}

/// `alb config` options.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// One JSON object: `file`, then `settings` (`key`, `value`, `source`, `variable`).
    #[arg(long)]
    pub json: bool,
}

/// An option that can be set in the file and through its `ALB_*` variable.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The long option, which is also the key in the file.
    pub key: String,
    /// Its environment variable.
    pub variable: String,
    /// Its built-in default, when it has one.
    pub default: Option<String>,
    /// Whether the option is global (given before or after any subcommand).
    pub global: bool,
}

/// The configuration file that was read.
#[derive(Debug, Default)]
pub struct ConfigFile {
    /// Where it was read from, or `None` when there was none.
    pub path: Option<PathBuf>,
    /// Its values, by long option.
    pub values: HashMap<String, String>,
}

/// Why the configuration file cannot be used.
#[derive(Debug)]
pub enum ConfigError {
    /// The file cannot be read (or, named by `--config`/`ALB_CONFIG`, does not exist).
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is larger than any configuration.
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not TOML, or not UTF-8.
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message (line and column included).
        message: String,
    },
    /// A key that is no option of `alb`.
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key, escaped for the terminal.
        key: String,
        /// The keys the file may hold.
        known: Vec<String>,
    },
    /// A value that is a table, an array or a date.
    BadValue {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => write!(f, "config file {}: {source}", shown(path)),
            Self::TooLarge { path } => write!(
                f,
                "config file {}: larger than {MAX_CONFIG_LEN} bytes",
                shown(path)
            ),
            Self::Syntax { path, message } => {
                write!(f, "config file {}: not TOML: {message}", shown(path))
            }
            Self::UnknownKey { path, key, known } => write!(
                f,
                "config file {}: unknown key `{key}` (known: {})",
                shown(path),
                known.join(", ")
            ),
            Self::BadValue { path, key } => write!(
                f,
                "config file {}: `{key}` must be a string, a number or a boolean",
                shown(path)
            ),
        }
    }
}

impl core::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn shown(path: &Path) -> printable::Escaped<'_> {
    printable::Escaped(path.to_str().unwrap_or("(a path that is not UTF-8)"))
}

/// Every setting of `command` and its subcommands: the options with an `ALB_*` variable.
pub fn settings(command: &clap::Command) -> Vec<Setting> {
    let mut found = Vec::new();
    collect(command, &mut found);
    found.sort_by(|a, b| a.key.cmp(&b.key));
    found.dedup_by(|a, b| a.key == b.key);
    found
}

fn collect(command: &clap::Command, found: &mut Vec<Setting>) {
    found.extend(command.get_arguments().filter_map(setting));
    for sub in command.get_subcommands() {
        collect(sub, found);
    }
}

fn setting(arg: &Arg) -> Option<Setting> {
    let variable = arg.get_env()?.to_str()?;
    let key = arg.get_long()?;
    // The file cannot name itself, and the store key is a secret: never a file value.
    (variable.starts_with("ALB_") && variable != CONFIG_VARIABLE).then(|| Setting {
        key: key.to_owned(),
        variable: variable.to_owned(),
        default: arg
            .get_default_values()
            .first()
            .and_then(|v| v.to_str())
            .map(str::to_owned),
        global: arg.is_global_set(),
    })
}

/// The file to read: `--config FILE` among `args` (before a `--`), else `ALB_CONFIG`, else the
/// default path. The flag `true` says it was named, so that its absence is an error.
pub fn locate(args: &[OsString]) -> Option<(PathBuf, bool)> {
    let mut args = args.iter().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            return args.next().map(|path| (PathBuf::from(path), true));
        }
        if let Some(path) = arg.to_str().and_then(|a| a.strip_prefix("--config=")) {
            return Some((PathBuf::from(path), true));
        }
    }
    if let Some(path) = std::env::var_os(CONFIG_VARIABLE).filter(|p| !p.is_empty()) {
        return Some((PathBuf::from(path), true));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|p| Path::new(p).is_absolute())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|p| !p.is_empty())
                .map(|home| Path::new(&home).join(".config"))
        })?;
    Some((base.join("alb").join("config.toml"), false))
}

/// Reads and checks the configuration file against `settings`. A default-path file that does
/// not exist is no file; a named one is an error.
///
/// # Errors
/// When the file cannot be read, is not TOML, names an unknown key or holds a value that is
/// not a string, a number or a boolean.
pub fn load(
    located: Option<(PathBuf, bool)>,
    settings: &[Setting],
) -> Result<ConfigFile, ConfigError> {
    let Some((path, named)) = located else {
        return Ok(ConfigFile::default());
    };
    let text = match read_bounded(&path) {
        Ok(text) => text,
        Err(source) if source.kind() == io::ErrorKind::NotFound && !named => {
            return Ok(ConfigFile::default());
        }
        Err(source) if source.kind() == io::ErrorKind::FileTooLarge => {
            return Err(ConfigError::TooLarge { path });
        }
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    let text = String::from_utf8(text).map_err(|_| ConfigError::Syntax {
        path: path.clone(),
        message: "not UTF-8".into(),
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
        path: path.clone(),
        message: printable::Escaped(e.to_string().trim_end()).to_string(),
    })?;
    let mut values = HashMap::new();
    for (key, value) in table {
        let long = key.replace('_', "-");
        if !settings.iter().any(|s| s.key == long) {
            return Err(ConfigError::UnknownKey {
                path,
                key: printable::Escaped(&key).to_string(),
                known: settings.iter().map(|s| s.key.clone()).collect(),
            });
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(x) => x.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => return Err(ConfigError::BadValue { path, key: long }),
        };
        values.insert(long, value);
    }
    Ok(ConfigFile {
        path: Some(path),
        values,
    })
}

fn read_bounded(path: &Path) -> io::Result<Vec<u8>> {
    let mut text = Vec::new();
    fs::File::open(path)?
        .take(MAX_CONFIG_LEN + 1)
        .read_to_end(&mut text)?;
    if text.len() as u64 > MAX_CONFIG_LEN {
        return Err(io::ErrorKind::FileTooLarge.into());
    }
    Ok(text)
}

/// `command` with the file's values as the defaults of their options, in every subcommand.
pub fn apply(command: clap::Command, file: &ConfigFile) -> clap::Command {
    if file.values.is_empty() {
        return command;
    }
    command
        .mut_args(|arg| {
            let value = setting(&arg).and_then(|s| file.values.get(&s.key).cloned());
            match value {
                // clap counts a default as absent for `required`: with the file's value the
                // option always has one, so it is no longer required.
                Some(value) => arg.default_value(value).required(false),
                None => arg,
            }
        })
        .mut_subcommands(|sub| apply(sub, file))
}

/// Where a setting's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A flag on the command line.
    Flag,
    /// Its `ALB_*` environment variable.
    Environment,
    /// The configuration file.
    File,
    /// The built-in default.
    Default,
    /// Not set anywhere.
    Unset,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Flag => "flag",
            Self::Environment => "environment",
            Self::File => "file",
            Self::Default => "default",
            Self::Unset => "unset",
        })
    }
}

/// One line of `alb config`.
#[derive(Debug, Serialize)]
struct Shown {
    key: String,
    value: Option<String>,
    source: Source,
    variable: String,
}

#[derive(Serialize)]
struct ShownAll<'a> {
    file: Option<String>,
    settings: &'a [Shown],
}

/// Resolves one setting as a command would: flag, environment, file, default.
fn resolve(setting: &Setting, file: &ConfigFile, matches: &ArgMatches) -> Shown {
    use clap::parser::ValueSource;
    let id = setting.key.replace('-', "_");
    // Only the global options can be given to `alb config` itself.
    let flag = setting
        .global
        .then(|| matches.try_get_raw(&id).ok().flatten())
        .flatten()
        .and_then(|mut values| values.next())
        .filter(|_| matches.value_source(&id) == Some(ValueSource::CommandLine));
    let (value, source) = if let Some(value) = flag {
        (Some(value.to_string_lossy().into_owned()), Source::Flag)
    } else if let Some(value) = std::env::var_os(&setting.variable).filter(|v| !v.is_empty()) {
        (
            Some(value.to_string_lossy().into_owned()),
            Source::Environment,
        )
    } else if let Some(value) = file.values.get(&setting.key) {
        (Some(value.clone()), Source::File)
    } else if let Some(value) = &setting.default {
        (Some(value.clone()), Source::Default)
    } else if setting.key == "store" {
        (
            Some(alb_workflow::store_setup::default_store_url()),
            Source::Default,
        )
    } else {
        (None, Source::Unset)
    };
    Shown {
        value: value.map(|v| redacted(&setting.key, &v)),
        key: setting.key.clone(),
        source,
        variable: setting.variable.clone(),
    }
}

/// A value as `alb config` may show it: passwords inside a store URL are hidden.
fn redacted(key: &str, value: &str) -> String {
    let value = if key == "store" {
        code_store::redact_url(value)
    } else {
        value.to_owned()
    };
    printable::Escaped(&value).to_string()
}

/// `alb config`: every setting, its value (secrets hidden) and where it comes from.
pub fn show(
    args: &ShowArgs,
    settings: &[Setting],
    file: &ConfigFile,
    matches: &ArgMatches,
) -> Result<ExitCode, Error> {
    let lines: Vec<Shown> = settings.iter().map(|s| resolve(s, file, matches)).collect();
    let file_name = file.path.as_deref().map(|p| shown(p).to_string());
    let mut out = io::stdout().lock();
    if args.json {
        write_json_line(
            &mut out,
            &ShownAll {
                file: file_name,
                settings: &lines,
            },
        )?;
    } else {
        use io::Write as _;
        match &file_name {
            Some(name) => writeln!(out, "# config file: {name}")?,
            None => writeln!(out, "# no config file")?,
        }
        if std::env::var_os(super::store::STORE_KEY_VARIABLE).is_some_and(|v| !v.is_empty()) {
            writeln!(
                out,
                "# store key: from {} (hidden)",
                super::store::STORE_KEY_VARIABLE
            )?;
        }
        for line in &lines {
            match &line.value {
                Some(value) => writeln!(
                    out,
                    "{} = {value:?}  # {} ({})",
                    line.key, line.source, line.variable
                )?,
                None => writeln!(out, "# {} unset ({})", line.key, line.variable)?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
