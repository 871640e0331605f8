//! One handler per command: the registry (`commands.rs`) names each
//! command's handler next to its keys and help, so a command cannot exist
//! without one and no name falls through to a silent no-op.

use dutyroom_proto::v1 as pb;

use super::*;

/// Argument `i` of the command (empty when not given).
fn arg(pending: &Pending, i: usize) -> String {
    pending.args.get(i).cloned().unwrap_or_default()
}

/// A request to dutyd, refused here (with the message why) while the link
/// is down: nothing is queued silently.
fn send(app: &mut App, rpc: Rpc) -> Vec<Effect> {
    if !app.live() {
        return Vec::new();
    }
    vec![Effect::Rpc(rpc)]
}

/// A post's own action: into its outbox, link or no link.
fn queue(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let Some(rpc) = app.post_action(pending) else {
        return Vec::new();
    };
    let number = pending.args.first().cloned().unwrap_or_default();
    app.say(format!(
        "{} {number} — {}",
        pending.spec.verb(app.lang, app.post_mode),
        app.t(T::Recording)
    ));
    vec![Effect::Queue(rpc)]
}

/// `F`: a supporting part is done (a post's own action).
pub(crate) fn finish(app: &mut App, pending: &Pending) -> Vec<Effect> {
    queue(app, pending)
}

/// `x`: send the order back (a post's own action).
pub(crate) fn refuse(app: &mut App, pending: &Pending) -> Vec<Effect> {
    queue(app, pending)
}

/// `r`: answer the roll-call (a post's own action).
pub(crate) fn answer(app: &mut App, pending: &Pending) -> Vec<Effect> {
    queue(app, pending)
}

/// `:down`, `:up`, `:top`, `:bottom`, `:page-down`, `:page-up`: next incident.
pub(crate) fn navigate(app: &mut App, pending: &Pending) -> Vec<Effect> {
    // In the detail the movement keys scroll it; on the board
    // they move the selection.
    if matches!(app.mode, Mode::Detail) {
        app.scroll_detail(pending.spec.name);
    } else {
        app.navigate(pending.spec.name);
    }
    Vec::new()
}

/// `:log`: message log: the last results and errors.
pub(crate) fn log(app: &mut App, _pending: &Pending) -> Vec<Effect> {
    app.mode = Mode::Log(0);
    Vec::new()
}

/// `:report [day|week|month|quarter|year][-last]`: the assessment of the
/// period holding today (`month-last`: last month), in a full-screen view.
pub(crate) fn report(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let word = pending.args.first().map(String::as_str).unwrap_or("month");
    let (kind, last) = match word
        .strip_suffix("-last")
        .or_else(|| word.strip_suffix("-上"))
    {
        Some(kind) => (kind, true),
        None => (word, false),
    };
    let period = match kind {
        "day" | "日" => pb::PeriodKind::Day,
        "week" | "周" => pb::PeriodKind::Week,
        "month" | "月" => pb::PeriodKind::Month,
        "quarter" | "季" => pb::PeriodKind::Quarter,
        "year" | "年" => pb::PeriodKind::Year,
        _ => {
            app.complain(app.t(T::ReportUsage));
            return Vec::new();
        }
    };
    let today = app.now.to_zoned_datetime(app.zone.clone()).date();
    let Some(from) = crate::report::day_in_period(today, period, last) else {
        app.complain(app.t(T::ReportUsage));
        return Vec::new();
    };
    app.report = None;
    app.mode = Mode::Report(0);
    vec![Effect::LoadReport(pb::GetReportRequest {
        from: from.to_string(),
        period: period as i32,
        ..Default::default()
    })]
}

