//! Chinese transcripts in simplified characters. The courts Gavel serves write their records
//! in simplified Chinese, but Whisper, trained on both scripts, often answers Mandarin in
//! traditional characters ("雙方當事人"); every `zh` line is converted with OpenCC's
//! traditional-to-simplified dictionaries (phrases first, then characters), which leave text
//! already simplified, Latin letters and digits as they are.

use std::sync::OnceLock;

use ferrous_opencc::OpenCC;
use ferrous_opencc::config::BuiltinConfig;

/// Whether transcripts in `language` (an ISO 639-1 code, as configured) are written in
/// simplified characters.
pub fn writes_simplified(language: &str) -> bool {
    language.eq_ignore_ascii_case("zh")
}

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
}
