//! The TLS listener: Microsoft's SDKs (MSAL) refuse a plain-http authority, so the emulator can serve
//! https, with a certificate and key from files or with a certificate it generates (signed by a
//! throw-away CA that it writes out for clients to trust).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Where the listener's certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// PEM files: the certificate chain (leaf first) and its private key.
    Files { cert: PathBuf, key: PathBuf },
    /// Generate a CA and a certificate for `hosts` (plus localhost, 127.0.0.1 and ::1); write
    /// `ca.pem` (trust this), `tls.crt` and `tls.key` into `dir`.
    SelfSigned { dir: PathBuf, hosts: Vec<String> },
}

/// File name, in a [`TlsSource::SelfSigned`] directory, of the CA certificate clients trust.
pub const CA_FILE: &str = "ca.pem";

pub(crate) struct Tls {
    pub acceptor: TlsAcceptor,
    /// The CA certificate written for clients (self-signed mode).
    pub ca_file: Option<PathBuf>,
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("--tls-self-signed: cannot write {}", path.display()))
}

fn self_signed(dir: &Path, hosts: &[String]) -> anyhow::Result<(String, String, PathBuf)> {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
    std::fs::create_dir_all(dir).with_context(|| format!("--tls-self-signed: cannot create {}", dir.display()))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "partner-center-emulator CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    names.extend(hosts.iter().filter(|h| !h.is_empty()).cloned());
    let mut leaf_params = CertificateParams::new(names)
        .context("--tls-host: each host must be a DNS name or an IP address, e.g. emulator.dev.svc")?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "partner-center-emulator");
    leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate()?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca)?;
    let chain = format!("{}{}", leaf.pem(), ca.pem());
    let key = leaf_key.serialize_pem();
    let ca_file = dir.join(CA_FILE);
    write(&ca_file, &ca.pem())?;
    write(&dir.join("tls.crt"), &chain)?;
    write(&dir.join("tls.key"), &key)?;
    Ok((chain, key, ca_file))
}

pub(crate) fn load(source: &TlsSource) -> anyhow::Result<Tls> {
    let (chain_pem, key_pem, ca_file) = match source {
        TlsSource::Files { cert, key } => (
            std::fs::read_to_string(cert).with_context(|| format!("--tls-cert: cannot read {}", cert.display()))?,
            std::fs::read_to_string(key).with_context(|| format!("--tls-key: cannot read {}", key.display()))?,
            None,
        ),
        TlsSource::SelfSigned { dir, hosts } => {
            let (c, k, ca) = self_signed(dir, hosts)?;
            (c, k, Some(ca))
        }
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .context("--tls-cert: not a PEM certificate chain")?;
    anyhow::ensure!(!certs.is_empty(), "--tls-cert: the file holds no PEM CERTIFICATE block");
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .context("--tls-key: not a PEM private key (PKCS#8, PKCS#1 or SEC1)")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("--tls-cert/--tls-key: the key does not match the certificate")?;
    // The emulator's server speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_file,
    })
}
