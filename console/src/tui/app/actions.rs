//! What commands share: finding incidents and assignees, acknowledging,
//! calling in, the attention jump, a post's queued actions, the `:call` line,
//! moving on the board.

use super::*;

impl App {
    pub(super) fn live(&mut self) -> bool {
        if self.link == Link::Live {
            return true;
        }
        self.complain(self.t(T::NotConnected));
        false
    }

    /// The assignee a command names: `post:x`, `unit:y`, an id, or a fuzzy
    /// name; without one, the incident's active lead.
    pub(super) fn assignee(&self, incident: &str, named: Option<&str>) -> Option<pb::Assignee> {
        match named {
            Some(text) => {
                let candidates = form::assignee_candidates(&self.model);
                let key = if text.contains(':') {
                    Some(text.to_owned())
                } else {
                    rank(text, &candidates).first().map(|c| c.value.clone())
                };
                key.and_then(|k| crate::cli::incident::parse_assignee(&k).ok())
            }
            None => {
                let incident = self.find_incident(incident)?;
                incident
                    .assignments
                    .iter()
                    .find(|a| {
                        a.role == pb::AssignmentRole::Lead as i32
                            && matches!(
                                pb::AssignmentState::try_from(a.state),
                                Ok(pb::AssignmentState::Dispatched
                                    | pb::AssignmentState::SignedFor
                                    | pb::AssignmentState::OnScene)
                            )
                    })
                    .and_then(|a| a.assignee.clone())
            }
        }
    }

    /// An incident by full or short number; a past one `/` found, by its
    /// full number only (a short number means today's board).
    pub fn find_incident(&self, text: &str) -> Option<&pb::Incident> {
        // A replay's board is the past's: its incidents as they stood,
        // whatever became of them since.
        let shown = self
            .replay
            .as_ref()
            .and_then(|r| r.shown.as_ref())
            .map_or(&self.model, |(_, then)| then);
        shown
            .by_number(text)
            .or_else(|| {
                let digits = text.trim_start_matches('0');
                shown.incidents.values().find(|i| {
                    i.number
                        .split_once('-')
                        .is_some_and(|(_, n)| n.trim_start_matches('0') == digits)
                })
            })
            .or_else(|| {
                let history = self.history.as_ref()?;
                history.incidents.iter().find(|i| i.number == text)
            })
    }

    /// `A` / `:ack`: every alarm of the target incident, one alarm by
    /// `#id`, or every alarm (`all`, after a confirmation). Never an alarm
    /// of another incident than the one named.
    pub(super) fn acknowledge(&mut self, pending: &Pending) -> Vec<Effect> {
        let word = pending.args.first().map(|a| a.trim()).unwrap_or_default();
        let ids: Vec<u64> = if word == "all" || word == "全部" {
            if pending.confirmed == 0 {
                let mut asking = pending.clone();
                asking.target = None;
                self.mode = Mode::Confirm(Box::new(asking));
                return Vec::new();
            }
            let local: Vec<String> = self
                .attention
                .iter()
                .filter(|i| !matches!(i.kind, attention::Kind::Alarm(_)))
                .map(|i| i.key.clone())
                .collect();
            self.seen.extend(local);
            self.model.alarms.keys().copied().collect()
        } else if word.is_empty()
            && let Some(focus) = self.attention_focus.take().filter(|key| {
                let target = pending.target.as_ref().map(|t| t.number.as_str());
                self.attention
                    .iter()
                    .any(|i| i.key == *key && i.incident.as_deref() != target)
            })
        {
            // The item `!` jumped to, when it is not about the selected
            // incident (none, or one no longer on the board): that item only.
            match self.attention.iter().find(|i| i.key == focus) {
                Some(attention::Item {
                    kind: attention::Kind::Alarm(id),
                    ..
                }) => vec![*id],
                Some(item) => {
                    self.say(format!("{} ✓", item.what));
                    self.seen.insert(focus);
                    return Vec::new();
                }
                None => Vec::new(),
            }
        } else if let Ok(id) = word.trim_start_matches('#').parse::<u64>() {
            if !self.model.alarms.contains_key(&id) {
                self.complain(format!("{} #{id}", self.t(T::NoSuchAlarm)));
                return Vec::new();
            }
            vec![id]
        } else {
            let number = match (&pending.target, word) {
                (_, w) if !w.is_empty() => self.find_incident(w).map(|i| i.number.clone()),
                (Some(target), _) => Some(target.number.clone()),
                (None, _) => None,
            };
            let Some(number) = number else {
                self.complain(self.t(T::NoSelection));
                return Vec::new();
            };
            let ids: Vec<u64> = self
                .model
                .alarms
                .values()
                .filter(|a| a.incident == number)
                .map(|a| a.id)
                .collect();
            // The incident's other items (send-backs) are acknowledged here.
            let local: Vec<String> = self
                .attention
                .iter()
                .filter(|i| {
                    i.incident.as_deref() == Some(number.as_str())
                        && !matches!(i.kind, attention::Kind::Alarm(_))
                })
                .map(|i| i.key.clone())
                .collect();
            if !local.is_empty() {
                self.seen.extend(local);
                if ids.is_empty() {
                    self.say(format!("{number} ✓"));
                    return Vec::new();
                }
            }
            if ids.is_empty() {
                self.say(format!("{}: {number}", self.t(T::NoAlarmHere)));
                return Vec::new();
            }
            ids
        };
        if !self.live() {
            return Vec::new();
        }
        ids.into_iter()
            .map(|id| {
                Effect::Rpc(Rpc::Ack(pb::AcknowledgeAlarmRequest {
                    request_id: String::new(),
                    id,
                    note: String::new(),
                }))
            })
            .collect()
    }

