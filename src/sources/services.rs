//! The services whose keys Keywarden holds, in one table: name, default base URL, header style,
//! the request that checks a key and what counts as success, the documented maximum lifetime, and
//! the page where the service's keys are managed. From the services' own documentation
//! (`shared/seeds/`), GitHub's and GitLab's REST API references.
//!
//! Testing a key ([`test_key`]) is always a deliberate action: nothing here runs on its own.

use chrono::{DateTime, NaiveDate, Utc};

use crate::secret::Secret;

/// How a key goes into a request: `{name}: {scheme}{key}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub name: &'static str,
    /// Text before the key, e.g. `Bearer `.
    pub scheme: &'static str,
}

/// What counts as a successful check, beyond a 2xx status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Success {
    /// Any 2xx.
    Status,
    /// A 2xx whose JSON body has this string field with this value (iottly's `{"status":"pong"}`).
    JsonField(&'static str, &'static str),
}

/// Where a check's response tells the key's real expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryFrom {
    None,
    /// GitHub: the `github-authentication-token-expiration` response header.
    GithubHeader,
    /// GitLab: `expires_at` (a date) of `GET /api/v4/personal_access_tokens/self`.
    GitlabJson,
}

/// A request that only reads, to tell whether a key is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    pub path: &'static str,
    pub success: Success,
    pub expiry: ExpiryFrom,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Stable id, used in files and on the command line (`--service github`).
    pub id: &'static str,
    pub name: &'static str,
    /// `{workspace}` is replaced by the key's workspace. `None`: the user gives the URL.
    pub default_base_url: Option<&'static str>,
    pub header: Header,
    /// A second header carrying the key's workspace (SmartSuite's `Account-Id`).
    pub workspace_header: Option<&'static str>,
    /// What the workspace value is called, for services that need one.
    pub workspace_label: Option<&'static str>,
    pub check: Option<Check>,
    /// The documented maximum lifetime; longer expiries are refused.
    pub max_lifetime_days: Option<i64>,
    /// Where the service's keys are managed (`{base}` and `{workspace}` are filled in), or how to
    /// get there when it has no address of its own.
    pub key_page: &'static str,
    /// Prefixes that tell a key of this service from its text.
    pub prefixes: &'static [&'static str],
}

const BEARER: Header = Header {
    name: "Authorization",
    scheme: "Bearer ",
};

pub const KEYWARDEN: Service = Service {
    id: "keywarden",
    name: "Keywarden",
    default_base_url: None,
    header: BEARER,
    workspace_header: None,
    workspace_label: None,
    check: Some(Check {
        path: crate::api::paths::PING,
        success: Success::Status,
        expiry: ExpiryFrom::None,
    }),
    max_lifetime_days: Some(crate::api::limits::MAX_KEY_DAYS),
    key_page: "{base}",
    prefixes: &["kw_"],
};

pub const THINGSBOARD: Service = Service {
    id: "thingsboard",
    name: "ThingsBoard",
    default_base_url: Some("https://thingsboard.cloud"),
    header: Header {
        name: "X-Authorization",
        scheme: "ApiKey ",
    },
    workspace_header: None,
    workspace_label: None,
    check: Some(Check {
        path: "/api/auth/user",
        success: Success::Status,
        expiry: ExpiryFrom::None,
    }),
    max_lifetime_days: None,
    key_page: "{base}/security",
    prefixes: &["tb_"],
};

/// Any other service: kept, copied and reminded of; it has no check request.
pub const GITLAB: Service = Service {
    id: "gitlab",
    name: "GitLab",
    default_base_url: Some("https://gitlab.com"),
    header: Header {
        name: "PRIVATE-TOKEN",
        scheme: "",
    },
    workspace_header: None,
    workspace_label: None,
    check: Some(Check {
        path: "/api/v4/personal_access_tokens/self",
        success: Success::Status,
        expiry: ExpiryFrom::GitlabJson,
    }),
    max_lifetime_days: None,
    key_page: "{base}/-/user_settings/personal_access_tokens",
    prefixes: &["glpat-"],
};

