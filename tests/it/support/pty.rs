//! Runs a command in a pseudo-terminal, as a person at a terminal would: stdout and stderr
//! are the terminal, and what it shows (escape sequences included) is returned.

use std::io::Read as _;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::process::{Command, ExitStatus, Stdio};

/// Runs `command` with a 120×40 terminal as its stdout and stderr; returns its exit status and
/// everything it wrote to the terminal.
pub fn run(mut command: Command) -> (ExitStatus, String) {
    let (mut master, slave) = open();
    command
        .env("TERM", "xterm-256color")
        .stdin(Stdio::null())
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    let mut child = command.spawn().unwrap();
    drop(command); // the parent's descriptors of the terminal's side
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(180);
    let mut shown = Vec::new();
    let mut buffer = [0u8; 4096];
    let mut exited = false;
    loop {
        match master.read(&mut buffer) {
            Ok(0) => break,
            Ok(count) => shown.extend_from_slice(&buffer[..count]),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                // Once the child has exited, one more read drains what it wrote last.
                if exited {
                    break;
                }
                exited = child.try_wait().unwrap().is_some();
                if tokio::time::Instant::now() > deadline {
                    let _ = child.kill();
                    panic!(
                        "the command did not end: {}",
                        String::from_utf8_lossy(&shown)
                    );
                }
                let mut ready = libc::pollfd {
                    fd: master.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd; waits for output or 50 ms (the child's exit).
                unsafe { libc::poll(&mut ready, 1, 50) };
            }
            // EIO: every descriptor of the terminal's side is closed.
            Err(_) => break,
        }
    }
    let status = child.wait().unwrap();
    (status, String::from_utf8_lossy(&shown).into_owned())
}

fn open() -> (std::fs::File, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    let size = libc::winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors, which are then owned here.
    let done = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(done, 0, "openpty: {}", std::io::Error::last_os_error());
    // Not inherited by the processes other tests spawn meanwhile (the child gets the
    // terminal's side as its stdout and stderr, which exec keeps); the master never blocks.
    for (fd, flags) in [(master, libc::O_NONBLOCK), (slave, 0)] {
        // SAFETY: fcntl on descriptors just opened.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            if flags != 0 {
                libc::fcntl(fd, libc::F_SETFL, libc::fcntl(fd, libc::F_GETFL) | flags);
            }
        }
    }
    // SAFETY: both descriptors were just opened and nothing else owns them.
    unsafe {
        (
            std::fs::File::from_raw_fd(master),
            OwnedFd::from_raw_fd(slave),
        )
    }
}
