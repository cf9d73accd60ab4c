//! The server-created code and where it stands with Apple's enrollment service: created → its
//! escrow key sent → Apple's answer. A code Apple accepted is the one the device is locked with:
//! it is kept apart ([`DeviceRecord::accepted_server_code`]) and never replaced or dropped; a
//! code created but never accepted may be replaced.

use bypass_code::{BypassCode, EscrowKey};

use crate::{DeviceRecord, Event, Ignored, Outcome, Timestamp};

/// The status Apple's enrollment service answers when it locked the device with the escrow key.
pub const ACCEPTED_STATUS: &str = "SUCCESS";

/// Where a server code stands with Apple.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerCodeState {
    /// Committed; its escrow key not sent yet.
    Created,
    /// Its escrow key was sent (or was being sent when the process stopped): no answer
    /// recorded. Apple may hold it: the next lock sends the same code.
    Sent {
        /// When it was sent.
        at: Timestamp,
    },
    /// Apple answered without locking the device with it.
    Refused {
        /// When.
        at: Timestamp,
        /// The status, verbatim (`DEVICE_ALREADY_LOCKED`, `NOT_ACCESSIBLE`, `FAILED`...).
        status: String,
    },
    /// Apple accepted it (`SUCCESS`): the device is locked with this code.
    Accepted {
        /// When.
        at: Timestamp,
    },
}

impl ServerCodeState {
    /// `created`, `sent`, `refused` or `accepted`, as stored.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Sent { .. } => "sent",
            Self::Refused { .. } => "refused",
            Self::Accepted { .. } => "accepted",
        }
    }

    /// When the state was reached (`None` for [`ServerCodeState::Created`]: see the code's
    /// `created_at`).
    #[must_use]
    pub const fn at(&self) -> Option<Timestamp> {
        match self {
            Self::Created => None,
            Self::Sent { at } | Self::Refused { at, .. } | Self::Accepted { at } => Some(*at),
        }
    }

    /// The refusal's status, when refused.
    #[must_use]
    pub fn status(&self) -> Option<&str> {
        match self {
            Self::Refused { status, .. } => Some(status),
            _ => None,
        }
    }

    /// The state from its stored parts; `None` when they do not make one.
    #[must_use]
    pub fn from_parts(name: &str, at: Option<Timestamp>, status: Option<&str>) -> Option<Self> {
        Some(match (name, at, status) {
            ("created", None, None) => Self::Created,
            ("sent", Some(at), None) => Self::Sent { at },
            ("refused", Some(at), Some(status)) => Self::Refused {
                at,
                status: status.to_owned(),
            },
            ("accepted", Some(at), None) => Self::Accepted { at },
            _ => return None,
        })
    }
}

/// The server-created bypass code, its escrow key (hash), when it was made and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerCode {
    /// The code.
    pub code: BypassCode,
    /// Its escrow key, as sent to Apple.
    pub escrow_key: EscrowKey,
    /// When it was made.
    pub created_at: Timestamp,
    /// Where it stands with Apple.
    pub state: ServerCodeState,
}

impl DeviceRecord {
    /// The server codes an unlock tries after the device code, in order: the one Apple accepted,
    /// then the pending one (Apple may hold it when its answer was never recorded).
    #[must_use]
    pub fn server_codes(&self) -> Vec<&ServerCode> {
        self.accepted_server_code
            .iter()
            .chain(
                self.server_code
                    .iter()
                    .filter(|c| !matches!(c.state, ServerCodeState::Refused { .. })),
            )
            .collect()
    }

    /// A new pending server code replaces the pending one (never the accepted one).
    pub(crate) fn apply_server_code(&mut self, new: ServerCode, outcome: &mut Outcome) {
        if self
            .server_code
            .iter()
            .chain(&self.accepted_server_code)
            .any(|old| old.code == new.code)
        {
            outcome.ignored.push(Ignored::SameServerCode);
            return;
        }
        outcome.events.push(Event::ServerCodeStored {
            code: new.code.clone(),
            escrow_key: new.escrow_key.clone(),
            replaced: self.server_code.is_some(),
        });
        self.server_code = Some(new);
    }

    pub(crate) fn apply_server_code_sent(
        &mut self,
        escrow_key: &EscrowKey,
        at: Timestamp,
        outcome: &mut Outcome,
    ) {
        match &mut self.server_code {
            Some(code) if code.escrow_key == *escrow_key => {
                code.state = ServerCodeState::Sent { at };
                outcome.events.push(Event::ServerCodeSent);
            }
            _ => outcome.ignored.push(Ignored::NotThePendingServerCode),
        }
    }

