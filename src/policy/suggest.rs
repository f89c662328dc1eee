//! "Did you mean": the closest existing name to a reference that names nothing, for messages.

/// Levenshtein distance (insertions, deletions, substitutions), on chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb)).min(row[j] + 1).min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The candidate closest to `name`, if close enough to be a typo: at most 2 edits, and fewer than
/// half of the name's length (so short names do not match everything). Ties: the first in order.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = 2.min(name.chars().count().saturating_sub(1) / 2);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` (did you mean 'x'?)` or nothing.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(name, candidates).map_or(String::new(), |c| format!(" (did you mean '{c}'?)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_suggested_and_strangers_are_not() {
        let names = ["nz-indirect-production", "eur-direct-sandbox", "contoso", "ab"];
        // (reference, suggestion)
        let cases = [
            ("nz-indirect-prodution", Some("nz-indirect-production")),
            ("nz-indirect-productoin", Some("nz-indirect-production")),
            ("eur-direct-sandbx", Some("eur-direct-sandbox")),
            ("contosso", Some("contoso")),
            ("fabrikam", None),
            ("nz-direct-production", Some("nz-indirect-production")),
            ("nz-direct-sandbox", None),
            ("ac", None),
            ("contoso", None),
        ];
        for (name, want) in cases {
            assert_eq!(closest(name, names), want, "{name}");
        }
        assert_eq!(did_you_mean("contosso", names), " (did you mean 'contoso'?)");
        assert_eq!(did_you_mean("fabrikam", names), "");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
