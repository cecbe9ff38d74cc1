//! The knowledge base is data: these tests check it. The shape of each file is
//! `src/kb/schema.rs` (build.rs refuses a file that does not follow it); everything else is
//! here: every code the issue lists is present, every section of every entry is written in
//! every language, keys are unique, references between files resolve, the seed facts hold,
//! and every reply signature recognises its real reply lines and nothing else.

use std::collections::BTreeSet;
use std::path::Path;

use smtpdiag::kb::{
    self, FindingKind, Lang, Source, UI_MISSING, basic_facts, blocklist_facts, cause_facts,
    enhanced_facts, lang_data, match_signature, matching_ids, schema, signature_facts,
};
use smtpdiag::reply::{EnhancedCode, Reply, ReplyCode};

/// RFC 5321 §4.2, RFC 7504, RFC 4954 (AUTH) and RFC 3207 (STARTTLS).
const BASIC_CODES: &[u16] = &[
    211, 214, 220, 221, 250, 251, 252, 354, 421, 450, 451, 452, 455, 500, 501, 502, 503, 504, 550,
    551, 552, 553, 554, 555, // RFC 5321
    521, 556, // RFC 7504
    235, 334, 432, 454, 530, 534, 535, 538, // RFC 4954 (500 is above)
];

/// The IANA "SMTP Enhanced Status Codes" registry: subject → highest detail.
const ENHANCED_SUBJECTS: &[(u16, u16)] = &[
    (0, 0),
    (1, 10),
    (2, 4),
    (3, 6),
    (4, 7),
    (5, 6),
    (6, 10),
    (7, 30),
];

fn nonempty(what: &str, text: &str) {
    assert!(!text.trim().is_empty(), "{what} is empty");
}

#[test]
fn every_basic_code_is_present() {
    let present: BTreeSet<u16> = basic_facts().iter().map(|f| f.code).collect();
    for code in BASIC_CODES {
        assert!(present.contains(code), "basic code {code} has no entry");
    }
}

#[test]
fn every_enhanced_code_of_the_registry_is_present() {
    let present: BTreeSet<(u16, u16)> = enhanced_facts()
        .iter()
        .map(|f| (f.subject, f.detail))
        .collect();
    let mut expected = 0;
    for &(subject, last) in ENHANCED_SUBJECTS {
        for detail in 0..=last {
            expected += 1;
            assert!(
                present.contains(&(subject, detail)),
                "X.{subject}.{detail} has no entry"
            );
        }
    }
    assert_eq!(present.len(), expected, "codes outside the registry");
    for facts in enhanced_facts() {
        assert!(
            !facts.classes.is_empty(),
            "X.{}.{} carries no class",
            facts.subject,
            facts.detail
        );
        assert!(
            !facts.rfc.is_empty(),
            "X.{}.{} has no reference",
            facts.subject,
            facts.detail
        );
    }
}

#[test]
fn keys_are_unique_and_sorted() {
    for pair in basic_facts().windows(2) {
        assert!(
            pair[0].code < pair[1].code,
            "{} out of order or twice",
            pair[1].code
        );
    }
    for pair in enhanced_facts().windows(2) {
        assert!(
            (pair[0].subject, pair[0].detail) < (pair[1].subject, pair[1].detail),
            "X.{}.{} out of order or twice",
            pair[1].subject,
            pair[1].detail
        );
    }
    let ids: BTreeSet<&str> = signature_facts().iter().map(|s| s.id).collect();
    assert_eq!(
        ids.len(),
        signature_facts().len(),
        "a signature id is used twice"
    );
    for lang in Lang::ALL {
        let data = lang_data(*lang);
        for pair in data.basic.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{lang}: basic {} twice", pair[1].0);
        }
        for pair in data.enhanced.windows(2) {
            assert!(
                pair[0].0 < pair[1].0,
                "{lang}: enhanced {:?} twice",
                pair[1].0
            );
        }
    }
}

#[test]
fn every_entry_is_complete_in_every_language() {
    for lang in Lang::ALL {
        let data = lang_data(*lang);
        let basic: Vec<u16> = data.basic.iter().map(|(k, _)| *k).collect();
        let facts: Vec<u16> = basic_facts().iter().map(|f| f.code).collect();
        assert_eq!(
            basic, facts,
            "{lang}: basic entries differ from kb/codes.toml"
        );
        for (code, text) in data.basic {
            for (field, value) in [
                ("title", text.title),
                ("description", text.description),
                ("when", text.when),
                ("fix", text.fix),
            ] {
                nonempty(&format!("{lang} {code}.{field}"), value);
            }
        }
        let enhanced: Vec<(u16, u16)> = data.enhanced.iter().map(|(k, _)| *k).collect();
        let facts: Vec<(u16, u16)> = enhanced_facts()
            .iter()
            .map(|f| (f.subject, f.detail))
            .collect();
        assert_eq!(
            enhanced, facts,
            "{lang}: enhanced entries differ from kb/codes.toml"
        );
        for ((subject, detail), text) in data.enhanced {
            for (field, value) in [
                ("title", text.title),
                ("description", text.description),
                ("when", text.when),
                ("fix", text.fix),
            ] {
                nonempty(&format!("{lang} X.{subject}.{detail}.{field}"), value);
            }
        }
    }
}

