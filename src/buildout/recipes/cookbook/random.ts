/**
 * `slapos.cookbook:random.integer` and `random.time` (the original's `random.py`).
 *
 * random.integer, during init: unless `value` is given, `value` = an integer drawn uniformly in
 * [`minimum`, `maximum`] (both included; plain text or `!py!` integers), set as a Python int
 * (`!py!`-serialised, as the fork stores a recipe's non-string option). random.time: unless
 * `time` is given, `time` = `H:MM` on a 24-hour clock. Install and update do nothing.
 *
 * As in the original, a value is only stable when it is given: profiles keep one across runs by
 * feeding it back (publish-early's `-init`, or a `value`/`time` option); otherwise each run draws
 * again, and the parts using it are reinstalled.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { PyValue } from '../../py-value.ts';
import type { Recipe, RecipeContext } from '../../recipe.ts';

/** Python's `int(x)` of a profile value: an int, a bool, or text of decimal digits. */
function integerOption(ctx: RecipeContext, option: string): bigint {
  const value: PyValue | undefined = ctx.options.getValue(option);
  if (value === undefined) throw ctx.error(`"${option}" is required`, { option, code: 'SLAP_ERR_PROFILE' });
  if (typeof value === 'bigint') return value;
  if (typeof value === 'boolean') return value ? 1n : 0n;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^\s*[+-]?[0-9](_?[0-9])*\s*$/.test(value))
    return BigInt(value.trim().replaceAll('_', ''));
  const shown = typeof value === 'string' ? value : ctx.options.getText(option);
  throw ctx.error(`invalid literal for int(): ${JSON.stringify(shown)}`, {
    option,
    code: 'SLAP_ERR_PROFILE',
  });
}

/** A uniform integer in [0, span) for any span (rejection sampling on random bytes). */
function uniformBelow(span: bigint): bigint {
  if (span <= 0xffffffffffffn) return BigInt(randomInt(Number(span)));
  const bits = span.toString(2).length;
  const bytes = Math.ceil(bits / 8);
  const mask = (1n << BigInt(bits)) - 1n;
  for (;;) {
    const candidate = BigInt(`0x${randomBytes(bytes).toString('hex')}`) & mask;
    if (candidate < span) return candidate;
  }
}

export const randomInteger: Recipe = {
  version: '1',
  init(ctx) {
    if (ctx.options.has('value')) return;
    const minimum = integerOption(ctx, 'minimum');
    const maximum = integerOption(ctx, 'maximum');
    if (maximum < minimum)
      throw ctx.error(`empty range for randint(${minimum}, ${maximum})`, {
        option: 'maximum',
        code: 'SLAP_ERR_PROFILE',
      });
    const value = minimum + uniformBelow(maximum - minimum + 1n);
    ctx.options.set('value', value); // a Python int (bigint in the value model)
  },
  install() {
    return undefined;
  },
  update() {
    return undefined;
  },
};

export const randomTime: Recipe = {
  version: '1',
  init(ctx) {
    if (!ctx.options.has('time'))
      ctx.options.set('time', `${randomInt(24)}:${String(randomInt(60)).padStart(2, '0')}`);
  },
  install() {
    return undefined;
  },
  update() {
    return undefined;
  },
};
