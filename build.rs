//! Turns the knowledge base under `kb/` into Rust tables embedded in the binary.
//!
//! Parsing the TOML at run time would cost milliseconds on every `smtpdiag explain`; doing it
//! here costs nothing at run time and turns a malformed data file into a build error that
//! names the file. Completeness (every field of every entry in every language) is left to
//! `cargo test`, so a translator with a half-done language can still build and see the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

const REFERENCE_LANG: &str = "en";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodesFile {
    basic: Vec<BasicFacts>,
    enhanced: Vec<EnhancedFacts>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BasicFacts {
    code: u16,
    rfc: Vec<String>,
    stages: Vec<String>,
    #[serde(default)]
    closes: bool,
    side: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnhancedFacts {
    code: String,
    classes: Vec<u8>,
    basic: Vec<u16>,
    rfc: Vec<String>,
    side: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SignaturesFile {
    #[serde(default)]
    signature: Vec<SignatureFacts>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureFacts {
    id: String,
    provider: String,
    kind: String,
    cause: String,
    pattern: String,
    #[serde(default)]
    url: Option<String>,
    examples: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CausesFile {
    #[serde(default)]
    cause: Vec<CauseFacts>,
    #[serde(default)]
    rule: Vec<CauseRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CauseFacts {
    id: String,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    codes: Vec<String>,
    #[serde(default)]
    fallback: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CauseRule {
    cause: String,
    strength: String,
    words: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CauseText {
    #[serde(default)]
    title: String,
    #[serde(default)]
    explanation: String,
    #[serde(default)]
    fix: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CodeText {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    when: String,
    #[serde(default)]
    fix: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ClassText {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    when: String,
    #[serde(default)]
    fix: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ClassesFile {
    #[serde(default)]
    basic_class: BTreeMap<String, ClassText>,
    #[serde(default)]
    basic_category: BTreeMap<String, ClassText>,
    #[serde(default)]
    enhanced_class: BTreeMap<String, ClassText>,
    #[serde(default)]
    enhanced_subject: BTreeMap<String, ClassText>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BlocklistsFile {
    #[serde(default)]
    list: Vec<BlocklistFacts>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlocklistFacts {
    zone: String,
    name: String,
    ipv6: bool,
    lookup: String,
    answers: Vec<std::net::Ipv4Addr>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BlocklistText {
    #[serde(default)]
    delist: String,
    #[serde(default)]
    answers: BTreeMap<String, String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct FindingText {
    #[serde(default)]
    title: String,
    #[serde(default)]
    explanation: String,
    #[serde(default)]
    fix: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SignatureText {
    #[serde(default)]
    title: String,
    #[serde(default)]
    cause: String,
    #[serde(default)]
    fix: String,
}

fn main() {
    let kb = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("kb");
    println!("cargo::rerun-if-changed=kb");

    let codes: CodesFile = parse(&kb.join("codes.toml"));
    let signatures: SignaturesFile = parse_optional(&kb.join("signatures.toml"));
    let basic_keys: BTreeSet<String> = codes.basic.iter().map(|b| b.code.to_string()).collect();
    let enhanced_keys: BTreeSet<String> = codes.enhanced.iter().map(|e| e.code.clone()).collect();
    let signature_ids: BTreeSet<&str> =
        signatures.signature.iter().map(|s| s.id.as_str()).collect();
    let blocklists: BlocklistsFile = parse_optional(&kb.join("dnsbl.toml"));
    let causes: CausesFile = parse(&kb.join("causes.toml"));
    let cause_ids: BTreeSet<&str> = causes.cause.iter().map(|c| c.id.as_str()).collect();

    let langs = languages(&kb);
    let mut out = String::new();
    out.push_str("// @generated by build.rs from kb/. Edit the TOML files, not this.\n\n");
    emit_lang_enum(&mut out, &langs);
    emit_facts(&mut out, &codes);
    emit_signatures(&mut out, &signatures, &cause_ids);
    emit_causes(&mut out, &causes, &cause_ids);
    emit_blocklists(&mut out, &blocklists);

    let reference_ui = ui_strings(&kb.join(REFERENCE_LANG));
    emit_ui_struct(&mut out, &reference_ui);
    let reference_findings: BTreeMap<String, FindingText> =
        parse(&kb.join(REFERENCE_LANG).join("findings.toml"));
    emit_finding_kinds(&mut out, &reference_findings);
    let mut ui_missing = Vec::new();
    for lang in &langs {
        let dir = kb.join(lang);
        let texts = code_texts(&dir, &basic_keys, &enhanced_keys);
        let classes: ClassesFile = parse_optional(&dir.join("classes.toml"));
        let sig_texts: BTreeMap<String, SignatureText> =
            parse_optional(&dir.join("signatures.toml"));
        for id in sig_texts.keys() {
            assert!(
                signature_ids.contains(id.as_str()),
                "{}: text for unknown signature id {id:?}",
                dir.join("signatures.toml").display()
            );
        }
        let findings: BTreeMap<String, FindingText> = parse_optional(&dir.join("findings.toml"));
        let cause_texts: BTreeMap<String, CauseText> = parse_optional(&dir.join("causes.toml"));
        for id in cause_texts.keys() {
            assert!(
                cause_ids.contains(id.as_str()),
                "kb/{lang}/causes.toml: {id:?} is not a cause of kb/causes.toml"
            );
        }
        let dnsbl: BTreeMap<String, BlocklistText> = parse_optional(&dir.join("dnsbl.toml"));
        for zone in dnsbl.keys() {
            assert!(
                blocklists.list.iter().any(|l| &l.zone == zone),
                "kb/{lang}/dnsbl.toml: {zone:?} is not a list of kb/dnsbl.toml"
            );
        }
        for kind in findings.keys() {
            assert!(
                reference_findings.contains_key(kind),
                "kb/{lang}/findings.toml: {kind:?} is not in kb/{REFERENCE_LANG}/findings.toml"
            );
        }
        let ui = if lang == REFERENCE_LANG {
            reference_ui.clone()
        } else {
            ui_strings(&dir)
        };
        for key in ui.keys() {
            assert!(
                reference_ui.contains_key(key),
                "kb/{lang}/ui.toml: {key:?} is not in kb/{REFERENCE_LANG}/ui.toml"
            );
        }
        for key in reference_ui.keys() {
            if !ui.contains_key(key) {
                ui_missing.push((lang.clone(), key.clone()));
            }
        }
        emit_lang_data(
            &mut out,
            lang,
            &LangTexts {
                codes: &texts,
                classes: &classes,
                signatures: &sig_texts,
                findings: &findings,
                causes: &cause_texts,
                dnsbl: &dnsbl,
                ui: &ui,
            },
            &reference_ui,
        );
    }
    out.push_str("/// UI strings a language lacks (it falls back to English for them).\n");
    out.push_str("pub static UI_MISSING: &[(&str, &str)] = &[\n");
    for (lang, key) in &ui_missing {
        writeln!(out, "    ({lang:?}, {key:?}),").unwrap();
    }
    out.push_str("];\n");

    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("kb_data.rs");
    fs::write(dest, out).unwrap();
}

fn parse<T: for<'de> Deserialize<'de>>(path: &Path) -> T {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse_optional<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> T {
    if path.exists() {
        parse(path)
    } else {
        T::default()
    }
}

/// Every folder of `kb/` with a `ui.toml` is a language; English first, as the reference.
fn languages(kb: &Path) -> Vec<String> {
    let mut langs: Vec<String> = fs::read_dir(kb)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().join("ui.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    langs.sort_by_key(|l| (l != REFERENCE_LANG, l.clone()));
    assert!(
        langs.first().map(String::as_str) == Some(REFERENCE_LANG),
        "kb/{REFERENCE_LANG}/ui.toml is missing"
    );
    langs
}

fn code_texts(
    dir: &Path,
    basic_keys: &BTreeSet<String>,
    enhanced_keys: &BTreeSet<String>,
) -> BTreeMap<String, CodeText> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".toml") && (name.starts_with("basic") || name.starts_with("enhanced"))
        })
        .collect();
    files.sort();
    let mut all: BTreeMap<String, (CodeText, PathBuf)> = BTreeMap::new();
    for file in files {
        let entries: BTreeMap<String, CodeText> = parse(&file);
        for (key, text) in entries {
            assert!(
                basic_keys.contains(&key) || enhanced_keys.contains(&key),
                "{}: {key:?} is not a code listed in kb/codes.toml",
                file.display()
            );
            if let Some((_, first)) = all.get(&key) {
                panic!(
                    "{key:?} appears in both {} and {}",
                    first.display(),
                    file.display()
                );
            }
            all.insert(key, (text, file.clone()));
        }
    }
    all.into_iter().map(|(k, (t, _))| (k, t)).collect()
}

/// `ui.toml` is a flat table of `snake_case` keys to strings.
fn ui_strings(dir: &Path) -> BTreeMap<String, String> {
    let path = dir.join("ui.toml");
    let table: BTreeMap<String, String> = parse(&path);
    for key in table.keys() {
        assert!(
            key.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{}: key {key:?} must be snake_case",
            path.display()
        );
    }
    table
}

fn enhanced_sort_key(code: &str) -> (u16, u16) {
    let mut parts = code.split('.').skip(1).map(|p| p.parse::<u16>().unwrap());
    (parts.next().unwrap(), parts.next().unwrap())
}

/// `en` → `En`, `null-mx-mixed` → `NullMxMixed`: a data key as a Rust variant name.
fn variant(key: &str) -> String {
    let mut name = String::with_capacity(key.len());
    for part in key.split('-') {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            name.push(first.to_ascii_uppercase());
            name.push_str(chars.as_str());
        }
    }
    name
}

fn emit_lang_enum(out: &mut String, langs: &[String]) {
    out.push_str("/// The languages the knowledge base is written in: one per folder of `kb/`.\n");
    out.push_str("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\n");
    out.push_str("pub enum Lang {\n");
    for lang in langs {
        writeln!(out, "    {},", variant(lang)).unwrap();
    }
    out.push_str("}\n\nimpl Lang {\n    /// Every language, English first.\n");
    write!(out, "    pub const ALL: &[Lang] = &[").unwrap();
    for lang in langs {
        write!(out, "Lang::{}, ", variant(lang)).unwrap();
    }
    out.push_str("];\n\n    /// The ISO 639-1 code, as used by `--lang` and in JSON.\n");
    out.push_str(
        "    #[must_use]\n    pub fn code(self) -> &'static str {\n        match self {\n",
    );
    for lang in langs {
        writeln!(out, "            Lang::{} => {lang:?},", variant(lang)).unwrap();
    }
    out.push_str("        }\n    }\n\n");
    out.push_str("    pub(crate) fn data(self) -> &'static LangData {\n        match self {\n");
    for lang in langs {
        writeln!(
            out,
            "            Lang::{} => &DATA_{},",
            variant(lang),
            lang.to_uppercase()
        )
        .unwrap();
    }
    out.push_str("        }\n    }\n}\n\n");
}

fn emit_facts(out: &mut String, codes: &CodesFile) {
    let mut basic: Vec<&BasicFacts> = codes.basic.iter().collect();
    basic.sort_by_key(|b| b.code);
    for pair in basic.windows(2) {
        assert!(
            pair[0].code != pair[1].code,
            "kb/codes.toml: {} listed twice",
            pair[0].code
        );
    }
    out.push_str("pub(crate) static BASIC_FACTS: &[BasicFacts] = &[\n");
    for b in basic {
        assert!(
            (200..=599).contains(&b.code),
            "kb/codes.toml: {} is not a reply code",
            b.code
        );
        let stages: Vec<String> = b.stages.iter().map(|s| stage_variant(s)).collect();
        writeln!(
            out,
            "    BasicFacts {{ code: {}, rfc: &{:?}, stages: &[{}], closes: {}, side: {} }},",
            b.code,
            b.rfc,
            stages.join(", "),
            b.closes,
            side_variant(&b.side)
        )
        .unwrap();
    }
    out.push_str("];\n\n");

    let mut enhanced: Vec<&EnhancedFacts> = codes.enhanced.iter().collect();
    enhanced.sort_by_key(|e| enhanced_sort_key(&e.code));
    for pair in enhanced.windows(2) {
        assert!(
            pair[0].code != pair[1].code,
            "kb/codes.toml: {} listed twice",
            pair[0].code
        );
    }
    out.push_str("pub(crate) static ENHANCED_FACTS: &[EnhancedFacts] = &[\n");
    for e in enhanced {
        assert!(
            e.code.starts_with("X."),
            "kb/codes.toml: {:?} must start with X.",
            e.code
        );
        for class in &e.classes {
            assert!(
                matches!(class, 2 | 4 | 5),
                "kb/codes.toml: {} has class {class}",
                e.code
            );
        }
        let (subject, detail) = enhanced_sort_key(&e.code);
        writeln!(
            out,
            "    EnhancedFacts {{ subject: {subject}, detail: {detail}, classes: &{:?}, basic: &{:?}, rfc: &{:?}, side: {} }},",
            e.classes,
            e.basic,
            e.rfc,
            side_variant(&e.side)
        )
        .unwrap();
    }
    out.push_str("];\n\n");
}

fn stage_variant(stage: &str) -> String {
    let name = match stage {
        "greeting" => "Greeting",
        "ehlo" => "Ehlo",
        "starttls" => "StartTls",
        "auth" => "Auth",
        "mail" => "MailFrom",
        "rcpt" => "RcptTo",
        "data" => "Data",
        "end-of-data" => "EndOfData",
        "quit" => "Quit",
        "any" => "Any",
        other => panic!("kb/codes.toml: unknown stage {other:?}"),
    };
    format!("Stage::{name}")
}

fn side_variant(side: &str) -> String {
    let name = match side {
        "sender" => "Sender",
        "recipient" => "Recipient",
        "either" => "Either",
        other => panic!("kb/codes.toml: unknown side {other:?}"),
    };
    format!("Side::{name}")
}

const SIGNATURE_KINDS: &[&str] = &[
    "authentication",
    "rate-limit",
    "unknown-user",
    "mailbox-full",
    "mailbox-disabled",
    "policy",
    "blocklist",
    "reputation",
    "greylisting",
    "relay-denied",
    "reverse-dns",
    "helo",
    "sender-rejected",
    "spam-content",
    "access-denied",
    "tls",
    "size",
    "service-unavailable",
];

fn emit_signatures(out: &mut String, file: &SignaturesFile, cause_ids: &BTreeSet<&str>) {
    let mut seen = BTreeSet::new();
    let mut all_patterns = Vec::new();
    out.push_str("pub(crate) static SIGNATURE_FACTS: &[SignatureFacts] = &[\n");
    for s in &file.signature {
        assert!(
            seen.insert(&s.id),
            "kb/signatures.toml: id {:?} used twice",
            s.id
        );
        assert!(
            SIGNATURE_KINDS.contains(&s.kind.as_str()),
            "kb/signatures.toml: {}: unknown kind {:?}",
            s.id,
            s.kind
        );
        assert!(
            cause_ids.contains(s.cause.as_str()),
            "kb/signatures.toml: {}: unknown cause {:?}",
            s.id,
            s.cause
        );
        writeln!(
            out,
            "    SignatureFacts {{ id: {:?}, provider: {:?}, kind: {:?}, cause: {:?}, pattern: {:?}, url: {:?}, examples: &{:?} }},",
            s.id, s.provider, s.kind, s.cause, s.pattern, s.url, s.examples
        )
        .unwrap();
        all_patterns.push((s.pattern.as_str(), format!("signature {}", s.id)));
    }
    out.push_str("];\n\n");
    emit_pattern_pieces(out, "SIGNATURE_PIECES", &all_patterns);
}

fn emit_causes(out: &mut String, file: &CausesFile, cause_ids: &BTreeSet<&str>) {
    assert_eq!(
        cause_ids.len(),
        file.cause.len(),
        "kb/causes.toml: a cause id is used twice"
    );
    out.push_str("pub(crate) static CAUSE_FACTS: &[CauseFacts] = &[\n");
    for c in &file.cause {
        if let Some(parent) = &c.parent {
            assert!(
                cause_ids.contains(parent.as_str()),
                "kb/causes.toml: {}: unknown parent {parent:?}",
                c.id
            );
        }
        writeln!(
            out,
            "    CauseFacts {{ id: {:?}, parent: {:?}, codes: &{:?}, fallback: &{:?} }},",
            c.id, c.parent, c.codes, c.fallback
        )
        .unwrap();
    }
    out.push_str("];\n\n");
    out.push_str("pub(crate) static CAUSE_RULES: &[CauseRule] = &[\n");
    let mut all_patterns = Vec::new();
    for (i, r) in file.rule.iter().enumerate() {
        assert!(
            cause_ids.contains(r.cause.as_str()),
            "kb/causes.toml: rule {i}: unknown cause {:?}",
            r.cause
        );
        let strong = match r.strength.as_str() {
            "strong" => true,
            "weak" => false,
            other => panic!("kb/causes.toml: rule {i}: strength {other:?} is not strong or weak"),
        };
        writeln!(
            out,
            "    CauseRule {{ cause: {:?}, strong: {strong}, pattern: {:?} }},",
            r.cause, r.words
        )
        .unwrap();
        all_patterns.push((r.words.as_str(), format!("rule {i} ({})", r.cause)));
    }
    out.push_str("];\n\n");
    emit_pattern_pieces(out, "CAUSE_RULE_PIECES", &all_patterns);
}

/// The pieces of a list of patterns and an index of their literals. A pattern is cut at
/// its top-level `|` into pieces that are compiled on their own: a text then pays only for
/// the few alternatives whose words it contains, not for a whole rule of thirty. The index
/// is sorted by the literals' first three bytes, so that finding the candidates is a walk
/// over the text with a binary search at each position, with nothing built at run time.
/// (first three bytes, literal, the (piece, set) pairs that need it)
type LiteralEntry<'a> = (u32, &'a str, &'a Vec<(usize, usize)>);

fn emit_pattern_pieces(out: &mut String, name: &str, patterns: &[(&str, String)]) {
    let mut pieces: Vec<(usize, String, usize)> = Vec::new();
    let mut owners: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    let mut always = Vec::new();
    for (pattern_index, (pattern, what)) in patterns.iter().enumerate() {
        for piece in top_level_alternatives(pattern) {
            let piece_index = pieces.len();
            let sets = required_literals(&piece, what);
            if sets.is_empty() {
                always.push(piece_index);
            }
            for (set_index, set) in sets.iter().enumerate() {
                for literal in set {
                    owners
                        .entry(literal.clone())
                        .or_default()
                        .push((piece_index, set_index));
                }
            }
            pieces.push((pattern_index, piece, sets.len()));
        }
    }
    let mut entries: Vec<LiteralEntry<'_>> = owners
        .iter()
        .map(|(literal, list)| {
            let b = literal.as_bytes();
            let key = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            (key, literal.as_str(), list)
        })
        .collect();
    entries.sort();
    writeln!(
        out,
        "pub(crate) static {name}: PatternPieces = PatternPieces {{"
    )
    .unwrap();
    out.push_str("    pieces: &[\n");
    for (owner, piece, sets) in &pieces {
        writeln!(out, "        ({owner}, {piece:?}, {sets}),").unwrap();
    }
    out.push_str("    ],\n");
    writeln!(out, "    always: &{always:?},").unwrap();
    out.push_str("    literals: &[\n");
    for (key, literal, list) in entries {
        writeln!(out, "        ({key}, {literal:?}, &{list:?}),").unwrap();
    }
    out.push_str("    ],\n};\n\n");
}

/// Cuts a pattern at the `|` that are outside groups and classes.
fn top_level_alternatives(pattern: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                current.push(c);
                // A `]` right after `[` or `[^` is a literal bracket.
                if chars.peek() == Some(&'^') {
                    current.push(chars.next().unwrap());
                }
                if chars.peek() == Some(&']') {
                    current.push(chars.next().unwrap());
                }
                continue;
            }
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => depth = depth.saturating_sub(1),
            '|' if !in_class && depth == 0 => {
                pieces.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    pieces.push(current);
    pieces
}

/// Sets of literals that every match of `pattern` contains one of, each set lowercased:
/// a text is a candidate only if it holds a literal of every set. Empty when the pattern
/// has no such literal (it is then tried on every text).
fn required_literals(pattern: &str, what: &str) -> Vec<Vec<String>> {
    use regex_syntax::hir::HirKind;
    // More sets than this buys nothing and would not fit the candidate mask.
    const MAX_SETS: usize = 8;
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .unwrap_or_else(|e| panic!("{what}: bad pattern: {e}"));
    let normalise = |set: Vec<Vec<u8>>| {
        let mut literals: Vec<String> = set
            .into_iter()
            .map(|bytes| String::from_utf8_lossy(&bytes).to_lowercase())
            .collect();
        literals.sort();
        literals.dedup();
        literals
    };
    let mut sets: Vec<Vec<String>> = Vec::new();
    if let HirKind::Concat(parts) = hir.kind() {
        // Every part of a concatenation must match: each one's set is required, and so is
        // every run of adjacent literals.
        let mut run: Vec<u8> = Vec::new();
        let flush = |run: &mut Vec<u8>, sets: &mut Vec<Vec<String>>| {
            if run.len() >= 3 {
                sets.push(normalise(vec![std::mem::take(run)]));
            }
            run.clear();
        };
        for part in parts {
            if let HirKind::Literal(lit) = part.kind() {
                run.extend_from_slice(&lit.0);
                continue;
            }
            flush(&mut run, &mut sets);
            if let Some(set) = necessary_factors(part) {
                sets.push(normalise(set));
            }
        }
        flush(&mut run, &mut sets);
    } else if let Some(set) = necessary_factors(&hir) {
        sets.push(normalise(set));
    }
    // The most selective sets first: those with the fewest, longest literals.
    sets.sort_by_key(|set| {
        (
            set.len(),
            std::cmp::Reverse(set.iter().map(String::len).min()),
        )
    });
    sets.dedup();
    sets.truncate(MAX_SETS);
    sets
}

/// A set of byte strings one of which occurs in every match, or `None`.
fn necessary_factors(hir: &regex_syntax::hir::Hir) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::HirKind;
    // Sets of very short literals would make almost every text a candidate.
    const MIN_USEFUL: usize = 3;
    match hir.kind() {
        HirKind::Literal(lit) => Some(vec![lit.0.to_vec()]),
        HirKind::Capture(cap) => necessary_factors(&cap.sub),
        HirKind::Repetition(rep) if rep.min >= 1 => necessary_factors(&rep.sub),
        HirKind::Alternation(alts) => {
            let mut all = Vec::new();
            for alt in alts {
                all.extend(necessary_factors(alt)?);
            }
            Some(all)
        }
        HirKind::Concat(parts) => {
            // Runs of adjacent literals are one factor; otherwise the best child's set.
            let mut best: Option<Vec<Vec<u8>>> = None;
            let score = |set: &Vec<Vec<u8>>| set.iter().map(Vec::len).min().unwrap_or(0);
            let mut run: Vec<u8> = Vec::new();
            let consider = |candidate: Vec<Vec<u8>>, best: &mut Option<Vec<Vec<u8>>>| {
                if best.as_ref().is_none_or(|b| score(&candidate) > score(b)) {
                    *best = Some(candidate);
                }
            };
            for part in parts {
                if let HirKind::Literal(lit) = part.kind() {
                    run.extend_from_slice(&lit.0);
                    continue;
                }
                if !run.is_empty() {
                    consider(vec![std::mem::take(&mut run)], &mut best);
                }
                if let Some(set) = necessary_factors(part) {
                    consider(set, &mut best);
                }
            }
            if !run.is_empty() {
                consider(vec![run], &mut best);
            }
            best.filter(|b| score(b) >= MIN_USEFUL)
        }
        _ => None,
    }
    .filter(|set| set.iter().all(|l| l.len() >= MIN_USEFUL))
}

fn emit_blocklists(out: &mut String, file: &BlocklistsFile) {
    out.push_str("pub(crate) static BLOCKLIST_FACTS: &[BlocklistFacts] = &[\n");
    for list in &file.list {
        assert!(
            list.lookup.starts_with("https://") || list.lookup.starts_with("http://"),
            "kb/dnsbl.toml: {}: lookup must be a URL",
            list.zone
        );
        let answers: Vec<String> = list.answers.iter().map(ToString::to_string).collect();
        writeln!(
            out,
            "    BlocklistFacts {{ zone: {:?}, name: {:?}, ipv6: {}, lookup: {:?}, answers: &{:?} }},",
            list.zone, list.name, list.ipv6, list.lookup, answers
        )
        .unwrap();
    }
    out.push_str("];\n\n");
}

fn emit_ui_struct(out: &mut String, reference: &BTreeMap<String, String>) {
    out.push_str("/// Headings, labels and sentence templates, one field per key of `ui.toml`.\n");
    out.push_str("#[derive(Debug)]\n#[allow(missing_docs)]\npub struct Ui {\n");
    for key in reference.keys() {
        writeln!(out, "    pub {key}: &'static str,").unwrap();
    }
    out.push_str("}\n\n");
}

struct LangTexts<'a> {
    codes: &'a BTreeMap<String, CodeText>,
    classes: &'a ClassesFile,
    signatures: &'a BTreeMap<String, SignatureText>,
    findings: &'a BTreeMap<String, FindingText>,
    causes: &'a BTreeMap<String, CauseText>,
    dnsbl: &'a BTreeMap<String, BlocklistText>,
    ui: &'a BTreeMap<String, String>,
}

fn emit_lang_data(
    out: &mut String,
    lang: &str,
    lang_texts: &LangTexts<'_>,
    reference_ui: &BTreeMap<String, String>,
) {
    let LangTexts {
        codes: texts,
        classes,
        signatures,
        findings,
        causes,
        dnsbl,
        ui,
    } = lang_texts;
    let upper = lang.to_uppercase();
    writeln!(out, "static DATA_{upper}: LangData = LangData {{").unwrap();

    let mut basic: Vec<(u16, &CodeText)> = texts
        .iter()
        .filter(|(k, _)| !k.starts_with('X'))
        .map(|(k, t)| (k.parse().unwrap(), t))
        .collect();
    basic.sort_by_key(|(k, _)| *k);
    out.push_str("    basic: &[\n");
    for (code, t) in basic {
        writeln!(out, "        ({code}, {}),", code_text(t)).unwrap();
    }
    out.push_str("    ],\n");

    let mut enhanced: Vec<((u16, u16), &CodeText)> = texts
        .iter()
        .filter(|(k, _)| k.starts_with('X'))
        .map(|(k, t)| (enhanced_sort_key(k), t))
        .collect();
    enhanced.sort_by_key(|(k, _)| *k);
    out.push_str("    enhanced: &[\n");
    for ((subject, detail), t) in enhanced {
        writeln!(out, "        (({subject}, {detail}), {}),", code_text(t)).unwrap();
    }
    out.push_str("    ],\n");

    for (field, map) in [
        ("basic_class", &classes.basic_class),
        ("basic_category", &classes.basic_category),
        ("enhanced_class", &classes.enhanced_class),
        ("enhanced_subject", &classes.enhanced_subject),
    ] {
        writeln!(out, "    {field}: &[").unwrap();
        for (digit, t) in map {
            let digit: u8 = digit.parse().unwrap_or_else(|_| {
                panic!("kb/{lang}/classes.toml: {field}.{digit} is not a digit")
            });
            writeln!(
                out,
                "        ({digit}, ClassText {{ name: {:?}, description: {:?}, when: {:?}, fix: {:?} }}),",
                t.name.trim(),
                t.description.trim(),
                t.when.trim(),
                t.fix.trim()
            )
            .unwrap();
        }
        out.push_str("    ],\n");
    }

    out.push_str("    signatures: &[\n");
    for (id, t) in *signatures {
        writeln!(
            out,
            "        ({id:?}, SignatureText {{ title: {:?}, cause: {:?}, fix: {:?} }}),",
            t.title.trim(),
            t.cause.trim(),
            t.fix.trim()
        )
        .unwrap();
    }
    out.push_str("    ],\n");

    out.push_str("    findings: &[\n");
    for (kind, t) in *findings {
        writeln!(
            out,
            "        ({kind:?}, FindingText {{ title: {:?}, explanation: {:?}, fix: {:?} }}),",
            t.title.trim(),
            t.explanation.trim(),
            t.fix.trim()
        )
        .unwrap();
    }
    out.push_str("    ],\n");

    out.push_str("    causes: &[\n");
    for (id, t) in *causes {
        writeln!(
            out,
            "        ({id:?}, CauseText {{ title: {:?}, explanation: {:?}, fix: {:?} }}),",
            t.title.trim(),
            t.explanation.trim(),
            t.fix.trim()
        )
        .unwrap();
    }
    out.push_str("    ],\n");

    out.push_str("    dnsbl: &[\n");
    for (zone, t) in *dnsbl {
        let answers: Vec<String> = t
            .answers
            .iter()
            .map(|(answer, meaning)| format!("({answer:?}, {:?})", meaning.trim()))
            .collect();
        writeln!(
            out,
            "        ({zone:?}, BlocklistText {{ delist: {:?}, answers: &[{}] }}),",
            t.delist.trim(),
            answers.join(", ")
        )
        .unwrap();
    }
    out.push_str("    ],\n");

    out.push_str("    ui: Ui {\n");
    for (key, fallback) in reference_ui {
        let value = ui.get(key).unwrap_or(fallback);
        writeln!(out, "        {key}: {value:?},").unwrap();
    }
    out.push_str("    },\n};\n\n");
}

/// The kinds of finding are the keys of the reference language's `findings.toml`; the
/// enum makes a misspelt kind a compile error rather than a missing text at run time.
fn emit_finding_kinds(out: &mut String, reference: &BTreeMap<String, FindingText>) {
    out.push_str("/// Every kind of finding the probe reports (`kb/en/findings.toml`).\n");
    out.push_str("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]\n");
    out.push_str("#[allow(missing_docs)]\npub enum FindingKind {\n");
    for key in reference.keys() {
        assert!(
            key.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "kb/{REFERENCE_LANG}/findings.toml: key {key:?} must be kebab-case"
        );
        writeln!(out, "    {},", variant(key)).unwrap();
    }
    out.push_str(
        "}\n\nimpl FindingKind {\n    /// Every kind.\n    pub const ALL: &[FindingKind] = &[\n",
    );
    for key in reference.keys() {
        writeln!(out, "        FindingKind::{},", variant(key)).unwrap();
    }
    out.push_str("    ];\n\n    /// The key in `findings.toml` and in JSON.\n    #[must_use]\n    pub fn key(self) -> &'static str {\n        match self {\n");
    for key in reference.keys() {
        writeln!(out, "            FindingKind::{} => {key:?},", variant(key)).unwrap();
    }
    out.push_str("        }\n    }\n}\n\n");
}

fn code_text(t: &CodeText) -> String {
    format!(
        "CodeText {{ title: {:?}, description: {:?}, when: {:?}, fix: {:?} }}",
        t.title.trim(),
        t.description.trim(),
        t.when.trim(),
        t.fix.trim()
    )
}
