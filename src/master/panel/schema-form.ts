/**
 * The request form a software release's input schema describes, and back: form fields → the
 * parameter object → server-side validation (ajv), with field errors next to the fields.
 *
 * Field names say how to read the value back, so reading needs no schema (and trusts nothing):
 * `s.` a string, `n.` a number, `b.` a boolean (a hidden "" then a checkbox "true"), `l.` strings
 * one per line, `ln.` numbers one per line, `j.` JSON text, `o.` an object that exists even if
 * empty; then the path, segments joined by `.` (`~` written `~0` and `.` written `~1`). The bare
 * name `j` holds the whole object, for schemas the form cannot lay out.
 *
 * Values round-trip exactly: a value a browser would change (a string with CR, LF or NUL, a lone
 * surrogate, an empty string, a list that a line per item cannot hold) is shown as JSON instead.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { SlapError } from '../../core/errors.ts';
import {
  ajvForDialect,
  instancePathSegments,
  interruptibleRegExp,
  isJsonObject,
  PatternTimeoutError,
  type JsonObject,
} from '../../lib/json-schema.ts';
import type { InputSchema, SoftwareTypeEntry } from '../services/software-schema.ts';
import { html, type Html } from './html.ts';
import type { PanelForm } from './panel-routes.ts';

/** Error messages by encoded path (`''`: the whole object). */
export type FieldErrors = Map<string, string[]>;

export type Parameters = Record<string, unknown>;

// --- paths and names ---

