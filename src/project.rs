//! A repository's keys by name: its `.keywarden.toml` maps variables to `kw://` references (and
//! to plain values that are no secrets), with profiles; and the consent this computer gives a
//! file before it gets any key. Consent is kept here (per file path and content hash), never in
//! the repository. The command line and the app both use it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::sources::reference::{Reference, SCHEME};

/// The project file's name.
pub const FILE_NAME: &str = ".keywarden.toml";

/// The project file of `dir` or of its nearest parent that has one.
pub fn find(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|d| d.join(FILE_NAME))
        .find(|file| file.is_file())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    profiles: BTreeMap<String, RawProfile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(default)]
    env: BTreeMap<String, String>,
}

/// A project file, read and checked: every name a variable's, every `kw://` value a reference,
/// no value a secret.
#[derive(Debug)]
pub struct Project {
    pub path: PathBuf,
    /// The file as read: what consent is given to.
    pub content: Vec<u8>,
    raw: Raw,
}

impl Project {
    pub fn load(path: &Path) -> Result<Project, String> {
        let shown = path.display();
        let content = std::fs::read(path).map_err(|err| format!("cannot read {shown}: {err}"))?;
        let text =
            std::str::from_utf8(&content).map_err(|_| format!("{shown} is not UTF-8 text"))?;
        let raw: Raw = toml::from_str(text).map_err(|err| {
            format!(
                "{shown} is not a project file: {}",
                err.message().replace('\n', " ")
            )
        })?;
        let sections = std::iter::once(("[env]".to_string(), &raw.env)).chain(
            raw.profiles
                .iter()
                .map(|(name, p)| (format!("[profiles.{name}.env]"), &p.env)),
        );
        for (section, env) in sections {
            for (name, value) in env {
                check_variable(name, value).map_err(|err| format!("{shown}, {section}: {err}"))?;
            }
        }
        Ok(Project {
            path: path.to_path_buf(),
            content,
            raw,
        })
    }

    /// The variables of the file, with a profile's over the common ones.
    pub fn variables(&self, profile: Option<&str>) -> Result<Vec<(String, String)>, String> {
        let mut env = self.raw.env.clone();
        if let Some(profile) = profile {
            let chosen = self.raw.profiles.get(profile).ok_or_else(|| {
                let known: Vec<&str> = self.raw.profiles.keys().map(String::as_str).collect();
                format!(
                    "{} has no profile {:?} (it has: {})",
                    self.path.display(),
                    crate::text::for_terminal(profile),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )
            })?;
            env.extend(chosen.env.clone());
        }
        Ok(env.into_iter().collect())
    }

    /// Every variable the file can set, in every profile: what consent covers.
    pub fn all_variables(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = self.raw.env.clone().into_iter().collect();
        for profile in self.raw.profiles.values() {
            all.extend(profile.env.clone());
        }
        all
    }
}

/// A variable of a project file: a name a shell takes, and a reference or a value that is no
/// key (a key is refused, with how to keep it in the keychain instead).
fn check_variable(name: &str, value: &str) -> Result<(), String> {
    if !crate::dotenv::is_variable_name(name) {
        return Err(format!(
            "{:?} is not a variable name",
            crate::text::for_terminal(name)
        ));
    }
    if value.starts_with(SCHEME) {
        return Reference::parse(value)
            .map(drop)
            .map_err(|err| format!("{name}: {err}"));
    }
    crate::text::check_field(name, value)?;
    if let Some(service) = crate::transfer::import::key_service(name, value) {
        return Err(format!(
            "{name} looks like an API key, and a project file never holds one (it is committed): \
             keep it in the keychain with `keywarden keys add --service {} --name {name}` (it \
             asks for the key) and write {name} = \"kw://tracked/{name}\"",
            service.id
        ));
    }
    Ok(())
}

