import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { execFile } from '../lib/exec.ts';
import { packageRoot } from '../lib/package-root.ts';
import { tempDir } from '../testing/buildout.ts';
import { rejectsWithSlapError } from '../testing/slap-error-assert.ts';
import { ensureUserRuntime, USER_RUNTIME_PACKAGES } from './user-runtime.ts';

const self = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
const stranger = { uid: 54_321, gid: 54_321 };

async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify(value));
}

/**
 * A package with hoisted, nested and missing optional dependencies; tests, test helpers, TypeScript
 * and packages nothing needs (fastify, the hoisted sonic-boom pino does not use) are left behind.
 */
async function fakePackage(root: string): Promise<void> {
  await writeJson(join(root, 'package.json'), { name: 'slapos-ts', type: 'module' });
  await mkdir(join(root, 'bin'), { recursive: true });
  await writeFile(join(root, 'bin', 'slapos.js'), 'console.log("hi")\n');
  await mkdir(join(root, 'dist', 'src', 'testing'), { recursive: true });
  await writeFile(join(root, 'dist', 'src', 'main.js'), 'export {};\n');
  await writeFile(join(root, 'dist', 'src', 'main.test.js'), 'export {};\n');
  await writeFile(join(root, 'dist', 'src', 'testing', 'helper.js'), 'export {};\n');
  await mkdir(join(root, 'src', 'api'), { recursive: true });
  await writeFile(join(root, 'src', 'api', 'contract.json'), '{}');
  await writeFile(join(root, 'src', 'api', 'index.ts'), 'export {};\n');
  const nm = join(root, 'node_modules');
  await writeJson(join(nm, 'pino', 'package.json'), {
    name: 'pino',
    dependencies: { 'sonic-boom': '1', 'atomic-sleep': '1' },
    optionalDependencies: { 'not-installed': '1' },
  });
  // pino's own copy of sonic-boom (another version) wins over the hoisted one.
  await writeJson(join(nm, 'pino', 'node_modules', 'sonic-boom', 'package.json'), {
    name: 'sonic-boom',
    version: '2',
    dependencies: { 'atomic-sleep': '1' },
  });
  await writeJson(join(nm, 'sonic-boom', 'package.json'), { name: 'sonic-boom', version: '1' });
  await writeJson(join(nm, 'atomic-sleep', 'package.json'), { name: 'atomic-sleep' });
  await writeFile(join(nm, 'pino', 'index.js'), 'module.exports = {};\n');
  for (const unused of ['README.md', 'index.d.ts', 'index.js.map', 'lib.mts'])
    await writeFile(join(nm, 'pino', unused), '');
  for (const name of USER_RUNTIME_PACKAGES.filter((n) => n !== 'pino'))
    await writeJson(join(nm, name, 'package.json'), { name });
  await writeJson(join(nm, 'fastify', 'package.json'), { name: 'fastify' });
}

async function filesUnder(root: string, directory = root): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) found.push(...(await filesUnder(root, path)));
    else found.push(relative(root, path));
  }
  return found.sort();
}

test('the runtime copy: what the command needs, readable by all, named by its content, made once', async () => {
  const dir = await tempDir('user-runtime-');
  try {
    const source = join(dir.path, 'package');
    await fakePackage(source);
    const parent = join(dir.path, 'instance', '.slapos-runtime');
    await mkdir(dirname(parent), { recursive: true });
    const runtime = await ensureUserRuntime({ parent, runAs: self, packageDirectory: source });
    assert.equal(runtime.bin, join(runtime.directory, 'bin', 'slapos.js'));
    assert.match(relative(parent, runtime.directory), /^[0-9a-f]{32}$/);
    assert.deepEqual(await filesUnder(runtime.directory), [
      '.complete',
      'bin/slapos.js',
      'dist/src/main.js',
      'node_modules/ajv/package.json',
      'node_modules/atomic-sleep/package.json',
      'node_modules/commander/package.json',
      'node_modules/pino/index.js',
      'node_modules/pino/node_modules/sonic-boom/package.json',
      'node_modules/pino/package.json',
      'node_modules/undici/package.json',
      'package.json',
      'src/api/contract.json',
    ]);
    for (const path of [parent, runtime.directory, join(runtime.directory, 'node_modules', 'pino')])
      assert.equal((await stat(path)).mode & 0o777, 0o755, path);
    assert.equal((await stat(runtime.bin)).mode & 0o777, 0o644);

    // Same content: the same copy, untouched.
    const made = (await stat(join(runtime.directory, '.complete'))).mtimeMs;
    assert.deepEqual(await ensureUserRuntime({ parent, runAs: self, packageDirectory: source }), runtime);
    assert.equal((await stat(join(runtime.directory, '.complete'))).mtimeMs, made);
    assert.deepEqual(await readdir(parent), [relative(parent, runtime.directory)], 'no staging left');
  } finally {
    await dir.remove();
  }
});

