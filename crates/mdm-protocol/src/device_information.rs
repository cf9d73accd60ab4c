//! The `DeviceInformation` response keys an Activation Lock unlock needs.

use plist::Dictionary;

use crate::{
    ParseError,
    fields::{DictWriter, Fields},
};

/// `ServiceSubscriptions[].Slot` of the first SIM slot.
pub const SLOT_ONE: &str = "CTSubscriptionSlotOne";
/// `ServiceSubscriptions[].Slot` of the second SIM slot.
pub const SLOT_TWO: &str = "CTSubscriptionSlotTwo";

/// `QueryResponses` of a `DeviceInformation` response: the typed keys, the rest kept verbatim.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceInformationResponse {
    /// `UDID`.
    pub udid: Option<String>,
    /// `SerialNumber`.
    pub serial_number: Option<String>,
    /// `ProductName`: the product type the unlock request needs, e.g. `iPad8,12`.
    pub product_name: Option<String>,
    /// `ModelName`, e.g. `iPad`.
    pub model_name: Option<String>,
    /// `Model`.
    pub model: Option<String>,
    /// `ModelNumber`, e.g. `MK1A3LL/A`.
    pub model_number: Option<String>,
    /// `DeviceName`.
    pub device_name: Option<String>,
    /// `OSVersion`.
    pub os_version: Option<String>,
    /// `BuildVersion`.
    pub build_version: Option<String>,
    /// `IMEI` (top level; deprecated in iOS 16 in favour of `ServiceSubscriptions`).
    pub imei: Option<String>,
    /// `MEID` (top level; deprecated in iOS 16).
    pub meid: Option<String>,
    /// `ServiceSubscriptions`: one entry per SIM slot (iOS 12 and later).
    pub service_subscriptions: Vec<ServiceSubscription>,
    /// Every other `QueryResponses` key, kept verbatim.
    pub extra: Dictionary,
}

/// One `ServiceSubscriptions` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceSubscription {
    /// `Slot`: [`SLOT_ONE`] or [`SLOT_TWO`].
    pub slot: Option<String>,
    /// `IMEI` of this slot's modem.
    pub imei: Option<String>,
    /// `MEID` of this slot's modem.
    pub meid: Option<String>,
    /// `ICCID` of the SIM.
    pub iccid: Option<String>,
    /// `EID` of the eSIM.
    pub eid: Option<String>,
    /// `Label`.
    pub label: Option<String>,
    /// `PhoneNumber`.
    pub phone_number: Option<String>,
    /// `IsDataPreferred`.
    pub is_data_preferred: Option<bool>,
    /// `IsVoicePreferred`.
    pub is_voice_preferred: Option<bool>,
    /// `IsRoaming`.
    pub is_roaming: Option<bool>,
    /// Every other key, kept verbatim.
    pub extra: Dictionary,
}

/// The cellular identifiers an escrow-key unlock request sends (all absent on Wi-Fi-only devices).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CellularIdentity {
    /// `imei`: slot one's IMEI (or the top-level `IMEI`).
    pub imei: Option<String>,
    /// `imei2`: slot two's IMEI (dual-SIM devices only).
    pub imei2: Option<String>,
    /// `meid`: slot one's MEID (or the top-level `MEID`).
    pub meid: Option<String>,
}