pub const OTHER: Service = Service {
    id: "other",
    name: "Other service",
    default_base_url: None,
    header: BEARER,
    workspace_header: None,
    workspace_label: None,
    check: None,
    max_lifetime_days: None,
    key_page: "the service's own API key page",
    prefixes: &[],
};

pub static SERVICES: [Service; 9] = [
    KEYWARDEN,
    THINGSBOARD,
    Service {
        id: "testo",
        name: "testo Smart Connect",
        default_base_url: None,
        header: Header {
            name: "x-custom-api-key",
            scheme: "",
        },
        workspace_header: None,
        workspace_label: None,
        // Every documented request acts on data: a testo key is kept, copied and reminded of,
        // not tested.
        check: None,
        max_lifetime_days: Some(365),
        key_page: "Smart Connect home page > your email (top right) > API Key Management",
        prefixes: &[],
    },
    Service {
        id: "iottly",
        name: "iottly",
        default_base_url: Some("https://api.cloud.iottly.com"),
        header: Header {
            name: "Authentication",
            scheme: "bearer ",
        },
        workspace_header: None,
        workspace_label: None,
        check: Some(Check {
            path: "/v1.0/project/ping",
            success: Success::JsonField("status", "pong"),
            expiry: ExpiryFrom::None,
        }),
        max_lifetime_days: None,
        key_page: "https://cloud.iottly.com",
        prefixes: &[],
    },
    Service {
        id: "smenso",
        name: "smenso",
        default_base_url: Some("https://{workspace}.smenso.cloud"),
        header: Header {
            name: "Authorization",
            scheme: "Basic ",
        },
        workspace_header: None,
        workspace_label: Some("workspace"),
        check: Some(Check {
            path: "/skyisland/api/integration/timezones/json",
            success: Success::Status,
            expiry: ExpiryFrom::None,
        }),
        max_lifetime_days: Some(365),
        key_page: "https://{workspace}.smenso.cloud (Admin Center > API Token)",
        prefixes: &[],
    },
    Service {
        id: "smartsuite",
        name: "SmartSuite",
        default_base_url: Some("https://app.smartsuite.com"),
        header: Header {
            name: "Authorization",
            scheme: "Token ",
        },
        workspace_header: Some("Account-Id"),
        workspace_label: Some("account id"),
        check: Some(Check {
            path: "/api/v1/solutions/",
            success: Success::Status,
            expiry: ExpiryFrom::None,
        }),
        max_lifetime_days: None,
        key_page: "https://app.smartsuite.com (your name, top right > API Key)",
        prefixes: &[],
    },
    Service {
        id: "github",
        name: "GitHub",
        default_base_url: Some("https://api.github.com"),
        header: BEARER,
        workspace_header: None,
        workspace_label: None,
        check: Some(Check {
            path: "/user",
            success: Success::Status,
            expiry: ExpiryFrom::GithubHeader,
        }),
        max_lifetime_days: None,
        key_page: "https://github.com/settings/tokens",
        prefixes: &["ghp_", "github_pat_"],
    },
    GITLAB,
    OTHER,
];

/// The service with this id.
pub fn find(id: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.id == id)
}

/// The ids, for messages.
pub fn ids() -> String {
    SERVICES.iter().map(|s| s.id).collect::<Vec<_>>().join(", ")
}

/// The service a key's text shows it belongs to: `kw_` with a valid checksum, `tb_`, `ghp_` or
/// `github_pat_`, `glpat-`. `None` when the text does not tell.
pub fn recognise(secret: &str) -> Option<&'static Service> {
    let secret = secret.trim();
    if secret.starts_with("kw_") {
        return crate::key::parse(crate::key::TokenKind::ApiKey, secret)
            .is_ok()
            .then_some(&SERVICES[0]);
    }
    SERVICES
        .iter()
        .find(|s| s.prefixes.iter().any(|p| secret.starts_with(p)))
}

