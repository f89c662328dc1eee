//! One TLS crypto provider (ring) for the whole process: kube and reqwest both use rustls, and
//! building aws-lc as well would double build time for nothing.

/// Installs ring as the process-wide rustls provider. Idempotent; call before building any client.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
