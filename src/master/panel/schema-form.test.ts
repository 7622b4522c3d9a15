import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import {
  ENTRY,
  inputSchema,
  randomJson,
  randomParameters,
  ROUND_TRIP,
} from '../../testing/schema-form-samples.ts';
import { submittedForm } from '../../testing/form-submission.ts';
import { PanelForm } from './panel-routes.ts';
import {
  deserialiseParameters,
  keyValueFields,
  parseKeyValueForm,
  parseSchemaForm,
  schemaFormFields,
  serialiseParameters,
  validateParameters,
  type Parameters,
} from './schema-form.ts';

/** A posted form from field → value(s). */
function formOf(fields: Record<string, string | string[]>): PanelForm {
  return new PanelForm(
    Object.entries(fields).flatMap(([name, value]) =>
      (Array.isArray(value) ? value : [value]).map((item): [string, string] => [name, item]),
    ),
  );
}

/** The markup without the whitespace between tags and attributes that formatting adds. */
function compact(markup: string): string {
  return markup
    .replace(/\s+/g, ' ')
    .replace(/> </g, '><')
    .replace(/ >/g, '>')
    .replace(/> /g, '>')
    .replace(/ </g, '<');
}

const EVERY_TYPE = inputSchema(
  {
    type: 'object',
    required: ['name'],
    properties: {
      name: {
        type: 'string',
        title: 'Your name',
        description: 'Who is greeted',
        default: 'World',
        minLength: 1,
        maxLength: 100,
        pattern: '^[A-Z]',
      },
      email: { type: 'string', format: 'email' },
      size: { type: 'integer', minimum: 1, maximum: 8, default: 2 },
      ratio: { type: 'number' },
      enabled: { type: 'boolean', default: true },
      flavour: { enum: ['vanilla', 'chocolate', 3] },
      hosts: { type: 'array', items: { type: 'string' } },
      ports: { type: 'array', items: { type: 'integer' } },
      nested: {
        type: 'object',
        title: 'Nested',
        properties: {
          'a.b~c': { type: 'string' },
          deeper: { type: 'object', properties: { x: { type: 'integer' } } },
        },
      },
      shared: { $ref: 'common.json#/definitions/shared' },
      anything: { oneOf: [{ type: 'string' }, { type: 'integer' }] },
    },
  },
  { 'common.json': { definitions: { shared: { type: 'string', title: 'From common.json' } } } },
);

test('each type gets its control, with the HTML constraint attributes and help text', () => {
  const markup = compact(schemaFormFields(EVERY_TYPE, undefined).markup);
  assert.match(
    markup,
    /<label for="p-1">Your name<span class="required">\(required\)<\/span><\/label><input id="p-1" name="s\.name" type="text" value="World" required minlength="1" maxlength="100" pattern="\[\\s\\S\]\*\(\?:\^\[A-Z\]\)\[\\s\\S\]\*" aria-describedby="p-1-help" \/><small class="field-help" id="p-1-help">Who is greeted<\/small>/,
  );
  assert.match(markup, /<input id="p-2" name="s\.email" type="email" value="" \/>/);
  assert.match(markup, /<input id="p-3" name="n\.size" type="number" step="1" value="2" min="1" max="8" \/>/);
  assert.match(markup, /<input id="p-4" name="n\.ratio" type="number" step="any" value="" \/>/);
  assert.match(
    markup,
    /<input type="hidden" name="b\.enabled" value="false" \/><input id="p-5" name="b\.enabled" type="checkbox" value="true" checked \/>/,
  );
  assert.match(
    markup,
    /<select id="p-6" name="j\.flavour"><option value="" selected>\(not set\)<\/option><option value="&quot;vanilla&quot;">vanilla<\/option><option value="&quot;chocolate&quot;">chocolate<\/option><option value="3">3<\/option><\/select>/,
  );
  assert.match(
    markup,
    /<textarea id="p-7" name="l\.hosts" rows="4"><\/textarea><small class="field-help">One per line\.<\/small>/,
  );
  assert.match(markup, /<textarea id="p-8" name="ln\.ports" rows="4"/);
  assert.match(
    markup,
    /<fieldset><legend>Nested<\/legend><div class="field"><label for="p-9">a\.b~c<\/label><input id="p-9" name="s\.nested\.a~1b~0c"/,
  );
  assert.match(
    markup,
    /<fieldset><legend>deeper<\/legend><div class="field"><label for="p-10">x<\/label><input id="p-10" name="n\.nested\.deeper\.x"/,
  );
  assert.match(markup, /<label for="p-11">From common\.json<\/label><input id="p-11" name="s\.shared"/);
  assert.match(
    markup,
    /<textarea id="p-12" name="j\.anything" rows="4" class="json"><\/textarea><small class="field-help">JSON\.<\/small>/,
  );
});

