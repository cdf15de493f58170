//! Hiding secrets in a program's output as it streams past: every occurrence of a secret becomes
//! `<concealed by keywarden>`, also when it arrives split over two reads, and secrets that overlap
//! or contain each other are concealed as one stretch. The end of a read that begins a secret, or
//! that a longer secret could still extend, is held back until the next read shows whether the
//! secret follows; the end of the stream lets it go. Anything else is passed on at once.

use std::io::Write;

use aho_corasick::{AhoCorasick, MatchKind};

pub const CONCEALED: &[u8] = b"<concealed by keywarden>";

pub struct Masker {
    /// Every occurrence of every secret, overlapping ones too; `None` when there is nothing to hide.
    finder: Option<AhoCorasick>,
    secrets: Vec<Vec<u8>>,
    pending: Vec<u8>,
}

impl Masker {
    pub fn new<S: AsRef<[u8]>>(secrets: &[S]) -> Masker {
        let secrets: Vec<Vec<u8>> = secrets
            .iter()
            .map(|s| s.as_ref().to_vec())
            .filter(|s| !s.is_empty())
            .collect();
        let finder = (!secrets.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&secrets)
                .expect("literal patterns always build")
        });
        Masker {
            finder,
            secrets,
            pending: Vec::new(),
        }
    }

    /// Takes the next bytes of the stream; writes to `out` what can be shown already, straight
    /// from `bytes` (no copy on the way).
    pub fn push(&mut self, bytes: &[u8], out: &mut impl Write) -> std::io::Result<()> {
        if self.pending.is_empty() {
            // The usual case: nothing held back, the read is searched where it is.
            self.scan(bytes, out, false)
        } else {
            let mut joined = std::mem::take(&mut self.pending);
            joined.extend_from_slice(bytes);
            self.scan(&joined, out, false)
        }
    }

    /// The end of the stream: what was held back, its secrets concealed.
    pub fn finish(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
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
            let longest = self.secrets.iter().map(Vec::len).max().unwrap_or(0);
            let held = (1..longest.min(data.len() + 1))
                .rev()
                .find(|&n| {
                    self.secrets
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
        let text = format!("a {secret} b {secret}{secret} c kw_SECRET d");
        let want = "a <concealed by keywarden> b <concealed by keywarden><concealed by keywarden> \
                    c kw_SECRET d";
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
}
