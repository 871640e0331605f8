//! The command registry: every action the console can take, with its
//! arguments, its default keys and its help. Hotkeys, the `:` command line
//! and the help screen (and `docs/keybindings.md`) all come from this one
//! table, so they cannot disagree.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::tui::app::{App, Effect, Pending, handlers};
use crate::tui::i18n::{Lang, T};

/// What an argument is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// An incident number (`0042`); from a hotkey: the selected incident.
    Incident,
    /// One word.
    Word,
    /// The rest of the line.
    Rest,
}

/// One argument of a command.
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    /// What it is.
    pub kind: ArgKind,
    /// The prompt when it has to be asked for.
    pub prompt: T,
    /// May be left out.
    pub optional: bool,
}

const fn arg(kind: ArgKind, prompt: T) -> Arg {
    Arg {
        kind,
        prompt,
        optional: false,
    }
}

const fn optional(kind: ArgKind, prompt: T) -> Arg {
    Arg {
        kind,
        prompt,
        optional: true,
    }
}

const INCIDENT: Arg = arg(ArgKind::Incident, T::Number);

/// A command.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Its name on the command line.
    pub name: &'static str,
    /// Other names on the command line.
    pub aliases: &'static [&'static str],
    /// What it does (Chinese, English).
    pub help: (&'static str, &'static str),
    /// Its arguments, in order.
    pub args: &'static [Arg],
    /// Default keys.
    pub keys: &'static [&'static str],
    /// Irreversible: ask before doing it.
    pub confirm: bool,
    /// Who may use it.
    pub who: Who,
    /// What it does once its arguments are in.
    pub run: Handler,
}

/// A command's handler: the app with the command and its arguments in,
/// effects out.
pub type Handler = fn(&mut App, &Pending) -> Vec<Effect>;

/// Which consoles offer a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The centre's console and a post's.
    Any,
    /// Only the centre (officers, leaders, admins).
    Centre,
    /// Only a post's (or a unit's) console.
    Post,
}

impl Spec {
    /// The help text in `lang`.
    pub fn help(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.help.0,
            Lang::En => self.help.1,
        }
    }

    /// The help text as the console using it means it: a post's `s` signs
    /// for its own order, the centre's signs on the assignee's behalf.
    pub fn help_for(&self, lang: Lang, post: bool) -> &'static str {
        let own = match self.name {
            _ if !post => None,
            "sign" => Some((
                "签收本指挥部的派单 (记录签收时间)",
                "sign for your order (records the time)",
            )),
            "arrive" => Some((
                "报到场 (记录到场时间)",
                "report arrival on scene (records the time)",
            )),
            "finish" => Some(("本方处置完毕 (协办)", "your part is done (support)")),
            "note" => Some(("记录处置进展", "record progress")),
            "resolve" => Some(("处置完毕: 填写结果 (主办)", "resolved: the outcome (lead)")),
            "refuse" => Some((
                "退单: 写明原因, 退回中心",
                "send the order back to the centre, with a reason",
            )),
            "callin" => Some((
                "吹哨: 调联动单位报到 (各自计时)",
                "call in units to report (each on its own clock)",
            )),
            "answer" => Some((
                "应答查岗 (记录应答时间)",
                "answer the roll-call (records the time)",
            )),
            _ => None,
        };
        match (own, lang) {
            (Some((zh, _)), Lang::Zh) => zh,
            (Some((_, en)), Lang::En) => en,
            (None, _) => self.help(lang),
        }
    }

    /// The command as prompts and results name it in `lang`.
    pub fn verb(&self, lang: Lang, post: bool) -> &'static str {
        match short_label(self.name, lang) {
            "" => self.help_for(lang, post),
            word => word,
        }
    }

    /// `name ARG ARG…` for help and completion.
    pub fn usage(&self) -> String {
        self.usage_in(Lang::En)
    }

    /// `name ARG ARG…` with the placeholders in `lang` (`close 编号 词 文字…`).
    pub fn usage_in(&self, lang: Lang) -> String {
        let mut text = self.name.to_owned();
        for arg in self.args {
            let name = match (arg.kind, lang) {
                (ArgKind::Incident, Lang::En) => "N",
                (ArgKind::Word, Lang::En) => "WORD",
                (ArgKind::Rest, Lang::En) => "TEXT…",
                (ArgKind::Incident, Lang::Zh) => "编号",
                (ArgKind::Word, Lang::Zh) => "词",
                (ArgKind::Rest, Lang::Zh) => "文字…",
            };
            if arg.optional {
                text.push_str(&format!(" [{name}]"));
            } else {
                text.push_str(&format!(" {name}"));
            }
        }
        text
    }
}

