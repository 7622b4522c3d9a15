/**
 * The compatibility report (`npm run compat -- CHECKOUT`): for every instance profile of a SlapOS
 * checkout, whether the engine resolves it — rendered by a part of a software release
 * (render.ts), loaded with its `extends` by the engine's loader, parsed — and how each of its
 * recipes would run (recipes.ts). docs/compat.md describes the method and its approximations.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { loadRawProfile } from '../buildout/loader.ts';
import type { RawConfig } from '../buildout/parser.ts';
import type { RecipeMap } from '../buildout/recipe.ts';
import { instanceBuildoutTail, instanceProfile } from '../node/instance/buildout-tail.ts';
import { instanceProfiles, relativePath, softwareProfiles } from './profiles.ts';
import { classifyRecipes, profileRunner, type Runner, type SectionRecipe } from './recipes.ts';
import { renderInstance, renderSoftware, type RenderingPart, type SoftwareRendering } from './render.ts';

export type Status = Runner | 'error';

export interface ProfileReport {
  /** Checkout-relative path. */
  profile: string;
  status: Status;
  /** The software profile and part that rendered it (checkout-relative). */
  renderedBy?: {
    /** The software profile, or for an instance-time template the instance profile that renders it. */
    software: string;
    part: string;
    kind: RenderingPart['kind'];
    /** `instance`: rendered by the second stage (the instance buildout, see renderInstance). */
    stage: 'software' | 'instance';
  };
  /** Why it does not resolve (render, load or parse error). */
  error?: string;
  /** Not resolved because it is a Jinja2 template the instance buildout renders (see INSTANCE_TIME). */
  instanceTime?: boolean;
  sections: SectionRecipe[];
  /** Placeholder paths the software release's stubs gave while rendering it. */
  placeholders: string[];
}

export interface CompatReport {
  root: string;
  profiles: ProfileReport[];
  /** Software profiles that could not be loaded at all, with their error. */
  softwareErrors: { software: string; error: string }[];
  /** `instanceTime`: of the `error` ones, Jinja2 templates rendered at instance time. */
  /** `instanceStage`: of the resolved ones, those rendered by the second (instance) stage. */
  counts: Record<Status, number> & { total: number; instanceTime: number; instanceStage: number };
  /** Recipes blocking profiles (profiles counted once per recipe), most first. */
  blockers: { recipe: string; profiles: number }[];
  /** Recipes needing the bridge, by the number of profiles using them that way. */
  bridged: { recipe: string; profiles: number }[];
}

const OFFLINE = [{ section: 'buildout', option: 'offline', value: 'true' }];

interface Candidate {
  /** The profile whose part renders it (a software profile, or an instance profile in stage two). */
  software: string;
  stage: 'software' | 'instance';
  rendering: SoftwareRendering;
  part: RenderingPart;
}

export interface CompatOptions {
  builtins: RecipeMap;
  /** Told of each software profile as it is rendered. */
  onProgress?: ((software: string) => void) | undefined;
}

/** Software releases to try for a profile: the one of its own directory first. */
function order(candidates: Candidate[], profile: string): Candidate[] {
  const home = dirname(profile);
  return [...candidates].sort(
    (a, b) => Number(dirname(b.software) === home) - Number(dirname(a.software) === home),
  );
}

/**
 * The profile a partition would run: the rendered file followed by the tail the node appends
 * (`[slap-connection]`, `[storage-configuration]`…), written beside it so relative `extends` hold.
 */
async function asPartition(output: string, software: string): Promise<string> {
  const tail = instanceBuildoutTail({
    computerId: 'COMP-compat',
    partitionId: 'slappart0',
    serverUrl: 'http://127.0.0.1:1',
    softwareReleaseUrl: software,
    keyFile: '',
    certFile: '',
    sharedPartList: [],
    buildTimePartList: [],
    requestedState: 'started',
    storageHome: '',
    globalIpv4Network: '',
  });
  const file = `${output}.partition.cfg`;
  await writeFile(file, instanceProfile(await readFile(output, 'utf8'), tail));
  return file;
}

const INSTANCE_TIME =
  'a Jinja2 template rendered at instance time (the software release only copies it; the instance buildout renders it with the instance parameters): not rendered by this report';

/** Jinja2 statements or expressions left after the software release's rendering. */
function isJinja2Template(text: string): boolean {
  return /\{%-?\s*(?:set|if|for|import|from|macro|do|raw|with|include)\b|\{\{[^}]*\}\}/.test(text);
}

/** Renders, loads and classifies one instance profile with the first software release that manages to. */
async function resolveProfile(
  root: string,
  profile: string,
  candidates: Candidate[],
  builtins: RecipeMap,
): Promise<Resolved> {
  const errors: string[] = [];
  let instanceTime = false;
  for (const candidate of order(candidates, profile)) {
    const { part, rendering } = candidate;
    const where = `${relativePath(root, candidate.software)} [${part.section}]`;
    const partError = rendering.partErrors.get(part.section);
    if (partError !== undefined || part.output === undefined) {
      errors.push(`render (${where}): ${partError ?? 'no output'}`);
      continue;
    }
    let raw: RawConfig;
    let partition: string;
    try {
      partition = await asPartition(part.output, candidate.software);
      raw = (await loadRawProfile({ configFile: partition, assignments: OFFLINE })).raw;
    } catch (error) {
      if (isJinja2Template(await readFile(part.output, 'utf8'))) {
        instanceTime = true;
        errors.push(`load (${where}): ${INSTANCE_TIME}`);
      } else errors.push(`load (${where}): ${(error as Error).message}`);
      continue;
    }
    const sections = classifyRecipes(raw, builtins);
    const report: ProfileReport = {
      profile: relativePath(root, profile),
      status: profileRunner(sections),
      renderedBy: {
        software: relativePath(root, candidate.software),
        part: part.section,
        kind: part.kind,
        stage: candidate.stage,
      },
      sections,
      placeholders: [...new Set(rendering.placeholders)],
    };
    return { report, partition };
  }
  const report: ProfileReport = {
    profile: relativePath(root, profile),
    status: 'error',
    error: errors.length > 0 ? errors.join('\n') : 'no part of a software release renders or downloads it',
    ...(instanceTime ? { instanceTime } : {}),
    sections: [],
    placeholders: [],
  };
  return { report, outputs: candidates.flatMap((c) => (c.part.output ? [c.part.output] : [])) };
}

