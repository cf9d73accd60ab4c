//! The unlock request: which device, who asks, and how it is written on the wire.

use bypass_code::BypassCode;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use zeroize::Zeroizing;

use crate::field::{
    Field, RequestError, normalize_imei, normalize_meid, validate_imei, validate_meid,
    validate_product_type, validate_serial, validate_text,
};

/// Every byte but the RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`) is percent-encoded,
/// in the query and in the form body alike: a space is `%20`, `+` is `%2B`, `&` is `%26`.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Which device to unlock and who asks: everything the escrow-key unlock request carries except
/// the bypass code, which [`EscrowClient`](crate::EscrowClient) takes separately so that one
/// request can be tried with several codes.
///
/// Built with [`UnlockRequest::builder`]; [`UnlockRequestBuilder::build`] validates every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlockRequest {
    serial: String,
    product_type: String,
    imei: Option<String>,
    imei2: Option<String>,
    meid: Option<String>,
    org_name: String,
    guid: String,
}

impl UnlockRequest {
    /// Starts a request; set at least serial, product type, organisation name and guid.
    #[must_use]
    pub fn builder() -> UnlockRequestBuilder {
        UnlockRequestBuilder::default()
    }

    /// The device's serial number.
    #[must_use]
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The device's product type (`iPad4,1`).
    #[must_use]
    pub fn product_type(&self) -> &str {
        &self.product_type
    }

    /// The first IMEI, for cellular devices.
    #[must_use]
    pub fn imei(&self) -> Option<&str> {
        self.imei.as_deref()
    }

    /// The second IMEI, for dual-SIM devices.
    #[must_use]
    pub fn imei2(&self) -> Option<&str> {
        self.imei2.as_deref()
    }

    /// The MEID, for CDMA devices.
    #[must_use]
    pub fn meid(&self) -> Option<&str> {
        self.meid.as_deref()
    }

    /// The organisation name sent for Apple's audit.
    #[must_use]
    pub fn org_name(&self) -> &str {
        &self.org_name
    }

    /// Who asks.
    #[must_use]
    pub fn guid(&self) -> &str {
        &self.guid
    }

    /// Checks every field: required ones present, product type shaped like `iPad4,1`, IMEIs of
    /// 15 decimal digits and a MEID of 14 hexadecimal digits (as [`normalize_imei`] and
    /// [`normalize_meid`] leave them).
    ///
    /// The IMEI's check digit is not checked here: the request carries what the device
    /// reported, which is what Apple compares (Apple's own example IMEIs fail the Luhn check).
    /// A value a person typed can be checked first with [`check_typed_imei`](crate::check_typed_imei).
    ///
    /// # Errors
    /// The first field that is missing or malformed.
    pub fn validate(&self) -> Result<(), RequestError> {
        validate_serial(&self.serial)?;
        validate_product_type(&self.product_type)?;
        if let Some(imei) = &self.imei {
            validate_imei(Field::Imei, imei)?;
        }
        if let Some(imei2) = &self.imei2 {
            validate_imei(Field::Imei2, imei2)?;
        }
        if let Some(meid) = &self.meid {
            validate_meid(meid)?;
        }
        validate_text(Field::OrgName, &self.org_name)?;
        validate_text(Field::Guid, &self.guid)?;
        Ok(())
    }

    /// The URL query: `serial`, `productType`, then `imei`, `imei2`, `meid` when present, each
    /// value percent-encoded.
    #[must_use]
    pub fn query(&self) -> String {
        let mut query = String::new();
        let pairs = [
            (Field::Serial, Some(self.serial.as_str())),
            (Field::ProductType, Some(self.product_type.as_str())),
            (Field::Imei, self.imei.as_deref()),
            (Field::Imei2, self.imei2.as_deref()),
            (Field::Meid, self.meid.as_deref()),
        ];
        for (field, value) in pairs {
            if let Some(value) = value {
                push_pair(&mut query, field.wire_name(), value);
            }
        }
        query
    }

    /// The form body: `orgName`, `guid` and `escrowKey` (the code's dashed form), each value
    /// percent-encoded. The buffer is wiped when dropped: it holds the code.
    #[must_use]
    pub fn form_body(&self, code: &BypassCode) -> Zeroizing<Vec<u8>> {
        let mut body = Zeroizing::new(String::with_capacity(
            64 + 3 * (self.org_name.len() + self.guid.len()),
        ));
        push_pair(&mut body, Field::OrgName.wire_name(), &self.org_name);
        push_pair(&mut body, Field::Guid.wire_name(), &self.guid);
        let mut buf = Zeroizing::new([0u8; bypass_code::ENCODED_LEN]);
        let dashed = code.encode(&mut buf);
        push_pair(&mut body, "escrowKey", dashed);
        Zeroizing::new(core::mem::take(&mut *body).into_bytes())
    }
}

