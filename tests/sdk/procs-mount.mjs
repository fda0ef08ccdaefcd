// The SDK side of the procs/ mount test (tests/mount/test_procs_sdk.c):
// one action against an existing sandbox, its result on stdout.
//   start ID CMD    commands.run(CMD, {background: true}); prints the pid
//   list ID         prints `NAME PID` per process commands.list() gives
//                   (NAME: its tag, else its pid, as procs/ names it)
// E2B_API_URL, E2B_SANDBOX_URL and E2B_API_KEY name the sbxd.
import { Sandbox } from 'e2b';

const [action, id, cmd] = process.argv.slice(2);

const s = await Sandbox.connect(id);
if (action === 'start') {
  const h = await s.commands.run(cmd, { background: true });
  console.log(h.pid);
  await h.disconnect();
} else if (action === 'list') {
  for (const p of await s.commands.list())
    console.log(`${p.tag || p.pid} ${p.pid}`);
} else {
  console.error(`procs-mount.mjs: unknown action ${action}`);
  process.exit(2);
}
process.exit(0);
