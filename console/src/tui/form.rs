//! The intake form: fields in call order, fuzzy category and place with the
//! dispatch it implies (the place's post as lead, the category's default
//! units as support).

use dutyroom_proto::v1 as pb;

use crate::tui::fuzzy::{Candidate, rank};
use crate::tui::line::Line;
use crate::tui::model::Model;

/// The fields, in the order the officer asks the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// What happened (fuzzy over categories).
    Category,
    /// I–IV (1–4).
    Severity,
    /// Where (fuzzy over places; free text is kept as the address).
    Place,
    /// What the caller says.
    Summary,
    /// Caller's phone.
    Phone,
    /// The exact address (house number, building) as the caller gives it;
    /// the place above decides the routing.
    Address,
    /// Caller's name.
    Name,
    /// Channel (110 by default).
    Source,
}

/// Every field, in order.
pub const FIELDS: [Field; 8] = [
    Field::Category,
    Field::Severity,
    Field::Place,
    Field::Summary,
    Field::Phone,
    Field::Address,
    Field::Name,
    Field::Source,
];

/// Source channels in the order ←/→ cycles them.
pub const SOURCES: [(pb::SourceChannel, &str); 9] = [
    (pb::SourceChannel::Police110, "110"),
    (pb::SourceChannel::Fire119, "119"),
    (pb::SourceChannel::Medical120, "120"),
    (pb::SourceChannel::Traffic122, "122"),
    (pb::SourceChannel::Hotline12345, "12345"),
    (pb::SourceChannel::GridWorker, "网格员"),
    (pb::SourceChannel::PostReport, "指挥部上报"),
    (pb::SourceChannel::Sensor, "感知设备"),
    (pb::SourceChannel::Other, "其他"),
];

/// The form's state.
#[derive(Debug, Clone, Default)]
pub struct IntakeForm {
    /// Typed text per field (Source is chosen with ←/→).
    pub lines: [Line; 8],
    /// The focused field's index in [`FIELDS`].
    pub focus: usize,
    /// Which suggestion is chosen for the category.
    pub category_choice: usize,
    /// Which suggestion is chosen for the place.
    pub place_choice: usize,
    /// Index into [`SOURCES`].
    pub source: usize,
    /// A drill (演练), toggled with Space on the source row; a new call
    /// only (an existing incident's drill mark never changes).
    pub drill: bool,
    /// The last validation problem, shown until the next key.
    pub problem: Option<String>,
    /// The field the problem concerns (focused when it is shown).
    pub problem_field: Option<Field>,
    /// Editing this incident's intake rather than taking a new call.
    pub editing: Option<Box<pb::Incident>>,
    /// The text an edit form opened with (closing it unchanged asks nothing).
    pub opened_as: Option<Draft>,
    /// A restored draft that had been submitted: its request id, and the
    /// text it was submitted with (reused only while the text is unchanged).
    pub submitted_as: Option<(String, Vec<String>, usize)>,
    /// What dutyd knows that this call may belong to (a new call only).
    pub related: Option<Related>,
}

/// A repeat caller or a same-place duplicate, as the form shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Related {
    /// What was asked (a changed phone, place or category asks again).
    pub asked: pb::FindRelatedRequest,
    /// The answer, once it came.
    pub reply: Option<pb::FindRelatedReply>,
    /// Why there is no answer, if it failed.
    pub failed: Option<String>,
    /// The open incident Ctrl-R would attach the call to, by number (never
    /// by position: the list may change under the officer).
    pub chosen: Option<String>,
}

impl Related {
    /// The open incidents offered, by phone first, then by place.
    pub fn offered(&self) -> Vec<&pb::Incident> {
        self.reply.as_ref().map_or_else(Vec::new, |r| {
            r.open_from_phone.iter().chain(&r.open_same_place).collect()
        })
    }

