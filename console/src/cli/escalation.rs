//! `duty escalation …` (policy, simulation) and `duty alarm …`.

use std::path::PathBuf;

use clap::Subcommand;
use dutyroom_proto::v1 as pb;
use jiff::tz::TimeZone;

use crate::cli::incident::parse_severity;
use crate::cli::output::{self, table, time};
use crate::cli::{CliError, Ctx};

/// `duty escalation …`
#[derive(Debug, Subcommand)]
pub enum EscalationCmd {
    /// The escalation policy (TOML).
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// What would happen to a hypothetical incident: each deadline, each
    /// ladder level's time and who would be alarmed.
    Simulate {
        /// Category code.
        #[arg(long)]
        category: String,
        /// I, II, III or IV.
        #[arg(long, value_parser = parse_severity)]
        severity: pb::Severity,
        /// The incident's post (it is the lead unless --unit).
        #[arg(long)]
        post: String,
        /// Simulate this unit as the assignee instead.
        #[arg(long)]
        unit: Option<String>,
        /// Dispatch time: RFC 3339, or "YYYY-MM-DD HH:MM" in the centre's zone
        /// (default: now).
        #[arg(long)]
        at: Option<String>,
        /// As if the post were in emergency mode.
        #[arg(long)]
        emergency: bool,
    },
}

/// `duty escalation policy …`
#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Prints the policy in force (TOML; -o json adds version and author).
    Show,
    /// Replaces the policy with FILE, validated whole (admin).
    Set {
        /// A TOML policy file ("-" for standard input).
        file: PathBuf,
        /// Only if the policy in force is this version.
        #[arg(long)]
        expect_version: Option<u64>,
    },
    /// Goes back to the shipped defaults (admin).
    Reset,
}

/// `duty alarm …`
#[derive(Debug, Subcommand)]
pub enum AlarmCmd {
    /// Alarms waiting for acknowledgement (--all: every alarm).
    List {
        /// Include acknowledged alarms.
        #[arg(long)]
        all: bool,
        /// Only this incident's.
        #[arg(long)]
        incident: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Acknowledges an alarm (recorded with who and when).
    Ack {
        /// Alarm id.
        id: u64,
        /// What was done.
        #[arg(long, default_value = "")]
        note: String,
    },
}

/// Reads RFC 3339, or a civil "YYYY-MM-DD HH:MM[:SS]" in `zone`.
fn parse_time(text: &str, zone: &TimeZone) -> Result<jiff::Timestamp, CliError> {
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    let civil: jiff::civil::DateTime = text.replace(' ', "T").parse().map_err(|_| {
        CliError::Usage(format!(
            "--at {text:?}: write RFC 3339 (2026-11-23T09:00:00+08:00) or \"2026-11-23 09:00\""
        ))
    })?;
    civil
        .to_zoned_datetime(zone.clone())
        .map(|z| z.timestamp())
        .map_err(|e| CliError::Usage(format!("--at {text:?}: {e}")))
}

/// Runs an escalation command.
pub async fn run(ctx: &mut Ctx<'_>, cmd: EscalationCmd) -> Result<(), CliError> {
    let rid = ctx.request_id.clone();
    let mut escalation = ctx.client.escalation();
    match cmd {
        EscalationCmd::Policy(PolicyCmd::Show) => {
            let info = escalation
                .get_policy(pb::GetPolicyRequest {})
                .await?
                .into_inner();
            if ctx.json() {
                return output::json(ctx.out, &info, "PolicyInfo", true);
            }
            writeln!(ctx.out, "# version {}", info.version)?;
            write!(ctx.out, "{}", info.toml)?;
            Ok(())
        }
        EscalationCmd::Policy(PolicyCmd::Set {
            file,
            expect_version,
        }) => {
            let toml = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file)
                    .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?
            };
            let info = escalation
                .set_policy(pb::SetPolicyRequest {
                    request_id: rid,
                    toml,
                    reset_to_default: false,
                    expected_version: expect_version.unwrap_or(0),
                })
                .await?
                .into_inner();
            print_version(ctx, &info)
        }
        EscalationCmd::Policy(PolicyCmd::Reset) => {
            let info = escalation
                .set_policy(pb::SetPolicyRequest {
                    request_id: rid,
                    toml: String::new(),
                    reset_to_default: true,
                    expected_version: 0,
                })
                .await?
                .into_inner();
            print_version(ctx, &info)
        }
        EscalationCmd::Simulate {
            category,
            severity,
            post,
            unit,
            at,
            emergency,
        } => {
            let zone = ctx.zone().await?;
            let at = at.map(|text| parse_time(&text, &zone)).transpose()?;
            let reply = escalation
                .simulate(pb::SimulateRequest {
                    category,
                    severity: severity as i32,
                    post,
                    unit: unit.unwrap_or_default(),
                    at: at.map(|ts| prost_types::Timestamp {
                        seconds: ts.as_second(),
                        nanos: ts.subsec_nanosecond(),
                    }),
                    emergency,
                })
                .await?
                .into_inner();
            if ctx.json() {
                return output::json(ctx.out, &reply, "SimulateReply", true);
            }
            writeln!(ctx.out, "policy version {}", reply.policy_version)?;
            for clock in &reply.clocks {
                writeln!(
                    ctx.out,
                    "\n{} within {}: due {}",
                    output::clock_kind(clock.kind),
                    clock.length,
                    time(clock.due.as_ref(), &zone)
                )?;
                let rows = clock
                    .levels
                    .iter()
                    .map(|l| {
                        let mut what = String::new();
                        if l.repeat {
                            what.push_str("repeat ");
                        }
                        if l.raise_severity {
                            what.push_str("+severity ");
                        }
                        for channel in &l.send {
                            what.push_str(&format!("+{channel} "));
                        }
                        if !l.send.is_empty() && !l.send_to.is_empty() {
                            what.push_str(&format!("(to {}) ", l.send_to.join(", ")));
                        }
                        vec![
                            l.level.to_string(),
                            time(l.at.as_ref(), &zone),
                            what.trim().to_owned(),
                            output::targets(&l.targets),
                        ]
                    })
                    .collect();
                table(ctx.out, &["LEVEL", "AT", "", "ALARMS"], rows)?;
            }
            Ok(())
        }
    }
}

