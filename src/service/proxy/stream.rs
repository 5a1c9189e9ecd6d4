//! A proxied answer's body on its way back to the caller, scrubbed of the connector's secrets as
//! it streams.

use crate::outbound::scrub::Scrub;
use bytes::Bytes;

/// A response body on its way back, with the connector's secrets taken out. What might be the
/// start of a secret split across two chunks is held back until the next chunk shows.
pub(crate) struct ScrubbedStream {
    scrub: Scrub,
    pending: Vec<u8>,
}

impl ScrubbedStream {
    pub(crate) fn new(scrub: Scrub) -> Self {
        Self {
            scrub,
            pending: Vec::new(),
        }
    }

    /// The part of the body so far that can be sent.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Bytes {
        self.pending.extend_from_slice(chunk);
        let keep = self.scrub.longest_encoded().saturating_sub(1);
        if keep == 0 {
            return Bytes::from(std::mem::take(&mut self.pending));
        }
        // Scanned once `keep` new bytes wait beyond the held tail: an answer sent a byte at a
        // time costs a scan per `keep` bytes, not one per byte.
        if self.pending.len() < 2 * keep {
            return Bytes::new();
        }
        self.scrub.clean_bytes(&mut self.pending);
        let mut ready = self.pending.len() - keep;
        // Never released in the middle of a run of backslashes: the next scan must pair its
        // JSON escapes as this one did, or an encoded secret after it would be read out of step.
        while ready > 0 && self.pending[ready - 1] == b'\\' {
            ready -= 1;
        }
        Bytes::from(self.pending.drain(..ready).collect::<Vec<u8>>())
    }

    /// The rest, at the end of the body.
    pub(crate) fn finish(&mut self) -> Bytes {
        self.scrub.clean_bytes(&mut self.pending);
        Bytes::from(std::mem::take(&mut self.pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_escaped_secret_after_a_run_of_backslashes_is_found_whatever_the_chunks() {
        let secret = "sk_live_canary123";
        let escaped: String = secret
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        let body = format!("{{\"a\":\"{}\\\\{escaped}\"}}", "x".repeat(300));
        let scrub = || Scrub::of([secret.to_owned()]);
        let whole = scrub().clean(&body).into_owned();
        assert!(whole.contains("[redacted]"), "{whole}");
        for size in [1, 2, 3, 7, 64] {
            let mut stream = ScrubbedStream::new(scrub());
            let mut out = Vec::new();
            for chunk in body.as_bytes().chunks(size) {
                out.extend_from_slice(&stream.push(chunk));
            }
            out.extend_from_slice(&stream.finish());
            assert_eq!(
                String::from_utf8(out).expect("utf-8"),
                whole,
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn a_secret_split_across_chunks_is_still_taken_out() {
        let def = crate::catalog::catalog().get("stripe").expect("stripe");
        let config = crate::secret::SecretConfig::decrypted(
            [("api_key".to_owned(), "sk_live_canary123".to_owned())].into(),
        );
        let mut stream = ScrubbedStream::new(Scrub::new(def, &config).expect("long enough"));
        let mut out = Vec::new();
        for chunk in [
            &b"{\"echo\": \"sk_live_ca"[..],
            b"nary123\", \"n\": 1",
            b"}",
        ] {
            out.extend_from_slice(&stream.push(chunk));
        }
        out.extend_from_slice(&stream.finish());
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "{\"echo\": \"[redacted]\", \"n\": 1}"
        );
    }
}