/// `:open`: open the incident: detail and timeline.
pub(crate) fn open(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let args = &pending.args;
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let number = arg(0);
    match app.find_incident(&number).map(|i| i.id) {
        Some(id) => app.selected = Some(id),
        // A number that is not on the board opens nothing, never the
        // selected incident instead.
        None if !number.is_empty() => {
            app.complain(format!("{}: {number}", app.t(T::NotOnBoard)));
            return Vec::new();
        }
        None => {}
    }
    let Some(incident) = app.selection() else {
        app.complain(app.t(T::NoSelection));
        return Vec::new();
    };
    let number = incident.number.clone();
    app.mode = Mode::Detail;
    app.detail_scroll = 0;
    app.detail_last.set(usize::MAX / 2);
    app.timeline = None;
    // Lists mask the caller's phone; the detail shows it in full.
    vec![Effect::Fetch(number.clone()), Effect::LoadTimeline(number)]
}

/// `:back`: back to the board.
pub(crate) fn back(app: &mut App, _pending: &Pending) -> Vec<Effect> {
    // From a panel shown in place of the board: back to it.
    if matches!(app.mode, Mode::Board) {
        app.panel = Panel::Detail;
    }
    app.mode = Mode::Board;
    app.timeline = None;
    Vec::new()
}

/// `:new`: take a call (intake form).
pub(crate) fn new(app: &mut App, _pending: &Pending) -> Vec<Effect> {
    // A call dutyd refused while the officer was elsewhere comes
    // back first.
    let form = app.refused_form.take().unwrap_or_default();
    app.mode = Mode::Form(form);
    Vec::new()
}

/// `:help`: help: the keys in effect.
pub(crate) fn help(app: &mut App, _pending: &Pending) -> Vec<Effect> {
    app.mode = Mode::Help(0);
    Vec::new()
}

/// `:command`: command line.
pub(crate) fn command(app: &mut App, _pending: &Pending) -> Vec<Effect> {
    app.mode = Mode::Command(Line::default());
    Vec::new()
}

/// `:filter`: filter: text post:ID unit:ID cat:CODE sev:I status:… overdue.
pub(crate) fn filter(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let args = &pending.args;
    if args.is_empty() {
        app.mode = Mode::Filter(Line::with(&app.filter.text));
        Vec::new()
    } else {
        app.set_filter(Filter::parse(&args.join(" ")), true)
    }
}

/// `:view`: views: 0 all 1 open 2 unsigned 3 on scene 4 overdue 5 alarms 6 emergency; view save N keeps the filter.
pub(crate) fn view(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let args = &pending.args;
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    app.view(&arg(0), args.get(1).map(String::as_str));
    Vec::new()
}

/// `:panel`: cycle the side panel: posts, on duty, alarms.
pub(crate) fn panel(app: &mut App, _pending: &Pending) -> Vec<Effect> {
    app.panel = if app.post_mode {
        // A post: who is on duty, its outbox, its alarms.
        match app.panel {
            Panel::Detail => Panel::OnDuty,
            Panel::OnDuty => Panel::Handover,
            Panel::Handover => Panel::Outbox,
            Panel::Outbox => Panel::Alarms,
            _ => Panel::Detail,
        }
    } else {
        match app.panel {
            Panel::Detail => Panel::Posts,
            Panel::Posts => Panel::Alarms,
            Panel::Alarms => Panel::OnDuty,
            Panel::OnDuty => Panel::Handover,
            Panel::Handover => Panel::RollCall,
            Panel::RollCall | Panel::Outbox => Panel::Detail,
        }
    };
    if app.panel == Panel::OnDuty && app.on_duty.is_none() {
        return vec![Effect::LoadOnDuty];
    }
    Vec::new()
}

/// `:next`: jump to the next item needing attention (alarms, send-backs, offline posts).
pub(crate) fn next(app: &mut App, _pending: &Pending) -> Vec<Effect> {
    app.next_attention();
    Vec::new()
}

