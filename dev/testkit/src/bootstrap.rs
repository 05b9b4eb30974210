//! Which bootstrap a test starts: the debug build of this machine's architecture, or a
//! deployable arm64 one (the template's default architecture) run by qemu-user, so that
//! the same Runtime API and moto tests exercise the binary Lambda would run on Graviton.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where `make test`'s `sam build` leaves the arm64 bootstraps (`<dir>/PredictFunction/
/// bootstrap`, `<dir>/BatchFunction/bootstrap`); `sam build`'s own default without it.
pub const ARM64_BUILD_DIR: &str = "ARM64_BUILD_DIR";

/// The sysroot qemu-user loads an aarch64 binary's dynamic loader and glibc from (Debian's
/// `libc6-dev-arm64-cross`, installed by `make arm64-toolchain`).
const AARCH64_SYSROOT: &str = "/usr/aarch64-linux-gnu";

/// A program to start as a Lambda sandbox's bootstrap, possibly through an emulator.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    program: PathBuf,
    /// The emulator and its arguments, the bootstrap's path appended: none for a native one.
    wrapper: Option<(OsString, Vec<OsString>)>,
}

impl Bootstrap {
    /// A binary of this machine's architecture (a test's `env!("CARGO_BIN_EXE_...")`).
    pub fn native(program: impl Into<PathBuf>) -> Bootstrap {
        Bootstrap {
            program: program.into(),
            wrapper: None,
        }
    }

    /// The arm64 bootstrap `sam build` made for the template's `logical_id`
    /// (`PredictFunction`, `BatchFunction`), run by `qemu-aarch64-static`. Panics, naming
    /// what to run, when it or qemu is missing: such a test must fail, never pass untried.
    pub fn arm64(logical_id: &str) -> Bootstrap {
        let dir = std::env::var_os(ARM64_BUILD_DIR)
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::moto::repository_root().join(".aws-sam/build"));
        let program = dir.join(logical_id).join("bootstrap");
        assert!(
            program.is_file(),
            "no arm64 bootstrap at {}: `make test` builds it (sam build for arm64), or set \
             {ARM64_BUILD_DIR} to a sam build directory",
            program.display()
        );
        let qemu = "qemu-aarch64-static";
        assert!(
            which(qemu).is_some(),
            "{qemu} is not installed: `make arm64-toolchain` installs it"
        );
        Bootstrap {
            program,
            wrapper: Some((qemu.into(), vec!["-L".into(), AARCH64_SYSROOT.into()])),
        }
    }

    /// The bootstrap binary itself (not the emulator).
    pub fn path(&self) -> &Path {
        &self.program
    }

    /// A command starting it, with nothing else set.
    pub fn command(&self) -> tokio::process::Command {
        match &self.wrapper {
            None => tokio::process::Command::new(&self.program),
            Some((emulator, args)) => {
                let mut command = tokio::process::Command::new(emulator);
                command.args(args).arg(&self.program);
                command
            }
        }
    }
}

/// `name` looked up on `PATH`, as a shell would.
fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
