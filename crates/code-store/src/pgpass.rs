//! The libpq password file (`PGPASSFILE`, else `~/.pgpass`): reading it safely and finding the
//! password of one connection in it.
//!
//! Each line is `hostname:port:database:username:password`; a field of only `*` matches
//! anything; `\:` and `\\` stand for `:` and `\`; a line starting with `#` is a comment; the
//! first matching line wins. As libpq does, a file that group or others may read, write or run
//! is ignored, and so is anything but a regular file. Files over [`MAX_PASSFILE_LEN`] are ignored
//! too. An ignored file is not an error by itself ([`Ignored`] says why, for the error of a
//! connection that then fails).

use alloc::{format, string::String, vec, vec::Vec};
use std::{
    fs::File,
    io::{self, Read},
    path::{Path, PathBuf},
};

use zeroize::Zeroizing;

use crate::StoreError;

/// The largest password file read (1 MiB).
pub(crate) const MAX_PASSFILE_LEN: u64 = 1 << 20;

/// Why a password file was not used.
#[derive(Debug)]
pub(crate) struct Ignored {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

impl Ignored {
    /// `error`, saying the file was ignored (which may be why it happened).
    pub fn explain(self, error: StoreError) -> StoreError {
        StoreError::PasswordFileIgnored {
            path: self.path.display().to_string(),
            reason: self.reason,
            error: Box::new(error),
        }
    }
}

/// The contents of the password file at `path`; `Ok(None)` when there is none.
///
/// # Errors
/// [`Ignored`] when the file exists but must not or cannot be used.
pub(crate) fn read(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, Ignored> {
    let ignored = |reason: String| Ignored {
        path: path.to_owned(),
        reason,
    };
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ignored(format!("it cannot be opened: {e}"))),
    };
    // The opened file's own metadata: nothing can be swapped in between.
    let meta = file
        .metadata()
        .map_err(|e| ignored(format!("its metadata cannot be read: {e}")))?;
    if !meta.is_file() {
        return Err(ignored("it is not a regular file".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ignored(format!(
                "its permissions are {mode:04o}: group or others have access, and libpq ignores \
                 such a file too; run chmod 600 on it"
            )));
        }
    }
    if meta.len() > MAX_PASSFILE_LEN {
        return Err(ignored(format!(
            "it is larger than {MAX_PASSFILE_LEN} bytes"
        )));
    }
    // A fixed buffer: a growing one would leave copies of the passwords behind.
    let capacity = usize::try_from(meta.len()).unwrap_or(0).saturating_add(1);
    let mut contents = Zeroizing::new(vec![0_u8; capacity]);
    let mut filled = 0;
    while let Some(free) = contents.get_mut(filled..).filter(|free| !free.is_empty()) {
        match file.read(free) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ignored(format!("it cannot be read: {e}"))),
        }
    }
    if filled == capacity {
        return Err(ignored("it grew while being read".into()));
    }
    contents.truncate(filled);
    Ok(Some(contents))
}

/// What a line must match: the connection's host, port, database and user, as bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lookup<'a> {
    /// The host name, the Unix socket directory, or `localhost` for the default directory.
    pub host: &'a [u8],
    /// The port, in decimal.
    pub port: &'a [u8],
    /// The database.
    pub database: &'a [u8],
    /// The user.
    pub user: &'a [u8],
}

/// The password of the first line of `contents` matching `lookup`.
///
/// A matching line with an empty password gives `Some` of an empty password.
pub(crate) fn find(contents: &[u8], lookup: Lookup<'_>) -> Option<Zeroizing<Vec<u8>>> {
    contents
        .split(|&b| b == b'\n')
        .filter(|line| line.first() != Some(&b'#'))
        .find_map(|line| {
            // libpq strips every `\r` (and `\n`) ending a line.
            let end = line
                .iter()
                .rposition(|&b| b != b'\r')
                .map_or(0, |at| at + 1);
            let line = line.get(..end)?;
            let rest = field(line, lookup.host)?;
            let rest = field(rest, lookup.port)?;
            let rest = field(rest, lookup.database)?;
            let rest = field(rest, lookup.user)?;
            Some(password(rest))
        })
}

/// libpq's field match: when the field at the start of `line` is `*` or, unescaped, `token`,
/// the rest of the line after the field's `:`.
fn field<'l>(line: &'l [u8], token: &[u8]) -> Option<&'l [u8]> {
    if let Some(rest) = line.strip_prefix(b"*:") {
        return Some(rest);
    }
    let mut token = token;
    let mut at = 0;
    loop {
        let (byte, escaped) = match *line.get(at)? {
            b'\\' => {
                at += 1;
                (*line.get(at)?, true)
            }
            byte => (byte, false),
        };
        if byte == b':' && !escaped && token.is_empty() {
            return line.get(at + 1..);
        }
        let (&want, tail) = token.split_first()?;
        if byte != want {
            return None;
        }
        token = tail;
        at += 1;
    }
}

