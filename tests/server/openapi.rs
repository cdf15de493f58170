//! The API document against the server it describes: every status a route answered here, with no
//! credential, a member's key, a member's and an owner's session, and bodies that are empty,
//! not JSON, broken or too large, is one the document lists for that route.

use std::collections::{BTreeMap, BTreeSet};

use keywarden::api::Role;
use keywarden::server::ServerConfig;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::TestServer;

/// A server without the guessing limit: the failed authentications these tests cause on purpose
/// would turn their later requests into 429s (the limit is tested in guessing.rs).
async fn unlimited_server() -> TestServer {
    TestServer::start_with(ServerConfig {
        failures_per_minute: u32::MAX,
        ..ServerConfig::default()
    })
    .await
}

/// The document the server serves.
async fn document(server: &TestServer) -> Value {
    let response = server.http.get(server.url("/v1/openapi.json")).send().await;
    response.unwrap().json().await.unwrap()
}

/// A value for a path parameter that names nothing.
fn path_value(name: &str) -> &'static str {
    match name {
        "email" => "nobody%40example.com",
        _ => "999999",
    }
}

#[tokio::test]
async fn every_status_a_route_answers_is_documented_for_it() {
    let server = unlimited_server().await;
    server
        .add_user("owner@example.com", Role::Owner, "alpha")
        .await;
    let (_, member) = server
        .user_with_session("member@example.com", Role::Member, "alpha")
        .await;
    let member_key = server.create_key(&member, "member's key").await.secret;
    let document = document(&server).await;
    // Bodies for the record probes, built from the document; a fixed seed keeps runs alike.
    let mut random = Random(0x05ee_d1d5);

    let mut undocumented: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    let mut operations = 0;
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            operations += 1;
            let documented: BTreeSet<u16> = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .filter_map(|s| s.parse().ok())
                .collect();
            let mut path = template.clone();
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["in"] == "path" {
                    let name = parameter["name"].as_str().unwrap();
                    path = path.replace(&format!("{{{name}}}"), path_value(name));
                }
            }
            let has_query = operation["parameters"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["in"] == "query"));
            // Query parameters and body fields that name a record, each probed with ids that
            // cannot be, one that names nothing, and one that is no number.
            let id_parameters: Vec<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .filter_map(|p| p["name"].as_str())
                .filter(|name| name.ends_with("_id"))
                .collect();
            let body_schema = operation
                .pointer("/requestBody/content/application~1json/schema")
                .cloned();
            let id_fields: Vec<String> = body_schema
                .as_ref()
                .and_then(|schema| schema["$ref"].as_str())
                .and_then(|reference| {
                    document["components"]["schemas"][reference.rsplit('/').next().unwrap()]
                        ["properties"]
                        .as_object()
                })
                .into_iter()
                .flat_map(|properties| properties.keys())
                .filter(|name| name.ends_with("_id"))
                .cloned()
                .collect();
            // Fresh sessions for each route: one of them may be signing out.
            let owner = server.login("owner@example.com").await;
            let member_session = server.login("member@example.com").await;
            let credentials = [
                None,
                Some(member_key.expose()),
                Some(member_session.as_str()),
                Some(owner.as_str()),
            ];
            let mut observed = BTreeSet::new();
            for credential in credentials {
                let bodies: Vec<Option<(&str, Vec<u8>)>> = if operation.get("requestBody").is_some()
                {
                    vec![
                        Some(("application/json", b"{}".to_vec())),
                        Some(("text/plain", b"name=x".to_vec())),
                        Some(("application/json", b"{\"name\":".to_vec())),
                        Some(("application/json", vec![b' '; 70 * 1024])),
                    ]
                } else {
                    vec![None]
                };
                for body in bodies {
                    let mut request = server.http.request(method.clone(), server.url(&path));
                    if let Some(credential) = credential {
                        request = request.bearer_auth(credential);
                    }
                    if let Some((content_type, bytes)) = body {
                        request = request.header("content-type", content_type).body(bytes);
                    }
                    observed.insert(request.send().await.unwrap().status().as_u16());
                }
                if has_query {
                    let mut request = server.http.request(
                        method.clone(),
                        server.url(&format!("{path}?limit=0&cursor=x")),
                    );
                    if let Some(credential) = credential {
                        request = request.bearer_auth(credential);
                    }
                    observed.insert(request.send().await.unwrap().status().as_u16());
                }
            }
            for credential in [Some(member_session.as_str()), Some(owner.as_str())] {
                for name in &id_parameters {
                    for value in ["0", "-9223372036854775808", "999999", "x"] {
                        let mut request = server.http.request(
                            method.clone(),
                            server.url(&format!("{path}?{name}={value}")),
                        );
                        if let Some(credential) = credential {
                            request = request.bearer_auth(credential);
                        }
                        observed.insert(request.send().await.unwrap().status().as_u16());
                    }
                }
                if let Some(schema) = &body_schema {
                    for field in &id_fields {
                        for value in [json!(0), json!(i64::MIN), json!(999_999)] {
                            let mut body = value_for(schema, &document, &mut random);
                            body[field.as_str()] = value;
                            let mut request = server
                                .http
                                .request(method.clone(), server.url(&path))
                                .json(&body);
                            if let Some(credential) = credential {
                                request = request.bearer_auth(credential);
                            }
                            observed.insert(request.send().await.unwrap().status().as_u16());
                        }
                    }
                }
            }
            // What every route can answer from the layers around it counts as answered too.
            observed.extend([408, 414, 431, 503]);
            let missing: BTreeSet<u16> = observed.difference(&documented).copied().collect();
            if !missing.is_empty() {
                undocumented.insert(format!("{method} {template}"), missing);
            }
        }
    }
    assert!(
        operations > 20,
        "only {operations} operations in the document"
    );
    assert!(
        undocumented.is_empty(),
        "statuses answered but not documented: {undocumented:#?}"
    );
}

