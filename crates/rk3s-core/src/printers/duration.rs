//! Human-readable durations and timestamps as the apiserver prints them in tables.

use jiff::{SignedDuration, Timestamp};

/// A short approximate duration: `5s`, `2m30s`, `12m`, `3h5m`, `20h`, `2d4h`, `45d`, `3y45d`,
/// `9y`. The precision drops as the duration grows, matching the AGE column of `kubectl get`.
pub fn human_duration(d: std::time::Duration) -> String {
    human_seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Like [`human_duration`] but for signed spans: a timestamp slightly in the future (clock skew
/// of under two seconds) reads `0s`, anything further ahead `<invalid>`.
pub(crate) fn human_signed(d: SignedDuration) -> String {
    human_seconds(d.as_secs())
}

fn human_seconds(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 2 * 60 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 3 * 60 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{h}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        let d = days % 365;
        return if d == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{d}d")
        };
    }
    format!("{years}y")
}

/// Go's zero `time.Time` (0001-01-01T00:00:00Z) marks an unset timestamp.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// Time elapsed since `ts`, or `<unknown>` when it is unset.
pub(crate) fn since(ts: Option<Timestamp>, now: Timestamp) -> String {
    match ts.filter(|t| !is_zero(*t)) {
        Some(t) => human_signed(now.duration_since(t)),
        None => "<unknown>".to_owned(),
    }
}

pub(crate) fn is_zero(t: Timestamp) -> bool {
    t.as_second() == GO_ZERO_TIME_SECONDS && t.subsec_nanosecond() == 0
}

/// RFC 3339 in UTC with whole seconds, as Go formats `time.RFC3339`; unset is Go's zero time.
pub(crate) fn rfc3339(ts: Option<Timestamp>) -> String {
    match ts {
        Some(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => "0001-01-01T00:00:00Z".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn human_duration_matches_the_upstream_table() {
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (1, "1s"),
            (59, "59s"),
            (60, "60s"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (150, "2m30s"),
            (9 * 60 + 59, "9m59s"),
            (10 * 60, "10m"),
            (10 * 60 + 59, "10m"),
            (179 * 60, "179m"),
            (180 * 60, "3h"),
            (3 * 3600 + 5 * 60, "3h5m"),
            (7 * 3600 + 59 * 60 + 59, "7h59m"),
            (8 * 3600, "8h"),
            (47 * 3600 + 59 * 60, "47h"),
            (48 * 3600, "2d"),
            (2 * 86400 + 4 * 3600, "2d4h"),
            (7 * 86400 + 23 * 3600, "7d23h"),
            (8 * 86400, "8d"),
            (45 * 86400, "45d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (3 * 365 * 86400 + 45 * 86400, "3y45d"),
            (8 * 365 * 86400, "8y"),
            (20 * 365 * 86400 + 100 * 86400, "20y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(Duration::from_secs(*secs)), *want, "{secs}s");
        }
    }

    #[test]
    fn human_duration_ignores_sub_second_parts_and_huge_values() {
        assert_eq!(human_duration(Duration::from_millis(1999)), "1s");
        assert_eq!(
            human_duration(Duration::from_secs(u64::MAX)),
            format!("{}y", i64::MAX / 86400 / 365)
        );
    }

    #[test]
    fn small_clock_skew_reads_zero_but_larger_is_invalid() {
        assert_eq!(human_signed(SignedDuration::from_millis(-1900)), "0s");
        assert_eq!(human_signed(SignedDuration::from_secs(-2)), "<invalid>");
    }

    #[test]
    fn unset_and_zero_timestamps_are_unknown() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        assert_eq!(since(None, now), "<unknown>");
        let zero: Timestamp = "0001-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(since(Some(zero), now), "<unknown>");
        let earlier: Timestamp = "2024-05-01T11:55:00Z".parse().unwrap();
        assert_eq!(since(Some(earlier), now), "5m");
    }

    #[test]
    fn rfc3339_drops_fractions_and_pads_the_year() {
        let t: Timestamp = "2024-05-01T12:00:00.987654Z".parse().unwrap();
        assert_eq!(rfc3339(Some(t)), "2024-05-01T12:00:00Z");
        let t: Timestamp = "2024-05-01T14:00:00+02:00".parse().unwrap();
        assert_eq!(rfc3339(Some(t)), "2024-05-01T12:00:00Z");
        let zero: Timestamp = "0001-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(rfc3339(Some(zero)), "0001-01-01T00:00:00Z");
        assert_eq!(rfc3339(None), "0001-01-01T00:00:00Z");
    }
}
