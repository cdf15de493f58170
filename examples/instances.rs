//! Helper of `benches/instances.sh`: talks to two `keywarden serve` instances on one database.
//!
//!   KW_PASSWORD=… instances key FIRST_URL EMAIL          prints a new key made through FIRST
//!   KW_PASSWORD=… instances lag FIRST_URL SECOND_URL EMAIL COUNT
//!
//! `lag` makes COUNT keys through the first instance; for each, it waits until the second accepts
//! it (so the second has it cached), pauses 0-299 ms, revokes it through the first, and times from
//! the revocation's answer to the second's first refusal, asking it back to back. It prints the
//! median, p99 and maximum in milliseconds.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};

fn session(http: &Client, base: &str, email: &str) -> anyhow::Result<String> {
    let password = std::env::var("KW_PASSWORD").context("set KW_PASSWORD")?;
    let body: Value = http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()?
        .error_for_status()?
        .json()?;
    Ok(body["token"].as_str().context("no token")?.to_string())
}

fn create_key(
    http: &Client,
    base: &str,
    session: &str,
    name: &str,
) -> anyhow::Result<(i64, String)> {
    let body: Value = http
        .post(format!("{base}/v1/keys"))
        .bearer_auth(session)
        .json(&json!({"name": name, "expires_in_days": 30}))
        .send()?
        .error_for_status()?
        .json()?;
    let id = body["key"]["id"].as_i64().context("no id")?;
    Ok((
        id,
        body["secret"].as_str().context("no secret")?.to_string(),
    ))
}

fn ping(http: &Client, base: &str, key: &str) -> anyhow::Result<StatusCode> {
    Ok(http
        .get(format!("{base}/v1/ping"))
        .header("x-api-key", key)
        .send()?
        .status())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let http = Client::builder().timeout(Duration::from_secs(10)).build()?;
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["key", first, email] => {
            let token = session(&http, first, email)?;
            println!("{}", create_key(&http, first, &token, "load")?.1);
        }
        ["lag", first, second, email, count] => {
            let count: usize = count.parse()?;
            let token = session(&http, first, email)?;
            let mut lags = Vec::with_capacity(count);
            for n in 0..count {
                let (id, key) = create_key(&http, first, &token, &format!("lag {n}"))?;
                let deadline = Instant::now() + Duration::from_secs(5);
                while ping(&http, second, &key)? != StatusCode::OK {
                    if Instant::now() > deadline {
                        bail!("the second instance never accepted key {id}");
                    }
                }
                // A pause of 0-299 ms first, so revocations do not fall in step with the second
                // instance's reading of the log (every 250 ms on SQLite).
                let pause = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .subsec_nanos()
                    % 300;
                std::thread::sleep(Duration::from_millis(u64::from(pause)));
                http.post(format!("{first}/v1/keys/{id}/revoke"))
                    .bearer_auth(&token)
                    .send()?
                    .error_for_status()?;
                let revoked = Instant::now();
                loop {
                    match ping(&http, second, &key)? {
                        StatusCode::UNAUTHORIZED => break,
                        StatusCode::OK if revoked.elapsed() < Duration::from_secs(10) => {}
                        status => bail!("key {id}: the second instance answered {status}"),
                    }
                }
                lags.push(revoked.elapsed().as_secs_f64() * 1000.0);
            }
            lags.sort_by(f64::total_cmp);
            println!(
                "{:.1} {:.1} {:.1}",
                percentile(&lags, 50.0),
                percentile(&lags, 99.0),
                lags[lags.len() - 1]
            );
        }
        _ => bail!("usage: instances key FIRST EMAIL | instances lag FIRST SECOND EMAIL COUNT"),
    }
    Ok(())
}
