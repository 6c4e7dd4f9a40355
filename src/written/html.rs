//! The readable rendering of a finalised transcript: one self-contained HTML page (no
//! scripts, no outside resources) with the hearing, every line with its speaker and time, the
//! signers' decisions and the document's SHA-256, so a printed copy can be matched to the
//! signed file. The public copy passes every line through a [`Shield`].
//!
//! Pure: document in, page out.

use gavel_recordings::written::{Decision, Document, Signature};

use super::shield::Shield;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `HH:MM:SS` (UTC) of a Unix-ms time: the hearing clock as the page shows it.
fn clock(ms: i64) -> String {
    crate::clock::rfc3339(ms)[11..19].to_owned()
}

/// `YYYY-MM-DD` (UTC) of a Unix-ms time.
fn date(ms: i64) -> String {
    crate::clock::rfc3339(ms)[..10].to_owned()
}

/// The page for `doc` (hashing to `sha256`) with the `decisions` made so far; with `shield`,
/// the public copy.
pub fn render(
    doc: &Document,
    sha256: &str,
    decisions: &[Signature],
    shield: Option<&Shield>,
) -> String {
    let text = |s: &str| escape(&shield.map_or_else(|| s.to_owned(), |sh| sh.mask(s)));
    let h = &doc.hearing;
    let mut p = String::new();
    p.push_str("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    p.push_str(&format!("<title>Transcript: {}</title>", escape(&h.title)));
    p.push_str(
        "<style>body{font-family:serif;max-width:50em;margin:2em auto;line-height:1.5}\
         td{vertical-align:top;padding:.2em .6em}.t{white-space:nowrap;color:#555}\
         .gap{color:#900;font-style:italic}.edited{color:#555;font-size:.8em}\
         code{word-break:break-all}</style></head><body>\n",
    );
    p.push_str(&format!(
        "<h1>Written record</h1>\n<p>{} · case {} · {} ({})</p>\n",
        escape(&h.court),
        escape(&h.case_number),
        escape(&h.title),
        escape(&h.kind)
    ));
    p.push_str(&format!(
        "<p>Finalised {} {} UTC by {} ({}) at transcript revision {}.{}</p>\n<table>\n",
        date(doc.finalised_at_ms),
        clock(doc.finalised_at_ms),
        escape(&doc.finalised_by.name),
        escape(&doc.finalised_by.role),
        doc.revision,
        if shield.is_some() {
            " Public copy: sensitive personal information is shielded."
        } else {
            ""
        }
    ));
    for l in &doc.lines {
        let said = match &l.gap {
            Some(why) if l.text.is_empty() => {
                format!(
                    "<span class=\"gap\">[not transcribed: {}]</span>",
                    escape(why)
                )
            }
            _ => text(&l.text),
        };
        p.push_str(&format!(
            "<tr id=\"l-{}\"><td class=\"t\">{}</td><td><b>{}</b> ({})</td><td>{}{}</td></tr>\n",
            escape(&l.id),
            clock(l.start_ms),
            escape(&l.speaker.name),
            escape(&l.speaker.role),
            said,
            if l.edited {
                " <span class=\"edited\">(corrected)</span>"
            } else {
                ""
            }
        ));
    }
    p.push_str("</table>\n<h2>Signatures</h2>\n<ul>\n");
    for s in &doc.signers {
        let d = decisions.iter().find(|d| d.signer == *s);
        let state = match d {
            Some(d) if d.decision == Decision::Signed => {
                format!("signed {} {} UTC", date(d.at_ms), clock(d.at_ms))
            }
            Some(d) => format!(
                "refused to sign {} {} UTC: {}",
                date(d.at_ms),
                clock(d.at_ms),
                text(d.reason.as_deref().unwrap_or(""))
            ),
            None => "not yet signed".to_owned(),
        };
        p.push_str(&format!(
            "<li>{} ({}): {state}</li>\n",
            escape(&s.name),
            escape(&s.role)
        ));
    }
    p.push_str(&format!(
        "</ul>\n<p>Document SHA-256: <code>{}</code>. Check the signed file with \
         <code>gavel verify transcript FILE</code>.</p>\n</body></html>\n",
        escape(sha256)
    ));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_are_utc_and_text_is_escaped() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_795_910_400_000), "2026-11-29");
        assert_eq!(date(951_782_400_000), "2000-02-29");
        assert_eq!(clock(1_795_910_400_000 + 3_723_000), "01:02:03");
        assert_eq!(
            escape("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
    }
}
