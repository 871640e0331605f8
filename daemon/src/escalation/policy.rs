//! Escalation policies as data: deadlines per category × severity (and post,
//! and emergency mode), tier adjustments, and the escalation ladder.
//!
//! Policies are written in TOML (the shipped defaults are
//! `default_policy.toml`, documented in `docs/escalation.md`), parsed and
//! validated as a whole: a policy with any error is refused and nothing of it
//! applies.

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::incidents::model::Severity;
use crate::notify::webhook::Channel;

/// The policy dutyd ships with.
pub const DEFAULT_POLICY: &str = include_str!("default_policy.toml");

/// Most rules in one policy.
pub const MAX_RULES: usize = 200;
/// Most ladder levels.
pub const MAX_LEVELS: usize = 9;
/// Longest policy text, in bytes.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// Who an alarm is addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The duty contact of the post or unit whose deadline was missed.
    AssigneeDutyContact,
    /// The centre's duty leader (带班领导) on duty now.
    CentreDutyLeader,
    /// The centre's duty officers on duty now.
    CentreDutyOfficers,
    /// The responsible leader of the incident's post (包保领导).
    PostResponsibleLeader,
    /// Every leader on duty (centre and posts).
    LeadersOnDuty,
}

impl Target {
    /// Snake-case name, as written in the policy.
    pub fn name(self) -> &'static str {
        match self {
            Target::AssigneeDutyContact => "assignee_duty_contact",
            Target::CentreDutyLeader => "centre_duty_leader",
            Target::CentreDutyOfficers => "centre_duty_officers",
            Target::PostResponsibleLeader => "post_responsible_leader",
            Target::LeadersOnDuty => "leaders_on_duty",
        }
    }
}

/// One step of the ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Level {
    /// Time after the previous level (level 1: after the deadline).
    pub after: SignedDuration,
    /// Who is alarmed.
    pub notify: Vec<Target>,
    /// Also raise the incident's severity one step (IV → III → II → I).
    pub raise_severity: bool,
    /// Besides the consoles, reach its people by these (SMS, voice), in
    /// order; empty: the consoles only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub send: Vec<Channel>,
    /// Which of `notify`'s roles `send` reaches (empty: all of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub send_to: Vec<Target>,
}

/// Which deadlines a rule sets, and for which incidents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Category codes (empty: any).
    pub categories: Vec<String>,
    /// Severities (empty: any).
    pub severities: Vec<Severity>,
    /// Post ids (empty: any).
    pub posts: Vec<String>,
    /// Only in emergency mode (`Some(true)`), only in normal mode
    /// (`Some(false)`), or either.
    pub emergency: Option<bool>,
    /// Sign-for deadline, from dispatch.
    pub sign_for: Option<SignedDuration>,
    /// Arrival deadline, from dispatch.
    pub arrive: Option<SignedDuration>,
    /// Resolution deadline, from intake (or reopening).
    pub resolve: Option<SignedDuration>,
}

/// The three deadlines that always apply.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Deadlines {
    /// Sign-for, from dispatch.
    pub sign_for: SignedDuration,
    /// Arrival, from dispatch.
    pub arrive: SignedDuration,
    /// Resolution, from intake.
    pub resolve: SignedDuration,
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Deadlines when no rule sets one.
    pub defaults: Deadlines,
    /// In order; the first match that sets a deadline wins.
    pub rules: Vec<Rule>,
    /// Multipliers of sign-for and arrival by unit tier 1, 2, 3.
    pub tiers: [f64; 3],
    /// Multiplier of every deadline in emergency mode (0 < f ≤ 1).
    pub emergency_factor: f64,
    /// The ladder, level 1 first.
    pub ladder: Vec<Level>,
    /// Repeat the last level this often after the ladder ends.
    pub repeat_every: Option<SignedDuration>,
    /// An acknowledged alarm stops its clock's ladder (no further levels);
    /// otherwise the ladder goes on until the assignee acts.
    #[serde(default)]
    pub acknowledge_stops_ladder: bool,
    /// The stored version this is (0: the shipped defaults). A clock
    /// started under one version keeps its deadline when another is set.
    #[serde(default)]
    pub version: u64,
}

