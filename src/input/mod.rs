//! Whole sources of replies: bounce messages and mail logs, read into replies with their
//! context (recipient, remote server, time) and classified like `smtpdiag explain` does.

pub mod bounce;
pub mod logs;

use serde::Serialize;

use crate::error::Error;
use crate::kb::{self, ExplainPage, Lang, Query};
use bounce::BounceReport;

/// Whether `bytes` are not text: NUL bytes, or mostly invalid UTF-8 (an image, an archive,
/// a compressed log given to `explain` by mistake).
fn looks_binary(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(8192)];
    if sample.contains(&0) {
        return true;
    }
    let text = String::from_utf8_lossy(sample);
    let replaced = text
        .chars()
        .filter(|c| *c == char::REPLACEMENT_CHARACTER)
        .count();
    replaced * 10 > text.chars().count().max(1)
}

/// A pasted reply, even a whole transcript, is a few kilobytes: past this, the text is
/// not a reply (a whole message may be larger; the caller bounds that).
pub const TEXT_LIMIT: usize = 1 << 20;

/// What `smtpdiag explain` made of one input: a reply (or a code), or a whole message.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Explained {
    Reply(Box<ExplainPage>),
    Message(Box<BounceReport>),
}

/// Explains the contents of a file or of standard input, told apart by what they hold: a
/// whole e-mail message (a bounce, a complaint, an auto-reply), or pasted text.
pub fn explain_contents(name: &str, bytes: &[u8], lang: Lang) -> Result<Explained, Error> {
    if bounce::looks_like_message(bytes) {
        return bounce::read_bounce(name, bytes, lang)
            .map(|report| Explained::Message(Box::new(report)))
            .map_err(Error::Bounce);
    }
    if looks_binary(bytes) {
        return Err(Error::BinaryInput(name.to_string()));
    }
    if bytes.len() > TEXT_LIMIT {
        return Err(Error::InputTooLarge {
            what: name.to_string(),
            limit: TEXT_LIMIT,
        });
    }
    let text = String::from_utf8_lossy(bytes);
    let query = Query::parse(&text)?;
    Ok(Explained::Reply(Box::new(kb::explain(&text, &query, lang))))
}
