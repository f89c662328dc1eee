//! The one harness of the integration tests (tests/, through `mod support;`) and the benchmarks
//! (crates/bench): a real etcd + kube-apiserver (built from pinned Go modules, see hack/tools/)
//! started on loopback by hack/control-plane.sh with one kubeconfig per user, the operator binary
//! as a process, the API server's audit log counted, and the Partner Center emulator with its
//! control API.
//!
//! Everything here panics with a message naming what failed, except where a caller (the
//! benchmarks) needs the error: the tests read the panic, the benchmarks print the error.

mod audit;
mod channel;
mod control_plane;
mod emulator;
mod operator;
mod tools;

pub use audit::{AuditLog, Counts, is_status_write, status_writes_by};
pub use channel::{
    Channel, OPERATOR_NAMESPACES, PROVIDER_NS, condition, converged, example_fixtures, example_manifests, examples,
    is_converged, ready_of,
};
pub use control_plane::{ControlPlane, Convergence, User, apply_ok, kubectl_ok};
pub use emulator::{EmulatorControl, start_emulator};
pub use operator::{Operator, free_loopback_addr, operator_bin};
pub use tools::{cpu_seconds, output_text, read_repo_file, repo_root, tail, tool_bin, wait_until};
