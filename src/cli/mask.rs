//! Hiding secrets in a program's output as it streams past: every occurrence of a secret, and
//! every run of [`IDENTIFYING`] or more of its characters in a row (its beginning cut off by a
//! newline, its end, any piece of it) becomes `<concealed by keywarden>`, also when it arrives
//! split over two reads; secrets and pieces that overlap or touch inside a secret are concealed as
//! one stretch. The end of a read that could begin such a run is held back until the next read
//! shows whether it follows; the end of the stream lets a shorter one go. Anything else is passed
//! on at once.

use std::io::Write;

use aho_corasick::{AhoCorasick, MatchKind};
use zeroize::Zeroizing;

pub const CONCEALED: &[u8] = b"<concealed by keywarden>";

/// A run of this many characters of a secret identifies it, and is concealed wherever it appears;
/// at most one less stays visible in a row. For the key formats we know that leaves unknown at
/// least 13 of a GitLab token's 20 random characters (77 bits) and more of the others'
/// (`kw_`: 25 of 32, `ghp_`: 29 of 36). A run inside a secret's public prefix alone
/// (`github_pat_`) identifies nothing and is shown. A secret no longer than this is concealed
/// only whole.
pub const IDENTIFYING: usize = 8;

pub struct Masker {
    /// Every occurrence of every pattern, overlapping ones too; `None` when there is nothing to
    /// hide.
    finder: Option<AhoCorasick>,
    /// What is looked for: each secret's runs of [`IDENTIFYING`] bytes (or the secret, when it
    /// is shorter).
    patterns: Vec<Zeroizing<Vec<u8>>>,
    /// What is held back: perhaps a secret's beginning.
    pending: Zeroizing<Vec<u8>>,
}

/// The runs of a secret that identify it: every window of [`IDENTIFYING`] bytes that reaches past
/// its public prefix, or the secret whole when it is no longer.
fn identifying_runs(secret: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    if secret.len() <= IDENTIFYING {
        return vec![Zeroizing::new(secret.to_vec())];
    }
    let public = std::str::from_utf8(secret)
        .ok()
        .and_then(crate::sources::services::public_prefix)
        .map_or(0, str::len);
    secret
        .windows(IDENTIFYING)
        .enumerate()
        .filter(|&(start, _)| start + IDENTIFYING > public)
        .map(|(_, run)| Zeroizing::new(run.to_vec()))
        .collect()
}

