// CPU and memory of processes from /proc (Linux): the stack's node process, its Kafka JVM and redis-server, and
// the benchmark driver itself, sampled once a second by `touchstream bench pipeline`.
import fs from 'node:fs';
import os from 'node:os';
import { execFileSync } from 'node:child_process';

export interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime, clock ticks. */
  cpuTicks: number;
}

/** /proc/<pid>/stat, or null when the process is gone. The command name may hold spaces and parentheses. */
export function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  return { pid, comm: text.slice(open + 1, close), ppid: Number(rest[1]), cpuTicks: Number(rest[11]) + Number(rest[12]) };
}

/** Resident set size in bytes (VmRSS), or null. */
export function readRssBytes(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Every process below `root` (children, grandchildren, …). */
export function descendants(root: number): ProcStat[] {
  const all: ProcStat[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProcStat(Number(name));
    if (stat) all.push(stat);
  }
  const out: ProcStat[] = [];
  const parents = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) {
      if (!parents.has(p.pid) && parents.has(p.ppid)) {
        parents.add(p.pid);
        out.push(p);
        grew = true;
      }
    }
  }
  return out;
}

let clockTicks: number | undefined;

/** Clock ticks per second (getconf CLK_TCK; 100 on Linux in practice). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** Busy and total jiffies of the whole machine (first line of /proc/stat). */
export function machineCpu(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const total = v.slice(0, 8).reduce((s, x) => s + x, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

export interface ProcSample {
  /** CPU used since the previous sample, in % of one core (200% = both cores of a 2-core machine). */
  cpuPct: number | null;
  rssBytes: number | null;
}

/** Samples named processes: each call returns CPU % since the previous call and the current RSS. */
export class ProcSampler {
  private last = new Map<string, { ticks: number; at: number }>();
  private lastMachine: { busy: number; total: number } | undefined;

  constructor(readonly pids: Map<string, number>) {}

  sample(now = performance.now()): { procs: Record<string, ProcSample>; machineBusyPct: number | null } {
    const hz = clockTicksPerSecond();
    const procs: Record<string, ProcSample> = {};
    for (const [name, pid] of this.pids) {
      const stat = readProcStat(pid);
      const prev = this.last.get(name);
      let cpuPct: number | null = null;
      if (stat) {
        if (prev && now > prev.at) cpuPct = (((stat.cpuTicks - prev.ticks) / hz) * 100_000) / (now - prev.at);
        this.last.set(name, { ticks: stat.cpuTicks, at: now });
      }
      procs[name] = { cpuPct, rssBytes: stat ? readRssBytes(pid) : null };
    }
    const m = machineCpu();
    const prev = this.lastMachine;
    this.lastMachine = m;
    // Busy share of all cores, in % of one core (like the per-process figures).
    const cores = cpuCount();
    const machineBusyPct = prev && m.total > prev.total ? ((m.busy - prev.busy) / (m.total - prev.total)) * 100 * cores : null;
    return { procs, machineBusyPct };
  }
}

let cores: number | undefined;
function cpuCount(): number {
  if (cores === undefined) {
    const text = fs.readFileSync('/proc/stat', 'utf8');
    cores = text.split('\n').filter((l) => /^cpu\d+ /.test(l)).length || 1;
  }
  return cores;
}

/** CPU ticks of every process now (pid → ticks, with its command line), to find who else used the machine. */
export function allProcessTicks(): Map<number, { ticks: number; comm: string }> {
  const out = new Map<number, { ticks: number; comm: string }>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProcStat(Number(name));
    if (stat) out.set(stat.pid, { ticks: stat.cpuTicks, comm: stat.comm });
  }
  return out;
}

function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/**
 * The processes, other than `exclude` and their descendants, that used the most CPU between two snapshots, in %
 * of one core over `seconds` (processes started in between count from 0).
 */
export function topOthers(before: Map<number, { ticks: number; comm: string }>, seconds: number, exclude: number[], top = 3): Array<{ pid: number; cpuPct: number; command: string }> {
  const hz = clockTicksPerSecond();
  const excluded = new Set(exclude);
  for (const pid of exclude) for (const d of descendants(pid)) excluded.add(d.pid);
  const after = allProcessTicks();
  const rows: Array<{ pid: number; cpuPct: number; command: string }> = [];
  for (const [pid, a] of after) {
    if (excluded.has(pid)) continue;
    const used = a.ticks - (before.get(pid)?.ticks ?? 0);
    if (used <= 0) continue;
    rows.push({ pid, cpuPct: (used / hz / seconds) * 100, command: (commandLine(pid) || a.comm).slice(0, 160) });
  }
  return rows.sort((x, y) => y.cpuPct - x.cpuPct).slice(0, top);
}

/** The machine a benchmark ran on, as its reports print it. */
export function machineInfo() {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model ?? 'unknown CPU',
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    loadavgAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
