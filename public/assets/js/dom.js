// The DOM helpers page scripts share: find one node, build one, swap skeletons for content.

export const $ = (selector) => document.querySelector(selector);

/** A new element: `el('p', { className: 'muted', textContent: 'Hi' }, child, 'text')`. */
export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** Removes the loading skeletons (`[data-loading]`) and shows what they stood in for. */
export function showLoaded(content) {
  document.querySelectorAll('[data-loading]').forEach((n) => n.remove());
  content.hidden = false;
}
