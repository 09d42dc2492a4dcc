/**
 * Weight averaging: the model is the mean of the weights at the end of the run's last epochs
 * (Polyak averaging; stochastic weight averaging, Izmailov et al. 2018). The mean of points along
 * one training trajectory lies in a flatter region than any single point, so it behaves like a
 * small ensemble at the cost of one tower. The tower has no BatchNorm, so the mean needs no
 * recomputed statistics.
 */

/** The running mean of `count` weight snapshots, in `trainableVariables` order. */
export interface WeightAverage {
  weights: Float32Array[];
  count: number;
}

/**
 * Adds one snapshot to a running mean and returns it. The first snapshot is copied; later ones
 * update the mean's own arrays in place (`mean += (x - mean) / n`, which stays exact in float32
 * for the tens of snapshots a run takes, unlike a running sum).
 *
 * @example
 * let average: WeightAverage | null = null;
 * for (const epoch of lastEpochs) average = addSnapshot(average, readWeights(trainable));
 * assignWeights(trainable, average!.weights);
 */
export function addSnapshot(average: WeightAverage | null, snapshot: Float32Array[]): WeightAverage {
  if (!average) return { weights: snapshot.map((w) => Float32Array.from(w)), count: 1 };
  if (snapshot.length !== average.weights.length) throw new Error(`Expected ${average.weights.length} weight arrays, got ${snapshot.length}`);
  const count = average.count + 1;
  snapshot.forEach((w, i) => {
    const mean = average.weights[i]!;
    if (w.length !== mean.length) throw new Error(`Weight array ${i} has ${w.length} values, expected ${mean.length}`);
    for (let j = 0; j < w.length; j++) mean[j]! += (w[j]! - mean[j]!) / count;
  });
  return { weights: average.weights, count };
}

/**
 * Whether the snapshot taken at `progress` (0..1 of the run, as the learning-rate schedule counts it)
 * joins the average that starts at `from`. With `from` = 0.75 the last quarter of the epochs is averaged.
 */
export function inAveragingWindow(progress: number, from: number): boolean {
  return progress >= from - 1e-9;
}
