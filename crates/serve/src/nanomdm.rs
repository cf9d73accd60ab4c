//! The one call the service makes to NanoMDM's API: queue a command for one device.

use alb_nanomdm::NanoMdmClient;

/// Queues `command` (a property list) for the enrollment `id`, with a push. A failed push
/// leaves the command queued (the device fetches it at its next check-in): queued — even when
/// NanoMDM answers `500` because the push to its only id failed.
///
/// # Errors
/// Why NanoMDM did not queue it (escaped, no secret).
pub(crate) async fn enqueue(
    client: &NanoMdmClient,
    id: &str,
    command: &[u8],
) -> Result<(), String> {
    let reply = match client.enqueue(&[id], command, true).await {
        Ok(reply) => reply,
        Err(alb_nanomdm::NanoMdmError::AllFailed { reply, .. })
            if reply.enqueue_error.is_none()
                && reply.results.values().all(|r| r.enqueue_error.is_none()) =>
        {
            *reply
        }
        Err(error) => return Err(error.to_string()),
    };
    if let Some(error) = &reply.enqueue_error {
        return Err(format!("NanoMDM: {}", printable::Escaped(error)));
    }
    if let Some(error) = reply.results.get(id).and_then(|r| r.enqueue_error.as_ref()) {
        return Err(format!("NanoMDM: {}", printable::Escaped(error)));
    }
    if let Some(error) = reply.results.get(id).and_then(|r| r.push_error.as_ref()) {
        tracing::info!(id, error = %printable::Escaped(error), "command queued, push failed");
    }
    Ok(())
}
