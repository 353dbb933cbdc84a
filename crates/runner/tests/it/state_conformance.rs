//! The `StateStore` conformance suite: one set of async checks every engine runs.
//!
//! Each check takes a fresh, empty store (`&dyn StateStore`); the concurrency check takes
//! several handles onto one fresh database. An engine's test module (here [`sqlite`]) only
//! provides the stores; a PostgreSQL module will call the same functions with its own.
//! Times are passed in, so leases and backoff are exercised without sleeping; only the
//! concurrency check runs on the wall clock.

use std::collections::HashMap;
use std::sync::Arc;

use model::{Outcome, Platform};
use runner::state::{
    AccountSpec, AccountState, Admission, Adoption, Backoff, Completion, Discard, Disposition,
    EventKind, Failure, Fence, Quota, StateError, StateStore, TokenBucket, UploadIntent,
    WindowQuota,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2025-01-01 00:00 UTC);
const LEASE: Duration = Duration::minutes(5);

fn spec(platform: Platform, n: usize) -> AccountSpec {
    AccountSpec {
        key: format!("{platform}:acct{n:05}"),
        platform,
        account: format!("acct{n:05}"),
        route: Some("api".into()),
        credential_ref: Some(format!("{}_TOKEN", platform.as_str().to_uppercase())),
        exports: Vec::new(),
    }
}

fn specs(platform: Platform, n: usize) -> Vec<AccountSpec> {
    (0..n).map(|i| spec(platform, i)).collect()
}

fn completion(key: &str, fence: Fence) -> Completion {
    Completion {
        // One gap: a partial capture.
        outcome: Outcome::Partial,
        bundle_id: format!("{}-f{fence}", key.replace(':', "-")),
        location: format!("file:///bundles/{key}/{fence}"),
        items: 10,
        media: 3,
        gaps: 1,
        bytes: 4096,
        tag_manifest_sha256: Some("ab".repeat(32)),
        previous_bundle: None,
    }
}

fn failure(disposition: Disposition) -> Failure {
    Failure {
        kind: "transport".into(),
        message: "connection reset".into(),
        disposition,
    }
}

fn kinds(events: &[runner::state::AuditEvent]) -> Vec<EventKind> {
    events.iter().map(|e| e.event).collect()
}

/// Claim, heartbeat, complete; the bundle is recorded and named as the previous one next time.
pub async fn claim_complete_happy_path(store: &dyn StateStore) {
    assert_eq!(
        store
            .upsert_accounts(&specs(Platform::X, 1), T0)
            .await
            .unwrap(),
        1
    );
    let claim = store
        .claim("w1", None, T0, LEASE)
        .await
        .unwrap()
        .expect("a pending account");
    assert_eq!(claim.key, "x:acct00000");
    assert_eq!(claim.platform, Platform::X);
    assert_eq!(claim.account, "acct00000");
    assert_eq!(claim.credential_ref.as_deref(), Some("X_TOKEN"));
    assert_eq!(claim.attempt, 1);
    assert_eq!(claim.fence, Fence(1));
    assert_eq!(claim.lease_until, T0 + LEASE);

    let t1 = T0 + Duration::minutes(4);
    assert_eq!(
        store
            .heartbeat(&claim.key, claim.fence, t1, LEASE)
            .await
            .unwrap(),
        t1 + LEASE
    );
    let done = completion(&claim.key, claim.fence);
    store
        .complete(&claim.key, claim.fence, &done, t1)
        .await
        .unwrap();
    // Repeating the same completion (a lost answer) is a no-op, not a second bundle.
    store
        .complete(&claim.key, claim.fence, &done, t1)
        .await
        .unwrap();
    assert!(store.claim("w1", None, t1, LEASE).await.unwrap().is_none());

    let bundles = store.bundles(&claim.key).await.unwrap();
    assert_eq!(bundles.len(), 1);
    let last = store.last_bundle(&claim.key).await.unwrap().unwrap();
    assert_eq!(last.bundle_id, done.bundle_id);
    assert_eq!(last.location, done.location);
    assert_eq!(
        (last.items, last.media, last.gaps, last.bytes),
        (10, 3, 1, 4096)
    );
    assert_eq!(last.fence, claim.fence);
    assert_eq!(last.completed_at, t1);
    assert_eq!(last.tag_manifest_sha256, done.tag_manifest_sha256);

    let report = store.report().await.unwrap();
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].state, AccountState::Partial);
    assert_eq!(
        report[0].bundle_id.as_deref(),
        Some(done.bundle_id.as_str())
    );
    assert_eq!(
        kinds(&store.events(&claim.key).await.unwrap()),
        [EventKind::Claimed, EventKind::Completed]
    );
}

/// While a lease is live, nobody else gets the account.
pub async fn no_double_claim(store: &dyn StateStore) {
    store
        .upsert_accounts(&specs(Platform::Instagram, 3), T0)
        .await
        .unwrap();
    let mut keys = Vec::new();
    for i in 0..3 {
        let c = store
            .claim(&format!("w{i}"), None, T0, LEASE)
            .await
            .unwrap()
            .unwrap();
        keys.push(c.key);
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 3, "three claims, three different accounts");
    // Just before the leases expire, nothing is claimable.
    let almost = T0 + LEASE - Duration::milliseconds(1);
    assert!(
        store
            .claim("w9", None, almost, LEASE)
            .await
            .unwrap()
            .is_none()
    );
}

/// A crashed worker's account is reclaimed with a higher fence; the stale worker's heartbeat
/// and completion are rejected and audited, and the new holder's completion is accepted.
pub async fn expired_lease_reclaimed_and_stale_worker_fenced(store: &dyn StateStore) {
    store
        .upsert_accounts(&specs(Platform::Youtube, 1), T0)
        .await
        .unwrap();
    let old = store.claim("old", None, T0, LEASE).await.unwrap().unwrap();
    let later = T0 + LEASE; // lease_until <= now: expired
    let new = store
        .claim("new", None, later, LEASE)
        .await
        .unwrap()
        .expect("expired lease reclaimed");
    assert_eq!(new.key, old.key);
    assert!(new.fence > old.fence);
    assert_eq!(
        new.attempt, 1,
        "a takeover is not a failed attempt of the account"
    );

    let err = store
        .heartbeat(&old.key, old.fence, later, LEASE)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StateError::Fenced { presented, current, .. } if presented == old.fence && current == new.fence),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let err = store
        .complete(&old.key, old.fence, &completion(&old.key, old.fence), later)
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::Fenced { .. }), "{err:?}");
    let err = store
        .fail(&old.key, old.fence, &failure(Disposition::Permanent), later)
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::Fenced { .. }), "{err:?}");
    assert!(store.bundles(&old.key).await.unwrap().is_empty());

    store
        .heartbeat(&new.key, new.fence, later, LEASE)
        .await
        .unwrap();
    store
        .complete(&new.key, new.fence, &completion(&new.key, new.fence), later)
        .await
        .unwrap();
    // After completion, even the fence of the latest claim cannot touch the account again.
    let err = store
        .heartbeat(&new.key, new.fence, later, LEASE)
        .await
        .unwrap_err();
    assert!(matches!(err, StateError::Fenced { .. }), "{err:?}");

    let bundles = store.bundles(&new.key).await.unwrap();
    assert_eq!(bundles.len(), 1);
    assert_eq!(bundles[0].fence, new.fence);

    let events = store.events(&new.key).await.unwrap();
    assert_eq!(
        kinds(&events),
        [
            EventKind::Claimed,
            EventKind::LeaseExpiredReclaimed,
            EventKind::Claimed,
            EventKind::RejectedStale,
            EventKind::RejectedStale,
            EventKind::RejectedStale,
            EventKind::Completed,
            EventKind::RejectedStale,
        ]
    );
    assert_eq!(events[0].worker.as_deref(), Some("old"));
    assert_eq!(
        events[1].worker.as_deref(),
        Some("old"),
        "the reclaim names the lost worker"
    );
    assert_eq!(events[1].fence, Some(old.fence));
    assert_eq!(events[2].worker.as_deref(), Some("new"));
    assert_eq!(events[3].fence, Some(old.fence));
    assert_eq!(events[6].fence, Some(new.fence));
}

