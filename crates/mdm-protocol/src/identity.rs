//! Who a response or check-in message comes from.

use crate::{
    ParseError,
    fields::{DictWriter, Fields},
};

/// The sender's identity: `UDID` on device enrollments, `EnrollmentID` (and
/// `EnrollmentUserID`) on user enrollments, and the user keys on the user channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// `UDID`: the device's unique identifier.
    pub udid: Option<String>,
    /// `EnrollmentID`: the user-enrollment device identifier.
    pub enrollment_id: Option<String>,
    /// `EnrollmentUserID`: the user-enrollment user identifier.
    pub enrollment_user_id: Option<String>,
    /// `UserID`: the user's identifier on the user channel.
    pub user_id: Option<String>,
    /// `UserShortName`: the user's short name on the user channel.
    pub user_short_name: Option<String>,
    /// `UserLongName`: the user's full name on the user channel.
    pub user_long_name: Option<String>,
    /// `NotOnConsole`: the user is not logged in at the console (macOS).
    pub not_on_console: Option<bool>,
}

impl Identity {
    pub(crate) fn read(fields: &mut Fields) -> Result<Self, ParseError> {
        Ok(Self {
            udid: fields.opt_string("UDID")?,
            enrollment_id: fields.opt_string("EnrollmentID")?,
            enrollment_user_id: fields.opt_string("EnrollmentUserID")?,
            user_id: fields.opt_string("UserID")?,
            user_short_name: fields.opt_string("UserShortName")?,
            user_long_name: fields.opt_string("UserLongName")?,
            not_on_console: fields.opt_bool("NotOnConsole")?,
        })
    }

    pub(crate) fn write(&self, out: &mut DictWriter) {
        out.opt_string("UDID", self.udid.as_deref())
            .opt_string("EnrollmentID", self.enrollment_id.as_deref())
            .opt_string("EnrollmentUserID", self.enrollment_user_id.as_deref())
            .opt_string("UserID", self.user_id.as_deref())
            .opt_string("UserShortName", self.user_short_name.as_deref())
            .opt_string("UserLongName", self.user_long_name.as_deref())
            .opt_bool("NotOnConsole", self.not_on_console);
    }

    /// The device identifier: `UDID`, else `EnrollmentID`.
    #[must_use]
    pub fn device_id(&self) -> Option<&str> {
        self.udid.as_deref().or(self.enrollment_id.as_deref())
    }
}
