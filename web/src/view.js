// The wallet page's few DOM helpers: one screen shown at a time, errors
// announced through the one role="alert" element.

/** The element matching `selector` (it exists: the page is static). */
export const $ = (selector) => document.querySelector(selector);

/** A new element with attributes and children (text or nodes). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** Shows the screen `name` (a `<section data-screen>`), hides the others, moves focus. */
export function show(name, { focus } = {}) {
  clearAlert();
  for (const screen of document.querySelectorAll("section[data-screen]")) {
    screen.hidden = screen.dataset.screen !== name;
  }
  document.body.dataset.view = name;
  const target = focus ? $(focus) : null;
  if (target) target.focus();
}

/** Announces `text` in the alert region. */
export function announce(text) {
  const alert = $('#alert');
  alert.textContent = text;
}

/** Empties the alert region. */
export function clearAlert() {
  const alert = $('#alert');
  alert.textContent = '';
}
