//! Summaries of repeated measurements: median (min–max), percentiles, and
//! the formatting the suite's table uses (milliseconds, MiB).

/// A set of samples of one figure, in the figure's unit.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    values: Vec<f64>,
}

impl Samples {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_vec(values: Vec<f64>) -> Self {
        Self { values }
    }

    pub fn push(&mut self, v: f64) {
        self.values.push(v);
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.values.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The `p`-th percentile (0–100), nearest rank; NaN when empty.
    pub fn pct(&self, p: f64) -> f64 {
        let v = self.sorted();
        if v.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    }

    pub fn median(&self) -> f64 {
        let v = self.sorted();
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    pub fn min(&self) -> f64 {
        self.values.iter().copied().fold(f64::INFINITY, f64::min)
    }

    pub fn max(&self) -> f64 {
        self.values
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// `median (min–max)` with `digits` decimals and a unit suffix.
    pub fn summary(&self, digits: usize, unit: &str) -> String {
        if self.is_empty() {
            return "—".into();
        }
        format!(
            "{:.digits$} ({:.digits$}–{:.digits$}) {unit}",
            self.median(),
            self.min(),
            self.max()
        )
    }

    /// `p50 x · p99 y` with `digits` decimals.
    pub fn p50_p99(&self, digits: usize, unit: &str) -> String {
        if self.is_empty() {
            return "—".into();
        }
        format!(
            "p50 {:.digits$} · p99 {:.digits$} {unit} (n={})",
            self.pct(50.0),
            self.pct(99.0),
            self.len()
        )
    }
}

/// Kibibytes to mebibytes.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `a − b` in milliseconds, negative when `a` is earlier.
pub fn signed_ms(a: std::time::Instant, b: std::time::Instant) -> f64 {
    if a >= b { ms(a - b) } else { -ms(b - a) }
}

/// Seconds to milliseconds.
pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
