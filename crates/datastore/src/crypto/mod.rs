//! StackStorm's datastore crypto, bit for bit (events.md §7.6): a Keyczar-style JSON key file
//! (URL-safe unpadded base64 AES and HMAC keys) and ciphertexts that are the upper-case hex of
//! `"00000" ‖ IV ‖ AES-CBC(PKCS#7(plaintext)) ‖ HMAC-SHA1(header ‖ IV ‖ ct)`.

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde_json::{json, Value};
use sha1::Sha1;
use std::path::Path;

const HEADER: &[u8; 5] = b"00000";
const IV_LEN: usize = 16;
const SIG_LEN: usize = 20;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum CryptoError {
    #[error("invalid crypto key file: {0}")]
    KeyFile(String),
    #[error("Invalid or malformed ciphertext (too short)")]
    TooShort,
    #[error("Invalid or malformed ciphertext: {0}")]
    Malformed(String),
    #[error("Signature mismatch: the value was not encrypted with this key or is corrupted")]
    Signature,
}

/// An AES key (16, 24 or 32 bytes) and an HMAC-SHA1 key.
#[derive(Clone, PartialEq, Eq)]
pub struct CryptoKey {
    aes: Vec<u8>,
    hmac: Vec<u8>,
}

impl std::fmt::Debug for CryptoKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "CryptoKey(aes-{})", self.aes.len() * 8)
    }
}

/// Keyczar's base64: strip line breaks and spaces (not tabs), refuse a length ≡ 1 (mod 4),
/// pad the rest, URL-safe alphabet.
fn b64_decode(s: &str) -> Result<Vec<u8>, CryptoError> {
    let mut clean: String = s
        .chars()
        .filter(|c| !matches!(c, '\n' | '\r' | ' '))
        .collect();
    match clean.len() % 4 {
        1 => return Err(CryptoError::KeyFile("bad base64 length".into())),
        2 => clean.push_str("=="),
        3 => clean.push('='),
        _ => {}
    }
    base64::engine::general_purpose::URL_SAFE
        .decode(clean)
        .map_err(|e| CryptoError::KeyFile(format!("bad base64: {e}")))
}

