//! Passwords: argon2id hashing and checking, off the async threads and bounded. Each hash takes
//! about 19 MiB and most of a core, so an unbounded number of logins at once could take the
//! server's memory. A fixed set of worker threads (one per core) runs them, each with its own block
//! memory, reused while logins keep coming and given back when none is left to do, so memory
//! stays at one hash per worker however many logins come; a few more wait in a queue; beyond that the caller is told the server is busy (429 with
//! `Retry-After`), at once and without hashing.
//!
//! (Hashing with argon2's own allocation on whichever thread left up to three hashes' memory in
//! each allocator arena it touched, and it was never given back: 270 MiB after a few bursts.)

use std::cell::RefCell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

use crate::key::fill_random;
use crate::secret::Secret;

type Job = Box<dyn FnOnce() + Send>;

/// The pool is full: every worker is hashing and the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server is busy checking other passwords; try again in a second")]
pub struct Busy;

/// Stored hashes asking for more memory than this are refused rather than computed.
const MAX_MEMORY_KIB: u32 = 256 * 1024;

thread_local! {
    /// This thread's argon2 block memory, grown to the largest hash it has computed and kept.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Frees this thread's block memory and hands the freed pages back to the system: a burst of
/// logins reuses it, an idle server (or the app's embedded one after its sign-in) does not keep
/// 19 MiB per worker for nothing.
fn release_blocks() {
    BLOCKS.with_borrow_mut(|blocks| *blocks = Vec::new());
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of glibc's heaps to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Computes argon2 with `params` into `out`, in this thread's reused block memory.
fn compute(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), String> {
    if params.m_cost() > MAX_MEMORY_KIB {
        return Err(format!(
            "argon2 memory {} KiB is over the limit",
            params.m_cost()
        ));
    }
    let count = params.block_count();
    BLOCKS.with_borrow_mut(|blocks| {
        if blocks.len() < count {
            blocks.clear();
            blocks.shrink_to_fit();
            blocks.resize(count, Block::default());
        }
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password, salt, out, &mut blocks[..count])
            .map_err(|err| err.to_string())
    })
}

/// argon2id with the default parameters and a random salt, in PHC string form. CPU-heavy: from
/// async code use [`hash`].
pub fn hash_now(password: &Secret) -> Result<String, String> {
    let mut salt = [0u8; 16];
    fill_random(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|err| err.to_string())?;
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|err| err.to_string())?;
    let params = Params::default();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(
        Algorithm::Argon2id,
        Version::V0x13,
        params.clone(),
        password.expose().as_bytes(),
        salt_bytes,
        &mut out,
    )?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params)
            .try_into()
            .map_err(|err: argon2::password_hash::Error| err.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|err| err.to_string())?),
    };
    Ok(phc.to_string())
}

/// Checks `password` against a stored PHC hash in constant time; with no hash (unknown email) it
/// checks against a dummy so both cases take the same time. CPU-heavy: from async code use
/// [`verify`].
pub fn verify_now(password: &Secret, stored_hash: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy =
        DUMMY.get_or_init(|| hash_now(&Secret::new("not a real password")).unwrap_or_default());
    let (hash, real) = match stored_hash {
        Some(hash) => (hash, true),
        None => (dummy.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    if compute(
        algorithm,
        version,
        params,
        password.expose().as_bytes(),
        salt_bytes,
        &mut out,
    )
    .is_err()
    {
        return false;
    }
    // `Output`'s comparison takes the same time wherever the bytes differ.
    Output::new(&out).is_ok_and(|computed| computed == expected) && real
}

/// [`hash_now`] on the pool.
pub async fn hash(password: &Secret) -> Result<Result<String, String>, Busy> {
    let password = password.clone();
    run(move || hash_now(&password)).await
}

/// [`verify_now`] on the pool.
pub async fn verify(password: Secret, stored_hash: Option<String>) -> Result<bool, Busy> {
    run(move || verify_now(&password, stored_hash.as_deref())).await
}

struct Pool {
    jobs: SyncSender<Job>,
    /// Jobs queued or running: when the last one ends, its worker gives its memory back.
    waiting: std::sync::Arc<AtomicUsize>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let workers = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
            .clamp(1, 8);
        let (jobs, queue) = sync_channel::<Job>(queue_len(workers));
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        let waiting = std::sync::Arc::new(AtomicUsize::new(0));
        for index in 0..workers {
            let (queue, waiting) = (queue.clone(), waiting.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("keywarden-hash-{index}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job, never while hashing.
                        let job = {
                            let queue = queue.lock().unwrap_or_else(|e| e.into_inner());
                            queue.recv()
                        };
                        match job {
                            Ok(job) => {
                                job();
                                // The last of a burst gives its memory back.
                                if waiting.fetch_sub(1, Ordering::AcqRel) == 1 {
                                    release_blocks();
                                }
                            }
                            Err(_) => return,
                        }
                    }
                });
            if let Err(err) = spawned {
                tracing::error!("cannot start a password hashing thread: {err}");
            }
        }
        Pool { jobs, waiting }
    })
}

/// How many hashes may wait for a worker: a few per worker, so a burst of logins is served in
/// turn and not refused at once, while the wait stays well under a second (a hash takes about
/// 30 ms).
fn queue_len(workers: usize) -> usize {
    workers * 4
}

/// Runs `work` on the pool; `Busy` when the pool and its queue are full.
async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(work());
    });
    let pool = pool();
    pool.waiting.fetch_add(1, Ordering::AcqRel);
    if pool.jobs.try_send(job).is_err() {
        pool.waiting.fetch_sub(1, Ordering::AcqRel);
        return Err(Busy);
    }
    // A worker that panicked dropped the sender: report busy rather than hang.
    rx.await.map_err(|_| Busy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_now(&Secret::new("correct horse")).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_now(&Secret::new("correct horse"), Some(&hash)));
        assert!(!verify_now(&Secret::new("wrong horse"), Some(&hash)));
        assert!(!verify_now(&Secret::new("not a real password"), None));
        assert!(!verify_now(&Secret::new("correct horse"), Some("garbage")));
    }

    /// Hashes made by argon2's own API (the ones stored before) still verify, and ours verify there.
    #[test]
    fn hashes_agree_with_argon2s_own_api() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(verify_now(&Secret::new("correct horse"), Some(&theirs)));
        let ours = hash_now(&Secret::new("correct horse")).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
    }
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// At most one hash per worker runs at once, a few wait, and the rest are refused at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn work_is_bounded_and_the_excess_refused() {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (running, peak) = (running.clone(), peak.clone());
                tokio::spawn(run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(50));
                    running.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        let mut done = 0;
        let mut busy = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => done += 1,
                Err(Busy) => busy += 1,
            }
        }
        let workers = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
            .clamp(1, 8);
        assert!(peak.load(Ordering::SeqCst) <= workers);
        assert!(done >= workers, "{done} done");
        assert!(
            busy > 0,
            "64 at once must overflow a queue of {}",
            queue_len(workers)
        );
        assert!(
            done <= workers + queue_len(workers) + workers * 2,
            "{done} done"
        );
    }
}