    /// The posts or units (`kind`) that `words` name, by id, name or pinyin:
    /// each word must name exactly one (an exact word, or one only it
    /// matches); anything vaguer is refused, not guessed. `Err` holds the
    /// words that named nothing.
    pub(super) fn named(&self, words: &str, kind: &str) -> Result<Vec<String>, Vec<String>> {
        let prefix = format!("{kind}:");
        let candidates: Vec<Candidate<String>> = form::assignee_candidates(&self.model)
            .into_iter()
            .filter(|c| c.value.starts_with(&prefix))
            .collect();
        let mut found = Vec::new();
        let mut unknown = Vec::new();
        for word in words.split_whitespace() {
            let best = form::best(word.trim_start_matches(&prefix), &candidates);
            match best.value {
                Some(id) if best.exact || best.others.is_empty() => {
                    found.push(id.trim_start_matches(&prefix).to_owned());
                }
                _ => unknown.push(word.to_owned()),
            }
        }
        if unknown.is_empty() {
            Ok(found)
        } else {
            Err(unknown)
        }
    }

    /// What the console can tell is wrong before asking "sure?": a
    /// satisfaction outside 0–5, an incident merged into itself.
    pub(super) fn check(&self, pending: &Pending) -> Result<(), String> {
        let arg = |i: usize| pending.args.get(i).map(String::as_str).unwrap_or_default();
        match pending.spec.name {
            "close" => match arg(1).parse::<u32>() {
                Ok(0..=5) => Ok(()),
                _ => Err(format!("{}: {}", self.t(T::Satisfaction), arg(1))),
            },
            "merge" => {
                let into = self.find_incident(arg(1)).map(|i| i.id);
                let from = self.find_incident(arg(0)).map(|i| i.id);
                if into.is_some() && into == from {
                    Err(format!("{}: {}", self.t(T::MergeIntoItself), arg(1)))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// A request id no other console or run will make: the time, a count,
    /// and random bits (two consoles started in the same millisecond, or a
    /// restarted one, must not share ids).
    pub(super) fn new_request_id(&mut self, what: &str) -> String {
        self.submitted += 1;
        let mut random = [0u8; 4];
        let _ = getrandom::fill(&mut random);
        format!(
            "{what}-{}-{}-{}",
            self.now.as_millisecond(),
            self.submitted,
            random
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    }

    /// One call-in request per unit: queued at a post, sent at the centre.
    pub(super) fn call_in(&mut self, number: &str, units: &[String]) -> Vec<Effect> {
        if !self.post_mode && !self.live() {
            return Vec::new();
        }
        let names: Vec<String> = units.iter().map(|u| self.display_name(u)).collect();
        let effects: Vec<Effect> = units
            .iter()
            .map(|unit| {
                let request = pb::CallInRequest {
                    incident: number.to_owned(),
                    units: vec![unit.trim_start_matches("unit:").to_owned()],
                    ..Default::default()
                };
                if self.post_mode {
                    Effect::Queue(Rpc::CallIn(request))
                } else {
                    Effect::Rpc(Rpc::CallIn(request))
                }
            })
            .collect();
        let verb = if self.post_mode {
            self.t(T::Recording)
        } else {
            "…"
        };
        self.say(format!(
            "{} {number}: {} — {verb}",
            self.t(T::CallIn),
            names.join("、")
        ));
        effects
    }

    /// Selects the next item that needs the officer (after the one last
    /// jumped to): its incident on the board, or the item on the bottom line.
    pub(super) fn next_attention(&mut self) {
        if self.attention.is_empty() {
            self.attention_focus = None;
            self.say(self.t(T::NothingWaiting));
            return;
        }
        let after = self
            .attention_focus
            .as_ref()
            .and_then(|key| self.attention.iter().position(|i| i.key == *key));
        let index = after.map_or(0, |i| (i + 1) % self.attention.len());
        let item = self.attention[index].clone();
        self.attention_focus = Some(item.key.clone());
        if let Some(number) = &item.incident
            && let Some(id) = self.model.by_number(number).map(|i| i.id)
        {
            if !self.board.contains(&id) {
                // Filtered out: show the whole board again.
                self.filter = Filter::default();
                self.rebuild();
            }
            self.selected = Some(id);
            if self.width < 120 {
                self.panel = Panel::Detail;
            }
        }
        let since = item.since.map_or_else(
            || self.t(T::Never).to_owned(),
            |at| urgency::age(at, self.now),
        );
        let mut text = format!(
            "[{}/{}] {}{} · {since}",
            index + 1,
            self.attention.len(),
            item.incident
                .as_ref()
                .map(|n| format!("{n} "))
                .unwrap_or_default(),
            item.what
        );
        if !item.who.is_empty() {
            text.push_str(&format!(" · {}", item.who));
        }
        text.push_str(&format!(" · {}", self.t(T::AckHint)));
        self.complain(text);
    }

    /// A post's action as a request; its own assignment is meant, so none
    /// is named.
    pub(super) fn post_action(&mut self, pending: &Pending) -> Option<Rpc> {
        let args = &pending.args;
        let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
        let number = arg(0);
        let step = |note: String| pb::AssignmentActionRequest {
            incident: number.clone(),
            note,
            ..Default::default()
        };
        Some(match pending.spec.name {
            "sign" => Rpc::Sign(step(String::new())),
            "arrive" => Rpc::Arrive(step(String::new())),
            "finish" => Rpc::Finish(step(arg(1))),
            "refuse" => Rpc::Refuse(pb::RefuseRequest {
                incident: number.clone(),
                reason: arg(1),
                ..Default::default()
            }),
            "note" => Rpc::Note(pb::AddNoteRequest {
                incident: number.clone(),
                text: arg(1),
                ..Default::default()
            }),
            "resolve" => Rpc::Resolve(pb::ResolveRequest {
                incident: number.clone(),
                outcome: arg(1),
                ..Default::default()
            }),
            "answer" => {
                let own = self.own.clone().unwrap_or_default();
                let id = match arg(0).trim_start_matches('#').parse::<u64>() {
                    Ok(id) => Some(id),
                    Err(_) => self
                        .model
                        .rollcalls
                        .values()
                        .find(|r| crate::tui::model::waits_for(r, &own))
                        .map(|r| r.id),
                };
                let Some(id) = id else {
                    self.say(self.t(T::NoRollCall));
                    return None;
                };
                Rpc::Answer(pb::AnswerRollCallRequest {
                    id,
                    ..Default::default()
                })
            }
            _ => return None,
        })
    }

    /// `:call CATEGORY SEVERITY PLACE SUMMARY… [PHONE]`, as understood.
    pub(super) fn call(&self, args: &[String]) -> Result<CallPreview, String> {
        let [category, severity, place, summary] = args else {
            return Err(format!(
                "call: {}",
                commands::find("call").map_or(String::new(), |s| s.usage())
            ));
        };
        let categories = form::category_candidates(&self.model);
        let category_match = form::best(category, &categories);
        let category = category_match
            .value
            .clone()
            .ok_or_else(|| format!("{} ?: {category}", self.t(T::Category)))?;
        let severity = form::severity(severity)
            .ok_or_else(|| format!("{}: {severity}", self.t(T::Severity)))?;
        let places = form::place_candidates(&self.model);
        let place_match = form::best(place, &places);
        let place_id = place_match.value.clone();
        let mut summary = summary.clone();
        let mut phone = String::new();
        if let Some((head, last)) = summary.rsplit_once(' ')
            && last.len() >= 7
            && last.chars().all(|c| c.is_ascii_digit())
        {
            phone = last.to_owned();
            summary = head.trim().to_owned();
        }
        let address = place_id
            .as_ref()
            .and_then(|id| self.model.places.get(id))
            .map_or(place.clone(), |p| p.name.clone());
        let intake = pb::IncidentIntake {
            source: pb::SourceChannel::Police110 as i32,
            caller_name: String::new(),
            caller_phone: phone,
            address,
            place_id: place_id.clone().unwrap_or_default(),
            category: category.clone(),
            severity: severity as i32,
            summary,
            tags: Vec::new(),
            drill: false,
        };
        let dispatch = form::suggest(&self.model, Some(&category), place_id.as_deref());
        Ok(CallPreview {
            line: format!("call {}", args.join(" ")),
            request: form::request(intake, &dispatch),
            category: category_match,
            place: place_match,
            lead: dispatch.lead,
        })
    }

    pub(super) fn scroll_detail(&mut self, how: &str) {
        let page = self.page_rows.max(1);
        let last = self.detail_last.get();
        self.detail_scroll = self.detail_scroll.min(last);
        self.detail_scroll = match how {
            "down" => self.detail_scroll + 1,
            "up" => self.detail_scroll.saturating_sub(1),
            "page-down" => self.detail_scroll + page,
            "page-up" => self.detail_scroll.saturating_sub(page),
            "top" => 0,
            _ => last,
        }
        .min(last);
    }

    pub(super) fn navigate(&mut self, how: &str) {
        let Some(position) = self
            .selected
            .and_then(|id| self.board.iter().position(|b| *b == id))
        else {
            self.selected = self.board.first().copied();
            return;
        };
        let last = self.board.len().saturating_sub(1);
        let page = self.page_rows.max(1);
        let next = match how {
            "down" => (position + 1).min(last),
            "up" => position.saturating_sub(1),
            "top" => 0,
            "bottom" => last,
            "page-down" => (position + page).min(last),
            "page-up" => position.saturating_sub(page),
            _ => position,
        };
        self.selected = self.board.get(next).copied();
    }

    pub(super) fn view(&mut self, which: &str, save: Option<&str>) {
        if which == "save" {
            // 0–6 are the built-in views: only 7–9 keep a filter.
            match save.and_then(|s| s.parse::<u8>().ok()) {
                Some(slot @ 7..=9) => {
                    self.views.insert(slot, self.filter.clone());
                    self.say(format!("{} {slot}", self.t(T::View)));
                }
                _ => self.complain(format!(
                    "{}: {} (7–9)",
                    self.t(T::View),
                    save.unwrap_or_default()
                )),
            }
            return;
        }
        let Ok(slot) = which.parse::<u8>() else {
            return;
        };
        self.filter = match slot {
            0 => Filter::default(),
            1 => Filter::parse("open"),
            2 => Filter::parse("unsigned"),
            3 => Filter::parse("status:on-scene"),
            4 => Filter::parse("overdue"),
            5 => {
                // Everything waiting, with the queue beside (or instead of)
                // the board: items without an incident show there.
                self.panel = Panel::Alarms;
                Filter::parse("alarmed")
            }
            6 => Filter::parse("emergency"),
            n => self.views.get(&n).cloned().unwrap_or_default(),
        };
        if !self.filter.is_empty() {
            self.say(format!("{}: {}", self.t(T::Filter), self.filter.text));
        }
    }
}
