//! Fills a database with an owner, a workspace and N API keys for the load test and the benchmarks,
//! and prints one valid key on stdout.
//!
//! ```sh
//! cargo run --release --example seed -- --database-url sqlite://PATH --keys N \
//!     [--workspace NAME] [--owner EMAIL]
//! ```
//!
//! Next to the database it keeps `PATH.seed` (mode 600): how many keys it has inserted and the texts
//! of the first 1,000 of them, because the database holds only hashes. A second run with the same N
//! reuses the database (it checks that the sample keys still authenticate); a larger N tops it up.
//! `benches/keys.rs` includes this file so both seed the same way.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, bail};
use chrono::{Duration, Utc};
use keywarden::api::{KeyStatus, Role};
use keywarden::key::{self, TokenKind};
use keywarden::secret::Secret;
use keywarden::server::accounts::{create_user, ensure_workspace};
use keywarden::server::store::{KeyFilter, Keys as _, NewKey, SqliteStore, Users as _};

/// How many key texts the marker keeps, for benchmarks that look up many different keys.
pub const SAMPLE_LEN: usize = 1000;
/// Keys per transaction: big enough that a million keys take seconds, small enough to bound memory.
const BATCH_LEN: usize = 50_000;
const OWNER_EMAIL: &str = "bench-owner@keywarden.invalid";
const WORKSPACE: &str = "bench";
/// The longest lifetime the server's policy allows, so the keys look like real ones.
const KEY_LIFETIME_DAYS: i64 = 365;
const MARKER_HEADER: &str = "keywarden-seed v1";

/// A seeded database: the open store and up to [`SAMPLE_LEN`] valid key texts, oldest first.
pub struct Seeded {
    pub store: SqliteStore,
    pub key_count: usize,
    pub sample: Vec<Secret>,
}

/// The marker file that belongs to a database URL (`sqlite://PATH`, `sqlite:PATH` or a plain path).
pub fn marker_path(database_url: &str) -> anyhow::Result<PathBuf> {
    let path = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .unwrap_or(database_url);
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path == ":memory:" {
        bail!("the seed needs a database file, not {database_url:?}");
    }
    let mut marker = PathBuf::from(path).into_os_string();
    marker.push(".seed");
    Ok(PathBuf::from(marker))
}

/// Makes sure the database at `database_url` holds at least `key_count` keys from this tool, adding
/// the missing ones, and returns it with its sample keys.
pub async fn seed(database_url: &str, key_count: usize) -> anyhow::Result<Seeded> {
    seed_into(database_url, key_count, WORKSPACE, OWNER_EMAIL).await
}

