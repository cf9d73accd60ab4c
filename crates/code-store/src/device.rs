//! Device identifiers: [`Udid`] and the validation of identity fields.

use core::fmt;

use crate::StoreError;

/// Longest UDID (or placeholder key) accepted.
pub const MAX_UDID_LEN: usize = 128;
/// Longest serial number, product type, IMEI or MEID accepted.
pub const MAX_FIELD_LEN: usize = 64;

/// The key of a device record: its UDID as the device reports it (e.g.
/// `00008030-001A2D3E0C12802E` or 40 hexadecimal digits).
///
/// A device known only by its serial number (a server code made before enrolment) is keyed by the
/// placeholder `serial:<SERIAL>` ([`Udid::for_serial`]).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Udid(String);

impl Udid {
    /// Checks a UDID: 1 to 128 characters among ASCII letters, digits, `-`, `_`, `.` and `:`.
    ///
    /// # Errors
    /// [`StoreError::InvalidField`] naming the length or the first bad character.
    pub fn new(udid: &str) -> Result<Self, StoreError> {
        check_text("UDID", udid, MAX_UDID_LEN, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
        })?;
        Ok(Self(udid.to_owned()))
    }

    /// The placeholder key of a device known only by its serial number.
    ///
    /// # Errors
    /// [`StoreError::InvalidField`] when the serial number is not valid.
    pub fn for_serial(serial: &str) -> Result<Self, StoreError> {
        check_serial(serial)?;
        Ok(Self(placeholder_key(serial)))
    }

    /// Whether this is a `serial:` placeholder (a device not enrolled yet).
    #[must_use]
    pub fn is_placeholder(&self) -> bool {
        self.0.starts_with("serial:")
    }

    /// The UDID as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Udid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Udid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Udid({})", self.0)
    }
}

impl core::str::FromStr for Udid {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// The key of the placeholder record of `serial` (not checked).
pub(crate) fn placeholder_key(serial: &str) -> String {
    format!("serial:{serial}")
}

/// Checks a serial number: 1 to 64 ASCII letters and digits.
///
/// # Errors
/// [`StoreError::InvalidField`] naming the length or the first bad character.
pub fn check_serial(serial: &str) -> Result<(), StoreError> {
    check_text("serial number", serial, MAX_FIELD_LEN, |c| {
        c.is_ascii_alphanumeric()
    })
}

/// Checks a free identity field (product type, IMEI, MEID): 1 to 64 printable ASCII characters.
///
/// # Errors
/// [`StoreError::InvalidField`] naming the length or the first bad character.
pub fn check_field(field: &'static str, value: &str) -> Result<(), StoreError> {
    check_text(field, value, MAX_FIELD_LEN, |c| {
        c.is_ascii_graphic() || c == ' '
    })
}

fn check_text(
    field: &'static str,
    value: &str,
    max: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<(), StoreError> {
    let len = value.chars().count();
    if len == 0 || len > max {
        return Err(StoreError::InvalidField {
            field,
            reason: format!("expected 1 to {max} characters, found {len}"),
        });
    }
    if let Some((index, c)) = value.chars().enumerate().find(|&(_, c)| !allowed(c)) {
        return Err(StoreError::InvalidField {
            field,
            reason: format!("character {c:?} at position {} is not allowed", index + 1),
        });
    }
    Ok(())
}

/// What identifies a device besides its UDID; each field is `None` until known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The serial number.
    pub serial_number: Option<String>,
    /// The product type, e.g. `iPhone14,2`.
    pub product_type: Option<String>,
    /// The IMEI of the first SIM slot.
    pub imei: Option<String>,
    /// The IMEI of the second SIM slot.
    pub imei2: Option<String>,
    /// The MEID.
    pub meid: Option<String>,
}

impl DeviceIdentity {
    /// Checks every field that is present.
    ///
    /// # Errors
    /// [`StoreError::InvalidField`] for the first bad field.
    pub fn validate(&self) -> Result<(), StoreError> {
        if let Some(serial) = &self.serial_number {
            check_serial(serial)?;
        }
        for (name, value) in [
            ("product type", &self.product_type),
            ("IMEI", &self.imei),
            ("IMEI2", &self.imei2),
            ("MEID", &self.meid),
        ] {
            if let Some(value) = value {
                check_field(name, value)?;
            }
        }
        Ok(())
    }

    /// Takes every field `update` knows; returns the names of the fields that changed.
    pub fn merge(&mut self, update: &Self) -> Vec<&'static str> {
        let mut changed = Vec::new();
        for (name, mine, theirs) in [
            (
                "serial_number",
                &mut self.serial_number,
                &update.serial_number,
            ),
            ("product_type", &mut self.product_type, &update.product_type),
            ("imei", &mut self.imei, &update.imei),
            ("imei2", &mut self.imei2, &update.imei2),
            ("meid", &mut self.meid, &update.meid),
        ] {
            if let Some(value) = theirs
                && mine.as_ref() != Some(value)
            {
                *mine = Some(value.clone());
                changed.push(name);
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udid_validation() {
        assert!(Udid::new("00008030-001A2D3E0C12802E").is_ok());
        assert!(Udid::new("").is_err());
        assert!(Udid::new("a b").is_err());
        assert!(Udid::new(&"a".repeat(129)).is_err());
        assert_eq!(
            Udid::for_serial("C02XL0GHJGH5").unwrap().as_str(),
            "serial:C02XL0GHJGH5"
        );
        assert!(Udid::for_serial("C02 XL").is_err());
    }

    #[test]
    fn merge_reports_changed_fields_only() {
        let mut id = DeviceIdentity {
            serial_number: Some("A1".into()),
            ..DeviceIdentity::default()
        };
        let update = DeviceIdentity {
            serial_number: Some("A1".into()),
            imei: Some("35 123".into()),
            ..DeviceIdentity::default()
        };
        assert_eq!(id.merge(&update), vec!["imei"]);
        assert_eq!(id.merge(&update), Vec::<&str>::new());
        assert_eq!(id.serial_number.as_deref(), Some("A1"));
    }
}
