//! Mail logs: Postfix, Exim, Sendmail and Exchange message tracking logs read line by line,
//! every delivery failure and deferral classified as `smtpdiag explain` classifies a pasted
//! reply, and summed up by cause and by destination domain.
//!
//! Streamed, in bounded memory: a log of any size is read through a fixed buffer, and the
//! summary keeps counts, first and last times and one sample per cause and per domain. The
//! most affected recipients and domains are kept by the Space-Saving algorithm (Metwally,
//! Agrawal, El Abbadi 2005): a table of at most `capacity` keys that, once full, gives a
//! new key the slot of the least counted one and records the count it inherited as its
//! possible error. Every key seen more than `total / capacity` times is in the table, and
//! the counts are exact as long as fewer distinct keys than `capacity` were seen.
//!
//! Nothing here prints. Lines that are not understood are counted, never fatal.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::mpsc;

use serde::{Serialize, Serializer};

use crate::kb::{self, Lang};
use crate::reply::extract;

/// Lines longer than this are skipped and counted.
pub const MAX_LINE: usize = 64 * 1024;
/// Recipients kept per cause (Space-Saving table size).
const CAUSE_RECIPIENTS: usize = 64;
/// Domains kept per cause.
const CAUSE_DOMAINS: usize = 64;
/// Recipients kept per domain.
const DOMAIN_RECIPIENTS: usize = 16;
/// Domains kept in all (Space-Saving table size).
pub const DOMAINS: usize = 1000;
/// How many recipients or domains a summary entry lists.
pub const TOP: usize = 5;
/// Slots of the classification cache (direct-mapped, by the hash of the status text).
const CACHE_SLOTS: usize = 32768;
/// A sample is cut to this many bytes.
const SAMPLE_LIMIT: usize = 500;
/// Refusing clients kept (Space-Saving table size).
const CLIENTS: usize = 64;
/// Recipients, domains and clients are cut to this many bytes (an SMTP path is at most
/// 256), so that a hostile log cannot make the tables large.
const KEY_LIMIT: usize = 256;
/// Status texts longer than this are classified without the cache.
const CACHED_TEXT_LIMIT: usize = 1024;

// ---------------------------------------------------------------------------------------
// Time

/// A point in time, in seconds since 1970-01-01T00:00:00. Times written with a zone
/// (RFC 3339, Exchange) are converted to UTC; times written without one (syslog, Exim,
/// Sendmail) are taken as they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub i64);

impl Time {
    /// The time of a calendar date and clock time.
    #[must_use]
    pub fn from_parts(
        year: i64,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
    ) -> Time {
        Time(
            days_from_civil(year, month, day) * 86_400
                + i64::from(hour) * 3600
                + i64::from(minute) * 60
                + i64::from(second),
        )
    }

    /// Now, by the system clock.
    #[must_use]
    pub fn now() -> Time {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Time(i64::try_from(seconds).unwrap_or(i64::MAX))
    }

    fn year(self) -> i64 {
        civil_from_days(self.0.div_euclid(86_400)).0
    }
}

impl fmt::Display for Time {
    /// `2026-11-30T10:15:02`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = civil_from_days(self.0.div_euclid(86_400));
        let seconds = self.0.rem_euclid(86_400);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            seconds / 3600,
            seconds % 3600 / 60,
            seconds % 60
        )
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both are in 1..=31 and 1..=12 by construction.
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn digits(b: &[u8], at: usize, len: usize) -> Option<u32> {
    let part = b.get(at..at + len)?;
    part.iter().try_fold(0u32, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

fn valid(month: u32, day: u32, hour: u32, minute: u32, second: u32) -> bool {
    (1..=12).contains(&month) && (1..=31).contains(&day) && hour < 24 && minute < 60 && second < 61
}

/// `YYYY-MM-DD` then `T` or a space and `HH:MM` (`:SS`, a fraction and a zone `Z`,
/// `+hh:mm` or `+hhmm` optional). Returns the time and the bytes read.
fn iso_prefix(s: &str, need_seconds: bool) -> Option<(Time, usize)> {
    let b = s.as_bytes();
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let mut at = 16;
    let mut second = 0;
    if b.get(16) == Some(&b':') {
        second = digits(b, 17, 2)?;
        at = 19;
        if b.get(at) == Some(&b'.') {
            at += 1;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
        }
    } else if need_seconds {
        return None;
    }
    if !valid(month, day, hour, minute, second) {
        return None;
    }
    let mut time = Time::from_parts(i64::from(year), month, day, hour, minute, second);
    match b.get(at) {
        Some(b'Z' | b'z') => at += 1,
        Some(sign @ (b'+' | b'-')) => {
            let offset_hours = digits(b, at + 1, 2)?;
            let (offset_minutes, len) = if b.get(at + 3) == Some(&b':') {
                (digits(b, at + 4, 2)?, 6)
            } else {
                (digits(b, at + 3, 2)?, 5)
            };
            let offset = i64::from(offset_hours * 3600 + offset_minutes * 60);
            time.0 -= if *sign == b'+' { offset } else { -offset };
            at += len;
        }
        _ => {}
    }
    Some((time, at))
}

/// A bound of `--since` / `--until`: RFC 3339 (`2026-11-30T10:00:00Z`), or
/// `YYYY-MM-DD[ HH:MM[:SS]]` (taken as written, like the times of syslog lines).
pub fn parse_time_bound(text: &str) -> Result<Time, String> {
    let text = text.trim();
    let b = text.as_bytes();
    let whole = if text.len() == 10 {
        let date = format!("{text} 00:00");
        iso_prefix(&date, false).map(|(t, _)| (t, text.len()))
    } else {
        iso_prefix(text, false)
    };
    match whole {
        Some((time, used)) if used == b.len() => Ok(time),
        _ => Err(format!(
            "{text:?} is not a time: give RFC 3339 (2026-11-30T10:00:00Z) or YYYY-MM-DD[ HH:MM[:SS]]"
        )),
    }
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// `Nov 30 10:15:02` (or `Nov  1 ...`, a fraction optional), with the year guessed from
/// `now`: this year, or last year when the date would be more than a day in the future.
fn bsd_prefix(s: &str, now: Time, year: i64) -> Option<(Time, usize)> {
    let b = s.as_bytes();
    let name = b.get(..3)?;
    let month = MONTHS.iter().position(|m| m.as_slice() == name)? as u32 + 1;
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let mut at = 4;
    if b.get(at) == Some(&b' ') {
        at += 1;
    }
    let day_len = if b.get(at + 1).is_some_and(u8::is_ascii_digit) {
        2
    } else {
        1
    };
    let day = digits(b, at, day_len)?;
    at += day_len;
    if b.get(at) != Some(&b' ') || b.get(at + 3) != Some(&b':') || b.get(at + 6) != Some(&b':') {
        return None;
    }
    let hour = digits(b, at + 1, 2)?;
    let minute = digits(b, at + 4, 2)?;
    let second = digits(b, at + 7, 2)?;
    at += 9;
    if b.get(at) == Some(&b'.') {
        at += 1;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
    }
    if !valid(month, day, hour, minute, second) {
        return None;
    }
    let mut time = Time::from_parts(year, month, day, hour, minute, second);
    if time.0 > now.0 + 86_400 {
        time = Time::from_parts(year - 1, month, day, hour, minute, second);
    }
    Some((time, at))
}

// ---------------------------------------------------------------------------------------
// Lines

/// The mail server that wrote a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mta {
    Postfix,
    Exim,
    Sendmail,
    Exchange,
}

/// Whether the message was given up (it bounces to its sender) or will be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Bounced,
    Deferred,
}

/// One delivery that failed, as a line tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub time: Option<Time>,
    pub mta: Mta,
    pub outcome: Outcome,
    /// The recipient, as logged (`None` for a line about a whole message).
    pub recipient: Option<String>,
    /// What the MTA wrote about the failure, the reply of the remote server included.
    pub status: String,
    /// The DSN status code the MTA logged beside it (Postfix, Sendmail `dsn=`).
    pub dsn: Option<String>,
}