/// [`seed`] with the keys in `workspace`, owned by `owner` (both created if missing).
pub async fn seed_into(
    database_url: &str,
    key_count: usize,
    workspace: &str,
    owner: &str,
) -> anyhow::Result<Seeded> {
    if key_count == 0 {
        bail!("--keys must be at least 1");
    }
    let marker = marker_path(database_url)?;
    let store = SqliteStore::open(database_url).await?;
    let workspace_id = ensure_workspace(&store, workspace).await?;
    let user_id = ensure_owner(&store, owner, workspace_id).await?;

    let (mut inserted, mut sample) = match read_marker(&marker)? {
        Some(found) => found,
        None => {
            if has_keys(&store, workspace_id).await? {
                bail!(
                    "{database_url} already has keys in workspace {workspace:?} but no {} (an \
                     interrupted seed?); delete the database and run again",
                    marker.display()
                );
            }
            (0, Vec::new())
        }
    };
    if inserted > 0 {
        check_sample(&store, &sample, database_url, &marker).await?;
    }

    if inserted < key_count {
        let started = Instant::now();
        eprintln!(
            "seed: inserting {} keys into {database_url}",
            key_count - inserted
        );
        let created_at = Utc::now();
        let expires_at = created_at + Duration::days(KEY_LIFETIME_DAYS);
        while inserted < key_count {
            let batch_len = BATCH_LEN.min(key_count - inserted);
            let mut batch = Vec::with_capacity(batch_len);
            for i in inserted..inserted + batch_len {
                let text = key::generate(TokenKind::ApiKey);
                batch.push(NewKey {
                    hash: key::hash(text.expose()),
                    hint: key::display_hint(text.expose()),
                    name: format!("bench-{i}"),
                    description: String::new(),
                    workspace_id,
                    user_id,
                    created_at,
                    expires_at,
                    scopes: Vec::new(),
                    replaces: None,
                });
                if sample.len() < SAMPLE_LEN {
                    sample.push(text);
                }
            }
            // Inserting in hash order keeps the unique index's B-tree writes local.
            batch.sort_unstable_by_key(|key| key.hash);
            store.insert_keys_unaudited(&batch).await?;
            inserted += batch_len;
            write_marker(&marker, inserted, &sample)?;
            eprintln!(
                "seed: {inserted}/{key_count} keys ({:.1} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(Seeded {
        store,
        key_count: inserted,
        sample,
    })
}

async fn ensure_owner(store: &SqliteStore, email: &str, workspace_id: i64) -> anyhow::Result<i64> {
    if let Some(user) = store.user_by_email(email).await? {
        return Ok(user.user.id);
    }
    // Nobody signs in as this user: its password is random and forgotten at once.
    let password = key::generate(TokenKind::Session);
    let user = create_user(
        store,
        email,
        &password,
        Role::Owner,
        workspace_id,
        &keywarden::server::store::AuditContext::system(chrono::Utc::now()),
    )
    .await?;
    Ok(user.id)
}

async fn has_keys(store: &SqliteStore, workspace_id: i64) -> anyhow::Result<bool> {
    let keys = store
        .list_keys(KeyFilter {
            workspace_id,
            user_id: None,
            status: None,
            query: None,
            before_id: None,
            limit: 1,
            now: Utc::now(),
        })
        .await?;
    Ok(!keys.is_empty())
}

/// The marker's sample must still authenticate: the database may have been replaced, or the keys
/// may have expired since it was seeded.
async fn check_sample(
    store: &SqliteStore,
    sample: &[Secret],
    database_url: &str,
    marker: &Path,
) -> anyhow::Result<()> {
    let now = Utc::now() + Duration::days(1);
    for text in [sample.first(), sample.last()].into_iter().flatten() {
        let auth = store.key_auth(key::hash(text.expose())).await?;
        let active = auth.is_some_and(|auth| {
            KeyStatus::derive(now, auth.expires_at, auth.enabled, auth.revoked_at)
                == KeyStatus::Active
        });
        if !active {
            bail!(
                "the keys listed in {} are missing, expired or revoked in {database_url}; delete \
                 both files and run again",
                marker.display()
            );
        }
    }
    Ok(())
}

fn read_marker(marker: &Path) -> anyhow::Result<Option<(usize, Vec<Secret>)>> {
    let text = match std::fs::read_to_string(marker) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", marker.display())),
    };
    let mut lines = text.lines();
    let count = match (lines.next(), lines.next()) {
        (Some(MARKER_HEADER), Some(count_line)) => count_line
            .strip_prefix("keys ")
            .and_then(|n| n.parse::<usize>().ok()),
        _ => None,
    };
    let sample: Vec<Secret> = lines.map(Secret::new).collect();
    let well_formed = sample
        .iter()
        .all(|text| key::parse(TokenKind::ApiKey, text.expose()).is_ok());
    match count {
        Some(count) if well_formed && !sample.is_empty() => Ok(Some((count, sample))),
        _ => bail!(
            "{} is not a marker this tool wrote; delete it and the database",
            marker.display()
        ),
    }
}

/// Writes the marker atomically (mode 600), so a crash leaves the old marker or the new one.
fn write_marker(marker: &Path, key_count: usize, sample: &[Secret]) -> anyhow::Result<()> {
    let mut text = format!("{MARKER_HEADER}\nkeys {key_count}\n");
    for key in sample {
        text.push_str(key.expose());
        text.push('\n');
    }
    keywarden::files::write_atomic(marker, text.as_bytes())
        .with_context(|| format!("cannot write {}", marker.display()))
}

/// Fills a database with an owner, a workspace and N API keys; prints one valid key.
#[derive(clap::Parser)]
struct Args {
    /// `sqlite://PATH` of the database to fill (created if missing).
    #[arg(long)]
    database_url: String,
    /// How many keys the database should hold.
    #[arg(long = "keys", value_parser = parse_count)]
    key_count: usize,
    /// The workspace the keys go into (created if missing).
    #[arg(long, default_value = WORKSPACE)]
    workspace: String,
    /// The owner of the keys, created with a forgotten random password if missing. Give
    /// `owner@localhost` and `--workspace default` to fill the desktop app's own list.
    #[arg(long, default_value = OWNER_EMAIL)]
    owner: String,
}

/// A count, with `_` allowed as a separator (`1_000_000`).
fn parse_count(text: &str) -> Result<usize, String> {
    text.replace('_', "")
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))
}

fn run() -> anyhow::Result<()> {
    let args = <Args as clap::Parser>::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let seeded = runtime.block_on(seed_into(
        &args.database_url,
        args.key_count,
        &args.workspace,
        &args.owner,
    ))?;
    if seeded.key_count > args.key_count {
        eprintln!(
            "seed: {} already holds {} seeded keys (more than {})",
            args.database_url, seeded.key_count, args.key_count
        );
    }
    let Some(first) = seeded.sample.first() else {
        bail!("no key was seeded");
    };
    println!("{}", first.expose());
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("seed: {err:#}");
            ExitCode::FAILURE
        }
    }
}