fn print_version(ctx: &mut Ctx<'_>, info: &pb::PolicyInfo) -> Result<(), CliError> {
    if ctx.json() {
        return output::json(ctx.out, info, "PolicyInfo", true);
    }
    writeln!(
        ctx.out,
        "escalation policy version {} in force",
        info.version
    )?;
    Ok(())
}

/// Runs an alarm command.
pub async fn run_alarm(ctx: &mut Ctx<'_>, cmd: AlarmCmd) -> Result<(), CliError> {
    let rid = ctx.request_id.clone();
    let mut escalation = ctx.client.escalation();
    match cmd {
        AlarmCmd::List {
            all,
            incident,
            limit,
        } => {
            let reply = escalation
                .list_alarms(pb::ListAlarmsRequest {
                    include_acknowledged: all,
                    incident: incident.unwrap_or_default(),
                    after_id: 0,
                    limit: limit.min(1000),
                })
                .await?
                .into_inner();
            if ctx.json() {
                return output::json(ctx.out, &reply, "ListAlarmsReply", true);
            }
            let zone = ctx.zone().await?;
            let rows = reply
                .alarms
                .iter()
                .map(|a| {
                    vec![
                        a.id.to_string(),
                        time(a.raised_at.as_ref(), &zone),
                        a.level.to_string(),
                        output::alarm_kind(a.kind).to_owned(),
                        a.incident.clone(),
                        output::targets(&a.targets),
                        output::notifications(&a.notifications),
                        if a.acknowledged_at.is_some() {
                            format!(
                                "acked by {}",
                                a.acknowledged_by.as_ref().map_or("", |p| p.name.as_str())
                            )
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect();
            table(
                ctx.out,
                &[
                    "ID", "RAISED", "LEVEL", "WHY", "INCIDENT", "ALARMS", "SENT TO", "",
                ],
                rows,
            )
        }
        AlarmCmd::Ack { id, note } => {
            let alarm = escalation
                .acknowledge_alarm(pb::AcknowledgeAlarmRequest {
                    request_id: rid,
                    id,
                    note,
                })
                .await?
                .into_inner();
            if ctx.json() {
                return output::json(ctx.out, &alarm, "Alarm", true);
            }
            writeln!(ctx.out, "alarm {} acknowledged", alarm.id)?;
            Ok(())
        }
    }
}