/// fail → retry (claimable once `not_before` has come) → permanent after the last attempt.
pub async fn fail_retry_then_permanent(store: &dyn StateStore) {
    store
        .upsert_accounts(&specs(Platform::Facebook, 1), T0)
        .await
        .unwrap();
    let policy = Backoff {
        base: Duration::minutes(1),
        max_delay: Duration::hours(1),
        max_attempts: 3,
    };
    let mut now = T0;
    for attempt in 1..=3_u32 {
        let c = store
            .claim("w", None, now, LEASE)
            .await
            .unwrap()
            .expect("claimable");
        assert_eq!(c.attempt, attempt);
        let disposition = policy.disposition(c.attempt, true, now);
        store
            .fail(&c.key, c.fence, &failure(disposition), now)
            .await
            .unwrap();
        match disposition {
            Disposition::RetryAt(at) => {
                assert_eq!(at, now + Duration::minutes(1 << (attempt - 1)));
                let report = store.report().await.unwrap();
                assert_eq!(report[0].state, AccountState::Retry);
                assert_eq!(report[0].not_before, Some(at));
                assert!(
                    store
                        .claim("w", None, at - Duration::milliseconds(1), LEASE)
                        .await
                        .unwrap()
                        .is_none(),
                    "not before its time"
                );
                now = at;
            }
            Disposition::Permanent => assert_eq!(attempt, 3),
        }
    }
    let report = store.report().await.unwrap();
    assert_eq!(report[0].state, AccountState::Failed);
    assert_eq!(report[0].attempts, 3);
    assert_eq!(
        report[0].last_error.as_deref(),
        Some("transport: connection reset")
    );
    assert!(
        store
            .claim("w", None, now + Duration::days(30), LEASE)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        kinds(&store.events("facebook:acct00000").await.unwrap()),
        [
            EventKind::Claimed,
            EventKind::RetryScheduled,
            EventKind::Claimed,
            EventKind::RetryScheduled,
            EventKind::Claimed,
            EventKind::Failed,
        ]
    );
}

/// A failed account is tried afresh, from its first attempt, when its registry line changes
/// (not when the same line is fed again), or when a run asks for it (`requeue_failed`).
pub async fn failed_account_tried_afresh(store: &dyn StateStore) {
    store
        .upsert_accounts(&specs(Platform::Facebook, 1), T0)
        .await
        .unwrap();
    let now = T0;
    let c = store.claim("w", None, now, LEASE).await.unwrap().unwrap();
    store
        .fail(&c.key, c.fence, &failure(Disposition::Permanent), now)
        .await
        .unwrap();
    // The same registry again leaves it failed; its line edited (a credential fixed), it is
    // tried afresh.
    let mut line = specs(Platform::Facebook, 1);
    store.upsert_accounts(&line, now).await.unwrap();
    assert_eq!(store.report().await.unwrap()[0].state, AccountState::Failed);
    line[0].credential_ref = Some("FIXED_TOKEN".into());
    store.upsert_accounts(&line, now).await.unwrap();
    let report = store.report().await.unwrap();
    assert_eq!(report[0].state, AccountState::Pending);
    assert_eq!(report[0].attempts, 0);
    let c = store.claim("w", None, now, LEASE).await.unwrap().unwrap();
    assert_eq!(
        (c.attempt, c.credential_ref.as_deref()),
        (1, Some("FIXED_TOKEN"))
    );
    // Failed again (an outage this time, the line unchanged): `requeue_failed` puts it back,
    // for its platform only, with its attempts cleared.
    store
        .fail(&c.key, c.fence, &failure(Disposition::Permanent), now)
        .await
        .unwrap();
    let others = store
        .requeue_failed(Some(&[Platform::X]), "retry failed", now)
        .await
        .unwrap();
    assert_eq!(others, 0, "no failed X account");
    let n = store
        .requeue_failed(None, "tawthiq run --retry-failed", now)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let report = store.report().await.unwrap();
    assert_eq!(
        (report[0].state, report[0].attempts),
        (AccountState::Pending, 0)
    );
    let c = store.claim("w", None, now, LEASE).await.unwrap().unwrap();
    assert_eq!(c.attempt, 1);
    let trail = store.events(&c.key).await.unwrap();
    let requeued = trail
        .iter()
        .rev()
        .find(|e| e.event == EventKind::Requeued)
        .unwrap();
    assert_eq!(
        requeued.detail.as_deref(),
        Some("tawthiq run --retry-failed")
    );
}

/// A quota deferral waits until its time and is not counted as a failed attempt.
pub async fn defer_is_not_a_failure(store: &dyn StateStore) {
    store
        .upsert_accounts(&specs(Platform::Youtube, 1), T0)
        .await
        .unwrap();
    let c = store.claim("w", None, T0, LEASE).await.unwrap().unwrap();
    let until = T0 + Duration::hours(24);
    store
        .defer(&c.key, c.fence, until, "youtube daily units spent", T0)
        .await
        .unwrap();
    let report = store.report().await.unwrap();
    assert_eq!(report[0].state, AccountState::Deferred);
    assert_eq!(report[0].attempts, 0);
    assert_eq!(report[0].not_before, Some(until));
    assert_eq!(store.summary().await.unwrap().counts().deferred, 1);
    assert!(
        store
            .claim("w", None, until - Duration::seconds(1), LEASE)
            .await
            .unwrap()
            .is_none()
    );
    let again = store.claim("w", None, until, LEASE).await.unwrap().unwrap();
    assert_eq!(again.attempt, 1);
    assert!(again.fence > c.fence);
    let events = store.events(&c.key).await.unwrap();
    assert_eq!(
        kinds(&events),
        [EventKind::Claimed, EventKind::Deferred, EventKind::Claimed]
    );
    assert!(events[1].detail.as_deref().unwrap().contains("daily units"));
}

/// At most `cap` live leases per platform; other platforms and expired leases do not count.
pub async fn platform_cap(store: &dyn StateStore) {
    store
        .upsert_accounts(&specs(Platform::X, 5), T0)
        .await
        .unwrap();
    store
        .upsert_accounts(&specs(Platform::Snapchat, 1), T0)
        .await
        .unwrap();
    store
        .set_platform_cap(Platform::X, Some(2), T0)
        .await
        .unwrap();
    let x = [Platform::X];
    let a = store
        .claim("a", Some(&x), T0, LEASE)
        .await
        .unwrap()
        .unwrap();
    let _b = store
        .claim("b", Some(&x), T0, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .claim("c", Some(&x), T0, LEASE)
            .await
            .unwrap()
            .is_none(),
        "x is at its cap"
    );
    let other = store.claim("c", None, T0, LEASE).await.unwrap().unwrap();
    assert_eq!(
        other.platform,
        Platform::Snapchat,
        "a capped platform does not stop others"
    );
    // Finishing one frees a slot.
    store
        .complete(&a.key, a.fence, &completion(&a.key, a.fence), T0)
        .await
        .unwrap();
    let c = store
        .claim("c", Some(&x), T0, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.platform, Platform::X);
    assert!(
        store
            .claim("d", Some(&x), T0, LEASE)
            .await
            .unwrap()
            .is_none()
    );
    // Expired leases do not hold slots.
    let later = T0 + LEASE;
    assert!(
        store
            .claim("d", Some(&x), later, LEASE)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .summary()
            .await
            .unwrap()
            .platform(Platform::X)
            .unwrap()
            .max_concurrent,
        Some(2)
    );
    // Lifting the cap.
    store
        .set_platform_cap(Platform::X, None, later)
        .await
        .unwrap();
    assert!(
        store
            .claim("e", Some(&x), later, LEASE)
            .await
            .unwrap()
            .is_some()
    );
}

/// A blocked platform is skipped by every claim until its block ends; blocks only extend.
pub async fn blocked_platform_skipped(store: &dyn StateStore) {
    store
        .upsert_accounts(&specs(Platform::X, 2), T0)
        .await
        .unwrap();
    store
        .upsert_accounts(&specs(Platform::Instagram, 1), T0)
        .await
        .unwrap();
    let until = T0 + Duration::minutes(15);
    store
        .block_platform(Platform::X, until, "429, x-rate-limit-reset", T0)
        .await
        .unwrap();
    // An earlier reset does not shorten the block.
    store
        .block_platform(Platform::X, T0 + Duration::minutes(1), "429", T0)
        .await
        .unwrap();
    assert_eq!(
        store.platform_blocked_until(Platform::X, T0).await.unwrap(),
        Some(until)
    );
    assert_eq!(
        store
            .platform_blocked_until(Platform::Instagram, T0)
            .await
            .unwrap(),
        None
    );
    let c = store.claim("w", None, T0, LEASE).await.unwrap().unwrap();
    assert_eq!(c.platform, Platform::Instagram);
    assert!(store.claim("w", None, T0, LEASE).await.unwrap().is_none());
    store
        .complete(&c.key, c.fence, &completion(&c.key, c.fence), T0)
        .await
        .unwrap();
    assert!(
        store
            .claim("w", None, until - Duration::milliseconds(1), LEASE)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .platform_blocked_until(Platform::X, until)
            .await
            .unwrap(),
        None
    );
    let x = store.claim("w", None, until, LEASE).await.unwrap().unwrap();
    assert_eq!(x.platform, Platform::X);
}