/// A command's short name in `lang` (hint bar, prompts, results); empty
/// when it has none and its help text serves instead.
pub fn short_label(name: &str, lang: Lang) -> &'static str {
    let (zh, en) = match name {
        "new" => ("接警", "new"),
        "assign" => ("派单", "assign"),
        "sign" => ("签收", "sign"),
        "arrive" => ("到场", "arrive"),
        "escalate" => ("督办", "escalate"),
        "note" => ("备注", "note"),
        "resolve" => ("处置", "resolve"),
        "close" => ("办结", "close"),
        "open" => ("详情", "open"),
        "filter" => ("筛选", "filter"),
        "command" => ("命令", "cmd"),
        "help" => ("帮助", "help"),
        "quit" => ("退出", "quit"),
        "refuse" => ("退回", "refuse"),
        "callin" => ("吹哨", "call in"),
        "answer" => ("应答查岗", "roll-call"),
        "outbox" => ("待发送", "outbox"),
        "cancel" => ("撤销", "cancel"),
        "merge" => ("合并", "merge"),
        "reopen" => ("重新打开", "reopen"),
        "raise" => ("提升级别", "raise"),
        "ack" => ("确认警报", "acknowledge"),
        "finish" => ("完成", "finish"),
        "mode" => ("平急转换", "mode"),
        "handover" => ("交接班", "handover"),
        "countersign" => ("接班", "countersign"),
        _ => ("", ""),
    };
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

