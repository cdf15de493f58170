//! `kw://ACCOUNT/KEY` references made into secrets, for `keywarden run` and `keywarden inject`:
//! the key from the account's list saved on this computer (its source is asked only when there is
//! none), the secret from the keychain. Nothing is sent anywhere, and no secret is printed.

use std::collections::BTreeMap;

use anyhow::anyhow;
use chrono::{DateTime, Utc};

use super::context::Context;
use crate::api::KeyStatus;
use crate::reminders::{ExpiryClass, Reminded as _, Thresholds, key_class, relative_time};
use crate::secret::Secret;
use crate::sources::list_cache::ListCache;
use crate::sources::reference::Reference;
use crate::sources::{self, KeyRef, SourceKey};
use crate::text;

/// Each reference's key, from the account's list; the error names the first that is not found.
pub(super) async fn find(
    context: &Context,
    references: &[Reference],
) -> anyhow::Result<Vec<(Reference, SourceKey)>> {
    let mut lists: BTreeMap<String, Vec<SourceKey>> = BTreeMap::new();
    let mut found = Vec::new();
    for reference in references {
        let shown = text::for_terminal(&reference.to_string()).into_owned();
        if !lists.contains_key(&reference.account) {
            let account = context
                .account(&reference.account)
                .map_err(|err| anyhow!("{shown}: {err}"))?;
            lists.insert(reference.account.clone(), keys_of(context, &account).await?);
        }
        let key = sources::find(&lists[&reference.account], &reference.key)
            .map_err(|err| anyhow!("{shown}: {}", text::for_terminal(&err)))?
            .clone();
        found.push((reference.clone(), key));
    }
    Ok(found)
}

/// The keys' secrets, from the keychain, in order; the error names the first key whose secret is
/// not here.
async fn secrets_of(
    context: &Context,
    found: &[(Reference, SourceKey)],
) -> anyhow::Result<Vec<Secret>> {
    let keeper = context.keeper()?;
    let mut secrets = Vec::new();
    for (reference, key) in found {
        let secret = keeper.secret(&KeyRef::from(key)).await?.ok_or_else(|| {
            anyhow!(
                "{}: the secret of \"{}\" is not held on this computer (the keychain keeps \
                 the secrets of keys made, renewed or added here)",
                text::for_terminal(&reference.to_string()),
                text::for_terminal(&key.name)
            )
        })?;
        secrets.push(secret);
    }
    Ok(secrets)
}

/// An account's keys: the list saved here, or its source's (the tracked keys' file, a server)
/// when none is saved.
async fn keys_of(
    context: &Context,
    account: &super::context::Account,
) -> anyhow::Result<Vec<SourceKey>> {
    if let Some(cache_key) = account.cache_key()
        && let Some(cache) = ListCache::default_dir().map(ListCache::new)
        && let Some(saved) =
            cache.load::<SourceKey>(&cache_key, account.email.as_deref().unwrap_or_default())
    {
        return Ok(saved.keys);
    }
    if account.cache_key().is_some() {
        // Listed through the keeper, and the list saved for next time.
        return Ok(context.gather(Some(&account.name)).await?.keys);
    }
    // An account with no saved list (the tracked keys' file) is read as it is: the keeper would
    // look in the keychain for every key it holds (a D-Bus call each) to resolve one.
    let source = context.open(account).await?;
    Ok(source.list().await?)
}

/// The secrets of `references` (in order) for a command about to use them, each key's state
/// checked ([`check`]) before its secret is looked for (a revoked key's secret is gone; the
/// revocation is the reason to give): the warnings are printed on stderr; `Err` is the reason a
/// key cannot be used (the caller stops with exit code 2).
pub async fn resolve_for_use(
    context: &Context,
    references: &[Reference],
    allow_expired: bool,
) -> anyhow::Result<Result<Vec<Secret>, String>> {
    let found = find(context, references).await?;
    let warnings = match check(
        &found,
        Utc::now(),
        &context.config.thresholds,
        allow_expired,
    ) {
        Ok(warnings) => warnings,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let resolved = secrets_of(context, &found).await?;
    for warning in warnings {
        eprintln!("keywarden: {}", text::for_terminal(&warning));
    }
    Ok(Ok(resolved))
}

/// A line for each key that expires soon (its class, time left and how to renew it), or, for a
/// key that cannot work (expired, revoked, disabled), the reason to stop; with `allow_expired`
/// those are warnings too.
fn check(
    found: &[(Reference, SourceKey)],
    now: DateTime<Utc>,
    thresholds: &Thresholds,
    allow_expired: bool,
) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    for (reference, key) in found {
        let name = format!(
            "{} (\"{}\")",
            text::for_terminal(&reference.to_string()),
            text::for_terminal(&key.name)
        );
        let problem = match key.status_at(now) {
            KeyStatus::Revoked => Some(format!("{name} is revoked")),
            KeyStatus::Disabled => Some(format!(
                "{name} is disabled; enable it with: keywarden keys enable {} --account {}",
                key.id,
                text::for_terminal(&key.source)
            )),
            KeyStatus::Expired => Some(format!(
                "{name} expired {}; renew it with: {}",
                key.expires_at
                    .map_or_else(String::new, |at| relative_time(at, now)),
                key.renew_command()
            )),
            KeyStatus::Active => None,
        };
        if let Some(problem) = problem {
            if !allow_expired {
                return Err(format!("{problem} (--allow-expired uses it anyway)"));
            }
            warnings.push(format!("warning: {problem}"));
            continue;
        }
        if let (Some(class), Some(at)) = (key_class(key, now, thresholds), key.expires_at)
            && class != ExpiryClass::Ok
        {
            warnings.push(format!(
                "{}: {name} expires {} ({}); renew it with: {}",
                class.as_str(),
                relative_time(at, now),
                at.format("%Y-%m-%d"),
                key.renew_command()
            ));
        }
    }
    Ok(warnings)
}

/// Keeps the secrets this process is about to hold out of a core dump (a SIGQUIT after the
/// command ended would write one) and away from other processes of the user attaching to it: the
/// process is made non-dumpable. The command it starts is not affected (`execve` makes a process
/// dumpable again). Linux only: macOS writes no core dumps unless asked to, and Windows none
/// unless Windows Error Reporting is set up for it; there this does nothing.
#[cfg(target_os = "linux")]
pub fn keep_out_of_core_dumps() -> anyhow::Result<()> {
    // SAFETY: PR_SET_DUMPABLE changes one flag of this process and reads no memory.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(anyhow!(
            "cannot keep the secrets out of core dumps: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn keep_out_of_core_dumps() -> anyhow::Result<()> {
    Ok(())
}

/// Reads a reference, or says what is wrong with it.
pub fn parse(text: &str) -> anyhow::Result<Reference> {
    Reference::parse(text).map_err(|err| anyhow!(err))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn a_process_holding_secrets_dumps_no_core() {
        super::keep_out_of_core_dumps().unwrap();
        // SAFETY: PR_GET_DUMPABLE only reads this process's flag.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }, 0);
    }
}