/// `:mute`: mute the alarm sound for N minutes (default 10; off turns it back on).
pub(crate) fn mute(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let args = &pending.args;
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let word = arg(0);
    if word == "off" {
        app.muted_until = None;
        app.bell = true;
        app.say(app.t(T::Unmuted));
        return Vec::new();
    }
    let minutes = match word.parse::<i64>() {
        Ok(m) if (1..=720).contains(&m) => m,
        Err(_) if word.is_empty() => 10,
        _ => {
            app.complain(format!("{}: {word} (1–720)", app.t(T::Minutes)));
            return Vec::new();
        }
    };
    let until = app.now + jiff::SignedDuration::from_mins(minutes);
    app.muted_until = Some(until);
    let shown = until.to_zoned_datetime(app.zone.clone()).strftime("%H:%M");
    app.say(format!("{} {shown}", app.t(T::Muted)));
    Vec::new()
}

/// `:bell`: mute or unmute the bell.
pub(crate) fn bell(app: &mut App, _pending: &Pending) -> Vec<Effect> {
    app.bell = !app.bell;
    let text = if app.bell { T::BellOn } else { T::BellOff };
    app.say(app.t(text));
    Vec::new()
}

/// `:refresh`: reload everything from dutyd.
pub(crate) fn refresh(_app: &mut App, _pending: &Pending) -> Vec<Effect> {
    vec![Effect::Reload]
}

/// `:quit`: quit.
pub(crate) fn quit(app: &mut App, pending: &Pending) -> Vec<Effect> {
    // Leaving the console with alarms or send-backs waiting: ask first.
    if !app.attention.is_empty() && pending.confirmed == 0 {
        let mut asking = pending.clone();
        asking.args = vec![format!("({} {})", app.t(T::Attention), app.attention.len())];
        app.mode = Mode::Confirm(Box::new(asking));
        return Vec::new();
    }
    app.quit = true;
    vec![Effect::Quit]
}

/// `:callin`: call in units (街乡吹哨).
pub(crate) fn callin(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let args = &pending.args;
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let number = arg(0);
    if pending.args.len() < 2 {
        app.mode = Mode::Picker(Box::new(Picker::new(number, true)));
        return Vec::new();
    }
    // Units by id, Chinese name or pinyin; each called in by a
    // request of its own, so one refusal does not refuse all.
    match app.named(&arg(1), "unit") {
        Ok(units) if !units.is_empty() => {
            let units: Vec<String> = units.iter().map(|u| format!("unit:{u}")).collect();
            app.call_in(&number, &units)
        }
        Ok(_) => {
            app.complain(app.t(T::UnknownUnit));
            Vec::new()
        }
        Err(unknown) => {
            app.complain(format!("{}: {}", app.t(T::UnknownUnit), unknown.join(" ")));
            Vec::new()
        }
    }
}

/// `:outbox`: actions waiting to be sent or refused; outbox clear dismisses the refused.
pub(crate) fn outbox(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let args = &pending.args;
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    if arg(0) == "clear" {
        return vec![Effect::DismissFailed];
    }
    app.panel = if app.panel == Panel::Outbox {
        Panel::Detail
    } else {
        Panel::Outbox
    };
    Vec::new()
}

/// `:call`: take and dispatch a call in one line: category severity place summary… [phone].
pub(crate) fn call(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let args = &pending.args;
    if !app.live() {
        return Vec::new();
    }
    match app.call(args) {
        Ok(preview) => {
            // Nothing is sent before the officer has seen what the
            // words were taken to mean.
            app.mode = Mode::CallPreview(Box::new(preview));
            Vec::new()
        }
        Err(problem) => {
            app.complain(problem);
            Vec::new()
        }
    }
}

