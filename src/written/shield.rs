//! Shielding sensitive personal information in a public copy of the record (Art. 36): PRC
//! resident ID numbers (their check digit and birth date must hold), mobile and landline
//! numbers, bank card numbers (the Luhn check must hold) and e-mail addresses, plus any
//! patterns the court configures. Validation is what keeps a case number, an amount or a
//! date that merely looks like such a number readable.
//!
//! Pure: text in, masked text out.

use regex::Regex;

/// What a shield masks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShieldConfig {
    /// PRC resident ID numbers.
    pub id_numbers: bool,
    /// Mainland mobile and landline numbers.
    pub phone_numbers: bool,
    /// Bank card numbers.
    pub card_numbers: bool,
    /// E-mail addresses.
    pub emails: bool,
    /// The court's own patterns (e.g. licence plates), each masked with its label.
    pub patterns: Vec<PatternConfig>,
}

impl Default for ShieldConfig {
    fn default() -> Self {
        Self {
            id_numbers: true,
            phone_numbers: true,
            card_numbers: true,
            emails: true,
            patterns: Vec::new(),
        }
    }
}

/// One configured pattern.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PatternConfig {
    /// What it is, shown in place of what it matched ("[licence plate]").
    pub label: String,
    /// A regular expression (Rust `regex` syntax: linear time, whatever the input).
    pub regex: String,
}

/// A configured pattern that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("shielding pattern {label:?}: {reason}")]
pub struct PatternError {
    label: String,
    reason: String,
}

/// Longest configured pattern, and the compiled size allowed (a pattern is configuration,
/// but it still must not exhaust the server).
const MAX_PATTERN: usize = 1_000;
const MAX_COMPILED: usize = 1 << 20;

/// What a rule's matches are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Text (an address, a configured pattern): the match as found.
    Text,
    /// A number of fixed form: it counts only standing alone (no digit right before or
    /// after it; part of a longer number is not one).
    Number,
    /// A number in digit groups whose check decides its length (a card): standing alone, and
    /// a match failing its check is tried again without trailing groups (a card followed by
    /// "3 times" is still a card).
    Groups,
}

/// A rule: what it finds, how a match is checked, its label (and the label a line written in
/// Chinese takes, for the built-in rules; a court's own pattern keeps the label it was given).
struct Rule {
    re: Regex,
    valid: fn(&str) -> bool,
    label: String,
    label_zh: Option<String>,
    shape: Shape,
}

/// Whether `text` is written in Chinese (holds a Chinese character): its masks then read as
/// Chinese ("[身份证号]"), as the rest of a Chinese court's record does.
fn in_chinese(text: &str) -> bool {
    text.chars()
        .any(|c| matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}'))
}

/// Masks text.
pub struct Shield {
    rules: Vec<Rule>,
}

impl std::fmt::Debug for Shield {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shield")
            .field("rules", &self.rules.len())
            .finish()
    }
}

fn always(_: &str) -> bool {
    true
}

fn built_in(re: &str) -> Regex {
    Regex::new(re).expect("built-in patterns compile")
}

impl Shield {
    /// Builds the shield `config` asks for.
    pub fn new(config: &ShieldConfig) -> Result<Self, PatternError> {
        let mut rules = Vec::new();
        let mut add = |on: bool, re: &str, valid: fn(&str) -> bool, labels: [&str; 2], shape| {
            if on {
                rules.push(Rule {
                    re: built_in(re),
                    valid,
                    label: format!("[{}]", labels[0]),
                    label_zh: Some(format!("[{}]", labels[1])),
                    shape,
                });
            }
        };
        // Addresses first (they may hold digits), then the longest numbers, so a card never
        // leaves part of itself to look like a phone number.
        add(
            config.emails,
            r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
            always,
            ["e-mail", "电子邮箱"],
            Shape::Text,
        );
        add(
            config.id_numbers,
            r"[0-9]{6}[ ]?[0-9]{8}[ ]?[0-9]{3}[0-9Xx]",
            valid_id,
            ["ID number", "身份证号"],
            Shape::Number,
        );
        add(
            config.card_numbers,
            r"[0-9]{4}(?:[ -][0-9]{4}){2,3}(?:[ -][0-9]{1,3})?|[0-9]{13,19}",
            valid_card,
            ["card number", "银行卡号"],
            Shape::Groups,
        );
        add(
            config.phone_numbers,
            r"(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}|0[0-9]{2,3}[ -][0-9]{7,8}",
            always,
            ["phone number", "电话号码"],
            Shape::Number,
        );
        for p in &config.patterns {
            let err = |reason: String| PatternError {
                label: p.label.clone(),
                reason,
            };
            if p.regex.len() > MAX_PATTERN || p.label.trim().is_empty() {
                return Err(err(format!(
                    "a pattern needs a label and at most {MAX_PATTERN} characters"
                )));
            }
            let re = regex::RegexBuilder::new(&p.regex)
                .size_limit(MAX_COMPILED)
                .build()
                .map_err(|e| err(e.to_string()))?;
            if re.is_match("") {
                return Err(err("it matches empty text".into()));
            }
            rules.push(Rule {
                re,
                valid: always,
                label: format!("[{}]", p.label.trim()),
                label_zh: None,
                shape: Shape::Text,
            });
        }
        Ok(Self { rules })
    }