/// Feeding the registry twice adds nothing and changes no existing state.
pub async fn upsert_idempotent(store: &dyn StateStore) {
    let accounts = specs(Platform::Snapchat, 3);
    assert_eq!(store.upsert_accounts(&accounts, T0).await.unwrap(), 3);
    let c = store.claim("w", None, T0, LEASE).await.unwrap().unwrap();
    assert!(c.exports.is_empty());
    // The registry is edited: the held account gets another credential and export files, and
    // one account is added.
    let mut edited = accounts.clone();
    let held_at = edited.iter().position(|a| a.key == c.key).unwrap();
    edited[held_at].credential_ref = Some("NEW_TOKEN".into());
    edited[held_at].route = Some("export".into());
    edited[held_at].exports = vec!["/exports/a.zip".into(), "/exports/مدرسة.zip".into()];
    edited.push(spec(Platform::Snapchat, 3));
    assert_eq!(store.upsert_accounts(&edited, T0).await.unwrap(), 1);
    assert_eq!(store.upsert_accounts(&edited, T0).await.unwrap(), 0);
    let report = store.report().await.unwrap();
    assert_eq!(report.len(), 4);
    let held = report.iter().find(|r| r.key == c.key).unwrap();
    // The lease, fence and state survived both feeds.
    assert_eq!(held.state, AccountState::Running);
    let trail = store.events(&c.key).await.unwrap();
    let changes: Vec<_> = trail
        .iter()
        .filter(|e| e.event == EventKind::RegistryChanged)
        .collect();
    assert_eq!(
        changes.len(),
        1,
        "one change audited, the repeat is a no-op"
    );
    assert!(changes[0].detail.as_deref().unwrap().contains("NEW_TOKEN"));
    store
        .complete(&c.key, c.fence, &completion(&c.key, c.fence), T0)
        .await
        .unwrap();
    assert_eq!(store.upsert_accounts(&[], T0).await.unwrap(), 0);
    // The next claim of that account carries what the registry now says.
    store
        .requeue_done(None, "again", T0 + Duration::minutes(1))
        .await
        .unwrap();
    let mut now = T0 + Duration::minutes(1);
    loop {
        let next = store.claim("w", None, now, LEASE).await.unwrap().unwrap();
        if next.key == c.key {
            assert_eq!(next.credential_ref.as_deref(), Some("NEW_TOKEN"));
            assert_eq!(next.route.as_deref(), Some("export"));
            assert_eq!(next.exports, ["/exports/a.zip", "/exports/مدرسة.zip"]);
            break;
        }
        now += Duration::seconds(1);
    }
}

/// The audit trail lists an account's transitions in order, with times, workers and fences.
pub async fn audit_trail_order(store: &dyn StateStore) {
    store
        .upsert_accounts(&specs(Platform::X, 1), T0)
        .await
        .unwrap();
    let key = "x:acct00000";
    let mut now = T0;
    let c1 = store.claim("w1", None, now, LEASE).await.unwrap().unwrap();
    now += Duration::minutes(1);
    store
        .fail(
            key,
            c1.fence,
            &failure(Disposition::RetryAt(now + Duration::minutes(1))),
            now,
        )
        .await
        .unwrap();
    now += Duration::minutes(1);
    let c2 = store.claim("w2", None, now, LEASE).await.unwrap().unwrap();
    now += Duration::minutes(1);
    store
        .defer(key, c2.fence, now + Duration::minutes(1), "quota", now)
        .await
        .unwrap();
    now += Duration::minutes(1);
    let c3 = store.claim("w3", None, now, LEASE).await.unwrap().unwrap();
    now += Duration::minutes(1);
    let mut done = completion(key, c3.fence);
    done.previous_bundle = Some("x-acct00000-20241201T000000Z".into());
    store.complete(key, c3.fence, &done, now).await.unwrap();

    let events = store.events(key).await.unwrap();
    assert_eq!(
        kinds(&events),
        [
            EventKind::Claimed,
            EventKind::RetryScheduled,
            EventKind::Claimed,
            EventKind::Deferred,
            EventKind::Claimed,
            EventKind::Completed,
        ]
    );
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    assert!(events.windows(2).all(|w| w[0].at < w[1].at));
    assert_eq!(events[0].at, T0);
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event == EventKind::Claimed)
            .map(|e| e.worker.as_deref().unwrap())
            .collect::<Vec<_>>(),
        ["w1", "w2", "w3"]
    );
    assert_eq!(
        events.iter().map(|e| e.fence.unwrap()).collect::<Vec<_>>(),
        [Fence(1), Fence(1), Fence(2), Fence(2), Fence(3), Fence(3)]
    );
    assert!(events.iter().all(|e| e.key.as_deref() == Some(key)));
    assert!(events[5].detail.as_deref().unwrap().contains("previous"));
    assert_eq!(
        store
            .last_bundle(key)
            .await
            .unwrap()
            .unwrap()
            .previous_bundle
            .as_deref(),
        Some("x-acct00000-20241201T000000Z")
    );
}

/// `summary` counts per platform and state with captured totals; `report` has one row per
/// account with its bundle, figures, attempts and last error.
#[allow(clippy::too_many_lines)] // one scenario, checked figure by figure
pub async fn summary_and_report(store: &dyn StateStore) {
    store
        .upsert_accounts(&specs(Platform::X, 6), T0)
        .await
        .unwrap();
    store
        .upsert_accounts(&specs(Platform::Youtube, 2), T0)
        .await
        .unwrap();
    let x = [Platform::X];
    // x: 2 done, 1 retry, 1 failed, 1 deferred, 1 running... and youtube: 2 pending.
    let mut claims = Vec::new();
    for i in 0..6 {
        claims.push(
            store
                .claim(&format!("w{i}"), Some(&x), T0, LEASE)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    for c in &claims[0..2] {
        store
            .complete(&c.key, c.fence, &completion(&c.key, c.fence), T0)
            .await
            .unwrap();
    }
    store
        .fail(
            &claims[2].key,
            claims[2].fence,
            &failure(Disposition::RetryAt(T0 + Duration::hours(1))),
            T0,
        )
        .await
        .unwrap();
    store
        .fail(
            &claims[3].key,
            claims[3].fence,
            &Failure {
                kind: "not_found".into(),
                message: "account deleted".into(),
                disposition: Disposition::Permanent,
            },
            T0,
        )
        .await
        .unwrap();
    store
        .defer(
            &claims[4].key,
            claims[4].fence,
            T0 + Duration::hours(2),
            "quota",
            T0,
        )
        .await
        .unwrap();

    let summary = store.summary().await.unwrap();
    assert_eq!(
        summary
            .platforms
            .iter()
            .map(|p| p.platform)
            .collect::<Vec<_>>(),
        [Platform::X, Platform::Youtube]
    );
    let xs = summary.platform(Platform::X).unwrap();
    assert_eq!(
        (
            xs.counts.pending,
            xs.counts.running,
            xs.counts.retry,
            xs.counts.deferred,
            xs.counts.partial,
            xs.counts.failed
        ),
        (0, 1, 1, 1, 2, 1)
    );
    assert_eq!((xs.items, xs.media, xs.bytes), (20, 6, 8192));
    let yt = summary.platform(Platform::Youtube).unwrap();
    assert_eq!(yt.counts.pending, 2);
    assert_eq!(yt.counts.total(), 2);
    assert_eq!(summary.counts().total(), 8);

    let report = store.report().await.unwrap();
    assert_eq!(report.len(), 8);
    assert!(report.windows(2).all(|w| w[0].key < w[1].key));
    let row = |key: &str| report.iter().find(|r| r.key == key).unwrap();
    let done = row(&claims[0].key);
    assert_eq!(done.state, AccountState::Partial);
    assert_eq!(
        done.bundle_id.as_deref(),
        Some(
            completion(&claims[0].key, claims[0].fence)
                .bundle_id
                .as_str()
        )
    );
    assert_eq!((done.items, done.media, done.gaps), (10, 3, 1));
    assert_eq!(done.last_error, None);
    let failed = row(&claims[3].key);
    assert_eq!(failed.state, AccountState::Failed);
    assert_eq!(failed.attempts, 1);
    assert_eq!(
        failed.last_error.as_deref(),
        Some("not_found: account deleted")
    );
    assert_eq!(failed.bundle_id, None);
    assert_eq!(row(&claims[5].key).state, AccountState::Running);
}

/// Unknown keys are reported as such, not as fencing errors.
pub async fn unknown_account(store: &dyn StateStore) {
    let err = store
        .heartbeat("x:nobody", Fence(1), T0, LEASE)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StateError::UnknownAccount { ref key } if key == "x:nobody"),
        "{err:?}"
    );
    assert!(store.events("x:nobody").await.unwrap().is_empty());
    assert!(store.last_bundle("x:nobody").await.unwrap().is_none());
}

