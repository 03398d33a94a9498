//! The bound on request work held at once, across all requests and workers: each body is
//! admitted against a budget of bytes before it is read, and holds its share until its
//! answer is written. Every batch was bounded on its own, but 32 concurrent ones took the
//! process to 4 GB; a batch's working memory is about twelve times its body (parsed
//! sessions, answers, the encoded answer), so bytes in flight bound memory.
//!
//! Batches and single sessions draw on separate pools of the same size, so a burst of
//! batches from marketing automation never refuses the storefront's live sessions.

use super::observe::Metrics;
use super::problem::ApiError;
use super::settings::Settings;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Budgets are counted in KiB: a semaphore holds at most `u32::MAX` permits.
const UNIT: usize = 1024;

/// Which budget a body draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// The single-session routes: never wait, refused only past the budget.
    Sessions,
    /// The batch routes: wait up to `BATCH_QUEUE_SECS` for room, then refused.
    Batches,
}

impl Pool {
    pub fn as_str(self) -> &'static str {
        match self {
            Pool::Sessions => "sessions",
            Pool::Batches => "batches",
        }
    }
}

pub struct Admission {
    sessions: Arc<Semaphore>,
    batches: Arc<Semaphore>,
    capacity: u32,
    queue: Duration,
    /// Each pool's `body_bytes_in_flight` and `requests_shed_total`, sessions then batches.
    counted: [(metrics::Gauge, metrics::Counter); 2],
}

/// A body's share of its pool, given back when dropped.
pub struct Permit {
    held: OwnedSemaphorePermit,
    pool: Pool,
    units: u32,
    /// The size of the pool.
    capacity: u32,
    /// Its pool's bytes in flight.
    in_flight: metrics::Gauge,
}

impl Permit {
    /// The bytes this permit covers.
    pub fn bytes(&self) -> usize {
        self.units as usize * UNIT
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.in_flight.decrement(self.units as f64 * UNIT as f64);
        if self.pool == Pool::Batches {
            // The permit is given back after this returns: the pool is idle when all the
            // others are free.
            let others_free = self.held.semaphore().available_permits() + self.units as usize;
            if others_free >= self.capacity as usize {
                release_memory();
            }
        }
    }
}

/// After the last batch of a burst, hands the allocator's free pages back to the system:
/// glibc keeps them in per-thread arenas otherwise, and a burst of batches left the
/// process hundreds of MB above its baseline for good.
fn release_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn_blocking(|| {
            // SAFETY: malloc_trim only walks and trims the allocator's own free lists;
            // glibc documents it as safe to call at any time from any thread.
            unsafe { libc::malloc_trim(0) };
        });
    }
}

/// Large blocks (a batch's body, its sessions, its encoded answer) are mapped on their
/// own and unmapped when freed. glibc otherwise raises its mapping threshold each time
/// such a block is freed, until they come from the heap arenas and stay there: 32
/// concurrent 12 MB batches peaked at 707 MB and left 264 MB resident; with the threshold
/// fixed at 1 MiB, 344 MB and 44 MB (baseline 22 MB).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt sets one allocator parameter; called before the workers start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

fn units(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(UNIT).max(1)).unwrap_or(u32::MAX)
}

impl Admission {
    pub fn new(settings: &Settings, metrics: &Metrics) -> Admission {
        let capacity = units(settings.max_body_bytes_in_flight);
        let counted = [Pool::Sessions, Pool::Batches].map(|p| {
            (
                metrics.body_bytes_in_flight(p.as_str()),
                metrics.shed(p.as_str()),
            )
        });
        Admission {
            sessions: Arc::new(Semaphore::new(capacity as usize)),
            batches: Arc::new(Semaphore::new(capacity as usize)),
            capacity,
            queue: Duration::from_secs(settings.batch_queue_secs),
            counted,
        }
    }

    fn counted(&self, pool: Pool) -> &(metrics::Gauge, metrics::Counter) {
        match pool {
            Pool::Sessions => &self.counted[0],
            Pool::Batches => &self.counted[1],
        }
    }

    fn semaphore(&self, pool: Pool) -> &Arc<Semaphore> {
        match pool {
            Pool::Sessions => &self.sessions,
            Pool::Batches => &self.batches,
        }
    }

    fn refused(&self, pool: Pool, bytes: usize) -> ApiError {
        self.counted(pool).1.increment(1);
        ApiError::Overloaded {
            what: pool.as_str(),
            bytes,
            budget: self.capacity as usize * UNIT,
            retry_after_secs: 1,
        }
    }

