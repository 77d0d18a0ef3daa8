//! "Did you mean …?" for unknown keys: picks the closest known name by edit
//! distance, abbreviation or matching last segment.

/// The candidate closest to `unknown`, if any is close enough to be a
/// plausible typo or abbreviation of it.
pub(super) fn closest<'a>(
    unknown: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let wanted = unknown.to_ascii_lowercase();
    let wanted_leaf = leaf(&wanted);
    let threshold = (wanted.chars().count() / 3).clamp(1, 4);
    candidates
        .into_iter()
        .filter_map(|cand| {
            let distance = osa_distance(&wanted, cand);
            let rank = if distance <= threshold {
                (0, distance)
            } else if wanted_leaf.len() >= 4 && cand.starts_with(wanted.as_str()) {
                // An abbreviation: `daemon.idle_shutdown` for `…_minutes`.
                (1, cand.len() - wanted.len())
            } else if leaf(cand) == wanted_leaf {
                // The right name in the wrong table.
                (2, distance)
            } else {
                return None;
            };
            Some((rank, cand))
        })
        .min()
        .map(|(_, cand)| cand)
}

fn leaf(key: &str) -> &str {
    key.rsplit_once('.').map_or(key, |(_, l)| l)
}

/// Optimal string alignment distance: Levenshtein plus adjacent
/// transpositions, so `deamon` is one edit from `daemon`.
pub(super) fn osa_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j] = distance between a[..i] and b[..j]
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}
