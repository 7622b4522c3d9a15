/**
 * A module of validators written as code (ajv's standalone output), one per API path, so that the
 * master and the client check bodies without loading ajv's compiler or compiling a schema at start.
 * Used by `npm run api:validators` for the request and the answer validators.
 */
import type { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';

/** The module ajv's standalone code needs at run time, imported instead of `require`d (ESM). */
const UCS2LENGTH = 'ajv/dist/runtime/ucs2length';

export interface StandaloneValidators {
  /** An ajv made with `code: { source: true, esm: true }`, with the keywords the schemas use. */
  ajv: Ajv;
  /** Each path's schema, in the order of the table. */
  schemas: Iterable<[path: string, schema: Record<string, unknown>]>;
  /** The validators' names: the prefix and the path's index. */
  namePrefix: string;
  /** The comment lines that open the module (what generated it, from what). */
  header: string[];
  /** Imports the schemas' own keywords need. */
  imports?: string[];
  /** The exported table of validators by path: its name and doc comment. */
  table: { name: string; doc: string };
}

/** The source of a generated validators module. */
export function standaloneValidatorsSource(module: StandaloneValidators): string {
  const { ajv } = module;
  const exports: Record<string, string> = {};
  const table: string[] = [];
  for (const [index, [path, schema]] of [...module.schemas].entries()) {
    const name = `${module.namePrefix}${index}`;
    ajv.addSchema({ ...schema, $id: name });
    exports[name] = name;
    table.push(`  ${JSON.stringify(path)}: ${name},`);
  }
  const code = standaloneCode
    .default(ajv, exports)
    .replace(`require("${UCS2LENGTH}").default`, 'ucs2length.default');
  if (code.includes('require(')) throw new Error('the standalone validators need a module not imported here');
  return [
    '// @ts-nocheck',
    ...module.header,
    `import ucs2length from '${UCS2LENGTH}.js';`,
    ...(module.imports ?? []),
    code.replace(/^"use strict";/, ''),
    '',
    `/** ${module.table.doc} */`,
    `export const ${module.table.name} = {`,
    ...table,
    '};',
    '',
  ].join('\n');
}
