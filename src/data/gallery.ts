/**
 * Galleries: folders of images where every folder that directly holds images is one identity.
 *
 *   faces/s1/1.png, faces/s1/2.png, ...              → identities "s1", "s2", ...
 *   omniglot/images_background/Latin/character03/... → identity "Latin/character03"
 *
 * `readGallery` only lists files (cheap); `loadImages` decodes them all into one `ImageSet`.
 */
import { createHash } from 'node:crypto';
import { readdir, realpath, stat } from 'node:fs/promises';
import { extname, join, relative, resolve, sep } from 'node:path';
import type { PreprocessConfig } from '../model/config.js';
import { failureLines, imageFailure, nameList, type ImageFailure } from './image-failures.js';
import { checkPreprocessConfig, decodeToRaw, toModelInput, type PreprocessOptions } from './preprocess.js';

/** File extensions treated as images by default (compared case-insensitively). */
export const DEFAULT_IMAGE_EXTENSIONS: readonly string[] = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif'];

export interface GalleryIdentity {
  /** Folder path relative to the gallery root, `/`-separated (`s7`, `Latin/character03`). */
  name: string;
  /** Absolute paths of the identity's images, in byte order of their names. */
  files: string[];
}

export interface Gallery {
  /** Absolute path of the gallery root. */
  root: string;
  /** Identities in byte order of their names. */
  identities: GalleryIdentity[];
  /** Files that are not images by their extension (hidden ones aside), relative to the root, `/`-separated, in byte order. */
  nonImages: string[];
  /** Things worth telling the user that did not stop the listing (the non-images among them, in one line). */
  warnings: string[];
}

/** Decoded images of a gallery: one NHWC tensor's worth of floats plus labels. */
export interface ImageSet {
  /** `count * h * w * c` floats, image after image, in gallery order. */
  data: Float32Array;
  count: number;
  /** Shape of one image: [height, width, channels]. */
  shape: [number, number, number];
  /** For each image, its index into `identities`. */
  labels: Int32Array;
  /** Identity names, the gallery's identities in order (an identity whose images were all skipped stays listed). */
  identities: string[];
  /** Absolute path of each image, aligned with `labels`. */
  files: string[];
  /** Images left out with `onUnreadable: 'skip'` (absolute paths), with their codes and reasons, in gallery order. */
  skipped: ImageFailure[];
}

export type GalleryErrorCode = 'GALLERY_NOT_FOUND' | 'NOT_A_DIRECTORY' | 'TOO_FEW_IDENTITIES' | 'UNREADABLE_IMAGE' | 'NO_IMAGES';

/** A gallery problem with a stable `code` and the path it concerns. */
export class GalleryError extends Error {
  override readonly name = 'GalleryError';
  /** UNREADABLE_IMAGE: every image that cannot be used (absolute paths), in gallery order. */
  readonly failures?: ImageFailure[];
  constructor(
    readonly code: GalleryErrorCode,
    message: string,
    readonly path: string,
    options?: { cause?: unknown; failures?: ImageFailure[] },
  ) {
    super(message, options);
    if (options?.failures) this.failures = options.failures;
  }
}

export interface ReadGalleryOptions {
  /** Image file extensions, without dots, case-insensitive. Default `DEFAULT_IMAGE_EXTENSIONS`. */
  extensions?: readonly string[];
  /** Fewer identities than this is an error. Default 2 (training needs two); an indexer may pass 1. */
  minIdentities?: number;
}

/** Orders strings by their UTF-8 bytes: the same on every machine and locale. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const isHidden = (name: string): boolean => name.startsWith('.');

/** What a walk collects: `folder → image files` and the other files (absolute paths), and warnings. */
interface Walk {
  found: Map<string, string[]>;
  nonImages: string[];
  warnings: string[];
}

