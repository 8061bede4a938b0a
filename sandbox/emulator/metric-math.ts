/**
 * The subset of CloudWatch metric math the emulator evaluates: a query id (`m1`), numbers, `+ - * /`, unary minus,
 * parentheses, `DIFF(x)`, `RATE(x)` and `FILL(x, number)`. Anything else is rejected with a {@link MetricMathError}
 * naming what was not understood, so a scenario never silently evaluates an expression the emulator does not know.
 *
 * Semantics follow the CloudWatch User Guide, "Metric math syntax and functions":
 * - arithmetic between two time series works timestamp by timestamp; a timestamp missing in either operand has no value;
 * - `DIFF(x)`: each value minus the previous value present in `x` (the first value has none, so it is missing);
 * - `RATE(x)`: `DIFF(x)` divided by the seconds between the two values (per-second rate);
 * - `FILL(x, v)`: missing values of `x` become `v` (only a numeric `v`; `REPEAT`/`LINEAR` are not supported here).
 * Division by zero and any non-finite result leave the timestamp without a value.
 */

/** Parsed expression tree. */
export type MathNode =
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'id'; readonly name: string }
  | { readonly kind: 'neg'; readonly operand: MathNode }
  | { readonly kind: 'binary'; readonly op: '+' | '-' | '*' | '/'; readonly left: MathNode; readonly right: MathNode }
  | { readonly kind: 'call'; readonly fn: MathFunction; readonly args: readonly MathNode[] };

/** Functions the emulator evaluates. */
export type MathFunction = 'DIFF' | 'RATE' | 'FILL';

const FUNCTIONS: ReadonlySet<string> = new Set<MathFunction>(['DIFF', 'RATE', 'FILL']);

/**
 * A time series on a fixed grid: `values[i]` belongs to the period starting at `timestampsMs[i]` (epoch ms);
 * `undefined` = no datapoint.
 */
export interface GridSeries {
  readonly timestampsMs: readonly number[];
  readonly values: ReadonlyArray<number | undefined>;
}

/** An expression that cannot be parsed or evaluated; `message` says what and where. */
export class MetricMathError extends Error {
  override readonly name = 'MetricMathError';
}

type Token =
  | { readonly type: 'num'; readonly value: number; readonly pos: number }
  | { readonly type: 'ident'; readonly value: string; readonly pos: number }
  | { readonly type: 'op'; readonly value: string; readonly pos: number };

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|([-+*/(),]))/y;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(src);
    if (!m) throw new MetricMathError(`unexpected character '${src.slice(pos).trim()[0] ?? ''}' at position ${pos}`);
    const start = m.index + (m[0].length - (m[1] ?? m[2] ?? m[3] ?? '').length);
    if (m[1] !== undefined) tokens.push({ type: 'num', value: Number(m[1]), pos: start });
    else if (m[2] !== undefined) tokens.push({ type: 'ident', value: m[2], pos: start });
    else if (m[3] !== undefined) tokens.push({ type: 'op', value: m[3], pos: start });
    pos = re.lastIndex;
  }
  return tokens;
}

/**
 * Parses a metric math expression.
 * @throws MetricMathError on a syntax error or a function outside DIFF, RATE, FILL.
 */
export function parseExpression(src: string): MathNode {
  const tokens = tokenize(src);
  let i = 0;
  const peek = (): Token | undefined => tokens[i];
  const isOp = (t: Token | undefined, v: string): boolean => t?.type === 'op' && t.value === v;
  const expectOp = (v: string): void => {
    const t = peek();
    if (!isOp(t, v))
      throw new MetricMathError(`expected '${v}' ${t ? `at position ${t.pos}` : 'at end of expression'}`);
    i++;
  };

  const parseSum = (): MathNode => {
    let left = parseProduct();
    for (let t = peek(); isOp(t, '+') || isOp(t, '-'); t = peek()) {
      i++;
      left = { kind: 'binary', op: t?.value === '+' ? '+' : '-', left, right: parseProduct() };
    }
    return left;
  };
  const parseProduct = (): MathNode => {
    let left = parseUnary();
    for (let t = peek(); isOp(t, '*') || isOp(t, '/'); t = peek()) {
      i++;
      left = { kind: 'binary', op: t?.value === '*' ? '*' : '/', left, right: parseUnary() };
    }
    return left;
  };
  const parseUnary = (): MathNode => {
    if (isOp(peek(), '-')) {
      i++;
      return { kind: 'neg', operand: parseUnary() };
    }
    if (isOp(peek(), '+')) {
      i++;
      return parseUnary();
    }
    return parsePrimary();
  };
  const parsePrimary = (): MathNode => {
    const t = peek();
    if (!t) throw new MetricMathError('unexpected end of expression');
    if (t.type === 'num') {
      i++;
      return { kind: 'number', value: t.value };
    }
    if (t.type === 'op' && t.value === '(') {
      i++;
      const inner = parseSum();
      expectOp(')');
      return inner;
    }
    if (t.type === 'ident') {
      i++;
      if (isOp(peek(), '(')) {
        if (!FUNCTIONS.has(t.value)) {
          throw new MetricMathError(
            `unsupported function '${t.value}' at position ${t.pos} (the emulator supports DIFF, RATE and FILL)`,
          );
        }
        i++;
        const args: MathNode[] = [];
        if (!isOp(peek(), ')')) {
          args.push(parseSum());
          while (isOp(peek(), ',')) {
            i++;
            args.push(parseSum());
          }
        }
        expectOp(')');
        const fn = t.value as MathFunction;
        const arity = fn === 'FILL' ? 2 : 1;
        if (args.length !== arity) {
          throw new MetricMathError(`${fn} takes ${arity} argument${arity === 1 ? '' : 's'}, got ${args.length}`);
        }
        return { kind: 'call', fn, args };
      }
      if (!/^[a-z]/.test(t.value)) {
        throw new MetricMathError(
          `'${t.value}' at position ${t.pos} is not a query id (ids start with a lowercase letter) nor a supported function`,
        );
      }
      return { kind: 'id', name: t.value };
    }
    throw new MetricMathError(`unexpected '${t.value}' at position ${t.pos}`);
  };

  if (tokens.length === 0) throw new MetricMathError('empty expression');
  const node = parseSum();
  const rest = peek();
  if (rest) throw new MetricMathError(`unexpected '${String(rest.value)}' at position ${rest.pos}`);
  return node;
}

