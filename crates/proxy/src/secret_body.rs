//! [`SecretBody`]: a request body that wipes its bytes when dropped, shared by every client of
//! the workspace (their requests go through [`ProxyConnector`](crate::ProxyConnector) too).

use core::{
    convert::Infallible,
    fmt,
    pin::Pin,
    task::{Context, Poll},
};

use hyper::body::{Body, Buf, Frame, SizeHint};
use zeroize::Zeroizing;

/// A request body whose bytes are wiped when dropped: for requests that carry a secret (a
/// bypass code, an escrow key, an unlock token), so no unwiped copy is left in the heap.
pub struct SecretBody {
    chunk: Option<SecretChunk>,
}

impl SecretBody {
    /// No body (`GET`).
    #[must_use]
    pub const fn empty() -> Self {
        Self { chunk: None }
    }

    /// These bytes (taken by value, so no copy is left behind).
    #[must_use]
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self {
            chunk: Some(SecretChunk { bytes, position: 0 }),
        }
    }
}

impl fmt::Debug for SecretBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBody([redacted])")
    }
}

impl Body for SecretBody {
    type Data = SecretChunk;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Poll::Ready(self.chunk.take().map(|chunk| Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunk.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let len = self.chunk.as_ref().map_or(0, Buf::remaining);
        SizeHint::with_exact(u64::try_from(len).unwrap_or(u64::MAX))
    }
}

/// The bytes of a [`SecretBody`], wiped when dropped.
pub struct SecretChunk {
    bytes: Zeroizing<Vec<u8>>,
    position: usize,
}

impl fmt::Debug for SecretChunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretChunk([redacted])")
    }
}

impl Buf for SecretChunk {
    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.position)
    }

    fn chunk(&self) -> &[u8] {
        self.bytes.get(self.position..).unwrap_or_default()
    }

    fn advance(&mut self, count: usize) {
        self.position = self.position.saturating_add(count).min(self.bytes.len());
    }
}