/** Recursively collects image and other files, skipping hidden entries. */
async function walk(dir: string, isImage: (name: string) => boolean, visited: Set<string>, into: Walk): Promise<void> {
  const { found, warnings } = into;
  // Symlinked folders are followed once; a link back up the tree would otherwise loop forever.
  const real = await realpath(dir);
  if (visited.has(real)) return;
  visited.add(real);

  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    warnings.push(`cannot read folder ${dir}: ${(error as Error).message}`);
    return;
  }
  const images: string[] = [];
  const subdirs: string[] = [];
  for (const entry of entries) {
    if (isHidden(entry.name)) continue;
    const path = join(dir, entry.name);
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      const target = await stat(path).catch(() => undefined);
      if (!target) {
        warnings.push(`broken link ignored: ${path}`);
        continue;
      }
      isDir = target.isDirectory();
      isFile = target.isFile();
    }
    if (isDir) subdirs.push(path);
    else if (isFile && isImage(entry.name)) images.push(path);
    else if (isFile) into.nonImages.push(path);
  }
  if (images.length > 0) found.set(dir, images);
  for (const sub of subdirs) await walk(sub, isImage, visited, into);
}

/** Root-relative, `/`-separated: how the gallery names its files to the user. */
function relativeName(root: string, file: string): string {
  return relative(root, file).split(sep).join('/');
}

/** One line naming the files that are not images, so a misnamed image does not vanish unnoticed. */
function nonImagesWarning(names: readonly string[], extensions: ReadonlySet<string>): string {
  const images = `images are .${[...extensions].join(', .')}`;
  const what = names.length === 1 ? '1 file is not an image and was' : `${names.length} files are not images and were`;
  return `${what} left out: ${nameList(names)} (${images})`;
}

/**
 * Lists a gallery: every folder under `root` that directly holds image files is one identity, named by
 * its path relative to `root` with `/` separators. Files and identities are sorted by byte order, so
 * the listing (and every label derived from it) is the same on every machine. Hidden files and
 * folders are ignored, and so are images lying directly in `root` (they belong to no identity).
 *
 * Throws `GalleryError`: GALLERY_NOT_FOUND, NOT_A_DIRECTORY, NO_IMAGES, TOO_FEW_IDENTITIES.
 *
 * @example
 * const gallery = await readGallery('/data/omniglot/images_background');
 * gallery.identities[0]; // { name: 'Alphabet_of_the_Magi/character01', files: ['/data/.../0709_01.png', ...] }
 * gallery.warnings;      // e.g. 'identity X has 1 image: usable as a gallery entry, not for positive pairs'
 */