    pub(crate) fn apply_server_code_answered(
        &mut self,
        escrow_key: &EscrowKey,
        status: String,
        at: Timestamp,
        outcome: &mut Outcome,
    ) {
        let pending = self
            .server_code
            .as_ref()
            .is_some_and(|c| c.escrow_key == *escrow_key);
        if !pending {
            outcome.ignored.push(Ignored::NotThePendingServerCode);
            return;
        }
        let accepted = status == ACCEPTED_STATUS;
        outcome.events.push(Event::ServerCodeAnswered {
            status: status.clone(),
            accepted,
        });
        if accepted {
            if let Some(mut code) = self.server_code.take() {
                code.state = ServerCodeState::Accepted { at };
                self.accepted_server_code = Some(code);
            }
        } else if let Some(code) = &mut self.server_code {
            code.state = ServerCodeState::Refused { at, status };
        }
    }

    /// A restored accepted code fills an empty place only: an accepted code is never replaced.
    pub(crate) fn restore_accepted_server_code(
        &mut self,
        accepted: ServerCode,
        outcome: &mut Outcome,
    ) {
        match &self.accepted_server_code {
            Some(mine) if mine.code == accepted.code => {
                outcome.ignored.push(Ignored::SameServerCode);
            }
            Some(_) => outcome.ignored.push(Ignored::AcceptedServerCodeKept),
            None => {
                outcome.events.push(Event::ServerCodeStored {
                    code: accepted.code.clone(),
                    escrow_key: accepted.escrow_key.clone(),
                    replaced: false,
                });
                outcome.events.push(Event::ServerCodeAnswered {
                    status: ACCEPTED_STATUS.to_owned(),
                    accepted: true,
                });
                if self
                    .server_code
                    .as_ref()
                    .is_some_and(|pending| pending.code == accepted.code)
                {
                    self.server_code = None;
                }
                self.accepted_server_code = Some(accepted);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Change, Udid};

    fn code(byte: u8) -> BypassCode {
        BypassCode::from_bytes([byte; 16])
    }

    fn new_code(record: &mut DeviceRecord, byte: u8, at: i64) -> EscrowKey {
        let key = EscrowKey::from_bytes([byte; 32]);
        record.apply(
            Change::ServerCode {
                code: code(byte),
                escrow_key: key.clone(),
            },
            Timestamp::from_unix(at),
        );
        key
    }

    #[test]
    fn created_sent_answered() {
        let mut r = DeviceRecord::new(Udid::new("U").unwrap(), Timestamp::from_unix(0));
        let key = new_code(&mut r, 1, 1);
        assert_eq!(
            r.server_code.as_ref().unwrap().state,
            ServerCodeState::Created
        );
        let o = r.apply(
            Change::ServerCodeSent {
                escrow_key: key.clone(),
            },
            Timestamp::from_unix(2),
        );
        assert_eq!(o.events, vec![Event::ServerCodeSent]);
        // Another key is not the pending code's.
        let o = r.apply(
            Change::ServerCodeAnswered {
                escrow_key: EscrowKey::from_bytes([9; 32]),
                status: "SUCCESS".into(),
            },
            Timestamp::from_unix(3),
        );
        assert_eq!(o.ignored, vec![Ignored::NotThePendingServerCode]);
        let o = r.apply(
            Change::ServerCodeAnswered {
                escrow_key: key,
                status: "SUCCESS".into(),
            },
            Timestamp::from_unix(3),
        );
        assert!(o.changed());
        assert!(r.server_code.is_none());
        let accepted = r.accepted_server_code.clone().unwrap();
        assert_eq!(accepted.code, code(1));
        assert_eq!(
            accepted.state,
            ServerCodeState::Accepted {
                at: Timestamp::from_unix(3)
            }
        );

        // A new code (forced by the caller) waits beside it; the accepted one stays.
        let second = new_code(&mut r, 2, 4);
        assert_eq!(r.accepted_server_code.as_ref().unwrap().code, code(1));
        let tried: Vec<_> = r.server_codes().iter().map(|c| c.code.clone()).collect();
        assert_eq!(tried, vec![code(1), code(2)]);
        r.apply(
            Change::ServerCodeAnswered {
                escrow_key: second,
                status: "DEVICE_ALREADY_LOCKED".into(),
            },
            Timestamp::from_unix(5),
        );
        assert_eq!(
            r.server_code.as_ref().unwrap().state.status(),
            Some("DEVICE_ALREADY_LOCKED")
        );
        assert_eq!(r.accepted_server_code.as_ref().unwrap().code, code(1));
        // A refused code is not tried at unlock.
        assert_eq!(r.server_codes().len(), 1);
    }
}
