//! Output: tables for people, proto3 JSON for scripts.
//!
//! JSON is the canonical proto3 JSON mapping of the reply message (field
//! names as in the .proto files, enums by name, times as RFC 3339, every
//! field present, 64-bit integers as numbers): stable as long as the API is.
//!
//! Tables and plain lines show text from the network through one sanitizer,
//! [`visible`]: a summary holding `\x1b[2J` must not clear the operator's
//! screen, an OSC must not retitle the window, a CR or LF must not forge a
//! line. [`Guarded`] applies it to everything a table-format command writes
//! as a backstop; JSON stays exact (serde already escapes control characters).

use std::io::Write;
use std::sync::OnceLock;

use comfy_table::{Table, presets};
use dutyroom_proto::v1 as pb;
use jiff::tz::TimeZone;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

use crate::cli::CliError;

/// How to print results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned tables and key/value lines, for people.
    Table,
    /// Proto3 JSON (one document; `watch` prints one per line).
    Json,
    /// Comma-separated values, raw figures (`duty report` only).
    Csv,
}

fn pool() -> Result<&'static DescriptorPool, CliError> {
    static POOL: OnceLock<Option<DescriptorPool>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(dutyroom_proto::FILE_DESCRIPTOR_SET).ok())
        .as_ref()
        .ok_or_else(|| CliError::Other("the built-in API descriptors do not decode".into()))
}

/// Characters that must never reach a terminal raw: C0 and C1 controls,
/// DEL, and the bidi embeddings, overrides and isolates that reorder what is
/// shown (U+202A–U+202E, U+2066–U+2069).
pub(crate) fn is_hazard(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
    }
}

/// The one sanitizer: `text` with every control character (newline and tab
/// included) and bidi control shown visibly (`\x1b`, `\n`, `\u{202e}`), for
/// one line of a table or of plain output.
pub fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_hazard) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_hazard(c) {
            escape_into(&mut out, c);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A writer that shows every hazard but our own newlines and tabs visibly:
/// the backstop under every table-format command, so that a field someone
/// forgot to pass through [`visible`] still cannot drive the terminal.
pub struct Guarded<'a> {
    inner: &'a mut dyn Write,
    active: bool,
    /// Bytes of a UTF-8 character split across writes.
    pending: Vec<u8>,
}

impl<'a> Guarded<'a> {
    /// Guards `inner`, or passes through untouched when `active` is false
    /// (JSON output).
    pub fn new(inner: &'a mut dyn Write, active: bool) -> Self {
        Guarded {
            inner,
            active,
            pending: Vec::new(),
        }
    }
}

