/**
 * A model folder in object storage (MODEL_DIR=s3://…), copied into the instance's scratch space
 * so the model loader and the embedding workers read it like any folder. Only objects whose size
 * or ETag changed since the last copy are downloaded again; the loader then checks the weights
 * against the model card's sha256, as it does for a local folder.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { IndexError } from '../index/errors.js';
import { ObjectBucket } from './bucket.js';
import { isObjectUri, parseObjectUri } from './location.js';
import { scratchPath } from './scratch.js';

const STATE_FILE = '.objects.json';

type State = Record<string, { size: number; etag: string }>;

/**
 * Copies every object under `uri` into `dir`; resolves how many files were downloaded.
 *
 * @example
 * await mirrorObjects('s3://twinsearch/models/faces', '/tmp/twinsearch/models/faces') // { downloaded: 3, files: 3 }
 */
export async function mirrorObjects(uri: string, dir: string): Promise<{ downloaded: number; files: number }> {
  const bucket = new ObjectBucket(parseObjectUri(uri));
  const objects = (await bucket.list()).filter((o) => !o.key.endsWith('/') && !o.key.split('/').some((p) => p === '..' || p.startsWith('.')));
  if (objects.length === 0) throw new IndexError('UNAVAILABLE', `no objects under ${uri}`);
  const state: State = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8').catch(() => '{}')) as State;
  let downloaded = 0;
  for (const o of objects) {
    const target = join(dir, ...o.key.split('/'));
    if (state[o.key]?.size === o.size && state[o.key]?.etag === o.etag && (await stat(target).then((s) => s.size === o.size, () => false))) continue;
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.part`;
    try {
      if ((await bucket.download(o.key, temp)) === null) throw new IndexError('UNAVAILABLE', `${bucket.uri(o.key)} vanished while the model was copied`);
      await rename(temp, target);
    } finally {
      await rm(temp, { force: true });
    }
    state[o.key] = { size: o.size, etag: o.etag };
    downloaded++;
  }
  await writeFile(join(dir, STATE_FILE), JSON.stringify(state));
  return { downloaded, files: objects.length };
}

/**
 * A local folder for a model: the folder itself, or the scratch copy of an s3:// model.
 *
 * @example
 * const modelDir = await localModelDir(process.env.MODEL_DIR); // '/tmp/twinsearch/models/3f1c…' for s3://…
 */
export async function localModelDir(modelDir: string): Promise<string> {
  if (!isObjectUri(modelDir)) return modelDir;
  const dir = scratchPath('models', createHash('sha256').update(modelDir).digest('hex').slice(0, 16));
  await mkdir(dir, { recursive: true });
  await mirrorObjects(modelDir, dir);
  return dir;
}
