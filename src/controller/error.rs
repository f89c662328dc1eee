//! Reconciler errors: what goes wrong talking to the API server. Partner Center and rule failures
//! are not errors of the reconciler — they are published in status conditions.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("object has no {0}")]
    MissingField(&'static str),
    /// The reconcile panicked; caught so one object cannot end the process (see `controller::timed`).
    #[error("reconcile panicked: {0}")]
    Panicked(String),
}

impl Error {
    /// A stable label for metrics.
    pub fn reason(&self) -> String {
        match self {
            Error::Kube(kube::Error::Api(s)) => format!("Api{}", s.code),
            Error::Kube(_) => "ApiUnreachable".into(),
            Error::MissingField(_) => "MissingField".into(),
            Error::Panicked(_) => "Panic".into(),
        }
    }
}

/// The text of a caught panic's payload (a `&str` or `String`; anything else is unnamed).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_are_named_by_their_message() {
        let cases: [(Box<dyn std::any::Any + Send>, &str); 3] = [
            (Box::new("static text"), "static text"),
            (Box::new(String::from("formatted 7")), "formatted 7"),
            (Box::new(7_u32), "a panic without a message"),
        ];
        for (payload, want) in cases {
            assert_eq!(panic_text(payload.as_ref()), want);
        }
        assert_eq!(Error::Panicked("x".into()).reason(), "Panic");
    }
}
