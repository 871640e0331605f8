//! The durable outbox: the notifications an alarm owes, recorded in the
//! same write as the alarm itself, with the state each one has reached.
//!
//! A notification is one text or call to one number. It is planned when its
//! alarm is raised ([`plan`]), stored on the alarm, and listed as *queued*
//! in the store's outbox index until it is sent or has failed for good; the
//! delivery task ([`super::delivery`]) works from that index, so a restart
//! or a `kill -9` re-sends exactly what was never confirmed, under the same
//! idempotency key.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::webhook::Channel;
use crate::escalation::alarm::AlarmTarget;

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting to be sent, or being retried.
    Queued,
    /// A gateway took it (answered 2xx).
    Sent,
    /// The gateway says it reached the phone.
    Delivered,
    /// The gateway says the person read it or answered the call.
    Read,
    /// It will not get through: refused, no number, or retried too long.
    Failed,
    /// Not sent: the alarm was acknowledged first.
    Cancelled,
}

impl DeliveryState {
    /// `queued`, `sent`, …, as in the API and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sent => "sent",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Read => "read",
            DeliveryState::Failed => "failed",
            DeliveryState::Cancelled => "cancelled",
        }
    }

    /// Still owed to a gateway: the delivery task will (re)send it.
    pub fn is_owed(self) -> bool {
        self == DeliveryState::Queued
    }

    /// How far along it is. Failed sits below delivered and read: a
    /// gateway's late receipt is the better word than our giving up, but
    /// nothing steps back, so no notification can flap between states.
    fn rank(self) -> u8 {
        match self {
            DeliveryState::Queued => 0,
            DeliveryState::Sent => 1,
            DeliveryState::Failed => 2,
            DeliveryState::Delivered => 3,
            DeliveryState::Read => 4,
            DeliveryState::Cancelled => 5,
        }
    }

    /// Whether a notification in this state may move to `next`: strictly
    /// forward (at most five changes in its life), and nothing after
    /// *cancelled* but what was queued.
    pub fn may_become(self, next: DeliveryState) -> bool {
        match (self, next) {
            (_, DeliveryState::Cancelled) => self == DeliveryState::Queued,
            (DeliveryState::Cancelled, _) => false,
            _ => next.rank() > self.rank(),
        }
    }
}

/// One text or call owed to one person about one alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The same on every attempt: `alarm-<id>-<person>-<channel>`.
    pub key: String,
    /// Text or call.
    pub channel: Channel,
    /// The person, when the addressee is a known person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
    /// Their name (or a desk's).
    pub name: String,
    /// The number texted or called.
    pub to: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// When it reached that state.
    pub since: Timestamp,
    /// The gateway that took it (or last tried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// POSTs made so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// Why it failed or was cancelled, or the gateway's last word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A person's number for a channel, looked up by person id (their own
/// alarm numbers when set); `None` keeps the number the alarm carries.
pub trait Numbers {
    /// `person`'s number for `channel`, if the person is known.
    fn number_for(&self, person: &str, channel: Channel) -> Option<String>;
}

