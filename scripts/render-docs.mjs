// Rewrites the README's generated sections (options, error codes) from the tables in runtime/.
// Run after `npm run build`: `npm run docs`.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderReadme } from '../dist/runtime/config/docs.js';

const path = new URL('../README.md', import.meta.url);
const before = readFileSync(path, 'utf8');
const after = renderReadme(before);
writeFileSync(path, after);
console.log(before === after ? 'README.md is up to date' : 'README.md: generated sections rewritten');
