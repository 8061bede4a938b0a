/**
 * A value made on first use and kept, for SDK clients a Lambda function does not need on every invocation: `given`
 * when the caller supplied one (a ready client, as tests inject), else what `make` resolves to, typically a client
 * whose module `make` loads by dynamic `import()`, so that a function that never calls it never loads that module (in
 * the Lambda bundles it is a separate chunk, read at the first call rather than at cold start).
 *
 * Concurrent first calls share one `make`; a `make` that fails is tried again at the next call.
 */
export function onFirstUse<T>(given: T | undefined, make: () => Promise<T>): () => Promise<T> {
  if (given !== undefined) {
    const ready = Promise.resolve(given);
    return () => ready;
  }
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= make().catch((e: unknown) => {
      pending = undefined;
      throw e;
    });
    return pending;
  };
}
