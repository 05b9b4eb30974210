//! Tests that need their process to themselves, in a test binary whose other tests run at
//! the same time: a process-wide metrics recorder (another test's requests would be
//! counted), or environment variables the code under test reads. Such a test starts with
//! [`alone!`](crate::alone): the test binary runs it again in a process of its own, with
//! only that test, and the test passes or fails as it did there.

use std::process::Command;

/// Set in the process started for one test: its name.
const VAR: &str = "TESTKIT_ALONE";

/// Whether the calling test runs its body in this process. In a process started for it,
/// yes. Otherwise this starts the test binary again with only this test, waits for it, and
/// panics unless it ran there and passed; then no: the test is done.
pub fn here() -> bool {
    let current = std::thread::current();
    // The test harness names each test's thread after the test.
    let name = match current.name() {
        Some(name) if name != "main" => name,
        _ => panic!("alone!() must be called from a test's own thread"),
    };
    if std::env::var(VAR).is_ok_and(|v| v == name) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(&exe)
        .args([name, "--exact", "--include-ignored", "--test-threads=1"])
        .env(VAR, name)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} for {name}: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name}, run alone in its own process ({}):\n{stdout}\n{stderr}",
        out.status
    );
    false
}

/// Runs the calling test in a process of its own (see the [module](crate::alone)): in the
/// test's first process, returns from it once that process has passed it.
#[macro_export]
macro_rules! alone {
    () => {
        if !$crate::alone::here() {
            return;
        }
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_body_runs_in_a_process_of_its_own() {
        crate::alone!();
        let name = std::thread::current().name().unwrap().to_owned();
        assert_eq!(std::env::var(super::VAR).unwrap(), name);
    }

    /// In its own process the test fails (its panic is not the one expected there), so the
    /// first process's test panics with the other's output.
    #[test]
    #[should_panic(expected = "run alone in its own process")]
    fn a_failure_there_fails_the_test_here() {
        if std::env::var(super::VAR).is_ok() {
            panic!("failing in its own process");
        }
        crate::alone!();
    }
}
