/**
 * IDX files (the MNIST / Fashion-MNIST format, e.g. Debian's dataset-fashion-mnist package under
 * /usr/share/datasets/fashion-mnist/), gzipped or not. Big-endian header: magic (2051 for images,
 * 2049 for labels: unsigned bytes, 3 or 1 dimensions), then the dimension sizes, then the bytes.
 */
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';

export const IDX_IMAGES_MAGIC = 2051;
export const IDX_LABELS_MAGIC = 2049;

export interface IdxImages {
  kind: 'images';
  /** count * rows * cols bytes, image after image, row-major. */
  images: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

export interface IdxLabels {
  kind: 'labels';
  labels: Uint8Array;
  count: number;
}

export type IdxFile = IdxImages | IdxLabels;

const gunzipAsync = promisify(gunzip);

/**
 * Pure: parses the (already decompressed) bytes of an IDX file. `source` names it in errors.
 * The returned arrays are views into `bytes` (no copy: a training set is tens of megabytes).
 *
 * @example
 * parseIdx(bytes); // { kind: 'labels', labels: Uint8Array(10000), count: 10000 }
 */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxFile {
  if (bytes.length < 8) throw new Error(`${source}: too short for an IDX header (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const count = view.getUint32(4);
  if (magic === IDX_LABELS_MAGIC) {
    const expected = 8 + count;
    if (bytes.length !== expected) throw new Error(`${source}: ${count} labels need ${expected} bytes, file has ${bytes.length}`);
    return { kind: 'labels', labels: new Uint8Array(bytes.buffer, bytes.byteOffset + 8, count), count };
  }
  if (magic === IDX_IMAGES_MAGIC) {
    if (bytes.length < 16) throw new Error(`${source}: too short for an IDX image header (${bytes.length} bytes)`);
    const rows = view.getUint32(8);
    const cols = view.getUint32(12);
    const expected = 16 + count * rows * cols;
    if (bytes.length !== expected) {
      throw new Error(`${source}: ${count} images of ${rows}x${cols} need ${expected} bytes, file has ${bytes.length}`);
    }
    return { kind: 'images', images: new Uint8Array(bytes.buffer, bytes.byteOffset + 16, count * rows * cols), count, rows, cols };
  }
  throw new Error(`${source}: magic number ${magic} is neither ${IDX_IMAGES_MAGIC} (images) nor ${IDX_LABELS_MAGIC} (labels)`);
}

/**
 * Reads an IDX file, gunzipping it when it starts with the gzip signature.
 *
 * @example
 * const train = await readIdx('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
 * if (train.kind === 'images') console.log(train.count, train.rows, train.cols); // 60000 28 28
 */
export async function readIdx(file: string): Promise<IdxFile> {
  const raw = await readFile(file);
  const isGzip = raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b;
  let bytes: Uint8Array = raw;
  if (isGzip) {
    try {
      bytes = await gunzipAsync(raw);
    } catch (error) {
      throw new Error(`${file}: corrupt gzip data: ${(error as Error).message}`, { cause: error });
    }
  }
  return parseIdx(bytes, file);
}

/**
 * Reads a matching pair of image and label IDX files.
 *
 * @example
 * const test = await readIdxDataset('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz');
 * test.labels[0]; // class of test.images.subarray(0, 784)
 */
export async function readIdxDataset(
  imagesFile: string,
  labelsFile: string,
): Promise<{ images: Uint8Array; labels: Uint8Array; count: number; rows: number; cols: number }> {
  const [images, labels] = await Promise.all([readIdx(imagesFile), readIdx(labelsFile)]);
  if (images.kind !== 'images') throw new Error(`${imagesFile} holds labels, not images`);
  if (labels.kind !== 'labels') throw new Error(`${labelsFile} holds images, not labels`);
  if (images.count !== labels.count) {
    throw new Error(`${imagesFile} has ${images.count} images but ${labelsFile} has ${labels.count} labels`);
  }
  return { images: images.images, labels: labels.labels, count: images.count, rows: images.rows, cols: images.cols };
}