/// The notifications an alarm owes: every person its targets resolved to,
/// once per number and channel, on each channel of `send` that some
/// gateway serves (`served`). A person without a number is recorded as
/// failed at once, so the officer sees who cannot be reached.
pub fn plan(
    alarm_id: u64,
    targets: &[AlarmTarget],
    send: &[Channel],
    served: &[Channel],
    numbers: &impl Numbers,
    now: Timestamp,
) -> Vec<Notification> {
    let mut planned: Vec<Notification> = Vec::new();
    for &channel in send.iter().filter(|c| served.contains(c)) {
        for (index, contact) in targets.iter().flat_map(|t| &t.people).enumerate() {
            let to = match contact
                .person_id
                .as_deref()
                .and_then(|id| numbers.number_for(id, channel))
            {
                Some(to) => to,
                // A desk or an unknown person: their phone, never a URL.
                None if channel == Channel::Webhook => String::new(),
                None => contact.phone.clone(),
            };
            let to = to.trim().to_owned();
            // A webhook is for those who set one; nobody is missing it.
            if channel == Channel::Webhook && to.is_empty() {
                continue;
            }
            let same = |n: &Notification| {
                n.channel == channel
                    && match (&n.person_id, &contact.person_id) {
                        (Some(a), Some(b)) => a == b,
                        _ => !to.is_empty() && n.to == to,
                    }
            };
            if planned.iter().any(same) {
                continue;
            }
            // `_` cannot start a person's id (a slug), so a desk's key can
            // never be a person's.
            let who = contact
                .person_id
                .clone()
                .unwrap_or_else(|| format!("_desk{}", index + 1));
            let key = format!("alarm-{alarm_id}-{who}-{}", channel.name());
            if planned.iter().any(|n| n.key == key) {
                continue;
            }
            let (state, reason) = if to.is_empty() {
                (
                    DeliveryState::Failed,
                    Some(format!(
                        "{} has no number for {}",
                        contact.name,
                        channel.name()
                    )),
                )
            } else {
                (DeliveryState::Queued, None)
            };
            planned.push(Notification {
                key,
                channel,
                person_id: contact.person_id.clone(),
                name: contact.name.clone(),
                to,
                state,
                since: now,
                gateway: None,
                attempts: 0,
                reason,
            });
        }
    }
    planned
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::alarm::Contact;
    use crate::escalation::policy::Target;

    struct Book;
    impl Numbers for Book {
        fn number_for(&self, person: &str, channel: Channel) -> Option<String> {
            match (person, channel) {
                ("wangwei", Channel::Sms) => Some("13800000001".into()),
                ("wangwei", Channel::Voice) => Some("02088880000".into()),
                ("nophone", _) => Some(String::new()),
                _ => None,
            }
        }
    }

    fn target(people: &[(Option<&str>, &str, &str)]) -> AlarmTarget {
        AlarmTarget {
            target: Target::CentreDutyLeader,
            scope: None,
            people: people
                .iter()
                .map(|(id, name, phone)| Contact {
                    person_id: id.map(str::to_owned),
                    name: (*name).into(),
                    phone: (*phone).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn each_person_is_reached_once_per_channel_at_their_own_number() {
        let targets = [
            target(&[(Some("wangwei"), "王伟", "13900000000")]),
            // The same leader again under another role: one text, not two.
            target(&[
                (Some("wangwei"), "王伟", "13900000000"),
                (None, "新华街道值班室", "02066660000"),
                (Some("nophone"), "李四", ""),
            ]),
        ];
        let now = Timestamp::UNIX_EPOCH;
        let planned = plan(
            7,
            &targets,
            &[Channel::Sms, Channel::Voice],
            &[Channel::Sms, Channel::Voice],
            &Book,
            now,
        );
        let summary: Vec<(&str, &str, DeliveryState)> = planned
            .iter()
            .map(|n| (n.key.as_str(), n.to.as_str(), n.state))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("alarm-7-wangwei-sms", "13800000001", DeliveryState::Queued),
                ("alarm-7-_desk3-sms", "02066660000", DeliveryState::Queued),
                ("alarm-7-nophone-sms", "", DeliveryState::Failed),
                (
                    "alarm-7-wangwei-voice",
                    "02088880000",
                    DeliveryState::Queued
                ),
                ("alarm-7-_desk3-voice", "02066660000", DeliveryState::Queued),
                ("alarm-7-nophone-voice", "", DeliveryState::Failed),
            ]
        );
        assert!(
            planned[2]
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("李四"))
        );
    }

    #[test]
    fn a_channel_no_gateway_serves_plans_nothing() {
        let targets = [target(&[(Some("wangwei"), "王伟", "13900000000")])];
        let planned = plan(
            1,
            &targets,
            &[Channel::Voice],
            &[Channel::Sms],
            &Book,
            Timestamp::UNIX_EPOCH,
        );
        assert!(planned.is_empty());
    }

    #[test]
    fn states_only_move_forward() {
        use DeliveryState::*;
        assert!(Queued.may_become(Sent));
        assert!(Sent.may_become(Read));
        assert!(Sent.may_become(Failed));
        assert!(!Read.may_become(Delivered));
        assert!(!Sent.may_become(Queued));
        assert!(Failed.may_become(Delivered));
        assert!(!Delivered.may_become(Failed), "no flapping");
        assert!(!Read.may_become(Failed));
        assert!(!Cancelled.may_become(Sent));
        assert!(Queued.may_become(Cancelled));
        assert!(!Sent.may_become(Cancelled));
    }
}
