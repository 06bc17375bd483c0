/**
 * Launchers (issue 14 §3): the pure renderer of the shell text that starts a payload through
 * `single`, `multiple`, `srun`, `mpirun` or `mpiexec`, and that text run by /bin/sh with a
 * scheduler's environment faked (host files, `LSB_*`, `SLURM_JOB_ID`) and a fake MPI that prints
 * its argv: the host list, the rank options and every argument byte for byte.
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Application from "../src/Application.ts"
import * as Launch from "../src/internal/launcher.ts"

const make = (input: Application.ApplicationInput): Application.Application =>
  Effect.runSync(Application.make(input))

const subshell = (app: Application.Application, settings?: Launch.LaunchSettings) =>
  Launch.subshell(app, Application.shape(app), settings)

/** An argument no shell may touch: quotes, `$`, backquotes, a glob, a newline, spaces. */
const weird = 'it\'s "$HOME" `date` *\n  second line '

// =============================================================================
// pure rendering
// =============================================================================

Deno.test("single: a GC3Pie-style job keeps its one line, with no OMP_NUM_THREADS", () => {
  const app = make({ arguments: ["/bin/echo", "a b"], environment: { A: "1" }, stdout: "o" })
  strictEqual(subshell(app), "(export A='1'; exec '/bin/echo' 'a b' </dev/null >'o' 2>/dev/null)")
})

Deno.test("single: a parallel job gets OMP_NUM_THREADS = cores per process, unless it sets it", () => {
  const app = make({ arguments: ["x"], processes: 2, coresPerProcess: 3 })
  strictEqual(
    subshell(app),
    "(export OMP_NUM_THREADS=3; exec 'x' </dev/null >/dev/null 2>/dev/null)",
  )
  const own = make({
    arguments: ["x"],
    coresPerProcess: 3,
    environment: { OMP_NUM_THREADS: "1" },
  })
  strictEqual(
    subshell(own),
    "(export OMP_NUM_THREADS='1'; exec 'x' </dev/null >/dev/null 2>/dev/null)",
  )
})

Deno.test("the application's launcher wins over the resource's default, else single", () => {
  const plain = Application.shape(make({ arguments: ["x"] }))
  strictEqual(Launch.resolve(plain), "single")
  strictEqual(Launch.resolve(plain, { launcher: "srun" }), "srun")
  const own = Application.shape(make({ arguments: ["x"], launcher: "mpirun" }))
  strictEqual(Launch.resolve(own, { launcher: "srun" }), "mpirun")
  ok(subshell(make({ arguments: ["x"] }), { launcher: "srun" }).includes("exec 'srun' "))
})

Deno.test("srun: tasks, cores per task, nodes; the configured command line, quoted", () => {
  const app = make({
    arguments: ["./a.out", weird],
    nodes: 2,
    processesPerNode: 2,
    coresPerProcess: 4,
    stdin: "in.txt",
    launcher: "srun",
  })
  const text = subshell(app, { launcherCommands: { srun: "'/opt/slurm/bin/srun' '--mpi=pmix'" } })
  ok(
    text.includes(
      "exec '/opt/slurm/bin/srun' '--mpi=pmix' --ntasks=4 --cpus-per-task=4 --nodes=2 " +
        `--ntasks-per-node=2 --input=0 './a.out' 'it'\\''s "$HOME" \`date\` *\n  second line ' ` +
        "<'in.txt' >/dev/null 2>/dev/null",
    ),
    text,
  )
  ok(text.includes("export OMP_NUM_THREADS=4\n"), text)
})

Deno.test("hooks: pre-launch before the payload, post-launch after, with $lrms_rc kept", () => {
  const app = make({ arguments: ["x"] })
  const text = subshell(app, { preLaunch: "module load mpi\n", postLaunch: "echo done" })
  deepStrictEqual(text.split("\n"), [
    "(",
    // not GC3Pie's plain launch any more: the ranks' environment is set
    "export OMP_NUM_THREADS=1",
    "module load mpi",
    "'x' </dev/null >/dev/null 2>/dev/null",
    "lrms_rc=$?",
    "echo done",
    'exit "$lrms_rc"',
    ")",
  ])
})

// =============================================================================
// the rendered text, run by /bin/sh
// =============================================================================

interface Ran {
  /** The exit status of the job script. */
  readonly code: number
  /** The application's stdout file. */
  readonly out: string
  /** The job script's own stdout (the hooks'). */
  readonly script: string
}

