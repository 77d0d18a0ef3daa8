//! `abg logs`: the pair daemon's log, optionally followed like `tail -f`
//! (across rotations). Log lines quote agents (Codex errors, methods), so a
//! terminal shows their control characters instead of running them.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::process::ExitCode;
use std::time::Duration;

use super::{Context, output};

/// Show the pair daemon's log.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep printing new lines as they are written.
    #[arg(short, long)]
    pub follow: bool,
    /// How many of the last lines to show first.
    #[arg(short = 'n', long, default_value_t = 100, value_name = "N")]
    pub lines: usize,
}

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    let pair = ctx.existing_pair()?;
    let path = pair.log_file();
    let text = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !args.follow => {
            output::line(format!(
                "no log yet at {}; the daemon has not run for this pair",
                path.display()
            ))?;
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    };
    let all: Vec<&str> = text.lines().collect();
    for l in &all[all.len().saturating_sub(args.lines)..] {
        output::agent_line(l, false)?;
    }
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    let mut offset = text.len() as u64;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.len() < offset {
            // Rotated: start over at the top of the new file.
            offset = 0;
        }
        if meta.len() == offset {
            continue;
        }
        let Ok(mut file) = std::fs::File::open(&path) else {
            continue;
        };
        file.seek(SeekFrom::Start(offset))?;
        let mut reader = BufReader::new(file.take(meta.len() - offset));
        let mut buf = String::new();
        while reader.read_line(&mut buf)? > 0 {
            if !buf.ends_with('\n') {
                break;
            }
            offset += buf.len() as u64;
            output::agent_line(buf.trim_end_matches('\n'), false)?;
            buf.clear();
        }
    }
}
