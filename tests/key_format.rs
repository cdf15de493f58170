//! Property tests of the key format: round trip, and every single-character typo caught offline.

use keywarden::key::{self, FormatError, TokenKind};
use proptest::prelude::*;

const ALPHABET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generated_tokens_round_trip(kind in prop_oneof![Just(TokenKind::ApiKey), Just(TokenKind::Session)]) {
        let token = key::generate(kind);
        let text = token.expose();
        prop_assert_eq!(key::parse(kind, text), Ok(()));
        prop_assert_eq!(text.len(), kind.token_len());
        prop_assert!(text[kind.prefix().len()..].bytes().all(|b| b.is_ascii_alphanumeric()));
        prop_assert_eq!(key::hash(text), key::hash(text));
        let hint = key::display_hint(text);
        prop_assert!(hint.starts_with(&text[..kind.prefix().len() + 4]));
        prop_assert!(hint.ends_with(&text[text.len() - 4..]));
    }

    /// Every position, every other character of the alphabet: the checksum (or the alphabet check)
    /// rejects it before any lookup.
    #[test]
    fn every_single_character_typo_is_rejected(_seed in any::<u8>()) {
        let token = key::generate(TokenKind::ApiKey);
        let text = token.expose();
        for position in 0..text.len() {
            for replacement in ALPHABET.chars().chain(['-', '_', ' ']) {
                if text[position..].starts_with(replacement) {
                    continue;
                }
                let mut typo = text.to_string();
                typo.replace_range(position..position + 1, &replacement.to_string());
                prop_assert!(key::parse(TokenKind::ApiKey, &typo).is_err(), "typo at {} accepted", position);
            }
        }
    }

    #[test]
    fn dropped_or_doubled_characters_are_rejected_by_length(position in 0usize..41) {
        let token = key::generate(TokenKind::ApiKey);
        let text = token.expose();
        let mut dropped = text.to_string();
        dropped.remove(position);
        prop_assert!(key::parse(TokenKind::ApiKey, &dropped).is_err());
        let mut doubled = text.to_string();
        doubled.insert(position, text.as_bytes()[position] as char);
        let expected = if position < 2 { FormatError::Prefix(TokenKind::ApiKey) } else { FormatError::Length(TokenKind::ApiKey) };
        prop_assert_eq!(key::parse(TokenKind::ApiKey, &doubled), Err(expected));
    }

    #[test]
    fn arbitrary_input_never_panics_and_is_almost_never_valid(text in ".{0,60}") {
        let result = key::parse(TokenKind::ApiKey, &text);
        if result.is_ok() {
            prop_assert_eq!(text.len(), 41);
        }
    }
}

#[test]
fn checksum_catches_a_typo_in_the_checksum_itself() {
    let token = key::generate(TokenKind::ApiKey);
    let text = token.expose();
    let last = text.len() - 1;
    let replacement = if text.ends_with('0') { "1" } else { "0" };
    let typo = format!("{}{replacement}", &text[..last]);
    assert_eq!(
        key::parse(TokenKind::ApiKey, &typo),
        Err(FormatError::Checksum(TokenKind::ApiKey))
    );
}
