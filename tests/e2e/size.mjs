// Prints the gzipped size of the widget's files and fails over budget:
//   the loader (widget.js) <= 5 KB, the whole visitor widget <= 30 KB.
// Each file is compressed on its own (as a server sends it), gzip -9.
// Usage: node size.mjs [web-widget folder]
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const web = process.argv[2] || process.env.SB_WEB_DIR || join(here, '..', '..', 'web-widget');
const LOADER_BUDGET = 5 * 1024;
const APP_BUDGET = 30 * 1024;
// Everything a visitor's browser loads for the widget: the loader on the host
// page, then the chat page inside the iframe and what it imports.
const APP = ['widget.js', 'chat.html', 'chat.css', 'chat.js', 'client.js', 'ui.js'];

export function gzipSize(file) {
  const raw = readFileSync(join(web, file));
  return { file, raw: raw.length, gz: gzipSync(raw, { level: 9 }).length };
}

export function measure() {
  const files = APP.map(gzipSize);
  const total = files.reduce((n, f) => n + f.gz, 0);
  const loader = files.find((f) => f.file === 'widget.js').gz;
  return { files, total, loader, ok: loader <= LOADER_BUDGET && total <= APP_BUDGET };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { files, total, loader, ok } = measure();
  const kb = (n) => `${(n / 1024).toFixed(2)} KB`;
  for (const f of files) console.log(`${f.file.padEnd(12)} ${String(f.raw).padStart(7)} B  gzip ${String(f.gz).padStart(6)} B`);
  console.log(`loader (widget.js) gzip: ${kb(loader)} (budget ${kb(LOADER_BUDGET)})`);
  console.log(`widget app total gzip:   ${kb(total)} (budget ${kb(APP_BUDGET)})`);
  if (!ok) {
    console.error('size.mjs: over budget');
    process.exit(1);
  }
}
