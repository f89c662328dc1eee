//! The integration tests' harness is the test kit (crates/test-kit): a real control plane, the
//! operator process, the audit log, the emulator. `mod support;` and `support::...` keep working.

pub use pco_test_kit::*;
