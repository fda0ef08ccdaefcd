// Drives the official JavaScript SDKs (e2b, novita-sandbox) and the E2B CLI
// against a running sbxd.  run.sh starts the server and sets E2B_API_URL /
// E2B_API_KEY and NOVITA_API_URL / NOVITA_API_KEY; the SDKs are used unchanged.
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

for (const v of ['E2B_API_URL', 'E2B_API_KEY', 'NOVITA_API_URL', 'NOVITA_API_KEY'])
  assert.ok(process.env[v], `${v} must be set (run.sh sets it)`);
// Debug mode makes the SDKs answer without any request: never test with it.
assert.notEqual((process.env.E2B_DEBUG || '').toLowerCase(), 'true');

const near = (a, b, slackMs, what) =>
  assert.ok(Math.abs(a - b) <= slackMs, `${what}: ${a} vs ${b} (off by ${a - b} ms)`);

async function listAll(Sandbox, query, limit) {
  const seen = [];
  const pages = Sandbox.list({ query, limit });
  while (pages.hasNext) seen.push(...(await pages.nextItems()));
  return seen;
}

// The operations every client needs, identical for both SDKs.
async function exerciseSdk(name, sdk) {
  const { Sandbox } = sdk;
  const tag = `${name}-${process.pid}`;

  // create
  const t0 = Date.now();
  const sbx = await Sandbox.create('base', { timeoutMs: 60_000, metadata: { suite: tag } });
  assert.match(sbx.sandboxId, /^[a-z0-9]{20}$/, 'sandbox ID shape');
  const others = [];
  for (let i = 0; i < 2; i++)
    others.push(await Sandbox.create('base', { timeoutMs: 60_000, metadata: { suite: tag } }));

  // info
  let info = await Sandbox.getInfo(sbx.sandboxId);
  assert.equal(info.sandboxId, sbx.sandboxId);
  assert.equal(info.templateId, 'base');
  assert.equal(info.state, 'running');
  assert.deepEqual(info.metadata, { suite: tag });
  assert.ok(info.startedAt instanceof Date && !isNaN(info.startedAt));
  near(info.endAt.getTime(), t0 + 60_000, 3_000, 'endAt after create');
  assert.ok(info.cpuCount >= 1 && info.memoryMB >= 128);

  // list, filtered by metadata, one per page
  const listed = await listAll(Sandbox, { metadata: { suite: tag } }, 1);
  assert.deepEqual(listed.map((s) => s.sandboxId).sort(),
    [sbx.sandboxId, ...others.map((s) => s.sandboxId)].sort(), 'list by metadata, paged');
  assert.ok(listed.every((s) => s.state === 'running' && s.templateId === 'base'));

  // set timeout
  await sbx.setTimeout(120_000);
  info = await sbx.getInfo();
  near(info.endAt.getTime(), Date.now() + 120_000, 3_000, 'endAt after setTimeout');

  // pause (twice: the second reports "already paused")
  assert.equal(await sbx.pause(), true);
  assert.equal(await Sandbox.pause(sbx.sandboxId), false);
  info = await Sandbox.getInfo(sbx.sandboxId);
  assert.equal(info.state, 'paused');
  const paused = await listAll(Sandbox, { metadata: { suite: tag }, state: ['paused'] });
  assert.deepEqual(paused.map((s) => s.sandboxId), [sbx.sandboxId]);

  // resume (connect)
  const again = await Sandbox.connect(sbx.sandboxId, { timeoutMs: 90_000 });
  assert.equal(again.sandboxId, sbx.sandboxId);
  info = await Sandbox.getInfo(sbx.sandboxId);
  assert.equal(info.state, 'running');
  near(info.endAt.getTime(), Date.now() + 90_000, 3_000, 'endAt after resume');
  // connecting to a running sandbox never shortens it
  await Sandbox.connect(sbx.sandboxId, { timeoutMs: 1_000 });
  const after = await Sandbox.getInfo(sbx.sandboxId);
  assert.equal(after.endAt.getTime(), info.endAt.getTime());

  // kill (the instance method returns true on e2b, nothing on novita)
  assert.equal(await Sandbox.kill(sbx.sandboxId), true);
  assert.equal(await Sandbox.kill(sbx.sandboxId), false, 'second kill reports not found');
  await assert.rejects(Sandbox.getInfo(sbx.sandboxId), sdk.SandboxNotFoundError ?? sdk.NotFoundError);
  for (const o of others) await o.kill();
  assert.deepEqual(await listAll(Sandbox, { metadata: { suite: tag } }), []);

  // errors: a wrong key is an authentication error, an unknown template fails
  await assert.rejects(Sandbox.create('base', { apiKey: 'wrong-key' }), sdk.AuthenticationError);
  await assert.rejects(Sandbox.create('no-such-template'));
  console.log(`ok - ${name} SDK: create, list, info, setTimeout, pause, resume, kill`);
}

// The E2B CLI: sandbox create/list/info/pause/resume/kill and template list.
// All of these authenticate with E2B_API_KEY alone; no access token or login
// is needed (only template builds and `auth` commands want one).
async function exerciseCli() {
  const cli = join(here, 'node_modules', '@e2b', 'cli', 'dist', 'index.js');
  // A fresh HOME so no stored login or config interferes.
  const env = { ...process.env, HOME: mkdtempSync(join(tmpdir(), 'sbxd-cli-')), NO_COLOR: '1' };
  const e2bCli = async (...args) => (await run(process.execPath, [cli, ...args], { env })).stdout;

  const id = (await e2bCli('sandbox', 'create', '--detach', '--timeout', '60', 'base')).trim();
  assert.match(id, /^[a-z0-9]{20}$/, `create printed ${id}`);
  let list = JSON.parse(await e2bCli('sandbox', 'list', '--format', 'json'));
  assert.ok(list.some((s) => s.sandboxId === id), 'CLI list shows the new sandbox');
  let info = JSON.parse(await e2bCli('sandbox', 'info', id, '--format', 'json'));
  assert.equal(info.state, 'running');
  assert.match(await e2bCli('sandbox', 'pause', id), /has been paused/);
  assert.match(await e2bCli('sandbox', 'pause', id), /already paused/);
  list = JSON.parse(await e2bCli('sandbox', 'list', '--state', 'paused', '--format', 'json'));
  assert.deepEqual(list.map((s) => s.sandboxId), [id]);
  assert.match(await e2bCli('sandbox', 'resume', id), /has been resumed/);
  info = JSON.parse(await e2bCli('sandbox', 'info', id, '--format', 'json'));
  assert.equal(info.state, 'running');
  assert.match(await e2bCli('sandbox', 'kill', id), /has been killed/);
  list = JSON.parse(await e2bCli('sandbox', 'list', '--format', 'json'));
  assert.ok(!list.some((s) => s.sandboxId === id));
  const templates = JSON.parse(await e2bCli('template', 'list', '--format', 'json'));
  assert.ok(templates.some((t) => t.templateID === 'base'), 'CLI template list shows base');
  console.log('ok - E2B CLI: sandbox create, list, info, pause, resume, kill; template list');
}

await exerciseSdk('e2b', e2b);
await exerciseSdk('novita', novita);
await exerciseCli();
