//! What a text message or a voice call says about an alarm, in Chinese:
//! short enough for one SMS, the incident's number first, and 【演练】 in
//! front of anything about a drill, so a drill is never taken for real.

use crate::escalation::alarm::{Alarm, AlarmKind};

/// Most characters of the place or summary carried (an SMS is 70 Chinese
/// characters; the rest of the message takes about 30).
const DETAIL_CHARS: usize = 20;

/// The message for `alarm`: `【演练】` for a drill, the incident's number,
/// its category and place when known, what is overdue, the level, and what
/// to do.
pub fn alarm_text(alarm: &Alarm, category: Option<&str>, place: Option<&str>) -> String {
    let what = match alarm.kind {
        AlarmKind::SignForOverdue => "签收超时",
        AlarmKind::ArriveOverdue => "到场超时",
        AlarmKind::ResolveOverdue => "处置超时",
        AlarmKind::Manual => "人工督办",
        AlarmKind::ModeSwitched => "平急转换",
        AlarmKind::RollCallMissed => "查岗未应答",
    };
    let mut text = String::new();
    if alarm.drill {
        text.push_str("【演练】");
    }
    if let Some(number) = &alarm.incident {
        text.push_str(number);
        text.push(' ');
    }
    for part in [category, place].into_iter().flatten() {
        let part: String = part
            .chars()
            .filter(|c| !c.is_control())
            .take(DETAIL_CHARS)
            .collect();
        if !part.trim().is_empty() {
            text.push_str(part.trim());
            text.push(' ');
        }
    }
    text.push_str(&format!("{what}（第{}级）", alarm.level));
    text.push_str(match alarm.kind {
        AlarmKind::ModeSwitched => "，请知悉",
        AlarmKind::RollCallMissed => "，请立即联系该指挥部",
        _ => "，请立即督办",
    });
    text
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::auth::principal::Principal;

    fn alarm(kind: AlarmKind, drill: bool) -> Alarm {
        Alarm {
            id: 7,
            raised_at: Timestamp::UNIX_EPOCH,
            raised_by: Principal::system(),
            kind,
            level: 2,
            incident: Some("20261204-0012".into()),
            incident_id: Some(12),
            assignment: Some(1),
            assignee: None,
            post: Some("xinhua".into()),
            reason: "sign-for overdue by post:xinhua".into(),
            targets: Vec::new(),
            late_by_secs: None,
            acknowledged_at: None,
            acknowledged_by: None,
            acknowledgement_note: None,
            drill,
            notifications: Vec::new(),
        }
    }

    #[test]
    fn a_drill_says_so_first_and_the_number_comes_next() {
        let text = alarm_text(
            &alarm(AlarmKind::SignForOverdue, true),
            Some("火灾"),
            Some("幸福社区"),
        );
        assert_eq!(
            text,
            "【演练】20261204-0012 火灾 幸福社区 签收超时（第2级），请立即督办"
        );
        let real = alarm_text(&alarm(AlarmKind::ArriveOverdue, false), None, None);
        assert_eq!(real, "20261204-0012 到场超时（第2级），请立即督办");
        assert!(!real.contains("演练"));
    }

    #[test]
    fn it_fits_one_text_message_whatever_the_names() {
        let long = "很长的地名".repeat(40);
        let text = alarm_text(
            &alarm(AlarmKind::ResolveOverdue, true),
            Some(&long),
            Some("河道\n有异味\u{7}"),
        );
        assert!(
            text.chars().count() <= 70,
            "{} chars: {text}",
            text.chars().count()
        );
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }
}