impl Failure {
    /// The text the cause is read from: the status, with `dsn=X.Y.Z` in front when the
    /// status holds no such code itself.
    #[must_use]
    pub fn classified_text(&self) -> std::borrow::Cow<'_, str> {
        match &self.dsn {
            Some(dsn) if !dsn.is_empty() && !self.status.contains(dsn.as_str()) => {
                std::borrow::Cow::Owned(format!("dsn={dsn} {}", self.status))
            }
            _ => std::borrow::Cow::Borrowed(&self.status),
        }
    }
}

/// A message or connection this server refused (Postfix smtpd, postscreen, cleanup): the
/// receiving side, counted apart from delivery failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub time: Option<Time>,
    /// The client's address, as logged.
    pub client: Option<String>,
    pub status: String,
}

/// What one line holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Failure(Failure),
    Refusal(Refusal),
}

/// The columns of an Exchange message tracking log, from its `#Fields:` header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ExchangeFields {
    time: usize,
    event: usize,
    recipients: usize,
    status: usize,
}

/// Reads the lines of one log; keeps what a line needs from the lines before it (the
/// columns of an Exchange log).
#[derive(Debug, Clone)]
pub struct LineParser {
    now: Time,
    year: i64,
    exchange: Option<ExchangeFields>,
}

impl LineParser {
    /// `now` decides the year of syslog dates, which have none.
    #[must_use]
    pub fn new(now: Time) -> LineParser {
        LineParser {
            now,
            year: now.year(),
            exchange: None,
        }
    }

    /// Reads one line (without its line break). Returns `false` when the line is not one
    /// of a known log format; `events` receives what the line reports (an Exchange line
    /// may report several recipients).
    pub fn parse(&mut self, line: &str, events: &mut impl FnMut(Event)) -> bool {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(header) = line.strip_prefix('#') {
            if let Some(fields) = header.strip_prefix("Fields:") {
                self.exchange = exchange_fields(fields);
                return self.exchange.is_some();
            }
            return self.exchange.is_some()
                || ["Software:", "Version:", "Log-type:", "Date:"]
                    .iter()
                    .any(|h| header.starts_with(h));
        }
        if let Some(fields) = &self.exchange {
            if let Some(understood) = exchange_line(fields, line, events) {
                return understood;
            }
        }
        if let Some((time, used)) = iso_prefix(line, true) {
            let rest = &line[used..];
            if line.as_bytes()[10] == b' ' {
                return exim_line(time, rest, events);
            }
            return syslog_line(Some(time), rest, events);
        }
        if let Some((time, used)) = bsd_prefix(line, self.now, self.year) {
            return syslog_line(Some(time), &line[used..], events);
        }
        false
    }
}

fn exchange_fields(header: &str) -> Option<ExchangeFields> {
    let names: Vec<String> = header
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    let find = |name: &str| names.iter().position(|n| n == name);
    Some(ExchangeFields {
        time: find("date-time")?,
        event: find("event-id")?,
        recipients: find("recipient-address")?,
        status: find("recipient-status")?,
    })
}

/// The fields of a CSV line (RFC 4180 quoting); `None` for an unbalanced quote.
fn csv_fields(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (false, '"') if field.is_empty() => quoted = true,
            (true, '"') => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            }
            (_, c) => field.push(c),
        }
    }
    if quoted {
        return None;
    }
    fields.push(field);
    Some(fields)
}