    /// Moves the choice `by` places along the offered incidents.
    pub fn step(&mut self, by: isize) {
        let numbers: Vec<String> = self.offered().iter().map(|i| i.number.clone()).collect();
        if numbers.is_empty() {
            return;
        }
        let at = self
            .chosen
            .as_ref()
            .and_then(|c| numbers.iter().position(|n| n == c))
            .unwrap_or(0);
        let len = numbers.len() as isize;
        let next = (at as isize + by).rem_euclid(len) as usize;
        self.chosen = Some(numbers[next].clone());
    }
}

/// The digits of a phone field that looks like a whole number (only
/// digits, spaces, `-` and `+`; 7 to 20 digits), else `None`.
pub fn whole_phone(text: &str) -> Option<String> {
    let text = text.trim();
    let allowed = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '+'));
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    (allowed && (7..=20).contains(&digits.len())).then_some(digits)
}

/// What survives a console crash: the typed text, not the suggestions.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Draft {
    /// Text per field, in [`FIELDS`] order (the source is `source`).
    pub fields: Vec<String>,
    /// Index into [`SOURCES`].
    pub source: usize,
    /// Marked as a drill.
    #[serde(default)]
    pub drill: bool,
    /// The focused field.
    pub focus: usize,
    /// Set once the call was submitted: the request id it went with. A
    /// draft restored after a crash may already be recorded; sending it
    /// again unchanged with the same id cannot record it twice.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// Categories as fuzzy candidates (code, names, pinyin initials).
pub fn category_candidates(model: &Model) -> Vec<Candidate<String>> {
    model
        .categories
        .values()
        .filter(|c| !c.retired)
        .map(|c| Candidate {
            haystack: format!(
                "{} {} {}",
                c.code,
                c.name_en,
                crate::tui::fuzzy::searchable(&c.name_zh)
            ),
            value: c.code.clone(),
        })
        .collect()
}

/// Places as fuzzy candidates (communities and grids first: most precise).
pub fn place_candidates(model: &Model) -> Vec<Candidate<String>> {
    let mut places: Vec<&pb::Place> = model.places.values().filter(|p| !p.retired).collect();
    places.sort_by_key(|p| std::cmp::Reverse(p.kind));
    places
        .into_iter()
        .map(|p| Candidate::named(&p.id, &p.name, p.id.clone()))
        .collect()
}

/// Posts and units as fuzzy candidates, keyed `post:ID` / `unit:ID`.
pub fn assignee_candidates(model: &Model) -> Vec<Candidate<String>> {
    let posts = model
        .posts
        .values()
        .filter(|p| !p.retired)
        .map(|p| Candidate::named(&p.id, &p.name, format!("post:{}", p.id)));
    let units = model
        .units
        .values()
        .filter(|u| !u.retired)
        .map(|u| Candidate::named(&u.id, &u.name, format!("unit:{}", u.id)));
    posts.chain(units).collect()
}

/// What a typed word was taken to mean.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Match {
    /// The best candidate, if any matched at all.
    pub value: Option<String>,
    /// The word is the candidate's id, name, pinyin initials or full pinyin;
    /// anything else is a guess and is shown as one.
    pub exact: bool,
    /// The next candidates, for a guess.
    pub others: Vec<String>,
}

/// The best candidate for `query`, and whether that is a guess.
pub fn best(query: &str, candidates: &[Candidate<String>]) -> Match {
    let ranked = rank(query, candidates);
    let Some(top) = ranked.first() else {
        return Match::default();
    };
    let query = query.trim().to_lowercase();
    let starts = |c: &Candidate<String>| {
        c.haystack
            .split_whitespace()
            .any(|word| word.to_lowercase().starts_with(&query))
    };
    // Exact: a whole word of it (id, name, initials, full pinyin), or the
    // start of one that no other candidate's words start with (`huo` for
    // huozai). Anything else is a guess.
    let whole = top
        .haystack
        .split_whitespace()
        .any(|word| word.eq_ignore_ascii_case(&query));
    let unique_start = starts(top) && ranked.iter().skip(1).all(|c| !starts(c));
    Match {
        value: Some(top.value.clone()),
        exact: whole || unique_start,
        others: ranked
            .iter()
            .skip(1)
            .take(2)
            .map(|c| c.value.clone())
            .collect(),
    }
}