/// `Some` only for a non-blank value: devices report `""` for a missing modem.
fn non_blank(value: Option<&String>) -> Option<String> {
    value
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

impl DeviceInformationResponse {
    /// The product type for the unlock request (`ProductName`, e.g. `iPad4,1`).
    #[must_use]
    pub fn product_type(&self) -> Option<&str> {
        self.product_name.as_deref()
    }

    /// The subscription of the given slot.
    #[must_use]
    pub fn slot(&self, slot: &str) -> Option<&ServiceSubscription> {
        self.service_subscriptions
            .iter()
            .find(|s| s.slot.as_deref() == Some(slot))
    }

    /// IMEI/MEID by SIM slot: slot one gives `imei` and `meid`, slot two gives `imei2`; the
    /// top-level `IMEI`/`MEID` stand in where slot one has none.
    #[must_use]
    pub fn cellular_identity(&self) -> CellularIdentity {
        let one = self.slot(SLOT_ONE);
        let two = self.slot(SLOT_TWO);
        CellularIdentity {
            imei: non_blank(one.and_then(|s| s.imei.as_ref()))
                .or_else(|| non_blank(self.imei.as_ref())),
            imei2: non_blank(two.and_then(|s| s.imei.as_ref())),
            meid: non_blank(one.and_then(|s| s.meid.as_ref()))
                .or_else(|| non_blank(self.meid.as_ref())),
        }
    }

    pub(crate) fn read(mut q: Fields) -> Result<Self, ParseError> {
        let mut subscriptions = Vec::new();
        // An empty array stays in `extra`, so that it is written back as it came.
        let empty = matches!(
            q.peek("ServiceSubscriptions"),
            Some(plist::Value::Array(items)) if items.is_empty()
        );
        let items = if empty {
            None
        } else {
            q.opt_dict_array("ServiceSubscriptions")?
        };
        for mut s in items.unwrap_or_default() {
            subscriptions.push(ServiceSubscription {
                slot: s.opt_string("Slot")?,
                imei: s.opt_string("IMEI")?,
                meid: s.opt_string("MEID")?,
                iccid: s.opt_string("ICCID")?,
                eid: s.opt_string("EID")?,
                label: s.opt_string("Label")?,
                phone_number: s.opt_string("PhoneNumber")?,
                is_data_preferred: s.opt_bool("IsDataPreferred")?,
                is_voice_preferred: s.opt_bool("IsVoicePreferred")?,
                is_roaming: s.opt_bool("IsRoaming")?,
                extra: s.rest(),
            });
        }
        Ok(Self {
            udid: q.opt_string("UDID")?,
            serial_number: q.opt_string("SerialNumber")?,
            product_name: q.opt_string("ProductName")?,
            model_name: q.opt_string("ModelName")?,
            model: q.opt_string("Model")?,
            model_number: q.opt_string("ModelNumber")?,
            device_name: q.opt_string("DeviceName")?,
            os_version: q.opt_string("OSVersion")?,
            build_version: q.opt_string("BuildVersion")?,
            imei: q.opt_string("IMEI")?,
            meid: q.opt_string("MEID")?,
            service_subscriptions: subscriptions,
            extra: q.rest(),
        })
    }

    pub(crate) fn write(&self, redact: bool) -> Dictionary {
        let mut out = DictWriter::with_extra(redact, &self.extra);
        out.opt_string("UDID", self.udid.as_deref())
            .opt_string("SerialNumber", self.serial_number.as_deref())
            .opt_string("ProductName", self.product_name.as_deref())
            .opt_string("ModelName", self.model_name.as_deref())
            .opt_string("Model", self.model.as_deref())
            .opt_string("ModelNumber", self.model_number.as_deref())
            .opt_string("DeviceName", self.device_name.as_deref())
            .opt_string("OSVersion", self.os_version.as_deref())
            .opt_string("BuildVersion", self.build_version.as_deref())
            .opt_string("IMEI", self.imei.as_deref())
            .opt_string("MEID", self.meid.as_deref());
        if !self.service_subscriptions.is_empty() {
            let items = self
                .service_subscriptions
                .iter()
                .map(|s| {
                    let mut d = DictWriter::with_extra(redact, &s.extra);
                    d.opt_string("Slot", s.slot.as_deref())
                        .opt_string("IMEI", s.imei.as_deref())
                        .opt_string("MEID", s.meid.as_deref())
                        .opt_string("ICCID", s.iccid.as_deref())
                        .opt_string("EID", s.eid.as_deref())
                        .opt_string("Label", s.label.as_deref())
                        .opt_string("PhoneNumber", s.phone_number.as_deref())
                        .opt_bool("IsDataPreferred", s.is_data_preferred)
                        .opt_bool("IsVoicePreferred", s.is_voice_preferred)
                        .opt_bool("IsRoaming", s.is_roaming);
                    plist::Value::Dictionary(d.finish())
                })
                .collect();
            out.value("ServiceSubscriptions", plist::Value::Array(items));
        }
        out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_identifiers_stand_in_for_slot_one() {
        let info = DeviceInformationResponse {
            imei: Some("111".into()),
            meid: Some(String::new()),
            service_subscriptions: vec![ServiceSubscription {
                slot: Some(SLOT_TWO.into()),
                imei: Some(" 222 ".into()),
                ..ServiceSubscription::default()
            }],
            ..DeviceInformationResponse::default()
        };
        assert_eq!(
            info.cellular_identity(),
            CellularIdentity {
                imei: Some("111".into()),
                imei2: Some("222".into()),
                meid: None,
            }
        );
    }

    #[test]
    fn wifi_only_devices_have_no_cellular_identity() {
        let info = DeviceInformationResponse {
            imei: Some(String::new()),
            service_subscriptions: vec![ServiceSubscription {
                slot: Some(SLOT_ONE.into()),
                imei: Some(String::new()),
                ..ServiceSubscription::default()
            }],
            ..DeviceInformationResponse::default()
        };
        assert_eq!(info.cellular_identity(), CellularIdentity::default());
    }
}
