import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import * as api from '../src/api.js';

// A small local HTTP server answering like the DKMap server does, so fetch, status and bodies are real.
let server;
let base;
const seen = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, body });
      if (req.url.startsWith('/api/maps/demo/nope')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 404, message: 'unknown metric nope; built: clip_a' } }));
      } else if (req.url.startsWith('/api/datasets/demo/items/x')) {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<h1>bad gateway</h1>');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true }));
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}/`;
  // The app fetches relative URLs; resolve them against the test server like a page would.
  const realFetch = globalThis.fetch;
  globalThis.fetch = (url, init) => realFetch(new URL(url, base), init); // base read per call
});

afterAll(() => new Promise((r) => server.close(r)));

describe('api', () => {
  it('surfaces the server error message and status', async () => {
    const err = await api.getMap('demo', 'nope').catch((e) => e);
    expect(err).toBeInstanceOf(api.ApiError);
    expect(err.status).toBe(404);
    expect(err.message).toBe('unknown metric nope; built: clip_a');
  });

  it('names the status when the error body is not JSON', async () => {
    const err = await api.getItem('demo', 'x').catch((e) => e);
    expect(err.status).toBe(502);
    expect(err.message).toMatch(/^502/);
  });

  it('says plainly when the server cannot be reached', async () => {
    const closed = http.createServer();
    await new Promise((r) => closed.listen(0, '127.0.0.1', r));
    const deadBase = `http://127.0.0.1:${closed.address().port}/`;
    await new Promise((r) => closed.close(r));
    const saved = base;
    base = deadBase;
    const down = await api.listDatasets().catch((e) => e);
    base = saved;
    expect(down).toBeInstanceOf(api.ApiError);
    expect(down.status).toBe(0);
    expect(down.message).toMatch(/Cannot reach the server/);
  });

  it('encodes path parts and query parameters, and posts JSON bodies', async () => {
    seen.length = 0;
    await api.getPoints('my set', 'm/1', { z: 2, bbox: [0, 0.5, 1, 1], sampling: 'all', limit: 10 });
    await api.postSelection('d', 'm', { polygon: [[0, 0], [1, 0], [0, 1]] });
    await api.getSimilar('d', 'a b', { k: 8, model: 'a' });
    expect(seen[0].url).toBe('/api/maps/my%20set/m%2F1/points?z=2&bbox=0%2C0.5%2C1%2C1&sampling=all&limit=10');
    expect(seen[1].method).toBe('POST');
    expect(JSON.parse(seen[1].body)).toEqual({ polygon: [[0, 0], [1, 0], [0, 1]] });
    expect(seen[2].url).toBe('/api/datasets/d/items/a%20b/similar?k=8&model=a');
    expect(api.imageUrl('d', 'i/1', 'b')).toBe('api/datasets/d/items/i%2F1/image?model=b');
  });
});
