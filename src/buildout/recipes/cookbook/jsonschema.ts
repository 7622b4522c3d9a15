/**
 * `slapos.cookbook:slapconfiguration.jsonschema` (profiles.md §3.12): slapconfiguration, with the
 * parameters checked against the software release's JSON schema (ajv). Options, as the original's
 * current source (slapos/recipe/slapconfiguration.py, class JsonSchema):
 * - `jsonschema`: path of `software.cfg.json`; its `software-type` entry for the instance's type
 *   names the parameter schema (`request`, relative to the software release) and the
 *   `serialisation` (`xml` or `json-in-xml`, which unwraps the `_` parameter);
 * - `validate-parameters` (default `all`), `set-default` (`none`), `unstringify` (`none`): each
 *   `all|main|shared|none`. Invalid main parameters fail the run (SLAP_ERR_PARAMETERS_INVALID
 *   listing the errors): the node reports that failure to the master, as slapgrid reports the
 *   original's UserError. Defaults of the schema are filled in; unstringify turns strings into
 *   integers where the schema wants an integer (integers only, as the original). With shared
 *   validation, `slave-instance-list` is replaced by `valid-shared-instance-list` and
 *   `invalid-shared-instance-list` (`{reference, parameters[, errors]}`); shared instances are
 *   always unwrapped (`_`), whatever the serialisation, as the original.
 * - `report-error` (our addition, default `none` = the original's behaviour): with `shared` or
 *   `all`, the errors of each invalid shared instance are also reported to the master for it.
 *   Main errors are reported by the node whatever this option says (they fail the run).
 * Schemas referenced with `$ref` are loaded from their path or URL. Draft-04/06 schemas are read
 * as draft-07 (ajv 8 has no draft-04 mode).
 */
import { readFile, rm } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Ajv, AnySchemaObject } from 'ajv';
import { SlapError } from '../../../core/errors.ts';
import {
  ajvForDialect,
  formatSchemaErrors,
  isJsonObject,
  normaliseSchema,
  type JsonObject,
} from '../../../lib/json-schema.ts';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { PyDict, fromJs, pyStr, type PyValue } from '../../py-value.ts';
import { connectionFrom, withMaster } from './slap.ts';
import { readPartition, setConfiguration } from './slapconfiguration.ts';
import { pyToJson, unwrapSerialised } from './values.ts';

type Scope = { main: boolean; shared: boolean };

const SCOPES = ['none', 'main', 'shared', 'all'];

function scope(ctx: RecipeContext, option: string, fallback: string): Scope {
  const value = ctx.options.get(option) ?? fallback;
  const index = SCOPES.indexOf(value);
  if (index < 0) {
    throw ctx.error(`${JSON.stringify(value)} is not a valid value: use one of ${SCOPES.join(', ')}`, {
      option,
      code: 'SLAP_ERR_PROFILE',
    });
  }
  return { main: (index & 1) !== 0, shared: (index & 2) !== 0 };
}

/** Reads JSON from a path, a file: URL or an http(s) URL (through the run's downloads). */
async function readJson(ctx: RecipeContext, location: string): Promise<unknown> {
  let text: string;
  try {
    if (/^https?:/.test(location)) {
      const file = await ctx.download(location);
      try {
        text = await readFile(file.path, 'utf8');
      } finally {
        if (file.temporary) await rm(file.path, { force: true });
      }
    } else {
      text = await readFile(location.startsWith('file:') ? fileURLToPath(location) : location, 'utf8');
    }
    return JSON.parse(text);
  } catch (error) {
    throw ctx.error(`cannot read the JSON schema ${location}: ${(error as Error).message}`, {
      option: 'jsonschema',
      code: 'SLAP_ERR_PROFILE',
      cause: error,
    });
  }
}

/** A location as a URL (paths become file: URLs), the base of relative references. */
function asUrl(location: string): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(location) ? location : pathToFileURL(location).href;
}

function ajvFor(schema: JsonObject, ctx: RecipeContext, useDefaults: boolean): Pick<Ajv, 'compileAsync'> {
  return ajvForDialect(schema, {
    strict: false,
    allErrors: true,
    useDefaults,
    loadSchema: async (uri: string) => normaliseSchema((await readJson(ctx, uri)) as JsonObject, uri),
  });
}

/** The subschema a local `$ref` (`#/…`) points to. */
function localRef(root: JsonObject, ref: string): JsonObject | undefined {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = root;
  for (const part of ref
    .slice(1)
    .split('/')
    .filter((p) => p !== '')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as JsonObject)[decodeURIComponent(part.replaceAll('~1', '/').replaceAll('~0', '~'))];
  }
  return node !== null && typeof node === 'object' ? (node as JsonObject) : undefined;
}