/** Runs the payload line in a fresh directory, with only `env` (and PATH) in the environment. */
const run = async (
  app: Application.Application,
  options: {
    readonly settings?: Launch.LaunchSettings
    readonly env?: Record<string, string>
    readonly files?: Record<string, string>
    /** Builds the settings from the directory (for a fake launcher there). */
    readonly settingsIn?: (dir: string) => Launch.LaunchSettings
  } = {},
): Promise<Ran> => {
  const dir = await Deno.makeTempDir({ prefix: "lrms-launch-" })
  try {
    for (const [name, text] of Object.entries(options.files ?? {})) {
      await Deno.writeTextFile(`${dir}/${name}`, text, { mode: 0o755 })
    }
    const settings = options.settingsIn?.(dir) ?? options.settings
    await Deno.writeTextFile(`${dir}/job.sh`, `${subshell(app, settings)}\n`)
    const result = await new Deno.Command("/bin/sh", {
      args: ["job.sh"],
      cwd: dir,
      clearEnv: true,
      env: { PATH: "/usr/local/bin:/usr/bin:/bin", ...options.env },
      stdout: "piped",
      stderr: "piped",
    }).output()
    const out = app.stdout === undefined
      ? ""
      : await Deno.readTextFile(`${dir}/${app.stdout}`).catch(() => "")
    return { code: result.code, out, script: new TextDecoder().decode(result.stdout) }
  } finally {
    await Deno.remove(dir, { recursive: true })
  }
}

/** The records a copy prints: `rank|size|threads|argument|stdin`, one per copy, sorted. */
const records = (out: string) => out.split("\n<end>\n").filter((r) => r !== "").sort()

const printer = [
  "sh",
  "-c",
  'read -r line || line=-; printf "%s|%s|%s|%s|%s\\n<end>\\n" "$LRMS_RANK" "$LRMS_SIZE" ' +
  '"$OMP_NUM_THREADS" "$1" "$line"',
  "sh",
  weird,
]

Deno.test("multiple: 3 copies, each with the argument byte for byte; stdin to copy 0 only", async () => {
  const app = make({
    arguments: printer,
    processes: 3,
    coresPerProcess: 2,
    launcher: "multiple",
    stdin: "in.txt",
    stdout: "out.txt",
  })
  const ran = await run(app, { files: { "in.txt": "the input\n" } })
  strictEqual(ran.code, 0)
  deepStrictEqual(records(ran.out), [
    `0|3|2|${weird}|the input`,
    `1|3|2|${weird}|-`,
    `2|3|2|${weird}|-`,
  ])
})

Deno.test("multiple: the exit status is the first failing copy's, in rank order", async () => {
  const app = make({
    arguments: ["sh", "-c", 'case "$LRMS_RANK" in 1) sleep 0.3; exit 4 ;; 2) exit 5 ;; esac'],
    processes: 3,
    launcher: "multiple",
  })
  strictEqual((await run(app)).code, 4)
  const allGood = make({ arguments: ["true"], processes: 4, launcher: "multiple" })
  strictEqual((await run(allGood)).code, 0)
})

Deno.test("multiple: the hooks run once, and the post-launch hook sees the status", async () => {
  const app = make({
    arguments: ["sh", "-c", 'echo "copy $LRMS_RANK"; exit 2'],
    processes: 2,
    launcher: "multiple",
    stdout: "out.txt",
  })
  const ran = await run(app, {
    settings: { preLaunch: "echo pre", postLaunch: 'echo "post $lrms_rc"' },
  })
  strictEqual(ran.code, 2)
  strictEqual(ran.script, "pre\npost 2\n")
  deepStrictEqual(ran.out.split("\n").filter((l) => l !== "").sort(), ["copy 0", "copy 1"])
})

/** A fake MPI: `--version` prints `$FAKE_MPI`, anything else its argv, one `<word>` a line. */
const fakeMpi = [
  "#!/bin/sh",
  'case " $* " in *" --version "*) echo "$FAKE_MPI"; exit 0 ;; esac',
  'for a in "$@"; do printf \'<%s>\\n\' "$a"; done',
  'echo "OMP=$OMP_NUM_THREADS"',
  "",
].join("\n")

const openMpi = "mpirun (Open MPI) 4.1.4"
const hydra = "HYDRA build details:\n    Version: 4.0.2"

/** The argv the fake MPI printed, as a list. */
const argvOf = (out: string) => [...out.matchAll(/^<([^>]*)>$/gm)].map((m) => m[1]!)

const mpiRun = (
  app: Application.Application,
  env: Record<string, string>,
  files: Record<string, string> = {},
) =>
  run(app, {
    env,
    files: { ...files, "mpi": fakeMpi },
    settingsIn: (dir) => ({
      launcherCommands: { mpirun: `${dir}/mpi --flag`, mpiexec: `${dir}/mpi` },
    }),
  })

const mpiApp = (input: Partial<Application.ApplicationInput> = {}) =>
  make({ arguments: ["./a.out", "x y"], launcher: "mpirun", stdout: "out.txt", ...input })

