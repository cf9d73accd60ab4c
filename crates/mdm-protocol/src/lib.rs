//! TODO: the mdm-protocol crate.
