//! Percentiles over measured durations (nearest-rank, so every figure is a real sample).

use std::time::Duration;

/// Sorted samples; empty input gives zero figures rather than a panic.
pub struct Samples {
    sorted: Vec<Duration>,
}

impl Samples {
    pub fn new(mut values: Vec<Duration>) -> Self {
        values.sort_unstable();
        Samples { sorted: values }
    }

    /// Nearest-rank percentile, `p` in 0..=100.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.sorted.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.sorted.len()) - 1;
        self.sorted[index]
    }

    pub fn median(&self) -> Duration {
        self.percentile(50.0)
    }

    pub fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or(Duration::ZERO)
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(v: &[u64]) -> Samples {
        Samples::new(v.iter().map(|&m| Duration::from_millis(m)).collect())
    }

    #[test]
    fn median_of_five_is_the_third_smallest() {
        assert_eq!(
            millis(&[50, 10, 40, 20, 30]).median(),
            Duration::from_millis(30)
        );
    }

    #[test]
    fn p99_of_a_hundred_samples_is_the_ninety_ninth() {
        let s = millis(&(1..=100).collect::<Vec<_>>());
        assert_eq!(s.percentile(99.0), Duration::from_millis(99));
        assert_eq!(s.percentile(100.0), Duration::from_millis(100));
    }

    #[test]
    fn empty_samples_give_zero_instead_of_panicking() {
        let s = millis(&[]);
        assert_eq!(s.percentile(99.0), Duration::ZERO);
        assert_eq!(s.max(), Duration::ZERO);
    }

    #[test]
    fn out_of_range_percentiles_are_clamped() {
        let s = millis(&[5, 7]);
        assert_eq!(s.percentile(-10.0), Duration::from_millis(5));
        assert_eq!(s.percentile(1000.0), Duration::from_millis(7));
    }
}
