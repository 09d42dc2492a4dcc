/**
 * Files a production node_modules carries that nothing loads on a server: source maps, type
 * declarations, and tfjs's browser bundles (Node loads each tfjs package's `main`, the
 * `*.node.js` CommonJS build). In the Lambda package they were 250 MB of 376 (measured:
 * docs/deploy.md); the 250 MB unpacked limit leaves no room for them.
 */

/** tfjs's browser builds beside each package's Node build, e.g. `tf.es2017.min.js`, `tf-core.fesm.js`. */
const TFJS_BROWSER_BUNDLE = /^@tensorflow\/[^/]+\/dist\/[^/]+\.(min\.js|es2017\.js|fesm\.js|min\.js\.html)$/;

/** face-api's weight files the face stage loads; the package ships others (age, gender, expression, MTCNN, …). */
export const FACE_WEIGHTS_USED = ['ssd_mobilenetv1_model', 'tiny_face_detector_model', 'face_landmark_68_model', 'face_landmark_68_tiny_model', 'face_recognition_model'] as const;

const FACE_WEIGHT = /^@vladmandic\/face-api\/model\/(.+?)(-weights_manifest\.json|\.bin)$/;

/**
 * Whether a file (path relative to node_modules, with `/`) can be left out of the package.
 *
 * @example
 * isPrunable('@tensorflow/tfjs/dist/tf.min.js.map'); // true
 * isPrunable('@tensorflow/tfjs/dist/tf.node.js'); // false
 */
export function isPrunable(file: string): boolean {
  if (/\.(js|mjs|cjs|css)\.map$|\.d\.[mc]?ts$|\.tsbuildinfo$/.test(file)) return true;
  if (TFJS_BROWSER_BUNDLE.test(file)) return true;
  // node-gyp's intermediate objects (the addon itself is build/Release/*.node).
  if (/\/build\/Release\/obj\.target\//.test(file)) return true;
  const face = FACE_WEIGHT.exec(file);
  return face !== null && !(FACE_WEIGHTS_USED as readonly string[]).includes(face[1]);
}
