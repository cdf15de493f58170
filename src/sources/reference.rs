//! `kw://ACCOUNT/KEY`: how a key is named outside Keywarden (`keywarden run`, `keywarden inject`,
//! `.env` files), without its secret. ACCOUNT is the account's name as `keywarden servers` shows it
//! (`local`, `tracked`, a server's name or URL); KEY is the key's name, or its id where the name is
//! not unique in the account. Both are percent-encoded where they hold anything but letters,
//! digits and `-._~`, so names with spaces or slashes (a URL as an account name) survive.

use std::fmt;

use super::SourceKey;

pub const SCHEME: &str = "kw://";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    pub account: String,
    pub key: String,
}

impl Reference {
    /// The reference of `key`, named by its name when no other key of `account_keys` has it.
    pub fn of(key: &SourceKey, account_keys: &[SourceKey]) -> Reference {
        let same_name = account_keys
            .iter()
            .filter(|k| k.source == key.source && k.name == key.name)
            .count();
        // A name that looks like another key's id would be read as that id: use the id then.
        let name_is_an_id = account_keys
            .iter()
            .any(|k| k.source == key.source && k.id == key.name && k.id != key.id);
        Reference {
            account: key.source.clone(),
            key: if same_name == 1 && !name_is_an_id {
                key.name.clone()
            } else {
                key.id.clone()
            },
        }
    }

    /// Reads `kw://ACCOUNT/KEY`; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Reference, String> {
        let shown = crate::text::for_terminal(text);
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| format!("{shown:?} is not a key reference: it starts with kw://"))?;
        let (account, key) = rest
            .split_once('/')
            .ok_or_else(|| format!("{shown:?} is not a key reference: kw://ACCOUNT/KEY"))?;
        let account = decode(account).ok_or_else(|| format!("{shown:?}: bad %-escape"))?;
        let key = decode(key).ok_or_else(|| format!("{shown:?}: bad %-escape"))?;
        if account.is_empty() || key.is_empty() {
            return Err(format!(
                "{shown:?} is not a key reference: both the account and the key are needed \
                 (kw://ACCOUNT/KEY)"
            ));
        }
        Ok(Reference { account, key })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", encode(&self.account), encode(&self.key))
    }
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::sample_key;

    #[test]
    fn references_round_trip_names_with_spaces_slashes_and_more() {
        for (account, key) in [
            ("local", "deploy"),
            ("tracked", "testo prod"),
            ("http://127.0.0.1:8080", "a/b c%d"),
            ("team", "名前 ☃"),
        ] {
            let reference = Reference {
                account: account.into(),
                key: key.into(),
            };
            let text = reference.to_string();
            assert_eq!(text.matches('/').count(), 3, "{text}");
            assert_eq!(Reference::parse(&text), Ok(reference), "{text}");
        }
        assert_eq!(
            Reference::parse("kw://tracked/testo-prod").unwrap().key,
            "testo-prod"
        );
        for bad in [
            "tracked/x",
            "kw://tracked",
            "kw:///x",
            "kw://a/",
            "kw://a/%zz",
            "kw://a/%4",
            "kw://a/%+A",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_key_is_named_by_its_name_unless_another_key_shares_it() {
        let named = |id: &str, name: &str| SourceKey {
            name: name.to_string(),
            ..sample_key("local", id, Some(30))
        };
        let a = named("1", "deploy");
        let keys = vec![a.clone(), named("2", "ci")];
        assert_eq!(Reference::of(&a, &keys).to_string(), "kw://local/deploy");
        let keys = vec![a.clone(), named("2", "ci"), named("3", "deploy")];
        assert_eq!(Reference::of(&a, &keys).to_string(), "kw://local/1");
        // A name that is another key's id would name that key.
        let b = named("1", "2");
        let keys = vec![b.clone(), named("2", "ci")];
        assert_eq!(Reference::of(&b, &keys).to_string(), "kw://local/1");
    }
}
