//! Whether a model file of a given size can be loaded by a function of a given memory
//! before it is downloaded: a model too big for the memory would end the sandbox with an
//! out-of-memory kill, and one too slow to build would pass Lambda's 10-second init, both
//! without a word on what to change. The figures are what this crate's loader was
//! measured to need (`coldstart --ladder`, see docs/deployment.md), with a margin.

use std::fmt;
use std::time::Duration;

/// Memory the function needs beside the model: the runtime, the SDK clients, the
/// connection buffers and the first requests (measured: ~17 MiB with the demo model).
const BASE_BYTES: u64 = 40 << 20;
/// Peak memory while loading, per byte of model file: the file itself, the attribute
/// lists read from it and the evaluator's nodes, which briefly coexist (measured: 4.2 to
/// 5.2 bytes per byte over the ladder's forests, 5 to 103 MB).
const PEAK_PER_MODEL_BYTE: f64 = 6.0;
/// Building time per MiB of model on one full vCPU (Lambda gives one at 1,769 MB of
/// memory, a share below that): twice the 8 to 12 ms of CPU per MB measured over the
/// ladder on a loaded machine.
const BUILD_PER_MIB_AT_ONE_VCPU: Duration = Duration::from_millis(25);
/// S3's download rate to a function, conservatively.
const DOWNLOAD_BYTES_PER_SECOND: f64 = 50.0 * 1024.0 * 1024.0;
/// Lambda's init phase lasts 10 s at most; the rest of the init and the runtime's own
/// start need some of it.
const INIT_LIMIT: Duration = Duration::from_secs(8);
/// The memory at which Lambda gives a function one full vCPU.
const ONE_VCPU_MB: u64 = 1769;
/// Lambda's largest memory setting.
const MAX_MEMORY_MB: u64 = 10_240;

/// How much memory the function has, and so how large a model it can load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadBudget {
    /// `None` outside Lambda (tests, benches, `make dev`): no limit to keep to.
    memory_mb: Option<u64>,
}

/// Why a model of some size cannot be loaded within a budget, in words that name the
/// setting to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TooLarge {
    pub model_bytes: u64,
    pub memory_mb: u64,
    pub reason: TooLargeReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooLargeReason {
    /// Loading needs about `needed_mb` of memory.
    Memory { needed_mb: u64 },
    /// Loading would take about `needed` at this memory (and so this CPU share).
    Time { needed: Duration },
}

impl LoadBudget {
    /// A function with `memory_mb` of memory (Lambda's `MemorySize`, which the runtime
    /// passes as `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`).
    pub fn for_memory_mb(memory_mb: u64) -> LoadBudget {
        LoadBudget {
            memory_mb: Some(memory_mb),
        }
    }

    /// No limit: what runs outside Lambda, where no init deadline or memory setting
    /// applies, admits any model.
    pub fn unlimited() -> LoadBudget {
        LoadBudget { memory_mb: None }
    }