    /// Room for a body of `bytes` (its `Content-Length`, or a first share of a body of
    /// unknown length): at once for single sessions, within the queue time for batches.
    pub async fn admit(&self, pool: Pool, bytes: usize) -> Result<Permit, ApiError> {
        let wanted = units(bytes).min(self.capacity);
        let semaphore = self.semaphore(pool).clone();
        let held = match pool {
            Pool::Sessions => semaphore.try_acquire_many_owned(wanted).ok(),
            Pool::Batches => tokio::time::timeout(self.queue, semaphore.acquire_many_owned(wanted))
                .await
                .ok()
                .and_then(Result::ok),
        };
        let held = held.ok_or_else(|| self.refused(pool, bytes))?;
        let in_flight = self.counted(pool).0.clone();
        in_flight.increment(wanted as f64 * UNIT as f64);
        Ok(Permit {
            held,
            pool,
            units: wanted,
            capacity: self.capacity,
            in_flight,
        })
    }

    /// Widens `permit` to cover `bytes` as a body grows past its first share; refused at
    /// once when its pool has no room left.
    pub fn grow(&self, permit: &mut Permit, bytes: usize) -> Result<(), ApiError> {
        let wanted = units(bytes);
        if wanted <= permit.units {
            return Ok(());
        }
        // At least double, so that a body growing chunk by chunk asks the pool a few
        // times, not once per chunk, and holds at most twice what it has.
        let more = (wanted - permit.units).max(permit.units);
        let more = more.min(self.capacity.saturating_sub(permit.units));
        if more == 0 {
            return Err(self.refused(permit.pool, bytes));
        }
        let extra = self
            .semaphore(permit.pool)
            .clone()
            .try_acquire_many_owned(more)
            .map_err(|_| self.refused(permit.pool, bytes))?;
        permit.held.merge(extra);
        permit.units += more;
        permit.in_flight.increment(more as f64 * UNIT as f64);
        if permit.units < wanted {
            return Err(self.refused(permit.pool, bytes));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(budget: usize) -> Admission {
        let settings = Settings::from_vars([
            ("MAX_BODY_BYTES".to_owned(), budget.to_string()),
            ("MAX_BODY_BYTES_IN_FLIGHT".to_owned(), budget.to_string()),
            ("BATCH_QUEUE_SECS".to_owned(), "1".to_owned()),
        ])
        .expect("valid settings");
        Admission::new(&settings, &Metrics::new())
    }

    #[tokio::test]
    async fn a_full_pool_refuses_and_room_comes_back_when_a_permit_drops() {
        let a = admission(4 << 20);
        let first = a.admit(Pool::Sessions, 3 << 20).await.expect("room");
        let refused = a.admit(Pool::Sessions, 2 << 20).await;
        assert!(matches!(refused, Err(ApiError::Overloaded { .. })));
        // The other pool is untouched.
        let batch = a.admit(Pool::Batches, 4 << 20).await.expect("its own room");
        drop(first);
        a.admit(Pool::Sessions, 2 << 20)
            .await
            .expect("room once the first is gone");
        drop(batch);
    }

    #[tokio::test]
    async fn a_batch_waits_for_room_until_the_queue_time() {
        let a = Arc::new(admission(4 << 20));
        let first = a.admit(Pool::Batches, 4 << 20).await.expect("room");
        let waiting = {
            let a = a.clone();
            tokio::spawn(async move { a.admit(Pool::Batches, 1 << 20).await.map(|p| p.bytes()) })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        drop(first);
        assert_eq!(waiting.await.ok().and_then(Result::ok), Some(1 << 20));
        let _full = a.admit(Pool::Batches, 4 << 20).await.expect("room");
        let late = a.admit(Pool::Batches, 1).await;
        assert!(
            matches!(late, Err(ApiError::Overloaded { .. })),
            "refused after the queue time"
        );
    }

    #[tokio::test]
    async fn a_body_of_unknown_length_grows_its_share_until_the_pool_is_full() {
        let a = admission(4 << 20);
        let mut p = a.admit(Pool::Batches, 0).await.expect("room");
        a.grow(&mut p, 3 << 20).expect("room to grow");
        assert!(p.bytes() >= 3 << 20);
        assert!(a.grow(&mut p, 5 << 20).is_err(), "past the budget");
        drop(p);
        a.admit(Pool::Batches, 4 << 20)
            .await
            .expect("everything given back");
    }
}