#[test]
fn class_texts_are_complete_in_every_language() {
    for lang in Lang::ALL {
        let data = lang_data(*lang);
        let digits =
            |table: &[(u8, kb::ClassText)]| table.iter().map(|(d, _)| *d).collect::<Vec<_>>();
        assert_eq!(
            digits(data.basic_class),
            [2, 3, 4, 5],
            "{lang}: basic classes"
        );
        assert_eq!(
            digits(data.basic_category),
            [0, 1, 2, 3, 4, 5],
            "{lang}: categories"
        );
        assert_eq!(
            digits(data.enhanced_class),
            [2, 4, 5],
            "{lang}: enhanced classes"
        );
        assert_eq!(
            digits(data.enhanced_subject),
            [0, 1, 2, 3, 4, 5, 6, 7],
            "{lang}: enhanced subjects"
        );
        for (table, name) in [
            (data.basic_class, "basic_class"),
            (data.enhanced_class, "enhanced_class"),
            (data.enhanced_subject, "enhanced_subject"),
        ] {
            for (digit, text) in table {
                for (field, value) in [
                    ("name", text.name),
                    ("description", text.description),
                    ("when", text.when),
                    ("fix", text.fix),
                ] {
                    nonempty(&format!("{lang} {name}.{digit}.{field}"), value);
                }
            }
        }
        for (digit, text) in data.basic_category {
            nonempty(&format!("{lang} basic_category.{digit}.name"), text.name);
        }
    }
}

#[test]
fn ui_strings_are_complete_and_keep_their_placeholders() {
    assert!(UI_MISSING.is_empty(), "UI strings missing: {UI_MISSING:?}");
    let en = kb::ui(Lang::En);
    for lang in Lang::ALL {
        let ui = kb::ui(*lang);
        for (name, reference, translated) in [
            ("compare_title", en.compare_title, ui.compare_title),
            ("compare_summary", en.compare_summary, ui.compare_summary),
            ("key_class", en.key_class, ui.key_class),
            ("use_for", en.use_for, ui.use_for),
            ("key_stages", en.key_stages, ui.key_stages),
            (
                "use_transient_or_permanent",
                en.use_transient_or_permanent,
                ui.use_transient_or_permanent,
            ),
        ] {
            for placeholder in placeholders(reference) {
                assert!(
                    translated.contains(&placeholder),
                    "{lang}: ui {name} lost {placeholder}"
                );
            }
        }
    }
}

#[test]
fn every_finding_is_explained_in_every_language() {
    let en = lang_data(Lang::En);
    for lang in Lang::ALL {
        let data = lang_data(*lang);
        for kind in FindingKind::ALL {
            let key = kind.key();
            let find = |d: &'static kb::LangData| {
                let Some((_, text)) = d.findings.iter().find(|(k, _)| *k == key) else {
                    panic!("{lang}: finding {key} has no text");
                };
                text
            };
            let (text, reference) = (find(data), find(en));
            for (field, value, english) in [
                ("title", text.title, reference.title),
                ("explanation", text.explanation, reference.explanation),
                ("fix", text.fix, reference.fix),
            ] {
                nonempty(&format!("{lang} finding {key}.{field}"), value);
                let mut wanted = placeholders(english);
                let mut found = placeholders(value);
                wanted.sort();
                found.sort();
                assert_eq!(found, wanted, "{lang}: finding {key}.{field} placeholders");
            }
        }
    }
}

#[test]
fn every_default_blocklist_is_explained_in_every_language() {
    for lang in Lang::ALL {
        let data = lang_data(*lang);
        for facts in blocklist_facts() {
            let Some((_, text)) = data.dnsbl.iter().find(|(zone, _)| *zone == facts.zone) else {
                panic!("{lang}: blocklist {} has no text", facts.zone);
            };
            nonempty(&format!("{lang} {} delist", facts.zone), text.delist);
            for answer in facts.answers {
                let meaning = text.answers.iter().find(|(a, _)| a == answer);
                assert!(
                    meaning.is_some_and(|(_, m)| !m.trim().is_empty()),
                    "{lang}: {} answer {answer} has no meaning",
                    facts.zone
                );
            }
        }
    }
}

