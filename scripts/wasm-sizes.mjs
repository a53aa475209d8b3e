#!/usr/bin/env node
// Where the .wasm's bytes are: code size per crate and the largest functions, from the
// names section of the build before `strip_wasm` (scripts/lib.sh keeps that copy at
// target/index_bg.named.wasm). Used for docs/BENCHMARKS.md ("Where the bytes are").
//   node scripts/wasm-sizes.mjs [file.wasm] [--top N]
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25;
const file = args[0] ?? new URL('../target/index_bg.named.wasm', import.meta.url).pathname;
const bytes = readFileSync(file);

function leb(buf, at) {
  let value = 0; let shift = 0; let byte;
  do { byte = buf[at++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80);
  return [value, at];
}

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
  sections.set(['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'data count', 'tag'][id] ?? `section ${id}`, size);
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

// The crate of a (demangled) function name: its first path segment, inside `<…>` too.
const crateOf = (name) => (name.match(/^<*(?:&(?:mut )?)?([A-Za-z_][A-Za-z0-9_]*)(?:\[[0-9a-f]+\])?::/) ?? [, name.startsWith('<') ? '<impls>' : '?'])[1];
const perCrate = new Map();
const functions = bodies.map((size, i) => {
  const name = names.get(i + importedFunctions) ?? `function ${i + importedFunctions}`;
  perCrate.set(crateOf(name), (perCrate.get(crateOf(name)) ?? 0) + size);
  return [size, name];
});
const code = bodies.reduce((a, b) => a + b, 0);
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`${file}: ${kib(bytes.length)} raw, ${kib(gzipSync(bytes, { level: 9 }).length)} gzip (with its names section)`);
console.log([...sections].map(([s, n]) => `${s} ${kib(n)}`).join(', '));
console.log(`data section ${kib(data.length)}, ${kib(gzipSync(data, { level: 9 }).length)} gzip`);
console.log(`\ncode per crate (${kib(code)} of function bodies):`);
for (const [crate, size] of [...perCrate].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${String(size).padStart(9)}  ${(100 * size / code).toFixed(1).padStart(5)} %  ${crate}`);
}
console.log(`\nlargest functions:`);
for (const [size, name] of functions.sort((a, b) => b[0] - a[0]).slice(0, top)) console.log(`${String(size).padStart(9)}  ${name.slice(0, 140)}`);
