//! The async tasks that own the links: the HAN reader (push values) and the optical readout. Each
//! runs its link's bytes through the one [`Pipeline`](crate::wire::Pipeline) and reports to the
//! app over a channel.

pub mod han;
pub mod optical;
