import { StateMachine } from 'aws-local-stepfunctions';
import type { Clock } from '#shared/clock.ts';
import type { RemediationState } from '#shared/domain/remediation.ts';
import { TaskTokenGoneError, type TaskTokenPort } from '#shared/ports/task-tokens.ts';
import type { SynthesizedWorkflow } from './workflow-definition.ts';

// aws-local-stepfunctions calls Promise.withResolvers (Node 22); Node 20 lacks it.
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: <T>() => {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

type Definition = ConstructorParameters<typeof StateMachine>[0];
type RunInput = Parameters<StateMachine['run']>[0];

/** What a Task state returns: the next state, carrying the seconds the following Wait state waits. */
export interface WaitingState {
  waitSeconds: number;
}

/** One local execution of a workflow (the remediation workflow unless typed otherwise). */
export interface LocalExecution<S extends WaitingState = RemediationState> {
  /** The execution name: the incident id (remediation), the watch's name (watch). */
  name: string;
  input: S;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  /** The last state a step returned. */
  lastState: S;
  /** The Fail state's error (e.g. CLOSE_FAILED) or the runtime error name, when FAILED. */
  error?: string;
  /** State transitions, counted as Step Functions bills them (one per state entered), count. */
  stateTransitions: number;
  /** Task states run (remediation steps), count. */
  steps: number;
  /** The states entered, in order. */
  path: string[];
}

/** Options of {@link LocalWorkflow}. */
export interface LocalWorkflowOptions<S extends WaitingState = RemediationState> {
  /** The synthesized workflow (see `synthesizedWorkflow`, `synthesizedWatchWorkflow`). */
  workflow: SynthesizedWorkflow;
  /**
   * The handler the Task states are bound to: the remediation step handler (functions/remediation/handler.ts), or the
   * detector for the watch workflow's Check.
   */
  step: (event: unknown) => Promise<S>;
  /** The drill's virtual clock: steps run when it reaches the time the Wait state asked for. */
  clock: Clock;
  /**
   * The execution name of an input (what Step Functions' StartExecution `name` would be).
   * @default the remediation state's `incidentId`
   */
  nameOf?: (input: S) => string;
}

/** A `.waitForTaskToken` Task of a local execution waiting for its answer (see {@link LocalWorkflow.pendingTokens}). */
export interface PendingTaskToken {
  /** The token, `local-token-<execution>-<n>` (the n-th wait of that execution). */
  token: string;
  /** The execution name (for the remediation workflow, the incident id). */
  execution: string;
  /** The Task state waiting (e.g. AwaitApproval). */
  state: string;
  /** Virtual time the wait began (the Task's function returned), ms. */
  sinceMs: number;
  /** Virtual time the wait times out (States.Timeout), ms: `sinceMs` + the state's TimeoutSeconds(Path). */
  timeoutMs: number;
}

interface Waiting extends PendingTaskToken {
  answer: (output: Record<string, unknown>) => void;
}

interface Tracked<S extends WaitingState> {
  execution: LocalExecution<S>;
  /** Virtual time the last step returned, ms. */
  lastStepMs?: number;
  parked?: { dueMs: number; wake: () => void; cancel: (reason: Error) => void };
  running: boolean;
  /** Stops the local run (see `stopAll`). */
  abort?: () => void;
  stopped?: boolean;
  /** `.waitForTaskToken` waits so far, count (numbers the tokens). */
  tokenWaits: number;
}

/**
 * A `States.Runtime` error: Step Functions fails the execution with it, no Retry or Catch applies
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html); aws-local-stepfunctions reads
 * `isCatchable` / `isRetryable` on a task's error.
 */
function statesRuntime(message: string): Error {
  return Object.assign(new Error(`States.Runtime: ${message}`), {
    name: 'States.Runtime',
    isCatchable: false,
    isRetryable: false,
  });
}

/** The value at a simple reference path (`$.a.b`) in `value`, or undefined. */
function atPath(value: unknown, path: string): unknown {
  let at = value;
  for (const key of path
    .replace(/^\$\.?/, '')
    .split('.')
    .filter(Boolean)) {
    at = typeof at === 'object' && at !== null ? (at as Record<string, unknown>)[key] : undefined;
  }
  return at;
}

/** Longest `settle()` waits, in wall time, for executions to park or finish before declaring them stuck, ms. */
const SETTLE_TIMEOUT_MS = 30_000;

/** The local engine's wall-clock bound on a `.waitForTaskToken` Task (its timeout runs on the virtual clock), s (~23 days). */
const LOCAL_TOKEN_TASK_WALL_TIMEOUT_SECONDS = 2_000_000;

/**
 * Runs a synthesized workflow locally with aws-local-stepfunctions: the definition's Task states are bound to the
 * real handler (`taskResourceLocalHandlers`), Retry pauses are cut to 0 ms, and the Wait state is cut to 0 ms with
 * each step instead held until the virtual clock reaches the time the Wait asked for (`waitSeconds` after the previous
 * step, or after the start for a first step; a first step runs at the next `settle()`, once the caller that started
 * the execution has gone on). Implements the detector's RemediationStarter: the execution name is the
 * incident id (or `nameOf(input)`) and a second start with the same name is ignored, as Step Functions refuses it
 * (ExecutionAlreadyExists).
 *
 * A `.waitForTaskToken` Task (the remediation workflow's AwaitApproval, approve mode) runs its handler once with a
 * token of its own in place of `$$.Task.Token` (`local-token-<execution>-<n>`), then parks until
 * {@link sendTaskSuccess} answers the token (the answer is the Task's result, as in Step Functions) or the virtual
 * clock passes the Task's TimeoutSeconds(Path) from then: the Task then fails with `States.Timeout`, which the
 * definition's Catch handles. Implements TaskTokenPort for the drill and the sandbox.
 */
export class LocalWorkflow<S extends WaitingState = RemediationState> implements TaskTokenPort {
  readonly #machine: StateMachine;
  readonly #options: LocalWorkflowOptions<S>;
  readonly #tracked = new Map<string, Tracked<S>>();
  /** The Task states that wait for a task token (`Resource` ending in `.waitForTaskToken`), with their timeout field. */
  readonly #tokenTasks = new Map<string, { TimeoutSeconds?: number; TimeoutSecondsPath?: string }>();
  /** Tokens waited on, by token. */
  readonly #waiting = new Map<string, Waiting>();
  /** Starts refused because an execution of that name exists, count. */
  duplicateStarts = 0;

  constructor(options: LocalWorkflowOptions<S>) {
    this.#options = options;
    const definition = structuredClone(options.workflow.definition) as {
      States?: Record<string, Record<string, unknown>>;
    };
    for (const [name, state] of Object.entries(definition.States ?? {})) {
      if (state.Type === 'Task' && String(state.Resource).endsWith('.waitForTaskToken')) {
        this.#tokenTasks.set(name, {
          ...(typeof state.TimeoutSeconds === 'number' ? { TimeoutSeconds: state.TimeoutSeconds } : {}),
          ...(typeof state.TimeoutSecondsPath === 'string' ? { TimeoutSecondsPath: state.TimeoutSecondsPath } : {}),
        });
        // The only change to the definition as deployed: the timeout runs on the virtual clock (#awaitToken), not on
        // aws-local-stepfunctions' wall-clock timer, which gets a bound it never reaches (below setTimeout's 2^31-1 ms
        // limit). The library uses TimeoutSeconds before TimeoutSecondsPath, so #awaitToken evaluates the path itself,
        // under both readings of Step Functions ("from the state input",
        // https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html: before or after Parameters).
        delete state.TimeoutSecondsPath;
        state.TimeoutSeconds = LOCAL_TOKEN_TASK_WALL_TIMEOUT_SECONDS;
      }
    }
    this.#machine = new StateMachine(definition as unknown as Definition, {
      validationOptions: { checkPaths: true },
    });
  }

  /** The task tokens waited on now, oldest first; of one execution (an incident id) when `execution` is given. */
  pendingTokens(execution?: string): PendingTaskToken[] {
    return [...this.#waiting.values()]
      .filter((w) => execution === undefined || w.execution === execution)
      .map(({ answer: _, ...pending }) => pending);
  }

  /**
   * Answers a waiting `.waitForTaskToken` Task with `output` (its result, as SendTaskSuccess gives it). The execution
   * goes on at the next `settle()` (or on its own).
   * @throws TaskTokenGoneError when no Task waits on `taskToken` (unknown, already answered, stopped), or its timeout
   *   has passed on the virtual clock (it fails with States.Timeout at the next settle()), as Step Functions answers
   *   TaskDoesNotExist / TaskTimedOut.
   */
  async sendTaskSuccess(taskToken: string, output: Record<string, unknown>): Promise<void> {
    const waiting = this.#waiting.get(taskToken);
    if (!waiting) throw new TaskTokenGoneError(`TaskDoesNotExist: no local task waits on ${taskToken}`);
    if (this.#options.clock.now() > waiting.timeoutMs) {
      throw new TaskTokenGoneError(`TaskTimedOut: the wait on ${taskToken} timed out`);
    }
    this.#waiting.delete(taskToken);
    waiting.answer(structuredClone(output));
  }

  /** Every execution started so far, in start order. */
  get executions(): LocalExecution<S>[] {
    return [...this.#tracked.values()].map((t) => t.execution);
  }

  /** Starts an execution named after `state` (see `nameOf`); nothing when one of that name exists (RemediationStarter). */
  async start(state: S): Promise<void> {
    await this.tryStart(state);
  }

  /**
   * Starts an execution named after `state` (see `nameOf`).
   * @returns false when an execution of that name exists (nothing started), as Step Functions answers
   *   ExecutionAlreadyExists.
   */
  async tryStart(state: S): Promise<boolean> {
    const name = this.#options.nameOf ? this.#options.nameOf(state) : (state as unknown as RemediationState).incidentId;
    if (this.#tracked.has(name)) {
      this.duplicateStarts += 1;
      return false;
    }
    const tracked: Tracked<S> = {
      execution: {
        name,
        input: structuredClone(state),
        status: 'RUNNING',
        lastState: state,
        stateTransitions: 0,
        steps: 0,
        path: [],
      },
      running: true,
      tokenWaits: 0,
    };
    this.#tracked.set(name, tracked);
    const { workflow } = this.#options;
    const zero = (names: string[]) => Object.fromEntries(names.map((n) => [n, 0]));
    const run = this.#machine.run(state as unknown as RunInput, {
      overrides: {
        taskResourceLocalHandlers: Object.fromEntries(
          workflow.taskStates.map((n) => [
            n,
            async (input: unknown) =>
              (this.#tokenTasks.has(n)
                ? await this.#awaitToken(tracked, n, input)
                : await this.#invoke(tracked, input)) as unknown as RunInput,
          ]),
        ),
        waitTimeOverrides: zero(workflow.waitStates),
        retryIntervalOverrides: zero(workflow.taskStates),
      },
      context: {
        Execution: {
          Name: name,
          Input: state as unknown as RunInput,
          StartTime: new Date(this.#options.clock.now()).toISOString(),
        },
        // `$$.Task.Token` resolves here; each wait gets a token of its own (see #awaitToken).
        Task: { Token: `local-token-${name}` },
      },
    });
    void (async () => {
      for await (const event of run.eventLogs) {
        if (event.type === 'StateEntered') {
          tracked.execution.stateTransitions += 1;
          tracked.execution.path.push(event.state.name);
        }
      }
    })();
    tracked.abort = run.abort;
    run.result.then(
      () => {
        tracked.running = false;
        if (tracked.stopped) return;
        tracked.execution.status = 'SUCCEEDED';
      },
      (e: Error) => {
        tracked.running = false;
        if (tracked.stopped) return;
        tracked.execution.status = 'FAILED';
        // A Fail state's error (e.g. CLOSE_FAILED) is the cause of the library's ExecutionError.
        tracked.execution.error = e.cause instanceof Error ? e.cause.name : e.name;
      },
    );
    return true;
  }

  /**
   * A `.waitForTaskToken` Task's invocation: the function is invoked once with the Payload (its token replaced by this
   * wait's own), its return value ignored; the result is the answer given to {@link sendTaskSuccess}, or the error
   * `States.Timeout` once the virtual clock passes the Task's timeout.
   */
  async #awaitToken(tracked: Tracked<S>, stateName: string, input: unknown): Promise<Record<string, unknown>> {
    const raw = (input as { Payload?: { taskToken?: unknown; state?: unknown } }).Payload ?? {};
    tracked.tokenWaits += 1;
    const token = `local-token-${tracked.execution.name}-${tracked.tokenWaits}`;
    const payload = { ...raw, taskToken: token };
    // Invoked like any step (waits for its turn on the virtual clock; the payload's state carries waitSeconds).
    await this.#invoke(tracked, { Payload: payload }, raw.state);
    const timing = this.#tokenTasks.get(stateName) ?? {};
    let seconds = timing.TimeoutSeconds ?? Number.NaN;
    if (timing.TimeoutSecondsPath !== undefined) {
      // Both readings must give the same positive integer: the state input (what Parameters' `$` saw, the payload's
      // `state`) and the input after Parameters (the library's reading).
      const before = atPath(raw.state, timing.TimeoutSecondsPath);
      const after = atPath(input, timing.TimeoutSecondsPath);
      seconds = before === after ? Number(before) : Number.NaN;
      if (!Number.isInteger(seconds) || seconds < 1) {
        // Step Functions fails the execution: TimeoutSecondsPath must give a positive integer.
        throw statesRuntime(
          `${stateName} TimeoutSecondsPath ${timing.TimeoutSecondsPath} gives ${String(before)} from the state input and ${String(after)} after Parameters: it must give the same positive integer under both`,
        );
      }
    }
    if (!Number.isInteger(seconds) || seconds < 1) {
      throw statesRuntime(`${stateName} timeout ${seconds} is not a positive integer`);
    }
    const sinceMs = this.#options.clock.now();
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timeoutMs = sinceMs + seconds * 1000;
      const timedOut = Object.assign(new Error(`${stateName} got no answer within ${seconds} s`), {
        name: 'States.Timeout',
      });
      this.#waiting.set(token, {
        token,
        execution: tracked.execution.name,
        state: stateName,
        sinceMs,
        timeoutMs,
        answer: (output) => {
          delete tracked.parked;
          tracked.running = true;
          resolve(output);
        },
      });
      tracked.parked = {
        dueMs: timeoutMs,
        // Woken by settle() once the virtual clock passes the timeout: the Task fails with States.Timeout.
        wake: () => {
          this.#waiting.delete(token);
          reject(timedOut);
        },
        cancel: (reason) => {
          this.#waiting.delete(token);
          reject(reason);
        },
      };
      tracked.running = false;
    });
  }

  /** A Task state's invocation: `{ FunctionName, Payload }` in, `{ Payload }` out (the lambda:invoke integration). */
  async #invoke(tracked: Tracked<S>, input: unknown, timing?: unknown): Promise<{ Payload: S }> {
    const payload = (input as { Payload?: { waitSeconds?: unknown } }).Payload;
    const waitSecondsOf = (timing ?? payload) as { waitSeconds?: unknown } | undefined;
    const waitMs = typeof waitSecondsOf?.waitSeconds === 'number' ? waitSecondsOf.waitSeconds * 1000 : 0;
    const dueMs = (tracked.lastStepMs ?? this.#options.clock.now()) + waitMs;
    // The first step always waits for the next settle(): an execution's first Task runs after the StartExecution
    // call has returned to its caller (in AWS, after Step Functions' start latency), never in the middle of it.
    if (dueMs > this.#options.clock.now() || tracked.lastStepMs === undefined) {
      await new Promise<void>((wake, cancel) => {
        tracked.parked = { dueMs, wake, cancel };
        tracked.running = false;
      });
    }
    tracked.execution.steps += 1;
    const next = await this.#options.step(payload);
    if (next.waitSeconds !== undefined && (!Number.isInteger(next.waitSeconds) || next.waitSeconds < 0)) {
      // Step Functions fails the execution (States.Runtime, not catchable) on a Wait SecondsPath that is not a
      // non-negative integer; aws-local-stepfunctions does not check it, so the drill does. (An answer without
      // waitSeconds, e.g. a rejected watch check, never reaches the Wait state: a Choice ends the execution first.)
      throw new Error(`States.Runtime: waitSeconds ${next.waitSeconds} is not a non-negative integer`);
    }
    tracked.execution.lastState = next;
    // Only a step that returned sets the time the next Wait counts from: a Retry re-runs the failed step at once.
    tracked.lastStepMs = this.#options.clock.now();
    return { Payload: next };
  }

  /**
   * Stops the local runs of the executions still RUNNING (they stay RUNNING in `executions`: in AWS they would go on
   * after the drill's end). Releases the timers aws-local-stepfunctions holds for them (Task TimeoutSeconds), so the
   * process can exit.
   */
  stopAll(): void {
    for (const t of this.#tracked.values()) {
      if (t.execution.status !== 'RUNNING' || t.stopped) continue;
      t.stopped = true;
      t.abort?.();
      // A parked Task holds the library's TimeoutSeconds timer until it settles: settle it.
      t.parked?.cancel(new Error('the drill ended'));
      delete t.parked;
    }
  }

  /**
   * Lets every execution run until it waits for a later virtual time or ends. Call after advancing the clock.
   * @throws Error when an execution neither parks nor ends within 30 s of wall time.
   */
  async settle(): Promise<void> {
    const deadline = performance.now() + SETTLE_TIMEOUT_MS;
    for (;;) {
      const now = this.#options.clock.now();
      for (const t of this.#tracked.values()) {
        if (t.parked && t.parked.dueMs <= now) {
          const { wake } = t.parked;
          delete t.parked;
          t.running = true;
          wake();
        }
      }
      if ([...this.#tracked.values()].every((t) => !t.running)) return;
      if (performance.now() > deadline) {
        const stuck = [...this.#tracked.values()].filter((t) => t.running).map((t) => t.execution.name);
        throw new Error(`local workflow: executions ${stuck.join(', ')} neither waited nor ended`);
      }
      await new Promise((r) => setImmediate(r));
    }
  }
}

/** One Task invocation of a one-shot local run (see {@link runOnce}). */
export interface TaskRun {
  /** The Task state's name (e.g. Plan, LookBatch). */
  state: string;
  /** Virtual time the invocation started and returned, epoch ms. */
  startMs: number;
  endMs: number;
  /** Wall time it took, ms. */
  wallMs: number;
}

/** What {@link runOnce} observed of one execution. */
export interface OnceResult {
  /** The execution's output. */
  output: unknown;
  /** Virtual start and end of the execution, epoch ms. */
  startMs: number;
  endMs: number;
  /** Every Task invocation, in start order. */
  tasks: TaskRun[];
  /** States entered in the top-level state machine (a Map's iterations not included), count. */
  stateTransitions: number;
  /** Iterations run by Map states (child workflow executions of a Distributed Map), count. */
  mapIterations: number;
}

/**
 * Runs a synthesized workflow without Wait states once to its end with aws-local-stepfunctions (the sweep workflow:
 * Plan → Look Map of LookBatch): each Task state named in `handlers` invokes its handler with the state's `Payload`
 * and answers `{ Payload: result }` (the lambda:invoke integration; `OutputPath: $.Payload` keeps the result). A Map
 * state runs its ItemProcessor per item, at most MaxConcurrency at once, as the library does for both Map modes
 * (aws-local-stepfunctions has no Distributed Map of its own: a DISTRIBUTED ItemProcessor runs as an inline one,
 * which gives the same items, concurrency and results for a Map without ItemReader or ResultWriter). Retry intervals
 * are cut to 0. Virtual time is read from `clock` (the caller lets it run, e.g. a SandboxClock at speed 1).
 * @throws the execution's error when it fails (a Fail state or an error no Retry/Catch handled).
 */
export async function runOnce(
  workflow: Pick<SynthesizedWorkflow, 'definition'>,
  handlers: Record<string, (payload: unknown) => Promise<unknown>>,
  clock: Clock,
  input: unknown = {},
): Promise<OnceResult> {
  const machine = new StateMachine(workflow.definition as unknown as Definition, {
    validationOptions: { checkPaths: true },
  });
  const tasks: TaskRun[] = [];
  const topLevel = new Set(Object.keys((workflow.definition as { States?: object }).States ?? {}));
  const startMs = clock.now();
  const run = machine.run(input as RunInput, {
    overrides: {
      taskResourceLocalHandlers: Object.fromEntries(
        Object.entries(handlers).map(([state, handler]) => [
          state,
          async (taskInput: unknown) => {
            const payload = (taskInput as { Payload?: unknown }).Payload;
            const task: TaskRun = { state, startMs: clock.now(), endMs: 0, wallMs: 0 };
            tasks.push(task);
            const wall = performance.now();
            const result = await handler(payload);
            task.endMs = clock.now();
            task.wallMs = performance.now() - wall;
            return { Payload: result } as unknown as RunInput;
          },
        ]),
      ),
      retryIntervalOverrides: Object.fromEntries(Object.keys(handlers).map((n) => [n, 0])),
    },
  });
  let stateTransitions = 0;
  let mapIterations = 0;
  const events = (async () => {
    for await (const event of run.eventLogs) {
      if (event.type === 'StateEntered' && topLevel.has(event.state.name)) stateTransitions += 1;
      if (event.type === 'MapIterationStarted') mapIterations += 1;
    }
  })();
  const output = await run.result;
  await events;
  return { output, startMs, endMs: clock.now(), tasks, stateTransitions, mapIterations };
}
