//! Many patterns, compiled only when needed.
//!
//! Compiling every reply pattern costs far more than the rest of `smtpdiag explain`.
//! `build.rs` cuts each pattern at its top-level `|` into pieces and indexes the literals
//! one of which every match of a piece contains, by their first three bytes. One walk over
//! a text finds the pieces that can match it, and only those are compiled, once per
//! process.

use std::sync::OnceLock;

use regex::bytes::{Regex, RegexBuilder};

/// (first three bytes as a number, literal in lower case, the (piece, set) pairs it
/// belongs to).
pub type IndexedLiteral = (u32, &'static str, &'static [(usize, usize)]);

/// The pieces of a list of patterns and the index of their literals (made by `build.rs`).
#[derive(Debug)]
pub struct PatternPieces {
    /// (the pattern it belongs to, the piece, how many literal sets it requires), in
    /// pattern order.
    pub pieces: &'static [(usize, &'static str, usize)],
    /// Pieces without literals: candidates for every text.
    pub always: &'static [usize],
    /// (first three bytes as a number, literal in lower case, the (piece, set) pairs it
    /// belongs to), sorted by the first field. A piece is a candidate when the text holds
    /// a literal of each of its sets.
    pub literals: &'static [IndexedLiteral],
}

/// A piece of a pattern that matched, and where.
#[derive(Debug)]
pub(crate) struct PieceMatch<'a> {
    /// The pattern the piece belongs to.
    pub pattern: usize,
    pub regex: &'a Regex,
    /// Where the match starts in the text.
    pub start: usize,
    /// The text the piece matched.
    pub found: &'a [u8],
}

/// Patterns in priority order, compiled piece by piece as texts need them.
#[derive(Debug)]
pub(crate) struct LazyPatterns {
    data: &'static PatternPieces,
    compiled: Vec<OnceLock<Regex>>,
}

impl LazyPatterns {
    pub(crate) fn new(data: &'static PatternPieces) -> Self {
        LazyPatterns {
            data,
            compiled: data.pieces.iter().map(|_| OnceLock::new()).collect(),
        }
    }

    /// The pieces that may match `text`, in priority order.
    fn candidates(&self, text: &[u8]) -> Vec<usize> {
        // One bit per literal set found, for each piece.
        let mut found = vec![0u8; self.data.pieces.len()];
        let lower = text.to_ascii_lowercase();
        let literals = self.data.literals;
        for at in 0..lower.len().saturating_sub(2) {
            let key = (u32::from(lower[at]) << 16)
                | (u32::from(lower[at + 1]) << 8)
                | u32::from(lower[at + 2]);
            let first = literals.partition_point(|(k, _, _)| *k < key);
            for (k, literal, pieces) in &literals[first..] {
                if *k != key {
                    break;
                }
                if lower[at..].starts_with(literal.as_bytes()) {
                    for (piece, set) in *pieces {
                        found[*piece] |= 1 << set;
                    }
                }
            }
        }
        let mut candidates: Vec<usize> = self
            .data
            .pieces
            .iter()
            .enumerate()
            .filter(|(i, (_, _, sets))| *sets > 0 && u32::from(found[*i]) == (1u32 << sets) - 1)
            .map(|(i, _)| i)
            .collect();
        candidates.extend(self.data.always);
        candidates.sort_unstable();
        candidates
    }

    fn regex(&self, piece: usize) -> &Regex {
        self.compiled[piece].get_or_init(|| {
            build(self.data.pieces[piece].1).expect("reply patterns are checked by the test suite")
        })
    }

    /// The first pattern, in priority order, that `wanted` accepts and that matches
    /// `text`: the leftmost match among its pieces.
    pub(crate) fn first_match<'a>(
        &'a self,
        text: &'a [u8],
        wanted: impl Fn(usize) -> bool,
    ) -> Option<PieceMatch<'a>> {
        let mut best: Option<PieceMatch<'a>> = None;
        for piece in self.candidates(text) {
            let pattern = self.data.pieces[piece].0;
            if best.as_ref().is_some_and(|b| b.pattern != pattern) {
                break;
            }
            if !wanted(pattern) {
                continue;
            }
            let regex = self.regex(piece);
            if let Some(m) = regex.find(text) {
                if best.as_ref().is_none_or(|b| m.start() < b.start) {
                    best = Some(PieceMatch {
                        pattern,
                        regex,
                        start: m.start(),
                        found: m.as_bytes(),
                    });
                }
            }
        }
        best
    }

    /// Every pattern that matches `text`, in priority order.
    pub(crate) fn all_matches(&self, text: &[u8]) -> Vec<usize> {
        let mut patterns: Vec<usize> = self
            .candidates(text)
            .into_iter()
            .filter(|&piece| self.regex(piece).is_match(text))
            .map(|piece| self.data.pieces[piece].0)
            .collect();
        patterns.dedup();
        patterns
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

/// How many pieces have no literal and are compiled for every text.
#[must_use]
pub fn pieces_without_literals(data: &PatternPieces) -> usize {
    data.always.len()
}
