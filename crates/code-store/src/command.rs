//! The commands a service sent a device through its MDM server, and what the device answered:
//! the request for its codes ([`CodeAsk`]: an `ActivationLockBypassCode` and a
//! `DeviceInformation`, one ask per enrolment) and the last `ClearPasscode`.
//!
//! The store keeps each command's `CommandUUID` **before** the command leaves, so a result coming
//! back is matched to what was asked, and two service instances sharing one database never queue
//! the same ask twice: queueing claims the ask in the device's transaction ([`Change::CommandsRecorded`]),
//! and only the instance whose claim changed the record sends. Policy (when to ask again, how
//! many times) is the caller's: it passes the times; the store applies them atomically.
//!
//! [`Change::CommandsRecorded`]: crate::Change::CommandsRecorded

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// What a command asks the device for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    /// `ActivationLockBypassCode`: the device's own code.
    BypassCode,
    /// `DeviceInformation`: the serial number, product type and IMEI/MEID the unlock needs.
    DeviceInformation,
    /// `ClearPasscode`: removes the device's passcode (with its unlock token).
    ClearPasscode,
}

impl CommandKind {
    /// The command's MDM `RequestType`.
    #[must_use]
    pub const fn request_type(self) -> &'static str {
        match self {
            Self::BypassCode => "ActivationLockBypassCode",
            Self::DeviceInformation => "DeviceInformation",
            Self::ClearPasscode => "ClearPasscode",
        }
    }
}

/// How a device answered a command (the response's `Status`, with the one distinction the
/// store needs: a bypass-code answer without a code).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerStatus {
    /// `Acknowledged` (for a bypass-code request: with a code).
    Acknowledged,
    /// `Acknowledged` to a bypass-code request, but without a code: the device has none. (Given
    /// for another command, it is taken as [`Self::Acknowledged`].)
    NoCode,
    /// `NotNow`: the device is busy; the MDM server keeps the command queued and sends it again.
    NotNow,
    /// `Error`.
    Error,
    /// `CommandFormatError`.
    CommandFormatError,
    /// Any other status, verbatim.
    Other(String),
}

impl AnswerStatus {
    /// The status as an MDM response writes it (`NoCode` as `Acknowledged (no code)`).
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Acknowledged => "Acknowledged",
            Self::NoCode => "Acknowledged (no code)",
            Self::NotNow => "NotNow",
            Self::Error => "Error",
            Self::CommandFormatError => "CommandFormatError",
            Self::Other(status) => status,
        }
    }

    /// Whether the command is finished (the device will not answer it again).
    #[must_use]
    pub const fn is_final(&self) -> bool {
        !matches!(self, Self::NotNow)
    }
}

/// One command sent to a device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentCommand {
    /// What it asks for.
    pub kind: CommandKind,
    /// Its `CommandUUID`, chosen by the sender.
    pub uuid: String,
    /// When it was recorded (just before it was queued).
    pub recorded_at: Timestamp,
    /// Whether the MDM server took it (`false` while it is being sent, or when sending failed).
    pub queued: bool,
    /// The device's latest answer, and when it came.
    pub answer: Option<(AnswerStatus, Timestamp)>,
}

/// The request for a device's codes: one per enrolment, tried again (with the caller's backoff)
/// until the device answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeAsk {
    /// The enrolment it is for (the record's `enrolled_at` when it was scheduled).
    pub enrolment: Option<Timestamp>,
    /// How many times the commands were recorded for sending.
    pub tries: u32,
    /// When the next try may be queued; `None` while the commands are out (or the ask is over).
    pub due_at: Option<Timestamp>,
    /// The latest try's commands.
    pub commands: Vec<SentCommand>,
}

impl CodeAsk {
    /// Whether a try may be queued at `now`.
    #[must_use]
    pub fn is_due(&self, now: Timestamp) -> bool {
        self.due_at.is_some_and(|due| due <= now)
    }

    /// The latest answer to the bypass-code command, if any.
    #[must_use]
    pub fn code_answer(&self) -> Option<&(AnswerStatus, Timestamp)> {
        self.commands
            .iter()
            .find(|c| c.kind == CommandKind::BypassCode)
            .and_then(|c| c.answer.as_ref())
    }
}

/// In words: when the device was last asked, which try, and what it answered (`alb missing`).
impl core::fmt::Display for CodeAsk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Some(first) = self.commands.first() else {
            return match self.due_at {
                Some(at) => write!(f, "to be asked (from {at})"),
                None => f.write_str("not asked"),
            };
        };
        write!(f, "asked {} (try {})", first.recorded_at, self.tries)?;
        match self.code_answer() {
            Some((status, at)) => write!(f, ": answered {} at {at}", status.as_str())?,
            None if first.queued => f.write_str(": no answer yet")?,
            None => f.write_str(": not queued yet")?,
        }
        if let Some(at) = self.due_at {
            write!(f, "; next try from {at}")?;
        }
        Ok(())
    }
}