/** Strings that the schema wants as integers become integers (the original's `unstringify`). */
function unstringify(root: JsonObject, schema: JsonObject, value: unknown, depth = 0): void {
  if (depth > 32 || value === null || typeof value !== 'object' || Array.isArray(value)) return;
  const target = typeof schema.$ref === 'string' ? (localRef(root, schema.$ref) ?? schema) : schema;
  for (const part of Array.isArray(target.allOf) ? (target.allOf as JsonObject[]) : [])
    unstringify(root, part, value, depth + 1);
  if (!isJsonObject(target.properties)) return;
  const instance = value as JsonObject;
  for (const [key, sub] of Object.entries(target.properties as Record<string, JsonObject>)) {
    const resolved = typeof sub.$ref === 'string' ? (localRef(root, sub.$ref) ?? sub) : sub;
    const types = Array.isArray(resolved.type) ? resolved.type : [resolved.type];
    const item = instance[key];
    if (typeof item === 'string' && types.includes('integer') && /^\s*[+-]?\d+\s*$/.test(item))
      instance[key] = Number(item);
    else unstringify(root, resolved, item, depth + 1);
  }
}

async function validator(
  ctx: RecipeContext,
  schema: JsonObject,
  location: string,
  setDefaults: boolean,
  convert: boolean,
): Promise<(instance: JsonObject) => string[]> {
  const normalised = normaliseSchema(schema, location);
  let validate;
  try {
    validate = await ajvFor(normalised, ctx, setDefaults).compileAsync(normalised as AnySchemaObject);
  } catch (error) {
    if (error instanceof SlapError) throw error;
    throw ctx.error(`the JSON schema ${location} is invalid: ${(error as Error).message}`, {
      option: 'jsonschema',
      code: 'SLAP_ERR_PROFILE',
      cause: error,
    });
  }
  return (instance) => {
    if (convert) unstringify(normalised, normalised, instance);
    return validate(instance) ? [] : formatSchemaErrors(validate.errors ?? []);
  };
}

interface SoftwareSchema {
  /** The software release's location (the schema's path without `.json`). */
  base: string;
  schema: JsonObject;
  entry: JsonObject | undefined;
  type: string;
}

function relative(base: string, path: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(path)) return path;
  if (isAbsolute(path)) return path;
  return new URL(path, asUrl(base)).href;
}

async function requestSchema(
  ctx: RecipeContext,
  software: SoftwareSchema,
  entry: JsonObject | undefined,
  what: string,
): Promise<{ schema: JsonObject; location: string }> {
  const request = entry?.request;
  if (typeof request !== 'string') {
    throw ctx.error(
      `${what} software-type ${JSON.stringify(software.type)} seems to have no JSON schema entry in ${software.base}.json`,
      {
        option: 'jsonschema',
        code: 'SLAP_ERR_PROFILE',
      },
    );
  }
  const location = relative(software.base, request);
  const schema = await readJson(ctx, location);
  if (!isJsonObject(schema))
    throw ctx.error(`the JSON schema ${location} is not an object`, {
      option: 'jsonschema',
      code: 'SLAP_ERR_PROFILE',
    });
  return { schema: schema, location: asUrl(location) };
}

async function loadSoftwareSchema(ctx: RecipeContext): Promise<SoftwareSchema> {
  let path = ctx.options.require('jsonschema');
  if (path.startsWith('file://')) path = fileURLToPath(path);
  else if (!/^https?:/.test(path)) path = resolve(ctx.directories.directory, path);
  const base = path.endsWith('.json') ? path.slice(0, -'.json'.length) : path;
  const schema = await readJson(ctx, `${base}.json`);
  if (!isJsonObject(schema))
    throw ctx.error(`${base}.json is not a JSON object`, { option: 'jsonschema', code: 'SLAP_ERR_PROFILE' });
  let type = ctx.options.get('slap-software-type') || 'default';
  if (type === 'RootSoftwareInstance') type = 'default';
  const types = schema['software-type'];
  const found = isJsonObject(types) ? types[type] : undefined;
  const entry = isJsonObject(found) ? found : undefined;
  return { base, schema: schema, entry, type };
}

function serialisation(ctx: RecipeContext, software: SoftwareSchema): string {
  const value = software.entry?.serialisation ?? software.schema.serialisation;
  if (value !== 'xml' && value !== 'json-in-xml') {
    throw ctx.error(
      `invalid or undefined serialisation ${JSON.stringify(value ?? null)} for software type ${software.type} in ${software.base}.json (xml or json-in-xml)`,
      { option: 'jsonschema', code: 'SLAP_ERR_PROFILE' },
    );
  }
  return value;
}

