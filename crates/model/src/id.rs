//! Resource ids look like MongoDB ObjectIds (24 lowercase hex): 4 bytes of seconds since the
//! epoch, then 8 random bytes. The st2 CLI only echoes them, but keeping the shape means ids
//! sort roughly by creation time and nothing that validates ObjectIds trips over ours.

use rand::RngCore;

/// A new 24-hex id.
pub fn new_id() -> String {
    let secs = chrono::Utc::now().timestamp() as u32;
    let mut rest = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut rest);
    let mut s = format!("{secs:08x}");
    for b in rest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// True if `s` has the shape of an id (24 lowercase hex), as opposed to a ref or a name.
pub fn looks_like_id(s: &str) -> bool {
    s.len() == 24
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_24_hex_and_unique() {
        let a = new_id();
        let b = new_id();
        assert!(looks_like_id(&a), "{a}");
        assert_ne!(a, b);
        assert!(!looks_like_id("core.local"));
        assert!(!looks_like_id("ABCDEF0123456789abcdef01"));
    }
}