/// Each outcome is the account's state of its own (never one `done`), the bundle records it, a
/// completion cannot record a failure, and `requeue_done` takes back every recorded outcome.
async fn outcomes_are_states(store: &dyn StateStore) {
    let t0 = OffsetDateTime::now_utc();
    store
        .upsert_accounts(&specs(Platform::X, 4), t0)
        .await
        .unwrap();
    let mut keys = Vec::new();
    for outcome in [Outcome::Complete, Outcome::Partial, Outcome::Unavailable] {
        let claim = store.claim("w1", None, t0, LEASE).await.unwrap().unwrap();
        let mut done = completion(&claim.key, claim.fence);
        done.outcome = outcome;
        store
            .complete(&claim.key, claim.fence, &done, t0)
            .await
            .unwrap();
        let bundle = store.last_bundle(&claim.key).await.unwrap().unwrap();
        assert_eq!(bundle.outcome, Some(outcome));
        keys.push((claim.key.clone(), outcome));
    }
    let claim = store.claim("w1", None, t0, LEASE).await.unwrap().unwrap();
    let mut failed = completion(&claim.key, claim.fence);
    failed.outcome = Outcome::Failed;
    assert!(
        store
            .complete(&claim.key, claim.fence, &failed, t0)
            .await
            .is_err(),
        "a completion never records a failure"
    );
    let report = store.report().await.unwrap();
    for (key, outcome) in &keys {
        let row = report.iter().find(|r| &r.key == key).unwrap();
        assert_eq!(row.state, AccountState::of_outcome(*outcome));
        assert_eq!(row.state.as_str(), outcome.as_str());
    }
    let counts = store.summary().await.unwrap().counts();
    assert_eq!(
        (
            counts.complete,
            counts.partial,
            counts.unavailable,
            counts.running
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(counts.recorded(), 3);
    let n = store.requeue_done(None, "again", t0).await.unwrap();
    assert_eq!(
        n, 3,
        "complete, partial and unavailable accounts are all captured again"
    );
    assert_eq!(store.summary().await.unwrap().counts().pending, 3);
}

fn granted(a: &Admission) -> bool {
    *a == Admission::Granted
}

/// A shared token bucket: the burst, then the rate; a window quota resets at its boundary;
/// nothing is taken while waiting.
pub async fn quota_bucket_and_window(store: &dyn StateStore) {
    // No quota: always granted.
    assert!(granted(
        &store.take_quota(Platform::X, 1, T0).await.unwrap()
    ));

    let bucket = Quota {
        bucket: Some(TokenBucket {
            per_second: 4.0,
            burst: 2,
        }),
        window: None,
    };
    store
        .set_platform_quota(Platform::X, &bucket, T0)
        .await
        .unwrap();
    assert!(granted(
        &store.take_quota(Platform::X, 1, T0).await.unwrap()
    ));
    assert!(granted(
        &store.take_quota(Platform::X, 1, T0).await.unwrap()
    ));
    match store.take_quota(Platform::X, 1, T0).await.unwrap() {
        Admission::Wait { until, .. } => assert_eq!(until, T0 + Duration::milliseconds(250)),
        Admission::Granted => panic!("bucket overspent"),
    }
    let t1 = T0 + Duration::milliseconds(250);
    assert!(granted(
        &store.take_quota(Platform::X, 1, t1).await.unwrap()
    ));
    assert!(!granted(
        &store.take_quota(Platform::X, 1, t1).await.unwrap()
    ));
    // Other platforms are not affected.
    assert!(granted(
        &store.take_quota(Platform::Youtube, 1, t1).await.unwrap()
    ));

    let daily = Quota {
        bucket: None,
        window: Some(WindowQuota {
            length: Duration::hours(24),
            limit: 10_000,
            offset: Duration::hours(8),
        }),
    };
    store
        .set_platform_quota(Platform::Youtube, &daily, T0)
        .await
        .unwrap();
    assert!(granted(
        &store
            .take_quota(Platform::Youtube, 9_000, T0)
            .await
            .unwrap()
    ));
    match store
        .take_quota(Platform::Youtube, 1_001, T0)
        .await
        .unwrap()
    {
        Admission::Wait { until, reason } => {
            assert_eq!(until, datetime!(2025-01-01 08:00 UTC));
            assert!(reason.contains("10000"), "{reason}");
        }
        Admission::Granted => panic!("window overspent"),
    }
    // Re-setting the same window keeps its usage (a restarted run does not get a new day).
    store
        .set_platform_quota(Platform::Youtube, &daily, T0)
        .await
        .unwrap();
    assert!(!granted(
        &store
            .take_quota(Platform::Youtube, 1_001, T0)
            .await
            .unwrap()
    ));
    assert!(granted(
        &store
            .take_quota(Platform::Youtube, 1_000, T0)
            .await
            .unwrap()
    ));
    assert!(granted(
        &store
            .take_quota(Platform::Youtube, 10_000, datetime!(2025-01-01 08:00 UTC))
            .await
            .unwrap()
    ));
    // Removing the quota.
    store
        .set_platform_quota(Platform::Youtube, &Quota::default(), T0)
        .await
        .unwrap();
    assert!(granted(
        &store
            .take_quota(Platform::Youtube, 50_000, T0)
            .await
            .unwrap()
    ));
}

/// A block (a 429 with a reset) holds every taker until it ends, and a quota set later does
/// not lift it.
pub async fn quota_respects_block(store: &dyn StateStore) {
    let until = T0 + Duration::minutes(15);
    store
        .block_platform(Platform::X, until, "429 from api.x.com", T0)
        .await
        .unwrap();
    match store.take_quota(Platform::X, 1, T0).await.unwrap() {
        Admission::Wait { until: u, reason } => {
            assert_eq!(u, until);
            assert!(reason.contains("429 from api.x.com"), "{reason}");
        }
        Admission::Granted => panic!("granted while blocked"),
    }
    store
        .set_platform_quota(
            Platform::X,
            &Quota {
                bucket: Some(TokenBucket {
                    per_second: 1.0,
                    burst: 1,
                }),
                window: None,
            },
            T0,
        )
        .await
        .unwrap();
    assert!(!granted(
        &store.take_quota(Platform::X, 1, T0).await.unwrap()
    ));
    assert_eq!(
        store.platform_blocked_until(Platform::X, T0).await.unwrap(),
        Some(until)
    );
    assert!(granted(
        &store.take_quota(Platform::X, 1, until).await.unwrap()
    ));
}

/// A new pass: done accounts go back to pending, keep their bundles, and the next completion
/// names the previous bundle.
pub async fn requeue_done_starts_a_new_pass(store: &dyn StateStore) {
    store
        .upsert_accounts(&specs(Platform::X, 2), T0)
        .await
        .unwrap();
    store
        .upsert_accounts(&specs(Platform::Youtube, 1), T0)
        .await
        .unwrap();
    while let Some(c) = store.claim("w", None, T0, LEASE).await.unwrap() {
        store
            .complete(&c.key, c.fence, &completion(&c.key, c.fence), T0)
            .await
            .unwrap();
    }
    let t1 = T0 + Duration::days(7);
    let n = store
        .requeue_done(Some(&[Platform::X]), "second pass", t1)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let counts = store.summary().await.unwrap().counts();
    assert_eq!((counts.pending, counts.partial), (2, 1));
    let c = store.claim("w", None, t1, LEASE).await.unwrap().unwrap();
    assert_eq!(c.platform, Platform::X);
    let previous = store.last_bundle(&c.key).await.unwrap().unwrap();
    let mut second = completion(&c.key, c.fence);
    second.previous_bundle = Some(previous.bundle_id.clone());
    store.complete(&c.key, c.fence, &second, t1).await.unwrap();
    let bundles = store.bundles(&c.key).await.unwrap();
    assert_eq!(bundles.len(), 2);
    assert_eq!(bundles[1].previous_bundle, Some(previous.bundle_id));
    let kinds = kinds(&store.events(&c.key).await.unwrap());
    assert_eq!(
        kinds,
        vec![
            EventKind::Claimed,
            EventKind::Completed,
            EventKind::Requeued,
            EventKind::Claimed,
            EventKind::Completed
        ]
    );
}

fn intent(worker: &str, c: &Completion) -> UploadIntent {
    UploadIntent {
        worker: worker.into(),
        object: format!("{}.tar.zst", c.bundle_id),
        completion: c.clone(),
    }
}

/// An upload intent is recorded under the claim, listed with the account as it is, refused
/// from a stale claim, and closed by the completion.
pub async fn upload_intent_closed_by_completion(store: &dyn StateStore) {
    store
        .upsert_accounts(&specs(Platform::X, 1), T0)
        .await
        .unwrap();
    let c = store.claim("w1", None, T0, LEASE).await.unwrap().unwrap();
    let done = completion(&c.key, c.fence);
    store
        .intend_upload(&c.key, c.fence, &intent("w1", &done), T0)
        .await
        .unwrap();
    let open = store.open_uploads().await.unwrap();
    assert_eq!(open.len(), 1);
    let o = &open[0];
    assert_eq!((o.key.as_str(), o.fence), (c.key.as_str(), c.fence));
    assert_eq!(o.intent, intent("w1", &done));
    assert!(!o.discarding);
    assert_eq!(o.created_at, T0);
    assert_eq!(
        (o.account_state, o.account_fence, o.holder.as_deref()),
        (AccountState::Running, c.fence, Some("w1"))
    );
    assert_eq!(o.lease_until, Some(T0 + LEASE));
    let leases = store.leases().await.unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!(
        (
            leases[0].worker.as_deref(),
            leases[0].fence,
            leases[0].lease_until
        ),
        (Some("w1"), c.fence, Some(T0 + LEASE))
    );

    let stale = store
        .intend_upload(&c.key, Fence(c.fence.0 + 7), &intent("w9", &done), T0)
        .await
        .unwrap_err();
    assert!(matches!(stale, StateError::Fenced { .. }), "{stale}");

    store.complete(&c.key, c.fence, &done, T0).await.unwrap();
    assert!(store.open_uploads().await.unwrap().is_empty());
    assert!(store.leases().await.unwrap().is_empty());
}

/// A worker died between its upload and its completion: the intent's bundle is recorded as a
/// claim of its own (fencing out the dead claim), once.
pub async fn adopt_records_a_dead_claims_upload(store: &dyn StateStore) {
    store
        .upsert_accounts(&specs(Platform::X, 1), T0)
        .await
        .unwrap();
    let c = store.claim("w1", None, T0, LEASE).await.unwrap().unwrap();
    let done = completion(&c.key, c.fence);
    store
        .intend_upload(&c.key, c.fence, &intent("w1", &done), T0)
        .await
        .unwrap();
    let t1 = T0 + Duration::minutes(1);
    assert_eq!(
        store
            .adopt_upload(&c.key, c.fence, "reconciler", t1)
            .await
            .unwrap(),
        Adoption::Recorded
    );
    let bundles = store.bundles(&c.key).await.unwrap();
    assert_eq!(bundles.len(), 1);
    assert_eq!(bundles[0].bundle_id, done.bundle_id);
    assert_eq!(
        bundles[0].fence,
        Fence(c.fence.0 + 1),
        "recorded as a claim of its own"
    );
    assert_eq!(bundles[0].completed_at, t1);
    assert_eq!(
        store.report().await.unwrap()[0].state,
        AccountState::Partial
    );
    assert!(store.open_uploads().await.unwrap().is_empty());
    assert_eq!(
        kinds(&store.events(&c.key).await.unwrap()),
        [
            EventKind::Claimed,
            EventKind::UploadRecovered,
            EventKind::Completed
        ]
    );
    // The dead claim's own completion is fenced out; the intent is gone for everyone.
    let late = store
        .complete(&c.key, c.fence, &done, t1)
        .await
        .unwrap_err();
    assert!(matches!(late, StateError::Fenced { .. }), "{late}");
    assert_eq!(
        store
            .adopt_upload(&c.key, c.fence, "reconciler", t1)
            .await
            .unwrap(),
        Adoption::Gone
    );
    assert_eq!(
        store
            .discard_upload(&c.key, c.fence, "late", t1)
            .await
            .unwrap(),
        Discard::Gone
    );
    assert_eq!(store.bundles(&c.key).await.unwrap().len(), 1);
}

/// An intent whose account recorded another bundle since is not recorded (it would fork the
/// chain): it is discarded, and a discarding intent can never be recorded.
pub async fn adopt_refuses_a_fork(store: &dyn StateStore) {
    store
        .upsert_accounts(&specs(Platform::X, 1), T0)
        .await
        .unwrap();
    let a = store.claim("w1", None, T0, LEASE).await.unwrap().unwrap();
    let first = completion(&a.key, a.fence);
    store
        .intend_upload(&a.key, a.fence, &intent("w1", &first), T0)
        .await
        .unwrap();
    // w1 dies; its lease ends; w2 archives the account and records its bundle.
    let t1 = T0 + LEASE + Duration::seconds(1);
    let b = store.claim("w2", None, t1, LEASE).await.unwrap().unwrap();
    let second = completion(&b.key, b.fence);
    store
        .intend_upload(&b.key, b.fence, &intent("w2", &second), t1)
        .await
        .unwrap();
    store.complete(&b.key, b.fence, &second, t1).await.unwrap();
    let open = store.open_uploads().await.unwrap();
    assert_eq!(open.len(), 1, "only the dead claim's intent is left");
    assert_eq!(
        (open[0].fence, open[0].account_state, open[0].account_fence),
        (a.fence, AccountState::Partial, b.fence)
    );

    assert_eq!(
        store
            .adopt_upload(&a.key, a.fence, "reconciler", t1)
            .await
            .unwrap(),
        Adoption::Superseded {
            latest: Some(second.bundle_id.clone())
        }
    );
    assert_eq!(
        store
            .discard_upload(&a.key, a.fence, "a later bundle was recorded", t1)
            .await
            .unwrap(),
        Discard::Proceed
    );
    // Repeating the decision (a crash before the object was removed) changes nothing.
    assert_eq!(
        store
            .discard_upload(&a.key, a.fence, "again", t1)
            .await
            .unwrap(),
        Discard::Proceed
    );
    let open = store.open_uploads().await.unwrap();
    assert!(open[0].discarding);
    assert_eq!(
        store
            .adopt_upload(&a.key, a.fence, "reconciler", t1)
            .await
            .unwrap(),
        Adoption::Gone
    );
    store.close_upload(&a.key, a.fence).await.unwrap();
    assert!(store.open_uploads().await.unwrap().is_empty());
    let bundles = store.bundles(&a.key).await.unwrap();
    assert_eq!(bundles.len(), 1);
    assert_eq!(bundles[0].bundle_id, second.bundle_id);
    let kinds = kinds(&store.events(&a.key).await.unwrap());
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == EventKind::UploadDiscarded)
            .count(),
        1,
        "{kinds:?}"
    );
}

