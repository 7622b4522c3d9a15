/**
 * The panel's static files (static/: one CSS file, one small script), read once when the master
 * starts and served with a content digest in their URL, so browsers may keep them for a year.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../lib/package-root.ts';

interface Asset {
  body: Buffer;
  contentType: string;
  digest: string;
}

const TYPES: Readonly<Record<string, string>> = {
  'panel.css': 'text/css; charset=utf-8',
  'panel.js': 'text/javascript; charset=utf-8',
};

export class StaticAssets {
  private constructor(private readonly assets: ReadonlyMap<string, Asset>) {}

  static load(): StaticAssets {
    const directory = join(packageRoot(), 'src', 'master', 'panel', 'static');
    const assets = new Map<string, Asset>();
    for (const [name, contentType] of Object.entries(TYPES)) {
      const body = readFileSync(join(directory, name));
      const digest = createHash('sha256').update(body).digest('base64url').slice(0, 16);
      assets.set(name, { body, contentType, digest });
    }
    return new StaticAssets(assets);
  }

  /** The URL of a file, with its digest. */
  url(name: string): string {
    const asset = this.assets.get(name);
    if (!asset) throw new Error(`no panel asset ${name}`);
    return `/panel/static/${name}?v=${asset.digest}`;
  }

  get(name: string): Asset | undefined {
    return this.assets.get(name);
  }
}
