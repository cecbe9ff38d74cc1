//! Many domains: the list streamed from its file, probed `concurrency` at a time in input
//! order, and a summary that stays the same size however long the list is. A list can be cut into
//! stable shards (`--shard K/N`, one per machine) and a run resumed from the JSON Lines a
//! previous one wrote (`--resume FILE`).

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::time::Duration;

use futures_util::{Stream, StreamExt};

use crate::config::{self, Shard, Target, Targets};
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
/// settings' destination limiter keeps one dialogue per server address at a time. A report
/// comes out as soon as it and the ones before it are done: an interrupted run loses at
/// most `concurrency` of them (`--resume` probes them again).
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

/// The key that places a list entry in a shard and finds it in a resumed output: the
/// domain's A-label form, lower-cased, without a final dot; for a line that is not a
/// domain, the line itself, lower-cased.
fn key(item: &Item) -> String {
    match item {
        Ok(target) => target.domain.ascii.clone(),
        Err((input, _)) => input.trim_end_matches('.').to_ascii_lowercase(),
    }
}

/// FNV-1a, 64 bits: stable across runs, machines and versions (std's hasher is seeded at
/// random per process, so it cannot say which machine owns a domain).
#[must_use]
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// FNV-1a, 128 bits: the resumed domains are kept as these, 16 bytes each, whatever the
/// length of the names (a collision among a billion names has a chance of about 10^-21).
fn fnv1a_128(bytes: &[u8]) -> u128 {
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for byte in bytes {
        hash ^= u128::from(*byte);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    hash
}

/// Whether the domain (A-label form, lower-cased) belongs to the shard: FNV-1a of the
/// name, modulo N, is K.
#[must_use]
pub fn in_shard(shard: Shard, key: &str) -> bool {
    fnv1a_64(key.as_bytes()) % shard.count == shard.index
}

/// The domains a previous run already wrote: every JSON line with an `ascii_domain`. A
/// line cut off by an interruption does not count, so that domain is probed again; lines
/// about input that is not a domain do not count either (they are reported again).
#[derive(Debug, Default)]
pub struct Done {
    domains: HashSet<u128>,
}

impl Done {
    /// Reads a JSON Lines output of `smtpdiag --json`.
    pub fn load(path: &Path) -> Result<Done, Error> {
        #[derive(serde::Deserialize)]
        struct Line {
            ascii_domain: Option<String>,
        }
        let file = File::open(path).map_err(|e| {
            Error::Usage(format!("--resume {}: cannot read it: {e}", path.display()))
        })?;
        let mut done = Done::default();
        for line in BufReader::new(file).split(b'\n') {
            let line = line.map_err(|e| {
                Error::Usage(format!("--resume {}: cannot read it: {e}", path.display()))
            })?;
            if let Ok(Line {
                ascii_domain: Some(domain),
            }) = serde_json::from_slice::<Line>(&line)
            {
                done.domains.insert(fnv1a_128(domain.as_bytes()));
            }
        }
        Ok(done)
    }

    /// How many domains the previous run finished.
    #[must_use]
    pub fn len(&self) -> usize {
        self.domains.len()
    }

    /// Whether no domain was finished.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    fn contains(&self, key: &str) -> bool {
        self.domains.contains(&fnv1a_128(key.as_bytes()))
    }
}

/// The entries of `targets` in `shard` and not in `done`, lazily.
#[must_use]
pub fn select(targets: TargetStream, shard: Option<Shard>, done: Option<Done>) -> TargetStream {
    if shard.is_none() && done.is_none() {
        return targets;
    }
    Box::new(targets.filter(move |item| {
        let key = key(item);
        shard.is_none_or(|s| in_shard(s, &key)) && done.as_ref().is_none_or(|d| !d.contains(&key))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_the_published_function() {
        // Test vectors of the FNV reference (draft-eastlake-fnv).
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn shards_cover_a_list_once() {
        let shards: Vec<Shard> = (0..4).map(|index| Shard { index, count: 4 }).collect();
        for n in 0..1000 {
            let domain = format!("d{n:04}.example");
            assert_eq!(shards.iter().filter(|s| in_shard(**s, &domain)).count(), 1);
        }
    }

    #[test]
    fn resume_skips_written_domains_but_not_cut_lines() {
        let dir = std::env::temp_dir().join(format!("smtpdiag-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.jsonl");
        std::fs::write(
            &path,
            "{\"domain\":\"a.example\",\"ascii_domain\":\"a.example\",\"verdict\":\"ok\"}\n\
             {\"input\":\"bad..name\",\"error\":\"not a domain name\"}\n\
             {\"domain\":\"b.example\",\"ascii_do",
        )
        .unwrap();
        let done = Done::load(&path).unwrap();
        assert_eq!(done.len(), 1);
        assert!(done.contains("a.example"));
        assert!(!done.contains("b.example"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
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