/// An intent whose bundle was recorded (under another claim that made the same bundle) is
/// never discarded: its object is the recorded bundle.
pub async fn discard_keeps_a_recorded_bundle(store: &dyn StateStore) {
    store
        .upsert_accounts(&specs(Platform::X, 1), T0)
        .await
        .unwrap();
    let a = store.claim("w1", None, T0, LEASE).await.unwrap().unwrap();
    let same = completion(&a.key, Fence(99));
    store
        .intend_upload(&a.key, a.fence, &intent("w1", &same), T0)
        .await
        .unwrap();
    let t1 = T0 + LEASE + Duration::seconds(1);
    let b = store.claim("w2", None, t1, LEASE).await.unwrap().unwrap();
    store.complete(&b.key, b.fence, &same, t1).await.unwrap();
    assert_eq!(
        store
            .discard_upload(&a.key, a.fence, "stale", t1)
            .await
            .unwrap(),
        Discard::Recorded
    );
    assert!(store.open_uploads().await.unwrap().is_empty());
}

/// `--again` passes: a pass requeues what was done before it; continued, it requeues nothing
/// done during it; drained, it closes, and the next `--again` opens a new one.
#[allow(clippy::too_many_lines)] // one pass's life, start to finish
pub async fn passes_resume_and_close(store: &dyn StateStore) {
    store
        .upsert_accounts(&specs(Platform::X, 3), T0)
        .await
        .unwrap();
    store
        .upsert_accounts(&specs(Platform::Youtube, 1), T0)
        .await
        .unwrap();
    let drain = |at: OffsetDateTime, n: usize| async move {
        for _ in 0..n {
            let c = store
                .claim("w", Some(&[Platform::X]), at, LEASE)
                .await
                .unwrap()
                .expect("an account to claim");
            let mut done = completion(&c.key, c.fence);
            done.previous_bundle = store
                .last_bundle(&c.key)
                .await
                .unwrap()
                .map(|b| b.bundle_id);
            store.complete(&c.key, c.fence, &done, at).await.unwrap();
        }
    };
    drain(T0, 3).await;
    let x = Some(&[Platform::X][..]);

    let t1 = T0 + Duration::days(1);
    let pass = store.begin_pass(x, "again", t1).await.unwrap();
    assert_eq!(pass.requeued, 3);
    assert_eq!(pass.passes.len(), 1);
    assert_eq!(
        (
            pass.passes[0].platform,
            pass.passes[0].started_at,
            pass.passes[0].resumed
        ),
        (Platform::X, t1, false)
    );
    // One account is archived; the run is interrupted.
    let t2 = t1 + Duration::minutes(1);
    drain(t2, 1).await;
    let counts = store
        .summary()
        .await
        .unwrap()
        .platform(Platform::X)
        .unwrap()
        .counts;
    assert_eq!((counts.partial, counts.pending), (1, 2));
    assert!(store.close_drained_passes(t2).await.unwrap().is_empty());

    // `--again` again: the same pass goes on, the account done in it stays done.
    let t3 = t2 + Duration::minutes(1);
    let pass = store.begin_pass(x, "again", t3).await.unwrap();
    assert_eq!(pass.requeued, 0);
    assert_eq!(
        (pass.passes[0].started_at, pass.passes[0].resumed),
        (t1, true)
    );
    let counts = store
        .summary()
        .await
        .unwrap()
        .platform(Platform::X)
        .unwrap()
        .counts;
    assert_eq!((counts.partial, counts.pending), (1, 2));

    let t4 = t3 + Duration::minutes(1);
    drain(t4, 2).await;
    assert_eq!(store.close_drained_passes(t4).await.unwrap(), [Platform::X]);
    assert!(store.close_drained_passes(t4).await.unwrap().is_empty());
    for key in ["x:acct00000", "x:acct00001", "x:acct00002"] {
        assert_eq!(
            store.bundles(key).await.unwrap().len(),
            2,
            "{key}: archived once per pass"
        );
    }

    // A finished pass is never continued, even when nobody closed it.
    let t5 = t4 + Duration::days(1);
    let pass = store.begin_pass(x, "again", t5).await.unwrap();
    assert_eq!((pass.requeued, pass.passes[0].resumed), (3, false));
    drain(t5, 3).await;
    let t6 = t5 + Duration::days(1);
    let pass = store.begin_pass(x, "again", t6).await.unwrap();
    assert_eq!(
        (
            pass.requeued,
            pass.passes[0].started_at,
            pass.passes[0].resumed
        ),
        (3, t6, false)
    );
    // Other platforms were never touched.
    let yt = store
        .summary()
        .await
        .unwrap()
        .platform(Platform::Youtube)
        .unwrap()
        .counts;
    assert_eq!(yt.pending, 1);
    let kinds = kinds(&store.events("x:acct00000").await.unwrap());
    assert_eq!(
        kinds.iter().filter(|k| **k == EventKind::Requeued).count(),
        3,
        "{kinds:?}"
    );
}

