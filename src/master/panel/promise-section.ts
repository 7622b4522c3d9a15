/**
 * An instance's promises as the panel shows them: the results its node last reported
 * (readPromiseResults) in a table, and under it the history of each promise (readPromiseHistory's
 * transitions: started failing, recovered, failed otherwise). Names, messages and dates come from
 * the node: text only, messages in wrapped blocks that hold the layout.
 */
import type { PromiseResult, PromiseResults, PromiseTransition } from '../services/index.ts';
import { html, textBlock, type Html } from './html.ts';
import { timeElement } from './time-element.ts';

function statusBadge(status: PromiseResult['status']): Html {
  return status === 'fail'
    ? html`<span class="badge badge-promise-failing">failing</span>`
    : html`<span class="badge badge-promise-ok">ok</span>`;
}

function message(text: string): Html | string {
  return text === '' ? '' : textBlock(text);
}

function resultsTable(current: PromiseResults): Html {
  if (current.results.length === 0) return html`<p class="muted">No promise results reported.</p>`;
  return html`<div class="table-scroll">
    <table class="promise-results">
      <caption class="muted">
        ${current.results.length}
        ${current.results.length === 1 ? 'promise' : 'promises'}${current.reportedAt === null ? '' : html`, reported ${timeElement(current.reportedAt)}`}
      </caption>
      <thead>
        <tr>
          <th scope="col">Promise</th>
          <th scope="col">Status</th>
          <th scope="col">Message</th>
          <th scope="col">Ran at (node's time)</th>
        </tr>
      </thead>
      <tbody>
        ${current.results.map(
          (result) =>
            html`<tr>
              <th scope="row">${result.name}</th>
              <td>${statusBadge(result.status)}</td>
              <td>${message(result.message)}</td>
              <td>${result.date}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** The transitions grouped by promise: the current promises in their order, then former ones. */
function byPromise(
  current: readonly PromiseResult[],
  history: readonly PromiseTransition[],
): Map<string, PromiseTransition[]> {
  const groups = new Map<string, PromiseTransition[]>();
  for (const result of current) if (!groups.has(result.name)) groups.set(result.name, []);
  for (const transition of history) {
    const group = groups.get(transition.name);
    if (group) group.push(transition);
    else groups.set(transition.name, [transition]);
  }
  return groups;
}

function historyList(name: string, transitions: readonly PromiseTransition[]): Html {
  const count = transitions.length === 1 ? '1 change' : `${transitions.length} changes`;
  return html`<details class="promise-history">
    <summary>History of <strong>${name}</strong> (${count})</summary>
    ${
      transitions.length === 0
        ? html`<p class="muted">No change recorded.</p>`
        : html`<ol class="timeline">
            ${transitions.map(
              (transition) =>
                html`<li>
                  ${timeElement(transition.at)}
                  ${statusBadge(transition.status)}${message(transition.message)}
                </li>`,
            )}
          </ol>`
    }
  </details>`;
}

/** The current results table and, per promise, its history (transitions newest first). */
export function promiseSection(input: {
  results: PromiseResults;
  history: readonly PromiseTransition[];
}): Html {
  const histories = [...byPromise(input.results.results, input.history)].map(([name, transitions]) =>
    historyList(name, transitions),
  );
  return html`${resultsTable(input.results)}${histories}`;
}
