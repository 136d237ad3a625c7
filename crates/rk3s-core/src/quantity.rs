//! Resource quantities (`500m`, `1Gi`, `1e3`): parsing with upstream's grammar, comparison and
//! upstream's canonical text form. Entry point: [`Quantity::parse`].
//!
//! A quantity is held exactly in nano-units (upstream rounds anything finer up to `1n`), which
//! bounds magnitudes to about 1.7e29; larger values are rejected rather than silently clamped.

use std::cmp::Ordering;
use std::fmt;

/// Upstream's messages, word for word: clients show them to users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )]
    Format,
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    #[error("unable to parse quantity's suffix")]
    Suffix,
    /// Beyond what rk3s represents exactly (|value| above about 1.7e29).
    #[error("quantity is too large")]
    TooLarge,
}

/// How the quantity was written, which decides how it is printed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `Ki`, `Mi`, ... powers of 1024.
    BinarySi,
    /// `m`, `k`, `M`, ... powers of 1000 (and no suffix).
    DecimalSi,
    /// `e3`, `E-2`.
    DecimalExponent,
}

#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

const NANO: i128 = 1_000_000_000;
/// Digits beyond this can not fit an i128 count of nano-units.
const MAX_DIGITS: usize = 38;

impl Quantity {
    pub fn parse(input: &str) -> Result<Quantity, QuantityError> {
        if input.is_empty() {
            return Err(QuantityError::Format);
        }
        let b = input.as_bytes();
        let mut pos = 0;
        let negative = match b.first() {
            Some(b'-') => {
                pos += 1;
                true
            }
            Some(b'+') => {
                pos += 1;
                false
            }
            _ => false,
        };
        let int_start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        let int_digits = &input[int_start..pos];
        let mut frac_digits = "";
        if pos < b.len() && b[pos] == b'.' {
            pos += 1;
            let start = pos;
            while pos < b.len() && b[pos].is_ascii_digit() {
                pos += 1;
            }
            frac_digits = &input[start..pos];
        }
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(if pos > int_start {
                QuantityError::Numeric
            } else {
                QuantityError::Format
            });
        }
        let suffix = &input[pos..];
        check_suffix_shape(suffix)?;
        let (base, exponent, format) = interpret_suffix(suffix)?;

        // The value is digits * 10^-frac_len * base^exponent; build it in nano-units.
        let int_digits = int_digits.trim_start_matches('0');
        let frac_digits = frac_digits.trim_end_matches('0');
        if int_digits.len() + frac_digits.len() > MAX_DIGITS {
            return Err(QuantityError::TooLarge);
        }
        let mut mantissa: i128 = 0;
        for c in int_digits.bytes().chain(frac_digits.bytes()) {
            mantissa = mantissa * 10 + i128::from(c - b'0');
        }
        let mut scale10: i64 = -(frac_digits.len() as i64) + 9;
        let mut num = mantissa;
        let mut den: i128 = 1;
        if base == 10 {
            scale10 += i64::from(exponent);
        } else {
            // exponent is a multiple of 10 for binary suffixes: multiply by 1024^(exponent/10).
            for _ in 0..(exponent / 10) {
                num = num.checked_mul(1024).ok_or(QuantityError::TooLarge)?;
            }
        }
        if num != 0 {
            if scale10 > 0 {
                for _ in 0..scale10 {
                    num = num.checked_mul(10).ok_or(QuantityError::TooLarge)?;
                }
            } else {
                for _ in 0..(-scale10) {
                    if den > i128::MAX / 10 {
                        // Anything this small rounds up to one nano-unit.
                        num = 1;
                        den = 1;
                        break;
                    }
                    den *= 10;
                }
            }
        }
        // Round away from zero to whole nano-units, as upstream does.
        let mut nanos = num / den;
        if num % den != 0 {
            nanos += 1;
        }
        if negative {
            nanos = -nanos;
        }
        Ok(Quantity { nanos, format })
    }

    /// The value in nano-units, exact.
    pub fn to_nanos(&self) -> i128 {
        self.nanos
    }

    /// The value in milli-units, rounded up as upstream's `MilliValue`.
    pub fn to_millis(&self) -> Option<i128> {
        Some(div_ceil(self.nanos, 1_000_000))
    }

    /// The value in whole units, rounded up as upstream's `Value`.
    pub fn to_units(&self) -> i128 {
        div_ceil(self.nanos, NANO)
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }
}

fn div_ceil(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d != 0 && n > 0 { q + 1 } else { q }
}

/// The suffix must look like `[eEinumkKMGTP]*[-+]?[0-9]*`.
fn check_suffix_shape(suffix: &str) -> Result<(), QuantityError> {
    let rest = suffix.trim_start_matches(|c: char| "eEinumkKMGTP".contains(c));
    let rest = rest
        .strip_prefix('-')
        .or_else(|| rest.strip_prefix('+'))
        .unwrap_or(rest);
    if rest.bytes().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(QuantityError::Format)
    }
}

fn interpret_suffix(suffix: &str) -> Result<(u32, i32, Format), QuantityError> {
    let decimal = |e| Ok((10, e, Format::DecimalSi));
    let binary = |e| Ok((2, e, Format::BinarySi));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        s if s.len() > 1 && (s.starts_with('e') || s.starts_with('E')) => {
            let exp: i32 = s[1..].parse().map_err(|_| QuantityError::Suffix)?;
            if !(-1000..=1000).contains(&exp) {
                return Err(QuantityError::TooLarge);
            }
            Ok((10, exp, Format::DecimalExponent))
        }
        _ => Err(QuantityError::Suffix),
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}
impl Eq for Quantity {}
impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

