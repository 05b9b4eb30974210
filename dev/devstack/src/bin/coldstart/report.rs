//! The results: a table for people, then one line of JSON with every number.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use crate::measure::ColdStart;
use crate::package::PackageSizes;
use crate::Args;

/// The targets, for the verdict column only.
const TARGET_INIT_MS: f64 = 25.0;
const TARGET_PEAK_RSS_MIB: f64 = 48.0;
const TARGET_ZIP_MIB: f64 = 8.0;

pub struct Report {
    pub package: PackageSizes,
    pub runs: Vec<ColdStart>,
    pub logs: PathBuf,
}

struct Stats {
    n: usize,
    mean: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Stats {
    fn of(mut samples: Vec<Duration>) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        samples.sort();
        let n = samples.len();
        // Nearest rank.
        let rank = |p: f64| samples[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
        Some(Stats {
            n,
            mean: samples.iter().sum::<Duration>() / n as u32,
            p50: rank(0.50),
            p99: rank(0.99),
            max: samples[n - 1],
        })
    }

    fn json(&self) -> Value {
        json!({
            "n": self.n,
            "mean_ms": round3(ms(self.mean)),
            "p50_ms": round3(ms(self.p50)),
            "p99_ms": round3(ms(self.p99)),
            "max_ms": round3(ms(self.max)),
        })
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// min, median, max of a few samples.
fn spread(samples: &[Duration]) -> (Duration, Duration, Duration) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    };
    (sorted[0], median, sorted[n - 1])
}

fn verdict(value: Option<f64>, target: f64) -> &'static str {
    match value {
        Some(v) if v <= target => "ok",
        Some(_) => "OVER",
        None => "?",
    }
}

impl Report {
    pub fn print(&self, args: &Args) {
        let (with, without): (Vec<&ColdStart>, Vec<&ColdStart>) =
            self.runs.iter().partition(|r| r.challenger);
        let inits: Vec<Duration> = without.iter().map(|r| r.init).collect();
        let firsts: Vec<Duration> = without.iter().map(|r| r.first_invoke).collect();
        let (init_min, init_median, init_max) = spread(&inits);
        let (first_min, first_median, first_max) = spread(&firsts);
        let last = without.last().expect("at least one run");
        let warm = Stats::of(last.warm.iter().map(|(_, d)| *d).collect());
        let by_route = |name: &str| {
            Stats::of(
                last.warm
                    .iter()
                    .filter(|(r, _)| r.name() == name)
                    .map(|(_, d)| *d)
                    .collect(),
            )
        };
        let (get, post) = (by_route("GET /predict/{id}"), by_route("POST /predict"));
        let peak_rss = last.peak_rss_kib.map(|k| k as f64 / 1024.0);
        let rss_init = last.rss_after_init_kib.map(|k| k as f64 / 1024.0);
        let zipped = self.package.zipped.map(mib);
        let log_lines: usize = self.runs.iter().map(|r| r.log_lines).sum();
        let opt =
            |v: Option<f64>, unit: &str| v.map_or("n/a".to_owned(), |v| format!("{v:.2} {unit}"));

        println!();
        println!(
            "predict cold start: {} ({} runs; warm invokes on the last)",
            args.bootstrap.display(),
            without.len()
        );
        println!("{:<34} {:>9} {:>9} {:>9}", "", "min", "median", "max");
        println!(
            "{:<34} {:>9.2} {:>9.2} {:>9.2}  ms  [{} <= {TARGET_INIT_MS} ms]",
            "init (spawn -> first /next)",
            ms(init_min),
            ms(init_median),
            ms(init_max),
            verdict(Some(ms(init_median)), TARGET_INIT_MS)
        );
        println!(
            "{:<34} {:>9.2} {:>9.2} {:>9.2}  ms",
            "first invoke (GET, new DB conn)",
            ms(first_min),
            ms(first_median),
            ms(first_max)
        );
        println!(
            "{:<34} {:>9} {:>9} {:>9} {:>9}",
            "", "p50", "p99", "max", "mean"
        );
        for (label, stats) in [
            ("warm invokes, all".to_owned(), &warm),
            ("  GET /predict/{id}".to_owned(), &get),
            ("  POST /predict, 1 instance".to_owned(), &post),
        ] {
            if let Some(s) = stats {
                println!(
                    "{:<34} {:>9.3} {:>9.3} {:>9.3} {:>9.3}  ms  (n={})",
                    label,
                    ms(s.p50),
                    ms(s.p99),
                    ms(s.max),
                    ms(s.mean),
                    s.n
                );
            }
        }
        println!("{:<34} {}", "RSS after init", opt(rss_init, "MiB"));
        println!(
            "{:<34} {}  [{} <= {TARGET_PEAK_RSS_MIB} MiB]",
            "peak RSS (VmHWM)",
            opt(peak_rss, "MiB"),
            verdict(peak_rss, TARGET_PEAK_RSS_MIB)
        );
        println!(
            "{:<34} {:.2} MiB as built, {} stripped",
            "bootstrap binary",
            mib(self.package.binary),
            opt(self.package.stripped.map(mib), "MiB")
        );
        println!(
            "{:<34} {}  [{} <= {TARGET_ZIP_MIB} MiB]",
            "zipped bootstrap",
            opt(zipped, "MiB"),
            verdict(zipped, TARGET_ZIP_MIB)
        );
        if log_lines > 0 {
            println!(
                "the function logged {log_lines} lines at warn level or above: see {}",
                self.logs.display()
            );
        }

        let challenger = (!with.is_empty()).then(|| self.challenger(&with, &without));
        let report = json!({
            "bootstrap": args.bootstrap.display().to_string(),
            "runs": without.len(),
            "challenger": challenger,
            "init_ms": {
                "min": round3(ms(init_min)),
                "median": round3(ms(init_median)),
                "max": round3(ms(init_max)),
                "all": inits.iter().map(|d| round3(ms(*d))).collect::<Vec<_>>(),
            },
            "first_invoke_ms": {
                "min": round3(ms(first_min)),
                "median": round3(ms(first_median)),
                "max": round3(ms(first_max)),
                "all": firsts.iter().map(|d| round3(ms(*d))).collect::<Vec<_>>(),
            },
            "warm": warm.as_ref().map(Stats::json),
            "warm_get": get.as_ref().map(Stats::json),
            "warm_post": post.as_ref().map(Stats::json),
            "rss_after_init_kib": last.rss_after_init_kib,
            "peak_rss_kib": last.peak_rss_kib,
            "peak_rss_kib_per_run": without.iter().map(|r| r.peak_rss_kib).collect::<Vec<_>>(),
            "binary_bytes": self.package.binary,
            "stripped_bytes": self.package.stripped,
            "zipped_bytes": self.package.zipped,
            "function_log_lines": log_lines,
        });
        println!("{report}");
    }

