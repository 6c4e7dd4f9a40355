//! Field validation shared by every input the server takes.
//!
//! Rules are deliberately simple and explicit: text is trimmed, must be non-empty, within a
//! character limit and free of control characters (which hide in logs and break rendering of
//! the written record). Errors name the field so the caller can fix exactly that.

/// What was wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// Blank after trimming.
    #[error("`{field}` must not be empty")]
    Empty {
        /// The field's wire name.
        field: &'static str,
    },
    /// More characters than allowed.
    #[error("`{field}` must be at most {max} characters")]
    TooLong {
        /// The field's wire name.
        field: &'static str,
        /// The limit, in characters.
        max: usize,
    },
    /// Contains control characters (newlines, NUL, escapes).
    #[error("`{field}` must not contain control characters")]
    ControlCharacters {
        /// The field's wire name.
        field: &'static str,
    },
    /// Outside the accepted form or range.
    #[error("`{field}` {expected}")]
    Invalid {
        /// The field's wire name.
        field: &'static str,
        /// What was expected, phrased to follow the field name.
        expected: &'static str,
    },
}

impl FieldError {
    /// The wire name of the offending field.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Empty { field }
            | Self::TooLong { field, .. }
            | Self::ControlCharacters { field }
            | Self::Invalid { field, .. } => field,
        }
    }
}

/// A required single-line text field: trimmed, non-empty, at most `max` characters.
pub fn text(field: &'static str, value: &str, max: usize) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(FieldError::Empty { field });
    }
    if v.chars().count() > max {
        return Err(FieldError::TooLong { field, max });
    }
    if v.chars().any(char::is_control) {
        return Err(FieldError::ControlCharacters { field });
    }
    Ok(v.to_owned())
}

/// A required text of paragraphs (an agreement's terms): trimmed, non-empty, at most `max`
/// characters, line ends made `\n`. Tabs and newlines are its only control characters, and
/// it may not carry the invisible marks that reorder how text is shown (bidirectional
/// overrides and isolates): what a signer reads on screen must be what the bytes say.
pub fn paragraphs(field: &'static str, value: &str, max: usize) -> Result<String, FieldError> {
    let v = value.trim().replace("\r\n", "\n");
    if v.is_empty() {
        return Err(FieldError::Empty { field });
    }
    if v.chars().count() > max {
        return Err(FieldError::TooLong { field, max });
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(FieldError::ControlCharacters { field });
    }
    if v.chars()
        .any(|c| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
    {
        return Err(FieldError::Invalid {
            field,
            expected: "must not contain marks that reorder the text as shown (bidirectional overrides)",
        });
    }
    Ok(v)
}

/// An optional single-line text field; `None` and blank both mean absent.
pub fn optional_text(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    match value {
        Some(v) if !v.trim().is_empty() => text(field, v, max).map(Some),
        _ => Ok(None),
    }
}

/// Whether `code` names a language Whisper transcribes (ISO 639-1, lower case: `en`, `zh`,
/// ...; `haw` and `yue` have three letters). Checked before whisper.cpp's table sees it, which
/// cannot take a NUL.
pub fn is_language(code: &str) -> bool {
    (2..=3).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_lowercase())
        && whisper_rs::get_lang_id(code).is_some()
}

/// An optional language field ([`is_language`]); `None` and blank both mean absent.
pub fn optional_language(
    field: &'static str,
    value: Option<&str>,
) -> Result<Option<String>, FieldError> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => {
            if is_language(v) {
                Ok(Some(v.to_owned()))
            } else {
                Err(FieldError::Invalid {
                    field,
                    expected: "must be a language code Whisper knows, lower case (en, zh, ...)",
                })
            }
        }
        _ => Ok(None),
    }
}

/// An integer within `min..=max`.
pub fn in_range(
    field: &'static str,
    value: i64,
    min: i64,
    max: i64,
    expected: &'static str,
) -> Result<i64, FieldError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(FieldError::Invalid { field, expected })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_keep_their_lines_and_refuse_hidden_reordering() {
        assert_eq!(
            paragraphs("text", "  1. Pay.\r\n2. Withdraw.\t(a)\n", 100).unwrap(),
            "1. Pay.\n2. Withdraw.\t(a)"
        );
        assert!(matches!(
            paragraphs("text", " \n ", 100),
            Err(FieldError::Empty { .. })
        ));
        assert!(matches!(
            paragraphs("text", "a\u{0}b", 100),
            Err(FieldError::ControlCharacters { .. })
        ));
        assert!(matches!(
            paragraphs("text", "pay 1\u{202e}000", 100),
            Err(FieldError::Invalid { .. })
        ));
        assert!(matches!(
            paragraphs("text", &"款".repeat(101), 100),
            Err(FieldError::TooLong { .. })
        ));
        assert!(paragraphs("text", &"款".repeat(100), 100).is_ok());
    }

    #[test]
    fn languages_are_whispers_codes_and_nothing_else() {
        for ok in ["en", "zh", "de", "yue", "haw"] {
            assert!(is_language(ok), "{ok}");
        }
        for bad in ["", "EN", "zz", "chinese", "z\0", "中文", "e"] {
            assert!(!is_language(bad), "{bad:?}");
        }
        assert_eq!(
            optional_language("language", Some(" zh ")),
            Ok(Some("zh".into()))
        );
        assert_eq!(optional_language("language", Some("")), Ok(None));
        assert_eq!(optional_language("language", None), Ok(None));
        assert!(optional_language("language", Some("xx")).is_err());
    }

    #[test]
    fn text_is_trimmed_and_bounded_in_characters_not_bytes() {
        assert_eq!(text("t", "  a b ", 3).unwrap(), "a b");
        assert_eq!(
            text("t", "（2024）京0105民初1号", 20)
                .unwrap()
                .chars()
                .count(),
            15
        );
        assert_eq!(
            text("t", "abcd", 3),
            Err(FieldError::TooLong { field: "t", max: 3 })
        );
    }

    #[test]
    fn blank_and_control_characters_are_refused_with_the_field_name() {
        assert_eq!(
            text("title", "   ", 9),
            Err(FieldError::Empty { field: "title" })
        );
        let e = text("title", "a\u{0}b", 9).unwrap_err();
        assert_eq!(e.to_string(), "`title` must not contain control characters");
        assert!(text("title", "a\nb", 9).is_err());
    }

    #[test]
    fn optional_text_treats_blank_as_absent() {
        assert_eq!(optional_text("c", Some("  "), 5), Ok(None));
        assert_eq!(optional_text("c", None, 5), Ok(None));
        assert_eq!(optional_text("c", Some(" x "), 5), Ok(Some("x".into())));
    }
}
