//! A/B in one run: the same workload on two daemons that differ in one
//! thing, in alternating rounds (which goes first alternates too, so a
//! drifting machine favours neither), read as the ratio of the medians —
//! which holds on a noisy machine where absolute figures do not.

/// Rounds of A and of B, and what they say.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Compared {
    /// A's figure per round.
    pub a: Vec<f64>,
    /// B's figure per round.
    pub b: Vec<f64>,
    /// Median of A ÷ median of B.
    pub ratio: f64,
    /// Each round's A ÷ the B beside it: smallest and largest.
    pub pair_ratios: (f64, f64),
}

/// The middle value (the mean of the two middle ones for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Runs `rounds` rounds of `round(true)` (A) and `round(false)` (B),
/// alternating which goes first.
pub async fn alternate(
    rounds: usize,
    mut round: impl AsyncFnMut(bool) -> anyhow::Result<f64>,
) -> anyhow::Result<Compared> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for index in 0..rounds {
        for first_a in [index % 2 == 0, index % 2 != 0] {
            let figure = round(first_a).await?;
            if first_a {
                a.push(figure);
            } else {
                b.push(figure);
            }
        }
    }
    Ok(compare(a, b))
}

/// What rounds `a` and `b` say.
pub fn compare(a: Vec<f64>, b: Vec<f64>) -> Compared {
    let pairs: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x / y).collect();
    Compared {
        ratio: median(&a) / median(&b),
        pair_ratios: (
            pairs.iter().copied().fold(f64::INFINITY, f64::min),
            pairs.iter().copied().fold(0.0, f64::max),
        ),
        a,
        b,
    }
}

/// Rounds as text: `746 722 714`.
pub fn rounds(values: &[f64]) -> String {
    values
        .iter()
        .map(|r| format!("{r:.0}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&[]), 0.0);
    }

    #[tokio::test]
    async fn rounds_alternate_which_goes_first_and_pair_up() {
        let mut order = Vec::new();
        let mut n = 0.0;
        let compared = alternate(3, async |a| {
            order.push(a);
            n += 1.0;
            Ok(if a { 2.0 * n } else { n })
        })
        .await
        .expect("rounds");
        assert_eq!(order, [true, false, false, true, true, false]);
        assert_eq!(compared.a, [2.0, 8.0, 10.0]);
        assert_eq!(compared.b, [2.0, 3.0, 6.0]);
        assert_eq!(compared.ratio, 8.0 / 3.0);
        assert_eq!(compared.pair_ratios, (1.0, 8.0 / 3.0));
    }
}
