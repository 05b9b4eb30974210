//! The bootstrap as a file: what a deployment uploads, and whether it is older than its
//! sources.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::SystemTime;

use testkit::moto::repository_root;

pub struct PackageSizes {
    pub binary: u64,
    pub stripped: Option<u64>,
    pub zipped: Option<u64>,
}

/// The binary's size as built, stripped and zipped alone as `bootstrap`, in a scratch
/// directory removed afterwards. No `strip` or `zip` on PATH: that size is unknown.
pub fn sizes(bootstrap: &Path) -> Result<PackageSizes, String> {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len());
    let binary = size(bootstrap).map_err(|e| format!("{}: {e}", bootstrap.display()))?;
    let dir = std::env::temp_dir().join(format!("coldstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let copy = dir.join("bootstrap");
    let sizes = (|| {
        std::fs::copy(bootstrap, &copy).map_err(|e| format!("copying the bootstrap: {e}"))?;
        let quiet = |program: &str, args: &[&str]| {
            std::process::Command::new(program)
                .args(args)
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let stripped = quiet("strip", &["bootstrap"])
            .then(|| size(&copy).ok())
            .flatten();
        let zipped = quiet("zip", &["-q", "-X", "bootstrap.zip", "bootstrap"])
            .then(|| size(&dir.join("bootstrap.zip")).ok())
            .flatten();
        Ok(PackageSizes {
            binary,
            stripped,
            zipped,
        })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    sizes
}

/// A warning when the bootstrap is older than the sources it is built from: the predict
/// function and the libraries under `libs/`.
pub fn warn_if_stale(bootstrap: &Path) {
    let Ok(built) = std::fs::metadata(bootstrap).and_then(|m| m.modified()) else {
        return;
    };
    let root = repository_root();
    let libs = std::fs::read_dir(root.join("libs"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path());
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    let mut stack: Vec<PathBuf> = std::iter::once(root.join("functions/predict"))
        .chain(libs)
        .flat_map(|dir| [dir.join("src"), dir.join("Cargo.toml")])
        .collect();
    while let Some(path) = stack.pop() {
        if let Ok(entries) = std::fs::read_dir(&path) {
            stack.extend(entries.flatten().map(|e| e.path()));
        } else if let Ok(modified) = std::fs::metadata(&path).and_then(|m| m.modified()) {
            if newest.as_ref().is_none_or(|(t, _)| modified > *t) {
                newest = Some((modified, path));
            }
        }
    }
    if let Some((modified, path)) = newest {
        if modified > built {
            eprintln!(
                "coldstart: warning: {} is older than {}: rebuild with `cargo build --release -p predict`",
                bootstrap.display(),
                path.display()
            );
        }
    }
}
