//! `partner-center-emulator`: the Partner Center + Entra ID emulator as a process (local development,
//! the demo, the chart's development emulator). Serves until Ctrl-C / SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_target(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .init();
    partner_center_emulator::serve_forever(&args.fixtures, args.listen).await
}
