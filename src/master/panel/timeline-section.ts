/**
 * An instance's timeline as the panel shows it (readInstanceTimeline's events, newest first): an
 * ordered list, each event with its time, its kind in words and its detail as text. A failure's or a
 * bang's message is a wrapped block that holds the page's layout whatever its length or characters.
 */
import type { InstanceEventKind } from '../../core/instance-events.ts';
import type { InstanceEvent } from '../services/index.ts';
import { html, textBlock, type Html } from './html.ts';
import { timeElement } from './time-element.ts';

export const EVENT_WORDS: Readonly<Record<InstanceEventKind, string>> = {
  requested: 'Requested',
  parameters_changed: 'Changed',
  allocated: 'Allocated',
  deployed: 'Deployed',
  published: 'Connection parameters published',
  failed: 'Failed',
  stopped: 'Stopped',
  start_requested: 'Start requested',
  stop_requested: 'Stop requested',
  destroy_requested: 'Destruction requested',
  destroyed: 'Destroyed',
  bang: 'Bang',
  takeover: 'Taken over',
  unfenced: 'Stopped after its takeover and now a clone',
  restored: 'Backup restored',
};

function eventDetail(event: InstanceEvent): Html | string {
  if (event.detail === null) return '';
  switch (event.kind) {
    case 'failed':
    case 'bang':
      return textBlock(event.detail);
    case 'allocated':
      return html` on <code>${event.detail}</code>`;
    default:
      return html`: <span class="event-detail">${event.detail}</span>`;
  }
}

/** The events (newest first) as an `<ol class="timeline">`, or a note when there are none. */
export function timelineSection(events: readonly InstanceEvent[]): Html {
  if (events.length === 0) return html`<p class="muted">Nothing has happened yet.</p>`;
  return html`<ol class="timeline">
    ${events.map(
      (event) =>
        html`<li class="event event-${event.kind}">
          ${timeElement(event.at)} <strong>${EVENT_WORDS[event.kind]}</strong>${eventDetail(event)}
        </li>`,
    )}
  </ol>`;
}
