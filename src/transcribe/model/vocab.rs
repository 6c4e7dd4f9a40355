//! Whisper's vocabulary for the ggml file: the ordinary tokens (ids below end-of-text) as raw
//! bytes. CTranslate2's `vocabulary.txt` holds them in GPT-2's byte-level form, where each byte
//! is shown as a printable character; this undoes that mapping. The special and timestamp
//! tokens are not written: whisper.cpp knows them by their fixed ids.

use std::collections::HashMap;

use super::ModelError;

/// GPT-2's `bytes_to_unicode`, inverted: printable character to the byte it stands for.
fn unicode_to_byte() -> HashMap<char, u8> {
    let mut printable: Vec<u32> = (u32::from('!')..=u32::from('~'))
        .chain(u32::from('¡')..=u32::from('¬'))
        .chain(u32::from('®')..=u32::from('ÿ'))
        .collect();
    let mut chars = printable.clone();
    let mut extra = 0;
    for b in 0..256u32 {
        if !printable.contains(&b) {
            printable.push(b);
            chars.push(256 + extra);
            extra += 1;
        }
    }
    printable
        .into_iter()
        .zip(chars)
        .filter_map(|(b, c)| Some((char::from_u32(c)?, u8::try_from(b).ok()?)))
        .collect()
}

/// The ordinary tokens of `vocabulary` (one token per line, line `i` = id `i`), ids `0` to
/// `eot - 1`, as bytes. Empty lines are real tokens (the multilingual vocabulary has one).
pub fn ordinary_tokens(vocabulary: &str, eot: usize) -> Result<Vec<Vec<u8>>, ModelError> {
    let map = unicode_to_byte();
    let lines: Vec<&str> = vocabulary.split('\n').collect();
    if lines.len() < eot {
        return Err(ModelError::Format(
            "the vocabulary is shorter than the model's",
        ));
    }
    lines[..eot]
        .iter()
        .map(|l| {
            l.trim_end_matches('\r')
                .chars()
                .map(|c| map.get(&c).copied())
                .collect::<Option<Vec<u8>>>()
                .ok_or(ModelError::Format(
                    "a token is not in GPT-2's byte encoding",
                ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_tokens_become_their_bytes() {
        // "Ġthe" is " the"; "Ċ" is a newline; "Ã©" is the two UTF-8 bytes of "é".
        let vocab = "!\nĠthe\nĊ\nÃ©\n\n<|endoftext|>";
        let t = ordinary_tokens(vocab, 5).unwrap();
        assert_eq!(t[0], b"!");
        assert_eq!(t[1], b" the");
        assert_eq!(t[2], b"\n");
        assert_eq!(t[3], "é".as_bytes());
        assert_eq!(t[4], b"", "an empty line is a real (empty) token");
        assert!(ordinary_tokens(vocab, 9).is_err(), "too short");
        assert!(ordinary_tokens("ok\n中", 2).is_err(), "not byte-level");
    }
}