/// A line of an Exchange message tracking log: `FAIL` and `DEFER` events are failures,
/// one per recipient. `None` when the line is not a row of the log at all.
fn exchange_line(
    fields: &ExchangeFields,
    line: &str,
    events: &mut impl FnMut(Event),
) -> Option<bool> {
    let row = csv_fields(line)?;
    let needed = fields
        .time
        .max(fields.event)
        .max(fields.recipients)
        .max(fields.status);
    if row.len() <= needed {
        return None;
    }
    let (time, _) = iso_prefix(row.get(fields.time)?, true)?;
    let outcome = match row[fields.event].as_str() {
        "FAIL" => Outcome::Bounced,
        "DEFER" => Outcome::Deferred,
        _ => return Some(true),
    };
    let recipients: Vec<&str> = row
        .get(fields.recipients)
        .map(|r| {
            r.split(';')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let status = row.get(fields.status).map_or("", String::as_str);
    // Several recipients have their statuses joined by `;` in the same order, when each
    // part starts with a code; otherwise each recipient gets the whole status.
    let parts: Vec<&str> = status.split(';').map(str::trim).collect();
    let split = recipients.len() > 1
        && parts.len() == recipients.len()
        && parts
            .iter()
            .all(|p| p.as_bytes().first().is_some_and(u8::is_ascii_digit));
    if recipients.is_empty() {
        events(Event::Failure(Failure {
            time: Some(time),
            mta: Mta::Exchange,
            outcome,
            recipient: None,
            status: status.to_string(),
            dsn: None,
        }));
    }
    for (i, recipient) in recipients.iter().enumerate() {
        events(Event::Failure(Failure {
            time: Some(time),
            mta: Mta::Exchange,
            outcome,
            recipient: Some((*recipient).to_string()),
            status: if split { parts[i] } else { status }.to_string(),
            dsn: None,
        }));
    }
    Some(true)
}

/// ` host program[pid]: message` after a syslog time.
fn syslog_line(time: Option<Time>, rest: &str, events: &mut impl FnMut(Event)) -> bool {
    let rest = rest.trim_start();
    let Some((_host, rest)) = rest.split_once(' ') else {
        return false;
    };
    let end = rest
        .bytes()
        .position(|b| matches!(b, b':' | b'[' | b' '))
        .unwrap_or(rest.len());
    let program = &rest[..end];
    let message = match find(&rest[end..], ": ") {
        Some(at) => &rest[end + at + 2..],
        None => return false,
    };
    if program.starts_with("postfix") {
        let service = program.rsplit('/').next().unwrap_or(program);
        postfix_message(time, service, message, events);
        true
    } else if program == "sendmail" || program.starts_with("sm-") {
        sendmail_message(time, message, events);
        true
    } else if program == "exim" || program == "exim4" {
        // Exim sent to syslog: the message is a main log line without the time.
        exim_line(time.unwrap_or(Time(0)), &format!(" {message}"), events)
    } else {
        false
    }
}

/// Where `needle` first occurs in `haystack` (memchr's substring search: much cheaper to
/// start than `str::find` with a `&str` pattern, which matters on every line).
fn find(haystack: &str, needle: &str) -> Option<usize> {
    memchr::memmem::find(haystack.as_bytes(), needle.as_bytes())
}

/// The value of `name=` in a `name=value, ...` list, up to the next `,` (or the end).
fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(at) = find(&text[from..], name) {
        let start = from + at;
        let before_ok = start == 0 || matches!(text.as_bytes()[start - 1], b' ' | b',');
        if before_ok {
            let value = &text[start + name.len()..];
            let end = find(value, ", ").unwrap_or(value.len());
            return Some(value[..end].trim_end_matches(','));
        }
        from = start + name.len();
    }
    None
}

/// An address from `<a@example.com>` or `a@example.com`; `None` for `<>`.
fn address(value: &str) -> Option<String> {
    let value = value.trim();
    let value = value
        .strip_prefix('<')
        .map_or(value, |v| v.split('>').next().unwrap_or(v));
    (!value.is_empty()).then(|| value.to_string())
}

fn postfix_message(
    time: Option<Time>,
    service: &str,
    message: &str,
    events: &mut impl FnMut(Event),
) {
    if service == "postscreen" {
        let status = if let Some(at) = find(message, "reject: ") {
            Some(&message[at + 8..])
        } else if message.starts_with("PREGREET ") || message.starts_with("DNSBL rank ") {
            Some(message)
        } else {
            None
        };
        if let Some(status) = status {
            events(Event::Refusal(Refusal {
                time,
                client: client_of(message),
                status: status.to_string(),
            }));
        }
        return;
    }
    if service == "smtpd" || service == "cleanup" {
        if let Some(at) = find(message, ": reject: ") {
            events(Event::Refusal(Refusal {
                time,
                client: client_of(message),
                status: message[at + 10..].to_string(),
            }));
        }
        return;
    }
    // Only delivery agents and qmgr log a delivery status.
    if !matches!(
        service,
        "smtp" | "lmtp" | "local" | "virtual" | "pipe" | "error" | "retry" | "qmgr" | "discard"
    ) {
        return;
    }
    let Some(at) = find(message, "status=") else {
        return;
    };
    let after = &message[at + 7..];
    let word_end = after.find([' ', ',']).unwrap_or(after.len());
    let outcome = match &after[..word_end] {
        "bounced" | "expired" => Outcome::Bounced,
        "deferred" | "SOFTBOUNCE" => Outcome::Deferred,
        _ => return,
    };
    let head = &message[..at];
    let text = match after[word_end..].find('(') {
        Some(open) => {
            let inner = &after[word_end + open + 1..];
            inner.strip_suffix(')').unwrap_or(inner)
        }
        // qmgr: `status=expired, returned to sender`
        None => after,
    };
    events(Event::Failure(Failure {
        time,
        mta: Mta::Postfix,
        outcome,
        recipient: field(head, "to=").and_then(address),
        status: text.to_string(),
        dsn: field(head, "dsn=").map(str::to_string),
    }));
}

/// The address between the brackets of `from host[192.0.2.7]` or `[192.0.2.7]:port`.
fn client_of(message: &str) -> Option<String> {
    let open = message.find('[')?;
    let close = message[open..].find(']')? + open;
    Some(message[open + 1..close].to_string()).filter(|c| !c.is_empty())
}

fn sendmail_message(time: Option<Time>, message: &str, events: &mut impl FnMut(Event)) {
    let Some(at) = find(message, "stat=") else {
        return;
    };
    let stat = &message[at + 5..];
    let head = &message[..at];
    let dsn = field(head, "dsn=");
    let outcome = match dsn.and_then(|d| d.bytes().next()) {
        Some(b'5') => Outcome::Bounced,
        Some(b'4') => Outcome::Deferred,
        _ if stat.starts_with("Deferred") => Outcome::Deferred,
        _ => return,
    };
    let recipient = field(head, "to=")
        .and_then(|to| to.split(',').next())
        .and_then(address);
    events(Event::Failure(Failure {
        time,
        mta: Mta::Sendmail,
        outcome,
        recipient,
        status: stat.to_string(),
        dsn: dsn.map(str::to_string),
    }));
}

/// An Exim message id: `1tQabc-000123-AB` (or the longer ids of Exim 4.97).
fn is_exim_id(token: &str) -> bool {
    let parts: Vec<&str> = token.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 6
        && parts[1].len() >= 6
        && parts[2].len() >= 2
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The rest of an Exim main log line after its time. `**` is a bounce, `==` a deferral.
fn exim_line(time: Time, rest: &str, events: &mut impl FnMut(Event)) -> bool {
    let mut rest = rest.trim_start();
    let mut time = time;
    // ` +0100` (log_timezone) and `[pid]` (log_selector +pid)
    if let (Some(sign @ (b'+' | b'-')), Some(hours), Some(minutes)) = (
        rest.as_bytes().first().copied(),
        digits(rest.as_bytes(), 1, 2),
        digits(rest.as_bytes(), 3, 2),
    ) {
        let offset = i64::from(hours * 3600 + minutes * 60);
        time.0 -= if sign == b'+' { offset } else { -offset };
        rest = rest[5..].trim_start();
    }
    if rest.starts_with('[') {
        if let Some(close) = rest.find("] ") {
            rest = &rest[close + 2..];
        }
    }
    let mut words = rest.splitn(3, ' ');
    let (Some(id), Some(flag), Some(tail)) = (words.next(), words.next(), words.next()) else {
        return true;
    };
    if !is_exim_id(id) {
        return true;
    }
    let outcome = match flag {
        "**" => Outcome::Bounced,
        "==" => Outcome::Deferred,
        _ => return true,
    };
    let recipient_token = tail.split(' ').next().unwrap_or_default();
    let recipient = address(recipient_token.trim_end_matches(':'));
    let status = match find(tail, ": ") {
        Some(at) => &tail[at + 2..],
        None => tail[recipient_token.len()..].trim_start(),
    };
    events(Event::Failure(Failure {
        time: Some(time),
        mta: Mta::Exim,
        outcome,
        recipient,
        status: status.to_string(),
        dsn: None,
    }));
    true
}

// ---------------------------------------------------------------------------------------
// Bounded counting

/// A key and how often it was seen; `error` is how many of those counts it may have
/// inherited from keys it replaced (0: exact).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub key: String,
    pub count: u64,
    pub error: u64,
}

/// Serialises counted keys as `[{"<name>": key, "count": n}]`, with `count_error` when
/// the count is an estimate.
fn labelled<S: Serializer>(
    name: &'static str,
    list: &[Counted],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::{SerializeSeq, SerializeStruct};
    struct One<'a>(&'static str, &'a Counted);
    impl Serialize for One<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut s = serializer.serialize_struct("Counted", 3)?;
            s.serialize_field(self.0, &self.1.key)?;
            s.serialize_field("count", &self.1.count)?;
            if self.1.error > 0 {
                s.serialize_field("count_error", &self.1.error)?;
            } else {
                s.skip_field("count_error")?;
            }
            s.end()
        }
    }
    let mut seq = serializer.serialize_seq(Some(list.len()))?;
    for counted in list {
        seq.serialize_element(&One(name, counted))?;
    }
    seq.end()
}

fn as_recipients<S: Serializer>(list: &[Counted], s: S) -> Result<S::Ok, S::Error> {
    labelled("recipient", list, s)
}

fn as_domains<S: Serializer>(list: &[Counted], s: S) -> Result<S::Ok, S::Error> {
    labelled("domain", list, s)
}

fn as_clients<S: Serializer>(list: &[Counted], s: S) -> Result<S::Ok, S::Error> {
    labelled("client", list, s)
}

/// Space-Saving: the most frequent keys of a stream in at most `capacity` slots.
#[derive(Debug, Clone)]
pub struct TopCounter<V = ()> {
    capacity: usize,
    slots: Vec<Slot<V>>,
    index: HashMap<Box<str>, usize>,
    /// No slot counts less than this: counts only grow and a replaced slot gets the
    /// old minimum plus one, so the minimum never goes down.
    floor: u64,
    /// Where the search for a least counted slot goes on.
    cursor: usize,
}

#[derive(Debug, Clone)]
struct Slot<V> {
    key: Box<str>,
    count: u64,
    error: u64,
    value: V,
}

impl<V: Default> TopCounter<V> {
    #[must_use]
    pub fn new(capacity: usize) -> TopCounter<V> {
        TopCounter {
            capacity: capacity.max(1),
            slots: Vec::new(),
            index: HashMap::new(),
            floor: 0,
            cursor: 0,
        }
    }

    /// A least counted slot: the next one at the floor after the cursor, so that a run
    /// of new keys costs one sweep over the table, not one sweep each.
    fn least(&mut self) -> usize {
        let n = self.slots.len();
        loop {
            for step in 0..n {
                let i = (self.cursor + step) % n;
                if self.slots[i].count <= self.floor {
                    self.cursor = (i + 1) % n;
                    return i;
                }
            }
            self.floor = self.slots.iter().map(|s| s.count).min().unwrap_or(0);
        }
    }

    /// Counts `key` once; returns its value (fresh when the key just took a slot).
    pub fn add(&mut self, key: &str) -> &mut V {
        if let Some(&i) = self.index.get(key) {
            self.slots[i].count += 1;
            return &mut self.slots[i].value;
        }
        if self.slots.len() < self.capacity {
            let i = self.slots.len();
            self.index.insert(key.into(), i);
            self.slots.push(Slot {
                key: key.into(),
                count: 1,
                error: 0,
                value: V::default(),
            });
            return &mut self.slots[i].value;
        }
        let i = self.least();
        let slot = &mut self.slots[i];
        self.index.remove(&slot.key);
        self.index.insert(key.into(), i);
        slot.key = key.into();
        slot.error = slot.count;
        slot.count += 1;
        slot.value = V::default();
        &mut slot.value
    }

    /// Every kept key with its value, most counted first (ties by key).
    #[must_use]
    pub fn sorted(&self) -> Vec<(Counted, &V)> {
        let mut all: Vec<(Counted, &V)> = self
            .slots
            .iter()
            .map(|s| {
                (
                    Counted {
                        key: s.key.to_string(),
                        count: s.count,
                        error: s.error,
                    },
                    &s.value,
                )
            })
            .collect();
        all.sort_by(|a, b| {
            b.0.count
                .cmp(&a.0.count)
                .then_with(|| a.0.key.cmp(&b.0.key))
        });
        all
    }