test('refusals name the path: a node binary or a copy the user cannot reach, an unsafe directory', async () => {
  const dir = await tempDir('user-runtime-');
  try {
    const source = join(dir.path, 'package');
    await fakePackage(source);
    const closed = join(dir.path, 'closed');
    await mkdir(join(closed, 'bin'), { recursive: true });
    await writeFile(join(closed, 'bin', 'node'), '');
    await chmod(closed, 0o700);
    const open = join(dir.path, 'open');
    await mkdir(open, { mode: 0o755 });
    await chmod(open, 0o755);
    await chmod(dir.path, 0o755);
    const error = await rejectsWithSlapError(
      ensureUserRuntime({
        parent: join(open, '.slapos-runtime'),
        runAs: stranger,
        packageDirectory: source,
        nodeBinary: join(closed, 'bin', 'node'),
      }),
      'SLAP_ERR_RUNTIME_UNREADABLE',
    );
    assert.match(
      error.message,
      new RegExp(`the node binary cannot be reached by uid 54321: ${closed} is closed`),
    );
    assert.match(error.hint ?? '', /chmod o\+rx/);

    // The copy itself under a directory closed to the user (an instance root in a 0700 directory).
    const error2 = await rejectsWithSlapError(
      ensureUserRuntime({
        parent: join(closed, '.slapos-runtime'),
        runAs: stranger,
        packageDirectory: source,
        nodeBinary: process.execPath,
      }),
      'SLAP_ERR_RUNTIME_UNREADABLE',
    );
    assert.match(
      error2.message,
      new RegExp(`the node runtime copy cannot be reached by uid 54321: ${closed} is closed`),
    );

    // A directory of copies others can write to, or a link: refused, nothing run from it.
    const writable = join(dir.path, 'writable');
    await mkdir(writable);
    await chmod(writable, 0o777);
    const link = join(dir.path, 'link');
    await symlink(open, link);
    const refusal = await rejectsWithSlapError(
      ensureUserRuntime({ parent: join(writable, '.slapos-runtime'), runAs: self, packageDirectory: source }),
      'SLAP_ERR_RUNTIME_UNREADABLE',
    );
    assert.equal(
      refusal.message,
      `${writable} is not a safe place for the node runtime: it must be a directory of the node's user that no one else can write`,
    );
    assert.equal(existsSync(join(writable, '.slapos-runtime')), false, 'nothing made there');
    for (const parent of [writable, link]) {
      const unsafe = await rejectsWithSlapError(
        ensureUserRuntime({ parent, runAs: self, packageDirectory: source }),
        'SLAP_ERR_RUNTIME_UNREADABLE',
      );
      assert.match(unsafe.message, /is not a safe place for the node runtime/);
      assert.ok(unsafe.message.includes(parent));
    }
  } finally {
    await dir.remove();
  }
});

