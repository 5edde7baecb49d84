// Helpers shared by the end-to-end suites.

export interface EventuallyOptions {
  timeoutMs?: number;
  /** Gives up at once with this message when it returns one (e.g. the process under test died). */
  abortIf?: () => string | undefined;
  /** Appended to the error (e.g. the tail of a child's output). */
  context?: () => string;
}

/** Polls `probe` until it returns a truthy value, which it returns; fails with the last error after the timeout. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, opts: EventuallyOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 45_000);
  let last: unknown;
  while (Date.now() < deadline) {
    const abort = opts.abortIf?.();
    if (abort) throw new Error(`${abort} while waiting for ${what}${opts.context ? `\n${opts.context()}` : ''}`);
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}${opts.context ? `\n${opts.context()}` : ''}`);
}
