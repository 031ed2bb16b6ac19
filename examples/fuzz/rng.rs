//! A small deterministic PRNG (xorshift64*), so a seed gives the same inputs on every machine and
//! Rust version (no dependency whose stream could change).

#[derive(Clone)]
pub struct Rng(u64);

/// splitmix64: spreads a seed (and an input number) over all 64 bits, and is never 0 after.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// The generator of input `n` of a run with `seed`: each input can be made again alone.
    pub fn for_input(seed: u64, n: u64) -> Rng {
        Rng(mix(mix(seed) ^ n).max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    /// True once in `n` times.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub fn choose<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }

    /// Up to `max - 1` random bytes.
    pub fn junk(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max);
        self.bytes(n)
    }

    /// Chunk sizes that cover `len` bytes: mostly small, some large.
    pub fn chunking(&mut self, len: usize) -> Vec<usize> {
        let mut sizes = Vec::new();
        let mut left = len;
        while left > 0 {
            let n = match self.below(4) {
                0 => self.range(1, 3),
                1 => self.range(1, 16),
                2 => self.range(1, 128),
                _ => self.range(1, 1024),
            }
            .min(left);
            sizes.push(n);
            left -= n;
        }
        sizes
    }
}
