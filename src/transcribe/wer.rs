//! Word error rate: the edit distance between the reference's words and the transcript's,
//! over the reference's length. Words are compared as ASR benchmarks compare them: without
//! case or punctuation, and with numbers spelt out (a transcript is not wrong for writing
//! "Court." as "court", or "ten thousand dollars" as "$10,000").

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// `n` in English words ("twenty one", "ten thousand").
fn spell(n: u64) -> Vec<String> {
    const SCALES: [(u64, &str); 4] = [
        (1_000_000_000, "billion"),
        (1_000_000, "million"),
        (1000, "thousand"),
        (100, "hundred"),
    ];
    for (unit, name) in SCALES {
        if n >= unit {
            let (count, rest) = (n / unit, n % unit);
            let mut out = spell(count);
            out.push(name.into());
            if rest != 0 {
                out.extend(spell(rest));
            }
            return out;
        }
    }
    let (tens, ones) = (n / 10, n % 10);
    if n < 20 {
        return vec![ONES[n as usize].into()];
    }
    let mut out = vec![TENS[tens as usize].to_owned()];
    if ones != 0 {
        out.push(ONES[ones as usize].into());
    }
    out
}

/// Lower-case words with punctuation removed (apostrophes kept) and numbers spelt out:
/// `$10,000` is "ten thousand dollars", `9` is "nine", `25%` is "twenty five percent".
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in text.split_whitespace() {
        let digits: String = w.chars().filter(char::is_ascii_digit).collect();
        let numeric = !digits.is_empty()
            && w.trim_matches(|c: char| c.is_ascii_punctuation() && c != '$' && c != '%')
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '$' | ',' | '%'));
        if numeric && let Ok(n) = digits.parse::<u64>() {
            out.extend(spell(n));
            if w.contains('$') {
                out.push("dollars".into());
            }
            if w.contains('%') {
                out.push("percent".into());
            }
            continue;
        }
        let word: String = w
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == '\'')
            .flat_map(char::to_lowercase)
            .collect();
        if !word.is_empty() {
            out.push(word);
        }
    }
    out
}

/// The characters of `text` a character error rate compares: letters and digits (Chinese
/// characters among them), lower-cased; punctuation and spaces are not counted, as they are
/// not for languages written without spaces between words.
pub fn characters(text: &str) -> Vec<String> {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .map(String::from)
        .collect()
}

/// Whether `language` (ISO 639-1) is written without spaces between words, so that errors are
/// counted per character rather than per word.
pub fn counted_by_character(language: &str) -> bool {
    matches!(
        language.to_ascii_lowercase().as_str(),
        "zh" | "ja" | "th" | "lo" | "my" | "km" | "yue"
    )
}

/// The units errors are counted in for `language`: characters where words are not spaced,
/// words (numbers spelt out) elsewhere.
pub fn units(language: &str, text: &str) -> Vec<String> {
    if counted_by_character(language) {
        characters(text)
    } else {
        words(text)
    }
}

/// Character error rate of `hypothesis` against `reference` (0 when both are empty).
pub fn cer(reference: &str, hypothesis: &str) -> f64 {
    rate(&characters(reference), &characters(hypothesis))
}

/// Substitutions, deletions and insertions needed to turn `reference` into `hypothesis`.
pub fn edits(reference: &[String], hypothesis: &[String]) -> usize {
    let mut prev: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut row = vec![i + 1; hypothesis.len() + 1];
        for (j, h) in hypothesis.iter().enumerate() {
            let sub = prev[j] + usize::from(r != h);
            row[j + 1] = sub.min(prev[j + 1] + 1).min(row[j] + 1);
        }
        prev = row;
    }
    prev[hypothesis.len()]
}

/// Word error rate of `hypothesis` against `reference` (0 when both are empty).
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    rate(&words(reference), &words(hypothesis))
}

/// The error rate in `language`'s units ([`units`]): a CER for Chinese, a WER for English.
pub fn error_rate(language: &str, reference: &str, hypothesis: &str) -> f64 {
    rate(&units(language, reference), &units(language, hypothesis))
}

fn rate(r: &[String], h: &[String]) -> f64 {
    if r.is_empty() {
        return if h.is_empty() { 0.0 } else { 1.0 };
    }
    edits(r, h) as f64 / r.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_counted_per_word_ignoring_case_and_punctuation() {
        assert_eq!(
            wer("The court is in session.", "the court is in session"),
            0.0
        );
        assert_eq!(wer("the court is in session", "the court is session"), 0.2);
        assert_eq!(
            wer("the court is in session", "a court is in the session"),
            0.4
        );
        assert_eq!(wer("", ""), 0.0);
        assert_eq!(wer("", "noise"), 1.0);
        assert_eq!(wer("all rise", ""), 1.0);
    }

    #[test]
    fn numbers_count_as_the_words_they_stand_for() {
        assert_eq!(wer("ten thousand dollars", "$10,000."), 0.0);
        assert_eq!(wer("until nine o'clock", "until 9 o'clock"), 0.0);
        assert_eq!(
            words("1,234,567"),
            words("one million two hundred thirty four thousand five hundred sixty seven")
        );
        assert_eq!(
            words("25% of 100"),
            ["twenty", "five", "percent", "of", "one", "hundred"]
        );
        assert_eq!(words("3rd"), ["3rd"], "not a plain number: kept as written");
    }

    #[test]
    fn chinese_errors_are_counted_per_character_without_punctuation() {
        assert_eq!(cer("现在开庭。", "现在开庭"), 0.0);
        assert_eq!(
            cer("双方当事人是否申请回避？", "双方当时人是否申请回避。"),
            1.0 / 11.0
        );
        assert_eq!(cer("休庭", "修停"), 1.0);
        assert_eq!(cer("本案择期宣判", "本案 择期 宣判 ，"), 0.0);
        assert_eq!(
            error_rate("zh", "下面进行法庭调查", "下面进行法停调查"),
            0.125
        );
        assert_eq!(error_rate("en", "all rise", "all rise."), 0.0);
        assert!(counted_by_character("ZH") && !counted_by_character("en"));
    }
}