/// Everything the store knows about the commands sent to one device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commands {
    /// The request for the device's codes.
    pub ask: Option<CodeAsk>,
    /// The last `ClearPasscode` sent.
    pub clear_passcode: Option<SentCommand>,
}

impl Commands {
    /// Whether nothing was ever sent or scheduled.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ask.is_none() && self.clear_passcode.is_none()
    }

    /// The command with this `CommandUUID`.
    #[must_use]
    pub fn find(&self, uuid: &str) -> Option<&SentCommand> {
        self.ask
            .iter()
            .flat_map(|a| a.commands.iter())
            .chain(self.clear_passcode.iter())
            .find(|c| c.uuid == uuid)
    }

    pub(crate) fn find_mut(&mut self, uuid: &str) -> Option<&mut SentCommand> {
        self.ask
            .iter_mut()
            .flat_map(|a| a.commands.iter_mut())
            .chain(self.clear_passcode.iter_mut())
            .find(|c| c.uuid == uuid)
    }
}

/// What happened to a device's commands, as written to its history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "what")]
pub enum CommandEvent {
    /// The device is to be asked for its codes (a new enrolment, or asked for again).
    AskScheduled,
    /// Commands were recorded for sending (their UUIDs are now known to the store).
    Recorded {
        /// Each command's kind and UUID.
        commands: Vec<(CommandKind, String)>,
        /// Which try of the ask (1 for a `ClearPasscode`).
        try_number: u32,
    },
    /// The MDM server took the commands.
    Queued {
        /// Their UUIDs.
        uuids: Vec<String>,
    },
    /// The MDM server did not take the commands.
    NotQueued {
        /// Their UUIDs.
        uuids: Vec<String>,
        /// Why (no secret).
        reason: String,
        /// When the ask may be tried again (none: given up).
        retry_at: Option<Timestamp>,
    },
    /// The device answered a command.
    Answered {
        /// The command's kind.
        kind: CommandKind,
        /// Its UUID.
        uuid: String,
        /// The answer.
        status: AnswerStatus,
        /// When the ask may be tried again (an `Error`), if the caller chose to.
        retry_at: Option<Timestamp>,
    },
}

impl core::fmt::Display for CommandEvent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::AskScheduled => f.write_str("the device is to be asked for its codes"),
            Self::Recorded {
                commands,
                try_number,
            } => {
                f.write_str("commands recorded for sending")?;
                for (kind, uuid) in commands {
                    write!(f, " {} {uuid}", kind.request_type())?;
                }
                write!(f, " (try {try_number})")
            }
            Self::Queued { uuids } => write!(f, "queued on the MDM server: {}", uuids.join(", ")),
            Self::NotQueued {
                reason, retry_at, ..
            } => {
                write!(f, "the MDM server did not queue the commands: {reason}")?;
                match retry_at {
                    Some(at) => write!(f, " (again at {at})"),
                    None => f.write_str(" (given up)"),
                }
            }
            Self::Answered {
                kind,
                uuid,
                status,
                retry_at,
            } => {
                write!(
                    f,
                    "{} {uuid} answered {}",
                    kind.request_type(),
                    status.as_str()
                )?;
                if let Some(at) = retry_at {
                    write!(f, " (asked again at {at})")?;
                }
                Ok(())
            }
        }
    }
}

/// The command rules: the one place a record's [`Commands`] change.
impl crate::DeviceRecord {
    pub(crate) fn apply_ask(&mut self, again: bool, at: Timestamp, outcome: &mut crate::Outcome) {
        let enrolment = self.enrolled_at;
        if !again
            && self
                .commands
                .ask
                .as_ref()
                .is_some_and(|ask| ask.enrolment == enrolment)
        {
            outcome.ignored.push(crate::Ignored::AlreadyAsked);
            return;
        }
        self.commands.ask = Some(CodeAsk {
            enrolment,
            tries: 0,
            due_at: Some(at),
            commands: Vec::new(),
        });
        outcome
            .events
            .push(crate::Event::Command(CommandEvent::AskScheduled));
    }