/// `:assign`: assign (lead or support).
pub(crate) fn assign(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let args = &pending.args;
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let number = arg(0);
    if pending.args.len() < 2 {
        app.mode = Mode::Picker(Box::new(Picker::new(number, false)));
        return Vec::new();
    }
    if !app.live() {
        return Vec::new();
    }
    let rpc = {
        let Some(assignee) = app.assignee(&number, Some(&arg(1))) else {
            app.complain(format!("{}: {}", app.t(T::AssignTo), arg(1)));
            return Vec::new();
        };
        let support = matches!(arg(2).as_str(), "support" | "s" | "协办" | "+");
        Rpc::Assign(pb::AssignRequest {
            request_id: String::new(),
            incident: number,
            assignee: Some(assignee),
            role: if support {
                pb::AssignmentRole::Support
            } else {
                pb::AssignmentRole::Lead
            } as i32,
            replace_lead: !support,
        })
    };
    vec![Effect::Rpc(rpc)]
}

/// `:sign`, `:arrive`: sign for on the assignee's behalf.
pub(crate) fn sign_or_arrive(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let args = &pending.args;
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let number = arg(0);
    // A post's own action goes to its outbox, link or no link.
    if app.post_mode {
        return queue(app, pending);
    }
    if !app.live() {
        return Vec::new();
    }
    let rpc = {
        let named = args.get(1).map(String::as_str);
        let Some(assignee) = app.assignee(&number, named) else {
            app.complain(format!("{}: {number}", app.t(T::Lead)));
            return Vec::new();
        };
        let request = pb::AssignmentActionRequest {
            done_at: None,
            request_id: String::new(),
            incident: number,
            assignment_id: 0,
            assignee: Some(assignee),
            note: String::new(),
        };
        if pending.spec.name == "sign" {
            Rpc::Sign(request)
        } else {
            Rpc::Arrive(request)
        }
    };
    vec![Effect::Rpc(rpc)]
}

/// `:note`: add a note.
pub(crate) fn note(app: &mut App, pending: &Pending) -> Vec<Effect> {
    // A post's own action goes to its outbox, link or no link.
    if app.post_mode {
        return queue(app, pending);
    }
    send(
        app,
        Rpc::Note(pb::AddNoteRequest {
            done_at: None,
            request_id: String::new(),
            incident: arg(pending, 0),
            text: arg(pending, 1),
        }),
    )
}

/// `:escalate`: escalate one level (with a reason).
pub(crate) fn escalate(app: &mut App, pending: &Pending) -> Vec<Effect> {
    send(
        app,
        Rpc::Escalate(pb::EscalateRequest {
            request_id: String::new(),
            incident: arg(pending, 0),
            to_level: 0,
            reason: arg(pending, 1),
        }),
    )
}

/// `:raise`: raise severity one step.
pub(crate) fn raise(app: &mut App, pending: &Pending) -> Vec<Effect> {
    send(
        app,
        Rpc::Raise(pb::RaiseSeverityRequest {
            request_id: String::new(),
            incident: arg(pending, 0),
            severity: 0,
            reason: arg(pending, 1),
        }),
    )
}

/// `:resolve`: resolve with an outcome.
pub(crate) fn resolve(app: &mut App, pending: &Pending) -> Vec<Effect> {
    // A post's own action goes to its outbox, link or no link.
    if app.post_mode {
        return queue(app, pending);
    }
    send(
        app,
        Rpc::Resolve(pb::ResolveRequest {
            done_at: None,
            request_id: String::new(),
            incident: arg(pending, 0),
            outcome: arg(pending, 1),
        }),
    )
}

/// `:close`: close after callback: satisfaction, result.
pub(crate) fn close(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let args = &pending.args;
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let number = arg(0);
    if !app.live() {
        return Vec::new();
    }
    let rpc = {
        let Ok(satisfaction) = arg(1).parse::<u32>() else {
            app.complain(format!("{}: {}", app.t(T::Satisfaction), arg(1)));
            return Vec::new();
        };
        let callback = match arg(2) {
            text if text.is_empty() => "已回访".to_owned(),
            text => text,
        };
        Rpc::Close(pb::CloseRequest {
            request_id: String::new(),
            incident: number,
            callback_result: callback,
            satisfaction,
        })
    };
    vec![Effect::Rpc(rpc)]
}