/// A small random source, seeded per run (printed, so a failure can be replayed).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn between(&mut self, low: i64, high: i64) -> i64 {
        let span = (high as i128 - low as i128 + 1) as u128;
        (low as i128 + (self.next() as u128 % span) as i128) as i64
    }
}

/// A value the schema allows, built from its type, bounds, lengths, pattern and enum only (what a
/// client generator reads). `date-time` strings are left out by the caller: their rules (in the
/// future, within the server's maximum) depend on the moment and are stated in the descriptions.
fn value_for(schema: &Value, document: &Value, random: &mut Random) -> Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return value_for(&document["components"]["schemas"][name], document, random);
    }
    if schema.get("properties").is_none()
        && let Some(choices) = schema["oneOf"].as_array()
    {
        let choice = &choices[random.below(choices.len() as u64) as usize];
        return value_for(choice, document, random);
    }
    if let Some(values) = schema["enum"].as_array() {
        return values[random.below(values.len() as u64) as usize].clone();
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let kind = types[random.below(types.len() as u64) as usize];
    match kind {
        "null" => Value::Null,
        "boolean" => Value::Bool(random.below(2) == 0),
        "integer" => {
            let low = schema["minimum"].as_i64().unwrap_or(i64::MIN / 2);
            let high = schema["maximum"].as_i64().unwrap_or(i64::MAX / 2);
            // The bounds themselves are the likeliest to be wrong: pick them often.
            match random.below(4) {
                0 => Value::from(low),
                1 => Value::from(high),
                _ => Value::from(random.between(low, high)),
            }
        }
        "string" => Value::String(string_for(schema, random)),
        "array" => {
            let most = schema["maxItems"].as_u64().unwrap_or(5).min(5);
            let count = random.below(most + 1);
            Value::Array(
                (0..count)
                    .map(|_| value_for(&schema["items"], document, random))
                    .collect(),
            )
        }
        "object" => {
            let required: BTreeSet<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let mut object = serde_json::Map::new();
            for (name, property) in schema["properties"].as_object().into_iter().flatten() {
                if property["format"] == "date-time" {
                    continue;
                }
                if required.contains(name.as_str()) || random.below(2) == 0 {
                    object.insert(name.clone(), value_for(property, document, random));
                }
            }
            // An object-level `oneOf` of alternatives (exactly one of some fields): one branch
            // without a date-time is taken, its fields set as it says, the other branches' left out.
            if let Some(branches) = schema["oneOf"].as_array() {
                let fields = |b: &Value| -> Vec<String> {
                    b["properties"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(n, _)| n.clone())
                        .collect()
                };
                let usable: Vec<&Value> = branches
                    .iter()
                    .filter(|b| {
                        b["properties"]
                            .as_object()
                            .into_iter()
                            .flatten()
                            .all(|(_, p)| p["format"] != "date-time")
                    })
                    .collect();
                for branch in branches {
                    for field in fields(branch) {
                        object.remove(&field);
                    }
                }
                let branch = usable[random.below(usable.len() as u64) as usize];
                for (name, property) in branch["properties"].as_object().into_iter().flatten() {
                    object.insert(name.clone(), value_for(property, document, random));
                }
            }
            Value::Object(object)
        }
        other => panic!("no generator for type {other:?}"),
    }
}

