// A small reader of the Arrow IPC stream format for the columns the server sends (dkmap.server.arrow):
// int8/16/32 (signed or not), float32/float64, bool (as 0/1 bytes) and utf8, in one record batch, uncompressed. Numeric
// columns are views on the response's bytes (no copy); utf8 columns decode a value only when read.
// Anything else is refused with an error naming the column, never misread.

const MESSAGE_SCHEMA = 1;
const MESSAGE_RECORD_BATCH = 3;
const TYPE_INT = 2;
const TYPE_FLOAT = 3;
const TYPE_UTF8 = 5;
const TYPE_BOOL = 6;
const CONTINUATION = 0xffffffff;
const utf8 = new TextDecoder();

/** A utf8 column: `length`, `at(i)` (the string), and `toArray()`. */
export class Utf8Column {
  constructor(offsets, bytes) {
    this.offsets = offsets;
    this.bytes = bytes;
    this.length = offsets.length - 1;
  }

  at(i) {
    if (i < 0) i += this.length;
    if (!(i >= 0 && i < this.length)) return undefined;
    const start = this.offsets[i]; const end = this.offsets[i + 1];
    let ascii = end - start <= 64;
    for (let j = start; ascii && j < end; j += 1) if (this.bytes[j] > 127) ascii = false;
    return ascii ? String.fromCharCode.apply(null, this.bytes.subarray(start, end)) : utf8.decode(this.bytes.subarray(start, end));
  }

  toArray() {
    const out = new Array(this.length);
    for (let i = 0; i < this.length; i += 1) out[i] = this.at(i);
    return out;
  }
}

/** Flatbuffer tables over a DataView: the few accessors the Arrow message schema needs. */
function flat(view, base) {
  const u32 = (p) => view.getUint32(p, true);
  const table = (pos) => {
    const vt = pos - view.getInt32(pos, true);
    const vtSize = view.getUint16(vt, true);
    const field = (i) => (4 + 2 * i < vtSize ? view.getUint16(vt + 4 + 2 * i, true) : 0);
    const ref = (i) => { const o = field(i); return o ? pos + o + u32(pos + o) : null; };
    return {
      u8: (i, d = 0) => (field(i) ? view.getUint8(pos + field(i)) : d),
      i16: (i, d = 0) => (field(i) ? view.getInt16(pos + field(i), true) : d),
      i32: (i, d = 0) => (field(i) ? view.getInt32(pos + field(i), true) : d),
      i64: (i, d = 0) => (field(i) ? Number(view.getBigInt64(pos + field(i), true)) : d),
      table: (i) => { const p = ref(i); return p === null ? null : table(p); },
      string: (i) => { const p = ref(i); return p === null ? null : utf8.decode(new Uint8Array(view.buffer, view.byteOffset + p + 4, u32(p))); },
      vector: (i) => { const p = ref(i); return p === null ? { length: 0, start: 0 } : { length: u32(p), start: p + 4 }; },
      tables: (i) => { const v = ref(i); if (v === null) return []; const n = u32(v); return Array.from({ length: n }, (_, k) => table(v + 4 + 4 * k + u32(v + 4 + 4 * k))); },
    };
  };
  return table(base + u32(base));
}

function keyValues(tables) {
  const out = {};
  for (const kv of tables) out[kv.string(0)] = kv.string(1);
  return out;
}

function fieldType(field) {
  const name = field.string(0);
  const typeId = field.u8(2);
  const type = field.table(3);
  if (field.table(4)) throw new Error(`Arrow column '${name}': dictionary encoding is not supported`);
  if (typeId === TYPE_INT) {
    const bits = type.i32(0); const signed = Boolean(type.u8(1));
    const array = { 8: signed ? Int8Array : Uint8Array, 16: signed ? Int16Array : Uint16Array, 32: signed ? Int32Array : Uint32Array }[bits];
    if (!array) throw new Error(`Arrow column '${name}': ${bits}-bit integers are not supported`);
    return { name, kind: 'number', array };
  }
  if (typeId === TYPE_FLOAT) {
    const array = { 1: Float32Array, 2: Float64Array }[type.i16(0)];
    if (!array) throw new Error(`Arrow column '${name}': half floats are not supported`);
    return { name, kind: 'float', array };
  }
  if (typeId === TYPE_UTF8) return { name, kind: 'utf8' };
  if (typeId === TYPE_BOOL) return { name, kind: 'bool' };
  throw new Error(`Arrow column '${name}': type ${typeId} is not supported`);
}

