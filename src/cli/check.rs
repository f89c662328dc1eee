//! Connection check for humans: written with the Partner Center client change.
