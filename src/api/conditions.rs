//! Helpers for `metav1.Condition` lists.