    pub(crate) fn apply_commands_recorded(
        &mut self,
        commands: Vec<(CommandKind, String)>,
        retry_at: Timestamp,
        at: Timestamp,
        outcome: &mut crate::Outcome,
    ) {
        let sent = |(kind, uuid): &(CommandKind, String)| SentCommand {
            kind: *kind,
            uuid: uuid.clone(),
            recorded_at: at,
            queued: false,
            answer: None,
        };
        let try_number = if commands
            .iter()
            .all(|(kind, _)| *kind == CommandKind::ClearPasscode)
        {
            match commands.last() {
                Some(last) => self.commands.clear_passcode = Some(sent(last)),
                None => return,
            }
            1
        } else {
            let Some(ask) = self.commands.ask.as_mut().filter(|a| a.is_due(at)) else {
                outcome.ignored.push(crate::Ignored::AskNotDue);
                return;
            };
            ask.tries += 1;
            ask.due_at = Some(retry_at);
            ask.commands = commands.iter().map(sent).collect();
            ask.tries
        };
        outcome
            .events
            .push(crate::Event::Command(CommandEvent::Recorded {
                commands,
                try_number,
            }));
    }

    pub(crate) fn apply_queued(&mut self, uuids: Vec<String>, outcome: &mut crate::Outcome) {
        let mut changed = false;
        for uuid in &uuids {
            if let Some(command) = self.commands.find_mut(uuid)
                && !command.queued
            {
                command.queued = true;
                changed = true;
            }
        }
        if !changed {
            outcome.ignored.push(crate::Ignored::UnknownCommand);
            return;
        }
        // Sent: the ask now waits for the device's answer, unless that answer came first (a
        // device may answer before the MDM server's reply to the enqueue is recorded); then the
        // answer has already said when, if ever, to ask again.
        if let Some(ask) = self.commands.ask.as_mut()
            && ask.commands.iter().any(|c| uuids.contains(&c.uuid))
            && ask.code_answer().is_none()
        {
            ask.due_at = None;
        }
        outcome
            .events
            .push(crate::Event::Command(CommandEvent::Queued { uuids }));
    }

    pub(crate) fn apply_not_queued(
        &mut self,
        uuids: Vec<String>,
        reason: String,
        retry_at: Option<Timestamp>,
        outcome: &mut crate::Outcome,
    ) {
        if !uuids.iter().any(|u| self.commands.find(u).is_some()) {
            outcome.ignored.push(crate::Ignored::UnknownCommand);
            return;
        }
        // A device that already answered the bypass-code request has settled the ask.
        if let Some(ask) = self.commands.ask.as_mut()
            && ask.commands.iter().any(|c| uuids.contains(&c.uuid))
            && ask.code_answer().is_none()
        {
            ask.due_at = retry_at;
        }
        outcome
            .events
            .push(crate::Event::Command(CommandEvent::NotQueued {
                uuids,
                reason,
                retry_at,
            }));
    }

