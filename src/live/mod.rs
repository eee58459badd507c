//! A platform, live: what `dops events` prints and `dops ui` shows.
//!
//! - `event`: one event (time, instance, kind, details) as a human line or a JSON line
//! - `view`: an instance's view, the snapshot a page starts from, the updates that follow
//! - `derive`: engine events, state files and DNS records files → events (pure)
//! - `files`: the inotify watch of `.dops/run` (state files, the DNS records file)
//! - `watcher`: the sources folded into one state and one stream ([`Live`])
//!
//! Below `output` and `ui`, above the engine and the DNS (whose records file it reads).

pub mod derive;
pub mod event;
pub mod files;
pub mod view;
pub mod watcher;

pub use event::{Event, Kind, Who};
pub use view::{InstanceView, Sample, Snapshot, Update};
pub use watcher::{Declared, Live, LiveError, LiveOptions, Source, Started};
