/**
 * Typed progress events of a buildout run. The engine emits them to an `onProgress` listener and
 * never prints; `src/cli/commands/buildout.ts` renders them (line based when not on a terminal).
 */

export type PartAction =
  | 'installing'
  | 'installed'
  | 'updating'
  | 'updated'
  | 'uninstalling'
  | 'uninstalled'
  /** Kept as installed without calling its recipe (not selected by `install PART…`). */
  | 'skipped'
  | 'failed';

export type BuildoutEvent =
  /** A remote profile is being fetched (extends). */
  | { type: 'profile'; url: string }
  /** Bytes of a download (throttled; `done` on the last one). */
  | {
      type: 'download';
      url: string;
      received: number;
      total: number | undefined;
      done: boolean;
      part?: string;
    }
  /** A part changes state. */
  | {
      type: 'part';
      part: string;
      action: PartAction;
      recipe?: string;
      durationMs?: number;
      /** Why a part is uninstalled: no longer in the profile, options or signature changed, or owned files missing. */
      reason?: 'removed' | 'changed' | 'files missing';
    }
  /** A recipe starts a build step (`configure`, `make`, `make install`, a command…). */
  | { type: 'step'; part: string; step: string }
  /** One line of a build step's output. */
  | { type: 'output'; part: string; stream: 'stdout' | 'stderr'; line: string }
  | { type: 'warning'; message: string; part?: string }
  /**
   * At the end of a successful run: the local files it read (absolute paths): the profiles and
   * what they extend, the custom recipe modules (`./path.mjs`), and the local files the recipes
   * downloaded (templates, local `url`s). The node
   * watches them to rebuild a software release under development (docs/node-agent.md).
   */
  | { type: 'sources'; files: string[] };

export type ProgressListener = (event: BuildoutEvent) => void;

/**
 * `slapos buildout --progress-json`: progress events (`{"progress": event}`) and a final error
 * (`{"error": {code, message, hint}}`) as JSON lines on stderr, for the node, which runs buildouts as
 * partition users in a separate process and forwards their progress.
 */
export const PROGRESS_JSON_OPTION = '--progress-json';