/// What a deadline is about, for [`Policy::deadline`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineKind {
    /// Sign-for.
    SignFor,
    /// Arrival.
    Arrive,
    /// Resolution.
    Resolve,
}

/// The incident facts a rule matches on.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Category code.
    pub category: &'a str,
    /// Severity.
    pub severity: Severity,
    /// The incident's post, if known.
    pub post: Option<&'a str>,
    /// Is that post in emergency mode?
    pub emergency: bool,
    /// Tier of the assignee (1 for posts); ignored for resolution.
    pub tier: u8,
}

impl Subject<'_> {
    /// A fingerprint of everything here (FNV-1a, stable across builds and
    /// never 0): a clock keeps it to tell a new policy from a new situation.
    pub fn basis(&self) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for byte in bytes.iter().chain([&0xff]) {
                hash ^= u64::from(*byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        };
        eat(self.category.as_bytes());
        eat(self.severity.label().as_bytes());
        eat(self.post.unwrap_or("").as_bytes());
        eat(&[u8::from(self.emergency), self.tier]);
        hash.max(1)
    }
}

impl Policy {
    /// The shipped defaults.
    pub fn default_policy() -> Policy {
        // The shipped text is tested to parse; failing here is a build bug.
        parse(DEFAULT_POLICY).unwrap_or_else(|_| Policy::fallback())
    }

    /// Used only if the shipped text failed to parse (it is tested).
    fn fallback() -> Policy {
        Policy {
            defaults: Deadlines {
                sign_for: SignedDuration::from_mins(5),
                arrive: SignedDuration::from_mins(30),
                resolve: SignedDuration::from_hours(24),
            },
            rules: Vec::new(),
            tiers: [1.0, 1.5, 2.0],
            emergency_factor: 0.5,
            ladder: vec![Level {
                after: SignedDuration::ZERO,
                notify: vec![Target::AssigneeDutyContact],
                raise_severity: false,
                send: Vec::new(),
                send_to: Vec::new(),
            }],
            repeat_every: None,
            acknowledge_stops_ladder: false,
            version: 0,
        }
    }

    /// How long a deadline of `kind` is for `subject`.
    pub fn deadline(&self, kind: DeadlineKind, subject: &Subject<'_>) -> SignedDuration {
        let pick = |rule: &Rule| match kind {
            DeadlineKind::SignFor => rule.sign_for,
            DeadlineKind::Arrive => rule.arrive,
            DeadlineKind::Resolve => rule.resolve,
        };
        let winner = self
            .rules
            .iter()
            .filter(|rule| matches(rule, subject))
            .find_map(|rule| pick(rule).map(|d| (d, rule.emergency == Some(true))));
        // A winning emergency-only rule already is the emergency deadline.
        let (base, explicit_emergency) = winner.unwrap_or(match kind {
            DeadlineKind::SignFor => (self.defaults.sign_for, false),
            DeadlineKind::Arrive => (self.defaults.arrive, false),
            DeadlineKind::Resolve => (self.defaults.resolve, false),
        });
        let mut factor = 1.0;
        if kind != DeadlineKind::Resolve {
            factor *= self.tiers[usize::from(subject.tier.clamp(1, 3)) - 1];
        }
        if subject.emergency && !explicit_emergency {
            factor *= self.emergency_factor;
        }
        scale(base, factor)
    }

    /// The ladder level that fires as alarm number `level` (1-based): a level
    /// past the ladder repeats the last one.
    pub fn level(&self, level: u8) -> Option<&Level> {
        let index = usize::from(level.max(1)) - 1;
        self.ladder.get(index).or_else(|| {
            self.repeat_every?;
            self.ladder.last()
        })
    }

