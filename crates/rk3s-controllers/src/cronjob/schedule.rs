//! Cron schedules as CronJobs write them: five fields (minute hour day-of-month month
//! day-of-week) or a descriptor (`@hourly`, `@daily`, `@every 90m`, …), and the time zone they
//! are read in. Pure. Entry points: [`Schedule::parse`], [`Schedule::next_after`],
//! [`zone`].
//!
//! Matching follows the usual cron rule also used upstream: when both day fields are
//! restricted, a day matches if either does; when one of them is `*` or `?`, both must.

use std::time::Duration;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScheduleError {
    #[error("empty schedule")]
    Empty,
    #[error("expected exactly 5 fields, found {0}")]
    FieldCount(usize),
    #[error("unrecognized descriptor: {0}")]
    Descriptor(String),
    #[error("invalid duration in {0}")]
    Every(String),
    #[error("cannot use TZ or CRON_TZ in schedule, use the timeZone field instead")]
    TzPrefix,
    #[error("invalid {field} expression {expr:?}")]
    Field { field: &'static str, expr: String },
    #[error("{field} value {value} is outside {min}-{max}")]
    OutOfRange {
        field: &'static str,
        value: u32,
        min: u32,
        max: u32,
    },
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("unknown time zone {0}")]
pub struct ZoneError(pub String);

/// One parsed field: a bit per allowed value, and whether it was written as `*`/`?`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Field {
    bits: u64,
    star: bool,
}

/// A schedule ready to compute run times.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    Fields {
        minute: u64,
        hour: u64,
        dom: FieldBits,
        month: u64,
        dow: FieldBits,
    },
    /// `@every <duration>`: a fixed interval counted from the previous run.
    Every(Duration),
}

/// A day field keeps its star flag: it decides how the two day fields combine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldBits {
    bits: u64,
    star: bool,
}

struct Spec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Spec = Spec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Spec = Spec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Spec = Spec {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Spec = Spec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DOW: Spec = Spec {
    name: "day-of-week",
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

/// How far ahead a search looks before concluding a schedule never fires (e.g. `0 0 30 2 *`).
const SEARCH_YEARS: i16 = 5;

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ScheduleError::Empty);
        }
        if text.contains("TZ=") {
            return Err(ScheduleError::TzPrefix);
        }
        if let Some(rest) = text.strip_prefix("@every") {
            let d = parse_duration(rest.trim())
                .ok_or_else(|| ScheduleError::Every(text.to_string()))?;
            // Below a second the interval is rounded up, as the usual cron libraries do.
            return Ok(Schedule::Every(d.max(Duration::from_secs(1))));
        }
        let expanded = match text {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            t if t.starts_with('@') => return Err(ScheduleError::Descriptor(t.to_string())),
            t => t,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(ScheduleError::FieldCount(fields.len()));
        }
        let dom = parse_field(fields[2], &DOM)?;
        let dow = parse_field(fields[4], &DOW)?;
        Ok(Schedule::Fields {
            minute: parse_field(fields[0], &MINUTE)?.bits,
            hour: parse_field(fields[1], &HOUR)?.bits,
            dom: FieldBits {
                bits: dom.bits,
                star: dom.star,
            },
            month: parse_field(fields[3], &MONTH)?.bits,
            dow: FieldBits {
                bits: dow.bits,
                star: dow.star,
            },
        })
    }

    /// The first run strictly after `after`, reading the fields as wall-clock time in `tz`;
    /// `None` when the schedule cannot fire in the next few years.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        match self {
            Schedule::Every(d) => {
                let step = SignedDuration::try_from(*d).ok()?;
                // Whole seconds, like the previous run time it is counted from.
                let base = Timestamp::from_second(after.as_second()).ok()?;
                base.checked_add(step).ok()
            }
            Schedule::Fields {
                minute,
                hour,
                dom,
                month,
                dow,
            } => {
                let m = |bits: u64, v: i8| (0..64).contains(&v) && bits & (1u64 << v) != 0;
                let day_ok = |d: Date| {
                    let dom_ok = m(dom.bits, d.day());
                    let dow_ok = m(dow.bits, d.weekday().to_sunday_zero_offset());
                    if dom.star || dow.star {
                        dom_ok && dow_ok
                    } else {
                        dom_ok || dow_ok
                    }
                };
                let start = tz.to_datetime(after);
                let mut t = start
                    .with()
                    .second(0)
                    .subsec_nanosecond(0)
                    .build()
                    .ok()?
                    .checked_add(1.minute())
                    .ok()?;
                let limit = start.year().saturating_add(SEARCH_YEARS);
                while t.year() <= limit {
                    if !m(*month, t.month()) {
                        t = first_of_next_month(t)?;
                        continue;
                    }
                    if !day_ok(t.date()) {
                        t = t
                            .date()
                            .tomorrow()
                            .ok()?
                            .to_datetime(jiff::civil::time(0, 0, 0, 0));
                        continue;
                    }
                    if !m(*hour, t.hour()) {
                        t = t
                            .with()
                            .minute(0)
                            .build()
                            .ok()?
                            .checked_add(1.hour())
                            .ok()?;
                        continue;
                    }
                    if !m(*minute, t.minute()) {
                        t = t.checked_add(1.minute()).ok()?;
                        continue;
                    }
                    // A wall time skipped by a DST jump resolves to the instant after the gap;
                    // an earlier-than-asked instant (a repeated hour) is not a new run.
                    let at = tz.to_timestamp(t).ok()?;
                    if at > after {
                        return Some(at);
                    }
                    t = t.checked_add(1.minute()).ok()?;
                }
                None
            }
        }
    }
}