    pub(crate) fn apply_answered(
        &mut self,
        uuid: String,
        status: AnswerStatus,
        retry_at: Option<Timestamp>,
        at: Timestamp,
        outcome: &mut crate::Outcome,
    ) {
        let Some(command) = self.commands.find_mut(&uuid) else {
            outcome.ignored.push(crate::Ignored::UnknownCommand);
            return;
        };
        // "No code" is an answer to the bypass-code request only.
        let status = match status {
            AnswerStatus::NoCode if command.kind != CommandKind::BypassCode => {
                AnswerStatus::Acknowledged
            }
            other => other,
        };
        if command.answer.as_ref().is_some_and(|(s, _)| *s == status) {
            outcome.ignored.push(crate::Ignored::SameAnswer);
            return;
        }
        command.answer = Some((status.clone(), at));
        command.queued = true;
        let kind = command.kind;
        if let Some(ask) = self.commands.ask.as_mut()
            && kind == CommandKind::BypassCode
            && ask.commands.iter().any(|c| c.uuid == uuid)
        {
            ask.due_at = retry_at;
        }
        outcome
            .events
            .push(crate::Event::Command(CommandEvent::Answered {
                kind,
                uuid,
                status,
                retry_at,
            }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Change, DeviceRecord, Ignored, Udid};

    fn at(s: i64) -> Timestamp {
        Timestamp::from_unix(s)
    }

    fn pair(n: u32) -> Vec<(CommandKind, String)> {
        vec![
            (CommandKind::BypassCode, format!("code-{n}")),
            (CommandKind::DeviceInformation, format!("info-{n}")),
        ]
    }

    #[test]
    fn one_ask_per_enrolment_claimed_once() {
        let mut r = DeviceRecord::new(Udid::new("U").unwrap(), at(1));
        r.apply(Change::Enrolled { at: at(10) }, at(10));
        assert!(
            r.apply(Change::AskForCodes { again: false }, at(10))
                .changed()
        );
        let again = r.apply(Change::AskForCodes { again: false }, at(11));
        assert_eq!(again.ignored, vec![Ignored::AlreadyAsked]);
        let recorded = Change::CommandsRecorded {
            commands: pair(1),
            retry_at: at(100),
        };
        assert!(r.apply(recorded.clone(), at(12)).changed());
        // A second sender finds the ask claimed (leased until 100).
        let second = r.apply(recorded, at(13));
        assert_eq!(second.ignored, vec![Ignored::AskNotDue]);
        assert!(
            r.apply(
                Change::CommandsQueued {
                    uuids: vec!["code-1".into(), "info-1".into()]
                },
                at(14)
            )
            .changed()
        );
        assert_eq!(r.commands.ask.as_ref().unwrap().due_at, None);
        // An error answer, retried at 50 by the caller's policy; the same answer twice is one.
        let answer = Change::CommandAnswered {
            uuid: "code-1".into(),
            status: AnswerStatus::Error,
            retry_at: Some(at(50)),
        };
        assert!(r.apply(answer.clone(), at(20)).changed());
        assert_eq!(r.apply(answer, at(21)).ignored, vec![Ignored::SameAnswer]);
        assert!(!r.commands.ask.as_ref().unwrap().is_due(at(49)));
        assert!(r.commands.ask.as_ref().unwrap().is_due(at(50)));
        // A new enrolment asks again.
        r.apply(Change::Enrolled { at: at(60) }, at(60));
        assert!(
            r.apply(Change::AskForCodes { again: false }, at(60))
                .changed()
        );
        assert_eq!(r.commands.ask.as_ref().unwrap().tries, 0);
        let unknown = Change::CommandAnswered {
            uuid: "nope".into(),
            status: AnswerStatus::Acknowledged,
            retry_at: None,
        };
        assert_eq!(
            r.apply(unknown, at(61)).ignored,
            vec![Ignored::UnknownCommand]
        );
    }

    #[test]
    fn an_answer_before_the_queued_report_keeps_its_retry() {
        let mut r = DeviceRecord::new(Udid::new("U").unwrap(), at(1));
        r.apply(Change::Enrolled { at: at(10) }, at(10));
        r.apply(Change::AskForCodes { again: false }, at(10));
        let recorded = Change::CommandsRecorded {
            commands: pair(1),
            retry_at: at(100),
        };
        assert!(r.apply(recorded, at(11)).changed());
        // The device answers the first command while the second is still being queued.
        let answer = Change::CommandAnswered {
            uuid: "code-1".into(),
            status: AnswerStatus::Error,
            retry_at: Some(at(50)),
        };
        assert!(r.apply(answer, at(12)).changed());
        let queued = Change::CommandsQueued {
            uuids: vec!["code-1".into(), "info-1".into()],
        };
        assert!(r.apply(queued, at(13)).changed());
        assert_eq!(r.commands.ask.as_ref().unwrap().due_at, Some(at(50)));
        // Nor does a failure to queue the second command undo a final answer.
        let mut r = DeviceRecord::new(Udid::new("U").unwrap(), at(1));
        r.apply(Change::Enrolled { at: at(10) }, at(10));
        r.apply(Change::AskForCodes { again: false }, at(10));
        r.apply(
            Change::CommandsRecorded {
                commands: pair(1),
                retry_at: at(100),
            },
            at(11),
        );
        let answer = Change::CommandAnswered {
            uuid: "code-1".into(),
            status: AnswerStatus::NoCode,
            retry_at: None,
        };
        assert!(r.apply(answer, at(12)).changed());
        let not_queued = Change::CommandsNotQueued {
            uuids: vec!["code-1".into(), "info-1".into()],
            reason: "refused".into(),
            retry_at: Some(at(70)),
        };
        assert!(r.apply(not_queued, at(13)).changed());
        assert_eq!(r.commands.ask.as_ref().unwrap().due_at, None);
    }

    #[test]
    fn clear_passcode_is_recorded_and_answered() {
        let mut r = DeviceRecord::new(Udid::new("U").unwrap(), at(1));
        let clear = Change::CommandsRecorded {
            commands: vec![(CommandKind::ClearPasscode, "clear-1".into())],
            retry_at: at(5),
        };
        assert!(r.apply(clear, at(2)).changed());
        let answer = Change::CommandAnswered {
            uuid: "clear-1".into(),
            status: AnswerStatus::Acknowledged,
            retry_at: None,
        };
        assert!(r.apply(answer, at(3)).changed());
        let sent = r.commands.clear_passcode.unwrap();
        assert_eq!(sent.answer, Some((AnswerStatus::Acknowledged, at(3))));
        assert!(r.commands.ask.is_none());
    }
}
