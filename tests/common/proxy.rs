//! A TCP proxy in front of a server (moto): it can be cut and restored
//! (connections refused and the open ones closed, as when a network path
//! goes away), and it notes when a request carrying a given text arrives
//! (the server side of the wire, for timing).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub struct Proxy {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    down: Arc<AtomicBool>,
    seen: Arc<Mutex<Option<Instant>>>,
    /// Requests seen per operation name (the ECS JSON target or the query
    /// `Action=`), for counting calls at the server side.
    calls: Arc<Mutex<std::collections::BTreeMap<String, u64>>>,
}

/// The operation a request's first bytes name: `X-Amz-Target: Svc.Op`
/// (JSON protocols) or `Action=Op` (query protocols).
fn operation(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let lower = text.to_ascii_lowercase();
    if let Some(at) = lower.find("x-amz-target:") {
        let rest = &text[at + "x-amz-target:".len()..];
        let value = rest.lines().next()?.trim();
        return value.rsplit('.').next().map(str::to_string);
    }
    let at = text.find("Action=")?;
    let rest = &text[at + "Action=".len()..];
    Some(rest.split(['&', ' ', '\r', '\n']).next()?.to_string())
}

impl Proxy {
    /// Forward to `upstream` (`host:port`); note requests that carry `mark`.
    pub fn start(upstream: &str, mark: &'static [u8]) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let down = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(None));
        let calls = Arc::new(Mutex::new(std::collections::BTreeMap::new()));
        let (is_down, noted, upstream) = (down.clone(), seen.clone(), upstream.to_string());
        let counted = calls.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if is_down.load(Ordering::Relaxed) {
                    continue; // dropped: the connection closes at once
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (Ok(mut c_read), Ok(mut s_write)) = (client.try_clone(), server.try_clone())
                else {
                    continue;
                };
                let (is_down, noted, counted) = (is_down.clone(), noted.clone(), counted.clone());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    // A request whose operation is in its body, not read yet.
                    let mut pending = false;
                    while let Ok(n) = c_read.read(&mut buf) {
                        let at = Instant::now();
                        if n == 0 || is_down.load(Ordering::Relaxed) {
                            break;
                        }
                        let starts =
                            buf[..n].starts_with(b"POST ") || buf[..n].starts_with(b"GET ");
                        if starts || pending {
                            let op = operation(&buf[..n]);
                            pending = op.is_none() && starts;
                            if let (Some(op), Ok(mut calls)) = (op, counted.lock()) {
                                *calls.entry(op).or_default() += 1;
                            }
                        }
                        if !mark.is_empty()
                            && buf[..n].windows(mark.len()).any(|w| w == mark)
                            && let Ok(mut slot) = noted.lock()
                        {
                            *slot = Some(at);
                        }
                        if s_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = c_read.shutdown(std::net::Shutdown::Both);
                    let _ = s_write.shutdown(std::net::Shutdown::Both);
                });
                let (mut s_read, mut c_write) = (server, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_read, &mut c_write);
                });
            }
        });
        Ok(Proxy {
            url,
            down,
            seen,
            calls,
        })
    }

    /// Requests per operation since the last `take_calls`.
    pub fn take_calls(&self) -> std::collections::BTreeMap<String, u64> {
        self.calls
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }

    /// Cut (true) or restore (false) the path.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::Relaxed);
    }

    /// Forget when the mark was last seen.
    pub fn clear_seen(&self) {
        if let Ok(mut slot) = self.seen.lock() {
            *slot = None;
        }
    }

    /// When a request with the mark last arrived.
    pub fn seen(&self) -> Option<Instant> {
        self.seen.lock().ok().and_then(|s| *s)
    }
}
