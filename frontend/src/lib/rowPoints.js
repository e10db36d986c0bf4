// Positions of particular items on one map, for drawing a SPEC cluster or a selection made on the other map.
import { mergeChunks, toChunk } from './pointStore.js';

// Rows per request: 20,000 rows of up to 9 digits stay under the server's 256 KB body cap.
export const ROWS_PER_REQUEST = 20000;

/** The items of `rows` with their positions on this map (`POST .../points/rows`, in parallel chunks), coloured by `colourBy` when set. */
export async function rowPoints(api, { dataset, metric, colourBy }, rows) {
  const parts = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_REQUEST) parts.push(rows.slice(i, i + ROWS_PER_REQUEST));
  const answers = await Promise.all(parts.map((part) => api.postRowPoints(dataset, metric, part, { colour: colourBy ?? undefined })));
  return mergeChunks(answers.map((res, i) => toChunk(res, [0, 0, 1, 1], `rows-${i}`)), 'rows');
}
