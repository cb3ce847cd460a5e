//! The identifier hash key (docs/input.md "What lands on disk"). Every app of a portfolio must
//! be hashed under one key or people will not match, so the warehouse records a fingerprint of
//! the key it was built with and refuses to mix keys. The key itself never leaves this module
//! in printable form: `Debug` is redacted and no method returns the bytes.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Environment variable that overrides the warehouse's key file.
pub(crate) const KEY_ENV: &str = "SEATCOUNT_HASH_KEY";

/// How identifiers are hashed; fixed when the warehouse is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HashAlgorithm {
    /// Keyed HMAC-SHA256: the default, safe against dictionary attacks.
    HmacSha256,
    /// Unkeyed SHA-256, only for compatibility with sources that already hash that way;
    /// reversible by dictionary for e-mail addresses.
    Sha256,
}

/// The secret used by `hash_identifier`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HashKey {
    algorithm: HashAlgorithm,
    secret: Vec<u8>,
}

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashKey({:?}, <redacted>)", self.algorithm)
    }
}

impl HashKey {
    /// The unkeyed SHA-256 mode.
    pub(crate) fn plain_sha256() -> Self {
        HashKey {
            algorithm: HashAlgorithm::Sha256,
            secret: Vec::new(),
        }
    }

    /// An HMAC key from hex text (the `SEATCOUNT_HASH_KEY` form and the key file's form).
    pub fn from_hex(text: &str, origin: &str) -> Result<Self> {
        let secret = hex::decode(text.trim())
            .map_err(|_| Error::Usage(format!("{origin} is not a hexadecimal key")))?;
        if secret.len() < 16 {
            return Err(Error::Usage(format!(
                "{origin} is shorter than 16 bytes (32 hex digits)"
            )));
        }
        Ok(HashKey {
            algorithm: HashAlgorithm::HmacSha256,
            secret,
        })
    }

    /// 32 fresh random bytes.
    pub fn generate() -> Result<Self> {
        let mut secret = vec![0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| Error::Runtime(format!("cannot draw random bytes for a new key: {e}")))?;
        Ok(HashKey {
            algorithm: HashAlgorithm::HmacSha256,
            secret,
        })
    }

    /// A short, one-way tag that tells keys apart without revealing them; stored in the
    /// warehouse so a second key is refused instead of splitting every person in two.
    pub fn fingerprint(&self) -> String {
        let mut out = [0u8; 64];
        self.hasher()
            .hash_hex("seatcount key fingerprint v1", &mut out);
        String::from_utf8_lossy(&out[..16]).into_owned()
    }

    /// A reusable hasher with the key schedule computed once.
    pub(crate) fn hasher(&self) -> IdentifierHasher {
        match self.algorithm {
            HashAlgorithm::HmacSha256 => IdentifierHasher::Hmac(
                Hmac::<Sha256>::new_from_slice(&self.secret)
                    .expect("HMAC accepts keys of any length"),
            ),
            HashAlgorithm::Sha256 => IdentifierHasher::Plain,
        }
    }

    /// Writes the key as hex to a new file readable by its owner only.
    pub(crate) fn write_new_key_file(&self, path: &Path) -> Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        writeln!(file, "{}", hex::encode(&self.secret)).map_err(|e| Error::io(path, e))?;
        file.sync_all().map_err(|e| Error::io(path, e))
    }

    /// Reads a key file, refusing one that others can read: a leaked key makes every
    /// stored hash reversible by dictionary.
    pub(crate) fn read_key_file(path: &Path) -> Result<Self> {
        let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(Error::Usage(format!(
                "{}: the key file is readable by other users; run `chmod 600` on it",
                path.display()
            )));
        }
        let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_hex(&text, &path.display().to_string())
    }
}

/// The per-thread hashing state behind `hash_identifier`.
#[derive(Clone)]
pub enum IdentifierHasher {
    /// HMAC-SHA256 with the inner and outer key pads already absorbed.
    Hmac(Hmac<Sha256>),
    /// Plain SHA-256.
    Plain,
}

impl IdentifierHasher {
    /// The full 32-byte digest of `value`.
    fn digest(&self, value: &str) -> [u8; 32] {
        match self {
            IdentifierHasher::Hmac(base) => {
                let mut mac = base.clone();
                mac.update(value.as_bytes());
                mac.finalize().into_bytes().into()
            }
            IdentifierHasher::Plain => Sha256::digest(value.as_bytes()).into(),
        }
    }

    /// Lowercase hex digest of `value`, written into `out`.
    pub(crate) fn hash_hex(&self, value: &str, out: &mut [u8; 64]) {
        hex::encode_to_slice(self.digest(value), out).expect("64 hex digits fit 32 bytes");
    }

    /// The stored form of `value`'s hash: the digest's first [`STORED_HASH_BYTES`] bytes
    /// (docs/input.md "What lands on disk").
    pub(crate) fn hash_stored(&self, value: &str) -> [u8; STORED_HASH_BYTES] {
        let digest = self.digest(value);
        let mut out = [0u8; STORED_HASH_BYTES];
        out.copy_from_slice(&digest[..STORED_HASH_BYTES]);
        out
    }
}

/// Bytes of a stored hash. Two different identifiers share a stored hash with probability
/// 2⁻¹²⁸ per pair: among ten million people, about 10⁻²⁵.
pub const STORED_HASH_BYTES: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    fn hmac_hex(key: &[u8], data: &[u8]) -> String {
        let key = HashKey {
            algorithm: HashAlgorithm::HmacSha256,
            secret: key.to_vec(),
        };
        let mut out = [0u8; 64];
        key.hasher()
            .hash_hex(std::str::from_utf8(data).unwrap(), &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    // RFC 4231 test vectors for HMAC-SHA256 with UTF-8 data (cases 1, 2, 6 and 7; the others
    // use binary data that `hash_identifier` never receives).
    #[test]
    fn rfc4231_case_1() {
        assert_eq!(
            hmac_hex(&[0x0b; 20], b"Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn rfc4231_case_2() {
        assert_eq!(
            hmac_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn rfc4231_case_6_key_longer_than_block() {
        assert_eq!(
            hmac_hex(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn rfc4231_case_7() {
        let data = b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.";
        assert_eq!(
            hmac_hex(&[0xaa; 131], data),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        );
    }

    #[test]
    fn plain_sha256_vector() {
        let mut out = [0u8; 64];
        HashKey::plain_sha256().hasher().hash_hex("abc", &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = HashKey::from_hex(&"ab".repeat(32), "test").unwrap();
        assert!(!format!("{key:?}").contains("abab"));
    }

    #[test]
    fn short_or_non_hex_keys_are_refused() {
        assert!(HashKey::from_hex("abcd", "k").is_err());
        assert!(HashKey::from_hex(&"zz".repeat(32), "k").is_err());
    }
}
