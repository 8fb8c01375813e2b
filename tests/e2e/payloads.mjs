// XSS payloads sent as chat text (and used as names). Each one, if it ever ran,
// would set window.__xss (in whichever frame) or open a dialog; the tests check
// that neither happens and that every payload shows up as the literal text.
export const XSS_PAYLOADS = [
  '<script>window.__xss=1</script>',
  '<img src=x onerror="window.__xss=1">',
  '<img src=x onerror=alert(1)>',
  '<svg onload="window.__xss=1">',
  '<svg><script>window.__xss=1</script></svg>',
  '<iframe src="javascript:parent.__xss=1"></iframe>',
  '<a href="javascript:window.__xss=1">click me</a>',
  'javascript:window.__xss=1',
  '<body onload="window.__xss=1">',
  '<input autofocus onfocus="window.__xss=1">',
  '<details open ontoggle="window.__xss=1">',
  '<video><source onerror="window.__xss=1"></video>',
  '<audio src=x onerror="window.__xss=1">',
  '<marquee onstart="window.__xss=1">x</marquee>',
  '<object data="javascript:window.__xss=1"></object>',
  '<embed src="javascript:window.__xss=1">',
  '<math><mtext><table><mglyph><style><img src=x onerror="window.__xss=1">',
  '"><img src=x onerror="window.__xss=1">',
  "'><script>window.__xss=1</script>",
  '</textarea><script>window.__xss=1</script>',
  '</title><script>window.__xss=1</script>',
  "<style>@import 'javascript:window.__xss=1';</style>",
  '<div style="background:url(javascript:window.__xss=1)">x</div>',
  '<meta http-equiv="refresh" content="0;url=javascript:window.__xss=1">',
  '<form action="javascript:window.__xss=1"><button>go</button></form>',
  '<base href="javascript:window.__xss=1//">',
  "{{constructor.constructor('window.__xss=1')()}}",
  '${window.__xss=1}',
  '&lt;img src=x onerror=window.__xss=1&gt;',
  '<scr<script>ipt>window.__xss=1</scr</script>ipt>',
  '<img src="x" onerror="&#119;indow.__xss=1">',
  'http://example.com/"><img src=x onerror=window.__xss=1>',
  'https://example.com/?q=<script>window.__xss=1</script>',
  '<a href="data:text/html,<script>parent.__xss=1</script>">data</a>',
  '<svg><animate onbegin="window.__xss=1" attributeName=x dur=1s>',
  '<img src=x:alert(1) onerror=eval(src)>',
  '\\u003cscript\\u003ewindow.__xss=1\\u003c/script\\u003e',
  '<noscript><p title="</noscript><img src=x onerror=window.__xss=1>">',
  '<template><img src=x onerror=window.__xss=1></template>',
  '<img srcset=",,,,,x" onerror="window.__xss=1">',
];

/** Whether any frame of the page saw a payload run. */
export async function xssFired(page) {
  for (const frame of page.frames()) {
    try {
      if (await frame.evaluate(() => window.__xss !== undefined)) return `window.__xss set in ${frame.url()}`;
    } catch { /* a frame that went away */ }
  }
  return null;
}

/** Elements inside message texts other than safe http(s) links (must be none). */
export async function foreignElements(frameOrPage) {
  return frameOrPage.evaluate(() => [...document.querySelectorAll('#log .msg__text *')]
    .filter((n) => !(n.tagName === 'A' && /^https?:$/.test(new URL(n.href).protocol)))
    .map((n) => n.outerHTML));
}
