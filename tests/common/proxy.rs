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
}

impl Proxy {
    /// Forward to `upstream` (`host:port`); note requests that carry `mark`.
    pub fn start(upstream: &str, mark: &'static [u8]) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let down = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(None));
        let (is_down, noted, upstream) = (down.clone(), seen.clone(), upstream.to_string());
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
                let (is_down, noted) = (is_down.clone(), noted.clone());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n) = c_read.read(&mut buf) {
                        let at = Instant::now();
                        if n == 0 || is_down.load(Ordering::Relaxed) {
                            break;
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
        Ok(Proxy { url, down, seen })
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