fn string_for(schema: &Value, random: &mut Random) -> String {
    let min = schema["minLength"].as_u64().unwrap_or(0);
    let max = schema["maxLength"].as_u64().unwrap_or(40).max(min);
    let pattern = schema["pattern"]
        .as_str()
        .map(|p| regex::Regex::new(p).unwrap_or_else(|err| panic!("pattern {p:?}: {err}")));
    // Tried in turn: any of these characters; none that is a space; and the latter with one `@`
    // inside (what an email pattern asks for). The pattern decides.
    const CHARS: &[char] = &[
        'a', 'Z', '0', '9', ' ', '-', '_', '.', 'é', 'ß', '名', '☃', '@',
    ];
    const SOLID: &[char] = &['a', 'Z', '0', '9', '-', '_', '.', 'é', 'ß', '名', '☃'];
    for attempt in 0..3000 {
        let length = match random.below(3) {
            0 => min,
            1 => max,
            _ => min + random.below(max - min + 1),
        };
        let chars = if attempt % 3 == 0 { CHARS } else { SOLID };
        let mut text: Vec<char> = (0..length)
            .map(|_| chars[random.below(chars.len() as u64) as usize])
            .collect();
        if attempt % 3 == 2 && length >= 3 {
            text[1 + random.below(length - 2) as usize] = '@';
        }
        let text: String = text.into_iter().collect();
        if pattern.as_ref().is_none_or(|p| p.is_match(&text)) {
            return text;
        }
    }
    panic!("could not make a string for {schema}");
}

/// Found on the earlier document: `expires_in_days` and `grace_seconds` had no bounds, names and
/// emails no lengths or characters, and member roles offered `owner`, so most requests a client
/// built from the document were refused with 422. Now every request body built within the
/// document's limits, sent with an owner's session to things that exist, gets no 400 or 422.
#[tokio::test]
async fn requests_built_from_the_document_are_not_refused_as_malformed() {
    let server = unlimited_server().await;
    let (owner, owner_session) = server
        .user_with_session("owner@example.com", Role::Owner, "alpha")
        .await;
    let member = server
        .add_user("member@example.com", Role::Member, "alpha")
        .await;
    let document = document(&server).await;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("seed {seed}");
    let mut random = Random(seed);
    let workspace = owner.default_workspace_id;
    let mut refused = Vec::new();
    let mut sent = 0;
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(reference) = operation
                .pointer("/requestBody/content/application~1json/schema")
                .cloned()
            else {
                continue;
            };
            for _ in 0..40 {
                // Something real behind every path parameter, made fresh where the request
                // changes it (a rotation).
                let key = server.create_key(&owner_session, "a key").await.key.id;
                let path = template
                    .replace(
                        "{id}",
                        &if template.contains("/keys/") {
                            key
                        } else {
                            workspace
                        }
                        .to_string(),
                    )
                    .replace("{user_id}", &member.id.to_string());
                let body = value_for(&reference, &document, &mut random);
                let method = method.to_uppercase().parse::<Method>().unwrap();
                let response = server
                    .request(method.clone(), &path, &owner_session)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                sent += 1;
                let status = response.status().as_u16();
                if status == 400 || status == 422 {
                    let text = response.text().await.unwrap_or_default();
                    refused.push(format!("{method} {template} {body} -> {status} {text}"));
                }
            }
        }
    }
    assert!(sent >= 300, "only {sent} requests");
    assert!(
        refused.is_empty(),
        "{} of {sent} requests built from the document were refused (seed {seed}):\n{}",
        refused.len(),
        refused.join("\n")
    );
}
