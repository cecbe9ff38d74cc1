//! The tables `build.rs` generates from `kb/`.

#![allow(clippy::unreadable_literal, clippy::doc_markdown)]

use super::pattern::PatternPieces;
// SignatureText is unused only while kb/signatures.toml is empty.
#[allow(unused_imports)]
use super::{
    BasicFacts, BlocklistFacts, BlocklistText, CauseFacts, CauseRule, CauseText, ClassText,
    CodeText, EnhancedFacts, FindingText, LangData, Side, SignatureFacts, SignatureText, Stage,
};

include!(concat!(env!("OUT_DIR"), "/kb_data.rs"));