/// Every command.
pub const COMMANDS: &[Spec] = &[
    Spec {
        name: "down",
        aliases: &[],
        help: ("下一条", "next incident"),
        args: &[],
        keys: &["j", "down"],
        confirm: false,
        who: Who::Any,
        run: handlers::navigate,
    },
    Spec {
        name: "up",
        aliases: &[],
        help: ("上一条", "previous incident"),
        args: &[],
        keys: &["k", "up"],
        confirm: false,
        who: Who::Any,
        run: handlers::navigate,
    },
    Spec {
        name: "top",
        aliases: &[],
        help: ("第一条", "first incident"),
        args: &[],
        keys: &["g", "home"],
        confirm: false,
        who: Who::Any,
        run: handlers::navigate,
    },
    Spec {
        name: "bottom",
        aliases: &[],
        help: ("最后一条", "last incident"),
        args: &[],
        keys: &["G", "end"],
        confirm: false,
        who: Who::Any,
        run: handlers::navigate,
    },
    Spec {
        name: "page-down",
        aliases: &[],
        help: ("下一页", "page down"),
        args: &[],
        keys: &["pgdn"],
        confirm: false,
        who: Who::Any,
        run: handlers::navigate,
    },
    Spec {
        name: "page-up",
        aliases: &[],
        help: ("上一页", "page up"),
        args: &[],
        keys: &["pgup"],
        confirm: false,
        who: Who::Any,
        run: handlers::navigate,
    },
    Spec {
        name: "open",
        aliases: &["show"],
        help: ("查看详情与时间线", "open the incident: detail and timeline"),
        args: &[optional(ArgKind::Incident, T::Number)],
        keys: &["enter"],
        confirm: false,
        who: Who::Any,
        run: handlers::open,
    },
    Spec {
        name: "back",
        aliases: &[],
        help: ("返回", "back to the board"),
        args: &[],
        keys: &["esc"],
        confirm: false,
        who: Who::Any,
        run: handlers::back,
    },
    Spec {
        name: "new",
        aliases: &["n"],
        help: ("接警登记 (表单)", "take a call (intake form)"),
        args: &[],
        keys: &["n"],
        confirm: false,
        who: Who::Centre,
        run: handlers::new,
    },
    Spec {
        name: "call",
        aliases: &[],
        help: (
            "一行接警并派单: 类别 级别 地点 摘要… [电话]",
            "take and dispatch a call in one line: category severity place summary… [phone]",
        ),
        args: &[
            arg(ArgKind::Word, T::Category),
            arg(ArgKind::Word, T::Severity),
            arg(ArgKind::Word, T::Place),
            arg(ArgKind::Rest, T::Summary),
        ],
        keys: &[],
        confirm: false,
        who: Who::Centre,
        run: handlers::call,
    },
    Spec {
        name: "assign",
        aliases: &["as", "transfer"],
        help: ("派单 (主办/协办)", "assign (lead or support)"),
        args: &[
            INCIDENT,
            optional(ArgKind::Word, T::AssignTo),
            optional(ArgKind::Word, T::AsSupport),
        ],
        keys: &["a"],
        confirm: false,
        who: Who::Centre,
        run: handlers::assign,
    },
    Spec {
        name: "sign",
        aliases: &[],
        help: ("代为签收 (记录为代签)", "sign for on the assignee's behalf"),
        args: &[INCIDENT, optional(ArgKind::Word, T::AssignTo)],
        keys: &["s"],
        confirm: false,
        who: Who::Any,
        run: handlers::sign_or_arrive,
    },
    Spec {
        name: "arrive",
        aliases: &[],
        help: ("代为报到场", "report arrival on the assignee's behalf"),
        args: &[INCIDENT, optional(ArgKind::Word, T::AssignTo)],
        keys: &["o"],
        confirm: false,
        who: Who::Any,
        run: handlers::sign_or_arrive,
    },
    Spec {
        name: "finish",
        aliases: &[],
        help: ("协办完成 (协办单位)", "finish a supporting part"),
        args: &[INCIDENT, optional(ArgKind::Rest, T::NoteText)],
        keys: &["F"],
        confirm: false,
        who: Who::Post,
        run: handlers::finish,
    },
    Spec {
        name: "refuse",
        aliases: &["send-back"],
        help: ("退回派单 (说明原因)", "send an order back, with the reason"),
        args: &[INCIDENT, arg(ArgKind::Rest, T::Reason)],
        keys: &["x"],
        confirm: true,
        who: Who::Post,
        run: handlers::refuse,
    },
    Spec {
        name: "answer",
        aliases: &["应答"],
        help: ("应答查岗", "answer the roll-call"),
        args: &[optional(ArgKind::Word, T::RollCall)],
        keys: &["r"],
        confirm: false,
        who: Who::Post,
        run: handlers::answer,
    },
    Spec {
        name: "outbox",
        aliases: &["queue"],
        help: (
            "待发送/发送失败的操作; outbox clear 清除已读的失败项",
            "actions waiting to be sent or refused; outbox clear dismisses the refused",
        ),
        args: &[optional(ArgKind::Word, T::Outbox)],
        keys: &["u"],
        confirm: false,
        who: Who::Post,
        run: handlers::outbox,
    },
    Spec {
        name: "note",
        aliases: &[],
        help: ("添加备注", "add a note"),
        args: &[INCIDENT, arg(ArgKind::Rest, T::NoteText)],
        keys: &["m"],
        confirm: false,
        who: Who::Any,
        run: handlers::note,
    },
    Spec {
        name: "escalate",
        aliases: &["esc"],
        help: ("升级督办 (说明原因)", "escalate one level (with a reason)"),
        args: &[INCIDENT, arg(ArgKind::Rest, T::Reason)],
        keys: &["e"],
        confirm: false,
        who: Who::Centre,
        run: handlers::escalate,
    },
    Spec {
        name: "raise",
        aliases: &[],
        help: ("提升事件级别", "raise severity one step"),
        args: &[INCIDENT, arg(ArgKind::Rest, T::Reason)],
        keys: &["+"],
        confirm: false,
        who: Who::Centre,
        run: handlers::raise,
    },
    Spec {
        name: "callin",
        aliases: &["call-in"],
        help: ("吹哨: 调派联动单位", "call in units (街乡吹哨)"),
        args: &[INCIDENT, optional(ArgKind::Rest, T::Units)],
        keys: &["i"],
        confirm: false,
        who: Who::Any,
        run: handlers::callin,
    },
    Spec {
        name: "resolve",
        aliases: &[],
        help: ("处置完毕 (填写结果)", "resolve with an outcome"),
        args: &[INCIDENT, arg(ArgKind::Rest, T::Outcome)],
        keys: &["R"],
        confirm: true,
        who: Who::Any,
        run: handlers::resolve,
    },
    Spec {
        name: "close",
        aliases: &[],
        help: (
            "回访办结: 满意度 回访情况",
            "close after callback: satisfaction, result",
        ),
        args: &[
            INCIDENT,
            arg(ArgKind::Word, T::Satisfaction),
            arg(ArgKind::Rest, T::Callback),
        ],
        keys: &["C"],
        confirm: true,
        who: Who::Centre,
        run: handlers::close,
    },
    Spec {
        name: "cancel",
        aliases: &[],
        help: ("撤销 (误报等)", "cancel (false alarm)"),
        args: &[INCIDENT, arg(ArgKind::Rest, T::Reason)],
        keys: &["X"],
        confirm: true,
        who: Who::Centre,
        run: handlers::cancel,
    },
    Spec {
        name: "merge",
        aliases: &[],
        help: (
            "合并重复事件 (不可撤销)",
            "merge a duplicate into another (cannot be undone)",
        ),
        args: &[INCIDENT, arg(ArgKind::Incident, T::MergeInto)],
        keys: &["M"],
        confirm: true,
        who: Who::Centre,
        run: handlers::merge,
    },
    Spec {
        name: "reopen",
        aliases: &[],
        help: ("重新打开", "reopen"),
        args: &[INCIDENT, arg(ArgKind::Rest, T::Reason)],
        keys: &["O"],
        confirm: false,
        who: Who::Centre,
        run: handlers::reopen,
    },
    Spec {
        name: "ack",
        aliases: &[],
        help: (
            "确认警报: 选中事件的全部; #编号 一条; all 全部 (需确认)",
            "acknowledge alarms: all of the selected incident's; #id one; all every alarm (confirmed)",
        ),
        args: &[optional(ArgKind::Word, T::Alarms)],
        keys: &["A"],
        confirm: false,
        who: Who::Any,
        run: handlers::ack,
    },
    Spec {
        name: "report",
        aliases: &["考核"],
        help: (
            "考核报告: 本月(或 day/week/quarter/year, -last 上期)",
            "assessment report: this month (or day/week/quarter/year; -last: the one before)",
        ),
        args: &[optional(ArgKind::Word, T::Period)],
        keys: &[],
        confirm: false,
        who: Who::Any,
        run: handlers::report,
    },
    Spec {
        name: "at",
        aliases: &["replay", "回放"],
        help: (
            "回放: 某一时刻的值班板 (只读; ←→ 逐事件 ,. 逐分钟 Esc 回到实时)",
            "replay the board at a past moment (read-only; ←→ event, ,. minute, Esc live)",
        ),
        args: &[arg(ArgKind::Rest, T::When)],
        keys: &[],
        confirm: false,
        who: Who::Any,
        run: handlers::at,
    },
    Spec {
        name: "log",
        aliases: &["messages"],
        help: (
            "消息记录: 最近的结果与错误",
            "message log: the last results and errors",
        ),
        args: &[],
        keys: &["L"],
        confirm: false,
        who: Who::Any,
        run: handlers::log,
    },
    Spec {
        name: "next",
        aliases: &["attention"],
        help: (
            "跳到下一条待处理事项 (警报、退单、离线)",
            "jump to the next item needing attention (alarms, send-backs, offline posts)",
        ),
        args: &[],
        keys: &["!"],
        confirm: false,
        who: Who::Any,
        run: handlers::next,
    },
    Spec {
        name: "mute",
        aliases: &[],
        help: (
            "警报声静音 N 分钟 (默认 10; off 恢复)",
            "mute the alarm sound for N minutes (default 10; off turns it back on)",
        ),
        args: &[optional(ArgKind::Word, T::Minutes)],
        keys: &[],
        confirm: false,
        who: Who::Any,
        run: handlers::mute,
    },
    Spec {
        name: "mode",
        aliases: &[],
        help: (
            "平急转换: 指挥部 normal|emergency 原因",
            "switch a post: post normal|emergency reason",
        ),
        args: &[
            arg(ArgKind::Word, T::Posts),
            arg(ArgKind::Word, T::Emergency),
            arg(ArgKind::Rest, T::Reason),
        ],
        keys: &[],
        confirm: false,
        who: Who::Centre,
        run: handlers::mode,
    },
    Spec {
        name: "filter",
        aliases: &["f"],
        help: (
            "筛选: 文字 电话 tel:尾号 post:ID unit:ID cat:类别 sev:I status:… overdue; 回车同时查历史",
            "filter: text phone tel:DIGITS post:ID unit:ID cat:CODE sev:I status:… overdue; Enter also searches history",
        ),
        args: &[optional(ArgKind::Rest, T::Filter)],
        keys: &["/"],
        confirm: false,
        who: Who::Any,
        run: handlers::filter,
    },
    Spec {
        name: "view",
        aliases: &[],
        help: (
            "视图: 0 全部 1 未结 2 未签收 3 到场 4 超时 5 警报 6 应急; view save N 保存当前筛选",
            "views: 0 all 1 open 2 unsigned 3 on scene 4 overdue 5 alarms 6 emergency; view save N keeps the filter",
        ),
        args: &[
            arg(ArgKind::Word, T::View),
            optional(ArgKind::Word, T::View),
        ],
        keys: &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
        confirm: false,
        who: Who::Any,
        run: handlers::view,
    },
    Spec {
        name: "handover",
        aliases: &["ho"],
        help: (
            "交接班: open 生成 | note 文字 | sign 签出 | countersign 意见 (接班人)",
            "handover: open | note TEXT | sign | countersign REMARKS (incoming officer)",
        ),
        args: &[
            optional(ArgKind::Word, T::Handover),
            optional(ArgKind::Rest, T::Reason),
        ],
        keys: &["H"],
        confirm: false,
        who: Who::Any,
        run: handlers::handover,
    },
    Spec {
        name: "edit",
        aliases: &["修改"],
        help: (
            "修改接警信息 (只提交改动的字段)",
            "correct the intake (only changed fields are sent)",
        ),
        args: &[INCIDENT],
        keys: &["E"],
        confirm: false,
        who: Who::Centre,
        run: handlers::edit,
    },
    Spec {
        name: "unassign",
        aliases: &["withdraw"],
        help: (
            "撤回派单: #编号 或 单位名, 原因",
            "withdraw an assignment: #id or the assignee, reason",
        ),
        args: &[
            INCIDENT,
            arg(ArgKind::Word, T::Assignment),
            arg(ArgKind::Rest, T::Reason),
        ],
        keys: &["W"],
        confirm: true,
        who: Who::Centre,
        run: handlers::unassign,
    },
    Spec {
        name: "rollcall",
        aliases: &["查岗"],
        help: (
            "查岗: 向全部或指定指挥部发出, 跟踪应答与超时",
            "roll-call all posts or the ones named; follow answers and misses",
        ),
        args: &[optional(ArgKind::Rest, T::Posts)],
        keys: &[],
        // Confirmed after the names are checked (in the handler).
        confirm: false,
        who: Who::Centre,
        run: handlers::rollcall,
    },
    Spec {
        name: "countersign",
        aliases: &["接班"],
        help: (
            "接班: 签收上一班的交接 (写接班意见)",
            "countersign the outgoing officer's handover, with remarks",
        ),
        args: &[arg(ArgKind::Rest, T::Remarks)],
        keys: &[],
        confirm: true,
        who: Who::Any,
        run: handlers::countersign,
    },
    Spec {
        name: "panel",
        aliases: &[],
        help: (
            "切换侧栏: 指挥部/值班/警报",
            "cycle the side panel: posts, on duty, alarms",
        ),
        args: &[],
        keys: &["tab"],
        confirm: false,
        who: Who::Any,
        run: handlers::panel,
    },
    Spec {
        name: "command",
        aliases: &[],
        help: ("命令行", "command line"),
        args: &[],
        keys: &[":"],
        confirm: false,
        who: Who::Any,
        run: handlers::command,
    },
    Spec {
        name: "help",
        aliases: &["h"],
        help: ("帮助 (当前按键)", "help: the keys in effect"),
        args: &[],
        keys: &["?", "f1"],
        confirm: false,
        who: Who::Any,
        run: handlers::help,
    },
    Spec {
        name: "bell",
        aliases: &[],
        help: ("开/关提示音", "mute or unmute the bell"),
        args: &[],
        keys: &["b"],
        confirm: false,
        who: Who::Any,
        run: handlers::bell,
    },
    Spec {
        name: "refresh",
        aliases: &[],
        help: ("重新加载", "reload everything from dutyd"),
        args: &[],
        keys: &["ctrl-r"],
        confirm: false,
        who: Who::Any,
        run: handlers::refresh,
    },
    Spec {
        name: "quit",
        aliases: &["q"],
        help: ("退出", "quit"),
        args: &[],
        keys: &["q", "ctrl-c"],
        confirm: false,
        who: Who::Any,
        run: handlers::quit,
    },
];

