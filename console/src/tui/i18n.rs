//! Every text the console shows, in Chinese and English, from one catalogue.
//! The language comes from the config file, else from `LANG`/`LC_ALL`.

/// The console's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
pub enum Lang {
    /// 简体中文.
    #[default]
    #[serde(rename = "zh")]
    Zh,
    /// English.
    #[serde(rename = "en")]
    En,
}

impl Lang {
    /// From `LC_ALL` / `LC_MESSAGES` / `LANG`: Chinese unless they say English
    /// (or anything that is not Chinese).
    pub fn from_env() -> Lang {
        let value = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
            .unwrap_or_default();
        if value.is_empty() || value.starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }
}

/// A principal's role in `lang`: `officer` → 值班员.
pub fn role_label(role: &str, lang: Lang) -> String {
    let (zh, en) = match role {
        "officer" => ("值班员", "duty officer"),
        "leader" => ("带班领导", "duty leader"),
        "admin" => ("管理员", "administrator"),
        other if other.starts_with("post:") => ("指挥部", "post"),
        other if other.starts_with("unit:") => ("联动单位", "unit"),
        other => (other, other),
    };
    match lang {
        Lang::Zh => zh.to_owned(),
        Lang::En => en.to_owned(),
    }
}

/// A request or event field (`intake.summary`, `caller_phone`) by the label
/// the console shows for it in the form.
pub fn field_label(field: &str, lang: Lang) -> String {
    let last = field.rsplit('.').next().unwrap_or(field);
    let text = match last {
        "summary" => T::Summary,
        "address" => T::Address,
        "caller_phone" => T::Phone,
        "caller_name" => T::Caller,
        "place_id" => T::Place,
        "category" => T::Category,
        "severity" => T::Severity,
        "source" => T::Source,
        "tags" => T::Tags,
        "text" | "note" | "notes" => T::Notes,
        "reason" => T::Reason,
        "outcome" => T::Outcome,
        "callback_result" => T::Callback,
        "remarks" => T::Remarks,
        "satisfaction" => T::Satisfaction,
        _ => return format!("{} {field}", T::FieldWord.get(lang)),
    };
    text.get(lang).to_owned()
}

macro_rules! catalogue {
    ($($key:ident => ($zh:expr, $en:expr),)*) => {
        /// A text of the console.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum T { $($key,)* }

        impl T {
            /// Every text of the catalogue (tests check each language is
            /// clean of the other).
            pub const ALL: &'static [T] = &[$(T::$key,)*];

            /// The text in `lang`.
            pub fn get(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((T::$key, Lang::Zh) => $zh, (T::$key, Lang::En) => $en,)*
                }
            }
        }
    };
}