/// Upstream's canonical form: binary quantities print in the largest exact power of 1024 unless
/// they are below 1Ki or fractional; decimal ones as an integer mantissa and an exponent that is
/// a multiple of three.
impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let mut format = self.format;
        if format == Format::BinarySi && (self.nanos.abs() < 1024 * NANO || self.nanos % NANO != 0)
        {
            format = Format::DecimalSi;
        }
        if format == Format::BinarySi {
            let mut units = self.nanos / NANO;
            let mut exp = 0;
            while exp < 6 && units % 1024 == 0 {
                units /= 1024;
                exp += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exp];
            return write!(f, "{units}{suffix}");
        }
        let mut mantissa = self.nanos;
        let mut exp: i32 = -9;
        while mantissa % 1000 == 0 {
            mantissa /= 1000;
            exp += 3;
        }
        if format == Format::DecimalExponent {
            return if exp == 0 {
                write!(f, "{mantissa}")
            } else {
                write!(f, "{mantissa}e{exp}")
            };
        }
        while exp > 18 {
            mantissa *= 1000;
            exp -= 3;
        }
        let suffix = match exp {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            0 => "",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            _ => "E",
        };
        write!(f, "{mantissa}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn canon(s: &str) -> String {
        Quantity::parse(s).unwrap().to_string()
    }

    #[test]
    fn canonical_forms_match_upstream() {
        for (input, want) in [
            ("1000m", "1"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Ki", "512"),
            ("1.5Ki", "1536"),
            ("0.1", "100m"),
            ("100m", "100m"),
            ("1500m", "1500m"),
            ("1.5", "1500m"),
            ("1k", "1k"),
            ("1000", "1k"),
            ("12e6", "12e6"),
            ("1.5e3", "1500"),
            ("1e-3", "1e-3"),
            ("0", "0"),
            ("0Gi", "0"),
            ("-0.5", "-500m"),
            ("+2", "2"),
            ("00010", "10"),
            ("1.G", "1G"),
            (".5", "500m"),
            ("0.0000000001", "1n"),
            ("1Ei", "1Ei"),
            ("1024Ei", "1024Ei"),
        ] {
            assert_eq!(canon(input), want, "canonical form of {input}");
        }
    }

    #[test]
    fn comparison_crosses_formats() {
        let q = |s: &str| Quantity::parse(s).unwrap();
        assert_eq!(q("1"), q("1000m"));
        assert!(q("500m") < q("1"));
        assert!(q("1Gi") > q("1G"));
        assert_eq!(q("1Ki"), q("1024"));
        assert_eq!(q("250m").to_millis(), Some(250));
        assert_eq!(q("1n").to_millis(), Some(1));
        assert_eq!(q("1.5").to_units(), 2);
        assert!(q("-1").is_negative());
    }

    #[test]
    fn hostile_strings_are_rejected_with_upstream_errors() {
        assert_eq!(Quantity::parse(""), Err(QuantityError::Format));
        assert_eq!(Quantity::parse("abc"), Err(QuantityError::Format));
        assert_eq!(Quantity::parse("1x"), Err(QuantityError::Format));
        assert_eq!(Quantity::parse("1 "), Err(QuantityError::Format));
        assert_eq!(Quantity::parse("1Mb"), Err(QuantityError::Format));
        assert_eq!(Quantity::parse("1Ki1"), Err(QuantityError::Suffix));
        assert_eq!(Quantity::parse("1KiB"), Err(QuantityError::Format));
        assert_eq!(Quantity::parse("1mm"), Err(QuantityError::Suffix));
        assert_eq!(Quantity::parse("."), Err(QuantityError::Numeric));
        assert_eq!(Quantity::parse("--1"), Err(QuantityError::Format));
        assert_eq!(Quantity::parse("1e"), Err(QuantityError::Suffix));
        assert_eq!(Quantity::parse("1e99999999999"), Err(QuantityError::Suffix));
        assert_eq!(Quantity::parse("1e400"), Err(QuantityError::TooLarge));
        assert_eq!(Quantity::parse("9Ei9"), Err(QuantityError::Suffix));
        assert_eq!(
            Quantity::parse(&"9".repeat(100)),
            Err(QuantityError::TooLarge)
        );
        assert_eq!(Quantity::parse("1e-400").unwrap().to_string(), "1e-9");
        assert_eq!(
            QuantityError::Format.to_string(),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>()) {
            if let Ok(q) = Quantity::parse(&s) {
                let _ = q.to_string();
            }
        }

        #[test]
        fn canonical_form_reparses_to_the_same_value(
            n in -1_000_000_000i64..1_000_000_000,
            suffix in prop::sample::select(vec!["", "m", "k", "Mi", "Gi", "Ki", "n", "u", "e3", "M"]),
        ) {
            let q = Quantity::parse(&format!("{n}{suffix}")).unwrap();
            let again = Quantity::parse(&q.to_string()).unwrap();
            prop_assert_eq!(q, again);
            prop_assert_eq!(q.to_string(), again.to_string());
        }
    }
}