/// `next_due` says when an idle worker should look again, and `None` once nothing is left.
pub async fn next_due_reports_what_waits(store: &dyn StateStore) {
    assert_eq!(store.next_due(None, T0).await.unwrap(), None, "empty store");
    store
        .upsert_accounts(&specs(Platform::X, 2), T0)
        .await
        .unwrap();
    let due = store.next_due(None, T0).await.unwrap().unwrap();
    assert!(due <= T0, "pending accounts are due now: {due}");
    assert_eq!(
        store
            .next_due(Some(&[Platform::Youtube]), T0)
            .await
            .unwrap(),
        None,
        "nothing for youtube"
    );

    let a = store.claim("w", None, T0, LEASE).await.unwrap().unwrap();
    let b = store.claim("w", None, T0, LEASE).await.unwrap().unwrap();
    // Both running: due when the first lease ends.
    assert_eq!(store.next_due(None, T0).await.unwrap(), Some(T0 + LEASE));
    store
        .complete(&a.key, a.fence, &completion(&a.key, a.fence), T0)
        .await
        .unwrap();
    let retry_at = T0 + Duration::hours(1);
    store
        .fail(
            &b.key,
            b.fence,
            &failure(Disposition::RetryAt(retry_at)),
            T0,
        )
        .await
        .unwrap();
    assert_eq!(store.next_due(None, T0).await.unwrap(), Some(retry_at));
    // A block past the retry time holds it longer.
    let blocked = T0 + Duration::hours(2);
    store
        .block_platform(Platform::X, blocked, "429", T0)
        .await
        .unwrap();
    assert_eq!(store.next_due(None, T0).await.unwrap(), Some(blocked));

    let b = store
        .claim("w", None, blocked, LEASE)
        .await
        .unwrap()
        .unwrap();
    store
        .fail(&b.key, b.fence, &failure(Disposition::Permanent), blocked)
        .await
        .unwrap();
    assert_eq!(
        store.next_due(None, blocked).await.unwrap(),
        None,
        "done and failed accounts wait for nothing"
    );
}

/// `handles` are independent handles (own connections) onto one fresh database: as many
/// workers as handles drain `accounts` accounts concurrently; every account ends with exactly
/// one bundle, and no worker sees an error.
pub async fn concurrent_drain(handles: Vec<Arc<dyn StateStore>>, accounts: usize) {
    let all: Vec<AccountSpec> = (0..accounts)
        .map(|i| spec(Platform::ALL[i % Platform::ALL.len()], i))
        .collect();
    assert_eq!(
        handles[0]
            .upsert_accounts(&all, OffsetDateTime::now_utc())
            .await
            .unwrap(),
        accounts as u64
    );
    let mut tasks = Vec::new();
    for (i, store) in handles.iter().enumerate() {
        let store = Arc::clone(store);
        tasks.push(tokio::spawn(async move {
            let worker = format!("worker-{i}");
            let mut done = Vec::new();
            while let Some(c) = store
                .claim(
                    &worker,
                    None,
                    OffsetDateTime::now_utc(),
                    Duration::minutes(10),
                )
                .await
                .unwrap_or_else(|e| panic!("{worker} claim: {e}"))
            {
                store
                    .complete(
                        &c.key,
                        c.fence,
                        &completion(&c.key, c.fence),
                        OffsetDateTime::now_utc(),
                    )
                    .await
                    .unwrap_or_else(|e| panic!("{worker} complete {}: {e}", c.key));
                done.push(c.key);
            }
            done
        }));
    }
    let mut per_key: HashMap<String, usize> = HashMap::new();
    let mut busy_workers = 0;
    for task in tasks {
        let done = task.await.unwrap();
        if !done.is_empty() {
            busy_workers += 1;
        }
        for key in done {
            *per_key.entry(key).or_default() += 1;
        }
    }
    assert_eq!(per_key.len(), accounts, "every account completed");
    assert!(
        per_key.values().all(|&n| n == 1),
        "no account completed twice"
    );
    assert!(busy_workers > 1, "the work was shared");

    let store = &handles[0];
    let counts = store.summary().await.unwrap().counts();
    assert_eq!(counts.partial, accounts as u64);
    assert_eq!(counts.total(), accounts as u64);
    for spec in &all {
        let bundles = store.bundles(&spec.key).await.unwrap();
        assert_eq!(bundles.len(), 1, "{}", spec.key);
        assert_eq!(bundles[0].fence, Fence(1), "{} claimed once", spec.key);
    }
}

/// The SQLite engine on a temporary file.
mod sqlite {
    use std::path::Path;
    use std::sync::Arc;

    use model::Outcome;
    use runner::state::{AccountState, SqliteOptions, SqliteStateStore, StateStore};
    use time::OffsetDateTime;

    async fn open(path: &Path) -> SqliteStateStore {
        SqliteStateStore::open(path, SqliteOptions::default())
            .await
            .unwrap()
    }

    macro_rules! conformance {
        ($($check:ident),* $(,)?) => {$(
            #[tokio::test]
            async fn $check() {
                let dir = tempfile::tempdir().unwrap();
                let store = open(&dir.path().join("state.db")).await;
                super::$check(&store).await;
                store.close().await;
            }
        )*};
    }

