//! Finding the SMTP reply inside whatever a person pastes: a bare reply, a DSN
//! `Diagnostic-Code:` field, a line of a Postfix, Exim, Sendmail or qmail bounce, an
//! Exchange NDR, a flattened log line with its continuation prefixes inline.
//!
//! The text is read as one run of words (line breaks are spaces, as logs flatten them).
//! Every reply code and enhanced status code in it is located; the one that carries the
//! failure (a negative code, with an enhanced code beside it if possible) is the reply,
//! the others are kept as context.

use serde::Serialize;

use super::{EnhancedClass, EnhancedCode, Reply, ReplyCode, Stage, split_enhanced};

/// A reply found in a pasted text, with what surrounded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Extracted {
    /// The reply that carries the failure; without codes when the text has none.
    pub reply: Reply,
    /// The other codes the text holds, as written (`220`, `354`, `5.1.0`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<String>,
    /// The command the reply answered, when the text says (`in reply to RCPT TO command`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Stage>,
    /// The whole text, one line, with e-mail addresses and the paths of URLs left out:
    /// what the words of a cause are looked for in.
    #[serde(skip)]
    pub words: String,
}

impl Extracted {
    /// A reply read off the wire, taken as if it had been pasted, so that the probe and
    /// `explain` read the same words in it and give it the same cause.
    #[must_use]
    pub fn from_reply(reply: Reply, command: Option<Stage>) -> Extracted {
        let words = words_of(&reply.signature_subject());
        Extracted {
            reply,
            context: Vec::new(),
            command,
            words,
        }
    }

    /// Whether the text held a reply code or an enhanced status code.
    #[must_use]
    pub fn has_code(&self) -> bool {
        self.reply.code.is_some() || self.reply.enhanced.is_some()
    }
}

/// Reads a pasted text. `None` only for a text with no words at all.
#[must_use]
pub fn extract(input: &str) -> Option<Extracted> {
    let stripped = strip_field_name(input);
    let text = flatten(stripped);
    if text.is_empty() {
        return None;
    }
    let bytes = text.as_bytes();
    let enhanced = enhanced_codes(bytes);
    let basic = basic_codes(bytes, &enhanced);
    let command = command_of(&text);
    let words = words_of(&text);

    if let Some(reply) = multi_line_reply(stripped) {
        let context = other_codes(&basic, &enhanced, &reply, None);
        return Some(Extracted {
            reply,
            context,
            command,
            words,
        });
    }

    let chosen = basic
        .iter()
        .enumerate()
        .max_by_key(|(i, c)| (c.rank(), std::cmp::Reverse(*i)))
        .map(|(_, c)| *c);
    // `used`: where the chosen reply stands in the text.
    let (reply, used) = match chosen {
        Some(primary) => {
            let (lines, end) = reply_lines(&text, &basic, primary);
            let paired =
                primary.paired.or_else(|| {
                    // `501 ... RCPT TO not accepted: 5.7.1 ...`: an enhanced code of the same
                    // class elsewhere in the text still belongs to the reply.
                    best_enhanced(enhanced.iter().filter(|e| {
                        e.code.class.map(EnhancedClass::digit) == Some(primary.class())
                    }))
                });
            let reply = Reply {
                code: Some(primary.code),
                enhanced: paired.map(|e| e.code),
                lines,
            };
            (reply, Some((primary.at, end)))
        }
        None => {
            let reply = Reply {
                code: None,
                enhanced: best_enhanced(enhanced.iter()).map(|e| e.code),
                lines: vec![text.clone()],
            };
            (reply, None)
        }
    };

    let context = other_codes(&basic, &enhanced, &reply, used);
    Some(Extracted {
        reply,
        context,
        command,
        words,
    })
}

/// The codes of the text other than the reply's own, each once, in order; `span` is where
/// the reply stands in the text (its continuation codes are not context).
fn other_codes(
    basic: &[BasicAt],
    enhanced: &[EnhancedAt],
    reply: &Reply,
    span: Option<(usize, usize)>,
) -> Vec<String> {
    let mut context: Vec<String> = Vec::new();
    let shown_code = reply.code.map(|c| c.to_string());
    let shown_enhanced = reply.enhanced.map(|e| e.to_string());
    let codes = basic
        .iter()
        .filter(|b| !span.is_some_and(|(start, end)| b.at >= start && b.at < end))
        .map(|b| b.code.to_string())
        .filter(|c| Some(c) != shown_code.as_ref())
        .chain(
            enhanced
                .iter()
                .map(|e| e.code.to_string())
                .filter(|c| Some(c) != shown_enhanced.as_ref()),
        );
    for code in codes {
        if !context.contains(&code) {
            context.push(code);
        }
    }
    context
}

