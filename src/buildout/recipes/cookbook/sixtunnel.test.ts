import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../../../lib/exec.ts';
import { hostileString, seededRandom } from '../../../testing/hostile-strings.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { tunnelScript } from './sixtunnel.ts';

test('ipv6toipv4 and ipv4toipv6 write the 6tunnel runners, which exec 6tunnel with its arguments', async () => {
  const dir = await tempDir();
  try {
    // A stand-in 6tunnel printing its arguments, one per line.
    await dir.write({ 'bin/6tunnel': '#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n' });
    const { chmod } = await import('node:fs/promises');
    await chmod(join(dir.path, 'bin/6tunnel'), 0o755);
    const { run } = profileRunner(dir.path);
    const profile = (shell = '/bin/sh'): string => `[buildout]
parts = six four
[base]
shell-path = ${shell}
6tunnel-path = \${buildout:directory}/bin/6tunnel
ipv4 = 10.0.0.1
ipv4-port = 8080
ipv6 = 2001:db8::1
ipv6-port = 9090
[six]
<= base
recipe = slapos.cookbook:ipv6toipv4
runner-path = \${buildout:directory}/etc/service/six
[four]
<= base
recipe = slapos.cookbook:ipv4toipv6
runner-path = \${buildout:directory}/etc/service/four
`;
    await run(profile());
    const six = join(dir.path, 'etc/service/six');
    const tunnel = join(dir.path, 'bin/6tunnel');
    assert.equal(
      await readFile(six, 'utf8'),
      `#!/bin/sh\n# BEWARE: This file is operated by slapos node\n# BEWARE: It will be overwritten automatically\nexec ${tunnel} -6 -4 -d -l 2001:db8::1 9090 10.0.0.1 8080`,
    );
    assert.equal((await stat(six)).mode & 0o777, 0o700);
    assert.equal((await execFile(six, [])).stdout, '-6\n-4\n-d\n-l\n2001:db8::1\n9090\n10.0.0.1\n8080\n');
    const four = join(dir.path, 'etc/service/four');
    assert.equal((await execFile(four, [])).stdout, '-d\n-l\n10.0.0.1\n8080\n2001:db8::1\n9090\n');
    await rejectsWithSlapError(run(profile('/bin/sh -x')), 'SLAP_ERR_PROFILE', /#! line/);
  } finally {
    await dir.remove();
  }
});

test('6tunnel runners: hostile values stay single arguments', async () => {
  const random = seededRandom(9);
  const dir = await tempDir();
  try {
    const args = join(dir.path, 'args');
    await writeFile(args, '#!/bin/sh\nprintf "%s\\0" "$@"\n', { mode: 0o755 });
    const script = join(dir.path, 'runner');
    for (let i = 0; i < 80; i++) {
      const value = hostileString(random, 6).replace(/[\0\ud800-\udfff]/g, '');
      if (value.length > 500) continue;
      const other = hostileString(random, 4)
        .replace(/[\0\ud800-\udfff]/g, '')
        .slice(0, 200);
      const text = tunnelScript('6to4', {
        shell: '/bin/sh',
        sixtunnel: args,
        ipv4: value,
        ipv4Port: '1',
        ipv6: other,
        ipv6Port: value,
      });
      await writeFile(script, text, { mode: 0o700 });
      const ran = await execFile(script, []);
      assert.equal(ran.stdout, ['-6', '-4', '-d', '-l', other, value, value, '1', ''].join('\0'));
    }
  } finally {
    await dir.remove();
  }
});
