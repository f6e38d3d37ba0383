//! The marks a validating proxy puts on a message, `Subject: validated <uri>` and the
//! `Sipsec-Verdict` header: finding and removing them, and proving on the way out of a tool
//! that no line a downstream parser could read as a mark is there but the ones allowed.

use crate::message::{unfold, HeaderField, HeaderKind, LineEnding, Message};

/// The header that carries the verdict to the terminal.
pub const VERDICT_HEADER: &str = "Sipsec-Verdict";

/// A Subject that reads as a mark: `validated …` in any case, after white space.
fn is_mark_subject(value: &[u8]) -> bool {
    let v = unfold(value);
    let v = v.trim_ascii_start();
    v.len() >= 9 && v[..9].eq_ignore_ascii_case(b"validated")
}

/// Whether a header field is a mark: a `Subject: validated …` or a `Sipsec-Verdict`.
pub fn is_mark(m: &Message, f: &HeaderField) -> bool {
    match f.kind {
        HeaderKind::Subject => is_mark_subject(m.field_value(f)),
        // Sipsec-Verdict is no header the parser knows by name.
        HeaderKind::Other => m
            .field_name(f)
            .eq_ignore_ascii_case(VERDICT_HEADER.as_bytes()),
        _ => false,
    }
}

fn line_text(m: &Message, f: &HeaderField) -> String {
    String::from_utf8_lossy(m.field_line(f))
        .trim_end()
        .to_string()
}

/// The lines of the message's marks, in order.
pub fn mark_lines(m: &Message) -> Vec<String> {
    m.fields()
        .iter()
        .filter(|f| is_mark(m, f))
        .map(|f| line_text(m, f))
        .collect()
}

/// What a control header carries to vouch for a message's marks: SHA-256 over their lines.
pub fn digest(lines: &[String]) -> String {
    let digest = openssl::hash::hash(
        openssl::hash::MessageDigest::sha256(),
        lines.join("\n").as_bytes(),
    )
    .expect("SHA-256");
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Removes every mark field; returns the removed lines.
pub fn strip_marks(m: &mut Message) -> Vec<String> {
    let mut removed = Vec::new();
    let mut i = m.fields().len();
    while i > 0 {
        i -= 1;
        let f = m.fields()[i];
        if is_mark(m, &f) {
            removed.push(line_text(m, &f));
            m.remove_field(i);
        }
    }
    removed.reverse();
    removed
}

/// Looks at the header section byte by byte, splitting at every CR and every LF (as the most
/// lenient parser downstream would), for a line that looks like a mark and is not one of
/// `own`. Returns the first such line: a mark smuggled past the parser (a bare LF inside
/// another header's value, a folded continuation).
pub fn foreign_mark(m: &Message, own: &[String]) -> Option<String> {
    if index_is_the_line_split(m) {
        foreign_mark_by_index(m, own)
    } else {
        foreign_mark_by_bytes(m, own)
    }
}

/// The same lines the byte loop finds, without searching for them.
fn foreign_mark_by_index(m: &Message, own: &[String]) -> Option<String> {
    let mut judge = MarkJudge { own, own_seen: 0 };
    if let Some(line) = judge.foreign(m.start_line_bytes()) {
        return Some(line);
    }
    m.fields()
        .iter()
        .find_map(|f| judge.foreign(m.field_line(f)))
}

fn foreign_mark_by_bytes(m: &Message, own: &[String]) -> Option<String> {
    let mut judge = MarkJudge { own, own_seen: 0 };
    let head = m.head();
    let mut start = 0;
    let mut breaks = memchr::memchr2_iter(b'\r', b'\n', head);
    std::iter::from_fn(|| {
        (start < head.len()).then(|| {
            let end = breaks.next().unwrap_or(head.len());
            let line = &head[start..end];
            start = end + 1;
            line
        })
    })
    .find_map(|line| judge.foreign(line))
}

/// True when the index's lines are provably what splitting the head at every CR and LF gives:
/// CRLF line ends, the start line and the fields laid end to end up to the empty line, and no
/// CR or LF in the head besides their line ends (counted, so nothing hides inside a value).
fn index_is_the_line_split(m: &Message) -> bool {
    if m.line_ending() != LineEnding::CrLf {
        return false;
    }
    let head = m.head();
    let mut at = m.start_line_bytes().len();
    if !head.starts_with(m.start_line_bytes()) || head.get(at..at + 2) != Some(b"\r\n") {
        return false;
    }
    at += 2;
    for f in m.fields() {
        let line = f.line.range();
        if line.start != at || !head[..line.end].ends_with(b"\r\n") {
            return false;
        }
        at = line.end;
    }
    let lines = m.fields().len() + 2;
    head.len() == at + 2 && head.ends_with(b"\r\n") && count_line_breaks(head) == 2 * lines
}

/// The CR and LF bytes in `bytes`, counted in chunks small enough for a byte-wide counter, which
/// the compiler turns into vector compares (a usize counter per byte was four times slower).
/// 192 bytes, a multiple of the unrolled vector loop's 64: with 255 every chunk ended in a
/// byte-by-byte tail, a quarter of the count on a message's head.
fn count_line_breaks(bytes: &[u8]) -> usize {
    bytes
        .chunks(192)
        .map(|chunk| {
            let n = chunk
                .iter()
                .fold(0u8, |n, &b| n + u8::from(b == b'\r' || b == b'\n'));
            usize::from(n)
        })
        .sum()
}

/// Puts on one line every folded field whose continuation lines a parser that does not know
/// folding would read as a mark (`X-Note: a` then ` Subject: validated <sip:…>`). A fold is white
/// space (RFC 3261 §7.3.1): the value means the same on one line, and no line of it is a mark
/// any more. A field that cannot be unfolded (a line break that is no fold, which the parser
/// never lets through) is removed. Returns how many fields were unfolded or removed.
pub fn unfold_hidden_marks(m: &mut Message) -> usize {
    let mut changed = 0;
    let mut i = 0;
    while let Some(&f) = m.fields().get(i) {
        let value = m.field_value(&f);
        let hides = memchr::memchr2(b'\r', b'\n', value).is_some() && {
            let mut judge = MarkJudge {
                own: &[],
                own_seen: 0,
            };
            value
                .split(|&b| b == b'\r' || b == b'\n')
                .skip(1)
                .any(|line| judge.foreign(line).is_some())
        };
        if !hides {
            i += 1;
            continue;
        }
        changed += 1;
        let unfolded = crate::message::unfold_checked(value).map(|v| v.into_owned());
        match unfolded.map(|v| m.set_field_value(i, &v)) {
            Ok(Ok(())) => i += 1,
            _ => m.remove_field(i),
        }
    }
    changed
}

/// Judges one line at a time; each of `own` excuses one line only.
struct MarkJudge<'a> {
    own: &'a [String],
    /// A bit per own mark (no allocation: this runs for every message the verifier forwards).
    own_seen: u64,
}

