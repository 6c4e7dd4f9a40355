//! Chinese transcripts in simplified characters. The courts Gavel serves write their records
//! in simplified Chinese, but Whisper, trained on both scripts, often answers Mandarin in
//! traditional characters ("雙方當事人"); every `zh` line is converted with OpenCC's
//! traditional-to-simplified dictionaries (phrases first, then characters), which leave text
//! already simplified, Latin letters and digits as they are, and punctuated as Chinese is
//! written ([`punctuated`]).

use std::sync::OnceLock;

use ferrous_opencc::OpenCC;
use ferrous_opencc::config::BuiltinConfig;

/// Whether transcripts in `language` (an ISO 639-1 code, as configured) are written in
/// simplified characters.
pub fn writes_simplified(language: &str) -> bool {
    language.eq_ignore_ascii_case("zh")
}

/// The prompt Whisper starts decoding `language` from when the court sets none: for `zh`, the
/// vocabulary of a court record (the roles and stages of a hearing), in **traditional**
/// characters. Measured with `gavel bench asr --language zh` and faster-whisper on three sets of
/// court sentences (issue 15's note): Whisper base writes Mandarin in traditional characters,
/// and a simplified prompt pulled it off its footing (more errors after conversion than with
/// no prompt), while this one, converted afterwards like all output, halved the errors on
/// sentences it was not chosen on (18.7 % to 8.8 %): homophones such as 休庭/修停 and
/// 法庭/法停 are told apart by the court's words.
pub fn prompt(language: &str) -> Option<&'static str> {
    writes_simplified(language).then_some(PROMPT)
}

const PROMPT: &str = "以下是法院的庭審筆錄：審判長、審判員、書記員、原告、被告、第三人、當事人、\
                      訴訟代理人、證人、法庭調查、法庭辯論、調解、休庭、閉庭、宣判、合議庭、迴避。";

/// `text` in simplified characters. The dictionaries are built into the binary; were they
/// ever unreadable, the text is kept as heard (and the failure logged once) rather than lost.
pub fn simplified(text: &str) -> String {
    static CONVERTER: OnceLock<Option<OpenCC>> = OnceLock::new();
    let converter = CONVERTER.get_or_init(|| match OpenCC::from_config(BuiltinConfig::T2s) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!(error = %e, "no traditional-to-simplified conversion");
            None
        }
    });
    match converter {
        Some(c) => c.convert(text),
        None => text.to_owned(),
    }
}

/// The characters of `text` written in traditional form: those OpenCC changes on their own
/// (what a reader of simplified Chinese would notice; `gavel bench asr` counts them).
pub fn traditional(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| is_han(c))
        .filter(|&c| {
            let one = c.to_string();
            simplified(&one) != one
        })
        .collect()
}

/// Chinese characters (the unified ideographs and their first extension).
fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

/// Chinese text punctuated as it is written: a comma, full stop, question or exclamation mark,
/// colon or semicolon after a Chinese character becomes its full-width form (，。？！：；), and
/// spaces after such a mark or between two Chinese characters go. Digits, decimal points,
/// addresses and Latin text are left alone (their marks follow no Chinese character).
pub fn punctuated(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let prev = out.chars().next_back();
        let after_han = prev.is_some_and(is_han);
        let full = match c {
            ',' => Some('，'),
            '.' => Some('。'),
            '?' => Some('？'),
            '!' => Some('！'),
            ':' => Some('：'),
            ';' => Some('；'),
            _ => None,
        };
        match full {
            Some(f) if after_han => out.push(f),
            _ if c == ' ' => {
                let next = chars[i + 1..].iter().find(|n| **n != ' ').copied();
                let after_mark = prev.is_some_and(|p| "，。？！：；".contains(p));
                let between_han = after_han && next.is_some_and(is_han);
                if !(after_mark || between_han) {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traditional_output_becomes_simplified_and_the_rest_is_kept() {
        // What Whisper base wrote for "双方当事人是否申请回避" (issue 15), one word misheard.
        assert_eq!(
            simplified("雙方當時人是否申請迴避"),
            "双方当时人是否申请回避"
        );
        assert_eq!(simplified("本庭現在開庭。"), "本庭现在开庭。");
        for kept in [
            "双方当事人是否申请回避？",
            "身份证号110101199003074477，电话13800138000。",
            "The court is now in session.",
        ] {
            assert_eq!(simplified(kept), kept);
        }
        assert!(writes_simplified("zh") && !writes_simplified("en"));
    }

    #[test]
    fn traditional_characters_are_found_and_simplified_ones_are_not() {
        assert_eq!(
            traditional("雙方當時人是否申請迴避"),
            ['雙', '當', '時', '請', '迴']
        );
        assert!(traditional("双方当事人是否申请回避？ Zhang 3").is_empty());
    }

    #[test]
    fn chinese_sentences_take_full_width_marks_and_lose_spaces_between_words() {
        assert_eq!(
            punctuated("现在开庭, 请坐. 双方 当事人是否申请回避?"),
            "现在开庭，请坐。双方当事人是否申请回避？"
        );
        assert_eq!(
            punctuated("原告:张三; 被告:李四!"),
            "原告：张三；被告：李四！"
        );
        for kept in [
            "赔偿3.5万元",
            "邮箱 zhang.san@example.com 已收到",
            "The court is now in session, sit down.",
            "已经写好，。",
        ] {
            assert_eq!(punctuated(kept), kept);
        }
    }
}
