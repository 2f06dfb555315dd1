//! The listening socket: the one systemd passes (socket activation, `LISTEN_FDS`), else a
//! socket bound to `server.listen`.

use std::net::SocketAddr;
use std::os::fd::{FromRawFd as _, RawFd};

use anyhow::Context as _;

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const FIRST_FD: RawFd = 3;

/// A listening socket, and whether systemd passed it.
pub struct Listening {
    pub listener: tokio::net::TcpListener,
    pub activated: bool,
}

/// The socket systemd passed when `LISTEN_PID` names this process, else `listen` bound here.
pub async fn listen(listen: SocketAddr) -> anyhow::Result<Listening> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    match passed_fds(pid.as_deref(), fds.as_deref(), std::process::id())? {
        0 => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            Ok(Listening {
                listener,
                activated: false,
            })
        }
        1 => Ok(Listening {
            listener: adopt(FIRST_FD)?,
            activated: true,
        }),
        many => anyhow::bail!("systemd passed {many} sockets; the .socket unit must listen on one"),
    }
}

/// How many sockets systemd passed to `own_pid` (0 when the variables are for another process).
fn passed_fds(pid: Option<&str>, fds: Option<&str>, own_pid: u32) -> anyhow::Result<u32> {
    let (Some(pid), Some(fds)) = (pid, fds) else {
        return Ok(0);
    };
    let pid: u32 = pid
        .trim()
        .parse()
        .context("LISTEN_PID is not a process id")?;
    if pid != own_pid {
        // Inherited from a parent that was activated: not ours.
        return Ok(0);
    }
    fds.trim().parse().context("LISTEN_FDS is not a number")
}

/// Takes ownership of a passed descriptor, which must be a listening TCP socket.
fn adopt(fd: RawFd) -> anyhow::Result<tokio::net::TcpListener> {
    // SAFETY: systemd hands descriptors from 3 on to this process (LISTEN_PID checked) and
    // nothing else in the process owns fd 3; it is adopted exactly once, here.
    let socket = unsafe { socket2::Socket::from_raw_fd(fd) };
    socket.set_cloexec(true).context("passed socket")?;
    let listening = socket
        .r#type()
        .map(|kind| kind == socket2::Type::STREAM)
        .unwrap_or(false)
        && socket.is_listener().unwrap_or(false);
    anyhow::ensure!(
        listening,
        "the socket systemd passed (fd {fd}) is not a listening stream socket"
    );
    socket.set_nonblocking(true).context("passed socket")?;
    let std: std::net::TcpListener = socket.into();
    tokio::net::TcpListener::from_std(std).context("adopting the passed socket")
}

#[cfg(test)]
mod tests {
    use super::passed_fds;

    #[test]
    fn listen_pid_must_be_ours() {
        assert_eq!(passed_fds(None, None, 7).unwrap(), 0);
        assert_eq!(passed_fds(Some("7"), None, 7).unwrap(), 0);
        assert_eq!(passed_fds(Some("8"), Some("1"), 7).unwrap(), 0);
        assert_eq!(passed_fds(Some("7"), Some("1"), 7).unwrap(), 1);
        assert_eq!(passed_fds(Some("7"), Some("2"), 7).unwrap(), 2);
        assert!(passed_fds(Some("x"), Some("1"), 7).is_err());
        assert!(passed_fds(Some("7"), Some("one"), 7).is_err());
    }
}
