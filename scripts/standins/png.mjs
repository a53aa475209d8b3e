// Real PNG files made from scratch (signature, IHDR, IDAT, IEND), for the inference
// stand-in's images and for tests.
import { deflateSync, crc32 } from 'node:zlib';
import { randomBytes } from 'node:crypto';

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([len, body, crc]);
}

/**
 * A width × height RGB PNG: one colour, vertical stripes of several (`stripes`), or
 * random noise (which does not compress).
 */
export function makePng(width, height, { rgb = [14, 124, 102], noise = false, stripes = null } = {}) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = 1 + width * 3;
  const raw = noise ? randomBytes(row * height) : Buffer.alloc(row * height);
  for (let y = 0; y < height; y++) {
    raw[y * row] = 0;
    if (!noise) {
      for (let x = 0; x < width; x++) {
        const colour = stripes?.length ? stripes[Math.floor((x * stripes.length) / width)] : rgb;
        raw.set(colour, y * row + 1 + x * 3);
      }
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}
