//! Rule 10: refresh tokens move forward. The operator remembers fingerprints (never tokens) of
//! the refresh tokens it rotated away; finding one of them back in the Secret means something
//! (a secret manager, a GitOps tool) restored an old value, which would otherwise die silently.

use super::finding::{Finding, reasons};

/// How many rotated-away fingerprints are worth keeping: a restore brings back a recent value.
pub const DEFAULT_HISTORY: usize = 16;

/// `RefreshTokenReverted` when the Secret's current token is one the operator rotated away.
pub fn check_refresh_token(secret_name: &str, current_fingerprint: &str, rotated_away: &[String]) -> Option<Finding> {
    let position = rotated_away.iter().rev().position(|f| f == current_fingerprint)?;
    Some(Finding::new(
        reasons::REFRESH_TOKEN_REVERTED,
        format!(
            "key refreshToken of Secret '{secret_name}' holds a refresh token the operator already \
             rotated away ({} rotation{} ago); something restored an old value (a secret manager or \
             GitOps tool?). Stop that source from writing refreshToken (the operator writes the \
             rotated token back), then run the consent flow again if Partner Center rejects the token",
            position + 1,
            if position == 0 { "" } else { "s" }
        ),
    ))
}

/// Record that the token with `fingerprint` was rotated away, keeping the newest `keep` entries
/// (oldest first).
pub fn remember_rotated_away(history: &mut Vec<String>, fingerprint: String, keep: usize) {
    history.retain(|f| f != &fingerprint);
    history.push(fingerprint);
    if history.len() > keep {
        let excess = history.len() - keep;
        history.drain(..excess);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reverted_only_when_current_was_rotated_away() {
        let history = h(&["f1", "f2", "f3"]);
        let cases: &[(&str, Option<&str>)] = &[
            ("f4", None),
            ("f3", Some("(1 rotation ago)")),
            ("f1", Some("(3 rotations ago)")),
        ];
        for (current, expected) in cases {
            let got = check_refresh_token("pc-creds", current, &history);
            match expected {
                None => assert_eq!(got, None, "{current}"),
                Some(text) => {
                    let f = got.expect(current);
                    assert_eq!(f.reason, "RefreshTokenReverted");
                    assert!(f.message.contains(text), "{}", f.message);
                    assert!(f.message.contains("Secret 'pc-creds'"));
                    assert!(!f.message.contains(current), "fingerprints stay out of messages");
                }
            }
        }
        assert_eq!(check_refresh_token("s", "f1", &[]), None);
    }

    #[test]
    fn history_is_bounded_and_deduplicated() {
        let mut history = Vec::new();
        for f in ["a", "b", "c", "b", "d"] {
            remember_rotated_away(&mut history, f.to_string(), 3);
        }
        assert_eq!(history, h(&["c", "b", "d"]));
    }
}
