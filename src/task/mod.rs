//! The async tasks that own the links: the HAN reader (push values) and the optical readout. Each
//! runs its link's bytes through the one [`Pipeline`](crate::wire::Pipeline) and reports to the
//! app over a channel.

pub mod han;
pub mod kmp;
mod line;
pub mod mbus;
pub mod optical;
pub mod readout;

/// The async runtime every command and the app run on: two workers (the laptop an installer
/// carries is small, and the tasks wait on slow lines).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}
