//! Word error rate: the edit distance between the reference's words and the transcript's,
//! over the reference's length. Words are compared case-insensitively without punctuation, as
//! ASR benchmarks do (a transcript is not wrong for writing "Court." as "court").

/// Lower-case words with punctuation removed (apostrophes and digits kept).
pub fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect()
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
    let (r, h) = (words(reference), words(hypothesis));
    if r.is_empty() {
        return if h.is_empty() { 0.0 } else { 1.0 };
    }
    edits(&r, &h) as f64 / r.len() as f64
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
}
