//! The typed gRPC client shared by the CLI and the console, and how it
//! reaches dutyd: plaintext on loopback, TLS (`https://`, system roots or a
//! given CA, an optional client certificate for mTLS) anywhere else. It
//! never sends a token in cleartext to another machine unless told
//! `insecure`.

use std::sync::OnceLock;
use std::time::Duration;

use dutyroom_proto::v1 as pb;
use tonic::metadata::AsciiMetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Request, Status};

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct BearerAuth {
    header: Option<AsciiMetadataValue>,
}

impl tonic::service::Interceptor for BearerAuth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(header) = &self.header {
            request
                .metadata_mut()
                .insert("authorization", header.clone());
        }
        Ok(request)
    }
}

/// A channel to a gRPC service with the token attached.
pub type Authed = InterceptedService<Channel, BearerAuth>;

/// Why a connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The address does not parse as a URI.
    #[error("bad address {addr:?}: {reason}")]
    BadAddress {
        /// As given.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The token has characters a header cannot carry.
    #[error("the token is not valid header text")]
    BadToken,
    /// The TLS handshake failed (an unknown CA, a wrong name, a refused
    /// client certificate).
    #[error("TLS handshake with {addr} failed: {reason}")]
    Tls {
        /// As given.
        addr: String,
        /// Why, in rustls's words.
        reason: String,
    },
    /// A token would have crossed the network in cleartext.
    #[error(
        "refusing to send a token in cleartext to {addr}: use https://{host_port} (dutyd \
         --tls-cert), or --insecure if this network is trusted"
    )]
    Cleartext {
        /// As given.
        addr: String,
        /// Host and port, for the suggestion.
        host_port: String,
    },
    /// A TLS file could not be read.
    #[error("{path}: {reason}")]
    TlsFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Nothing answered.
    #[error("cannot reach dutyd at {addr}: {reason}")]
    Unreachable {
        /// As given.
        addr: String,
        /// Why.
        reason: String,
    },
}

/// How to reach dutyd beyond its address: TLS material and whether a token
/// may travel in cleartext to another machine.
#[derive(Debug, Clone, Default)]
pub struct Transport {
    /// PEM CA to trust instead of the system roots (`--ca`).
    pub ca: Option<Vec<u8>>,
    /// PEM client certificate and key, for a dutyd that requires them (mTLS).
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// Allow a token over plain `http://` to a non-loopback address.
    pub insecure: bool,
}