/// The prefix of `secret` that its format makes public (`kw_`, `tb_`, `ghp_`, `github_pat_`,
/// `glpat-`), if it has one; anything else at its start may be secret.
pub fn public_prefix(secret: &str) -> Option<&'static str> {
    const KEYWARDEN: &[&str] = &["kw_", "tb_"];
    KEYWARDEN
        .iter()
        .chain(SERVICES.iter().flat_map(|s| s.prefixes.iter()))
        .filter(|p| secret.starts_with(**p))
        .max_by_key(|p| p.len())
        .copied()
}

/// The service whose address `url` is (a bare host name is taken as `https://HOST`), with the
/// workspace the address names (`acme` of `https://acme.smenso.cloud`). `www.` is ignored.
pub fn from_url(url: &str) -> Option<(&'static Service, Option<String>)> {
    let url = url.trim();
    let parsed = reqwest::Url::parse(url)
        .or_else(|_| reqwest::Url::parse(&format!("https://{url}")))
        .ok()?;
    let host = parsed.host_str()?.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    SERVICES.iter().find_map(|service| {
        [service.default_base_url, Some(service.key_page)]
            .into_iter()
            .flatten()
            .filter_map(|address| address.strip_prefix("https://"))
            .find_map(|address| {
                let pattern = address.split(['/', ' ']).next().unwrap_or_default();
                match pattern.split_once("{workspace}") {
                    None => (pattern == host).then_some((service, None)),
                    Some((before, after)) => host
                        .strip_prefix(before)
                        .and_then(|rest| rest.strip_suffix(after))
                        .filter(|w| !w.is_empty() && !w.contains('.'))
                        .map(|w| (service, Some(w.to_string()))),
                }
            })
    })
}

/// A base URL a key may be sent to: `https://` (or `http://`) with a host, no user name or
/// password in it, nothing after the path. The error says what is wrong.
pub fn check_base_url(url: &str) -> Result<(), String> {
    let shown = crate::text::for_terminal(url);
    let parsed = reqwest::Url::parse(url.trim())
        .map_err(|_| format!("{shown:?} is not a base URL (https://…)"))?;
    let ok = matches!(parsed.scheme(), "https" | "http")
        && parsed.host_str().is_some_and(|h| !h.is_empty())
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && parsed.query().is_none()
        && parsed.fragment().is_none();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{shown:?} is not a base URL: https:// and a host, without a user, query or fragment"
        ))
    }
}

impl Service {
    /// The base URL for a key: its own, or the service's default with the workspace filled in.
    /// `None` when there is none, or when the fields would make one that is not a plain base
    /// URL on the service's own host (a workspace of `evil.example/` must not move the host).
    pub fn base_url(&self, own: Option<&str>, workspace: Option<&str>) -> Option<String> {
        let url = match own.filter(|u| !u.trim().is_empty()) {
            Some(url) => url.trim().to_string(),
            None => {
                let template = self.default_base_url?;
                if template.contains("{workspace}") {
                    let workspace = workspace.filter(|w| !w.is_empty())?;
                    self.check_workspace(workspace).ok()?;
                    template.replace("{workspace}", workspace)
                } else {
                    template.to_string()
                }
            }
        };
        check_base_url(&url).ok()?;
        Some(url.trim_end_matches('/').to_string())
    }