/// The password field, up to an unescaped `:` or the end of the line, unescaped.
fn password(field: &[u8]) -> Zeroizing<Vec<u8>> {
    // Never more than `field`: no reallocation leaves a copy behind.
    let mut out = Zeroizing::new(Vec::with_capacity(field.len()));
    let mut bytes = field.iter();
    while let Some(&byte) = bytes.next() {
        match byte {
            b':' => break,
            b'\\' => out.push(bytes.next().copied().unwrap_or(b'\\')),
            byte => out.push(byte),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOKUP: Lookup<'static> = Lookup {
        host: b"db.example",
        port: b"5432",
        database: b"alb",
        user: b"alb",
    };

    fn found(contents: &str, lookup: Lookup<'_>) -> Option<String> {
        find(contents.as_bytes(), lookup).map(|p| String::from_utf8(p.to_vec()).unwrap())
    }

    /// (file, password found for `LOOKUP`).
    const TABLE: &[(&str, Option<&str>)] = &[
        ("db.example:5432:alb:alb:pw", Some("pw")),
        ("db.example:5432:alb:alb:pw\n", Some("pw")),
        ("db.example:5432:alb:alb:pw\r\n", Some("pw")),
        ("db.example:5432:alb:alb:pw\r\r\nx", Some("pw")),
        ("*:*:*:*:pw", Some("pw")),
        ("*:5432:*:alb:pw", Some("pw")),
        ("db.example:5433:alb:alb:pw", None),
        ("db.example:5432:alb:other:pw", None),
        ("db.example:5432:alb:alb", None),
        ("db.example:5432:alb:alb:", Some("")),
        ("db.*:5432:alb:alb:pw", None),
        ("**:5432:alb:alb:pw", None),
        ("#db.example:5432:alb:alb:pw", None),
        ("# comment\ndb.example:5432:alb:alb:second", Some("second")),
        ("*:*:*:*:first\n*:*:*:*:second", Some("first")),
        ("other:*:*:*:x\n\n*:*:*:*:second", Some("second")),
        ("db.example:5432:alb:alb:p\\:w\\\\x", Some("p:w\\x")),
        ("db.example:5432:alb:alb:p:w", Some("p")),
        ("db.example:5432:alb:alb:pw\\", Some("pw\\")),
        ("db\\.example:5432:alb:alb:pw", Some("pw")),
        ("db.example:5432:alb:alb\\", None),
        ("DB.EXAMPLE:5432:alb:alb:pw", None),
        ("", None),
        (":::::", None),
    ];

    #[test]
    fn lines() {
        for (contents, password) in TABLE {
            assert_eq!(
                found(contents, LOOKUP).as_deref(),
                *password,
                "{contents:?}"
            );
        }
    }

    #[test]
    fn escaped_colons_in_fields() {
        let ipv6 = Lookup {
            host: b"::1",
            ..LOOKUP
        };
        assert_eq!(
            found("\\:\\:1:5432:alb:alb:pw", ipv6).as_deref(),
            Some("pw")
        );
        // libpq compares an unescaped `:` with the host's own `:` too.
        assert_eq!(found("::1:5432:alb:alb:pw", ipv6).as_deref(), Some("pw"));
        let socket = Lookup {
            host: b"/run/pg",
            ..LOOKUP
        };
        assert_eq!(
            found("/run/pg:5432:alb:alb:pw", socket).as_deref(),
            Some("pw")
        );
    }

    #[test]
    fn files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        assert!(read(&path).unwrap().is_none());
        std::fs::write(&path, "*:*:*:*:pw\n").unwrap();
        for mode in [0o644, 0o640, 0o604, 0o610, 0o601] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let ignored = read(&path).unwrap_err();
            assert!(
                ignored.reason.contains(&format!("{mode:04o}")),
                "{ignored:?}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(&**read(&path).unwrap().unwrap(), b"*:*:*:*:pw\n");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(read(&path).unwrap().is_some());
        assert!(
            read(dir.path())
                .unwrap_err()
                .reason
                .contains("regular file")
        );
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'#'; 1 << 20]).unwrap();
        std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(&big).unwrap().unwrap().len(), 1 << 20);
        std::fs::write(&big, vec![b'#'; (1 << 20) + 1]).unwrap();
        assert!(read(&big).unwrap_err().reason.contains("larger"));
    }
}
