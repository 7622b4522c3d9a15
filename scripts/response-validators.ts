/**
 * Writes the JSON API's generated validators (`npm run api:validators`): the answers' for the
 * client (src/api/generated-response-validators.ts), the requests' for the master
 * (src/master/http/generated-request-validators.ts).
 */
import { writeFileSync } from 'node:fs';
import { responseValidatorsSource } from '../src/api/response-validators-codegen.ts';
import { requestValidatorsSource } from '../src/master/http/request-schemas.ts';

writeFileSync(
  new URL('../src/api/generated-response-validators.ts', import.meta.url),
  responseValidatorsSource(),
);
writeFileSync(
  new URL('../src/master/http/generated-request-validators.ts', import.meta.url),
  requestValidatorsSource(),
);