/** The query ids an expression refers to, in order of first appearance. */
export function referencedIds(node: MathNode): string[] {
  const out: string[] = [];
  const walk = (n: MathNode): void => {
    switch (n.kind) {
      case 'id':
        if (!out.includes(n.name)) out.push(n.name);
        return;
      case 'neg':
        walk(n.operand);
        return;
      case 'binary':
        walk(n.left);
        walk(n.right);
        return;
      case 'call':
        for (const a of n.args) walk(a);
        return;
      case 'number':
        return;
    }
  };
  walk(node);
  return out;
}

type Value = number | GridSeries;

const clean = (v: number): number | undefined => (Number.isFinite(v) ? v : undefined);

function applyBinary(op: '+' | '-' | '*' | '/', a: number, b: number): number | undefined {
  switch (op) {
    case '+':
      return clean(a + b);
    case '-':
      return clean(a - b);
    case '*':
      return clean(a * b);
    case '/':
      return b === 0 ? undefined : clean(a / b);
  }
}

/**
 * Evaluates a parsed expression on `timestampsMs` (the grid every referenced series is on).
 * `resolve(id)` returns the series of another query on the same grid.
 * A result without any series in it (a constant) is spread over the whole grid.
 * @throws MetricMathError when a function gets the wrong kind of argument or `resolve` throws one.
 */
export function evaluateExpression(
  node: MathNode,
  timestampsMs: readonly number[],
  resolve: (id: string) => GridSeries,
): GridSeries {
  const result = evalNode(node, timestampsMs, resolve);
  if (typeof result === 'number') return { timestampsMs, values: timestampsMs.map(() => clean(result)) };
  return result;
}

function evalNode(node: MathNode, grid: readonly number[], resolve: (id: string) => GridSeries): Value {
  switch (node.kind) {
    case 'number':
      return node.value;
    case 'id':
      return resolve(node.name);
    case 'neg': {
      const v = evalNode(node.operand, grid, resolve);
      return typeof v === 'number' ? -v : mapSeries(v, (x) => -x);
    }
    case 'binary': {
      const l = evalNode(node.left, grid, resolve);
      const r = evalNode(node.right, grid, resolve);
      if (typeof l === 'number' && typeof r === 'number') return applyBinary(node.op, l, r) ?? Number.NaN;
      if (typeof l === 'number') return mapSeries(r as GridSeries, (x) => applyBinary(node.op, l, x));
      if (typeof r === 'number') return mapSeries(l, (x) => applyBinary(node.op, x, r));
      return {
        timestampsMs: l.timestampsMs,
        values: l.values.map((a, k) => {
          const b = r.values[k];
          return a === undefined || b === undefined ? undefined : applyBinary(node.op, a, b);
        }),
      };
    }
    case 'call':
      return evalCall(node.fn, node.args, grid, resolve);
  }
}

function mapSeries(s: GridSeries, f: (x: number) => number | undefined): GridSeries {
  return { timestampsMs: s.timestampsMs, values: s.values.map((x) => (x === undefined ? undefined : f(x))) };
}

function evalCall(
  fn: MathFunction,
  args: readonly MathNode[],
  grid: readonly number[],
  resolve: (id: string) => GridSeries,
): Value {
  const [first, second] = args;
  if (!first) throw new MetricMathError(`${fn} needs an argument`);
  const series = evalNode(first, grid, resolve);
  if (typeof series === 'number') throw new MetricMathError(`${fn} expects a time series as its first argument`);
  if (fn === 'FILL') {
    const fill = second ? evalNode(second, grid, resolve) : undefined;
    if (typeof fill !== 'number' || !Number.isFinite(fill)) {
      throw new MetricMathError('FILL expects a number as its second argument (REPEAT and LINEAR are not supported)');
    }
    return { timestampsMs: series.timestampsMs, values: series.values.map((x) => x ?? fill) };
  }
  let prev: { t: number; v: number } | undefined;
  const values = series.values.map((v, k) => {
    const t = series.timestampsMs[k] ?? 0;
    if (v === undefined) return undefined;
    const before = prev;
    prev = { t, v };
    if (!before) return undefined;
    const diff = v - before.v;
    return fn === 'DIFF' ? clean(diff) : clean(diff / ((t - before.t) / 1000));
  });
  return { timestampsMs: series.timestampsMs, values };
}
