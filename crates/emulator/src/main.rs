//! `partner-center-emulator`: the Partner Center + Entra ID emulator as a process (local development,
//! the demo, the chart's development emulator). Serves until Ctrl-C / SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use partner_center_emulator::TlsSource;

#[derive(Parser)]
#[command(
    name = "partner-center-emulator",
    version,
    about = "Microsoft Partner Center + Entra ID emulator for tests, the demo and local development"
)]
struct Args {
    /// Fixtures YAML (partners, credentials, customers, resellers).
    #[arg(long, env = "PCO_EMULATOR_FIXTURES")]
    fixtures: PathBuf,
    #[arg(long, env = "PCO_EMULATOR_LISTEN", default_value = "127.0.0.1:8085")]
    listen: SocketAddr,
    /// Serve https with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(
        long,
        env = "PCO_EMULATOR_TLS_CERT",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "PCO_EMULATOR_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve https with a generated certificate; writes ca.pem (for clients to trust), tls.crt and
    /// tls.key into this directory.
    #[arg(long, env = "PCO_EMULATOR_TLS_SELF_SIGNED")]
    tls_self_signed: Option<PathBuf>,
    /// Extra DNS name or IP address for the generated certificate (localhost, 127.0.0.1 and ::1 are
    /// always in it); repeatable.
    #[arg(long = "tls-host", requires = "tls_self_signed")]
    tls_hosts: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_target(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .init();
    let tls = match (args.tls_cert, args.tls_key, args.tls_self_signed) {
        (Some(cert), Some(key), _) => Some(TlsSource::Files { cert, key }),
        (_, _, Some(dir)) => Some(TlsSource::SelfSigned {
            dir,
            hosts: args.tls_hosts,
        }),
        _ => None,
    };
    partner_center_emulator::serve_forever(&args.fixtures, args.listen, tls).await
}