fn first_of_next_month(t: DateTime) -> Option<DateTime> {
    let first = t.date().first_of_month().checked_add(1.month()).ok()?;
    Some(first.to_datetime(jiff::civil::time(0, 0, 0, 0)))
}

fn parse_field(text: &str, spec: &Spec) -> Result<Field, ScheduleError> {
    let mut out = Field {
        bits: 0,
        star: false,
    };
    for part in text.split(',') {
        let f = parse_part(part, spec)?;
        out.bits |= f.bits;
        out.star |= f.star;
    }
    Ok(out)
}

fn parse_part(expr: &str, spec: &Spec) -> Result<Field, ScheduleError> {
    let bad = || ScheduleError::Field {
        field: spec.name,
        expr: expr.to_string(),
    };
    let (range, step) = match expr.split_once('/') {
        Some((r, s)) => {
            let s: u32 = s.parse().map_err(|_| bad())?;
            if s == 0 {
                return Err(bad());
            }
            (r, Some(s))
        }
        None => (expr, None),
    };
    let (low, high, mut star) = if range == "*" || range == "?" {
        (spec.min, spec.max, true)
    } else if let Some((a, b)) = range.split_once('-') {
        (value(a, spec)?, value(b, spec)?, false)
    } else {
        let v = value(range, spec)?;
        // `5/15` means "from 5 to the end, every 15".
        (v, if step.is_some() { spec.max } else { v }, false)
    };
    if low > high {
        return Err(bad());
    }
    let step = step.unwrap_or(1);
    if step > 1 {
        star = false;
    }
    let mut bits = 0u64;
    let mut v = low;
    while v <= high {
        bits |= 1u64 << v;
        v += step;
    }
    Ok(Field { bits, star })
}

fn value(text: &str, spec: &Spec) -> Result<u32, ScheduleError> {
    let lower = text.to_ascii_lowercase();
    if let Some(i) = spec.names.iter().position(|n| *n == lower) {
        return Ok(spec.min + u32::try_from(i).unwrap_or(0));
    }
    let v: u32 = text.parse().map_err(|_| ScheduleError::Field {
        field: spec.name,
        expr: text.to_string(),
    })?;
    if v < spec.min || v > spec.max {
        return Err(ScheduleError::OutOfRange {
            field: spec.name,
            value: v,
            min: spec.min,
            max: spec.max,
        });
    }
    Ok(v)
}

