// Drives envd (files, filesystem, commands, pty, metrics, logs) through the
// official SDKs and the E2B CLI against a running sbxd whose runtime runs
// processes (--runtime bwrap).  run.sh sets E2B_API_URL, E2B_SANDBOX_URL
// and the Novita equivalents to sbxd; the SDKs are used unchanged.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import * as e2b from 'e2b';
import * as novita from 'novita-sandbox';

const here = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const v of ['E2B_API_URL', 'E2B_SANDBOX_URL', 'NOVITA_API_URL', 'NOVITA_SANDBOX_URL'])
  assert.ok(process.env[v], `${v} must be set (run.sh sets it)`);

async function files(sdk, s) {
  const { FileNotFoundError, InvalidArgumentError } = sdk;
  const w = await s.files.write('/home/user/a.txt', 'hello');
  assert.equal(w.path, '/home/user/a.txt');
  assert.equal(w.name, 'a.txt');
  assert.equal(await s.files.read('/home/user/a.txt'), 'hello');
  assert.deepEqual([...await s.files.read('/home/user/a.txt', { format: 'bytes' })],
    [104, 101, 108, 108, 111]);
  await s.files.write('/home/user/e.txt', '');
  assert.equal(await s.files.read('/home/user/e.txt'), '');
  await assert.rejects(s.files.read('/home/user/nope'), FileNotFoundError);
  await assert.rejects(s.files.read('/home/user'), InvalidArgumentError);
  const many = await s.files.write([{ path: '/home/user/d/x.txt', data: 'x' },
    { path: '/home/user/d/y.txt', data: 'yy' }]);
  assert.equal(many.length, 2);
  assert.equal(await s.files.read('/home/user/d/y.txt'), 'yy');
  const list = await s.files.list('/home/user');
  const a = list.find((e) => e.name === 'a.txt');
  assert.ok(a && a.type === 'file' && a.size === 5 && a.owner === 'user', JSON.stringify(a));
  assert.ok(list.some((e) => e.name === 'd' && e.type === 'dir'));
  const deep = await s.files.list('/home/user', { depth: 2 });
  assert.ok(deep.some((e) => e.path === '/home/user/d/x.txt'));
  await assert.rejects(s.files.list('/home/user/nope'), FileNotFoundError);
  assert.equal(await s.files.exists('/home/user/a.txt'), true);
  assert.equal(await s.files.exists('/nope'), false);
  const info = await s.files.getInfo('/home/user/a.txt');
  assert.equal(info.size, 5);
  assert.ok(info.modifiedTime instanceof Date);
  assert.equal(await s.files.makeDir('/home/user/n/m'), true);
  assert.equal(await s.files.makeDir('/home/user/n/m'), false);
  const moved = await s.files.rename('/home/user/a.txt', '/home/user/b/a2.txt');
  assert.equal(moved.path, '/home/user/b/a2.txt');
  await assert.rejects(s.files.rename('/home/user/a.txt', '/home/user/c'), FileNotFoundError);
  await s.files.remove('/home/user/b');
  assert.equal(await s.files.exists('/home/user/b'), false);
  await s.files.remove('/home/user/none');
}

async function streamsAndGzip(s) {
  // ReadableStream data takes the octet-stream path (envd >= 0.5.7).
  const mib = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
  await s.files.write('/home/user/s.bin', new Blob([mib]).stream());
  const back = await s.files.read('/home/user/s.bin', { format: 'bytes' });
  assert.equal(back.length, 1 << 20);
  assert.equal(back[12345], 12345 & 0xff);
  await s.files.write('/home/user/g.txt', 'zipped', { gzip: true });
  assert.equal(await s.files.read('/home/user/g.txt', { gzip: true }), 'zipped');
}

async function watch(s) {
  const ev = [];
  await s.files.makeDir('/home/user/w');
  const h = await s.files.watchDir('/home/user/w', (e) => ev.push(e));
  await s.files.write('/home/user/w/w.txt', 'w');
  await sleep(500);
  await h.stop();
  assert.ok(ev.some((e) => e.name === 'w.txt' && e.type === 'create'), JSON.stringify(ev));
}

