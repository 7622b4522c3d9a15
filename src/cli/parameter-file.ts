/**
 * Instance parameters given on the command line: `KEY=VALUE` words (`--parameters`, `--node`) and
 * parameter files (`--parameters-file`: JSON, or the parameter XML `<instance><parameter id="k">v</parameter>`
 * that the SlapOS web interface shows, as the original `slapos request` reads by the `.xml` extension).
 */
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { SlapError } from '../core/errors.ts';
import { decodeParameterXml } from '../core/parameter-xml.ts';

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

/** Parameter XML → `{id: text}` (an empty element gives null), as the master reads it. */
function parseParameterXml(text: string, source: string): Record<string, string | null> {
  try {
    return decodeParameterXml(text);
  } catch (error) {
    throw new SlapError(
      'SLAP_ERR_USAGE',
      `the parameters file ${source} is not valid parameter XML: ${(error as Error).message}`,
      {
        cause: error,
        hint: `a parameter XML file looks like <instance><parameter id="key">value</parameter></instance>`,
      },
    );
  }
}
