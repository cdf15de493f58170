//! `keys test`: a key's own check request, sent to its service in its header style.

use std::process::ExitCode;

use chrono::Utc;
use serde::Serialize;

use super::Invocation;
use crate::cli::output::{expiry_text, to_json};
use crate::sources::services::TestOutcome;
use crate::sources::{SourceKey, accounts};
use crate::text;

#[derive(Debug, clap::Args)]
pub struct Args {
    key: String,
    #[arg(long)]
    json: bool,
}

pub(super) async fn run(on: &Invocation, args: Args) -> anyhow::Result<ExitCode> {
    let gathered = on.context.gather(on.account()).await?;
    let key = gathered.find(&args.key)?;
    let source = gathered.source(&key.source).ok();
    test(&on.keeper, source, key, args.json).await
}

/// One line, and the exit code of monitoring plugins.
async fn test(
    keeper: &crate::sources::keeper::Keeper,
    source: Option<&dyn crate::sources::KeySource>,
    key: SourceKey,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let service = key.service();
    let at = service
        .test_host(key.base_url.as_deref(), key.workspace.as_deref())
        .map(|host| format!(" at {host}"))
        .unwrap_or_default();
    let tested = accounts::test_key(keeper, source, &key).await;
    let now = Utc::now();
    let (result, message, code) = match &tested.outcome {
        TestOutcome::Accepted { .. } => {
            let mut message = format!("{}{at} accepted the key", service.name);
            if let Some(updated) = &tested.updated {
                message.push_str(&format!(
                    "; it reports the key {}, now recorded",
                    expiry_text(updated.expires_at, now)
                ));
            }
            ("accepted", message, 0)
        }
        TestOutcome::Refused { status, message } => (
            "refused",
            format!(
                "{}{at} refused the key (HTTP {status}): {message}",
                service.name
            ),
            1,
        ),
        TestOutcome::Unreachable(why) => ("unreachable", format!("could not test: {why}"), 3),
    };
    let key = tested.updated.unwrap_or(key);
    if json {
        #[derive(Serialize)]
        struct Tested<'a> {
            key: &'a SourceKey,
            result: &'a str,
            message: &'a str,
        }
        print!(
            "{}",
            to_json(&Tested {
                key: &key,
                result,
                message: &message,
            })?
        );
    } else {
        println!(
            "{result}: {} {:?} on {}: {}",
            key.id,
            text::for_terminal(&key.name),
            key.source,
            text::for_terminal(&message)
        );
    }
    Ok(ExitCode::from(code))
}