    conformance!(
        claim_complete_happy_path,
        no_double_claim,
        expired_lease_reclaimed_and_stale_worker_fenced,
        fail_retry_then_permanent,
        defer_is_not_a_failure,
        platform_cap,
        blocked_platform_skipped,
        upsert_idempotent,
        audit_trail_order,
        summary_and_report,
        unknown_account,
        quota_bucket_and_window,
        quota_respects_block,
        next_due_reports_what_waits,
        requeue_done_starts_a_new_pass,
        failed_account_tried_afresh,
        upload_intent_closed_by_completion,
        adopt_records_a_dead_claims_upload,
        adopt_refuses_a_fork,
        discard_keeps_a_recorded_bundle,
        passes_resume_and_close,
        outcomes_are_states,
    );

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_drain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        // Handles opened at once, as workers starting together would.
        let opened = futures_join_all((0..16).map(|_| {
            let path = path.clone();
            tokio::spawn(async move { open(&path).await })
        }))
        .await;
        let handles: Vec<Arc<dyn StateStore>> = opened
            .into_iter()
            .map(|s| Arc::new(s) as Arc<dyn StateStore>)
            .collect();
        super::concurrent_drain(handles, 1000).await;

        // Counted in the table itself: exactly one bundle row per account.
        let store = open(&path).await;
        let (rows, keys): (i64, i64) =
            sqlx::query_as("SELECT count(*), count(DISTINCT key) FROM bundles")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!((rows, keys), (1000, 1000));
        let (completed,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM audit_events WHERE event = 'completed'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(completed, 1000);
    }

    async fn futures_join_all<T: Send + 'static>(
        handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
    ) -> Vec<T> {
        let mut out = Vec::new();
        for h in handles.collect::<Vec<_>>() {
            out.push(h.await.unwrap());
        }
        out
    }

    /// A state written before outcomes (schema 3, one `done` for every recorded capture) is
    /// brought up to date: `done` becomes `complete` only where the bundle listed no gap, the
    /// bundles keep their rows and say their outcome, and the account keeps working.
    #[tokio::test]
    async fn done_accounts_of_an_older_state_get_their_outcome() {
        use sqlx::Connection as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let url = format!("sqlite://{}?mode=rwc", path.display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            let old = [
                include_str!("../../migrations/sqlite/0001_init.sql"),
                include_str!("../../migrations/sqlite/0002_quota_budgets.sql"),
                include_str!("../../migrations/sqlite/0003_account_exports.sql"),
            ];
            sqlx::Executor::execute(
                &mut conn,
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL,
                     description TEXT NOT NULL, applied_at INTEGER NOT NULL)",
            )
            .await
            .unwrap();
            for (i, sql) in old.iter().enumerate() {
                sqlx::Executor::execute(&mut conn, *sql).await.unwrap();
                sqlx::query("INSERT INTO schema_migrations VALUES (?, 'old', 0)")
                    .bind(i64::try_from(i).unwrap() + 1)
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            sqlx::Executor::execute(
                &mut conn,
                "INSERT INTO accounts (key, platform, account, state, gaps, bundle_id, updated_at)
                     VALUES ('x:whole', 'x', '@whole', 'done', 0, 'b1', 0),
                            ('x:gappy', 'x', '@gappy', 'done', 2, 'b2', 0),
                            ('x:later', 'x', '@later', 'pending', 0, NULL, 0);
                 INSERT INTO bundles (bundle_id, key, fence, location, items, media, gaps, bytes,
                         completed_at)
                     VALUES ('b1', 'x:whole', 1, 'f', 1, 0, 0, 1, 0),
                            ('b2', 'x:gappy', 1, 'f', 1, 0, 2, 1, 0);",
            )
            .await
            .unwrap();
            conn.close().await.unwrap();
        }
        let store = open(&path).await;
        let report = store.report().await.unwrap();
        let state = |key: &str| report.iter().find(|r| r.key == key).unwrap().state;
        assert_eq!(state("x:whole"), AccountState::Complete);
        assert_eq!(state("x:gappy"), AccountState::Partial);
        assert_eq!(state("x:later"), AccountState::Pending);
        for (key, outcome) in [
            ("x:whole", Outcome::Complete),
            ("x:gappy", Outcome::Partial),
        ] {
            let bundle = store.last_bundle(key).await.unwrap().unwrap();
            assert_eq!(bundle.outcome, Some(outcome));
        }
        // The rebuilt table still takes claims and completions, under its foreign key.
        let now = OffsetDateTime::now_utc();
        let claim = store
            .claim("w", None, now, time::Duration::minutes(5))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claim.key, "x:later");
        let done = super::completion(&claim.key, claim.fence);
        store
            .complete(&claim.key, claim.fence, &done, now)
            .await
            .unwrap();
        store.close().await;
    }

    /// A schema written by a newer tawthiq is refused, not silently used.
    #[tokio::test]
    async fn newer_schema_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let store = open(&path).await;
        sqlx::query("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
            .execute(store.pool())
            .await
            .unwrap();
        store.close().await;
        let err = SqliteStateStore::open(&path, SqliteOptions::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("newer"), "{err}");
    }

    /// The audit trail cannot be rewritten through SQL either.
    #[tokio::test]
    async fn audit_events_append_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir.path().join("state.db")).await;
        super::claim_complete_happy_path(&store).await;
        for sql in [
            "UPDATE audit_events SET event = 'x'",
            "DELETE FROM audit_events",
        ] {
            let err = sqlx::query(sql).execute(store.pool()).await.unwrap_err();
            assert!(err.to_string().contains("append-only"), "{err}");
        }
    }
}

/// The PostgreSQL engine, each test in a fresh schema of the database named by
/// `TAWTHIQ_TEST_POSTGRES` (`.ci/start-postgres.sh` starts a throw-away server and sets it).
mod postgres {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{Duration as StdDuration, Instant};

    use runner::state::{PostgresOptions, PostgresStateStore, StateError, StateStore};

    /// The server's URL; `None` (skip) only when CI does not require servers.
    fn server() -> Option<String> {
        match std::env::var("TAWTHIQ_TEST_POSTGRES") {
            Ok(url) if !url.trim().is_empty() => Some(url),
            _ => {
                assert!(
                    std::env::var("TAWTHIQ_REQUIRE_SERVERS").as_deref() != Ok("1"),
                    "TAWTHIQ_TEST_POSTGRES is not set but TAWTHIQ_REQUIRE_SERVERS=1: start \
                     PostgreSQL (see .ci/start-postgres.sh)"
                );
                None
            }
        }
    }

    /// A schema name no other test (in this or a concurrent run) uses.
    fn fresh_schema() -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        format!(
            "tawthiq_test_{}_{nanos}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn options(schema: &str) -> PostgresOptions {
        PostgresOptions {
            schema: Some(schema.to_owned()),
            ..PostgresOptions::default()
        }
    }

    async fn open(url: &str, schema: &str) -> PostgresStateStore {
        PostgresStateStore::open(url, options(schema))
            .await
            .unwrap_or_else(|e| panic!("open PostgreSQL schema {schema}: {e}"))
    }

    /// Drops the test's schema (left behind when the test failed, for inspection).
    async fn drop_schema(store: &PostgresStateStore, schema: &str) {
        sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .execute(store.pool())
            .await
            .unwrap();
        store.close().await;
    }

    macro_rules! conformance {
        ($($check:ident),* $(,)?) => {$(
            #[tokio::test]
            async fn $check() {
                let Some(url) = server() else { return };
                let schema = fresh_schema();
                let store = open(&url, &schema).await;
                super::$check(&store).await;
                drop_schema(&store, &schema).await;
            }
        )*};
    }

    conformance!(
        claim_complete_happy_path,
        no_double_claim,
        expired_lease_reclaimed_and_stale_worker_fenced,
        fail_retry_then_permanent,
        defer_is_not_a_failure,
        platform_cap,
        blocked_platform_skipped,
        upsert_idempotent,
        audit_trail_order,
        summary_and_report,
        unknown_account,
        quota_bucket_and_window,
        quota_respects_block,
        next_due_reports_what_waits,
        requeue_done_starts_a_new_pass,
        failed_account_tried_afresh,
        upload_intent_closed_by_completion,
        adopt_records_a_dead_claims_upload,
        adopt_refuses_a_fork,
        discard_keeps_a_recorded_bundle,
        passes_resume_and_close,
        outcomes_are_states,
    );

