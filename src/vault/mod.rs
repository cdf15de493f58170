//! Where secrets live on the client: the OS keychain (Secret Service on Linux, Keychain on macOS,
//! Credential Manager on Windows) behind a trait, and the clipboard with auto-clear.
//!
//! Every item is stored under the service `keywarden`; the account names the source, its kind and
//! what the secret is (`keywarden key 12 on local`, `thingsboard key 6f1c… on tb`, `tracked key
//! a1b2c3 on tracked`), so `secret-tool search service keywarden` lists what the app holds and ids
//! of different sources never collide.
//! Calls block (D-Bus): run them off the UI thread.

pub mod clipboard;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use crate::secret::Secret;

pub const SERVICE: &str = "keywarden";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VaultError {
    /// No keychain, or it is locked: the app keeps working with metadata only.
    #[error("the OS keychain is locked or missing, so secrets are unavailable ({0})")]
    Unavailable(String),
    #[error("the OS keychain failed: {0}")]
    Failed(String),
}

pub trait Vault: Send + Sync + 'static {
    fn get(&self, account: &str) -> Result<Option<Secret>, VaultError>;
    fn set(&self, account: &str, secret: &Secret) -> Result<(), VaultError>;
    /// Removes the item; `false` when there was none.
    fn delete(&self, account: &str) -> Result<bool, VaultError>;
    /// Every account this app holds a secret for.
    fn accounts(&self) -> Result<BTreeSet<String>, VaultError>;
}

/// The account of a key's secret: the source's kind and name, and the key's id on it.
pub fn key_account(kind: &str, source: &str, id: &str) -> String {
    format!("{kind} key {id} on {source}")
}

/// The account earlier versions used for a Keywarden key (`key 12 on local`): still read, and moved
/// to [`key_account`] when found.
pub fn legacy_key_account(source: &str, id: &str) -> String {
    format!("key {id} on {source}")
}

pub fn session_account(server: &str) -> String {
    format!("session on {server}")
}

/// The random password of the embedded server's local owner account.
pub const LOCAL_OWNER_ACCOUNT: &str = "local owner password";

/// The key ids of source `source` of kind `kind` whose secrets are in `accounts` (for Keywarden
/// sources, under the earlier name too).
pub fn held_key_ids(accounts: &BTreeSet<String>, kind: &str, source: &str) -> BTreeSet<String> {
    let suffix = format!(" on {source}");
    let prefix = format!("{kind} key ");
    accounts
        .iter()
        .filter_map(|account| {
            let rest = account.strip_suffix(&suffix)?;
            let id = rest
                .strip_prefix(&prefix)
                .or_else(|| (kind == "keywarden").then(|| rest.strip_prefix("key "))?)?;
            (!id.is_empty() && !id.contains(' ')).then(|| id.to_string())
        })
        .collect()
}

/// The real OS keychain through the `keyring` crate.
pub struct KeyringVault;

impl KeyringVault {
    /// Fails with [`VaultError::Unavailable`] when there is no keychain service (no session bus, no
    /// Secret Service). The store is chosen once per process.
    pub fn new() -> Result<KeyringVault, VaultError> {
        keyring::Entry::store_status()
            .as_ref()
            .map_err(|err| VaultError::Unavailable(err.to_string()))?;
        Ok(KeyringVault)
    }

    fn entry(account: &str) -> Result<keyring::Entry, VaultError> {
        keyring::Entry::new(SERVICE, account).map_err(map_error)
    }
}

fn map_error(err: keyring::Error) -> VaultError {
    match err {
        keyring::Error::NoDefaultStore | keyring::Error::NoStorageAccess(_) => {
            VaultError::Unavailable(err.to_string())
        }
        other => VaultError::Failed(other.to_string()),
    }
}

impl Vault for KeyringVault {
    fn get(&self, account: &str) -> Result<Option<Secret>, VaultError> {
        match Self::entry(account)?.get_password() {
            Ok(password) => Ok(Some(Secret::new(password))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(map_error(err)),
        }
    }

    fn set(&self, account: &str, secret: &Secret) -> Result<(), VaultError> {
        Self::entry(account)?
            .set_password(secret.expose())
            .map_err(map_error)
    }

    fn delete(&self, account: &str) -> Result<bool, VaultError> {
        match Self::entry(account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(err) => Err(map_error(err)),
        }
    }

    fn accounts(&self) -> Result<BTreeSet<String>, VaultError> {
        // Each store searches its own way: Secret Service and the macOS Keychain by service,
        // Windows' Credential Manager by a pattern over its target names, `user.service`
        // (not tried on Windows here: README, "Beyond Linux").
        #[cfg(not(windows))]
        let spec = HashMap::from([("service", SERVICE)]);
        #[cfg(windows)]
        let spec = HashMap::from([("pattern", r"\.keywarden$")]);
        let entries = keyring_core::Entry::search(&spec).map_err(map_error)?;
        let mut accounts = BTreeSet::new();
        for entry in entries {
            // Another process (the app, a command) may remove an item between the search and
            // this read: that item is gone (no specifiers), the others are still the answer.
            match entry.get_specifiers() {
                Some((service, account)) if service == SERVICE => {
                    accounts.insert(account);
                }
                Some(_) => {}
                None => tracing::debug!("a keychain item went away while listing"),
            }
        }
        Ok(accounts)
    }
}

/// The OS keychain, or, when it cannot be opened, a stand-in that answers every call with the
/// reason it could not (so each message names the real cause), and that reason.
pub fn open_keychain() -> (Arc<dyn Vault>, Option<VaultError>) {
    match KeyringVault::new() {
        Ok(vault) => (Arc::new(vault), None),
        Err(err) => (Arc::new(UnavailableVault(err.clone())), Some(err)),
    }
}

/// A keychain that could not be opened: every call fails with why.
pub struct UnavailableVault(pub VaultError);

impl Vault for UnavailableVault {
    fn get(&self, _account: &str) -> Result<Option<Secret>, VaultError> {
        Err(self.0.clone())
    }

