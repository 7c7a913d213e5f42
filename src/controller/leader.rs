//! Leader election on a `coordination.k8s.io/v1` Lease, so two replicas are safe: one
//! reconciles, the other waits. The leader renews every few seconds; a leader that has not
//! renewed for [`RENEW_DEADLINE`] (shorter than the lease, so before a standby can take over)
//! exits at once, as controller-runtime's leaders do: a restart is safer than two writers. Each
//! renewal is bounded by that deadline, so a frozen or partitioned API server cannot hold a
//! renewal (and the leader) past it. On shutdown the leader releases the lease so the standby
//! takes over at once. Every good renewal opens the client's write fence
//! ([`WriteFence`]) until its deadline, so a leader that slept past its lease writes nothing
//! when it wakes, even before this loop notices.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};

use super::client::WriteFence;

/// How long a lease is valid without renewal. With the standby's 1 s poll, a standby leads
/// at most about 13 s after the leader died (the fault suite measures it; the target is 15 s).
const LEASE_SECONDS: i32 = 12;
/// How often the leader renews (twice more before the deadline if one fails).
const RENEW_EVERY: Duration = Duration::from_secs(3);
/// A leader whose last successful renewal was sent this long ago stops leading; the 4 s left
/// of the lease cover the in-flight requests it sent before (a standby waits for expiry).
pub const RENEW_DEADLINE: Duration = Duration::from_secs(8);
/// How often a standby looks whether the lease expired.
const STANDBY_POLL: Duration = Duration::from_secs(1);
/// The retry interval after a failed renewal.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// A held lease.
pub struct Leadership {
    api: Api<Lease>,
    name: String,
    identity: String,
    fence: Arc<WriteFence>,
}

fn expired(lease: &Lease, now: Timestamp) -> bool {
    let Some(spec) = &lease.spec else { return true };
    let Some(renew) = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) else {
        return true;
    };
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS));
    // To the millisecond (MicroTime): whole seconds would add up to a second to a takeover.
    now.as_millisecond() > renew.0.as_millisecond() + duration * 1000
}

fn holder(lease: &Lease) -> Option<&str> {
    lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.as_deref())
        .filter(|h| !h.is_empty())
}

impl Leadership {
    /// Block until this process holds the lease `namespace/name`.
    pub async fn acquire(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        fence: Arc<WriteFence>,
    ) -> Result<Self, kube::Error> {
        let api: Api<Lease> = Api::namespaced(client, namespace);
        fence.elect();
        let me = Leadership {
            api,
            name: name.to_string(),
            identity: identity.to_string(),
            fence,
        };
        let mut announced = false;
        loop {
            let sent = Instant::now();
            if me.try_acquire().await? {
                me.fence.renewed(sent.into_std(), RENEW_DEADLINE);
                tracing::info!(lease = %name, %identity, "acquired leadership");
                return Ok(me);
            }
            if !announced {
                tracing::info!(lease = %name, "another replica leads; standing by");
                announced = true;
            }
            tokio::time::sleep(STANDBY_POLL).await;
        }
    }

    async fn try_acquire(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let fresh = LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(LEASE_SECONDS),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        };
        match self.api.get_opt(&self.name).await? {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(fresh),
                };
                match self.api.create(&PostParams::default(), &lease).await {
                    Ok(_) => Ok(true),
                    Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                    Err(e) => Err(e),
                }
            }
            Some(mut lease) => {
                let mine = holder(&lease) == Some(self.identity.as_str());
                if !mine && holder(&lease).is_some() && !expired(&lease, now) {
                    return Ok(false);
                }
                let transitions = lease
                    .spec
                    .as_ref()
                    .and_then(|s| s.lease_transitions)
                    .unwrap_or(0);
                lease.spec = Some(LeaseSpec {
                    lease_transitions: Some(transitions + i32::from(!mine)),
                    ..fresh
                });
                // The resourceVersion in `lease` makes this a compare-and-swap.
                match self
                    .api
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await
                {
                    Ok(_) => Ok(true),
                    Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Renew until no renewal has succeeded for [`RENEW_DEADLINE`] (counted from when the last
    /// good one was sent), or the lease was taken; then return: leadership is lost.
    pub async fn keep(&self) {
        self.renew_until_lost().await;
        self.fence.close();
    }

    async fn renew_until_lost(&self) {
        let mut last_ok = Instant::now();
        let mut wait = RENEW_EVERY;
        loop {
            let deadline = last_ok + RENEW_DEADLINE;
            tokio::time::sleep_until((Instant::now() + wait).min(deadline)).await;
            let sent = Instant::now();
            if sent >= deadline {
                tracing::error!(deadline = ?RENEW_DEADLINE, "the lease was not renewed in time");
                return;
            }
            match tokio::time::timeout_at(deadline, self.renew()).await {
                Ok(Ok(true)) => {
                    self.fence.renewed(sent.into_std(), RENEW_DEADLINE);
                    last_ok = sent;
                    wait = RENEW_EVERY;
                }
                Ok(Ok(false)) => {
                    tracing::error!("the lease was taken by another replica");
                    return;
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "renewing the lease failed; retrying");
                    wait = RETRY_EVERY;
                }
                Err(_) => {
                    tracing::error!(deadline = ?RENEW_DEADLINE, "the API server did not answer the lease renewal in time");
                    return;
                }
            }
        }
    }

    async fn renew(&self) -> Result<bool, kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(false);
        };
        if holder(&lease) != Some(self.identity.as_str()) {
            return Ok(false);
        }
        if let Some(spec) = lease.spec.as_mut() {
            spec.renew_time = Some(MicroTime(Timestamp::now()));
        }
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Give the lease up so a standby takes over without waiting for it to expire.
    pub async fn release(&self) {
        if let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await
            && holder(&lease) == Some(self.identity.as_str())
        {
            if let Some(spec) = lease.spec.as_mut() {
                spec.holder_identity = None;
                spec.renew_time = None;
            }
            let _ = self
                .api
                .replace(&self.name, &PostParams::default(), &lease)
                .await;
            tracing::info!("released leadership");
        }
    }
}