/// The command called `name` (or one of its aliases).
pub fn find(name: &str) -> Option<&'static Spec> {
    COMMANDS
        .iter()
        .find(|c| c.name == name || c.aliases.contains(&name))
}

/// Commands whose name starts with `prefix`, for completion.
pub fn complete(prefix: &str) -> Vec<&'static str> {
    COMMANDS
        .iter()
        .map(|c| c.name)
        .filter(|name| name.starts_with(prefix))
        .collect()
}

/// A key as the keymap writes it: `n`, `G`, `+`, `enter`, `ctrl-r`, `f1`.
pub fn key_name(key: &KeyEvent) -> Option<String> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let base = match key.code {
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Enter => "enter".into(),
        KeyCode::Esc => "esc".into(),
        KeyCode::Tab => "tab".into(),
        KeyCode::BackTab => "backtab".into(),
        KeyCode::Backspace => "backspace".into(),
        KeyCode::Delete => "delete".into(),
        KeyCode::Up => "up".into(),
        KeyCode::Down => "down".into(),
        KeyCode::Left => "left".into(),
        KeyCode::Right => "right".into(),
        KeyCode::Home => "home".into(),
        KeyCode::End => "end".into(),
        KeyCode::PageUp => "pgup".into(),
        KeyCode::PageDown => "pgdn".into(),
        KeyCode::F(n) => format!("f{n}"),
        _ => return None,
    };
    Some(match (ctrl, alt) {
        (true, _) => format!("ctrl-{}", base.to_lowercase()),
        (_, true) => format!("alt-{base}"),
        _ => base,
    })
}

