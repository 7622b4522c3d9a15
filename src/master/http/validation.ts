/**
 * Request bodies are validated against the API contract's own schemas (JSON Schema draft-07) with
 * ajv — strictly: no type coercion, no defaults, no silent removal of unknown fields. The schemas
 * are then hardened with the master's text rules (src/core/text-rules.ts) for the fields that
 * name things, so that absurd strings are a 400 like any other contract violation.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { SlapError } from '../../core/errors.ts';
import {
  parameterDictProblem,
  TEXT_RULES,
  textProblem,
  type TextRuleName,
  type TextRule,
} from '../../core/text-rules.ts';

/** Which text rule applies to a string property, by property name (the same in every path). */
const PROPERTY_RULES: Record<string, TextRuleName> = {
  title: 'title',
  software_release_uri: 'url',
  software_type: 'optionalName',
  computer_guid: 'name',
  compute_partition_id: 'name',
  partition_id: 'name',
  instance_guid: 'instanceGuid',
  'ip-address': 'name',
  'network-interface': 'optionalName',
  netmask: 'optionalName',
  'network-address': 'optionalName',
  'gateway-ip-address': 'optionalName',
  project_guid: 'optionalName',
  network_guid: 'optionalName',
  message: 'freeText',
  // promise results (slapos-extensions.json): a promise's title
  name: 'name',
  tioxml: 'freeText',
};

/** Properties holding parameter dictionaries (stored as parameter XML). */
const PARAMETER_DICTS = new Set(['parameters', 'connection_parameter_dict']);

/**
 * Items of the arrays a compute node format sends: they bound what one format request writes
 * (docs/master.md, "Limits"); real nodes have tens to a few hundred partitions, a few addresses each.
 */
export const ARRAY_CAPS: Record<string, number> = { compute_partition_list: 1000, ip_list: 64 };

/** The rule of each string value of an SLA (filter) dictionary. */
export const SLA_VALUE: TextRule = { maxLength: 4096, allowEmpty: true };

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
  return copy;
}

function createAjv(): Ajv {
  const ajv = new Ajv({ strict: true, allErrors: false, coerceTypes: false, useDefaults: false });
  ajv.addKeyword({
    keyword: 'x-slapos-text',
    type: 'string',
    schemaType: 'string',
    errors: true,
    validate: function validateText(ruleName: string, data: string): boolean {
      const rule = ruleName === 'sla' ? SLA_VALUE : TEXT_RULES[ruleName as TextRuleName];
      const problem = textProblem(data, rule);
      if (!problem) return true;
      (validateText as { errors?: Partial<ErrorObject>[] }).errors = [
        { keyword: 'x-slapos-text', message: problem, params: {} },
      ];
      return false;
    },
  });
  ajv.addKeyword({
    keyword: 'x-slapos-parameters',
    type: 'object',
    schemaType: 'boolean',
    errors: true,
    validate: function validateParameters(_enabled: boolean, data: Record<string, unknown>): boolean {
      const problem = parameterDictProblem(data);
      if (!problem) return true;
      (validateParameters as { errors?: Partial<ErrorObject>[] }).errors = [
        { keyword: 'x-slapos-parameters', message: problem, params: {} },
      ];
      return false;
    },
  });
  return ajv;
}

function describe(error: ErrorObject): string {
  const where = error.instancePath === '' ? 'body' : `body${error.instancePath}`;
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') {
    return `${where} must NOT have additional properties ('${String(params.additionalProperty)}' was unexpected)`;
  }
  return `${where} ${error.message ?? 'is invalid'}`;
}

export type BodyValidator = (body: unknown) => void;

/** Compiles (once, at startup) the validator of one path's request body. Throws SLAP_ERR_INVALID_INPUT. */
export function requestValidators(schemas: Record<string, Schema>): Map<string, BodyValidator> {
  const ajv = createAjv();
  const validators = new Map<string, BodyValidator>();
  for (const [path, schema] of Object.entries(schemas)) {
    const validate: ValidateFunction = ajv.compile(hardenSchema(schema));
    validators.set(path, (body) => {
      if (validate(body)) return;
      const first = validate.errors?.[0];
      throw new SlapError('SLAP_ERR_INVALID_INPUT', first ? describe(first) : 'body is invalid');
    });
  }
  return validators;
}