    /// The largest model file this budget admits, in bytes.
    pub fn max_model_bytes(&self) -> u64 {
        let Some(memory_mb) = self.memory_mb else {
            return u64::MAX;
        };
        let mut low = 0u64;
        let mut high = memory_mb.saturating_mul(1 << 20);
        // The checks are monotonic in the size: the largest admitted size by bisection.
        while low < high {
            let mid = low + (high - low).div_ceil(2);
            if self.admit(mid).is_ok() {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        low
    }

    /// Whether a model file of `model_bytes` can be loaded, memory first.
    pub fn admit(&self, model_bytes: u64) -> Result<(), TooLarge> {
        let Some(memory_mb) = self.memory_mb else {
            return Ok(());
        };
        let needed_mb = needed_memory_mb(model_bytes);
        let refuse = |reason| {
            Err(TooLarge {
                model_bytes,
                memory_mb,
                reason,
            })
        };
        if needed_mb > memory_mb {
            return refuse(TooLargeReason::Memory { needed_mb });
        }
        let needed = load_time(model_bytes, memory_mb);
        if needed > INIT_LIMIT {
            return refuse(TooLargeReason::Time { needed });
        }
        Ok(())
    }
}

fn needed_memory_mb(model_bytes: u64) -> u64 {
    let bytes = BASE_BYTES as f64 + model_bytes as f64 * PEAK_PER_MODEL_BYTE;
    (bytes / (1u64 << 20) as f64).ceil() as u64
}

fn load_time(model_bytes: u64, memory_mb: u64) -> Duration {
    let mib = model_bytes as f64 / (1u64 << 20) as f64;
    let share = (memory_mb as f64 / ONE_VCPU_MB as f64).min(1.0);
    let build = BUILD_PER_MIB_AT_ONE_VCPU.as_secs_f64() * mib / share.max(f64::MIN_POSITIVE);
    Duration::from_secs_f64(build + model_bytes as f64 / DOWNLOAD_BYTES_PER_SECOND)
}

/// The smallest memory setting (a multiple of 64 MB) that loads a model of `model_bytes`,
/// in memory and in time, if any.
fn memory_that_loads(model_bytes: u64) -> Option<u64> {
    (128..=MAX_MEMORY_MB)
        .step_by(64)
        .find(|&mb| LoadBudget::for_memory_mb(mb).admit(model_bytes).is_ok())
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = self.model_bytes as f64 / 1e6;
        match self.reason {
            TooLargeReason::Memory { needed_mb } => write!(
                f,
                "the model file is {size:.1} MB and loading it needs about {needed_mb} MB of \
                 memory, but the function has {} MB: ",
                self.memory_mb,
            )?,
            TooLargeReason::Time { needed } => write!(
                f,
                "the model file is {size:.1} MB and loading it would take about {:.1} s with \
                 the function's MemorySize of {} MB (Lambda's CPU share grows with it), past \
                 Lambda's 10 s init: ",
                needed.as_secs_f64(),
                self.memory_mb,
            )?,
        }
        match memory_that_loads(self.model_bytes) {
            Some(mb) => write!(
                f,
                "raise the function's MemorySize to at least {mb} MB, or deploy a smaller model"
            ),
            None => write!(
                f,
                "no MemorySize loads it in time (Lambda's largest is {MAX_MEMORY_MB} MB); \
                 deploy a smaller model (fewer or shallower trees)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1_000_000;

    #[test]
    fn a_demo_sized_model_fits_the_smallest_function() {
        assert_eq!(LoadBudget::for_memory_mb(128).admit(100_000), Ok(()));
    }

    #[test]
    fn a_model_too_big_for_the_memory_names_the_setting_and_a_value_that_fits() {
        let err = LoadBudget::for_memory_mb(256).admit(100 * MB).unwrap_err();
        assert!(matches!(err.reason, TooLargeReason::Memory { needed_mb } if needed_mb > 256));
        let message = err.to_string();
        assert!(message.contains("100.0 MB"), "{message}");
        assert!(message.contains("256 MB"), "{message}");
        assert!(message.contains("MemorySize"), "{message}");
        // The memory it advises admits the model.
        let advised = advised_memory(&message).expect("a memory size");
        assert_eq!(LoadBudget::for_memory_mb(advised).admit(100 * MB), Ok(()));
    }

    fn advised_memory(message: &str) -> Option<u64> {
        message
            .split("at least ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
    }

    #[test]
    fn a_model_too_slow_for_the_init_at_a_small_cpu_share_is_told_to_raise_memory() {
        // A model that fits the memory, but whose build at that memory's CPU share and
        // download would pass the init: the advice is a memory that loads it in time.
        let (size, memory, err) = (50..=400)
            .step_by(10)
            .flat_map(|size| {
                (128..ONE_VCPU_MB)
                    .step_by(64)
                    .map(move |mb| (size * MB, mb))
            })
            .find_map(
                |(size, mb)| match LoadBudget::for_memory_mb(mb).admit(size) {
                    Err(e) if matches!(e.reason, TooLargeReason::Time { .. }) => {
                        Some((size, mb, e))
                    }
                    _ => None,
                },
            )
            .expect("some model is too slow to load at a small CPU share");
        let message = err.to_string();
        assert!(message.contains("10 s init"), "{message}");
        assert!(message.contains(&format!("{memory} MB")), "{message}");
        let advised = advised_memory(&message).expect("a memory size");
        assert!(advised > memory, "{message}");
        assert_eq!(LoadBudget::for_memory_mb(advised).admit(size), Ok(()));
    }

    #[test]
    fn a_model_too_slow_to_download_in_time_is_told_to_shrink() {
        let err = LoadBudget::for_memory_mb(MAX_MEMORY_MB)
            .admit(600 * MB)
            .unwrap_err();
        assert!(matches!(err.reason, TooLargeReason::Time { .. }), "{err}");
        assert!(advised_memory(&err.to_string()).is_none(), "{err}");
    }

    #[test]
    fn outside_lambda_any_model_is_admitted() {
        let budget = LoadBudget::unlimited();
        assert_eq!(budget.admit(u64::MAX), Ok(()));
        assert_eq!(budget.max_model_bytes(), u64::MAX);
    }

    #[test]
    fn a_model_larger_than_any_function_is_told_to_shrink() {
        let err = LoadBudget::for_memory_mb(MAX_MEMORY_MB)
            .admit(5_000 * MB)
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("smaller model"), "{message}");
        assert!(!message.contains("at least"), "{message}");
    }

    #[test]
    fn the_largest_admitted_size_is_admitted_and_one_byte_more_is_not() {
        for memory in [128, 512, 1769, 3008, MAX_MEMORY_MB] {
            let budget = LoadBudget::for_memory_mb(memory);
            let max = budget.max_model_bytes();
            assert!(max > 0, "{memory} MB admits something");
            assert_eq!(budget.admit(max), Ok(()), "{memory} MB");
            assert!(budget.admit(max + 1).is_err(), "{memory} MB");
        }
    }
}
