//! dutyd's refusals in the console's language. dutyd answers in English,
//! with a stable reason (`google.rpc.ErrorInfo`, domain `dutyroom`) on field
//! errors; the console renders the reason and the gRPC code from its own
//! catalogue, naming fields by the labels the officer sees in the form, and
//! keeps dutyd's sentence only in English.

use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::tui::i18n::{Lang, T, field_label};

/// A refusal as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What to show.
    pub text: String,
    /// The request field it concerns, when dutyd said (`intake.summary`).
    pub field: Option<String>,
}

/// `status` in `lang`.
pub fn refusal(status: &Status, lang: Lang) -> Refusal {
    let info = status
        .get_details_error_info()
        .filter(|info| info.domain == "dutyroom");
    let field = info.as_ref().and_then(|i| i.metadata.get("field").cloned());
    if lang == Lang::En {
        return Refusal {
            text: status.message().to_owned(),
            field,
        };
    }
    let label = field
        .as_deref()
        .map(|f| field_label(f, lang))
        .unwrap_or_default();
    let number = |key: &str| {
        info.as_ref()
            .and_then(|i| i.metadata.get(key).cloned())
            .unwrap_or_default()
    };
    let text = match info.as_ref().map(|i| i.reason.as_str()) {
        Some("FIELD_TOO_LONG") => format!(
            "{label}: {} {} {} ({} {})",
            T::AtMost.get(lang),
            number("max"),
            T::Characters.get(lang),
            T::Got.get(lang),
            number("got")
        ),
        Some("FIELD_REQUIRED") => format!("{label}: {}", T::Required.get(lang)),
        Some("FIELD_CONTROL_CHARS") => format!("{label}: {}", T::ControlChars.get(lang)),
        Some("FIELD_BAD_ID") => format!("{label}: {}", T::BadId.get(lang)),
        _ => by_code(status, lang),
    };
    Refusal { text, field }
}

/// A refusal with no reason dutyd spelled out: said by its code. The cases
/// where dutyd's own words carry the detail (a state that does not allow the
/// action, a malformed value) keep them after the catalogue's sentence.
fn by_code(status: &Status, lang: Lang) -> String {
    let said = |text: T| text.get(lang).to_owned();
    match status.code() {
        Code::NotFound => said(T::RefusedNotFound),
        Code::PermissionDenied => said(T::RefusedDenied),
        Code::Unauthenticated => said(T::RefusedToken),
        Code::Unavailable => said(T::RefusedUnavailable),
        Code::ResourceExhausted => said(T::RefusedBusy),
        Code::AlreadyExists => said(T::RefusedExists),
        Code::DeadlineExceeded => said(T::RefusedTimeout),
        Code::Internal => {
            // The error id is what the administrator looks up in the log.
            let id = status
                .message()
                .split_whitespace()
                .nth(2)
                .map(|w| w.trim_end_matches(';'))
                .filter(|w| w.chars().all(|c| c.is_ascii_hexdigit()))
                .unwrap_or_default();
            format!("{} {id}", said(T::RefusedInternal))
        }
        Code::FailedPrecondition => {
            state_refusal(status.message(), lang).unwrap_or_else(|| said(T::RefusedState))
        }
        // A refusal without a reason names its field first
        // (`satisfaction: must be 0-5`): say which field, in words.
        _ => match status.message().split_once(": ") {
            Some((field, _))
                if !field.is_empty()
                    && field
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.') =>
            {
                format!("{}: {}", field_label(field, lang), said(T::RefusedInvalid))
            }
            _ => said(T::RefusedInvalid),
        },
    }
}

