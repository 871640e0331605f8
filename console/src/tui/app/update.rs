//! The console's reaction to what happens outside the keyboard: server
//! events, ticks, replies to its own requests.

use super::*;

impl App {
    /// Handles one event.
    pub fn update(&mut self, event: AppEvent) -> Vec<Effect> {
        let mut effects = Vec::new();
        match event {
            AppEvent::Key(key) => effects = self.key(key),
            AppEvent::Paste(text) => effects = self.paste(&text),
            AppEvent::Resize(..) => {}
            AppEvent::Tick(now) => {
                self.now = now.max(self.now);
                if self.muted_until.is_some_and(|until| until <= self.now) {
                    self.muted_until = None;
                    self.say(self.t(T::Unmuted));
                }
                // The bell repeats while anything waits, until acknowledged.
                if !self.attention.is_empty() {
                    match self.next_ring {
                        Some(at) if at <= self.now => {
                            if self.ringing() {
                                effects.push(Effect::Bell);
                            }
                            self.next_ring = Some(self.now + self.bell_every);
                        }
                        Some(_) => {}
                        None => self.next_ring = Some(self.now + self.bell_every),
                    }
                }
                // At shift change, the people on duty change.
                let ended = self
                    .on_duty
                    .as_ref()
                    .and_then(|d| d.shift.as_ref())
                    .and_then(|s| s.ends.as_ref())
                    .is_some_and(|end| urgency::ts(Some(end)) <= self.now);
                if ended {
                    self.on_duty = None;
                    effects.push(Effect::LoadOnDuty);
                }
            }
            AppEvent::Connected { me, zone } => {
                // A post's or unit's token: this is that post's console.
                self.own = (me.role.starts_with("post:") || me.role.starts_with("unit:"))
                    .then(|| me.role.clone());
                self.model.own = self.own.clone();
                if self.own.is_some() {
                    self.post_mode = true;
                    if self.panel == Panel::Posts {
                        self.panel = Panel::Detail;
                    }
                }
                self.me = Some(me);
                if let Ok(zone) = TimeZone::get(&zone) {
                    self.zone = zone;
                }
            }
            AppEvent::Snapshot(snapshot) => {
                self.model = Model::from_snapshot(*snapshot);
                self.model.own = self.own.clone();
                self.link = Link::Live;
                effects.push(Effect::LoadOnDuty);
                effects.push(Effect::LoadPendingHandovers);
            }
            AppEvent::Watch(event) => {
                for notice in self.model.apply(&event) {
                    match notice {
                        Notice::NewIncident(number) => {
                            if let Some(incident) = self.model.by_number(&number) {
                                self.fresh.insert(incident.id, self.now + FRESH_FOR);
                            }
                            self.say(format!("{}: {number}", self.t(T::NewIncident)));
                            if self.bell {
                                effects.push(Effect::Bell);
                            }
                        }
                        Notice::NewOrder(number) => {
                            // Unless the post is typing, the new order is
                            // what `s` will sign for.
                            if matches!(self.mode, Mode::Board) {
                                self.select_when_shown = Some(number.clone());
                            }
                            self.complain(format!(
                                "{}: {number} — {}",
                                self.t(T::NewOrder),
                                self.t(T::SignHint)
                            ));
                            if self.bell {
                                effects.push(Effect::Bell);
                            }
                        }
                        Notice::RollCall(id) => {
                            let by = self
                                .model
                                .rollcalls
                                .get(&id)
                                .and_then(|r| r.answer_by.as_ref())
                                .map(|t| {
                                    urgency::ts(Some(t))
                                        .to_zoned_datetime(self.zone.clone())
                                        .strftime("%H:%M")
                                        .to_string()
                                })
                                .unwrap_or_default();
                            self.complain(format!(
                                "{} #{id} — r {} {by}",
                                self.t(T::RollCall),
                                self.t(T::AnswerBy)
                            ));
                            if self.bell {
                                effects.push(Effect::Bell);
                            }
                        }
                        Notice::Alarm(id) => {
                            let reason = self
                                .model
                                .alarms
                                .get(&id)
                                .map(|a| {
                                    format!(
                                        "{} {}",
                                        a.incident,
                                        attention::describe_alarm(&self.model, a, self.lang)
                                    )
                                })
                                .unwrap_or_default();
                            self.complain(format!("{} #{id}: {reason}", self.t(T::NewAlarm)));
                            if self.ringing() {
                                effects.push(Effect::Bell);
                            }
                            self.next_ring = Some(self.now + self.bell_every);
                        }
                        Notice::SentBack(number, who) => {
                            let name = self.display_name(&who);
                            self.complain(format!("{}: {number} {name}", self.t(T::SentBack)));
                            if self.ringing() {
                                effects.push(Effect::Bell);
                            }
                            self.next_ring = Some(self.now + self.bell_every);
                        }
                        Notice::GatewayFailing(id) => {
                            self.complain(format!("{}: {id}", self.t(T::GatewayFailing)));
                            if self.ringing() {
                                effects.push(Effect::Bell);
                            }
                            self.next_ring = Some(self.now + self.bell_every);
                        }
                        Notice::Offline(post) => {
                            let name = self.display_name(&format!("post:{post}"));
                            self.complain(format!("{}: {name}", self.t(T::PostOffline)));
                            if self.ringing() {
                                effects.push(Effect::Bell);
                            }
                            self.next_ring = Some(self.now + self.bell_every);
                        }
                    }
                }
                for number in std::mem::take(&mut self.model.needs_fetch) {
                    effects.push(Effect::Fetch(number));
                }
                if let Some(pb::event::Body::RollCallChanged(rollcall)) = &event.body
                    && self.rollcall.as_ref().is_none_or(|r| r.id <= rollcall.id)
                {
                    self.rollcall = Some(rollcall.clone());
                }
                match event.subject_kind.as_str() {
                    "roster" | "post" | "person" => effects.push(Effect::LoadOnDuty),
                    "handover" => {
                        if let Some(pb::event::Body::HandoverChanged(h)) = &event.body {
                            if self.handover.as_ref().is_none_or(|mine| mine.id == h.id) {
                                self.handover = Some(h.clone());
                            }
                            self.note_handover(h);
                        }
                    }
                    _ => {}
                }
                if let Some((number, events)) = &mut self.timeline
                    && event.subject_id == *number
                {
                    events.push(*event);
                }
            }
            AppEvent::LinkLost(error) => {
                if !matches!(self.link, Link::Lost { .. }) {
                    self.link = Link::Lost {
                        since: self.now,
                        error,
                    };
                }
            }
            AppEvent::LinkBack => self.link = Link::Live,
            AppEvent::Fetched(incident) => {
                // An edit form opened from the list gets the phone in full.
                if let Mode::Form(form) = &mut self.mode
                    && form
                        .editing
                        .as_ref()
                        .is_some_and(|was| was.id == incident.id)
                    && form.text(Field::Phone).is_empty()
                {
                    if let Some(index) = form::FIELDS.iter().position(|f| *f == Field::Phone) {
                        form.lines[index].set(&incident.caller_phone);
                    }
                    form.editing = Some(incident.clone());
                    form.opened_as = Some(form.draft());
                }
                // A past incident found by `/` shows as it now is.
                if let Some(found) = self
                    .history
                    .as_mut()
                    .and_then(|h| h.incidents.iter_mut().find(|i| i.id == incident.id))
                {
                    *found = (*incident).clone();
                }
                self.model.put(*incident);
            }
            AppEvent::OnDuty(reply) => self.on_duty = Some(*reply),
            AppEvent::PendingHandovers(list) => {
                self.pending_handovers.clear();
                for handover in &list {
                    self.note_handover(handover);
                }
                if let Some(waiting) = self.handover_for_me() {
                    let text = format!(
                        "{} #{} — H {}",
                        self.t(T::HandoverWaiting),
                        waiting.id,
                        self.t(T::Show)
                    );
                    self.complain(text);
                }
            }
            AppEvent::Outbox(view) => self.outbox = *view,
            AppEvent::Report(report) => self.report = Some(report),
            AppEvent::Related(asked, result) => {
                let nothing = self.t(T::NothingToAttach);
                // Only for the form still asking exactly this.
                if let Mode::Form(form) = &mut self.mode
                    && let Some(related) = form.related.as_mut().filter(|r| r.asked == asked)
                {
                    match result {
                        Ok(reply) => {
                            related.reply = Some(reply);
                            related.failed = None;
                            // "Nothing to attach", said before the answer
                            // came, no longer holds.
                            if !related.offered().is_empty()
                                && form.problem.as_deref() == Some(nothing)
                            {
                                form.problem = None;
                            }
                            let first = related.offered().first().map(|i| i.number.clone());
                            // Keep the officer's choice while it is offered.
                            if !related
                                .offered()
                                .iter()
                                .any(|i| Some(&i.number) == related.chosen.as_ref())
                            {
                                related.chosen = first;
                            }
                        }
                        Err(why) => related.failed = Some(why),
                    }
                }
            }
            AppEvent::Replayed(asked, result) => effects = self.replayed(asked, result),
            AppEvent::History(query, result) => {
                // An answer to a filter since changed is dropped.
                if let Some(history) = self.history.as_mut().filter(|h| h.query == query) {
                    match result {
                        Ok(reply) => {
                            history.incidents = reply.incidents;
                            history.state = HistoryState::Found {
                                more: !reply.next_page_token.is_empty(),
                            };
                        }
                        Err(why) => history.state = HistoryState::Failed(why),
                    }
                }
            }
            AppEvent::Handover(handover) => {
                let stage = match handover.status.as_str() {
                    "signed_out" => T::HandoverSignedOut,
                    "countersigned" => T::HandoverCountersigned,
                    _ => T::HandoverOpen,
                };
                self.say(format!(
                    "{} #{}: {} ✓",
                    self.t(T::Handover),
                    handover.id,
                    self.t(stage)
                ));
                self.note_handover(&handover);
                self.handover = Some(*handover);
                self.panel = Panel::Handover;
            }
            AppEvent::Timeline(number, events) => self.timeline = Some((number, events)),
            AppEvent::Done(Ok(text)) => self.say(text),
            AppEvent::Created(number, request_id) => {
                if self
                    .sent_form
                    .as_ref()
                    .is_some_and(|(sent, _)| *sent == request_id)
                {
                    self.sent_form = None;
                    if self.refused_form.is_none() && !matches!(self.mode, Mode::Form(_)) {
                        effects.push(Effect::SaveDraft(None));
                    }
                }
                self.rebuild();
                if let Some(id) = self.model.by_number(&number).map(|i| i.id) {
                    self.selected = Some(id);
                }
            }
            AppEvent::Done(Err(text)) => self.complain(text),
            AppEvent::CreateFailed(request_id, text, field) => {
                match self.sent_form.take() {
                    Some((sent, mut form)) if sent == request_id => {
                        if sent.contains(REPEAT_TAG) {
                            // An attach refused (the incident closed
                            // meanwhile, say): the officer stays where they
                            // were, and the list is asked for again.
                            form.problem = Some(text.clone());
                            if let Some(related) = form.related.as_mut() {
                                related.reply = None;
                                related.chosen = None;
                                effects.push(Effect::FindRelated(related.asked.clone()));
                            }
                        } else {
                            // dutyd names the field; older daemons only in
                            // the message.
                            let field = form::field_of_error(field.as_deref().unwrap_or(&text));
                            form.refuse(field, text.clone());
                        }
                        if matches!(self.mode, Mode::Board | Mode::Detail) {
                            self.mode = Mode::Form(form);
                        } else {
                            // Busy with something else: say so, keep the call.
                            self.refused_form = Some(form);
                            self.complain(format!("{}: {text}", self.t(T::CallRefused)));
                        }
                    }
                    other => {
                        self.sent_form = other;
                        self.complain(text);
                    }
                }
            }
        }
        self.rebuild();
        effects
    }
}