/// Whether a variable decides what runs or where keys go (`PATH`, `LD_PRELOAD`, a proxy, the
/// CA certificates…): a file setting one needs consent even without a key, and the consent
/// prompt names it apart.
pub fn steers(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.ends_with("_PROXY")
        || upper.starts_with("LD_")
        || upper.starts_with("DYLD_")
        || matches!(
            upper.as_str(),
            "PATH"
                | "NODE_OPTIONS"
                | "NODE_PATH"
                | "NODE_EXTRA_CA_CERTS"
                | "BASH_ENV"
                | "ENV"
                | "PROMPT_COMMAND"
                | "SHELL"
                | "SSL_CERT_FILE"
                | "SSL_CERT_DIR"
                | "REQUESTS_CA_BUNDLE"
                | "CURL_CA_BUNDLE"
                | "GIT_SSH_COMMAND"
                | "GIT_EXEC_PATH"
                | "GIT_CONFIG_GLOBAL"
                | "PYTHONPATH"
                | "PYTHONSTARTUP"
                | "PYTHONHOME"
                | "PERL5OPT"
                | "PERL5LIB"
                | "RUBYOPT"
                | "RUBYLIB"
                | "JAVA_TOOL_OPTIONS"
                | "DOCKER_HOST"
                | "KUBECONFIG"
        )
}

/// What a file asks for: the references it names and the variables that steer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Asks {
    /// `VAR = kw://…` (a template's placeholders have no variable: `{{ }}`).
    pub references: Vec<(String, String)>,
    /// `VAR = value` of variables that [`steers`].
    pub steering: Vec<(String, String)>,
}

impl Asks {
    /// What `variables` ask for.
    pub fn of(variables: &[(String, String)]) -> Asks {
        let mut asks = Asks::default();
        for (name, value) in variables {
            if value.starts_with(SCHEME) {
                asks.references.push((name.clone(), value.clone()));
            } else if steers(name) {
                asks.steering.push((name.clone(), value.clone()));
            }
        }
        asks.references.sort();
        asks.references.dedup();
        asks.steering.sort();
        asks.steering.dedup();
        asks
    }

    /// Whether using the file needs consent: it names a key or steers.
    pub fn needs_consent(&self) -> bool {
        !self.references.is_empty() || !self.steering.is_empty()
    }
}

/// Consent given to one file, as this computer keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consent {
    /// The file's absolute path.
    pub path: PathBuf,
    /// SHA-256 of its content when consent was given: an edit asks again.
    pub sha256: String,
    pub allowed_at: DateTime<Utc>,
    pub asks: Asks,
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The consents of this computer: `consent.json` in the data directory (mode 600).
pub struct Consents {
    file: crate::files::JsonFile<ConsentFile>,
}

#[derive(Default, Serialize, Deserialize)]
struct ConsentFile {
    #[serde(default)]
    files: Vec<Consent>,
}

