// Reads a .wasm's sections: their sizes, the function names of its "name" section, the
// number of imported functions, each function body's size and the data section.
// Used by scripts/wasm-sizes.mjs (where the bytes are) and scripts/profile.mjs (naming
// the wasm frames of a CPU profile).

function leb(buf, at) {
  let value = 0; let shift = 0; let byte;
  do { byte = buf[at++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80);
  return [value, at];
}

const SECTION_NAMES = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'data count', 'tag'];

export function readWasm(bytes) {
  const sections = new Map();
  const names = new Map();
  let importedFunctions = 0;
  let bodies = [];
  let data = Buffer.alloc(0);
  for (let at = 8; at < bytes.length;) {
    const id = bytes[at++];
    let size; [size, at] = leb(bytes, at);
    const body = bytes.subarray(at, at + size);
    at += size;
    if (id === 0) {
      let [len, p] = leb(body, 0);
      const name = body.subarray(p, p + len).toString(); p += len;
      sections.set(`custom "${name}"`, size);
      if (name !== 'name') continue;
      while (p < body.length) {
        const kind = body[p++]; let subSize; [subSize, p] = leb(body, p);
        if (kind === 1) {
          let [count, q] = leb(body, p);
          for (let i = 0; i < count; i++) {
            let index; [index, q] = leb(body, q); let n; [n, q] = leb(body, q);
            names.set(index, body.subarray(q, q + n).toString()); q += n;
          }
        }
        p += subSize;
      }
      continue;
    }
    sections.set(SECTION_NAMES[id] ?? `section ${id}`, size);
    if (id === 2) {
      let [count, p] = leb(body, 0);
      for (let i = 0; i < count; i++) {
        let n; [n, p] = leb(body, p); p += n; [n, p] = leb(body, p); p += n;
        const kind = body[p++];
        if (kind === 0) { importedFunctions++; [, p] = leb(body, p); }
        else if (kind === 1) { p++; const flags = body[p++]; [, p] = leb(body, p); if (flags & 1) [, p] = leb(body, p); }
        else if (kind === 2) { const flags = body[p++]; [, p] = leb(body, p); if (flags & 1) [, p] = leb(body, p); }
        else if (kind === 3) p += 2;
        else if (kind === 4) { p++; [, p] = leb(body, p); }
      }
    }
    if (id === 10) {
      let [count, p] = leb(body, 0);
      bodies = [];
      for (let i = 0; i < count; i++) { const start = p; let n; [n, p] = leb(body, p); p += n; bodies.push(p - start); }
    }
    if (id === 11) data = body;
  }
  return { sections, names, importedFunctions, bodies, data };
}

/** Function index → name, from the "name" section. */
export const wasmFunctionNames = (bytes) => readWasm(bytes).names;
