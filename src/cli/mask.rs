//! Hiding secrets in a program's output as it streams past: every occurrence of a secret becomes
//! `<concealed by keywarden>`, also when it arrives split over two reads. The end of a read that
//! begins a secret is held back until the next read shows whether the secret follows; the end of
//! the stream lets it go. Anything else is passed on at once.

use aho_corasick::{AhoCorasick, MatchKind};

pub const CONCEALED: &[u8] = b"<concealed by keywarden>";

/// How secrets are found: one secret (the usual case) with a SIMD substring search, several with
/// one Aho-Corasick automaton.
enum Finder {
    One(Box<memchr::memmem::Finder<'static>>),
    Several(AhoCorasick),
}

impl Finder {
    /// The `(start, end)` of each secret in `data`, left to right, none overlapping.
    fn each(&self, data: &[u8], mut found: impl FnMut(usize, usize)) {
        match self {
            Finder::One(finder) => {
                let length = finder.needle().len();
                let mut from = 0;
                while let Some(at) = finder.find(&data[from..]) {
                    found(from + at, from + at + length);
                    from += at + length;
                }
            }
            Finder::Several(automaton) => {
                for m in automaton.find_iter(data) {
                    found(m.start(), m.end());
                }
            }
        }
    }
}

pub struct Masker {
    /// `None` when there is nothing to hide.
    finder: Option<Finder>,
    secrets: Vec<Vec<u8>>,
    longest: usize,
    pending: Vec<u8>,
}

impl Masker {
    pub fn new<S: AsRef<[u8]>>(secrets: &[S]) -> Masker {
        let secrets: Vec<&[u8]> = secrets
            .iter()
            .map(AsRef::as_ref)
            .filter(|s| !s.is_empty())
            .collect();
        let longest = secrets.iter().map(|s| s.len()).max().unwrap_or(0);
        let finder = match secrets.as_slice() {
            [] => None,
            [one] => Some(Finder::One(Box::new(
                memchr::memmem::Finder::new(one).into_owned(),
            ))),
            several => Some(Finder::Several(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(several)
                    .expect("literal patterns always build"),
            )),
        };
        Masker {
            finder,
            secrets: secrets.iter().map(|s| s.to_vec()).collect(),
            longest,
            pending: Vec::new(),
        }
    }

    /// Takes the next bytes of the stream; appends to `out` what can be shown already.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.finder.is_none() {
            out.extend_from_slice(bytes);
            return;
        }
        if self.pending.is_empty() {
            // The usual case: nothing held back, the read is searched where it is.
            self.scan(bytes, out);
        } else {
            let mut joined = std::mem::take(&mut self.pending);
            joined.extend_from_slice(bytes);
            self.scan(&joined, out);
        }
    }

    fn scan(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let Some(finder) = &self.finder else { return };
        let mut shown = 0;
        finder.each(data, |start, end| {
            out.extend_from_slice(&data[shown..start]);
            out.extend_from_slice(CONCEALED);
            shown = end;
        });
        // Held back: only the longest tail that begins a secret (shorter than it), so output
        // that cannot be the start of one, a prompt or a line, is shown at once.
        let rest = &data[shown..];
        let held = (1..self.longest.min(rest.len() + 1))
            .rev()
            .find(|&n| {
                self.secrets
                    .iter()
                    .any(|s| s.len() > n && rest.ends_with(&s[..n]))
            })
            .unwrap_or(0);
        let keep = data.len() - held;
        out.extend_from_slice(&data[shown..keep]);
        self.pending.extend_from_slice(&data[keep..]);
    }

    /// The end of the stream: what was held back, which no secret completes.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.pending);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(secrets: &[&str], chunks: &[&str]) -> String {
        let mut masker = Masker::new(secrets);
        let mut out = Vec::new();
        for chunk in chunks {
            masker.push(chunk.as_bytes(), &mut out);
        }
        masker.finish(&mut out);
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

    #[test]
    fn output_that_cannot_begin_a_secret_is_not_held_back() {
        let mut masker = Masker::new(&["ghp_secret"]);
        let mut out = Vec::new();
        masker.push(b"ready\n", &mut out);
        assert_eq!(out, b"ready\n");
        out.clear();
        masker.push(b"token: ghp_se", &mut out);
        assert_eq!(out, b"token: ", "only what may begin the secret waits");
        out.clear();
        masker.push(b"cret.", &mut out);
        assert_eq!(out, b"<concealed by keywarden>.");
    }
}