fn b64_encode(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl CryptoKey {
    pub fn new(aes: Vec<u8>, hmac: Vec<u8>) -> Result<Self, CryptoError> {
        if !matches!(aes.len(), 16 | 24 | 32) {
            return Err(CryptoError::KeyFile(format!(
                "AES key must be 16, 24 or 32 bytes, not {}",
                aes.len()
            )));
        }
        if hmac.is_empty() {
            return Err(CryptoError::KeyFile("empty HMAC key".into()));
        }
        Ok(CryptoKey { aes, hmac })
    }

    /// A new random 256-bit key, as `st2-generate-symmetric-crypto-key` makes.
    pub fn generate() -> Self {
        let mut aes = vec![0u8; 32];
        let mut hmac = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut aes);
        rand::thread_rng().fill_bytes(&mut hmac);
        CryptoKey { aes, hmac }
    }

    /// Parse the JSON key file format (`aesKeyString`, `hmacKey.hmacKeyString`, `mode`, `size`).
    pub fn from_json(text: &str) -> Result<Self, CryptoError> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| CryptoError::KeyFile(e.to_string()))?;
        let field = |v: &Value, name: &str| -> Result<String, CryptoError> {
            v.get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| CryptoError::KeyFile(format!("missing string field \"{name}\"")))
        };
        let mode = field(&v, "mode")?;
        if !mode.eq_ignore_ascii_case("CBC") {
            return Err(CryptoError::KeyFile(format!(
                "unsupported mode \"{mode}\" (only CBC)"
            )));
        }
        if let Some(size) = v.get("size").and_then(Value::as_i64) {
            if size < 128 {
                return Err(CryptoError::KeyFile(format!(
                    "unsafe key size: {size} (minimum is 128)"
                )));
            }
        }
        let aes = b64_decode(&field(&v, "aesKeyString")?)?;
        let hmac_obj = v
            .get("hmacKey")
            .ok_or_else(|| CryptoError::KeyFile("missing \"hmacKey\"".into()))?;
        let hmac = b64_decode(&field(hmac_obj, "hmacKeyString")?)?;
        CryptoKey::new(aes, hmac)
    }

    pub fn to_json(&self) -> String {
        let v = json!({
            "hmacKey": {"hmacKeyString": b64_encode(&self.hmac), "size": self.hmac.len() * 8},
            "aesKeyString": b64_encode(&self.aes),
            "mode": "CBC",
            "size": self.aes.len() * 8,
        });
        v.to_string()
    }

    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CryptoError::KeyFile(format!("{}: {e}", path.display())))?;
        CryptoKey::from_json(&text)
    }

    /// Encrypt with a random IV.
    pub fn encrypt(&self, plaintext: &str) -> Result<String, CryptoError> {
        let mut iv = [0u8; IV_LEN];
        rand::thread_rng().fill_bytes(&mut iv);
        self.encrypt_with_iv(plaintext, &iv)
    }

    /// Encrypt with the given IV (test vectors); never reuse an IV for real values.
    pub fn encrypt_with_iv(
        &self,
        plaintext: &str,
        iv: &[u8; IV_LEN],
    ) -> Result<String, CryptoError> {
        let data = plaintext.as_bytes();
        let ct = match self.aes.len() {
            16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(&self.aes, iv)
                .map(|c| c.encrypt_padded_vec_mut::<aes::cipher::block_padding::Pkcs7>(data)),
            24 => cbc::Encryptor::<aes::Aes192>::new_from_slices(&self.aes, iv)
                .map(|c| c.encrypt_padded_vec_mut::<aes::cipher::block_padding::Pkcs7>(data)),
            _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(&self.aes, iv)
                .map(|c| c.encrypt_padded_vec_mut::<aes::cipher::block_padding::Pkcs7>(data)),
        }
        .map_err(|e| CryptoError::KeyFile(e.to_string()))?;
        let mut msg = Vec::with_capacity(HEADER.len() + IV_LEN + ct.len() + SIG_LEN);
        msg.extend_from_slice(HEADER);
        msg.extend_from_slice(iv);
        msg.extend_from_slice(&ct);
        let mut m = self.hmac()?;
        m.update(&msg);
        msg.extend_from_slice(&m.finalize().into_bytes());
        Ok(hex::encode_upper(msg))
    }

    fn hmac(&self) -> Result<Hmac<Sha1>, CryptoError> {
        <Hmac<Sha1> as Mac>::new_from_slice(&self.hmac)
            .map_err(|e| CryptoError::KeyFile(e.to_string()))
    }

    /// Decrypt a ciphertext written by StackStorm or Gale (either hex case). The header bytes
    /// are skipped, not checked, so Keyczar-era values decrypt too; they are covered by the MAC.
    pub fn decrypt(&self, ciphertext: &str) -> Result<String, CryptoError> {
        let raw = hex::decode(ciphertext.trim())
            .map_err(|e| CryptoError::Malformed(format!("not hex: {e}")))?;
        if raw.len() < HEADER.len() + IV_LEN + SIG_LEN {
            return Err(CryptoError::TooShort);
        }
        let (signed, sig) = raw.split_at(raw.len() - SIG_LEN);
        let mut m = self.hmac()?;
        m.update(signed);
        // verify_slice compares in constant time.
        m.verify_slice(sig).map_err(|_| CryptoError::Signature)?;
        let body = &signed[HEADER.len()..];
        let (iv, ct) = body.split_at(IV_LEN);
        if ct.is_empty() || ct.len() % 16 != 0 {
            return Err(CryptoError::Malformed(
                "ciphertext is not a whole number of AES blocks".into(),
            ));
        }
        let mut buf = ct.to_vec();
        let plain = match self.aes.len() {
            16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(&self.aes, iv).map(|c| {
                c.decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf)
                    .map(|p| p.to_vec())
            }),
            24 => cbc::Decryptor::<aes::Aes192>::new_from_slices(&self.aes, iv).map(|c| {
                c.decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf)
                    .map(|p| p.to_vec())
            }),
            _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(&self.aes, iv).map(|c| {
                c.decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf)
                    .map(|p| p.to_vec())
            }),
        }
        .map_err(|e| CryptoError::Malformed(e.to_string()))?
        .map_err(|e| CryptoError::Malformed(e.to_string()))?;
        let text = String::from_utf8(plain)
            .map_err(|_| CryptoError::Malformed("plaintext is not UTF-8".into()))?;
        // StackStorm strips ord(last character) characters without checking the padding
        // bytes (`s[0:-ord(s[-1])]`); Python slicing clamps, and `-0` strips everything.
        let chars: Vec<char> = text.chars().collect();
        let n = chars.last().map(|c| *c as usize).unwrap_or(0);
        let keep = if n == 0 {
            0
        } else {
            chars.len().saturating_sub(n)
        };
        Ok(chars[..keep].iter().collect())
    }
}

/// Write a new random key file with mode 0600 if `path` does not exist yet; returns whether it
/// wrote one. Parent directories are created (mode 0700 on Unix).
pub fn ensure_key_file(path: &Path) -> std::io::Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    std::io::Write::write_all(&mut f, CryptoKey::generate().to_json().as_bytes())?;
    Ok(true)
}

#[cfg(test)]
mod tests;