/// A reply pasted as it came off the wire, several lines that start with the same code
/// (`550-...`, `550 ...`), wrapped lines included. Read line by line, so that a code
/// quoted inside a line (Exim's `550-Response: 550 5.1.1 ...`) stays part of its line.
fn multi_line_reply(text: &str) -> Option<Reply> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let (code, first) = line_code(lines.first()?)?;
    let same = lines
        .iter()
        .filter(|l| line_code(l).is_some_and(|(c, _)| c == code))
        .count();
    if same < 2 {
        return None;
    }
    let mut reply_lines = vec![first.to_string()];
    for line in &lines[1..] {
        match line_code(line) {
            Some((other, rest)) if other == code => reply_lines.push(rest.to_string()),
            Some(_) => break,
            // A bounce wraps long replies; the wrapped part belongs to the line before.
            None => {
                let last = reply_lines.last_mut().expect("the first line is there");
                last.push(' ');
                last.push_str(line);
            }
        }
    }
    let enhanced = split_enhanced(&reply_lines[0]).0;
    Some(Reply {
        code: Some(code),
        enhanced,
        lines: reply_lines,
    })
}

/// `421-text`, `421 text` or a bare `421` at the start of a line.
fn line_code(line: &str) -> Option<(ReplyCode, &str)> {
    let code = ReplyCode::parse(line.get(..3)?)?;
    let rest = &line[3..];
    if rest.is_empty() {
        return Some((code, ""));
    }
    Some((code, rest.strip_prefix([' ', '-'])?))
}

/// Removes a leading `Diagnostic-Code:` field name and its type (`smtp;`, `X-Postfix;`).
fn strip_field_name(input: &str) -> &str {
    const FIELD: &str = "diagnostic-code:";
    let mut text = input.trim_start();
    // `get`, not slicing: the text may start with a multi-byte character.
    if text
        .get(..FIELD.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(FIELD))
    {
        text = text[FIELD.len()..].trim_start();
    }
    // The type names the kind of diagnostic (RFC 3464 §2.3.6): an atom, then `;`.
    if let Some(semicolon) = text.find(';') {
        let kind = &text[..semicolon];
        if !kind.is_empty()
            && kind.len() <= 20
            && kind
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !kind.bytes().all(|b| b.is_ascii_digit())
        {
            text = text[semicolon + 1..].trim_start();
        }
    }
    text
}