/// `incident 20261123-0009 is signed: close needs it resolved…; reopen it
/// first` → `事件 0009 当前已签收, 不允许此操作 (先重新打开)`: dutyd's
/// incident-state refusals, from the state they name.
fn state_refusal(message: &str, lang: Lang) -> Option<String> {
    let rest = message.strip_prefix("incident ")?;
    let (number, rest) = rest.split_once(" is ")?;
    let (state, detail) = rest.split_once(':').unwrap_or((rest, ""));
    let state = match state.trim() {
        "new" => T::StatusNew,
        "dispatched" => T::StatusDispatched,
        "signed" => T::StatusSigned,
        "on scene" => T::StatusOnScene,
        "resolved" => T::StatusResolved,
        "closed" => T::StatusClosed,
        "cancelled" => T::StatusCancelled,
        "merged" => T::StatusMerged,
        _ => return None,
    };
    let hint = if detail.contains("reopen it first") {
        format!(" ({})", T::HintReopen.get(lang))
    } else if detail.contains("take this call as a new one") {
        format!(" ({})", T::HintNewCall.get(lang))
    } else if let Some((_, into)) = detail.split_once("act on ") {
        let into = into.split_whitespace().next().unwrap_or_default();
        format!(
            " ({} {})",
            T::HintActOn.get(lang),
            into.rsplit('-').next().unwrap_or(into)
        )
    } else {
        String::new()
    };
    Some(format!(
        "{} {} {}{}, {}{hint}",
        T::IncidentWord.get(lang),
        number.rsplit('-').next().unwrap_or(number),
        T::Now.get(lang),
        state.get(lang),
        T::NotAllowed.get(lang)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::ErrorDetails;

    fn too_long() -> Status {
        let mut metadata = std::collections::HashMap::new();
        metadata.insert("field".to_owned(), "intake.summary".to_owned());
        metadata.insert("max".to_owned(), "2000".to_owned());
        metadata.insert("got".to_owned(), "3000".to_owned());
        Status::with_error_details(
            Code::InvalidArgument,
            "intake.summary: must be at most 2000 characters (got 3000)",
            ErrorDetails::with_error_info("FIELD_TOO_LONG", "dutyroom", metadata),
        )
    }

    #[test]
    fn a_field_refusal_is_said_in_the_consoles_language_with_its_field() {
        let zh = refusal(&too_long(), Lang::Zh);
        assert_eq!(zh.text, "摘要: 最多 2000 字 (现 3000)");
        assert_eq!(zh.field.as_deref(), Some("intake.summary"));
        let en = refusal(&too_long(), Lang::En);
        assert_eq!(
            en.text,
            "intake.summary: must be at most 2000 characters (got 3000)"
        );
    }

    #[test]
    fn a_state_refusal_is_said_from_the_state_it_names() {
        let status = Status::new(
            Code::FailedPrecondition,
            "incident 20261203-0009 is signed: close needs it resolved; reopen it first",
        );
        assert_eq!(
            refusal(&status, Lang::Zh).text,
            "事件 0009 当前已签收, 不允许此操作 (先重新打开)"
        );
        // A repeat call to an incident closed meanwhile: take it anew.
        let closed = Status::new(
            Code::FailedPrecondition,
            "incident 20261203-0008 is cancelled: a repeat call attaches only to an open \
             incident; take this call as a new one",
        );
        assert_eq!(
            refusal(&closed, Lang::Zh).text,
            "事件 0008 当前已撤销, 不允许此操作 (回车按新警情受理)"
        );
        let other = Status::new(Code::FailedPrecondition, "handover #3 can no longer change");
        assert_eq!(refusal(&other, Lang::Zh).text, "当前状态不允许此操作");
    }

    #[test]
    fn codes_without_a_reason_are_said_from_the_catalogue() {
        let text = refusal(
            &Status::new(Code::Unavailable, "writes are not durable right now"),
            Lang::Zh,
        )
        .text;
        assert!(
            !text
                .replace("dutyd", "")
                .chars()
                .any(|c| c.is_ascii_alphabetic()),
            "no English but the daemon's name: {text}"
        );
        let internal = refusal(
            &Status::new(
                Code::Internal,
                "internal error 3fa2c0de; the daemon log has the detail under this id",
            ),
            Lang::Zh,
        );
        assert!(internal.text.ends_with("3fa2c0de"), "{}", internal.text);
    }
}
