//! The operator binary: `run` (the operator), `crdgen`, `consent`, `check`, and the tools for people
//! (`trace`, ...; also the kubectl plugin src/bin/kubectl-channel.rs). The emulator is its own
//! binary, `partner-center-emulator` (crates/emulator).

use clap::{Parser, Subcommand};
use partner_center_operator::{api, cli, controller, runtime};

#[derive(Parser)]
#[command(
    name = "partner-center-operator",
    version,
    about = "Publishes, for every reseller and customer plan, the Microsoft Partner Center connection provisioning must use"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator against the cluster in KUBECONFIG or in-cluster.
    Run(runtime::settings::OperatorSettings),
    /// Print the CustomResourceDefinitions as YAML.
    Crdgen,
    /// Run the one-time consent (authorization-code) flow and store the refresh token in a Secret.
    Consent(cli::consent::ConsentArgs),
    /// Authenticate with a connection's settings and print what Partner Center reports.
    Check(cli::check::CheckArgs),
    #[command(flatten)]
    Tool(cli::Tool),
}

/// Ends the process with a tool's exit code (what-if: 1 when something would break).
fn exit_with(code: i32) -> anyhow::Result<()> {
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // Before the runtime starts its threads (see runtime::allocator).
    runtime::allocator::limit_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    partner_center_operator::tls::install_crypto_provider();
    match Cli::parse().command {
        Command::Run(settings) => {
            runtime::telemetry::init(settings.log_format, &settings.log_level);
            controller::run(settings, controller::context::http_connector()).await
        }
        Command::Crdgen => {
            print!("{}", api::crds_yaml());
            Ok(())
        }
        Command::Consent(args) => cli::consent::run(args).await,
        Command::Check(args) => cli::check::run(args).await,
        Command::Tool(tool) => exit_with(cli::run_tool(tool).await?),
    }
}
