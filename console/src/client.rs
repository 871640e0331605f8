//! The typed gRPC client shared by the CLI and the console.

use std::time::Duration;

use dutyroom_proto::v1 as pb;
use tonic::metadata::AsciiMetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
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
    /// Nothing answered.
    #[error("cannot reach dutyd at {addr}: {reason}")]
    Unreachable {
        /// As given.
        addr: String,
        /// Why.
        reason: String,
    },
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
    /// Connects to `addr` (`host:port` or a URI), presenting `token`.
    pub async fn connect(addr: &str, token: Option<&str>) -> Result<Client, ConnectError> {
        let uri = normalize_addr(addr);
        let endpoint = Endpoint::from_shared(uri.clone())
            .map_err(|e| ConnectError::BadAddress {
                addr: addr.to_owned(),
                reason: e.to_string(),
            })?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(20))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true);
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| ConnectError::Unreachable {
                addr: addr.to_owned(),
                reason: source_chain(&e),
            })?;
        Client::from_channel(channel, addr, token)
    }

    /// A client that connects on first use and reconnects by itself: for the
    /// console, which must start (and say so) even when dutyd is down.
    pub fn lazy(addr: &str, token: Option<&str>) -> Result<Client, ConnectError> {
        let uri = normalize_addr(addr);
        let channel = Endpoint::from_shared(uri)
            .map_err(|e| ConnectError::BadAddress {
                addr: addr.to_owned(),
                reason: e.to_string(),
            })?
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
