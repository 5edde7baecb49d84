// Loki-style single binary: every service is a module with declared dependencies. All modules are
// initialised in dependency order (so they can register HTTP routes before the server listens), then
// started in dependency order, and stopped in reverse.
import type { FastifyInstance, FastifyBaseLogger } from 'fastify';

export interface ModuleContext {
  /** The process's one HTTP server; register routes here during init (it listens once every module is started). */
  http: FastifyInstance;
  log: FastifyBaseLogger;
}

export interface ModuleInstance {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Whether the module can do its work now; `reason` says why not (shown by /readyz). */
  ready(): { ready: boolean; reason?: string };
}

export interface Module {
  name: string;
  deps: string[];
  init(ctx: ModuleContext): Promise<ModuleInstance>;
}

export type ModuleState = 'new' | 'initialised' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

/** Orders modules so each comes after its dependencies; rejects unknown dependencies and cycles. */
export function startOrder(modules: Module[]): Module[] {
  const byName = new Map(modules.map((m) => [m.name, m]));
  const ordered: Module[] = [];
  const visiting = new Set<string>();
  const done = new Set<string>();
  const visit = (m: Module, path: string[]) => {
    if (done.has(m.name)) return;
    if (visiting.has(m.name)) throw new Error(`module dependency cycle: ${[...path, m.name].join(' -> ')}`);
    visiting.add(m.name);
    for (const dep of m.deps) {
      const d = byName.get(dep);
      if (!d) throw new Error(`module ${m.name} depends on ${dep}, which is not part of this process`);
      visit(d, [...path, m.name]);
    }
    visiting.delete(m.name);
    done.add(m.name);
    ordered.push(m);
  };
  modules.forEach((m) => visit(m, []));
  return ordered;
}

export class ModuleRunner {
  private readonly ordered: Module[];
  private readonly instances = new Map<string, ModuleInstance>();
  readonly states = new Map<string, ModuleState>();
  private draining = false;

  constructor(modules: Module[]) {
    this.ordered = startOrder(modules);
    this.ordered.forEach((m) => this.states.set(m.name, 'new'));
  }

  get names(): string[] {
    return this.ordered.map((m) => m.name);
  }

  async init(ctx: ModuleContext): Promise<void> {
    for (const m of this.ordered) {
      this.instances.set(m.name, await m.init(ctx));
      this.states.set(m.name, 'initialised');
    }
  }

  async start(): Promise<void> {
    for (const m of this.ordered) {
      this.states.set(m.name, 'starting');
      try {
        await this.instances.get(m.name)!.start();
        this.states.set(m.name, 'running');
      } catch (err) {
        this.states.set(m.name, 'failed');
        throw new Error(`module ${m.name} failed to start: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  /** From now on the process reports not ready (so load balancers stop sending work) while it drains. */
  beginDrain(): void {
    this.draining = true;
  }

  /** Stops in reverse order; every module gets its stop call even if an earlier one fails. */
  async stop(): Promise<void> {
    this.draining = true;
    const errors: Error[] = [];
    for (const m of [...this.ordered].reverse()) {
      const inst = this.instances.get(m.name);
      if (!inst || this.states.get(m.name) === 'stopped') continue;
      this.states.set(m.name, 'stopping');
      try {
        await inst.stop();
      } catch (err) {
        errors.push(err as Error);
      }
      this.states.set(m.name, 'stopped');
    }
    if (errors.length) throw new AggregateError(errors, `modules failed to stop: ${errors.map((e) => e.message).join('; ')}`);
  }

  /** Readiness of the whole process: every module running and ready, and not draining. */
  readiness(): { ready: boolean; modules: Record<string, { state: ModuleState; ready: boolean; reason?: string }> } {
    const modules: Record<string, { state: ModuleState; ready: boolean; reason?: string }> = {};
    let all = !this.draining;
    for (const m of this.ordered) {
      const state = this.states.get(m.name)!;
      const r = state === 'running' ? this.instances.get(m.name)!.ready() : { ready: false, reason: `module is ${state}` };
      modules[m.name] = { state, ...r };
      all &&= r.ready;
    }
    return { ready: all, modules };
  }
}
