/**
 * Embedding: image → vector by a model card's recipe, in this thread or in worker threads.
 * The index job, the live index's catch-up and the API all embed through an `Embedder`.
 *
 * @example
 * const embedder = await openEmbedder('models/omniglot', { workers: 2 });
 * const { vectors, failed } = await embedder.embedAll(['/g/alice/1.png']);
 * await embedder.close();
 */
export { createEmbedder, type EmbedAllResult, type Embedder, type EmbedderOptions, type EmbedInput } from './embedder.js';
export { createFaceEmbedder, decodeFaceImage, inThreadFaceRunner, pendingFaceRunner, type FaceImage, type FaceRunner, type FaceSearch } from './faces.js';
export { handoffRunner, pendingRunner } from './handoff.js';
export { openEmbedder, startFaceRunner, startRunner, type RunnerOptions } from './open.js';
export type { QueueStats } from './queue.js';
export { imageFloats, imageShape, recipeFromCard, storesNormalized, type EmbeddingRecipe } from './recipe.js';
export { inThreadRunner, type Runner } from './runner.js';