    /// The `n` most counted keys.
    #[must_use]
    pub fn top(&self, n: usize) -> Vec<Counted> {
        self.sorted().into_iter().take(n).map(|(c, _)| c).collect()
    }

    /// Whether a key ever lost its slot (the counts are estimates).
    #[must_use]
    pub fn approximate(&self) -> bool {
        self.slots.iter().any(|s| s.error > 0)
    }
}

// ---------------------------------------------------------------------------------------
// Classification

/// A cause as the summary names it: the id and its parent (`kb/causes.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct CauseId {
    pub id: &'static str,
    pub parent: Option<&'static str>,
}

/// A reply as read from a status text: what a sample shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// The status text as logged (cut at 500 bytes).
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enhanced: Option<String>,
}

#[derive(Debug, Clone)]
struct Classified {
    cause: CauseId,
    code: Option<u16>,
    enhanced: Option<String>,
}

/// The status text with every word holding an `@` (an address) replaced: two failures
/// that differ only in their recipient share the cache slot, and the cause.
fn cache_key(text: &str) -> String {
    let mut key = String::with_capacity(text.len());
    for (n, word) in text.split(' ').enumerate() {
        if n > 0 {
            key.push(' ');
        }
        if word.contains('@') {
            key.push('@');
        } else {
            push_masking_addresses(&mut key, word);
        }
    }
    key
}

/// Copies a word with the IP addresses between brackets (`mx.example.com[192.0.2.1]:25`)
/// left out: the same failure at another address of the same host is the same failure.
fn push_masking_addresses(key: &mut String, word: &str) {
    let mut rest = word;
    while let Some(open) = rest.find('[') {
        let Some(len) = rest[open + 1..].find(']') else {
            break;
        };
        let inside = &rest[open + 1..open + 1 + len];
        let address = !inside.is_empty()
            && inside.contains(['.', ':'])
            && inside
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':');
        key.push_str(&rest[..=open]);
        if !address {
            key.push_str(inside);
        }
        key.push(']');
        rest = &rest[open + 2 + len..];
    }
    key.push_str(rest);
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `extract` and `kb::classify_reply`, as `smtpdiag explain` runs them, behind a
/// direct-mapped cache of fixed size.
#[derive(Debug)]
struct Classifier {
    lang: Lang,
    slots: Vec<Option<(Box<str>, Classified)>>,
}

impl Classifier {
    fn new(lang: Lang) -> Classifier {
        Classifier {
            lang,
            slots: vec![None; CACHE_SLOTS],
        }
    }

    fn classify(&mut self, text: &str) -> Classified {
        if text.len() > CACHED_TEXT_LIMIT {
            return classify_text(text, self.lang);
        }
        let key = cache_key(text);
        let slot = (fnv1a(&key) % CACHE_SLOTS as u64) as usize;
        if let Some((cached, found)) = &self.slots[slot] {
            if **cached == *key {
                return found.clone();
            }
        }
        let found = classify_text(text, self.lang);
        self.slots[slot] = Some((key.into(), found.clone()));
        found
    }
}

/// The cause of one status text, decided by the library exactly as for a pasted reply.
fn classify_text(text: &str, lang: Lang) -> Classified {
    match extract(text) {
        Some(found) => {
            let (cause, _signature) = kb::classify_reply(&found, lang);
            Classified {
                cause: CauseId {
                    id: cause.id,
                    parent: cause.parent,
                },
                code: found.reply.code.map(crate::reply::ReplyCode::value),
                enhanced: found.reply.enhanced.map(|e| e.to_string()),
            }
        }
        None => Classified {
            cause: CauseId {
                id: "unknown",
                parent: None,
            },
            code: None,
            enhanced: None,
        },
    }
}

/// The cause `smtpdiag logs` gives a status text (uncached; for tests and callers that
/// classify one text).
#[must_use]
pub fn cause_of(text: &str, lang: Lang) -> CauseId {
    classify_text(text, lang).cause
}

