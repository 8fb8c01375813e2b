// Canned replies: matching for the composer's "/shortcut" and the panel's
// search, and the placeholders the console fills in before the agent sees
// (and may edit) the text. Unknown placeholders stay as they are.
export const SHORTCUT_RE = /^[A-Za-z0-9_-]{1,32}$/;
export const PLACEHOLDERS = ['visitor.name', 'agent.name'];

/** The items of a `canned` frame that look right, by shortcut. */
export function cleanItems(items) {
  return (Array.isArray(items) ? items : [])
    .filter((i) => i && typeof i === 'object' && typeof i.id === 'string' && typeof i.shortcut === 'string' && typeof i.text === 'string')
    .sort((a, b) => a.shortcut.localeCompare(b.shortcut) || Number(!!a.shared) - Number(!!b.shared));
}

/** {visitor.name} and {agent.name} filled from values; an empty value leaves its placeholder for the agent to see. */
export function fillPlaceholders(text, values) {
  return text.replace(/\{([a-z]+\.[a-z_]+)\}/g, (whole, key) => (PLACEHOLDERS.includes(key) && values[key] ? values[key] : whole));
}

/** Replies whose shortcut starts with prefix (any case); the agent's own first on a tie. */
export function byShortcut(items, prefix) {
  const p = prefix.toLowerCase();
  return items.filter((i) => i.shortcut.toLowerCase().startsWith(p))
    .sort((a, b) => a.shortcut.length - b.shortcut.length || a.shortcut.localeCompare(b.shortcut) || Number(!!a.shared) - Number(!!b.shared));
}

/** Search: every word of query in the shortcut or the text (any case); shortcut hits first. */
export function search(items, query) {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean).map((w) => w.replace(/^\//, ''));
  if (!words.length) return items;
  const hits = items.filter((i) => words.every((w) => i.shortcut.toLowerCase().includes(w) || i.text.toLowerCase().includes(w)));
  const inShortcut = (i) => words.some((w) => i.shortcut.toLowerCase().includes(w));
  return [...hits.filter(inShortcut), ...hits.filter((i) => !inShortcut(i))];
}

/** The "/short" being typed at the caret (at the start or after a space): {start, end, prefix}, or null. */
export function slashToken(value, caret) {
  const m = /(?:^|\s)\/([A-Za-z0-9_-]{0,32})$/.exec(value.slice(0, caret));
  if (!m) return null;
  const rest = /^[A-Za-z0-9_-]*/.exec(value.slice(caret))[0]; // the caret may sit inside the word
  return { start: caret - m[1].length - 1, end: caret + rest.length, prefix: m[1] };
}