    fn set(&self, _account: &str, _secret: &Secret) -> Result<(), VaultError> {
        Err(self.0.clone())
    }

    fn delete(&self, _account: &str) -> Result<bool, VaultError> {
        Err(self.0.clone())
    }

    fn accounts(&self) -> Result<BTreeSet<String>, VaultError> {
        Err(self.0.clone())
    }
}

/// In memory, for tests about something other than the keychain. `unavailable()` behaves like a
/// locked keychain.
#[derive(Default)]
pub struct MemoryVault {
    items: Mutex<HashMap<String, Secret>>,
    unavailable: bool,
}

impl MemoryVault {
    pub fn unavailable() -> MemoryVault {
        MemoryVault {
            items: Mutex::default(),
            unavailable: true,
        }
    }

    fn items(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Secret>>, VaultError> {
        if self.unavailable {
            return Err(VaultError::Unavailable(
                "the test keychain is locked".to_string(),
            ));
        }
        self.items
            .lock()
            .map_err(|_| VaultError::Failed("poisoned".to_string()))
    }
}

impl Vault for MemoryVault {
    fn get(&self, account: &str) -> Result<Option<Secret>, VaultError> {
        Ok(self.items()?.get(account).cloned())
    }

    fn set(&self, account: &str, secret: &Secret) -> Result<(), VaultError> {
        self.items()?.insert(account.to_string(), secret.clone());
        Ok(())
    }

    fn delete(&self, account: &str) -> Result<bool, VaultError> {
        Ok(self.items()?.remove(account).is_some())
    }

    fn accounts(&self) -> Result<BTreeSet<String>, VaultError> {
        Ok(self.items()?.keys().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_keys_are_read_from_account_names() {
        let accounts: BTreeSet<String> = [
            key_account("keywarden", "local", "3"),
            legacy_key_account("local", "12"),
            key_account("keywarden", "https://kw.example.com", "4"),
            key_account("thingsboard", "https://kw.example.com", "6f1c-4"),
            key_account("tracked", "tracked", "a1b2"),
            legacy_key_account("tracked", "9"),
            session_account("local"),
            LOCAL_OWNER_ACCOUNT.to_string(),
        ]
        .into();
        let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(
            held_key_ids(&accounts, "keywarden", "local"),
            ids(&["3", "12"])
        );
        assert_eq!(
            held_key_ids(&accounts, "keywarden", "https://kw.example.com"),
            ids(&["4"])
        );
        assert_eq!(
            held_key_ids(&accounts, "thingsboard", "https://kw.example.com"),
            ids(&["6f1c-4"])
        );
        assert_eq!(
            held_key_ids(&accounts, "tracked", "tracked"),
            ids(&["a1b2"]),
            "the earlier name is only ever a Keywarden key's"
        );
    }

    /// Found on an earlier version: without a keychain every message read "the test keychain is
    /// locked", the wording of a test stand-in used in production.
    #[test]
    fn an_unavailable_keychain_names_the_real_cause() {
        let cause = VaultError::Unavailable("no D-Bus session bus".to_string());
        let vault = UnavailableVault(cause.clone());
        for err in [
            vault.get("a").unwrap_err(),
            vault.set("a", &Secret::new("s")).unwrap_err(),
            vault.delete("a").unwrap_err(),
            vault.accounts().unwrap_err(),
        ] {
            assert_eq!(err, cause);
            assert!(err.to_string().contains("no D-Bus session bus"), "{err}");
            assert!(!err.to_string().contains("test"), "{err}");
        }
    }

    #[test]
    fn memory_vault_round_trip_and_locked() {
        let vault = MemoryVault::default();
        vault.set("a", &Secret::new("s")).unwrap();
        assert_eq!(vault.get("a").unwrap(), Some(Secret::new("s")));
        assert!(vault.delete("a").unwrap());
        assert!(!vault.delete("a").unwrap());
        assert!(matches!(
            MemoryVault::unavailable().get("a"),
            Err(VaultError::Unavailable(_))
        ));
    }
}
