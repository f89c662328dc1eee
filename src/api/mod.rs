//! The three custom resource kinds of `channel.csp.dev/v1alpha1` and their shared vocabulary.

pub mod common;

pub use common::*;
