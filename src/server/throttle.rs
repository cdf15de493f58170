//! Limits on guessing: failed authentications (a wrong key, session token or password) are counted
//! per client address in a one-minute window; an address past the limit gets 429 with `Retry-After`
//! until its window has passed, answered before any hashing or database work. Also where the client
//! address comes from: the socket's, or `X-Forwarded-For` when the socket is a trusted proxy.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

use super::error::ApiError;

/// Failures an address may have in one window before it is refused.
pub const DEFAULT_FAILURES_PER_WINDOW: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Above this many tracked addresses, windows that have passed are swept out, at most once a second
/// (a sweep walks them all).
const SWEEP_ABOVE: usize = 10_000;
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Failure windows by address. IPv6 addresses count per /64, the block one client usually holds.
pub struct Throttle {
    limit: u32,
    windows: RwLock<Windows>,
    /// How many addresses `windows` holds: while none has failed, checking costs one atomic read.
    tracked: AtomicUsize,
}

#[derive(Default)]
struct Windows {
    by_addr: HashMap<IpAddr, Window>,
    swept: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl Throttle {
    pub fn new(limit: u32) -> Throttle {
        Throttle {
            limit,
            windows: RwLock::new(Windows::default()),
            tracked: AtomicUsize::new(0),
        }
    }

    /// 429 when `addr` has used up its failures in the current window.
    pub fn check(&self, addr: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(addr) = addr.map(bucket) else {
            return Ok(());
        };
        if self.tracked.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        let windows = self.windows.read().unwrap_or_else(PoisonError::into_inner);
        match windows.by_addr.get(&addr) {
            Some(window) if window.failures >= self.limit => {
                let left = WINDOW.saturating_sub(window.started.elapsed());
                if left.is_zero() {
                    return Ok(());
                }
                Err(ApiError::TooManyRequests {
                    message: "too many failed attempts from this address; try again later"
                        .to_string(),
                    retry_after_secs: left.as_secs() + 1,
                })
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed authentication from `addr`.
    pub fn fail(&self, addr: Option<IpAddr>) {
        let Some(addr) = addr.map(bucket) else {
            return;
        };
        let now = Instant::now();
        let mut guard = self.windows.write().unwrap_or_else(PoisonError::into_inner);
        let windows = &mut *guard;
        if windows.by_addr.len() > SWEEP_ABOVE
            && windows
                .swept
                .is_none_or(|at| now.duration_since(at) >= SWEEP_EVERY)
        {
            windows
                .by_addr
                .retain(|_, w| now.duration_since(w.started) < WINDOW);
            windows.swept = Some(now);
        }
        let window = windows.by_addr.entry(addr).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.duration_since(window.started) >= WINDOW {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
        self.tracked.store(windows.by_addr.len(), Ordering::Relaxed);
    }

    /// Whether `addr` has failed at all in its current window (a login to an account under attack
    /// is refused from such addresses only, so the account's owner still signs in from theirs).
    pub fn has_failed(&self, addr: Option<IpAddr>) -> bool {
        let Some(addr) = addr.map(bucket) else {
            return false;
        };
        if self.tracked.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let windows = self.windows.read().unwrap_or_else(PoisonError::into_inner);
        windows
            .by_addr
            .get(&addr)
            .is_some_and(|w| w.failures > 0 && w.started.elapsed() < WINDOW)
    }
}

/// The unit addresses are counted in: the address itself for IPv4, its /64 for IPv6.
fn bucket(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// An address block `ADDR[/PREFIX]`, as `--trusted-proxy` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrBlock {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for AddrBlock {
    type Err = String;

    fn from_str(text: &str) -> Result<AddrBlock, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an address or ADDRESS/PREFIX"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix must be 0 to {max}"))?,
            None => max,
        };
        Ok(AddrBlock { addr, prefix })
    }
}

impl AddrBlock {
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, addr) {
            (IpAddr::V4(block), IpAddr::V4(addr)) => {
                prefix_eq(&block.octets(), &addr.octets(), self.prefix)
            }
            (IpAddr::V6(block), IpAddr::V6(addr)) => {
                prefix_eq(&block.octets(), &addr.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a[..full] != b[..full] {
        return false;
    }
    rest == 0 || (a[full] ^ b[full]) >> (8 - rest) == 0
}

/// The client's address: the socket's, unless the socket is a trusted proxy; then the last address
/// in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_addr(
    socket: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[AddrBlock],
) -> Option<IpAddr> {
    let socket = socket?;
    let is_trusted = |addr: IpAddr| trusted.iter().any(|block| block.contains(addr));
    if !is_trusted(socket) {
        return Some(socket);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|part| part.trim().parse::<IpAddr>())
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|&addr| !is_trusted(addr))
            .unwrap_or(socket),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_is_refused_after_its_failures_and_others_are_not() {
        let throttle = Throttle::new(3);
        let a = Some(ip("192.0.2.1"));
        for _ in 0..3 {
            assert!(throttle.check(a).is_ok());
            throttle.fail(a);
        }
        match throttle.check(a) {
            Err(ApiError::TooManyRequests {
                retry_after_secs, ..
            }) => assert!((1..=61).contains(&retry_after_secs)),
            other => panic!("expected 429, got {other:?}"),
        }
        assert!(throttle.check(Some(ip("192.0.2.2"))).is_ok());
        assert!(throttle.has_failed(a));
        assert!(!throttle.has_failed(Some(ip("192.0.2.2"))));
    }

    #[test]
    fn ipv6_counts_per_64() {
        let throttle = Throttle::new(1);
        throttle.fail(Some(ip("2001:db8:1:2::1")));
        assert!(throttle.check(Some(ip("2001:db8:1:2::ffff"))).is_err());
        assert!(throttle.check(Some(ip("2001:db8:1:3::1"))).is_ok());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<AddrBlock> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("198.51.100.7, 10.1.1.1"),
        );
        assert_eq!(
            client_addr(Some(ip("10.2.2.2")), &headers, &trusted),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            client_addr(Some(ip("203.0.113.9")), &headers, &trusted),
            Some(ip("203.0.113.9")),
            "an untrusted peer's header is ignored"
        );
        headers.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
        assert_eq!(
            client_addr(Some(ip("10.2.2.2")), &headers, &trusted),
            Some(ip("10.2.2.2"))
        );
    }

    #[test]
    fn address_blocks_parse_and_match() {
        let block: AddrBlock = "127.0.0.1".parse().unwrap();
        assert!(block.contains(ip("127.0.0.1")));
        assert!(!block.contains(ip("127.0.0.2")));
        let block: AddrBlock = "fd00::/8".parse().unwrap();
        assert!(block.contains(ip("fd12::1")));
        assert!(!block.contains(ip("fe80::1")));
        assert!("10.0.0.0/33".parse::<AddrBlock>().is_err());
        assert!("nope".parse::<AddrBlock>().is_err());
    }
}
