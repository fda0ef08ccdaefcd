// bench/procs's SDK rows: against sandbox ID (E2B_API_URL, E2B_SANDBOX_URL,
// E2B_API_KEY name the sbxd), N runs of commands.run('true'), one line of
// their times in us; then `head -c 256M /dev/zero` collected whole, its
// time in us and its byte count.  Usage: procs-bench.mjs ID N
import { Sandbox } from 'e2b';

const [id, n] = process.argv.slice(2);
const s = await Sandbox.connect(id);
const times = [];
for (let i = 0; i < Number(n); i++) {
  const t0 = process.hrtime.bigint();
  const r = await s.commands.run('true');
  if (r.exitCode !== 0) throw new Error(`true exited ${r.exitCode}`);
  times.push(Number((process.hrtime.bigint() - t0) / 1000n));
}
console.log(times.join(' '));
let bytes = 0;
const t0 = process.hrtime.bigint();
await s.commands.run('head -c 256M /dev/zero', { onStdout: (d) => { bytes += Buffer.byteLength(d); },
  timeoutMs: 300_000 });
console.log(`${Number((process.hrtime.bigint() - t0) / 1000n)} ${bytes}`);
process.exit(0);