/// One line, runs of white space made one space.
fn flatten(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EnhancedAt {
    at: usize,
    end: usize,
    code: EnhancedCode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BasicAt {
    at: usize,
    code: ReplyCode,
    /// The enhanced code written right after it (`550 5.1.1`, `550-'5.2.2`).
    paired: Option<EnhancedAt>,
    /// Written where a reply starts: the start of the text, or after `:`, `<<<`, ...
    placed: bool,
}

impl BasicAt {
    fn class(&self) -> u8 {
        self.code.class().digit()
    }

    /// How surely this is the reply that carries the failure.
    fn rank(&self) -> u8 {
        let negative = self.class() >= 4;
        match (negative, self.paired.is_some()) {
            (true, true) => 3,
            (true, false) => 2,
            (false, _) => 1,
        }
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Every `d.d.d` enhanced code that stands on its own (not inside an address or version).
fn enhanced_codes(bytes: &[u8]) -> Vec<EnhancedAt> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = matches!(bytes[i], b'2' | b'4' | b'5')
            && (i == 0 || !(is_word_byte(bytes[i - 1]) || bytes[i - 1] == b'.'));
        if starts {
            let mut end = i + 1;
            let mut parts = 0;
            while parts < 2 && end < bytes.len() && bytes[end] == b'.' {
                let digits = bytes[end + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if digits == 0 || digits > 3 {
                    break;
                }
                end += 1 + digits;
                parts += 1;
            }
            let free_after = end >= bytes.len()
                || !(is_word_byte(bytes[end])
                    || (bytes[end] == b'.' && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)));
            if parts == 2 && free_after {
                if let Some(code) = std::str::from_utf8(&bytes[i..end])
                    .ok()
                    .and_then(EnhancedCode::parse)
                {
                    found.push(EnhancedAt { at: i, end, code });
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    found
}

/// Words after which a bare number is a reply code (`Remote host said 550 ...`).
const CODE_LEADS: &[&str] = &[
    "said", "returned", "was", "of", "error", "code", "reply", "replied", "response", "answered",
    "failure", "status", "with",
];

/// Every three-digit reply code that stands where a reply would.
fn basic_codes(bytes: &[u8], enhanced: &[EnhancedAt]) -> Vec<BasicAt> {
    let mut found = Vec::new();
    for i in 0..bytes.len().saturating_sub(2) {
        if !(b'2'..=b'5').contains(&bytes[i])
            || !bytes[i + 1].is_ascii_digit()
            || !bytes[i + 2].is_ascii_digit()
        {
            continue;
        }
        let before = i.checked_sub(1).map(|p| bytes[p]);
        if before.is_some_and(|b| {
            is_word_byte(b) || matches!(b, b'.' | b'[' | b'/' | b'-' | b'+' | b'?' | b'&' | b'%')
        }) {
            continue;
        }
        let after = bytes.get(i + 3).copied();
        let separated = match after {
            None | Some(b' ' | b'-' | b',' | b'\'' | b'"' | b')' | b';') => true,
            // `550: 5.2.2`, but not `2001:db8:450::1`.
            Some(b':') => bytes.get(i + 4).is_none_or(|b| *b == b' ' || *b == b'\''),
            _ => false,
        };
        if !separated {
            continue;
        }
        // A dash followed by a digit is a range or a date (`2024-06`), unless an enhanced
        // code follows (`550-5.1.1`).
        let Some(code) = std::str::from_utf8(&bytes[i..i + 3])
            .ok()
            .and_then(ReplyCode::parse)
        else {
            continue;
        };
        let paired = pair(bytes, i + 3, enhanced);
        if after == Some(b'-')
            && paired.is_none()
            && bytes.get(i + 4).is_some_and(u8::is_ascii_digit)
        {
            continue;
        }
        let placed = i == 0 || placed_as_reply(&bytes[..i]);
        let candidate = BasicAt {
            at: i,
            code,
            paired,
            placed,
        };
        // A positive code counts only where a reply starts or with its enhanced code; a
        // negative one also after the words that introduce a reply.
        let keep = if candidate.class() >= 4 {
            paired.is_some() || placed
        } else {
            placed && (i == 0 || paired.is_some())
        };
        if keep {
            found.push(candidate);
        }
    }
    found
}

/// The enhanced code written right after a basic code, across a separator such as ` `,
/// `-`, `: `, ` #`, `-'` or ` '`.
fn pair(bytes: &[u8], from: usize, enhanced: &[EnhancedAt]) -> Option<EnhancedAt> {
    let gap = bytes[from..]
        .iter()
        .take(4)
        .take_while(|b| matches!(b, b' ' | b'-' | b':' | b'#' | b'\'' | b'"' | b'('))
        .count();
    // `enhanced` is in text order: a binary search keeps long texts linear.
    enhanced
        .binary_search_by_key(&(from + gap), |e| e.at)
        .ok()
        .map(|i| enhanced[i])
}

/// Whether the text before a number ends the way text before a reply does.
fn placed_as_reply(before: &[u8]) -> bool {
    let trimmed = before.trim_ascii_end();
    let Some(&last) = trimmed.last() else {
        return true;
    };
    if matches!(last, b':' | b';' | b'\'' | b'"' | b'=' | b'<' | b'>' | b'(') {
        return true;
    }
    let word_start = trimmed
        .iter()
        .rposition(|b| !b.is_ascii_alphabetic())
        .map_or(0, |p| p + 1);
    let word = &trimmed[word_start..];
    CODE_LEADS
        .iter()
        .any(|lead| word.eq_ignore_ascii_case(lead.as_bytes()))
}

/// The most telling enhanced code: a negative class first, then a non-zero detail, then
/// the first written.
fn best_enhanced<'a>(codes: impl Iterator<Item = &'a EnhancedAt>) -> Option<EnhancedAt> {
    codes
        .enumerate()
        .max_by_key(|(i, e)| {
            let negative = e.code.class.is_some_and(|c| c != EnhancedClass::Success);
            (
                negative,
                e.code.detail != 0 || e.code.subject == 0,
                std::cmp::Reverse(*i),
            )
        })
        .map(|(_, e)| *e)
}

/// The lines of the chosen reply: from its code to the next reply with another code,
/// split where the same code starts a continuation line (`550-5.7.1 ... 550 5.7.1 ...`).
/// Returns the lines and where the reply ends in the text.
fn reply_lines(text: &str, basic: &[BasicAt], primary: BasicAt) -> (Vec<String>, usize) {
    let end = basic
        .iter()
        .filter(|b| b.at > primary.at && b.code != primary.code && b.rank() >= 2)
        .map(|b| b.at)
        .next()
        .unwrap_or(text.len());
    let starts: Vec<usize> = basic
        .iter()
        .filter(|b| b.at >= primary.at && b.at < end && b.code == primary.code)
        .map(|b| b.at)
        .collect();
    let mut lines = Vec::new();
    for (n, start) in starts.iter().enumerate() {
        let stop = starts.get(n + 1).copied().unwrap_or(end);
        let line = &text[start + 3..stop];
        let line = line
            .strip_prefix([' ', '-', ':'])
            .unwrap_or(line)
            .trim_start_matches([' ', ':', '\''])
            .trim_end();
        let line = strip_reply_suffix(line);
        if !line.is_empty() || lines.is_empty() {
            lines.push(line.to_string());
        }
    }
    (lines, end)
}

/// Drops what the sending MTA wrote after the reply: Postfix's `(in reply to ... command)`
/// and the closing quote of Exchange's `Remote Server returned '...'`.
fn strip_reply_suffix(line: &str) -> &str {
    let lower = line.to_ascii_lowercase();
    let cut = lower.rfind("(in reply to ").unwrap_or(line.len());
    line[..cut].trim_end().trim_end_matches('\'').trim_end()
}

/// What MTAs write around a reply to say which command it answered.
const COMMAND_PHRASES: &[(&str, Stage)] = &[
    ("in reply to end of data", Stage::EndOfData),
    ("after end of data", Stage::EndOfData),
    ("in reply to data command", Stage::Data),
    ("after data", Stage::Data),
    ("for text command", Stage::EndOfData),
    ("body of message generated response", Stage::EndOfData),
    ("in reply to rcpt to", Stage::RcptTo),
    ("after rcpt to", Stage::RcptTo),
    ("did not like our rcpt to", Stage::RcptTo),
    ("does not like recipient", Stage::RcptTo),
    ("smtp:rcpt", Stage::RcptTo),
    ("in reply to mail from", Stage::MailFrom),
    ("after mail from", Stage::MailFrom),
    ("did not like our mail from", Stage::MailFrom),
    ("does not like sender", Stage::MailFrom),
    ("in reply to ehlo", Stage::Ehlo),
    ("in reply to helo", Stage::Ehlo),
    ("after ehlo", Stage::Ehlo),
    ("after helo", Stage::Ehlo),
    ("after initial connection", Stage::Greeting),
    ("refused to talk to me", Stage::Greeting),
    ("while talking to", Stage::Any),
];

/// The command a reply answered, from the words MTAs put around it.
fn command_of(text: &str) -> Option<Stage> {
    let lower = text.to_ascii_lowercase();
    COMMAND_PHRASES
        .iter()
        .filter_map(|(phrase, stage)| lower.find(phrase).map(|at| (at, *stage)))
        .min_by_key(|(at, _)| *at)
        .map(|(_, stage)| stage)
        .filter(|stage| *stage != Stage::Any)
}

/// `mx.example.com[192.0.2.1]`, `mx.example.com[192.0.2.1]:25`: a host name with its
/// address in brackets, as Postfix writes it.
fn is_host_and_address(word: &str) -> bool {
    let Some((name, rest)) = word.split_once('[') else {
        return false;
    };
    name.contains('.')
        && !name.contains(['/', '@'])
        && rest
            .split(']')
            .next()
            .is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok())
}

/// The text with e-mail addresses replaced by `<>` and URLs cut to their host, so that
/// the words of an address (`userunknown@`) or of a link (`/reason/#norelaying`) never
/// decide a cause.
fn words_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut previous = "";
    for (n, word) in text.split(' ').enumerate() {
        if n > 0 {
            out.push(' ');
        }
        let lower = word.to_ascii_lowercase();
        let after_host = previous.eq_ignore_ascii_case("host");
        previous = word;
        // The MTA's name for a server (`host mx.spam.example[192.0.2.1] said:`,
        // `relay=...`) says nothing about why it refused: `spam` in a host name is not
        // spam content.
        if (after_host && word.contains('.'))
            || lower.starts_with("relay=")
            || is_host_and_address(word)
        {
            out.push_str("<host>");
            continue;
        }
        if let Some(scheme) = ["https://", "http://"]
            .iter()
            .find_map(|s| lower.find(s).map(|at| (at, s.len())))
        {
            let (at, len) = scheme;
            let host_end = word[at + len..]
                .find(['/', '?', '#', ']', ')', '>', '\''])
                .map_or(word.len(), |p| at + len + p);
            out.push_str(&word[..host_end]);
            continue;
        }
        match word.find('@') {
            Some(at) if at > 0 || word.len() > 1 => {
                // Keep the punctuation around the address, drop the address itself.
                let start = word[..at]
                    .rfind(['<', '(', '[', '\'', '"', ':', '='])
                    .map_or(0, |p| p + 1);
                let end = word[at..]
                    .find(['>', ')', ']', '\'', '"', ','])
                    .map_or(word.len(), |p| at + p);
                out.push_str(&word[..start]);
                out.push_str("<>");
                out.push_str(&word[end..]);
            }
            _ => out.push_str(word),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> (Option<u16>, Option<String>) {
        let found = extract(text).unwrap();
        (
            found.reply.code.map(ReplyCode::value),
            found.reply.enhanced.map(|e| e.to_string()),
        )
    }

    #[test]
    fn diagnostic_code_field_and_type() {
        assert_eq!(
            codes("Diagnostic-Code: smtp; 550 5.1.1 <a@example.com>: User unknown"),
            (Some(550), Some("5.1.1".into()))
        );
        assert_eq!(codes("smtp; 550 Unknown user"), (Some(550), None));
        assert_eq!(codes("X-Postfix; host not found"), (None, None));
    }

    #[test]
    fn negative_code_wins_over_greeting_and_data_prompt() {
        let found = extract("220-laposte 421 4.2.1 Service refuse").unwrap();
        assert_eq!(found.reply.code.map(ReplyCode::value), Some(421));
        assert_eq!(found.context, vec!["220".to_string()]);
        assert_eq!(
            codes("354 End data with <CR><LF>.<CR><LF> 451 4.3.0 Error: queue file write error"),
            (Some(451), Some("4.3.0".into()))
        );
    }

    #[test]
    fn numbers_in_prose_addresses_and_dates_are_not_codes() {
        for text in [
            "we sent 250 messages on 2026-11-25",
            "connect to [2001:db8:450::1]:25: Connection timed out",
            "host 192.0.2.250 timed out",
            "see https://example.com/550/help",
            "OFR_416 [416]",
        ] {
            let found = extract(text).unwrap();
            assert_eq!(found.reply.code, None, "{text}");
        }
    }

    #[test]
    fn enhanced_code_beside_the_code_or_elsewhere() {
        assert_eq!(
            codes("5.1.0 - Unknown address error 550-'5.2.2 <a@example.jp>... Mailbox Full'"),
            (Some(550), Some("5.2.2".into()))
        );
        assert_eq!(
            codes("Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1"),
            (Some(550), Some("5.1.1".into()))
        );
        assert_eq!(
            codes("said: 501 Rcpt-To validation failed: 5.7.1 not configured to relay"),
            (Some(501), Some("5.7.1".into()))
        );
        assert_eq!(
            codes("Sorry, no mailbox here by that name. (#5.1.1)"),
            (None, Some("5.1.1".into()))
        );
    }

    #[test]
    fn text_that_starts_with_a_multi_byte_character() {
        let found = extract("このメールは配信できませんでした。550 5.1.1 User unknown").unwrap();
        assert_eq!(found.reply.code.map(ReplyCode::value), Some(550));
        assert!(extract("ééééééééééééééééé").is_some());
    }

    #[test]
    fn inline_continuations_become_lines() {
        let found =
            extract("550-5.7.1 first part 550-5.7.1 second part 550 5.7.1 last part").unwrap();
        assert_eq!(found.reply.lines.len(), 3);
        assert_eq!(found.reply.text(), "first part second part last part");
    }

    #[test]
    fn command_and_addresses() {
        let found = extract(
            "host mx.example.com[192.0.2.1] said: 550 5.1.1 <userunknown@example.com>: Recipient address rejected (in reply to RCPT TO command)",
        )
        .unwrap();
        assert_eq!(found.command, Some(Stage::RcptTo));
        assert!(!found.words.contains("userunknown"));
        assert_eq!(
            found.reply.lines,
            vec!["5.1.1 <userunknown@example.com>: Recipient address rejected".to_string()]
        );
        let hosts = extract(
            "host mx.spam.example.com[192.0.2.1] said: 550 5.1.1 User unknown (in reply to RCPT TO command)",
        )
        .unwrap();
        assert!(!hosts.words.contains("spam"), "{}", hosts.words);
        let link = extract("550 see https://example.org/en/reason/#norelaying now").unwrap();
        assert_eq!(link.words, "550 see https://example.org now");
    }
}
