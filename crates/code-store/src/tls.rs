//! TLS to PostgreSQL with rustls (the `ring` provider), always verifying the server.
//!
//! A store URL asks for it with `sslmode=verify-full` (libpq's name, see
//! [`crate::postgres_url`]): the server's certificate must chain to `sslrootcert=PATH` (PEM)
//! when given, else to the Mozilla roots, and must name the host of the URL. There is no mode
//! that encrypts without verifying: a connection is either plain (loopback, Unix socket, or
//! `sslmode=disable`) or verified, never encrypted to an unknown party.

use alloc::sync::Arc;
use core::{
    pin::Pin,
    task::{Context, Poll},
};
use std::{io, path::Path};

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use crate::StoreError;

/// Makes verified rustls connections for `tokio-postgres`.
#[derive(Clone)]
pub struct VerifiedTls {
    config: Arc<ClientConfig>,
}

impl core::fmt::Debug for VerifiedTls {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifiedTls").finish_non_exhaustive()
    }
}

impl VerifiedTls {
    /// Trusts the certificates in the PEM file `root_cert`, else the Mozilla roots.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the file cannot be read or holds no certificate;
    /// [`StoreError::Url`] when rustls refuses the configuration.
    pub fn new(root_cert: Option<&Path>) -> Result<Self, StoreError> {
        let mut roots = RootCertStore::empty();
        match root_cert {
            Some(path) => {
                let io_error = |source| StoreError::Io {
                    path: path.display().to_string(),
                    source,
                };
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                    .map_err(|e| {
                        io_error(io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
                    })?
                    .collect::<Result<_, _>>()
                    .map_err(|e| {
                        io_error(io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
                    })?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(io_error(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "no usable certificate",
                    )));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::Url {
                url: String::new(),
                reason: e.to_string(),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            config: Arc::new(config),
        })
    }
}

/// One connection's TLS handshake, for the host it was made for.
#[derive(Debug)]
pub struct VerifiedConnect {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl<S> MakeTlsConnect<S> for VerifiedTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = VerifiedStream<S>;
    type TlsConnect = VerifiedConnect;
    type Error = rustls_pki_types::InvalidDnsNameError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<VerifiedConnect, Self::Error> {
        Ok(VerifiedConnect {
            config: Arc::clone(&self.config),
            name: ServerName::try_from(domain.to_owned())?,
        })
    }
}

impl<S> TlsConnect<S> for VerifiedConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = VerifiedStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<VerifiedStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let connector = tokio_rustls::TlsConnector::from(self.config);
            Ok(VerifiedStream(connector.connect(self.name, stream).await?))
        })
    }
}

/// A verified TLS stream to the server.
#[derive(Debug)]
pub struct VerifiedStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for VerifiedStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for VerifiedStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for VerifiedStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        // No SCRAM channel binding: the certificate is verified instead.
        ChannelBinding::none()
    }
}