/// `:cancel`: cancel (false alarm).
pub(crate) fn cancel(app: &mut App, pending: &Pending) -> Vec<Effect> {
    send(
        app,
        Rpc::Cancel(pb::CancelRequest {
            request_id: String::new(),
            incident: arg(pending, 0),
            reason: arg(pending, 1),
        }),
    )
}

/// `:merge`: merge a duplicate into another (cannot be undone).
pub(crate) fn merge(app: &mut App, pending: &Pending) -> Vec<Effect> {
    send(
        app,
        Rpc::Merge(pb::MergeRequest {
            request_id: String::new(),
            incident: arg(pending, 0),
            into: arg(pending, 1),
        }),
    )
}

/// `:reopen`: reopen.
pub(crate) fn reopen(app: &mut App, pending: &Pending) -> Vec<Effect> {
    send(
        app,
        Rpc::Reopen(pb::ReopenRequest {
            request_id: String::new(),
            incident: arg(pending, 0),
            reason: arg(pending, 1),
        }),
    )
}

/// `:ack`: acknowledge alarms: all of the selected incident's; #id one; all every alarm (confirmed).
pub(crate) fn ack(app: &mut App, pending: &Pending) -> Vec<Effect> {
    if !app.live() {
        return Vec::new();
    }
    app.acknowledge(pending)
}

/// `:rollcall`: roll-call all posts or the ones named; follow answers and misses.
pub(crate) fn rollcall(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let args = &pending.args;
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    if !app.live() {
        return Vec::new();
    }
    let rpc = {
        // Posts by id, name or pinyin (each must name one post);
        // none: every post.
        // After the confirmation the typed words are the second arg.
        let typed = if pending.confirmed > 0 {
            arg(1)
        } else {
            arg(0)
        };
        let posts = match app.named(&typed, "post") {
            Ok(posts) => posts,
            Err(unknown) => {
                app.complain(format!("{}: {}", app.t(T::UnknownPost), unknown.join(" ")));
                return Vec::new();
            }
        };
        if pending.confirmed == 0 {
            let mut asking = pending.clone();
            asking.args = vec![if posts.is_empty() {
                app.t(T::AllPosts).to_owned()
            } else {
                posts
                    .iter()
                    .map(|p| app.display_name(&format!("post:{p}")))
                    .collect::<Vec<_>>()
                    .join(" ")
            }];
            asking.target = None;
            // The names shown are re-read on `y`: keep what was typed.
            asking.args.push(arg(0));
            app.mode = Mode::Confirm(Box::new(asking));
            return Vec::new();
        }
        if !app.live() {
            return Vec::new();
        }
        app.panel = Panel::RollCall;
        Rpc::RollCall(pb::SendRollCallRequest {
            posts,
            ..Default::default()
        })
    };
    vec![Effect::Rpc(rpc)]
}

/// `:edit`: correct the intake (only changed fields are sent).
pub(crate) fn edit(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let args = &pending.args;
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let number = arg(0);
    if !app.live() {
        return Vec::new();
    }
    let Some(incident) = app.find_incident(&number).cloned() else {
        app.complain(app.t(T::NoSelection));
        return Vec::new();
    };
    app.mode = Mode::Form(Box::new(IntakeForm::for_incident(&incident, &app.model)));
    // The list masks the phone: fetch it whole for the form.
    vec![Effect::Fetch(incident.number)]
}

