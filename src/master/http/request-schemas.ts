/**
 * The request validators' source of truth: each JSON API path's request schema from the contract
 * files (JSON Schema draft-07), hardened with the master's rules (request-rules.ts), compiled by
 * ajv strictly: no type coercion, no defaults, no silent removal of unknown fields. The master does
 * not compile them when it starts: `npm run api:validators` writes them as code
 * (generated-request-validators.ts, ajv's standalone output), and request-validators.test.ts fails
 * when that file is out of date or judges a body otherwise than compiling the schemas here does.
 */
import { _, Ajv, Name, type CodeKeywordDefinition, type KeywordCxt } from 'ajv';
import { standaloneValidatorsSource } from '../../api/standalone-validators.ts';
import { loadApiSpec, loadExperimentalApiSpec, loadExtensionApiSpec } from '../../api/index.ts';
import { parameterDictProblem } from '../../core/text-rules.ts';
import { ARRAY_CAPS, PARAMETER_DICTS, PROPERTY_RULES, textKeywordProblem } from './request-rules.ts';

type Schema = Record<string, unknown>;

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A copy of `schema` with the master's text rules added as custom keywords. */
export function hardenSchema(schema: Schema): Schema {
  const copy: Schema = { ...schema };
  delete copy.$id; // two paths of the contract share one $id; each is compiled on its own
  const properties = copy.properties;
  if (isSchema(properties)) {
    const hardened: Schema = {};
    for (const [name, property] of Object.entries(properties)) {
      if (!isSchema(property)) {
        hardened[name] = property;
        continue;
      }
      let next = hardenSchema(property);
      const rule = PROPERTY_RULES[name];
      if (rule && next.type === 'string') next = { ...next, 'x-slapos-text': rule };
      // A nullable property (`anyOf: [{type: null}, …]`): its rule applies to its string branch.
      if (rule && Array.isArray(next.anyOf))
        next = {
          ...next,
          anyOf: next.anyOf.map((branch: unknown) =>
            isSchema(branch) && branch.type === 'string' ? { ...branch, 'x-slapos-text': rule } : branch,
          ),
        };
      const cap = ARRAY_CAPS[name];
      if (cap !== undefined) next = { ...next, maxItems: cap };
      if (PARAMETER_DICTS.has(name)) next = { ...next, 'x-slapos-parameters': true };
      if (name === 'sla_parameters' && isSchema(next.additionalProperties)) {
        next = {
          ...next,
          additionalProperties: { ...next.additionalProperties, 'x-slapos-text': 'sla' },
          // Its keys are stored and handed to nodes as much as its values: names.
          propertyNames: { type: 'string', 'x-slapos-text': 'name' },
        };
      }
      hardened[name] = next;
    }
    copy.properties = hardened;
  }
  if (isSchema(copy.items)) copy.items = hardenSchema(copy.items);
  if (Array.isArray(copy.anyOf))
    copy.anyOf = copy.anyOf.map((branch: unknown) => (isSchema(branch) ? hardenSchema(branch) : branch));
  return copy;
}

/** Each path of the contract files → the schema of its request body (an empty object if none). */
export function requestSchemas(): Record<string, Schema> {
  const operations = {
    ...loadApiSpec().paths,
    ...loadExperimentalApiSpec().paths,
    ...loadExtensionApiSpec().paths,
  };
  return Object.fromEntries(
    Object.entries(operations).map(([path, item]) => [
      path,
      item.post.requestBody?.content['application/json'].schema ?? {
        type: 'object',
        additionalProperties: false,
      },
    ]),
  );
}

/**
 * A keyword failing with the message its check returns. The check is named in the generated code
 * by `importedAs` (the generated module imports it), and called directly when compiled at run time.
 */
function checkKeyword(
  keyword: string,
  schemaType: 'string' | 'boolean',
  type: 'string' | 'object',
  check: { ref: (...args: never[]) => string | undefined; importedAs: string },
  args: (cxt: KeywordCxt) => ReturnType<typeof _>,
): CodeKeywordDefinition {
  return {
    keyword,
    type,
    schemaType,
    error: { message: ({ params }) => _`${params.problem}` },
    code(cxt) {
      const fn = cxt.gen.scopeValue('func', { ref: check.ref, code: new Name(check.importedAs) });
      const problem = cxt.gen.const('problem', _`${fn}(${args(cxt)})`);
      cxt.setParams({ problem });
      cxt.fail(_`${problem} !== undefined`);
    },
  };
}

/** What the generated module imports for the keywords' checks. */
const KEYWORD_IMPORTS = [
  "import { textKeywordProblem } from './request-rules.ts';",
  "import { parameterDictProblem } from '../../core/text-rules.ts';",
];

function createAjv(source: boolean): Ajv {
  const ajv = new Ajv({
    strict: true,
    allErrors: false,
    coerceTypes: false,
    useDefaults: false,
    ...(source ? { code: { source: true, esm: true } } : {}),
  });
  ajv.addKeyword(
    checkKeyword(
      'x-slapos-text',
      'string',
      'string',
      { ref: textKeywordProblem, importedAs: 'textKeywordProblem' },
      (cxt) => _`${cxt.schemaCode}, ${cxt.data}`,
    ),
  );
  ajv.addKeyword(
    checkKeyword(
      'x-slapos-parameters',
      'boolean',
      'object',
      { ref: parameterDictProblem, importedAs: 'parameterDictProblem' },
      (cxt) => _`${cxt.data}`,
    ),
  );
  return ajv;
}

/** Each path's request validator compiled now (what the generated code must agree with). */
export function compileRequestValidators(): Map<string, ReturnType<Ajv['compile']>> {
  const ajv = createAjv(false);
  return new Map(
    Object.entries(requestSchemas()).map(([path, schema]) => [path, ajv.compile(hardenSchema(schema))]),
  );
}

/** The source of `generated-request-validators.ts`. */
export function requestValidatorsSource(): string {
  return standaloneValidatorsSource({
    ajv: createAjv(true),
    schemas: Object.entries(requestSchemas()).map(([path, schema]) => [path, hardenSchema(schema)]),
    namePrefix: 'request',
    header: [
      '/* Generated by `npm run api:validators` (src/master/http/request-schemas.ts) from the contract',
      "   files and the master's rules (request-rules.ts): do not edit. */",
    ],
    imports: KEYWORD_IMPORTS,
    table: { name: 'REQUEST_VALIDATORS', doc: "The validator of each path's request body." },
  });
}
