/**
 * A small Prometheus registry: counters and gauges with labels, and histograms, rendered in the
 * text exposition format (version 0.0.4). Metric names follow `seclake_<noun>_<unit>_total`.
 * @module
 */

type Labels = Readonly<Record<string, string>>;

function key(labels: Labels): string {
  const names = Object.keys(labels).sort();
  return names.map((n) => `${n}="${escape(labels[n]!)}"`).join(",");
}

function escape(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
}

/** A counter (or gauge) family: one value per label set. */
export class Counter implements Family {
  readonly type: "counter" | "gauge";
  readonly #values = new Map<string, number>();
  /** Creates the family; register it with {@link Registry.add}. */
  constructor(readonly name: string, readonly help: string, type: "counter" | "gauge" = "counter") {
    this.type = type;
  }
  /** Adds `by` (default 1) to the value for `labels`. */
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }
  /** Sets the value for `labels` (gauges). */
  set(labels: Labels, value: number): void {
    this.#values.set(key(labels), value);
  }
  /** The value for `labels` (0 when never set). */
  get(labels: Labels = {}): number {
    return this.#values.get(key(labels)) ?? 0;
  }
  /** Sum over every label set. */
  total(): number {
    let t = 0;
    for (const v of this.#values.values()) t += v;
    return t;
  }
  /** Text exposition lines. */
  render(): string[] {
    const out: string[] = [];
    for (const [k, v] of this.#values) out.push(`${this.name}${k ? `{${k}}` : ""} ${v}`);
    return out;
  }
}

/** A histogram family with fixed buckets. */
export class Histogram implements Family {
  readonly type = "histogram" as const;
  readonly #series = new Map<string, { counts: number[]; sum: number; count: number }>();
  /** Creates the family with upper `buckets` (sorted). */
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}
  /** Records one observation. */
  observe(value: number, labels: Labels = {}): void {
    const k = key(labels);
    let s = this.#series.get(k);
    if (!s) this.#series.set(k, s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 });
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
  /** Observations recorded for `labels`. */
  count(labels: Labels = {}): number {
    return this.#series.get(key(labels))?.count ?? 0;
  }
  /** Text exposition lines. */
  render(): string[] {
    const out: string[] = [];
    for (const [k, s] of this.#series) {
      const sep = k ? "," : "";
      this.buckets.forEach((b, i) =>
        out.push(`${this.name}_bucket{${k}${sep}le="${b}"} ${s.counts[i]}`)
      );
      out.push(`${this.name}_bucket{${k}${sep}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${k ? `{${k}}` : ""} ${s.sum}`);
      out.push(`${this.name}_count${k ? `{${k}}` : ""} ${s.count}`);
    }
    return out;
  }
}

/** A set of metric families rendered together. */
export class Registry {
  readonly #families: (Counter | Histogram)[] = [];
  /** Adds a family and returns it. */
  add<T extends Counter | Histogram>(family: T): T {
    this.#families.push(family);
    return family;
  }
  /** Every family, in the order added. */
  get families(): readonly (Counter | Histogram)[] {
    return this.#families;
  }
  /** The Prometheus text exposition of every family. */
  render(): string {
    let s = "";
    for (const f of this.#families) {
      s += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
      for (const line of f.render()) s += line + "\n";
    }
    return s;
  }
}