/// Why a keymap override was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeymapError {
    /// No such command.
    #[error("[keys] {0:?} is not a command (see the help screen for the list)")]
    UnknownCommand(String),
    /// Two commands on one key.
    #[error("[keys] {key:?} is bound to both {first:?} and {second:?}")]
    Conflict {
        /// The key.
        key: String,
        /// One command.
        first: String,
        /// The other.
        second: String,
    },
}

/// Which command each key runs.
#[derive(Debug, Clone)]
pub struct Keymap {
    by_key: BTreeMap<String, &'static str>,
}

impl Keymap {
    /// The defaults with `overrides` (command → keys) replacing a command's
    /// keys. Unknown commands and double bindings are errors.
    pub fn new(overrides: &BTreeMap<String, Vec<String>>) -> Result<Keymap, KeymapError> {
        let mut keys: BTreeMap<&'static str, Vec<String>> = COMMANDS
            .iter()
            .map(|c| (c.name, c.keys.iter().map(|k| (*k).to_owned()).collect()))
            .collect();
        for (command, bound) in overrides {
            let spec = find(command).ok_or_else(|| KeymapError::UnknownCommand(command.clone()))?;
            keys.insert(spec.name, bound.clone());
        }
        let mut by_key: BTreeMap<String, &'static str> = BTreeMap::new();
        for (command, bound) in keys {
            for key in bound {
                if let Some(first) = by_key.insert(key.clone(), command) {
                    return Err(KeymapError::Conflict {
                        key,
                        first: first.to_owned(),
                        second: command.to_owned(),
                    });
                }
            }
        }
        Ok(Keymap { by_key })
    }

