// The palette check of generated images (B3, issue 15): the worker decodes the image the
// provider returns, finds its dominant colours and compares them with the brand's
// palette, through wrangler dev and the inference stand-in (which paints its images in
// the brand's colours, or in the colours a `#paint-RRGGBB` marker names).
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedWorker, eventually } from '../support/worker.mjs';
import { Client, addresses, uniqueEmail, verifyEmail } from '../support/client.mjs';

let worker;
const nextIp = addresses();
before(async () => { worker = await sharedWorker(); });
after(async () => { await worker?.stop(); });

const FERNLEAF = { name: 'Fernleaf', voice: 'warm', colors: [{ hex: '#0e7c66', role: 'primary' }, { hex: '#f5f0e1', role: 'background' }] };

async function user(brand = FERNLEAF) {
  const c = new Client(worker.base, { ip: nextIp() });
  const email = uniqueEmail('palette');
  assert.equal((await c.signup({ email })).status, 201);
  await verifyEmail(worker, email);
  const b = await c.post('/api/brands', brand);
  assert.equal(b.status, 201);
  c.brandId = b.body.id;
  return c;
}

async function generate(c, content_type, prompt) {
  const res = await c.post('/api/generations', { brand_id: c.brandId, content_type, prompt });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return eventually(async () => {
    const r = await c.get(`/api/generations/${res.body.id}`);
    return ['succeeded', 'failed'].includes(r.body.status) && r.body;
  }, { timeoutMs: 45_000, intervalMs: 300, what: `job ${res.body.id} to finish` });
}

describe('palette check', () => {
  test('an image in the brand colours passes', async () => {
    const c = await user();
    const job = await generate(c, 'image_square', 'A cup on a table');
    assert.equal(job.status, 'succeeded', job.failure_reason);
    assert.equal(job.brand_check, null);
    const check = job.palette_check;
    assert.equal(check.status, 'passed', JSON.stringify(check));
    assert.deepEqual(check.problems, []);
    assert.deepEqual(check.colours.map((x) => [x.hex, x.share, x.kind]).sort(), [['#0e7c66', 0.5, 'on_brand'], ['#f5f0e1', 0.5, 'neutral']]);
    assert.equal(check.colours.find((x) => x.hex === '#0e7c66').delta_e, 0);
  });

  test('an image in off-brand colours fails with the colours named, and is still delivered and charged', async () => {
    const c = await user();
    const job = await generate(c, 'image_wide', 'A poster #paint-d11f1f #paint-1d4ed8 #paint-0e7c66');
    assert.equal(job.status, 'succeeded', job.failure_reason);
    const check = job.palette_check;
    assert.equal(check.status, 'failed', JSON.stringify(check));
    // Three stripes of a third each; the sample grid (every 3rd pixel) gives 33–34 %.
    const problems = check.problems.sort();
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems[0], /^Off-brand colour #1d4ed8 covers 3[34]% of the image \(nearest brand colour #0e7c66, ΔE 23\.9\)\.$/);
    assert.match(problems[1], /^Off-brand colour #d11f1f covers 3[34]% of the image \(nearest brand colour #f5f0e1, ΔE 28\.5\)\.$/);
    assert.deepEqual(check.colours.map((x) => [x.hex, x.kind]).sort(), [['#0e7c66', 'on_brand'], ['#1d4ed8', 'off_brand'], ['#d11f1f', 'off_brand']]);
    // The check informs; it never withholds the image or the charge.
    const img = await fetch(worker.base + job.output.image_url, { headers: { cookie: `__Host-blimari_session=${c.token}` } });
    assert.equal(img.status, 200);
    assert.equal((await c.get('/api/credits')).body.balance, 45);
    // The list shows the same check.
    const listed = (await c.get('/api/generations')).body.items.find((j) => j.id === job.id);
    assert.deepEqual(listed.palette_check, check);
  });

  test('a brand without colours is not checked, and text generations have no palette check', async () => {
    const c = await user({ name: 'Plain' });
    const image = await generate(c, 'image_square', 'A plain picture');
    assert.equal(image.status, 'succeeded', image.failure_reason);
    assert.deepEqual(image.palette_check, { status: 'not_checked', problems: [], colours: [], note: 'The brand has no colours to check against.' });
    const text = await generate(c, 'social_post', 'Hello');
    assert.equal(text.palette_check, null);
    assert.equal(text.brand_check.passed, true);
  });
});