impl Transport {
    /// Reads `ca`, `cert` and `key` files (cert and key together).
    pub fn from_files(
        ca: Option<&std::path::Path>,
        cert: Option<&std::path::Path>,
        key: Option<&std::path::Path>,
        insecure: bool,
    ) -> Result<Transport, ConnectError> {
        let read = |path: &std::path::Path| {
            std::fs::read(path).map_err(|e| ConnectError::TlsFile {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        };
        let identity = match (cert, key) {
            (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
            (None, None) => None,
            (Some(path), None) | (None, Some(path)) => {
                return Err(ConnectError::TlsFile {
                    path: path.display().to_string(),
                    reason: "a client certificate needs its key: give --cert and --key".into(),
                });
            }
        };
        Ok(Transport {
            ca: ca.map(read).transpose()?,
            identity,
            insecure,
        })
    }
}

/// The transport [`Client::connect`] and [`Client::lazy`] use: set once by
/// the command line from its flags and config, so every part of `duty` (the
/// CLI, the consoles, the bench) reaches dutyd the same way without each
/// threading it through.
static DEFAULT_TRANSPORT: OnceLock<Transport> = OnceLock::new();

/// Sets the transport for [`Client::connect`] and [`Client::lazy`] (first
/// call wins).
pub fn set_default_transport(transport: Transport) {
    let _ = DEFAULT_TRANSPORT.set(transport);
}

fn default_transport() -> Transport {
    DEFAULT_TRANSPORT.get().cloned().unwrap_or_default()
}

/// Is `host` (from a URI) this machine?
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The endpoint for `addr` under `transport`: TLS for `https://`, and a
/// refusal to carry `token` in cleartext off this machine.
fn endpoint(
    addr: &str,
    token: Option<&str>,
    transport: &Transport,
) -> Result<Endpoint, ConnectError> {
    let uri = normalize_addr(addr);
    let bad = |reason: String| ConnectError::BadAddress {
        addr: addr.to_owned(),
        reason,
    };
    let endpoint = Endpoint::from_shared(uri).map_err(|e| bad(e.to_string()))?;
    let parsed = endpoint.uri().clone();
    let host = parsed.host().unwrap_or_default().to_owned();
    if parsed.scheme_str() == Some("https") {
        let mut tls =
            ClientTlsConfig::new().domain_name(host.trim_start_matches('[').trim_end_matches(']'));
        tls = match &transport.ca {
            Some(ca) => tls.ca_certificate(Certificate::from_pem(ca)),
            None => tls.with_native_roots(),
        };
        if let Some((cert, key)) = &transport.identity {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        return endpoint.tls_config(tls).map_err(|e| ConnectError::Tls {
            addr: addr.to_owned(),
            reason: source_chain(&e),
        });
    }
    if token.is_some() && !transport.insecure && !is_loopback(&host) {
        return Err(ConnectError::Cleartext {
            addr: addr.to_owned(),
            host_port: parsed
                .authority()
                .map_or_else(|| host.clone(), ToString::to_string),
        });
    }
    Ok(endpoint)
}

/// The deepest cause of a TLS failure, which is the part that says what
/// is wrong ("invalid peer certificate: UnknownIssuer").
fn tls_reason(error: &dyn std::error::Error) -> Option<String> {
    let chain = source_chain(error);
    let lower = chain.to_lowercase();
    let tls = ["certificate", "handshake", "tls", "alert"]
        .iter()
        .any(|word| lower.contains(word));
    if !tls {
        return None;
    }
    let mut deepest = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        deepest = cause.to_string();
        source = cause.source();
    }
    Some(deepest)
}

/// A connected client.
#[derive(Clone)]
pub struct Client {
    channel: Channel,
    auth: BearerAuth,
    addr: String,
}

/// `host:port` becomes `http://host:port`; full URIs pass through.
pub fn normalize_addr(addr: &str) -> String {
    if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    }
}

impl Client {
    /// Connects to `addr` (`host:port` or a URI), presenting `token`, over
    /// the default transport ([`set_default_transport`]).
    pub async fn connect(addr: &str, token: Option<&str>) -> Result<Client, ConnectError> {
        Client::connect_with(addr, token, &default_transport()).await
    }

    /// Connects to `addr` over `transport`, presenting `token`.
    pub async fn connect_with(
        addr: &str,
        token: Option<&str>,
        transport: &Transport,
    ) -> Result<Client, ConnectError> {
        let https = normalize_addr(addr).starts_with("https://");
        let endpoint = endpoint(addr, token, transport)?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(20))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true);
        let channel =
            endpoint
                .connect()
                .await
                .map_err(|e| match tls_reason(&e).filter(|_| https) {
                    Some(reason) => ConnectError::Tls {
                        addr: addr.to_owned(),
                        reason,
                    },
                    None => ConnectError::Unreachable {
                        addr: addr.to_owned(),
                        reason: source_chain(&e),
                    },
                })?;
        Client::from_channel(channel, addr, token)
    }

