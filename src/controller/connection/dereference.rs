//! Stage 1, dereference: the connection's Secret, read by name in the connection's own namespace
//! (Secrets are never listed or watched), parsed into credentials, and checked against the
//! fingerprints of refresh tokens the operator already rotated away (rule 10).

use super::sync::Failure;
use crate::api::{AuthMode, PartnerCenterConnection};
use crate::controller::credentials::{self, SecretCredentials};
use crate::policy;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use secrecy::ExposeSecret;

/// Reads the Secret of `conn`. `Ok(Err(..))` when the operator may not read it (a condition, not a
/// reconcile error); `Ok(Ok(None))` when it does not exist.
pub async fn read(
    client: &kube::Client,
    conn: &PartnerCenterConnection,
) -> Result<Result<Option<Secret>, Failure>, kube::Error> {
    let ns = conn.namespace().unwrap_or_default();
    let name = &conn.spec.auth.secret_ref.name;
    match credentials::read_secret(client, &ns, name).await {
        Ok(secret) => Ok(Ok(secret)),
        Err(kube::Error::Api(e)) if e.code == 403 => Ok(Err(forbidden(&ns, name))),
        Err(e) => Err(e),
    }
}

fn forbidden(ns: &str, name: &str) -> Failure {
    Failure::new(
        "SecretForbidden",
        format!(
            "the operator may not read Secret '{name}' in namespace '{ns}': bind the ClusterRole partner-center-operator-secrets to the operator in that namespace (see deploy/rbac/operator.yaml)"
        ),
    )
}

/// The credentials in `secret` for the connection's auth mode, or why there are none; a restored
/// refresh token the operator already rotated away is refused here too (rule 10).
pub fn credentials(conn: &PartnerCenterConnection, secret: Option<&Secret>) -> Result<SecretCredentials, Failure> {
    let app_plus_user = conn.spec.auth.mode == AuthMode::AppPlusUser;
    let name = &conn.spec.auth.secret_ref.name;
    let Some(secret) = secret else {
        return Err(Failure::new(
            "SecretNotFound",
            format!(
                "Secret '{name}' not found in namespace '{}': create it with keys clientId, clientSecret{} (see `partner-center-operator consent`)",
                conn.namespace().unwrap_or_default(),
                if app_plus_user { ", refreshToken" } else { "" }
            ),
        ));
    };
    let creds = credentials::parse_secret(secret, app_plus_user).map_err(|p| Failure::new(p.reason, p.message))?;
    if let Some(fp) = &creds.refresh_token_fingerprint
        && let Some(f) = policy::check_refresh_token(name, fp, &creds.rotated_away)
    {
        return Err(Failure::new(&f.reason, f.message));
    }
    Ok(creds)
}

/// Fingerprint of the app credentials (clientId and clientSecret): part of the sync key.
pub fn app_fingerprint(creds: &SecretCredentials) -> String {
    credentials::fingerprint(&format!(
        "{}\n{}",
        creds.credentials.client_id,
        creds.credentials.client_secret.expose_secret()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn conn(mode: &str) -> PartnerCenterConnection {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "channel.csp.dev/v1alpha1", "kind": "PartnerCenterConnection",
            "metadata": {"name": "nz", "namespace": "csp-system", "uid": "u1"},
            "spec": {
                "partnerTenantId": "22222222-2222-4222-8222-222222222222", "region": "NZ",
                "cspType": "IndirectProvider", "environment": "Production",
                "auth": {"mode": mode, "secretRef": {"name": "creds"}},
            },
        }))
        .expect("connection")
    }

    fn secret(pairs: &[(&str, &str)], rotated_away: &[&str]) -> Secret {
        let mut s = Secret::default();
        s.metadata.name = Some("creds".into());
        s.metadata.annotations = Some(
            [(
                credentials::ROTATED_AWAY_ANNOTATION.to_string(),
                rotated_away
                    .iter()
                    .map(|t| credentials::fingerprint(t))
                    .collect::<Vec<_>>()
                    .join(","),
            )]
            .into(),
        );
        s.data = Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        );
        s
    }

    const FULL: &[(&str, &str)] = &[
        ("clientId", "app"),
        ("clientSecret", "s3cret"),
        ("refreshToken", "rt-2"),
    ];

    #[test]
    fn the_secret_is_refused_with_the_reason_and_the_fix() {
        // (case, auth mode, Secret, expected reason, text the message holds)
        let cases = [
            ("usable", "AppPlusUser", Some(secret(FULL, &["rt-1"])), None, ""),
            (
                "absent (App+User)",
                "AppPlusUser",
                None,
                Some("SecretNotFound"),
                "Secret 'creds' not found in namespace 'csp-system': create it with keys clientId, clientSecret, refreshToken",
            ),
            (
                "absent (App only)",
                "AppOnly",
                None,
                Some("SecretNotFound"),
                "create it with keys clientId, clientSecret (see",
            ),
            (
                "a key missing",
                "AppPlusUser",
                Some(secret(&FULL[..2], &[])),
                Some("SecretInvalid"),
                "Secret 'creds' has no key 'refreshToken'",
            ),
            (
                "App only needs no refresh token",
                "AppOnly",
                Some(secret(&FULL[..2], &[])),
                None,
                "",
            ),
            (
                "a restored, rotated-away refresh token",
                "AppPlusUser",
                Some(secret(FULL, &["rt-1", "rt-2"])),
                Some("RefreshTokenReverted"),
                "creds",
            ),
        ];
        for (case, mode, s, reason, text) in cases {
            let got = credentials(&conn(mode), s.as_ref());
            let got_reason = got.as_ref().err().map(|f| f.reason.as_str());
            assert_eq!(got_reason, reason, "{case}");
            if let Err(f) = &got {
                assert!(f.message.contains(text), "{case}: {}", f.message);
                assert!(
                    !f.message.contains("s3cret") && !f.message.contains("rt-2"),
                    "{case}: {}",
                    f.message
                );
            }
        }
        let f = forbidden("tenant-a", "creds");
        assert_eq!(f.reason, "SecretForbidden");
        assert!(
            f.message.contains("Secret 'creds' in namespace 'tenant-a'"),
            "{}",
            f.message
        );
    }

    #[test]
    fn the_app_fingerprint_moves_with_the_app_credentials_only() {
        let fp = |pairs: &[(&str, &str)]| {
            app_fingerprint(&credentials(&conn("AppPlusUser"), Some(&secret(pairs, &[]))).unwrap())
        };
        let base = fp(FULL);
        let rotated = fp(&[
            ("clientId", "app"),
            ("clientSecret", "s3cret"),
            ("refreshToken", "rt-9"),
        ]);
        let new_secret = fp(&[("clientId", "app"), ("clientSecret", "other"), ("refreshToken", "rt-2")]);
        let new_app = fp(&[
            ("clientId", "app-2"),
            ("clientSecret", "s3cret"),
            ("refreshToken", "rt-2"),
        ]);
        assert_eq!(rotated, base, "a rotated refresh token is tracked apart");
        assert_ne!(new_secret, base);
        assert_ne!(new_app, base);
        assert!(!base.contains("s3cret"));
    }
}