/// Appends `name=value` (value percent-encoded), after a `&` unless `out` is empty.
pub(crate) fn push_pair(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() {
        out.push('&');
    }
    out.push_str(name);
    out.push('=');
    for piece in utf8_percent_encode(value, VALUE) {
        out.push_str(piece);
    }
}

/// Builds an [`UnlockRequest`]; [`build`](Self::build) validates it.
#[derive(Debug, Clone, Default)]
pub struct UnlockRequestBuilder {
    serial: String,
    product_type: String,
    imei: Option<String>,
    imei2: Option<String>,
    meid: Option<String>,
    org_name: String,
    guid: String,
}

impl UnlockRequestBuilder {
    /// The device's serial number (required).
    #[must_use]
    pub fn serial(mut self, serial: impl Into<String>) -> Self {
        self.serial = serial.into();
        self
    }

    /// The device's product type, such as `iPad4,1` (required).
    #[must_use]
    pub fn product_type(mut self, product_type: impl Into<String>) -> Self {
        self.product_type = product_type.into();
        self
    }

    /// The first IMEI (cellular devices only), as the device reported it: spaces are removed
    /// ([`normalize_imei`]).
    #[must_use]
    pub fn imei(mut self, imei: impl Into<String>) -> Self {
        self.imei = Some(imei.into());
        self
    }

    /// The second IMEI (dual-SIM devices only), spaces removed like [`imei`](Self::imei).
    #[must_use]
    pub fn imei2(mut self, imei2: impl Into<String>) -> Self {
        self.imei2 = Some(imei2.into());
        self
    }

    /// The MEID (CDMA devices only), spaces removed ([`normalize_meid`]).
    #[must_use]
    pub fn meid(mut self, meid: impl Into<String>) -> Self {
        self.meid = Some(meid.into());
        self
    }

    /// The organisation name, for Apple's audit (required).
    #[must_use]
    pub fn org_name(mut self, org_name: impl Into<String>) -> Self {
        self.org_name = org_name.into();
        self
    }

    /// Who asks: e-mail, LDAP id or name (required).
    #[must_use]
    pub fn guid(mut self, guid: impl Into<String>) -> Self {
        self.guid = guid.into();
        self
    }