Deno.test("mpirun (OpenMPI), no scheduler: -np, this host with a slot per process", async () => {
  const ran = await mpiRun(mpiApp({ processes: 4 }), { FAKE_MPI: openMpi })
  strictEqual(ran.code, 0)
  deepStrictEqual(argvOf(ran.out), [
    "--flag",
    "-np",
    "4",
    "-x",
    "OMP_NUM_THREADS",
    "--host",
    "localhost:4",
    "./a.out",
    "x y",
  ])
  match(ran.out, /^OMP=1$/m)
})

Deno.test("mpirun (OpenMPI) under SLURM: no host list, MPI reads the allocation", async () => {
  const ran = await mpiRun(mpiApp({ processes: 2, environment: { MY_VAR: "v" } }), {
    FAKE_MPI: openMpi,
    SLURM_JOB_ID: "12",
    SLURM_NODELIST: "n[1-2]",
  })
  deepStrictEqual(argvOf(ran.out), [
    "--flag",
    "-np",
    "2",
    "-x",
    "MY_VAR",
    "-x",
    "OMP_NUM_THREADS",
    "./a.out",
    "x y",
  ])
})

Deno.test("mpirun: PBS_NODEFILE (a line per rank) becomes host:count, ranks per node placed", async () => {
  const app = mpiApp({ nodes: 2, processesPerNode: 3, coresPerProcess: 2 })
  const ran = await mpiRun(app, { FAKE_MPI: openMpi, PBS_NODEFILE: "nodes" }, {
    nodes: "n1\nn1\nn1\nn2\nn2\nn2\n",
  })
  deepStrictEqual(argvOf(ran.out), [
    "--flag",
    "-np",
    "6",
    "--map-by",
    "ppr:3:node",
    "--bind-to",
    "none",
    "-x",
    "OMP_NUM_THREADS",
    "--host",
    "n1:3,n2:3",
    "./a.out",
    "x y",
  ])
  match(ran.out, /^OMP=2$/m)
})

Deno.test("mpirun: PE_HOSTFILE counts cores (processes × cores): divided into ranks", async () => {
  const app = mpiApp({ processes: 4, coresPerProcess: 2 })
  const ran = await mpiRun(app, { FAKE_MPI: openMpi, PE_HOSTFILE: "pe" }, {
    pe: "n1 6 all.q@n1 UNDEFINED\nn2 2 all.q@n2 UNDEFINED\n",
  })
  ok(argvOf(ran.out).join(" ").includes("--host n1:3,n2:1"), ran.out)
})

Deno.test("mpirun: LSB_MCPU_HOSTS pairs and LSB_HOSTS words", async () => {
  const app = mpiApp({ processes: 4 })
  const pairs = await mpiRun(app, { FAKE_MPI: openMpi, LSB_MCPU_HOSTS: "n1 3 n2 1" })
  ok(argvOf(pairs.out).join(" ").includes("--host n1:3,n2:1"), pairs.out)
  const words = await mpiRun(app, { FAKE_MPI: openMpi, LSB_HOSTS: "n1 n2 n1 n1" })
  ok(argvOf(words.out).join(" ").includes("--host n1:3,n2:1"), words.out)
})

Deno.test("mpiexec (MPICH's Hydra): -n, -ppn and -hosts; the environment passes as it is", async () => {
  const app = mpiApp({
    launcher: "mpiexec",
    nodes: 2,
    processesPerNode: 2,
    arguments: ["p", weird],
  })
  const ran = await mpiRun(app, { FAKE_MPI: hydra, PBS_NODEFILE: "nodes" }, {
    nodes: "a\na\nb\nb\n",
  })
  deepStrictEqual(argvOf(ran.out.replace(weird, "WEIRD")), [
    "-n",
    "4",
    "-ppn",
    "2",
    "-hosts",
    "a:2,b:2",
    "p",
    "WEIRD",
  ])
  ok(ran.out.includes(`<${weird}>`), "the argument arrives byte for byte")
})

Deno.test("mpirun: the post-launch hook runs after, and the status is MPI's", async () => {
  const app = mpiApp({ processes: 2 })
  const ran = await run(app, {
    env: { FAKE_MPI: openMpi },
    files: { mpi: '#!/bin/sh\n[ "$1" = --version ] && echo "$FAKE_MPI" && exit 0\nexit 7\n' },
    settingsIn: (dir) => ({
      launcherCommands: { mpirun: `${dir}/mpi` },
      preLaunch: "echo before",
      postLaunch: 'echo "after $lrms_rc"',
    }),
  })
  strictEqual(ran.code, 7)
  strictEqual(ran.script, "before\nafter 7\n")
})
