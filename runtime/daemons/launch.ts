/**
 * How a daemon process is started and signalled. A daemon runs `/bin/sh -c CMD` (as uWSGI's
 * does) in a session and process group of its own, so that stopping it reaches whatever the
 * command started (a pipeline, a `sleep` in a loop) and a terminal's Ctrl-C reaches only the master.
 * Its stdin is /dev/null and no tsgi socket or shared-memory fd is passed; its stdout and
 * stderr are pipes read line by line into the instance's log.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { logAs } from '../logger.js';

let pdeathsig: boolean | undefined;

/**
 * uWSGI sets PR_SET_PDEATHSIG on a plain daemon so that it dies with a master killed by SIGKILL.
 * Node cannot call prctl, util-linux's `setpriv` can (and then execs: the pid stays the same).
 * Smart daemons outlive their spawn by design and are not given it.
 */
function pdeathsigPrefix(): string[] {
  if (pdeathsig === undefined) {
    const help = spawnSync('setpriv', ['--help'], { encoding: 'utf8' });
    pdeathsig = help.status === 0 && help.stdout.includes('--pdeathsig');
  }
  return pdeathsig ? ['setpriv', '--pdeathsig', 'SIGKILL', '--'] : [];
}

/** Starts `/bin/sh -c cmd` as the leader of a new process group; its output lines are logged under `tag`. */
export function launch(cmd: string, tag: string, opts: { dieWithMaster: boolean }): ChildProcess {
  const argv = [...(opts.dieWithMaster ? pdeathsigPrefix() : []), '/bin/sh', '-c', cmd];
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.on('error', (error) => logAs(`${tag} `, `could not start: ${error.message}`));
  for (const stream of [child.stdout!, child.stderr!]) logLines(stream, `${tag} `);
  return child;
}

/** One log line per line of output; a partial line waits for its end (or for the pipe to close). */
function logLines(stream: NodeJS.ReadableStream, tag: string): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) logAs(tag, line.replace(/\r$/, ''));
  });
  stream.on('end', () => partial && logAs(tag, partial));
}

/**
 * Signals the process group `pid` leads, falling back to the process alone: a smart daemon's
 * pid is usually a grandchild of the shell that led the group, not a leader itself.
 * False if nothing was there to signal.
 */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
      return true;
    } catch {
      // no such group (or process): try the next
    }
  }
  return false;
}

/**
 * Whether `pid` runs. kill(pid, 0) alone is fooled by a zombie: a self-forked daemon is
 * re-parented and may never be reaped (a container whose pid 1 does not wait), so /proc is asked too.
 */
export function pidAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (not Linux): trust kill
  }
}

/** The live pid in a pidfile, or 0 (missing, unreadable, not a number, or that pid is gone). */
export function livePidIn(pidfile: string): number {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidfile, 'utf8').trim(), 10);
  } catch {
    return 0;
  }
  return Number.isInteger(pid) && pidAlive(pid) ? pid : 0;
}

/** Members of process group `pgid` that still run (zombies excluded), from /proc; [] where there is no /proc. */
export function groupMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return members;
}
