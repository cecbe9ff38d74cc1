//! Domain names as users type them: checked, and converted to A-labels (IDNA) for DNS while
//! the report keeps the form that was typed.

use std::net::IpAddr;

use hickory_resolver::proto::rr::Name;
use serde::Serialize;

/// A domain name checked for use in DNS and SMTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainName {
    /// As the user typed it (trimmed, without a final dot).
    pub display: String,
    /// Lowercase A-labels, without a final dot: what goes into queries and SMTP commands.
    pub ascii: String,
}

/// Why a string is not a usable domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("it contains a control character or white space")]
    ControlOrSpace,
    #[error("it is an IP address, not a domain name")]
    IpAddress,
    #[error("it has an empty label (two dots in a row, or a leading dot)")]
    EmptyLabel,
    #[error("label {0:?} is longer than 63 characters")]
    LabelTooLong(String),
    #[error("it is longer than 253 characters")]
    TooLong,
    #[error("label {0:?} has a character other than letters, digits and hyphens")]
    BadCharacter(String),
    #[error("label {0:?} starts or ends with a hyphen")]
    Hyphen(String),
    #[error("a mail domain has at least two labels, such as example.com")]
    SingleLabel,
    #[error("it is not a valid internationalised domain name: {0}")]
    Idna(String),
}

impl DomainName {
    /// Checks a domain name and converts it to A-labels.
    pub fn parse(input: &str) -> Result<DomainName, NameError> {
        let trimmed = input.trim();
        let display = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if display.is_empty() {
            return Err(NameError::Empty);
        }
        if display.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(NameError::ControlOrSpace);
        }
        if display.parse::<IpAddr>().is_ok() || (display.starts_with('[') && display.ends_with(']'))
        {
            return Err(NameError::IpAddress);
        }
        if display.split('.').any(str::is_empty) {
            return Err(NameError::EmptyLabel);
        }
        let ascii = if display.is_ascii() {
            display.to_ascii_lowercase()
        } else {
            Name::from_utf8(display)
                .map_err(|e| NameError::Idna(e.to_string()))?
                .to_ascii()
                .trim_end_matches('.')
                .to_ascii_lowercase()
        };
        check_ldh(&ascii)?;
        Ok(DomainName {
            display: display.to_string(),
            ascii,
        })
    }
}

/// RFC 1123 host name rules on A-labels. Underscores are refused: they never name a mail
/// domain or a mail exchanger.
fn check_ldh(ascii: &str) -> Result<(), NameError> {
    if ascii.len() > 253 {
        return Err(NameError::TooLong);
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(NameError::SingleLabel);
    }
    for label in labels {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > 63 {
            return Err(NameError::LabelTooLong(label.to_string()));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(NameError::BadCharacter(label.to_string()));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(NameError::Hyphen(label.to_string()));
        }
    }
    Ok(())
}

/// Whether a name written where a host name belongs is really an IPv4 address
/// (`MX 10 192.0.2.1.`), a classic MX misconfiguration.
#[must_use]
pub fn looks_like_ip_literal(name: &str) -> bool {
    let name = name.trim_end_matches('.');
    name.parse::<IpAddr>().is_ok()
        || name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_names() {
        let name = DomainName::parse(" Example.COM. ").unwrap();
        assert_eq!(name.display, "Example.COM");
        assert_eq!(name.ascii, "example.com");
    }

    #[test]
    fn internationalised_names_become_a_labels() {
        let name = DomainName::parse("bücher.example").unwrap();
        assert_eq!(name.ascii, "xn--bcher-kva.example");
        assert_eq!(name.display, "bücher.example");
        let name = DomainName::parse("例え.テスト").unwrap();
        assert!(name.ascii.starts_with("xn--"), "{}", name.ascii);
    }

    #[test]
    fn bad_names_are_refused() {
        for (input, expected) in [
            ("", NameError::Empty),
            (".", NameError::Empty),
            ("exa mple.com", NameError::ControlOrSpace),
            ("example.com\r\nRCPT", NameError::ControlOrSpace),
            ("192.0.2.1", NameError::IpAddress),
            ("[192.0.2.1]", NameError::IpAddress),
            ("a..b", NameError::EmptyLabel),
            ("localhost", NameError::SingleLabel),
            ("-bad.example", NameError::Hyphen("-bad".into())),
            (
                "under_score.example",
                NameError::BadCharacter("under_score".into()),
            ),
        ] {
            assert_eq!(DomainName::parse(input), Err(expected), "{input:?}");
        }
        assert!(matches!(
            DomainName::parse(&format!("{}.com", "a".repeat(64))),
            Err(NameError::LabelTooLong(_))
        ));
    }

    #[test]
    fn ip_literals() {
        assert!(looks_like_ip_literal("127.0.0.10."));
        assert!(looks_like_ip_literal("[192.0.2.1]"));
        assert!(!looks_like_ip_literal("mx.example.com"));
    }
}