/// `:unassign`: withdraw an assignment: #id or the assignee, reason.
pub(crate) fn unassign(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let args = &pending.args;
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let number = arg(0);
    if !app.live() {
        return Vec::new();
    }
    let rpc = {
        let Some(incident) = app.find_incident(&number) else {
            app.complain(app.t(T::NoSelection));
            return Vec::new();
        };
        let which = arg(1);
        let active = |a: &&pb::Assignment| {
            matches!(
                pb::AssignmentState::try_from(a.state),
                Ok(pb::AssignmentState::Dispatched
                    | pb::AssignmentState::SignedFor
                    | pb::AssignmentState::OnScene)
            )
        };
        let found = match which.trim_start_matches('#').parse::<u32>() {
            Ok(id) => incident.assignments.iter().find(|a| a.id == id),
            Err(_) => {
                let named = app.assignee(&number, Some(&which));
                incident.assignments.iter().filter(active).find(|a| {
                    a.assignee
                        .as_ref()
                        .zip(named.as_ref())
                        .is_some_and(|(x, n)| x.id == n.id && x.kind == n.kind)
                })
            }
        };
        let Some(assignment) = found.filter(active) else {
            app.complain(format!("{}: {which}", app.t(T::NoSuchAssignment)));
            return Vec::new();
        };
        Rpc::Unassign(pb::UnassignRequest {
            request_id: String::new(),
            incident: number,
            assignment_id: assignment.id,
            reason: arg(2),
        })
    };
    vec![Effect::Rpc(rpc)]
}

/// `:countersign`: countersign the outgoing officer's handover, with remarks.
pub(crate) fn countersign(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let args = &pending.args;
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    if !app.live() {
        return Vec::new();
    }
    let Some(id) = app
        .handover_for_me()
        .map(|h| h.id)
        .or_else(|| app.handover.as_ref().map(|h| h.id))
    else {
        app.complain(app.t(T::NoHandoverWaiting));
        return Vec::new();
    };
    vec![Effect::Handover(HandoverStep::Countersign(id, arg(0)))]
}

/// `:handover`: handover: open | note TEXT | sign | countersign REMARKS (incoming officer).
pub(crate) fn handover(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let args = &pending.args;
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    if !app.live() {
        return Vec::new();
    }
    // Signed out by the officer before: the incoming officer's
    // H shows it, and H again countersigns it.
    if matches!(arg(0).as_str(), "" | "open")
        && let Some(waiting) = app.handover_for_me().cloned()
    {
        let shown = app.panel == Panel::Handover
            && app.handover.as_ref().is_some_and(|h| h.id == waiting.id);
        if shown && let Some(spec) = commands::find("countersign") {
            app.mode = Mode::Prompt(Box::new(Pending::new(spec, Vec::new())), Line::default());
        } else {
            app.handover = Some(waiting);
            app.panel = Panel::Handover;
            app.say(app.t(T::CountersignHint));
        }
        return Vec::new();
    }
    let id = app.handover.as_ref().map(|h| h.id);
    let step = match (arg(0).as_str(), id) {
        ("" | "open", _) => HandoverStep::Open,
        ("note", Some(id)) => HandoverStep::Note(id, arg(1)),
        ("sign", Some(id)) => HandoverStep::Sign(id),
        ("countersign", Some(id)) => HandoverStep::Countersign(id, arg(1)),
        (_, None) => {
            app.complain(":handover open");
            return Vec::new();
        }
        (other, _) => {
            app.complain(format!("{}: handover {other}", app.t(T::UnknownCommand)));
            return Vec::new();
        }
    };
    vec![Effect::Handover(step)]
}

/// `:mode`: switch a post: post normal|emergency reason.
pub(crate) fn mode(app: &mut App, pending: &Pending) -> Vec<Effect> {
    let args = &pending.args;
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let number = arg(0);
    if !app.live() {
        return Vec::new();
    }
    let rpc = {
        let mode = match arg(1).as_str() {
            "emergency" | "e" | "应急" => pb::PostMode::Emergency,
            _ => pb::PostMode::Normal,
        };
        Rpc::Mode(pb::SetPostModeRequest {
            request_id: String::new(),
            id: number,
            mode: mode as i32,
            reason: arg(2),
        })
    };
    vec![Effect::Rpc(rpc)]
}

/// `:at TIME`: the board as it stood then (read-only).
pub(crate) fn at(app: &mut App, pending: &Pending) -> Vec<Effect> {
    app.start_replay(&arg(pending, 0))
}