    /// `text` with every valid match masked, each mask named in the line's language (Chinese
    /// or English). Full-width digits (as Chinese input methods type them) are read as the
    /// digits they are, and appear so in the copy.
    pub fn mask(&self, text: &str) -> String {
        let chinese = in_chinese(text);
        let mut text: String = text.chars().map(half_width).collect();
        for rule in &self.rules {
            let label = match &rule.label_zh {
                Some(zh) if chinese => zh,
                _ => &rule.label,
            };
            let mut out = String::with_capacity(text.len());
            let (mut last, mut pos) = (0, 0);
            // Searched from where the last mask ended, or from just after where a rejected
            // match began: a rejected or shortened match never hides the number after it.
            while let Some(m) = rule.re.find_at(&text, pos) {
                let end = match rule.shape {
                    _ if m.is_empty() => None,
                    Shape::Text => Some(m.end()),
                    shape => number_end(&text, m.start(), m.end(), rule.valid, shape),
                };
                match end {
                    Some(end) => {
                        out.push_str(&text[last..m.start()]);
                        out.push_str(label);
                        (last, pos) = (end, end);
                    }
                    None => {
                        let step = text[m.start()..].chars().next().map_or(1, char::len_utf8);
                        pos = m.start() + step;
                    }
                }
                if pos > text.len() {
                    break;
                }
            }
            out.push_str(&text[last..]);
            text = out;
        }
        text
    }
}

/// Where the valid number matched at `start..end` ends: the whole match, or (for digit
/// groups) the longest shorter one ending at a digit; it must stand alone.
fn number_end(
    text: &str,
    start: usize,
    end: usize,
    valid: fn(&str) -> bool,
    shape: Shape,
) -> Option<usize> {
    let digit_at = |i: usize| text.as_bytes().get(i).is_some_and(u8::is_ascii_digit);
    if start > 0 && digit_at(start - 1) {
        return None;
    }
    let shortest = if shape == Shape::Groups {
        start + 1
    } else {
        end
    };
    (shortest..=end)
        .rev()
        .filter(|&e| digit_at(e - 1) || text.as_bytes()[e - 1].eq_ignore_ascii_case(&b'x'))
        .find(|&e| !digit_at(e) && valid(&text[start..e]))
}

/// Full-width digits, plus, minus and the ID check letter, as their ASCII selves.
fn half_width(c: char) -> char {
    match c {
        '\u{FF10}'..='\u{FF19}' | '\u{FF0B}' | '\u{FF0D}' | '\u{FF38}' | '\u{FF58}' => {
            char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
        }
        _ => c,
    }
}

fn digits(s: &str) -> Vec<u32> {
    s.chars().filter_map(|c| c.to_digit(10)).collect()
}

/// A PRC resident ID (GB 11643): 17 digits, then the ISO 7064 MOD 11-2 check character; the
/// digits 7 to 14 are a real birth date.
fn valid_id(s: &str) -> bool {
    let chars: Vec<char> = s.chars().filter(|c| *c != ' ').collect();
    if chars.len() != 18 {
        return false;
    }
    let d = digits(&chars[..17].iter().collect::<String>());
    if d.len() != 17 {
        return false;
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = d.iter().zip(WEIGHTS).map(|(a, w)| a * w).sum();
    let check = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize];
    let num = |r: std::ops::Range<usize>| d[r].iter().fold(0, |acc, x| acc * 10 + x);
    let (year, month, day) = (num(6..10), num(10..12), num(12..14));
    chars[17].to_ascii_uppercase() == check
        && (1900..=2100).contains(&year)
        && (1..=12).contains(&month)
        && (1..=days_in(year, month)).contains(&day)
}

