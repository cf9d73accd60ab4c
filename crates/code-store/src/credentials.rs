//! Who connects to PostgreSQL, and with which password, as libpq users expect.
//!
//! The user is the URL's, else `$USER`, else the operating system's name for this process. The
//! password is the URL's (`user:password@` or `?password=`), else `PGPASSWORD`, else the line of
//! the password file (`PGPASSFILE`, else `$HOME/.pgpass`, see [`crate::pgpass`]) matching the
//! host, port (default 5432), database (default: the user) and user. An empty password counts as
//! none. The environment is read through a lookup function, so callers and tests can give their
//! own.

use alloc::{borrow::ToOwned, string::String, vec::Vec};
use std::{ffi::OsString, path::PathBuf};

use subtle::ConstantTimeEq;
use tokio_postgres::config::{Config, Host};
use zeroize::Zeroizing;

use crate::{
    StoreError,
    pgpass::{self, Ignored, Lookup},
    postgres_url::{DEFAULT_SOCKET_DIRS, StoreUrl},
};

/// Reads one environment variable.
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// Gives `url`'s configuration a user and, when it has none, a password from the environment.
///
/// `Ok(Some)` tells of a password file that was ignored: if connecting fails, that may be why.
///
/// # Errors
/// [`StoreError::PasswordsDiffer`] when the password file does not give the same password for
/// every host of the URL.
pub(crate) fn complete(url: &mut StoreUrl, env: Env<'_>) -> Result<Option<Ignored>, StoreError> {
    let config = &mut url.config;
    if config.get_user().is_none_or(str::is_empty) {
        let user = env("USER")
            .and_then(|user| user.into_string().ok())
            .filter(|user| !user.is_empty())
            .or_else(|| whoami::username().ok());
        if let Some(user) = user {
            config.user(user);
        }
    }
    if config.get_password().is_some_and(|p| !p.is_empty()) {
        return Ok(None);
    }
    if let Some(password) = env("PGPASSWORD")
        .map(secret_bytes)
        .filter(|p| !p.is_empty())
    {
        config.password(&*password);
        return Ok(None);
    }
    let Some((path, named)) = passfile(env) else {
        return Ok(None);
    };
    let contents = match pgpass::read(&path) {
        Ok(Some(contents)) => contents,
        Ok(None) if named => {
            return Ok(Some(Ignored {
                path,
                reason: "PGPASSFILE names it, but it does not exist".to_owned(),
            }));
        }
        Ok(None) => return Ok(None),
        Err(ignored) => return Ok(Some(ignored)),
    };
    let Some(user) = config.get_user().map(str::to_owned) else {
        return Ok(None);
    };
    let database = config.get_dbname().unwrap_or(&user).to_owned();
    let mut found: Option<Option<Zeroizing<Vec<u8>>>> = None;
    for (host, port) in targets(config) {
        let lookup = Lookup {
            host: &host,
            port: port.as_bytes(),
            database: database.as_bytes(),
            user: user.as_bytes(),
        };
        let password = pgpass::find(&contents, lookup).filter(|p| !p.is_empty());
        match &found {
            None => found = Some(password),
            Some(first)
                if same(
                    first.as_deref().map(Vec::as_slice),
                    password.as_deref().map(Vec::as_slice),
                ) => {}
            Some(_) => {
                return Err(StoreError::PasswordsDiffer {
                    path: path.display().to_string(),
                    url: url.redacted.clone(),
                });
            }
        }
    }
    if let Some(Some(password)) = found {
        config.password(&*password);
    }
    Ok(None)
}

/// Whether two passwords (or their absence) are the same, in constant time for equal lengths.
fn same(a: Option<&[u8]>, b: Option<&[u8]>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.ct_eq(b).into(),
        _ => false,
    }
}

/// The password file and whether `PGPASSFILE` named it.
fn passfile(env: Env<'_>) -> Option<(PathBuf, bool)> {
    if let Some(path) = env("PGPASSFILE").filter(|p| !p.is_empty()) {
        return Some((PathBuf::from(path), true));
    }
    let home = env("HOME").filter(|h| !h.is_empty())?;
    Some((PathBuf::from(home).join(".pgpass"), false))
}

/// An environment value as bytes that are wiped when dropped.
fn secret_bytes(value: OsString) -> Zeroizing<Vec<u8>> {
    #[cfg(unix)]
    return Zeroizing::new(std::os::unix::ffi::OsStringExt::into_vec(value));
    #[cfg(not(unix))]
    return Zeroizing::new(
        value
            .into_string()
            .map(String::into_bytes)
            .unwrap_or_default(),
    );
}

/// The (host, port) of each server the configuration may contact, as the password file names
/// them: the host name (else the `hostaddr`), the socket directory, or `localhost` for a default
/// socket directory or an empty host.
fn targets(config: &Config) -> Vec<(Vec<u8>, String)> {
    let (hosts, addrs, ports) = (
        config.get_hosts(),
        config.get_hostaddrs(),
        config.get_ports(),
    );
    (0..hosts.len().max(addrs.len()))
        .map(|i| {
            let host = match hosts.get(i) {
                Some(Host::Tcp(name)) if name.is_empty() => b"localhost".to_vec(),
                Some(Host::Tcp(name)) => name.as_bytes().to_vec(),
                #[cfg(unix)]
                Some(Host::Unix(dir))
                    if DEFAULT_SOCKET_DIRS
                        .iter()
                        .any(|d| dir.as_path() == std::path::Path::new(d)) =>
                {
                    b"localhost".to_vec()
                }
                #[cfg(unix)]
                Some(Host::Unix(dir)) => {
                    std::os::unix::ffi::OsStrExt::as_bytes(dir.as_os_str()).to_vec()
                }
                None => addrs
                    .get(i)
                    .map(|addr| addr.to_string().into_bytes())
                    .unwrap_or_default(),
            };
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            (host, port.to_string())
        })
        .collect()
}
