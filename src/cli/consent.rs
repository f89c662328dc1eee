//! Consent helper (authorization-code flow): written with the Partner Center client change.