fn days_in(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A bank card number: 13 to 19 digits passing the Luhn check.
fn valid_card(s: &str) -> bool {
    let d = digits(s);
    if !(13..=19).contains(&d.len()) {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| match (i % 2, x * 2) {
            (1, y) if y > 9 => y - 9,
            (1, y) => y,
            _ => x,
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shield() -> Shield {
        Shield::new(&ShieldConfig::default()).unwrap()
    }

    #[test]
    fn valid_numbers_and_addresses_are_masked() {
        let s = shield();
        // GB 11643's example ID, and one ending in X.
        assert_eq!(
            s.mask("My ID is 11010519491231002X, sir."),
            "My ID is [ID number], sir."
        );
        assert_eq!(s.mask("ID 110101199003074477."), "ID [ID number].");
        assert_eq!(
            s.mask("card 6222 0200 0000 0000 000 or 4111111111111111"),
            "card [card number] or [card number]"
        );
        assert_eq!(
            s.mask("call 138 0013 8000, +86 139-1234-5678 or 010-62345678"),
            "call [phone number], [phone number] or [phone number]"
        );
        assert_eq!(
            s.mask("write to zhang.san+court@example.com.cn today"),
            "write to [e-mail] today"
        );
        // An address holding a phone number is masked whole.
        assert_eq!(s.mask("zhang.13800138000@x.com"), "[e-mail]");
        // A card followed by other numbers, two cards in a row, and numbers typed in full
        // width.
        assert_eq!(
            s.mask("4111111111111111 3 times, 4111111111111111 2026"),
            "[card number] 3 times, [card number] 2026"
        );
        assert_eq!(
            s.mask("4111 1111 1111 1111 4111 1111 1111 1111"),
            "[card number] [card number]"
        );
        assert_eq!(
            s.mask("身份证号１１０１０５１９４９１２３１００２Ｘ，电话１３８００１３８０００。"),
            "身份证号[身份证号]，电话[电话号码]。"
        );
    }

    #[test]
    fn invalid_look_alikes_stay_readable() {
        let s = shield();
        for text in [
            // Wrong check digit; an impossible birth date (30 February) with a right one.
            "110105194912310021",
            "11010119900230447X",
            // Not Luhn-valid.
            "6222 0200 0000 0000 007",
            "4111111111111112",
            // Not a mobile prefix; part of a longer number; too short.
            "12800138000",
            "9913800138000",
            "1380013800",
            // A phone number is never cut out of a longer one.
            "+86 138001380001",
            "010-123456789",
            // Amounts, dates, case numbers.
            "(2026) Jing 0105 Min Chu 12345",
            "paid 15000 yuan on 2026-11-29",
            "no at sign.example.com",
        ] {
            assert_eq!(s.mask(text), text, "{text}");
        }
    }

    #[test]
    fn configured_patterns_and_switches_apply_and_bad_patterns_are_refused() {
        let config = ShieldConfig {
            phone_numbers: false,
            patterns: vec![PatternConfig {
                label: "licence plate".into(),
                regex: r"京[A-Z][A-Z0-9]{5}".into(),
            }],
            ..ShieldConfig::default()
        };
        let s = Shield::new(&config).unwrap();
        assert_eq!(
            s.mask("plate 京A12345, phone 13800138000"),
            "plate [licence plate], phone 13800138000"
        );
        // A pattern that matches empty text somewhere adds nothing there.
        let boundary = ShieldConfig {
            patterns: vec![PatternConfig {
                label: "word".into(),
                regex: r"\bx\b|\b".into(),
            }],
            ..ShieldConfig::default()
        };
        assert_eq!(Shield::new(&boundary).unwrap().mask("a x b"), "a [word] b");
        for regex in ["(", "a*", &"a".repeat(MAX_PATTERN + 1)] {
            let bad = ShieldConfig {
                patterns: vec![PatternConfig {
                    label: "x".into(),
                    regex: regex.to_owned(),
                }],
                ..ShieldConfig::default()
            };
            assert!(Shield::new(&bad).is_err(), "{regex}");
        }
    }
}
