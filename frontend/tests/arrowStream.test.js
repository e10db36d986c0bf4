import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { readArrowStream, Utf8Column } from '../src/lib/arrowStream.js';

// Streams written by pyarrow (scripts/make_arrow_fixtures.py): the reader must agree with pyarrow's writer.
const fixture = (name) => { const b = readFileSync(new URL(`./fixtures/${name}`, import.meta.url)); return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength); };

describe('readArrowStream', () => {
  it('reads the server point columns as typed arrays, values and metadata as written', () => {
    const want = JSON.parse(readFileSync(new URL('./fixtures/points.json', import.meta.url), 'utf8'));
    const { columns, metadata, length } = readArrowStream(fixture('points.arrow'));
    expect(length).toBe(4);
    expect(JSON.parse(metadata.dkmap)).toEqual({ returned: 4 });
    expect(columns.row).toBeInstanceOf(Int32Array);
    expect(columns.x).toBeInstanceOf(Float32Array);
    expect(Array.from(columns.row)).toEqual(want.row);
    expect(Array.from(columns.x)).toEqual(Array.from(Float32Array.from(want.x)));
    expect(Array.from(columns.y)).toEqual(Array.from(Float32Array.from(want.y)));
    expect(Array.from(columns.value)).toEqual(want.value.map((v) => (v === null ? NaN : Math.fround(v))));
    expect(columns.id).toBeInstanceOf(Utf8Column);
    expect(columns.id.toArray()).toEqual(want.id);
    expect(columns.id.at(-1)).toBe('');
    expect(columns.id.at(4)).toBeUndefined();
  });

  it('reads other integer and float widths, nulls in floats as NaN', () => {
    const fixtureKinds = readArrowStream(fixture('kinds.arrow'));
    expect(Array.from(fixtureKinds.columns.i8)).toEqual([-1, 2, 127]);
    expect(fixtureKinds.columns.u16).toBeInstanceOf(Uint16Array);
    expect(Array.from(fixtureKinds.columns.u16)).toEqual([65535, 0, 7]);
    expect(Array.from(fixtureKinds.columns.f64)).toEqual([0.1, NaN, -2]);
  });

  it('refuses what it cannot read, naming the column', () => {
    expect(() => readArrowStream(fixture('int64.arrow'))).toThrow("Arrow column 'big': 64-bit integers are not supported");
    expect(() => readArrowStream(fixture('nullint.arrow'))).toThrow("Arrow column 'n': null integers are not supported");
    expect(() => readArrowStream(fixture('kinds.arrow').slice(0, 0))).toThrow('no schema');
  });

  it('gives empty columns of the schema types for a stream with an empty batch', () => {
    const { columns, length } = readArrowStream(fixture('empty.arrow'));
    expect(length).toBe(0);
    expect(columns.a).toBeInstanceOf(Float32Array);
    expect(columns.a.length).toBe(0);
  });
});

describe('readArrowStream booleans', () => {
  it('reads a bit-packed bool column as 0/1 bytes', () => {
    const { columns } = readArrowStream(fixture('bool.arrow'));
    expect([...columns.passes]).toEqual(Array.from({ length: 11 }, (_, i) => (i % 3 !== 1 ? 1 : 0)));
    expect([...columns.row]).toEqual(Array.from({ length: 11 }, (_, i) => i));
  });
});
