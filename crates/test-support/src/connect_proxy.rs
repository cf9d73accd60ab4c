//! An HTTP `CONNECT` proxy on loopback, as enterprise networks run them: it opens a tunnel to
//! the destination a client names, optionally only with the right `Proxy-Authorization`, and
//! records every tunnel asked for.

use alloc::sync::Arc;
use core::net::SocketAddr;
use std::sync::Mutex;

use base64ct::Encoding as _;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
};

/// The longest request head the proxy reads.
const MAX_HEAD: usize = 8 * 1024;

/// One `CONNECT` the proxy was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    /// The destination, `HOST:PORT` as the client sent it.
    pub destination: String,
    /// The `Proxy-Authorization` header, when one came.
    pub authorization: Option<String>,
    /// Whether the proxy opened the tunnel.
    pub opened: bool,
}

/// A running proxy; it stops when dropped.
#[derive(Debug)]
pub struct ConnectProxy {
    addr: SocketAddr,
    tunnels: Arc<Mutex<Vec<Tunnel>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ConnectProxy {
    /// Starts a proxy on a free loopback port. With `credentials`, a tunnel is opened only for
    /// `Proxy-Authorization: Basic base64(user:password)`; others get `407`.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start(credentials: Option<(&str, &str)>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let tunnels = Arc::new(Mutex::new(Vec::new()));
        let expected = credentials.map(|(user, password)| {
            format!(
                "Basic {}",
                base64ct::Base64::encode_string(format!("{user}:{password}").as_bytes())
            )
        });
        let recorded = Arc::clone(&tunnels);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let recorded = Arc::clone(&recorded);
                let expected = expected.clone();
                tokio::spawn(async move {
                    // A client that goes away mid-way ends its own tunnel only.
                    let _ = serve(client, expected.as_deref(), &recorded).await;
                });
            }
        });
        Ok(Self {
            addr,
            tunnels,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The proxy's address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every tunnel asked for, in order.
    #[must_use]
    pub fn tunnels(&self) -> Vec<Tunnel> {
        self.tunnels.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

async fn serve(
    mut client: TcpStream,
    expected: Option<&str>,
    recorded: &Mutex<Vec<Tunnel>>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    // Byte by byte: nothing after the head may be read here (it belongs to the tunnel).
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD || client.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let request = lines.next().unwrap_or_default();
    let mut parts = request.split(' ');
    let (Some("CONNECT"), Some(destination)) = (parts.next(), parts.next()) else {
        client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            .await?;
        return Ok(());
    };
    let authorization = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, value)| value.trim().to_owned());
    let allowed = expected.is_none_or(|expected| authorization.as_deref() == Some(expected));
    let upstream = if allowed {
        TcpStream::connect(destination).await.ok()
    } else {
        None
    };
    if let Ok(mut tunnels) = recorded.lock() {
        tunnels.push(Tunnel {
            destination: destination.to_owned(),
            authorization,
            opened: upstream.is_some(),
        });
    }
    let Some(mut upstream) = upstream else {
        let answer: &[u8] = if allowed {
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"
        } else {
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n"
        };
        client.write_all(answer).await?;
        return Ok(());
    };
    client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}
