//! A connection's credentials Secret: read by name in the connection's own namespace (never listed or
//! watched), and the write-back of rotated refresh tokens with a fingerprint history (rule 10).
//! Fingerprints are truncated SHA-256 digests: enough to recognise a token again, useless to use it.

use crate::partner_center::auth::RefreshTokenSink;
use crate::partner_center::config::Credentials;
use crate::policy::refresh_token::{DEFAULT_HISTORY, remember_rotated_away};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use secrecy::{ExposeSecret, SecretString};
use std::sync::{Arc, Mutex};

/// Annotation on the Secret listing fingerprints of refresh tokens the operator rotated away (oldest first).
pub const ROTATED_AWAY_ANNOTATION: &str = "channel.csp.dev/rotated-away-refresh-tokens";
/// Annotation on the Secret: when the operator last stored a rotated refresh token (RFC 3339).
pub const ROTATED_AT_ANNOTATION: &str = "channel.csp.dev/refresh-token-rotated-at";

pub fn fingerprint(value: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(value.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// What the reconciler needs from the Secret.
pub struct SecretCredentials {
    pub credentials: Credentials,
    /// Fingerprint of clientId + clientSecret + refreshToken: a change means new credentials.
    pub fingerprint: String,
    pub refresh_token_fingerprint: Option<String>,
    pub rotated_away: Vec<String>,
    pub rotated_at: Option<jiff::Timestamp>,
}

/// Why the Secret cannot be used; `reason` is the condition reason, the message names the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretProblem {
    pub reason: &'static str,
    pub message: String,
}

fn key(secret: &Secret, name: &str) -> Option<String> {
    let from_data = secret
        .data
        .as_ref()
        .and_then(|d| d.get(name))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned());
    let from_string = secret.string_data.as_ref().and_then(|d| d.get(name)).cloned();
    from_data
        .or(from_string)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Reads the credentials out of `secret` for `auth_mode`, naming any missing key.
pub fn parse_secret(secret: &Secret, app_plus_user: bool) -> Result<SecretCredentials, SecretProblem> {
    let name = secret.metadata.name.clone().unwrap_or_default();
    let client_id = key(secret, "clientId");
    let client_secret = key(secret, "clientSecret");
    let refresh_token = app_plus_user.then(|| key(secret, "refreshToken"));
    // Every missing key at once: fixing them one sync at a time is slow.
    let mut missing = Vec::new();
    for (k, v) in [
        ("clientId", client_id.is_some()),
        ("clientSecret", client_secret.is_some()),
        ("refreshToken", refresh_token.as_ref().is_none_or(Option::is_some)),
    ] {
        if !v {
            missing.push(format!("'{k}'"));
        }
    }
    let keys = if app_plus_user {
        "clientId, clientSecret, refreshToken"
    } else {
        "clientId, clientSecret"
    };
    let (Some(client_id), Some(client_secret), true) = (client_id, client_secret, missing.is_empty()) else {
        let message = match missing.as_slice() {
            [one] => format!("Secret '{name}' has no key {one}: add it (keys: {keys})"),
            many => format!(
                "Secret '{name}' has no keys {}: add them (keys: {keys})",
                many.join(", ")
            ),
        };
        return Err(SecretProblem {
            reason: "SecretInvalid",
            message,
        });
    };
    let refresh_token = refresh_token.flatten();
    let annotations = secret.metadata.annotations.clone().unwrap_or_default();
    let rotated_away = annotations
        .get(ROTATED_AWAY_ANNOTATION)
        .map(|v| v.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    let rotated_at = annotations.get(ROTATED_AT_ANNOTATION).and_then(|v| v.parse().ok());
    Ok(SecretCredentials {
        fingerprint: fingerprint(&format!(
            "{client_id}\n{client_secret}\n{}",
            refresh_token.as_deref().unwrap_or("")
        )),
        refresh_token_fingerprint: refresh_token.as_deref().map(fingerprint),
        credentials: Credentials {
            client_id,
            client_secret: SecretString::from(client_secret),
            refresh_token: refresh_token.map(SecretString::from),
        },
        rotated_away,
        rotated_at,
    })
}

/// Reads the Secret by name in the connection's namespace.
pub async fn read_secret(client: &kube::Client, namespace: &str, name: &str) -> Result<Option<Secret>, kube::Error> {
    Api::<Secret>::namespaced(client.clone(), namespace).get_opt(name).await
}

/// Persists rotated refresh tokens to the connection's Secret before the client uses them.
pub struct SecretRefreshTokenSink {
    client: kube::Client,
    namespace: String,
    name: String,
    /// Fingerprint of the token currently in the Secret (the one being rotated away) and the history.
    state: Mutex<SinkState>,
    /// Called after a successful write with the new refresh token's fingerprint, so the reconciler
    /// recognises its own write and keeps the cached client.
    on_persisted: Arc<dyn Fn(String) + Send + Sync>,
}

struct SinkState {
    current: Option<String>,
    history: Vec<String>,
}

impl SecretRefreshTokenSink {
    pub fn new(
        client: kube::Client,
        namespace: String,
        name: String,
        creds: &SecretCredentials,
        on_persisted: Arc<dyn Fn(String) + Send + Sync>,
    ) -> Self {
        let state = SinkState {
            current: creds.refresh_token_fingerprint.clone(),
            history: creds.rotated_away.clone(),
        };
        Self {
            client,
            namespace,
            name,
            state: Mutex::new(state),
            on_persisted,
        }
    }
}

#[async_trait::async_trait]
impl RefreshTokenSink for SecretRefreshTokenSink {
    async fn persist(&self, new_refresh_token: &SecretString) -> Result<(), String> {
        let new_fp = fingerprint(new_refresh_token.expose_secret());
        let history = {
            let state = self.state.lock().expect("sink state");
            let mut history = state.history.clone();
            if let Some(old) = &state.current {
                remember_rotated_away(&mut history, old.clone(), DEFAULT_HISTORY);
            }
            history
        };
        let patch = serde_json::json!({
            "metadata": {"annotations": {
                ROTATED_AWAY_ANNOTATION: history.join(","),
                ROTATED_AT_ANNOTATION: jiff::Timestamp::now().to_string(),
            }},
            "data": {"refreshToken": ByteString(new_refresh_token.expose_secret().as_bytes().to_vec())},
        });
        Api::<Secret>::namespaced(self.client.clone(), &self.namespace)
            .patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            // The kube error names the Secret and the HTTP status, never the body we sent.
            .map_err(|e| {
                format!(
                    "writing the rotated refresh token to Secret {}/{}: {}",
                    self.namespace,
                    self.name,
                    redact(&e)
                )
            })?;
        {
            let mut state = self.state.lock().expect("sink state");
            state.history = history;
            state.current = Some(new_fp.clone());
        }
        (self.on_persisted)(new_fp);
        Ok(())
    }
}

fn redact(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({})", s.reason, s.code),
        _ => "request failed".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn secret(pairs: &[(&str, &str)], annotations: &[(&str, &str)]) -> Secret {
        let mut s = Secret::default();
        s.metadata.name = Some("creds".into());
        s.metadata.annotations = Some(
            annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        s.data = Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect::<BTreeMap<_, _>>(),
        );
        s
    }

    /// (Secret data, AppPlusUser, expected refusal)
    type Case<'a> = (&'a [(&'a str, &'a str)], bool, Option<&'a str>);

    #[test]
    fn missing_keys_are_named_with_the_fix() {
        let cases: &[Case] = &[
            (
                &[("clientId", "a"), ("clientSecret", "b"), ("refreshToken", "c")],
                true,
                None,
            ),
            (&[("clientId", "a"), ("clientSecret", "b")], false, None),
            (
                &[("clientId", "a"), ("clientSecret", "b")],
                true,
                Some("no key 'refreshToken'"),
            ),
            (
                &[("clientSecret", "b"), ("refreshToken", "c")],
                true,
                Some("no key 'clientId'"),
            ),
            (
                &[("clientId", "a"), ("clientSecret", "  "), ("refreshToken", "c")],
                true,
                Some("no key 'clientSecret'"),
            ),
            (
                &[("clientSecret", "b")],
                true,
                Some("has no keys 'clientId', 'refreshToken': add them (keys: clientId, clientSecret, refreshToken)"),
            ),
            (
                &[],
                false,
                Some("has no keys 'clientId', 'clientSecret': add them (keys: clientId, clientSecret)"),
            ),
        ];
        for (pairs, app_plus_user, want) in cases {
            let got = parse_secret(&secret(pairs, &[]), *app_plus_user);
            match (got, want) {
                (Ok(_), None) => {}
                (Err(p), Some(w)) => {
                    assert_eq!(p.reason, "SecretInvalid");
                    assert!(p.message.contains(w), "{}", p.message);
                }
                (Ok(_), Some(w)) => panic!("expected {w}"),
                (Err(p), None) => panic!("unexpected {p:?}"),
            }
        }
    }

    #[test]
    fn fingerprints_identify_tokens_without_revealing_them() {
        let s = secret(
            &[("clientId", "a"), ("clientSecret", "b"), ("refreshToken", "rt-1")],
            &[(ROTATED_AWAY_ANNOTATION, "x,y")],
        );
        let c = parse_secret(&s, true).unwrap();
        assert_eq!(
            c.refresh_token_fingerprint.as_deref(),
            Some(fingerprint("rt-1").as_str())
        );
        assert_ne!(fingerprint("rt-1"), fingerprint("rt-2"));
        assert!(!fingerprint("rt-1").contains("rt-1"));
        assert_eq!(c.rotated_away, vec!["x".to_string(), "y".to_string()]);
        assert!(!format!("{:?}", c.credentials).contains("rt-1"));
    }
}
