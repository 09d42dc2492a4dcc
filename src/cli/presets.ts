/**
 * `npm run train -- --preset NAME`: the best recipe measured for a kind of image, so one flag is all
 * a user types. Flags given on the command line override the preset's values.
 */
import { InvalidArgumentError, type Command } from 'commander';

export type PresetName = 'characters' | 'faces';

export interface Preset {
  summary: string;
  /** Flag values (commander's attribute names and parsed values) the preset sets. */
  flags: Record<string, unknown>;
  /** Faces: the only flags that mean anything (no tower is trained); others are refused rather than ignored. */
  onlyFlags?: readonly string[];
}

export const PRESETS: Record<PresetName, Preset> = {
  // The Omniglot recipe of docs/results.md: 92.75% on the 20 standard one-shot runs.
  characters: {
    summary: 'handwritten characters and other line drawings: conv4 at 28x28, inverted strokes, N-pair loss, each right-angle rotation its own class, Koch et al.\'s distortions, 25 minutes',
    flags: { loss: 'npair', scale: 25, invert: true, rotateIdentities: true, augment: 'koch', lr: 2e-3, minutes: 25, epochs: 1000, stepsPerEpoch: 300, batch: 256, valFraction: 0.1, patience: 0 },
  },
  // docs/faces.md and docs/research/2026-12-face-head.md: the pretrained tower as published, calibrated on every identity.
  faces: {
    summary: 'faces: detect, 68 landmarks, dlib alignment and the pretrained 128-d face tower, calibrated on every identity of the gallery (nothing to train)',
    flags: {},
    onlyFlags: ['data', 'out', 'includeIdentities', 'excludeIdentities', 'targetFar', 'targetFpir', 'seed', 'backend', 'workers', 'skipUnreadable', 'preset'],
  },
};

/** Commander's attribute name as a flag: `stepsPerEpoch` → `--steps-per-epoch`. */
const flagName = (attribute: string): string => `--${attribute.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * Sets the preset's values on every option the command line did not give, and refuses flags the
 * preset has no use for. Call after `parse`, before reading `opts()`.
 *
 * @example
 * const command = trainCommand().parse(argv, { from: 'user' });
 * applyPreset(command);
 * const options = optionsFromFlags(command.opts());
 */
export function applyPreset(command: Command): PresetName | undefined {
  const name = command.opts().preset as PresetName | undefined;
  if (!name) return undefined;
  const preset = PRESETS[name];
  const given = Object.keys(command.opts()).filter((key) => command.getOptionValueSource(key) === 'cli');
  if (preset.onlyFlags) {
    const unused = given.filter((key) => !preset.onlyFlags!.includes(key));
    if (unused.length) throw new InvalidArgumentError(`--preset ${name} trains nothing, so ${unused.map(flagName).join(', ')} would have no effect; it takes ${preset.onlyFlags.filter((k) => k !== 'preset').map(flagName).join(', ')}`);
  }
  for (const [key, value] of Object.entries(preset.flags)) {
    if (!given.includes(key)) command.setOptionValueWithSource(key, value, 'config');
  }
  return name;
}
