/**
 * The request and parameters pages on a real master (proxy mode): the hello example's form from its
 * schema, what a browser would send back from it, the instance requested through the same use case
 * as the API, validation errors next to their fields, the key/value editor, and the modify form.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOCAL_CALLER } from '../../services/index.ts';
import { submittedEntries } from '../../../testing/form-submission.ts';
import { hostileString, seededRandom } from '../../../testing/hostile-strings.ts';
import { startTestMaster, type TestMaster } from '../../../testing/master.ts';
import { PanelClient, textOf } from '../../../testing/panel.ts';

const HELLO = fileURLToPath(new URL('../../../../../examples/hello/software.cfg', import.meta.url));

let master: TestMaster;
let panel: PanelClient;
let directory: string;

before(async () => {
  master = await startTestMaster();
  panel = new PanelClient(master.url);
  directory = await mkdtemp(join(tmpdir(), 'panel-request-'));
  await master.master.services.formatComputeNode({
    caller: LOCAL_CALLER,
    format: {
      computeNodeId: 'computer',
      address: null,
      netmask: null,
      partitions: Array.from({ length: 40 }, (_, index) => ({
        reference: `slappart${index}`,
        addresses: [{ address: `127.0.1.${index + 1}`, netmask: '255.255.255.0', networkInterface: 'lo' }],
      })),
    },
  });
});

after(async () => {
  await panel.close();
  await master.close();
  await rm(directory, { recursive: true, force: true });
});

/** The entries of the page's POST form (the one holding the CSRF token), as a browser sends them. */
function postedForm(markup: string, replace: Record<string, string> = {}): [string, string][] {
  const form = /<form method="post"[\s\S]*?<\/form>/.exec(markup)?.[0];
  assert.ok(form, 'the page has a form to post');
  return submittedEntries(form)
    .filter(([name]) => name !== '_csrf')
    .map(([name, value]): [string, string] => [
      name,
      Object.hasOwn(replace, name) ? (replace[name] as string) : value,
    ]);
}

async function parametersOf(title: string): Promise<Record<string, unknown>> {
  const view = await master.master.services.getInstanceTree({ caller: LOCAL_CALLER, title });
  return view.parameters;
}

test('the hello example: its form from the schema, a request, then its parameters modified', async () => {
  const chooser = await panel.get('/panel/request');
  assert.equal(chooser.status, 200);
  assert.match(chooser.html, /<label for="software-release">Software release<\/label>/);

  const form = await panel.get(`/panel/request?software_release=${encodeURIComponent(HELLO)}`);
  assert.equal(form.status, 200);
  assert.match(form.html, /<option value="default"\s+selected\s*>\s*Default\s*<\/option>/);
  assert.match(
    form.html,
    /<input\s+id="p-1"\s+name="s\.name"\s+type="text"\s+value="World"\s+minlength="1"\s+maxlength="100"\s+aria-describedby="p-1-help"\s*\/>/,
  );
  assert.match(textOf(form.html), /Who the page greets: it answers "Hello <name>!"\./);

  // Too long a name: refused on the server too, with the error next to the field.
  const long = await panel.post(
    '/panel/request',
    postedForm(form.html, { title: 'hello', 's.name': 'x'.repeat(101) }),
  );
  assert.equal(long.status, 400);
  assert.match(
    long.html,
    /<ul class="field-error" id="p-1-errors">\s*<li>must NOT have more than 100 characters<\/li>/,
  );
  assert.match(long.html, /aria-invalid="true"/);

  const requested = await panel.post(
    '/panel/request',
    postedForm(form.html, { title: 'hello', 's.name': 'Panel' }),
  );
  assert.equal(requested.status, 303);
  assert.equal(requested.location, '/panel/services/hello');
  const view = await master.master.services.getInstanceTree({ caller: LOCAL_CALLER, title: 'hello' });
  assert.deepEqual(
    [view.softwareRelease, view.softwareType, view.shared, view.state],
    [HELLO, 'default', false, 'started'],
  );
  assert.deepEqual(view.parameters, { name: 'Panel' });

  const modify = await panel.get('/panel/services/hello/parameters');
  assert.equal(modify.status, 200);
  assert.match(modify.html, /name="s\.name"\s+type="text"\s+value="Panel"/);
  const saved = await panel.post(
    '/panel/services/hello/parameters',
    postedForm(modify.html, { 's.name': 'Again' }),
  );
  assert.equal(saved.status, 303);
  assert.equal(saved.location, '/panel/services/hello');
  assert.deepEqual(await parametersOf('hello'), { name: 'Again' });
  assert.equal(
    (await master.master.services.getInstanceTree({ caller: LOCAL_CALLER, title: 'hello' })).state,
    'started',
  );
});