    /// The command bound to `key`.
    pub fn command(&self, key: &KeyEvent) -> Option<&'static str> {
        key_name(key).and_then(|name| self.by_key.get(&name).copied())
    }

    /// The keys bound to `command`.
    pub fn keys_of(&self, command: &str) -> Vec<&str> {
        self.by_key
            .iter()
            .filter(|(_, c)| **c == command)
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

/// `docs/keybindings.md`, generated from the registry.
pub fn keybindings_markdown() -> String {
    let mut text = String::from(
        "# Console keys\n\n\
         Generated from the command registry (`console/src/tui/commands.rs`); a test checks \
         it is current. Every command can also be typed on the command line (`:`), e.g. \
         `:as 0042 xinhua`, `:esc 0042 no sign-for`, `:close 0042 5 群众满意`. Keys can be \
         rebound in `~/.config/dutyroom/console.toml` under `[keys]`, e.g. `escalate = [\"E\"]`.\n\n\
         The last column says which console offers the command: the centre's, a post's \
         (`duty post`, or any post or unit token), or both.\n\n\
         | keys | command | does | 说明 | console |\n| --- | --- | --- | --- | --- |\n",
    );
    for spec in COMMANDS {
        let keys = spec
            .keys
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(" ");
        let who = match spec.who {
            Who::Any => "both",
            Who::Centre => "centre",
            Who::Post => "post",
        };
        text.push_str(&format!(
            "| {keys} | `:{}` | {} | {} | {who} |\n",
            spec.usage(),
            spec.help.1,
            spec.help.0
        ));
    }
    text.push_str(
        "\nIn the intake form: `Tab`/`Shift-Tab` move between fields, `↑`/`↓` choose a \
         suggestion, `Enter` submits and dispatches, `Esc` cancels; when the call may be \
         about an open incident (same number, or same place and category), `PgDn`/`PgUp` \
         choose it and `Ctrl-R` attaches the call to it as a repeat call. In pickers: type to \
         filter (pinyin initials work: `xh` finds 新华), `Tab` switches lead/support, \
         `Enter` picks. In prompts: `Enter` confirms, `Esc` cancels.\n",
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice_and_every_command_is_reachable() {
        let keymap = Keymap::new(&BTreeMap::new()).expect("defaults are consistent");
        for spec in COMMANDS {
            let by_key = !keymap.keys_of(spec.name).is_empty();
            assert!(
                by_key || find(spec.name).is_some(),
                "{} unreachable",
                spec.name
            );
        }
        let mut names: Vec<&str> = COMMANDS
            .iter()
            .flat_map(|c| std::iter::once(c.name).chain(c.aliases.iter().copied()))
            .collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a command name or alias is used twice");
    }

    #[test]
    fn overrides_replace_keys_and_conflicts_are_errors() {
        let mut overrides = BTreeMap::new();
        overrides.insert("escalate".to_owned(), vec!["Z".to_owned()]);
        let keymap = Keymap::new(&overrides).expect("valid");
        assert_eq!(keymap.keys_of("escalate"), vec!["Z"]);
        overrides.insert("resolve".to_owned(), vec!["Z".to_owned()]);
        assert!(matches!(
            Keymap::new(&overrides),
            Err(KeymapError::Conflict { .. })
        ));
        let mut unknown = BTreeMap::new();
        unknown.insert("launch".to_owned(), vec!["L".to_owned()]);
        assert!(matches!(
            Keymap::new(&unknown),
            Err(KeymapError::UnknownCommand(_))
        ));
    }

    #[test]
    fn the_keybindings_doc_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/keybindings.md");
        let current = std::fs::read_to_string(path).unwrap_or_default();
        let expected = keybindings_markdown();
        if current != expected {
            if std::env::var_os("DUTY_UPDATE_DOCS").is_some() {
                std::fs::write(path, &expected).expect("write docs/keybindings.md");
            } else {
                panic!(
                    "docs/keybindings.md is out of date: run \
                     `DUTY_UPDATE_DOCS=1 cargo test -p dutyroom-console keybindings`"
                );
            }
        }
    }
}
