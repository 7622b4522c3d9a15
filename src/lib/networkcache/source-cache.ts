/**
 * The source cache of buildout downloads (the SlapOS fork of zc.buildout, through its profile's
 * `networkcache-section`): a file downloaded for a part is looked up under `file-urlmd5:<md5(url)>`
 * before the network, and stored there after a verified download. Only downloads with an md5sum
 * use it (the content is then checked by the caller whatever the cache serves), and only signed
 * entries from `signature-certificate-list` are taken. A cache failure is logged and the download
 * goes on from the network; it never fails a build.
 */
import { rm } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import { parseSourceEntry, pythonJsonDumps, sourceEntryKey } from '../../core/networkcache/entry.ts';
import type { Logger } from '../logger.ts';
import type { SourceCache } from '../download.ts';
import { NetworkcacheClient } from './client.ts';
import type { NetworkcacheOptions } from './options.ts';

function clientSettings(options: NetworkcacheOptions, dispatcher: Dispatcher | undefined) {
  return { ...options, ...(dispatcher ? { dispatcher } : {}) };
}

/** The source cache `options` describe, or undefined when neither download nor upload is configured. */
export function sourceCacheFor(
  options: NetworkcacheOptions,
  context: { logger: Logger; dispatcher?: Dispatcher | undefined },
): SourceCache | undefined {
  const { sourceDownload, sourceUpload } = options;
  if (!sourceDownload && !sourceUpload) return undefined;
  const { logger } = context;
  return {
    async fetch(url, file, signal) {
      if (!sourceDownload) return false;
      const client = new NetworkcacheClient(sourceDownload, clientSettings(options, context.dispatcher));
      try {
        const { pairs } = await client.entries(sourceEntryKey(url), signal);
        for (const pair of pairs) {
          if (!pair.signer) continue;
          const entry = parseSourceEntry(pair.entryJson);
          if (!entry.ok || (entry.value.url !== undefined && entry.value.url !== url)) continue;
          try {
            await client.downloadBlob(entry.value.sha512, file, signal);
            logger.info({ url }, 'downloaded from the source cache');
            return true;
          } catch (error) {
            if (signal?.aborted) throw error;
            await rm(file, { force: true });
            logger.info({ url, reason: (error as Error).message }, 'source cache entry refused');
          }
        }
      } catch (error) {
        if (signal?.aborted) throw error;
        logger.info({ url, reason: (error as Error).message }, 'source cache lookup failed');
      } finally {
        await client.close();
      }
      return false;
    },
    async store(url, file, signal) {
      if (!sourceUpload) return;
      const client = new NetworkcacheClient(sourceUpload, clientSettings(options, context.dispatcher));
      try {
        const sha512 = await client.uploadBlob(file, signal);
        // As libnetworkcache's index(key, sha512=…, url=…).
        await client.putEntry(sourceEntryKey(url), pythonJsonDumps({ sha512, url }), signal);
        logger.info({ url }, 'uploaded to the source cache');
      } catch (error) {
        if (signal?.aborted) throw error;
        logger.warn({ url, reason: (error as Error).message }, 'source cache upload failed');
      } finally {
        await client.close();
      }
    },
  };
}
