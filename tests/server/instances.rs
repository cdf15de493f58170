//! Several `keywarden serve` processes on one database (the backend under test): a change made
//! through one is refused by every other within a second, and an instance cut off from PostgreSQL
//! stops accepting within its staleness bound (fail closed) and recovers when it reconnects.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{
    Backend, PASSWORD, ServeProcess, fresh_postgres_database, postgres_admin_url, user_add,
};

/// Signs in at `instance`: (session token, user id, default workspace id).
async fn login(http: &reqwest::Client, instance: &ServeProcess, email: &str) -> (String, i64, i64) {
    let body: Value = http
        .post(instance.url("/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login body");
    let token = body["token"].as_str().expect("a token").to_string();
    let user = &body["user"];
    (
        token,
        user["id"].as_i64().unwrap(),
        user["default_workspace_id"].as_i64().unwrap(),
    )
}

/// Makes a key through `instance`: (id, secret).
async fn create_key(
    http: &reqwest::Client,
    instance: &ServeProcess,
    session: &str,
    name: &str,
) -> (i64, String) {
    let response = http
        .post(instance.url("/v1/keys"))
        .bearer_auth(session)
        .json(&json!({"name": name, "expires_in_days": 30}))
        .send()
        .await
        .expect("create key");
    assert_eq!(response.status(), StatusCode::CREATED, "create {name}");
    let body: Value = response.json().await.unwrap();
    (
        body["key"]["id"].as_i64().unwrap(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

async fn ping(
    http: &reqwest::Client,
    instance: &ServeProcess,
    credential: &str,
) -> reqwest::Response {
    http.get(instance.url("/v1/ping"))
        .bearer_auth(credential)
        .send()
        .await
        .expect("ping")
}

/// How long after now `instance` keeps answering `expected_ok` to `request` before it changes;
/// panics after 5 s.
async fn time_until_refused<F, Fut>(label: &str, request: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while request().await {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{label}: still accepted after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn a_change_through_one_instance_is_refused_by_the_others_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let url = Backend::under_test().fresh_database(dir.path()).await;
    user_add(&url, "owner@example.com", "owner", PASSWORD);
    user_add(&url, "member@example.com", "member", PASSWORD);
    let instances: Vec<ServeProcess> = (0..3).map(|_| ServeProcess::start(&url, &[])).collect();
    let (first, others) = instances.split_first().unwrap();
    let http = reqwest::Client::new();
    let (owner, _, workspace) = login(&http, first, "owner@example.com").await;
    let (revoked_id, revoked) = create_key(&http, first, &owner, "to revoke").await;
    let (disabled_id, disabled) = create_key(&http, first, &owner, "to disable").await;
    for other in others {
        // Each instance has both keys cached before the change.
        assert_eq!(ping(&http, other, &revoked).await.status(), StatusCode::OK);
        assert_eq!(ping(&http, other, &disabled).await.status(), StatusCode::OK);
    }

    let response = http
        .post(first.url(&format!("/v1/keys/{revoked_id}/revoke")))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    for (n, other) in others.iter().enumerate() {
        let lag = time_until_refused("revoked key", || async {
            ping(&http, other, &revoked).await.status() == StatusCode::OK
        })
        .await;
        assert!(
            lag < Duration::from_secs(1),
            "instance {n} took {lag:?} to refuse a revoked key"
        );
    }

    let response = http
        .patch(first.url(&format!("/v1/keys/{disabled_id}")))
        .bearer_auth(&owner)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    for (n, other) in others.iter().enumerate() {
        let lag = time_until_refused("disabled key", || async {
            ping(&http, other, &disabled).await.status() == StatusCode::OK
        })
        .await;
        assert!(
            lag < Duration::from_secs(1),
            "instance {n} took {lag:?} to refuse a disabled key"
        );
    }

    // A member signed in at another instance, made a viewer through the first: no more keys.
    let last = others.last().unwrap();
    let (member, member_id, _) = login(&http, last, "member@example.com").await;
    create_key(&http, last, &member, "while a member").await;
    let response = http
        .put(first.url(&format!("/v1/workspaces/{workspace}/members/{member_id}")))
        .bearer_auth(&owner)
        .json(&json!({"role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let lag = time_until_refused("role change", || async {
        let status = http
            .post(last.url("/v1/keys"))
            .bearer_auth(&member)
            .json(&json!({"name": "as a viewer?", "expires_in_days": 30}))
            .send()
            .await
            .unwrap()
            .status();
        status == StatusCode::CREATED
    })
    .await;
    assert!(
        lag < Duration::from_secs(1),
        "a role change took {lag:?} to reach another instance"
    );
}

/// Runs SQL as the test cluster's superuser on `database_url`'s database.
async fn as_admin(database_url: &str, sql: &str) {
    use sqlx::Connection as _;
    let database = database_url.rsplit('/').next().unwrap();
    let admin = postgres_admin_url();
    let url = format!("{}/{database}", admin.rsplit_once('/').unwrap().0);
    let mut connection = sqlx::PgConnection::connect(&url)
        .await
        .expect("connect as admin");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut connection)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
}

/// Found on the earlier code: an instance whose database reads failed went on accepting a key
/// another instance had revoked (87 times out of 87 over 4.5 s; a failed poll only logged a
/// warning). Now, past `--max-staleness` without confirming its cache, it checks each credential
/// against the database and answers 503 with `Retry-After` when it cannot.
#[tokio::test]
async fn an_instance_cut_off_from_postgres_stops_accepting_within_its_bound_and_recovers() {
    let url = fresh_postgres_database().await;
    user_add(&url, "owner@example.com", "owner", PASSWORD);
    let first = ServeProcess::start(&url, &[]);
    // The second instance connects as a role of its own, so it alone can be cut off.
    let role = format!("kw_cut_{}", std::process::id());
    as_admin(
        &url,
        &format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'cut-off-role-password'; \
             GRANT USAGE, CREATE ON SCHEMA public TO {role}; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}; \
             GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};"
        ),
    )
    .await;
    let (userinfo, rest) = url.split_once('@').unwrap();
    let scheme = userinfo.split("://").next().unwrap();
    let role_url = format!("{scheme}://{role}:cut-off-role-password@{rest}");
    let second = ServeProcess::start(&role_url, &["--max-staleness", "1"]);

    let http = reqwest::Client::new();
    let (owner, _, _) = login(&http, &first, "owner@example.com").await;
    let (key_id, key) = create_key(&http, &first, &owner, "revoked while cut off").await;
    assert_eq!(ping(&http, &second, &key).await.status(), StatusCode::OK);
    let ready = http.get(second.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    as_admin(
        &url,
        &format!(
            "ALTER ROLE {role} NOLOGIN; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}';"
        ),
    )
    .await;
    let cut = Instant::now();
    let response = http
        .post(first.url(&format!("/v1/keys/{key_id}/revoke")))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // The bound is 1 s; a read of the log begins every 250 ms: by 1.5 s nothing is accepted.
    let mut unavailable = 0;
    while cut.elapsed() < Duration::from_secs(4) {
        let response = ping(&http, &second, &key).await;
        let status = response.status();
        if cut.elapsed() > Duration::from_millis(1500) {
            assert_ne!(
                status,
                StatusCode::OK,
                "accepted {:?} after the cut",
                cut.elapsed()
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(response.headers().contains_key("retry-after"));
            unavailable += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(unavailable > 0, "a cut-off instance answers 503");
    let ready = http.get(second.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(ready.headers().contains_key("retry-after"));
    assert!(second.wait_for_log("cannot read the log of rights changes"));
    assert!(
        !second.log_text().contains("cut-off-role-password"),
        "{}",
        second.log_text()
    );

    as_admin(&url, &format!("ALTER ROLE {role} LOGIN;")).await;
    let recovered = Instant::now();
    loop {
        let status = ping(&http, &second, &key).await.status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_ne!(
            status,
            StatusCode::OK,
            "the revoked key was accepted after reconnecting"
        );
        assert!(
            recovered.elapsed() < Duration::from_secs(10),
            "did not recover: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, fresh) = create_key(&http, &first, &owner, "made after the cut").await;
    assert_eq!(ping(&http, &second, &fresh).await.status(), StatusCode::OK);
    let ready = http.get(second.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}