    /// How long after alarm number `level` the next one follows, if any.
    pub fn next_after(&self, level: u8) -> Option<SignedDuration> {
        match self.ladder.get(usize::from(level)) {
            Some(next) => Some(next.after),
            None => self.repeat_every,
        }
    }
}

fn matches(rule: &Rule, subject: &Subject<'_>) -> bool {
    (rule.categories.is_empty() || rule.categories.iter().any(|c| c == subject.category))
        && (rule.severities.is_empty() || rule.severities.contains(&subject.severity))
        && (rule.posts.is_empty()
            || subject
                .post
                .is_some_and(|post| rule.posts.iter().any(|p| p == post)))
        && rule.emergency.is_none_or(|e| e == subject.emergency)
}

fn scale(duration: SignedDuration, factor: f64) -> SignedDuration {
    let millis = (duration.as_millis() as f64 * factor).round();
    SignedDuration::from_millis(millis as i64)
}

// --- the TOML form -------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    defaults: DeadlinesFile,
    #[serde(default)]
    rule: Vec<RuleFile>,
    #[serde(default)]
    tiers: Option<TiersFile>,
    #[serde(default)]
    emergency: Option<EmergencyFile>,
    ladder: Vec<LevelFile>,
    #[serde(default)]
    repeat: Option<RepeatFile>,
    #[serde(default)]
    acknowledge: Option<AcknowledgeFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcknowledgeFile {
    stops_ladder: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadlinesFile {
    sign_for: String,
    arrive: String,
    resolve: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    category: Vec<String>,
    #[serde(default)]
    severity: Vec<String>,
    #[serde(default)]
    posts: Vec<String>,
    emergency: Option<bool>,
    sign_for: Option<String>,
    arrive: Option<String>,
    resolve: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TiersFile {
    #[serde(rename = "1")]
    one: Option<f64>,
    #[serde(rename = "2")]
    two: Option<f64>,
    #[serde(rename = "3")]
    three: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmergencyFile {
    factor: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelFile {
    after: String,
    notify: Vec<String>,
    #[serde(default)]
    raise_severity: bool,
    #[serde(default)]
    send: Vec<String>,
    #[serde(default)]
    send_to: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RepeatFile {
    every: String,
}

fn bad(where_: &str, problem: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("policy: {where_}: {problem}"))
}

fn duration(where_: &str, text: &str, allow_zero: bool) -> Result<SignedDuration> {
    let parsed: SignedDuration = text.trim().parse().map_err(|_| {
        bad(
            where_,
            format!("{text:?} is not a duration (write e.g. \"90s\", \"5m\", \"1h30m\")"),
        )
    })?;
    if parsed.is_negative() || (!allow_zero && parsed.is_zero()) {
        return Err(bad(where_, format!("{text:?} must be more than zero")));
    }
    if parsed > SignedDuration::from_hours(24 * 30) {
        return Err(bad(where_, format!("{text:?} is longer than 30 days")));
    }
    Ok(parsed)
}

fn severity(where_: &str, text: &str) -> Result<Severity> {
    match text.trim().to_ascii_uppercase().as_str() {
        "I" => Ok(Severity::I),
        "II" => Ok(Severity::II),
        "III" => Ok(Severity::III),
        "IV" => Ok(Severity::IV),
        _ => Err(bad(
            where_,
            format!("{text:?} is not a severity (I, II, III or IV)"),
        )),
    }
}

fn target(where_: &str, text: &str) -> Result<Target> {
    use Target::*;
    for candidate in [
        AssigneeDutyContact,
        CentreDutyLeader,
        CentreDutyOfficers,
        PostResponsibleLeader,
        LeadersOnDuty,
    ] {
        if candidate.name() == text.trim() {
            return Ok(candidate);
        }
    }
    Err(bad(
        where_,
        format!(
            "{text:?} is not a target; use assignee_duty_contact, centre_duty_leader, \
             centre_duty_officers, post_responsible_leader or leaders_on_duty"
        ),
    ))
}

fn factor(where_: &str, value: f64, max: f64) -> Result<f64> {
    if !(value > 0.0 && value <= max) {
        return Err(bad(
            where_,
            format!("{value} must be above 0 and at most {max}"),
        ));
    }
    Ok(value)
}

/// Parses and validates a policy. Every problem is INVALID_ARGUMENT saying
/// where (`rule 3: arrive`) and what is wrong.
pub fn parse(text: &str) -> Result<Policy> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(bad(
            "file",
            format!("at most {MAX_POLICY_BYTES} bytes (got {})", text.len()),
        ));
    }
    let file: PolicyFile =
        toml::from_str(text).map_err(|e| bad("file", e.to_string().trim().replace('\n', " ")))?;
    let defaults = Deadlines {
        sign_for: duration("defaults.sign_for", &file.defaults.sign_for, false)?,
        arrive: duration("defaults.arrive", &file.defaults.arrive, false)?,
        resolve: duration("defaults.resolve", &file.defaults.resolve, false)?,
    };
    check_order(
        "defaults",
        Some(defaults.sign_for),
        Some(defaults.arrive),
        Some(defaults.resolve),
    )?;
    if file.rule.len() > MAX_RULES {
        return Err(bad("rule", format!("at most {MAX_RULES} rules")));
    }
    let mut rules = Vec::with_capacity(file.rule.len());
    for (index, rule) in file.rule.iter().enumerate() {
        let at = |field: &str| format!("rule {}: {field}", index + 1);
        let parsed = Rule {
            categories: rule.category.iter().map(|c| c.trim().to_owned()).collect(),
            severities: rule
                .severity
                .iter()
                .map(|s| severity(&at("severity"), s))
                .collect::<Result<_>>()?,
            posts: rule.posts.iter().map(|p| p.trim().to_owned()).collect(),
            emergency: rule.emergency,
            sign_for: rule
                .sign_for
                .as_deref()
                .map(|d| duration(&at("sign_for"), d, false))
                .transpose()?,
            arrive: rule
                .arrive
                .as_deref()
                .map(|d| duration(&at("arrive"), d, false))
                .transpose()?,
            resolve: rule
                .resolve
                .as_deref()
                .map(|d| duration(&at("resolve"), d, false))
                .transpose()?,
        };
        if parsed.sign_for.is_none() && parsed.arrive.is_none() && parsed.resolve.is_none() {
            return Err(bad(
                &at("deadlines"),
                "sets none of sign_for, arrive, resolve",
            ));
        }
        for code in parsed.categories.iter().chain(&parsed.posts) {
            if !crate::validate::is_slug(code) {
                return Err(bad(
                    &at("category/posts"),
                    format!("{code:?} is not a valid id"),
                ));
            }
        }
        check_order(
            &format!("rule {}", index + 1),
            parsed.sign_for,
            parsed.arrive,
            parsed.resolve,
        )?;
        rules.push(parsed);
    }
    let tiers = match &file.tiers {
        Some(t) => [
            factor("tiers.1", t.one.unwrap_or(1.0), 10.0)?,
            factor("tiers.2", t.two.unwrap_or(1.0), 10.0)?,
            factor("tiers.3", t.three.unwrap_or(1.0), 10.0)?,
        ],
        None => [1.0, 1.0, 1.0],
    };
    let emergency_factor = match &file.emergency {
        Some(e) => factor("emergency.factor", e.factor, 1.0)?,
        None => 1.0,
    };
    if file.ladder.is_empty() {
        return Err(bad("ladder", "needs at least one level"));
    }
    if file.ladder.len() > MAX_LEVELS {
        return Err(bad("ladder", format!("at most {MAX_LEVELS} levels")));
    }
    let mut ladder = Vec::with_capacity(file.ladder.len());
    for (index, level) in file.ladder.iter().enumerate() {
        let at = |field: &str| format!("ladder level {}: {field}", index + 1);
        let after = duration(&at("after"), &level.after, index == 0)?;
        if level.notify.is_empty() {
            return Err(bad(&at("notify"), "alarms nobody"));
        }
        let notify = level
            .notify
            .iter()
            .map(|t| target(&at("notify"), t))
            .collect::<Result<Vec<_>>>()?;
        let mut send = Vec::with_capacity(level.send.len());
        for name in &level.send {
            let channel = match name.trim() {
                "sms" => Channel::Sms,
                "voice" => Channel::Voice,
                "webhook" => Channel::Webhook,
                other => {
                    return Err(bad(
                        &at("send"),
                        format!("{other:?} is not a channel: sms, voice or webhook"),
                    ));
                }
            };
            if send.contains(&channel) {
                return Err(bad(&at("send"), format!("{name} is listed twice")));
            }
            send.push(channel);
        }
        let mut send_to = Vec::with_capacity(level.send_to.len());
        for name in &level.send_to {
            let role = target(&at("send_to"), name)?;
            if !notify.contains(&role) {
                return Err(bad(
                    &at("send_to"),
                    format!("{name} is not among this level's notify"),
                ));
            }
            if !send_to.contains(&role) {
                send_to.push(role);
            }
        }
        if !send_to.is_empty() && send.is_empty() {
            return Err(bad(
                &at("send_to"),
                "says who is texted or called, but send names no channel",
            ));
        }
        ladder.push(Level {
            after,
            notify,
            raise_severity: level.raise_severity,
            send,
            send_to,
        });
    }
    let repeat_every = file
        .repeat
        .as_ref()
        .map(|r| duration("repeat.every", &r.every, false))
        .transpose()?;
    if let Some(every) = repeat_every
        && every < SignedDuration::from_mins(1)
    {
        return Err(bad(
            "repeat.every",
            "must be at least 1m: alarms must not flood",
        ));
    }
    Ok(Policy {
        defaults,
        rules,
        tiers,
        emergency_factor,
        ladder,
        repeat_every,
        acknowledge_stops_ladder: file.acknowledge.is_some_and(|a| a.stops_ladder),
        version: 0,
    })
}

fn check_order(
    where_: &str,
    sign_for: Option<SignedDuration>,
    arrive: Option<SignedDuration>,
    resolve: Option<SignedDuration>,
) -> Result<()> {
    if let (Some(s), Some(a)) = (sign_for, arrive)
        && s > a
    {
        return Err(bad(where_, "sign_for is later than arrive"));
    }
    if let (Some(a), Some(r)) = (arrive, resolve)
        && a > r
    {
        return Err(bad(where_, "arrive is later than resolve"));
    }
    Ok(())
}

/// A duration as people write it: `90s`, `5m`, `1h30m`.
pub fn human(duration: SignedDuration) -> String {
    let total = duration.as_secs();
    let (sign, total) = if total < 0 {
        ("-", -total)
    } else {
        ("", total)
    };
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    let mut text = String::from(sign);
    if h > 0 {
        text.push_str(&format!("{h}h"));
    }
    if m > 0 {
        text.push_str(&format!("{m}m"));
    }
    if s > 0 || text.len() == sign.len() {
        text.push_str(&format!("{s}s"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(severity: Severity) -> Subject<'static> {
        Subject {
            category: "fire",
            severity,
            post: Some("xinhua"),
            emergency: false,
            tier: 1,
        }
    }

    #[test]
    fn the_shipped_policy_parses_and_keeps_the_110_rule() {
        let policy = parse(DEFAULT_POLICY).expect("shipped policy is valid");
        assert_eq!(policy, Policy::default_policy());
        let arrive = policy.deadline(DeadlineKind::Arrive, &subject(Severity::I));
        assert_eq!(arrive, SignedDuration::from_mins(5));
        let sign = policy.deadline(DeadlineKind::SignFor, &subject(Severity::IV));
        assert_eq!(sign, SignedDuration::from_mins(5));
        assert_eq!(policy.ladder.len(), 3);
        assert!(policy.ladder[2].raise_severity);
    }

    #[test]
    fn tiers_stretch_and_emergency_tightens() {
        let policy = Policy::default_policy();
        let mut tier2 = subject(Severity::II);
        tier2.tier = 2;
        assert_eq!(
            policy.deadline(DeadlineKind::Arrive, &tier2),
            SignedDuration::from_secs(450)
        );
        // Resolution is not stretched by tier.
        assert_eq!(
            policy.deadline(DeadlineKind::Resolve, &tier2),
            SignedDuration::from_hours(4)
        );
        let mut emergency = subject(Severity::II);
        emergency.emergency = true;
        assert_eq!(
            policy.deadline(DeadlineKind::Arrive, &emergency),
            SignedDuration::from_secs(150)
        );
    }

    #[test]
    fn the_first_matching_rule_that_sets_a_deadline_wins() {
        let text = format!(
            "{}\n[[rule]]\nposts = [\"xiangcun\"]\nseverity = [\"I\"]\narrive = \"10m\"\n",
            DEFAULT_POLICY
        );
        // Appended after the I/II rule, the suburb rule never wins...
        let late = parse(&text).expect("valid");
        let mut suburb = subject(Severity::I);
        suburb.post = Some("xiangcun");
        assert_eq!(
            late.deadline(DeadlineKind::Arrive, &suburb),
            SignedDuration::from_mins(5)
        );
        // ...placed first, it does, and only for that post.
        let mut early = late.clone();
        let rule = early.rules.pop().expect("rule");
        early.rules.insert(0, rule);
        assert_eq!(
            early.deadline(DeadlineKind::Arrive, &suburb),
            SignedDuration::from_mins(10)
        );
        assert_eq!(
            early.deadline(DeadlineKind::Arrive, &subject(Severity::I)),
            SignedDuration::from_mins(5)
        );
        // Its sign-for still comes from the next rule that sets one.
        assert_eq!(
            early.deadline(DeadlineKind::SignFor, &suburb),
            SignedDuration::from_mins(1)
        );
    }

    #[test]
    fn explicit_emergency_rules_are_not_tightened_twice() {
        let text = DEFAULT_POLICY.replace(
            "# Serious incidents",
            "[[rule]]\nemergency = true\nseverity = [\"I\"]\narrive = \"3m\"\n\n# Serious incidents",
        );
        let policy = parse(&text).expect("valid");
        let mut emergency = subject(Severity::I);
        emergency.emergency = true;
        // The I/II rule comes first and sets 5m, halved by the factor.
        assert_eq!(
            policy.deadline(DeadlineKind::Arrive, &emergency),
            SignedDuration::from_secs(150)
        );
        // Placed first, the emergency rule wins and is taken as written.
        let mut first = policy.clone();
        let rule = first.rules.remove(1);
        first.rules.insert(0, rule);
        assert_eq!(
            first.deadline(DeadlineKind::Arrive, &emergency),
            SignedDuration::from_mins(3)
        );
        // In normal mode it does not apply at all.
        assert_eq!(
            first.deadline(DeadlineKind::Arrive, &subject(Severity::I)),
            SignedDuration::from_mins(5)
        );
    }

    #[test]
    fn the_ladder_repeats_its_last_level() {
        let policy = Policy::default_policy();
        assert_eq!(
            policy.level(1).map(|l| l.notify.clone()),
            Some(vec![Target::AssigneeDutyContact])
        );
        assert!(policy.level(3).is_some_and(|l| l.raise_severity));
        // Off the console: nobody at level 1, SMS at 2, a call from 3 on.
        let send = |n| policy.level(n).map(|l| l.send.clone()).unwrap_or_default();
        assert_eq!(send(1), vec![]);
        assert_eq!(send(2), vec![Channel::Sms]);
        assert_eq!(send(3), vec![Channel::Voice]);
        assert_eq!(send(5), vec![Channel::Voice]);
        // Everyone the level alarms, and acknowledging does not stop it.
        assert!(policy.ladder.iter().all(|l| l.send_to.is_empty()));
        assert!(!policy.acknowledge_stops_ladder);
        let chosen = parse(&format!(
            "{}\n[acknowledge]\nstops_ladder = true\n",
            DEFAULT_POLICY.replace(
                "send = [\"sms\"]",
                "send = [\"sms\"]\nsend_to = [\"post_responsible_leader\"]"
            )
        ))
        .expect("valid");
        assert!(chosen.acknowledge_stops_ladder);
        assert_eq!(
            chosen.level(2).map(|l| l.send_to.clone()),
            Some(vec![Target::PostResponsibleLeader])
        );
        assert_eq!(policy.level(7), policy.level(3));
        assert_eq!(policy.next_after(1), Some(SignedDuration::from_mins(5)));
        assert_eq!(policy.next_after(3), Some(SignedDuration::from_mins(15)));
        let no_repeat =
            parse(&DEFAULT_POLICY.replace("[repeat]\nevery = \"15m\"", "")).expect("valid");
        assert_eq!(no_repeat.level(4), None);
        assert_eq!(no_repeat.next_after(3), None);
    }

    #[test]
    fn bad_policies_say_where_and_what() {
        let cases = [
            (
                DEFAULT_POLICY.replace("sign_for = \"1m\"", "sign_for = \"soon\""),
                "rule 1: sign_for",
            ),
            (
                DEFAULT_POLICY.replace("severity = [\"III\"]", "severity = [\"V\"]"),
                "rule 2: severity",
            ),
            (
                DEFAULT_POLICY.replace("\"leaders_on_duty\"", "\"mayor\""),
                "ladder level 3: notify",
            ),
            (
                DEFAULT_POLICY.replace("factor = 0.5", "factor = 2.0"),
                "emergency.factor",
            ),
            (
                DEFAULT_POLICY.replace("every = \"15m\"", "every = \"10s\""),
                "repeat.every",
            ),
            (
                DEFAULT_POLICY.replace("arrive = \"5m\"", "arrive = \"5h\""),
                "rule 1: arrive is later",
            ),
            (DEFAULT_POLICY.replace("[defaults]", "[defaultz]"), "file"),
            (
                DEFAULT_POLICY.replace("send = [\"sms\"]", "send = [\"fax\"]"),
                "ladder level 2: send: \"fax\" is not a channel",
            ),
            (
                DEFAULT_POLICY.replace("send = [\"voice\"]", "send = [\"voice\", \"voice\"]"),
                "ladder level 3: send: voice is listed twice",
            ),
            (
                format!("{DEFAULT_POLICY}\n[[rule]]\ncategory = [\"fire\"]\n"),
                "rule 3: deadlines",
            ),
            (
                DEFAULT_POLICY.replace(
                    "send = [\"sms\"]",
                    "send = [\"sms\"]\nsend_to = [\"leaders_on_duty\"]",
                ),
                "ladder level 2: send_to: leaders_on_duty is not among this level's notify",
            ),
            (
                DEFAULT_POLICY.replace(
                    "notify = [\"assignee_duty_contact\"]",
                    "notify = [\"assignee_duty_contact\"]\nsend_to = [\"assignee_duty_contact\"]",
                ),
                "ladder level 1: send_to: says who is texted or called, but send names no channel",
            ),
            (
                format!("{DEFAULT_POLICY}\n[acknowledge]\nstops_ladder = \"yes\"\n"),
                "file",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(&text).expect_err(expected);
            assert!(matches!(error, Error::InvalidArgument(_)));
            assert!(
                error.to_string().contains(expected),
                "{error} lacks {expected:?}"
            );
        }
    }

    #[test]
    fn durations_print_as_people_write_them() {
        assert_eq!(human(SignedDuration::from_secs(90)), "1m30s");
        assert_eq!(human(SignedDuration::from_mins(150)), "2h30m");
        assert_eq!(human(SignedDuration::ZERO), "0s");
        assert_eq!(human(SignedDuration::from_secs(-300)), "-5m");
    }
}