    /// A workspace the service names in its host (smenso's `NAME.smenso.cloud`) is one DNS label;
    /// one it sends in a header (SmartSuite's `Account-Id`) letters, digits, `-` and `_`.
    pub fn check_workspace(&self, workspace: &str) -> Result<(), String> {
        let in_host = self
            .default_base_url
            .is_some_and(|t| t.contains("{workspace}"));
        let ok = !workspace.is_empty()
            && workspace.len() <= 63
            && workspace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || (c == '_' && !in_host))
            && !(in_host && (workspace.starts_with('-') || workspace.ends_with('-')));
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{:?} is not a {} {}: {}",
                crate::text::for_terminal(workspace),
                self.name,
                self.workspace_label.unwrap_or("workspace"),
                if in_host {
                    "letters, digits and inner hyphens, as in its web address"
                } else {
                    "letters, digits, - and _"
                }
            ))
        }
    }

    /// The host a key of this service is sent to when it is tested, to show before.
    pub fn test_host(&self, own: Option<&str>, workspace: Option<&str>) -> Option<String> {
        let base = self.base_url(own, workspace)?;
        let url = reqwest::Url::parse(&base).ok()?;
        let host = url.host_str()?.to_string();
        Some(match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        })
    }

    /// The headers that carry `secret` (and the workspace, where the service needs it).
    pub fn headers(&self, secret: &Secret, workspace: Option<&str>) -> Vec<(String, Secret)> {
        let mut headers = vec![(
            self.header.name.to_string(),
            Secret::new(format!("{}{}", self.header.scheme, secret.expose())),
        )];
        if let (Some(name), Some(workspace)) = (self.workspace_header, workspace) {
            headers.push((name.to_string(), Secret::new(workspace)));
        }
        headers
    }

    /// Where keys of this service are managed, filled in for a key.
    pub fn key_page_for(&self, base_url: Option<&str>, workspace: Option<&str>) -> String {
        let mut page = self.key_page.to_string();
        if let Some(base) = base_url {
            // The page is on the site, not on its API host.
            let site = base.replace("://api.github.com", "://github.com");
            page = page.replace("{base}", site.trim_end_matches('/'));
        }
        if let Some(workspace) = workspace {
            page = page.replace("{workspace}", workspace);
        }
        page
    }

    /// The web address in [`Service::key_page_for`], if it has one (to open in a browser).
    pub fn key_page_url(&self, base_url: Option<&str>, workspace: Option<&str>) -> Option<String> {
        let page = self.key_page_for(base_url, workspace);
        let url = page.split_whitespace().next()?;
        ((url.starts_with("https://") || url.starts_with("http://")) && !url.contains('{'))
            .then(|| url.to_string())
    }

    /// Refuses an expiry past the documented maximum lifetime.
    pub fn check_expiry(
        &self,
        expires_at: Option<DateTime<Utc>>,
        from: DateTime<Utc>,
    ) -> Result<(), String> {
        match (self.max_lifetime_days, expires_at) {
            (Some(days), None) => Err(format!(
                "{} keys expire after at most {days} days; give the expiry the service showed",
                self.name
            )),
            (Some(days), Some(at)) if at > from + chrono::Duration::days(days) => Err(format!(
                "{} keys expire after at most {days} days; {} is further away",
                self.name,
                at.format("%Y-%m-%d")
            )),
            _ => Ok(()),
        }
    }
}

/// What a test of a key found.
#[derive(Debug, Clone, PartialEq)]
pub enum TestOutcome {
    /// The service accepted the key; where it tells, the key's real expiry (`Some(None)`: never).
    Accepted {
        expires_at: Option<Option<DateTime<Utc>>>,
        /// The key's id on the service, where the answer says it (GitLab's token id).
        remote_id: Option<String>,
    },
    /// The service refused it, with the service's own message.
    Refused { status: u16, message: String },
    /// The service could not be asked (network, 5xx, no check request, no base URL).
    Unreachable(String),
}

