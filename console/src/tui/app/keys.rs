//! The keyboard: which mode has it, how each mode reads a key or a paste,
//! and how a key becomes a command with its target fixed.

use super::*;

impl App {
    pub(super) fn key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == crossterm::event::KeyEventKind::Release {
            return Vec::new();
        }
        // Ctrl-C leaves from anywhere, but asks first when something typed
        // would be lost.
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl_c && !matches!(self.mode, Mode::Leave(..)) {
            if self.mode.holds_input() {
                let back = std::mem::replace(&mut self.mode, Mode::Board);
                self.mode = Mode::Leave(Box::new(back), Leave::Quit);
                return Vec::new();
            }
            self.quit = true;
            return vec![Effect::Quit];
        }
        let mode = std::mem::replace(&mut self.mode, Mode::Board);
        match mode {
            Mode::Leave(back, leave) => {
                let yes = matches!(key.code, KeyCode::Char('y' | 'Y')) || ctrl_c;
                if !yes {
                    // Anything else is "no": back to the typing, key unused.
                    self.mode = *back;
                    return Vec::new();
                }
                let was_form = matches!(&*back, Mode::Form(f) if f.editing.is_none());
                match leave {
                    Leave::Quit => {
                        self.quit = true;
                        vec![Effect::Quit]
                    }
                    Leave::Discard => {
                        self.say(self.t(T::Discarded));
                        if was_form {
                            vec![Effect::SaveDraft(None)]
                        } else {
                            Vec::new()
                        }
                    }
                }
            }
            Mode::Board | Mode::Detail => {
                self.mode = mode;
                self.message = None;
                if let Some(effects) = self.replay_key(&key) {
                    return effects;
                }
                match self.keymap.command(&key) {
                    Some(name) => {
                        let digit = match key.code {
                            KeyCode::Char(c) if c.is_ascii_digit() => Some(c.to_string()),
                            _ => None,
                        };
                        self.run_key(name, digit)
                    }
                    None => Vec::new(),
                }
            }
            Mode::Log(offset) => {
                let scroll = match key.code {
                    KeyCode::Up | KeyCode::Char('k') => Some(offset + 1),
                    KeyCode::Down | KeyCode::Char('j') => Some(offset.saturating_sub(1)),
                    KeyCode::PageUp => Some(offset + self.page_rows),
                    KeyCode::PageDown | KeyCode::Char(' ') => {
                        Some(offset.saturating_sub(self.page_rows))
                    }
                    _ => None,
                };
                if let Some(offset) = scroll {
                    self.mode = Mode::Log(offset.min(self.log.len().saturating_sub(1)));
                }
                Vec::new()
            }
            Mode::Report(offset) => {
                // Scroll with the movement keys; anything else closes it.
                let scroll = match key.code {
                    KeyCode::Down | KeyCode::Char('j') => Some(offset + 1),
                    KeyCode::Up | KeyCode::Char('k') => Some(offset.saturating_sub(1)),
                    KeyCode::PageDown | KeyCode::Char(' ') => Some(offset + self.page_rows),
                    KeyCode::PageUp => Some(offset.saturating_sub(self.page_rows)),
                    KeyCode::Home | KeyCode::Char('g') => Some(0),
                    _ => None,
                };
                if let Some(offset) = scroll {
                    let last = crate::tui::views::report_lines(self).saturating_sub(1);
                    self.mode = Mode::Report(offset.min(last));
                }
                Vec::new()
            }
            Mode::Help(offset) => {
                // Scroll with the movement keys; anything else closes help.
                let scroll = match key.code {
                    KeyCode::Down | KeyCode::Char('j') => Some(offset + 1),
                    KeyCode::Up | KeyCode::Char('k') => Some(offset.saturating_sub(1)),
                    KeyCode::PageDown | KeyCode::Char(' ') => Some(offset + self.page_rows),
                    KeyCode::PageUp => Some(offset.saturating_sub(self.page_rows)),
                    KeyCode::End | KeyCode::Char('G') => Some(usize::MAX),
                    KeyCode::Home | KeyCode::Char('g') => Some(0),
                    _ => None,
                };
                if let Some(offset) = scroll {
                    self.mode = Mode::Help(offset.min(commands::COMMANDS.len().saturating_sub(1)));
                }
                Vec::new()
            }
            Mode::Form(form) => self.form_key(*form, key),
            Mode::Picker(picker) => self.picker_key(*picker, key),
            Mode::Prompt(pending, line) => self.prompt_key(*pending, line, key),
            Mode::Confirm(mut pending) => {
                // The second confirmation (cancelling I/II) takes a capital
                // Y, so a double tap of y does not pass both.
                let second = pending.confirmed == 1 && pending.confirmations() == 2;
                let yes = if second { 'Y' } else { 'y' };
                if key.code == KeyCode::Char(yes) {
                    pending.confirmed += 1;
                    if pending.confirmed < pending.confirmations() {
                        self.mode = Mode::Confirm(pending);
                        return Vec::new();
                    }
                    self.execute(&pending)
                } else {
                    self.say(self.t(T::NotDone));
                    Vec::new()
                }
            }
            Mode::Command(line) => self.command_key(line, key),
            Mode::CallPreview(preview) => self.preview_key(*preview, key),
            Mode::Filter(line) => self.filter_key(line, key),
        }
    }

    /// Runs the command bound to a key: incident arguments come from the
    /// selection, the rest are asked for.
    /// Does this console offer `spec`? A post's offers its own actions,
    /// the centre's the rest.
    pub fn offers(&self, spec: &Spec) -> bool {
        match spec.who {
            commands::Who::Any => true,
            commands::Who::Centre => !self.post_mode,
            commands::Who::Post => self.post_mode,
        }
    }

    pub(super) fn refuse_elsewhere(&mut self, spec: &Spec) {
        let whose = if self.post_mode {
            T::CentreOnly
        } else {
            T::PostOnly
        };
        self.complain(format!(
            "{}: {}",
            spec.verb(self.lang, self.post_mode),
            self.t(whose)
        ));
    }

    pub(super) fn run_key(&mut self, name: &'static str, digit: Option<String>) -> Vec<Effect> {
        let Some(spec) = commands::find(name) else {
            return Vec::new();
        };
        if !matches!(name, "ack" | "next") {
            self.attention_focus = None;
        }
        if matches!(
            name,
            "down" | "up" | "top" | "bottom" | "page-down" | "page-up" | "back"
        ) {
            // The officer moved: whatever is selected now was chosen.
            self.moved_by_itself = None;
        }
        if !self.offers(spec) {
            self.refuse_elsewhere(spec);
            return Vec::new();
        }
        let mut pending = Pending::new(spec, Vec::new());
        let on_selection = spec
            .args
            .first()
            .is_some_and(|a| a.kind == ArgKind::Incident)
            || spec.name == "ack";
        if let Some(digit) = digit {
            pending.args.push(digit);
        } else if on_selection {
            // A new order took the selection just now: the key may have been
            // meant for the row that was there. Say so; the next press acts.
            if let Some(number) = self.moved_by_itself.take()
                && spec.name != "open"
            {
                self.complain(format!(
                    "{}: {} — {}",
                    self.t(T::SelectionMoved),
                    number.rsplit('-').next().unwrap_or(&number),
                    self.t(T::PressAgain)
                ));
                return Vec::new();
            }
            // Never act on an incident the officer cannot see (acknowledging
            // the item `!` jumped to, not about an incident, is fine).
            let local_focus = name == "ack"
                && self.attention_focus.as_ref().is_some_and(|key| {
                    self.attention
                        .iter()
                        .any(|i| i.key == *key && i.incident.is_none())
                });
            if !self.board_visible() && !local_focus {
                self.complain(self.t(T::BoardHidden));
                return Vec::new();
            }
            match self.selection() {
                Some(incident) => {
                    pending.target = Some(Target::of(incident));
                    if spec.name != "ack" {
                        pending.args.push(incident.number.clone());
                    }
                }
                None if spec.args.first().is_none_or(|a| a.optional) => {}
                None => {
                    self.complain(self.t(T::NoSelection));
                    return Vec::new();
                }
            }
        }
        self.continue_command(pending)
    }

    /// Is the selected incident on screen: the board (alone, or beside a
    /// panel on a wide terminal) or its detail? Below 120 columns a panel
    /// takes the board's place, and keys must not act on what it hides.
    pub fn board_visible(&self) -> bool {
        match self.mode.shown() {
            Mode::Detail => true,
            _ => self.width >= 120 || self.panel == Panel::Detail,
        }
    }

    /// Asks for the next missing argument, or runs the command.
    pub(super) fn continue_command(&mut self, pending: Pending) -> Vec<Effect> {
        // Refused before any prompt: nothing typed for an act on the past.
        if !self.replay_allows(pending.spec.name) {
            return Vec::new();
        }
        let next = pending.spec.args.get(pending.args.len());
        match next {
            Some(arg) if !arg.optional => {
                let prompt = Line::default();
                self.mode = Mode::Prompt(Box::new(pending), prompt);
                Vec::new()
            }
            _ => {
                // Nothing is confirmed that would be refused anyway.
                if let Err(problem) = self.check(&pending) {
                    self.complain(problem);
                    return Vec::new();
                }
                if pending.confirmations() > pending.confirmed {
                    self.mode = Mode::Confirm(Box::new(pending));
                    Vec::new()
                } else {
                    self.execute(&pending)
                }
            }
        }
    }

    pub(super) fn edit(line: &mut Line, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => line.clear(),
            KeyCode::Char('w') if ctrl => line.delete_word(),
            KeyCode::Char('a') if ctrl => line.home(),
            KeyCode::Char('e') if ctrl => line.end(),
            KeyCode::Char(c) if !ctrl => line.insert(c),
            KeyCode::Backspace => line.backspace(),
            KeyCode::Delete => line.delete(),
            KeyCode::Left => line.left(),
            KeyCode::Right => line.right(),
            KeyCode::Home => line.home(),
            KeyCode::End => line.end(),
            _ => return false,
        }
        true
    }

    pub(super) fn prompt_key(
        &mut self,
        mut pending: Pending,
        mut line: Line,
        key: KeyEvent,
    ) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc if line.text().trim().is_empty() => Vec::new(),
            KeyCode::Esc => {
                let back = Mode::Prompt(Box::new(pending), line);
                self.mode = Mode::Leave(Box::new(back), Leave::Discard);
                Vec::new()
            }
            KeyCode::Enter => {
                let text = line.text().trim().to_owned();
                if text.is_empty() {
                    self.mode = Mode::Prompt(Box::new(pending), line);
                    return Vec::new();
                }
                pending.args.push(text);
                self.continue_command(pending)
            }
            _ => {
                Self::edit(&mut line, &key);
                self.mode = Mode::Prompt(Box::new(pending), line);
                Vec::new()
            }
        }
    }

    pub(super) fn command_key(&mut self, mut line: Line, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc if line.text().trim().is_empty() => Vec::new(),
            // A typed `:call` is a call: leaving asks, like the form.
            KeyCode::Esc => {
                self.mode = Mode::Leave(Box::new(Mode::Command(line)), Leave::Discard);
                Vec::new()
            }
            KeyCode::Enter => self.command_line(line.text()),
            KeyCode::Tab => {
                let text = line.text().to_owned();
                if !text.contains(' ')
                    && let [only] = commands::complete(&text).as_slice()
                {
                    line.set(&format!("{only} "));
                } else if let Some((head, last)) = text.rsplit_once(' ') {
                    // Complete the last word: an incident number or a post/unit.
                    let candidates: Vec<String> = self
                        .model
                        .incidents
                        .values()
                        .map(|i| i.number.clone())
                        .chain(self.model.posts.keys().cloned())
                        .chain(self.model.units.keys().cloned())
                        .filter(|c| !last.is_empty() && (c.starts_with(last) || c.ends_with(last)))
                        .collect();
                    if let [only] = candidates.as_slice() {
                        line.set(&format!("{head} {only} "));
                    }
                }
                self.mode = Mode::Command(line);
                Vec::new()
            }
            _ => {
                Self::edit(&mut line, &key);
                self.mode = Mode::Command(line);
                Vec::new()
            }
        }
    }

    pub(super) fn filter_key(&mut self, mut line: Line, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => self.set_filter(Filter::default(), false),
            // Enter also looks in history: past incidents follow the board.
            KeyCode::Enter => self.set_filter(Filter::parse(line.text()), true),
            _ => {
                Self::edit(&mut line, &key);
                // Filter the board as you type.
                let effects = self.set_filter(Filter::parse(line.text()), false);
                self.mode = Mode::Filter(line);
                effects
            }
        }
    }

    /// Parses and runs a `:` command line.
    pub fn command_line(&mut self, text: &str) -> Vec<Effect> {
        let text = text.trim().trim_start_matches(':');
        let Some((name, rest)) = text
            .split_once(' ')
            .or_else(|| (!text.is_empty()).then_some((text, "")))
        else {
            return Vec::new();
        };
        let Some(spec) = commands::find(name) else {
            self.complain(format!("{}: {name}", self.t(T::UnknownCommand)));
            return Vec::new();
        };
        if !self.offers(spec) {
            self.refuse_elsewhere(spec);
            return Vec::new();
        }
        let mut args = Vec::new();
        let mut rest = rest.trim();
        for arg in spec.args {
            if rest.is_empty() {
                break;
            }
            match arg.kind {
                ArgKind::Rest => {
                    args.push(rest.to_owned());
                    rest = "";
                }
                ArgKind::Incident | ArgKind::Word => {
                    let (word, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                    args.push(word.to_owned());
                    rest = tail.trim();
                }
            }
        }
        let mut pending = Pending::new(spec, args);
        if spec
            .args
            .first()
            .is_some_and(|a| a.kind == ArgKind::Incident)
        {
            pending.target = pending
                .args
                .first()
                .and_then(|n| self.find_incident(n))
                .map(Target::of);
            // A short number names the incident it found, in full.
            if let Some(target) = &pending.target {
                pending.args[0] = target.number.clone();
            }
        }
        self.continue_command(pending)
    }

    /// Runs a command whose arguments are all in: its registry entry
    /// carries the handler.
    pub(super) fn execute(&mut self, pending: &Pending) -> Vec<Effect> {
        if !self.replay_allows(pending.spec.name) {
            return Vec::new();
        }
        (pending.spec.run)(self, pending)
    }

    /// Enter sends the previewed call (only with a lead post); `y` sends it
    /// without one; Esc goes back to the line to correct it.
    pub(super) fn preview_key(&mut self, preview: CallPreview, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => {
                self.mode = Mode::Command(Line::with(&preview.line));
                Vec::new()
            }
            KeyCode::Enter if preview.lead.is_none() => {
                self.complain(self.t(T::NoLeadAsk));
                self.mode = Mode::CallPreview(Box::new(preview));
                Vec::new()
            }
            KeyCode::Enter | KeyCode::Char('y') => {
                if !self.live() {
                    self.mode = Mode::CallPreview(Box::new(preview));
                    return Vec::new();
                }
                let mut request = preview.request;
                request.request_id = self.new_request_id("call");
                vec![Effect::Rpc(Rpc::Create(request))]
            }
            _ => {
                self.mode = Mode::CallPreview(Box::new(preview));
                Vec::new()
            }
        }
    }

    pub(super) fn form_key(&mut self, mut form: IntakeForm, key: KeyEvent) -> Vec<Effect> {
        form.problem = None;
        form.problem_field = None;
        let before = form.draft();
        let last = form::FIELDS.len() - 1;
        match key.code {
            KeyCode::Esc if form.editing.is_some() && form.opened_as == Some(form.draft()) => {
                return Vec::new();
            }
            KeyCode::Esc if form.is_empty() => return vec![Effect::SaveDraft(None)],
            KeyCode::Esc => {
                self.mode = Mode::Leave(Box::new(Mode::Form(Box::new(form))), Leave::Discard);
                return Vec::new();
            }
            // Ctrl-R: this call is about the incident offered above: attach
            // it as a repeat call instead of recording a new incident.
            KeyCode::Char('r') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                match form.related.as_ref().and_then(|r| r.chosen.clone()) {
                    Some(number) if self.live() => return self.attach_repeat(form, &number),
                    Some(_) => {}
                    None => form.problem = Some(self.t(T::NothingToAttach).to_owned()),
                }
            }
            KeyCode::PageDown | KeyCode::PageUp => {
                if let Some(related) = form.related.as_mut() {
                    related.step(if key.code == KeyCode::PageDown { 1 } else { -1 });
                }
            }
            KeyCode::Tab => form.focus = (form.focus + 1).min(last),
            KeyCode::BackTab => form.focus = form.focus.saturating_sub(1),
            KeyCode::Down | KeyCode::Up => {
                let down = key.code == KeyCode::Down;
                let step = |n: usize| if down { n + 1 } else { n.saturating_sub(1) };
                match form.field() {
                    Field::Category => form.category_choice = step(form.category_choice),
                    Field::Place => form.place_choice = step(form.place_choice),
                    _ => {
                        form.focus = if down {
                            (form.focus + 1).min(last)
                        } else {
                            form.focus.saturating_sub(1)
                        }
                    }
                }
            }
            KeyCode::Char(' ') if form.field() == Field::Source && form.editing.is_none() => {
                form.drill = !form.drill;
            }
            KeyCode::Left | KeyCode::Right if form.field() == Field::Source => {
                let n = form::SOURCES.len();
                form.source = if key.code == KeyCode::Right {
                    (form.source + 1) % n
                } else {
                    (form.source + n - 1) % n
                };
            }
            KeyCode::Enter => {
                if !self.live() {
                    self.mode = Mode::Form(Box::new(form));
                    return Vec::new();
                }
                if form.editing.is_some() {
                    match form.build_update(&self.model) {
                        Ok(request) => return vec![Effect::Rpc(Rpc::Update(request))],
                        Err(problem) => {
                            let field = form.field();
                            form.refuse(field, format!("{}: {problem}", self.t(T::Missing)));
                        }
                    }
                    self.mode = Mode::Form(Box::new(form));
                    return Vec::new();
                }
                match form.build(&self.model) {
                    Ok(mut request) => {
                        // The officer moves on at once; the form is kept
                        // (and its draft on disk) until dutyd records it.
                        let fresh = self.new_request_id("intake");
                        let id = form.request_id(fresh);
                        request.request_id = id.clone();
                        // On disk with its id until dutyd answers: after a
                        // crash the same call goes again under the same id.
                        let mut sent = form.draft();
                        sent.request_id = Some(id.clone());
                        self.sent_form = Some((id, Box::new(form)));
                        return vec![
                            Effect::SaveDraft(Some(sent)),
                            Effect::Rpc(Rpc::Create(request)),
                        ];
                    }
                    Err(missing) => {
                        let field = match missing {
                            "category" => Field::Category,
                            "severity" => Field::Severity,
                            "place" => Field::Place,
                            _ => Field::Summary,
                        };
                        form.refuse(field, format!("{}: {missing}", self.t(T::Missing)));
                    }
                }
            }
            _ => {
                if Self::edit(form.line(), &key) {
                    match form.field() {
                        Field::Category => form.category_choice = 0,
                        Field::Place => form.place_choice = 0,
                        _ => {}
                    }
                }
            }
        }
        let draft = form.draft();
        // A correction is not a call: it never replaces the call's draft.
        let editing = form.editing.is_some();
        let mut effects = self.ask_related(&mut form);
        self.mode = Mode::Form(Box::new(form));
        if draft != before && !editing {
            effects.push(Effect::SaveDraft(Some(draft)));
        }
        effects
    }

    /// Asks dutyd what the call may belong to when the question changed
    /// (each phone once: a lookup by phone is journaled).
    fn ask_related(&self, form: &mut IntakeForm) -> Vec<Effect> {
        if self.post_mode || self.own.is_some() {
            return Vec::new();
        }
        let asked = form.related_request(&self.model);
        match asked {
            None => {
                form.related = None;
                Vec::new()
            }
            Some(asked) if form.related.as_ref().is_some_and(|r| r.asked == asked) => Vec::new(),
            Some(asked) => {
                form.related = Some(form::Related {
                    asked: asked.clone(),
                    ..Default::default()
                });
                vec![Effect::FindRelated(asked)]
            }
        }
    }

    /// Sends the form as a repeat call about `number`. Like a new call, the
    /// form is kept until dutyd records it and comes back if refused.
    fn attach_repeat(&mut self, form: IntakeForm, number: &str) -> Vec<Effect> {
        let fresh = self.new_request_id("intake");
        let base = form.request_id(fresh);
        // Derived from the call's id: after a console crash the same
        // attach goes again under the same id, and a new call under the
        // call's own id is still possible.
        let id = format!("{base}{REPEAT_TAG}{number}");
        let mut request = form.repeat_call(number);
        request.request_id = id.clone();
        let mut sent = form.draft();
        sent.request_id = Some(base);
        self.sent_form = Some((id, Box::new(form)));
        vec![
            Effect::SaveDraft(Some(sent)),
            Effect::Rpc(Rpc::RepeatCall(request)),
        ]
    }

    /// Pasted text goes into the line being typed in, as one line; with no
    /// line open it is dropped (a paste never runs keys).
    pub(super) fn paste(&mut self, text: &str) -> Vec<Effect> {
        let text = crate::tui::text::one_line(text);
        let insert = |line: &mut Line| text.chars().for_each(|c| line.insert(c));
        match &mut self.mode {
            Mode::Form(form) if form.field() != Field::Source => {
                insert(form.line());
                match form.field() {
                    Field::Category => form.category_choice = 0,
                    Field::Place => form.place_choice = 0,
                    _ => {}
                }
                // A pasted number is a whole number at once.
                let mut form = std::mem::take(form);
                let mut effects = self.ask_related(&mut form);
                if form.editing.is_none() {
                    effects.push(Effect::SaveDraft(Some(form.draft())));
                }
                self.mode = Mode::Form(form);
                return effects;
            }
            Mode::Prompt(_, line) | Mode::Command(line) => insert(line),
            Mode::Filter(line) => {
                insert(line);
                let filter = Filter::parse(line.text());
                return self.set_filter(filter, false);
            }
            Mode::Picker(picker) => {
                insert(&mut picker.query);
                picker.choice = 0;
            }
            _ => self.complain(self.t(T::PasteIgnored)),
        }
        Vec::new()
    }

    /// Reopens the intake form with a draft kept from before a restart.
    pub fn restore_draft(&mut self, draft: &form::Draft) {
        let form = IntakeForm::from_draft(draft);
        if !form.is_empty() {
            let submitted = form.submitted_as.is_some();
            self.mode = Mode::Form(Box::new(form));
            self.say(self.t(if submitted {
                T::DraftMaybeSent
            } else {
                T::DraftRestored
            }));
        }
    }

    /// The picker's candidates, best first.
    pub fn picker_matches(&self, picker: &Picker) -> Vec<Candidate<String>> {
        let candidates: Vec<Candidate<String>> = form::assignee_candidates(&self.model)
            .into_iter()
            .filter(|c| {
                !picker.call_in
                    || (c.value.starts_with("unit:") && !picker.chosen.contains(&c.value))
            })
            .collect();
        rank(picker.query.text(), &candidates)
            .into_iter()
            .cloned()
            .collect()
    }

    pub(super) fn picker_key(&mut self, mut picker: Picker, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => return Vec::new(),
            // Calling in: Tab adds the highlighted unit, Enter calls in what
            // was added (or the highlighted one).
            KeyCode::Tab if picker.call_in => {
                let matches = self.picker_matches(&picker);
                if let Some(chosen) =
                    matches.get(picker.choice.min(matches.len().saturating_sub(1)))
                {
                    picker.chosen.push(chosen.value.clone());
                    picker.query.clear();
                    picker.choice = 0;
                }
            }
            KeyCode::Enter if picker.call_in => {
                let mut units = picker.chosen.clone();
                if units.is_empty() || !picker.query.text().trim().is_empty() {
                    let matches = self.picker_matches(&picker);
                    if let Some(chosen) =
                        matches.get(picker.choice.min(matches.len().saturating_sub(1)))
                    {
                        units.push(chosen.value.clone());
                    }
                }
                if units.is_empty() {
                    self.mode = Mode::Picker(Box::new(picker));
                    return Vec::new();
                }
                return self.call_in(&picker.incident, &units);
            }
            KeyCode::Tab => picker.support = !picker.support,
            KeyCode::Down => picker.choice += 1,
            KeyCode::Up => picker.choice = picker.choice.saturating_sub(1),
            KeyCode::Enter => {
                let matches = self.picker_matches(&picker);
                if let Some(chosen) =
                    matches.get(picker.choice.min(matches.len().saturating_sub(1)))
                {
                    let role = if picker.support { "support" } else { "lead" };
                    let Some(spec) = commands::find("assign") else {
                        return Vec::new();
                    };
                    let pending = Pending::new(
                        spec,
                        vec![picker.incident.clone(), chosen.value.clone(), role.into()],
                    );
                    return self.execute(&pending);
                }
            }
            _ => {
                if Self::edit(&mut picker.query, &key) {
                    picker.choice = 0;
                }
            }
        }
        self.mode = Mode::Picker(Box::new(picker));
        Vec::new()
    }
}
