//! The fields of the unlock request: their names on the wire, their rules, and how the values
//! devices report (IMEIs with spaces) become what the wire carries.

use core::fmt;

/// The longest organisation name or requester accepted, in bytes.
pub const MAX_TEXT_LEN: usize = 256;
/// The longest serial number accepted, in characters.
pub const MAX_SERIAL_LEN: usize = 32;

/// A field of the unlock request, named as Apple names it on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The device's serial number (`serial`, query).
    Serial,
    /// The device's product type, such as `iPad4,1` (`productType`, query).
    ProductType,
    /// The first IMEI (`imei`, query).
    Imei,
    /// The second IMEI of a dual-SIM device (`imei2`, query).
    Imei2,
    /// The MEID (`meid`, query).
    Meid,
    /// The organisation, for Apple's audit (`orgName`, form body).
    OrgName,
    /// Who asks: e-mail, LDAP id or name (`guid`, form body).
    Guid,
}

impl Field {
    /// The parameter name Apple uses.
    #[must_use]
    pub const fn wire_name(self) -> &'static str {
        match self {
            Self::Serial => "serial",
            Self::ProductType => "productType",
            Self::Imei => "imei",
            Self::Imei2 => "imei2",
            Self::Meid => "meid",
            Self::OrgName => "orgName",
            Self::Guid => "guid",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// Why an unlock request is not valid. The value itself is never repeated (it may be personal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// A required field is absent or empty.
    #[error("`{field}` is required")]
    Missing {
        /// The field.
        field: Field,
    },
    /// A field is present but not well formed.
    #[error("`{field}` is not valid: {reason}")]
    Invalid {
        /// The field.
        field: Field,
        /// What is wrong with it.
        reason: &'static str,
    },
}

pub(crate) fn validate_serial(serial: &str) -> Result<(), RequestError> {
    let field = Field::Serial;
    if serial.is_empty() {
        return Err(RequestError::Missing { field });
    }
    if serial.len() > MAX_SERIAL_LEN {
        return Err(RequestError::Invalid {
            field,
            reason: "longer than 32 characters",
        });
    }
    if !serial.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(RequestError::Invalid {
            field,
            reason: "only ASCII letters and digits are allowed",
        });
    }
    Ok(())
}

/// `iPad4,1`: a model name of ASCII letters, a major number, a comma, a minor number.
pub(crate) fn validate_product_type(product_type: &str) -> Result<(), RequestError> {
    let field = Field::ProductType;
    if product_type.is_empty() {
        return Err(RequestError::Missing { field });
    }
    let invalid = RequestError::Invalid {
        field,
        reason: "expected a model name, a number, a comma and a number, like `iPad4,1`",
    };
    let name_len = product_type
        .bytes()
        .take_while(u8::is_ascii_alphabetic)
        .count();
    let Some((major, minor)) = product_type[name_len..].split_once(',') else {
        return Err(invalid);
    };
    let is_number =
        |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    if name_len == 0 || name_len > 32 || !is_number(major) || !is_number(minor) {
        return Err(invalid);
    }
    Ok(())
}

/// An IMEI or MEID as the wire carries it: the value with its spaces removed. Devices report
/// them grouped with spaces, as in Apple's `DeviceInformation` example (`35 735005 003432 4`);
/// the request carries the bare digits. Other characters are kept, so validation still sees
/// (and refuses) them.
///
/// ```
/// assert_eq!(escrow_client::normalize_imei("35 735005 003432 4"), "357350050034324");
/// ```
#[must_use]
pub fn normalize_imei(reported: &str) -> String {
    reported.chars().filter(|c| *c != ' ').collect()
}

/// The MEID as the wire carries it: spaces removed, like [`normalize_imei`].
#[must_use]
pub fn normalize_meid(reported: &str) -> String {
    normalize_imei(reported)
}

/// 15 decimal digits.
pub(crate) fn validate_imei(field: Field, imei: &str) -> Result<(), RequestError> {
    if imei.is_empty() {
        return Err(RequestError::Missing { field });
    }
    if imei.len() != 15 || !imei.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RequestError::Invalid {
            field,
            reason: "expected 15 decimal digits (spaces are ignored)",
        });
    }
    Ok(())
}

/// Checks an IMEI a person typed (not one a device reported): 15 decimal digits once spaces
/// are removed, the last a Luhn check digit over the first 14. Catches a mistyped digit before
/// any request is sent; returns the normalised value.
///
/// ```
/// assert_eq!(
///     escrow_client::check_typed_imei(escrow_client::Field::Imei, "35 209900 176148 1").unwrap(),
///     "352099001761481"
/// );
/// assert!(escrow_client::check_typed_imei(escrow_client::Field::Imei, "352099001761482").is_err());
/// ```
///
/// # Errors
/// [`RequestError::Invalid`] naming `field` when the value is not 15 digits or its check digit
/// does not match; [`RequestError::Missing`] when it is empty.
pub fn check_typed_imei(field: Field, typed: &str) -> Result<String, RequestError> {
    let imei = normalize_imei(typed);
    validate_imei(field, &imei)?;
    let (body, check) = imei.split_at(14);
    if imei_check_digit(body).map(|digit| b'0' + digit) != check.bytes().next() {
        return Err(RequestError::Invalid {
            field,
            reason: "the check digit (Luhn) does not match",
        });
    }
    Ok(imei)
}

/// The Luhn check digit (0–9) that completes the first 14 digits of an IMEI, or `None` when
/// `body` is not exactly 14 ASCII decimal digits.
///
/// ```
/// // The widely quoted example IMEI 35 209900 176148 1.
/// assert_eq!(escrow_client::imei_check_digit("35209900176148"), Some(1));
/// assert_eq!(escrow_client::imei_check_digit("3520990017614"), None);
/// ```
#[must_use]
pub fn imei_check_digit(body: &str) -> Option<u8> {
    if body.len() != 14 || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // From the rightmost body digit (the one next to the check digit) leftwards, every other
    // digit is doubled, starting with that one; a doubled digit above 9 counts as its digit sum.
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let doubled = d * 2;
                doubled / 10 + doubled % 10
            } else {
                d
            }
        })
        .sum();
    u8::try_from((10 - sum % 10) % 10).ok()
}

/// 14 hexadecimal digits (either case).
pub(crate) fn validate_meid(meid: &str) -> Result<(), RequestError> {
    let field = Field::Meid;
    if meid.is_empty() {
        return Err(RequestError::Missing { field });
    }
    if meid.len() != 14 || !meid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(RequestError::Invalid {
            field,
            reason: "expected 14 hexadecimal digits",
        });
    }
    Ok(())
}

pub(crate) fn validate_text(field: Field, text: &str) -> Result<(), RequestError> {
    if text.trim().is_empty() {
        return Err(RequestError::Missing { field });
    }
    if text.len() > MAX_TEXT_LEN {
        return Err(RequestError::Invalid {
            field,
            reason: "longer than 256 bytes",
        });
    }
    if text.chars().any(char::is_control) {
        return Err(RequestError::Invalid {
            field,
            reason: "control characters are not allowed",
        });
    }
    Ok(())
}