impl Write for Guarded<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.active {
            return self.inner.write(buf);
        }
        self.pending.extend_from_slice(buf);
        let (text, rest) = match std::str::from_utf8(&self.pending) {
            Ok(text) => (text.to_owned(), Vec::new()),
            Err(e) if e.error_len().is_none() => {
                let valid = e.valid_up_to();
                (
                    String::from_utf8_lossy(&self.pending[..valid]).into_owned(),
                    self.pending[valid..].to_vec(),
                )
            }
            Err(_) => (
                String::from_utf8_lossy(&self.pending).into_owned(),
                Vec::new(),
            ),
        };
        self.pending = rest;
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if is_hazard(c) && c != '\n' && c != '\t' {
                escape_into(&mut out, c);
            } else {
                out.push(c);
            }
        }
        self.inner.write_all(out.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `message` (of proto type `name`, e.g. `Incident`) as JSON.
pub fn json<M: prost::Message>(
    out: &mut dyn Write,
    message: &M,
    name: &str,
    pretty: bool,
) -> Result<(), CliError> {
    let full = format!("dutyroom.v1.{name}");
    let descriptor = pool()?
        .get_message_by_name(&full)
        .ok_or_else(|| CliError::Other(format!("no descriptor for {full}")))?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .map_err(|e| CliError::Other(format!("re-decoding {full}: {e}")))?;
    let options = SerializeOptions::new()
        .skip_default_fields(false)
        .use_proto_field_name(true)
        .stringify_64_bit_integers(false);
    let mut buffer = Vec::new();
    if pretty {
        let mut serializer = serde_json::Serializer::pretty(&mut buffer);
        dynamic
            .serialize_with_options(&mut serializer, &options)
            .map_err(|e| CliError::Other(e.to_string()))?;
    } else {
        let mut serializer = serde_json::Serializer::new(&mut buffer);
        dynamic
            .serialize_with_options(&mut serializer, &options)
            .map_err(|e| CliError::Other(e.to_string()))?;
    }
    out.write_all(&buffer)?;
    writeln!(out)?;
    Ok(())
}

/// A table with a header row.
pub fn table(out: &mut dyn Write, header: &[&str], rows: Vec<Vec<String>>) -> Result<(), CliError> {
    if rows.is_empty() {
        writeln!(out, "(none)")?;
        return Ok(());
    }
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_header(header.to_vec());
    for row in rows {
        table.add_row(row.iter().map(|cell| visible(cell).into_owned()));
    }
    writeln!(out, "{table}")?;
    Ok(())
}

/// Key/value lines, keys aligned.
pub fn fields(out: &mut dyn Write, pairs: &[(&str, String)]) -> Result<(), CliError> {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in pairs {
        if !value.is_empty() {
            writeln!(out, "{key:>width$}  {}", visible(value))?;
        }
    }
    Ok(())
}

/// A wire time in the centre's zone, to the second; empty when unset.
pub fn time(at: Option<&prost_types::Timestamp>, zone: &TimeZone) -> String {
    let Some(at) = at else {
        return String::new();
    };
    match jiff::Timestamp::new(at.seconds, at.nanos) {
        Ok(ts) => ts
            .to_zoned_datetime(zone.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => format!("{}s", at.seconds),
    }
}

/// Severity as officers say it, with its colour word (colour is never the
/// only signal).
pub fn severity(value: i32) -> &'static str {
    match pb::Severity::try_from(value) {
        Ok(pb::Severity::I) => "I 特别重大",
        Ok(pb::Severity::Ii) => "II 重大",
        Ok(pb::Severity::Iii) => "III 较大",
        Ok(pb::Severity::Iv) => "IV 一般",
        _ => "?",
    }
}

/// Incident status in words.
pub fn status(value: i32) -> &'static str {
    use pb::IncidentStatus as S;
    match S::try_from(value) {
        Ok(S::New) => "new",
        Ok(S::Dispatched) => "dispatched",
        Ok(S::Signed) => "signed",
        Ok(S::OnScene) => "on scene",
        Ok(S::Resolved) => "resolved",
        Ok(S::Closed) => "closed",
        Ok(S::Cancelled) => "cancelled",
        Ok(S::Merged) => "merged",
        _ => "?",
    }
}

/// Assignment state in words.
pub fn assignment_state(value: i32) -> &'static str {
    use pb::AssignmentState as S;
    match S::try_from(value) {
        Ok(S::Dispatched) => "dispatched",
        Ok(S::SignedFor) => "signed for",
        Ok(S::OnScene) => "on scene",
        Ok(S::Done) => "done",
        Ok(S::Refused) => "refused",
        Ok(S::Withdrawn) => "withdrawn",
        _ => "?",
    }
}

/// `post:xinhua` / `unit:fire`.
pub fn assignee(value: Option<&pb::Assignee>) -> String {
    match value {
        Some(a) if a.kind == pb::AssigneeKind::Post as i32 => format!("post:{}", a.id),
        Some(a) if a.kind == pb::AssigneeKind::Unit as i32 => format!("unit:{}", a.id),
        Some(a) => a.id.clone(),
        None => String::new(),
    }
}

/// Source channel as written on the CLI.
pub fn source(value: i32) -> &'static str {
    use pb::SourceChannel as S;
    match S::try_from(value) {
        Ok(S::Police110) => "110",
        Ok(S::Fire119) => "119",
        Ok(S::Medical120) => "120",
        Ok(S::Traffic122) => "122",
        Ok(S::Hotline12345) => "12345",
        Ok(S::GridWorker) => "grid",
        Ok(S::PostReport) => "post",
        Ok(S::Sensor) => "sensor",
        Ok(S::Other) => "other",
        _ => "?",
    }
}

