//! TODO: the escrow-client crate.