    /// 16 handles (own pools), opened at once as workers starting together would, drain 1000
    /// accounts; then the tables themselves hold exactly one bundle per account.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_drain() {
        let Some(url) = server() else { return };
        let schema = fresh_schema();
        let mut opening = Vec::new();
        for _ in 0..16 {
            let (url, schema) = (url.clone(), schema.clone());
            opening.push(tokio::spawn(async move { open(&url, &schema).await }));
        }
        let mut handles: Vec<Arc<dyn StateStore>> = Vec::new();
        for h in opening {
            handles.push(Arc::new(h.await.unwrap()));
        }
        super::concurrent_drain(handles, 1000).await;

        let store = open(&url, &schema).await;
        let (rows, keys): (i64, i64) =
            sqlx::query_as("SELECT count(*), count(DISTINCT key) FROM bundles")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!((rows, keys), (1000, 1000));
        let (completed, claimed): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE event = 'completed'),
                    count(*) FILTER (WHERE event = 'claimed')
             FROM audit_events",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!((completed, claimed), (1000, 1000));
        // Sixteen concurrent openers applied each migration once.
        let versions: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(versions, [1, 2, 3, 4, 5]);
        drop_schema(&store, &schema).await;
    }

    /// The concurrency cap holds under concurrent claimers on separate connections: in each
    /// round, 16 handles claim from a platform capped at 3 at the same instant (the previous
    /// round's leases have expired); exactly 3 get an account every time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn cap_holds_under_concurrent_claims() {
        use model::Platform;
        use tokio::sync::Barrier;
        const CLAIMERS: usize = 16;
        const ROUNDS: i32 = 10;
        let Some(url) = server() else { return };
        let schema = fresh_schema();
        let first = open(&url, &schema).await;
        first
            .upsert_accounts(&super::specs(Platform::X, 100), super::T0)
            .await
            .unwrap();
        first
            .set_platform_cap(Platform::X, Some(3), super::T0)
            .await
            .unwrap();
        let barrier = Arc::new(Barrier::new(CLAIMERS));
        let mut tasks = Vec::new();
        for i in 0..CLAIMERS {
            let store = open(&url, &schema).await;
            // A live connection, so that no claimer starts late by connecting.
            store.summary().await.unwrap();
            let barrier = Arc::clone(&barrier);
            tasks.push(tokio::spawn(async move {
                let mut per_round = Vec::new();
                for round in 0..ROUNDS {
                    let now = super::T0 + super::LEASE * round;
                    barrier.wait().await;
                    let claim = store
                        .claim(&format!("w{i}"), None, now, super::LEASE)
                        .await
                        .unwrap();
                    per_round.push(usize::from(claim.is_some()));
                }
                store.close().await;
                per_round
            }));
        }
        let mut claimed = vec![0; usize::try_from(ROUNDS).unwrap()];
        for t in tasks {
            for (round, n) in t.await.unwrap().into_iter().enumerate() {
                claimed[round] += n;
            }
        }
        assert!(
            claimed.iter().all(|&n| n == 3),
            "claims per round with a cap of 3: {claimed:?}"
        );
        drop_schema(&first, &schema).await;
    }

    /// Concurrent takers of one shared token bucket get exactly its burst between them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn quota_shared_by_concurrent_takers() {
        use model::Platform;
        use runner::state::{Admission, Quota, TokenBucket};
        let Some(url) = server() else { return };
        let schema = fresh_schema();
        let first = open(&url, &schema).await;
        let quota = Quota {
            bucket: Some(TokenBucket {
                per_second: 0.001,
                burst: 20,
            }),
            window: None,
        };
        first
            .set_platform_quota(Platform::Youtube, &quota, super::T0)
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = open(&url, &schema).await;
            tasks.push(tokio::spawn(async move {
                let mut granted = 0;
                for _ in 0..10 {
                    if store
                        .take_quota(Platform::Youtube, 1, super::T0)
                        .await
                        .unwrap()
                        == Admission::Granted
                    {
                        granted += 1;
                    }
                }
                store.close().await;
                granted
            }));
        }
        let mut granted = 0;
        for t in tasks {
            granted += t.await.unwrap();
        }
        assert_eq!(granted, 20, "8 × 10 takers of a burst of 20");
        drop_schema(&first, &schema).await;
    }

    /// A schema written by a newer tawthiq is refused, not silently used.
    #[tokio::test]
    async fn newer_schema_refused() {
        let Some(url) = server() else { return };
        let schema = fresh_schema();
        let store = open(&url, &schema).await;
        sqlx::query("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
            .execute(store.pool())
            .await
            .unwrap();
        let err = PostgresStateStore::open(&url, options(&schema))
            .await
            .unwrap_err();
        assert!(matches!(err, StateError::Corrupt(_)), "{err:?}");
        assert!(err.to_string().contains("newer"), "{err}");
        drop_schema(&store, &schema).await;
    }

    /// The audit trail cannot be rewritten through SQL either.
    #[tokio::test]
    async fn audit_events_append_only() {
        let Some(url) = server() else { return };
        let schema = fresh_schema();
        let store = open(&url, &schema).await;
        super::claim_complete_happy_path(&store).await;
        for sql in [
            "UPDATE audit_events SET event = 'x'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
        ] {
            let err = sqlx::query(sql).execute(store.pool()).await.unwrap_err();
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }
        assert_eq!(
            store.events("x:acct00000").await.unwrap().len(),
            2,
            "the trail is intact"
        );
        drop_schema(&store, &schema).await;
    }

    /// `state::open` reaches the PostgreSQL engine from a `--state` URL (here with the test's
    /// schema as a connection option, so it stays out of the database's public schema).
    #[tokio::test]
    async fn open_by_location() {
        use model::Platform;
        let Some(url) = server() else { return };
        let schema = fresh_schema();
        let first = open(&url, &schema).await;
        first
            .upsert_accounts(&super::specs(Platform::Snapchat, 2), super::T0)
            .await
            .unwrap();
        let mut located = url::Url::parse(&url).unwrap();
        located
            .query_pairs_mut()
            .append_pair("options[search_path]", &schema);
        let store = runner::state::open(located.as_str()).await.unwrap();
        assert_eq!(store.summary().await.unwrap().counts().pending, 2);
        drop_schema(&first, &schema).await;
    }

    /// Wrong credentials: an `Open` error naming the server, never the password.
    #[tokio::test]
    async fn bad_password_not_leaked() {
        let Some(url) = server() else { return };
        let mut wrong = url::Url::parse(&url).unwrap();
        wrong.set_password(Some("wrong-secret-pw")).unwrap();
        let err = PostgresStateStore::open(wrong.as_str(), options(&fresh_schema()))
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, StateError::Open { .. }), "{err:?}");
        assert!(!message.contains("wrong-secret-pw"), "{message}");
        assert!(!format!("{err:?}").contains("wrong-secret-pw"), "{err:?}");
        assert!(message.contains(wrong.host_str().unwrap()), "{message}");
        assert!(!err.is_retryable());
    }

    /// An unreachable server fails fast with an `Open` error naming the host, never the
    /// password. Needs no server: always runs.
    #[tokio::test]
    async fn unreachable_server_fails_fast_without_leaking_the_password() {
        let started = Instant::now();
        let err = PostgresStateStore::open(
            "postgres://tawthiq:secretpw@127.0.0.1:1/x",
            PostgresOptions {
                connect_timeout: StdDuration::from_secs(3),
                ..PostgresOptions::default()
            },
        )
        .await
        .unwrap_err();
        assert!(started.elapsed() < StdDuration::from_secs(5));
        let message = err.to_string();
        assert!(matches!(err, StateError::Open { .. }), "{err:?}");
        assert!(message.contains("127.0.0.1"), "{message}");
        assert!(!message.contains("secretpw"), "{message}");
        assert!(!format!("{err:?}").contains("secretpw"), "{err:?}");

        // Through `--state` too, with a URL sqlx cannot parse, and a password parameter.
        for location in [
            "postgres://tawthiq:secretpw@127.0.0.1:notaport/x",
            "postgres://127.0.0.1:1/x?user=tawthiq&password=secretpw",
        ] {
            let err = runner::state::open(location).await.unwrap_err();
            assert!(matches!(err, StateError::Open { .. }), "{err:?}");
            assert!(err.to_string().contains("127.0.0.1"), "{err}");
            assert!(!err.to_string().contains("secretpw"), "{err}");
            assert!(!format!("{err:?}").contains("secretpw"), "{err:?}");
        }
        // A bad schema name is refused before any connection.
        let err = PostgresStateStore::open(
            "postgres://tawthiq:secretpw@127.0.0.1:1/x",
            PostgresOptions {
                schema: Some("Robert'); DROP TABLE x;--".into()),
                ..PostgresOptions::default()
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, StateError::Location(_)), "{err:?}");
    }
}