catalogue! {
    Title => ("值班台", "duty console"),
    Live => ("在线", "live"),
    Connecting => ("连接中", "connecting"),
    Lost => ("已断开", "LINK LOST"),
    Stale => ("数据停留在", "showing data as of"),
    Retrying => ("重连中", "reconnecting"),
    Open => ("未结", "open"),
    Unsigned => ("未签收", "unsigned"),
    More => ("↓ 更多", "↓ more"),
    OnScene => ("已到场", "on scene"),
    Overdue => ("超时", "overdue"),
    Alarms => ("警报", "alarms"),
    Emergency => ("应急", "emerg."),
    Normal => ("平时", "normal"),
    Number => ("编号", "no."),
    Age => ("时长", "age"),
    Severity => ("级别", "sev"),
    SeverityShort => ("级", "sev"),
    Category => ("类别", "category"),
    Where => ("地点/辖区", "place/post"),
    Lead => ("主办", "lead"),
    Clock => ("时限", "clock"),
    Summary => ("摘要", "summary"),
    NoIncidents => ("没有在办事件", "no open incidents"),
    NoMatch => ("没有符合筛选的事件", "nothing matches the filter"),
    RepeatCalls => ("来电", "calls"),
    NothingToAttach => ("没有可并入的未结事件", "no open incident to attach this call to"),
    CallsLast30 => ("此号码近30天来电", "this number called, last 30 days:"),
    AtLeast => ("至少", "at least "),
    SamePhoneOpen => ("同号码未结", "open, same number"),
    SamePlaceOpen => ("同地点同类未结", "open, same place and category"),
    Replaying => ("回放", "REPLAY"),
    ReplayExit => ("Esc 回到实时", "Esc live"),
    ReplaySteps => ("←→ 逐事件  ,. 逐分钟", "←→ event  ,. minute"),
    ReplayNothingYet => ("此刻之前没有任何记录", "nothing recorded before this moment"),
    ReplayBadTime => ("看不懂这个时间: 用 03:00 或 2026-12-03 03:00", "not a time: use 03:00 or 2026-12-03 03:00"),
    ReplayFuture => ("不能回放将来的时刻", "that moment has not come yet"),
    NotYetThen => ("此刻尚未接警", "not yet recorded at this moment"),
    ReplayReadOnly => ("回放中只读 — Esc 回到实时", "a replay is read-only — Esc for the live board"),
    ReplayUsage => ("用法: :at 03:00 或 :at 2026-12-03 03:00", "usage: :at 03:00 or :at 2026-12-03 03:00"),
    ReplayFailed => ("回放失败", "replay failed"),
    ReplayAtLatest => ("已到最新 — Esc 回到实时", "nothing later — Esc for the live board"),
    ReplayAtEarliest => ("没有更早的事件", "nothing earlier"),
    ReplayStepFar => ("相邻事件较远: 用 ,. 按分钟移动", "the next event is far away: step by minute with , ."),
    ReplayAsking => ("正在回放…", "replaying…"),
    BackToLive => ("已回到实时", "back to the live board"),
    Record => ("记录", "record"),
    When => ("时间 (03:00 或 2026-12-03 03:00)", "time (03:00 or 2026-12-03 03:00)"),
    FirstCall => ("首次来电", "first call"),
    AttachHintOne => ("Ctrl-R 并入此事件（重复来电）", "Ctrl-R attach as repeat call"),
    AttachHint => ("Ctrl-R 并入所选（重复来电） PgDn 换一个", "Ctrl-R attach as repeat call  PgDn next"),
    LookingUp => ("正在查询来电记录…", "looking up the caller…"),
    LookupFailed => ("来电记录查询失败", "caller lookup failed"),
    Times => ("次", "x"),
    HistorySearching => ("正在查找历史记录…", "searching history…"),
    HistoryFailed => ("历史记录查找失败", "history search failed"),
    HistoryNothingMore => ("历史记录中没有其他事件", "nothing else in history"),
    HistoryFound => ("历史记录", "history:"),
    HistoryFoundTail => (" 条，最近的在前", ", newest first"),
    HistoryMore => ("；还有更早的，请加条件缩小范围", "; and older: narrow the search"),
    Filter => ("筛选", "filter"),
    Command => ("命令", "command"),
    Help => ("帮助", "help"),
    Keys => ("按键", "keys"),
    StatusNew => ("待派单", "new"),
    StatusDispatched => ("已派单", "dispatched"),
    StatusSigned => ("已签收", "signed"),
    StatusOnScene => ("已到场", "on scene"),
    StatusResolved => ("待回访", "resolved"),
    StatusClosed => ("已办结", "closed"),
    StatusCancelled => ("已撤销", "cancelled"),
    StatusMerged => ("已合并", "merged"),
    ClockSign => ("签收", "sign"),
    ClockArrive => ("到场", "arr"),
    ClockResolve => ("办结", "res"),
    Dispatched => ("待签收", "dispatched"),
    SignedFor => ("已签收", "signed"),
    Done => ("完成", "done"),
    Refused => ("退回", "refused"),
    Withdrawn => ("撤回", "withdrawn"),
    Intake => ("接警", "new call"),
    Source => ("来源", "source"),
    Drill => ("【演练】", "[DRILL] "),
    DrillHint => ("空格 标为演练", "Space: mark as drill"),
    Caller => ("报警人", "caller"),
    Phone => ("电话", "phone"),
    Address => ("地址", "address"),
    Place => ("地点", "place"),
    WillDispatch => ("将派往", "will dispatch to"),
    NoPost => ("无辖区指挥部: 提交后按 a 派单", "no post found: press a after submitting"),
    Submit => ("回车 提交并派单", "Enter submit & dispatch"),
    FormHint => ("Tab 下一项  Shift-Tab 上一项  ↑↓ 选择  Esc 取消", "Tab next  Shift-Tab back  ↑↓ choose  Esc cancel"),
    Missing => ("请填写", "please fill in"),
    ExactAddress => ("详细地址", "address"),
    Discarded => ("已放弃", "discarded"),
    AskDiscard => ("放弃已输入的内容? y 放弃 · 其他键继续输入", "Throw away what you typed? y discards · any other key goes back"),
    AskQuit => ("有未提交的输入。退出? y 退出 (接警草稿保留) · 其他键继续", "Unsent input. Quit? y quits (the intake draft is kept) · any other key goes back"),
    PasteIgnored => ("粘贴已忽略: 请先打开输入框", "paste ignored: open a field first"),
    Log => ("消息记录 (↑↓ 翻看, 其他键返回)", "messages (↑↓ scroll, any other key returns)"),
    UnknownUnit => ("找不到单位 (按名称、拼音或编号)", "no such unit (name, pinyin or id)"),
    CallIn => ("吹哨", "called in"),
    ChosenUnits => ("已选", "chosen"),
    CallInHint => ("输入筛选 · Tab 加入 · 回车 吹哨 · Esc 取消", "type to filter · Tab adds · Enter calls in · Esc cancels"),
    AnswerUntil => ("截止", "by "),
    Remarks => ("接班意见", "remarks"),
    HandoverWaiting => ("有待接收的交接班", "a handover waits for you"),
    Show => ("查看", "shows it"),
    CountersignHint => ("上一班已签出: 再按 H 写接班意见并接班", "signed out by the last shift: H again to countersign with remarks"),
    NoHandoverWaiting => ("没有待接收的交接班", "no handover waits for you"),
    HandoverPending => ("待接班", "handover waiting"),
    UnknownPost => ("找不到指挥部 (按名称、拼音或编号)", "no such post (name, pinyin or id)"),
    RollCallPanel => ("查岗", "roll-call"),
    NoRollCall2 => ("尚未查岗: :rollcall 发出", "no roll-call yet: :rollcall sends one"),
    Answered => ("应答", "answered"),
    AwaitingAnswer => ("等待应答", "waiting"),
    Missed => ("超时未应答", "MISSED"),
    SentAt => ("发出", "sent"),
    AllPosts => ("全部指挥部", "every post"),
    Assignment => ("派单 (#编号或名称)", "assignment (#id or name)"),
    NoSuchAssignment => ("没有这条进行中的派单", "no such active assignment"),
    Editing => ("修改接警", "correct intake"),
    Late => (" (已过交班时间)", " (late: the shift has ended)"),
    AtMost => ("最多", "at most"),
    Characters => ("字", "characters"),
    Got => ("现", "got"),
    Required => ("必填", "is required"),
    ControlChars => ("含有控制字符 (请删除)", "contains control characters"),
    BadId => ("编号格式不对 (小写字母、数字、- 或 _)", "is not a valid id"),
    FieldWord => ("字段", "field"),
    RefusedNotFound => ("找不到 (或无权查看)", "not found"),
    RefusedDenied => ("无权执行: 需要其他角色", "not allowed for this role"),
    RefusedToken => ("令牌无效、已过期或已吊销", "the token is invalid, expired or revoked"),
    RefusedUnavailable => ("dutyd 暂时无法记录: 未记录, 请稍后重试", "dutyd cannot record now: nothing was recorded, try again"),
    RefusedBusy => ("请求过于频繁: 请稍后重试", "too many requests: try again shortly"),
    RefusedExists => ("已经存在", "already exists"),
    RefusedTimeout => ("dutyd 未及时响应", "dutyd did not answer in time"),
    RefusedInternal => ("dutyd 内部错误, 日志编号", "dutyd internal error, log id"),
    RefusedState => ("当前状态不允许此操作", "not allowed in the current state"),
    RefusedInvalid => ("请求无效", "invalid request"),
    SelectionMoved => ("选中项刚变为新派单", "the selection just moved to a new order"),
    PressAgain => ("确认是它就再按一次", "press again to act on it"),
    NotOnBoard => ("不在看板上 (已办结、已撤销或不存在)", "not on the board (closed, cancelled or no such incident)"),
    AskQuitPlain => ("有未完成的输入。退出? y 退出 · 其他键继续", "Unfinished input. Quit? y quits · any other key goes back"),
    HandoverOpen => ("已生成/刷新", "open (refreshed)"),
    HandoverSignedOut => ("已签出, 待接班", "signed out, waiting for the next shift"),
    HandoverCountersigned => ("已会签, 交接完成", "countersigned: done"),
    SubmitEdit => ("回车 提交修改 (不重新派单)", "Enter saves the correction (no new dispatch)"),
    HintReopen => ("先重新打开", "reopen it first"),
    HintNewCall => ("回车按新警情受理", "Enter takes it as a new call"),
    NotAllowed => ("不允许此操作", "not allowed"),
    HintActOn => ("请对其合并后的事件操作:", "act on"),
    IncidentWord => ("事件", "incident"),
    Now => ("当前", "is"),
    Tags => ("标签", "tags"),
    DraftMaybeSent => ("已恢复的接警在中断前已提交, 可能已登记: 原样回车不会重复登记", "restored a call that was submitted before the stop and may be recorded: Enter unchanged cannot record it twice"),
    MergeIntoItself => ("不能并入自己", "cannot merge an incident into itself"),
    Minutes => ("分钟", "minutes"),
    NoLeadAsk => ("没有主办指挥部: y 仍然登记 (不派主办) · Esc 修改", "no lead post: y records it anyway (no lead) · Esc to correct"),
    Understood => ("将登记为", "will record"),
    Guess => ("猜测", "guess"),
    NoMatch2 => ("无匹配", "no match"),
    PreviewHint => ("回车 登记并派单 · Esc 返回修改", "Enter record & dispatch · Esc back to correct"),
    Attention => ("待处理", "attention"),
    NoLeadNow => ("当前无主办: 请重新派单", "no one leads now: assign again"),
    AlarmSignFor => ("签收超时", "sign-for overdue"),
    AlarmArrive => ("到场超时", "arrival overdue"),
    AlarmResolve => ("处置超时", "resolution overdue"),
    AlarmManual => ("人工督办", "escalated by hand"),
    AlarmMode => ("平急转换", "mode switched"),
    AlarmRollCall => ("查岗未应答", "roll-call missed"),
    AlarmOther => ("警报", "alarm"),
    LateBy => ("迟报", "late by"),
    Sms => ("短信", "sms"),
    GatewayFailing => ("通知网关发送失败", "notification gateway failing"),
    Voice => ("电话", "call"),
    Webhook => ("推送", "webhook"),
    SystemActor => ("系统", "dutyd"),
    ConsoleOnly => ("仅值班台", "consoles only"),
    DeliveryQueued => ("待发", "queued"),
    DeliverySent => ("已发", "sent"),
    DeliveryDelivered => ("已送达", "delivered"),
    DeliveryRead => ("已读", "read"),
    DeliveryFailed => ("未送达", "failed"),
    DeliveryCancelled => ("未发(已确认)", "not sent (acknowledged)"),
    PostOffline => ("指挥部离线", "post offline"),
    Muted => ("静音至", "muted until"),
    Unmuted => ("警报声已恢复", "alarm sound back on"),
    NothingWaiting => ("没有待处理事项", "nothing waiting"),
    AckHint => ("A 确认", "A acknowledges"),
    SentBack => ("退单", "sent back"),
    NoLead => ("无主办", "no lead"),
    LeadOffline => ("主办指挥部离线", "the lead post is OFFLINE"),
    CallRefused => ("接警未被受理 (按 n 重新打开表单)", "call refused (n reopens the form)"),
    NotDone => ("未执行", "not done"),
    ConfirmAgain => ("再次确认 (I/II 级), 按大写 Y! ", "CONFIRM AGAIN (severity I/II) with a capital Y! "),
    BoardHidden => ("看板被面板遮挡: 先按 Esc 回到看板", "the board is hidden by a panel: Esc back to it first"),
    NoSuchAlarm => ("没有这条未确认警报", "no such alarm waiting"),
    NoAlarmHere => ("该事件没有未确认警报", "no alarm waiting on"),
    DraftRestored => ("已恢复上次未提交的接警", "restored the call that was not sent"),
    AssignTo => ("派单给", "assign to"),
    AsLead => ("主办", "lead"),
    AsSupport => ("协办", "support"),
    PickerHint => ("输入筛选 (拼音首字母可用)  Tab 主办/协办  回车 确定  Esc 取消", "type to filter (pinyin initials work)  Tab lead/support  Enter pick  Esc cancel"),
    Load => ("在办", "load"),
    DutyContact => ("值班联系", "duty contact"),
    Posts => ("指挥部", "posts"),
    OnDuty => ("值班", "on duty"),
    Detail => ("详情", "detail"),
    Timeline => ("时间线", "timeline"),
    Assignments => ("派单", "assignments"),
    Notes => ("备注", "notes"),
    Reason => ("原因", "reason"),
    Outcome => ("处置结果", "outcome"),
    Callback => ("回访情况", "callback result"),
    Satisfaction => ("满意度 1-5 (0 未评)", "satisfaction 1-5 (0 none)"),
    NoteText => ("备注内容", "note"),
    MergeInto => ("合并到事件编号", "merge into incident"),
    Units => ("单位 (空格分隔)", "units (space separated)"),
    Confirm => ("确认? y 确认 / 其他键取消", "sure? y yes / any other key no"),
    Done2 => ("完成", "done"),
    NotConnected => ("未连接: 操作未发送, 请稍后重试", "not connected: nothing was sent, try again when live"),
    NoSelection => ("请先选择一个事件", "select an incident first"),
    UnknownCommand => ("未知命令", "unknown command"),
    ReportUsage => (
        ":考核 [日|周|月|季|年]，加 -上 为上一期，如 :考核 月-上 为上月",
        ":report [day|week|month|quarter|year][-last]; :report month-last is last month"
    ),
    ReportLoading => ("正在统计…", "counting…"),
    Period => ("期间 日/周/月/季/年 (加 -上 为上一期)", "period day/week/month/quarter/year (-last: the one before)"),
    BellOn => ("提示音已开", "bell on"),
    BellOff => ("提示音已关", "bell muted"),
    NewIncident => ("新事件", "new incident"),
    NewAlarm => ("新警报", "new alarm"),
    Level => ("级", "level"),
    PressHelp => ("? 帮助", "? help"),
    Resolved => ("已处置", "resolved"),
    View => ("视图", "view"),
    All => ("全部", "all"),
    Loading => ("加载中…", "loading…"),
    Handover => ("交接班", "handover"),
    NextShift => ("下一班", "next shift"),
    Centre => ("中心", "centre"),
    Nobody => ("无人", "nobody"),
    NoHandover => ("本班尚未交接: H 或 :handover 生成", "no handover yet: H or :handover builds it"),
    NoRoster => ("没有排班", "no roster"),
    RollCall => ("查岗", "roll-call"),
    Ours => ("本部", "ours"),
    Online => ("在线", "online"),
    Offline => ("离线", "offline"),
    LastSeen => ("最后在线", "last seen"),
    Never => ("从未连接", "never"),
    ClockOff => ("时钟偏差", "clock off"),
    Outbox => ("待发送", "outbox"),
    OutboxFailed => ("发送失败", "refused"),
    OutboxEmpty => ("没有待发送的操作", "nothing waiting to be sent"),
    OutboxClearHint => (":outbox clear 清除失败项", ":outbox clear dismisses the refused"),
    Queued => ("已记录, 待发送", "recorded, to be sent"),
    Recording => ("记录中…", "recording…"),
    Sent => ("已送达", "delivered"),
    CentreOnly => ("指挥中心专用", "centre only"),
    PostOnly => ("指挥部专用", "for posts"),
    NewOrder => ("新派单", "new order"),
    SignHint => ("s 签收", "s to sign for"),
    AnswerBy => ("请在此前应答", "answer by"),
    Waiting => ("等待", "waiting"),
    NoRollCall => ("没有待应答的查岗", "no roll-call waiting"),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_exists_in_both_languages() {
        for text in T::ALL {
            assert!(!text.get(Lang::Zh).is_empty(), "{text:?}");
            assert!(!text.get(Lang::En).is_empty(), "{text:?}");
        }
    }

    /// Latin words that belong in the Chinese interface: key names, the
    /// severity numerals, product and command names the officer types.
    const ALLOWED_IN_ZH: &[&str] = &[
        "y", "Y", "n", "H", "A", "L", "r", "a", "s", "Esc", "Tab", "Shift", "Enter", "PgDn",
        "PgUp", "I", "II", "III", "IV", "dutyd", "duty", "roster", "pattern", "handover",
        "rollcall", "outbox", "clear", "call", "ack", "all", "off", "m", "s", "N", "Ctrl", "R",
        "at",
    ];

    fn is_cjk(c: char) -> bool {
        matches!(c as u32, 0x3000..=0x303F | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xFF00..=0xFFEF)
    }

    #[test]
    fn no_english_in_the_chinese_texts_and_no_chinese_in_the_english_ones() {
        let mut problems = Vec::new();
        for text in T::ALL {
            let en = text.get(Lang::En);
            if en.chars().any(is_cjk) {
                problems.push(format!("{text:?} en: {en}"));
            }
            let zh = text.get(Lang::Zh);
            for word in zh
                .split(|c: char| !c.is_ascii_alphabetic())
                .filter(|w| !w.is_empty())
            {
                if !ALLOWED_IN_ZH.contains(&word) {
                    problems.push(format!("{text:?} zh: {zh} ({word})"));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