test("hostile names round-trip through the form and the master; NUL is refused with the API's error", async () => {
  const random = seededRandom(42);
  let roundTrips = 0;
  for (let run = 0; run < 16; run++) {
    // What a person can type and a browser send (no NUL, no lone surrogate: UTF-8 cannot carry it).
    let name = hostileString(random, 8)
      .replaceAll('\0', '')
      .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '');
    // What the schema accepts (the parameter XML cannot carry every control character: see below).
    name = [...name].slice(0, 100).join('');
    if (name === '') name = 'x';
    const title = `hostile ${run}`;
    const form = await panel.get(`/panel/request?software_release=${encodeURIComponent(HELLO)}`);
    const answer = await panel.post(
      '/panel/request',
      postedForm(form.html, { title, 's.name': 'placeholder' }),
    );
    assert.equal(answer.status, 303, textOf(answer.html));
    // Modify with the hostile value: the modify form must give it back exactly.
    const first = await panel.get(`/panel/services/${encodeURIComponent(title)}/parameters`);
    const sent = await panel.post(
      `/panel/services/${encodeURIComponent(title)}/parameters`,
      postedForm(first.html).map(([key, value]): [string, string] => [key, key === 's.name' ? name : value]),
    );
    if (sent.status === 400) {
      // Characters XML cannot carry: the API's own message.
      assert.match(textOf(sent.html), /The parameters: has a value that XML cannot carry \(key "name"\)\./);
      continue;
    }
    assert.equal(sent.status, 303, textOf(sent.html));
    assert.deepEqual(await parametersOf(title), { name });
    // Shown again and posted unchanged by a browser: the same parameters.
    const again = await panel.get(`/panel/services/${encodeURIComponent(title)}/parameters`);
    assert.equal(
      (await panel.post(`/panel/services/${encodeURIComponent(title)}/parameters`, postedForm(again.html)))
        .status,
      303,
    );
    assert.deepEqual(await parametersOf(title), { name }, `run ${run}`);
    roundTrips++;
  }
  assert.ok(roundTrips >= 4, `${roundTrips} hostile names went all the way`);
  const form = await panel.get(`/panel/request?software_release=${encodeURIComponent(HELLO)}`);
  const nul = await panel.post('/panel/request', postedForm(form.html, { title: 'nul', 's.name': 'a\0b' }));
  assert.equal(nul.status, 400);
  assert.match(textOf(nul.html), /The parameters: has a value that XML cannot carry \(key "name"\)\./);
});

test('a release without a schema: key/value rows, more rows on demand, and the request', async () => {
  const release = join(directory, 'bare', 'software.cfg');
  const form = await panel.get(`/panel/request?software_release=${encodeURIComponent(release)}`);
  assert.equal(form.status, 200);
  assert.match(form.html, /publishes no parameter schema/);
  assert.equal((form.html.match(/name="kv\.key"/g) ?? []).length, 3);

  const rows = postedForm(form.html, { title: 'bare', software_type: 'custom' });
  const more = await panel.post('/panel/request', [...rows, ['add_rows', '1']]);
  assert.equal(more.status, 200);
  assert.equal((more.html.match(/name="kv\.key"/g) ?? []).length, 6);

  let index = 0;
  const filled = postedForm(more.html).map(([name, value]): [string, string] => {
    if (name === 'kv.key') return [name, ['a', 'b.c', '', '', '', ''][index] ?? ''];
    if (name === 'kv.value') return [name, ['1', 'line\r\nbreak', '', '', '', ''][index++] ?? ''];
    return [name, value];
  });
  const requested = await panel.post('/panel/request', filled);
  assert.equal(requested.status, 303, textOf(requested.html));
  const view = await master.master.services.getInstanceTree({ caller: LOCAL_CALLER, title: 'bare' });
  assert.equal(view.softwareType, 'custom');
  assert.deepEqual(view.parameters, { a: '1', 'b.c': 'line\nbreak' });
});

test('a schema that cannot be read: its error, and the key/value rows', async () => {
  const release = join(directory, 'broken', 'software.cfg');
  await mkdir(join(directory, 'broken'), { recursive: true });
  await writeFile(`${release}.json`, '{"software-type": ');
  const form = await panel.get(`/panel/request?software_release=${encodeURIComponent(release)}`);
  assert.equal(form.status, 200);
  assert.match(
    textOf(form.html),
    /The parameter schema cannot be used: .*software\.cfg\.json is not valid JSON/,
  );
  assert.match(form.html, /name="kv\.key"/);
});

test('a title the API refuses is refused here with its message; an unknown tree is not found', async () => {
  const form = await panel.get(`/panel/request?software_release=${encodeURIComponent(HELLO)}`);
  const answer = await panel.post('/panel/request', postedForm(form.html, { title: 'a\u0001b' }));
  assert.equal(answer.status, 400);
  assert.match(textOf(answer.html), /The title must NOT contain control characters\./);
  const missing = await panel.get('/panel/services/nothing%20here/parameters');
  assert.equal(missing.status, 403);
});