async function commands(sdk, s) {
  const { CommandExitError } = sdk;
  let r = await s.commands.run('echo hello');
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, 'hello\n');
  await assert.rejects(s.commands.run('echo oops 1>&2; exit 3'), (e) =>
    e instanceof CommandExitError && e.exitCode === 3 && e.stderr === 'oops\n');
  assert.equal((await s.commands.run('pwd', { cwd: '/tmp' })).stdout, '/tmp\n');
  assert.equal((await s.commands.run('pwd')).stdout, '/home/user\n');
  assert.equal((await s.commands.run('echo $FOO', { envs: { FOO: 'bar' } })).stdout, 'bar\n');
  assert.equal((await s.commands.run('whoami')).stdout, 'user\n');
  assert.equal((await s.commands.run('whoami', { user: 'root' })).stdout, 'root\n');

  const h = await s.commands.run('sleep 30', { background: true });
  const listed = await s.commands.list();
  assert.ok(listed.some((p) => p.pid === h.pid && p.args[2] === 'sleep 30'), JSON.stringify(listed));
  assert.equal(await s.commands.kill(h.pid), true);
  await assert.rejects(h.wait(), (e) => e instanceof CommandExitError && e.exitCode === -1);
  assert.equal(await s.commands.kill(h.pid), false);

  const c = await s.commands.run('cat', { background: true, stdin: true });
  await s.commands.sendStdin(c.pid, 'abc');
  await s.commands.closeStdin(c.pid);
  assert.equal((await c.wait()).stdout, 'abc');

  const b = await s.commands.run('sleep 1; echo done', { background: true });
  await b.disconnect();
  r = await (await s.commands.connect(b.pid)).wait();
  assert.equal(r.stdout, 'done\n');

  await assert.rejects(s.commands.run('sleep 5', { timeoutMs: 1000 }));
}

// e2b decodes output as one UTF-8 stream; Novita decodes chunk by chunk.
async function splitUtf8(s) {
  const r = await s.commands.run("printf '\\xe2\\x82'; sleep 0.1; printf '\\xac'");
  assert.equal(r.stdout, '€');
}

async function pty(s) {
  const out = [];
  const p = await s.pty.create({ cols: 80, rows: 24, onData: (d) => out.push(...d) });
  await s.pty.sendInput(p.pid, new TextEncoder().encode('echo hi-from-pty\n'));
  await s.pty.resize(p.pid, { cols: 100, rows: 30 });
  await sleep(500);
  assert.ok(Buffer.from(out).toString().includes('hi-from-pty'));
  assert.equal(await s.pty.kill(p.pid), true);
}

async function exercise(name, sdk) {
  const s = await sdk.Sandbox.create('base', { timeoutMs: 120_000 });
  try {
    assert.equal(await s.isRunning(), true);
    await files(sdk, s);
    await commands(sdk, s);
    if (name === 'e2b') {
      await splitUtf8(s);
      await streamsAndGzip(s);
      await watch(s);
      await pty(s);
      const m = await s.getMetrics();
      assert.ok(Array.isArray(m));
      for (const e of m) assert.ok(e.timestamp instanceof Date && typeof e.cpuUsedPct === 'number');
    }
  } finally {
    await s.kill();
  }
  assert.equal(await s.isRunning(), false);
  await assert.rejects(s.files.read('/home/user/e.txt'));
  console.log(`ok - ${name} SDK envd: files, filesystem, commands${name === 'e2b' ? ', streams, gzip, watch, pty, metrics' : ''}`);
}

async function cli() {
  const bin = join(here, 'node_modules', '@e2b', 'cli', 'dist', 'index.js');
  const env = { ...process.env, HOME: mkdtempSync(join(tmpdir(), 'sbxd-cli-')), NO_COLOR: '1' };
  const e2bCli = async (...args) => (await run(process.execPath, [bin, ...args], { env })).stdout;
  const s = await e2b.Sandbox.create('base', { timeoutMs: 60_000 });
  await s.commands.run('true');
  const logs = await e2bCli('sandbox', 'logs', s.sandboxId);
  assert.ok(typeof logs === 'string');
  await e2bCli('sandbox', 'metrics', s.sandboxId);
  await s.kill();
  console.log('ok - E2B CLI: sandbox logs, sandbox metrics');
}

await exercise('e2b', e2b);
await exercise('novita', novita);
await cli();