/// Go-style durations for `@every`: `<number><unit>` repeated, units `ms`, `s`, `m`, `h`.
fn parse_duration(text: &str) -> Option<Duration> {
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u32 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else if rest.starts_with('s') {
            (Duration::from_secs(1), 1)
        } else if rest.starts_with('m') {
            (Duration::from_secs(60), 1)
        } else if rest.starts_with('h') {
            (Duration::from_secs(3600), 1)
        } else {
            return None;
        };
        total = total.checked_add(unit.checked_mul(n)?)?;
        rest = &rest[len..];
    }
    Some(total)
}

/// The zone a CronJob's `timeZone` names; `None` means `local`. UTC spellings never need the
/// time zone database; other names come from the system's (an error when it lacks them).
pub fn zone(name: Option<&str>, local: &TimeZone) -> Result<TimeZone, ZoneError> {
    match name {
        None => Ok(local.clone()),
        Some("UTC" | "Etc/UTC" | "Etc/UCT" | "UCT" | "Etc/Zulu" | "Zulu" | "Etc/GMT" | "GMT") => {
            Ok(TimeZone::UTC)
        }
        Some(n) if n.is_empty() || n == "Local" || n.starts_with('/') || n.contains("..") => {
            Err(ZoneError(n.to_string()))
        }
        Some(n) => TimeZone::get(n).map_err(|_| ZoneError(n.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn next(sched: &str, after: &str) -> String {
        Schedule::parse(sched)
            .unwrap()
            .next_after(ts(after), &TimeZone::UTC)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn every_minute_fires_at_the_next_whole_minute() {
        assert_eq!(
            next("* * * * *", "2024-03-01T10:00:00Z"),
            "2024-03-01T10:01:00Z"
        );
        assert_eq!(
            next("* * * * *", "2024-03-01T10:00:59.9Z"),
            "2024-03-01T10:01:00Z"
        );
    }

    #[test]
    fn steps_ranges_lists_and_names_are_understood() {
        assert_eq!(
            next("*/15 * * * *", "2024-03-01T10:16:00Z"),
            "2024-03-01T10:30:00Z"
        );
        assert_eq!(
            next("5/20 * * * *", "2024-03-01T10:46:00Z"),
            "2024-03-01T11:05:00Z"
        );
        assert_eq!(
            next("0 9-17/4 * * *", "2024-03-01T13:00:00Z"),
            "2024-03-01T17:00:00Z"
        );
        assert_eq!(
            next("30 6 * * MON,wed", "2024-03-01T00:00:00Z"),
            "2024-03-04T06:30:00Z"
        );
        assert_eq!(
            next("0 0 1 jan-feb *", "2024-03-01T00:00:00Z"),
            "2025-01-01T00:00:00Z"
        );
    }

    #[test]
    fn restricted_day_fields_combine_with_or_and_a_star_makes_them_combine_with_and() {
        // 2024-03-01 is a Friday: the 15th or any Monday, whichever comes first.
        assert_eq!(
            next("0 0 15 * 1", "2024-03-01T00:00:00Z"),
            "2024-03-04T00:00:00Z"
        );
        assert_eq!(
            next("0 0 15 * *", "2024-03-01T00:00:00Z"),
            "2024-03-15T00:00:00Z"
        );
        assert_eq!(
            next("0 0 * * 1", "2024-03-01T00:00:00Z"),
            "2024-03-04T00:00:00Z"
        );
        // `*/3` in the day-of-week field (Sun, Wed, Sat) is a restriction, so the fields
        // combine with OR: Saturday the 2nd comes before the 31st.
        assert_eq!(
            next("0 0 31 * */3", "2024-03-01T00:00:00Z"),
            "2024-03-02T00:00:00Z"
        );
    }

    #[test]
    fn descriptors_expand_to_their_fields() {
        assert_eq!(
            next("@hourly", "2024-03-01T10:00:00Z"),
            "2024-03-01T11:00:00Z"
        );
        assert_eq!(
            next("@daily", "2024-03-01T10:00:00Z"),
            "2024-03-02T00:00:00Z"
        );
        assert_eq!(
            next("@weekly", "2024-03-01T10:00:00Z"),
            "2024-03-03T00:00:00Z"
        );
        assert_eq!(
            next("@monthly", "2024-12-31T10:00:00Z"),
            "2025-01-01T00:00:00Z"
        );
        assert_eq!(
            next("@yearly", "2024-03-01T10:00:00Z"),
            "2025-01-01T00:00:00Z"
        );
        assert_eq!(
            next("@every 90m", "2024-03-01T10:00:00.5Z"),
            "2024-03-01T11:30:00Z"
        );
    }

    #[test]
    fn leap_day_schedules_skip_to_the_next_leap_year() {
        assert_eq!(
            next("0 0 29 2 *", "2024-03-01T00:00:00Z"),
            "2028-02-29T00:00:00Z"
        );
    }

    #[test]
    fn an_impossible_date_never_fires() {
        let s = Schedule::parse("0 0 30 2 *").unwrap();
        assert_eq!(
            s.next_after(ts("2024-01-01T00:00:00Z"), &TimeZone::UTC),
            None
        );
    }

    #[test]
    fn a_fixed_offset_zone_shifts_the_wall_clock() {
        let s = Schedule::parse("0 9 * * *").unwrap();
        let tz = TimeZone::fixed(jiff::tz::offset(-5));
        assert_eq!(
            s.next_after(ts("2024-03-01T12:00:00Z"), &tz).unwrap(),
            ts("2024-03-01T14:00:00Z")
        );
    }

    #[test]
    fn malformed_schedules_are_rejected_with_the_reason() {
        assert_eq!(Schedule::parse(""), Err(ScheduleError::Empty));
        assert_eq!(
            Schedule::parse("* * * *"),
            Err(ScheduleError::FieldCount(4))
        );
        assert_eq!(
            Schedule::parse("* * * * * *"),
            Err(ScheduleError::FieldCount(6))
        );
        assert!(matches!(
            Schedule::parse("60 * * * *"),
            Err(ScheduleError::OutOfRange { value: 60, .. })
        ));
        assert!(matches!(
            Schedule::parse("* * 0 * *"),
            Err(ScheduleError::OutOfRange { .. })
        ));
        assert!(matches!(
            Schedule::parse("* * * * 7"),
            Err(ScheduleError::OutOfRange { .. })
        ));
        assert!(matches!(
            Schedule::parse("*/0 * * * *"),
            Err(ScheduleError::Field { .. })
        ));
        assert!(matches!(
            Schedule::parse("5-1 * * * *"),
            Err(ScheduleError::Field { .. })
        ));
        assert!(matches!(
            Schedule::parse("a * * * *"),
            Err(ScheduleError::Field { .. })
        ));
        assert!(matches!(
            Schedule::parse("*/99999999999 * * * *"),
            Err(ScheduleError::Field { .. })
        ));
        assert_eq!(
            Schedule::parse("@fortnightly"),
            Err(ScheduleError::Descriptor("@fortnightly".into()))
        );
        assert!(matches!(
            Schedule::parse("@every soon"),
            Err(ScheduleError::Every(_))
        ));
        assert_eq!(
            Schedule::parse("CRON_TZ=UTC * * * * *"),
            Err(ScheduleError::TzPrefix)
        );
    }

    #[test]
    fn utc_spellings_resolve_without_a_database_and_hostile_names_do_not() {
        let local = TimeZone::fixed(jiff::tz::offset(3));
        assert_eq!(zone(Some("Etc/UTC"), &local).unwrap(), TimeZone::UTC);
        assert_eq!(zone(None, &local).unwrap(), local);
        for bad in [
            "",
            "Local",
            "/etc/passwd",
            "../../etc/passwd",
            "Mars/Olympus_Mons",
        ] {
            assert_eq!(zone(Some(bad), &local), Err(ZoneError(bad.into())));
        }
    }
}