/// Sends `service`'s check request with `secret`, in its header style, to `base_url`.
pub async fn test_key(
    service: &Service,
    base_url: Option<&str>,
    workspace: Option<&str>,
    secret: &Secret,
) -> TestOutcome {
    let Some(check) = service.check else {
        return TestOutcome::Unreachable(format!(
            "{} has no request that only reads, so its keys cannot be tested",
            service.name
        ));
    };
    let Some(base) = service.base_url(base_url, workspace) else {
        return TestOutcome::Unreachable(format!(
            "the key has no base URL{} to test it against",
            service
                .workspace_label
                .map(|l| format!(" (or {l})"))
                .unwrap_or_default()
        ));
    };
    if let Some(refusal) = crate::net::plain_http_refusal(&base, false) {
        return TestOutcome::Unreachable(refusal);
    }
    let http = match super::http::client() {
        Ok(http) => http,
        Err(err) => return TestOutcome::Unreachable(err.to_string()),
    };
    let mut request = http.get(format!("{base}{}", check.path));
    for (name, value) in service.headers(secret, workspace) {
        request = request.header(name, value.expose());
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(err) => {
            return TestOutcome::Unreachable(format!(
                "cannot reach {base}: {}",
                crate::client::describe_transport_error(&err)
            ));
        }
    };
    let status = response.status();
    let github_expiry = response
        .headers()
        .get("github-authentication-token-expiration")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match crate::client::read_body(response).await {
        Ok(body) => body,
        Err(why) => return TestOutcome::Unreachable(format!("{}: {why}", service.name)),
    };
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    if status.is_server_error() {
        return TestOutcome::Unreachable(format!(
            "{} answered {status}: {}",
            service.name,
            message_of(json.as_ref(), &body)
        ));
    }
    if !status.is_success() {
        return TestOutcome::Refused {
            status: status.as_u16(),
            message: message_of(json.as_ref(), &body),
        };
    }
    if let Success::JsonField(field, value) = check.success {
        let found = json.as_ref().and_then(|j| j.get(field)?.as_str());
        if found != Some(value) {
            return TestOutcome::Refused {
                status: status.as_u16(),
                message: format!("the answer did not carry \"{field}\": \"{value}\""),
            };
        }
    }
    let expires_at = match check.expiry {
        ExpiryFrom::None => None,
        // GitHub leaves the header out for a token without expiry.
        ExpiryFrom::GithubHeader => Some(github_expiry.as_deref().and_then(parse_github_time)),
        ExpiryFrom::GitlabJson => json.as_ref().map(|j| {
            j.get("expires_at")
                .and_then(|v| v.as_str())
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        }),
    };
    let remote_id = match check.expiry {
        ExpiryFrom::GitlabJson => json
            .as_ref()
            .and_then(|j| j.get("id")?.as_i64())
            .map(|id| id.to_string()),
        _ => None,
    };
    TestOutcome::Accepted {
        expires_at,
        remote_id,
    }
}

