//! The blocking pool as a type: work that waits for a future (a HubSpot call) is handed a
//! [`Blocking`], which only [`run`] makes, on a blocking-pool thread; so a handler that waits
//! cannot be placed where it would stall an async worker.

use std::marker::PhantomData;

/// Proof that the code holding it runs on a blocking-pool thread, where it may wait.
/// Only [`run`] makes one:
///
/// ```compile_fail
/// let forged = hubspot_gateway::api::blocking::Blocking {
///     on_this_thread: std::marker::PhantomData,
/// };
/// ```
///
/// Neither `Send` nor `Sync`: it stays on the thread [`run`] gave it to, so it cannot be
/// taken along into a future that an async worker would poll:
///
/// ```compile_fail
/// fn on_another_thread<T: Send>(_: T) {}
/// let _ = hubspot_gateway::api::blocking::run(|blocking| on_another_thread(blocking));
/// ```
pub struct Blocking {
    on_this_thread: PhantomData<*const ()>,
}

impl Blocking {
    /// Waits for `future` on this blocking-pool thread (the runtime's workers go on).
    pub fn wait<F: std::future::Future>(&self, future: F) -> F::Output {
        tokio::runtime::Handle::current().block_on(future)
    }
}

/// Runs `work` on the runtime's blocking pool with a [`Blocking`]; an error when it panicked.
pub async fn run<T, W>(work: W) -> Result<T, tokio::task::JoinError>
where
    T: Send + 'static,
    W: FnOnce(&Blocking) -> T + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        work(&Blocking {
            on_this_thread: PhantomData,
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn work_on_the_pool_waits_for_a_future() {
        let answer = super::run(|blocking| blocking.wait(async { 6 * 7 })).await;
        assert_eq!(answer.unwrap(), 42);
    }
}
