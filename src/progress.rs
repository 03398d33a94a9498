//! Progress of long commands: a bar on a terminal, plain timestamped lines otherwise (CI
//! logs, pipes), always on stderr so stdout stays for results.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

/// Where a long step's own progress lines go (`train`'s progress bar or log lines).
pub type Say = std::sync::Arc<dyn Fn(String) + Send + Sync>;

pub struct Progress {
    bar: Option<ProgressBar>,
    start: Instant,
    quiet: bool,
}

impl Progress {
    /// `steps` is the number of `step` calls expected.
    pub fn new(steps: u64, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(steps);
            bar.set_style(
                ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        });
        Progress {
            bar,
            start: Instant::now(),
            quiet,
        }
    }

    pub fn step(&self, message: impl Into<String>) {
        let message = message.into();
        match &self.bar {
            // The message first, so no redraw pairs the new count with the old step.
            Some(bar) => {
                bar.set_message(message);
                bar.inc(1);
            }
            None if !self.quiet => {
                eprintln!("[{:>6.1}s] {message}", self.start.elapsed().as_secs_f64())
            }
            None => {}
        }
    }

    /// Where a long step's own progress lines go (a reading pass's clicks per second): the
    /// bar's message on a terminal, a timestamped line otherwise; `None` when quiet.
    pub fn say(&self) -> Option<Say> {
        if self.quiet {
            return None;
        }
        let bar = self.bar.clone();
        let start = self.start;
        Some(std::sync::Arc::new(move |message: String| match &bar {
            Some(bar) => bar.set_message(message),
            None => eprintln!("[{:>6.1}s] {message}", start.elapsed().as_secs_f64()),
        }))
    }

    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
