import { describe, it, expect } from 'vitest';
import { drawReport, drawnRecord, frameProgress } from '../src/views/drawReport.js';

const contour = { needed: ['1/0/0', '1/1/0'], drawnSources: ['0/0/0'], fallbackOps: 2, readyTiles: 1 };
const frame = {
  mode: 'overlay', sampling: 'bluenoise', z: 1, t: { k: 2, x: -10, y: -20 },
  vp: { width: 400, height: 300, size: 268, ox: 66, oy: 16 }, bbox: [0, 0, 0.5, 0.5], level: 1,
  chunks: [{ n: 3 }, { n: 4 }], capped: false, drawnPoints: 7, drawnHighlights: 0, highlightRows: new Set([1, 2]),
  pending: 3, contour,
};

describe('drawnRecord', () => {
  it('records what the frame drew', () => {
    expect(drawnRecord(frame)).toEqual({
      mode: 'overlay', sampling: 'bluenoise', colourBy: null, z: 1, k: 2, pointLevel: 1, points: 7, passing: null, pointChunks: 2, capped: false,
      highlighted: 0, highlightRows: 2, tilesNeeded: ['1/0/0', '1/1/0'], tilesDrawn: ['0/0/0'], fallbackOps: 2,
      pending: 3, readyTiles: 1, view: { k: 2, x: -10, y: -20, width: 400, height: 300, size: 268, ox: 66, oy: 16 },
      bbox: [0, 0, 0.5, 0.5],
    });
  });
  it('leaves the contour tiles out in scatter mode', () => {
    const r = drawnRecord({ ...frame, mode: 'scatter', highlightRows: null });
    expect([r.tilesNeeded, r.tilesDrawn, r.fallbackOps, r.highlightRows, r.readyTiles]).toEqual([[], [], 0, 0, 1]);
  });
});

describe('frameProgress', () => {
  const done = { needed: ['0/0/0'], drawnSources: ['0/0/0'], fallbackOps: 0 };
  it('is complete once nothing is pending and every tile is drawn from its own bitmap', () => {
    expect(frameProgress({ mode: 'contour', drawnPoints: 0, pointChunks: 0, pending: 0, contour: done })).toEqual({ painted: true, complete: true });
    expect(frameProgress({ mode: 'contour', drawnPoints: 0, pointChunks: 0, pending: 1, contour: done }).complete).toBe(false);
    expect(frameProgress({ mode: 'overlay', drawnPoints: 5, pointChunks: 1, pending: 0, contour }).complete).toBe(false);
  });
  it('in scatter mode, once point chunks are drawn', () => {
    const none = { needed: [], drawnSources: [], fallbackOps: 0 };
    expect(frameProgress({ mode: 'scatter', drawnPoints: 0, pointChunks: 0, pending: 0, contour: none })).toEqual({ painted: false, complete: false });
    expect(frameProgress({ mode: 'scatter', drawnPoints: 4, pointChunks: 1, pending: 0, contour: none })).toEqual({ painted: true, complete: true });
  });
});

describe('drawReport', () => {
  function fakes() {
    const attrs = {};
    const stage = { attr(name, value) { attrs[name] = value; return stage; } };
    const sets = [];
    const map = { set: (patch) => sets.push(patch) };
    const log = [];
    const perf = {
      mark: (name) => log.push(['mark', name]), measure: (name) => log.push(['measure', name]),
      clearMeasures: (name) => log.push(['clear', name]),
    };
    return { attrs, stage, sets, map, log, perf };
  }

  it('publishes a changed record to the sub-store and the stage, and an unchanged one not again', () => {
    const f = fakes();
    const report = drawReport(f.stage, f.map, f.perf);
    const record = drawnRecord(frame);
    report.frame(0, record, { painted: false, complete: false });
    report.frame(0, drawnRecord(frame), { painted: false, complete: false });
    expect(f.sets).toEqual([{ drawn: record }]);
    expect(f.attrs).toEqual({ 'data-mode': 'overlay', 'data-z': 1, 'data-points': 7, 'data-pending': 3, 'data-highlighted': 0 });
    report.frame(0, { ...record, pending: 0 }, { painted: false, complete: false });
    expect(f.sets).toHaveLength(2);
    expect(f.attrs['data-pending']).toBe(0);
  });

  it('marks first paint and completion once per map, and measures every frame', () => {
    const f = fakes();
    const report = drawReport(f.stage, f.map, f.perf);
    const record = drawnRecord(frame);
    report.frame(0, record, { painted: true, complete: false });
    report.frame(0, record, { painted: true, complete: true });
    report.frame(0, record, { painted: true, complete: true });
    report.reset().frame(0, record, { painted: true, complete: true });
    expect(f.log).toEqual([
      ['mark', 'dkmap:first-paint'], ['measure', 'dkmap:draw'],
      ['mark', 'dkmap:complete'], ['measure', 'dkmap:draw'],
      ['measure', 'dkmap:draw'],
      ['mark', 'dkmap:first-paint'], ['mark', 'dkmap:complete'], ['measure', 'dkmap:draw'],
    ]);
  });

  it('clears the draw, blit and decode measures every 1000 frames', () => {
    const f = fakes();
    const report = drawReport(f.stage, f.map, f.perf);
    for (let i = 0; i < 1000; i += 1) report.frame(0, drawnRecord(frame), { painted: false, complete: false });
    expect(f.log.filter(([kind]) => kind === 'clear')).toEqual([['clear', 'dkmap:draw'], ['clear', 'dkmap:blit'], ['clear', 'dkmap:arrow-decode']]);
  });
});
