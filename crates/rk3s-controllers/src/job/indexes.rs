//! Sets of completion indexes kept as merged ranges, printed and parsed in the
//! `status.completedIndexes` form (`"0-2,4,7-9"`). Ranges keep huge `completions` cheap.

use std::fmt;

/// Sorted, non-overlapping, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexSet {
    ranges: Vec<(i32, i32)>,
}

impl IndexSet {
    /// Reads `text`, keeping only indexes in `0..limit`; malformed parts are skipped, since a
    /// status written by someone else must not stop the controller.
    pub fn parse(text: &str, limit: i32) -> IndexSet {
        let mut set = IndexSet::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a.parse::<i32>(), b.parse::<i32>()),
                None => (part.parse::<i32>(), part.parse::<i32>()),
            };
            let (Ok(a), Ok(b)) = (a, b) else { continue };
            let (a, b) = (a.max(0), b.min(limit.saturating_sub(1)));
            if a <= b {
                set.insert_range(a, b);
            }
        }
        set
    }

    pub fn insert(&mut self, i: i32) {
        self.insert_range(i, i);
    }

    fn insert_range(&mut self, a: i32, b: i32) {
        self.ranges.push((a, b));
        self.ranges.sort_unstable();
        let mut merged: Vec<(i32, i32)> = Vec::with_capacity(self.ranges.len());
        for &(lo, hi) in &self.ranges {
            match merged.last_mut() {
                Some(last) if i64::from(lo) <= i64::from(last.1) + 1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        self.ranges = merged;
    }

    pub fn contains(&self, i: i32) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= i && i <= b)
    }

    pub fn count(&self) -> i64 {
        self.ranges
            .iter()
            .map(|&(a, b)| i64::from(b) - i64::from(a) + 1)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

impl fmt::Display for IndexSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, &(a, b)) in self.ranges.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserted_indexes_merge_into_ranges() {
        let mut s = IndexSet::default();
        for i in [4, 0, 2, 1, 7, 8, 9] {
            s.insert(i);
        }
        assert_eq!(s.to_string(), "0-2,4,7-9");
        assert_eq!(s.count(), 7);
        assert!(s.contains(8) && !s.contains(3));
    }

    #[test]
    fn parsing_round_trips_and_clips_to_the_limit() {
        assert_eq!(IndexSet::parse("0-2,4,7-9", 10).to_string(), "0-2,4,7-9");
        assert_eq!(IndexSet::parse("0-2,4,7-9", 8).to_string(), "0-2,4,7");
        assert_eq!(IndexSet::parse("", 8).to_string(), "");
    }

    #[test]
    fn hostile_completed_indexes_are_skipped_or_clipped_cheaply() {
        let s = IndexSet::parse("x,-5,3-1,0-2147483647,,9-z", 5);
        assert_eq!(s.to_string(), "0-4");
        let huge = IndexSet::parse("0-2147483646", i32::MAX);
        assert_eq!(huge.count(), i64::from(i32::MAX));
    }
}
