/**
 * The text a scraper reads: Prometheus' text format 0.0.4, or OpenMetrics 1.0.0 when the
 * scraper asks for it (`Accept: application/openmetrics-text`, as Prometheus itself does).
 * The two differ in little: an OpenMetrics counter family is named without its `_total`
 * (its samples keep it), and the text ends with `# EOF`.
 */

export const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** The format the `Accept` header asks for. */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes('application/openmetrics-text');
}

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Label pairs, in order: `[['worker', '1']]`. */
export type Labels = ReadonlyArray<readonly [string, string]>;

/** A label value with `\`, `"` and line feeds escaped, as both formats require. */
function escapeValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/[\\"\n]/g, (char) => (char === '\n' ? '\\n' : `\\${char}`)) : value;
}

/**
 * The text between the braces of a sample (`worker="1",le="0.1"`). Rendered once per series
 * and passed to every sample of it: a scrape of 64 workers writes thousands of lines.
 */
export function labelText(labels: Labels): string {
  return labels.map(([name, value]) => `${name}="${escapeValue(value)}"`).join(',');
}

/** Go's float text for the special values; integers and decimals as JavaScript prints them. */
function valueText(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** Builds one exposition; families are written in the order they are declared. */
export class Exposition {
  #text = '';

  constructor(readonly openMetrics: boolean) {}

  /**
   * Declares a family. `name` is the family's base name: a counter's samples get `_total`, a
   * histogram's `_bucket`, `_sum` and `_count`.
   */
  family(name: string, type: MetricType, help: string): void {
    const declared = type === 'counter' && !this.openMetrics ? `${name}_total` : name;
    this.#text += `# HELP ${declared} ${help}\n# TYPE ${declared} ${type}\n`;
  }

  /** One sample line of the family just declared: `name` in full (`…_total`), `labels` from {@link labelText}. */
  sample(name: string, labels: string, value: number): void {
    this.#text += labels === '' ? `${name} ${valueText(value)}\n` : `${name}{${labels}} ${valueText(value)}\n`;
  }

  /**
   * One histogram's samples: `counts` per bucket (not cumulative; the last one is the overflow
   * beyond the highest bound), `bounds` their upper bounds, `sum` of the observed values.
   */
  histogram(name: string, labels: string, bounds: readonly number[], counts: readonly number[], sum: number): void {
    const prefix = labels === '' ? `${name}_bucket{le="` : `${name}_bucket{${labels},le="`;
    const les = boundTexts(bounds);
    let cumulative = 0;
    for (let i = 0; i < bounds.length; i++) {
      cumulative += counts[i] ?? 0;
      this.#text += `${prefix}${les[i]}"} ${cumulative}\n`;
    }
    cumulative += counts[bounds.length] ?? 0;
    this.#text += `${prefix}+Inf"} ${cumulative}\n`;
    this.sample(`${name}_sum`, labels, sum);
    this.sample(`${name}_count`, labels, cumulative);
  }

  text(): string {
    return this.openMetrics ? `${this.#text}# EOF\n` : this.#text;
  }
}

/** The `le` texts of a list of bounds, made once per list (the same list serves every worker). */
const LE_TEXTS = new WeakMap<readonly number[], string[]>();

/** OpenMetrics wants `le` as a float ("1.0", not "1") so that every scraper sees one series. */
function boundTexts(bounds: readonly number[]): string[] {
  let texts = LE_TEXTS.get(bounds);
  if (texts === undefined) LE_TEXTS.set(bounds, (texts = bounds.map((bound) => (Number.isInteger(bound) ? bound.toFixed(1) : String(bound)))));
  return texts;
}
