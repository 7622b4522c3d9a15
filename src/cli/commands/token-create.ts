/** `slapos token create`: a one-time registration token for a compute node (master mode). */
import { InvalidArgumentError, type Command } from 'commander';
import { addClientOptions, withMasterClient, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';

interface TokenCreateOptions extends ClientCommandOptions {
  expires: number;
}

/** Bounds of a token's life, as the master accepts them (seconds). */
export const MIN_TOKEN_LIFETIME_S = 60;
export const MAX_TOKEN_LIFETIME_S = 30 * 24 * 3600;

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90s`, `30m`, `1h`, `2d` → seconds, within the bounds the master accepts. */
export function parseTokenLifetime(value: string): number {
  const match = /^(\d{1,7})([smhd])$/.exec(value);
  if (!match) throw new InvalidArgumentError('expected a number and a unit, e.g. 30m, 1h, 2d');
  const seconds = Number(match[1]) * (UNIT_SECONDS[match[2] as string] as number);
  if (seconds < MIN_TOKEN_LIFETIME_S || seconds > MAX_TOKEN_LIFETIME_S)
    throw new InvalidArgumentError('a token lives from 1 minute (1m) to 30 days (30d)');
  return seconds;
}

export function registerTokenCreate(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'token')
    .command('create')
    .description(
      'create a one-time token with which a machine registers as your compute node (`slapos node register NAME --token TOKEN`)',
    )
    .option(
      '--expires <duration>',
      'how long the token can be used: 30m, 1h, 2d… (at most 30d)',
      parseTokenLifetime,
      3600,
    );
  addClientOptions(command).action(async (options: TokenCreateOptions) => {
    const answer = await withMasterClient(ctx, options, (client) =>
      client.createRegistrationToken({ expiresInS: options.expires }),
    );
    if (options.json) ctx.printJson({ token: answer.token, expires: answer.expires });
    else {
      ctx.print(answer.token);
      ctx.note(
        `The token works once, until ${answer.expires}: slapos node register NAME --master-url URL --token TOKEN`,
      );
    }
  });
}