test('a change of the code makes a new copy; a missing dependency is a clear error', async () => {
  const dir = await tempDir('user-runtime-');
  try {
    const source = join(dir.path, 'package');
    await fakePackage(source);
    const parent = join(dir.path, '.slapos-runtime');
    const first = await ensureUserRuntime({ parent, runAs: self, packageDirectory: source });
    await writeFile(join(source, 'dist', 'src', 'main.js'), 'export const changed = 1;\n');
    // Spelled differently: read again, as a new node process would (a process reads its code once).
    const second = await ensureUserRuntime({ parent, runAs: self, packageDirectory: `${source}/` });
    assert.notEqual(second.directory, first.directory);
    assert.equal(
      await readFile(join(second.directory, 'dist', 'src', 'main.js'), 'utf8'),
      'export const changed = 1;\n',
    );
    assert.ok(existsSync(first.bin), 'the copy in use by an older node stays');

    const broken = join(dir.path, 'broken');
    await fakePackage(broken);
    await writeJson(join(broken, 'node_modules', 'atomic-sleep', 'package.json'), {
      name: 'atomic-sleep',
      dependencies: { gone: '1' },
    });
    const error = await rejectsWithSlapError(
      ensureUserRuntime({ parent, runAs: self, packageDirectory: broken }),
      'SLAP_ERR_RUNTIME_UNREADABLE',
    );
    assert.match(error.message, /cannot find the package gone needed by node_modules\/atomic-sleep/);
  } finally {
    await dir.remove();
  }
});

test('the copy of this package runs `slapos buildout`', async () => {
  const dir = await tempDir('user-runtime-');
  try {
    const runtime = await ensureUserRuntime({ parent: join(dir.path, '.slapos-runtime'), runAs: self });
    const result = await execFile(process.execPath, [runtime.bin, 'buildout', '--help'], {
      timeoutMs: 30_000,
    });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /Usage: slapos buildout/);
  } finally {
    await dir.remove();
  }
});

/**
 * The packages `slapos buildout` can load: the bare imports reachable from the CLI's start-up
 * (static imports only: other commands load their code in their action) and from the buildout
 * command (static and dynamic imports), plus packages loaded through createRequire.
 */
function buildoutCommandPackages(): Set<string> {
  const root = packageRoot();
  const installed = (specifier: string): string | undefined => {
    const parts = specifier.split('/');
    const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? '');
    return existsSync(join(root, 'node_modules', name, 'package.json')) ? name : undefined;
  };
  const packages = new Set<string>();
  const visited = new Map<string, boolean>();
  const visit = (file: string, followDynamic: boolean): void => {
    if (visited.get(file) === true || visited.get(file) === followDynamic) return;
    visited.set(file, followDynamic);
    const text = ts.sys.readFile(file) ?? '';
    const specifiers: { name: string; dynamic: boolean }[] = [];
    const walk = (node: ts.Node): void => {
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
        const typeOnly = ts.isImportDeclaration(node) ? node.importClause?.isTypeOnly : node.isTypeOnly;
        if (!typeOnly && ts.isStringLiteral(node.moduleSpecifier))
          specifiers.push({ name: node.moduleSpecifier.text, dynamic: false });
      } else if (ts.isCallExpression(node)) {
        const [argument] = node.arguments;
        const callee = node.expression;
        const isImport = callee.kind === ts.SyntaxKind.ImportKeyword;
        const isRequire =
          ts.isCallExpression(callee) &&
          ts.isIdentifier(callee.expression) &&
          callee.expression.text === 'createRequire';
        if ((isImport || isRequire) && argument && ts.isStringLiteral(argument))
          specifiers.push({ name: argument.text, dynamic: isImport });
      }
      ts.forEachChild(node, walk);
    };
    walk(ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true));
    for (const specifier of specifiers) {
      if (specifier.dynamic && !followDynamic) continue;
      if (specifier.name.startsWith('.')) visit(resolve(dirname(file), specifier.name), followDynamic);
      else {
        const name = installed(specifier.name);
        if (name !== undefined) packages.add(name);
      }
    }
  };
  visit(join(root, 'src', 'cli', 'main.ts'), false);
  visit(join(root, 'src', 'cli', 'commands', 'buildout.ts'), true);
  return packages;
}

test('USER_RUNTIME_PACKAGES holds every package `slapos buildout` imports', () => {
  const needed = [...buildoutCommandPackages()].sort();
  assert.ok(needed.includes('commander') && needed.includes('pino'), needed.join(' '));
  assert.deepEqual(
    needed.filter((name) => !USER_RUNTIME_PACKAGES.includes(name)),
    [],
  );
  assert.deepEqual(
    USER_RUNTIME_PACKAGES.filter((name) => !needed.includes(name)),
    [],
    'no package copied for nothing',
  );
});