/** A typed array of `n` items at body offset `offset`: a view when aligned, else a copy. */
function typed(Array, bytes, offset, n) {
  const at = bytes.byteOffset + offset;
  if (at % Array.BYTES_PER_ELEMENT === 0) return new Array(bytes.buffer, at, n);
  return new Array(bytes.buffer.slice(at, at + n * Array.BYTES_PER_ELEMENT));
}

/** The columns of record batch `batch` (a flat table read from `view`) whose body is the bytes `body`. */
function readColumns(fields, batch, body, view) {
  const length = batch.i64(0);
  const nodes = batch.vector(1); const buffers = batch.vector(2);
  if (batch.table(3)) throw new Error('Arrow record batch: compressed buffers are not supported');
  if (nodes.length !== fields.length) throw new Error(`Arrow record batch: ${nodes.length} columns for a schema of ${fields.length}`);
  const pair = (start, i) => [Number(view.getBigInt64(start + 16 * i, true)), Number(view.getBigInt64(start + 16 * i + 8, true))];
  const nodeAt = (i) => { const [n, nulls] = pair(nodes.start, i); return { length: n, nulls }; };
  const bufferAt = (i) => { const [offset, size] = pair(buffers.start, i); return { offset, length: size }; };
  const columns = {};
  let b = 0;
  fields.forEach((f, i) => {
    const node = nodeAt(i);
    const validity = bufferAt(b); b += 1;
    if (f.kind === 'utf8') {
      const offs = bufferAt(b); const data = bufferAt(b + 1); b += 2;
      if (node.nulls > 0) throw new Error(`Arrow column '${f.name}': null strings are not supported`);
      columns[f.name] = new Utf8Column(typed(Int32Array, body, offs.offset, node.length + 1), new Uint8Array(body.buffer, body.byteOffset + data.offset, data.length));
      return;
    }
    const data = bufferAt(b); b += 1;
    if (f.kind === 'bool') {
      if (node.nulls > 0) throw new Error(`Arrow column '${f.name}': null booleans are not supported`);
      const bits = new Uint8Array(node.length); // bit-packed, least significant bit first
      for (let k = 0; k < node.length; k += 1) bits[k] = (body[data.offset + (k >> 3)] >> (k & 7)) & 1;
      columns[f.name] = bits;
      return;
    }
    let values = typed(f.array, body, data.offset, node.length);
    if (node.nulls > 0) {
      if (f.kind !== 'float') throw new Error(`Arrow column '${f.name}': null integers are not supported`);
      values = values.slice();
      for (let k = 0; k < node.length; k += 1) if (!((body[validity.offset + (k >> 3)] >> (k & 7)) & 1)) values[k] = NaN;
    }
    columns[f.name] = values;
  });
  return { length, columns };
}

/**
 * Read an Arrow IPC stream (ArrayBuffer): {columns: {name: TypedArray | Utf8Column}, metadata: {key: string},
 * length}. A stream without a record batch gives empty columns of the schema's types.
 */
export function readArrowStream(buffer) {
  const view = new DataView(buffer);
  let pos = 0;
  let fields = null; let metadata = {}; let result = null;
  while (pos + 4 <= view.byteLength) {
    let size = view.getUint32(pos, true); pos += 4;
    if (size === CONTINUATION) { size = view.getUint32(pos, true); pos += 4; }
    if (size === 0) break; // end of stream
    const message = flat(view, pos);
    const headerType = message.u8(1);
    const header = message.table(2);
    const bodyLength = message.i64(3);
    const bodyStart = pos + size;
    const body = new Uint8Array(buffer, bodyStart, bodyLength);
    if (headerType === MESSAGE_SCHEMA) {
      fields = header.tables(1).map(fieldType);
      metadata = keyValues(header.tables(2));
    } else if (headerType === MESSAGE_RECORD_BATCH) {
      if (!fields) throw new Error('Arrow stream: record batch before the schema');
      if (result) throw new Error('Arrow stream: more than one record batch is not supported');
      result = readColumns(fields, header, body, view);
    } else {
      throw new Error(`Arrow stream: message type ${headerType} is not supported`);
    }
    pos = bodyStart + bodyLength;
  }
  if (!fields) throw new Error('Arrow stream: no schema');
  if (!result) {
    const columns = {};
    for (const f of fields) columns[f.name] = f.kind === 'utf8' ? new Utf8Column(new Int32Array(1), new Uint8Array(0)) : new (f.array ?? Uint8Array)(0);
    result = { length: 0, columns };
  }
  return { ...result, metadata };
}
