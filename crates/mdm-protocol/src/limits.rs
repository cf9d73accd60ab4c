//! Bounds on untrusted input, checked before and while parsing.

/// Bounds applied to every parse. The defaults suit MDM traffic with a wide margin: a
/// `DeviceInformation` response with every query is a few tens of kilobytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, checked before any parsing (default 1 MiB).
    pub max_bytes: usize,
    /// Deepest nesting of arrays and dictionaries (default 32).
    pub max_depth: usize,
    /// Most values in the expanded tree (default 65,536).
    pub max_values: usize,
    /// Most bytes of strings, keys and data once decoded (default 4 MiB; binary plists can
    /// reference one object many times, so this can exceed the input size).
    pub max_decoded_bytes: usize,
}

impl Limits {
    /// The default limits.
    pub const DEFAULT: Self = Self {
        max_bytes: 1024 * 1024,
        max_depth: 32,
        max_values: 65_536,
        max_decoded_bytes: 4 * 1024 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
