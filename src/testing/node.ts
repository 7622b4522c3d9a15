/** Helpers for node tests: a slapos.cfg in a temp directory, and a registrar that checks the payload. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { loadApiSpec } from '../api/index.ts';
import type { ComputeNodeRegistrar, ComputePartitionDescription } from '../node/format/payload.ts';

export type CfgSections = Record<string, Record<string, string | number | boolean>>;

/** Renders sections as slapos.cfg text (multi-line values become continuation lines). */
export function renderCfg(sections: CfgSections): string {
  const lines: string[] = [];
  for (const [section, options] of Object.entries(sections)) {
    lines.push(`[${section}]`);
    for (const [key, value] of Object.entries(options))
      lines.push(`${key} = ${String(value).split('\n').join('\n  ')}`);
    lines.push('');
  }
  return lines.join('\n');
}

export async function makeTempDir(prefix = 'slapos-node-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/**
 * Writes `<dir>/slapos.cfg` for a sandbox node rooted in `dir` (instance root `dir/srv`, software
 * root `dir/opt`), overlaid with `extra`; returns its path.
 */
export async function writeSandboxCfg(dir: string, extra: CfgSections = {}): Promise<string> {
  const sections: CfgSections = {
    slapos: {
      sandbox: true,
      computer_id: 'COMP-TEST',
      master_url: 'http://127.0.0.1:1/',
      software_root: join(dir, 'opt'),
      instance_root: join(dir, 'srv'),
      ...extra.slapos,
    },
    slapformat: { partition_amount: 3, ...extra.slapformat },
  };
  for (const [name, options] of Object.entries(extra))
    if (name !== 'slapos' && name !== 'slapformat') sections[name] = options;
  const file = join(dir, 'slapos.cfg');
  await writeFile(file, renderCfg(sections));
  return file;
}

/**
 * Keeps every description it receives after checking it against the JSON API's request schema of
 * `slapos.put.v0.compute_node_format` (and that each address has the `network-interface` and
 * `netmask` the master needs). `failWith` makes it refuse, as an unreachable master would.
 */
export class RecordingRegistrar implements ComputeNodeRegistrar {
  readonly received: { computer_guid: string; compute_partition_list: ComputePartitionDescription[] }[] = [];
  failWith: Error | undefined;
  private readonly validate = new Ajv({ strict: false }).compile(
    loadApiSpec().paths['/slapos.put.v0.compute_node_format']?.post.requestBody?.content['application/json']
      .schema ?? {},
  );

  format(computerGuid: string, partitions: readonly ComputePartitionDescription[]): Promise<void> {
    if (this.failWith) return Promise.reject(this.failWith);
    const body = { computer_guid: computerGuid, compute_partition_list: [...partitions] };
    if (!this.validate(body))
      return Promise.reject(new Error(`invalid payload: ${JSON.stringify(this.validate.errors)}`));
    for (const partition of partitions)
      for (const ip of partition.ip_list ?? [])
        if (ip['network-interface'] === undefined || ip.netmask === undefined)
          return Promise.reject(new Error(`address ${ip['ip-address']} lacks network-interface or netmask`));
    this.received.push(body);
    return Promise.resolve();
  }
}
