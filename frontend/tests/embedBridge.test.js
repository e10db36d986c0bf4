import { describe, it, expect } from 'vitest';
import { embedBridge, embedState } from '../src/lib/embedBridge.js';
import { createStore, initialState } from '../src/state.js';

const selection = {
  count: 6,
  sample: { size: 6, sampled: false, row: [1, 2, 3, 4, 5, 9] },
  keywords: { keywords: [{ keyword: 'cat', bins: [{ count: 2 }, { count: 4 }], bin_of: [0, 0, 1, 1, 1, 1] }] },
};

function fakeWindow(hash) {
  const sent = [];
  const listeners = [];
  const parent = { postMessage: (msg, origin) => sent.push({ msg, origin }) };
  return {
    sent, parent, location: { hash },
    addEventListener: (type, fn) => { if (type === 'message') listeners.push(fn); },
    receive: (data, source = parent) => listeners.forEach((fn) => fn({ data, source })),
  };
}

describe('embedState', () => {
  it('reports the main map lasso and the sampled rows the chosen bars keep', () => {
    const s = { ...initialState(), dataset: 'd', metric: 'm', lassoPolygon: [[0, 0], [1, 0], [1, 1]], selection,
      filter: [{ keyword: 'cat', bin: 1 }] };
    expect(embedState(s)).toEqual({ dataset: 'd', metric: 'm', mode: 'overlay', zoom: { k: 1, x: 0, y: 0 },
      polygon: [[0, 0], [1, 0], [1, 1]], filteredRows: [3, 4, 5, 9], count: 6 });
    expect(embedState({ ...s, lassoSlot: 'b', filter: [] })).toMatchObject({ polygon: null, filteredRows: null });
  });
});

describe('embedBridge', () => {
  it('stays off outside the widget', () => {
    const win = fakeWindow('#dataset=d');
    expect(embedBridge(createStore(initialState()), win)).toBeNull();
    const top = fakeWindow('#embed=t');
    top.parent = top;
    expect(embedBridge(createStore(initialState()), top)).toBeNull();
  });

  it('reports changes once the selection is in, and takes highlight and view requests with its token', () => {
    const win = fakeWindow('#dataset=d&embed=tok');
    const store = createStore(initialState());
    embedBridge(store, win);
    expect(win.sent.map((m) => m.msg.type)).toEqual(['ready', 'state']);
    expect(win.sent.every((m) => m.msg.token === 'tok' && m.msg.source === 'dkmap')).toBe(true);
    store.set({ lassoPolygon: [[0, 0], [1, 0], [1, 1]], selectionLoading: true });
    expect(win.sent).toHaveLength(2);
    store.set({ selectionLoading: false, selection });
    expect(win.sent).toHaveLength(3);
    expect(win.sent[2].msg.state.polygon).toEqual([[0, 0], [1, 0], [1, 1]]);
    store.set({ selection: { ...selection } });   // same report: not sent again
    expect(win.sent).toHaveLength(3);

    win.receive({ source: 'dkmap-widget', token: 'tok', type: 'select', rows: [4, 7], label: 'py' });
    expect([...store.get().highlight.rows]).toEqual([4, 7]);
    expect(store.get().highlight.label).toBe('py');
    win.receive({ source: 'dkmap-widget', token: 'other', type: 'select', rows: [] });
    win.receive({ source: 'dkmap-widget', token: 'tok', type: 'select', rows: [] }, {});
    expect(store.get().highlight).not.toBeNull();
    win.receive({ source: 'dkmap-widget', token: 'tok', type: 'view', view: { mode: 'contour', metric: 'm2' } });
    expect(store.get().mode).toBe('contour');
    expect(store.get().metric).toBe('m2');
    win.receive({ source: 'dkmap-widget', token: 'tok', type: 'view', view: { mode: 'bogus' } });
    expect(store.get().mode).toBe('contour');
    win.receive({ source: 'dkmap-widget', token: 'tok', type: 'select', rows: [] });
    expect(store.get().highlight).toBeNull();
  });
});