function sharedEntry(software: SoftwareSchema): JsonObject | undefined {
  const types = software.schema['software-type'];
  if (!isJsonObject(types)) return undefined;
  for (const value of Object.values(types)) {
    if (isJsonObject(value) && value['software-type'] === software.type && value.shared === true)
      return value;
  }
  return undefined;
}

/**
 * The main parameters of an instance of the recipe's software type requested with `requested`,
 * with the schema's defaults filled in as `set-default = main` does (not validated: a report
 * wants the defaults even for parameters the schema would reject). `requested` is not changed.
 */
export async function schemaDefaultedParameters(
  ctx: RecipeContext,
  requested: JsonObject,
): Promise<JsonObject> {
  const software = await loadSoftwareSchema(ctx);
  const { schema, location } = await requestSchema(ctx, software, software.entry, 'requested');
  const fill = await validator(ctx, schema, location, true, false);
  const instance = structuredClone(requested);
  fill(instance);
  return instance;
}

export const slapconfigurationJsonschema: Recipe = {
  version: '1',
  async init(ctx) {
    const validate = scope(ctx, 'validate-parameters', 'all');
    const setDefault = scope(ctx, 'set-default', 'none');
    const convert = scope(ctx, 'unstringify', 'none');
    const report = scope(ctx, 'report-error', 'none');
    const { parameters: raw } = await readPartition(ctx);
    const software = await loadSoftwareSchema(ctx);
    const jsonInXml = serialisation(ctx, software) === 'json-in-xml';
    let parameters: PyValue = jsonInXml ? unwrapSerialised(raw, `[${ctx.name}] instance parameters`) : raw;

    if (validate.main) {
      const { schema, location } = await requestSchema(ctx, software, software.entry, 'requested');
      const check = await validator(ctx, schema, location, setDefault.main, convert.main);
      const instance = (parameters instanceof PyDict ? pyToJson(parameters, ctx.name) : {}) as JsonObject;
      const errors = check(instance);
      if (errors.length > 0) {
        throw ctx.error(`Invalid parameters:\n  ${errors.join('\n  ')}`, {
          code: 'SLAP_ERR_PARAMETERS_INVALID',
          hint: `See the parameter schema ${location}.`,
        });
      }
      parameters = fromJs(instance);
    }

    if (validate.shared) {
      const list = ctx.options.getValue('slave-instance-list');
      ctx.options.delete('slave-instance-list');
      const valid: PyDict[] = [];
      const invalid: PyDict[] = [];
      const rejected: { reference: string; errors: string[] }[] = [];
      const items = Array.isArray(list) ? list.filter((item) => item instanceof PyDict) : [];
      const check =
        items.length === 0
          ? undefined
          : await (async () => {
              const { schema, location } = await requestSchema(
                ctx,
                software,
                sharedEntry(software),
                'requested shared',
              );
              return validator(ctx, schema, location, setDefault.shared, convert.shared);
            })();
      for (const item of items) {
        const rest = item.copy();
        const reference = rest.get('slave_reference') ?? null;
        rest.delete('slave_reference');
        const unwrapped = unwrapSerialised(rest, `[${ctx.name}] shared instance ${pyStr(reference)}`);
        const instance = (unwrapped instanceof PyDict ? pyToJson(unwrapped, ctx.name) : {}) as JsonObject;
        const errors = check?.(instance) ?? [];
        const entry = PyDict.from([
          ['reference', reference],
          ['parameters', fromJs(instance)],
        ]);
        if (errors.length === 0) valid.push(entry);
        else {
          entry.set('errors', errors);
          invalid.push(entry);
          if (typeof reference === 'string') rejected.push({ reference, errors });
        }
      }
      ctx.options.set('valid-shared-instance-list', valid);
      ctx.options.set('invalid-shared-instance-list', invalid);
      if (report.shared && rejected.length > 0) {
        const connection = connectionFrom(ctx, ctx.options);
        await withMaster(ctx, connection, async (client) => {
          for (const entry of rejected) {
            const message = `Invalid parameters:\n  ${entry.errors.join('\n  ')}`;
            try {
              await client.reportInstanceError(
                { instanceGuid: entry.reference, message },
                { signal: ctx.signal },
              );
            } catch (error) {
              if (!(error instanceof SlapError)) throw error;
              ctx.warn(`cannot report the errors of shared instance ${entry.reference}: ${error.message}`);
            }
          }
        });
      }
    }
    setConfiguration(ctx, parameters, parameters instanceof PyDict ? parameters : new PyDict());
  },
  install: () => [],
  update: () => undefined,
};
