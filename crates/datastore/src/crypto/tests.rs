use super::*;
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("../testdata/kv-crypto-vectors.json")).unwrap()
}

fn vector_key() -> CryptoKey {
    CryptoKey::from_json(&vectors()["key_file"].to_string()).unwrap()
}

fn iv(v: &Value) -> [u8; 16] {
    hex::decode(v["iv_hex"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn key_file_decodes_to_the_documented_bytes() {
    let v = vectors();
    let k = vector_key();
    assert_eq!(
        hex::encode_upper(&k.aes),
        v["aes_key_hex"].as_str().unwrap()
    );
    assert_eq!(
        hex::encode_upper(&k.hmac),
        v["hmac_key_hex"].as_str().unwrap()
    );
    // and back: the same strings StackStorm's key file holds
    let again: Value = serde_json::from_str(&k.to_json()).unwrap();
    assert_eq!(again["aesKeyString"], v["key_file"]["aesKeyString"]);
    assert_eq!(
        again["hmacKey"]["hmacKeyString"],
        v["key_file"]["hmacKey"]["hmacKeyString"]
    );
}

#[test]
fn encrypts_the_vectors_bit_for_bit() {
    let k = vector_key();
    for v in vectors()["vectors"].as_array().unwrap() {
        let got = k
            .encrypt_with_iv(v["plaintext"].as_str().unwrap(), &iv(v))
            .unwrap();
        assert_eq!(got, v["ciphertext"].as_str().unwrap());
    }
}

#[test]
fn decrypts_the_vectors_in_either_case() {
    let k = vector_key();
    for v in vectors()["vectors"].as_array().unwrap() {
        let ct = v["ciphertext"].as_str().unwrap();
        let plain = v["plaintext"].as_str().unwrap();
        assert_eq!(k.decrypt(ct).unwrap(), plain);
        assert_eq!(k.decrypt(&ct.to_lowercase()).unwrap(), plain);
    }
}

#[test]
fn negative_cases() {
    let k = vector_key();
    let ct = vectors()["vectors"][0]["ciphertext"]
        .as_str()
        .unwrap()
        .to_string();
    // last hex digit of the HMAC changed
    let mut bad = ct.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == '9' { 'A' } else { '9' });
    assert_eq!(k.decrypt(&bad), Err(CryptoError::Signature));
    // shorter than 5+16+20 bytes
    assert_eq!(k.decrypt(&ct[..80]), Err(CryptoError::TooShort));
    assert_eq!(
        k.decrypt(&ct[..80]).unwrap_err().to_string(),
        "Invalid or malformed ciphertext (too short)"
    );
    assert!(matches!(k.decrypt("zz"), Err(CryptoError::Malformed(_))));
    assert!(matches!(
        k.decrypt("plain text"),
        Err(CryptoError::Malformed(_))
    ));
    // a different key: signature mismatch, never garbage plaintext
    assert_eq!(
        CryptoKey::generate().decrypt(&ct),
        Err(CryptoError::Signature)
    );
}

#[test]
fn header_is_skipped_but_signed() {
    // Keyczar-era values carry a real header: decrypt ignores its content (it is only MACed).
    let k = vector_key();
    let mut raw = hex::decode(vectors()["vectors"][0]["ciphertext"].as_str().unwrap()).unwrap();
    raw[..5].copy_from_slice(&[0x00, 0x11, 0x22, 0x33, 0x44]);
    let body_len = raw.len() - 20;
    let mut m = k.hmac().unwrap();
    m.update(&raw[..body_len]);
    let sig = m.finalize().into_bytes();
    raw[body_len..].copy_from_slice(&sig);
    assert_eq!(k.decrypt(&hex::encode(&raw)).unwrap(), "s3cr3t-p@ss");
}

#[test]
fn random_iv_round_trips_and_has_the_documented_length() {
    for key in [
        CryptoKey::generate(),
        CryptoKey::new(vec![7; 16], vec![1; 32]).unwrap(),
        CryptoKey::new(vec![7; 24], vec![1; 32]).unwrap(),
    ] {
        for plain in ["", "x", "exactly-16-bytes", "ünïcødé ✓", &"long".repeat(50)] {
            let a = key.encrypt(plain).unwrap();
            let b = key.encrypt(plain).unwrap();
            assert_ne!(a, b, "fresh IV per value");
            assert!(a.starts_with("3030303030"));
            let padded = plain.len() / 16 * 16 + 16;
            assert_eq!(a.len(), 2 * (5 + 16 + padded + 20));
            assert_eq!(key.decrypt(&a).unwrap(), plain);
        }
    }
}

#[test]
fn key_file_errors() {
    assert!(CryptoKey::from_json("{").is_err());
    let mut f = vectors()["key_file"].clone();
    f["mode"] = "ECB".into();
    assert!(CryptoKey::from_json(&f.to_string()).is_err());
    let mut f = vectors()["key_file"].clone();
    f["mode"] = "cbc".into();
    assert!(
        CryptoKey::from_json(&f.to_string()).is_ok(),
        "mode is case-insensitive"
    );
    let mut f = vectors()["key_file"].clone();
    f["size"] = 64.into();
    assert!(CryptoKey::from_json(&f.to_string()).is_err());
    let mut f = vectors()["key_file"].clone();
    f["aesKeyString"] = "AAEC".into(); // 3 bytes
    assert!(CryptoKey::from_json(&f.to_string()).is_err());
    let mut f = vectors()["key_file"].clone();
    f["aesKeyString"] = "AAECA".into(); // length ≡ 1 mod 4
    assert!(CryptoKey::from_json(&f.to_string()).is_err());
    // line breaks and spaces inside the base64 are ignored
    let mut f = vectors()["key_file"].clone();
    f["aesKeyString"] = "AAECAwQFBgcICQoLDA0O\nDxAREhMUFRYXGBkaGxwd Hh8".into();
    assert_eq!(CryptoKey::from_json(&f.to_string()).unwrap(), vector_key());
}

#[test]
fn ensure_key_file_writes_once_with_private_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys/datastore_key.json");
    assert!(ensure_key_file(&path).unwrap());
    let k = CryptoKey::load(&path).unwrap();
    assert!(!ensure_key_file(&path).unwrap());
    assert_eq!(CryptoKey::load(&path).unwrap(), k);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// Python's `cryptography` running StackStorm's algorithm: Gale decrypts what it encrypts and
/// the reverse. Skipped (with a note) only when python3 or `cryptography` is missing.
#[test]
fn python_cryptography_round_trip() {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIPPED: python3 with the `cryptography` package is not available");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keyfile = dir.path().join("key.json");
    let script = dir.path().join("st2_crypto.py");
    std::fs::write(&script, include_str!("../testdata/st2_crypto.py")).unwrap();
    let key = CryptoKey::generate();
    std::fs::write(&keyfile, key.to_json()).unwrap();
    let py = |op: &str, arg: &str| -> String {
        let out = std::process::Command::new("python3")
            .arg(&script)
            .arg(&keyfile)
            .args([op, arg])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    for plain in ["s3cr3t-p@ss", "", "exactly-16-bytes", "ünïcødé ✓"] {
        let from_python = py("encrypt", plain);
        assert_eq!(key.decrypt(&from_python).unwrap(), plain);
        let from_gale = key.encrypt(plain).unwrap();
        assert_eq!(py("decrypt", &from_gale), plain);
    }
    // and the fixed vectors through Python with the vector key
    std::fs::write(&keyfile, vectors()["key_file"].to_string()).unwrap();
    for v in vectors()["vectors"].as_array().unwrap() {
        assert_eq!(
            py("decrypt", v["ciphertext"].as_str().unwrap()),
            v["plaintext"].as_str().unwrap()
        );
    }
}