    /// The runs with a challenger beside those without: init, the champion's own model
    /// load (what a challenger of the same size may add), and the warm requests.
    fn challenger(&self, with: &[&ColdStart], without: &[&ColdStart]) -> Value {
        let inits = |runs: &[&ColdStart]| spread(&runs.iter().map(|r| r.init).collect::<Vec<_>>());
        let (_, without_init, _) = inits(without);
        let (with_min, with_init, with_max) = inits(with);
        let loads: Vec<Duration> = without.iter().filter_map(|r| r.model_load).collect();
        let load = (!loads.is_empty()).then(|| spread(&loads).1);
        let warm = |runs: &[&ColdStart], name: &str| {
            Stats::of(
                runs.last()
                    .map(|r| {
                        r.warm
                            .iter()
                            .filter(|(route, _)| route.name() == name)
                            .map(|(_, d)| *d)
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        };
        println!();
        println!(
            "with a challenger of the same size ({} runs, interleaved)",
            with.len()
        );
        println!(
            "{:<34} {:>9.2} {:>9.2} {:>9.2}  ms  (median {:+.2} ms against without)",
            "init (spawn -> first /next)",
            ms(with_min),
            ms(with_init),
            ms(with_max),
            ms(with_init) - ms(without_init)
        );
        if let Some(load) = load {
            println!(
                "{:<34} {:>9.2}  ms  (median, runs without: what the challenger may add)",
                "champion's model fetch + build",
                ms(load)
            );
        }
        let mut routes = serde_json::Map::new();
        for name in ["GET /predict/{id}", "POST /predict"] {
            if let (Some(a), Some(b)) = (warm(without, name), warm(with, name)) {
                println!(
                    "{:<34} p50 {:.3} -> {:.3} ms, mean {:.3} -> {:.3} ms",
                    format!("  warm {name}"),
                    ms(a.p50),
                    ms(b.p50),
                    ms(a.mean),
                    ms(b.mean)
                );
                routes.insert(
                    name.to_owned(),
                    json!({"without": a.json(), "with": b.json()}),
                );
            }
        }
        json!({
            "runs": with.len(),
            "init_median_ms": round3(ms(with_init)),
            "init_median_without_ms": round3(ms(without_init)),
            "champion_model_load_median_ms": load.map(|d| round3(ms(d))),
            "warm": routes,
            "peak_rss_kib": with.last().and_then(|r| r.peak_rss_kib),
        })
    }
}