/// Severity from what was typed: 1–4 or I–IV.
pub fn severity(text: &str) -> Option<pb::Severity> {
    match text.trim().to_ascii_uppercase().as_str() {
        "1" | "I" => Some(pb::Severity::I),
        "2" | "II" => Some(pb::Severity::Ii),
        "3" | "III" => Some(pb::Severity::Iii),
        "4" | "IV" => Some(pb::Severity::Iv),
        _ => None,
    }
}

/// What a form (or a `:call` line) will dispatch to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dispatch {
    /// The lead post, from the place.
    pub lead: Option<String>,
    /// Supporting units, from the category.
    pub support: Vec<String>,
}

/// The suggested dispatch for a category and place.
pub fn suggest(model: &Model, category: Option<&str>, place: Option<&str>) -> Dispatch {
    Dispatch {
        lead: place
            .and_then(|p| model.places.get(p))
            .map(|p| p.post_id.clone())
            .filter(|post| !post.is_empty()),
        support: category
            .and_then(|c| model.categories.get(c))
            .map(|c| c.default_unit_ids.clone())
            .unwrap_or_default(),
    }
}

/// The form field a dutyd refusal of a call is about (it names the request
/// field first: `intake.summary: must be at most …`).
pub fn field_of_error(message: &str) -> Field {
    let field = message.split(':').next().unwrap_or_default().trim();
    match field.trim_start_matches("intake.") {
        "category" => Field::Category,
        "severity" => Field::Severity,
        "place_id" => Field::Place,
        "address" => Field::Address,
        "caller_phone" => Field::Phone,
        "caller_name" => Field::Name,
        "source" => Field::Source,
        "dispatch" => Field::Place,
        _ => Field::Summary,
    }
}

/// Builds the create request for a call.
pub fn request(intake: pb::IncidentIntake, dispatch: &Dispatch) -> pb::CreateIncidentRequest {
    let mut assign = Vec::new();
    if let Some(lead) = &dispatch.lead {
        assign.push(pb::AssignRequest {
            assignee: Some(pb::Assignee {
                kind: pb::AssigneeKind::Post as i32,
                id: lead.clone(),
                name: String::new(),
            }),
            role: pb::AssignmentRole::Lead as i32,
            ..Default::default()
        });
    }
    for unit in &dispatch.support {
        assign.push(pb::AssignRequest {
            assignee: Some(pb::Assignee {
                kind: pb::AssigneeKind::Unit as i32,
                id: unit.clone(),
                name: String::new(),
            }),
            role: pb::AssignmentRole::Support as i32,
            ..Default::default()
        });
    }
    pb::CreateIncidentRequest {
        request_id: String::new(),
        intake: Some(intake),
        dispatch: assign,
    }
}

impl IntakeForm {
    /// Nothing typed yet (an empty form can close without asking).
    pub fn is_empty(&self) -> bool {
        self.lines.iter().all(|l| l.text().trim().is_empty()) && self.source == 0 && !self.drill
    }

    /// The typed text, to keep on disk until the call is recorded.
    pub fn draft(&self) -> Draft {
        Draft {
            fields: self.lines.iter().map(|l| l.text().to_owned()).collect(),
            source: self.source,
            drill: self.drill,
            focus: self.focus,
            request_id: None,
        }
    }

    /// The request id to send with: a restored, already-submitted call sent
    /// again unchanged keeps its first id (dutyd then answers with the call
    /// it recorded, if it did); anything else gets `fresh`.
    pub fn request_id(&self, fresh: String) -> String {
        match &self.submitted_as {
            Some((id, fields, source))
                if *fields == self.draft().fields && *source == self.source =>
            {
                id.clone()
            }
            _ => fresh,
        }
    }

