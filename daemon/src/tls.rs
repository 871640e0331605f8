//! TLS for dutyd: the server's identity and the client CA (mTLS), the
//! identity a client certificate is bound to, and the small PKI a district
//! makes with `dutyd cert ca|server|client` (rcgen, in-process).
//!
//! A client certificate is bound to one identity, written as its subject
//! common name: `post:<id>` or `unit:<id>` for a post's or unit's machine,
//! `centre` for the centre's consoles. With mTLS on, the interceptor
//! ([`crate::auth::Authenticator`]) requires that the token presented over a
//! connection belongs to that identity: a stolen post token is useless
//! without the post's certificate, and a post's certificate cannot carry
//! another post's (or the centre's) token.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::auth::principal::{Principal, Role};

/// The identity of the centre's client certificates.
pub const CENTRE: &str = "centre";

/// A TLS setup problem, said so an operator can fix it.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// rcgen refused.
    #[error("{0}")]
    Cert(String),
    /// A bad identity for a client certificate.
    #[error(
        "{0:?} is not a client identity: use post:<id>, unit:<id> or centre (ids: lowercase \
         letters, digits, - and _)"
    )]
    BadIdentity(String),
    /// Would overwrite.
    #[error("{0} exists: not overwriting it (move it away first)")]
    Exists(PathBuf),
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::File {
        path: path.to_owned(),
        source,
    })
}

/// The server TLS config for `cert` + `key`, requiring client certificates
/// signed by `client_ca` when given. Client certificates are optional at the
/// handshake so that a missing one is a clear UNAUTHENTICATED from the
/// interceptor instead of a reset connection.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<ServerTlsConfig, TlsError> {
    let identity = Identity::from_pem(read(cert)?, read(key)?);
    let mut config = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = client_ca {
        config = config
            .client_ca_root(Certificate::from_pem(read(ca)?))
            .client_auth_optional(true);
    }
    Ok(config)
}

/// The identity a (verified) client certificate is bound to: its subject
/// common name, if it has one.
pub fn identity_of(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_owned)
}

/// May a connection whose certificate is bound to `bound` carry a token of
/// `principal`? A post's or unit's token only over its own certificate; a
/// centre role's only over a `centre` certificate.
pub fn matches(bound: &str, principal: &Principal) -> bool {
    match &principal.role {
        Role::Post(_) | Role::Unit(_) | Role::Gateway(_) => bound == principal.role.to_string(),
        _ => bound == CENTRE,
    }
}

/// Checks a client identity: `post:<id>`, `unit:<id>`, `gateway:<id>` or
/// `centre`.
pub fn check_identity(who: &str) -> Result<(), TlsError> {
    if who == CENTRE {
        return Ok(());
    }
    match who.parse::<Role>() {
        Ok(Role::Post(_) | Role::Unit(_) | Role::Gateway(_)) => Ok(()),
        _ => Err(TlsError::BadIdentity(who.to_owned())),
    }
}

/// A certificate and its private key, PEM.
pub struct Pem {
    /// The certificate.
    pub cert: String,
    /// Its private key.
    pub key: String,
}

fn cert_error(error: rcgen::Error) -> TlsError {
    TlsError::Cert(error.to_string())
}

fn named(params: &mut CertificateParams, common_name: &str) {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, "dutyroom");
    params.distinguished_name = name;
}

/// A new CA named `name` (ten years).
pub fn make_ca(name: &str) -> Result<Pem, TlsError> {
    let key = KeyPair::generate().map_err(cert_error)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    named(&mut params, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let cert = params.self_signed(&key).map_err(cert_error)?;
    Ok(Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

fn issue(ca: &Pem, mut params: CertificateParams) -> Result<Pem, TlsError> {
    let ca_key = KeyPair::from_pem(&ca.key).map_err(cert_error)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert, ca_key).map_err(cert_error)?;
    let key = KeyPair::generate().map_err(cert_error)?;
    params.not_after = rcgen::date_time_ymd(2031, 1, 1);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let cert = params.signed_by(&key, &issuer).map_err(cert_error)?;
    Ok(Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A server certificate for `names` (DNS names or IP addresses) signed by `ca`.
pub fn make_server(ca: &Pem, names: &[String]) -> Result<Pem, TlsError> {
    let mut params = CertificateParams::new(names.to_vec()).map_err(cert_error)?;
    named(&mut params, names.first().map_or("dutyd", String::as_str));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    issue(ca, params)
}

/// A client certificate bound to `who` (`post:<id>`, `unit:<id>`, `centre`)
/// signed by `ca`.
pub fn make_client(ca: &Pem, who: &str) -> Result<Pem, TlsError> {
    check_identity(who)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    named(&mut params, who);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    issue(ca, params)
}

/// Reads a CA written by [`write`] as `<dir>/ca.pem` + `<dir>/ca.key`.
pub fn read_ca(dir: &Path) -> Result<Pem, TlsError> {
    let text = |path: PathBuf| {
        std::fs::read_to_string(&path).map_err(|source| TlsError::File { path, source })
    };
    Ok(Pem {
        cert: text(dir.join("ca.pem"))?,
        key: text(dir.join("ca.key"))?,
    })
}

/// Writes `<dir>/<stem>.pem` and `<dir>/<stem>.key` (mode 0600), refusing
/// to overwrite either. Returns both paths.
pub fn write(dir: &Path, stem: &str, pem: &Pem) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert = dir.join(format!("{stem}.pem"));
    let key = dir.join(format!("{stem}.key"));
    for path in [&cert, &key] {
        if path.exists() {
            return Err(TlsError::Exists(path.clone()));
        }
    }
    let file_error = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::File { path, source }
    };
    std::fs::create_dir_all(dir).map_err(file_error(dir))?;
    std::fs::write(&cert, &pem.cert).map_err(file_error(&cert))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&key).map_err(file_error(&key))?;
    std::io::Write::write_all(&mut file, pem.key.as_bytes()).map_err(file_error(&key))?;
    Ok((cert, key))
}

/// The file stem for a client identity: `post:xinhua` → `post-xinhua`.
pub fn stem(who: &str) -> String {
    who.replace(':', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: &str) -> Principal {
        Principal {
            token_id: "t".into(),
            name: "n".into(),
            role: role.parse().expect("role"),
        }
    }

    #[test]
    fn a_client_certificate_carries_its_identity() {
        let ca = make_ca("test CA").expect("ca");
        let client = make_client(&ca, "post:xinhua").expect("client");
        let der = rustls_pem_der(&client.cert);
        assert_eq!(identity_of(&der).as_deref(), Some("post:xinhua"));
    }

    fn rustls_pem_der(pem: &str) -> Vec<u8> {
        let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
        parsed.contents
    }

    #[test]
    fn identities_bind_tokens_of_their_own_role_only() {
        assert!(matches("post:xinhua", &principal("post:xinhua")));
        assert!(!matches("post:xinhua", &principal("post:qianjin")));
        assert!(!matches("post:xinhua", &principal("admin")));
        assert!(matches("centre", &principal("officer")));
        assert!(!matches("centre", &principal("unit:fire")));
    }

    #[test]
    fn only_post_unit_or_centre_identities_are_issued() {
        let ca = make_ca("test CA").expect("ca");
        for bad in ["admin", "post:", "post:Bad", "xinhua"] {
            assert!(make_client(&ca, bad).is_err(), "{bad}");
        }
    }
}