test('hostile titles, descriptions, defaults and enum values are text, never markup', () => {
  const evil = '"><img src=x onerror=alert(1)><script>alert(2)</script>\'';
  const schema = inputSchema({
    type: 'object',
    properties: {
      [evil]: {
        type: 'string',
        title: evil,
        description: evil,
        default: evil,
        pattern: evil,
      },
      choice: { enum: [evil, { [evil]: evil }], default: evil },
      json: { type: 'object', additionalProperties: true, default: { [evil]: evil }, oneOf: [{}] },
    },
  });
  const markup = schemaFormFields(schema, undefined).markup;
  assert.doesNotMatch(markup, /<script|<img/);
  assert.ok(!markup.includes(evil));
  assert.ok(
    markup.includes('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;&#39;'),
  );
  // What a browser sends back is the hostile text itself.
  const form = submittedForm(markup);
  assert.deepEqual(parseSchemaForm(form).parameters, { [evil]: evil, choice: evil, json: { [evil]: evil } });
});

test('property: parameters → form → what a browser sends → the same parameters, and they validate', () => {
  const random = seededRandom(20261207);
  for (let run = 0; run < 400; run++) {
    const parameters = randomParameters(random);
    const markup = schemaFormFields(ROUND_TRIP, parameters).markup;
    const { parameters: back, errors } = parseSchemaForm(submittedForm(markup));
    assert.deepEqual(errors, new Map(), `run ${run}`);
    assert.deepEqual(back, parameters, `run ${run}: ${JSON.stringify(parameters)}`);
    assert.deepEqual(validateParameters(ROUND_TRIP, back), new Map(), `run ${run}`);
  }
});

test('property: the key/value editor gives every value back exactly', () => {
  const random = seededRandom(7);
  for (let run = 0; run < 300; run++) {
    const parameters: Parameters = {};
    for (let index = Math.floor(random() * 5); index > 0; index--) {
      const key = hostileString(random, 4) || `k${index}`;
      const value = random() < 0.9 ? hostileString(random) : randomJson(random);
      Object.defineProperty(parameters, key, { value, enumerable: true, writable: true, configurable: true });
    }
    const { parameters: back, errors } = parseKeyValueForm(submittedForm(keyValueFields(parameters).markup));
    assert.deepEqual(errors, new Map(), `run ${run}`);
    assert.deepEqual(back, parameters, `run ${run}`);
  }
});

test('the key/value editor: incomplete rows, a value without a name, a name twice', () => {
  assert.deepEqual(
    parseKeyValueForm(formOf({ 'kv.key': ['a', ''], 'kv.value': ['1', ''], 'kv.type': ['text', 'text'] }))
      .parameters,
    { a: '1' },
  );
  const errors = (form: Record<string, string[]>) =>
    [...parseKeyValueForm(formOf(form)).errors.values()].flat();
  assert.deepEqual(errors({ 'kv.key': ['a'], 'kv.value': [], 'kv.type': ['text'] }), [
    'The parameter rows are incomplete: send every key with its value.',
  ]);
  assert.deepEqual(
    errors({ 'kv.key': ['', 'a', 'a'], 'kv.value': ['x', '1', '2'], 'kv.type': ['text', 'text', 'json'] }),
    ['Row 1 has a value but no parameter name.', 'a is given twice.'],
  );
});