/// The hex SHA-256 of a file's content.
pub fn digest(content: &[u8]) -> String {
    sha2::Sha256::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A path as consent knows it: absolute, symbolic links resolved.
pub fn canonical(path: &Path) -> Result<PathBuf, String> {
    path.canonicalize()
        .map_err(|err| format!("cannot find {}: {err}", path.display()))
}

impl Consents {
    pub fn new(data_dir: &Path) -> Consents {
        Consents {
            file: crate::files::JsonFile::new(data_dir.join("consent.json")),
        }
    }

    fn read(&self) -> Result<ConsentFile, String> {
        self.file.read()
    }

    fn change<T>(&self, change: impl FnOnce(&mut ConsentFile) -> T) -> Result<T, String> {
        self.file
            .change(std::convert::identity, |file| Ok(change(file)))
    }

    /// Every file consent was given to, most recently allowed first.
    pub fn list(&self) -> Result<Vec<Consent>, String> {
        let mut files = self.read()?.files;
        files.sort_by_key(|c| std::cmp::Reverse(c.allowed_at));
        Ok(files)
    }

    /// Whether the file at `path` (absolute), as it is now (`content`), may be used.
    pub fn allowed(&self, path: &Path, content: &[u8]) -> Result<bool, String> {
        let digest = digest(content);
        Ok(self
            .read()?
            .files
            .iter()
            .any(|c| c.path == path && c.sha256 == digest))
    }

    /// Gives consent to the file at `path` (absolute) as it is now; an earlier one is replaced.
    pub fn allow(&self, path: &Path, content: &[u8], asks: Asks) -> Result<(), String> {
        let consent = Consent {
            path: path.to_path_buf(),
            sha256: digest(content),
            allowed_at: Utc::now(),
            asks,
            last_used_at: None,
        };
        self.change(|file| {
            file.files.retain(|c| c.path != path);
            file.files.push(consent);
        })
    }

    /// Takes consent back; whether there was any.
    pub fn deny(&self, path: &Path) -> Result<bool, String> {
        self.change(|file| {
            let before = file.files.len();
            file.files.retain(|c| c.path != path);
            file.files.len() < before
        })
    }

    /// Notes that the file's keys were just used; within ten minutes of the last note nothing
    /// is written (`keywarden env` runs on every `cd`: a write each time would cost more than
    /// the rest of it).
    pub fn used(&self, path: &Path, at: DateTime<Utc>) -> Result<(), String> {
        let recent = at - chrono::Duration::minutes(10);
        let noted = self.read()?.files.iter().any(|c| {
            c.path == path
                && c.last_used_at
                    .is_some_and(|last| last > recent && last <= at)
        });
        if noted {
            return Ok(());
        }
        self.change(|file| {
            for consent in file.files.iter_mut().filter(|c| c.path == path) {
                consent.last_used_at = Some(at);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(text: &str) -> Result<Project, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, text).unwrap();
        Project::load(&path)
    }

    #[test]
    fn a_project_file_names_references_and_plain_values_with_profiles() {
        let project = project(
            "[env]\nTESTO_API_KEY = \"kw://tracked/testo-prod\"\nREGION = \"eu\"\n\
             [profiles.staging.env]\nTESTO_API_KEY = \"kw://tracked/testo-staging\"\n",
        )
        .unwrap();
        assert_eq!(
            project.variables(None).unwrap(),
            vec![
                ("REGION".to_string(), "eu".to_string()),
                ("TESTO_API_KEY".into(), "kw://tracked/testo-prod".into())
            ]
        );
        assert_eq!(
            project.variables(Some("staging")).unwrap()[1].1,
            "kw://tracked/testo-staging"
        );
        assert!(
            project
                .variables(Some("prod"))
                .unwrap_err()
                .contains("no profile \"prod\" (it has: staging)")
        );
    }

    #[test]
    fn a_secret_a_bad_name_or_reference_is_refused() {
        let err =
            project("[env]\nGITHUB_TOKEN = \"ghp_abcdefghijklmnopqrstuvwxyz0123\"\n").unwrap_err();
        assert!(err.contains("GITHUB_TOKEN looks like an API key"), "{err}");
        assert!(err.contains("keywarden keys add --service github --name GITHUB_TOKEN"));
        assert!(
            !err.contains("ghp_abc"),
            "the secret is not repeated: {err}"
        );
        assert!(project("[env]\n\"A-B\" = \"x\"\n").is_err());
        assert!(project("[env]\nA = \"kw://\"\n").is_err());
        assert!(project("[secrets]\nA = \"x\"\n").is_err());
    }

    #[test]
    fn files_that_steer_need_consent_too() {
        let asks = Asks::of(&[
            ("PATH".into(), "./bin:/usr/bin".into()),
            ("https_proxy".into(), "http://evil".into()),
            ("REGION".into(), "eu".into()),
        ]);
        assert_eq!(asks.steering.len(), 2);
        assert!(asks.needs_consent());
        assert!(!Asks::of(&[("REGION".into(), "eu".into())]).needs_consent());
    }

    #[test]
    fn consent_is_for_a_path_and_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let consents = Consents::new(dir.path());
        let path = dir.path().join("p/.keywarden.toml");
        assert!(!consents.allowed(&path, b"a").unwrap());
        consents.allow(&path, b"a", Asks::default()).unwrap();
        assert!(consents.allowed(&path, b"a").unwrap());
        assert!(
            !consents.allowed(&path, b"b").unwrap(),
            "an edit asks again"
        );
        assert!(consents.deny(&path).unwrap());
        assert!(!consents.allowed(&path, b"a").unwrap());
        assert!(!consents.deny(&path).unwrap());
    }
}
