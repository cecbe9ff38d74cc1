//! The exit status of every command, named in one place.
//!
//! 0–3 follow the Nagios / Icinga plugin convention (OK, WARNING, CRITICAL, UNKNOWN), so a
//! probe can be used as a monitoring check as it is; 64 is `EX_USAGE` from sysexits.h.

/// How smtpdiag ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExitStatus {
    /// The command did what was asked; for a probe: mail to the domain is deliverable.
    Ok = 0,
    /// A probe met a transient failure (4xx, a timeout that may clear).
    Transient = 1,
    /// A probe met a permanent failure (5xx, null MX, no way to deliver).
    Permanent = 2,
    /// The probe could not complete (resolver unusable, every connection blocked on the
    /// sender's side): nothing is known about the domain.
    Incomplete = 3,
    /// Bad flags or bad input: nothing was done.
    Usage = 64,
}

impl ExitStatus {
    /// The status a number stands for; anything unknown is treated as incomplete.
    #[must_use]
    pub fn from_code(code: u8) -> ExitStatus {
        match code {
            0 => ExitStatus::Ok,
            1 => ExitStatus::Transient,
            2 => ExitStatus::Permanent,
            64 => ExitStatus::Usage,
            _ => ExitStatus::Incomplete,
        }
    }

    /// The number handed to the operating system.
    #[must_use]
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}
