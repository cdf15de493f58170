//! How a key is put on the clipboard: the key alone, or in its service's header style, as an
//! export line or as a curl command.

use super::SourceKey;
use crate::secret::Secret;

/// How a key is put on the clipboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    /// The key alone.
    Plain,
    /// `Authorization: Bearer …`
    Header,
    /// `export NAME_API_KEY=…`
    Env,
    /// A curl command that pings the server with the key.
    Curl,
}

impl CopyFormat {
    pub const ALL: [CopyFormat; 4] = [
        CopyFormat::Plain,
        CopyFormat::Header,
        CopyFormat::Env,
        CopyFormat::Curl,
    ];

    pub fn label(self) -> &'static str {
        match self {
            CopyFormat::Plain => "Copy key",
            CopyFormat::Header => "Copy as header",
            CopyFormat::Env => "Copy as export line",
            CopyFormat::Curl => "Copy as curl command",
        }
    }

    /// The text to copy for `key`, in its service's header style: for a ThingsBoard key
    /// `X-Authorization: ApiKey tb_…`, for an iottly key `Authentication: bearer …`.
    pub fn render_for(self, secret: &Secret, key: &SourceKey) -> Secret {
        let service = key.service();
        let workspace = key.workspace.as_deref();
        let headers: Vec<String> = service
            .headers(secret, workspace)
            .iter()
            .map(|(name, value)| format!("{name}: {}", value.expose()))
            .collect();
        Secret::new(match self {
            CopyFormat::Plain => secret.expose().to_string(),
            CopyFormat::Header => headers.join("\n"),
            CopyFormat::Env => format!("export {}={}", env_name(&key.name), secret.expose()),
            CopyFormat::Curl => {
                let url = service
                    .base_url(key.base_url.as_deref(), workspace)
                    .map(|base| format!("{base}{}", service.check.map_or("", |c| c.path)))
                    .unwrap_or_else(|| "URL".to_string());
                let flags: String = headers
                    .iter()
                    .map(|h| format!(" -H {}", shell_quote(h)))
                    .collect();
                format!("curl{flags} {}", shell_quote(&url))
            }
        })
    }
}

/// `billing api` -> `BILLING_API_KEY`: a shell variable name from a key's name.
pub fn env_name(key_name: &str) -> String {
    let mut name = String::new();
    for c in key_name.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_uppercase());
        } else if !name.ends_with('_') && !name.is_empty() {
            name.push('_');
        }
    }
    let mut name = name.trim_end_matches('_').to_string();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "KEY_");
    }
    if name.ends_with("API") {
        name.push_str("_KEY");
    } else if !name.ends_with("KEY") {
        name.push_str("_API_KEY");
    }
    name
}

/// `text` as one POSIX shell word: in single quotes, a quote inside written `'\''`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found: the curl line left its URL unquoted, and a header with a quote broke out of its.
    #[test]
    fn copy_as_curl_quotes_every_argument() {
        let mut key = crate::sources::sample_key("tracked", "1", None);
        key.service = "iottly".into();
        key.base_url = Some("https://api.example/x?a=1&b=2".into());
        let text = CopyFormat::Curl.render_for(&Secret::new("it's"), &key);
        assert!(
            text.expose()
                .starts_with("curl -H 'Authentication: bearer it'\\''s' ")
        );
        let env = CopyFormat::Env.render_for(&Secret::new("k"), &key);
        assert_eq!(env.expose(), "export KEY_1_API_KEY=k");
    }

    #[test]
    fn copies_follow_the_keys_service() {
        let secret = Secret::new("tb_abc");
        let mut key = crate::sources::sample_key("tb", "6f1c", None);
        key.service = "thingsboard".into();
        key.base_url = Some("https://tb.example".into());
        assert_eq!(
            CopyFormat::Header.render_for(&secret, &key).expose(),
            "X-Authorization: ApiKey tb_abc"
        );
        assert_eq!(
            CopyFormat::Curl.render_for(&secret, &key).expose(),
            "curl -H 'X-Authorization: ApiKey tb_abc' 'https://tb.example/api/auth/user'"
        );
        key.service = "smartsuite".into();
        key.base_url = None;
        key.workspace = Some("ws9".into());
        assert_eq!(
            CopyFormat::Header.render_for(&secret, &key).expose(),
            "Authorization: Token tb_abc\nAccount-Id: ws9"
        );
        key.service = "iottly".into();
        key.name = "plant floor".into();
        assert_eq!(
            CopyFormat::Env.render_for(&secret, &key).expose(),
            "export PLANT_FLOOR_API_KEY=tb_abc"
        );
    }

    #[test]
    fn env_names() {
        assert_eq!(env_name("Stripe key"), "STRIPE_KEY");
        assert_eq!(env_name("3rd party!"), "KEY_3RD_PARTY_API_KEY");
    }
}
