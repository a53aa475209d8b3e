// The palette check of a generated image (B3), as a small block on its card: the verdict,
// the image's dominant colours as swatches, and the off-brand colours that broke it.
import { el } from './dom.js';

const TITLE = { passed: 'Palette check passed', failed: 'Palette check failed', not_checked: 'Palette not checked' };
const KIND = { on_brand: 'on brand', off_brand: 'off brand', neutral: 'neutral' };
const CLASS = { passed: 'pass', failed: 'fail', not_checked: 'skipped' };

function swatch(colour) {
  const share = `${Math.max(1, Math.round(colour.share * 100))}%`;
  const chip = el('span', { className: 'swatch-chip' });
  chip.style.backgroundColor = colour.hex; // CSSOM, allowed by the CSP
  return el('li', { className: `swatch ${colour.kind}`, title: `${colour.hex}: ${KIND[colour.kind] ?? colour.kind}, nearest brand colour ${colour.nearest} (ΔE ${colour.delta_e})` },
    chip, el('span', { textContent: `${colour.hex} ${share}` }));
}

export function renderPaletteCheck(check) {
  const box = el('div', { className: `brand-check palette-check ${CLASS[check.status] ?? 'skipped'}` },
    el('strong', { textContent: TITLE[check.status] ?? 'Palette check' }));
  if (check.colours?.length) {
    box.append(el('ul', { className: 'swatches', ariaLabel: 'Dominant colours' }, ...check.colours.map(swatch)));
  }
  if (check.status === 'failed') box.append(el('ul', {}, ...check.problems.map((p) => el('li', { textContent: p }))));
  if (check.note) box.append(el('p', { className: 'small', textContent: check.note }));
  return box;
}