impl MarkJudge<'_> {
    fn foreign(&mut self, line: &[u8]) -> Option<String> {
        let line = line.trim_ascii();
        // Only the names `Subject`, `s` and `Sipsec-Verdict` can make a mark.
        if !matches!(line.first(), Some(b's' | b'S')) {
            return None;
        }
        // Our own line first: it is on every message, and one comparison spares reading its
        // name. Taking the excuse before asking whether the line looks like a mark changes
        // nothing: every line equal to an own line gets the same answer to that question.
        let mine = self
            .own
            .iter()
            .enumerate()
            .take(64)
            .find(|(i, o)| self.own_seen & (1 << i) == 0 && o.as_bytes() == line);
        if let Some((i, _)) = mine {
            self.own_seen |= 1 << i;
            return None;
        }
        let colon = line.iter().position(|&b| b == b':')?;
        let name = line[..colon].trim_ascii();
        let looks = ((name.eq_ignore_ascii_case(b"subject") || name.eq_ignore_ascii_case(b"s"))
            && is_mark_subject(&line[colon + 1..]))
            || name.eq_ignore_ascii_case(VERDICT_HEADER.as_bytes());
        looks.then(|| String::from_utf8_lossy(line).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(head: &str) -> Message {
        Message::parse(format!(
            "MESSAGE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
             From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c\r\n\
             CSeq: 1 MESSAGE\r\n{head}Content-Length: 0\r\n\r\n"
        ))
        .unwrap()
    }

    #[test]
    fn marks_hidden_in_folded_fields_are_put_on_one_line() {
        let hidden = "X-Note: a\r\n Subject: validated <sip:bank@example.com>\r\n\
                      X-Other: b\r\n\tSipsec-Verdict: signed=yes\r\n\
                      X-Folded: just\r\n folded\r\nSubject: lunch?\r\n";
        let mut msg = m(hidden);
        assert!(foreign_mark(&msg, &[]).is_some());
        let before = msg.as_bytes().to_vec();
        assert_eq!(unfold_hidden_marks(&mut msg), 2);
        assert_eq!(foreign_mark(&msg, &[]), None);
        // Only the two fields that hid a mark change, each put on one line.
        let expected = String::from_utf8(before)
            .unwrap()
            .replace("a\r\n Subject", "a Subject")
            .replace("b\r\n\tSipsec", "b Sipsec");
        assert_eq!(String::from_utf8_lossy(msg.as_bytes()), expected);
        // Nothing hidden: nothing changes.
        let mut plain = m("X-Folded: just\r\n folded\r\n");
        let bytes = plain.as_bytes().to_vec();
        assert_eq!(unfold_hidden_marks(&mut plain), 0);
        assert_eq!(plain.as_bytes(), &bytes[..]);
    }

    #[test]
    fn incoming_marks_are_removed_and_reported() {
        let mut msg = m(
            "Subject: validated <sip:ceo@example.com>\r\nSipsec-Verdict: signed=yes\r\n\
            Subject: lunch\r\n",
        );
        let removed = strip_marks(&mut msg);
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert_eq!(msg.value(HeaderKind::Subject), Some(&b"lunch"[..]));
        assert!(foreign_mark(&msg, &[]).is_none());
    }

    #[test]
    fn both_ways_of_finding_lines_judge_alike() {
        let own = [
            "Subject: validated <sip:a@example.com>".to_string(),
            "Sipsec-Verdict: signed=no".to_string(),
        ];
        for head in [
            "Subject: lunch\r\n",
            "Subject: validated <sip:a@example.com>\r\nSipsec-Verdict: signed=no\r\n",
            "Subject: validated <sip:a@example.com>\r\nSubject: validated <sip:a@example.com>\r\n",
            "s: validated <sip:b@example.com>\r\n",
            "SIPSEC-VERDICT: signed=yes\r\n",
            "Supported: timer\r\nSubject: Validated\r\n",
        ] {
            let msg = m(head);
            assert!(index_is_the_line_split(&msg), "{head:?}");
            for own in [&own[..], &[]] {
                assert_eq!(
                    foreign_mark_by_index(&msg, own),
                    foreign_mark_by_bytes(&msg, own),
                    "{head:?}"
                );
            }
        }
    }

    #[test]
    fn the_index_stands_for_the_byte_split_only_when_it_provably_is_the_same() {
        assert!(index_is_the_line_split(&m("Subject: lunch\r\n")));
        let folded = m("X-A: x\r\n s: validated <sip:ceo@example.com>\r\n");
        assert!(!index_is_the_line_split(&folded));
        let lf = Message::parse(&b"MESSAGE sip:b@example.com SIP/2.0\nContent-Length: 0\n\n"[..]);
        assert!(!index_is_the_line_split(&lf.unwrap()));
    }

    #[test]
    fn line_breaks_are_counted_across_chunk_boundaries() {
        // Breaks on and beside every chunk boundary, at lengths around multiples of the chunk.
        for len in (0..600).step_by(7).chain([191, 192, 193, 383, 384, 385]) {
            let bytes: Vec<u8> = (0..len)
                .map(|i| match i % 5 {
                    0 => b'\r',
                    3 => b'\n',
                    _ if i % 192 == 191 => b'\n',
                    _ => b'x',
                })
                .collect();
            let naive = bytes.iter().filter(|&&b| b == b'\r' || b == b'\n').count();
            assert_eq!(count_line_breaks(&bytes), naive, "{len}");
        }
    }

    #[test]
    fn a_mark_smuggled_by_a_bare_lf_or_folding_is_found() {
        // A bare LF or CR never gets this far: the message parser refuses it as injection.
        for head in [
            "X-A: x\nSubject: validated <sip:ceo@example.com>\r\n",
            "X-A: x\rSipsec-Verdict: signed=yes\r\n",
        ] {
            let text =
                format!("MESSAGE sip:b@example.com SIP/2.0\r\n{head}Content-Length: 0\r\n\r\n");
            assert!(Message::parse(text.into_bytes()).is_err(), "{head:?}");
        }
        // A folded continuation is one value to us and a new line to a lenient parser.
        for head in [
            "X-A: x\r\n s: validated <sip:ceo@example.com>\r\n",
            "X-A: x\r\n\tSipsec-Verdict: signed=yes\r\n",
            "X-A: x\r\n SUBJECT : Validated <sip:ceo@example.com>\r\n",
            "X-A: x\r\n S:validated\r\n",
        ] {
            let msg = m(head);
            assert!(foreign_mark(&msg, &[]).is_some(), "{head:?}");
        }
        let own = "Subject: validated <sip:a@example.com>".to_string();
        let msg = m("Subject: validated <sip:a@example.com>\r\n");
        assert!(foreign_mark(&msg, std::slice::from_ref(&own)).is_none());
        let twice = m("Subject: validated <sip:a@example.com>\r\nX: y\r\n Subject: validated <sip:a@example.com>\r\n");
        assert!(foreign_mark(&twice, &[own]).is_some());
        // Own lines are excused before their names are read: one that is no mark excuses
        // nothing else, and a verdict among them still counts once only.
        let own = [
            "Subject: hello".to_string(),
            "Sipsec-Verdict: signed=no".to_string(),
        ];
        let msg = m("Subject: hello\r\nSubject: hello\r\nSipsec-Verdict: signed=no\r\n");
        assert!(foreign_mark(&msg, &own).is_none());
        let msg = m("Subject: hello\r\nSipsec-Verdict: signed=no\r\nSipsec-Verdict: signed=no\r\n");
        assert_eq!(
            foreign_mark(&msg, &own).as_deref(),
            Some("Sipsec-Verdict: signed=no")
        );
    }
}
