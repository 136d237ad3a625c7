//! The content digest that names a document version in the `/openapi/v3` index (`?hash=`).
//!
//! FNV-1a with 128 bits: stable across builds and Rust releases (unlike std's `DefaultHasher`),
//! dependency-free, and fast enough for a few megabytes. It only has to change when the bytes
//! change; it is not a security boundary.

const OFFSET_BASIS: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// The uppercase hex digest (32 characters) of `bytes`.
pub(super) fn hex_digest(bytes: &[u8]) -> String {
    let mut hash = OFFSET_BASIS;
    for &b in bytes {
        hash ^= u128::from(b);
        hash = hash.wrapping_mul(PRIME);
    }
    format!("{hash:032X}")
}

#[cfg(test)]
mod tests {
    use super::hex_digest;

    #[test]
    fn digest_of_empty_input_is_the_offset_basis() {
        assert_eq!(hex_digest(b""), "6C62272E07BB014262B821756295C58D");
    }

    #[test]
    fn digest_matches_the_published_fnv1a_128_vector() {
        assert_eq!(hex_digest(b"a"), "D228CB696F1A8CAF78912B704E4A8964");
    }

    #[test]
    fn digest_is_uppercase_hex_of_fixed_width() {
        let d = hex_digest(b"a");
        assert_eq!(d.len(), 32);
        assert!(
            d.chars()
                .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))
        );
    }

    #[test]
    fn one_changed_byte_changes_the_digest() {
        assert_ne!(hex_digest(b"{\"paths\":{}}"), hex_digest(b"{\"paths\":{ }"));
        assert_eq!(hex_digest(b"same"), hex_digest(b"same"));
    }
}
