//! `clickstream healthcheck`: the container's `HEALTHCHECK`, with no shell or curl in the
//! image. It asks the server on this host for a probe route and exits 0 only on a 200.

use super::settings::Settings;
use std::time::Duration;

/// Why the probe did not find the service healthy.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("the path to probe must start with /, got {0:?}")]
    Path(String),
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url} did not answer: {reason}")]
    Unreachable { url: String, reason: String },
}

/// The address the server listens on, as seen from the same host: a wildcard bind is
/// probed on loopback.
fn host_of(settings: &Settings) -> String {
    match settings.host.as_str() {
        "0.0.0.0" | "" => "127.0.0.1".to_owned(),
        "::" | "[::]" => "[::1]".to_owned(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_owned(),
    }
}

/// Requests `path` from the server `settings` describe, within `timeout`.
pub fn probe(settings: &Settings, path: &str, timeout: Duration) -> Result<(), ProbeError> {
    if !path.starts_with('/') {
        return Err(ProbeError::Path(path.to_owned()));
    }
    let url = format!("http://{}:{}{path}", host_of(settings), settings.port);
    let agent = ureq::AgentBuilder::new().timeout(timeout).build();
    match agent.get(&url).call() {
        Ok(r) if r.status() == 200 => Ok(()),
        Ok(r) => Err(ProbeError::Status {
            url,
            status: r.status(),
        }),
        Err(ureq::Error::Status(status, _)) => Err(ProbeError::Status { url, status }),
        Err(e) => Err(ProbeError::Unreachable {
            url,
            reason: e.to_string(),
        }),
    }
}
