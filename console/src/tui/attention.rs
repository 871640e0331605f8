//! The attention queue: everything that needs the officer, in one list —
//! alarms (overdue clocks, manual escalations, mode switches, missed
//! roll-calls), orders sent back (退单), posts that dropped off, and the
//! console's own lost link. Pure: computed from the model and the set of
//! items the officer acknowledged locally; alarms are acknowledged in dutyd.

use std::collections::BTreeSet;

use dutyroom_proto::v1 as pb;
use jiff::Timestamp;

use crate::tui::i18n::{Lang, T};
use crate::tui::model::{Model, assignee_key, is_open};
use crate::tui::urgency;

/// What kind of attention an item needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// An alarm in dutyd (acknowledged there).
    Alarm(u64),
    /// An assignment sent back by its post or unit.
    SentBack,
    /// A post that is not connected.
    Offline,
    /// A gateway whose texts or calls are not getting through.
    Gateway,
    /// A handover signed out and waiting for this console's officer.
    Handover,
    /// This console's own link to dutyd is down.
    Link,
}

/// One thing that needs the officer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Stable key (`alarm:12`, `sentback:20261123-0001:2`, `offline:post:x`
    /// + since): what a local acknowledgement remembers.
    pub key: String,
    /// What kind.
    pub kind: Kind,
    /// The incident it concerns, if any.
    pub incident: Option<String>,
    /// Since when (unknown for a post never seen).
    pub since: Option<Timestamp>,
    /// What happened, in the console's language.
    pub what: String,
    /// Who was alarmed (name and phone), or who it is about.
    pub who: String,
}

/// Every item still waiting: alarms not acknowledged in dutyd, other items
/// not acknowledged here; grouped per incident (incidents in number order,
/// then the rest), oldest first within a group.
pub fn items(model: &Model, seen: &BTreeSet<String>, lang: Lang) -> Vec<Item> {
    let mut items = Vec::new();
    for alarm in model.alarms.values() {
        items.push(Item {
            key: format!("alarm:{}", alarm.id),
            kind: Kind::Alarm(alarm.id),
            incident: (!alarm.incident.is_empty()).then(|| alarm.incident.clone()),
            since: Some(urgency::ts(alarm.raised_at.as_ref())),
            what: if alarm.drill {
                format!(
                    "{}{}",
                    T::Drill.get(lang),
                    describe_alarm(model, alarm, lang)
                )
            } else {
                describe_alarm(model, alarm, lang)
            },
            who: targets(alarm, lang),
        });
    }
    // A post only sees its own orders; send-backs and presence are the
    // centre's to follow.
    if model.own.is_none() {
        for incident in model.incidents.values().filter(|i| is_open(i.status)) {
            let lead_active = incident.assignments.iter().any(|a| {
                a.role == pb::AssignmentRole::Lead as i32
                    && matches!(
                        pb::AssignmentState::try_from(a.state),
                        Ok(pb::AssignmentState::Dispatched
                            | pb::AssignmentState::SignedFor
                            | pb::AssignmentState::OnScene
                            | pb::AssignmentState::Done)
                    )
            });
            for a in incident
                .assignments
                .iter()
                .filter(|a| a.state == pb::AssignmentState::Refused as i32)
            {
                let lead = a.role == pb::AssignmentRole::Lead as i32;
                let key = format!("sentback:{}:{}", incident.number, a.id);
                // A lead's send-back stands until someone leads again; a
                // support's until the officer acknowledges it.
                if (lead && lead_active) || seen.contains(&key) {
                    continue;
                }
                let name = a
                    .assignee
                    .as_ref()
                    .map(|x| name_of(model, x))
                    .unwrap_or_default();
                items.push(Item {
                    key,
                    kind: Kind::SentBack,
                    incident: Some(incident.number.clone()),
                    since: Some(urgency::ts(a.ended_at.as_ref())),
                    what: format!(
                        "{} {name}{}",
                        T::SentBack.get(lang),
                        if a.reason.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", a.reason)
                        }
                    ),
                    who: if lead {
                        T::NoLeadNow.get(lang).to_owned()
                    } else {
                        String::new()
                    },
                });
            }
        }
        for (key, entry) in &model.presence {
            let Some(id) = key.strip_prefix("post:") else {
                continue;
            };
            let Some(post) = model.posts.get(id).filter(|p| !p.retired) else {
                continue;
            };
            let since = urgency::ts(entry.last_seen.as_ref());
            let key = format!("offline:{key}:{}", since.as_second());
            let never = entry.last_seen.is_none();
            if entry.online || seen.contains(&key) {
                continue;
            }
            items.push(Item {
                key,
                kind: Kind::Offline,
                incident: None,
                since: (!never).then_some(since),
                what: format!("{} {}", post.name, T::Offline.get(lang)),
                who: post.contact.clone(),
            });
        }
    }
    if model.own.is_none() {
        for gateway in model.gateways.values() {
            let Some(since) = gateway.failing_since.as_ref() else {
                continue;
            };
            let since = urgency::ts(Some(since));
            let key = format!("gateway:{}:{}", gateway.id, since.as_second());
            if seen.contains(&key) {
                continue;
            }
            let channels: Vec<&str> = gateway
                .channels
                .iter()
                .map(|c| channel_word(c).get(lang))
                .collect();
            items.push(Item {
                key,
                kind: Kind::Gateway,
                incident: None,
                since: Some(since),
                what: format!(
                    "{} {} ({})",
                    T::GatewayFailing.get(lang),
                    gateway.id,
                    channels.join("/")
                ),
                // dutyd's error is English: the Chinese console names where
                // the gateway is instead.
                who: match lang {
                    Lang::Zh => gateway.url.clone(),
                    Lang::En => gateway.failing_error.clone(),
                },
            });
        }
    }
    items.sort_by(|a, b| {
        (a.incident.is_none(), &a.incident, a.since).cmp(&(
            b.incident.is_none(),
            &b.incident,
            b.since,
        ))
    });
    items
}

