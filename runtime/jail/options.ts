/**
 * The Jailing rows of the option table (runtime/options.ts): who the instance runs as, what it
 * sees, and what its unix sockets allow. Applied by runtime/jail/subsystem.ts.
 */
import type { OptionRow } from '../options.js';
import { NAMESPACES } from './namespaces.js';

function octalMode(value: string): void {
  if (!/^0?[0-7]{3}$/.test(value)) throw new Error('expected an octal mode such as 660 or 0660');
}

function keyValue(value: string): void {
  if (!/^[^=\s]+=/.test(value)) throw new Error('expected KEY=VALUE');
}

function namespaceList(value: string): void {
  for (const name of value.split(',')) {
    if (name === 'pid') throw new Error('pid is refused: the first worker would be pid 1 of a namespace that ends with it, and no worker could be respawned');
    if (!(NAMESPACES as readonly string[]).includes(name)) throw new Error(`unknown namespace "${name}": give a comma list of ${NAMESPACES.join(', ')}`);
  }
}

export const JAIL_ROWS = [
  { name: 'uid', kind: 'string', arg: 'USER', section: 'Jailing', help: 'after binding the sockets, the master and every child (workers, spoolers, daemons) run as USER (a name or a number)' },
  { name: 'gid', kind: 'string', arg: 'GROUP', section: 'Jailing', help: "run as GROUP (a name or a number); default with --uid: that user's primary group" },
  { name: 'no-initgroups', kind: 'flag', section: 'Jailing', default: false, help: "with --uid, clear the supplementary groups instead of setting the user's own (initgroups)" },
  { name: 'chroot', kind: 'string', arg: 'DIR', section: 'Jailing', help: 'chroot(2) into DIR after binding the sockets: node, tsgi and the app must be inside DIR at the paths they have outside' },
  { name: 'umask', kind: 'string', arg: 'MODE', section: 'Jailing', check: octalMode, help: 'set the umask (octal) before anything is created, unix sockets included' },
  { name: 'chmod-socket', kind: 'string', arg: '[MODE]', section: 'Jailing', whenBare: '666', check: octalMode, help: 'chmod every unix socket file to MODE (octal; bare: 666) right after binding' },
  { name: 'chown-socket', kind: 'string', arg: 'USER[:GROUP]', section: 'Jailing', help: 'chown every unix socket file to USER (and GROUP) right after binding' },
  { name: 'vacuum', kind: 'flag', section: 'Jailing', default: false, help: 'remove the unix socket files and the pidfile at exit (without it they stay, and the next start replaces a stale socket)' },
  { name: 'env', kind: 'string', arg: 'KEY=VALUE', section: 'Jailing', repeatable: true, check: keyValue, help: 'set an environment variable of the instance (the master, every child and the app)' },
  { name: 'unshare', kind: 'string', arg: 'NS[,NS…]', section: 'Jailing', check: namespaceList, help: `after binding the sockets, move into new Linux namespaces (${NAMESPACES.join(', ')}); with net the children reach only the sockets bound before` },
] as const satisfies readonly OptionRow[];
