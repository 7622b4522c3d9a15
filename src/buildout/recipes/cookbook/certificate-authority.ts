/**
 * `slapos.cookbook:certificate_authority` and `certificate_authority.request`: an openssl CA run as
 * a service, as the original's (the files and commands of certificate-authority-service.ts).
 *
 * `certificate_authority` install: in `ca-dir`, `serial` and `crlnumber` (`01`) and `index.txt`
 * (empty) unless they exist, and `openssl.cnf` (0600): `[ CA_default ]` keeping its files under
 * `ca-dir` (`cacert.pem`, `index.txt`, `serial`, `crlnumber`), the key `<ca-private>/cakey.pem`,
 * issued certificates in `ca-newcerts` (and `ca-certs`, `ca-crl`), the subject fields
 * `country-code` (XX), `state` (`('State',)`, the original's historical default), `city` (City),
 * `company` (Company), `email` (xx@example.com), the common name read on stdin. It returns only
 * `wrapper` (0700), which runs the service with `openssl-binary`.
 *
 * `certificate_authority.request` (`name` defaults to the section name): the key and certificate
 * are `<ca-private>/<sha512(name)>.key` and `<ca-certs>/<sha512(name)>.crt`; `key-file` and
 * `cert-file` become symlinks to them. With `key-content` and `cert-content` both given, those
 * are written there (after checking that they match) and nothing is requested; otherwise the
 * request file `<requests-directory>/<sha512(name)>` is written and `wrapper` (0700) waits for
 * both files then execs `executable`. Returns the two links and the wrapper.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { requirePath, withoutNul, writeIfChanged } from '../common.ts';
import { nodeMainCommand } from './node-main.ts';
import { execWrapperScript, shellQuote } from './shell.ts';

function path(ctx: RecipeContext, option: string): string {
  return withoutNul(ctx, option, requirePath(ctx, option));
}

/** An openssl.cnf value: one line, its special characters (`\ $ # " '`) escaped. */
function confValue(ctx: RecipeContext, option: string, value: string): string {
  if (/[\0\r\n]/.test(value))
    throw ctx.error('a line break or NUL cannot be written in openssl.cnf', {
      option,
      code: 'SLAP_ERR_PROFILE',
    });
  if (value !== value.trim())
    throw ctx.error('openssl.cnf trims leading and trailing spaces: remove them', {
      option,
      code: 'SLAP_ERR_PROFILE',
    });
  return value.replace(/[\\$#"']/g, '\\$&');
}

export function opensslConfig(ctx: RecipeContext): string {
  const value = (option: string, fallback?: string): string =>
    confValue(
      ctx,
      option,
      fallback === undefined ? path(ctx, option) : (ctx.options.get(option) ?? fallback),
    );
  const caDir = value('ca-dir');
  const country = value('country-code', 'XX');
  if (!/^[A-Za-z]{2}$/.test(country))
    throw ctx.error(`a country code has two letters, got ${JSON.stringify(country)}`, {
      option: 'country-code',
      code: 'SLAP_ERR_PROFILE',
    });
  const crl = ctx.options.get('ca-crl') ? value('ca-crl') : `${caDir}/crl`;
  return [
    '# Written by slapos.cookbook:certificate_authority',
    '[ ca ]',
    'default_ca = CA_default',
    '',
    '[ CA_default ]',
    `dir = ${caDir}`,
    `certs = ${value('ca-certs')}`,
    `crl_dir = ${crl}`,
    'database = $dir/index.txt',
    'unique_subject = no',
    `new_certs_dir = ${value('ca-newcerts')}`,
    'certificate = $dir/cacert.pem',
    'serial = $dir/serial',
    'crlnumber = $dir/crlnumber',
    'crl = $dir/crl.pem',
    `private_key = ${value('ca-private')}/cakey.pem`,
    'x509_extensions = usr_cert',
    'name_opt = ca_default',
    'cert_opt = ca_default',
    'default_days = 3650',
    'default_crl_days = 30',
    'default_md = default',
    'preserve = no',
    'policy = policy_match',
    '',
    '[ policy_match ]',
    'countryName = match',
    'stateOrProvinceName = match',
    'organizationName = match',
    'organizationalUnitName = optional',
    'commonName = supplied',
    'emailAddress = optional',
    '',
    '[ req ]',
    'default_bits = 2048',
    'distinguished_name = req_distinguished_name',
    'x509_extensions = v3_ca',
    'string_mask = utf8only',
    '',
    // Fields with a _value are not asked: the common name is the one line read on stdin.
    '[ req_distinguished_name ]',
    'countryName = Country Name (2 letter code)',
    `countryName_value = ${country}`,
    'stateOrProvinceName = State or Province Name (full name)',
    `stateOrProvinceName_value = ${value('state', "('State',)")}`,
    'localityName = Locality Name (eg, city)',
    `localityName_value = ${value('city', 'City')}`,
    '0.organizationName = Organization Name (eg, company)',
    `0.organizationName_value = ${value('company', 'Company')}`,
    'commonName = Common Name (eg, your name or your server hostname)',
    'commonName_max = 64',
    'emailAddress = Email Address',
    `emailAddress_value = ${value('email', 'xx@example.com')}`,
    'emailAddress_max = 64',
    '',
    '[ usr_cert ]',
    'basicConstraints = CA:FALSE',
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid,issuer',
    '',
    '[ v3_ca ]',
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid:always,issuer',
    'basicConstraints = CA:true',
    '',
  ].join('\n');
}

async function writeIfMissing(file: string, content: string): Promise<void> {
  if (!existsSync(file)) await writeFile(file, content, { mode: 0o644 });
}

async function installAuthority(ctx: RecipeContext): Promise<string[]> {
  const caDir = path(ctx, 'ca-dir');
  const config = opensslConfig(ctx);
  const wrapper = path(ctx, 'wrapper');
  const command = [
    ...nodeMainCommand('certificate-authority-main'),
    '--key',
    join(path(ctx, 'ca-private'), 'cakey.pem'),
    '--certificate',
    join(caDir, 'cacert.pem'),
    '--openssl',
    withoutNul(ctx, 'openssl-binary', ctx.options.require('openssl-binary')),
    '--config',
    join(caDir, 'openssl.cnf'),
    '--request-dir',
    path(ctx, 'requests-directory'),
  ];
  await mkdir(caDir, { recursive: true });
  for (const file of ['crlnumber', 'serial']) await writeIfMissing(join(caDir, file), '01');
  await writeIfMissing(join(caDir, 'index.txt'), '');
  await writeIfChanged(join(caDir, 'openssl.cnf'), config, 0o600);
  ctx.created(wrapper);
  await writeIfChanged(wrapper, execWrapperScript(command), 0o700);
  return [wrapper];
}

/** The original's RawConfigParser output for a request (values are single lines, checked by the caller). */
export function requestFile(name: string, key: string, certificate: string): string {
  return `[certificate]\nname = ${name}\nkey_file = ${key}\ncertificate_file = ${certificate}\n\n`;
}

function checkPair(ctx: RecipeContext, key: string, certificate: string): void {
  let matches: boolean;
  try {
    matches = new X509Certificate(certificate).checkPrivateKey(createPrivateKey(key));
  } catch (error) {
    throw ctx.error(`key-content or cert-content is not readable PEM: ${(error as Error).message}`, {
      option: 'cert-content',
      code: 'SLAP_ERR_PROFILE',
    });
  }
  if (!matches)
    throw ctx.error("The key and certificate provided don't match each other. Please check your parameters", {
      option: 'cert-content',
      code: 'SLAP_ERR_PROFILE',
    });
}

async function link(ctx: RecipeContext, option: string, target: string): Promise<string> {
  const file = path(ctx, option);
  const existing = await lstat(file).catch(() => undefined);
  if (existing?.isSymbolicLink()) await unlink(file);
  else if (existing !== undefined)
    throw ctx.error(`${JSON.stringify(file)} file should be a symbolic link.`, {
      option,
      code: 'SLAP_ERR_PROFILE',
    });
  ctx.created(file);
  await symlink(target, file);
  return file;
}

/** The wrapper of a request: waits for the certificate and key, then execs `executable`. */
export function waitingWrapper(files: readonly string[], executable: string): string {
  const exec = execWrapperScript([executable]).split('\n').slice(1);
  return [
    '#!/bin/sh -e',
    `for file in ${files.map(shellQuote).join(' ')}; do`,
    '  while [ ! -e "$file" ]; do sleep 1; done',
    'done',
    ...exec,
  ].join('\n');
}

async function installRequest(ctx: RecipeContext): Promise<string[]> {
  const name = ctx.options.require('name');
  if (/[\0\r\n]/.test(name) || name !== name.trim() || name === '')
    throw ctx.error('the name is a common name: one line, without leading or trailing spaces', {
      option: 'name',
      code: 'SLAP_ERR_PROFILE',
    });
  const hash = createHash('sha512').update(name, 'utf8').digest('hex');
  const key = join(path(ctx, 'ca-private'), `${hash}.key`);
  const certificate = join(path(ctx, 'ca-certs'), `${hash}.crt`);
  const keyContent = ctx.options.get('key-content');
  const certContent = ctx.options.get('cert-content');
  const provided = !!keyContent && !!certContent;
  if (provided) {
    checkPair(ctx, keyContent, certContent);
    await writeFile(key, keyContent, { mode: 0o600 });
    await writeFile(certificate, certContent, { mode: 0o644 });
  } else {
    const requests = path(ctx, 'requests-directory');
    if (/[\r\n]/.test(key + certificate))
      throw ctx.error('the CA directories cannot hold line breaks', {
        option: 'ca-private',
        code: 'SLAP_ERR_PROFILE',
      });
    await writeIfChanged(join(requests, hash), requestFile(name, key, certificate), 0o644);
  }
  const paths = [await link(ctx, 'key-file', key), await link(ctx, 'cert-file', certificate)];
  if (!provided) {
    const wrapper = path(ctx, 'wrapper');
    const executable = withoutNul(ctx, 'executable', ctx.options.require('executable'));
    ctx.created(wrapper);
    await writeIfChanged(wrapper, waitingWrapper([certificate, key], executable), 0o700);
    paths.push(wrapper);
  }
  return paths;
}

export const certificateAuthority: Recipe = {
  version: '1',
  install: installAuthority,
  update: installAuthority,
};

export const certificateAuthorityRequest: Recipe = {
  version: '1',
  init(ctx) {
    if (!ctx.options.has('name')) ctx.options.set('name', ctx.name);
  },
  install: installRequest,
  update: installRequest,
};