export async function readGallery(root: string, options: ReadGalleryOptions = {}): Promise<Gallery> {
  const absRoot = resolve(root);
  const minIdentities = options.minIdentities ?? 2;
  const extensions = new Set((options.extensions ?? DEFAULT_IMAGE_EXTENSIONS).map((e) => e.replace(/^\./, '').toLowerCase()));
  const isImage = (name: string): boolean => extensions.has(extname(name).slice(1).toLowerCase());

  const rootStat = await stat(absRoot).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') {
      throw new GalleryError('GALLERY_NOT_FOUND', `gallery folder not found: ${absRoot}`, absRoot, { cause: error });
    }
    throw error;
  });
  if (!rootStat.isDirectory()) {
    throw new GalleryError('NOT_A_DIRECTORY', `gallery path is not a folder: ${absRoot}`, absRoot);
  }

  const listing: Walk = { found: new Map(), nonImages: [], warnings: [] };
  await walk(absRoot, isImage, new Set(), listing);
  const { found, warnings } = listing;
  const nonImages = listing.nonImages.map((file) => relativeName(absRoot, file)).sort(compareBytes);
  if (nonImages.length > 0) warnings.push(nonImagesWarning(nonImages, extensions));

  const rootImages = found.get(absRoot);
  if (rootImages) {
    found.delete(absRoot);
    warnings.push(
      `${rootImages.length} image(s) directly in ${absRoot} ignored: put each identity's images in its own subfolder`,
    );
  }

  const identities: GalleryIdentity[] = [...found].map(([dir, files]) => ({
    name: relativeName(absRoot, dir),
    files: files.sort(compareBytes),
  }));
  identities.sort((a, b) => compareBytes(a.name, b.name));

  if (identities.length === 0) {
    throw new GalleryError(
      'NO_IMAGES',
      `no images in any subfolder of ${absRoot} (looked for .${[...extensions].join(', .')}; each identity is a folder of images)`,
      absRoot,
    );
  }
  if (identities.length < minIdentities) {
    throw new GalleryError(
      'TOO_FEW_IDENTITIES',
      `gallery ${absRoot} has ${identities.length} identit${identities.length === 1 ? 'y' : 'ies'}, need at least ${minIdentities}`,
      absRoot,
    );
  }
  for (const identity of identities) {
    if (identity.files.length === 1) {
      warnings.push(`identity ${identity.name} has 1 image: usable as a gallery entry, not for positive pairs`);
    }
  }
  return { root: absRoot, identities, nonImages, warnings };
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight; stops taking work after a failure. */
async function forEachBounded(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let nextIndex = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && nextIndex < count) {
      const i = nextIndex++;
      try {
        await task(i);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

export interface LoadImagesOptions extends PreprocessOptions {
  /**
   * What to do with images that cannot be used (every image is decoded either way). `fail` (default):
   * throw one UNREADABLE_IMAGE listing them all. `skip`: leave them out and record them in `skipped`.
   */
  onUnreadable?: 'skip' | 'fail';
  /** Images decoded at once. Default 4 (sharp decodes on its own thread pool; more rarely helps). */
  concurrency?: number;
  /** Called after each image with how many are done out of how many. */
  onProgress?: (done: number, total: number) => void;
  /** Back `data` with a SharedArrayBuffer, so worker threads can read it without a copy. Default false. */
  sharedMemory?: boolean;
  /** The caller's command-line flags, named in the UNREADABLE_IMAGE message (e.g. `--skip-unreadable`, `--max-input-pixels`). */
  flags?: { skipUnreadable?: string; maxInputPixels?: string };
}

function allocateFloats(length: number, shared: boolean): Float32Array {
  return shared ? new Float32Array(new SharedArrayBuffer(length * Float32Array.BYTES_PER_ELEMENT)) : new Float32Array(length);
}

/**
 * Decodes every image of a gallery with `preprocessImage`'s pipeline into one `ImageSet`.
 * The order is the gallery's (identity by identity, file by file) whatever the concurrency.
 *
 * @example
 * const gallery = await readGallery('faces');
 * const set = await loadImages(gallery, DEFAULT_PREPROCESS, { onProgress: (d, t) => bar.update(d / t) });
 * set.data.length === set.count * 28 * 28 * 1; // true
 */
export async function loadImages(gallery: Gallery, pre: PreprocessConfig, options: LoadImagesOptions = {}): Promise<ImageSet> {
  // A bad config is the caller's error, not every image's: report it once, before decoding.
  checkPreprocessConfig(pre);
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`loadImages: concurrency must be a positive integer, got ${concurrency}`);
  }
  const onUnreadable = options.onUnreadable ?? 'fail';
  const files: string[] = [];
  const labelOf: number[] = [];
  gallery.identities.forEach((identity, label) => {
    for (const file of identity.files) {
      files.push(file);
      labelOf.push(label);
    }
  });
  const total = files.length;
  const size = pre.height * pre.width * pre.channels;
  const shared = options.sharedMemory ?? false;
  const data = allocateFloats(total * size, shared);
  const failures = new Map<number, ImageFailure>();
  let done = 0;

  // Decoding is the check: every image is decoded once, and every failure collected before deciding.
  await forEachBounded(total, concurrency, async (i) => {
    try {
      const raw = await decodeToRaw(files[i], pre, options);
      toModelInput(raw, pre, data.subarray(i * size, (i + 1) * size));
    } catch (error) {
      const failure = imageFailure(files[i], error);
      if (!failure) throw error;
      failures.set(i, failure);
    }
    done++;
    options.onProgress?.(done, total);
  });

  const skipped = [...failures.keys()].sort((a, b) => a - b).map((i) => failures.get(i) as ImageFailure);
  if (skipped.length > 0 && onUnreadable === 'fail') {
    const flags = options.flags ?? {};
    const fix = `Fix or remove them${flags.skipUnreadable ? `, or leave them out with ${flags.skipUnreadable}` : ''}.`;
    const message = [`${describeUnusable(skipped.length, total, gallery.root)}:`, ...unusableLines(gallery, skipped, flags.maxInputPixels), fix].join('\n');
    throw new GalleryError('UNREADABLE_IMAGE', message, gallery.root, { failures: skipped });
  }
  const kept = files.map((_, i) => i).filter((i) => !failures.has(i));
  if (kept.length === 0) {
    throw new GalleryError('NO_IMAGES', `none of the ${total} images in ${gallery.root} could be decoded`, gallery.root);
  }
  // Compact only when something was skipped: the common case keeps the one big allocation.
  let packed = data;
  if (failures.size > 0) {
    packed = allocateFloats(kept.length * size, shared);
    kept.forEach((src, dst) => packed.set(data.subarray(src * size, (src + 1) * size), dst * size));
  }
  return {
    data: packed,
    count: kept.length,
    shape: [pre.height, pre.width, pre.channels],
    labels: Int32Array.from(kept, (i) => labelOf[i]),
    identities: gallery.identities.map((identity) => identity.name),
    files: kept.map((i) => files[i]),
    skipped,
  };
}

