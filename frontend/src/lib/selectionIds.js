// Every id of a selection, fetched page by page (a selection can hold millions) and saved as text.

import { saveBlob } from './saveBlob.js';

export const ID_PAGE = 100000; // the server's largest page

/** All ids of the selection `{dataset, metric, body}` in row order; `onProgress(n)` after each page. */
export async function fetchSelectionIds(api, { dataset, metric, body }, onProgress = () => {}) {
  const ids = [];
  let offset = 0;
  for (;;) {
    const page = await api.postSelectionIds(dataset, metric, { ...body, offset, limit: ID_PAGE });
    if (page.offset !== offset) throw new Error(`asked for ids from ${offset}, got a page from ${page.offset}`);
    for (const id of page.ids) ids.push(id);
    onProgress(ids.length);
    if (page.next_offset === null) return ids;
    offset = page.next_offset;
  }
}

/** Fetch every id of the selection and save them, one per line, as `<dataset>-<metric>-selection.txt`. */
export async function downloadSelectionIds(api, request, count, onProgress) {
  const ids = await fetchSelectionIds(api, request, onProgress);
  if (ids.length !== count) throw new Error(`the selection holds ${count} items but ${ids.length} ids came back`);
  saveBlob(new Blob([`${ids.join('\n')}\n`], { type: 'text/plain' }), `${request.dataset}-${request.metric}-selection.txt`);
}
