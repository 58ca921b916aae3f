/**
 * The README's option and error tables, rendered from the option table and the error-code
 * table (`npm run docs` writes them; a test fails when the README is out of date).
 */
import { ERROR_CODES } from '../errors.js';
import { OPTION_ROWS } from '../options.js';

const cell = (text: string) => text.replace(/\|/g, '\\|');

export function renderOptionsMarkdown(): string {
  const lines = ['| option | value | default | meaning |', '|---|---|---|---|'];
  for (const row of OPTION_ROWS) {
    const names = [`--${row.name}`, ...(row.aliases ?? []).map((a) => `--${a}`), ...(row.short ? [`-${row.short}`] : [])].map((n) => `\`${n}\``).join(', ');
    const value = row.kind === 'flag' ? 'flag' : `${row.arg ?? 'VALUE'}${row.repeatable ? ' (repeatable)' : ''}`;
    const fallback = row.default === undefined || row.kind === 'flag' ? '' : `\`${row.default}\``;
    lines.push(`| ${names} | ${cell(value)} | ${fallback} | ${cell(row.help)} |`);
  }
  return lines.join('\n');
}

export function renderErrorsMarkdown(): string {
  const lines = ['| Code | Meaning | What to do |', '|---|---|---|'];
  for (const [code, spec] of Object.entries(ERROR_CODES)) {
    const status = 'status' in spec ? ` (HTTP ${spec.status})` : '';
    lines.push(`| \`${code}\` | ${cell(spec.meaning)}${status} | ${cell(spec.fix)} |`);
  }
  return lines.join('\n');
}

/** Replaces the text between `<!-- name:start -->` and `<!-- name:end -->`. */
export function replaceSection(document: string, name: string, content: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const from = document.indexOf(start);
  const to = document.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README has no ${start} … ${end} section`);
  return `${document.slice(0, from + start.length)}\n${content}\n${document.slice(to)}`;
}

export function renderReadme(readme: string): string {
  return replaceSection(replaceSection(readme, 'options', renderOptionsMarkdown()), 'errors', renderErrorsMarkdown());
}
