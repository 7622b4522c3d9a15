/**
 * The key a node seals its usage journals with: its own certificate and key (key_file and
 * cert_file, the pair it authenticates to a master in master mode with). A node without them (proxy
 * mode, a standalone reached with a token) sends its journals unsealed. Nothing of the key is logged.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SlapError } from '../../core/errors.ts';
import { completeKeyPairReplacement } from '../../lib/key-pair-files.ts';
import type { NodeConfig } from '../config.ts';

export interface JournalSigner {
  key: KeyObject;
  certificatePem: string;
}

async function readPair(keyFile: string, certFile: string): Promise<JournalSigner | undefined> {
  const [keyPem, certificatePem] = await Promise.all([readFile(keyFile), readFile(certFile, 'utf8')]);
  const key = createPrivateKey(keyPem);
  return new X509Certificate(certificatePem).checkPrivateKey(key) ? { key, certificatePem } : undefined;
}

/** The node's signer, or undefined when it has no certificate. */
export async function loadJournalSigner(
  config: Pick<NodeConfig, 'keyFile' | 'certFile'>,
): Promise<JournalSigner | undefined> {
  const { keyFile, certFile } = config;
  if (keyFile === undefined || certFile === undefined) return undefined;
  try {
    await completeKeyPairReplacement({ keyFile, certFile });
    // A renewal in another node command renames the key, then the certificate: read again once.
    const signer = (await readPair(keyFile, certFile)) ?? (await readPair(keyFile, certFile));
    if (signer) return signer;
  } catch (error) {
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      `cannot read the node's key_file and cert_file to seal usage journals`,
      {
        cause: error,
        hint: `check ${keyFile} and ${certFile}`,
      },
    );
  }
  throw new SlapError('SLAP_ERR_CONFIG', `the node's key_file does not match its cert_file`, {
    hint: `check ${keyFile} and ${certFile}`,
  });
}
