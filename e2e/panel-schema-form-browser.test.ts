/**
 * The schema form in a real browser (Debian's chromium, through playwright-core): random hostile
 * parameters rendered as the form, submitted by Chromium without a change, read back by the panel's
 * parser: the same parameters. This checks what src/testing/form-submission.ts assumes about
 * browsers (the newline after <textarea>, line breaks sent as CR LF, what inputs keep).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { PanelForm } from '../src/master/panel/panel-routes.ts';
import {
  keyValueFields,
  parseKeyValueForm,
  parseSchemaForm,
  schemaFormFields,
} from '../src/master/panel/schema-form.ts';
import { html, type Html } from '../src/master/panel/html.ts';
import { seededRandom, hostileString } from '../src/testing/hostile-strings.ts';
import { startHttpServer } from '../src/testing/http-server.ts';
import { randomJson, randomParameters, ROUND_TRIP } from '../src/testing/schema-form-samples.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function formPage(fields: Html): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>form</title>
      </head>
      <body>
        <form method="post" action="/submit" novalidate>
          ${fields}<button type="submit" id="send">Send</button>
        </form>
      </body>
    </html>`.markup;
}

test('Chromium sends back exactly the parameters the schema form and the key/value editor show', async () => {
  let current = '';
  let received: ((body: string) => void) | undefined;
  const server = await startHttpServer((request, response) => {
    if (request.method === 'POST') {
      received?.(request.body);
      response.writeHead(204);
      return response.end();
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(current);
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const submit = async (markup: string): Promise<PanelForm> => {
      current = markup;
      await page.goto(`${server.url}/`);
      const body = new Promise<string>((resolve) => (received = resolve));
      await page.click('#send');
      return new PanelForm([...new URLSearchParams(await body)]);
    };
    const random = seededRandom(99);
    for (let run = 0; run < 20; run++) {
      const parameters = randomParameters(random);
      const form = await submit(formPage(schemaFormFields(ROUND_TRIP, parameters)));
      const { parameters: back, errors } = parseSchemaForm(form);
      assert.deepEqual(errors, new Map(), `run ${run}`);
      assert.deepEqual(back, parameters, `schema form, run ${run}: ${JSON.stringify(parameters)}`);
    }
    for (let run = 0; run < 8; run++) {
      const parameters: Record<string, unknown> = {};
      for (let index = 1 + Math.floor(random() * 4); index > 0; index--)
        Object.defineProperty(parameters, hostileString(random, 4) || `k${index}`, {
          value: random() < 0.85 ? hostileString(random) : randomJson(random),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      const { parameters: back, errors } = parseKeyValueForm(
        await submit(formPage(keyValueFields(parameters))),
      );
      assert.deepEqual(errors, new Map(), `run ${run}`);
      assert.deepEqual(back, parameters, `key/value editor, run ${run}: ${JSON.stringify(parameters)}`);
    }
  } finally {
    await browser.close();
    await server.close();
  }
});
