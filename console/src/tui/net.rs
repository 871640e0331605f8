//! The console's network side, all off the render loop: the link task
//! (snapshot, then Watch, resuming from the last seq after a drop, with
//! back-off) and the executor that runs actions and reports their results
//! as events.

use std::sync::Arc;
use std::time::Duration;

use dutyroom_proto::v1 as pb;
use pb::watch_response::Item;
use tokio::sync::{Notify, mpsc};
use tonic::Code;

use crate::client::Client;
use crate::tui::app::{AppEvent, Effect, HandoverStep, Rpc};
use crate::tui::i18n::{Lang, T};
use crate::tui::model::Snapshot;

/// A Watch stream silent for this long is treated as dead (heartbeats come
/// every 10 s by default).
const SILENCE: Duration = Duration::from_secs(35);

/// Loads everything the console shows.
pub async fn snapshot(client: &Client) -> Result<(pb::ServerInfo, Snapshot), tonic::Status> {
    let info = client
        .journal()
        .get_server_info(pb::GetServerInfoRequest {})
        .await?
        .into_inner();
    let mut incidents = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .incidents()
            .list_incidents(pb::ListIncidentsRequest {
                statuses: [
                    pb::IncidentStatus::New,
                    pb::IncidentStatus::Dispatched,
                    pb::IncidentStatus::Signed,
                    pb::IncidentStatus::OnScene,
                    pb::IncidentStatus::Resolved,
                ]
                .iter()
                .map(|s| *s as i32)
                .collect(),
                page: Some(pb::Page {
                    limit: 1000,
                    page_token: token.clone(),
                }),
                ..Default::default()
            })
            .await?
            .into_inner();
        incidents.extend(page.incidents);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let all = pb::ListRequest {
        include_retired: false,
    };
    // Who is connected is the centre's to see; a post is told no.
    let presence = match client
        .presence()
        .list_presence(pb::ListPresenceRequest {})
        .await
    {
        Ok(reply) => reply.into_inner().entries,
        Err(status) if status.code() == Code::PermissionDenied => Vec::new(),
        Err(status) => return Err(status),
    };
    // Gateways likewise: the centre's.
    let gateways = match client
        .notify()
        .list_gateways(pb::ListGatewaysRequest {})
        .await
    {
        Ok(reply) => reply.into_inner().gateways,
        Err(status) if status.code() == Code::PermissionDenied => Vec::new(),
        Err(status) => return Err(status),
    };
    let snapshot = Snapshot {
        presence,
        gateways,
        rollcalls: client
            .rollcalls()
            .list_roll_calls(pb::ListRollCallsRequest {
                pending_only: true,
                limit: 100,
            })
            .await?
            .into_inner()
            .roll_calls,
        head_seq: info.head_seq,
        incidents,
        posts: client.posts().list_posts(all).await?.into_inner().posts,
        units: client.units().list_units(all).await?.into_inner().units,
        categories: client
            .categories()
            .list_categories(all)
            .await?
            .into_inner()
            .categories,
        places: client.places().list_places(all).await?.into_inner().places,
        people: client.people().list_people(all).await?.into_inner().people,
        alarms: client
            .escalation()
            .list_alarms(pb::ListAlarmsRequest {
                limit: 1000,
                ..Default::default()
            })
            .await?
            .into_inner()
            .alarms,
    };
    Ok((info, snapshot))
}

