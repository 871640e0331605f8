//! Durations kept as counts per bucket, so that a period's percentiles are
//! the sum of its days' histograms.
//!
//! # The percentile method (documented for the reports)
//!
//! Values are whole seconds, kept to the second below 10 minutes, to 10 s
//! below 2 hours, to the minute below 48 hours and to the hour beyond. The
//! p-th percentile is the **nearest rank**: the smallest recorded value such
//! that at least p % of the values are at or below it (rank ⌈p/100 · n⌉,
//! counting from 1). From buckets, it is reported as the *upper* edge of the
//! bucket holding that rank — a percentile is never reported lower than the
//! true one — and never above the largest value recorded, which is kept
//! exactly, as are the count and the sum (for the mean).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bucket layout: (first value, bucket width) from small to large.
const BANDS: [(u64, u64); 4] = [(0, 1), (600, 10), (7_200, 60), (172_800, 3_600)];

/// Counts of durations (seconds) per bucket, with their count, sum and
/// maximum.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    /// Bucket index → how many values fell in it.
    buckets: BTreeMap<u32, u64>,
    count: u64,
    sum: u64,
    max: u64,
}

/// Which bucket holds `secs`.
fn bucket(secs: u64) -> u32 {
    let mut index = 0u64;
    for (band, (start, width)) in BANDS.iter().enumerate() {
        let end = BANDS.get(band + 1).map_or(u64::MAX, |(next, _)| *next);
        if secs < end {
            return u32::try_from(index + (secs - start) / width).unwrap_or(u32::MAX);
        }
        index += (end - start) / width;
    }
    u32::MAX
}

/// The largest value bucket `index` holds.
fn upper_edge(index: u32) -> u64 {
    let mut first = 0u64;
    for (band, (start, width)) in BANDS.iter().enumerate() {
        let end = BANDS.get(band + 1).map_or(u64::MAX, |(next, _)| *next);
        let buckets = (end - start) / width;
        let index = u64::from(index);
        if index < first + buckets {
            return start
                .saturating_add((index - first).saturating_add(1).saturating_mul(*width))
                .saturating_sub(1);
        }
        first += buckets;
    }
    u64::MAX
}

impl Histogram {
    /// Records one duration.
    pub fn record(&mut self, secs: u64) {
        *self.buckets.entry(bucket(secs)).or_default() += 1;
        self.count += 1;
        self.sum = self.sum.saturating_add(secs);
        self.max = self.max.max(secs);
    }

    /// Adds every value of `other` (another day, post or category).
    pub fn merge(&mut self, other: &Histogram) {
        for (index, count) in &other.buckets {
            *self.buckets.entry(*index).or_default() += count;
        }
        self.count += other.count;
        self.sum = self.sum.saturating_add(other.sum);
        self.max = self.max.max(other.max);
    }

    /// How many values.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The largest value (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The mean, in seconds, when there are values.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// The `p`-th percentile (0 < p ≤ 100) by the method in the module
    /// docs; `None` when empty.
    pub fn percentile(&self, p: f64) -> Option<u64> {
        if self.count == 0 || !(p > 0.0 && p <= 100.0) {
            return None;
        }
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (index, count) in &self.buckets {
            seen += count;
            if seen >= rank {
                return Some(upper_edge(*index).min(self.max));
            }
        }
        Some(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_keep_seconds_then_coarsen_and_edges_contain_their_values() {
        for secs in [
            0, 1, 59, 599, 600, 609, 610, 7_199, 7_200, 7_259, 7_260, 172_799, 172_800, 999_999,
        ] {
            let index = bucket(secs);
            assert!(
                upper_edge(index) >= secs,
                "{secs}: edge {}",
                upper_edge(index)
            );
            if index > 0 {
                assert!(
                    upper_edge(index - 1) < secs,
                    "{secs} is in the bucket after"
                );
            }
        }
        assert_eq!(upper_edge(bucket(42)), 42);
        assert_eq!(upper_edge(bucket(615)), 619);
        assert_eq!(upper_edge(bucket(7_300)), 7_319);
        assert_eq!(upper_edge(bucket(200_000)), 201_599);
    }

    /// Worked by hand: ten values, sorted 30 45 60 90 120 300 610 615 7300
    /// 200000. p50 is rank 5 (120, kept to the second); p90 rank 9 (7300, in
    /// the minute bucket 7260–7319: reported 7319); p95 rank ⌈9.5⌉ = 10
    /// (200000, in the hour bucket up to 201599, capped at the maximum).
    #[test]
    fn percentiles_are_nearest_rank_reported_at_the_bucket_top() {
        let mut h = Histogram::default();
        for secs in [615, 30, 200_000, 90, 45, 7_300, 120, 60, 610, 300] {
            h.record(secs);
        }
        assert_eq!(h.count(), 10);
        assert_eq!(h.percentile(50.0), Some(120));
        assert_eq!(h.percentile(60.0), Some(300));
        assert_eq!(h.percentile(70.0), Some(619), "610 and 615 share 610–619");
        assert_eq!(h.percentile(90.0), Some(7_319));
        assert_eq!(h.percentile(95.0), Some(200_000));
        assert_eq!(h.percentile(100.0), Some(200_000));
        assert_eq!(h.percentile(1.0), Some(30), "rank 1 at least");
        assert_eq!(h.max(), 200_000);
        assert_eq!(h.mean(), Some(20_917.0));
        assert_eq!(h.percentile(0.0), None);
        assert_eq!(Histogram::default().percentile(50.0), None);
    }

    #[test]
    fn a_period_is_the_sum_of_its_days() {
        let (mut monday, mut tuesday, mut both) = (
            Histogram::default(),
            Histogram::default(),
            Histogram::default(),
        );
        for secs in [10, 20, 30] {
            monday.record(secs);
            both.record(secs);
        }
        for secs in [40, 5_000] {
            tuesday.record(secs);
            both.record(secs);
        }
        let mut week = monday.clone();
        week.merge(&tuesday);
        assert_eq!(week, both);
        assert_eq!(week.percentile(50.0), Some(30));
        // Kept as JSON in the store: it reads back the same.
        let json = serde_json::to_string(&week).expect("encode");
        assert_eq!(
            serde_json::from_str::<Histogram>(&json).expect("decode"),
            week
        );
    }
}
