//! The key and session-token formats: generate, parse with checksum, hash, display hint. No I/O.
//!
//! A key is `kw_` + 32 random base62 characters + 6 base62 characters of CRC32 over everything
//! before them. The checksum lets a typo be caught offline, before any database lookup, and gives
//! secret scanners a pattern to recognise. Session tokens have the same shape with the prefix `kws_`,
//! so one can never be mistaken for the other.

use sha2::{Digest, Sha256};

use crate::secret::Secret;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;

/// What a token is for; decides its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    ApiKey,
    Session,
}

impl TokenKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            TokenKind::ApiKey => "kw_",
            TokenKind::Session => "kws_",
        }
    }

    /// Total length of a well-formed token of this kind.
    pub const fn token_len(self) -> usize {
        self.prefix().len() + RANDOM_LEN + CHECKSUM_LEN
    }

    fn noun(self) -> &'static str {
        match self {
            TokenKind::ApiKey => "API key",
            TokenKind::Session => "session token",
        }
    }
}

/// Why a string is not a well-formed token. The messages never contain the token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("{} does not start with `{}`", .0.noun(), .0.prefix())]
    Prefix(TokenKind),
    #[error("{} has the wrong length", .0.noun())]
    Length(TokenKind),
    #[error("{} contains a character outside A-Z, a-z, 0-9", .0.noun())]
    Alphabet(TokenKind),
    #[error("{} checksum does not match (a typo?)", .0.noun())]
    Checksum(TokenKind),
}

/// A new random token of the given kind from the OS CSPRNG.
pub fn generate(kind: TokenKind) -> Secret {
    let mut text = String::with_capacity(kind.token_len());
    text.push_str(kind.prefix());
    push_random_base62(&mut text, RANDOM_LEN);
    let checksum = checksum(&text);
    text.push_str(&checksum);
    Secret::new(text)
}

/// A random password of 32 base62 characters, for accounts no person types into.
pub fn random_password() -> Secret {
    let mut text = String::with_capacity(RANDOM_LEN);
    push_random_base62(&mut text, RANDOM_LEN);
    Secret::new(text)
}

/// Checks prefix, length, alphabet and checksum, in that order, without touching any storage.
pub fn parse(kind: TokenKind, text: &str) -> Result<(), FormatError> {
    let Some(rest) = text.strip_prefix(kind.prefix()) else {
        return Err(FormatError::Prefix(kind));
    };
    if rest.len() != RANDOM_LEN + CHECKSUM_LEN {
        return Err(FormatError::Length(kind));
    }
    if !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FormatError::Alphabet(kind));
    }
    let (body, sum) = text.split_at(text.len() - CHECKSUM_LEN);
    if checksum(body) != sum {
        return Err(FormatError::Checksum(kind));
    }
    Ok(())
}

/// SHA-256 of the token: the only form in which the server stores keys and sessions.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// `kw_AbCd…wxyz`: enough to recognise a key in a list, far too little to use it.
pub fn display_hint(token: &str) -> String {
    let prefix_len = if token.starts_with(TokenKind::Session.prefix()) {
        TokenKind::Session.prefix().len()
    } else {
        TokenKind::ApiKey.prefix().len()
    };
    let head: String = token.chars().take(prefix_len + 4).collect();
    let tail_start = token.chars().count().saturating_sub(4).max(prefix_len + 4);
    let tail: String = token.chars().skip(tail_start).collect();
    format!("{head}…{tail}")
}

/// CRC32 of `text`, as exactly six base62 digits (62^6 > 2^32, so the encoding is one-to-one).
fn checksum(text: &str) -> String {
    let mut value = u64::from(crc32fast::hash(text.as_bytes()));
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    digits.iter().map(|&b| char::from(b)).collect()
}

fn push_random_base62(out: &mut String, count: usize) {
    // Rejection sampling: bytes >= 248 (= 4 * 62) are dropped so every character is equally likely.
    let mut pushed = 0;
    let mut buf = [0u8; 64];
    while pushed < count {
        fill_random(&mut buf);
        for &byte in &buf {
            if byte < 248 && pushed < count {
                out.push(char::from(ALPHABET[usize::from(byte % 62)]));
                pushed += 1;
            }
        }
    }
}

/// Fills `buf` from the OS CSPRNG. There is no safe fallback for a machine without one: a key from a
/// weak generator is worse than no key, so this is one of the few places that may panic.
pub(crate) fn fill_random(buf: &mut [u8]) {
    #[allow(clippy::expect_used)]
    getrandom::fill(buf).expect("the operating system's random number generator is unavailable");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_have_the_documented_shape() {
        for kind in [TokenKind::ApiKey, TokenKind::Session] {
            let token = generate(kind);
            assert_eq!(token.expose().len(), kind.token_len());
            assert!(token.expose().starts_with(kind.prefix()));
            assert_eq!(parse(kind, token.expose()), Ok(()));
        }
        assert_eq!(TokenKind::ApiKey.token_len(), 41);
    }

    #[test]
    fn keys_and_sessions_are_not_interchangeable() {
        let key = generate(TokenKind::ApiKey);
        let session = generate(TokenKind::Session);
        assert_eq!(
            parse(TokenKind::Session, key.expose()),
            Err(FormatError::Prefix(TokenKind::Session))
        );
        assert!(parse(TokenKind::ApiKey, session.expose()).is_err());
    }

    #[test]
    fn parse_names_the_first_problem() {
        let good = generate(TokenKind::ApiKey);
        let good = good.expose();
        assert_eq!(
            parse(TokenKind::ApiKey, "kw_short"),
            Err(FormatError::Length(TokenKind::ApiKey))
        );
        let bad_alphabet = format!("kw_-{}", &good[4..]);
        assert_eq!(
            parse(TokenKind::ApiKey, &bad_alphabet),
            Err(FormatError::Alphabet(TokenKind::ApiKey))
        );
        assert_eq!(
            parse(TokenKind::ApiKey, "sk_x"),
            Err(FormatError::Prefix(TokenKind::ApiKey))
        );
        let mut swapped = good.to_string();
        swapped.replace_range(3..5, &format!("{}{}", &good[4..5], &good[3..4]));
        if swapped != good {
            assert_eq!(
                parse(TokenKind::ApiKey, &swapped),
                Err(FormatError::Checksum(TokenKind::ApiKey))
            );
        }
    }

    #[test]
    fn errors_never_contain_the_token() {
        let token = generate(TokenKind::ApiKey);
        let broken = format!("{}x", token.expose());
        let message = parse(TokenKind::ApiKey, &broken).unwrap_err().to_string();
        assert!(!message.contains(&token.expose()[3..]));
    }

    #[test]
    fn hint_shows_only_the_ends() {
        let hint = display_hint("kw_AbCdefghijklmnopqrstuvwxyz0123456wxyz");
        assert_eq!(hint, "kw_AbCd…wxyz");
        let hint = display_hint("kws_AbCdefghijklmnopqrstuvwxyz012345wxyz");
        assert_eq!(hint, "kws_AbCd…wxyz");
    }

    #[test]
    fn hash_is_sha256() {
        assert_eq!(
            hash("abc")[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "SHA-256 test vector for \"abc\""
        );
    }
}