fn placeholders(template: &str) -> Vec<String> {
    template
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| format!("{{{name}}}")))
        .collect()
}

#[test]
fn every_signature_is_explained_in_every_language() {
    for lang in Lang::ALL {
        let data = lang_data(*lang);
        for facts in signature_facts() {
            let Some((_, text)) = data.signatures.iter().find(|(id, _)| *id == facts.id) else {
                panic!("{lang}: signature {} has no text", facts.id);
            };
            nonempty(&format!("{lang} {}.title", facts.id), text.title);
            nonempty(&format!("{lang} {}.cause", facts.id), text.cause);
            nonempty(&format!("{lang} {}.fix", facts.id), text.fix);
        }
    }
}

/// A file of `kb/`, read with the schema `build.rs` reads it with.
fn read_kb<T: serde::de::DeserializeOwned>(relative: &str) -> T {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("kb")
        .join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn facts_are_well_formed() {
    for facts in basic_facts() {
        assert!(
            (200..=599).contains(&facts.code),
            "kb/codes.toml: {} is not a reply code",
            facts.code
        );
    }
    for facts in enhanced_facts() {
        for class in facts.classes {
            assert!(
                matches!(class, 2 | 4 | 5),
                "kb/codes.toml: X.{}.{} has class {class}",
                facts.subject,
                facts.detail
            );
        }
    }
    for facts in signature_facts() {
        assert!(
            schema::SIGNATURE_KINDS.contains(&facts.kind),
            "kb/signatures.toml: {}: unknown kind {:?} (see kb/README.md)",
            facts.id,
            facts.kind
        );
    }
    for facts in blocklist_facts() {
        assert!(
            facts.lookup.starts_with("https://") || facts.lookup.starts_with("http://"),
            "kb/dnsbl.toml: {}: lookup must be a URL",
            facts.zone
        );
    }
}

#[test]
fn references_between_files_resolve() {
    let causes: BTreeSet<&str> = cause_facts().iter().map(|c| c.id).collect();
    for cause in cause_facts() {
        if let Some(parent) = cause.parent {
            assert!(
                causes.contains(parent),
                "kb/causes.toml: {}: unknown parent {parent:?}",
                cause.id
            );
        }
    }
    let file: schema::CausesFile = read_kb("causes.toml");
    for (i, rule) in file.rule.iter().enumerate() {
        assert!(
            causes.contains(rule.cause.as_str()),
            "kb/causes.toml: rule {i}: unknown cause {:?}",
            rule.cause
        );
    }

    let signatures: BTreeSet<&str> = signature_facts().iter().map(|s| s.id).collect();
    let zones: BTreeSet<&str> = blocklist_facts().iter().map(|b| b.zone).collect();
    let kinds: BTreeSet<&str> = FindingKind::ALL.iter().map(|k| k.key()).collect();
    for lang in Lang::ALL {
        let data = lang_data(*lang);
        for (id, _) in data.signatures {
            assert!(
                signatures.contains(id),
                "kb/{lang}/signatures.toml: {id:?} is not a signature of kb/signatures.toml"
            );
        }
        for (id, _) in data.causes {
            assert!(
                causes.contains(id),
                "kb/{lang}/causes.toml: {id:?} is not a cause of kb/causes.toml"
            );
        }
        for (zone, _) in data.dnsbl {
            assert!(
                zones.contains(zone),
                "kb/{lang}/dnsbl.toml: {zone:?} is not a list of kb/dnsbl.toml"
            );
        }
        for (kind, _) in data.findings {
            assert!(
                kinds.contains(kind),
                "kb/{lang}/findings.toml: {kind:?} is not in kb/{}/findings.toml",
                schema::REFERENCE_LANG
            );
        }
    }
}

/// The generated `Ui` has a field per key of the reference language: a key only a
/// translation has would be dropped without a word, so it is looked for in the files.
#[test]
fn translations_have_no_ui_key_of_their_own() {
    let reference: schema::UiFile = read_kb(&format!("{}/ui.toml", schema::REFERENCE_LANG));
    for lang in Lang::ALL {
        let ui: schema::UiFile = read_kb(&format!("{lang}/ui.toml"));
        for key in ui.keys() {
            assert!(
                reference.contains_key(key),
                "kb/{lang}/ui.toml: {key:?} is not in kb/{}/ui.toml",
                schema::REFERENCE_LANG
            );
        }
    }
}

fn en(code: u16) -> kb::Explanation {
    kb::explain_basic(ReplyCode::new(code).unwrap(), Lang::En)
}

#[test]
fn seed_facts_hold() {
    let e421 = en(421);
    assert_eq!(e421.title, "Service Not Available");
    assert_eq!(e421.class.as_ref().unwrap().label, "4xx Transient Negative");
    assert!(e421.closes, "421 closes the transmission channel");
    assert!(
        e421.description.contains("clos"),
        "421 mentions closing: {}",
        e421.description
    );

    let e554 = en(554);
    assert_eq!(e554.title, "Transaction Failed");
    assert_eq!(e554.class.as_ref().unwrap().label, "5xx Permanent Negative");
    let all554 = format!("{} {} {}", e554.description, e554.when, e554.fix);
    assert!(all554.contains("DNSBL") || all554.to_lowercase().contains("blocklist"));
    assert!(
        e554.description.contains("catch-all"),
        "554 is the catch-all"
    );

    let e556 = en(556);
    assert_eq!(e556.title, "Domain Does Not Accept Mail");
    assert!(format!("{} {}", e556.description, e556.when).contains("null MX"));

    let e550 = en(550);
    let all550 = format!("{} {}", e550.description, e550.when).to_lowercase();
    assert!(all550.contains("mailbox") && all550.contains("policy"));

    assert_eq!(en(501).title, "Syntax Error in Parameters");
    assert_eq!(en(504).title, "Parameter Not Implemented");
    assert!(!en(501).closes && !en(554).closes);
}

#[test]
fn null_mx_enhanced_code() {
    let e = kb::explain_enhanced(EnhancedCode::parse("5.1.10").unwrap(), Lang::En);
    assert_eq!(e.source, Source::Entry);
    assert!(e.description.contains("null MX") || e.when.contains("null MX"));
    assert_eq!(e.usual_basic_codes, Some(&[556][..]));
}

#[test]
fn codes_without_entry_are_explained_by_class() {
    let e = en(599);
    assert_eq!(e.source, Source::Class);
    assert_eq!(e.class.as_ref().unwrap().digit, 5);
    assert!(!e.description.is_empty() && !e.fix.is_empty());

    let e = kb::explain_enhanced(EnhancedCode::parse("4.7.999").unwrap(), Lang::Fr);
    assert_eq!(e.source, Source::Class);
    assert!(!e.description.is_empty() && !e.fix.is_empty());
}

#[test]
fn signature_patterns_compile() {
    kb::signature_patterns_compile().unwrap();
}

#[test]
fn enough_signatures_from_every_source() {
    let facts = signature_facts();
    assert!(facts.len() >= 40, "only {} signatures", facts.len());
    for prefix in [
        "gmail-",
        "microsoft-",
        "yahoo-",
        "icloud-",
        "postfix-",
        "exim-",
        "exchange-",
        "greylist",
        "spamhaus-",
        "spamcop-",
        "barracuda-",
    ] {
        assert!(
            facts.iter().any(|s| s.id.starts_with(prefix)),
            "no signature for {prefix}"
        );
    }
}

#[test]
fn every_signature_matches_its_real_replies_and_only_those() {
    for facts in signature_facts() {
        assert!(!facts.examples.is_empty(), "{} has no example", facts.id);
        for example in facts.examples {
            let reply = Reply::parse_pasted(example)
                .unwrap_or_else(|| panic!("{}: example is not a reply: {example}", facts.id));
            let subject = reply.signature_subject();
            assert_eq!(
                matching_ids(&subject),
                [facts.id],
                "{}: example matched by the wrong signatures: {subject}",
                facts.id
            );
            let matched = match_signature(&subject, Lang::Ja).unwrap();
            assert_eq!(matched.id, facts.id);
        }
    }
}

#[test]
fn plain_replies_match_no_signature() {
    for reply in [
        "250 2.1.5 Ok",
        "220 mx.example.com ESMTP Postfix",
        "421 4.3.2 Service shutting down",
        "550 5.0.0 Rejected",
    ] {
        let subject = Reply::parse_pasted(reply).unwrap().signature_subject();
        assert!(
            matching_ids(&subject).is_empty(),
            "{reply} matched {:?}",
            matching_ids(&subject)
        );
    }
}

#[test]
fn blocklist_signature_captures_the_zone() {
    let reply = Reply::parse_pasted(
        "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1",
    )
    .unwrap();
    let matched = match_signature(&reply.signature_subject(), Lang::En).unwrap();
    assert_eq!(matched.kind, "blocklist");
    assert_eq!(matched.capture("zone"), Some("zen.spamhaus.org"));
}

#[test]
fn reply_codes_doc_is_in_sync() {
    let generated = kb::reply_codes_markdown();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reply-codes.md");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/reply-codes.md is out of date: run `UPDATE_DOCS=1 cargo test --test kb`"
    );
    for facts in basic_facts() {
        assert!(on_disk.contains(&format!("| {} |", facts.code)));
    }
    for facts in enhanced_facts() {
        assert!(on_disk.contains(&format!("| X.{}.{} |", facts.subject, facts.detail)));
    }
}
