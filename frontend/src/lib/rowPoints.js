// Positions of particular items on one map, for drawing a SPEC cluster or a selection made on the other map.
import { toChunk } from './pointStore.js';

const ALL_LIMIT = 200000;
const ITEM_LOOKUPS = 500;

/**
 * Items by id: the whole map's points when it is small enough for one request, else the items'
 * own records (their `positions`), at most ITEM_LOOKUPS of them.
 */
export async function idPoints(api, { dataset, metric, mapInfo }, ids) {
  if (mapInfo.n_items <= ALL_LIMIT) {
    const res = await api.getPoints(dataset, metric, { z: mapInfo.max_level, bbox: [0, 0, 1, 1], sampling: 'all', limit: ALL_LIMIT });
    return toChunk(res, [0, 0, 1, 1], 'rows');
  }
  const items = await Promise.all(ids.slice(0, ITEM_LOOKUPS).map((id) => api.getItem(dataset, id)));
  const points = { row: [], id: [], x: [], y: [], value: [] };
  for (const it of items) {
    const p = it.positions?.[metric];
    if (!p) continue;
    points.row.push(it.row); points.id.push(it.id); points.x.push(p[0]); points.y.push(p[1]);
    points.value.push(it.metrics?.[metric] ?? NaN);
  }
  return toChunk({ points }, [0, 0, 1, 1], 'rows');
}
