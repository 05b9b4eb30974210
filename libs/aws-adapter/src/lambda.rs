//! What both functions' `main`s do the same way: start logging and metrics, fail the init
//! with one readable log line, and read a panic's message.

use std::any::Any;
use std::fmt::Display;

use crate::emf::Emf;

/// Starts the function's JSON logging (Lambda's log level and format from the environment)
/// and its metrics recorder. Call it first, so that everything after it is logged. Metrics
/// are worth having, not worth failing the cold start for: without them (`None`), the
/// function runs on with a warning. `function` names it outside Lambda.
pub fn start(function: &str) -> Option<Emf> {
    lambda_runtime::tracing::init_default_subscriber();
    Emf::install_from_env(function)
        .inspect_err(|e| tracing::warn!(error = %e, "running without metrics"))
        .ok()
}

/// The init's result, or one JSON log line naming what is wrong and the process's exit:
/// the non-zero status fails the init, which Lambda reports.
pub fn ready_or_exit<T, E: Display>(init: Result<T, E>) -> T {
    init.unwrap_or_else(|e| {
        tracing::error!(error = %e, "init failed");
        std::process::exit(1)
    })
}

/// What a panic said (`panic!("...")` carries a `&str`, a formatted one a `String`).
pub fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caught(f: impl FnOnce() + std::panic::UnwindSafe) -> Box<dyn Any + Send> {
        std::panic::catch_unwind(f).unwrap_err()
    }

    #[test]
    fn a_panic_says_what_it_said() {
        assert_eq!(panic_message(&*caught(|| panic!("plain"))), "plain");
        let n = std::hint::black_box(7);
        assert_eq!(
            panic_message(&*caught(move || panic!("formatted {n}"))),
            "formatted 7"
        );
        let other = caught(|| std::panic::panic_any(42u32));
        assert_eq!(panic_message(&*other), "a panic without a message");
    }

    #[test]
    fn an_init_that_worked_passes_through() {
        assert_eq!(ready_or_exit(Ok::<_, String>(3)), 3);
    }
}
