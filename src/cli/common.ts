/** Small helpers shared by the command-line entry points: option parsers and progress bars. */
import { InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { checkCropRegion, type CropRegion } from '../model/config.js';

export function parseNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`"${value}" is not a number`);
  return n;
}

export function parseInteger(value: string): number {
  const n = parseNumber(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`"${value}" is not an integer`);
  return n;
}

export function parsePositiveInteger(value: string): number {
  const n = parseInteger(value);
  if (n < 1) throw new InvalidArgumentError(`"${value}" must be at least 1`);
  return n;
}

export function parseNonNegativeInteger(value: string): number {
  const n = parseInteger(value);
  if (n < 0) throw new InvalidArgumentError(`"${value}" must be 0 or more`);
  return n;
}

/** A TCP port, 0 (any free port) to 65535. */
export function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`"${value}" is not a port number (0..65535)`);
  return n;
}

/** A fraction in [0, 1] (both ends allowed). */
export function parseUnitInterval(value: string): number {
  const n = parseNumber(value);
  if (n < 0 || n > 1) throw new InvalidArgumentError(`"${value}" must be between 0 and 1`);
  return n;
}

/** A fraction in [0, 1). */
export function parseFraction(value: string): number {
  const n = parseNumber(value);
  if (n < 0 || n >= 1) throw new InvalidArgumentError(`"${value}" must be in [0, 1)`);
  return n;
}

/** "28" → [28, 28]; "92x112" → [92, 112] (width x height). */
export function parseSize(value: string): [number, number] {
  const m = /^(\d+)(?:x(\d+))?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`"${value}" is not a size: use 28 or WIDTHxHEIGHT`);
  const w = Number(m[1]);
  const h = m[2] ? Number(m[2]) : w;
  if (w < 8 || h < 8 || w > 512 || h > 512) throw new InvalidArgumentError(`size ${w}x${h} is out of range (8..512)`);
  return [w, h];
}

/** A number 0 or more (no upper bound), e.g. a weight decay or a rotation in degrees. */
export function parseNonNegative(value: string): number {
  const n = parseNumber(value);
  if (n < 0) throw new InvalidArgumentError(`"${value}" must be 0 or more`);
  return n;
}

/** "0.1, 0.2,0.3" → [0.1, 0.2, 0.3]; every item must be a number. */
export function parseNumberList(value: string): number[] {
  return value.split(',').map((s) => parseNumber(s.trim()));
}

/** "0.1,0.15,0.8,0.75" → a crop region in fractions, inside the image (the preprocessing's own check). */
export function parseCrop(value: string): CropRegion {
  const invalid = new InvalidArgumentError(`"${value}" must be LEFT,TOP,WIDTH,HEIGHT fractions inside the image (left + width <= 1, top + height <= 1)`);
  const parts = parseNumberList(value);
  if (parts.length !== 4) throw invalid;
  const [left, top, width, height] = parts as [number, number, number, number];
  const crop = { left, top, width, height };
  try {
    checkCropRegion(crop);
  } catch {
    throw invalid;
  }
  return crop;
}

/** "1e-3,1e-2" → [0.001, 0.01]. */
export function parseFarList(value: string): number[] {
  const fars = parseNumberList(value);
  if (!fars.length || fars.some((f) => f <= 0 || f >= 1)) throw new InvalidArgumentError(`"${value}" must be FARs in (0, 1), comma-separated`);
  return fars;
}

/** A progress bar that redraws on a terminal and prints a line every few seconds otherwise (CI logs). */
export function progressBar(format: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    { format, hideCursor: true, noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 5000, etaBuffer: 50, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
}

/** Writes a message on stderr (stdout stays for machine-readable output). */
export function say(message: string): void {
  process.stderr.write(`${message}\n`);
}
