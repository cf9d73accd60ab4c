//! The one way `alb` writes a message on standard error.

use core::fmt::Display;
use std::io::Write;

/// Writes `alb: MESSAGE` and a newline on standard error, with every control and invisible
/// character escaped ([`printable`]): messages quote what devices and servers sent.
///
/// Escaping is idempotent, so text a library already escaped is shown as it is.
pub fn diagnostic(message: impl Display) {
    let text = message.to_string();
    // Nothing more can be done when standard error is gone.
    let _ = writeln!(
        std::io::stderr().lock(),
        "alb: {}",
        printable::Escaped(&text)
    );
}