/// Keeps the console fed until `events` closes. `reload` asks for a fresh
/// snapshot.
pub async fn link(client: Client, events: mpsc::UnboundedSender<AppEvent>, reload: Arc<Notify>) {
    let mut resume: Option<u64> = None;
    // The store identity `resume` belongs to: after a restore or accepted
    // loss, dutyd refuses it (ABORTED) and the console takes a new snapshot
    // instead of resuming into reused seqs.
    let mut identity = String::new();
    let mut backoff = Duration::from_millis(500);
    let mut lost = false;
    loop {
        if events.is_closed() {
            return;
        }
        let from = match resume {
            Some(seq) => seq,
            None => match snapshot(&client).await {
                Ok((info, snapshot)) => {
                    let head = snapshot.head_seq;
                    identity.clone_from(&info.store_id);
                    let zone = info.time.map(|t| t.time_zone).unwrap_or_default();
                    let _ = events.send(AppEvent::Connected {
                        me: info.you.unwrap_or_default(),
                        zone,
                    });
                    let _ = events.send(AppEvent::Snapshot(Box::new(snapshot)));
                    lost = false;
                    resume = Some(head);
                    head
                }
                Err(status) => {
                    let _ = events.send(AppEvent::LinkLost(status.message().to_owned()));
                    lost = true;
                    wait(&reload, backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            },
        };
        let request = pb::WatchRequest {
            from_seq: from,
            live_only: false,
            filter: None,
            store_id: identity.clone(),
        };
        let mut stream = match client.journal().watch(request).await {
            Ok(stream) => stream.into_inner(),
            Err(status) => {
                if matches!(status.code(), Code::OutOfRange | Code::Aborted) {
                    resume = None;
                }
                let _ = events.send(AppEvent::LinkLost(status.message().to_owned()));
                lost = true;
                wait(&reload, backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        let error = loop {
            tokio::select! {
                () = reload.notified() => {
                    resume = None;
                    break None;
                }
                next = tokio::time::timeout(SILENCE, stream.message()) => match next {
                    Ok(Ok(Some(item))) => {
                        if lost {
                            lost = false;
                            backoff = Duration::from_millis(500);
                            let _ = events.send(AppEvent::LinkBack);
                        }
                        if let Some(Item::Event(event)) = item.item {
                            resume = Some(event.seq);
                            if events.send(AppEvent::Watch(Box::new(event))).is_err() {
                                return;
                            }
                        }
                    }
                    Ok(Ok(None)) => break Some("the stream ended".to_owned()),
                    Ok(Err(status)) => {
                        if status.code() == Code::OutOfRange {
                            resume = None;
                        }
                        break Some(status.message().to_owned());
                    }
                    Err(_) => break Some("no heartbeat from dutyd".to_owned()),
                },
            }
        };
        if let Some(error) = error {
            let _ = events.send(AppEvent::LinkLost(error));
            lost = true;
            wait(&reload, backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }
}

async fn wait(reload: &Notify, for_: Duration) {
    tokio::select! {
        () = reload.notified() => {}
        () = tokio::time::sleep(for_) => {}
    }
}

/// Runs one effect that needs dutyd, reporting back through `events`.
/// The result line is in `lang`.
pub async fn execute(
    client: Client,
    effect: Effect,
    events: mpsc::UnboundedSender<AppEvent>,
    lang: Lang,
) {
    let event = match effect {
        Effect::Rpc(Rpc::Create(request)) => {
            let request_id = request.request_id.clone();
            let verb = pick(lang, "接警并派单", "call recorded and dispatched");
            let answer = client.incidents().create_incident(request).await;
            recorded(answer, request_id, verb, &events, lang)
        }
        Effect::Rpc(Rpc::RepeatCall(request)) => {
            let request_id = request.request_id.clone();
            let verb = pick(lang, "已并入重复来电", "attached as a repeat call to");
            let answer = client.incidents().add_repeat_call(request).await;
            recorded(answer, request_id, verb, &events, lang)
        }
        Effect::FindRelated(request) => {
            match client.incidents().find_related(request.clone()).await {
                Ok(reply) => AppEvent::Related(request, Ok(reply.into_inner())),
                Err(status) => AppEvent::Related(request, Err(said(&status, lang))),
            }
        }
        Effect::Rpc(rpc) => AppEvent::Done(rpc_call(&client, rpc, lang).await),
        Effect::Fetch(number) => match client
            .incidents()
            .get_incident(pb::GetIncidentRequest { incident: number })
            .await
        {
            Ok(incident) => AppEvent::Fetched(Box::new(incident.into_inner())),
            Err(status) => AppEvent::Done(Err(said(&status, lang))),
        },
        Effect::LoadTimeline(number) => {
            let mut all = Vec::new();
            let mut after = 0;
            loop {
                match client
                    .journal()
                    .list_events(pb::ListEventsRequest {
                        after_seq: after,
                        incident: number.clone(),
                        limit: 1000,
                    })
                    .await
                {
                    Ok(reply) => {
                        let reply = reply.into_inner();
                        all.extend(reply.events);
                        if reply.next_after_seq == 0 {
                            break AppEvent::Timeline(number, all);
                        }
                        after = reply.next_after_seq;
                    }
                    Err(status) => break AppEvent::Done(Err(said(&status, lang))),
                }
            }
        }
        Effect::LoadReport(request) => match client.reports().get_report(request).await {
            Ok(reply) => AppEvent::Report(Box::new(reply.into_inner())),
            Err(status) => AppEvent::Done(Err(said(&status, lang))),
        },
        Effect::SearchHistory(query, request) => {
            match client.incidents().search_incidents(request).await {
                Ok(reply) => AppEvent::History(query, Ok(reply.into_inner())),
                Err(status) => AppEvent::History(query, Err(said(&status, lang))),
            }
        }
        Effect::Replay(request) => match client.incidents().replay_board(request.clone()).await {
            Ok(reply) => AppEvent::Replayed(request, Ok(reply.into_inner())),
            // A time dutyd cannot read, or one to come: said in words.
            Err(status) if status.code() == Code::InvalidArgument && lang == Lang::Zh => {
                let why = if status.message().contains("in the future") {
                    T::ReplayFuture
                } else {
                    T::ReplayBadTime
                };
                AppEvent::Replayed(request, Err(why.get(lang).to_owned()))
            }
            Err(status) => AppEvent::Replayed(request, Err(said(&status, lang))),
        },
        Effect::LoadOnDuty => match client.rosters().on_duty(pb::OnDutyRequest::default()).await {
            Ok(reply) => AppEvent::OnDuty(Box::new(reply.into_inner())),
            // No roster yet is not worth a message; the panel says so.
            Err(_) => return,
        },
        Effect::LoadPendingHandovers => {
            let request = pb::ListHandoversRequest {
                pending_only: true,
                ..Default::default()
            };
            match client.handovers().list_handovers(request).await {
                Ok(reply) => AppEvent::PendingHandovers(reply.into_inner().handovers),
                // Not worth a message: the panel still works from H.
                Err(_) => return,
            }
        }
        Effect::Handover(step) => {
            let mut handovers = client.handovers();
            let reply = match step {
                HandoverStep::Open => {
                    handovers
                        .open_handover(pb::OpenHandoverRequest::default())
                        .await
                }
                HandoverStep::Note(id, notes) => {
                    handovers
                        .update_handover(pb::UpdateHandoverRequest {
                            request_id: String::new(),
                            id,
                            notes,
                        })
                        .await
                }
                HandoverStep::Sign(id) => {
                    handovers
                        .sign_handover(pb::SignHandoverRequest {
                            request_id: String::new(),
                            id,
                        })
                        .await
                }
                HandoverStep::Countersign(id, remarks) => {
                    handovers
                        .countersign_handover(pb::CountersignHandoverRequest {
                            request_id: String::new(),
                            id,
                            remarks,
                        })
                        .await
                }
            };
            match reply {
                Ok(handover) => AppEvent::Handover(Box::new(handover.into_inner())),
                Err(status) => AppEvent::Done(Err(said(&status, lang))),
            }
        }
        // The outbox and the local effects are run by `Effects` itself.
        Effect::Queue(_) | Effect::DismissFailed | Effect::SaveDraft(_) => return,
        Effect::Reload | Effect::Bell | Effect::Quit => return,
    };
    let _ = events.send(event);
}

/// dutyd's refusal in the console's language.
/// A call taken from the form (a new incident, or a repeat call): said
/// done with its number, or refused with the field it concerns, so that the
/// form comes back.
fn recorded(
    answer: Result<tonic::Response<pb::IncidentReply>, tonic::Status>,
    request_id: String,
    verb: &str,
    events: &mpsc::UnboundedSender<AppEvent>,
    lang: Lang,
) -> AppEvent {
    match answer {
        Ok(reply) => {
            let number = reply
                .into_inner()
                .incident
                .map(|i| i.number)
                .unwrap_or_default();
            let _ = events.send(AppEvent::Done(Ok(format!("{verb} {number} ✓"))));
            AppEvent::Created(number, request_id)
        }
        Err(status) => {
            let refused = crate::tui::refusal::refusal(&status, lang);
            AppEvent::CreateFailed(request_id, refused.text, refused.field)
        }
    }
}

fn said(status: &tonic::Status, lang: Lang) -> String {
    crate::tui::refusal::refusal(status, lang).text
}

fn pick(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

async fn rpc_call(client: &Client, rpc: Rpc, lang: Lang) -> Result<String, String> {
    let mut incidents = client.incidents();
    let p = |zh, en| pick(lang, zh, en);
    let (verb, reply) = match rpc {
        Rpc::Create(r) => (p("接警", "created"), incidents.create_incident(r).await),
        Rpc::Assign(r) => (p("已派单", "assigned"), incidents.assign(r).await),
        Rpc::Sign(r) => (p("已代签收", "signed for"), incidents.sign_for(r).await),
        Rpc::Arrive(r) => (p("已报到场", "arrival recorded"), incidents.arrive(r).await),
        Rpc::Note(r) => (p("已备注", "note added"), incidents.add_note(r).await),
        Rpc::Escalate(r) => (p("已督办升级", "escalated"), incidents.escalate(r).await),
        Rpc::Raise(r) => (
            p("已提升级别", "severity raised"),
            incidents.raise_severity(r).await,
        ),
        Rpc::CallIn(r) => (
            p("已吹哨调派", "units called in"),
            incidents.call_in(r).await,
        ),
        Rpc::Resolve(r) => (p("已处置", "resolved"), incidents.resolve(r).await),
        Rpc::Close(r) => (p("已办结", "closed"), incidents.close(r).await),
        Rpc::Cancel(r) => (p("已撤销", "cancelled"), incidents.cancel(r).await),
        Rpc::Merge(r) => (p("已合并", "merged"), incidents.merge(r).await),
        Rpc::Reopen(r) => (p("已重新打开", "reopened"), incidents.reopen(r).await),
        Rpc::Update(r) => (p("已修改", "corrected"), incidents.update_incident(r).await),
        Rpc::RepeatCall(r) => (
            p("已并入重复来电", "attached as a repeat call"),
            incidents.add_repeat_call(r).await,
        ),
        Rpc::Unassign(r) => (
            p("已撤回派单", "assignment withdrawn"),
            incidents.unassign(r).await,
        ),
        Rpc::Ack(r) => {
            let verb = p("已确认警报", "alarm acknowledged");
            return client
                .escalation()
                .acknowledge_alarm(r)
                .await
                .map(|a| format!("{verb} #{} ✓", a.into_inner().id))
                .map_err(|s| said(&s, lang));
        }
        Rpc::Finish(r) => (p("已完成", "finished"), incidents.finish(r).await),
        Rpc::Refuse(r) => (p("已退回", "sent back"), incidents.refuse(r).await),
        Rpc::Answer(r) => {
            return client
                .rollcalls()
                .answer_roll_call(r)
                .await
                .map(|r| {
                    format!(
                        "{} #{} ✓",
                        p("已应答查岗", "roll-call answered"),
                        r.into_inner().id
                    )
                })
                .map_err(|s| said(&s, lang));
        }
        Rpc::RollCall(r) => {
            return client
                .rollcalls()
                .send_roll_call(r)
                .await
                .map(|r| {
                    let r = r.into_inner();
                    format!(
                        "{} #{} → {} ✓",
                        p("已发出查岗", "roll-call sent"),
                        r.id,
                        r.posts.len()
                    )
                })
                .map_err(|s| said(&s, lang));
        }
        Rpc::Mode(r) => {
            return client
                .posts()
                .set_post_mode(r)
                .await
                .map(|p| format!("{} ✓", p.into_inner().name))
                .map_err(|s| said(&s, lang));
        }
    };
    reply
        .map(|reply| {
            let number = reply
                .into_inner()
                .incident
                .map(|i| i.number)
                .unwrap_or_default();
            format!("{verb} {number} ✓")
        })
        .map_err(|status| said(&status, lang))
}

/// A post's or unit's heartbeats: they keep it "seen" at the centre and let
/// dutyd measure its clock. Ends at once for a centre token (dutyd says it
/// needs none).
pub async fn heartbeats(client: Client) {
    let mut round_trip_ms = 0u32;
    let mut interval = Duration::from_secs(15);
    loop {
        let sent = std::time::Instant::now();
        let now = jiff::Timestamp::now();
        let request = pb::HeartbeatRequest {
            client_time: Some(prost_types::Timestamp {
                seconds: now.as_second(),
                nanos: now.subsec_nanosecond(),
            }),
            last_round_trip_ms: round_trip_ms,
        };
        match client.presence().heartbeat(request).await {
            Ok(reply) => {
                round_trip_ms = u32::try_from(sent.elapsed().as_millis()).unwrap_or(u32::MAX);
                let every = reply.into_inner().interval_seconds;
                interval = Duration::from_secs(u64::from(every.max(1)));
            }
            Err(status) if status.code() == Code::PermissionDenied => return,
            // The link is down: the next beat will tell.
            Err(_) => round_trip_ms = 0,
        }
        tokio::time::sleep(interval).await;
    }
}

/// The post's outbox and the task emptying it into dutyd.
pub struct OutboxLink {
    outbox: Arc<std::sync::Mutex<crate::outbox::Outbox>>,
    wake: Arc<Notify>,
    events: mpsc::UnboundedSender<AppEvent>,
    /// Actions to write, in order, by the writer task (never on the
    /// screen loop: each write is fsynced).
    writes: mpsc::UnboundedSender<crate::outbox::Action>,
}

fn lock(
    outbox: &std::sync::Mutex<crate::outbox::Outbox>,
) -> std::sync::MutexGuard<'_, crate::outbox::Outbox> {
    outbox.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl OutboxLink {
    /// Opens the outbox in `dir` and starts sending what it holds.
    pub fn start(
        dir: &std::path::Path,
        client: Client,
        events: mpsc::UnboundedSender<AppEvent>,
        lang: Lang,
    ) -> Result<OutboxLink, crate::outbox::OutboxError> {
        let outbox = Arc::new(std::sync::Mutex::new(crate::outbox::Outbox::open(dir)?));
        let wake = Arc::new(Notify::new());
        tokio::spawn(drain(
            client,
            outbox.clone(),
            wake.clone(),
            events.clone(),
            lang,
        ));
        let (writes, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_in_order(
            queue,
            outbox.clone(),
            wake.clone(),
            events.clone(),
            lang,
        ));
        Ok(OutboxLink {
            outbox,
            wake,
            events,
            writes,
        })
    }

    /// Hands an action to the writer task: it is on disk (and the console
    /// says "recorded") a moment later, in the order handed over.
    pub fn record(&self, action: crate::outbox::Action) {
        if self.writes.send(action).is_err() {
            let _ = self.events.send(AppEvent::Done(Err(
                "the outbox writer stopped: nothing was recorded".into(),
            )));
        }
    }

    /// Forgets the refused actions.
    pub fn dismiss_failed(&self) -> Result<usize, crate::outbox::OutboxError> {
        let dismissed = lock(&self.outbox).dismiss_failed()?;
        self.wake.notify_one();
        Ok(dismissed)
    }

    /// Tells the console what the outbox holds now.
    pub fn report(&self) {
        report(&self.outbox, &self.events, None);
    }
}

/// Writes queued actions one at a time, off the screen loop, then wakes
/// the sender and reports: "recorded" only once the action is on disk.
async fn write_in_order(
    mut queue: mpsc::UnboundedReceiver<crate::outbox::Action>,
    outbox: Arc<std::sync::Mutex<crate::outbox::Outbox>>,
    wake: Arc<Notify>,
    events: mpsc::UnboundedSender<AppEvent>,
    lang: Lang,
) {
    while let Some(action) = queue.recv().await {
        // Kept with the action and shown in the outbox panel and results:
        // in the console's language.
        let label = match crate::tui::commands::short_label(action.command(), lang) {
            "" => action.verb(),
            label => label,
        };
        let summary = format!("{label} {}", action.incident()).trim().to_owned();
        let written = tokio::task::spawn_blocking({
            let outbox = outbox.clone();
            let summary = summary.clone();
            move || outbox_push(lock(&outbox), action, summary)
        })
        .await;
        match written {
            Ok(Ok(())) => {
                wake.notify_one();
                report(&outbox, &events, None);
                let _ = events.send(AppEvent::Done(Ok(format!(
                    "{summary} — {}",
                    pick(lang, "已记录, 待发送", "recorded, queued")
                ))));
            }
            // Not on disk: say so loudly, nothing was recorded.
            Ok(Err(error)) => {
                let _ = events.send(AppEvent::Done(Err(error.to_string())));
            }
            Err(error) => {
                let _ = events.send(AppEvent::Done(Err(format!("{summary}: {error}"))));
            }
        }
    }
}

fn outbox_push(
    mut outbox: std::sync::MutexGuard<'_, crate::outbox::Outbox>,
    action: crate::outbox::Action,
    summary: String,
) -> Result<(), crate::outbox::OutboxError> {
    outbox.push(action, summary).map(drop)
}

fn report(
    outbox: &std::sync::Mutex<crate::outbox::Outbox>,
    events: &mpsc::UnboundedSender<AppEvent>,
    waiting: Option<String>,
) {
    match lock(outbox).contents() {
        Ok(contents) => {
            let _ = events.send(AppEvent::Outbox(Box::new(crate::tui::app::OutboxView {
                contents,
                waiting,
            })));
        }
        Err(error) => {
            let _ = events.send(AppEvent::Done(Err(error.to_string())));
        }
    }
}

/// Sends the outbox's actions in order: on to the next when dutyd answers,
/// the same one again (with back-off) while it cannot be reached.
async fn drain(
    client: Client,
    outbox: Arc<std::sync::Mutex<crate::outbox::Outbox>>,
    wake: Arc<Notify>,
    events: mpsc::UnboundedSender<AppEvent>,
    lang: Lang,
) {
    let mut backoff = Duration::from_millis(250);
    let mut waiting: Option<String> = None;
    loop {
        if events.is_closed() {
            return;
        }
        report(&outbox, &events, waiting.clone());
        let head = lock(&outbox).head();
        let entry = match head {
            Ok(Some(entry)) => entry,
            Ok(None) => {
                waiting = None;
                tokio::select! {
                    () = wake.notified() => {}
                    () = events.closed() => return,
                }
                continue;
            }
            Err(error) => {
                let _ = events.send(AppEvent::Done(Err(error.to_string())));
                wait(&wake, Duration::from_secs(5)).await;
                continue;
            }
        };
        let Some(action) = entry.action.clone() else {
            let _ = lock(&outbox).fail(entry, "this console cannot send this kind of action");
            continue;
        };
        match crate::outbox::send(&client, action).await {
            Ok(()) => {
                backoff = Duration::from_millis(250);
                waiting = None;
                if let Err(error) = lock(&outbox).remove(entry.seq) {
                    let _ = events.send(AppEvent::Done(Err(error.to_string())));
                }
                let _ = events.send(AppEvent::Done(Ok(format!(
                    "{} — {} ✓",
                    entry.summary,
                    pick(lang, "已送达", "delivered")
                ))));
            }
            Err(status) if crate::outbox::retryable(status.code()) => {
                waiting = Some(said(&status, lang));
                report(&outbox, &events, waiting.clone());
                // Until the retry, or until the console is gone.
                tokio::select! {
                    () = wait(&wake, backoff) => {}
                    () = events.closed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(status) => {
                let reason = said(&status, lang);
                let _ = events.send(AppEvent::Done(Err(format!(
                    "{} — {}: {reason}",
                    entry.summary,
                    pick(lang, "被拒绝", "refused")
                ))));
                if let Err(error) = lock(&outbox).fail(entry, &reason) {
                    let _ = events.send(AppEvent::Done(Err(error.to_string())));
                }
            }
        }
    }
}
