//! Tool errors: what stops smtpdiag from doing what was asked. A negative SMTP reply is not
//! one of them: that is the probe working, and it goes into the report.

use std::io;

use crate::exit::ExitStatus;

/// Shows at most this many characters of a user's input in an error message.
const QUOTE_LIMIT: usize = 80;

/// Something smtpdiag cannot do, with the context a user needs to put it right.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument that should be a reply code is not one.
    #[error("{} is not a reply code: give a basic code such as 421 or an enhanced status code such as 5.7.26", quote(.0))]
    NotACode(String),
    /// An argument to `explain` is neither a code nor a reply.
    #[error("{} is not an SMTP reply: give a code (421, 5.7.26) or a reply as the server sent it, e.g. \"550 5.1.1 User unknown\"", quote(.0))]
    NotAReply(String),
    /// Standard input could not be read.
    #[error("cannot read standard input: {0}")]
    Stdin(#[source] io::Error),
    /// A domain to probe is not a usable domain name.
    #[error("{} is not a domain name to probe: {}", quote(.0), .1)]
    BadDomain(String, String),
    /// A flag or argument is invalid.
    #[error("{0}")]
    Usage(String),
    /// A file given to read could not be read.
    #[error("cannot read {}: {source}", quote(.path))]
    ReadFile {
        path: String,
        #[source]
        source: io::Error,
    },
    /// A file or standard input is larger than smtpdiag reads for one input.
    #[error("{} holds more than {limit} bytes: that is not one reply or one message", quote(.what))]
    InputTooLarge { what: String, limit: usize },
    /// A file or standard input that holds binary data, not text.
    #[error("{} holds binary data, not a reply or a message", quote(.0))]
    BinaryInput(String),
    /// A message that is not a bounce, a complaint or an auto-reply.
    #[error("{0}")]
    Bounce(#[from] BounceError),
    /// The resolver cannot be set up or used at all.
    #[error("{0}")]
    Resolver(String),
    /// The output could not be written (a full disk, a closed terminal).
    #[error("cannot write the output: {0}")]
    Output(#[source] io::Error),
}

impl Error {
    /// How the process ends when this error stops it.
    #[must_use]
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Error::NotACode(_)
            | Error::NotAReply(_)
            | Error::Usage(_)
            | Error::ReadFile { .. }
            | Error::InputTooLarge { .. }
            | Error::BinaryInput(_)
            | Error::Bounce(_)
            | Error::BadDomain(..)
            | Error::Stdin(_) => ExitStatus::Usage,
            Error::Output(_) | Error::Resolver(_) => ExitStatus::Incomplete,
        }
    }
}

/// Why a message could not be read as a bounce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BounceError {
    #[error("{0}: not an e-mail message (no header fields)")]
    NotAMessage(String),
    #[error(
        "{0}: an e-mail message, but not a bounce, a complaint or an auto-reply \
         (no delivery status, no failure notice): nothing to explain"
    )]
    NotABounce(String),
}

/// The input in quotes, control characters escaped and cut to a readable length.
fn quote(input: &str) -> String {
    let mut shown: String = input.chars().take(QUOTE_LIMIT).collect();
    if input.chars().count() > QUOTE_LIMIT {
        shown.push('…');
    }
    format!("{shown:?}")
}
