//! Lists of devices, as an operator keeps them (`alb generate --serials`, `alb lock
//! --serials`): one device per line, `SERIAL` or `SERIAL UDID`.

use code_store::ServerCodeTarget;

/// A line of a device list is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct DeviceListError {
    /// The file.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Parses a list of devices (the bytes of a `--serials` file): one per line, `SERIAL` or
/// `SERIAL UDID` (space, tab or comma separated); blank lines and `#` comments are skipped.
///
/// # Errors
/// [`DeviceListError`] naming the first bad line (not UTF-8, too many fields, an
/// invalid serial number or UDID).
pub fn parse_device_list(
    file: &str,
    bytes: &[u8],
) -> Result<Vec<ServerCodeTarget>, DeviceListError> {
    let mut targets = Vec::new();
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = match core::str::from_utf8(line) {
            Ok(line) => line.trim(),
            Err(error) => {
                return Err(DeviceListError {
                    file: file.to_owned(),
                    line: index + 1,
                    reason: format!(
                        "not UTF-8 (invalid byte at column {})",
                        error.valid_up_to() + 1
                    ),
                });
            }
        };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|f| !f.is_empty())
            .collect();
        let error = |reason: String| DeviceListError {
            file: file.to_owned(),
            line: index + 1,
            reason,
        };
        let target = match fields.as_slice() {
            [serial] => ServerCodeTarget::new(serial, None),
            [serial, udid] => ServerCodeTarget::new(serial, Some(udid)),
            _ => return Err(error("expected SERIAL or SERIAL UDID".to_owned())),
        }
        .map_err(|e| error(e.to_string()))?;
        targets.push(target);
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_lists() {
        let targets =
            parse_device_list("f", b"# fleet\nC02A\n\nC02B, UDID-1\r\nC02C\tUDID-2\n").unwrap();
        assert_eq!(targets.len(), 3);
        assert_eq!(targets[1].udid.as_ref().unwrap().as_str(), "UDID-1");
        let err = parse_device_list("f", b"C02A\nbad serial!\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("f:2:"), "{err}");
        assert!(parse_device_list("f", b"A B C\n").is_err());
        let err = parse_device_list("f", b"C02A\nC02\xffB\n")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "f:2: not UTF-8 (invalid byte at column 4)");
    }
}
