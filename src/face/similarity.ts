/**
 * 2-D similarity transforms (rotation + uniform scale + translation): the least-squares fit
 * between two point sets, and applying it. Pure maths.
 */
import type { Point } from './faceapi.js';

/** x' = a·x − b·y + tx, y' = b·x + a·y + ty (a = s·cos θ, b = s·sin θ). */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/**
 * The similarity that maps `from[i]` closest to `to[i]` in the least-squares sense (the 2-D case of
 * Umeyama 1991, as dlib's `find_similarity_transform`; it never mirrors). Needs at least 2 points
 * that are not all equal.
 *
 * @example
 * fitSimilarity([{ x: 0, y: 0 }, { x: 1, y: 0 }], [{ x: 10, y: 10 }, { x: 10, y: 12 }]);
 * // { a: 0, b: 2, tx: 10, ty: 10 }: scale 2, a quarter turn, then a shift
 */
export function fitSimilarity(from: readonly Point[], to: readonly Point[]): Similarity {
  if (from.length !== to.length || from.length < 2) throw new RangeError('fitSimilarity needs two equally long lists of at least 2 points');
  const n = from.length;
  let fx = 0, fy = 0, tx = 0, ty = 0;
  for (let i = 0; i < n; i++) {
    fx += from[i].x; fy += from[i].y; tx += to[i].x; ty += to[i].y;
  }
  fx /= n; fy /= n; tx /= n; ty /= n;
  let dot = 0, cross = 0, spread = 0;
  for (let i = 0; i < n; i++) {
    const px = from[i].x - fx, py = from[i].y - fy;
    const qx = to[i].x - tx, qy = to[i].y - ty;
    dot += px * qx + py * qy;
    cross += px * qy - py * qx;
    spread += px * px + py * py;
  }
  if (!(spread > 0)) throw new RangeError('fitSimilarity: the source points all coincide');
  const a = dot / spread;
  const b = cross / spread;
  return { a, b, tx: tx - (a * fx - b * fy), ty: ty - (b * fx + a * fy) };
}

/**
 * @example
 * applySimilarity({ a: 0, b: 2, tx: 10, ty: 10 }, { x: 1, y: 0 }); // { x: 10, y: 12 }
 */
export function applySimilarity(t: Similarity, p: Point): Point {
  return { x: t.a * p.x - t.b * p.y + t.tx, y: t.b * p.x + t.a * p.y + t.ty };
}

/** The uniform scale factor of a similarity. */
export function similarityScale(t: Similarity): number {
  return Math.hypot(t.a, t.b);
}
