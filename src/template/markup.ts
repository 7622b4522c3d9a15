/** HTML escaping as markupsafe does it (`escape`, Jinja's `|e`). */

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  "'": '&#39;',
  '"': '&#34;',
};

export function escapeHtml(s: string): string {
  return /[&<>'"]/.test(s) ? s.replace(/[&<>'"]/g, (c) => HTML_ESCAPES[c]!) : s;
}
