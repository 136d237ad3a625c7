//! Resource amounts with upstream's arithmetic: sums keep the format of the left operand (or the
//! right one when the left is zero), so `1Gi + 512Mi` prints as `1536Mi` like upstream does.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::quantity::{Format, Quantity};

const NANO: i128 = 1_000_000_000;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Amount {
    nanos: i128,
    format: Format,
}

/// A resource list: resource name to amount, ordered so output is sorted as upstream prints it.
pub(crate) type Resources = BTreeMap<String, Amount>;

impl Amount {
    pub(crate) fn zero() -> Amount {
        Amount {
            nanos: 0,
            format: Format::DecimalSi,
        }
    }

    pub(crate) fn units(n: i128) -> Amount {
        Amount {
            nanos: n.saturating_mul(NANO),
            format: Format::DecimalSi,
        }
    }

    pub(crate) fn from_quantity(q: &Quantity) -> Amount {
        Amount {
            nanos: q.to_nanos(),
            format: q.format(),
        }
    }

    /// A quantity as the API carries it: a string, or (as upstream also accepts) a bare number.
    pub(crate) fn from_json(v: &Value) -> Option<Amount> {
        let q = match v {
            Value::String(s) => Quantity::parse(s).ok()?,
            Value::Number(n) => Quantity::parse(&n.to_string()).ok()?,
            _ => return None,
        };
        Some(Amount::from_quantity(&q))
    }

    pub(crate) fn nanos(&self) -> i128 {
        self.nanos
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    pub(crate) fn add(&self, other: &Amount) -> Amount {
        Amount {
            nanos: self.nanos.saturating_add(other.nanos),
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        }
    }

    pub(crate) fn sub(&self, other: &Amount) -> Amount {
        Amount {
            nanos: self.nanos.saturating_sub(other.nanos),
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        }
    }

    /// Rounded up to whole units, as upstream charges storage in whole bytes.
    pub(crate) fn round_up_to_units(&self) -> Amount {
        Amount {
            nanos: self.value().saturating_mul(NANO),
            format: self.format,
        }
    }

    /// Upstream's `Value()`: whole units, rounded up.
    pub(crate) fn value(&self) -> i128 {
        let q = self.nanos / NANO;
        if self.nanos % NANO != 0 && self.nanos > 0 {
            q + 1
        } else {
            q
        }
    }

    /// Upstream's `MilliValue()`: milli-units, rounded up.
    pub(crate) fn milli_value(&self) -> i128 {
        let d = 1_000_000;
        let q = self.nanos / d;
        if self.nanos % d != 0 && self.nanos > 0 {
            q + 1
        } else {
            q
        }
    }

    /// The same value as a [`Quantity`], so printing goes through the one canonical formatter.
    pub(crate) fn to_quantity(self) -> Option<Quantity> {
        let text = match self.format {
            Format::BinarySi if self.nanos % NANO == 0 => {
                // Written in Ki so the quantity keeps its binary format; n/1024 always has a
                // finite decimal expansion of at most ten places.
                let units = self.nanos / NANO;
                let sign = if units < 0 { "-" } else { "" };
                let abs = units.unsigned_abs();
                let whole = abs / 1024;
                let frac = (abs % 1024) * 9_765_625;
                format!("{sign}{whole}.{frac:010}Ki")
            }
            Format::DecimalExponent => format!("{}e-9", self.nanos),
            _ => format!("{}n", self.nanos),
        };
        Quantity::parse(&text).ok()
    }
}

impl PartialEq for Amount {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_quantity() {
            Some(q) => write!(f, "{q}"),
            // Only reachable for sums beyond what a quantity can hold.
            None => write!(f, "{}", self.value()),
        }
    }
}

/// Reads a resource list (`{"cpu": "100m"}`); entries that are not quantities are ignored.
pub(crate) fn resources_from_json(v: Option<&Value>) -> Resources {
    let mut out = Resources::new();
    if let Some(Value::Object(map)) = v {
        for (k, v) in map {
            if let Some(a) = Amount::from_json(v) {
                out.insert(k.clone(), a);
            }
        }
    }
    out
}

pub(crate) fn resources_to_json(r: &Resources) -> Value {
    Value::Object(
        r.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
            .collect(),
    )
}

/// Upstream's `quota.Add`: keys of either side, values summed where both have them.
pub(crate) fn add(a: &Resources, b: &Resources) -> Resources {
    let mut out = a.clone();
    add_into(&mut out, b);
    out
}

pub(crate) fn add_into(into: &mut Resources, b: &Resources) {
    for (k, v) in b {
        let sum = match into.get(k) {
            Some(cur) => cur.add(v),
            None => *v,
        };
        into.insert(k.clone(), sum);
    }
}

/// Upstream's `maxResourceList`: per key, the larger value.
pub(crate) fn max_into(into: &mut Resources, b: &Resources) {
    for (k, v) in b {
        match into.get(k) {
            Some(cur) if cur.nanos >= v.nanos => {}
            _ => {
                into.insert(k.clone(), *v);
            }
        }
    }
}

/// Upstream's `SubtractWithNonNegativeResult`.
pub(crate) fn subtract_non_negative(a: &Resources, b: &Resources) -> Resources {
    let mut out = Resources::new();
    for (k, v) in a {
        let diff = match b.get(k) {
            Some(o) => v.sub(o),
            None => *v,
        };
        out.insert(
            k.clone(),
            if diff.nanos > 0 { diff } else { Amount::zero() },
        );
    }
    for k in b.keys() {
        out.entry(k.clone()).or_insert_with(Amount::zero);
    }
    out
}

/// Only the entries whose names are in `names`.
pub(crate) fn mask<'a>(r: &Resources, names: impl IntoIterator<Item = &'a String>) -> Resources {
    let mut out = Resources::new();
    for n in names {
        if let Some(v) = r.get(n) {
            out.insert(n.clone(), *v);
        }
    }
    out
}

/// `a=1,b=2`, sorted by name, as upstream's quota messages print resource lists.
pub(crate) fn pretty(r: &Resources) -> String {
    r.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}
