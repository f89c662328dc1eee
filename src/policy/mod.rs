//! Pure domain rules (product.md §3): no Kubernetes client, no async, no I/O.