    /// What to ask dutyd about this call, once there is something to ask: a
    /// whole phone number (at 11 digits, or any 7+ once the officer has
    /// moved on from the field), or a place and a category chosen (once
    /// moved on from them). `None` for a correction of an existing incident.
    pub fn related_request(&self, model: &Model) -> Option<pb::FindRelatedRequest> {
        if self.editing.is_some() {
            return None;
        }
        let field = self.field();
        let phone = whole_phone(self.text(Field::Phone))
            .filter(|digits| digits.len() >= 11 || field != Field::Phone)
            .unwrap_or_default();
        let category = self.category(model).filter(|_| field != Field::Category);
        let place = self.place(model).filter(|_| field != Field::Place);
        let (place_id, category) = match (place, category) {
            (Some(place), Some(category)) => (place, category),
            _ => (String::new(), String::new()),
        };
        if phone.is_empty() && place_id.is_empty() {
            return None;
        }
        Some(pb::FindRelatedRequest {
            phone,
            place_id,
            category,
        })
    }

    /// The repeat call this form would attach to incident `number`: its
    /// caller, channel and words (the summary, and the address if given).
    pub fn repeat_call(&self, number: &str) -> pb::AddRepeatCallRequest {
        let summary = self.text(Field::Summary).trim();
        let address = self.text(Field::Address).trim();
        let text = match (summary.is_empty(), address.is_empty()) {
            (_, true) => summary.to_owned(),
            (true, false) => address.to_owned(),
            (false, false) => format!("{summary}（{address}）"),
        };
        pb::AddRepeatCallRequest {
            request_id: String::new(),
            incident: number.to_owned(),
            source: SOURCES[self.source.min(SOURCES.len() - 1)].0 as i32,
            caller_name: self.text(Field::Name).trim().to_owned(),
            caller_phone: self.text(Field::Phone).trim().to_owned(),
            text,
        }
    }

    /// A form holding a saved draft (extra or missing fields are ignored).
    pub fn from_draft(draft: &Draft) -> IntakeForm {
        let mut form = IntakeForm::default();
        for (line, text) in form.lines.iter_mut().zip(&draft.fields) {
            line.set(&crate::tui::text::one_line(text));
        }
        form.source = draft.source.min(SOURCES.len() - 1);
        form.drill = draft.drill;
        form.focus = draft.focus.min(FIELDS.len() - 1);
        form.submitted_as = draft
            .request_id
            .clone()
            .map(|id| (id, form.draft().fields, form.source));
        form
    }

    /// A form holding `incident`'s intake, to correct it. A masked phone
    /// (from a list) is left empty: typing one replaces it.
    pub fn for_incident(incident: &pb::Incident, model: &Model) -> IntakeForm {
        let mut form = IntakeForm::default();
        let place_name = model
            .places
            .get(&incident.place_id)
            .map(|p| p.name.as_str());
        let address = if Some(incident.address.as_str()) == place_name {
            ""
        } else {
            incident.address.as_str()
        };
        let severity = match pb::Severity::try_from(incident.severity) {
            Ok(pb::Severity::I) => "1",
            Ok(pb::Severity::Ii) => "2",
            Ok(pb::Severity::Iii) => "3",
            _ => "4",
        };
        let phone = if incident.caller_phone.contains('*') {
            ""
        } else {
            incident.caller_phone.as_str()
        };
        for (field, text) in [
            (Field::Category, incident.category.as_str()),
            (Field::Severity, severity),
            (Field::Place, incident.place_id.as_str()),
            (Field::Summary, incident.summary.as_str()),
            (Field::Phone, phone),
            (Field::Address, address),
            (Field::Name, incident.caller_name.as_str()),
        ] {
            if let Some(index) = FIELDS.iter().position(|f| *f == field) {
                form.lines[index].set(text);
            }
        }
        form.source = SOURCES
            .iter()
            .position(|(s, _)| *s as i32 == incident.source)
            .unwrap_or(0);
        form.editing = Some(Box::new(incident.clone()));
        form.opened_as = Some(form.draft());
        form
    }

