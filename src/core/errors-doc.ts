import { ERROR_CATALOG, EXIT } from './errors.ts';

/** The text of docs/errors.md, generated from the catalog so the two cannot drift apart. */
export function renderErrorsDoc(): string {
  const lines = [
    '# Error codes',
    '',
    'Every error the system reports carries one of these stable codes. The master answers with the HTTP',
    'status shown (JSON API error body `{status, type, title}`); a CLI command exits with the exit code shown.',
    'Generated from `src/core/errors.ts` by `npx tsx scripts/errors-doc.ts > docs/errors.md`.',
    '',
    '| code | HTTP | exit | meaning |',
    '|---|---|---|---|',
  ];
  for (const [code, spec] of Object.entries(ERROR_CATALOG)) {
    lines.push(`| \`${code}\` | ${spec.http} | ${spec.exit} | ${spec.summary} |`);
  }
  lines.push('', '## Exit codes', '', '| name | code |', '|---|---|');
  for (const [name, code] of Object.entries(EXIT)) lines.push(`| ${name} | ${code} |`);
  return `${lines.join('\n')}\n`;
}
