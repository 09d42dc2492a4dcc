/**
 * A seeded, reproducible pseudo-random number generator.
 *
 * Algorithm: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128-bit state, passes
 * PractRand/BigCrush), with its state filled by splitmix32 from the seed so that nearby seeds
 * (1, 2, 3...) give unrelated streams. Every random choice in training and evaluation goes
 * through an `Rng`, so a run is reproduced exactly by its seed.
 */

export interface Rng {
  /** A float in [0, 1) with 32 bits of randomness. */
  next(): number;
  /** An integer in [0, n); `n` must be a positive integer no larger than 2^32. */
  int(n: number): number;
  /** A float in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** A standard normal sample (mean 0, standard deviation 1), by the Box-Muller transform. */
  normal(): number;
  /** Shuffles `array` in place (Fisher-Yates) and returns it. */
  shuffle<T>(array: T[]): T[];
  /** A uniformly chosen element; throws on an empty array. */
  pick<T>(array: readonly T[]): T;
  /**
   * An independent child generator, seeded from this one's stream. Deterministic: the same parent
   * state always forks the same child; forking advances the parent.
   */
  fork(): Rng;
}

const TWO_POW_32 = 4294967296;

/** splitmix32: a fast 32-bit mixer used only to expand a seed into generator state. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Creates a generator from a seed. Any finite number works as a seed: its integer part and, for
 * seeds beyond 32 bits, its high bits are both mixed in, so `createRng(1)` and `createRng(2^32 + 1)` differ.
 *
 * @example
 * const rng = createRng(42);
 * rng.next();              // 0.0...1.0, the same on every run
 * rng.int(10);             // 0..9
 * rng.shuffle([1, 2, 3]);  // a reproducible permutation
 * const child = rng.fork(); // an independent stream, e.g. for a worker
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`createRng: seed must be a finite number, got ${seed}`);
  const whole = Math.trunc(seed);
  const low = whole >>> 0;
  const high = Math.floor(whole / TWO_POW_32) >>> 0;
  const mixer = { s: low ^ Math.imul(high, 0x27d4eb2d) };
  return fromState(splitmix32(mixer), splitmix32(mixer), splitmix32(mixer), splitmix32(mixer));
}

function fromState(a0: number, b0: number, c0: number, d0: number): Rng {
  let a = a0 | 0;
  let b = b0 | 0;
  let c = c0 | 0;
  let d = d0 | 0;
  // Box-Muller makes two normals at a time; keep the second for the next call.
  let spareNormal: number | undefined;

  const nextUint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  // Warm up: sfc32's first outputs are correlated with its state.
  for (let i = 0; i < 12; i++) nextUint32();

  const next = (): number => nextUint32() / TWO_POW_32;

  const int = (n: number): number => {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) {
      throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    return Math.floor(next() * n);
  };

  const rng: Rng = {
    next,
    int,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    normal: () => {
      if (spareNormal !== undefined) {
        const value = spareNormal;
        spareNormal = undefined;
        return value;
      }
      // 1 - next() is in (0, 1], so the logarithm is finite.
      const radius = Math.sqrt(-2 * Math.log(1 - next()));
      const angle = 2 * Math.PI * next();
      spareNormal = radius * Math.sin(angle);
      return radius * Math.cos(angle);
    },
    shuffle: <T>(array: T[]): T[] => {
      for (let i = array.length - 1; i > 0; i--) {
        const j = int(i + 1);
        const tmp = array[i];
        array[i] = array[j];
        array[j] = tmp;
      }
      return array;
    },
    pick: <T>(array: readonly T[]): T => {
      if (array.length === 0) throw new RangeError('Rng.pick: the array is empty');
      return array[int(array.length)];
    },
    fork: () => {
      // Four fresh outputs, re-mixed so the child is not a shifted copy of the parent's stream.
      const mixer = { s: nextUint32() ^ 0x5bd1e995 };
      const seeds = [nextUint32(), nextUint32(), nextUint32(), nextUint32()].map(
        (x) => (x ^ splitmix32(mixer)) >>> 0,
      );
      return fromState(seeds[0], seeds[1], seeds[2], seeds[3]);
    },
  };
  return rng;
}
