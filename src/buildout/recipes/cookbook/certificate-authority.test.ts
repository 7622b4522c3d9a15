import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFile } from '../../../lib/exec.ts';
import { x509 } from '../../../lib/x509.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { seededRandom } from '../../../testing/hostile-strings.ts';
import { assign, hostileValue } from '../../../testing/recipe-values.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { checkAuthority, checkRequestDir, parseRequest } from './certificate-authority-service.ts';
import { waitingWrapper } from './certificate-authority.ts';

const OPENSSL = '/usr/bin/openssl';

const PROFILE = `[buildout]
parts = directories certificate-authority ca-app
[ca-directory]
root = \${buildout:directory}/srv/ssl
requests = \${:root}/requests
private = \${:root}/private
certs = \${:root}/certs
newcerts = \${:root}/newcerts
crl = \${:root}/crl
[directories]
recipe = slapos.cookbook:mkdirectory
root = \${ca-directory:root}
requests = \${ca-directory:requests}
private = \${ca-directory:private}
certs = \${ca-directory:certs}
newcerts = \${ca-directory:newcerts}
crl = \${ca-directory:crl}
etc = \${buildout:directory}/etc
bin = \${buildout:directory}/bin
[certificate-authority]
recipe = slapos.cookbook:certificate_authority
openssl-binary = ${OPENSSL}
ca-dir = \${ca-directory:root}
requests-directory = \${ca-directory:requests}
wrapper = \${buildout:directory}/bin/certificate_authority
ca-private = \${ca-directory:private}
ca-certs = \${ca-directory:certs}
ca-newcerts = \${ca-directory:newcerts}
ca-crl = \${ca-directory:crl}
[ca-app]
<= certificate-authority
recipe = slapos.cookbook:certificate_authority.request
key-file = \${buildout:directory}/etc/app.key
cert-file = \${buildout:directory}/etc/app.crt
executable = \${buildout:directory}/bin/app
wrapper = \${buildout:directory}/bin/ca-app
`;

async function waitFor(file: string): Promise<void> {
  while (!existsSync(file)) await sleep(100);
}

test('certificate_authority: the service makes the CA and signs the requests; the request wrapper waits for them', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'bin/app': '#!/bin/sh\necho "app started with $*"\n' });
    await execFile('/bin/chmod', ['755', join(dir.path, 'bin/app')]);
    const { run } = profileRunner(dir.path);
    const result = await run(`${PROFILE}[certificate-authority]\ncity = Lille\ncompany = Nexedi SA\n`);
    assert.deepEqual(result.installed, ['directories', 'certificate-authority', 'ca-app']);
    const root = join(dir.path, 'srv/ssl');
    assert.equal(await readFile(join(root, 'serial'), 'utf8'), '01');
    assert.equal(await readFile(join(root, 'index.txt'), 'utf8'), '');
    assert.equal((await stat(join(root, 'openssl.cnf'))).mode & 0o777, 0o600);
    const wrapper = join(dir.path, 'bin/certificate_authority');
    assert.equal((await stat(wrapper)).mode & 0o777, 0o700);

    // The request: a request file, links to the hashed key and certificate, a waiting wrapper.
    const hash = createHash('sha512').update('ca-app').digest('hex');
    assert.deepEqual(parseRequest(await readFile(join(root, 'requests', hash), 'utf8')), {
      name: 'ca-app',
      keyFile: join(root, 'private', `${hash}.key`),
      certificateFile: join(root, 'certs', `${hash}.crt`),
    });
    assert.equal(await readlink(join(dir.path, 'etc/app.crt')), join(root, 'certs', `${hash}.crt`));
    let appOutput = '';
    const app = spawn(join(dir.path, 'bin/ca-app'), ['--flag'], { stdio: ['ignore', 'pipe', 'inherit'] });
    app.stdout.on('data', (chunk: Buffer) => (appOutput += chunk.toString()));
    await sleep(300);
    assert.equal(appOutput, '', 'the app waits for its certificate');

    const service = spawn(wrapper, [], { stdio: 'ignore' });
    try {
      await waitFor(join(root, 'certs', `${hash}.crt`));
      await once(app, 'exit');
      assert.equal(appOutput, 'app started with --flag\n');
      const ca = new X509Certificate(await readFile(join(root, 'cacert.pem')));
      const issued = new X509Certificate(await readFile(join(dir.path, 'etc/app.crt')));
      assert.ok(issued.verify(ca.publicKey), 'signed by the CA');
      assert.equal(
        issued.checkPrivateKey(createPrivateKey(await readFile(join(dir.path, 'etc/app.key')))),
        true,
      );
      const subject = new x509.X509Certificate(issued.raw).subjectName;
      assert.deepEqual(
        ['C', 'ST', 'L', 'O', 'CN'].map((field) => subject.getField(field)[0]),
        ['XX', "('State',)", undefined, 'Nexedi SA', 'ca-app'],
        'the CA policy keeps C, ST, O (matching the CA), OU, CN and the email',
      );
      assert.equal(new x509.X509Certificate(ca.raw).subjectName.getField('L')[0], 'Lille');
      assert.match(
        new x509.X509Certificate(ca.raw).subjectName.getField('CN')[0] ?? '',
        /^Certificate Authority [0-9a-f-]{36}$/,
      );
      assert.equal(existsSync(join(root, 'certs', `${hash}.crt.csr`)), false, 'the CSR is removed');
    } finally {
      service.kill('SIGTERM');
      if (service.exitCode === null) await once(service, 'exit');
    }
  } finally {
    await dir.remove();
  }
});

