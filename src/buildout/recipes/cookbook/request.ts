/**
 * `slapos.cookbook:request`, `request.serialised`, `requestoptional`, `requestoptional.serialised`
 * (profiles.md §3.14). During init, requests an instance (or, with `slave`/`shared`, a shared
 * instance) as the partition (our requester extension: the child joins this partition's tree) and
 * sets `connection-<name>` for each name of `return` ('' until the child publishes it),
 * `requested-state`, and for non-shared instances `instance-guid` (and `instance_guid`),
 * `instance-state`, `instance-status`. Inputs: `server-url`, `computer-id`, `partition-id`
 * (`key-file`, `cert-file`) — usually `<= slap-connection` —, `software-url`, `name`,
 * `software-type` (default `default`), `state` (default `started`), `config-<k>` (parameters),
 * `sla-<k>` (non-empty ones). `.serialised` sends the parameters as one json-in-xml `_` value and
 * reads the connection parameters from the child's `_`.
 * Install (and update) fail if the request failed or a returned parameter is missing, so the node
 * retries later; the `requestoptional` variants only warn.
 */
import { SlapError } from '../../../core/errors.ts';
import { isTrue, words } from '../common.ts';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { PyDict, fromJs, pyStr, type PyValue } from '../../py-value.ts';
import { actsAsInstance, connectionFrom, withMaster } from './slap.ts';
import { unwrapSerialised, wrapSerialised } from './values.ts';

interface Outcome {
  /** Why the request failed, if it did. */
  failure: SlapError | undefined;
  /** The first returned parameter the child has not published yet. */
  missing: string | undefined;
  state: string | undefined;
}

const STATES = new Set(['started', 'stopped', 'destroyed']);

function prefixed(ctx: RecipeContext, prefix: string): [string, PyValue][] {
  return ctx.options
    .keys()
    .filter((key) => key.startsWith(prefix) && key.length > prefix.length)
    .map((key) => [key.slice(prefix.length), ctx.options.getValue(key) ?? ''] as [string, PyValue]);
}

function requestRecipe(serialised: boolean, optional: boolean): Recipe {
  return {
    version: '1',
    async init(ctx) {
      const { options } = ctx;
      const softwareUrl = options.require('software-url');
      const name = options.require('name');
      if (options.has('config') || options.has('sla')) {
        throw ctx.error("'config' & 'sla' options are obsolete: use config-<name> and sla-<name> options", {
          option: options.has('config') ? 'config' : 'sla',
          code: 'SLAP_ERR_PROFILE',
        });
      }
      const state = options.get('state') || 'started';
      if (!STATES.has(state)) {
        throw ctx.error(`state must be started, stopped or destroyed, not ${JSON.stringify(state)}`, {
          option: 'state',
          code: 'SLAP_ERR_PROFILE',
        });
      }
      options.set('requested-state', state);
      const shared = isTrue(options.get('slave') ?? options.get('shared'));
      const returned = words(options.get('return'));
      const config = prefixed(ctx, 'config-');
      const parameters = serialised
        ? wrapSerialised(PyDict.from(config), `[${ctx.name}] config-*`)
        : Object.fromEntries(config.map(([key, value]) => [key, pyStr(value)]));
      const sla: Record<string, string> = {};
      for (const [key, value] of prefixed(ctx, 'sla-')) if (pyStr(value) !== '') sla[key] = pyStr(value);
      const connection = connectionFrom(ctx, options);

      const outcome: Outcome = { failure: undefined, missing: undefined, state: undefined };
      let published = new PyDict();
      try {
        const instance = await withMaster(ctx, connection, (client) =>
          client.requestInstance(
            {
              title: name,
              softwareReleaseUri: softwareUrl,
              softwareType: options.get('software-type') || 'default',
              parameters,
              shared,
              state: state as 'started' | 'stopped' | 'destroyed',
              slaParameters: sla,
              // As the instance itself (master mode) the master knows the requester; else say it.
              ...(actsAsInstance(connection)
                ? {}
                : {
                    requester: { computerGuid: connection.computerId, partitionId: connection.partitionId },
                  }),
            },
            { signal: ctx.signal },
          ),
        );
        const connectionParameters = fromJs(instance.connection_parameters);
        const unwrapped = serialised
          ? unwrapSerialised(connectionParameters, `[${ctx.name}] connection parameters of ${name}`)
          : connectionParameters;
        // `.serialised` reads only the child's `_`: without it, nothing is published yet.
        const usable = !serialised || unwrapped !== connectionParameters;
        if (usable && unwrapped instanceof PyDict) published = unwrapped;
        outcome.state = instance.state;
        if (!shared) {
          options.set('instance-guid', instance.instance_guid);
          options.set('instance_guid', instance.instance_guid);
          options.set('instance-state', instance.state);
          options.set('instance-status', instance.access_status_message);
        }
      } catch (error) {
        if (!(error instanceof SlapError) || ctx.signal.aborted) throw error;
        outcome.failure = error;
      }
      for (const key of returned) {
        const value = published.get(key);
        if (value === undefined || value === null) {
          options.set(`connection-${key}`, '');
          outcome.missing ??= key;
        } else {
          options.set(`connection-${key}`, serialised ? value : pyStr(value));
        }
      }
      ctx.state.set('outcome', outcome);
    },
    install(ctx) {
      const outcome = ctx.state.get('outcome') as Outcome;
      const name = ctx.options.get('name') ?? ctx.name;
      if (outcome.failure) {
        if (!optional) {
          throw ctx.error(`requesting ${name} failed: ${outcome.failure.message}`, {
            code: outcome.failure.code,
            cause: outcome.failure,
          });
        }
        ctx.warn(`optional request of ${name} failed: ${outcome.failure.message}`);
      } else if (outcome.missing !== undefined) {
        const message = `connection parameter ${outcome.missing} of ${name} not found; the requested instance is ${outcome.state ?? 'not ready yet'}. If this persists, check the state of this instance.`;
        if (!optional) throw ctx.error(message, { code: 'SLAP_ERR_NOT_READY' });
        ctx.warn(message);
      }
      return [];
    },
  };
}

export const request = requestRecipe(false, false);
export const requestSerialised = requestRecipe(true, false);
export const requestOptional = requestRecipe(false, true);
export const requestOptionalSerialised = requestRecipe(true, true);