/** "3 of 303 images in /data/faces cannot be used". */
function describeUnusable(failed: number, total: number, root: string): string {
  return `${failed} of ${total} images in ${root} cannot be used`;
}

/**
 * The lines of `failureLines` for images of a gallery, named relative to its root.
 *
 * @example
 * unusableLines(gallery, set.skipped, '--max-input-pixels'); // ['  3/broken.png: UNSUPPORTED_IMAGE, not an image format …']
 */
export function unusableLines(gallery: Pick<Gallery, 'root'>, failures: readonly ImageFailure[], limitFlag?: string): string[] {
  return failureLines(failures.map((f) => ({ ...f, file: relativeName(gallery.root, f.file) })), { limitFlag });
}

/**
 * The images `loadImages` left out, for a model card: root-relative paths, codes and reasons.
 *
 * @example
 * skippedForCard(gallery, set.skipped); // [{ file: '3/broken.png', code: 'UNSUPPORTED_IMAGE', reason: 'not an image format …' }]
 */
export function skippedForCard(gallery: Pick<Gallery, 'root'>, failures: readonly ImageFailure[]): { file: string; code: string; reason: string }[] {
  return failures.map((f) => ({ file: relativeName(gallery.root, f.file), code: f.code, reason: f.reason }));
}

/**
 * A sha256 (hex) of the gallery listing: each file's root-relative path and byte size, in gallery order.
 * Recorded in the model card so a model can be traced to the exact data it saw (cheap: no file is read).
 *
 * @example
 * await galleryDigest(await readGallery('faces')); // 'c0ffee...' (64 hex characters)
 */
export async function galleryDigest(gallery: Gallery): Promise<string> {
  const files = gallery.identities.flatMap((identity) => identity.files);
  const sizes = new Array<number>(files.length);
  await forEachBounded(files.length, 16, async (i) => {
    sizes[i] = (await stat(files[i])).size;
  });
  const hash = createHash('sha256');
  files.forEach((file, i) => {
    hash.update(`${relativeName(gallery.root, file)}\t${sizes[i]}\n`);
  });
  return hash.digest('hex');
}
