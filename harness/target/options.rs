//! What a command says about its target, as plain typed options (the command line fills
//! them in `cli/`; tests and other programs build them directly).

use super::{LiveTarget, TargetFacts, Timeouts};
use std::time::Duration;

/// Options that pick and describe a target (`--target`, `--allow-remote`, declared facts,
/// timeouts), shared by `run`, `replay` and `fuzz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetOptions {
    /// A live candidate `HOST:PORT`. Without it, the embedded reference host on loopback.
    pub target: Option<String>,
    /// Allow a target that is not a loopback address.
    pub allow_remote: bool,
    /// Declare the host's CMID tables empty at the start (enables count cases).
    pub fresh: bool,
    /// Host keys (CSVLK family names from the catalog) declared held by the host.
    pub host_key: Vec<String>,
    /// Judging profile (`default` or `strict`).
    pub profile: Option<String>,
    /// Connect timeout in milliseconds.
    pub connect_timeout_ms: u64,
    /// Read timeout in milliseconds.
    pub read_timeout_ms: u64,
    /// Write timeout in milliseconds.
    pub write_timeout_ms: u64,
}

impl Default for TargetOptions {
    /// The embedded host, nothing declared, the command line's default timeouts.
    fn default() -> Self {
        TargetOptions {
            target: None,
            allow_remote: false,
            fresh: false,
            host_key: Vec::new(),
            profile: None,
            connect_timeout_ms: 2000,
            read_timeout_ms: 3000,
            write_timeout_ms: 2000,
        }
    }
}

impl TargetOptions {
    /// The live-I/O timeouts these options ask for.
    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            connect: Duration::from_millis(self.connect_timeout_ms),
            read: Duration::from_millis(self.read_timeout_ms),
            write: Duration::from_millis(self.write_timeout_ms),
            ..Timeouts::default()
        }
    }

    /// What the options declare about a live host (it cannot be reset or have its clock moved).
    pub fn facts(&self) -> TargetFacts {
        TargetFacts {
            fresh: self.fresh,
            resettable: false,
            clock_control: false,
            host_keys: self.host_key.clone(),
            profile: self.profile.clone(),
        }
    }

    /// The live target `target` names (loopback only unless `allow_remote`), if any.
    pub fn live_target(&self) -> Result<Option<LiveTarget>, String> {
        self.target
            .as_deref()
            .map(|addr| {
                LiveTarget::new(addr, self.timeouts(), self.facts(), self.allow_remote)
                    .map_err(|e| e.to_string())
            })
            .transpose()
    }
}
