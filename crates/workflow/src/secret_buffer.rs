//! [`SecretBuffer`]: bytes that may be secret, in memory that is zeroized before it is freed,
//! including when the buffer grows.

use std::io::{self, Read, Write};

use zeroize::Zeroizing;

/// A growable byte buffer that never leaves a copy behind.
///
/// A `Vec` that outgrows its capacity moves its bytes to a new allocation and frees the old one
/// as it is; `Zeroizing<Vec<u8>>` zeroizes only the last allocation. This buffer moves its bytes
/// itself, into a new zeroizing allocation, and zeroizes the old one before it is freed.
#[derive(Default)]
pub struct SecretBuffer {
    bytes: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for SecretBuffer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SecretBuffer({} bytes)", self.bytes.len())
    }
}

impl SecretBuffer {
    /// An empty buffer with room for `capacity` bytes.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            bytes: Zeroizing::new(Vec::with_capacity(capacity)),
        }
    }

    /// The bytes.
    #[must_use]
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    /// How many bytes it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it holds nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes it can hold before it grows.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Zeroizes and forgets the bytes, keeping the allocation.
    pub fn clear(&mut self) {
        zeroize::Zeroize::zeroize(&mut *self.bytes);
    }

    /// The bytes, still zeroized when dropped.
    #[must_use]
    pub fn into_inner(self) -> Zeroizing<Vec<u8>> {
        self.bytes
    }

    /// Makes room for `more` bytes: at least doubles into a new zeroizing allocation, so the
    /// old one is zeroized before it is freed.
    fn reserve(&mut self, more: usize) {
        let needed = self.bytes.len().saturating_add(more);
        if needed <= self.bytes.capacity() {
            return;
        }
        let capacity = needed.max(self.bytes.capacity().saturating_mul(2)).max(64);
        let mut grown = Zeroizing::new(Vec::with_capacity(capacity));
        grown.extend_from_slice(&self.bytes);
        // The old allocation is zeroized (every byte of its capacity) as it drops here.
        self.bytes = grown;
    }

    /// Appends `bytes`.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        self.bytes.extend_from_slice(bytes);
    }

    /// Reads `reader` to its end, or until the buffer holds more than `limit` bytes (it then
    /// holds `limit + 1`: the caller can tell the input was too large without reading it all).
    /// Reads go straight into the buffer: no other copy is made.
    ///
    /// # Errors
    /// Any read error but [`io::ErrorKind::Interrupted`] (retried).
    pub fn read_from(&mut self, reader: &mut impl Read, limit: usize) -> io::Result<()> {
        /// The most read at once.
        const CHUNK: usize = 8192;
        let cap = limit.saturating_add(1);
        loop {
            let start = self.bytes.len();
            if start >= cap {
                return Ok(());
            }
            self.reserve((cap - start).min(CHUNK));
            let end = self.bytes.capacity().min(cap);
            // Within the capacity: no reallocation.
            self.bytes.resize(end, 0);
            let result = reader.read(&mut self.bytes[start..end]);
            let read = match result {
                Ok(read) => read.min(end - start),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    self.bytes.truncate(start);
                    continue;
                }
                Err(e) => {
                    self.bytes.truncate(start);
                    return Err(e);
                }
            };
            self.bytes.truncate(start + read);
            if read == 0 {
                return Ok(());
            }
        }
    }
}

impl Write for SecretBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.extend_from_slice(bytes);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
