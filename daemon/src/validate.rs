//! Input limits and checks shared by every service.
//!
//! Each check names the field as the client spells it and the limit, so a
//! bad request comes back as INVALID_ARGUMENT a person can act on.

use crate::error::{Error, Reason, Result};

/// Longest client request id.
pub const MAX_REQUEST_ID: usize = 128;
/// Longest id of a post, unit, place, person or category.
pub const MAX_ID: usize = 64;
/// Longest display name.
pub const MAX_NAME: usize = 100;
/// Longest phone number or contact line.
pub const MAX_PHONE: usize = 64;
/// Longest address.
pub const MAX_ADDRESS: usize = 300;
/// Longest incident summary.
pub const MAX_SUMMARY: usize = 2000;
/// Longest note, outcome or callback result.
pub const MAX_TEXT: usize = 4000;
/// Longest reason.
pub const MAX_REASON: usize = 1000;
/// Most tags, roles or categories in one list.
pub const MAX_LIST: usize = 32;
/// Longest tag or role label.
pub const MAX_LABEL: usize = 32;

/// `text` has at most `max` characters, and only characters a terminal
/// shows as text. Fields limited to [`MAX_NAME`] or less are names, labels,
/// contacts and ids: one line, no control characters at all and no bidi
/// controls (U+202A–U+202E, U+2066–U+2069, which reorder what an operator
/// reads). Longer fields are free text: newline and tab are allowed, other
/// control characters are not. The message names the field and the position,
/// never echoes the text.
pub fn max_len(field: &str, text: &str, max: usize) -> Result<()> {
    let count = text.chars().count();
    if count > max {
        return Err(Error::field(
            field,
            Reason::TooLong { max, got: count },
            format!("must be at most {max} characters (got {count})"),
        ));
    }
    if max <= MAX_NAME {
        name_chars(field, text)
    } else {
        text_chars(field, text)
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A one-line name: no control characters, no bidi controls.
pub fn name_chars(field: &str, text: &str) -> Result<()> {
    match text
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() || is_bidi_control(*c))
    {
        Some((at, c)) => Err(Error::field(
            field,
            Reason::ControlChars,
            format!(
                "must not contain control or bidi characters (U+{:04X} at character {})",
                c as u32,
                at + 1
            ),
        )),
        None => Ok(()),
    }
}

/// Free text: newline and tab allowed, other control characters not.
pub fn text_chars(field: &str, text: &str) -> Result<()> {
    match text
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        Some((at, c)) => Err(Error::field(
            field,
            Reason::ControlChars,
            format!(
                "must not contain control characters other than newline and tab (U+{:04X} at \
                 character {})",
                c as u32,
                at + 1
            ),
        )),
        None => Ok(()),
    }
}

/// `text` is not blank and has at most `max` characters.
pub fn required(field: &str, text: &str, max: usize) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::field(field, Reason::Required, "is required"));
    }
    max_len(field, text, max)
}

/// A stable id: 1–64 of `a-z 0-9 - _`, starting with a letter or digit.
pub fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_ID
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && text.as_bytes()[0].is_ascii_alphanumeric()
}

/// `text` is a valid id (see [`is_slug`]).
pub fn slug(field: &str, text: &str) -> Result<()> {
    if text.is_empty() {
        return Err(Error::field(field, Reason::Required, "is required"));
    }
    if !is_slug(text) {
        return Err(Error::field(
            field,
            Reason::BadId,
            format!(
                "{text:?} is not a valid id: use 1-{MAX_ID} lowercase letters, digits, '-' or '_'"
            ),
        ));
    }
    Ok(())
}

/// An optional client request id.
pub fn request_id(text: &str) -> Result<Option<String>> {
    if text.is_empty() {
        return Ok(None);
    }
    max_len("request_id", text, MAX_REQUEST_ID)?;
    if text.chars().any(char::is_control) {
        return Err(Error::invalid(
            "request_id",
            "must not contain control characters",
        ));
    }
    Ok(Some(text.to_owned()))
}

/// A phone number: digits with optional `+`, `-`, spaces and an extension.
pub fn phone(field: &str, text: &str) -> Result<()> {
    max_len(field, text, MAX_PHONE)?;
    if !text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')' | '#' | ','))
    {
        return Err(Error::invalid(
            field,
            format!("{text:?} is not a phone number (digits, '+', '-', spaces)"),
        ));
    }
    Ok(())
}

/// A list of short labels: at most [`MAX_LIST`], each 1..=[`MAX_LABEL`] chars.
pub fn labels(field: &str, values: &[String]) -> Result<()> {
    if values.len() > MAX_LIST {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_LIST} values (got {})", values.len()),
        ));
    }
    for (index, value) in values.iter().enumerate() {
        required(&format!("{field}[{index}]"), value, MAX_LABEL)?;
    }
    Ok(())
}

/// Removes surrounding blanks and drops duplicates, keeping first occurrences.
pub fn tidy_labels(values: &[String]) -> Vec<String> {
    let mut tidy: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let value = value.trim();
        if !tidy.iter().any(|kept| kept == value) {
            tidy.push(value.to_owned());
        }
    }
    tidy
}

#[cfg(test)]
mod tests {

    #[test]
    fn names_refuse_controls_and_bidi_free_text_allows_newline_and_tab() {
        assert!(max_len("post.name", "新华街道", MAX_NAME).is_ok());
        for bad in [
            "a\nb",
            "a\tb",
            "\x1b[2J",
            "x\u{9b}",
            "abc\u{202e}fed",
            "\u{2066}x",
        ] {
            let error = max_len("post.name", bad, MAX_NAME)
                .expect_err(bad)
                .to_string();
            assert!(error.contains("post.name"), "{error}");
        }
        assert!(max_len("text", "第一行\n\t第二行", MAX_TEXT).is_ok());
        for bad in ["a\rb", "\x1b]0;title\x07", "\x00", "\u{85}"] {
            let error = max_len("text", bad, MAX_TEXT).expect_err(bad).to_string();
            assert!(
                error.contains("text") && error.contains("newline and tab"),
                "{error}"
            );
        }
    }
    use super::*;

    #[test]
    fn limits_count_characters_not_bytes() {
        let chinese = "新".repeat(MAX_NAME);
        assert!(max_len("name", &chinese, MAX_NAME).is_ok());
        let error = max_len("name", &format!("{chinese}新"), MAX_NAME).expect_err("too long");
        assert_eq!(
            error.to_string(),
            "name: must be at most 100 characters (got 101)"
        );
    }

    #[test]
    fn slugs() {
        assert!(is_slug("xinhua"));
        assert!(is_slug("fire-1_a"));
        assert!(!is_slug("Xinhua"));
        assert!(!is_slug("-x"));
        assert!(!is_slug("新华"));
        assert!(!is_slug(""));
    }

    #[test]
    fn phones() {
        assert!(phone("p", "+86 138-0000-0000").is_ok());
        assert!(phone("p", "abc").is_err());
    }

    proptest::proptest! {
        /// No accepted name holds a control or bidi character; no accepted
        /// free text holds a control character but newline and tab.
        #[test]
        fn accepted_text_is_terminal_safe(text in "\\PC{0,20}[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{202a}-\\u{202e}\\u{2066}-\\u{2069}]?\\PC{0,20}") {
            if max_len("name", &text, MAX_NAME).is_ok() {
                proptest::prop_assert!(!text.chars().any(|c| c.is_control() || is_bidi_control(c)));
            }
            if max_len("text", &text, MAX_TEXT).is_ok() {
                proptest::prop_assert!(!text.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
            }
        }
    }
}