    /// The correction of the incident being edited: only what changed.
    pub fn build_update(&self, model: &Model) -> Result<pb::UpdateIncidentRequest, &'static str> {
        let Some(was) = self.editing.as_deref() else {
            return Err("incident");
        };
        let new = self.build(model)?;
        let intake = new.intake.unwrap_or_default();
        let changed = |before: &str, after: &str| (before != after).then(|| after.to_owned());
        let phone = intake.caller_phone.trim();
        let request = pb::UpdateIncidentRequest {
            request_id: String::new(),
            incident: was.number.clone(),
            source: (was.source != intake.source).then_some(intake.source),
            caller_name: changed(&was.caller_name, &intake.caller_name),
            caller_phone: (!phone.is_empty())
                .then(|| changed(&was.caller_phone, phone))
                .flatten(),
            address: changed(&was.address, &intake.address),
            place_id: changed(&was.place_id, &intake.place_id),
            category: changed(&was.category, &intake.category),
            severity: (was.severity != intake.severity).then_some(intake.severity),
            summary: changed(&was.summary, &intake.summary),
            tags: None,
            reason: String::new(),
        };
        let nothing = request.source.is_none()
            && request.caller_name.is_none()
            && request.caller_phone.is_none()
            && request.address.is_none()
            && request.place_id.is_none()
            && request.category.is_none()
            && request.severity.is_none()
            && request.summary.is_none();
        if nothing {
            return Err("nothing changed");
        }
        Ok(request)
    }

    /// Focuses `field` and says what is wrong with it.
    pub fn refuse(&mut self, field: Field, problem: String) {
        if let Some(index) = FIELDS.iter().position(|f| *f == field) {
            self.focus = index;
        }
        self.problem = Some(problem);
        self.problem_field = Some(field);
    }

    /// The focused field.
    pub fn field(&self) -> Field {
        FIELDS[self.focus]
    }

    /// The text of a field.
    pub fn text(&self, field: Field) -> &str {
        self.lines[FIELDS.iter().position(|f| *f == field).unwrap_or(0)].text()
    }

    /// The focused line.
    pub fn line(&mut self) -> &mut Line {
        &mut self.lines[self.focus]
    }

    /// The category the form stands on now.
    pub fn category(&self, model: &Model) -> Option<String> {
        let candidates = category_candidates(model);
        let ranked = rank(self.text(Field::Category), &candidates);
        if self.text(Field::Category).trim().is_empty() {
            return None;
        }
        ranked
            .get(self.category_choice.min(ranked.len().saturating_sub(1)))
            .map(|c| c.value.clone())
    }

    /// The place the form stands on now.
    pub fn place(&self, model: &Model) -> Option<String> {
        if self.text(Field::Place).trim().is_empty() {
            return None;
        }
        let candidates = place_candidates(model);
        let ranked = rank(self.text(Field::Place), &candidates);
        ranked
            .get(self.place_choice.min(ranked.len().saturating_sub(1)))
            .map(|c| c.value.clone())
    }

    /// The create request, or what is missing.
    pub fn build(&self, model: &Model) -> Result<pb::CreateIncidentRequest, &'static str> {
        let category = self.category(model).ok_or("category")?;
        let severity = severity(self.text(Field::Severity)).ok_or("severity")?;
        let summary = self.text(Field::Summary).trim();
        if summary.is_empty() {
            return Err("summary");
        }
        let place = self.place(model);
        let typed = self.text(Field::Place).trim();
        let exact = self.text(Field::Address).trim();
        let address = match &place {
            _ if !exact.is_empty() => exact.to_owned(),
            Some(id) => model
                .places
                .get(id)
                .map_or(typed.to_owned(), |p| p.name.clone()),
            None => typed.to_owned(),
        };
        if address.is_empty() {
            return Err("place");
        }
        let intake = pb::IncidentIntake {
            source: SOURCES[self.source].0 as i32,
            caller_name: self.text(Field::Name).trim().to_owned(),
            caller_phone: self.text(Field::Phone).trim().to_owned(),
            address,
            place_id: place.clone().unwrap_or_default(),
            category: category.clone(),
            severity: severity as i32,
            summary: summary.to_owned(),
            tags: Vec::new(),
            drill: self.drill,
        };
        let dispatch = suggest(model, Some(&category), place.as_deref());
        Ok(request(intake, &dispatch))
    }
}
