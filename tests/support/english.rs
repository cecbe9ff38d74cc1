//! Our English words: what a Japanese or French report must not contain. Every word of five
//! letters or more of the English texts of findings and labels (`kb/en/findings.toml`,
//! `kb/en/ui.toml`), placeholders left out, and a way to find them in a report less what
//! came from outside (server replies, names, URLs, flags, configuration names).

#![allow(dead_code)]

use std::collections::BTreeSet;

/// The words of our English texts.
pub fn english_words() -> BTreeSet<String> {
    words_of("en", &["findings.toml", "ui.toml"])
}

/// Every word of five letters or more of the given files of `kb/<lang>/`.
fn words_of(lang: &str, files: &[&str]) -> BTreeSet<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut words = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(format!("{root}/kb/{lang}/{file}")).unwrap();
        for line in text.lines() {
            let Some((_, value)) = line.split_once(" = ") else {
                continue;
            };
            for word in without_placeholders(value).split(|c: char| !c.is_ascii_alphabetic()) {
                if word.len() >= 5 && word.chars().all(|c| c.is_ascii_lowercase()) {
                    words.insert(word.to_string());
                }
            }
        }
    }
    words
}

fn without_placeholders(value: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in value.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// `check.spamhaus.org/`, `mx1.example.test`: a name with a dot between letters.
fn is_domain_name(word: &str) -> bool {
    word.as_bytes()
        .windows(3)
        .any(|w| w[0].is_ascii_alphabetic() && w[1] == b'.' && w[2].is_ascii_alphabetic())
}

/// Text without what our translations quote as it is: 「Postfix's words」, « its words ».
fn without_quotations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut closing: Option<char> = None;
    for c in text.chars() {
        match (closing, c) {
            (None, '「') => closing = Some('」'),
            (None, '«') => closing = Some('»'),
            (Some(end), c) if c == end => closing = None,
            (Some(_), _) => {}
            (None, c) => out.push(c),
        }
    }
    out
}

/// The English words of ours in a report in `lang` (`ja` or `fr`). `outside` is text that
/// came from outside (server replies, list texts, system errors): its words are not ours.
/// Lines of the transcript that quote a server (`<-`, `<~`), quoted list texts and what our
/// translations quote (「...」, « ... ») are skipped.
pub fn english_words_in(report: &str, lang: &str, outside: &str) -> BTreeSet<String> {
    // A word of the translation itself (French "minutes", "public") is not English here.
    let root = env!("CARGO_MANIFEST_DIR");
    let files: Vec<String> = std::fs::read_dir(format!("{root}/kb/{lang}"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let translated = words_of(lang, &files);
    let english: BTreeSet<String> = english_words().difference(&translated).cloned().collect();
    let outside: BTreeSet<String> = outside
        .split(|c: char| !c.is_ascii_alphabetic())
        .map(str::to_ascii_lowercase)
        .collect();
    let report = without_quotations(report);
    let ours: String = report
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            !(l.starts_with("<-") || l.starts_with("<~") || l.starts_with('"'))
        })
        .flat_map(str::split_whitespace)
        .filter(|w| !w.contains("://") && !w.contains("--") && !is_domain_name(w))
        .collect::<Vec<_>>()
        .join(" ");
    // Configuration names (virtual_alias_maps) stay whole: they are not words; nor are
    // French words with accents (signalé) cut at the accent.
    ours.split(|c: char| !(c.is_alphabetic() || c == '_'))
        .filter(|w| english.contains(*w) && !outside.contains(*w))
        .map(str::to_string)
        .collect()
}