/** `~` → `~0`, `.` → `~1`, and what a name attribute cannot carry (CR, LF, NUL, lone surrogates) → `~uXXXX`. */
function encodeSegment(segment: string): string {
  return segment.replace(
    /~|\.|[\r\n\0]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    (character) =>
      character === '~'
        ? '~0'
        : character === '.'
          ? '~1'
          : `~u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function decodeSegment(segment: string): string {
  return segment.replace(/~(0|1|u[0-9a-f]{4})/g, (_, code: string) =>
    code === '0' ? '~' : code === '1' ? '.' : String.fromCharCode(parseInt(code.slice(1), 16)),
  );
}

/** The encoded form of a path (what field names and error maps use). */
export function encodePath(path: readonly string[]): string {
  return path.map(encodeSegment).join('.');
}

function fieldName(prefix: string, path: readonly string[]): string {
  return `${prefix}.${encodePath(path)}`;
}

// --- what a browser keeps ---

/** A lone surrogate (a page in UTF-8 cannot carry it). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Text a line of a textarea gives back exactly: no CR, LF (the line breaks), NUL, lone surrogate. */
function lineSafe(text: string): boolean {
  return !/[\r\n\0]/.test(text) && !LONE_SURROGATE.test(text);
}

/** A string an `<input>` gives back exactly (an empty input is "no value"). */
function inputSafe(text: string): boolean {
  return text !== '' && lineSafe(text);
}

/** Items a line per item gives back exactly (an empty textarea is "no value"). */
function linesSafe(items: readonly string[]): boolean {
  return items.length > 0 && !(items.length === 1 && items[0] === '') && items.every(lineSafe);
}

// --- the schema, resolved ---

type Located = { schema: JsonObject; base: string };

const MAX_REF_HOPS = 16;
const MAX_NESTING = 8;

/** Follows `$ref`s (against the document they are in) to a schema, or undefined if it cannot. */
function resolveRefs(input: InputSchema, located: Located): Located | undefined {
  let current = located;
  for (let hop = 0; typeof current.schema.$ref === 'string'; hop++) {
    if (hop >= MAX_REF_HOPS) return undefined;
    let target: URL;
    try {
      target = new URL(current.schema.$ref, current.base);
    } catch {
      return undefined;
    }
    const fragment = decodeURIComponent(target.hash.slice(1));
    target.hash = '';
    const document = input.documents.get(target.href);
    if (!document) return undefined;
    let node: unknown = document;
    for (const part of fragment.split('/').slice(1)) {
      if (!isJsonObject(node) && !Array.isArray(node)) return undefined;
      node = (node as Record<string, unknown>)[part.replaceAll('~1', '/').replaceAll('~0', '~')];
    }
    if (!isJsonObject(node)) return undefined;
    current = { schema: node, base: target.href };
  }
  return current;
}

/** An object schema's properties and required keys, `allOf` parts merged in. */
function objectShape(
  input: InputSchema,
  located: Located,
): { properties: [string, Located][]; required: Set<string> } | undefined {
  const resolved = resolveRefs(input, located);
  if (!resolved) return undefined;
  const { schema, base } = resolved;
  if (schema.oneOf !== undefined || schema.anyOf !== undefined || schema.not !== undefined) return undefined;
  const properties = new Map<string, Located>();
  const required = new Set<string>();
  const parts = Array.isArray(schema.allOf) ? schema.allOf : [];
  for (const part of parts) {
    if (!isJsonObject(part)) return undefined;
    const shape = objectShape(input, { schema: part, base });
    if (!shape) return undefined;
    for (const [key, value] of shape.properties) properties.set(key, value);
    for (const key of shape.required) required.add(key);
  }
  if (schema.type !== undefined && schema.type !== 'object') return undefined;
  if (schema.properties !== undefined && !isJsonObject(schema.properties)) return undefined;
  for (const [key, value] of Object.entries(schema.properties ?? {})) {
    if (isJsonObject(value)) properties.set(key, { schema: value, base });
  }
  if (Array.isArray(schema.required))
    for (const key of schema.required) if (typeof key === 'string') required.add(key);
  if (properties.size === 0 && parts.length === 0 && schema.type !== 'object') return undefined;
  return { properties: [...properties], required };
}

// --- the fields ---

type Control =
  | { kind: 'text'; type: 'text' | 'email' | 'url'; value: string | undefined }
  | { kind: 'number'; integer: boolean; value: number | undefined }
  /** `absent`: unchecked gives no value back (the value was absent), else false. */
  | { kind: 'checkbox'; checked: boolean; absent: boolean }
  | {
      kind: 'select';
      options: { json: string; label: string }[];
      selected: string | undefined;
      empty: boolean;
    }
  | { kind: 'lines'; numbers: boolean; items: (string | number)[] | undefined }
  | { kind: 'json'; value: unknown };

interface Field {
  path: string[];
  label: string;
  description: string;
  required: boolean;
  schema: JsonObject;
  control: Control;
}

interface Group {
  path: string[];
  label: string;
  description: string;
  /** The object exists in the values (kept even if all its fields are left empty). */
  present: boolean;
  items: (Field | Group)[];
}

function singleType(schema: JsonObject): string | undefined {
  const type = schema.type;
  if (typeof type === 'string') return type;
  if (Array.isArray(type) && type.length === 1 && typeof type[0] === 'string') return type[0];
  return undefined;
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

const FORMAT_TYPES: Record<string, 'email' | 'url'> = { email: 'email', uri: 'url', url: 'url' };

/** The control for a scalar or list schema and its value, or undefined when only JSON can hold it. */
function controlFor(schema: JsonObject, value: unknown, required: boolean): Control | undefined {
  if (Array.isArray(schema.enum)) {
    const options = schema.enum.map((option) => ({
      json: JSON.stringify(option),
      label: typeof option === 'string' ? option : JSON.stringify(option),
    }));
    const selected = value === undefined ? undefined : JSON.stringify(value);
    if (selected !== undefined && !options.some((option) => option.json === selected))
      options.push({ json: selected, label: typeof value === 'string' ? value : selected });
    return { kind: 'select', options, selected, empty: !required || selected === undefined };
  }
  const type = singleType(schema);
  switch (type) {
    case 'string': {
      const format = FORMAT_TYPES[textOf(schema.format)];
      if (value === undefined) return { kind: 'text', type: format ?? 'text', value: undefined };
      if (typeof value !== 'string' || !inputSafe(value)) return undefined;
      // email and url inputs trim the value: only when there is nothing to trim.
      const trimmed = value.trim() === value;
      return { kind: 'text', type: format && trimmed ? format : 'text', value };
    }
    case 'integer':
    case 'number':
      if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) return undefined;
      return { kind: 'number', integer: type === 'integer', value };
    case 'boolean':
      if (value !== undefined && typeof value !== 'boolean') return undefined;
      return { kind: 'checkbox', checked: value === true, absent: value === undefined };
    case 'array': {
      const items = isJsonObject(schema.items) ? singleType(schema.items) : undefined;
      const numbers = items === 'number' || items === 'integer';
      if (!numbers && items !== 'string') return undefined;
      if (value === undefined) return { kind: 'lines', numbers, items: undefined };
      if (!Array.isArray(value)) return undefined;
      if (
        numbers &&
        value.every((item) => typeof item === 'number' && Number.isFinite(item)) &&
        value.length > 0
      )
        return { kind: 'lines', numbers, items: value as number[] };
      if (!numbers && value.every((item) => typeof item === 'string') && linesSafe(value))
        return { kind: 'lines', numbers, items: value };
      return undefined;
    }
    default:
      return undefined;
  }
}

function buildGroup(
  input: InputSchema,
  located: Located,
  values: Parameters,
  path: string[],
  depth: number,
  useDefaults: boolean,
): (Field | Group)[] | undefined {
  const shape = depth > MAX_NESTING ? undefined : objectShape(input, located);
  if (!shape) return undefined;
  const items: (Field | Group)[] = [];
  const known = new Set<string>();
  for (const [key, property] of shape.properties) {
    known.add(key);
    const resolved = resolveRefs(input, property) ?? property;
    const schema = resolved.schema;
    const childPath = [...path, key];
    const hasValue = Object.hasOwn(values, key);
    const value = hasValue ? values[key] : useDefaults ? schema.default : undefined;
    const label = textOf(schema.title) || key;
    const description = textOf(schema.description);
    const required = shape.required.has(key);
    if (singleType(schema) === 'object' || (schema.properties !== undefined && schema.type === undefined)) {
      if (value === undefined || isJsonObject(value)) {
        const children = buildGroup(
          input,
          resolved,
          (value as Parameters | undefined) ?? {},
          childPath,
          depth + 1,
          useDefaults,
        );
        if (children) {
          items.push({ path: childPath, label, description, present: hasValue, items: children });
          continue;
        }
      }
    }
    const control = controlFor(schema, value, required) ?? { kind: 'json', value };
    items.push({ path: childPath, label, description, required, schema, control });
  }
  for (const [key, value] of Object.entries(values)) {
    if (known.has(key)) continue;
    items.push({
      path: [...path, key],
      label: key,
      description: 'Not in the schema.',
      required: false,
      schema: {},
      control: { kind: 'json', value },
    });
  }
  return items;
}

// --- rendering (html.ts only) ---

interface Ids {
  next(): string;
}

function errorsFor(errors: FieldErrors, path: readonly string[]): string[] {
  return errors.get(encodePath(path)) ?? [];
}

function describedBy(...ids: (string | undefined)[]): string | undefined {
  const present = ids.filter((id): id is string => id !== undefined);
  return present.length > 0 ? present.join(' ') : undefined;
}

/**
 * A textarea holding exactly `text`: the HTML parser drops a newline right after `<textarea>`, so
 * one is always written first (and the template is kept as it is: a formatter must not add one).
 */
function textarea(attributes: Html, text: string): Html {
  const content = `\n${text}`;
  // prettier-ignore
  return html`<textarea ${attributes}>${content}</textarea>`;
}

function jsonText(value: unknown): string {
  return value === undefined ? '' : JSON.stringify(value, null, 2);
}

function renderControl(field: Field, id: string, described: string | undefined, invalid: boolean): Html {
  const { control, schema, path, required } = field;
  const invalidAttribute = invalid ? 'true' : undefined;
  switch (control.kind) {
    case 'text':
      return html`<input
        id="${id}"
        name="${fieldName('s', path)}"
        type="${control.type}"
        value="${control.value ?? ''}"
        ${required ? html`required` : ''}
        ${typeof schema.minLength === 'number' ? html`minlength="${schema.minLength}"` : ''}
        ${typeof schema.maxLength === 'number' ? html`maxlength="${schema.maxLength}"` : ''}
        ${typeof schema.pattern === 'string' ? html`pattern="${`[\\s\\S]*(?:${schema.pattern})[\\s\\S]*`}"` : ''}
        ${described ? html`aria-describedby="${described}"` : ''}
        ${invalidAttribute ? html`aria-invalid="true"` : ''}
      />`;
    case 'number': {
      const step = typeof schema.multipleOf === 'number' ? schema.multipleOf : control.integer ? 1 : 'any';
      return html`<input
        id="${id}"
        name="${fieldName('n', path)}"
        type="number"
        step="${step}"
        value="${control.value === undefined ? '' : String(control.value)}"
        ${required ? html`required` : ''}
        ${typeof schema.minimum === 'number' ? html`min="${schema.minimum}"` : ''}
        ${typeof schema.maximum === 'number' ? html`max="${schema.maximum}"` : ''}
        ${described ? html`aria-describedby="${described}"` : ''}
        ${invalidAttribute ? html`aria-invalid="true"` : ''}
      />`;
    }
    case 'checkbox':
      return html`<input
          type="hidden"
          name="${fieldName('b', path)}"
          value="${control.absent ? 'absent' : 'false'}"
        /><input
          id="${id}"
          name="${fieldName('b', path)}"
          type="checkbox"
          value="true"
          ${control.checked ? html`checked` : ''}
          ${described ? html`aria-describedby="${described}"` : ''}
        />`;
    case 'select':
      return html`<select
        id="${id}"
        name="${fieldName('j', path)}"
        ${required ? html`required` : ''}
        ${described ? html`aria-describedby="${described}"` : ''}
        ${invalidAttribute ? html`aria-invalid="true"` : ''}
      >
        ${control.empty ? html`<option value="" ${control.selected === undefined ? html`selected` : ''}>(not set)</option>` : ''}
        ${control.options.map(
          (option) =>
            html`<option value="${option.json}" ${option.json === control.selected ? html`selected` : ''}>
              ${option.label}
            </option>`,
        )}
      </select>`;
    case 'lines':
      return textarea(
        html`id="${id}" name="${fieldName(control.numbers ? 'ln' : 'l', path)}" rows="4"
        ${required ? html`required` : ''} ${described ? html`aria-describedby="${described}"` : ''}
        ${invalidAttribute ? html`aria-invalid="true"` : ''}`,
        (control.items ?? []).map(String).join('\n'),
      );
    case 'json':
      return textarea(
        html`id="${id}" name="${fieldName('j', path)}" rows="4" class="json"
        ${described ? html`aria-describedby="${described}"` : ''}
        ${invalidAttribute ? html`aria-invalid="true"` : ''}`,
        jsonText(control.value),
      );
  }
}

function renderMessages(id: string | undefined, errors: string[]): Html | string {
  if (errors.length === 0 || id === undefined) return '';
  return html`<ul class="field-error" id="${id}">
    ${errors.map((message) => html`<li>${message}</li>`)}
  </ul>`;
}

function renderField(field: Field, ids: Ids, errors: FieldErrors): Html {
  const id = ids.next();
  const help = field.description ? `${id}-help` : undefined;
  const messages = errorsFor(errors, field.path);
  const errorId = messages.length > 0 ? `${id}-errors` : undefined;
  const described = describedBy(help, errorId);
  const hint =
    field.control.kind === 'lines' ? 'One per line.' : field.control.kind === 'json' ? 'JSON.' : '';
  return html`<div class="field${messages.length > 0 ? ' invalid' : ''}">
    <label for="${id}"
      >${field.label}${field.required ? html` <span class="required">(required)</span>` : ''}</label
    >
    ${renderControl(field, id, described, messages.length > 0)}
    ${help ? html`<small class="field-help" id="${help}">${field.description}${hint ? ` ${hint}` : ''}</small>` : hint ? html`<small class="field-help">${hint}</small>` : ''}
    ${renderMessages(errorId, messages)}
  </div>`;
}

function renderGroup(group: Group, ids: Ids, errors: FieldErrors): Html {
  const messages = errorsFor(errors, group.path);
  const errorId = messages.length > 0 ? ids.next() : undefined;
  return html`<fieldset>
    <legend>${group.label}</legend>
    ${group.present ? html`<input type="hidden" name="${fieldName('o', group.path)}" value="" />` : ''}
    ${group.description ? html`<p class="field-help">${group.description}</p>` : ''}
    ${renderMessages(errorId, messages)} ${renderItems(group.items, ids, errors)}
  </fieldset>`;
}

function renderItems(items: (Field | Group)[], ids: Ids, errors: FieldErrors): Html[] {
  return items.map((item) =>
    'items' in item ? renderGroup(item, ids, errors) : renderField(item, ids, errors),
  );
}

function idCounter(prefix: string): Ids {
  let count = 0;
  return { next: () => `${prefix}-${++count}` };
}

/** The errors that concern the whole form or no field shown, then all of them as a summary. */
function renderSummary(errors: FieldErrors): Html | string {
  const all = [...errors].flatMap(([path, messages]) =>
    messages.map((message) =>
      path === '' ? message : `${path.split('.').map(decodeSegment).join('.')}: ${message}`,
    ),
  );
  if (all.length === 0) return '';
  return html`<div class="error-message" role="alert">
    <p>The parameters are not valid:</p>
    <ul>
      ${all.map((message) => html`<li>${message}</li>`)}
    </ul>
  </div>`;
}

/**
 * The fields of the input schema, filled with `values` (an instance's parameters, for modify),
 * else the schema's defaults; `errors` next to their fields.
 */
export function schemaFormFields(
  input: InputSchema,
  values: Parameters | undefined,
  errors: FieldErrors = new Map(),
): Html {
  const ids = idCounter('p');
  const root = { schema: input.schema, base: input.url };
  const items = buildGroup(input, root, values ?? {}, [], 0, values === undefined);
  // A schema this form cannot lay out (oneOf at the top…): the whole object as JSON.
  if (!items) return wholeObjectField(values ?? {}, errors);
  return html`${renderSummary(errors)}${renderItems(items, ids, errors)}`;
}

/** All the parameters as one JSON object (the `j` field). */
function wholeObjectField(values: Parameters, errors: FieldErrors): Html {
  const control = textarea(
    html`id="p-json" name="j" rows="12" class="json" aria-describedby="p-json-help"`,
    jsonText(values),
  );
  return html`${renderSummary(errors)}
    <div class="field">
      <label for="p-json">Parameters</label>
      ${control}
      <small class="field-help" id="p-json-help">A JSON object.</small>
    </div>`;
}

function parseWholeObject(text: string): { parameters: Parameters; errors: FieldErrors } {
  const errors: FieldErrors = new Map();
  try {
    const parsed: unknown = JSON.parse(textareaText(text));
    if (isJsonObject(parsed)) return { parameters: parsed, errors };
    addError(errors, '', 'The parameters must be a JSON object.');
  } catch (error) {
    addError(errors, '', `The parameters are not valid JSON: ${(error as Error).message}`);
  }
  return { parameters: {}, errors };
}

// --- reading the form back ---

function values(form: PanelForm, name: string): string[] {
  return form.all(name);
}

/** What a textarea gives: CR LF back to LF (browsers send every line break as CR LF). */
function textareaText(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

/** Sets the value at `path` (false: something is already there); `{}` of an `o.` field merges. */
function setPath(target: Parameters, path: string[], value: unknown, isObjectMarker: boolean): boolean {
  let node = target;
  for (const segment of path.slice(0, -1)) {
    const next = Object.hasOwn(node, segment) ? node[segment] : undefined;
    if (next === undefined) {
      const created: Parameters = {};
      Object.defineProperty(node, segment, {
        value: created,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      node = created;
    } else if (isJsonObject(next)) node = next;
    else return false;
  }
  const last = path[path.length - 1] as string;
  if (Object.hasOwn(node, last)) return isObjectMarker && isJsonObject(node[last]);
  // defineProperty: `__proto__` is a key like any other.
  Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
  return true;
}

function addError(errors: FieldErrors, path: string, message: string): void {
  const list = errors.get(path);
  if (list) list.push(message);
  else errors.set(path, [message]);
}

function parseNumber(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : Number.NaN;
}

/**
 * The parameter object the schema form's fields hold. Fields that are not the form's (CSRF token,
 * title…) are ignored; a field that cannot be read (bad JSON, not a number) is a field error.
 */
export function parseSchemaForm(form: PanelForm): { parameters: Parameters; errors: FieldErrors } {
  const parameters: Parameters = {};
  const errors: FieldErrors = new Map();
  const whole = values(form, 'j');
  if (whole.length > 0) return parseWholeObject(whole[0] ?? '');
  const names = new Set(form.entries().map(([name]) => name));
  for (const name of names) {
    const match = /^(s|n|b|l|ln|j|o)\.(.+)$/s.exec(name);
    if (!match) continue;
    const [, prefix, encoded] = match as unknown as [string, string, string];
    const path = encoded.split('.').map(decodeSegment);
    const all = values(form, name);
    const raw = all[0] ?? '';
    let value: unknown;
    switch (prefix) {
      case 's':
        if (raw === '') continue;
        value = raw;
        break;
      case 'n':
        value = parseNumber(raw);
        if (value === undefined) continue;
        if (Number.isNaN(value)) {
          addError(errors, encoded, 'Not a number.');
          continue;
        }
        break;
      case 'b':
        if (all.includes('true')) value = true;
        else if (all.includes('absent')) continue;
        else value = false;
        break;
      case 'l':
      case 'ln': {
        const text = textareaText(raw);
        if (text === '') continue;
        const lines = text.split('\n');
        if (prefix === 'l') value = lines;
        else {
          const numbers = lines.filter((line) => line.trim() !== '').map(parseNumber);
          if (numbers.some((item) => item === undefined || Number.isNaN(item))) {
            addError(errors, encoded, 'One number per line.');
            continue;
          }
          value = numbers;
        }
        break;
      }
      case 'j': {
        const text = textareaText(raw);
        if (text.trim() === '') continue;
        try {
          value = JSON.parse(text);
        } catch (error) {
          addError(errors, encoded, `Not valid JSON: ${(error as Error).message}`);
          continue;
        }
        break;
      }
      case 'o':
        value = {};
        break;
    }
    if (!setPath(parameters, path, value, prefix === 'o'))
      addError(errors, encoded, 'This field conflicts with another one.');
  }
  return { parameters, errors };
}

// --- server-side validation ---

/** A pattern gets this long to match one value. */
const PATTERN_TIMEOUT_MS = 250;
const PATTERNS = interruptibleRegExp(PATTERN_TIMEOUT_MS);

const validators = new Map<string, { documents: JsonObject[]; validate: ValidateFunction }>();
const MAX_VALIDATORS = 64;

function validatorFor(input: InputSchema): ValidateFunction {
  const documents = [...input.documents.values()];
  const cached = validators.get(input.url);
  if (
    cached &&
    cached.documents.length === documents.length &&
    cached.documents.every((d, i) => d === documents[i])
  ) {
    validators.delete(input.url);
    validators.set(input.url, cached);
    return cached.validate;
  }
  const ajv = ajvForDialect(input.schema, {
    strict: false,
    allErrors: true,
    logger: false,
    code: { regExp: PATTERNS },
  });
  let validate: ValidateFunction;
  try {
    for (const [url, document] of input.documents) if (url !== input.url) ajv.addSchema(document, url);
    validate = ajv.compile(input.schema);
  } catch (error) {
    throw new SlapError(
      'SLAP_ERR_SCHEMA_UNREADABLE',
      `The schema ${input.url} is invalid: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  validators.set(input.url, { documents, validate });
  while (validators.size > MAX_VALIDATORS) validators.delete(validators.keys().next().value as string);
  return validate;
}

function errorPath(error: ErrorObject): string[] {
  const path = instancePathSegments(error.instancePath);
  const missing = (error.params as { missingProperty?: unknown }).missingProperty;
  if (error.keyword === 'required' && typeof missing === 'string') path.push(missing);
  return path;
}

/** The schema's complaints about `parameters`, by field path (none: valid). */
export function validateParameters(input: InputSchema, parameters: Parameters): FieldErrors {
  const validate = validatorFor(input);
  const errors: FieldErrors = new Map();
  try {
    if (validate(parameters)) return errors;
  } catch (error) {
    if (!(error instanceof PatternTimeoutError)) throw error;
    addError(errors, '', `The parameters cannot be checked: ${error.message}.`);
    return errors;
  }
  for (const error of validate.errors ?? []) {
    const message = error.keyword === 'required' ? 'Required.' : (error.message ?? error.keyword);
    addError(errors, encodePath(errorPath(error)), message);
  }
  return errors;
}

// --- how the parameters travel (software.cfg.json's `serialisation`) ---

/** The parameters to request: `json-in-xml` sends them as JSON in the `_` parameter. */
export function serialiseParameters(
  entry: SoftwareTypeEntry | undefined,
  parameters: Parameters,
): Parameters {
  return entry?.serialisation === 'json-in-xml' ? { _: JSON.stringify(parameters) } : parameters;
}

/** An instance's stored parameters as the form shows them (`_` unwrapped for `json-in-xml`). */
export function deserialiseParameters(entry: SoftwareTypeEntry | undefined, stored: Parameters): Parameters {
  if (entry?.serialisation !== 'json-in-xml' || typeof stored._ !== 'string') return stored;
  try {
    const parsed: unknown = JSON.parse(stored._);
    return isJsonObject(parsed) ? parsed : stored;
  } catch {
    return stored;
  }
}

// --- the key/value editor (releases without a schema) ---

const EMPTY_ROWS = 3;

/**
 * Rows of key and value for a release without a schema, then `extraRows` empty ones. A value a
 * textarea cannot give back exactly (CR, NUL, a lone surrogate) or that is not a string is written
 * as JSON, and its row says so.
 */
export function keyValueFields(
  parameters: Parameters,
  errors: FieldErrors = new Map(),
  extraRows = EMPTY_ROWS,
): Html {
  if (!Object.keys(parameters).every(lineSafe)) return wholeObjectField(parameters, errors);
  const rows: { key: string; value: string; json: boolean }[] = [];
  for (const [key, value] of Object.entries(parameters)) {
    const text = typeof value === 'string' && !/[\r\0]/.test(value) && !LONE_SURROGATE.test(value);
    rows.push(text ? { key, value: value, json: false } : { key, value: JSON.stringify(value), json: true });
  }
  for (let index = 0; index < extraRows; index++) rows.push({ key: '', value: '', json: false });
  return html`${renderSummary(errors)}
    <table class="key-value">
      <thead>
        <tr>
          <th scope="col">Parameter</th>
          <th scope="col">Value</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (row, index) =>
            html`<tr>
              <td>
                <input type="hidden" name="kv.type" value="${row.json ? 'json' : 'text'}" />
                <label class="visually-hidden" for="kv-key-${index}">Parameter ${index + 1}</label>
                <input id="kv-key-${index}" name="kv.key" type="text" value="${row.key}" />
              </td>
              <td>
                <label class="visually-hidden" for="kv-value-${index}"
                  >Value ${index + 1}${row.json ? ' (JSON)' : ''}</label
                >
                ${textarea(html`id="kv-value-${index}" name="kv.value" rows="1"`, row.value)}
              </td>
            </tr>`,
        )}
      </tbody>
    </table>`;
}

/** The parameters of the key/value editor's rows (rows with neither key nor value are skipped). */
export function parseKeyValueForm(form: PanelForm): {
  parameters: Parameters;
  errors: FieldErrors;
  rows: number;
} {
  const whole = values(form, 'j');
  if (whole.length > 0) return { ...parseWholeObject(whole[0] ?? ''), rows: 0 };
  const keys = values(form, 'kv.key');
  const texts = values(form, 'kv.value');
  const types = values(form, 'kv.type');
  const parameters: Parameters = {};
  const errors: FieldErrors = new Map();
  if (keys.length !== texts.length || keys.length !== types.length) {
    addError(errors, '', 'The parameter rows are incomplete: send every key with its value.');
    return { parameters, errors, rows: keys.length };
  }
  keys.forEach((key, index) => {
    const text = textareaText(texts[index] ?? '');
    if (key === '' && text === '') return;
    if (key === '') return addError(errors, '', `Row ${index + 1} has a value but no parameter name.`);
    if (Object.hasOwn(parameters, key)) return addError(errors, '', `${key} is given twice.`);
    let value: unknown = text;
    if (types[index] === 'json') {
      try {
        value = JSON.parse(text);
      } catch (error) {
        return addError(errors, '', `${key}: not valid JSON: ${(error as Error).message}`);
      }
    }
    Object.defineProperty(parameters, key, { value, enumerable: true, writable: true, configurable: true });
  });
  return { parameters, errors, rows: keys.length };
}