    /// Validates and returns the request.
    ///
    /// # Errors
    /// The first missing or malformed field ([`UnlockRequest::validate`]).
    pub fn build(self) -> Result<UnlockRequest, RequestError> {
        let request = UnlockRequest {
            serial: self.serial,
            product_type: self.product_type,
            imei: self.imei.as_deref().map(normalize_imei),
            imei2: self.imei2.as_deref().map(normalize_imei),
            meid: self.meid.as_deref().map(normalize_meid),
            org_name: self.org_name,
            guid: self.guid,
        };
        request.validate()?;
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::check_typed_imei;

    fn base() -> UnlockRequestBuilder {
        UnlockRequest::builder()
            .serial("DMPXK0ABCD12")
            .product_type("iPad4,1")
            .org_name("Example & Sons, Ltd.")
            .guid("ops+lock@example.com")
    }

    #[test]
    fn query_orders_and_omits_absent_fields() {
        let request = base().build().unwrap();
        assert_eq!(request.query(), "serial=DMPXK0ABCD12&productType=iPad4%2C1");
        let request = base()
            .imei("490154203237518")
            .meid("A1000012345678")
            .build()
            .unwrap();
        assert_eq!(
            request.query(),
            "serial=DMPXK0ABCD12&productType=iPad4%2C1&imei=490154203237518&meid=A1000012345678"
        );
    }

    #[test]
    fn form_body_percent_encodes_every_value() {
        let request = base().build().unwrap();
        let code: BypassCode = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3".parse().unwrap();
        let body = request.form_body(&code);
        assert_eq!(
            core::str::from_utf8(&body).unwrap(),
            "orgName=Example%20%26%20Sons%2C%20Ltd.&guid=ops%2Block%40example.com\
             &escrowKey=A8QK7-GFG21-6RHT-V0U9-756P-L7E3"
        );
    }

    #[test]
    fn non_ascii_is_utf8_percent_encoded() {
        let request = base().org_name("Société Générale").build().unwrap();
        let code: BypassCode = "A8QK7-GFG21-6RHT-V0U9-756P-L7E3".parse().unwrap();
        let body = request.form_body(&code);
        assert!(
            core::str::from_utf8(&body)
                .unwrap()
                .starts_with("orgName=Soci%C3%A9t%C3%A9%20G%C3%A9n%C3%A9rale&")
        );
    }

    #[test]
    fn each_failure_names_its_field() {
        let cases: Vec<(UnlockRequestBuilder, RequestError)> = vec![
            (
                base().serial(""),
                RequestError::Missing {
                    field: Field::Serial,
                },
            ),
            (
                base().product_type(""),
                RequestError::Missing {
                    field: Field::ProductType,
                },
            ),
            (
                base().org_name("  "),
                RequestError::Missing {
                    field: Field::OrgName,
                },
            ),
            (
                base().guid(""),
                RequestError::Missing { field: Field::Guid },
            ),
        ];
        for (builder, expected) in cases {
            assert_eq!(builder.build().unwrap_err(), expected);
        }
        let invalid = |builder: UnlockRequestBuilder| match builder.build().unwrap_err() {
            RequestError::Invalid { field, .. } => field,
            other => panic!("expected Invalid, got {other:?}"),
        };
        assert_eq!(invalid(base().serial("DMPX K0")), Field::Serial);
        for bad in [
            "iPad", "iPad4", "iPad4,", "4,1", "iPad4;1", "iPad4,1a", "iPad,1",
        ] {
            assert_eq!(
                invalid(base().product_type(bad)),
                Field::ProductType,
                "{bad}"
            );
        }
        assert_eq!(invalid(base().imei("49015420323751")), Field::Imei);
        assert_eq!(invalid(base().imei("35 735005 003432 45")), Field::Imei);
        assert_eq!(invalid(base().imei("35-735005-003432-4")), Field::Imei);
        assert_eq!(invalid(base().imei2("49015420323751x")), Field::Imei2);
        assert_eq!(invalid(base().meid("A100001234567")), Field::Meid);
        assert_eq!(invalid(base().meid("G1000012345678")), Field::Meid);
        assert_eq!(invalid(base().guid("a\nb")), Field::Guid);
        assert_eq!(invalid(base().org_name("x".repeat(257))), Field::OrgName);
        for good in ["iPhone10,3", "Watch5,1", "AppleTV5,3", "MacBookPro18,3"] {
            assert!(base().product_type(good).build().is_ok(), "{good}");
        }
    }

    proptest::proptest! {
        /// Whatever the organisation and requester say, the body has exactly three fields and
        /// each decodes back to what was given: no value can inject a field.
        #[test]
        fn form_values_round_trip_and_cannot_inject(
            org in "[^\\p{Cc}]{1,64}",
            guid in "[^\\p{Cc}]{1,64}",
            raw in proptest::array::uniform16(0u8..),
        ) {
            proptest::prop_assume!(!org.trim().is_empty() && !guid.trim().is_empty());
            let request = base().org_name(org.clone()).guid(guid.clone()).build().unwrap();
            let code = BypassCode::from(raw);
            let body = request.form_body(&code);
            let body = core::str::from_utf8(&body).unwrap();
            let fields: Vec<(&str, String)> = body
                .split('&')
                .map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap();
                    let value = percent_encoding::percent_decode_str(value).decode_utf8().unwrap();
                    (name, value.into_owned())
                })
                .collect();
            proptest::prop_assert_eq!(
                fields,
                vec![("orgName", org), ("guid", guid), ("escrowKey", code.to_string())]
            );
            proptest::prop_assert!(body.bytes().all(|b| b.is_ascii_graphic()));
        }
    }

    #[test]
    fn error_messages_do_not_repeat_values() {
        let err = check_typed_imei(Field::Imei2, "490154203237517").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`imei2` is not valid: the check digit (Luhn) does not match"
        );
        let err = base().imei("4901542032375").build().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`imei` is not valid: expected 15 decimal digits (spaces are ignored)"
        );
    }

    /// Devices report IMEIs grouped with spaces (Apple's `DeviceInformation` example:
    /// `35 735005 003432 4`, whose check digit does not even match): the request carries the 15
    /// digits as reported, without the spaces, and does not refuse them for their check digit.
    #[test]
    fn reported_imeis_are_sent_as_digits_whatever_their_check_digit() {
        let request = base()
            .imei("35 735005 003432 4")
            .imei2("35 209900 176148 1")
            .meid("35 209900 176148")
            .build()
            .unwrap();
        assert_eq!(request.imei(), Some("357350050034324"));
        assert_eq!(request.imei2(), Some("352099001761481"));
        assert_eq!(request.meid(), Some("35209900176148"));
        assert_eq!(
            request.query(),
            "serial=DMPXK0ABCD12&productType=iPad4%2C1&imei=357350050034324\
             &imei2=352099001761481&meid=35209900176148"
        );
        // Typed by a person, the same value is caught by its check digit.
        assert!(check_typed_imei(Field::Imei, "35 735005 003432 4").is_err());
        assert_eq!(
            check_typed_imei(Field::Imei, " 35 209900 176148 1").unwrap(),
            "352099001761481"
        );
    }
}
