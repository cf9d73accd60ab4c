//! TODO: the code-store crate.
