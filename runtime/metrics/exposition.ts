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

/** Label pairs, already in order: `[['worker', '1']]`. */
export type Labels = ReadonlyArray<readonly [string, string]>;

/** A label value with `\`, `"` and line feeds escaped, as both formats require. */
function escapeValue(value: string): string {
  return value.replace(/[\\"\n]/g, (char) => (char === '\n' ? '\\n' : `\\${char}`));
}

function labelText(labels: Labels): string {
  if (labels.length === 0) return '';
  return `{${labels.map(([name, value]) => `${name}="${escapeValue(value)}"`).join(',')}}`;
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
  readonly #lines: string[] = [];

  constructor(readonly openMetrics: boolean) {}

  /**
   * Declares a family. `name` is the family's base name: a counter's samples get `_total`, a
   * histogram's `_bucket`, `_sum` and `_count`.
   */
  family(name: string, type: MetricType, help: string): void {
    const declared = type === 'counter' && !this.openMetrics ? `${name}_total` : name;
    this.#lines.push(`# HELP ${declared} ${help}`, `# TYPE ${declared} ${type}`);
  }

  /** One sample line of the family just declared; `name` in full (`…_total`, `…_bucket`). */
  sample(name: string, labels: Labels, value: number): void {
    this.#lines.push(`${name}${labelText(labels)} ${valueText(value)}`);
  }

  /**
   * One histogram's samples: `counts` per bucket (not cumulative; the last one is the overflow
   * beyond the highest bound), `bounds` their upper bounds, `sum` of the observed values.
   */
  histogram(name: string, labels: Labels, bounds: readonly number[], counts: readonly number[], sum: number): void {
    let cumulative = 0;
    bounds.forEach((bound, i) => {
      cumulative += counts[i] ?? 0;
      this.sample(`${name}_bucket`, [...labels, ['le', boundText(bound)]], cumulative);
    });
    cumulative += counts[bounds.length] ?? 0;
    this.sample(`${name}_bucket`, [...labels, ['le', '+Inf']], cumulative);
    this.sample(`${name}_sum`, labels, sum);
    this.sample(`${name}_count`, labels, cumulative);
  }

  text(): string {
    if (this.openMetrics) this.#lines.push('# EOF');
    return `${this.#lines.join('\n')}\n`;
  }
}

/** OpenMetrics wants `le` as a float ("1.0", not "1") so that every scraper sees one series. */
function boundText(bound: number): string {
  return Number.isInteger(bound) ? bound.toFixed(1) : String(bound);
}