/// An alarm in words, from its fields (never dutyd's English `reason`):
/// `2级 签收超时 新华街道 (迟报 3分钟)`.
pub fn describe_alarm(model: &Model, alarm: &pb::Alarm, lang: Lang) -> String {
    let kind = match pb::AlarmKind::try_from(alarm.kind) {
        Ok(pb::AlarmKind::SignForOverdue) => T::AlarmSignFor,
        Ok(pb::AlarmKind::ArriveOverdue) => T::AlarmArrive,
        Ok(pb::AlarmKind::ResolveOverdue) => T::AlarmResolve,
        Ok(pb::AlarmKind::Manual) => T::AlarmManual,
        Ok(pb::AlarmKind::ModeSwitched) => T::AlarmMode,
        Ok(pb::AlarmKind::RollCallMissed) => T::AlarmRollCall,
        _ => T::AlarmOther,
    };
    let mut text = format!("{}{} {}", alarm.level, T::Level.get(lang), kind.get(lang));
    if let Some(assignee) = &alarm.assignee {
        text.push(' ');
        text.push_str(&name_of(model, assignee));
    } else if !alarm.post_id.is_empty() {
        text.push(' ');
        text.push_str(
            &model
                .posts
                .get(&alarm.post_id)
                .map_or(alarm.post_id.clone(), |p| p.name.clone()),
        );
    }
    if alarm.late_by_seconds > 0 {
        text.push_str(&format!(
            " ({} {})",
            T::LateBy.get(lang),
            urgency::age(
                Timestamp::UNIX_EPOCH,
                Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_secs(alarm.late_by_seconds)
            )
        ));
    }
    text
}

/// `张三 13800000001 短信已发, 李四 13900000002` — everyone the alarm
/// reached, and how each text or call to them fared.
pub fn targets(alarm: &pb::Alarm, lang: Lang) -> String {
    let mut people: Vec<String> = Vec::new();
    for target in &alarm.targets {
        for person in &target.people {
            let mut line = if person.phone.is_empty() {
                person.name.clone()
            } else {
                format!("{} {}", person.name, person.phone)
            };
            for sent in alarm.notifications.iter().filter(|n| {
                if person.person_id.is_empty() {
                    n.person_id.is_empty() && n.name == person.name
                } else {
                    n.person_id == person.person_id
                }
            }) {
                line.push(' ');
                line.push_str(&notification(sent, lang));
            }
            if !people.contains(&line) {
                people.push(line);
            }
        }
    }
    let mut who = people.join(", ");
    // Say so when nothing left the building, so a bare name is not read
    // as "texted, no answer yet".
    if alarm.notifications.is_empty() && !who.is_empty() {
        who.push_str(&format!(" ({})", T::ConsoleOnly.get(lang)));
    }
    who
}

/// 短信, 电话, 推送.
fn channel_word(channel: &str) -> T {
    match channel {
        "voice" => T::Voice,
        "webhook" => T::Webhook,
        _ => T::Sms,
    }
}

/// `短信已发`, `电话未送达`: one text or call and where it stands.
pub fn notification(n: &pb::Notification, lang: Lang) -> String {
    let channel = channel_word(&n.channel);
    let state = match pb::DeliveryState::try_from(n.state) {
        Ok(pb::DeliveryState::Sent) => T::DeliverySent,
        Ok(pb::DeliveryState::Delivered) => T::DeliveryDelivered,
        Ok(pb::DeliveryState::Read) => T::DeliveryRead,
        Ok(pb::DeliveryState::Failed) => T::DeliveryFailed,
        Ok(pb::DeliveryState::Cancelled) => T::DeliveryCancelled,
        _ => T::DeliveryQueued,
    };
    match lang {
        Lang::Zh => format!("{}{}", channel.get(lang), state.get(lang)),
        Lang::En => format!("{} {}", channel.get(lang), state.get(lang)),
    }
}

fn name_of(model: &Model, assignee: &pb::Assignee) -> String {
    let key = assignee_key(assignee);
    let name = if assignee.kind == pb::AssigneeKind::Unit as i32 {
        model.units.get(&assignee.id).map(|u| u.name.clone())
    } else {
        model.posts.get(&assignee.id).map(|p| p.name.clone())
    };
    name.unwrap_or(key)
}
