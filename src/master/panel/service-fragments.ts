/** Pieces of markup the services pages share: status badges, dates, parameter values. */
import type { InstanceHealth } from '../../core/instance-status.ts';
import { stringifyPythonJson } from '../../core/python-value.ts';
import { html, linkableUrl, textBlock, type Html } from './html.ts';

/** The words a status is shown with (its badge class is made of them). */
export function healthLabel(status: InstanceHealth): string {
  switch (status) {
    case 'waiting-software':
      return 'waiting for software';
    default:
      return status.replace(/-/g, ' ');
  }
}

export function statusBadge(status: InstanceHealth): Html {
  const label = healthLabel(status);
  return html`<span class="badge badge-${label.replace(/ /g, '-')}">${label}</span>`;
}

/** Keys whose values are secrets: masked until revealed. */
const SECRET_KEY = /password|passwd|secret|key|token|private/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** A parameter's value as text (strings as they are, anything else as JSON). */
export function valueText(value: unknown): string {
  return typeof value === 'string' ? value : stringifyPythonJson(value);
}

/** Long or multi-line values are shown in a scrollable block, the rest inline. */
function textValue(text: string): Html {
  return text.length > 80 || /[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/.test(text)
    ? textBlock(text)
    : html`<code>${text}</code>`;
}

/**
 * A parameter's value: a secret one behind a reveal, an http(s) URL as a link (only those: never
 * `javascript:` or `data:`), anything else as text.
 */
export function parameterValue(key: string, value: unknown): Html {
  const text = valueText(value);
  if (isSecretKey(key))
    return html`<details class="secret">
      <summary>Reveal</summary>
      ${textValue(text)}
    </details>`;
  const url = linkableUrl(text);
  if (url !== undefined) return html`<a href="${url}" rel="noreferrer noopener">${text}</a>`;
  return textValue(text);
}

/** A table of parameters (connection parameters or requested ones), or a muted line when none. */
export function parameterTable(caption: string, parameters: Record<string, unknown>): Html {
  const keys = Object.keys(parameters);
  if (keys.length === 0) return html`<p class="muted">No ${caption.toLowerCase()}.</p>`;
  return html`<div class="table-scroll">
    <table class="parameters">
      <caption>
        ${caption}
      </caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Value</th>
        </tr>
      </thead>
      <tbody>
        ${keys.map(
          (key) =>
            html`<tr>
              <th scope="row"><code>${key}</code></th>
              <td>${parameterValue(key, parameters[key])}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}
