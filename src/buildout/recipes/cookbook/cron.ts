/**
 * `slapos.cookbook:cron` (the original's dcron `Recipe`): writes `binary`, a wrapper (0700, laid
 * out as librecipe's createWrapper) exec-ing `dcrond-binary -s <cron-entries> -c <crontabs>
 * -t <cronstamps> -f -l 5 -M <catcher> -L <log-file>` with the wrapper's own arguments.
 *
 * `slapos.cookbook:cron.d` (profiles.md §3.18): writes `<cron-entries>/<name>` containing
 * `<periodicity> <command>`, where the periodicity is `frequency` (crontab's five fields), else
 * `time` (a systemd calendar spec, converted), else with `once-a-day = true` a random daily time
 * kept from the previous run. The periodicity is set as the `periodicity` option during init.
 */
import { randomInt } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { isTrue, requirePath, withoutNul, writeIfChanged } from '../common.ts';
import { execWrapperScript } from './shell.ts';

const SYMBOLIC: Record<string, string> = {
  minutely: '* * * * *',
  hourly: '0 * * * *',
  daily: '0 0 * * *',
  weekly: '0 0 * * 0',
  monthly: '0 0 1 * *',
  yearly: '0 0 1 1 *',
};

const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const DAY_NUMBER = new Map<string, number>(
  DAYS.flatMap((name, i) => [[name, i] as [string, number], [name.slice(0, 3), i]]),
);

class InvalidSpec extends Error {}

/** Python's `text.split(separator, 1)`. */
function splitOnce(text: string, separator: string): string[] {
  const index = text.indexOf(separator);
  return index < 0 ? [text] : [text.slice(0, index), text.slice(index + separator.length)];
}

function pythonInt(text: string): number {
  if (!/^\s*[+-]?\d+\s*$/.test(text)) throw new InvalidSpec(text);
  return Number(text);
}

/** The day-of-week field of a leading `Mon,Wed-Fri` token, or undefined if it is not one. */
function daysOfWeek(token: string): string | undefined {
  const fields: string[] = [];
  for (const part of token.split(',')) {
    if (part === '') continue;
    const mapped = splitOnce(part, '-').map((name) => DAY_NUMBER.get(name.toLowerCase()));
    if (mapped.some((n) => n === undefined)) return undefined;
    fields.push(mapped.join('-'));
  }
  return fields.sort().join(',');
}

/** systemd.time(7) calendar spec → crontab spec (years and non-zero seconds are refused). */
export function systemdToCron(spec: string): string {
  const symbolic = SYMBOLIC[spec];
  if (symbolic !== undefined) return symbolic;
  if (spec.trim() === '') throw new InvalidSpec(spec);
  const words = spec.split(' ');
  let dow = daysOfWeek(words[0] ?? '');
  if (dow === undefined) dow = '*';
  else words.shift();
  let day = words.length > 0 ? (words.shift() as string) : '*-*';
  let time: string;
  if (words.length > 0) {
    if (words.length !== 1) throw new InvalidSpec(spec);
    time = words[0] as string;
  } else if (day.includes(':')) {
    time = day;
    day = '*-*';
  } else {
    time = '0:0';
  }
  const dayParts = day.split('-');
  const timeParts = time.split(':');
  if (dayParts.length > 2 && dayParts.shift() !== '*') throw new InvalidSpec(spec); // years
  if (dow !== '*' && dayParts[1] !== '*') throw new InvalidSpec(spec);
  if (timeParts.length > 2 && pythonInt(timeParts.pop() as string) !== 0) throw new InvalidSpec(spec); // seconds
  if (dayParts.length !== 2 || timeParts.length !== 2) throw new InvalidSpec(spec);
  const fields = [timeParts[1], timeParts[0], dayParts[1], dayParts[0], dow] as string[];
  const bounds: [number, number][] = [
    [0, 60],
    [0, 24],
    [1, 31],
    [1, 12],
  ];
  bounds.forEach(([low, size], i) => {
    const field = fields[i] as string;
    if (field === '*') return;
    for (const part of field.split(',')) {
      const [start, step] = splitOnce(part, '/').map(pythonInt) as [number, number | undefined];
      let offset = start - low;
      if (offset >= 0 && offset < size) {
        if (step === undefined) continue;
        if (step > 0) {
          offset = Math.floor((size - offset - 1) / step) * step;
          if (offset) {
            fields[i] = `${start}-${start + offset}/${step}`;
            continue;
          }
        }
      }
      throw new InvalidSpec(spec);
    }
  });
  return fields.join(' ');
}

function periodicity(ctx: RecipeContext): string {
  const { options } = ctx;
  const frequency = options.get('frequency');
  if (frequency) return frequency;
  const time = options.get('time');
  if (time !== undefined) {
    try {
      return systemdToCron(time);
    } catch (error) {
      if (!(error instanceof InvalidSpec)) throw error;
      throw ctx.error(`Invalid systemd calendar spec ${JSON.stringify(time)}`, {
        option: 'time',
        code: 'SLAP_ERR_PROFILE',
      });
    }
  }
  if (isTrue(options.get('once-a-day'))) {
    const previous = ctx.previous?.periodicity;
    if (previous && previous !== '0 0 * * *') return previous;
    return `${randomInt(60)} ${randomInt(24)} * * *`;
  }
  throw ctx.error("Missing one of 'frequency', 'once-a-day' or 'time' parameter", {
    option: 'frequency',
    code: 'SLAP_ERR_PROFILE',
  });
}

async function writeEntry(ctx: RecipeContext): Promise<string[]> {
  const name = ctx.options.require('name');
  if (name.includes('/') || name.startsWith('.'))
    throw ctx.error(`not a cron entry name: ${JSON.stringify(name)}`, {
      option: 'name',
      code: 'SLAP_ERR_PROFILE',
    });
  const path = join(resolve(ctx.directories.directory, ctx.options.require('cron-entries')), name);
  const command = ctx.options.require('command');
  ctx.created(path);
  await writeIfChanged(path, `${ctx.options.get('periodicity') ?? ''} ${command}\n`, 0o644);
  return [path];
}

export const cronD: Recipe = {
  version: '1',
  init(ctx) {
    ctx.options.set('periodicity', periodicity(ctx));
  },
  install: writeEntry,
  update: writeEntry,
};

/** The dcrond command line of a `cron` part. */
export function dcronCommand(ctx: RecipeContext): string[] {
  const value = (option: string): string => withoutNul(ctx, option, ctx.options.require(option));
  return [
    value('dcrond-binary').trim(),
    '-s',
    value('cron-entries'),
    '-c',
    value('crontabs'),
    '-t',
    value('cronstamps'),
    '-f',
    '-l',
    '5',
    '-M',
    value('catcher'),
    '-L',
    value('log-file'),
  ];
}

async function writeDcronWrapper(ctx: RecipeContext): Promise<string[]> {
  const path = withoutNul(ctx, 'binary', requirePath(ctx, 'binary'));
  const text = execWrapperScript(dcronCommand(ctx));
  ctx.created(path);
  await writeIfChanged(path, text, 0o700);
  return [path];
}

export const dcron: Recipe = { version: '1', install: writeDcronWrapper, update: writeDcronWrapper };
