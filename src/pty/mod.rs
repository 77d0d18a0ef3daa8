//! The PTY supervisor shared by `abg claude` and `abg codex`.
//!
//! Both agents' real, unmodified TUIs run in a pseudo-terminal that abg owns,
//! so abg can put the human's terminal in raw mode and always restore it,
//! forward window-size changes and signals, return the child's exit code, and
//! (for the Claude doorbell) type a short prompt into the TUI when, and only
//! when, the human is not typing.
//!
//! Layout: [`terminal`] is the injectable seam to the human's terminal (real
//! in [`real`], scripted in [`testing`]); [`supervisor`] runs the child and the
//! copy threads; [`inject`] types into the child safely; [`screen`] keeps a
//! model of what the child drew; `guard` restores the terminal on every exit
//! path.
//!
//! ```no_run
//! use abg::pty::{LaunchSpec, RealTerminal, Supervisor, SupervisorOptions};
//! # fn main() -> Result<(), abg::pty::PtyError> {
//! let spec = LaunchSpec::new("codex").arg("--remote").arg("ws://127.0.0.1:4500");
//! let sup = Supervisor::spawn(spec, RealTerminal::new(), SupervisorOptions::default())?;
//! let status = sup.wait()?;
//! std::process::exit(status.code());
//! # }
//! ```

mod guard;
pub mod inject;
pub mod real;
pub mod screen;
mod signals;
pub mod supervisor;
pub mod terminal;
pub mod testing;

#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::path::PathBuf;

use nix::sys::signal::Signal;
use portable_pty::CommandBuilder;

pub use guard::{RESET_SEQUENCE, reset_sequence};
pub use inject::{InjectError, InjectOptions, Injector, ReadyCheck, Refused};
pub use real::RealTerminal;
pub use screen::Screen;
pub use supervisor::{OutputTap, Supervisor, SupervisorOptions, run};
pub use terminal::{EventSink, InputSource, TermEvent, TermSize, TerminalIo};

/// What to run in the PTY.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchSpec {
    /// Program name (looked up in `PATH`) or path.
    pub program: OsString,
    /// Arguments, without the program itself.
    pub args: Vec<OsString>,
    /// Variables set for the child, on top of abg's own environment.
    pub env: Vec<(OsString, OsString)>,
    /// Variables removed from the child's environment.
    pub env_remove: Vec<OsString>,
    /// Working directory; `None` means abg's current directory.
    pub cwd: Option<PathBuf>,
}

impl LaunchSpec {
    /// A spec running `program` with no arguments in the current directory.
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            ..Self::default()
        }
    }

    /// Appends one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the child.
    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Removes an environment variable from the child's environment.
    #[must_use]
    pub fn env_remove(mut self, key: impl Into<OsString>) -> Self {
        self.env_remove.push(key.into());
        self
    }

    /// Sets the working directory.
    #[must_use]
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Builds portable-pty's command. portable-pty silently falls back to
    /// `$HOME` for a missing cwd, so the directory is checked here instead.
    fn to_command(&self) -> Result<CommandBuilder, PtyError> {
        let cwd = match &self.cwd {
            Some(dir) => dir.clone(),
            None => std::env::current_dir().map_err(PtyError::Cwd)?,
        };
        if !cwd.is_dir() {
            return Err(PtyError::Cwd(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("working directory {} is not a directory", cwd.display()),
            )));
        }
        let mut cmd = CommandBuilder::new(&self.program);
        cmd.args(&self.args);
        for key in &self.env_remove {
            cmd.env_remove(key);
        }
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd.cwd(cwd);
        Ok(cmd)
    }
}

/// How the child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// The child called `exit(code)`.
    Exited(i32),
    /// The child was killed by a signal.
    Signaled(Signal),
}

impl ExitStatus {
    /// The code abg itself should exit with: the child's code, or 128 + signal
    /// number, as shells report it.
    pub fn code(&self) -> i32 {
        match self {
            ExitStatus::Exited(code) => *code,
            ExitStatus::Signaled(sig) => 128 + *sig as i32,
        }
    }

    /// True for `Exited(0)`.
    pub fn success(&self) -> bool {
        matches!(self, ExitStatus::Exited(0))
    }
}

/// Errors from the PTY supervisor.
#[derive(Debug, thiserror::Error)]
pub enum PtyError {
    /// The working directory is missing or unreadable.
    #[error("cannot use working directory: {0}")]
    Cwd(#[source] std::io::Error),
    /// The pseudo-terminal could not be opened or wired up.
    #[error("cannot set up the pseudo-terminal: {0}")]
    Pty(String),
    /// The program could not be started.
    #[error("cannot start {program}: {reason}")]
    Spawn {
        /// The program as given in the spec.
        program: String,
        /// portable-pty's explanation (not found, not executable, …).
        reason: String,
    },
    /// The human's terminal could not be prepared (raw mode, signals).
    #[error("cannot prepare the terminal: {0}")]
    Terminal(#[source] std::io::Error),
    /// Waiting for the child failed.
    #[error("cannot wait for the child: {0}")]
    Wait(#[source] nix::Error),
    /// A supervisor thread died unexpectedly.
    #[error("PTY supervisor failed: {0}")]
    Internal(String),
}