/** A profile's report, with what stage two needs: the file a partition would run, or the rendered outputs that did not load. */
interface Resolved {
  report: ProfileReport;
  /** The rendered profile with the partition tail (when it loaded). */
  partition?: string;
  /** The files the candidates rendered (when it did not load). */
  outputs?: string[];
}

/** Rounds of stage two: a template rendered at instance time may itself render another. */
const INSTANCE_ROUNDS = 3;

/**
 * Stage two: the profiles still unresolved whose file the software release did write (only
 * copied, an instance-time template) are rendered by running the resolved instance profiles that
 * name that file (renderInstance), then loaded and classified as in stage one.
 */
async function resolveInstanceTime(
  root: string,
  resolved: Map<string, Resolved>,
  scratchRoot: string,
  options: CompatOptions,
): Promise<void> {
  const done = new Set<string>();
  for (let round = 0; round < INSTANCE_ROUNDS; round++) {
    const pending = new Map<string, string>();
    for (const [profile, entry] of resolved) {
      if (entry.report.status !== 'error') continue;
      for (const output of entry.outputs ?? []) pending.set(output, profile);
    }
    if (pending.size === 0) return;
    const names = [...new Set([...pending.keys()].map((output) => basename(output)))];
    const candidates = new Map<string, Candidate[]>();
    for (const [parent, entry] of resolved) {
      if (entry.partition === undefined || done.has(parent)) continue;
      const text = await readFile(entry.partition, 'utf8');
      if (!names.some((name) => text.includes(name))) continue;
      done.add(parent);
      options.onProgress?.(relativePath(root, parent));
      const scratch = join(scratchRoot, `instance-${done.size}`);
      await mkdir(scratch, { recursive: true });
      const rendering = await renderInstance(entry.partition, scratch);
      for (const part of rendering.parts) {
        const profile = pending.get(part.source);
        if (profile === undefined) continue;
        const list = candidates.get(profile) ?? [];
        list.push({ software: parent, stage: 'instance', rendering, part });
        candidates.set(profile, list);
      }
    }
    if (candidates.size === 0) return;
    for (const [profile, list] of candidates) {
      const before = resolved.get(profile)!;
      const after = await resolveProfile(root, profile, list, options.builtins);
      if (after.report.status === 'error') {
        after.report.error = `${before.report.error ?? ''}\n${after.report.error ?? ''}`.trim();
        if (before.report.instanceTime) after.report.instanceTime = true;
      }
      resolved.set(profile, after);
    }
  }
}

function tally(profiles: ProfileReport[], runner: Runner): { recipe: string; profiles: number }[] {
  const counts = new Map<string, number>();
  for (const profile of profiles) {
    const recipes = new Set(profile.sections.filter((s) => s.runner === runner).map((s) => s.recipe));
    for (const recipe of recipes) counts.set(recipe, (counts.get(recipe) ?? 0) + 1);
  }
  return [...counts]
    .map(([recipe, n]) => ({ recipe, profiles: n }))
    .sort((a, b) => b.profiles - a.profiles || (a.recipe < b.recipe ? -1 : 1));
}

/** Builds the report for the checkout at `root` (software releases rendered in a scratch directory). */
export async function compatReport(root: string, options: CompatOptions): Promise<CompatReport> {
  const scratchRoot = await mkdtemp(join(tmpdir(), 'slapos-compat-'));
  try {
    const bySource = new Map<string, Candidate[]>();
    const softwareErrors: CompatReport['softwareErrors'] = [];
    for (const software of softwareProfiles(root)) {
      options.onProgress?.(relativePath(root, software));
      const rendering = await renderSoftware(software, join(scratchRoot, basename(dirname(software))));
      if (rendering.error !== undefined)
        softwareErrors.push({ software: relativePath(root, software), error: rendering.error });
      for (const part of rendering.parts) {
        const list = bySource.get(part.source) ?? [];
        list.push({ software, stage: 'software', rendering, part });
        bySource.set(part.source, list);
      }
    }
    const resolved = new Map<string, Resolved>();
    for (const profile of instanceProfiles(root)) {
      resolved.set(
        profile,
        await resolveProfile(root, profile, bySource.get(profile) ?? [], options.builtins),
      );
    }
    await resolveInstanceTime(root, resolved, scratchRoot, options);
    const profiles = [...resolved.values()].map((entry) => entry.report);
    const counts = {
      total: profiles.length,
      native: 0,
      bridge: 0,
      blocked: 0,
      error: 0,
      instanceTime: 0,
      instanceStage: 0,
    };
    for (const profile of profiles) {
      counts[profile.status]++;
      if (profile.renderedBy?.stage === 'instance') counts.instanceStage++;
      if (profile.instanceTime) counts.instanceTime++;
    }
    return {
      root,
      profiles,
      softwareErrors,
      counts,
      blockers: tally(profiles, 'blocked'),
      bridged: tally(profiles, 'bridge'),
    };
  } finally {
    await rm(scratchRoot, { recursive: true, force: true });
  }
}