    /// A client that connects on first use and reconnects by itself: for the
    /// console, which must start (and say so) even when dutyd is down.
    pub fn lazy(addr: &str, token: Option<&str>) -> Result<Client, ConnectError> {
        let channel = endpoint(addr, token, &default_transport())?
            .connect_timeout(Duration::from_secs(3))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5))
            .keep_alive_while_idle(true)
            .connect_lazy();
        Client::from_channel(channel, addr, token)
    }

    /// Wraps an existing channel.
    pub fn from_channel(
        channel: Channel,
        addr: &str,
        token: Option<&str>,
    ) -> Result<Client, ConnectError> {
        let header = token
            .map(|t| {
                AsciiMetadataValue::try_from(format!("Bearer {}", t.trim()))
                    .map_err(|_| ConnectError::BadToken)
            })
            .transpose()?;
        Ok(Client {
            channel,
            auth: BearerAuth { header },
            addr: addr.to_owned(),
        })
    }

    /// The address this client talks to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    fn authed(&self) -> Authed {
        InterceptedService::new(self.channel.clone(), self.auth.clone())
    }

    /// `IncidentService`.
    pub fn incidents(&self) -> pb::incident_service_client::IncidentServiceClient<Authed> {
        pb::incident_service_client::IncidentServiceClient::new(self.authed())
    }

    /// `PostService`.
    pub fn posts(&self) -> pb::post_service_client::PostServiceClient<Authed> {
        pb::post_service_client::PostServiceClient::new(self.authed())
    }

    /// `UnitService`.
    pub fn units(&self) -> pb::unit_service_client::UnitServiceClient<Authed> {
        pb::unit_service_client::UnitServiceClient::new(self.authed())
    }

    /// `PlaceService`.
    pub fn places(&self) -> pb::place_service_client::PlaceServiceClient<Authed> {
        pb::place_service_client::PlaceServiceClient::new(self.authed())
    }

    /// `PersonService`.
    pub fn people(&self) -> pb::person_service_client::PersonServiceClient<Authed> {
        pb::person_service_client::PersonServiceClient::new(self.authed())
    }

    /// `CategoryService`.
    pub fn categories(&self) -> pb::category_service_client::CategoryServiceClient<Authed> {
        pb::category_service_client::CategoryServiceClient::new(self.authed())
    }

    /// `TokenService`.
    pub fn tokens(&self) -> pb::token_service_client::TokenServiceClient<Authed> {
        pb::token_service_client::TokenServiceClient::new(self.authed())
    }

    /// `EscalationService` (policy, simulation, alarms).
    pub fn escalation(&self) -> pb::escalation_service_client::EscalationServiceClient<Authed> {
        pb::escalation_service_client::EscalationServiceClient::new(self.authed())
    }

    /// `RosterService`.
    pub fn rosters(&self) -> pb::roster_service_client::RosterServiceClient<Authed> {
        pb::roster_service_client::RosterServiceClient::new(self.authed())
    }

    /// `HandoverService`.
    pub fn handovers(&self) -> pb::handover_service_client::HandoverServiceClient<Authed> {
        pb::handover_service_client::HandoverServiceClient::new(self.authed())
    }

    /// `RollCallService`.
    pub fn rollcalls(&self) -> pb::roll_call_service_client::RollCallServiceClient<Authed> {
        pb::roll_call_service_client::RollCallServiceClient::new(self.authed())
    }

    /// `PresenceService` (heartbeats, who is connected).
    pub fn presence(&self) -> pb::presence_service_client::PresenceServiceClient<Authed> {
        pb::presence_service_client::PresenceServiceClient::new(self.authed())
    }

    /// `ReportService` (assessment reports).
    pub fn reports(&self) -> pb::report_service_client::ReportServiceClient<Authed> {
        pb::report_service_client::ReportServiceClient::new(self.authed())
    }

    /// `NotifyService` (the SMS and voice gateways).
    pub fn notify(&self) -> pb::notify_service_client::NotifyServiceClient<Authed> {
        pb::notify_service_client::NotifyServiceClient::new(self.authed())
    }

    /// `JournalService` (Watch, events, audit, server info).
    pub fn journal(&self) -> pb::journal_service_client::JournalServiceClient<Authed> {
        pb::journal_service_client::JournalServiceClient::new(self.authed())
    }
}

/// An error and its causes on one line.
pub fn source_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
