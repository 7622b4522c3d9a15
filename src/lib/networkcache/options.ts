/**
 * `[networkcache]` of slapos.cfg as the original reads it (node.md §1.3): shacache/shadir URLs for
 * binary software releases and for source downloads, the signature key and trusted certificates,
 * TLS client files, URL prefix lists. Our extension: `upload-token-file`, a file (mode 0600 or
 * stricter) holding a bearer token sent on uploads. Files named here must exist, as the original
 * checks; relative paths are read against the configuration file's directory.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { SlapError } from '../../core/errors.ts';
import { prefixList } from '../../core/networkcache/platform.ts';
import {
  hasCertificateFor,
  loadCertificateList,
  loadPrivateKey,
  type TrustedSigner,
} from '../../core/networkcache/signature.ts';

/** TLS client material for one side (shacache or shadir). */
export interface TlsFiles {
  readonly caFile: string | undefined;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
}

/** One shacache + shadir pair. */
export interface CacheEndpoints {
  readonly cacheUrl: string;
  readonly dirUrl: string;
}

export interface NetworkcacheOptions {
  readonly binaryDownload: CacheEndpoints | undefined;
  readonly binaryUpload: CacheEndpoints | undefined;
  readonly sourceDownload: CacheEndpoints | undefined;
  readonly sourceUpload: CacheEndpoints | undefined;
  readonly signers: readonly TrustedSigner[];
  /** Certificates of signature-certificate-list that did not parse (logged, then ignored). */
  readonly ignoredCertificates: readonly string[];
  readonly signatureKey: KeyObject | undefined;
  readonly shacacheTls: TlsFiles;
  readonly shadirTls: TlsFiles;
  /** Our extension: sent as `Authorization: Bearer` on uploads; never logged. */
  readonly uploadToken: string | undefined;
  readonly downloadBlacklist: readonly string[];
  readonly uploadBlacklist: readonly string[];
  readonly forceList: readonly string[];
}

type Fail = (message: string) => SlapError;

function httpUrl(configError: Fail, option: string, value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw configError(`${option} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw configError(`${option} must be an http(s) URL`);
  return value.trim();
}

function pair(
  configError: Fail,
  options: Readonly<Record<string, string>>,
  cache: string,
  dir: string,
): CacheEndpoints | undefined {
  const cacheUrl = httpUrl(configError, cache, options[cache]);
  const dirUrl = httpUrl(configError, dir, options[dir]);
  return cacheUrl !== undefined && dirUrl !== undefined ? { cacheUrl, dirUrl } : undefined;
}

/**
 * Reads `[networkcache]` (`options`, as written); `configFile` anchors relative paths, `section`
 * names the section in messages (a profile's `networkcache-section`).
 */
export function readNetworkcacheOptions(
  options: Readonly<Record<string, string>>,
  configFile: string,
  section = 'networkcache',
): NetworkcacheOptions {
  const configError: Fail = (message) => new SlapError('SLAP_ERR_CONFIG', `[${section}] ${message}`);
  const file = (option: string): string | undefined => {
    const value = options[option]?.trim();
    if (value === undefined || value === '') return undefined;
    const path = isAbsolute(value) ? value : resolve(dirname(configFile), value);
    try {
      statSync(path);
    } catch {
      throw configError(`${option}: file ${path} does not exist`);
    }
    return path;
  };
  const tls = (side: 'shacache' | 'shadir'): TlsFiles => ({
    caFile: file(`${side}-ca-file`),
    certFile: file(`${side}-cert-file`),
    keyFile: file(`${side}-key-file`),
  });

  const { signers, ignored } = loadCertificateList(options['signature-certificate-list'] ?? '');
  const keyOption =
    options['signature-private-key-file'] !== undefined
      ? 'signature-private-key-file'
      : 'signature_private_key_file';
  const keyFile = file(keyOption);
  let signatureKey: KeyObject | undefined;
  if (keyFile !== undefined) {
    try {
      signatureKey = loadPrivateKey(readFileSync(keyFile, 'utf8'));
    } catch {
      throw configError(`${keyOption}: ${keyFile} is not a PEM private key`);
    }
  }

  let uploadToken: string | undefined;
  const tokenFile = file('upload-token-file');
  if (tokenFile !== undefined) {
    if ((statSync(tokenFile).mode & 0o077) !== 0)
      throw configError(
        `upload-token-file: ${tokenFile} must not be readable by group or others (chmod 600)`,
      );
    uploadToken = readFileSync(tokenFile, 'utf8').trim();
    if (!/^[\x21-\x7e]+$/.test(uploadToken))
      throw configError(`upload-token-file: ${tokenFile} must hold one printable token`);
  }

  const binaryUpload = pair(configError, options, 'upload-binary-cache-url', 'upload-binary-dir-url');
  const sourceUpload = pair(configError, options, 'upload-cache-url', 'upload-dir-url');
  const binaryDownload = pair(configError, options, 'download-binary-cache-url', 'download-binary-dir-url');
  const sourceDownload = pair(configError, options, 'download-cache-url', 'download-dir-url');
  if (
    signatureKey !== undefined &&
    (binaryDownload ?? sourceDownload) !== undefined &&
    !hasCertificateFor(signatureKey, signers)
  )
    // As libnetworkcache: our own uploads would never verify, so we would upload again forever.
    throw configError('signature-certificate-list has no certificate for signature-private-key-file');

  const downloadBlacklist = prefixList(
    options['download-from-binary-cache-url-blacklist'] || options['binary-cache-url-blacklist'],
  );
  return {
    binaryDownload,
    binaryUpload,
    sourceDownload,
    sourceUpload,
    signers,
    ignoredCertificates: ignored,
    signatureKey,
    shacacheTls: tls('shacache'),
    shadirTls: tls('shadir'),
    uploadToken,
    downloadBlacklist,
    uploadBlacklist: prefixList(options['upload-to-binary-cache-url-blacklist']),
    forceList: prefixList(options['download-from-binary-cache-force-url-list']),
  };
}
