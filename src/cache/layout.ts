/**
 * The cache server's directory (`slapos cache start --dir DIR`): the blobs of shacache, named by
 * their sha512, the shadir index (SQLite, with the hashes of the upload tokens), the uploads under
 * way, and the upload token made at the first start. The directory is the server's alone (0700).
 */
import { join } from 'node:path';

export interface CacheLayout {
  dir: string;
  /** Blobs: `blobs/<first two hex digits>/<sha512>`. */
  blobs: string;
  /** Uploads under way (same file system as `blobs`, so that the rename is atomic). */
  incoming: string;
  /** The shadir entries and the upload tokens' hashes (SQLite, WAL). */
  index: string;
  /** The upload token made at the first start (just the token, 0600). */
  tokenFile: string;
  /** The running server's pid (one server per directory). */
  lockFile: string;
}

export function cacheLayout(dir: string): CacheLayout {
  return {
    dir,
    blobs: join(dir, 'blobs'),
    incoming: join(dir, 'incoming'),
    index: join(dir, 'index.sqlite'),
    tokenFile: join(dir, 'upload.token'),
    lockFile: join(dir, 'server.pid'),
  };
}
