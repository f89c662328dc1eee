//! Microsoft Partner Center REST client.
