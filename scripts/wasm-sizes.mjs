#!/usr/bin/env node
// Where the .wasm's bytes are: code size per crate and the largest functions, from the
// names section of the build before its names are stripped (scripts/lib.sh keeps that copy at
// target/index_bg.named.wasm). Used for docs/BENCHMARKS.md ("Where the bytes are").
//   node scripts/wasm-sizes.mjs [file.wasm] [--top N]
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { readWasm } from './wasm-names.mjs';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25;
const file = args[0] ?? new URL('../target/index_bg.named.wasm', import.meta.url).pathname;
const bytes = readFileSync(file);

const { sections, names, importedFunctions, bodies, data } = readWasm(bytes);

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
