//! Many domains: the list streamed from its file, probed `concurrency` at a time in input
//! order, and a summary that stays the same size however long the list is.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use std::time::Duration;

use futures_util::{Stream, StreamExt};

use crate::config::{self, Target, Targets};
use crate::dns::Dns;
use crate::error::Error;
use crate::exit::ExitStatus;
use crate::probe::{self, ProbeSettings};
use crate::report::{Report, Verdict};

/// A domain of the list: checked, or the input line and the reason it cannot be probed.
pub type Item = Result<Target, (String, Error)>;

/// The domains of a list, read lazily.
pub type TargetStream = Box<dyn Iterator<Item = Item>>;

/// The domains to probe, lazily, and how many there are when that is known in advance.
pub fn targets(
    targets: &Targets,
    rcpts: &[String],
) -> Result<(TargetStream, Option<usize>), Error> {
    Ok(match targets {
        Targets::Listed(list) => (Box::new(list.clone().into_iter().map(Ok)), Some(list.len())),
        Targets::File(path) => (read_targets(path, rcpts.to_vec())?, None),
    })
}

/// The lines of a domain list, read lazily and checked line by line
/// (`config::target_lines`): blank lines and `#` comments skipped, an error per bad line.
pub fn read_targets(path: &Path, rcpts: Vec<String>) -> Result<TargetStream, Error> {
    if path == Path::new("-") {
        let stdin = BufReader::new(io::stdin());
        return Ok(Box::new(config::target_lines(
            stdin,
            "standard input",
            rcpts,
        )));
    }
    let file = File::open(path)
        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
    let name = path.display().to_string();
    Ok(Box::new(config::target_lines(
        BufReader::new(file),
        &name,
        rcpts,
    )))
}

/// The batch engine: `buffered` runs up to `concurrency` probes at once and yields them in
/// input order, holding no more than that many, so the list is streamed, never loaded; the
/// settings' destination limiter keeps one dialogue per server address at a time.
pub fn probe_all<'a, D: Dns>(
    dns: &'a D,
    targets: impl Iterator<Item = Item> + 'a,
    settings: &'a ProbeSettings,
    concurrency: usize,
) -> impl Stream<Item = Result<Report, (String, Error)>> + 'a {
    futures_util::stream::iter(targets)
        .map(move |item| async move {
            match item {
                Ok(target) => Ok(probe::probe(dns, &target.domain, &target.rcpts, settings).await),
                Err(bad) => Err(bad),
            }
        })
        .buffered(concurrency.max(1))
}

/// What a batch came to: how many domains got each verdict, the first failing ones, and the
/// exit status — a bad input line wins (the list needs fixing), then the worst verdict,
/// with "could not determine" below any real failure.
#[derive(Debug, Clone, Default)]
pub struct BatchSummary {
    /// Domains by exit code of their verdict: ok, transient, permanent, unknown.
    pub counts: [usize; 4],
    /// The failing domains, at most [`BatchSummary::FAILING_ROWS`] of them, in input order.
    pub failing: Vec<(String, Verdict, Duration)>,
    bad_input: bool,
    worst: Option<Verdict>,
}

impl BatchSummary {
    /// The summary lists at most this many failing domains, so that memory stays flat
    /// however long the list is.
    pub const FAILING_ROWS: usize = 50;

    /// Counts one report.
    pub fn add(&mut self, report: &Report) {
        let rank = |v: Verdict| match v {
            Verdict::Ok => 0,
            Verdict::Unknown => 1,
            Verdict::Transient => 2,
            Verdict::Permanent => 3,
        };
        if self.worst.is_none_or(|w| rank(report.verdict) > rank(w)) {
            self.worst = Some(report.verdict);
        }
        self.counts[usize::from(report.exit_code.min(3))] += 1;
        if report.verdict != Verdict::Ok && self.failing.len() < Self::FAILING_ROWS {
            self.failing
                .push((report.domain.clone(), report.verdict, report.timings.total));
        }
    }

    /// Counts a line of the list that is not a domain.
    pub fn add_bad_input(&mut self) {
        self.bad_input = true;
    }

    /// The exit status of the whole batch.
    #[must_use]
    pub fn status(&self) -> ExitStatus {
        if self.bad_input {
            ExitStatus::Usage
        } else {
            self.worst.map_or(ExitStatus::Ok, Verdict::exit_status)
        }
    }
}
