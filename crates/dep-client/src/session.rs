//! The session shared by every request of a client: one `X-ADM-Auth-Session` token at a
//! time, a generation number that changes whenever it does, and one authentication in flight
//! at a time however many requests found the session expired together.

use core::{
    future::Future,
    sync::atomic::{AtomicU64, Ordering},
};
use std::sync::{Mutex, PoisonError};

use crate::{error::DepError, secret::Secret};

/// The session in use when a request was sent.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    /// The session token.
    pub token: Secret,
    /// Which session it is (increases with every new or rotated session).
    pub generation: u64,
}

#[derive(Debug, Default)]
struct State {
    token: Option<Secret>,
    generation: u64,
}

/// Counters of what the session layer did, for logs, tests and operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Successful `GET /session` calls.
    pub authentications: u64,
    /// Requests re-sent after a `401` or `403 FORBIDDEN` with a new session.
    pub resent_after_reauthentication: u64,
    /// Sessions handed over in an `X-ADM-Auth-Session` response header and adopted.
    pub rotations_adopted: u64,
}

/// The shared session state.
#[derive(Debug, Default)]
pub(crate) struct Session {
    state: Mutex<State>,
    /// Held while a `GET /session` is in flight: the others wait and take its result.
    refresh: tokio::sync::Mutex<()>,
    authentications: AtomicU64,
    resent: AtomicU64,
    rotations: AtomicU64,
}

impl Session {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The session to use, authenticating first when there is none (or it is `stale`: the
    /// generation a request found refused). Concurrent callers share one authentication.
    pub(crate) async fn get<F, Fut>(
        &self,
        stale: Option<u64>,
        authenticate: F,
    ) -> Result<Current, DepError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Secret, DepError>>,
    {
        if let Some(current) = self.usable(stale) {
            return Ok(current);
        }
        let _in_flight = self.refresh.lock().await;
        // Another request may have authenticated while this one waited.
        if let Some(current) = self.usable(stale) {
            return Ok(current);
        }
        let token = authenticate().await?;
        self.authentications.fetch_add(1, Ordering::Relaxed);
        let mut state = self.lock();
        state.generation += 1;
        state.token = Some(token.clone());
        Ok(Current {
            token,
            generation: state.generation,
        })
    }

    fn usable(&self, stale: Option<u64>) -> Option<Current> {
        let state = self.lock();
        let token = state.token.clone()?;
        if stale == Some(state.generation) {
            return None;
        }
        Some(Current {
            token,
            generation: state.generation,
        })
    }

    /// Adopts a session the service handed over in a response to a request sent with
    /// generation `sent`; ignored if the session changed meanwhile (a newer one is in use).
    pub(crate) fn adopt(&self, sent: u64, token: Secret) {
        let mut state = self.lock();
        if state.generation == sent && state.token.as_ref() != Some(&token) {
            state.generation += 1;
            state.token = Some(token);
            self.rotations.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The generation of the session held now.
    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Counts a request re-sent with a new session.
    pub(crate) fn count_resend(&self) {
        self.resent.fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets the session (the next request authenticates).
    pub(crate) fn clear(&self) {
        let mut state = self.lock();
        state.token = None;
        state.generation += 1;
    }

    pub(crate) fn stats(&self) -> SessionStats {
        SessionStats {
            authentications: self.authentications.load(Ordering::Relaxed),
            resent_after_reauthentication: self.resent.load(Ordering::Relaxed),
            rotations_adopted: self.rotations.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_authentication_serves_concurrent_callers_and_stale_ones_refresh() {
        let session = Session::default();
        let first = session
            .get(None, || async { Ok(Secret::from("S1")) })
            .await
            .unwrap();
        assert_eq!(first.token.expose(), "S1");
        // Not stale: no authentication.
        let again = session
            .get(None, || async { panic!("must not authenticate") })
            .await
            .unwrap();
        assert_eq!(again.generation, first.generation);
        // A rotation from an old generation is ignored, from the current one adopted.
        session.adopt(first.generation + 7, Secret::from("OLD"));
        session.adopt(first.generation, Secret::from("S2"));
        let rotated = session
            .get(Some(first.generation), || async {
                panic!("rotation made it fresh")
            })
            .await
            .unwrap();
        assert_eq!(rotated.token.expose(), "S2");
        // Stale: authenticates again.
        let fresh = session
            .get(Some(rotated.generation), || async {
                Ok(Secret::from("S3"))
            })
            .await
            .unwrap();
        assert_eq!(fresh.token.expose(), "S3");
        assert_eq!(session.stats().authentications, 2);
        assert_eq!(session.stats().rotations_adopted, 1);
        session.clear();
        assert!(session.usable(None).is_none());
    }
}