test('server-side validation: errors by field, shown next to the field and in a summary', () => {
  const parameters = { name: '', size: 20, nested: { deeper: { x: 'no' } } };
  const errors = validateParameters(EVERY_TYPE, parameters);
  assert.deepEqual([...errors.keys()].sort(), ['name', 'nested.deeper.x', 'size']);
  assert.deepEqual(validateParameters(EVERY_TYPE, { size: 2 }).get('name'), ['Required.']);
  const markup = compact(schemaFormFields(EVERY_TYPE, parameters, errors).markup);
  assert.match(
    markup,
    /<div class="error-message" role="alert"><p>The parameters are not valid:<\/p><ul><li>name: must NOT have fewer than 1 characters<\/li>/,
  );
  assert.match(
    markup,
    /name="n\.size" type="number" step="1" value="20" min="1" max="8" aria-describedby="p-3-errors" aria-invalid="true" \/><ul class="field-error" id="p-3-errors"><li>must be &lt;= 8<\/li><\/ul>/,
  );
  // A value of the wrong type is kept, as JSON, so that nothing is lost.
  assert.match(
    markup,
    /name="j\.nested\.deeper\.x" rows="4" class="json" aria-describedby="p-10-errors" aria-invalid="true">&quot;no&quot;<\/textarea>/,
  );
});

test('fields that cannot be read are field errors; conflicting fields too', () => {
  const { errors } = parseSchemaForm(
    formOf({ 'n.a': 'x', 'j.b': '{', 'ln.c': '1\r\nz', 's.d': 'v', 's.d.e': 'w' }),
  );
  assert.deepEqual(errors.get('a'), ['Not a number.']);
  assert.match(errors.get('b')?.[0] ?? '', /^Not valid JSON/);
  assert.deepEqual(errors.get('c'), ['One number per line.']);
  assert.deepEqual(errors.get('d.e'), ['This field conflicts with another one.']);
  assert.deepEqual(parseSchemaForm(formOf({ j: '[1]' })).errors.get(''), [
    'The parameters must be a JSON object.',
  ]);
  const proto = parseSchemaForm(formOf({ 's.__proto__.polluted': 'yes' })).parameters;
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(Object.keys(proto), ['__proto__']);
});

test('a schema the form cannot lay out is one JSON field for the whole object', () => {
  const schema = inputSchema({ oneOf: [{ type: 'object' }, { type: 'string' }] });
  const markup = schemaFormFields(schema, { a: 'b\r\n' }).markup;
  assert.deepEqual(parseSchemaForm(submittedForm(markup)).parameters, { a: 'b\r\n' });
});

test('json-in-xml releases send the parameters as JSON in `_`', () => {
  const entry = { ...ENTRY, serialisation: 'json-in-xml' as const };
  const parameters = { a: 1, b: ['x'] };
  const sent = serialiseParameters(entry, parameters);
  assert.deepEqual(sent, { _: '{"a":1,"b":["x"]}' });
  assert.deepEqual(deserialiseParameters(entry, sent), parameters);
  assert.equal(serialiseParameters(ENTRY, parameters), parameters);
  assert.deepEqual(deserialiseParameters(entry, { _: 'not json' }), { _: 'not json' });
});

test('a pattern that backtracks forever is interrupted: the parameters cannot be checked', () => {
  const schema = inputSchema({
    type: 'object',
    properties: { name: { type: 'string', pattern: '^(a+)+$' } },
  });
  const errors = validateParameters(schema, { name: `${'a'.repeat(40)}!` });
  assert.deepEqual(errors.get(''), [
    'The parameters cannot be checked: the pattern "^(a+)+$" takes too long to match.',
  ]);
  assert.deepEqual(validateParameters(schema, { name: 'aaa' }), new Map());
  assert.deepEqual([...validateParameters(schema, { name: 'ab' }).keys()], ['name']);
});
