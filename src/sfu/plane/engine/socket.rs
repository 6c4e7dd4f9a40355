//! The shared socket: bound with room for bursts, read with the kernel's arrival time.

use std::net::SocketAddr;

use crate::sfu::plane::PlaneError;

/// Socket buffers: a key frame fanned out to 150 subscribers is ~6,000 datagrams (8 MB).
const SOCKET_BUFFER: usize = 8 << 20;

/// Binds the shared socket, non-blocking, with buffers sized for fan-out bursts.
pub(in crate::sfu::plane) fn bind(addr: SocketAddr) -> Result<std::net::UdpSocket, PlaneError> {
    let s = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // Best effort: the kernel caps them at net.core.{r,w}mem_max.
    let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = s.set_send_buffer_size(SOCKET_BUFFER);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    let s: std::net::UdpSocket = s.into();
    nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::ReceiveTimestampns, &true)
        .map_err(std::io::Error::from)?;
    Ok(s)
}

/// One datagram read: its length, sender, and when the kernel received it (nanoseconds of the
/// real-time clock), or `None` when nothing waits.
pub(super) fn recv(
    socket: &std::net::UdpSocket,
    buf: &mut [u8],
) -> std::io::Result<Option<(usize, SocketAddr, Option<i128>)>> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg};
    use std::os::fd::AsRawFd;
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let msg = match recvmsg::<SockaddrStorage>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_DONTWAIT,
    ) {
        Ok(m) => m,
        Err(nix::errno::Errno::EAGAIN) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let arrived = msg.cmsgs().ok().and_then(|mut c| {
        c.find_map(|c| match c {
            ControlMessageOwned::ScmTimestampns(ts) => {
                Some(i128::from(ts.tv_sec()) * 1_000_000_000 + i128::from(ts.tv_nsec()))
            }
            _ => None,
        })
    });
    let from = msg.address.and_then(|a: SockaddrStorage| {
        a.as_sockaddr_in()
            .map(|v4| SocketAddr::from(std::net::SocketAddrV4::from(*v4)))
            .or_else(|| {
                a.as_sockaddr_in6()
                    .map(|v6| SocketAddr::from(std::net::SocketAddrV6::from(*v6)))
            })
    });
    match from {
        Some(from) => Ok(Some((msg.bytes, from, arrived))),
        // Not an IP sender (cannot happen on a UDP socket): skip it.
        None => Ok(Some((0, SocketAddr::from(([0, 0, 0, 0], 0)), arrived))),
    }
}

/// Now on the real-time clock, nanoseconds (the clock the kernel stamps arrivals with).
pub(super) fn realtime_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

/// CPU time this thread has used, microseconds.
pub(super) fn thread_cpu_us() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_nsec).unwrap_or(0) / 1000
}
