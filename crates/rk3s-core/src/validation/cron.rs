//! Cron schedule syntax as upstream's CronJob validation accepts it: five fields or a
//! descriptor (`@hourly`, `@every 1h`), with `TZ=`/`CRON_TZ=` prefixes rejected.

const DESCRIPTORS: &[&str] = &[
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];
const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Checks a schedule; the error is upstream's detail text.
pub(super) fn validate_schedule(schedule: &str, has_time_zone: bool) -> Result<(), String> {
    if schedule.contains("TZ") {
        return Err(if has_time_zone {
            "cannot use both timeZone field and TZ or CRON_TZ in schedule".to_string()
        } else {
            "cannot use TZ or CRON_TZ in schedule, use timeZone field instead".to_string()
        });
    }
    if let Some(rest) = schedule.strip_prefix('@') {
        if let Some(dur) = rest.strip_prefix("every ") {
            return parse_go_duration(dur.trim()).map(|_| ()).ok_or_else(|| {
                format!(
                    "failed to parse duration {schedule}: time: invalid duration {}",
                    super::fmt::go_quote(dur.trim())
                )
            });
        }
        return if DESCRIPTORS.contains(&schedule) {
            Ok(())
        } else {
            Err(format!("unrecognized descriptor: {schedule}"))
        };
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    let bounds: [(u32, u32, &[&str]); 5] = [
        (0, 59, &[]),
        (0, 23, &[]),
        (1, 31, &[]),
        (1, 12, MONTHS),
        (0, 6, DAYS),
    ];
    for (i, (field, (min, max, names))) in fields.iter().zip(bounds).enumerate() {
        let optional = i == 2 || i == 4;
        for part in field.split(',') {
            parse_range(part, min, max, names, optional)?;
        }
    }
    Ok(())
}

fn parse_range(
    expr: &str,
    min: u32,
    max: u32,
    names: &[&str],
    question_ok: bool,
) -> Result<(), String> {
    let (range, step) = match expr.split_once('/') {
        Some((r, s)) => {
            if s.contains('/') {
                return Err(format!("too many slashes: {expr}"));
            }
            (r, Some(s))
        }
        None => (expr, None),
    };
    let (start, end) = if range == "*" || (question_ok && range == "?") {
        (min, max)
    } else {
        let mut bounds = range.split('-');
        let lo = bounds.next().unwrap_or_default();
        let hi = bounds.next();
        if bounds.next().is_some() {
            return Err(format!("too many hyphens: {expr}"));
        }
        let lo = parse_value(lo, names)?;
        let hi = match hi {
            Some(h) => parse_value(h, names)?,
            None => lo,
        };
        (lo, hi)
    };
    if let Some(step) = step {
        let n = parse_int(step)?;
        if n == 0 {
            return Err(format!("step of range should be a positive number: {expr}"));
        }
    }
    if start < min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({min}): {expr}"
        ));
    }
    if end > max {
        return Err(format!(
            "end of range ({end}) above maximum ({max}): {expr}"
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    Ok(())
}

fn parse_value(s: &str, names: &[&str]) -> Result<u32, String> {
    let lower = s.to_ascii_lowercase();
    if let Some(i) = names.iter().position(|n| *n == lower) {
        // Months count from 1, weekdays from 0.
        let base = if names.len() == 12 { 1 } else { 0 };
        return Ok(i as u32 + base);
    }
    parse_int(s)
}

fn parse_int(s: &str) -> Result<u32, String> {
    if let Some(rest) = s.strip_prefix('-')
        && rest.parse::<u32>().is_ok()
    {
        return Err(format!("negative number ({s}) not allowed: {s}"));
    }
    s.parse::<u32>().map_err(|_| {
        format!(
            "failed to parse int from {s}: strconv.Atoi: parsing {}: invalid syntax",
            super::fmt::go_quote(s)
        )
    })
}

/// Go's `time.ParseDuration` shape: `1h30m`, `90s`, `1.5h`.
fn parse_go_duration(s: &str) -> Option<()> {
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        if num_len == 0 {
            return None;
        }
        rest = &rest[num_len..];
        let unit = ["ns", "us", "µs", "ms", "s", "m", "h"]
            .iter()
            .filter(|u| rest.starts_with(**u))
            .max_by_key(|u| u.len())?;
        rest = &rest[unit.len()..];
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_field_schedules_and_descriptors_are_accepted() {
        for s in [
            "*/5 * * * *",
            "0 0 * * 0",
            "0 12 1-15 jan-jun mon,fri",
            "0 0 ? * *",
            "@hourly",
            "@every 1h30m",
            "15 3 * * SUN",
        ] {
            assert_eq!(validate_schedule(s, false), Ok(()), "{s}");
        }
    }

    #[test]
    fn malformed_schedules_get_upstream_messages() {
        assert_eq!(
            validate_schedule("bad", false).unwrap_err(),
            "expected exactly 5 fields, found 1: [bad]"
        );
        assert_eq!(
            validate_schedule("60 * * * *", false).unwrap_err(),
            "end of range (60) above maximum (59): 60"
        );
        assert_eq!(
            validate_schedule("* * 0 * *", false).unwrap_err(),
            "beginning of range (0) below minimum (1): 0"
        );
        assert_eq!(
            validate_schedule("*/0 * * * *", false).unwrap_err(),
            "step of range should be a positive number: */0"
        );
        assert_eq!(
            validate_schedule("@fortnightly", false).unwrap_err(),
            "unrecognized descriptor: @fortnightly"
        );
        assert_eq!(
            validate_schedule("5-1 * * * *", false).unwrap_err(),
            "beginning of range (5) beyond end of range (1): 5-1"
        );
        assert_eq!(
            validate_schedule("1-2-3 * * * *", false).unwrap_err(),
            "too many hyphens: 1-2-3"
        );
        assert!(validate_schedule("@every x", false).is_err());
        assert!(validate_schedule("? * * * *", false).is_err());
    }

    #[test]
    fn time_zone_prefixes_are_rejected_in_favour_of_the_field() {
        assert_eq!(
            validate_schedule("TZ=UTC 0 * * * *", false).unwrap_err(),
            "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
        );
        assert_eq!(
            validate_schedule("CRON_TZ=UTC 0 * * * *", true).unwrap_err(),
            "cannot use both timeZone field and TZ or CRON_TZ in schedule"
        );
    }
}
