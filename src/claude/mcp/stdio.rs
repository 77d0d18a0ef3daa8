//! The MCP server's stdin/stdout, read and written on the async runtime
//! itself. Why it exists: tokio's `stdin()`/`stdout()` do every read and
//! write on a blocking-pool thread, so each channel push to Claude paid two
//! thread hand-offs (write, then flush) before it left the process, and each
//! tool call one more on the way in: most of the Codex→Claude hop inside
//! `abg mcp`. Claude Code gives its MCP servers private pipes (or socket
//! pairs); those are driven non-blocking through the reactor instead. A
//! terminal or a regular file (someone running `abg mcp` by hand) keeps
//! tokio's portable blocking version.

use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;

use nix::sys::stat::{SFlag, fstat};
use tokio::io::{AsyncRead, AsyncWrite};

/// Stdin as an async reader.
pub type Reader = Pin<Box<dyn AsyncRead + Send>>;
/// Stdout as an async writer.
pub type Writer = Pin<Box<dyn AsyncWrite + Send>>;

/// What a standard stream is connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fifo,
    Socket,
    Other,
}

fn kind_of(fd: &impl AsFd) -> Kind {
    match fstat(fd.as_fd()) {
        Ok(st) => {
            let fmt = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
            if fmt == SFlag::S_IFIFO {
                Kind::Fifo
            } else if fmt == SFlag::S_IFSOCK {
                Kind::Socket
            } else {
                Kind::Other
            }
        }
        Err(_) => Kind::Other,
    }
}

/// A private duplicate of a standard stream's descriptor (the original
/// stays open for anything else that writes to it, e.g. a panic message).
fn dup(fd: impl AsFd) -> std::io::Result<OwnedFd> {
    fd.as_fd().try_clone_to_owned()
}

/// A standard stream that is a socket, as a non-blocking tokio stream.
fn socket(fd: impl AsFd) -> std::io::Result<tokio::net::UnixStream> {
    let s = std::os::unix::net::UnixStream::from(dup(fd)?);
    s.set_nonblocking(true)?;
    tokio::net::UnixStream::from_std(s)
}

fn reader() -> Reader {
    let stdin = std::io::stdin();
    let fast: std::io::Result<Reader> = match kind_of(&stdin) {
        Kind::Fifo => dup(&stdin)
            .and_then(tokio::net::unix::pipe::Receiver::from_owned_fd)
            .map(|r| Box::pin(r) as Reader),
        Kind::Socket => socket(&stdin).map(|s| Box::pin(s) as Reader),
        Kind::Other => Err(std::io::ErrorKind::Unsupported.into()),
    };
    fast.unwrap_or_else(|_| Box::pin(tokio::io::stdin()))
}

fn writer() -> Writer {
    let stdout = std::io::stdout();
    let fast: std::io::Result<Writer> = match kind_of(&stdout) {
        Kind::Fifo => dup(&stdout)
            .and_then(tokio::net::unix::pipe::Sender::from_owned_fd)
            .map(|w| Box::pin(w) as Writer),
        Kind::Socket => socket(&stdout).map(|s| Box::pin(s) as Writer),
        Kind::Other => Err(std::io::ErrorKind::Unsupported.into()),
    };
    fast.unwrap_or_else(|_| Box::pin(tokio::io::stdout()))
}

/// The server's transport: (stdin, stdout). Must run inside the runtime.
pub fn transport() -> (Reader, Writer) {
    (reader(), writer())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_and_sockets_are_told_apart_from_files() {
        let (r, w) = nix::unistd::pipe().expect("pipe");
        assert_eq!(kind_of(&r), Kind::Fifo);
        assert_eq!(kind_of(&w), Kind::Fifo);
        let (a, _b) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        assert_eq!(kind_of(&a), Kind::Socket);
        let f = tempfile::tempfile().expect("file");
        assert_eq!(kind_of(&f), Kind::Other);
    }

    #[tokio::test]
    async fn a_socket_stream_is_driven_on_the_reactor() {
        use std::io::Read;
        use tokio::io::AsyncWriteExt;
        let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        let mut stream = socket(&ours).expect("socket");
        stream
            .write_all(b"{\"jsonrpc\":\"2.0\"}\n")
            .await
            .expect("write");
        let mut got = [0u8; 18];
        theirs.read_exact(&mut got).expect("read");
        assert_eq!(&got, b"{\"jsonrpc\":\"2.0\"}\n");
    }
}