impl Masker {
    pub fn new<S: AsRef<[u8]>>(secrets: &[S]) -> Masker {
        let mut patterns: Vec<Zeroizing<Vec<u8>>> = secrets
            .iter()
            .filter(|s| !s.as_ref().is_empty())
            .flat_map(|s| identifying_runs(s.as_ref()))
            .collect();
        patterns.sort_unstable_by(|a, b| a.as_slice().cmp(b.as_slice()));
        patterns.dedup_by(|a, b| a.as_slice() == b.as_slice());
        let finder = (!patterns.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(patterns.iter().map(|p| p.as_slice()))
                .expect("literal patterns always build")
        });
        Masker {
            finder,
            patterns,
            pending: Zeroizing::new(Vec::new()),
        }
    }

    /// Takes the next bytes of the stream; writes to `out` what can be shown already, straight
    /// from `bytes` (no copy on the way).
    pub fn push(&mut self, bytes: &[u8], out: &mut impl Write) -> std::io::Result<()> {
        if self.pending.is_empty() {
            // The usual case: nothing held back, the read is searched where it is.
            self.scan(bytes, out, false)
        } else {
            let mut joined = Zeroizing::new(std::mem::take(&mut *self.pending));
            joined.extend_from_slice(bytes);
            self.scan(&joined, out, false)
        }
    }

    /// The end of the stream: what was held back, its secrets concealed.
    pub fn finish(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        let pending = std::mem::take(&mut *self.pending);
        let pending = Zeroizing::new(pending);
        self.scan(&pending, out, true)
    }

    /// The stream is left unfinished (its writer may go on, unheard): what was held back, the
    /// beginning of a secret perhaps, is concealed whole.
    pub fn abandon(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.pending.clear();
        out.write_all(CONCEALED)
    }

    fn scan(&mut self, data: &[u8], out: &mut impl Write, last: bool) -> std::io::Result<()> {
        let Some(finder) = &self.finder else {
            return out.write_all(data);
        };
        // The stretches covered by secrets: overlapping occurrences merged.
        let mut found: Vec<(usize, usize)> = finder
            .find_overlapping_iter(data)
            .map(|m| (m.start(), m.end()))
            .collect();
        found.sort_unstable();
        let mut stretches: Vec<(usize, usize)> = Vec::new();
        for (start, end) in found {
            match stretches.last_mut() {
                // Overlapping: one stretch. Merely touching: two, however the reads fall.
                Some(stretch) if start < stretch.1 => stretch.1 = stretch.1.max(end),
                _ => stretches.push((start, end)),
            }
        }
        // Shown up to `cut`: not the longest tail that begins a secret (it may continue in the
        // next read), nor a stretch reaching into that tail (a longer secret may extend it).
        let mut cut = data.len();
        if !last {
            let longest = self.patterns.iter().map(|p| p.len()).max().unwrap_or(0);
            let held = (1..longest.min(data.len() + 1))
                .rev()
                .find(|&n| {
                    self.patterns
                        .iter()
                        .any(|s| s.len() > n && data.ends_with(&s[..n]))
                })
                .unwrap_or(0);
            cut -= held;
            if let Some(&(start, end)) = stretches.last()
                && held > 0
                && end > cut
            {
                cut = cut.min(start);
            }
        }
        let mut shown = 0;
        for &(start, end) in stretches.iter().take_while(|&&(_, end)| end <= cut) {
            out.write_all(&data[shown..start])?;
            out.write_all(CONCEALED)?;
            shown = end;
        }
        self.pending.extend_from_slice(&data[cut.max(shown)..]);
        out.write_all(&data[shown..cut.max(shown)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(secrets: &[&str], chunks: &[&str]) -> String {
        let mut masker = Masker::new(secrets);
        let mut out = Vec::new();
        for chunk in chunks {
            masker.push(chunk.as_bytes(), &mut out).unwrap();
        }
        masker.finish(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn secrets_are_concealed_wherever_the_reads_split_them() {
        let secret = "kw_SECRETsecret123";
        let text = format!("a {secret} b {secret}{secret} c kw_SECR d");
        let want = "a <concealed by keywarden> b <concealed by keywarden><concealed by keywarden> \
                    c kw_SECR d";
        // Every way of cutting the text in two, and byte by byte.
        for cut in 0..=text.len() {
            assert_eq!(
                masked(&[secret], &[&text[..cut], &text[cut..]]),
                want,
                "cut at {cut}"
            );
        }
        let bytes: Vec<String> = text.chars().map(String::from).collect();
        let bytes: Vec<&str> = bytes.iter().map(String::as_str).collect();
        assert_eq!(masked(&[secret], &bytes), want);
    }

    #[test]
    fn several_secrets_and_none() {
        assert_eq!(
            masked(
                &["short", "a-longer-secret"],
                &["x a-longer-", "secret y shor", "t z"]
            ),
            "x <concealed by keywarden> y <concealed by keywarden> z"
        );
        assert_eq!(masked(&[], &["nothing ", "to hide"]), "nothing to hide");
        assert_eq!(
            masked(&["abc"], &["ab"]),
            "ab",
            "a prefix at the end is let go"
        );
    }

    /// Found in review: a secret that is a prefix of another, or overlaps one, showed pieces.
    #[test]
    fn secrets_within_or_overlapping_others_show_nothing_of_either() {
        let cases: [(&[&str], &str, &str); 4] = [
            (&["abc", "abcdef"], "xabcdef.", "x<concealed by keywarden>."),
            (
                &["bcd", "abcdefg"],
                "xabcdefg.",
                "x<concealed by keywarden>.",
            ),
            (
                &["abcdefg", "efgXYZ"],
                "abcdefgXYZ.",
                "<concealed by keywarden>.",
            ),
            (&["abab"], "ababab.", "<concealed by keywarden>."),
        ];
        for (secrets, text, want) in cases {
            for cut in 0..=text.len() {
                assert_eq!(
                    masked(secrets, &[&text[..cut], &text[cut..]]),
                    want,
                    "{secrets:?} {text:?} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn output_that_cannot_begin_a_secret_is_not_held_back() {
        let mut masker = Masker::new(&["ghp_secret"]);
        let mut out = Vec::new();
        masker.push(b"ready\n", &mut out).unwrap();
        assert_eq!(out, b"ready\n");
        out.clear();
        masker.push(b"token: ghp_se", &mut out).unwrap();
        assert_eq!(out, b"token: ", "only what may begin the secret waits");
        out.clear();
        masker.push(b"cret.", &mut out).unwrap();
        assert_eq!(out, b"<concealed by keywarden>.");
        // Left unfinished with a beginning held back: that is concealed, not let go.
        out.clear();
        masker.push(b"token: ghp_secre", &mut out).unwrap();
        masker.abandon(&mut out).unwrap();
        assert_eq!(out, b"token: <concealed by keywarden>");
    }

    /// Found as a new user (issue 22): a `kw_` key without its 6-character checksum, followed by a
    /// newline, showed every random character. Any run of 8 of a secret's characters is
    /// concealed now, wherever it is; 7 in a row may show.
    #[test]
    fn a_run_of_a_secrets_characters_is_concealed_wherever_it_is() {
        let key = crate::key::generate(crate::key::TokenKind::ApiKey);
        let key = key.expose();
        let without_checksum = &key[..key.len() - 6];
        let text = format!(
            "token={without_checksum}\nmiddle={}|end={}",
            &key[10..20],
            &key[key.len() - 9..]
        );
        for cut in 0..=text.len() {
            let shown = masked(&[key], &[&text[..cut], &text[cut..]]);
            assert_eq!(
                shown,
                "token=<concealed by keywarden>\nmiddle=<concealed by keywarden>|end=<concealed by keywarden>",
                "cut at {cut}"
            );
        }
        let seven = &key[5..12];
        assert_eq!(
            masked(&[key], &[&format!("[{seven}]")]),
            format!("[{seven}]")
        );
        // A public prefix alone identifies nothing.
        let pat = "github_pat_11ABCDEFG0123456789abcdefghijklmnop";
        assert_eq!(
            masked(&[pat], &["github_pat_ tokens"]),
            "github_pat_ tokens"
        );
        // The runs that reach past the public prefix are concealed; what is left shown of it is
        // public.
        assert_eq!(
            masked(&[pat], &["github_pat_11ABC"]),
            "gith<concealed by keywarden>"
        );
    }
}
