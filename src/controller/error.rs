//! Reconciler errors: what goes wrong talking to the API server. Partner Center and rule failures
//! are not errors of the reconciler — they are published in status conditions.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("object has no {0}")]
    MissingField(&'static str),
}

impl Error {
    /// A stable label for metrics.
    pub fn reason(&self) -> String {
        match self {
            Error::Kube(kube::Error::Api(s)) => format!("Api{}", s.code),
            Error::Kube(_) => "ApiUnreachable".into(),
            Error::MissingField(_) => "MissingField".into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
