/** Writes src/api/generated-response-validators.ts: `npm run api:validators`. */
import { writeFileSync } from 'node:fs';
import { responseValidatorsSource } from '../src/api/response-validators-codegen.ts';

writeFileSync(
  new URL('../src/api/generated-response-validators.ts', import.meta.url),
  responseValidatorsSource(),
);
