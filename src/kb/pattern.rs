//! Many patterns, compiled only when needed.
//!
//! Compiling every reply pattern costs far more than the rest of `smtpdiag explain`. Each
//! pattern comes with literals one of which every match contains (found at build time);
//! one Aho-Corasick scan finds which patterns can match a text, and only those are
//! compiled, once per process.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::bytes::{Regex, RegexBuilder};

/// A list of patterns with their required literals, in priority order.
#[derive(Debug)]
pub(crate) struct LazyPatterns {
    patterns: Vec<&'static str>,
    /// Patterns without literals: candidates for every text.
    always: Vec<usize>,
    /// For each literal of `scanner`, the patterns that require it.
    owners: Vec<Vec<usize>>,
    scanner: AhoCorasick,
    compiled: Vec<OnceLock<Regex>>,
}

impl LazyPatterns {
    /// Builds the scanner; `entries` are (pattern, literals) in priority order.
    pub(crate) fn new(
        entries: impl Iterator<Item = (&'static str, &'static [&'static str])>,
    ) -> Self {
        let mut patterns = Vec::new();
        let mut always = Vec::new();
        let mut literals: Vec<&'static str> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        for (index, (pattern, required)) in entries.enumerate() {
            patterns.push(pattern);
            if required.is_empty() {
                always.push(index);
            }
            for literal in required {
                match literals.iter().position(|l| l == literal) {
                    Some(at) => owners[at].push(index),
                    None => {
                        literals.push(literal);
                        owners.push(vec![index]);
                    }
                }
            }
        }
        let scanner = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            // The scanner is built once per process and used a few times: build fast.
            .kind(Some(AhoCorasickKind::NoncontiguousNFA))
            .build(&literals)
            .expect("literal set is small");
        let compiled = patterns.iter().map(|_| OnceLock::new()).collect();
        LazyPatterns {
            patterns,
            always,
            owners,
            scanner,
            compiled,
        }
    }

    /// The indices of the patterns that may match `text`, in priority order.
    pub(crate) fn candidates(&self, text: &[u8]) -> Vec<usize> {
        let mut hit = vec![false; self.patterns.len()];
        for index in &self.always {
            hit[*index] = true;
        }
        for found in self.scanner.find_overlapping_iter(text) {
            for index in &self.owners[found.pattern().as_usize()] {
                hit[*index] = true;
            }
        }
        hit.iter()
            .enumerate()
            .filter_map(|(i, h)| h.then_some(i))
            .collect()
    }

    /// The compiled pattern `index`.
    pub(crate) fn regex(&self, index: usize) -> &Regex {
        self.compiled[index].get_or_init(|| {
            build(self.patterns[index]).expect("reply patterns are checked by the test suite")
        })
    }

    /// The first pattern, in priority order, that matches `text`.
    pub(crate) fn first_match(&self, text: &[u8]) -> Option<usize> {
        self.candidates(text)
            .into_iter()
            .find(|&i| self.regex(i).is_match(text))
    }

    /// Every pattern that matches `text`, in priority order.
    pub(crate) fn all_matches(&self, text: &[u8]) -> Vec<usize> {
        self.candidates(text)
            .into_iter()
            .filter(|&i| self.regex(i).is_match(text))
            .collect()
    }
}

/// Compiles one reply pattern: case-insensitive, over bytes. Byte patterns without
/// Unicode classes compile several times faster, and replies are ASCII by RFC 5321; a
/// non-ASCII byte still matches `.` and negated classes.
pub(crate) fn build(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .unicode(false)
        .size_limit(1 << 20)
        .build()
}