test('certificate_authority.request: key-content and cert-content are used as they are when they match', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const keyPath = join(dir.path, 'k.pem');
    const certPath = join(dir.path, 'c.pem');
    await execFile(OPENSSL, [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=custom',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '2',
    ]);
    const key = await readFile(keyPath, 'utf8');
    const cert = await readFile(certPath, 'utf8');
    const result = await run(PROFILE, {
      assignments: assign('ca-app', { 'key-content': key, 'cert-content': cert }),
    });
    assert.deepEqual(result.installed, ['directories', 'certificate-authority', 'ca-app']);
    assert.equal(await readFile(join(dir.path, 'etc/app.crt'), 'utf8'), cert);
    assert.equal(await readFile(join(dir.path, 'etc/app.key'), 'utf8'), key);
    assert.equal(existsSync(join(dir.path, 'bin/ca-app')), false, 'nothing to wait for: no wrapper');

    await execFile(OPENSSL, [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=other',
      '-keyout',
      keyPath,
      '-out',
      join(dir.path, 'other.pem'),
      '-days',
      '2',
    ]);
    await rejectsWithSlapError(
      run(PROFILE, {
        assignments: assign('ca-app', {
          'key-content': key,
          'cert-content': await readFile(join(dir.path, 'other.pem'), 'utf8'),
        }),
      }),
      'SLAP_ERR_PROFILE',
      /ca-app:cert-content: The key and certificate provided don't match each other/,
    );
    await execFile('/bin/rm', [join(dir.path, 'etc/app.key')]);
    await writeFile(join(dir.path, 'etc/app.key'), 'a file');
    await rejectsWithSlapError(
      run(PROFILE, {
        assignments: assign('ca-app', { 'key-content': key, 'cert-content': cert, name: 'n' }),
      }),
      'SLAP_ERR_PROFILE',
      /ca-app:key-file: ".*app\.key" file should be a symbolic link/,
    );
  } finally {
    await dir.remove();
  }
});

test('certificate_authority: hostile subject values keep openssl.cnf whole and reach the CA certificate (property)', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const root = join(dir.path, 'srv/ssl');
    const random = seededRandom(29);
    for (let i = 0; i < 6; i++) {
      const pick = (): string => {
        const text = hostileValue(random, 6)
          .replace(/[\r\n]/g, '')
          .replace(/[\ud800-\udfff]/g, 'x')
          .trim()
          .slice(0, 50);
        return text === '' ? 'v' : text.trim();
      };
      const values = { state: pick(), city: pick(), company: pick() };
      await run(PROFILE, { assignments: assign('certificate-authority', values) });
      const options = {
        key: join(root, 'private/cakey.pem'),
        certificate: join(root, 'cacert.pem'),
        openssl: OPENSSL,
        config: join(root, 'openssl.cnf'),
        requestDir: join(root, 'requests'),
      };
      await execFile('/bin/rm', ['-f', options.key, options.certificate]);
      assert.equal(await checkAuthority(options), true);
      const subject = new x509.X509Certificate(new X509Certificate(await readFile(options.certificate)).raw)
        .subjectName;
      assert.deepEqual(
        ['ST', 'L', 'O'].map((field) => subject.getField(field)[0]),
        [values.state, values.city, values.company],
        JSON.stringify(values),
      );
    }
    await rejectsWithSlapError(
      run(PROFILE, { assignments: assign('certificate-authority', { city: 'a\nb' }) }),
      'SLAP_ERR_PROFILE',
      /certificate-authority:city: a line break or NUL cannot be written in openssl.cnf/,
    );
    await rejectsWithSlapError(
      run(PROFILE, { assignments: assign('ca-app', { name: 'x\ny' }) }),
      'SLAP_ERR_PROFILE',
      /ca-app:name: the name is a common name/,
    );
    // A failing request does not stop the others (the CA made again with the current subject).
    await execFile('/bin/rm', ['-f', join(root, 'private/cakey.pem'), join(root, 'cacert.pem')]);
    const lines: string[] = [];
    await writeFile(
      join(root, 'requests/zz-bad'),
      '[certificate]\nname = x\nkey_file = /nonexistent/k\ncertificate_file = /nonexistent/c\n',
    );
    const service = {
      key: join(root, 'private/cakey.pem'),
      certificate: join(root, 'cacert.pem'),
      openssl: OPENSSL,
      config: join(root, 'openssl.cnf'),
      requestDir: join(root, 'requests'),
      log: (line: string) => lines.push(line),
    };
    await checkAuthority(service);
    await checkRequestDir(service);
    assert.ok(
      lines.some((line) => /^Created certificate "ca-app"$/.test(line)),
      lines.join('\n'),
    );
    assert.ok(lines.some((line) => /^Cannot create the certificate "x"/.test(line)));
  } finally {
    await dir.remove();
  }
});

test('certificate_authority.request: the waiting wrapper keeps hostile paths whole (property)', async () => {
  const dir = await tempDir();
  try {
    const random = seededRandom(31);
    for (let i = 0; i < 10; i++) {
      const name = `d${hostileValue(random, 8)
        .replaceAll('/', '_')
        .replace(/[\ud800-\udfff]/g, 'x')
        .slice(0, 100)}`;
      const sub = join(dir.path, name);
      await mkdir(sub);
      await writeFile(join(sub, 'cert'), '');
      await writeFile(join(sub, 'key'), '');
      await writeFile(join(sub, 'app'), '#!/bin/sh\nprintf "%s|" "$0" "$@"\n', { mode: 0o755 });
      const wrapper = join(dir.path, `w${i}`);
      await writeFile(wrapper, waitingWrapper([join(sub, 'cert'), join(sub, 'key')], join(sub, 'app')), {
        mode: 0o700,
      });
      const result = await execFile(wrapper, [name]);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.equal(result.stdout, `${join(sub, 'app')}|${name}|`);
    }
  } finally {
    await dir.remove();
  }
});
