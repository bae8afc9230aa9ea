//! The one way out: every byte imagelock prints goes through here (clippy's `print_stdout` and
//! `print_stderr` lints keep it so).
//!
//! Writes go to duplicates of file descriptors 1 and 2 rather than through `std::io::stdout()`,
//! which silently swallows writes to a closed descriptor (`imagelock get web >&-` would "succeed"
//! having printed nothing). What happens when a write fails:
//! - stdout, broken pipe (`imagelock images | head`): the reader's choice. Output stops quietly and
//!   the command ends with the exit code it would have had, like ripgrep.
//! - stdout, anything else (a full disk, a closed descriptor): an error, exit 2.
//! - stderr, anything: there is nowhere left to complain, so it is ignored; the exit code still
//!   tells.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::os::fd::AsFd;
use std::sync::Mutex;

use imagelock::{Error, Result};

/// Where a stream stands.
enum Stream {
    /// Not written yet.
    Unopened,
    Open(File),
    /// A reader went away (stdout) or writing failed (stderr): nothing more is written.
    Closed,
}

static STDOUT: Mutex<Stream> = Mutex::new(Stream::Unopened);
static STDERR: Mutex<Stream> = Mutex::new(Stream::Unopened);

fn open(which: &Mutex<Stream>, fd: impl AsFd) -> std::io::Result<()> {
    let mut stream = which.lock().unwrap_or_else(|p| p.into_inner());
    if matches!(*stream, Stream::Unopened) {
        *stream = Stream::Open(File::from(fd.as_fd().try_clone_to_owned()?));
    }
    Ok(())
}

fn write(which: &Mutex<Stream>, bytes: &[u8]) -> std::io::Result<()> {
    let mut stream = which.lock().unwrap_or_else(|p| p.into_inner());
    let Stream::Open(file) = &mut *stream else {
        return Ok(());
    };
    match file.write_all(bytes) {
        Ok(()) => Ok(()),
        Err(err) => {
            *stream = Stream::Closed;
            Err(err)
        }
    }
}

/// Whether descriptor 1 was closed when imagelock started (`imagelock get web >&-`). Rust's
/// runtime reopens a closed standard descriptor on /dev/null before `main`, read-write; a shell
/// redirect (`>/dev/null`) opens it write-only. So /dev/null opened read-write means "closed".
fn stdout_was_closed() -> bool {
    let stdout = std::io::stdout();
    let (Ok(flags), Ok(stat), Ok(null)) = (
        rustix::fs::fcntl_getfl(&stdout),
        rustix::fs::fstat(&stdout),
        rustix::fs::stat("/dev/null"),
    ) else {
        return false;
    };
    stat.st_rdev == null.st_rdev
        && rustix::fs::FileType::from_raw_mode(stat.st_mode)
            == rustix::fs::FileType::CharacterDevice
        && flags.contains(rustix::fs::OFlags::RDWR)
}

/// Data on stdout. A broken pipe ends the output quietly; any other failure is an error (exit 2).
pub fn stdout(text: &str) -> Result<()> {
    static CLOSED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *CLOSED.get_or_init(stdout_was_closed) {
        return Err(Error::Output(std::io::Error::from_raw_os_error(
            rustix::io::Errno::BADF.raw_os_error(),
        )));
    }
    let result = open(&STDOUT, std::io::stdout()).and_then(|()| write(&STDOUT, text.as_bytes()));
    match result {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == ErrorKind::BrokenPipe => Ok(()),
        Err(err) => Err(Error::Output(err)),
    }
}

/// A human line on stderr (newline added). Failures are ignored: see the module comment.
pub fn stderr_line(text: &str) {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    stderr_raw(&line);
}

/// Text on stderr exactly as given.
pub fn stderr_raw(text: &str) {
    if open(&STDERR, std::io::stderr()).is_ok() {
        let _ = write(&STDERR, text.as_bytes());
    }
}

/// A `tracing` writer that goes through the same stderr as everything else.
pub struct TracingWriter;

impl Write for TracingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if open(&STDERR, std::io::stderr()).is_ok() {
            let _ = write(&STDERR, buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for TracingWriter {
    type Writer = TracingWriter;

    fn make_writer(&'a self) -> Self::Writer {
        TracingWriter
    }
}
