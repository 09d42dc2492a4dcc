/**
 * The face steps image routes share for a face model: decode at full size, find and describe
 * every face (timed as decode and embed), pick the largest or refuse with NO_FACE, enrol a named
 * face, and draw a face's thumbnail from its aligned chip.
 */
import sharp from 'sharp';
import type { FaceImage, FaceSearch } from '../../embedding/index.js';
import { CHIP_SIZE } from '../../face/chip.js';
import type { DescribedFace } from '../../face/model.js';
import type { ApiContext } from '../context.js';
import { ApiError, toApiError } from '../errors/index.js';
import { decodeImageForFaces, THUMBNAIL_SIZE } from '../images/index.js';
import { round } from '../search/index.js';
import type { Timer } from './pipeline.js';

/** The face search of a face model's embedder; undefined for other models. */
export const faceSearch = (ctx: ApiContext): FaceSearch | undefined => ctx.embedder.faces;

/** A face as responses carry it: the detector's box (pixels, rounded to 0.1) and score. */
export function faceOut(face: Pick<DescribedFace, 'box' | 'score'>): { box: { x: number; y: number; width: number; height: number }; score: number } {
  const { x, y, width, height } = face.box;
  return { box: { x: round(x, 1), y: round(y, 1), width: round(width, 1), height: round(height, 1) }, score: round(face.score, 4) };
}

/** The largest face, or 422 NO_FACE. */
export function largestFace(faces: readonly DescribedFace[], what = 'the image'): DescribedFace {
  if (faces.length === 0) throw new ApiError('NO_FACE', `no face was found in ${what}`);
  return faces[0];
}

/** An image's faces (`image.pixels` is empty unless `keepPixels`), or why it could not be read. */
export type FacesOrError = { ok: true; image: FaceImage; faces: DescribedFace[] } | { ok: false; error: ApiError };

export interface FindOptions {
  /** Return each face's aligned chip. */
  chips?: boolean;
  /** Keep the decoded pixels (for a crop). */
  keepPixels?: boolean;
}

/**
 * Decodes each image and describes every face in them (one pass for all). Failures stay per image.
 *
 * @example
 * const [found] = await findFacesEach(ctx, faces, t, [bytes]);
 */
export async function findFacesEach(ctx: ApiContext, faces: FaceSearch, t: Timer, images: readonly Uint8Array[], options: FindOptions = {}): Promise<FacesOrError[]> {
  const decoded = await t.stage('decode', () =>
    Promise.all(
      images.map(async (bytes) => {
        try {
          return { ok: true as const, image: await decodeImageForFaces(bytes, faces, ctx.limits) };
        } catch (error) {
          return { ok: false as const, error: toApiError(error) };
        }
      }),
    ),
  );
  const ok = decoded.flatMap((d) => (d.ok ? [d.image] : []));
  // Worker threads take the pixels over: keep a copy only for a caller that crops afterwards.
  const kept = ok.map((image) => ({ ...image, pixels: options.keepPixels ? image.pixels.slice() : new Uint8Array(0) }));
  const found = await t.stage('embed', () => faces.find(ok, { chips: options.chips }));
  let next = 0;
  return decoded.map((d) => {
    if (!d.ok) return d;
    const at = next++;
    return { ok: true as const, image: kept[at], faces: found[at] };
  });
}

/**
 * Every image decoded and described, or the first failure thrown (an ApiError).
 *
 * @example
 * const [{ faces: found }] = await findFacesAll(ctx, faces, t, [bytes]);
 */
export async function findFacesAll(ctx: ApiContext, faces: FaceSearch, t: Timer, images: readonly Uint8Array[], options: FindOptions = {}): Promise<{ image: FaceImage; faces: DescribedFace[] }[]> {
  const results = await findFacesEach(ctx, faces, t, images, options);
  const failed = results.find((r) => !r.ok);
  if (failed && !failed.ok) throw failed.error;
  return results as { ok: true; image: FaceImage; faces: DescribedFace[] }[];
}

/** Margin around a named face when it is enrolled as a crop, as a fraction of its box. */
const ENROL_MARGIN = 0.5;

/**
 * What to store for one image to enrol: the image itself when its largest face is the one meant
 * (re-indexing embeds the largest face), else a PNG crop around the named face, described again,
 * so every later re-index finds that same face.
 *
 * @example
 * const { bytes, vector } = await enrolFace(ctx, faces, found, bytes, 1);
 */
export async function enrolFace(faces: FaceSearch, found: { image: FaceImage; faces: DescribedFace[] }, bytes: Uint8Array, index: number | undefined, what: string): Promise<{ bytes: Uint8Array; vector: Float32Array; face: DescribedFace }> {
  const list = found.faces;
  const largest = largestFace(list, what);
  if (index === undefined) {
    if (list.length > 1) throw new ApiError('MULTIPLE_FACES', `${what} holds ${list.length} faces: name the one to enrol with face=<index> (0 = the largest; /v1/search?faces=all lists them in this order)`);
    return { bytes, vector: largest.vector, face: largest };
  }
  if (index >= list.length) throw new ApiError('INVALID_PARAMETER', `face=${index}, but ${what} holds ${list.length} face${list.length === 1 ? '' : 's'} (0..${list.length - 1})`);
  if (index === 0) return { bytes, vector: largest.vector, face: largest };
  const { box } = list[index];
  const { image } = found;
  const left = Math.max(0, Math.floor(box.x - box.width * ENROL_MARGIN));
  const top = Math.max(0, Math.floor(box.y - box.height * ENROL_MARGIN));
  const right = Math.min(image.width, Math.ceil(box.x + box.width * (1 + ENROL_MARGIN)));
  const bottom = Math.min(image.height, Math.ceil(box.y + box.height * (1 + ENROL_MARGIN)));
  const crop = await sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract({ left, top, width: right - left, height: bottom - top })
    .png()
    .toBuffer();
  const [again] = await faces.find([await faces.decode(crop)]);
  const face = largestFace(again, `the crop around face ${index} of ${what}`);
  return { bytes: new Uint8Array(crop), vector: face.vector, face: { ...face, box: { ...face.box, x: face.box.x + left, y: face.box.y + top } } };
}

/**
 * The thumbnail of a gallery image for a face model: the aligned chip of its largest face (what
 * the model compares), or null when no face is found.
 *
 * @example
 * const png = await faceThumbnail(ctx, faces, bytes) ?? await thumbnail(bytes);
 */
export async function faceThumbnail(ctx: ApiContext, faces: FaceSearch, bytes: Uint8Array): Promise<Buffer | null> {
  const image = await decodeImageForFaces(bytes, faces, { maxInputPixels: ctx.config.maxInputPixels, minImageSide: 1 });
  const [found] = await faces.find([image], { chips: true });
  const chip = found[0]?.chip;
  if (!chip) return null;
  return sharp(chip, { raw: { width: CHIP_SIZE, height: CHIP_SIZE, channels: 3 } }).resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE).png({ compressionLevel: 6 }).toBuffer();
}
