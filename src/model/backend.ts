/**
 * Backend selection: one place decides which TensorFlow.js backend runs.
 *
 * Order: tfjs-node (native libtensorflow, fastest, optional dependency) → wasm
 * (XNNPACK, one core in Node) → cpu (pure JS, last resort). The same model
 * files work on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { registerWasmTrainingKernels } from './kernels/index.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendPreference = BackendName | 'node' | 'auto';

/** Environment variable that overrides the automatic choice (`--backend` wins over it). */
export const BACKEND_ENV = 'TWINSEARCH_BACKEND';

export interface BackendOptions {
  /** `auto` (default) tries tensorflow → wasm → cpu; a name forces that backend (falling back only with `strict: false`). */
  preference?: BackendPreference;
  /** Fail instead of falling back when the preferred backend cannot start. Default false. */
  strict?: boolean;
  /** Where to report which backend runs. Default: one line on stderr. */
  log?: (message: string) => void;
}

export interface BackendInfo {
  name: BackendName;
  /** Backends tried before this one, with why they failed. */
  skipped: { name: BackendName; reason: string }[];
}

// Kept in a variable: a literal import of an absent optional package fails to compile (TS2307).
const TFJS_NODE = '@tensorflow/tfjs-node';

let active: Promise<BackendInfo> | undefined;

function normalise(pref: BackendPreference | undefined): BackendPreference {
  if (pref === 'node') return 'tensorflow';
  return pref ?? 'auto';
}

/** Parses a user-supplied backend name (CLI flag or env var); throws on an unknown one. */
export function parseBackendPreference(value: string | undefined): BackendPreference | undefined {
  if (value === undefined || value === '') return undefined;
  const v = value.toLowerCase();
  if (v === 'auto' || v === 'wasm' || v === 'cpu' || v === 'tensorflow' || v === 'node') return v;
  throw new Error(`Unknown backend "${value}": use auto, node (tfjs-node), wasm or cpu`);
}

async function tryTensorflow(): Promise<void> {
  // tfjs-node registers the 'tensorflow' backend with the shared tfjs-core on import.
  // Any error counts as "not available": a missing package, or one installed without its native library.
  await import(TFJS_NODE);
  if (!(await tf.setBackend('tensorflow'))) throw new Error('tfjs-node loaded but the tensorflow backend did not initialise');
}

async function tryWasm(): Promise<void> {
  await import('@tensorflow/tfjs-backend-wasm');
  registerWasmTrainingKernels();
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
}

async function tryCpu(): Promise<void> {
  if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
}

const starters: Record<BackendName, () => Promise<void>> = {
  tensorflow: tryTensorflow,
  wasm: tryWasm,
  cpu: tryCpu,
};

async function select(options: BackendOptions): Promise<BackendInfo> {
  // Production mode: no debug checks, and no tfjs banner urging tfjs-node on every start
  // (describeBackend says which backend runs instead).
  tf.env().set('PROD', true);
  const envPref = parseBackendPreference(process.env[BACKEND_ENV]);
  const pref = normalise(options.preference ?? envPref) as BackendName | 'auto';
  const order: BackendName[] = pref === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [pref, ...(['tensorflow', 'wasm', 'cpu'] as const).filter((b) => b !== pref)];
  const skipped: BackendInfo['skipped'] = [];
  for (const name of order) {
    try {
      await starters[name]();
      await tf.ready();
      const info = { name, skipped };
      const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`));
      log(`[twinsearch] ${describeBackend(info)}`);
      return info;
    } catch (err) {
      const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
      skipped.push({ name, reason });
      if (options.strict && pref !== 'auto') throw new Error(`Backend "${name}" is not available: ${reason}`);
    }
  }
  throw new Error(`No tfjs backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

/** Is this the ordinary absence of the optional tfjs-node package (not a broken install)? */
const isNotInstalled = (reason: string): boolean => /Cannot find (package|module) '@tensorflow\/tfjs-node'/.test(reason);

const BACKEND_NOTES: Record<BackendName, string> = {
  tensorflow: 'native TensorFlow through @tensorflow/tfjs-node',
  wasm: 'WebAssembly, one core per thread',
  cpu: 'plain JavaScript, the slowest',
};

/**
 * One calm line: which backend runs and why. The optional tfjs-node package being absent is
 * the normal case where it cannot install, so it is a note, not an error.
 *
 * @example
 * describeBackend({ name: 'wasm', skipped: [{ name: 'tensorflow', reason: "Cannot find package '@tensorflow/tfjs-node' …" }] })
 * // "tfjs backend: wasm (WebAssembly, one core per thread); the optional @tensorflow/tfjs-node is not installed"
 */
export function describeBackend(info: BackendInfo): string {
  const notes = info.skipped.map((s) =>
    s.name === 'tensorflow' && isNotInstalled(s.reason) ? 'the optional @tensorflow/tfjs-node is not installed' : `${s.name} could not start: ${s.reason}`,
  );
  return `tfjs backend: ${info.name} (${BACKEND_NOTES[info.name]})${notes.length ? `; ${notes.join('; ')}` : ''}`;
}

/**
 * Starts the best available backend once per process and returns which one runs.
 * Later calls return the first result (tfjs has one global engine per process).
 *
 * @example
 * const { name } = await initBackend({ preference: 'wasm' }); // logs "[twinsearch] tfjs backend: wasm"
 */
export function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  active ??= select(options).catch((err) => {
    active = undefined;
    throw err;
  });
  return active;
}
