/**
 * Instance parameters given on the command line: `KEY=VALUE` words (`--parameters`, `--node`) and
 * parameter files (`--parameters-file`: JSON, or the parameter XML `<instance><parameter id="k">v</parameter>`
 * that the SlapOS web interface shows, as the original `slapos request` reads by the `.xml` extension).
 */
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { SlapError } from '../core/errors.ts';

/** Parses `['a=1', 'b=x=y']` into `{a: '1', b: 'x=y'}`; a word without `=` or a repeated key is an error. */
export function parseKeyValues(words: readonly string[] | undefined, option: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const word of words ?? []) {
    const equal = word.indexOf('=');
    if (equal <= 0) {
      throw new SlapError('SLAP_ERR_USAGE', `${option}: expected KEY=VALUE, got ${JSON.stringify(word)}`, {
        hint: `write ${option} key1=value1 key2=value2`,
      });
    }
    const key = word.slice(0, equal);
    if (Object.hasOwn(out, key)) {
      throw new SlapError('SLAP_ERR_USAGE', `${option}: multiple values provided for the same key '${key}'`);
    }
    out[key] = word.slice(equal + 1);
  }
  return out;
}

/** Reads a parameter file: `.xml` as parameter XML, `.yaml`/`.yml` refused, anything else as a JSON object. */
export function readParametersFile(path: string, cwd: string): Record<string, unknown> {
  const fullPath = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(fullPath, 'utf8');
  } catch (error) {
    throw new SlapError(
      'SLAP_ERR_USAGE',
      `cannot read the parameters file ${path}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const extension = extname(fullPath).toLowerCase();
  if (extension === '.xml') return parseParameterXml(text, path);
  if (extension === '.yaml' || extension === '.yml') {
    throw new SlapError('SLAP_ERR_USAGE', `YAML parameter files are not supported: ${path}`, {
      hint: 'write the parameters as a JSON object in a .json file',
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SlapError(
      'SLAP_ERR_USAGE',
      `the parameters file ${path} is not valid JSON: ${(error as Error).message}`,
      {
        cause: error,
        hint: 'a parameters file holds a JSON object, e.g. {"key": "value"} (or parameter XML in a .xml file)',
      },
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SlapError('SLAP_ERR_USAGE', `the parameters file ${path} must hold a JSON object`, {
      hint: 'e.g. {"key": "value"}',
    });
  }
  return value as Record<string, unknown>;
}

interface XmlParameter {
  id?: string;
  '#text'?: string;
}

/** Parameter XML → `{id: text}`; an empty element gives null, as the original reads it. */
export function parseParameterXml(text: string, source: string): Record<string, string | null> {
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw new SlapError(
      'SLAP_ERR_USAGE',
      `the parameters file ${source} is not valid XML (line ${valid.err.line}): ${valid.err.msg}`,
    );
  }
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    isArray: (name) => name === 'parameter',
  });
  const document = parser.parse(text) as Record<string, unknown>;
  const roots = Object.keys(document).filter((key) => !key.startsWith('?'));
  const root =
    roots.length === 1 ? (document[roots[0] ?? ''] as { parameter?: XmlParameter[] } | string) : undefined;
  if (root === undefined) {
    throw new SlapError('SLAP_ERR_USAGE', `the parameters file ${source} has no <instance> root element`);
  }
  const out: Record<string, string | null> = {};
  for (const parameter of typeof root === 'object' ? (root.parameter ?? []) : []) {
    if (typeof parameter !== 'object' || parameter.id === undefined) {
      throw new SlapError('SLAP_ERR_USAGE', `the parameters file ${source} has a <parameter> without an id`);
    }
    const value = parameter['#text'];
    out[parameter.id] = value === undefined || value === '' ? null : value;
  }
  return out;
}