fn cut(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn domain_of(recipient: &str) -> Option<String> {
    recipient
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

// ---------------------------------------------------------------------------------------
// Aggregation

#[derive(Debug, Clone, Copy, Default)]
struct Window {
    first: Option<Time>,
    last: Option<Time>,
}

impl Window {
    fn add(&mut self, time: Option<Time>) {
        if let Some(t) = time {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }
}

#[derive(Debug)]
struct CauseStats {
    bounced: u64,
    deferred: u64,
    window: Window,
    sample: Sample,
    recipients: TopCounter,
    domains: TopCounter,
}

#[derive(Debug, Default)]
struct DomainStats {
    bounced: u64,
    deferred: u64,
    window: Window,
    sample: Option<Sample>,
    causes: Vec<(CauseId, u64)>,
    recipients: Option<Box<TopCounter>>,
}

#[derive(Debug)]
struct RefusalStats {
    count: u64,
    window: Window,
    sample: Sample,
    clients: TopCounter,
}

/// What to read and how.
#[derive(Debug, Clone, Copy)]
pub struct LogOptions {
    pub lang: Lang,
    /// Failures before this time are left out.
    pub since: Option<Time>,
    /// Failures at or after this time are left out.
    pub until: Option<Time>,
    /// Decides the year of syslog dates.
    pub now: Time,
}

/// One input file, as read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileStats {
    pub name: String,
    pub compressed: bool,
    pub lines: u64,
    /// Lines of no known format (including lines too long to read).
    pub lines_skipped: u64,
    pub lines_too_long: u64,
    /// Why the file could not be read to its end (truncated gzip, a read error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Reads logs and sums up their failures, in bounded memory.
#[derive(Debug)]
pub struct LogReader {
    options: LogOptions,
    classifier: Classifier,
    files: Vec<FileStats>,
    outside_window: u64,
    window: Window,
    causes: HashMap<CauseId, CauseStats>,
    domains: TopCounter<DomainStats>,
    no_domain: DomainStats,
    refusals: HashMap<CauseId, RefusalStats>,
}

impl LogReader {
    #[must_use]
    pub fn new(options: LogOptions) -> LogReader {
        LogReader {
            options,
            classifier: Classifier::new(options.lang),
            files: Vec::new(),
            outside_window: 0,
            window: Window::default(),
            causes: HashMap::new(),
            domains: TopCounter::new(DOMAINS),
            no_domain: DomainStats::default(),
            refusals: HashMap::new(),
        }
    }

    /// Reads one log, plain or gzip-compressed (told by its first bytes), to its end. A
    /// read error or truncated compressed data ends the file, not the run: it is recorded
    /// in the file's [`FileStats::error`], with what was read before it counted.
    ///
    /// Reading, decompressing and parsing run on a thread of their own, which hands the
    /// failures over in batches through a bounded channel; this thread classifies and
    /// counts them. Memory stays bounded: at most [`CHANNEL_BATCHES`] batches wait.
    pub fn read(&mut self, name: &str, input: impl Read + Send) -> FileStats {
        let now = self.options.now;
        let (sender, receiver) = mpsc::sync_channel::<Vec<Event>>(CHANNEL_BATCHES);
        let (mut stats, result) = std::thread::scope(|scope| {
            let parsing = scope.spawn(move || {
                let mut stats = FileStats::default();
                let mut batch = Vec::with_capacity(BATCH);
                let result = read_events(input, now, &mut stats, &mut |event| {
                    batch.push(event);
                    if batch.len() == BATCH {
                        // The receiver lives until this thread is joined.
                        let _ =
                            sender.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                    }
                });
                let _ = sender.send(batch);
                (stats, result)
            });
            for batch in &receiver {
                for event in batch {
                    self.add(event);
                }
            }
            match parsing.join() {
                Ok(done) => done,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        stats.name = name.to_string();
        if let Err(e) = result {
            stats.error = Some(match e.kind() {
                io::ErrorKind::UnexpectedEof => {
                    "the compressed data ends before its end (truncated file)".to_string()
                }
                _ if stats.compressed => format!("corrupt compressed data: {e}"),
                _ => e.to_string(),
            });
        }
        self.files.push(stats.clone());
        stats
    }

    fn in_window(&self, time: Option<Time>) -> bool {
        let Some(time) = time else {
            return true;
        };
        self.options.since.is_none_or(|s| time >= s) && self.options.until.is_none_or(|u| time < u)
    }

    /// Counts one event (for callers that parse lines themselves).
    pub fn add(&mut self, event: Event) {
        match event {
            Event::Failure(failure) => self.add_failure(&failure),
            Event::Refusal(refusal) => self.add_refusal(&refusal),
        }
    }

    fn add_failure(&mut self, failure: &Failure) {
        if !self.in_window(failure.time) {
            self.outside_window += 1;
            return;
        }
        self.window.add(failure.time);
        let found = self.classifier.classify(&failure.classified_text());
        let sample = || Sample {
            text: cut(&failure.status, SAMPLE_LIMIT),
            code: found.code,
            enhanced: found.enhanced.clone(),
        };
        let bounced = u64::from(failure.outcome == Outcome::Bounced);
        let deferred = 1 - bounced;
        let recipient = failure
            .recipient
            .as_deref()
            .map(|r| cut(&r.to_ascii_lowercase(), KEY_LIMIT));
        let recipient = recipient.as_deref();
        let domain = recipient.and_then(domain_of);

        let cause = self
            .causes
            .entry(found.cause)
            .or_insert_with(|| CauseStats {
                bounced: 0,
                deferred: 0,
                window: Window::default(),
                sample: sample(),
                recipients: TopCounter::new(CAUSE_RECIPIENTS),
                domains: TopCounter::new(CAUSE_DOMAINS),
            });
        cause.bounced += bounced;
        cause.deferred += deferred;
        cause.window.add(failure.time);
        if let Some(r) = recipient {
            cause.recipients.add(r);
        }
        if let Some(d) = &domain {
            cause.domains.add(d);
        }

        let stats = match &domain {
            Some(d) => self.domains.add(d),
            None => &mut self.no_domain,
        };
        stats.bounced += bounced;
        stats.deferred += deferred;
        stats.window.add(failure.time);
        if stats.sample.is_none() {
            stats.sample = Some(sample());
        }
        match stats.causes.iter_mut().find(|(c, _)| *c == found.cause) {
            Some((_, n)) => *n += 1,
            None => stats.causes.push((found.cause, 1)),
        }
        if let Some(r) = recipient {
            stats
                .recipients
                .get_or_insert_with(|| Box::new(TopCounter::new(DOMAIN_RECIPIENTS)))
                .add(r);
        }
    }

    fn add_refusal(&mut self, refusal: &Refusal) {
        if !self.in_window(refusal.time) {
            self.outside_window += 1;
            return;
        }
        let found = self.classifier.classify(&refusal.status);
        let stats = self
            .refusals
            .entry(found.cause)
            .or_insert_with(|| RefusalStats {
                count: 0,
                window: Window::default(),
                sample: Sample {
                    text: cut(&refusal.status, SAMPLE_LIMIT),
                    code: found.code,
                    enhanced: found.enhanced.clone(),
                },
                clients: TopCounter::new(CLIENTS),
            });
        stats.count += 1;
        stats.window.add(refusal.time);
        if let Some(client) = &refusal.client {
            stats.clients.add(&cut(client, KEY_LIMIT));
        }
    }

    /// The summary of everything read so far.
    #[must_use]
    pub fn summary(&self) -> LogSummary {
        let lang = self.options.lang;
        let mut by_cause: Vec<CauseSummary> = self
            .causes
            .iter()
            .map(|(cause, s)| {
                let text = kb::cause_text(cause.id, lang);
                CauseSummary {
                    cause: *cause,
                    title: text.title,
                    fix: text.fix,
                    total: s.bounced + s.deferred,
                    bounced: s.bounced,
                    deferred: s.deferred,
                    first_seen: s.window.first,
                    last_seen: s.window.last,
                    sample: s.sample.clone(),
                    top_recipients: s.recipients.top(TOP),
                    top_domains: s.domains.top(TOP),
                }
            })
            .collect();
        by_cause.sort_by(|a, b| b.total.cmp(&a.total).then(a.cause.id.cmp(b.cause.id)));

        let domain_summary = |domain: Option<String>, error: u64, s: &DomainStats| {
            let mut causes: Vec<CauseCount> = s
                .causes
                .iter()
                .map(|(cause, count)| CauseCount {
                    cause: *cause,
                    count: *count,
                })
                .collect();
            causes.sort_by(|a, b| b.count.cmp(&a.count).then(a.cause.id.cmp(b.cause.id)));
            DomainSummary {
                domain,
                total: s.bounced + s.deferred,
                bounced: s.bounced,
                deferred: s.deferred,
                count_error: error,
                first_seen: s.window.first,
                last_seen: s.window.last,
                sample: s.sample.clone(),
                causes,
                top_recipients: s
                    .recipients
                    .as_ref()
                    .map(|r| r.top(TOP))
                    .unwrap_or_default(),
                now: None,
            }
        };
        let mut by_domain: Vec<DomainSummary> = self
            .domains
            .sorted()
            .into_iter()
            .map(|(counted, s)| domain_summary(Some(counted.key), counted.error, s))
            .collect();
        if self.no_domain.bounced + self.no_domain.deferred > 0 {
            by_domain.push(domain_summary(None, 0, &self.no_domain));
        }

        let mut refused: Vec<RefusalSummary> = self
            .refusals
            .iter()
            .map(|(cause, s)| RefusalSummary {
                cause: *cause,
                title: kb::cause_text(cause.id, lang).title,
                count: s.count,
                first_seen: s.window.first,
                last_seen: s.window.last,
                sample: s.sample.clone(),
                top_clients: s.clients.top(TOP),
            })
            .collect();
        refused.sort_by(|a, b| b.count.cmp(&a.count).then(a.cause.id.cmp(b.cause.id)));

        let bounced = by_cause.iter().map(|c| c.bounced).sum();
        let deferred = by_cause.iter().map(|c| c.deferred).sum();
        LogSummary {
            lang,
            files: self.files.clone(),
            lines: self.files.iter().map(|f| f.lines).sum(),
            lines_skipped: self.files.iter().map(|f| f.lines_skipped).sum(),
            lines_too_long: self.files.iter().map(|f| f.lines_too_long).sum(),
            since: self.options.since,
            until: self.options.until,
            outside_window: self.outside_window,
            failures: bounced + deferred,
            bounced,
            deferred,
            first_seen: self.window.first,
            last_seen: self.window.last,
            domains_approximate: self.domains.approximate(),
            by_cause,
            by_domain,
            refused_by_us: RefusedByUs {
                total: refused.iter().map(|r| r.count).sum(),
                by_cause: refused,
            },
        }
    }
}

/// Events handed from the parsing thread to the counting one, per batch.
const BATCH: usize = 256;
/// Batches that may wait in the channel.
pub const CHANNEL_BATCHES: usize = 16;

/// Reads a log, plain or gzip, and hands every event to `sink`.
fn read_events(
    input: impl Read,
    now: Time,
    stats: &mut FileStats,
    sink: &mut impl FnMut(Event),
) -> io::Result<()> {
    let mut plain = BufReader::with_capacity(1 << 16, input);
    match plain.fill_buf() {
        Ok([0x1f, 0x8b, ..]) => {
            stats.compressed = true;
            let gz = flate2::bufread::MultiGzDecoder::new(plain);
            read_lines(BufReader::with_capacity(1 << 16, gz), now, stats, sink)
        }
        Ok(_) => read_lines(plain, now, stats, sink),
        Err(e) => Err(e),
    }
}

/// Splits the input into lines of at most [`MAX_LINE`] bytes and parses each.
fn read_lines(
    mut input: impl BufRead,
    now: Time,
    stats: &mut FileStats,
    sink: &mut impl FnMut(Event),
) -> io::Result<()> {
    let mut parser = LineParser::new(now);
    let mut line: Vec<u8> = Vec::with_capacity(1024);
    let mut too_long = false;
    loop {
        let buffer = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buffer.is_empty() {
            if !line.is_empty() || too_long {
                parse_line(&mut parser, &line, too_long, stats, sink);
            }
            return Ok(());
        }
        let (chunk, ends, used) = match memchr::memchr(b'\n', buffer) {
            Some(at) => (&buffer[..at], true, at + 1),
            None => (buffer, false, buffer.len()),
        };
        if !too_long {
            if line.len() + chunk.len() > MAX_LINE {
                too_long = true;
                line.clear();
            } else if ends && line.is_empty() {
                // The common case: the whole line is in the buffer, read in place.
                parse_line(&mut parser, chunk, false, stats, sink);
                input.consume(used);
                continue;
            } else {
                line.extend_from_slice(chunk);
            }
        }
        input.consume(used);
        if ends {
            parse_line(&mut parser, &line, too_long, stats, sink);
            line.clear();
            too_long = false;
        }
    }
}

fn parse_line(
    parser: &mut LineParser,
    bytes: &[u8],
    too_long: bool,
    stats: &mut FileStats,
    sink: &mut impl FnMut(Event),
) {
    stats.lines += 1;
    if too_long {
        stats.lines_too_long += 1;
        stats.lines_skipped += 1;
        return;
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    };
    if !parser.parse(&text, sink) {
        stats.lines_skipped += 1;
    }
}

// ---------------------------------------------------------------------------------------
// The summary: what renderers show

/// Failures of one cause.
#[derive(Debug, Clone, Serialize)]
pub struct CauseSummary {
    pub cause: CauseId,
    /// The cause's title and fix in the summary's language.
    pub title: &'static str,
    pub fix: &'static str,
    pub total: u64,
    pub bounced: u64,
    pub deferred: u64,
    pub first_seen: Option<Time>,
    pub last_seen: Option<Time>,
    /// The first failure of this cause.
    pub sample: Sample,
    #[serde(serialize_with = "as_recipients")]
    pub top_recipients: Vec<Counted>,
    #[serde(serialize_with = "as_domains")]
    pub top_domains: Vec<Counted>,
}

/// How often a cause was seen.
#[derive(Debug, Clone, Serialize)]
pub struct CauseCount {
    pub cause: CauseId,
    pub count: u64,
}

/// Failures for one destination domain.
#[derive(Debug, Clone, Serialize)]
pub struct DomainSummary {
    /// `None` for failures without a recipient (Postfix's `status=expired` of a message).
    pub domain: Option<String>,
    pub total: u64,
    pub bounced: u64,
    pub deferred: u64,
    /// Failures this domain may have had before it got a slot of the bounded table (0:
    /// the counts are exact).
    pub count_error: u64,
    pub first_seen: Option<Time>,
    pub last_seen: Option<Time>,
    pub sample: Option<Sample>,
    pub causes: Vec<CauseCount>,
    #[serde(serialize_with = "as_recipients")]
    pub top_recipients: Vec<Counted>,
    /// With `--probe`: the probe's verdict now (`ok`, `transient`, `permanent`, `unknown`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub now: Option<&'static str>,
}

/// Refusals of one cause by this server (the receiving side).
#[derive(Debug, Clone, Serialize)]
pub struct RefusalSummary {
    pub cause: CauseId,
    pub title: &'static str,
    pub count: u64,
    pub first_seen: Option<Time>,
    pub last_seen: Option<Time>,
    pub sample: Sample,
    #[serde(serialize_with = "as_clients")]
    pub top_clients: Vec<Counted>,
}

/// Mail this server refused: Postfix smtpd, cleanup and postscreen rejects.
#[derive(Debug, Clone, Serialize)]
pub struct RefusedByUs {
    pub total: u64,
    pub by_cause: Vec<RefusalSummary>,
}

/// Everything `smtpdiag logs` found.
#[derive(Debug, Clone, Serialize)]
pub struct LogSummary {
    pub lang: Lang,
    pub files: Vec<FileStats>,
    pub lines: u64,
    pub lines_skipped: u64,
    pub lines_too_long: u64,
    pub since: Option<Time>,
    pub until: Option<Time>,
    /// Failures and refusals left out by `--since` / `--until`.
    pub outside_window: u64,
    pub failures: u64,
    pub bounced: u64,
    pub deferred: u64,
    pub first_seen: Option<Time>,
    pub last_seen: Option<Time>,
    /// More domains failed than the table holds: the counts of the least affected are
    /// estimates (see `count_error`).
    pub domains_approximate: bool,
    pub by_cause: Vec<CauseSummary>,
    pub by_domain: Vec<DomainSummary>,
    pub refused_by_us: RefusedByUs,
}

impl LogSummary {
    /// Whether a file could not be read to its end.
    #[must_use]
    pub fn incomplete(&self) -> bool {
        self.files.iter().any(|f| f.error.is_some())
    }

    /// The exit status: 2 when a message bounced, 1 when deliveries were only deferred, 3
    /// when nothing failed but a file could not be read to its end, else 0.
    #[must_use]
    pub fn exit_status(&self) -> crate::ExitStatus {
        use crate::ExitStatus;
        if self.bounced > 0 {
            ExitStatus::Permanent
        } else if self.deferred > 0 {
            ExitStatus::Transient
        } else if self.incomplete() {
            ExitStatus::Incomplete
        } else {
            ExitStatus::Ok
        }
    }

    /// The `n` domains with the most failures (those with a name).
    #[must_use]
    pub fn worst_domains(&self, n: usize) -> Vec<String> {
        self.by_domain
            .iter()
            .filter_map(|d| d.domain.clone())
            .take(n)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Time {
        Time::from_parts(2026, 12, 1, 12, 0, 0)
    }

    fn events(line: &str) -> (bool, Vec<Event>) {
        let mut parser = LineParser::new(now());
        let mut found = Vec::new();
        let understood = parser.parse(line, &mut |e| found.push(e));
        (understood, found)
    }

    fn failure(line: &str) -> Failure {
        match events(line) {
            (true, mut found) if found.len() == 1 => match found.remove(0) {
                Event::Failure(f) => f,
                other @ Event::Refusal(_) => panic!("{line}: {other:?}"),
            },
            other => panic!("{line}: {other:?}"),
        }
    }

    fn refusal(line: &str) -> Refusal {
        match events(line) {
            (true, mut found) if found.len() == 1 => match found.remove(0) {
                Event::Refusal(r) => r,
                other @ Event::Failure(_) => panic!("{line}: {other:?}"),
            },
            other => panic!("{line}: {other:?}"),
        }
    }

    fn cause(f: &Failure) -> &'static str {
        cause_of(&f.classified_text(), Lang::En).id
    }

    #[test]
    fn calendar_round_trip() {
        for days in [-800_000, -1, 0, 1, 10_957, 20_000, 20_788, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(Time::from_parts(1970, 1, 1, 0, 0, 0).0, 0);
        assert_eq!(
            Time::from_parts(2026, 11, 30, 10, 15, 2).to_string(),
            "2026-11-30T10:15:02"
        );
    }

    #[test]
    fn time_bounds() {
        let t = |s| parse_time_bound(s).map(|t| t.to_string());
        assert_eq!(t("2026-11-30").unwrap(), "2026-11-30T00:00:00");
        assert_eq!(t("2026-11-30 10:15").unwrap(), "2026-11-30T10:15:00");
        assert_eq!(t("2026-11-30 10:15:02").unwrap(), "2026-11-30T10:15:02");
        assert_eq!(t("2026-11-30T10:15:02Z").unwrap(), "2026-11-30T10:15:02");
        assert_eq!(
            t("2026-11-30T10:15:02+01:00").unwrap(),
            "2026-11-30T09:15:02"
        );
        assert_eq!(
            t("2026-11-30T10:15:02.5-0130").unwrap(),
            "2026-11-30T11:45:02"
        );
        for bad in [
            "yesterday",
            "2026-13-01",
            "2026-11-30 25:00",
            "2026-11-30T10",
            "",
        ] {
            assert!(parse_time_bound(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn syslog_year_is_guessed() {
        let (t, _) = bsd_prefix("Nov 30 10:15:02 mail", now(), 2026).unwrap();
        assert_eq!(t.to_string(), "2026-11-30T10:15:02");
        // December 31st seen on December 1st: last year's.
        let (t, _) = bsd_prefix("Dec 31 23:59:59 mail", now(), 2026).unwrap();
        assert_eq!(t.to_string(), "2025-12-31T23:59:59");
        let (t, used) = bsd_prefix("Dec  2 01:00:00.123456 mail", now(), 2026).unwrap();
        assert_eq!(t.to_string(), "2026-12-02T01:00:00");
        assert_eq!(&"Dec  2 01:00:00.123456 mail"[used..], " mail");
    }

    #[test]
    fn postfix_smtp_bounce() {
        let f = failure(
            "Nov 30 10:15:02 mail postfix/smtp[1234]: 3F2A1B: to=<a@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=5.1.1, status=bounced (host mx.example.com[192.0.2.1] said: 550 5.1.1 <a@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command))",
        );
        assert_eq!(f.mta, Mta::Postfix);
        assert_eq!(f.outcome, Outcome::Bounced);
        assert_eq!(f.recipient.as_deref(), Some("a@example.com"));
        assert_eq!(
            f.status,
            "host mx.example.com[192.0.2.1] said: 550 5.1.1 <a@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command)"
        );
        assert_eq!(f.time.unwrap().to_string(), "2026-11-30T10:15:02");
        assert_eq!(cause(&f), "user-unknown");
    }

    #[test]
    fn postfix_deferrals_without_a_reply() {
        let f = failure(
            "Nov 30 10:16:00 mail postfix/smtp[1235]: 4B1C2D: to=<bob@slow.example>, relay=none, delay=30, delays=0.01/0/30/0, dsn=4.4.1, status=deferred (connect to mx.slow.example[192.0.2.2]:25: Connection timed out)",
        );
        assert_eq!(f.outcome, Outcome::Deferred);
        assert_eq!(
            f.classified_text(),
            "dsn=4.4.1 connect to mx.slow.example[192.0.2.2]:25: Connection timed out"
        );
        assert_eq!(cause(&f), "network-error");
        let f = failure(
            "Nov 30 10:17:00 mail postfix/smtp[1236]: 5C2D3E: to=<carol@nosuch.example>, relay=none, delay=0.2, delays=0.1/0/0.1/0, dsn=5.4.4, status=bounced (Host or domain name not found. Name service error for name=nosuch.example type=MX: Host not found)",
        );
        assert_eq!(cause(&f), "domain-not-found");
        let f = failure(
            "2026-11-30T10:18:00.123456+01:00 mail postfix/smtp[1237]: 6D3E4F: to=<dan@tls.example>, relay=mx.tls.example[192.0.2.3]:25, delay=1, delays=0/0/1/0, dsn=4.7.5, status=deferred (TLS is required, but was not offered by host mx.tls.example[192.0.2.3])",
        );
        assert_eq!(f.time.unwrap().to_string(), "2026-11-30T09:18:00");
        assert_eq!(cause(&f), "tls-required");
    }

    #[test]
    fn postfix_local_virtual_lmtp_and_qmgr() {
        let f = failure(
            "Nov 30 10:19:00 mail postfix/local[2001]: 7E4F50: to=<bob@mail.example.org>, relay=local, delay=0.1, delays=0.05/0/0/0.05, dsn=5.1.1, status=bounced (unknown user: \"bob\")",
        );
        assert_eq!(f.classified_text(), "dsn=5.1.1 unknown user: \"bob\"");
        assert_eq!(cause(&f), "user-unknown");
        let f = failure(
            "Nov 30 10:19:01 mail postfix/lmtp[2002]: 8F5061: to=<eve@example.org>, relay=mail.example.org[private/dovecot-lmtp], delay=0.2, delays=0.1/0/0/0.1, dsn=4.2.2, status=deferred (host mail.example.org[private/dovecot-lmtp] said: 452 4.2.2 <eve@example.org> Mailbox is full / Quota exceeded (in reply to end of data command))",
        );
        assert_eq!(cause(&f), "mailbox-full");
        let f = failure(
            "Nov 30 10:19:02 mail postfix/virtual[2003]: 906172: to=<fay@example.org>, relay=virtual, delay=0.1, delays=0/0/0/0.1, dsn=4.2.0, status=deferred (maildir delivery failed: create maildir file /var/mail/vhosts/example.org/fay/tmp/x: Disk quota exceeded)",
        );
        assert_eq!(f.recipient.as_deref(), Some("fay@example.org"));
        let f = failure(
            "Nov 30 10:19:03 mail postfix/qmgr[900]: A17283: from=<sender@example.net>, status=expired, returned to sender",
        );
        assert_eq!(f.outcome, Outcome::Bounced);
        assert_eq!(f.recipient, None);
        assert_eq!(cause(&f), "expired");
    }

    #[test]
    fn postfix_lines_that_are_not_failures() {
        for line in [
            "Nov 30 10:20:00 mail postfix/smtp[1]: B28394: to=<a@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=0.5, delays=0/0/0.2/0.3, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as C394A5)",
            "Nov 30 10:20:00 mail postfix/qmgr[900]: B28394: removed",
            "Nov 30 10:20:00 mail postfix/smtpd[77]: connect from unknown[192.0.2.9]",
            "Nov 30 10:20:00 mail postfix/smtp[1]: connect to mx.example.com[192.0.2.1]:25: Connection refused",
        ] {
            assert_eq!(events(line), (true, vec![]), "{line}");
        }
        for line in [
            "Nov 30 10:20:00 mail dovecot: imap-login: Login: user=<a>",
            "garbage",
            "",
            "\u{0}\u{1}\u{2}binary",
        ] {
            assert_eq!(events(line), (false, vec![]), "{line}");
        }
    }

    #[test]
    fn receiving_side_refusals() {
        let r = refusal(
            "Nov 30 10:21:00 mail postfix/smtpd[3001]: NOQUEUE: reject: RCPT from unknown[192.0.2.7]: 554 5.7.1 <x@example.org>: Relay access denied; from=<spam@example.net> to=<x@example.org> proto=ESMTP helo=<spammer>",
        );
        assert_eq!(r.client.as_deref(), Some("192.0.2.7"));
        assert_eq!(cause_of(&r.status, Lang::En).id, "relay-denied");
        let r = refusal(
            "Nov 30 10:21:01 mail postfix/postscreen[3002]: NOQUEUE: reject: RCPT from [192.0.2.8]:40000: 550 5.7.1 Service unavailable; client [192.0.2.8] blocked using zen.spamhaus.org; from=<a@example.net>, to=<b@example.org>, proto=ESMTP, helo=<x>",
        );
        assert_eq!(cause_of(&r.status, Lang::En).id, "blocklisted");
        let r = refusal(
            "Nov 30 10:21:02 mail postfix/postscreen[3002]: PREGREET 11 after 0.08 from [192.0.2.9]:40001: EHLO x\\r\\n",
        );
        assert_eq!(cause_of(&r.status, Lang::En).id, "protocol-violation");
        let r = refusal(
            "Nov 30 10:21:03 mail postfix/postscreen[3002]: DNSBL rank 3 for [192.0.2.10]:40002",
        );
        assert_eq!(r.client.as_deref(), Some("192.0.2.10"));
    }

    #[test]
    fn exim_bounce_and_deferrals() {
        let f = failure(
            "2026-11-30 10:15:02 1tQabc-000123-AB ** bob@example.com R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.1]: SMTP error from remote mail server after RCPT TO:<bob@example.com>: 550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
        );
        assert_eq!((f.mta, f.outcome), (Mta::Exim, Outcome::Bounced));
        assert_eq!(f.recipient.as_deref(), Some("bob@example.com"));
        assert!(
            f.status
                .starts_with("SMTP error from remote mail server after RCPT TO:")
        );
        assert_eq!(cause(&f), "user-unknown");
        let f = failure(
            "2026-11-30 10:15:03.123 +0100 [4242] 1tQabd-000124-AC == carol@grey.example R=dnslookup T=remote_smtp defer (-44) H=mx.grey.example [192.0.2.5]: SMTP error from remote mail server after RCPT TO:<carol@grey.example>: 451 4.7.1 Greylisted, please try again later",
        );
        assert_eq!(f.outcome, Outcome::Deferred);
        assert_eq!(f.time.unwrap().to_string(), "2026-11-30T09:15:03");
        assert_eq!(cause(&f), "greylisted");
        let f = failure(
            "2026-11-30 10:15:04 1tQabe-000125-AD == dan@slow.example R=dnslookup T=remote_smtp defer (110): Connection timed out",
        );
        assert_eq!(f.status, "Connection timed out");
        assert_eq!(cause(&f), "network-error");
        let f = failure(
            "2026-11-30 10:15:05 1tQabf-000126-AE ** x@nosuch.example: Unrouteable address",
        );
        assert_eq!(f.recipient.as_deref(), Some("x@nosuch.example"));
        assert_eq!(f.status, "Unrouteable address");
        // Other Exim lines are understood and report nothing.
        for line in [
            "2026-11-30 10:15:06 1tQabf-000126-AE <= s@example.net H=localhost [127.0.0.1] P=esmtp S=1234",
            "2026-11-30 10:15:06 1tQabf-000126-AE => a@example.com R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.1]",
            "2026-11-30 10:15:06 Start queue run: pid=123",
        ] {
            assert_eq!(events(line), (true, vec![]), "{line}");
        }
    }

    #[test]
    fn sendmail_lines() {
        let f = failure(
            "Nov 30 10:22:00 mail sm-mta[5001]: 4AUAM0xY005001: to=<bob@example.com>, ctladdr=<s@example.net> (1000/1000), delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=120000, relay=mx.example.com. [192.0.2.1], dsn=5.1.1, stat=User unknown",
        );
        assert_eq!((f.mta, f.outcome), (Mta::Sendmail, Outcome::Bounced));
        assert_eq!(f.classified_text(), "dsn=5.1.1 User unknown");
        assert_eq!(cause(&f), "user-unknown");
        let f = failure(
            "Nov 30 10:22:01 mail sendmail[5002]: 4AUAM1xY005002: to=carol@slow.example, delay=00:05:00, xdelay=00:05:00, mailer=esmtp, pri=120000, relay=mx.slow.example. [192.0.2.2], dsn=4.0.0, stat=Deferred: Connection timed out with mx.slow.example.",
        );
        assert_eq!(f.outcome, Outcome::Deferred);
        assert_eq!(f.recipient.as_deref(), Some("carol@slow.example"));
        assert_eq!(cause(&f), "network-error");
        let f = failure(
            "Nov 30 10:22:02 mail sm-mta[5003]: 4AUAM2xY005003: to=<dan@grey.example>, delay=00:00:02, mailer=esmtp, pri=120000, relay=mx.grey.example. [192.0.2.5], dsn=4.7.1, stat=Deferred: 451 4.7.1 Greylisted, see http://postgrey.example/",
        );
        assert_eq!(cause(&f), "greylisted");
        let (understood, found) = events(
            "Nov 30 10:22:03 mail sm-mta[5004]: 4AUAM3xY005004: to=<a@example.com>, delay=00:00:01, mailer=esmtp, pri=120000, relay=mx.example.com. [192.0.2.1], dsn=2.0.0, stat=Sent (4AUAM3xY005004 Message accepted for delivery)",
        );
        assert!(understood && found.is_empty());
    }

    #[test]
    fn exchange_tracking_log() {
        let mut parser = LineParser::new(now());
        let mut found = Vec::new();
        let mut push = |e| found.push(e);
        assert!(parser.parse("#Software: Microsoft Exchange Server", &mut push));
        assert!(parser.parse("#Fields: date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data", &mut push));
        assert!(parser.parse("2026-11-30T10:23:00.123Z,,,192.0.2.20,EX01,,,SMTP,FAIL,1234,<m1@example.net>,abcd,bob@example.com,\"550 5.1.1 RESOLVER.ADR.RecipNotFound; not found\",2048,1,,,\"Hello, world\",s@example.net,s@example.net,,Originating,,,,", &mut push));
        assert!(parser.parse("2026-11-30T10:24:00.000Z,,,192.0.2.20,EX01,,,SMTP,DEFER,1235,<m2@example.net>,abce,a@slow.example;b@slow.example,451 4.4.0 Primary target IP address responded with: \"\"421 4.4.2 Connection dropped due to SocketError.\"\",2048,2,,,Hi,s@example.net,s@example.net,,Originating,,,,", &mut push));
        assert!(parser.parse("2026-11-30T10:25:00.000Z,,,192.0.2.20,EX01,,,SMTP,SEND,1236,<m3@example.net>,abcf,c@example.com,250 2.6.0 Queued mail for delivery,2048,1,,,Hi,s@example.net,s@example.net,,Originating,,,,", &mut push));
        assert_eq!(found.len(), 3);
        let Event::Failure(f) = &found[0] else {
            panic!()
        };
        assert_eq!((f.mta, f.outcome), (Mta::Exchange, Outcome::Bounced));
        assert_eq!(f.status, "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found");
        assert_eq!(cause(f), "user-unknown");
        let Event::Failure(f) = &found[2] else {
            panic!()
        };
        assert_eq!(f.recipient.as_deref(), Some("b@slow.example"));
        assert_eq!(f.outcome, Outcome::Deferred);
    }

    #[test]
    fn cache_keys_leave_out_addresses_only() {
        assert_eq!(
            cache_key(
                "host mx.example.com[192.0.2.1] said: 550 5.1.1 <a@example.com>: [TS01] x[2001:db8::1]:25"
            ),
            "host mx.example.com[] said: 550 5.1.1 @ [TS01] x[]:25"
        );
        assert_eq!(cache_key("a[b"), "a[b");
    }

    #[test]
    fn top_counter_is_bounded_and_finds_heavy_hitters() {
        let mut top: TopCounter = TopCounter::new(4);
        for i in 0..10_000 {
            top.add(&format!("rare{i}"));
            if i % 3 == 0 {
                top.add("heavy");
            }
        }
        assert!(top.slots.len() <= 4);
        // Space-Saving's guarantee: the counts add up to what was counted.
        assert_eq!(
            top.slots.iter().map(|s| s.count).sum::<u64>(),
            10_000 + 3334
        );
        let first = &top.top(1)[0];
        assert_eq!(first.key, "heavy");
        assert!(first.count >= 3334);
        assert!(top.approximate());
    }

    #[test]
    fn reader_counts_bad_lines_and_long_ones() {
        let mut reader = LogReader::new(LogOptions {
            lang: Lang::En,
            since: None,
            until: None,
            now: now(),
        });
        let mut log = String::new();
        log.push_str("Nov 30 10:15:02 mail postfix/smtp[1]: A: to=<a@example.com>, relay=x, dsn=5.1.1, status=bounced (host x said: 550 5.1.1 User unknown (in reply to RCPT TO command))\n");
        log.push_str(&"x".repeat(MAX_LINE + 10));
        log.push('\n');
        log.push_str("not a log line\n");
        log.push_str("Nov 30 10:15:03 mail postfix/smtp[1]: B: to=<b@example.com>, relay=x, dsn=4.4.1, status=deferred (connect to x[192.0.2.1]:25: Connection timed out)");
        reader.read("test", log.as_bytes());
        let summary = reader.summary();
        assert_eq!(summary.lines, 4);
        assert_eq!(summary.lines_skipped, 2);
        assert_eq!(summary.lines_too_long, 1);
        assert_eq!((summary.bounced, summary.deferred), (1, 1));
        assert_eq!(summary.by_domain[0].domain.as_deref(), Some("example.com"));
        assert_eq!(summary.by_domain[0].total, 2);
        assert_eq!(summary.exit_status(), crate::ExitStatus::Permanent);
    }

    #[test]
    fn since_and_until_filter() {
        let mut reader = LogReader::new(LogOptions {
            lang: Lang::En,
            since: Some(parse_time_bound("2026-11-30 10:15:03").unwrap()),
            until: Some(parse_time_bound("2026-11-30 10:15:04").unwrap()),
            now: now(),
        });
        let log = "2026-11-30 10:15:02 1tQabe-000125-AD == a@x.example R=d T=t defer (110): Connection timed out\n\
                   2026-11-30 10:15:03 1tQabe-000125-AD == b@x.example R=d T=t defer (110): Connection timed out\n\
                   2026-11-30 10:15:04 1tQabe-000125-AD == c@x.example R=d T=t defer (110): Connection timed out\n";
        reader.read("exim", log.as_bytes());
        let summary = reader.summary();
        assert_eq!(summary.failures, 1);
        assert_eq!(summary.outside_window, 2);
        assert_eq!(summary.by_cause[0].top_recipients[0].key, "b@x.example");
    }
}