/// Clock kind in words.
pub fn clock_kind(value: i32) -> &'static str {
    match pb::ClockKind::try_from(value) {
        Ok(pb::ClockKind::SignFor) => "sign-for",
        Ok(pb::ClockKind::Arrive) => "arrival",
        Ok(pb::ClockKind::Resolve) => "resolution",
        _ => "?",
    }
}

/// Alarm kind in words.
pub fn alarm_kind(value: i32) -> &'static str {
    match pb::AlarmKind::try_from(value) {
        Ok(pb::AlarmKind::SignForOverdue) => "sign-for overdue",
        Ok(pb::AlarmKind::ArriveOverdue) => "arrival overdue",
        Ok(pb::AlarmKind::ResolveOverdue) => "resolution overdue",
        Ok(pb::AlarmKind::Manual) => "escalated by hand",
        Ok(pb::AlarmKind::ModeSwitched) => "mode switched",
        _ => "?",
    }
}

/// `sent`, `failed`, … for a notification's state.
pub fn delivery_state(state: i32) -> &'static str {
    match pb::DeliveryState::try_from(state).unwrap_or_default() {
        pb::DeliveryState::Queued => "queued",
        pb::DeliveryState::Sent => "sent",
        pb::DeliveryState::Delivered => "delivered",
        pb::DeliveryState::Read => "read",
        pb::DeliveryState::Failed => "failed",
        pb::DeliveryState::Cancelled => "cancelled",
        pb::DeliveryState::Unspecified => "?",
    }
}

/// One notification: `sms 王伟 13800000000 sent (2 tries)`, with the reason
/// when it failed.
pub fn notification(n: &pb::Notification) -> String {
    let mut line = format!(
        "{} {} {} {}",
        n.channel,
        n.name,
        n.to,
        delivery_state(n.state)
    );
    if n.attempts > 1 {
        line.push_str(&format!(" ({} tries)", n.attempts));
    }
    if !n.reason.is_empty() {
        line.push_str(": ");
        line.push_str(&n.reason);
    }
    line
}

/// An alarm's notifications on one line, `;`-separated.
pub fn notifications(list: &[pb::Notification]) -> String {
    list.iter().map(notification).collect::<Vec<_>>().join("; ")
}

/// Alarm addressees as one line: `role (scope): name phone, …; …`.
pub fn targets(targets: &[pb::AlarmTarget]) -> String {
    targets
        .iter()
        .map(|t| {
            let scope = if t.scope.is_empty() {
                String::new()
            } else {
                format!(" ({})", t.scope)
            };
            let people = if t.people.is_empty() {
                "nobody found".to_owned()
            } else {
                t.people
                    .iter()
                    .map(|p| format!("{} {}", p.name, p.phone).trim().to_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!("{}{scope}: {people}", t.target)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod safety_tests {
    use super::*;

    #[test]
    fn escapes_and_forged_lines_are_shown_not_obeyed() {
        assert_eq!(visible("plain 火情"), "plain 火情");
        assert_eq!(visible("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(visible("x\x1b]0;pwned\x07"), "x\\x1b]0;pwned\\x07");
        assert_eq!(visible("one\r\ntwo\t"), "one\\r\\ntwo\\t");
        assert_eq!(visible("\u{9b}31m"), "\\x9b31m");
        assert_eq!(visible("abc\u{202e}fed"), "abc\\u{202e}fed");
    }

    #[test]
    fn the_guard_keeps_our_newlines_and_escapes_the_rest() {
        let mut raw = Vec::new();
        {
            let mut guarded = Guarded::new(&mut raw, true);
            let text = "row \x1b[31mred\x07\n新华\r\n";
            let bytes = text.as_bytes();
            // Split inside a multi-byte character on purpose.
            let cut = text.find('新').map_or(0, |i| i + 1);
            guarded.write_all(&bytes[..cut]).expect("write");
            guarded.write_all(&bytes[cut..]).expect("write");
        }
        assert_eq!(
            String::from_utf8(raw).expect("utf-8"),
            "row \\x1b[31mred\\x07\n新华\\r\n"
        );
        let mut json = Vec::new();
        Guarded::new(&mut json, false)
            .write_all(b"{\"a\":\"\\u001b\"}\n")
            .expect("write");
        assert_eq!(json, b"{\"a\":\"\\u001b\"}\n");
    }
}