/// `2026-12-31 23:59:59 UTC` (GitHub's format), or RFC 3339.
fn parse_github_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S %z")
        .or_else(|_| {
            DateTime::parse_from_str(&text.replace(" UTC", " +0000"), "%Y-%m-%d %H:%M:%S %z")
        })
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The service's own words from an error body: `message`, `error` or `error_description`, else
/// the start of the text. Bounded; the caller escapes it for a terminal.
pub fn message_of(json: Option<&serde_json::Value>, body: &[u8]) -> String {
    let from_json = json.and_then(|j| {
        ["message", "error", "error_description"]
            .iter()
            .find_map(|f| j.get(f)?.as_str().map(str::to_string))
    });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    let text: String = text.chars().take(300).collect();
    if text.is_empty() {
        "no reason given".to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_recognised_by_their_address() {
        let of = |url| from_url(url).map(|(s, w)| (s.id, w));
        assert_eq!(of("https://github.com"), Some(("github", None)));
        assert_eq!(
            of("https://www.github.com/settings"),
            Some(("github", None))
        );
        assert_eq!(of("api.github.com"), Some(("github", None)));
        assert_eq!(
            of("https://acme.smenso.cloud/x"),
            Some(("smenso", Some("acme".into())))
        );
        assert_eq!(of("https://smenso.cloud"), None, "no workspace");
        assert_eq!(of("https://a.b.smenso.cloud"), None);
        assert_eq!(of("https://gitlab.com"), Some(("gitlab", None)));
        assert_eq!(of("https://github.com.evil.example"), None);
        assert_eq!(of("not a url at all"), None);
    }

    #[test]
    fn keys_are_recognised_by_their_form() {
        let kw = crate::key::generate(crate::key::TokenKind::ApiKey);
        assert_eq!(recognise(kw.expose()).map(|s| s.id), Some("keywarden"));
        let mut broken = kw.expose().to_string();
        broken.pop();
        broken.push(if kw.expose().ends_with('a') { 'b' } else { 'a' });
        assert_eq!(recognise(&broken).map(|s| s.id), None, "bad checksum");
        assert_eq!(
            recognise("tb_4xpayYjwrKCv5n15").map(|s| s.id),
            Some("thingsboard")
        );
        assert_eq!(recognise("ghp_abc").map(|s| s.id), Some("github"));
        assert_eq!(recognise("github_pat_11abc").map(|s| s.id), Some("github"));
        assert_eq!(recognise("glpat-xyz").map(|s| s.id), Some("gitlab"));
        assert_eq!(recognise("d41d8cd98f00b204e9800998ecf8427e"), None);
    }

    #[test]
    fn headers_follow_each_services_style() {
        let secret = Secret::new("K");
        let header = |id: &str, workspace: Option<&str>| -> Vec<(String, String)> {
            find(id)
                .unwrap()
                .headers(&secret, workspace)
                .into_iter()
                .map(|(n, v)| (n, v.expose().to_string()))
                .collect()
        };
        let one = |n: &str, v: &str| vec![(n.to_string(), v.to_string())];
        assert_eq!(header("testo", None), one("x-custom-api-key", "K"));
        assert_eq!(
            header("thingsboard", None),
            one("X-Authorization", "ApiKey K")
        );
        assert_eq!(header("iottly", None), one("Authentication", "bearer K"));
        assert_eq!(header("smenso", None), one("Authorization", "Basic K"));
        assert_eq!(
            header("smartsuite", Some("ws1")),
            vec![
                ("Authorization".to_string(), "Token K".to_string()),
                ("Account-Id".to_string(), "ws1".to_string())
            ]
        );
        assert_eq!(header("github", None), one("Authorization", "Bearer K"));
        assert_eq!(header("gitlab", None), one("PRIVATE-TOKEN", "K"));
    }

    #[test]
    fn base_urls_and_key_pages() {
        let smenso = find("smenso").unwrap();
        assert_eq!(
            smenso.base_url(None, Some("acme")).as_deref(),
            Some("https://acme.smenso.cloud")
        );
        assert_eq!(smenso.base_url(None, None), None);
        assert_eq!(
            find("gitlab")
                .unwrap()
                .key_page_url(Some("https://git.example/"), None)
                .as_deref(),
            Some("https://git.example/-/user_settings/personal_access_tokens")
        );
        assert_eq!(find("testo").unwrap().key_page_url(None, None), None);
        assert_eq!(
            find("github").unwrap().key_page_url(None, None).as_deref(),
            Some("https://github.com/settings/tokens")
        );
    }

    #[test]
    fn one_year_services_refuse_more() {
        let now = Utc::now();
        let testo = find("testo").unwrap();
        assert!(
            testo
                .check_expiry(Some(now + chrono::Duration::days(365)), now)
                .is_ok()
        );
        let err = testo
            .check_expiry(Some(now + chrono::Duration::days(366)), now)
            .unwrap_err();
        assert!(err.contains("at most 365 days"), "{err}");
        assert!(testo.check_expiry(None, now).is_err());
        assert!(find("github").unwrap().check_expiry(None, now).is_ok());
    }

    #[test]
    fn github_expiry_header() {
        assert_eq!(
            parse_github_time("2027-03-01 10:00:00 UTC").map(|t| t.to_rfc3339()),
            Some("2027-03-01T10:00:00+00:00".to_string())
        );
        assert_eq!(
            parse_github_time("2027-03-01 10:00:00 +0100").map(|t| t.to_rfc3339()),
            Some("2027-03-01T09:00:00+00:00".to_string())
        );
    }
}
