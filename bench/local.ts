/**
 * Benchmark: 200 `true` jobs submitted and awaited through shellcmd + LocalTransport, against
 * two shell loops that start the same 200 processes: the lightest one (a subshell per job with a
 * pid file and GNU time) and one with the same wrapper idea as shellcmd (a wrapper script file
 * per job started with setsid). Both end with `wait`. Prints jobs/s and the ratios.
 *
 *   deno task bench            (or: deno run -A bench/local.ts [jobs] [rounds])
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as GnuTime from "../backends/shellcmd/GnuTime.ts"
import * as Shellcmd from "../backends/shellcmd/Shellcmd.ts"
import * as Application from "../src/Application.ts"
import * as Auth from "../src/Auth.ts"
import * as Lrms from "../src/Lrms.ts"
import { quote } from "../src/Shell.ts"

const jobs = Number(Deno.args[0] ?? 200)
const rounds = Number(Deno.args[1] ?? 3)

const runShell = (script: string): number => {
  const t0 = performance.now()
  const r = new Deno.Command("/bin/sh", { args: ["-c", script] }).outputSync()
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr))
  return (performance.now() - t0) / 1000
}

/** The lightest loop: a subshell per job writes a pid file and runs GNU time; then wait. */
const shellLoop = (dir: string): number =>
  runShell([
    `i=0; while [ $i -lt ${jobs} ]; do`,
    `  d=${quote(dir)}/job.$i; mkdir -p "$d"`,
    `  ( echo $$ >"$d/pid"; /usr/bin/time -o "$d/usage" -f ${quote(GnuTime.FORMAT)} true; ` +
    `echo "ReturnCode=$?" >"$d/status" ) </dev/null >/dev/null 2>&1 &`,
    "  i=$((i+1))",
    "done; wait",
  ].join("\n"))

/**
 * The same wrapper idea as shellcmd's: per job a directory and a wrapper script file that
 * records its pid, runs GNU time and writes a status file, started in its own session with
 * setsid (so a cancel can reach the whole process group); then wait.
 */
const wrapperLoop = (dir: string): number =>
  runShell([
    `i=0; while [ $i -lt ${jobs} ]; do`,
    `  d=${quote(dir)}/job.$i; mkdir -p "$d"`,
    `  printf '%s\\n' 'echo $$ >"$1/pid"' ` +
    `'/usr/bin/time -o "$1/usage" -f "$2" true </dev/null >/dev/null 2>&1' ` +
    `'echo "ReturnCode=$?" >"$1/status"' >"$d/wrapper.sh"`,
    `  setsid /bin/sh "$d/wrapper.sh" "$d" ${quote(GnuTime.FORMAT)} </dev/null >/dev/null 2>&1 &`,
    "  i=$((i+1))",
    "done; wait",
  ].join("\n"))

const library = (dir: string): Promise<number> => {
  const layer = Layer.merge(
    Shellcmd.layer({
      name: "bench",
      architecture: ["x86_64", "aarch64"],
      maxCores: jobs,
      maxMemoryPerCore: "1 GiB",
      maxWalltime: "1 hour",
      spooldir: `${dir}/spool`,
      resourceDir: `${dir}/bookkeeping`,
    }).pipe(Layer.provide(LocalTransport.layer)),
    Auth.none,
  )
  const program = Effect.gen(function* () {
    const app = yield* Application.make({ arguments: ["true"] })
    yield* Lrms.getResourceStatus // host discovery, once, before the clock starts
    const t0 = performance.now()
    const done = yield* Effect.forEach(
      Array.from({ length: jobs }),
      () => Effect.flatMap(Lrms.submitJob(app), (job) => Lrms.awaitTermination(job)),
      { concurrency: "unbounded" },
    )
    const seconds = (performance.now() - t0) / 1000
    const failed = done.filter((j) => j.termination?.exitCode !== 0).length
    if (failed > 0) throw new Error(`${failed} jobs did not exit 0`)
    return seconds
  })
  return Effect.runPromise(program.pipe(Effect.provide(layer), Effect.provide(NodeContext.layer)))
}

const best = async (f: (dir: string) => number | Promise<number>) => {
  const times: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    const dir = Deno.makeTempDirSync({ prefix: "lrms-bench-" })
    try {
      times.push(await f(dir))
    } finally {
      Deno.removeSync(dir, { recursive: true })
    }
  }
  return Math.min(...times)
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0)
const rssAfterImports = Deno.memoryUsage().rss
const shell = await best(shellLoop)
const wrapper = await best(wrapperLoop)
// the process's resident memory, sampled every 20 ms while the library runs its rounds
let peakRss = Deno.memoryUsage().rss
let peakHeap = 0
const sampler = setInterval(() => {
  const m = Deno.memoryUsage()
  peakRss = Math.max(peakRss, m.rss)
  peakHeap = Math.max(peakHeap, m.heapUsed)
}, 20)
const lib = await best(library).finally(() => clearInterval(sampler))
peakRss = Math.max(peakRss, Deno.memoryUsage().rss)
const rate = (s: number) => (jobs / s).toFixed(0)
const line = (name: string, s: number) =>
  console.log(`${name.padEnd(58)} ${s.toFixed(2)} s  ${rate(s).padStart(4)} jobs/s`)
console.log(`${jobs} jobs, best of ${rounds} rounds, ${navigator.hardwareConcurrency} cores`)
line("shell loop: subshell + pid file + GNU time, background", shell)
line("shell loop: wrapper script file + setsid + GNU time", wrapper)
line("effect-lrms shellcmd + LocalTransport: submit + await", lib)
console.log(`ratio to the subshell loop:         ${(shell / lib).toFixed(2)}`)
console.log(`ratio to the wrapper-script loop:   ${(wrapper / lib).toFixed(2)}`)
console.log(`vs. RADICAL-SAGA's 36 jobs/s local: ${(jobs / lib / 36).toFixed(1)}x`)
console.log(
  `memory (RSS): ${mb(rssAfterImports)} MB after the imports, peak ${mb(peakRss)} MB while ` +
    `effect-lrms ran ${jobs} jobs (target: at most 100 MB; peak JS heap ${mb(peakHeap)} MB)`,
)
